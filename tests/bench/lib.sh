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
