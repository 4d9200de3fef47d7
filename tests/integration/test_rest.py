"""mod_rest against a private MariaDB: CRUD checked in the HTTP answers
and in the table, every error status, paging, sorting and filters, JSON
merge patch, ETag/If-Match races, unicode and long values, SQL
injection attempts, the schema check and ResourceAutoCreate, the
OpenAPI document (checked with jsonschema), `cairnd -t` on bad
declarations, and a resource protected by mod_auth with FieldFromUser."""

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time

from cairntest import (Server, check, contains, eq, fail, main, module_path,
                       need_modules, output, skip, test)
from mariadb import MariaDB, need_mariadb
import resttest
from resttest import APP_DB, APP_PASSWORD, APP_USER, call, envelope

if module_path("rest") is None or module_path("mysql") is None:
    print("1..0 # SKIP mod_rest or mod_mysql was not built")
    raise SystemExit(77)
need_mariadb()

USERS = """
<Resource /users>
    Database main
    Table users
    Key id
    Field id int
    Field name string required max=100 pattern=^[^<>]*$
    Field email email required unique
    Field age int min=0 max=150
    Field score number min=0
    Field active bool
    Field bio text max=20000
    Field born datetime
    Field prefs json
    Field secret string writeonly
    Field created datetime readonly
    PageSize 3
    MaxPageSize 5
    Sortable name email age
    Filterable name active age
    MaxBodySize 64k
</Resource>
RestOpenAPI /openapi.json
"""

