#!/bin/bash
# Templates: a 50-row list page rendered by mod_template against the
# same bytes served as a file by mod_static, one server, same run.
#
#   tests/bench/template.sh [BUILDDIR]    (default: $CAIRN_BUILDDIR, else .)
#
# One cairnd, one worker pinned to CPU 0, serves /list (a list template
# over a TemplateData document of 50 users) and /list.html (the bytes
# /list rendered, saved once); wrk runs pinned to CPU 1 (taskset -c 1
# wrk -t1 -c50 -d10s).  Rounds alternate render, file, render, file...;
# each prints req/s, p99 and the server's CPU time per request.  The
# summary gives the medians and the render/file ratio.
#
# Environment: BENCH_DURATION (10s), BENCH_ROUNDS (3), BENCH_CONNS (50).
# Not part of `make check`.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-50}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs

bench=template.sh
. "$here/lib.sh"

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first, or pass its build directory"
[ -f "$moddir/mod_template.so" ] || die "$moddir/mod_template.so not found (configured with --disable-mod-template?)"
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"
command -v taskset >/dev/null || die "taskset not found: apt-get install util-linux"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (the server on CPU 0, wrk on CPU 1)"

bench_setup bench

root=$tmp/htdocs
tpl=$tmp/templates
mkdir -p "$root" "$tpl"

# 50 users, as a REST list would give them.
{
    printf '{"site": "cairn bench", "users": ['
    for i in $(seq 1 50); do
        [ "$i" = 1 ] || printf ','
        if [ $((i % 3)) = 0 ]; then active=false; else active=true; fi
        printf '{"id": %d, "name": "User number %d <%d>", "email": "user%d@example.com", "created": "2026-12-0%dT10:%02d:00Z", "active": %s}' \
            "$i" "$i" "$i" "$i" $((i % 9 + 1)) "$i" "$active"
    done
    printf ']}\n'
} > "$tpl/data.json"

cat > "$tpl/list.tpl" <<'TEMPLATE'
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Users - {{ site }}</title></head>
<body>
<h1>{{ users | length }} users</h1>
<table>
<thead><tr><th>#</th><th>Name</th><th>E-mail</th><th>Created</th><th></th></tr></thead>
<tbody>
{%- for u in users %}
<tr class="{% if loop.first %}first{% else %}row{% end %}"><td>{{ u.id }}</td><td>{{ u.name }}</td><td><a href="mailto:{{ u.email | urlencode }}">{{ u.email }}</a></td><td>{{ u.created | date("%Y-%m-%d %H:%M") }}</td><td>{% if u.active %}active{% else %}off{% end %}</td></tr>
{%- end %}
</tbody>
</table>
</body>
</html>
TEMPLATE

port=$(free_port)
cat > "$tmp/cairn.conf" <<CONF
ModuleDir $moddir
Listen 127.0.0.1:$port
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
LoadModule static
LoadModule template
DocumentRoot $root
TemplateDir $tpl
TemplateData $tpl/data.json
<Location /list>
    Template list.tpl
</Location>
CONF

"$cairnd" -f "$tmp/cairn.conf" -t -q || die "cairn rejects the benchmark config"
taskset -c 0 "$cairnd" -f "$tmp/cairn.conf" 2> "$tmp/cairn-stderr.log" &
pid=$!
bench_track "$pid"
wait_port "$port" "$pid" || { cat "$tmp/cairn-stderr.log" >&2; die "cairn did not start"; }
sleep 0.5

code=$(curl -s -o "$root/list.html" -w '%{http_code}' "http://127.0.0.1:$port/list")
[ "$code" = 200 ] || die "GET /list: $code"
grep -q "User number 50 &lt;50&gt;" "$root/list.html" || die "the page lacks its 50th row"
size=$(stat -c %s "$root/list.html")
curl -s "http://127.0.0.1:$port/list.html" | cmp -s - "$root/list.html" \
    || die "/list.html is not the rendered page"

echo "cairn:  $("$cairnd" -V 2>&1 | head -n 1), pid $pid, port $port"
echo "page:   50 rows, $size bytes, rendered (/list) and as a file (/list.html)"
echo "wrk:    taskset -c 1 wrk -t1 -c$conns -d$duration --latency; server on CPU 0"
echo

results=$tmp/results
: > "$results"

one_round() {
    local name=$1 path=$2 round=$3
    wrk_round "$path" "$pid" "http://127.0.0.1:$port$path"
    printf '%-7s %5s %12s %10s %14s\n' "$name" "$round" "$rps" "${p99:-?}" \
        "$cpu_us"
    echo "$name $rps $cpu_us" >> "$results"
}

printf '%-7s %5s %12s %10s %14s\n' what round req/s p99 cpu-us/req
for round in $(seq 1 "$rounds"); do
    one_round render /list "$round"
    one_round file /list.html "$round"
done

kill -0 "$pid" 2>/dev/null || die "cairn died during the benchmark"

r_rps=$(awk '$1 == "render" { print $2 }' "$results" | median)
f_rps=$(awk '$1 == "file" { print $2 }' "$results" | median)
r_cpu=$(awk '$1 == "render" { print $3 }' "$results" | median)
f_cpu=$(awk '$1 == "file" { print $3 }' "$results" | median)
echo
printf 'medians: render %.0f req/s (%s us/req), file %.0f req/s (%s us/req)\n' \
    "$r_rps" "$r_cpu" "$f_rps" "$f_cpu"
awk -v r="$r_rps" -v f="$f_rps" \
    'BEGIN { printf "render/file = %.2f (target >= 0.50)\n", (f > 0 ? r / f : 0) }'
