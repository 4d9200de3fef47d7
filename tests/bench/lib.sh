# Shell helpers shared by the benchmarks in tests/bench/.  Source it after
# setting "bench" to the script's name (for messages).

die() {
    echo "${bench:-bench}: $*" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts on 127.0.0.1:PORT; gives up early when
# the optional PID has died.
wait_port() {
    local port=$1 pid=${2:-} _
    for _ in $(seq 1 200); do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# utime + stime (clock ticks) of a process and its children.
cpu_ticks() {
    local pid=$1 total=0 p fields
    local -a f
    for p in $pid $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        [ -r /proc/"$p"/stat ] || continue
        # utime and stime are the 12th and 13th fields after the last
        # ')' (the command name may hold spaces).
        fields=$(sed 's/^.*) //' /proc/"$p"/stat) || continue
        read -r -a f <<< "$fields"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# CPU microseconds per request from a tick difference and a count.
cpu_us_per() {
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" \
        'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1000000 / n : 0) }'
}

# The median of the numbers on standard input.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) print v[(NR + 1) / 2];
        else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A wrk duration ("1.23ms", "850us", "2s") as microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1000;
        else if (u == "s") m = 1000000; else if (u == "m") m = 60000000;
        else m = 0
        printf "%.0f", n * m }'
}

# wrk_round LABEL PID URL [WRK-ARGS...]: one wrk run on the client CPU
# against URL ($conns connections for $duration, plus WRK-ARGS such as
# -H 'Accept-Encoding: gzip'), with the CPU time PID (and its children)
# spent meanwhile.  Sets rps, reqs, p99 (as wrk writes it),
# p99us and cpu_us (per request); dies when wrk failed or any answer was
# not 2xx/3xx, naming LABEL.
wrk_round() {
    local label=$1 pid=$2 url=$3 out before after
    shift 3
    before=$(cpu_ticks "$pid")
    out=$($pin_client wrk -t1 -c"$conns" -d"$duration" --latency "$@" "$url")
    after=$(cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
    reqs=$(awk '/ requests in / { print $1 }' <<< "$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
    if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
        echo "$out" >&2
        die "wrk failed against $label"
    fi
    if grep -q "Non-2xx or 3xx responses" <<< "$out"; then
        echo "$out" >&2
        die "$label answered errors during the round"
    fi
    p99us=$(to_us "${p99:-0us}")
    cpu_us=$(cpu_us_per $((after - before)) "$reqs")
}

# bench_setup NAME: a temporary directory for the run in $tmp, removed at
# exit after the processes given to bench_track are stopped; and the
# pinning the benchmarks share: with two CPUs or more the servers run on
# CPU 0 ($pin_server) and the load generator on CPU 1 ($pin_client).
bench_pids=
bench_setup() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$1.XXXXXX")
    # nginx's and MariaDB's processes must read it too.
    chmod 755 "$tmp"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM

    pin_server=
    pin_client=
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        pin_server="taskset -c 0"
        pin_client="taskset -c 1"
    fi
}

bench_track() {
    bench_pids="$bench_pids $*"
}

bench_cleanup() {
    local pid
    for pid in $bench_pids; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $bench_pids; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
