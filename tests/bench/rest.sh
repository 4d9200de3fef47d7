#!/bin/bash
# REST resources: GET /users/{id} and POST /users through cairn (mod_rest
# over mod_mysql) against the raw rate of the same private MariaDB, same
# machine, same run.
#
#   tests/bench/rest.sh [BUILDDIR]        (default: $CAIRN_BUILDDIR, else .)
#
# A private mariadbd gets a users table of 10000 rows.  Raw rates:
# mysqlslap with 16 connections over TCP runs BENCH_QUERIES primary-key
# selects, then BENCH_QUERIES single-row INSERTs (autocommit).  cairn:
# one worker, PoolSize 16, wrk -t1 -c$BENCH_CONNS for BENCH_DURATION on
# GET /users/4242 (one prepared SELECT), then POST /users with a small
# lua script giving every request a fresh email (BEGIN, INSERT, SELECT,
# COMMIT).  The summary prints the rates and cairn/raw for both.
#
# Both ETag modes side by side: /users has the row_version column
# (version ETags), /husers is the same table without it (row hash ETags:
# SHA-256 of the row's fields).  Each gets GET /{id}, PUT /{id} (a lua
# script spreading the PUTs over the 10000 rows, without If-Match: START
# TRANSACTION, UPDATE, SELECT, COMMIT), and GET then PUT with that GET's
# ETag as If-Match (version: UPDATE ... AND row_version = ?; hash: SELECT
# ... FOR UPDATE, compare, UPDATE) on one connection, so that its If-Match
# is never stale.
#
# Environment: BENCH_DURATION (10s), BENCH_CONNS (64), BENCH_QUERIES
# (100000).  Needs mariadb-server, mariadb-client (mysqlslap), wrk and the
# build tree's mod_mysql and mod_rest.  Not part of `make check`.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=rest.sh
. "$here/lib.sh"
. "$here/../../scripts/private-mariadb.sh"

builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNS:-64}
queries=${BENCH_QUERIES:-100000}

cairnd=$builddir/core/cairnd
moddir=$builddir/modules/.libs

[ -x "$cairnd" ] || die "$cairnd not found: build cairn first, or pass its build directory"
for m in mysql rest; do
    [ -f "$moddir/mod_$m.so" ] || die "$moddir/mod_$m.so not found (configured with --disable-mod-$m?)"
done
# (private_mariadb_start checks for the server and its client.)
command -v mysqlslap >/dev/null || die "mysqlslap not found: apt-get install mariadb-client"
command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"

bench_setup bench-rest

cairn_port=$(free_port)
password="bench-$$-$RANDOM"

# ---- the private MariaDB ------------------------------------------------

private_mariadb_start "$tmp" --max-connections=300 --innodb-buffer-pool-size=128M \
    --innodb-flush-log-at-trx-commit=2 \
    || die "the private MariaDB did not start"
bench_track "$db_pid"
sql() {
    private_mariadb_sql "$@"
}

sql <<EOF
CREATE DATABASE bench CHARACTER SET utf8mb4;
CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL ON bench.* TO 'bench'@'127.0.0.1';
USE bench;
CREATE TABLE users (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(254) NOT NULL,
    age INT,
    row_version BIGINT NOT NULL DEFAULT 1,
    UNIQUE KEY uq_email (email)
) ENGINE=InnoDB;
INSERT INTO users (id, name, email, age)
    SELECT seq, CONCAT('name-', seq), CONCAT('u', seq, '@example.com'),
           seq % 100 FROM seq_1_to_10000;
CREATE TABLE raw_users LIKE users;
CREATE TABLE husers (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(254) NOT NULL,
    age INT,
    UNIQUE KEY uq_email (email)
) ENGINE=InnoDB;
INSERT INTO husers (id, name, email, age)
    SELECT id, name, email, age FROM users;
EOF

# ---- cairn --------------------------------------------------------------

printf '%s\n' "$password" > "$tmp/db.pass"
chmod 600 "$tmp/db.pass"

cat > "$tmp/cairn.conf" <<EOF
ModuleDir $moddir
Listen 127.0.0.1:$cairn_port
Workers 1
LogLevel error
KeepAliveTimeout 300s
MaxKeepAliveRequests 100000000
MaxConnections 4096
LoadModule mysql
LoadModule rest
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
<Resource /users>
    Database bench
    Table users
    Key id
    Field id int
    Field name string required max=100
    Field email email required unique
    Field age int min=0
</Resource>
<Resource /husers>
    Database bench
    Table husers
    Key id
    Field id int
    Field name string required max=100
    Field email email required unique
    Field age int min=0
</Resource>
EOF

# PUT spread over the rows (no If-Match).
cat > "$tmp/put.lua" <<'EOF'
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
    n = n + 1
    local id = (n % 10000) + 1
    return wrk.format(nil, string.format("%s/%d", wrk.path, id), nil,
        string.format('{"name":"put-%d","email":"u%d@example.com","age":%d}',
                      n, id, n % 100))
end
EOF

