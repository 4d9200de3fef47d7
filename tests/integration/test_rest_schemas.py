"""mod_rest over the tables people already have.

Against a private MariaDB: a `users (id, name, email)` table with no
version column is served whole (its ETags are hashes of the rows, which
change when the mariadb client changes a row behind the server's back);
If-Match is enforced atomically (20 rounds of two racing PUTs with one
ETag give one 200 and one 412 each); If-None-Match gives 304; an explicit
VersionColumn that is missing is still an error, and ResourceAutoCreate
still creates the version column, never altering an existing table.
"""

import json
import re
import threading

from cairntest import check, contains, eq, main, module_path, test
from mariadb import need_mariadb
from resttest import APP_DB, call, envelope, mariadb, rest_server

if module_path("rest") is None or module_path("mysql") is None:
    print("1..0 # SKIP mod_rest or mod_mysql was not built")
    raise SystemExit(77)
need_mariadb()

USERS_TABLE = """
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(254) NOT NULL,
  note VARCHAR(50),
  UNIQUE KEY uq_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

USERS = """
<Resource /users>
    Database main
    Table users
    Key id
    Field id int
    Field name string required max=100
    Field email email required unique
    Field note string max=50
    Sortable name
    Filterable name
</Resource>
RestOpenAPI /openapi.json
"""

def ne(got, other, what="value"):
    check(got != other, "%s: %r, want anything else" % (what, got))


HASH_ETAG = re.compile(r'^"[A-Za-z0-9_-]{22}"$')


def db():
    return mariadb([USERS_TABLE])


def columns(table):
    return [r[0] for r in db().sql(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s' ORDER BY "
        "ORDINAL_POSITION" % (APP_DB, table))]


_shared = {}


def users():
    s = _shared.get("users")
    if s is None or not s.alive():
        s = rest_server(db(), USERS)
        s.keep = True
        _shared["users"] = s
    return s


def row(ident):
    return db().sql("SELECT name, email, note FROM users WHERE id = %d"
                    % ident, database=APP_DB)


def create(s, name, email, note=None):
    doc = {"name": name, "email": email}
    if note is not None:
        doc["note"] = note
    r, d = call(s, "POST", "/users", doc)
    envelope(r, d, 201)
    return d["data"]["id"], r.header("ETag")


# ----------------------------------------------------------------------
# ETags without a version column
# ----------------------------------------------------------------------

@test
def test_hash_mode_is_logged_and_documented():
    s = users()
    s.wait_log(r"<Resource /users>: ETags are a SHA-256 hash of the row's "
               r"fields \(the table has no version column\)", timeout=10)
    contains(s.log(), "ETags come from column row_version if table users "
             "has it, else from a hash of each row", "configuration log")
    p = s.run(["-t"])
    eq(p.returncode, 0, "cairnd -t")
    contains(p.stdout + p.stderr, "<Resource /users>: ETags come from "
             "column row_version if table users has it", "cairnd -t")
    r = s.request("GET", "/openapi.json")
    eq(r.status, 200, "openapi status")
    doc = json.loads(r.body)
    schema = doc["components"]["schemas"]["users"]
    eq(schema.get("x-etag"), "version-or-hash", "x-etag")
    contains(schema.get("description", ""), "SHA-256 hash", "description")


@test
def test_crud_without_version_column():
    s = users()
    ident, etag = create(s, "Ann", "ann@example.com")
    check(HASH_ETAG.match(etag or ""), "hash ETag: %r" % etag)

    r, d = call(s, "GET", "/users/%d" % ident)
    envelope(r, d, 200)
    eq(r.header("ETag"), etag, "GET gives the POST's ETag")
    eq(d["data"], {"id": ident, "name": "Ann", "email": "ann@example.com",
                   "note": None}, "row")

    r, d = call(s, "GET", "/users/%d" % ident,
                headers={"If-None-Match": etag})
    eq(r.status, 304, "If-None-Match with the current ETag")
    eq(r.body, b"", "304 has no body")
    r, d = call(s, "GET", "/users/%d" % ident,
                headers={"If-None-Match": '"AAAAAAAAAAAAAAAAAAAAAA"'})
    envelope(r, d, 200)

    # PUT with the current ETag, then the old one is stale.
    r, d = call(s, "PUT", "/users/%d" % ident,
                {"name": "Ann B", "email": "ann@example.com"},
                headers={"If-Match": etag})
    envelope(r, d, 200)
    etag2 = r.header("ETag")
    check(HASH_ETAG.match(etag2 or ""), "hash ETag after PUT: %r" % etag2)
    ne(etag2, etag, "the ETag changed with the row")
    eq(row(ident), [["Ann B", "ann@example.com", None]], "stored")
    r, d = call(s, "PUT", "/users/%d" % ident,
                {"name": "Ann C", "email": "ann@example.com"},
                headers={"If-Match": etag})
    envelope(r, d, 412)
    eq(row(ident), [["Ann B", "ann@example.com", None]], "unchanged")

    # PUT without If-Match that changes nothing: still 200, same ETag.
    r, d = call(s, "PUT", "/users/%d" % ident,
                {"name": "Ann B", "email": "ann@example.com"})
    envelope(r, d, 200)
    eq(r.header("ETag"), etag2, "unchanged row, unchanged ETag")

    # PATCH: stale 412, current 200.
    r, d = call(s, "PATCH", "/users/%d" % ident, {"note": "x"},
                headers={"If-Match": etag})
    envelope(r, d, 412)
    r, d = call(s, "PATCH", "/users/%d" % ident, {"note": "x"},
                headers={"If-Match": etag2})
    envelope(r, d, 200)
    etag3 = r.header("ETag")
    ne(etag3, etag2, "PATCH changed the ETag")
    eq(d["data"]["note"], "x", "patched")
    r, d = call(s, "PATCH", "/users/%d" % ident, {},
                headers={"If-Match": etag3})
    envelope(r, d, 200)
    eq(r.header("ETag"), etag3, "empty patch")

    # A version ETag means nothing here.
    r, d = call(s, "PATCH", "/users/%d" % ident, {"note": "y"},
                headers={"If-Match": '"v1"'})
    envelope(r, d, 412)

    # The list.
    r, d = call(s, "GET", "/users?name=Ann%20B")
    envelope(r, d, 200)
    eq([i["id"] for i in d["data"]["items"]], [ident], "filtered list")

    # DELETE: stale 412 (row kept), current 200, then gone.
    r, d = call(s, "DELETE", "/users/%d" % ident,
                headers={"If-Match": etag2})
    envelope(r, d, 412)
    eq(len(row(ident)), 1, "kept after 412")
    r, d = call(s, "DELETE", "/users/%d" % ident,
                headers={"If-Match": etag3})
    envelope(r, d, 200)
    eq(row(ident), [], "deleted")
    r, d = call(s, "GET", "/users/%d" % ident)
    envelope(r, d, 404)
    r, d = call(s, "DELETE", "/users/%d" % ident,
                headers={"If-Match": etag3})
    envelope(r, d, 412)
    r, d = call(s, "PUT", "/users/%d" % ident,
                {"name": "Z", "email": "z@example.com"})
    envelope(r, d, 404)
    eq(row(ident), [], "a PUT does not create it")

    # DELETE without If-Match.
    ident, etag = create(s, "Bob", "bob@example.com")
    r, d = call(s, "DELETE", "/users/%d" % ident)
    envelope(r, d, 200)
    eq(row(ident), [], "deleted without If-Match")


@test
def test_etag_follows_changes_behind_the_servers_back():
    s = users()
    ident, etag = create(s, "Cid", "cid@example.com")

    db().sql("UPDATE users SET name = 'Cid 2' WHERE id = %d" % ident,
             database=APP_DB)
    r, d = call(s, "GET", "/users/%d" % ident,
                headers={"If-None-Match": etag})
    envelope(r, d, 200)
    etag2 = r.header("ETag")
    ne(etag2, etag, "changed by the mariadb client: a new ETag")
    r, d = call(s, "PUT", "/users/%d" % ident,
                {"name": "Cid 3", "email": "cid@example.com"},
                headers={"If-Match": etag})
    envelope(r, d, 412)
    eq(row(ident), [["Cid 2", "cid@example.com", None]],
       "the other program's change stays")

    # Back to what it was: the same ETag (a hash of the values).
    db().sql("UPDATE users SET name = 'Cid' WHERE id = %d" % ident,
             database=APP_DB)
    r, d = call(s, "GET", "/users/%d" % ident)
    eq(r.header("ETag"), etag, "same values, same ETag")

    # NULL and '' differ.
    db().sql("UPDATE users SET note = '' WHERE id = %d" % ident,
             database=APP_DB)
    r, d = call(s, "GET", "/users/%d" % ident)
    envelope(r, d, 200)
    empty = r.header("ETag")
    ne(empty, etag, "'' is not NULL")

    # A change to one character of another column.
    db().sql("UPDATE users SET email = 'cId@example.com' WHERE id = %d"
             % ident, database=APP_DB)
    r, d = call(s, "GET", "/users/%d" % ident)
    ne(r.header("ETag"), empty, "case change in email")


@test
def test_racing_puts_with_one_etag():
    s = users()
    ident, etag = create(s, "Race", "race@example.com")
    for rnd in range(20):
        r, d = call(s, "GET", "/users/%d" % ident)
        etag = r.header("ETag")
        barrier = threading.Barrier(2)
        got = [None, None]

        def put(k):
            barrier.wait()
            r, d = call(s, "PUT", "/users/%d" % ident,
                        {"name": "round %d writer %d" % (rnd, k),
                         "email": "race@example.com"},
                        headers={"If-Match": etag})
            got[k] = r.status

        threads = [threading.Thread(target=put, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        eq(sorted(got), [200, 412], "round %d statuses" % rnd)
        name = row(ident)[0][0]
        check(name.startswith("round %d writer" % rnd), "round %d: %r"
              % (rnd, name))


@test
def test_racing_deletes_with_one_etag():
    s = users()
    ident, etag = create(s, "Del", "del@example.com")
    barrier = threading.Barrier(4)
    got = []
    lock = threading.Lock()

    def delete():
        barrier.wait()
        r, d = call(s, "DELETE", "/users/%d" % ident,
                    headers={"If-Match": etag})
        with lock:
            got.append(r.status)

    threads = [threading.Thread(target=delete) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    eq(sorted(got), [200, 412, 412, 412], "racing DELETEs")


# ----------------------------------------------------------------------
# The version column stays when asked for
# ----------------------------------------------------------------------

@test
def test_explicit_version_column_must_exist():
    s = rest_server(db(), USERS.replace("RestOpenAPI /openapi.json", "")
                    .replace("    Sortable name",
                             "    VersionColumn rv\n    Sortable name"))
    s.wait_log(r"table users lacks the column\(s\) rv", timeout=10)
    contains(s.log(), "ETags come from the version column rv", "log")
    r, d = call(s, "GET", "/users")
    envelope(r, d, 503)
    contains(d["message"], "rv", "503 names the column")


@test
def test_auto_create_keeps_the_version_column():
    d0 = db()
    d0.sql("DROP TABLE IF EXISTS fresh", database=APP_DB)
    d0.sql("CREATE TABLE IF NOT EXISTS legacy (id INT NOT NULL "
           "AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL) "
           "ENGINE=InnoDB", database=APP_DB)
    s = rest_server(d0, """
<Resource /fresh>
    Database main
    Table fresh
    Key id
    Field id int
    Field name string required max=100
    ResourceAutoCreate on
</Resource>
<Resource /legacy>
    Database main
    Table legacy
    Key id
    Field id int
    Field name string required max=100
    ResourceAutoCreate on
</Resource>
""")
    s.wait_log(r"<Resource /fresh>: ETags are the version column "
               r"row_version", timeout=10)
    s.wait_log(r"<Resource /legacy>: ETags are a SHA-256 hash", timeout=10)
    eq(columns("fresh"), ["id", "name", "row_version"], "fresh table")
    eq(columns("legacy"), ["id", "name"], "legacy table not altered")
    r, d = call(s, "POST", "/fresh", {"name": "a"})
    envelope(r, d, 201)
    eq(r.header("ETag"), '"v1"', "version ETag")
    r, d = call(s, "POST", "/legacy", {"name": "a"})
    envelope(r, d, 201)
    check(HASH_ETAG.match(r.header("ETag") or ""), "hash ETag")
    eq(len(re.findall(r"<Resource /legacy>: ETags are", s.log())), 1,
       "the mode is logged once")


if __name__ == "__main__":
    main()
