<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{% block title %}{{ site }}{% end %}</title>
<link rel="stylesheet" href="/css/site.css">
</head>
<body>
<header class="bar"><strong>{{ site }}</strong>
{%- for link in links %} <a href="{{ link.href }}"{% if link.href == request.path %} class="here"{% end %}>{{ link.text }}</a>{% end %}
</header>
<main>
{%- block content %}{% end %}
</main>
<footer>{{ server.name }} {{ server.version }}</footer>
</body>
</html>
