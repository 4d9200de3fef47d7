"""mod_rest over the tables people already have.

Against a private MariaDB: a `users (id, name, email)` table with no
version column is served whole (its ETags are hashes of the rows, which
change when the mariadb client changes a row behind the server's back);
If-Match is enforced atomically (20 rounds of two racing PUTs with one
ETag give one 200 and one 412 each); If-None-Match gives 304; an explicit
VersionColumn that is missing is still an error, and ResourceAutoCreate
still creates the version column, never altering an existing table.

MariaDB's errors as statuses (duplicate and foreign keys 409, values 422,
lock waits and deadlocks provoked with mariadb sessions: retried once,
then 503 with Retry-After); keyset paging (10,000 rows walked while rows
come and go, forged cursors, MaxOffset, cursors across a reload);
relations (nested list and create, embed with one extra statement); and
atomic batches (all good, a failing third operation leaving both tables
identical, references, limits, a client that goes away mid-batch).
"""

import base64
import json
import random
import re
import signal
import socket
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
    Relation posts /posts user_id
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
RestBatch /_batch
RestBatchMaxOperations 6
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
    # The relation and the cursors.
    rel = doc["paths"]["/users/{id}/posts"]
    eq(sorted(k for k in rel if k != "parameters"), ["get", "post"],
       "relation operations")
    eq(rel["get"]["operationId"], "list_users_posts", "operationId")
    eq(rel["get"]["x-relation"], {"resource": "/posts",
                                  "field": "user_id"}, "x-relation")
    eq([p["name"] for p in doc["paths"]["/users/{id}"]["get"]
        ["parameters"]], ["embed"], "embed parameter")
    batch_op = doc["paths"]["/_batch"]["post"]
    eq(batch_op["operationId"], "batch", "batch operation")
    eq(batch_op["requestBody"]["content"]["application/json"]["schema"]
       ["properties"]["operations"]["maxItems"], 6, "RestBatchMaxOperations")
    eq(doc["components"]["schemas"]["users_page"]["properties"]["total"]
       ["type"], ["integer", "null"], "total on cursor pages")


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
# Keyset paging
# ----------------------------------------------------------------------

EVENTS = """
<Resource /events>
    Database main
    Table events
    Key id
    Field id int
    Field grp int
    Field label string max=20
    Sortable grp label
    Filterable grp
    MaxPageSize 500
</Resource>
"""


def events_server():
    s = _shared.get("events")
    if s is None or not s.alive():
        d0 = db()
        d0.sql("DROP TABLE IF EXISTS events; CREATE TABLE events ("
               "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, grp INT NULL, "
               "label VARCHAR(20), KEY grp (grp)) ENGINE=InnoDB; "
               "INSERT INTO events (grp, label) SELECT IF(seq % 7 = 0, "
               "NULL, seq % 13), CONCAT('e', seq % 101) FROM "
               "seq_1_to_10000", database=APP_DB)
        s = rest_server(d0, EVENTS)
        s.keep = True
        _shared["events"] = s
    return s


def event_ids():
    return set(int(r[0]) for r in db().sql("SELECT id FROM events",
                                           database=APP_DB))


def walk(s, query, limit, between=None):
    """Every page of /events?query; returns the ids in order."""
    seen = []
    cursor = None
    pages = 0
    while True:
        path = "/events?limit=%d%s%s" % (limit, query, "&cursor=" + cursor
                                         if cursor else "")
        r, d = call(s, "GET", path)
        envelope(r, d, 200)
        seen += [i["id"] for i in d["data"]["items"]]
        pages += 1
        if pages == 1:
            check(d["data"]["total"] is not None, "first page total")
        else:
            eq(d["data"]["total"], None, "no count on a cursor page")
            eq(d["data"]["offset"], None, "no offset on a cursor page")
        cursor = d["data"]["next"]
        if not cursor:
            return seen, pages
        if between is not None:
            between()


