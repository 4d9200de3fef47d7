"""mod_mysql against a private MariaDB: typed parameters and results,
transactions, rollback when a request ends or its client leaves, pool
limits, PoolTimeout, PoolRecycle, a server killed and restarted under
load, a slow query next to a static file, DatabaseHealth, metrics, and
`cairnd -t` on bad <Database> sections.  Statements run through
mod_test_db, which uses only the provider API of cairn/db.h."""

import json
import os
import re
import signal
import socket
import threading
import time

from cairntest import (Server, build_request, check, contains, eq, fail,
                       main, matches, module_path, need_modules, output,
                       slow_factor, test)
from mariadb import MariaDB, need_mariadb, quote

if module_path("mysql") is None:
    print("1..0 # SKIP mod_mysql was not built")
    raise SystemExit(77)
need_modules("static", "test_db")
need_mariadb()

APP_USER = "cairn_app"
APP_PASSWORD = "pa'ss\"w0rd"
APP_DB = "cairn_test"

_db = None


def mariadb():
    """The private server shared by the tests of this file."""
    global _db
    if _db is None:
        # Kept only once it is fully set up: a failed start must not
        # leave a half-made server to the next tests.
        db = MariaDB()
        try:
            db.start()
            db.create_app(APP_USER, APP_PASSWORD, APP_DB)
            db.sql("CREATE TABLE items ("
                   " id INT AUTO_INCREMENT PRIMARY KEY,"
                   " name VARCHAR(200) UNIQUE,"
                   " note MEDIUMTEXT,"
                   " data VARBINARY(300),"
                   " big BIGINT,"
                   " ratio DOUBLE,"
                   " price DECIMAL(12,2)"
                   ") ENGINE=InnoDB", database=APP_DB)
        except Exception:
            db.cleanup()
            raise
        _db = db
    elif not _db.alive():
        _db.start()
    return _db


def db_section(db, extra="", name="main", password_file="db.pass"):
    return """
<Database %s>
    Host 127.0.0.1
    Port %d
    User %s
    PasswordFile @TMP@/%s
    Name %s
    ConnectTimeout 2s
%s
</Database>
""" % (name, db.port, APP_USER, password_file, APP_DB, extra)


def db_server(extra="", conf="", modules=("static", "mysql", "test_db"),
              start=True, workers=1):
    db = mariadb()
    s = Server(modules=modules, workers=workers,
               conf=db_section(db, extra) + """
<Location /db>
    TestDb main
</Location>
<Location /health>
    DatabaseHealth main
</Location>
""" + conf)
    s.write("db.pass", APP_PASSWORD + "\n", root=s.tmp, mode=0o600)
    s.write("static.txt", "static file\n")
    if start:
        s.start()
    return s


def run(s, statements, tx=False, end="commit", timeout=30):
    """POSTs statements ([(sql, params)]); returns (status, document)."""
    doc = {"statements": [{"sql": q, "params": p} for q, p in statements],
           "tx": tx, "end": end}
    r = s.request("POST", "/db", body=json.dumps(doc).encode(),
                  headers={"Content-Type": "application/json"},
                  timeout=timeout)
    try:
        body = json.loads(r.body.decode("utf-8")) if r.body else None
    except ValueError:
        body = r.body
    return r.status, body


def rows_of(s, sql, params=()):
    status, doc = run(s, [(sql, list(params))])
    eq(status, 200, "status of %s: %r" % (sql, doc))
    return doc["results"][0]["rows"]


def clear(db):
    db.sql("DELETE FROM items", database=APP_DB)