# GET, then PUT with its ETag as If-Match (run on one connection: the
# script's state is shared by the connections of a thread).
cat > "$tmp/putif.lua" <<'EOF'
local n = 0
local etag = nil
local id = 0
local want_get = true
request = function()
    if want_get then
        n = n + 1
        id = (n % 10000) + 1
        return wrk.format("GET", string.format("%s/%d", wrk.path, id))
    end
    return wrk.format("PUT", string.format("%s/%d", wrk.path, id),
        { ["Content-Type"] = "application/json", ["If-Match"] = etag },
        string.format('{"name":"putif-%d","email":"u%d@example.com","age":%d}',
                      n, id, n % 100))
end
response = function(status, headers, body)
    if want_get then
        etag = headers["ETag"]
    end
    want_get = not want_get
end
EOF

cat > "$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
local tag = tostring(os.time())
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, string.format(
        '{"name":"bench","email":"b%s-%d@example.com","age":30}', tag, n))
end
EOF

"$cairnd" -f "$tmp/cairn.conf" -t -q || die "cairn rejects the benchmark config"
$pin_server "$cairnd" -f "$tmp/cairn.conf" 2> "$tmp/cairn-stderr.log" &
cairn_pid=$!
bench_track "$cairn_pid"
wait_port "$cairn_port" "$cairn_pid" || die "cairn did not start"

url="http://127.0.0.1:$cairn_port/users/4242"
got=$(curl -s "$url")
[ "$got" = '{"code":200,"message":"OK","data":{"id":4242,"name":"name-4242","email":"u4242@example.com","age":42}}' ] \
    || die "unexpected answer from cairn: $got"

echo "cairn:    $("$cairnd" -V 2>&1 | head -n 1), 1 worker, PoolSize 16"
echo "mariadb:  $(mariadb --version 2>&1 | head -n 1)"
echo "cairn:    wrk -t1 -c$conns -d$duration"
echo "raw:      mysqlslap --concurrency=16 --number-of-queries=$queries over TCP"
echo

slap() {
    local t0 t1
    t0=$(date +%s.%N)
    mysqlslap --no-defaults --host=127.0.0.1 --port="$db_port" \
        --protocol=tcp --user=bench --password="$password" \
        --create-schema=bench --concurrency=16 --iterations=1 \
        --number-of-queries="$queries" --query="$1" \
        > "$tmp/slap.out" 2>&1 || { cat "$tmp/slap.out" >&2; die "mysqlslap failed"; }
    t1=$(date +%s.%N)
    awk -v q="$queries" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", q / (b - a) }'
}

run_wrk() {
    local out rps
    out=$($pin_client wrk -t1 -c"$conns" -d"$duration" "$@")
    if grep -q "Non-2xx or 3xx responses" <<< "$out"; then
        echo "$out" >&2
        die "cairn answered errors"
    fi
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out")
    [ -n "$rps" ] || { echo "$out" >&2; die "wrk failed"; }
    echo "$rps"
}

raw_get=$(slap "SELECT id, name, email, age, row_version FROM users WHERE id = 4242")
cairn_get=$(run_wrk "$url")
hash_get=$(run_wrk "http://127.0.0.1:$cairn_port/husers/4242")
cairn_put=$(run_wrk -s "$tmp/put.lua" "http://127.0.0.1:$cairn_port/users")
hash_put=$(run_wrk -s "$tmp/put.lua" "http://127.0.0.1:$cairn_port/husers")
conns_saved=$conns
conns=1
cairn_putif=$(run_wrk -s "$tmp/putif.lua" "http://127.0.0.1:$cairn_port/users")
hash_putif=$(run_wrk -s "$tmp/putif.lua" "http://127.0.0.1:$cairn_port/husers")
conns=$conns_saved
raw_post=$(slap "INSERT INTO raw_users (name, email, age) VALUES ('bench', UUID(), 30)")
cairn_post=$(run_wrk -s "$tmp/post.lua" "http://127.0.0.1:$cairn_port/users")

kill -0 "$cairn_pid" 2>/dev/null || die "cairn died during the benchmark"

ratio() {
    awk -v c="$1" -v r="$2" 'BEGIN { printf "%.2f", (r > 0 ? c / r : 0) }'
}
printf '%-22s %12s %12s %7s\n' operation raw/s cairn/s ratio
printf '%-22s %12s %12s %7s\n' "GET /users/{id}" "$raw_get" "$cairn_get" \
    "$(ratio "$cairn_get" "$raw_get")"
printf '%-22s %12s %12s %7s\n' "POST /users" "$raw_post" "$cairn_post" \
    "$(ratio "$cairn_post" "$raw_post")"
echo "rows inserted through cairn: $(sql -e 'SELECT COUNT(*) - 10000 FROM bench.users')"
echo
echo "ETag modes, requests/s through cairn (hash/version):"
printf '%-34s %10s %10s %7s\n' operation version/s hash/s ratio
printf '%-34s %10s %10s %7s\n' "GET /{id}" "$cairn_get" "$hash_get" \
    "$(ratio "$hash_get" "$cairn_get")"
printf '%-34s %10s %10s %7s\n' "PUT /{id}" "$cairn_put" "$hash_put" \
    "$(ratio "$hash_put" "$cairn_put")"
printf '%-34s %10s %10s %7s\n' "GET + PUT If-Match, 1 connection" \
    "$cairn_putif" "$hash_putif" "$(ratio "$hash_putif" "$cairn_putif")"
