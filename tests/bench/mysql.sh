#!/bin/bash
# Database point selects: cairn (mod_mysql through mod_test_db) against
# the raw rate of the same private MariaDB, same machine, same run.
#
#   tests/bench/mysql.sh [BUILDDIR]       (default: $CAIRN_BUILDDIR, else .)
#
# A private mariadbd (its own data dir, socket and port) gets a table of
# 10000 rows.  Raw rate: mysqlslap with 16 connections over TCP runs the
# primary-key select "SELECT id, name, score FROM bench WHERE id = 4242"
# BENCH_QUERIES times.  cairn: one worker with PoolSize 16 runs the same
# statement as a prepared statement with the id as a parameter, for wrk
# (-t1 -c$BENCH_CONNS); every request is one HTTP round trip plus one
# statement.  The summary prints both rates and cairn/raw.
#
# Environment: BENCH_DURATION (10s), BENCH_CONNS (64), BENCH_QUERIES
# (200000), BENCH_ROUNDS (3; the median is reported).  Needs mariadb-server,
# mariadb-client (mysqlslap), wrk and the build tree's mod_mysql and
# mod_test_db (make check builds the test modules).  Not part of
# `make check`.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=mysql.sh
. "$here/lib.sh"
. "$here/../../scripts/private-mariadb.sh"

builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNS:-64}
queries=${BENCH_QUERIES:-200000}
rounds=${BENCH_ROUNDS:-3}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs
testmoddir=$builddir/tests/modules/.libs

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first, or pass its build directory"
[ -f "$moddir/mod_mysql.so" ] || die "$moddir/mod_mysql.so not found (configured with --disable-mod-mysql?)"
[ -f "$testmoddir/mod_test_db.so" ] || die "$testmoddir/mod_test_db.so not found: run 'make check' (or make -C tests/modules mod_test_db.la) first"
# (private_mariadb_start checks for the server and its client.)
command -v mysqlslap >/dev/null || die "mysqlslap not found: apt-get install mariadb-client"
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"

bench_setup bench-mysql

cairn_port=$(free_port)
password="bench-$$-$RANDOM"

# ---- the private MariaDB ------------------------------------------------

private_mariadb_start "$tmp" --max-connections=300 --innodb-buffer-pool-size=128M \
    || die "the private MariaDB did not start"
bench_track "$db_pid"
sql() {
    private_mariadb_sql "$@"
}

sql <<EOF
CREATE DATABASE bench;
CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL ON bench.* TO 'bench'@'127.0.0.1';
USE bench;
CREATE TABLE bench (id INT PRIMARY KEY, name VARCHAR(64), score INT)
    ENGINE=InnoDB;
INSERT INTO bench (id, name, score)
    SELECT seq, CONCAT('name-', seq), seq % 1000 FROM seq_1_to_10000;
EOF

# ---- cairn --------------------------------------------------------------

printf '%s\n' "$password" > "$tmp/db.pass"
chmod 600 "$tmp/db.pass"

cat > "$tmp/cairn.conf" <<EOF
ModuleDir $moddir $testmoddir
Listen 127.0.0.1:$cairn_port
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
MaxConnections 4096
LoadModule mysql
LoadModule test_db
<Database bench>
    Host 127.0.0.1
    Port $db_port
    User bench
    PasswordFile $tmp/db.pass
    Name bench
    PoolSize 16
    MaxOverflow 0
    PoolTimeout 30s
</Database>
<Location /db>
    TestDb bench
</Location>
EOF

"$cairnd" -f "$tmp/cairn.conf" -t -q -D CHECK_DB || die "cairn rejects the benchmark config"
$pin_server "$cairnd" -f "$tmp/cairn.conf" 2> "$tmp/cairn-stderr.log" &
cairn_pid=$!
bench_track "$cairn_pid"

url="http://127.0.0.1:$cairn_port/db?sql=SELECT+id,+name,+score+FROM+bench+WHERE+id+%3D+%3F&i=4242"
for _ in $(seq 1 200); do
    curl -s -o /dev/null "$url" 2>/dev/null && break
    sleep 0.05
