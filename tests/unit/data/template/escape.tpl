<p title="{{ s }}" data-x='{{ s }}'>{{ s }}</p>
<a href="/search?q={{ s | urlencode }}&amp;page={{ page }}">next</a>
<script>var data = {{ obj | json }};</script>
<div data-json='{{ obj | json }}'></div>
{{ obj }} {{ list }}
