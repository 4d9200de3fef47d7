"""resttest: what the mod_rest test files share: one private MariaDB per
test file with the application's user and database, the <Database>
section that reaches it, servers with mod_mysql and mod_rest, and JSON
calls checked against the envelope {"code", "message", "data"}.

    from resttest import APP_DB, call, envelope, mariadb, rest_server

    db = mariadb(TABLES)                # started once, tables created
    s = rest_server(db, DECLARATIONS)   # cairnd with db_section(db) first
    r, d = call(s, "POST", "/things", {"name": "x"})
    envelope(r, d, 201)
"""

import json

from cairntest import Server, check, contains, eq
from mariadb import MariaDB

APP_USER = "rest_app"
APP_PASSWORD = "r3st'pass"
APP_DB = "rest_test"

_db = None


def mariadb(tables=()):
    """The file's private MariaDB, started on first use with the
    application's user and database and the given CREATE statements; a
    server that died since is started again."""
    global _db
    if _db is None:
        # Kept only once it is fully set up: a failed start must not
        # leave a half-made server to the next tests.
        db = MariaDB(prefix="rest.")
        try:
            db.start()
            db.create_app(APP_USER, APP_PASSWORD, APP_DB)
            for t in tables:
                db.sql(t, database=APP_DB)
        except Exception:
            db.cleanup()
            raise
        _db = db
    elif not _db.alive():
        _db.start()
    return _db


def db_section(db, extra="", port=None):
    """The <Database main> section; port: another port to reach the
    server through (a proxy)."""
    return """
<Database main>
    Host 127.0.0.1
    Port %d
    User %s
    PasswordFile @TMP@/db.pass
    Name %s
    ConnectTimeout 2s
    PoolTimeout 2s
%s</Database>
""" % (port or db.port, APP_USER, APP_DB, extra)


def rest_server(db, conf, modules=("mysql", "rest"), start=True, workers=1,
                db_extra="", db_port=None):
    s = Server(modules=modules, workers=workers,
               conf=db_section(db, db_extra, db_port) + conf)
    s.write("db.pass", APP_PASSWORD + "\n", root=s.tmp, mode=0o600)
    if start:
        s.start()
    return s


def tagged_table(table):
    """CREATE TABLE for rows written under load and faults
    (test_faults.py, tests/soak): an id, a tag, a number, and the
    row_version of mod_rest's ETags."""
    return """
CREATE TABLE %s (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  tag VARCHAR(64) NOT NULL,
  n INT,
  row_version BIGINT NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
""" % table


def tagged_resource(path, table):
    """The <Resource> over a tagged_table() on the <Database main>."""
    return """
<Resource %s>
    Database main
    Table %s
    Key id
    Field id int
    Field tag string required max=64
    Field n int
</Resource>
""" % (path, table)


def call(s, method, path, doc=None, headers=None, raw=None,
         ctype="application/json"):
    """One request; returns (response, parsed JSON body or None)."""
    hdrs = dict(headers or {})
    body = raw
    if doc is not None:
        body = json.dumps(doc, ensure_ascii=False).encode()
    if body is not None and ctype is not None:
        hdrs.setdefault("Content-Type", ctype)
    r = s.request(method, path, body=body, headers=hdrs)
    parsed = None
    if r.body:
        try:
            parsed = json.loads(r.body.decode("utf-8"))
        except ValueError:
            parsed = None
    return r, parsed


def envelope(r, doc, status):
    eq(r.status, status, "status (body %r)" % r.body[:400])
    if status == 304 or r.status == 304:
        return doc
    contains(r.header("Content-Type") or "", "application/json",
             "Content-Type")
    check(isinstance(doc, dict), "the body is not a JSON object: %r"
          % r.body[:200])
    eq(doc.get("code"), status, "envelope code")
    check(isinstance(doc.get("message"), str), "envelope message")
    check("data" in doc, "envelope data")
    return doc
