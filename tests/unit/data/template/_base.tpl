<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{% block title %}{{ site }}{% end %}</title>
</head>
<body>
{% include "_header.tpl" %}
<main>
{%- block content %}
<p>Nothing here.</p>
{%- end %}
</main>
</body>
</html>
