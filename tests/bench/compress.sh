#!/bin/bash
# Compression: cairn's mod_compress against the distribution's nginx with
# "gzip on", gzip level 6 on the same 50 KiB JSON file, same machine,
# same run.
#
#   tests/bench/compress.sh [BUILDDIR]    (default: $CAIRN_BUILDDIR, else .)
#
# Three servers, one worker each, all pinned to CPU 0: cairn with its
# per-worker cache of compressed files (CompressCacheSize, the default
# 4m), cairn with the cache off (CompressCacheSize 0: every request
# compressed, as nginx does), and nginx (gzip on; gzip_comp_level 6;
# gzip_types application/json).  wrk runs pinned to CPU 1 with
# "Accept-Encoding: gzip" (taskset -c 1 wrk -t1 -c50 -d5s --latency).
# Rounds alternate cairn, cairn-nocache, nginx, ... and each prints
# req/s, p99 latency and the server's CPU time per request (utime +
# stime of the master and its workers, from /proc/PID/stat, before and
# after the round).  The summary gives the median of each and the
# ratios to nginx.
#
# Environment: BENCH_DURATION (5s), BENCH_ROUNDS (3), BENCH_CONNS (50),
# BENCH_WARMUP (2s; 0 to skip).  Not part of `make check`.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-5s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-50}
warmup=${BENCH_WARMUP:-2s}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs
nginx=/usr/sbin/nginx

bench=compress.sh
. "$here/lib.sh"

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first, or pass its build directory"
[ -f "$moddir/mod_static.so" ] || die "$moddir/mod_static.so not found (configured with --disable-mod-static?)"
[ -f "$moddir/mod_compress.so" ] || die "$moddir/mod_compress.so not found (configured without zlib, libbrotli or libzstd?)"
[ -x "$nginx" ] || die "$nginx not found: apt-get install nginx-light"
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"
command -v taskset >/dev/null || die "taskset not found: apt-get install util-linux"
command -v curl >/dev/null || die "curl not found: apt-get install curl"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (servers on CPU 0, wrk on CPU 1); this machine has $(nproc)"

bench_setup compress

# The content: 50 KiB of JSON, records alike but not the same (so that
# it compresses as an API answer does, about 6:1 rather than 100:1).
root=$tmp/htdocs
mkdir -p "$root"
python3 - "$root/data.json" <<'EOF'
import json, random, sys
rnd = random.Random(50)
words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         "kilo lima mike november oscar papa quebec romeo sierra tango").split()
items, text = [], ""
while len(text) < 50 * 1024:
    items.append({"id": len(items) + 1,
                  "name": " ".join(rnd.choice(words) for _ in range(3)),
                  "email": "user%d@example.org" % rnd.randrange(100000),
                  "score": round(rnd.uniform(0, 1000), 2),
                  "active": rnd.random() < 0.7,
                  "tags": rnd.sample(words, 3)})
    text = json.dumps({"count": len(items), "items": items}, indent=1)
with open(sys.argv[1], "w") as f:
    f.write(text)
EOF
size=$(stat -c %s "$root/data.json")

cairn_port=$(free_port)
nocache_port=$(free_port)
nginx_port=$(free_port)

cairn_conf() {
    cat <<EOF
ModuleDir $moddir
Listen 127.0.0.1:$1
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
MaxConnections 4096
LoadModule static
LoadModule compress
DocumentRoot $root
Compress gzip
CompressLevel gzip 6
CompressTypes application/json
CompressCacheSize $2
EOF
}
cairn_conf "$cairn_port" 4m > "$tmp/cairn.conf"
cairn_conf "$nocache_port" 0 > "$tmp/cairn-nocache.conf"

cat > "$tmp/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log error;
events {
    worker_connections 4096;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 100000;
    server_tokens off;
    gzip on;
    gzip_comp_level 6;
    gzip_types application/json;
    gzip_vary on;
    client_body_temp_path $tmp/nginx-body;
    proxy_temp_path $tmp/nginx-proxy;
    fastcgi_temp_path $tmp/nginx-fastcgi;
    scgi_temp_path $tmp/nginx-scgi;
    uwsgi_temp_path $tmp/nginx-uwsgi;
    server {
        listen 127.0.0.1:$nginx_port;
        root $root;
    }
}
EOF

"$cairnd" -f "$tmp/cairn.conf" -t -q || die "cairn rejects the benchmark config"
"$nginx" -t -q -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" \
    || die "nginx rejects the benchmark config"

taskset -c 0 "$cairnd" -f "$tmp/cairn.conf" 2> "$tmp/cairn-stderr.log" &
cairn_pid=$!
bench_track "$cairn_pid"
taskset -c 0 "$cairnd" -f "$tmp/cairn-nocache.conf" 2> "$tmp/cairn-nocache-stderr.log" &
nocache_pid=$!
bench_track "$nocache_pid"
taskset -c 0 "$nginx" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" &
nginx_pid=$!
bench_track "$nginx_pid"

