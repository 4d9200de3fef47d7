#!/bin/bash
# Static files: cairn against the distribution's nginx, same files, same
# machine, same run.
#
#   tests/bench/static.sh [BUILDDIR]      (default: $CAIRN_BUILDDIR, else .)
#
# Both servers run one worker pinned to CPU 0; wrk runs pinned to CPU 1
# (taskset -c 1 wrk -t1 -c50 -d10s --latency).  For a 13-byte and a
# 4 KiB file, rounds alternate cairn, nginx, cairn, nginx... and each
# prints req/s, p99 latency and the server's CPU time per request
# (utime + stime of the master and its workers, from /proc/PID/stat,
# before and after the round).  The summary gives the median of each
# and the cairn/nginx ratio per file.
#
# Environment: BENCH_DURATION (10s), BENCH_ROUNDS (3), BENCH_CONNS (50),
# BENCH_WARMUP (2s; 0 to skip).  Not part of `make check`.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-50}
warmup=${BENCH_WARMUP:-2s}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs
nginx=/usr/sbin/nginx

bench=static.sh
. "$here/lib.sh"

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first, or pass its build directory"
[ -f "$moddir/mod_static.so" ] || die "$moddir/mod_static.so not found (configured with --disable-mod-static?)"
[ -x "$nginx" ] || die "$nginx not found: apt-get install nginx-light"
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"
command -v taskset >/dev/null || die "taskset not found: apt-get install util-linux"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (servers on CPU 0, wrk on CPU 1); this machine has $(nproc)"

bench_setup bench

# The content: a 13-byte and a 4 KiB file.
root=$tmp/htdocs
mkdir -p "$root"
printf 'hello, world\n' > "$root/13b.txt"
head -c 3072 /dev/urandom | base64 -w 0 | head -c 4096 > "$root/4k.txt"
[ "$(stat -c %s "$root/13b.txt")" = 13 ] || die "13b.txt is not 13 bytes"
[ "$(stat -c %s "$root/4k.txt")" = 4096 ] || die "4k.txt is not 4096 bytes"

cairn_port=$(free_port)
nginx_port=$(free_port)
while [ "$nginx_port" = "$cairn_port" ]; do
    nginx_port=$(free_port)
done

cat > "$tmp/cairn.conf" <<EOF
ModuleDir $moddir
Listen 127.0.0.1:$cairn_port
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
MaxConnections 4096
LoadModule static
DocumentRoot $root
EOF

sed -e "s|@TMP@|$tmp|g" -e "s|@ROOT@|$root|g" -e "s|@PORT@|$nginx_port|g" \
    "$here/nginx.conf.in" > "$tmp/nginx.conf"

"$cairnd" -f "$tmp/cairn.conf" -t -q || die "cairn rejects the benchmark config"
"$nginx" -t -q -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" \
    || die "nginx rejects the benchmark config"

taskset -c 0 "$cairnd" -f "$tmp/cairn.conf" 2> "$tmp/cairn-stderr.log" &
cairn_pid=$!
bench_track "$cairn_pid"
taskset -c 0 "$nginx" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" &
nginx_pid=$!
bench_track "$nginx_pid"

wait_port "$cairn_port" "$cairn_pid" || { cat "$tmp/cairn-stderr.log" >&2; die "cairn did not start"; }
wait_port "$nginx_port" "$nginx_pid" || { cat "$tmp/nginx-error.log" >&2; die "nginx did not start"; }
# Let both finish forking their workers.
sleep 0.5

for f in 13b.txt 4k.txt; do
    for port in "$cairn_port" "$nginx_port"; do
        want=$(stat -c %s "$root/$f")
        got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' \
            "http://127.0.0.1:$port/$f")
        [ "$got" = "200 $want" ] || die "GET /$f on port $port: $got (want 200 $want)"
    done
done

echo "cairn:  $("$cairnd" -V 2>&1 | head -n 1), pid $cairn_pid, port $cairn_port"
echo "nginx:  $("$nginx" -v 2>&1), pid $nginx_pid, port $nginx_port"
echo "wrk:    taskset -c 1 wrk -t1 -c$conns -d$duration --latency; servers on CPU 0"
echo "rounds: $rounds per file, cairn and nginx interleaved"
echo

results=$tmp/results
: > "$results"

one_round() {
    local name=$1 pid=$2 port=$3 file=$4 round=$5
    wrk_round "$name" "$pid" "http://127.0.0.1:$port/$file"
    printf '%-8s %-6s %5s %12s %10s %14s\n' "$file" "$name" "$round" \
        "$rps" "${p99:-?}" "$cpu_us"
    echo "$file $name $rps $p99us $cpu_us" >> "$results"
}

if [ "$warmup" != 0 ] && [ "$warmup" != 0s ]; then
    for port in "$cairn_port" "$nginx_port"; do
        taskset -c 1 wrk -t1 -c"$conns" -d"$warmup" \
            "http://127.0.0.1:$port/13b.txt" > /dev/null
    done
fi

printf '%-8s %-6s %5s %12s %10s %14s\n' file server round req/s p99 cpu-us/req
for file in 13b.txt 4k.txt; do
    for round in $(seq 1 "$rounds"); do
        one_round cairn "$cairn_pid" "$cairn_port" "$file" "$round"
        one_round nginx "$nginx_pid" "$nginx_port" "$file" "$round"
    done
done

kill -0 "$cairn_pid" 2>/dev/null || die "cairn died during the benchmark"
kill -0 "$nginx_pid" 2>/dev/null || die "nginx died during the benchmark"

echo
echo "medians over $rounds rounds:"
printf '%-8s %12s %12s %8s %10s %10s %10s %10s\n' file cairn-req/s \
    nginx-req/s ratio cairn-p99 nginx-p99 cairn-cpu nginx-cpu
for file in 13b.txt 4k.txt; do
    c_rps=$(awk -v f="$file" '$1 == f && $2 == "cairn" { print $3 }' "$results" | median)
    n_rps=$(awk -v f="$file" '$1 == f && $2 == "nginx" { print $3 }' "$results" | median)
    c_p99=$(awk -v f="$file" '$1 == f && $2 == "cairn" { print $4 }' "$results" | median)
    n_p99=$(awk -v f="$file" '$1 == f && $2 == "nginx" { print $4 }' "$results" | median)
    c_cpu=$(awk -v f="$file" '$1 == f && $2 == "cairn" { print $5 }' "$results" | median)
    n_cpu=$(awk -v f="$file" '$1 == f && $2 == "nginx" { print $5 }' "$results" | median)
    ratio=$(awk -v c="$c_rps" -v n="$n_rps" 'BEGIN { printf "%.2f", (n > 0 ? c / n : 0) }')
    printf '%-8s %12.0f %12.0f %8s %8sus %8sus %10s %10s\n' "$file" "$c_rps" \
        "$n_rps" "$ratio" "$c_p99" "$n_p99" "$c_cpu" "$n_cpu"
done
echo
echo "ratio = cairn req/s / nginx req/s (1.00 = as fast as nginx);"
echo "cpu = server CPU microseconds per request (master + workers)"
