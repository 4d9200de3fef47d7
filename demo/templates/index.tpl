{% extends "base.tpl" %}
{% block content %}
<h1>{{ site }} is running</h1>
<p>This page is the template <code>demo/templates/index.tpl</code>, rendered
by <code>mod_template</code> with the data of <code>site.json</code>; the
files beside it are served by <code>mod_static</code> from
<code>demo/htdocs</code>.</p>
<ul>
{%- for link in links %}{% if not loop.first %}
<li><a href="{{ link.href }}">{{ link.text }}</a></li>
{%- end %}{% end %}
</ul>
<p><a href="/users">/users</a> is a REST resource over a table of the private
MariaDB that <code>scripts/demo.sh</code> starts. A browser gets it as an HTML
table (<code>demo/templates/users/list.tpl</code>); <code>curl</code> gets
the same answer as JSON:</p>
<pre>curl -s -X POST -H 'Content-Type: application/json' \
     -d '{"name":"Alice","email":"alice@example.com"}' http://127.0.0.1:8080/users
curl -s 'http://127.0.0.1:8080/users?sort=-name'</pre>
<p>With <code>--no-db</code> the resource answers 404.</p>
<p>What the server is doing: <a href="/status">/status</a> (workers,
connections, requests, modules; <a href="/status?format=json">as JSON</a>)
and <a href="/metrics">/metrics</a> for Prometheus (<code>mod_metrics</code>),
and every request in the access log printed on the console where
<code>scripts/demo.sh</code> runs (<code>mod_log</code>).</p>
{% end %}