def get_raw(port, path, timeout=10.0):
    """One GET on a fresh connection: (status, seconds)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(build_request("GET", path, {"Connection": "close"}))
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    took = time.monotonic() - t0
    m = re.match(rb"HTTP/1\.\d (\d+)", data)
    return (int(m.group(1)) if m else 0), took


# ----------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------

def config_fails(conf, expect, pass_mode=0o600, extra_files=None):
    s = Server(modules=("static", "mysql"), conf=conf)
    s.write("db.pass", "secret\n", root=s.tmp, mode=pass_mode)
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    for e in expect:
        contains(p.stderr, e, "stderr of -t")
    matches(p.stderr, r"%s:\d+: " % re.escape(s.conf_path), "stderr of -t")
    if "<Database main>" in conf:
        where = "%s:%d: " % (s.conf_path, s.line_of("<Database main>"))
    else:
        where = s.conf_path + ":"
    s.cleanup()
    return p.stderr, where


@test
def test_config_errors():
    base = "Host 127.0.0.1\n    Port 3306\n    User u\n    Name n\n"
    err, where = config_fails("<Database main>\n    Host 127.0.0.1\n"
                              "    Name n\n</Database>\n",
                              ["<Database main> needs a User"])
    contains(err, where + "<Database main> needs a User",
             "message citing the section's line")
    config_fails("<Database main>\n    User u\n</Database>\n",
                 ["<Database main> needs a Name"])
    config_fails("<Database main>\n    Host h\n    Socket /tmp/s.sock\n"
                 "    User u\n    Name n\n</Database>\n",
                 ["Socket excludes Host and Port"])
    config_fails("<Database main>\n    " + base + "    PoolSize 0\n"
                 "</Database>\n", ["PoolSize 0 is out of range"])
    config_fails("<Database main>\n    " + base + "    MaxOverflow lots\n"
                 "</Database>\n", ["lots"])
    config_fails("<Database main>\n    " + base + "    Port 70000\n"
                 "</Database>\n", ["Port 70000 is not a port number"])
    config_fails("<Database main>\n    " + base + "    Password x\n"
                 "</Database>\n", ["unknown directive 'Password'"])
    config_fails("<Database main>\n    " + base + "</Database>\n"
                 "<Database main>\n    " + base + "</Database>\n",
                 ["<Database main> is already defined"])
    config_fails("<Location /h>\n    DatabaseHealth nope\n</Location>\n",
                 ["there is no <Database nope>"])
    # Host names are resolved when the configuration is loaded.
    config_fails("<Database main>\n    Host no-such-host.invalid\n"
                 "    User u\n    Name n\n</Database>\n",
                 ['Host "no-such-host.invalid" does not resolve'])


@test
def test_password_file_too_open():
    conf = ("<Database main>\n    Host 127.0.0.1\n    User u\n    Name n\n"
            "    PasswordFile @TMP@/db.pass\n</Database>\n")
    err, _ = config_fails(conf, ["readable by group or others",
                                 "chmod 600"], pass_mode=0o644)
    print("# %s" % err.strip().splitlines()[0])
    s = Server(modules=("static", "mysql"), conf=conf)
    s.write("db.pass", "secret\n", root=s.tmp, mode=0o600)
    p = s.run(["-t"])
    eq(p.returncode, 0, "-t with a 0600 PasswordFile\n" + output(p))


@test
def test_check_db_define():
    db = mariadb()
    s = db_server(start=False)
    p = s.run(["-t"])
    eq(p.returncode, 0, "-t without CHECK_DB\n" + output(p))
    p = s.run(["-t", "-D", "CHECK_DB"])
    eq(p.returncode, 0, "-t -D CHECK_DB with the server up\n" + output(p))
    s.write("db.pass", "wrong\n", root=s.tmp, mode=0o600)
    p = s.run(["-t", "-D", "CHECK_DB"])
    eq(p.returncode, 1, "-t -D CHECK_DB with a wrong password\n" + output(p))
    contains(p.stderr, "cannot connect", "stderr")
    contains(p.stderr, "Access denied", "stderr")
    s.cleanup()
    check(db.alive(), "MariaDB still running")


@test
def test_loads_without_databases():
    s = Server(modules=("static", "mysql"))
    s.write("index.html", "hi\n")
    s.start()
    eq(s.get("/").status, 200, "GET / with mod_mysql and no <Database>")


# ----------------------------------------------------------------------
# Statements
# ----------------------------------------------------------------------

@test
def test_types_round_trip():
    db = mariadb()
    clear(db)
    s = db_server()
    big_text = "x" * 100000 + "ü" * 1000
    binary = bytes(b for b in range(1, 256)) + b"\x01\x02"
    params = ["it's \"quoted\" \\ back`tick`", "日本語 ünï 😀 " + big_text,
              {"blob_hex": binary.hex()}, 9007199254740993, 0.125, None]
    status, doc = run(s, [("INSERT INTO items (name, note, data, big, ratio,"
                           " price) VALUES (?, ?, ?, ?, ?, ?)", params)])
    eq(status, 200, "INSERT: %r" % doc)
    res = doc["results"][0]
    eq(res["affected"], 1, "affected rows")
    check(res["insert_id"] > 0, "insert id %r" % res["insert_id"])

    rows = rows_of(s, "SELECT id, name, note, HEX(data) AS hx, big, ratio,"
                      " price, NULL AS nothing FROM items WHERE id = ?",
                   [res["insert_id"]])
    eq(len(rows), 1, "rows")
    row = rows[0]
    eq(row["name"], params[0], "name")
    eq(row["note"], params[1], "note (UTF-8, large)")
    eq(row["hx"], binary.hex().upper(), "binary column")
    eq(row["big"], 9007199254740993, "BIGINT as a JSON integer")
    eq(row["ratio"], 0.125, "DOUBLE")
    eq(row["price"], None, "NULL parameter")
    eq(row["nothing"], None, "NULL column")
    check(isinstance(row["id"], int), "id is an integer: %r" % row["id"])

    # The server sees the same bytes.
    eq(db.value("SELECT HEX(name) FROM items WHERE id = %d"
                % res["insert_id"], database=APP_DB),
       params[0].encode().hex().upper(), "name as stored")

    status, doc = run(s, [("UPDATE items SET price = ? WHERE id = ?",
                           [12.5, res["insert_id"]]),
                          ("SELECT price, -9223372036854775807 - 1 AS mn,"
                           " 18446744073709551615 AS umax, 1.5e300 AS f,"
                           " CAST(18446744073709551615 AS UNSIGNED) AS u64,"
                           " CAST(9223372036854775807 AS UNSIGNED) AS i64"
                           " FROM items", [])])
    eq(status, 200, "UPDATE + SELECT: %r" % doc)
    eq(doc["results"][0]["affected"], 1, "UPDATE affected rows")
    r2 = doc["results"][1]["rows"][0]
    eq(r2["price"], "12.50", "DECIMAL as an exact string")
    eq(r2["mn"], -9223372036854775808, "INT64 minimum")
    eq(r2["f"], 1.5e300, "double")
    eq(r2["u64"], "18446744073709551615",
       "BIGINT UNSIGNED above INT64_MAX as its exact digits")
    eq(r2["i64"], 9223372036854775807, "INT64_MAX as an integer")


@test
def test_injection_stored_verbatim():
    db = mariadb()
    clear(db)
    s = db_server()
    evil = ["'; DROP TABLE items; --", "1 OR 1=1", "\\'; SELECT SLEEP(5); #",
            "Robert'); DELETE FROM items;--", "\" OR \"\"=\""]
    for e in evil:
        status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", [e])])
        eq(status, 200, "INSERT %r: %r" % (e, doc))
    rows = rows_of(s, "SELECT name FROM items WHERE name = ?", [evil[1]])
    eq([r["name"] for r in rows], [evil[1]], "lookup by an injection string")
    stored = sorted(r[0] for r in db.sql("SELECT name FROM items",
                                         database=APP_DB))
    eq(stored, sorted(evil), "stored values")


@test
def test_errors_by_kind():
    db = mariadb()
    clear(db)
    s = db_server()
    run(s, [("INSERT INTO items (name) VALUES (?)", ["dup"])])
    status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", ["dup"])])
    eq(status, 409, "duplicate key: %r" % doc)
    eq(doc["error"]["kind"], "duplicate", "kind")
    eq(doc["error"]["code"], 1062, "server errno")
    eq(doc["error"]["sqlstate"], "23000", "sqlstate")
    status, doc = run(s, [("SELEKT nothing", [])])
    eq((status, doc["error"]["kind"]), (500, "syntax"), "syntax error")
    status, doc = run(s, [("SELECT * FROM no_such_table", [])])
    eq(doc["error"]["kind"], "syntax", "unknown table")
    status, doc = run(s, [("SELECT ?", [])])
    eq(status, 500, "placeholder count mismatch: %r" % doc)
    # The connection is still good after all that.
    eq(rows_of(s, "SELECT 7 AS n"), [{"n": 7}], "query after errors")


@test
def test_statement_cache():
    # One connection, more distinct statements than it keeps prepared,
    # and a statement that fails to prepare once the cache is full.
    s = db_server("    PoolSize 1\n    MaxOverflow 0\n")
    for rnd in range(2):
        sts = [("SELECT ? + %d AS v" % i, [rnd]) for i in range(45)]
        status, doc = run(s, sts)
        eq(status, 200, "45 statements: %r" % (doc if status != 200
                                                 else ""))
        eq([r["rows"][0]["v"] for r in doc["results"]],
           [rnd + i for i in range(45)], "values")
        status, doc = run(s, [("SELEKT %d" % rnd, [])])
        eq(doc["error"]["kind"], "syntax", "bad statement, full cache")
    eq(rows_of(s, "SELECT ? + 3 AS v", [1]), [{"v": 4}], "afterwards")


@test
def test_query_timeout():
    s = db_server("    QueryTimeout 500ms\n")
    t0 = time.monotonic()
    status, doc = run(s, [("SELECT SLEEP(3)", [])])
    took = time.monotonic() - t0
    eq(status, 503, "statement past QueryTimeout: %r" % doc)
    eq(doc["error"]["kind"], "timeout", "kind")
    check(took < 2 * slow_factor(), "answered after %.2f s" % took)
    eq(rows_of(s, "SELECT 2 AS n"), [{"n": 2}], "next statement")
    # The server does not go on sleeping for nobody: KILL QUERY.
    wait_no_query(mariadb(), "SLEEP(3)", 1.0 * slow_factor())


def wait_no_query(db, text, timeout):
    """Waits until no server thread of the application runs a statement
    containing text; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        n = int(db.value("SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                         " WHERE USER = '%s' AND INFO LIKE '%%%s%%'"
                         % (APP_USER, text)))
        if n == 0:
            return
        if time.monotonic() > deadline:
            fail("%d server thread(s) still run %r %.1f s after their "
                 "statement was abandoned" % (n, text, timeout))
        time.sleep(0.05)


