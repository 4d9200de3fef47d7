{%- set n = 3 -%}
{%- if n == 3 and not (n > 5 or n < 1) %}eq{% end %}
{% if n != 3 %}bad{% elif n >= 3 %}ge{% else %}bad{% end %}
{% if n <= 2 %}bad{% else %}else{% end %}
{% if "b" in tags %}in-list{% end %} {% if "x" not in tags %}not-in{% end %} {% if "ey" in "key" %}substr{% end %} {% if "k" in obj %}key{% end %}
{% if 1 == 1.0 %}num-eq{% end %} {% if "10" == 10 %}bad{% else %}typed{% end %} {% if "abc" < "abd" %}str-lt{% end %}
{% if [] or eobj or "" or 0 or null or false %}bad{% else %}falsy{% end %} {% if [0] and "0" and obj %}truthy{% end %}
{{ missing or "fallback" }} {{ obj.k and "and-value" }} {{ (1 < 2) == true }}
{% for k, v in obj %}{{ k }}={{ v }}{% if not loop.last %}, {% end %}{% end %}
{% for k in obj %}[{{ k }}]{% end %} {% for i, t in tags %}{{ i }}:{{ t }} {% end %}
{%- for row in grid %}
{% for cell in row %}{{ loop.index0 }}{{ cell }}{% end %} of {{ loop.length }}
{%- end %}
{% set x = "outer" %}{% for t in tags %}{% set x = t %}{% end %}{{ x }}
{% if true %}{% set y = "if-leaks" %}{% end %}{{ y }}
{{ tags[0] }} {{ tags[-1] }} {{ tags[9] }} {{ obj["k"] }} {{ grid[1][0] }} {{ grid.1.1 }} {{ "lit" }} {{ 42 }} {{ -1.5 }} {{ true }} {{ null }}.
