{% extends "_base.tpl" %}
{% set heading = "Users" %}
{% block title %}{{ heading }} - {{ site }}{% endblock title %}
{% block content %}
<h1>{{ heading }} ({{ users | length }})</h1>
<table>
<tr><th>#</th><th>Name</th><th>E-mail</th><th>Joined</th></tr>
{%- for u in users %}
<tr class="{% if loop.first %}first{% elif loop.last %}last{% else %}row{% end %}"><td>{{ loop.index }}</td><td>{{ u.name }}</td><td><a href="mailto:{{ u.email | urlencode }}">{{ u.email }}</a></td><td>{{ u.created | date("%d %b %Y") }}</td></tr>
{%- else %}
<tr><td colspan="4">No users yet.</td></tr>
{%- end %}
</table>
{%- end %}