@test
def test_several_databases():
    db = mariadb()
    db.sql("CREATE DATABASE IF NOT EXISTS cairn_other; "
           "GRANT ALL ON cairn_other.* TO '%s'@'localhost';" % APP_USER)
    # The second one over the Unix socket.
    other = ("<Database other>\n    Socket %s\n    User %s\n"
             "    PasswordFile @TMP@/db.pass\n    Name cairn_other\n"
             "    PoolSize 1\n</Database>\n" % (db.socket, APP_USER))
    s = db_server(conf=other + "<Location /db2>\n    TestDb other\n"
                  "</Location>\n")
    eq(rows_of(s, "SELECT DATABASE() AS d"), [{"d": APP_DB}], "main")
    r = s.get("/db2?sql=SELECT+DATABASE()+AS+d")
    eq((r.status, json.loads(r.body)["results"][0]["rows"]),
       (200, [{"d": "cairn_other"}]), "other")
    r = s.get("/db2?sql=SELECT+USER()+AS+u")
    contains(json.loads(r.body)["results"][0]["rows"][0]["u"],
             "@localhost", "user of the socket connection")


# ----------------------------------------------------------------------
# Transactions
# ----------------------------------------------------------------------

def count_named(db, name):
    return int(db.value("SELECT COUNT(*) FROM items WHERE name = %s"
                        % quote(name), database=APP_DB))


