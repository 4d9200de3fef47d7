<ul>
  {%- for i in items %}
  <li>{{- i -}}  </li>
  {%- end %}
</ul>
{# a comment
   over lines #}
a {#- trimmed both ways -#} b
c   {{- "d" }}   {{ "e" -}}
    f