wait_port "$cairn_port" "$cairn_pid" || { cat "$tmp/cairn-stderr.log" >&2; die "cairn did not start"; }
wait_port "$nocache_port" "$nocache_pid" || { cat "$tmp/cairn-nocache-stderr.log" >&2; die "cairn (no cache) did not start"; }
wait_port "$nginx_port" "$nginx_pid" || { cat "$tmp/nginx-error.log" >&2; die "nginx did not start"; }
# Let them finish forking their workers, and the file settle (cairn keeps
# no compressed form of a file changed less than two seconds ago).
sleep 2.5

declare -A gzsize
for port in "$cairn_port" "$nocache_port" "$nginx_port"; do
    got=$(curl -s -H 'Accept-Encoding: gzip' -D "$tmp/head" -o "$tmp/body.gz" \
        -w '%{http_code}' "http://127.0.0.1:$port/data.json")
    [ "$got" = 200 ] || die "GET /data.json on port $port: $got"
    grep -qi '^content-encoding: gzip' "$tmp/head" || die "port $port did not gzip"
    gunzip -c "$tmp/body.gz" | cmp -s - "$root/data.json" \
        || die "port $port: the gzip body does not decode to the file"
    gzsize[$port]=$(stat -c %s "$tmp/body.gz")
done

echo "cairn:  $("$cairnd" -V 2>&1 | head -n 1), pid $cairn_pid (cache) $nocache_pid (no cache)"
echo "nginx:  $("$nginx" -v 2>&1), pid $nginx_pid"
echo "file:   data.json, $size bytes; gzip 6: cairn ${gzsize[$cairn_port]} bytes, nginx ${gzsize[$nginx_port]} bytes"
echo "wrk:    taskset -c 1 wrk -t1 -c$conns -d$duration --latency -H 'Accept-Encoding: gzip'; servers on CPU 0"
echo "rounds: $rounds, cairn, cairn-nocache and nginx interleaved"
echo

results=$tmp/results
: > "$results"

one_round() {
    local name=$1 pid=$2 port=$3 round=$4
    wrk_round "$name" "$pid" "http://127.0.0.1:$port/data.json" \
        -H 'Accept-Encoding: gzip'
    printf '%-14s %5s %12s %10s %14s\n' "$name" "$round" "$rps" \
        "${p99:-?}" "$cpu_us"
    echo "$name $rps $p99us $cpu_us" >> "$results"
}

if [ "$warmup" != 0 ] && [ "$warmup" != 0s ]; then
    for port in "$cairn_port" "$nocache_port" "$nginx_port"; do
        taskset -c 1 wrk -t1 -c"$conns" -d"$warmup" \
            -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/data.json" \
            > /dev/null
    done
fi

printf '%-14s %5s %12s %10s %14s\n' server round req/s p99 cpu-us/req
for round in $(seq 1 "$rounds"); do
    one_round cairn "$cairn_pid" "$cairn_port" "$round"
    one_round cairn-nocache "$nocache_pid" "$nocache_port" "$round"
    one_round nginx "$nginx_pid" "$nginx_port" "$round"
done

kill -0 "$cairn_pid" 2>/dev/null || die "cairn died during the benchmark"
kill -0 "$nocache_pid" 2>/dev/null || die "cairn (no cache) died during the benchmark"
kill -0 "$nginx_pid" 2>/dev/null || die "nginx died during the benchmark"

echo
echo "medians over $rounds rounds:"
printf '%-14s %12s %8s %10s %12s %10s\n' server req/s ratio p99 cpu-us/req \
    cpu-ratio
n_rps=$(awk '$1 == "nginx" { print $2 }' "$results" | median)
n_cpu=$(awk '$1 == "nginx" { print $4 }' "$results" | median)
for name in cairn cairn-nocache nginx; do
    rps=$(awk -v s="$name" '$1 == s { print $2 }' "$results" | median)
    p99=$(awk -v s="$name" '$1 == s { print $3 }' "$results" | median)
    cpu=$(awk -v s="$name" '$1 == s { print $4 }' "$results" | median)
    ratio=$(awk -v c="$rps" -v n="$n_rps" 'BEGIN { printf "%.2f", (n > 0 ? c / n : 0) }')
    cratio=$(awk -v c="$cpu" -v n="$n_cpu" 'BEGIN { printf "%.3f", (n > 0 ? c / n : 0) }')
    printf '%-14s %12.0f %8s %8sus %12s %10s\n' "$name" "$rps" "$ratio" \
        "$p99" "$cpu" "$cratio"
done
echo
echo "ratio = req/s / nginx req/s; cpu-ratio = CPU per request / nginx's;"
echo "cpu = server CPU microseconds per request (master + workers)"