@test
def test_transactions():
    db = mariadb()
    clear(db)
    s = db_server()
    status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", ["c1"]),
                          ("INSERT INTO items (name) VALUES (?)", ["c2"])],
                      tx=True, end="commit")
    eq(status, 200, "committed transaction: %r" % doc)
    eq(count_named(db, "c1") + count_named(db, "c2"), 2, "committed rows")

    status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", ["r1"])],
                      tx=True, end="rollback")
    eq(status, 200, "rolled back transaction: %r" % doc)
    eq(count_named(db, "r1"), 0, "rolled back row")

    # A failing statement inside a transaction: the request ends without
    # commit, the provider rolls back.
    status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", ["f1"]),
                          ("INSERT INTO items (name) VALUES (?)", ["c1"])],
                      tx=True, end="commit")
    eq(status, 409, "duplicate inside a transaction: %r" % doc)
    eq(count_named(db, "f1"), 0, "row of the failed transaction")

    # The request ends with the transaction open.
    status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", ["o1"])],
                      tx=True, end="open")
    eq(status, 200, "open transaction: %r" % doc)
    time.sleep(0.3)
    eq(count_named(db, "o1"), 0, "row of a transaction left open")
    # And the connection went back clean (autocommit again).
    status, doc = run(s, [("INSERT INTO items (name) VALUES (?)", ["a1"])])
    eq(status, 200, "autocommit insert: %r" % doc)
    eq(count_named(db, "a1"), 1, "autocommitted row")


