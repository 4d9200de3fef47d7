#!/bin/bash
# The cost of observability: the bare core against the same core with
# mod_log (json access log to a file) and mod_metrics loaded, serving the
# same 13-byte file, in interleaved rounds of one run.
#
#   tests/bench/observability.sh [BUILDDIR]   (default: $CAIRN_BUILDDIR, else .)
#
# Both servers run one worker pinned to CPU 0, wrk runs pinned to CPU 1.
# Prints req/s per round and the median ratio observed/bare (1.00: no
# cost).  Environment: BENCH_DURATION (10s), BENCH_ROUNDS (3),
# BENCH_CONNS (50).  Not part of `make check`.

set -euo pipefail

builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-50}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs

die() {
    echo "observability.sh: $*" >&2
    exit 1
}

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first"
for m in static log metrics; do
    [ -f "$moddir/mod_$m.so" ] || die "$moddir/mod_$m.so not found"
done
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-obs.XXXXXX")
pids=

cleanup() {
    local pid
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $pids; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 _
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

mkdir -p "$tmp/htdocs"
printf 'hello, world\n' > "$tmp/htdocs/13b.txt"

start() {
    local name=$1 port=$2 extra=$3
    cat > "$tmp/$name.conf" <<EOF
ModuleDir $moddir
Listen 127.0.0.1:$port
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
LoadModule static
DocumentRoot $tmp/htdocs
$extra
EOF
    "$cairnd" -f "$tmp/$name.conf" -t -q || die "$name: config rejected"
    taskset -c 0 "$cairnd" -f "$tmp/$name.conf" 2> "$tmp/$name.err" &
    pids="$pids $!"
    wait_port "$port" || { cat "$tmp/$name.err" >&2; die "$name did not start"; }
}

bare_port=$(free_port)
obs_port=$(free_port)

start bare "$bare_port" ""
start observed "$obs_port" "LoadModule log
LoadModule metrics
AccessLog $tmp/access.log json
<Location /metrics>
    Metrics on
</Location>"
sleep 0.5

rps() {
    taskset -c 1 wrk -t1 -c"$conns" -d"$duration" "http://127.0.0.1:$1/13b.txt" \
        | awk '/^Requests\/sec:/ { print $2 }'
}

declare -a bare_r obs_r
printf '%-9s %5s %12s\n' server round req/s
for i in $(seq 1 "$rounds"); do
    b=$(rps "$bare_port")
    o=$(rps "$obs_port")
    bare_r+=("$b")
    obs_r+=("$o")
    printf '%-9s %5d %12s\n' bare "$i" "$b" observed "$i" "$o"
done

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

mb=$(median "${bare_r[@]}")
mo=$(median "${obs_r[@]}")
lines=$(wc -l < "$tmp/access.log" 2>/dev/null || echo 0)
echo
echo "median req/s: bare $mb, with mod_log (json) + mod_metrics $mo"
awk -v b="$mb" -v o="$mo" 'BEGIN { printf "ratio observed/bare: %.3f\n", o / b }'
echo "access log lines written: $lines"