done
got=$(curl -s "$url")
[ "$got" = '{"results":[{"rows":[{"id":4242,"name":"name-4242","score":242}],"affected":1,"insert_id":0}]}' ] \
    || die "unexpected answer from cairn: $got"

echo "cairn:    $("$cairnd" -V 2>&1 | head -n 1), 1 worker, PoolSize 16"
echo "mariadb:  $(mariadb --version 2>&1 | head -n 1)"
echo "cairn:    wrk -t1 -c$conns -d$duration on GET $url"
echo "raw:      mysqlslap --concurrency=16 --number-of-queries=$queries over TCP"
echo

# Each round records its rate and the CPU time of mariadbd (and of
# cairnd) per query or request.
raw_round() {
    local t0 t1 d0 d1
    d0=$(cpu_ticks "$db_pid")
    t0=$(date +%s.%N)
    mysqlslap --no-defaults --host=127.0.0.1 --port="$db_port" \
        --protocol=tcp --user=bench --password="$password" \
        --create-schema=bench --concurrency=16 --iterations=1 \
        --number-of-queries="$queries" \
        --query="SELECT id, name, score FROM bench WHERE id = 4242" \
        > "$tmp/slap.out" 2>&1 || { cat "$tmp/slap.out" >&2; die "mysqlslap failed"; }
    t1=$(date +%s.%N)
    d1=$(cpu_ticks "$db_pid")
    echo "$queries $t0 $t1 $((d1 - d0))" >> "$tmp/raw.detail"
    awk -v q="$queries" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", q / (b - a) }'
}

cairn_round() {
    local out rps reqs c0 c1 d0 d1
    c0=$(cpu_ticks "$cairn_pid")
    d0=$(cpu_ticks "$db_pid")
    out=$($pin_client wrk -t1 -c"$conns" -d"$duration" "$url")
    c1=$(cpu_ticks "$cairn_pid")
    d1=$(cpu_ticks "$db_pid")
    if grep -q "Non-2xx or 3xx responses" <<< "$out"; then
        echo "$out" >&2
        die "cairn answered errors"
    fi
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out")
    reqs=$(awk '/ requests in / { print $1 }' <<< "$out")
    [ -n "$rps" ] && [ -n "$reqs" ] || { echo "$out" >&2; die "wrk failed"; }
    echo "$(cpu_us_per $((c1 - c0)) "$reqs") $(cpu_us_per $((d1 - d0)) "$reqs")" \
        >> "$tmp/cairn.cpu"
    echo "$rps"
}

: > "$tmp/raw"
: > "$tmp/cairn"
: > "$tmp/raw.detail"
: > "$tmp/cairn.cpu"
printf '%-6s %14s %14s\n' round raw-queries/s cairn-req/s
for round in $(seq 1 "$rounds"); do
    r=$(raw_round)
    c=$(cairn_round)
    echo "$r" >> "$tmp/raw"
    echo "$c" >> "$tmp/cairn"
    printf '%-6s %14s %14s\n' "$round" "$r" "$c"
done

kill -0 "$cairn_pid" 2>/dev/null || die "cairn died during the benchmark"

r=$(median < "$tmp/raw")
c=$(median < "$tmp/cairn")
echo
printf 'median: raw %.0f queries/s, cairn %.0f requests/s, ratio %s (target >= 0.60)\n' \
    "$r" "$c" "$(awk -v c="$c" -v r="$r" 'BEGIN { printf "%.2f", (r > 0 ? c / r : 0) }')"
db_raw=$(awk '{ print $4 }' "$tmp/raw.detail" | median)
db_raw_us=$(cpu_us_per "$db_raw" "$queries")
cairn_us=$(awk '{ print $1 }' "$tmp/cairn.cpu" | median)
db_cairn_us=$(awk '{ print $2 }' "$tmp/cairn.cpu" | median)
echo "CPU per query:   mariadbd ${db_raw_us} us (mysqlslap, text protocol)"
echo "CPU per request: mariadbd ${db_cairn_us} us, cairnd ${cairn_us} us (HTTP, pool, statement, JSON)"