@test
def test_rollback_on_client_disconnect():
    db = mariadb()
    clear(db)
    s = db_server()
    doc = {"tx": True, "end": "commit", "statements": [
        {"sql": "INSERT INTO items (name) VALUES (?)", "params": ["gone"]},
        {"sql": "SELECT SLEEP(2)", "params": []}]}
    body = json.dumps(doc).encode()
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(build_request("POST", "/db", {"Content-Type":
                                            "application/json"}, body))
    time.sleep(0.5)
    c.close()
    # The abandoned SLEEP is stopped on the server at once, not after its
    # two seconds.
    wait_no_query(db, "SLEEP(2)", 1.0 * slow_factor())
    deadline = time.monotonic() + 8 * slow_factor()
    while True:
        r = s.get("/db-cancelled")
        if r.body.strip() == b"cancelled 1" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    eq(r.body, b"cancelled 1\n", "cancel callbacks")
    # The server rolls back when it notices the connection is gone (at
    # the latest when SLEEP returns).
    while count_named(db, "gone") != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    eq(count_named(db, "gone"), 0, "row of the abandoned transaction")
    eq(rows_of(s, "SELECT 1 AS one"), [{"one": 1}], "pool still works")
    check(s.alive(), "cairnd alive")


# ----------------------------------------------------------------------
# The pool
# ----------------------------------------------------------------------

@test
def test_pool_limits():
    db = mariadb()
    # Server threads of earlier tests (an abandoned SLEEP) must be gone.
    deadline = time.monotonic() + 10
    while db.connections(APP_USER) > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    s = db_server("    PoolSize 2\n    MaxOverflow 1\n    PoolTimeout 30s\n",
                  conf="MaxConnections 512\n")
    results = []
    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            samples.append(db.connections(APP_USER))
            time.sleep(0.05)

    def one(i):
        try:
            status, doc = run(s, [("SELECT SLEEP(0.05) AS z, ? AS i", [i])],
                              timeout=60)
            results.append((status, doc["results"][0]["rows"][0]["i"]
                            if status == 200 else doc))
        except Exception as e:
            results.append((0, repr(e)))

    t = threading.Thread(target=sampler)
    t.start()
    try:
        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(50)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(90)
        took = time.monotonic() - t0
    finally:
        stop.set()
        t.join()
    bad = [r for r in results if r[0] != 200]
    eq(bad, [], "failed requests")
    eq(sorted(r[1] for r in results), list(range(50)), "answers")
    print("# 50 requests in %.2f s; connections seen: max %d over %d "
          "samples" % (took, max(samples), len(samples)))
    check(max(samples) <= 3, "at most PoolSize + MaxOverflow = 3 "
          "connections, saw %d" % max(samples))
    # The overflow connection is closed once idle (after a second).
    deadline = time.monotonic() + 5 * slow_factor()
    while (db.connections(APP_USER) > 2
           and time.monotonic() < deadline):
        time.sleep(0.1)
    check(db.connections(APP_USER) <= 2, "after the burst: %d connections"
          % db.connections(APP_USER))
    h = json.loads(s.get("/health").body)
    eq(h["connections"]["open"], 2, "open connections after the burst")


