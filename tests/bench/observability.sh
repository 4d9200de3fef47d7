#!/bin/bash
# The cost of observability: the bare core against the same core with
# mod_log (json access log to a file) and mod_metrics loaded, serving the
# same 13-byte file, in interleaved rounds of one run.
#
#   tests/bench/observability.sh [BUILDDIR]   (default: $CAIRN_BUILDDIR, else .)
#
# Both servers run one worker pinned to CPU 0, wrk runs pinned to CPU 1.
# Each round prints req/s and the server's CPU time per request (utime +
# stime of master and worker from /proc); the summary gives the median
# ratios observed/bare (1.00: no cost).  The access log is emptied before
# each observed round, as logrotate would, so that a file of several GB
# does not build up over the run.  Environment: BENCH_DURATION (10s),
# BENCH_ROUNDS (3), BENCH_CONNS (50), BENCH_LOG (the access log's path;
# default a file in the run's temporary directory).  Not part of
# `make check`.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=observability.sh
. "$here/lib.sh"

builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-50}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first"
for m in static log metrics; do
    [ -f "$moddir/mod_$m.so" ] || die "$moddir/mod_$m.so not found"
done
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"

bench_setup obs
log=${BENCH_LOG:-$tmp/access.log}

mkdir -p "$tmp/htdocs"
printf 'hello, world\n' > "$tmp/htdocs/13b.txt"

declare -A pid_of

start() {
    local name=$1 port=$2 extra=$3
    cat > "$tmp/$name.conf" <<EOC
ModuleDir $moddir
Listen 127.0.0.1:$port
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
LoadModule static
DocumentRoot $tmp/htdocs
$extra
EOC
    "$cairnd" -f "$tmp/$name.conf" -t -q || die "$name: config rejected"
    taskset -c 0 "$cairnd" -f "$tmp/$name.conf" 2> "$tmp/$name.err" &
    pid_of[$name]=$!
    bench_track "$!"
    wait_port "$port" "$!" || { cat "$tmp/$name.err" >&2; die "$name did not start"; }
}

bare_port=$(free_port)
obs_port=$(free_port)

start bare "$bare_port" ""
start observed "$obs_port" "LoadModule log
LoadModule metrics
AccessLog $log json
<Location /metrics>
    Metrics on
</Location>"
sleep 0.5

results=$tmp/results
: > "$results"
total_lines=0

# One wrk round against a server: prints and records req/s and CPU per
# request.
round() {
    local name=$1 port=$2 i=$3 before after out rps reqs cpu
    before=$(cpu_ticks "${pid_of[$name]}")
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"$duration" \
        "http://127.0.0.1:$port/13b.txt")
    after=$(cpu_ticks "${pid_of[$name]}")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
    reqs=$(awk '/ requests in / { print $1 }' <<< "$out")
    [ -n "$rps" ] && [ -n "$reqs" ] || { echo "$out" >&2; die "wrk failed against $name"; }
    if grep -q "Non-2xx or 3xx responses" <<< "$out"; then
        echo "$out" >&2
        die "$name answered errors"
    fi
    cpu=$(cpu_us_per $((after - before)) "$reqs")
    printf '%-9s %5d %12s %10s\n' "$name" "$i" "$rps" "$cpu"
    echo "$name $rps $cpu $reqs" >> "$results"
}

printf '%-9s %5s %12s %10s\n' server round req/s cpu-us/req
for i in $(seq 1 "$rounds"); do
    round bare "$bare_port" "$i"
    # Let the last round's lines reach the file, then count and empty it.
    sleep 1.2
    if [ -f "$log" ]; then
        total_lines=$((total_lines + $(wc -l < "$log")))
        : > "$log"
    fi
    round observed "$obs_port" "$i"
done
sleep 1.2
[ -f "$log" ] && total_lines=$((total_lines + $(wc -l < "$log")))
want=$(awk '$1 == "observed" { n += $4 } END { print n + 0 }' "$results")

b_rps=$(awk '$1 == "bare" { print $2 }' "$results" | median)
o_rps=$(awk '$1 == "observed" { print $2 }' "$results" | median)
b_cpu=$(awk '$1 == "bare" { print $3 }' "$results" | median)
o_cpu=$(awk '$1 == "observed" { print $3 }' "$results" | median)

echo
echo "median req/s: bare $b_rps, with mod_log (json) + mod_metrics $o_rps"
echo "median CPU per request: bare $b_cpu us, observed $o_cpu us"
awk -v b="$b_rps" -v o="$o_rps" -v bc="$b_cpu" -v oc="$o_cpu" 'BEGIN {
    printf "ratio observed/bare: req/s %.3f, requests per CPU second %.3f\n",
           o / b, bc / oc }'
echo "access log lines written: $total_lines (wrk counted $want requests)"
