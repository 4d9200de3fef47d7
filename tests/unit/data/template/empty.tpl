{% extends "_base.tpl" %}
{% block content %}
{%- for u in users %}{{ u }}{% else %}
<p>No users.</p>
{%- end %}
{%- end %}
