#!/usr/bin/env bash
# Installs what cairn needs on Debian 12, builds it, and serves the demo
# site (demo/htdocs, with the shipped conf.d) on http://127.0.0.1:8080/,
# with a private MariaDB (its own data directory, socket and port under a
# temporary directory, removed on exit) behind the REST resource /users
# of conf.d/60-rest.conf and its /openapi.json; a browser gets /users as
# an HTML page (demo/templates/users/list.tpl, mod_template).
#
#   scripts/demo.sh            the demo site, the database and /users
#   scripts/demo.sh --no-db    the demo site alone
set -euo pipefail
cd "$(dirname "$0")/.."

with_db=1
case "${1:-}" in
    "") ;;
    --no-db) with_db=0 ;;
    *) echo "usage: $0 [--no-db]" >&2; exit 2 ;;
esac

scripts/install-deps.sh
[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure
make -j"$(nproc)"

if [ "$with_db" = 0 ]; then
    echo "serving http://127.0.0.1:8080/ (Ctrl-C stops)"
    exec core/cairnd -f demo/cairn.conf
fi

# ---- a private MariaDB and the users resource ---------------------------

[ -f modules/.libs/mod_rest.so ] && [ -f modules/.libs/mod_mysql.so ] \
    || { echo "$0: mod_rest and mod_mysql must be built (configure without --disable-mod-rest/--disable-mod-mysql)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo-db.XXXXXX")
chmod 755 "$tmp"
db_pid=
cairn_pid=

cleanup() {
    local pid
    for pid in $cairn_pid $db_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $cairn_pid $db_pid; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. scripts/private-mariadb.sh
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

echo "starting a private MariaDB in $tmp"
private_mariadb_start "$tmp" || exit 1
echo "MariaDB listens on 127.0.0.1:$db_port and $db_sock"

private_mariadb_sql <<EOF
CREATE DATABASE demo CHARACTER SET utf8mb4;
CREATE USER 'demo'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL ON demo.* TO 'demo'@'127.0.0.1';
EOF
printf '%s\n' "$password" > "$tmp/db.pass"
chmod 600 "$tmp/db.pass"

cat > "$tmp/cairn.conf" <<EOF
# The demo site plus the database of scripts/demo.sh.
Include $PWD/demo/cairn.conf
<Database demo>
    Host 127.0.0.1
    Port $db_port
    User demo
    PasswordFile $tmp/db.pass
    Name demo
</Database>
EOF

core/cairnd -f "$tmp/cairn.conf" -D REST_DEMO -t -q
echo "serving http://127.0.0.1:8080/ with /users and /openapi.json (Ctrl-C stops)"
echo "  open http://127.0.0.1:8080/users in a browser: a table of the users and a form to add one"
echo "  curl -s -X POST -H 'Content-Type: application/json' \\"
echo "       -d '{\"name\":\"Alice\",\"email\":\"alice@example.com\"}' http://127.0.0.1:8080/users"
echo "  curl -s 'http://127.0.0.1:8080/users?sort=-name'"
core/cairnd -f "$tmp/cairn.conf" -D REST_DEMO &
cairn_pid=$!
wait "$cairn_pid"
