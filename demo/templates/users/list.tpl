{% extends "base.tpl" %}
{% block title %}Users - {{ site }}{% end %}
{% block content %}
<h1>Users</h1>
{%- if code >= 400 %}
<p class="error">{{ code }}: {{ message }}</p>
{%- for e in data.errors %}
<p class="error">{{ e.field }}: {{ e.message }}</p>
{%- end %}
<p><a href="/users">Back to the list</a></p>
{%- elif data.items != null %}
<table id="users">
<thead><tr><th>#</th><th>Name</th><th>E-mail</th><th>Created</th></tr></thead>
<tbody>
{%- for u in data.items %}
<tr><td>{{ u.id }}</td><td>{{ u.name }}</td><td><a href="mailto:{{ u.email | urlencode }}">{{ u.email }}</a></td><td>{{ u.created | date("%Y-%m-%d %H:%M") }}</td></tr>
{%- else %}
<tr><td colspan="4">No users yet: add one below.</td></tr>
{%- end %}
</tbody>
</table>
<p>{{ data.total }} user{% if data.total != 1 %}s{% end %}{% if data.next != null %} &middot; <a href="/users?offset={{ data.next }}">next page</a>{% end %}</p>
<form id="add">
<h2>Add a user</h2>
<label>Name <input name="name" required maxlength="100"></label>
<label>E-mail <input name="email" type="email" required></label>
<button type="submit">Add</button>
<p id="result" class="error" hidden></p>
</form>
<script>
document.getElementById("add").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, out = document.getElementById("result");
    fetch("/users", {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify({name: f.name.value, email: f.email.value})
    }).then(function (r) { return r.json(); }).then(function (env) {
        if (env.code === 201) {
            location.reload();
            return;
        }
        var why = (env.data && env.data.errors || []).map(function (e) {
            return e.field + ": " + e.message;
        });
        out.textContent = env.message + (why.length ? " (" + why.join("; ") + ")" : "");
        out.hidden = false;
    });
});
</script>
{%- else %}
<p>{{ data.name }} &lt;{{ data.email }}&gt;, since {{ data.created | date }}.</p>
<p><a href="/users">All users</a></p>
{%- end %}
{% end %}
