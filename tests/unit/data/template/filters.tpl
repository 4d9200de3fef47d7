{# every filter once, and chained #}
upper: {{ name | upper }}
lower: {{ name | lower }}
title: {{ "hello wide world, it's me" | title }}
default: {{ missing | default("none") }} {{ name | default("none") }} {{ null | default(0) }}
length: {{ name | length }} {{ tags | length }} {{ meta | length }} {{ missing | length }}
join: {{ tags | join(", ") }} {{ tags | join }} {{ nums | join(" + ") }}
json: {{ meta | json }}
urlencode: {{ query | urlencode }}
date: {{ iso | date }} {{ iso | date("%H:%M:%S") }} {{ epoch | date("%Y-%m-%dT%H:%M:%SZ") }} {{ "not a date" | date }}
truncate: {{ long | truncate(10) }} {{ name | truncate(100) }} {{ "Zoë Zoë" | truncate(3) }}
raw: {{ html | raw }} {{ html }}
chain: {{ tags | join("|") | upper | truncate(5) }} {{ missing | default("a&b") | upper }}
