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
import subprocess
import threading
import time

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
  UNIQUE KEY users_email_unique (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

POSTS_TABLE = """
CREATE TABLE posts (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id INT NOT NULL,
  title VARCHAR(100) NOT NULL,
  body TEXT,
  ratio FLOAT,
  CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id)
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
<Resource /posts>
    Database main
    Table posts
    Key id
    Field id int
    Field user_id int required
    Field title string required max=100
    Field body text max=100000
    Field ratio number
    Sortable title
    Filterable user_id
</Resource>
RestOpenAPI /openapi.json
"""

def ne(got, other, what="value"):
    check(got != other, "%s: %r, want anything else" % (what, got))


HASH_ETAG = re.compile(r'^"[A-Za-z0-9_-]{22}"$')


def db():
    return mariadb([USERS_TABLE, POSTS_TABLE])


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
    p = s.run(["-t"])
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
# MariaDB's errors as statuses
# ----------------------------------------------------------------------

def post_rows():
    return db().sql("SELECT * FROM posts ORDER BY id", database=APP_DB)


@test
def test_duplicate_key_is_409_naming_the_field():
    s = users()
    create(s, "Dup", "dup@example.com")
    r, d = call(s, "POST", "/users", {"name": "Dup2",
                                      "email": "dup@example.com"})
    envelope(r, d, 409)
    e = d["data"]["errors"][0]
    eq(e["field"], "email", "the field (key users_email_unique)")
    eq(e.get("constraint"), "users_email_unique", "the key")
    eq(db().value("SELECT COUNT(*) FROM users WHERE name = 'Dup2'",
                  database=APP_DB), "0", "not stored")


@test
def test_foreign_key_is_409_naming_the_constraint():
    s = users()
    uid, _ = create(s, "Fk", "fk@example.com")
    before = post_rows()
    r, d = call(s, "POST", "/posts", {"user_id": 999999, "title": "t"})
    envelope(r, d, 409)
    contains(d["message"], "fk_posts_user", "message")
    e = d["data"]["errors"][0]
    eq(e.get("constraint"), "fk_posts_user", "constraint")
    eq(e.get("field"), "user_id", "field")
    contains(e["message"], "users", "names the referenced table")
    eq(post_rows(), before, "nothing stored")

    r, d = call(s, "POST", "/posts", {"user_id": uid, "title": "t"})
    envelope(r, d, 201)
    pid = d["data"]["id"]
    r, d = call(s, "PATCH", "/posts/%d" % pid, {"user_id": 999998})
    envelope(r, d, 409)
    eq(d["data"]["errors"][0].get("constraint"), "fk_posts_user", "patch")

    # A row others refer to cannot go.
    r, d = call(s, "DELETE", "/users/%d" % uid)
    envelope(r, d, 409)
    eq(d["data"]["errors"][0].get("constraint"), "fk_posts_user", "delete")
    contains(d["data"]["errors"][0]["message"], "posts", "names the table")
    eq(len(row(uid)), 1, "still there")
    r, d = call(s, "GET", "/users/%d" % uid)
    r, d = call(s, "DELETE", "/users/%d" % uid,
                headers={"If-Match": r.header("ETag")})
    envelope(r, d, 409)
    eq(len(row(uid)), 1, "still there (If-Match)")


@test
def test_too_long_and_out_of_range_are_422_naming_the_field():
    s = users()
    uid, _ = create(s, "Long", "long@example.com")
    before = post_rows()
    # TEXT holds 65535 bytes: the field allows 100000 characters.
    r, d = call(s, "POST", "/posts", {"user_id": uid, "title": "t",
                                      "body": "x" * 70000})
    envelope(r, d, 422)
    eq(d["data"]["errors"][0]["field"], "body", "too long")
    contains(d["data"]["errors"][0]["message"], "too long", "message")
    # FLOAT stops near 3.4e38.
    r, d = call(s, "POST", "/posts", {"user_id": uid, "title": "t",
                                      "ratio": 1e300})
    envelope(r, d, 422)
    eq(d["data"]["errors"][0]["field"], "ratio", "out of range")
    eq(post_rows(), before, "nothing stored")


class Holder:
    """A mariadb client session that runs statements and says when it
    reached a point ("SELECT 'here'")."""

    def __init__(self, script):
        self.p = subprocess.Popen(db()._client(database=APP_DB)
                                  + ["--unbuffered"],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.p.stdin.write(script.encode())
        self.p.stdin.close()

    def wait_for(self, word, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.p.stdout.readline().decode().strip()
            if line == word:
                return
            if line == "" and self.p.poll() is not None:
                break
        raise AssertionError("the client session did not reach %r: %s"
                             % (word, self.p.stderr.read().decode()))

    def finish(self):
        self.p.stdout.read()
        err = self.p.stderr.read().decode()
        self.p.wait(60)
        return self.p.returncode, err


def lock_wait(test):
    """Runs test(s) with a server whose connections (all made while the
    test runs) wait 2 s for a row lock."""
    db().sql("SET GLOBAL innodb_lock_wait_timeout = 2")
    s = None
    try:
        s = rest_server(db(), USERS)
        test(s)
    finally:
        if s is not None:
            s.stop()
        db().sql("SET GLOBAL innodb_lock_wait_timeout = 50")


@test
def test_lock_wait_timeout_is_retried_once():
    lock_wait(lock_wait_retried)


def lock_wait_retried(s):
    uid, _ = create(s, "Wait", "wait@example.com")
    # Held 3 s: the first try gives up after 2 s, the second gets it.
    h = Holder("BEGIN; SELECT id FROM users WHERE id = %d FOR UPDATE;\n"
               "SELECT 'here';\nSELECT SLEEP(3); COMMIT;\n" % uid)
    h.wait_for("here")
    t0 = time.time()
    r, d = call(s, "PUT", "/users/%d" % uid, {"name": "Waited",
                                              "email": "wait@example.com"})
    envelope(r, d, 200)
    check(time.time() - t0 > 1.5, "it waited for the lock")
    eq(row(uid)[0][0], "Waited", "written by the retry")
    eq(h.finish()[0], 0, "client session")
    contains(s.log(), "Lock wait timeout exceeded", "log")
    contains(s.log(), "trying the request again", "log")


@test
def test_lock_wait_timeout_twice_is_503_with_retry_after():
    lock_wait(lock_wait_twice)


def lock_wait_twice(s):
    uid, _ = create(s, "Wait2", "wait2@example.com")
    h = Holder("BEGIN; SELECT id FROM users WHERE id = %d FOR UPDATE;\n"
               "SELECT 'here';\nSELECT SLEEP(8); COMMIT;\n" % uid)
    h.wait_for("here")
    r, d = call(s, "PATCH", "/users/%d" % uid, {"note": "late"})
    envelope(r, d, 503)
    eq(r.header("Retry-After"), "1", "Retry-After")
    contains(d["message"], "nothing was written", "message")
    eq(h.finish()[0], 0, "client session")
    eq(row(uid)[0][2], None, "not written")


@test
def test_deadlock_is_retried_once():
    s = users()
    uid, _ = create(s, "Dead", "dead@example.com")
    uid2, _ = create(s, "Dead2", "dead2@example.com")
    r, d = call(s, "POST", "/posts", {"user_id": uid, "title": "p"})
    envelope(r, d, 201)
    pid = d["data"]["id"]
    fillers = [create(s, "filler %d" % i, "filler%d@example.com" % i)[0]
               for i in range(20)]
    # The session changed 21 rows (so the database picks the request,
    # lighter, as the deadlock's victim) and holds user uid2; the PUT
    # locks the post, then waits for uid2 (its foreign key); the session
    # then asks for the post.
    h = Holder("BEGIN;\nUPDATE users SET note = 'w' WHERE id IN (%s);\n"
               "UPDATE users SET note = 'hold' WHERE id = %d;\n"
               "SELECT 'here';\nSELECT SLEEP(1.5);\n"
               "SELECT id FROM posts WHERE id = %d FOR UPDATE;\n"
               "SELECT SLEEP(1);\nCOMMIT;\n"
               % (",".join(str(f) for f in fillers), uid2, pid))
    h.wait_for("here")
    r, d = call(s, "PUT", "/posts/%d" % pid, {"user_id": uid2,
                                              "title": "moved"})
    envelope(r, d, 200)
    rc, err = h.finish()
    eq(rc, 0, "client session (it was not the victim): %s" % err)
    eq(db().sql("SELECT user_id, title FROM posts WHERE id = %d" % pid,
                database=APP_DB), [[str(uid2), "moved"]],
       "written by the retry, after the session committed")
    contains(s.log(), "Deadlock found", "log")
    contains(s.log(), "trying the request again", "log")


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