USERS_TABLE = """
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(254) NOT NULL,
  age INT, score DOUBLE, active TINYINT(1), bio MEDIUMTEXT,
  born DATETIME, prefs LONGTEXT, secret VARCHAR(255),
  created DATETIME DEFAULT CURRENT_TIMESTAMP,
  row_version BIGINT NOT NULL DEFAULT 1,
  UNIQUE KEY uq_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""


def mariadb():
    return resttest.mariadb([USERS_TABLE])


def db_section(db):
    return resttest.db_section(db)


def rest_server(conf=USERS, modules=("mysql", "rest"), start=True,
                workers=1, db_port=None):
    return resttest.rest_server(mariadb(), conf, modules, start, workers,
                                db_port=db_port)


_shared = {}


def users():
    s = _shared.get("users")
    if s is None or not s.alive():
        s = rest_server()
        s.keep = True
        _shared["users"] = s
    return s


def count(db, where="1"):
    return int(db.value("SELECT COUNT(*) FROM users WHERE %s" % where,
                        database=APP_DB))


def clear(db):
    db.sql("DELETE FROM users", database=APP_DB)


def make_user(s, **kw):
    doc = {"name": "alice", "email": "alice@example.com"}
    doc.update(kw)
    r, d = call(s, "POST", "/users", doc)
    envelope(r, d, 201)
    return r, d["data"]


# ----------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------

def config_fails(conf, expect, needle=None, with_db=True):
    db = mariadb()
    s = Server(modules=("mysql", "rest"),
               conf=(db_section(db) if with_db else "") + conf)
    s.write("db.pass", APP_PASSWORD + "\n", root=s.tmp, mode=0o600)
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    for e in expect:
        contains(p.stderr, e, "stderr of -t")
    if needle is not None:
        where = "%s:%d:" % (s.conf_path, s.line_of(needle))
        contains(p.stderr, where, "stderr of -t")
    else:
        check(re.search(r"%s:\d+: " % re.escape(s.conf_path), p.stderr),
              "no file:line in:\n" + p.stderr)


def resource(*lines, head="<Resource /things>"):
    return "\n".join([head, "    Database main", "    Table things",
                      "    Key id", "    Field id int"]
                     + ["    " + l for l in lines] + ["</Resource>"])


@test
def test_config_ok():
    s = rest_server(start=False)
    p = s.run(["-t"])
    eq(p.returncode, 0, "exit status of -t\n" + output(p))


@test
def test_config_errors():
    config_fails(resource("Field x strng"), ["unknown type 'strng'"],
                 "Field x strng")
    config_fails(resource("Field x string requird"),
                 ["unknown option 'requird'"], "requird")
    config_fails(resource("Field x string pattern=(["),
                 ["bad pattern"], "pattern=([")
    # A run of stacked repetitions would keep regcomp() busy for minutes:
    # refused before it, as in <LocationMatch>, with its file:line.
    config_fails(resource("Field x string pattern=^a" + "*" * 60 + "$"),
                 ["Field x: bad pattern '^a**", "follows another one"],
                 "pattern=^a**")
    config_fails(resource("Field x string pattern=a+?"),
                 ["a repetition ('?' at offset 2) follows another one"],
                 "pattern=a+?")
    config_fails(resource("Field x bool max=3"),
                 ["does not apply to a bool"], "max=3")
    config_fails(resource("Field x string max=abc"),
                 ["not a valid number"], "max=abc")
    config_fails(resource("Field x text unique"), ["cannot be unique"],
                 "text unique")
    config_fails(resource("Sortable nope"), ["Sortable", "nope"],
                 "<Resource /things>")
    config_fails(resource("Filterable nope"), ["Filterable", "nope"],
                 "<Resource /things>")
    config_fails(resource("Methods GET FETCH"), ["FETCH"], "FETCH")
    config_fails(resource("Field bad-name string"),
                 ["not an identifier"], "bad-name")
    config_fails(resource("PageSize 50", "MaxPageSize 10"),
                 ["larger than MaxPageSize"])
    config_fails(resource("FieldFromUser owner"), ["FieldFromUser",
                                                   "owner"])
    config_fails("<Resource /things>\n Database main\n Table t;drop\n"
                 "</Resource>\n", ["not a valid identifier"], "t;drop")
    config_fails("<Resource /things>\n Database main\n Table things\n"
                 " Key uid\n Field id int\n</Resource>\n",
                 ["Key uid is not a declared Field"], "<Resource /things>")
    config_fails(resource(head="<Resource /things>").replace(
        "Database main", "Database nosuch"),
        ["no <Database nosuch> section"], "<Resource /things>")
    config_fails(resource("Field x string"), ["no <Database main>"],
                 with_db=False)


# ----------------------------------------------------------------------
# CRUD
# ----------------------------------------------------------------------

@test
def test_crud_flow():
    s = users()
    db = mariadb()
    clear(db)

    r, d = call(s, "POST", "/users", {
        "name": "Alice", "email": "alice@example.com", "age": 30,
        "score": 1.5, "active": True, "bio": "hi",
        "born": "1990-05-01T10:20:30+02:00", "prefs": {"theme": "dark"},
        "secret": "s3cr3t"})
    envelope(r, d, 201)
    uid = d["data"]["id"]
    eq(r.header("Location"), "/users/%d" % uid, "Location")
    etag = r.header("ETag")
    eq(etag, '"v1"', "ETag after POST")
    data = d["data"]
    eq(data["name"], "Alice", "name")
    eq(data["active"], True, "active")
    eq(data["prefs"], {"theme": "dark"}, "prefs")
    eq(data["born"], "1990-05-01T08:20:30Z", "born in UTC")
    check("secret" not in data, "writeonly field in the answer")
    check(data["created"] is not None, "readonly default")
    row = db.sql("SELECT name, email, age, active, born, secret, prefs, "
                 "row_version FROM users WHERE id = %d" % uid,
                 database=APP_DB)[0]
    eq(row, ["Alice", "alice@example.com", "30", "1",
             "1990-05-01 08:20:30", "s3cr3t", '{"theme":"dark"}', "1"],
       "row in the table")

    r, d = call(s, "GET", "/users/%d" % uid)
    envelope(r, d, 200)
    eq(d["data"]["email"], "alice@example.com", "GET one")
    eq(r.header("ETag"), etag, "ETag of GET")

    r, d = call(s, "GET", "/users/%d" % uid, headers={"If-None-Match":
                                                       etag})
    eq(r.status, 304, "If-None-Match")
    eq(r.body, b"", "304 body")

    r = s.head("/users/%d" % uid)
    eq(r.status, 200, "HEAD")
    eq(r.body, b"", "HEAD body")
    eq(r.header("ETag"), etag, "HEAD ETag")

    r, d = call(s, "PUT", "/users/%d" % uid, {
        "name": "Alicia", "email": "alicia@example.com"},
        headers={"If-Match": etag})
    envelope(r, d, 200)
    eq(r.header("ETag"), '"v2"', "ETag after PUT")
    eq(d["data"]["age"], None, "PUT replaces: age gone")
    eq(db.sql("SELECT name, age, secret, row_version FROM users WHERE "
              "id = %d" % uid, database=APP_DB)[0],
       ["Alicia", None, None, "2"], "row after PUT")

    r, d = call(s, "PATCH", "/users/%d" % uid,
                {"age": 31, "bio": None, "prefs": {"a": {"b": 1}}},
                ctype="application/merge-patch+json")
    envelope(r, d, 200)
    eq(d["data"]["age"], 31, "PATCH age")
    eq(d["data"]["name"], "Alicia", "PATCH keeps name")
    r, d = call(s, "PATCH", "/users/%d" % uid,
                {"prefs": {"a": {"b": None, "c": 2}}, "age": None})
    envelope(r, d, 200)
    eq(d["data"]["prefs"], {"a": {"c": 2}}, "merge patch nested null")
    eq(d["data"]["age"], None, "merge patch null removes")
    eq(r.header("ETag"), '"v4"', "ETag after two PATCHes")
    eq(db.value("SELECT prefs FROM users WHERE id = %d" % uid,
                database=APP_DB), '{"a":{"c":2}}', "prefs in the table")

    r, d = call(s, "DELETE", "/users/%d" % uid)
    envelope(r, d, 200)
    eq(count(db, "id = %d" % uid), 0, "row deleted")
    r, d = call(s, "GET", "/users/%d" % uid)
    envelope(r, d, 404)
    r, d = call(s, "DELETE", "/users/%d" % uid)
    envelope(r, d, 404)


@test
def test_options_and_405():
    s = users()
    r, d = call(s, "OPTIONS", "/users")
    envelope(r, d, 200)
    eq(r.header("Allow"), "GET, HEAD, POST, OPTIONS", "Allow of /users")
    r, d = call(s, "OPTIONS", "/users/1")
    eq(r.header("Allow"), "GET, HEAD, PUT, PATCH, DELETE, OPTIONS",
       "Allow of /users/1")
    r, d = call(s, "DELETE", "/users")
    envelope(r, d, 405)
    eq(r.header("Allow"), "GET, HEAD, POST, OPTIONS", "Allow on 405")
    r, d = call(s, "POST", "/users/1", {"name": "x"})
    envelope(r, d, 405)


# ----------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------

@test
def test_error_statuses():
    s = users()
    db = mariadb()
    clear(db)
    make_user(s)

    r, d = call(s, "POST", "/users", raw=b'{"name": ')
    envelope(r, d, 400)
    r, d = call(s, "POST", "/users", raw=b'{"name": "a", "name": "b"}')
    envelope(r, d, 400)
    r, d = call(s, "POST", "/users", {"name": "a"}, ctype="text/plain")
    envelope(r, d, 415)
    r, d = call(s, "POST", "/users", {"name": "a"}, ctype=None)
    envelope(r, d, 415)
    r, d = call(s, "PUT", "/users/1", {"name": "a"},
                ctype="application/merge-patch+json")
    envelope(r, d, 415)

    r, d = call(s, "POST", "/users", {"name": "", "email": "nope",
                                      "age": 200, "active": "yes",
                                      "score": -1, "born": "yesterday",
                                      "extra": 1, "id": 5})
    envelope(r, d, 422)
    fields = sorted(e["field"] for e in d["data"]["errors"])
    eq(fields, ["active", "age", "born", "email", "extra", "score"],
       "fields in errors")
    r, d = call(s, "POST", "/users", {"email": "b@example.com"})
    envelope(r, d, 422)
    eq(d["data"]["errors"], [{"field": "name", "message": "is required"}],
       "required")
    r, d = call(s, "POST", "/users", ["not", "an", "object"])
    envelope(r, d, 422)
    r, d = call(s, "POST", "/users", {"name": "<b>", "email": "c@d.io"})
    envelope(r, d, 422)
    eq(d["data"]["errors"][0]["field"], "name", "pattern")

    r, d = call(s, "POST", "/users", {"name": "bob",
                                      "email": "alice@example.com"})
    envelope(r, d, 409)
    eq(d["data"]["errors"][0]["field"], "email", "409 names the field")
    eq(count(db), 1, "rows after 409")

    r, d = call(s, "GET", "/users/99999")
    envelope(r, d, 404)
    r, d = call(s, "GET", "/users/abc")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?limit=abc")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?limit=0")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?offset=-1")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?sort=bio")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?email=x")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?age=old")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users?cursor=!!")
    envelope(r, d, 400)

    r, d = call(s, "POST", "/users", raw=json.dumps(
        {"name": "big", "email": "big@example.com",
         "bio": "x" * 70000}).encode())
    envelope(r, d, 413)

    uid = db.value("SELECT id FROM users LIMIT 1", database=APP_DB)
    r, d = call(s, "PUT", "/users/%s" % uid, {"name": "z",
                                              "email": "z@z.io"},
                headers={"If-Match": '"v99"'})
    envelope(r, d, 412)
    r, d = call(s, "PATCH", "/users/%s" % uid, {"name": "z"},
                headers={"If-Match": '"v99"'})
    envelope(r, d, 412)
    r, d = call(s, "DELETE", "/users/%s" % uid,
                headers={"If-Match": '"bogus"'})
    envelope(r, d, 412)
    # If-Match on a row that does not exist: the precondition fails
    # (RFC 9110 section 13.1.1), whatever the method.
    r, d = call(s, "PUT", "/users/424242", {"name": "z", "email": "z@z.io"},
                headers={"If-Match": '"v1"'})
    envelope(r, d, 412)
    r, d = call(s, "PATCH", "/users/424242", {"name": "z"},
                headers={"If-Match": '"v1"'})
    envelope(r, d, 412)
    r, d = call(s, "DELETE", "/users/424242", headers={"If-Match": '"v1"'})
    envelope(r, d, 412)
    r, d = call(s, "DELETE", "/users/424242")
    envelope(r, d, 404)
    eq(count(db), 1, "nothing changed")


@test
def test_limit_request_body():
    """A body over the core's LimitRequestBody is refused before the
    resource runs, and still gets the envelope with the core's sentence;
    so does a chunked body that passes the limit while it is read."""
    s = rest_server(conf=USERS + "LimitRequestBody 1k\n")
    r = s.request("POST", "/users", body=b"{" + b" " * 4000 + b"}",
                  headers={"Content-Type": "application/json"})
    d = json.loads(r.body.decode())
    envelope(r, d, 413)
    eq(d["message"], "the body is over LimitRequestBody (1024 bytes)",
       "the core's sentence in the envelope")
    eq(d["data"], None, "no data")
    with s.conn() as c:
        c.send(b"POST /users/7 HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"
               + b"800\r\n" + b" " * 2048 + b"\r\n0\r\n\r\n")
        r = c.read_response("POST")
    d = json.loads(r.body.decode())
    envelope(r, d, 413)
    contains(d["message"], "LimitRequestBody", "chunked: the sentence")
    # Elsewhere, the core's own page.
    r = s.request("POST", "/elsewhere", body=b"x" * 4000,
                  headers={"Accept": "application/json"})
    eq(r.status, 413, "413 off the resources")
    eq(json.loads(r.body.decode()),
       {"code": 413,
        "message": "the body is over LimitRequestBody (1024 bytes)"},
       "the core's JSON page, no envelope")


@test
def test_unknown_method_enveloped():
    """A method the core's parser does not know is a 400 before any
    module runs; on a resource's path it is the envelope too, on others
    the core's page."""
    s = users()
    for path in ("/users", "/users/12?x=1"):
        with s.conn() as c:
            c.send(b"FROB " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                   b"\r\n")
            r = c.read_response()
        d = json.loads(r.body.decode()) if r.body else None
        envelope(r, d, 400)
        eq(d["message"], "the method FROB is not one this server knows",
           "the sentence for %s" % path)
    with s.conn() as c:
        c.send(b"FROB /not-a-resource HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    eq(r.status, 400, "elsewhere: 400")
    contains(r.header("Content-Type") or "", "text/html", "the core's page")
    contains(r.text, "the method FROB is not one this server knows",
             "the core's page says why")


# ----------------------------------------------------------------------
# Lists
# ----------------------------------------------------------------------

@test
def test_pagination_sort_filter():
    s = users()
    db = mariadb()
    clear(db)

    r, d = call(s, "GET", "/users")
    envelope(r, d, 200)
    eq(d["data"], {"items": [], "total": 0, "limit": 3, "offset": 0,
                   "next": None}, "empty list")

    names = ["carol", "alice", "bob", "dave", "erin", "frank", "alice"]
    for i, n in enumerate(names):
        make_user(s, name=n, email="%s%d@example.com" % (n, i), age=20 + i,
                  active=(i % 2 == 0))

    r, d = call(s, "GET", "/users")
    envelope(r, d, 200)
    eq(d["data"]["total"], 7, "total")
    eq(len(d["data"]["items"]), 3, "PageSize")
    check(d["data"]["next"], "next cursor")

    seen = []
    cursor = None
    pages = 0
    while True:
        path = "/users?sort=name,-age" + ("&cursor=" + cursor
                                          if cursor else "")
        r, d = call(s, "GET", path)
        envelope(r, d, 200)
        seen += [(u["name"], u["age"]) for u in d["data"]["items"]]
        cursor = d["data"]["next"]
        pages += 1
        if not cursor:
            break
    eq(pages, 3, "pages")
    eq(seen, sorted(seen, key=lambda t: (t[0], -t[1])), "sorted")
    eq(len(seen), 7, "every row once")

    r, d = call(s, "GET", "/users?limit=100")
    envelope(r, d, 200)
    eq(d["data"]["limit"], 5, "limit capped at MaxPageSize")
    eq(len(d["data"]["items"]), 5, "capped page")

    r, d = call(s, "GET", "/users?offset=6&limit=5")
    eq(len(d["data"]["items"]), 1, "last page")
    eq(d["data"]["next"], None, "no next on the last page")
    r, d = call(s, "GET", "/users?offset=50")
    envelope(r, d, 200)
    eq(d["data"]["items"], [], "past the end")

    r, d = call(s, "GET", "/users?name=alice&sort=-age")
    eq([u["age"] for u in d["data"]["items"]], [26, 21], "filter + sort")
    eq(d["data"]["total"], 2, "filtered total")
    r, d = call(s, "GET", "/users?active=true&age=22")
    eq([u["name"] for u in d["data"]["items"]], ["bob"], "two filters")
    r, d = call(s, "GET", "/users?name=nobody")
    eq(d["data"]["total"], 0, "no match")


# ----------------------------------------------------------------------
# Races, unicode, injection
# ----------------------------------------------------------------------

@test
def test_if_match_race():
    s = rest_server(workers=2)
    db = mariadb()
    clear(db)
    r, d = make_user(s)
    uid = d["id"]
    etag = r.header("ETag")
    for method in ("PUT", "PATCH"):
        results = []
        start = threading.Barrier(2)

        def worker(n):
            start.wait()
            rr, _ = call(s, method, "/users/%d" % uid,
                         {"name": "w%d" % n, "email": "w%d@x.io" % n},
                         headers={"If-Match": etag})
            results.append(rr.status)

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        eq(sorted(results), [200, 412], "%s race" % method)
        r, d = call(s, "GET", "/users/%d" % uid)
        etag = r.header("ETag")
    eq(db.value("SELECT row_version FROM users WHERE id = %d" % uid,
                database=APP_DB), "3", "two writes won")


@test
def test_unicode_and_long_values():
    s = users()
    db = mariadb()
    clear(db)
    name = "Zoë 😀 漢字 " + "é" * 80
    bio = "ü" * 20000
    r, d = make_user(s, name=name, bio=bio, email="zoe@example.com")
    eq(d["name"], name, "unicode name")
    eq(d["bio"], bio, "long bio")
    eq(db.value("SELECT CHAR_LENGTH(bio) FROM users WHERE id = %d"
                % d["id"], database=APP_DB), "20000", "bio length")
    eq(db.value("SELECT name FROM users WHERE id = %d" % d["id"],
                database=APP_DB), name, "unicode in the table")
    r, d = call(s, "POST", "/users", {"name": "x" * 101,
                                      "email": "x@x.io"})
    envelope(r, d, 422)
    r, d = call(s, "POST", "/users", {"name": "a", "email": "x@x.io",
                                      "bio": "x" * 20001})
    envelope(r, d, 422)


INJECTIONS = ["'; DROP TABLE users; --", "\" OR 1=1 --",
              "1 OR 1=1", "`users`", "name`; DELETE FROM users; #",
              "\\'; SELECT SLEEP(5); --", "%27%20OR%20%271%27=%271"]


@test
def test_sql_injection():
    s = users()
    db = mariadb()
    clear(db)
    for i, bad in enumerate(INJECTIONS):
        r, d = make_user(s, name=bad, email="i%d@example.com" % i)
        eq(d["name"], bad, "stored verbatim")
        eq(db.value("SELECT name FROM users WHERE id = %d" % d["id"],
                    database=APP_DB), bad, "verbatim in the table")
    n = count(db)
    eq(n, len(INJECTIONS), "rows")
    from urllib.parse import quote as q
    for bad in INJECTIONS:
        r, d = call(s, "GET", "/users?name=" + q(bad, safe=""))
        envelope(r, d, 200)
        eq(d["data"]["total"], 1, "filter value matched literally")
        r, d = call(s, "GET", "/users?sort=" + q(bad, safe=""))
        envelope(r, d, 400)
        r, d = call(s, "GET", "/users/" + q(bad, safe=""))
        envelope(r, d, 400)
        r, d = call(s, "GET", "/users?" + q(bad, safe="") + "=1")
        envelope(r, d, 400)
        r, d = call(s, "POST", "/users", {bad: 1, "name": "x",
                                          "email": "q@q.io"})
        envelope(r, d, 422)
    eq(count(db), n, "row count unchanged")
    eq(db.value("SHOW TABLES LIKE 'users'", database=APP_DB), "users",
       "the table still exists")


# ----------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------

@test
def test_missing_table_503_and_autocreate():
    db = mariadb()
    db.sql("DROP TABLE IF EXISTS gadgets", database=APP_DB)
    decl = """
<Resource /gadgets>
    Database main
    Table gadgets
    Key sku
    Field sku string max=40
    Field label string required unique
    Field qty int min=0
    Field on_sale bool
    %s
</Resource>
"""
    s = rest_server(conf=decl % "")
    # The worker checks the table when it starts, before any request.
    s.wait_log(r"<Resource /gadgets>: resource /gadgets is not available: "
               r"table gadgets does not exist \(create it, or set "
               r"ResourceAutoCreate on\)")
    r, d = call(s, "GET", "/gadgets")
    envelope(r, d, 503)
    contains(d["message"], "does not exist", "503 message")
    s.stop()

    s = rest_server(conf=decl % "ResourceAutoCreate on")
    # ... and creates it at start with ResourceAutoCreate.
    deadline = time.monotonic() + 5
    while db.value("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                   "TABLE_SCHEMA = '%s' AND TABLE_NAME = 'gadgets'"
                   % APP_DB) != "1":
        check(time.monotonic() < deadline, "the table was not created at "
              "worker start")
        time.sleep(0.05)
    # A key that could not be addressed as /gadgets/{key} is refused.
    for bad in ("A/1 x", "", "a b", "x?y", "é"):
        r, d = call(s, "POST", "/gadgets", {"sku": bad, "label": "Alpha"})
        envelope(r, d, 422)
        eq(d["data"]["errors"][0]["field"], "sku", "bad key %r" % bad)
    r, d = call(s, "POST", "/gadgets", {"sku": "A-1.x_~", "label": "Alpha",
                                        "qty": 3, "on_sale": False})
    envelope(r, d, 201)
    eq(r.header("Location"), "/gadgets/A-1.x_~", "Location")
    r, d = call(s, "GET", "/gadgets/A-1.x_~")
    envelope(r, d, 200)
    # Keys compare byte for byte, not by the column's collation.
    r, d = call(s, "GET", "/gadgets/a-1.X_~")
    envelope(r, d, 404)
    r, d = call(s, "POST", "/gadgets", {"sku": "B", "label": "Alpha"})
    envelope(r, d, 409)
    r, d = call(s, "POST", "/gadgets", {"sku": "A-1.x_~", "label": "Beta"})
    envelope(r, d, 409)
    eq(d["data"]["errors"][0]["field"], "sku", "duplicate key")
    r, d = call(s, "GET", "/gadgets/B")
    envelope(r, d, 404)
    cols = [row[0] for row in db.sql(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = '%s' AND TABLE_NAME = 'gadgets' ORDER BY "
        "ORDINAL_POSITION" % APP_DB)]
    eq(cols, ["sku", "label", "qty", "on_sale", "row_version"], "columns")
    eq(db.value("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE "
                "TABLE_SCHEMA = '%s' AND TABLE_NAME = 'gadgets' AND "
                "INDEX_NAME = 'uq_label'" % APP_DB), "1", "unique index")

    db.sql("ALTER TABLE gadgets DROP COLUMN qty", database=APP_DB)
    s.stop()
    s = rest_server(conf=decl % "")
    s.wait_log(r"table gadgets lacks the column\(s\) qty")
    r, d = call(s, "GET", "/gadgets")
    envelope(r, d, 503)
    contains(d["message"], "qty", "missing column named")


@test
def test_database_down():
    s = users()
    db = mariadb()
    db.kill()
    try:
        r, d = call(s, "GET", "/users")
        envelope(r, d, 503)
        r, d = call(s, "POST", "/users", {"name": "a", "email": "a@b.io"})
        envelope(r, d, 503)
    finally:
        db.start()
    for _ in range(50):
        r, d = call(s, "GET", "/users")
        if r.status == 200:
            break
        time.sleep(0.2)
    envelope(r, d, 200)


@test
def test_database_down_at_worker_start():
    """The check at worker start cannot reach the database: a warning,
    503 meanwhile, and the first request after the database is back
    checks the table and succeeds."""
    db = mariadb()
    s = rest_server(start=False)
    db.kill()
    try:
        s.start()
        s.wait_log(r"<Resource /users>: database main not available at "
                   r"worker start .*the first request checks the table")
        r, d = call(s, "GET", "/users")
        envelope(r, d, 503)
    finally:
        db.start()
    for _ in range(50):
        r, d = call(s, "GET", "/users")
        if r.status == 200:
            break
        time.sleep(0.2)
    envelope(r, d, 200)


@test
def test_worker_stops_during_boot_check():
    """A worker told to stop while its check at worker start still waits
    for the database (a server that accepts and never speaks) stops
    cleanly: nothing leaks, nothing crashes (the log is checked)."""
    import socket
    from cairntest import free_port
    port = free_port()
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", port))
    silent.listen(16)
    try:
        s = rest_server(start=False, db_port=port)
        s.start()
        time.sleep(0.5)
        rc = s.stop()
        eq(rc, 0, "exit status of cairnd stopped during the check")
        bad = s.bad_log_lines()
        check(not bad, "crash or sanitizer reports in the log:\n%s"
              % "\n".join(bad[:40]))
    finally:
        silent.close()


# ----------------------------------------------------------------------
# OpenAPI
# ----------------------------------------------------------------------

def _resolve(node, schemas):
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            return _resolve(schemas[name], schemas)
        return {k: _resolve(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, schemas) for v in node]
    return node


@test
def test_openapi():
    try:
        import jsonschema
    except ImportError:
        skip("python3-jsonschema is not installed")
    s = users()
    r = s.get("/openapi.json")
    eq(r.status, 200, "status of /openapi.json")
    doc = json.loads(r.body)
    eq(doc["openapi"], "3.1.0", "openapi")
    for k in ("info", "paths", "components"):
        check(k in doc, "%s missing" % k)
    check(doc["info"].get("title") and doc["info"].get("version"),
          "info.title/version")
    schemas = doc["components"]["schemas"]
    for name, sch in schemas.items():
        jsonschema.Draft202012Validator.check_schema(sch)
    eq(sorted(doc["paths"]["/users"].keys()), ["get", "post"],
       "collection operations")
    eq(sorted(k for k in doc["paths"]["/users/{id}"] if k != "parameters"),
       ["delete", "get", "patch", "put"], "item operations")
    props = schemas["users"]["properties"]
    eq(sorted(props), sorted(["id", "name", "email", "age", "score",
                              "active", "bio", "born", "prefs", "secret",
                              "created"]), "fields")
    eq(props["name"]["maxLength"], 100, "maxLength")
    eq(props["name"]["pattern"], "^[^<>]*$", "pattern")
    eq(props["email"]["format"], "email", "email format")
    eq(props["age"]["maximum"], 150, "maximum")
    eq(props["secret"].get("writeOnly"), True, "writeOnly")
    eq(props["created"].get("readOnly"), True, "readOnly")
    eq(props["born"]["format"], "date-time", "date-time")
    check("name" in schemas["users"]["required"], "required")
    names = [p["name"] for p in doc["paths"]["/users"]["get"]["parameters"]]
    for p in ("limit", "offset", "cursor", "sort", "name", "active", "age"):
        check(p in names, "parameter %s" % p)

    clear(mariadb())
    make_user(s, age=3)
    r, d = call(s, "GET", "/users")
    sch = _resolve(schemas["users_page_envelope"], schemas)
    jsonschema.Draft202012Validator(sch).validate(d)
    r, d = call(s, "GET", "/users/%d" % d["data"]["items"][0]["id"])
    jsonschema.Draft202012Validator(
        _resolve(schemas["users_envelope"], schemas)).validate(d)
    r, d = call(s, "GET", "/users/0")
    jsonschema.Draft202012Validator(
        _resolve(schemas["error_envelope"], schemas)).validate(d)


# ----------------------------------------------------------------------
# Auth
# ----------------------------------------------------------------------

@test
def test_auth_and_field_from_user():
    if module_path("auth") is None:
        skip("mod_auth was not built")
    if shutil.which("htpasswd") is None:
        skip("htpasswd (apache2-utils) is not installed")
    db = mariadb()
    db.sql("DROP TABLE IF EXISTS notes", database=APP_DB)
    conf = """
<Location /notes>
    AuthType Basic
    AuthName notes
    AuthUserFile @TMP@/htpasswd
    Require user ann ben
</Location>
<Resource /notes>
    Database main
    Table notes
    Key id
    Field id bigint
    Field body text required
    Field owner string
    FieldFromUser owner
    ResourceAutoCreate on
</Resource>
"""
    s = rest_server(conf=conf, modules=("mysql", "rest", "auth"),
                    start=False)
    ht = s.path("htpasswd")
    subprocess.run(["htpasswd", "-B", "-C", "5", "-b", "-c", ht, "ann",
                    "pw1"], check=True, capture_output=True)
    subprocess.run(["htpasswd", "-B", "-C", "5", "-b", ht, "ben", "pw2"],
                   check=True, capture_output=True)
    subprocess.run(["htpasswd", "-B", "-C", "5", "-b", ht, "cy", "pw3"],
                   check=True, capture_output=True)
    s.start()
    import base64

    def basic(u, p):
        return {"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (u, p)).encode()).decode()}

    # mod_auth answers before the resource runs; the answer is still the
    # envelope, with the challenge.
    r, d = call(s, "GET", "/notes")
    envelope(r, d, 401)
    eq(d["message"], "authentication is required to reach this resource",
       "401 message: the core's sentence")
    contains(r.header("WWW-Authenticate") or "", 'Basic realm="notes"',
             "challenge")
    r, d = call(s, "POST", "/notes", {"body": "hello"},
                headers=basic("ann", "bad"))
    envelope(r, d, 401)
    r, d = call(s, "POST", "/notes", {"body": "hello", "owner": "mallory"},
                headers=basic("ann", "pw1"))
    envelope(r, d, 201)
    eq(d["data"]["owner"], "ann", "owner from the user")
    nid = d["data"]["id"]
    r, d = call(s, "PUT", "/notes/%d" % nid, {"body": "x", "owner": "eve"},
                headers=basic("ben", "pw2"))
    envelope(r, d, 200)
    eq(db.value("SELECT owner FROM notes WHERE id = %d" % nid,
                database=APP_DB), "ben", "owner after PUT")
    r, d = call(s, "GET", "/notes/%d" % nid, headers=basic("cy", "pw3"))
    envelope(r, d, 403)
    eq(count_notes(db), 1, "rows in notes")


def count_notes(db):
    return int(db.value("SELECT COUNT(*) FROM notes", database=APP_DB))


# ----------------------------------------------------------------------
# Content negotiation through a render provider
# ----------------------------------------------------------------------

@test
def test_render_provider():
    if module_path("test_render") is None:
        skip("mod_test_render was not built")
    conf = USERS.replace("    MaxBodySize 64k",
                         "    MaxBodySize 64k\n    RestTemplate users")
    s = rest_server(conf="TestRender on\n" + conf,
                    modules=("mysql", "rest", "test_render"))
    db = mariadb()
    clear(db)
    make_user(s, name="ann")
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = s.get("/users", headers=html)
    eq(r.status, 200, "status")
    contains(r.header("Content-Type"), "text/html", "Content-Type")
    contains(r.text, "<h1>users</h1>", "template name")
    contains(r.text, "&quot;name&quot;:&quot;ann&quot;", "data")
    contains(r.header("Vary") or "", "Accept", "Vary")
    r = s.get("/users/0", headers=html)
    eq(r.status, 404, "an error rendered too")
    contains(r.header("Content-Type"), "text/html", "Content-Type of 404")
    r, d = call(s, "GET", "/users", headers={"Accept": "application/json"})
    envelope(r, d, 200)
    r, d = call(s, "GET", "/users")
    envelope(r, d, 200)


if __name__ == "__main__":
    main()