@test
def test_keyset_walk_while_rows_come_and_go():
    s = events_server()
    rnd = random.Random(15)
    for query in ("", "&sort=-grp", "&sort=grp,-label", "&grp=3"):
        start = event_ids()
        deleted = set()

        def churn():
            # Five rows in, five rows out, between every two pages.
            gone = rnd.sample(sorted(start - deleted), 5)
            deleted.update(gone)
            db().sql("DELETE FROM events WHERE id IN (%s); INSERT INTO "
                     "events (grp, label) VALUES (NULL, 'new'), (3, 'new'),"
                     " (0, 'new'), (12, 'zzz'), (NULL, 'a')"
                     % ",".join(map(str, gone)), database=APP_DB)

        seen, pages = walk(s, query, 100, churn)
        eq(len(seen), len(set(seen)), "%r: no row twice" % query)
        want = start - deleted
        if query == "&grp=3":
            want = want & set(int(r[0]) for r in db().sql(
                "SELECT id FROM events WHERE grp = 3", database=APP_DB))
        missing = want - set(seen)
        eq(sorted(missing)[:10], [], "%r: rows that were there throughout "
           "and were not seen" % query)
        check(pages >= len(want) // 100, "%r: %d pages" % (query, pages))
        print("# %r: %d rows in %d pages, %d deleted meanwhile"
              % (query, len(seen), pages, len(deleted)))


@test
def test_keyset_order_and_nulls():
    s = events_server()
    for query, key in (("&sort=-grp", lambda e: (
                            e["grp"] is None, -(e["grp"] or 0), e["id"])),
                       ("&sort=grp,-label", lambda e: (
                            e["grp"] is not None, e["grp"] or 0,
                            [-ord(c) for c in e["label"]], e["id"]))):
        items = []
        cursor = None
        while True:
            r, d = call(s, "GET", "/events?limit=500%s%s" % (
                query, "&cursor=" + cursor if cursor else ""))
            envelope(r, d, 200)
            items += d["data"]["items"]
            cursor = d["data"]["next"]
            if not cursor:
                break
        ids = [e["id"] for e in items]
        eq(len(ids), len(set(ids)), "no duplicates")
        eq(len(ids), int(db().value("SELECT COUNT(*) FROM events",
                                    database=APP_DB)), "every row")
        if query == "&sort=-grp":
            eq(ids, [e["id"] for e in sorted(items, key=key)], "order")


@test
def test_cursors_cannot_be_forged():
    s = events_server()
    r, d = call(s, "GET", "/events?limit=5&sort=grp&grp=4")
    envelope(r, d, 200)
    cursor = d["data"]["next"]
    check(cursor, "a cursor")
    r, d = call(s, "GET", "/events?sort=grp&grp=4&cursor=" + cursor)
    envelope(r, d, 200)
    eq(d["data"]["limit"], 5, "the cursor's limit")
    check(all(i["grp"] == 4 for i in d["data"]["items"]), "filter kept")

    body, mac = cursor.split(".")
    tampered = []
    # One character of the body or of the signature changed.
    for i in (0, len(body) // 2, len(body) - 1):
        c = "A" if body[i] != "A" else "B"
        tampered.append(body[:i] + c + body[i + 1:] + "." + mac)
    tampered.append(body + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    # A cursor the client wrote itself.
    own = base64.urlsafe_b64encode(b'{"l":5,"k":[4,1]}').rstrip(b"=")
    tampered.append(own.decode() + "." + mac)
    tampered.append(own.decode())
    tampered.append("!!")
    for t in tampered:
        r, d = call(s, "GET", "/events?sort=grp&grp=4&cursor=" + t)
        envelope(r, d, 400)
        contains(d["message"], "cursor", "message")
    # The same cursor with other filters, or another sort.
    for q in ("sort=grp&grp=5", "sort=grp", "sort=-grp&grp=4", "grp=4"):
        r, d = call(s, "GET", "/events?%s&cursor=%s" % (q, cursor))
        envelope(r, d, 400)
    r, d = call(s, "GET", "/events?sort=grp&grp=4&offset=5&cursor=" + cursor)
    envelope(r, d, 400)


@test
def test_offset_is_capped():
    s = events_server()
    r, d = call(s, "GET", "/events?offset=10000&limit=1")
    envelope(r, d, 200)
    r, d = call(s, "GET", "/events?offset=10001&limit=1")
    envelope(r, d, 400)
    contains(d["message"], "offset is at most 10000", "message")


@test
def test_cursors_outlive_a_reload():
    s = events_server()
    r, d = call(s, "GET", "/events?limit=3")
    envelope(r, d, 200)
    cursor = d["data"]["next"]
    n = len(re.findall("reloaded:", s.log()))
    s.signal(signal.SIGHUP)
    deadline = time.time() + 30
    while len(re.findall("reloaded:", s.log())) == n:
        check(time.time() < deadline, "reloaded")
        time.sleep(0.1)
    time.sleep(0.5)
    for _ in range(5):
        r, d = call(s, "GET", "/events?cursor=" + cursor)
        envelope(r, d, 200)
        eq(len(d["data"]["items"]), 3, "the next page")


# ----------------------------------------------------------------------
# Relations
# ----------------------------------------------------------------------

@test
def test_nested_list_and_create():
    s = users()
    uid, _ = create(s, "Rel", "rel@example.com")
    other, _ = create(s, "Other", "other@example.com")
    r, d = call(s, "POST", "/posts", {"user_id": other, "title": "theirs"})
    envelope(r, d, 201)

    # POST /users/{id}/posts sets user_id, whatever the body says.
    ids = []
    for i in range(25):
        r, d = call(s, "POST", "/users/%d/posts" % uid,
                    {"title": "post %02d" % i, "user_id": other})
        envelope(r, d, 201)
        eq(d["data"]["user_id"], uid, "user_id from the path")
        check(r.header("Location") == "/posts/%d" % d["data"]["id"],
              "Location %r" % r.header("Location"))
        ids.append(d["data"]["id"])
    eq(db().value("SELECT COUNT(*) FROM posts WHERE user_id = %d" % uid,
                  database=APP_DB), "25", "rows")

    # GET /users/{id}/posts: the /posts resource, filtered, with its
    # paging and sort.
    seen = []
    cursor = None
    while True:
        r, d = call(s, "GET", "/users/%d/posts?sort=-title&limit=10%s" % (
            uid, "&cursor=" + cursor if cursor else ""))
        envelope(r, d, 200)
        if cursor is None:
            eq(d["data"]["total"], 25, "total")
        seen += [(p["id"], p["title"], p["user_id"])
                 for p in d["data"]["items"]]
        cursor = d["data"]["next"]
        if not cursor:
            break
    eq([t for _, t, _ in seen], ["post %02d" % i for i in range(24, -1, -1)],
       "sorted by -title")
    check(all(u == uid for _, _, u in seen), "only this user's posts")
    # A cursor of one user's list does not read another's.
    r, d = call(s, "GET", "/users/%d/posts?limit=10" % uid)
    r, d = call(s, "GET", "/users/%d/posts?cursor=%s" % (
        other, d["data"]["next"]))
    envelope(r, d, 400)

    r, d = call(s, "GET", "/users/%d/posts?title=x" % uid)
    envelope(r, d, 400)
    r, d = call(s, "GET", "/users/abc/posts")
    envelope(r, d, 400)
    r, d = call(s, "DELETE", "/users/%d/posts" % uid)
    envelope(r, d, 405)
    contains(r.header("Allow") or "", "POST", "Allow")

    # Validation still applies.
    r, d = call(s, "POST", "/users/%d/posts" % uid, {"body": "no title"})
    envelope(r, d, 422)
    eq(d["data"]["errors"][0]["field"], "title", "required")


@test
def test_embed_and_foreign_key():
    s = users()
    uid, _ = create(s, "Emb", "emb@example.com")
    for i in range(23):
        r, d = call(s, "POST", "/users/%d/posts" % uid,
                    {"title": "e%02d" % i})
        envelope(r, d, 201)
    lonely, _ = create(s, "Lonely", "lonely@example.com")

    r, d = call(s, "GET", "/users/%d?embed=posts" % uid)
    envelope(r, d, 200)
    eq(d["data"]["name"], "Emb", "the row")
    page = d["data"]["posts"]
    eq(len(page["items"]), 20, "the first page (PageSize)")
    eq([p["title"] for p in page["items"]], ["e%02d" % i for i in range(20)],
       "in key order")
    check(page["next"], "a cursor")
    r, d2 = call(s, "GET", "/users/%d/posts?cursor=%s" % (uid, page["next"]))
    envelope(r, d2, 200)
    eq([p["title"] for p in d2["data"]["items"]], ["e20", "e21", "e22"],
       "the embed's cursor continues the nested list")

    r, d = call(s, "GET", "/users/%d?embed=posts" % lonely)
    envelope(r, d, 200)
    eq(d["data"]["posts"], {"items": [], "limit": 20, "next": None},
       "no posts")
    r, d = call(s, "GET", "/users/%d" % lonely)
    check("posts" not in d["data"], "no embed unless asked")
    r, d = call(s, "GET", "/users/%d?embed=comments" % uid)
    envelope(r, d, 400)
    contains(d["message"], "comments", "message")
    r, d = call(s, "GET", "/users/999999?embed=posts")
    envelope(r, d, 404)

    # One extra query, not one per row (general_log).
    db().sql("SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log;"
             " SET GLOBAL general_log = 1")
    try:
        r, d = call(s, "GET", "/users/%d?embed=posts" % uid)
        envelope(r, d, 200)
    finally:
        db().sql("SET GLOBAL general_log = 0")
    stmts = [q for (q,) in db().sql(
        "SELECT argument FROM mysql.general_log WHERE command_type = "
        "'Execute'")]
    eq(len(stmts), 2, "statements for GET with embed: %r" % stmts)

    # The foreign key: a post of a user that does not exist.
    r, d = call(s, "POST", "/users/888888/posts", {"title": "orphan"})
    envelope(r, d, 409)
    eq(d["data"]["errors"][0].get("constraint"), "fk_posts_user",
       "constraint")


@test
def test_relation_errors_at_configuration():
    for decl, want in (
            ("Relation posts /nowhere user_id", "there is no <Resource "
             "/nowhere>"),
            ("Relation posts /posts nope", "nope must be a writable Field"),
            ("Relation posts /posts id", "id must be a writable Field"),
            ("Relation posts /posts", "Relation takes a name")):
        s = rest_server(db(), USERS.replace(
            "Relation posts /posts user_id", decl), start=False)
        p = s.run(["-t"])
        check(p.returncode != 0, "%s: cairnd -t fails" % decl)
        contains(p.stdout + p.stderr, want, decl)


# ----------------------------------------------------------------------
# Atomic batches
# ----------------------------------------------------------------------

def tables():
    """Every row of both tables, as the mariadb client sees them."""
    return (db().sql("SELECT * FROM users ORDER BY id", database=APP_DB),
            db().sql("SELECT * FROM posts ORDER BY id", database=APP_DB),
            db().sql("CHECKSUM TABLE users, posts EXTENDED",
                     database=APP_DB))


def batch(s, ops):
    return call(s, "POST", "/_batch", {"operations": ops})


@test
def test_batch_all_good():
    s = users()
    keep, _ = create(s, "Keep", "keep@example.com")
    gone, _ = create(s, "Gone", "gone@example.com")
    r, d = call(s, "GET", "/users/%d" % keep)
    etag = r.header("ETag")
    r, d = batch(s, [
        {"method": "POST", "path": "/users",
         "body": {"name": "B1", "email": "b1@example.com"}},
        {"method": "POST", "path": "/users/$0.id/posts",
         "body": {"title": "by reference in the path"}},
        {"method": "POST", "path": "/posts",
         "body": {"user_id": "$0.id", "title": "by reference in the body"}},
        {"method": "PATCH", "path": "/users/%d" % keep,
         "headers": {"If-Match": etag}, "body": {"note": "batched"}},
        {"method": "DELETE", "path": "/users/%d" % gone},
        {"method": "GET", "path": "/users/$0.id?embed=posts"},
    ])
    envelope(r, d, 200)
    res = d["data"]["results"]
    eq([x["code"] for x in res], [201, 201, 201, 200, 200, 200], "codes")
    new = res[0]["data"]["id"]
    eq(res[0]["location"], "/users/%d" % new, "location")
    check(HASH_ETAG.match(res[3]["etag"]), "etag of the PATCH")
    eq(res[1]["data"]["user_id"], new, "path reference")
    eq(res[2]["data"]["user_id"], new, "body reference")
    eq(len(res[5]["data"]["posts"]["items"]), 2, "read in the transaction")
    eq(row(new), [["B1", "b1@example.com", None]], "committed: new user")
    eq(db().value("SELECT COUNT(*) FROM posts WHERE user_id = %d" % new,
                  database=APP_DB), "2", "committed: posts")
    eq(row(keep)[0][2], "batched", "committed: patch")
    eq(row(gone), [], "committed: delete")


@test
def test_batch_third_of_five_fails():
    s = users()
    x, _ = create(s, "X", "x@example.com")
    y, _ = create(s, "Y", "y@example.com")
    r, d = call(s, "GET", "/users/%d" % x)
    etag = r.header("ETag")
    for third, status in (
            ({"method": "POST", "path": "/users",
              "body": {"name": "Dup", "email": "y@example.com"}}, 409),
            ({"method": "PATCH", "path": "/users/%d" % x,
              "headers": {"If-Match": '"AAAAAAAAAAAAAAAAAAAAAA"'},
              "body": {"note": "stale"}}, 412),
            ({"method": "POST", "path": "/posts",
              "body": {"user_id": 777777, "title": "fk"}}, 409),
            ({"method": "POST", "path": "/users", "body": {"name": "x"}},
             422),
            ({"method": "DELETE", "path": "/users/999999"}, 404),
            ({"method": "PUT", "path": "/users"}, 405)):
        before = tables()
        r, d = batch(s, [
            {"method": "POST", "path": "/users",
             "body": {"name": "F1", "email": "f1@example.com"}},
            {"method": "PATCH", "path": "/users/%d" % x,
             "headers": {"If-Match": etag}, "body": {"note": "first"}},
            third,
            {"method": "DELETE", "path": "/users/%d" % y},
            {"method": "POST", "path": "/users",
             "body": {"name": "F2", "email": "f2@example.com"}},
        ])
        envelope(r, d, status)
        eq(d["data"]["index"], 2, "the failing operation's index")
        eq(d["data"]["error"]["code"], status, "its envelope")
        contains(d["message"], "rolled back", "message")
        eq(tables(), before, "tables unchanged after a failing %d" % status)


@test
def test_batch_references_and_limits():
    s = users()
    before = tables()
    for ops, what in (
            ([{"method": "POST", "path": "/users",
               "body": {"name": "R", "email": "r@example.com"}},
              {"method": "GET", "path": "/users/$1.id"}], "forward"),
            ([{"method": "POST", "path": "/users",
               "body": {"name": "R", "email": "r@example.com"}},
              {"method": "GET", "path": "/users/$0.nope"}], "no field"),
            ([{"method": "POST", "path": "/users",
               "body": {"name": "R", "email": "r@example.com"}},
              {"method": "POST", "path": "/posts",
               "body": {"user_id": "$3.id", "title": "t"}}], "body")):
        r, d = batch(s, ops)
        envelope(r, d, 400)
        eq(d["data"]["index"], 1, what)
        contains(d["data"]["error"]["message"], "$N.field", what)
    eq(tables(), before, "nothing written")

    op = {"method": "GET", "path": "/users"}
    r, d = batch(s, [op] * 6)
    envelope(r, d, 200)
    r, d = batch(s, [op] * 7)
    envelope(r, d, 400)
    contains(d["message"], "at most 6 operations", "limit")
    for body in ({"operations": []}, {"ops": []}, {"operations": [1]},
                 {"operations": [{"method": "GET", "path": "/nowhere"}]},
                 {"operations": [{"method": "GET"}]}):
        r, d = call(s, "POST", "/_batch", body)
        envelope(r, d, 400)
    r, d = call(s, "POST", "/_batch", raw=b"{nope")
    envelope(r, d, 400)
    r, d = call(s, "GET", "/_batch")
    envelope(r, d, 405)
    r, d = call(s, "POST", "/_batch", {"operations": [op]}, ctype="text/plain")
    envelope(r, d, 415)
    eq(tables(), before, "nothing written")


@test
def test_batch_client_gone_is_rolled_back():
    s = users()
    x, _ = create(s, "Locked", "locked@example.com")
    before = tables()
    h = Holder("BEGIN; SELECT id FROM users WHERE id = %d FOR UPDATE;\n"
               "SELECT 'here';\nSELECT SLEEP(3); COMMIT;\n" % x)
    h.wait_for("here")
    body = json.dumps({"operations": [
        {"method": "POST", "path": "/users",
         "body": {"name": "Ghost", "email": "ghost@example.com"}},
        {"method": "PATCH", "path": "/users/%d" % x,
         "body": {"note": "never"}}]}).encode()
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"POST /_batch HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body)
    time.sleep(1)
    c.close()                   # while the PATCH waits for the lock
    eq(h.finish()[0], 0, "client session")
    time.sleep(1)
    eq(tables(), before, "rolled back: no Ghost, no note")
    r, d = call(s, "GET", "/users/%d" % x)
    envelope(r, d, 200)


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