@test
def test_pool_timeout():
    s = db_server("    PoolSize 1\n    MaxOverflow 0\n    PoolTimeout 300ms\n")
    slow = threading.Thread(target=run, args=(s, [("SELECT SLEEP(2)", [])]))
    slow.start()
    time.sleep(0.4)
    t0 = time.monotonic()
    status, doc = run(s, [("SELECT 1", [])])
    took = time.monotonic() - t0
    slow.join()
    eq(status, 503, "status while the only connection is busy: %r" % doc)
    eq(doc["error"]["kind"], "unavailable", "kind")
    contains(doc["error"]["message"], "PoolTimeout", "message")
    check(0.25 <= took < 1.5 * slow_factor(),
          "503 after %.2f s (PoolTimeout 300ms)" % took)
    eq(run(s, [("SELECT 1 AS x", [])])[0], 200, "afterwards")


@test
def test_pool_recycle():
    s = db_server("    PoolSize 1\n    MaxOverflow 0\n    PoolRecycle 1s\n")
    a = rows_of(s, "SELECT CONNECTION_ID() AS id")[0]["id"]
    b = rows_of(s, "SELECT CONNECTION_ID() AS id")[0]["id"]
    eq(a, b, "connection id within PoolRecycle")
    time.sleep(1.3)
    c = rows_of(s, "SELECT CONNECTION_ID() AS id")[0]["id"]
    check(c != a, "connection id after PoolRecycle: %s, was %s" % (c, a))


@test
def test_slow_query_does_not_block_static():
    s = db_server()
    rows_of(s, "SELECT 1")          # connections are open
    out = {}

    def slow():
        t0 = time.monotonic()
        out["status"] = run(s, [("SELECT SLEEP(1) AS z", [])])[0]
        out["took"] = time.monotonic() - t0

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.2)
    status, took = get_raw(s.port, "/static.txt")
    th.join()
    eq(status, 200, "static file")
    eq(out["status"], 200, "slow query")
    print("# static file answered in %.1f ms while SELECT SLEEP(1) ran on "
          "the same worker (%.2f s)" % (took * 1000, out["took"]))
    check(out["took"] >= 0.95, "the slow query took %.2f s" % out["took"])
    check(took < 0.3 * slow_factor(), "static file took %.3f s" % took)


@test
def test_metrics():
    if module_path("metrics") is None:
        return
    s = db_server(conf="<Location /metrics>\n    Metrics on\n</Location>\n",
                  modules=("static", "mysql", "test_db", "metrics"))
    rows_of(s, "SELECT 1")
    run(s, [("SELEKT", [])])
    text = s.get("/metrics").body.decode()
    for name in ("cairn_db_connections_open{pool=\"main\"}",
                 "cairn_db_connections_in_use{pool=\"main\"}",
                 "cairn_db_connections_overflow{pool=\"main\"}",
                 "cairn_db_waiters{pool=\"main\"}",
                 "cairn_db_wait_seconds_count{pool=\"main\"}",
                 "cairn_db_query_seconds_bucket{pool=\"main\"",
                 "cairn_db_errors_total{pool=\"main\",kind=\"syntax\"} 1"):
        contains(text, name, "/metrics")
    m = re.search(r'^cairn_db_connections_open\{pool="main"\} (\S+)$', text,
                  re.MULTILINE)
    check(m and float(m.group(1)) >= 1, "open connections gauge: %s"
          % (m.group(0) if m else None))


