# A private MariaDB server for the demo and the benchmarks: its own data
# directory, Unix socket and loopback port under a directory the caller
# owns (and removes), never the system's server or option files.  Source
# this file, then:
#
#   private_mariadb_start DIR [mariadbd options...]
#       installs a data directory in DIR/data, starts mariadbd on a free
#       port of 127.0.0.1 and on DIR/mysqld.sock, and waits until it
#       answers.  Sets db_port, db_sock and db_pid (the caller stops it
#       with kill -TERM "$db_pid").  Prints the logs and returns 1 when
#       it cannot.
#   private_mariadb_sql [mariadb options...]
#       the mariadb client as root over the socket (statements on stdin
#       or with -e).

private_mariadb_start() {
    local dir=$1 mariadbd _
    local -a user_args=()
    shift

    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    if [ ! -x "$mariadbd" ] || ! command -v mariadb-install-db >/dev/null \
        || ! command -v mariadb >/dev/null
    then
        echo "MariaDB is not installed: apt-get install mariadb-server mariadb-client" >&2
        return 1
    fi
    # As root, the server runs as root inside DIR instead of as mysql.
    [ "$(id -u)" = 0 ] && user_args=(--user=root)

    db_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    db_sock=$dir/mysqld.sock

    mariadb-install-db --no-defaults --datadir="$dir/data" \
        --auth-root-authentication-method=normal --skip-test-db \
        --tmpdir="$dir" "${user_args[@]}" > "$dir/install.log" 2>&1 \
        || { cat "$dir/install.log" >&2; return 1; }

    "$mariadbd" --no-defaults --datadir="$dir/data" --socket="$db_sock" \
        --port="$db_port" --bind-address=127.0.0.1 \
        --pid-file="$dir/mysqld.pid" --log-error="$dir/mysqld.err" \
        --skip-name-resolve --skip-log-bin --tmpdir="$dir" \
        "$@" "${user_args[@]}" \
        > "$dir/mysqld.out" 2>&1 &
    db_pid=$!

    for _ in $(seq 1 300); do
        private_mariadb_sql -e "SELECT 1" >/dev/null 2>&1 && return 0
        if ! kill -0 "$db_pid" 2>/dev/null; then
            cat "$dir/mysqld.err" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "mariadbd does not answer on $db_sock" >&2
    return 1
}

private_mariadb_sql() {
    mariadb --no-defaults --socket="$db_sock" --user=root --batch \
        --skip-column-names "$@"
}