@test
def test_pool_gauges_after_a_worker_dies():
    """A worker killed with its connections open: the gauges do not go on
    counting them once the master has replaced it."""
    if module_path("metrics") is None:
        return
    s = db_server("    PoolSize 2\n    MaxOverflow 0\n",
                  conf="<Location /metrics>\n    Metrics on\n</Location>\n",
                  modules=("static", "mysql", "test_db", "metrics"))
    s.expect_fatal = True       # the master logs the kill

    def open_conns():
        m = re.search(r'^cairn_db_connections_open\{pool="main"\} (\S+)$',
                      s.get("/metrics").body.decode(), re.MULTILINE)
        return float(m.group(1)) if m else None

    def wait_open(want):
        deadline = time.monotonic() + 5 * slow_factor()
        while open_conns() != want:
            check(time.monotonic() < deadline, "cairn_db_connections_open "
                  "is %s, want %s" % (open_conns(), want))
            time.sleep(0.05)

    wait_open(2)
    victim = s.wait_workers(1)[0]
    os.kill(victim, signal.SIGKILL)
    s.wait_workers(1, exclude=[victim])
    # The new worker opens its own two; the dead one's are taken back.
    wait_open(2)
    time.sleep(0.3)
    eq(open_conns(), 2, "open connections after the respawn")


# ----------------------------------------------------------------------
# Recovery (last: it kills the shared server)
# ----------------------------------------------------------------------

@test
def test_server_killed_and_restarted():
    db = mariadb()
    s = db_server("    PoolSize 4\n    MaxOverflow 2\n    PoolTimeout 2s\n")
    eq(s.get("/health").status, 200, "DatabaseHealth while up")
    health = json.loads(s.get("/health").body)
    eq(health["status"], "up", "health document")
    workers = s.wait_workers(1)

    stop = threading.Event()
    log = []            # (time, status, seconds)
    lock = threading.Lock()

    def load():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                status, _ = get_raw(s.port, "/db?sql=SELECT+1", timeout=20)
            except OSError:
                status = -1
            with lock:
                log.append((t0, status, time.monotonic() - t0))

    # A statement in flight when the server dies.
    inflight = {}

    def sleeper():
        inflight["r"] = get_raw(s.port, "/db?sql=SELECT+SLEEP(10)",
                                timeout=20)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for th in threads:
        th.start()
    sl = threading.Thread(target=sleeper)
    sl.start()
    try:
        time.sleep(1.0)
        t_kill = time.monotonic()
        db.kill()
        sl.join(10)
        check(not sl.is_alive(), "the request in flight hangs")
        status, took = inflight["r"]
        eq(status, 503, "request in flight when the server died")
        check(took < 3 * slow_factor(), "in-flight request answered after "
              "%.2f s" % took)
        time.sleep(1.5)
        hs, _ = get_raw(s.port, "/health")
        eq(hs, 503, "DatabaseHealth while down")
        down_doc = json.loads(s.get("/health").body)
        eq(down_doc["status"], "down", "health document while down")
        t_start = time.monotonic()
        db.start()
        t_up = time.monotonic()
        deadline = t_up + 10 * slow_factor()
        while time.monotonic() < deadline:
            with lock:
                recent = [x for x in log if x[0] > t_up + 0.01]
            if len([x for x in recent if x[1] == 200]) >= 20:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for th in threads:
            th.join(30)

    gap = [x for x in log if t_kill + 0.2 < x[0] < t_start]
    after = [x for x in log if x[0] > t_up]
    statuses = sorted(set(x[1] for x in gap))
    print("# during the outage: %d requests, statuses %s, slowest %.2f s; "
          "after the restart: %d requests, %d succeeded"
          % (len(gap), statuses, max([x[2] for x in gap] or [0]),
             len(after), len([x for x in after if x[1] == 200])))
    check(gap, "no requests during the outage")
    eq(statuses, [503], "statuses during the outage")
    check(max(x[2] for x in gap) < 3 * slow_factor(),
          "slowest answer during the outage: %.2f s"
          % max(x[2] for x in gap))
    check(len([x for x in after if x[1] == 200]) >= 20,
          "successes after the restart: %s"
          % sorted(set(x[1] for x in after)))
    eq(s.get("/health").status, 200, "DatabaseHealth after the restart")
    check(s.alive(), "cairnd still running")
    eq(s.wait_workers(1), workers, "worker pid (no restart)")


if __name__ == "__main__":
    try:
        main()
    finally:
        if _db is not None:
            _db.cleanup()
