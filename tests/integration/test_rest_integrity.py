"""mod_rest and the data it guards: nothing written that was not asked
for, no 500 for what a client sends, honest outcomes when the database
stops answering.

Against a private MariaDB: every hostile query and body gets a 400/422
envelope that is valid JSON; date-times that leave the column's range
once in UTC are refused, never stored as NULL; PATCH leaves every column
it was not given byte for byte (checked with the mariadb client); racing
DELETEs with one If-Match give one 200 and 412s; string keys are
addresses compared byte for byte; a write cut off by a frozen database
(SIGSTOP past QueryTimeout) is answered 504 "outcome unknown", not 503.
"""

import concurrent.futures
import json
import os
import signal
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

ITEMS_TABLE = """
CREATE TABLE items (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  qty INT,
  weight DOUBLE,
  born DATETIME,
  note TEXT,
  hidden VARCHAR(50),
  row_version BIGINT NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

TAGS_TABLE = """
CREATE TABLE tags (
  tag VARCHAR(40) NOT NULL PRIMARY KEY,
  label VARCHAR(100),
  row_version BIGINT NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE utf8mb4_general_ci
"""

ITEMS = """
<Resource /items>
    Database main
    Table items
    Key id
    Field id int
    Field name string required max=100
    Field qty int
    Field weight number
    Field born datetime
    Field note text max=10000
    Sortable name qty
    Filterable name qty weight born
</Resource>
<Resource /tags>
    Database main
    Table tags
    Key tag
    Field tag string max=40
    Field label string max=100
</Resource>
"""


def db():
    return mariadb([ITEMS_TABLE, TAGS_TABLE])


_shared = {}


def items():
    s = _shared.get("items")
    if s is None or not s.alive():
        s = rest_server(db(), ITEMS)
        s.keep = True
        _shared["items"] = s
    return s


def rows(where="1"):
    return int(db().value("SELECT COUNT(*) FROM items WHERE %s" % where,
                          database=APP_DB))


def raw_row(ident):
    """Every column of a row as the server stores it, in hex."""
    cols = ("name", "qty", "weight", "born", "note", "hidden")
    return db().value("SELECT CONCAT_WS('|', %s) FROM items WHERE id = %d"
                      % (", ".join("COALESCE(HEX(%s), 'NULL')" % c
                                   for c in cols), ident), database=APP_DB)


def valid_envelope(r, d, statuses):
    """A client error answered with the envelope, never a 500."""
    check(r.status in statuses, "status %d, want one of %s; body %r"
          % (r.status, statuses, r.body[:300]))
    envelope(r, d, r.status)
    # The body is strict UTF-8 JSON.
    json.loads(r.body.decode("utf-8", "strict"))


# ----------------------------------------------------------------------
# No 500 for input
# ----------------------------------------------------------------------

@test
def test_hostile_queries_get_400():
    s = items()
    long_e = "%C3%A9" * 70          # 70 two-byte characters
    cases = [
        "/items?%ff=1", "/items?qty=%ff", "/items?sort=%ff",
        "/items?name=%c3", "/items?" + long_e + "=1",
        "/items?sort=" + long_e, "/items?qty=" + long_e,
        "/items?%e2%82=1", "/items?sort=%ed%a0%80",
        "/items?qty=0x10", "/items?qty=1e3", "/items?qty=+5",
        "/items?qty=%205", "/items?qty=99999999999",
        "/items?weight=inf", "/items?weight=nan", "/items?weight=0x1p3",
        "/items?weight=1.", "/items?born=9999-12-31T23:59:59-23:59",
        "/items?born=1000-01-01T00:30:00%2B01:00",
        "/items?qty=%00", "/items?name=a%2", "/items?limit=-1",
    ]
    for path in cases:
        r, d = call(s, "GET", path)
        valid_envelope(r, d, (400,))
    for path in ("/items?qty=16", "/items?weight=1.5e2", "/items?qty=-3"):
        r, d = call(s, "GET", path)
        envelope(r, d, 200)


@test
def test_hostile_bodies_get_400_or_422():
    s = items()
    before = rows()
    # Malformed JSON is 400; well-formed JSON with an unknown member (a
    # long, valid key) is 422.
    bodies = [
        (b'{"name":"\\u12\xc3\xa9"}', 400),         # bad escape, cut UTF-8
        (b'{"name":"' + b"\xc3\xa9" * 300 + b'\xc3', 400),  # unterminated
        (b'{"name":"x", "\xff\xfe":1}', 400),       # invalid UTF-8 key
        (b'{"name":"x", "' + "é".encode() * 200 + b'":1}', 422),
        (b'{"name":"\xed\xa0\x80"}', 400),          # a surrogate
        (b'[1,2', 400), (b'', 400), (b'\xef\xbb\xbf{"name":"x"}', 400),
        (b'{"name":"x"} {}', 400),
    ]
    for body, status in bodies:
        r, d = call(s, "POST", "/items", raw=body)
        valid_envelope(r, d, (status,))
    eq(rows(), before, "rows after hostile bodies")


@test
def test_unknown_members_are_bounded():
    s = items()
    doc = {"name": "x"}
    for i in range(60000):
        doc["k%05d" % i] = i
    body = json.dumps(doc).encode()
    r, d = call(s, "POST", "/items", raw=body)
    envelope(r, d, 422)
    errs = d["data"]["errors"]
    eq(len(errs), 21, "errors reported (20 and a count)")
    contains(errs[-1]["message"], "59980 more", "the count")
    check(len(r.body) < 4000, "the answer is %d bytes" % len(r.body))


# ----------------------------------------------------------------------
# Nothing written that was not asked for
# ----------------------------------------------------------------------

@test
def test_dates_out_of_range_are_refused():
    s = items()
    before = rows()
    for v in ("9999-12-31T23:59:59-23:59", "1000-01-01T00:30:00+01:00",
              "0999-12-31T23:59:59Z", "2024-02-30T00:00:00Z"):
        r, d = call(s, "POST", "/items", {"name": "d", "born": v})
        envelope(r, d, 422)
        eq(d["data"]["errors"][0]["field"], "born", "field of %s" % v)
    eq(rows(), before, "rows after refused dates")
    eq(rows("born IS NULL AND name = 'd'"), 0, "NULL dates stored")
    r, d = call(s, "POST", "/items", {"name": "d",
                                      "born": "9999-12-31T23:59:59Z"})
    envelope(r, d, 201)
    eq(d["data"]["born"], "9999-12-31T23:59:59Z", "the largest date-time")
    r, d = call(s, "POST", "/items", {"name": "d",
                                      "born": "2024-05-01T10:00:00+02:00"})
    envelope(r, d, 201)
    eq(d["data"]["born"], "2024-05-01T08:00:00Z", "converted to UTC")


@test
def test_patch_writes_only_what_it_names():
    s = items()
    db().sql("INSERT INTO items (name, qty, weight, born, note, hidden) "
             "VALUES ('keep', 7, 0.1 + 0.2, '2024-05-01 10:20:30.5', "
             "'a\\0b', 'not declared')", database=APP_DB)
    ident = int(db().value("SELECT MAX(id) FROM items", database=APP_DB))
    before = raw_row(ident)
    r, d = call(s, "PATCH", "/items/%d" % ident, {"qty": 8})
    envelope(r, d, 200)
    eq(d["data"]["qty"], 8, "patched")
    after = raw_row(ident).split("|")
    want = before.split("|")
    want[1] = "8"
    eq(after, want, "the row, byte for byte, but qty")
    # An empty patch changes nothing, not even the version.
    v = db().value("SELECT row_version FROM items WHERE id = %d" % ident,
                   database=APP_DB)
    r, d = call(s, "PATCH", "/items/%d" % ident, {})
    envelope(r, d, 200)
    eq(db().value("SELECT row_version FROM items WHERE id = %d" % ident,
                  database=APP_DB), v, "version after an empty patch")
    eq(raw_row(ident).split("|"), want, "the row after an empty patch")
    # A patch with null removes only that member.
    r, d = call(s, "PATCH", "/items/%d" % ident, {"note": None})
    envelope(r, d, 200)
    got = raw_row(ident).split("|")
    eq(got[4], "NULL", "note is NULL")
    eq(got[:4] + got[5:], want[:4] + want[5:], "the other columns")


@test
def test_delete_race_gives_one_200_and_412s():
    s = items()
    r, d = call(s, "POST", "/items", {"name": "race"})
    envelope(r, d, 201)
    loc, etag = r.header("Location"), r.header("ETag")

    def delete(_):
        r, d = call(s, "DELETE", loc, headers={"If-Match": etag})
        return r.status

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(delete, range(8)))
    eq(statuses, [200] + [412] * 7, "statuses of 8 racing DELETEs")


@test
def test_string_keys_are_exact_addresses():
    s = items()
    r, d = call(s, "POST", "/tags", {"tag": "one", "label": "1"})
    envelope(r, d, 201)
    # Another case is another key (404); a key with a space or a control
    # character is no key at all (400).
    for path, status in (("/tags/ONE", 404), ("/tags/One", 404),
                         ("/tags/one%20", 400), ("/tags/one%09", 400)):
        r, d = call(s, "GET", path)
        envelope(r, d, status)
    r, d = call(s, "PATCH", "/tags/ONE", {"label": "x"})
    envelope(r, d, 404)
    r, d = call(s, "DELETE", "/tags/ONE")
    envelope(r, d, 404)
    eq(db().value("SELECT label FROM tags WHERE tag = 'one'",
                  database=APP_DB), "1", "the row after writes to ONE")
    for bad in ("", "a/b?c#d %", "x y", "../x", "é"):
        r, d = call(s, "POST", "/tags", {"tag": bad, "label": "b"})
        envelope(r, d, 422)
    eq(db().value("SELECT COUNT(*) FROM tags", database=APP_DB), "1",
       "rows of tags")


# ----------------------------------------------------------------------
# Types: checked against the columns, and exact both ways
# ----------------------------------------------------------------------

KINDS_TABLE = """
CREATE TABLE kinds (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  i INT, si SMALLINT UNSIGNED, bu BIGINT UNSIGNED,
  price DECIMAL(10,2), big DECIMAL(30,10), f DOUBLE,
  d DATE, dt DATETIME, ts TIMESTAMP NULL DEFAULT NULL,
  b TINYINT(1), v VARCHAR(20), t TEXT, tt TEXT, j JSON,
  req VARCHAR(10) NOT NULL,
  row_version BIGINT NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

KINDS = """
<Resource /kinds>
    Database main
    Table kinds
    Key id
    Field id int
    Field i int
    Field si int
    Field bu bigint
    Field price decimal
    Field big decimal(30,10)
    Field f number
    Field d date
    Field dt datetime
    Field ts datetime
    Field b bool
    Field v string max=20
    Field t text max=16000
    Field tt text
    Field j json
    Field req string required max=10
    Filterable price d big si
</Resource>
<Resource /kinds_s>
    Database main
    Table kinds
    Key id
    Field id int
    Field price decimal as=string
    Field req string required max=10
</Resource>
<Resource /wrong>
    Database main
    Table kinds
    Key id
    Field id int
    Field price number
    Field d datetime
    Field v string
    Field req string max=10
    Field f int
</Resource>
"""

KINDS_COLS = ("i", "si", "bu", "price", "big", "f", "d", "dt", "ts", "b",
              "v", "t", "j", "req")


def kinds():
    s = _shared.get("kinds")
    if s is None or not s.alive():
        db().sql("CREATE TABLE IF NOT EXISTS " + KINDS_TABLE.strip()[13:],
                 database=APP_DB)
        s = rest_server(db(), KINDS)
        s.keep = True
        _shared["kinds"] = s
    return s


def stored(ident):
    """The row as the server holds it: each column as text, NULL as
    None."""
    out = db().sql("SELECT %s FROM kinds WHERE id = %d"
                   % (", ".join(KINDS_COLS), ident), database=APP_DB)
    return dict(zip(KINDS_COLS, [None if v == "NULL" else v
                                 for v in out[0]]))


def exact(body):
    """A JSON body with every number kept as the text it was written."""
    return json.loads(body.decode(), parse_float=lambda t: ("num", t),
                      parse_int=lambda t: ("num", t))


ROUND_TRIP = (b'{"i": -2147483648, "si": 65535, "bu": 9223372036854775807,'
              b' "price": 12.50, "big": 12345678901234567890.0123456789,'
              b' "f": 0.1, "d": "2024-02-29", "dt": "2024-05-01T10:20:30Z",'
              b' "ts": "2038-01-19T03:14:07Z", "b": true,'
              b' "v": "' + "\u00e9".encode() * 20 + b'", "t": "x\\ty",'
              b' "j": {"a": [1, 2.5, null]}, "req": "r"}')


@test
def test_type_round_trips():
    s = kinds()
    r, d = call(s, "POST", "/kinds", raw=ROUND_TRIP)
    envelope(r, d, 201)
    ident = d["data"]["id"]
    for path in (r.header("Location"), None):
        if path is not None:
            r, d = call(s, "GET", path)
            envelope(r, d, 200)
        got = exact(r.body)["data"]
        eq(got["i"], ("num", "-2147483648"), "INT")
        eq(got["si"], ("num", "65535"), "SMALLINT UNSIGNED")
        eq(got["bu"], ("num", "9223372036854775807"), "BIGINT UNSIGNED")
        eq(got["price"], ("num", "12.50"), "DECIMAL(10,2), exactly")
        eq(got["big"], ("num", "12345678901234567890.0123456789"),
           "DECIMAL(30,10), exactly")
        eq(got["f"], ("num", "0.10000000000000001"), "DOUBLE")
        eq(got["d"], "2024-02-29", "DATE")
        eq(got["dt"], "2024-05-01T10:20:30Z", "DATETIME")
        eq(got["ts"], "2038-01-19T03:14:07Z", "TIMESTAMP")
        eq(got["b"], True, "BOOL")
        eq(got["v"], "\u00e9" * 20, "VARCHAR(20) of 2-byte characters")
        eq(got["t"], "x\ty", "TEXT with a tab")
        eq(got["j"], {"a": [("num", "1"), ("num", "2.5"), None]}, "JSON")
    row = stored(ident)
    eq(row["price"], "12.50", "stored price")
    eq(row["big"], "12345678901234567890.0123456789", "stored big")
    eq(row["bu"], "9223372036854775807", "stored bu")
    eq(row["d"], "2024-02-29", "stored date")
    eq(row["ts"], "2038-01-19 03:14:07", "stored timestamp")

    # NULL everywhere it is allowed.
    r, d = call(s, "POST", "/kinds", {"req": "n"})
    envelope(r, d, 201)
    for c in KINDS_COLS:
        if c != "req":
            eq(d["data"][c], None, "null %s" % c)
    eq(set(k for k, v in stored(d["data"]["id"]).items() if v is None),
       set(KINDS_COLS) - {"req"}, "NULL columns")

    # What another program stored is shown exactly, and a PATCH of one
    # field leaves it alone.
    db().sql("UPDATE kinds SET bu = 18446744073709551615, "
             "price = 99999999.99 WHERE id = %d" % ident, database=APP_DB)
    r, d = call(s, "PATCH", "/kinds/%d" % ident, {"i": 5})
    envelope(r, d, 200)
    got = exact(r.body)["data"]
    eq(got["bu"], ("num", "18446744073709551615"), "BIGINT UNSIGNED max")
    eq(got["price"], ("num", "99999999.99"), "largest DECIMAL(10,2)")
    row = stored(ident)
    eq((row["i"], row["price"], row["bu"], row["big"]),
       ("5", "99999999.99", "18446744073709551615",
        "12345678901234567890.0123456789"), "after the PATCH")

    # as=string: strings both ways.
    r, d = call(s, "GET", "/kinds_s/%d" % ident)
    envelope(r, d, 200)
    eq(d["data"]["price"], "99999999.99", "as=string")
    r, d = call(s, "POST", "/kinds_s", {"price": "3.10", "req": "s"})
    envelope(r, d, 201)
    eq(d["data"]["price"], "3.10", "as=string out")
    eq(stored(d["data"]["id"])["price"], "3.10", "as=string stored")
    r, d = call(s, "POST", "/kinds_s", raw=b'{"price": 3.1, "req": "s"}')
    envelope(r, d, 422)

    # Filters compare exactly.
    r, d = call(s, "GET", "/kinds?price=99999999.99")
    envelope(r, d, 200)
    eq([x["id"] for x in d["data"]["items"]], [ident], "filter on price")
    r, d = call(s, "GET", "/kinds?big=12345678901234567890.012345678900")
    envelope(r, d, 200)
    eq([x["id"] for x in d["data"]["items"]], [ident], "filter on big")
    r, d = call(s, "GET", "/kinds?big=12345678901234567890.01234567891")
    envelope(r, d, 400)
    for q in ("si=-1", "si=65536", "price=1.234", "price=1e9",
              "d=2024-02-30", "d=2024-05-01T00:00:00Z"):
        r, d = call(s, "GET", "/kinds?" + q)
        envelope(r, d, 400)
    r, d = call(s, "GET", "/kinds?d=2024-02-29")
    envelope(r, d, 200)
    check(ident in [x["id"] for x in d["data"]["items"]], "filter on d")


@test
def test_values_a_column_cannot_hold_are_refused():
    s = kinds()
    r, d = call(s, "POST", "/kinds", {"req": "base", "price": 1})
    envelope(r, d, 201)
    ident = d["data"]["id"]
    before = stored(ident)
    count = db().value("SELECT COUNT(*) FROM kinds", database=APP_DB)
    bad = [
        ('"price": 123456789.1', "price"), ('"price": 1.234', "price"),
        ('"price": 1e10', "price"), ('"price": "12.5"', "price"),
        ('"big": 1e30', "big"), ('"i": 2147483648', "i"),
        ('"si": -1', "si"), ('"si": 65536', "si"), ('"bu": -1', "bu"),
        ('"v": "' + "x" * 21 + '"', "v"),
        ('"ts": "2038-01-19T03:14:08Z"', "ts"),
        ('"ts": "1970-01-01T00:00:00Z"', "ts"),
        ('"d": "2023-02-29"', "d"), ('"d": "2024-05-01T00:00:00Z"', "d"),
        ('"tt": "' + "y" * 70000 + '"', "tt"),
    ]
    for member, field in bad:
        for method, path, extra in (("POST", "/kinds", ', "req": "x"'),
                                    ("PATCH", "/kinds/%d" % ident, "")):
            body = ("{" + member + extra + "}").encode()
            r, d = call(s, method, path, raw=body)
            envelope(r, d, 422)
            fields = [e["field"] for e in d["data"]["errors"]]
            check(field in fields, "%s %s: errors %r" % (method,
                                                         member[:40], d))
    eq(db().value("SELECT COUNT(*) FROM kinds", database=APP_DB), count,
       "rows after refused values")
    eq(stored(ident), before, "the row after refused PATCHes")


@test
def test_type_mismatch_refused_at_worker_start():
    s = kinds()
    m = s.wait_log(r"<Resource /wrong>: resource /wrong is not available.*",
                   timeout=10)
    line = m.group(0)
    for part in ("Field price number does not match column price "
                 "decimal(10,2): declare Field price decimal",
                 "Field d datetime does not match column d date: "
                 "declare Field d date",
                 "Field v string does not match column v varchar(20): it "
                 "holds 20 characters; declare max=20",
                 "Field req string does not match column req varchar(10): "
                 "the column is NOT NULL; declare Field req ... required",
                 "Field f int does not match column f double"):
        contains(line, part, "the log line")
    r, d = call(s, "GET", "/wrong")
    envelope(r, d, 503)
    contains(d["message"], "declare Field price decimal", "503 message")
    r, d = call(s, "POST", "/wrong", {"req": "x"})
    envelope(r, d, 503)


# ----------------------------------------------------------------------
# Honest outcomes
# ----------------------------------------------------------------------

@test
def test_frozen_database_gives_504_for_writes():
    d = db()
    s = rest_server(d, ITEMS, db_extra="    QueryTimeout 1s\n")
    r, doc = call(s, "GET", "/items")
    envelope(r, doc, 200)
    before = rows("name = 'frozen'")
    results = []

    def post(i):
        r, doc = call(s, "POST", "/items", {"name": "frozen", "qty": i})
        results.append((r.status, doc))

    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=post, args=(i,))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        r, doc = call(s, "GET", "/items/1")
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    eq(len(results), 4, "answers")
    for status, doc in results:
        eq(status, 504, "a write cut off by the timeout: %r" % doc)
        contains(doc["message"], "outcome of this write is unknown",
                 "message")
        contains(doc["message"], "Idempotency-Key", "message")
    eq(r.status, 503, "a read cut off by the timeout")
    # The database resumes: whatever it applied is there; nothing is
    # reported as failed that it committed.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r, doc = call(s, "GET", "/items")
        if r.status == 200:
            break
        time.sleep(0.2)
    envelope(r, doc, 200)
    print("# %d of 4 timed-out POSTs were applied"
          % (rows("name = 'frozen'") - before))


# ----------------------------------------------------------------------
# Idempotency-Key
# ----------------------------------------------------------------------

NOTES_TABLE = """
CREATE TABLE notes (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  body VARCHAR(200) NOT NULL,
  n INT,
  row_version BIGINT NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

NOTES = """
<Resource /notes>
    Database main
    Table notes
    Key id
    Field id int
    Field body string required max=200
    Field n int
    ResourceAutoCreate on
    RestIdempotency on
    RestIdempotencyTTL %s
</Resource>
"""


def notes_rows(where="1"):
    return int(db().value("SELECT COUNT(*) FROM notes WHERE %s" % where,
                          database=APP_DB))


def idem_server(ttl="24h", **kw):
    db().sql("CREATE TABLE IF NOT EXISTS " + NOTES_TABLE.strip()[13:],
             database=APP_DB)
    return rest_server(db(), NOTES % ttl, **kw)


@test
def test_idempotent_retry_after_a_lost_commit():
    """The COMMIT reaches the server, its answer is lost: 504, and the
    retry with the same key gets the first answer, one row in all."""
    from dbproxy import DBProxy

    proxy = DBProxy(db().port)
    try:
        s = idem_server(db_extra="    QueryTimeout 1s\n",
                        db_port=proxy.port)
        hdr = {"Idempotency-Key": "order-1"}
        proxy.hold_next_commit()
        r, d = call(s, "POST", "/notes", {"body": "lost commit", "n": 1},
                    headers=hdr)
        envelope(r, d, 504)
        contains(d["message"], "outcome of this write is unknown", "504")
        eq(proxy.commits_held, 1, "COMMITs whose answer was lost")
        deadline = time.monotonic() + 10
        while notes_rows("body = 'lost commit'") == 0:
            check(time.monotonic() < deadline, "the COMMIT was not applied")
            time.sleep(0.1)

        for _ in range(3):
            r, d = call(s, "POST", "/notes", {"body": "lost commit",
                                              "n": 1}, headers=hdr)
            envelope(r, d, 201)
            eq(r.header("Idempotent-Replayed"), "true", "replayed")
            eq(d["data"]["body"], "lost commit", "the first answer's data")
            check(r.header("Location", ) is not None, "Location replayed")
        eq(notes_rows("body = 'lost commit'"), 1, "rows after 3 retries")

        # The same key with another request.
        r, d = call(s, "POST", "/notes", {"body": "other", "n": 1},
                    headers=hdr)
        envelope(r, d, 422)
        contains(d["message"], "different request", "422 message")
        eq(notes_rows("body = 'other'"), 0, "rows of the other body")

        # A fresh key writes once, and its retry replays byte for byte.
        r1, d = call(s, "POST", "/notes", {"body": "fresh"},
                     headers={"Idempotency-Key": "order-2"})
        envelope(r1, d, 201)
        check(r1.header("Idempotent-Replayed") is None, "first is no replay")
        r2, d = call(s, "POST", "/notes", {"body": "fresh"},
                     headers={"Idempotency-Key": "order-2"})
        envelope(r2, d, 201)
        eq(r2.body, r1.body, "the replayed body")
        eq(r2.header("ETag"), r1.header("ETag"), "the replayed ETag")
        eq(notes_rows("body = 'fresh'"), 1, "rows after the retry")

        # Another user's key of the same name is another key: the
        # owner is part of it (anonymous here, so just the resource).
        eq(int(db().value("SELECT COUNT(*) FROM rest_idempotency",
                          database=APP_DB)) >= 2, True, "keys recorded")
    finally:
        proxy.close()


@test
def test_idempotent_retry_while_the_first_runs_is_409():
    s = idem_server()
    r, d = call(s, "POST", "/notes", {"body": "locked", "n": 0})
    envelope(r, d, 201)
    ident = d["data"]["id"]
    holder = subprocess.Popen(
        db()._client(database=APP_DB) + ["-e",
            "BEGIN; SELECT * FROM notes WHERE id = %d FOR UPDATE; "
            "DO SLEEP(2); COMMIT;" % ident],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        first = []
        hdr = {"Idempotency-Key": "patch-1"}
        t = threading.Thread(target=lambda: first.append(call(
            s, "PATCH", "/notes/%d" % ident, {"n": 1}, headers=hdr)))
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        r, d = call(s, "PATCH", "/notes/%d" % ident, {"n": 1}, headers=hdr)
        envelope(r, d, 409)
        contains(d["message"], "still being processed", "409 message")
        check(time.monotonic() - t0 < 1.0, "the 409 waited for the lock")
        t.join(10)
    finally:
        holder.wait(10)
    r, d = first[0]
    envelope(r, d, 200)
    eq(d["data"]["n"], 1, "the first PATCH")
    r, d = call(s, "PATCH", "/notes/%d" % ident, {"n": 1}, headers=hdr)
    envelope(r, d, 200)
    eq(r.header("Idempotent-Replayed"), "true", "the retry after it ran")
    eq(db().value("SELECT row_version FROM notes WHERE id = %d" % ident,
                  database=APP_DB), "2", "one PATCH written")


@test
def test_frozen_database_with_idempotency_key():
    """SIGSTOP past QueryTimeout, a POST with a key: the answer is honest
    (503: nothing written, or 504: unknown), and the retry after SIGCONT
    gives 201 with exactly one row, whatever happened."""
    d = db()
    s = idem_server(db_extra="    QueryTimeout 1s\n")
    r, doc = call(s, "GET", "/notes")
    envelope(r, doc, 200)
    hdr = {"Idempotency-Key": "frozen-1"}
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        r, doc = call(s, "POST", "/notes", {"body": "frozen key"},
                      headers=hdr)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    check(r.status in (503, 504), "status while frozen: %d %r"
          % (r.status, doc))
    deadline = time.monotonic() + 15
    while True:
        r, doc = call(s, "POST", "/notes", {"body": "frozen key"},
                      headers=hdr)
        if r.status == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    envelope(r, doc, 201)
    r2, doc2 = call(s, "POST", "/notes", {"body": "frozen key"},
                    headers=hdr)
    envelope(r2, doc2, 201)
    eq(r2.header("Idempotent-Replayed"), "true", "the second retry")
    eq(doc2["data"]["id"], doc["data"]["id"], "the same row")
    eq(notes_rows("body = 'frozen key'"), 1, "rows")


@test
def test_idempotency_keys_expire_and_are_checked():
    s = idem_server(ttl="1s")
    hdr = {"Idempotency-Key": "short-lived"}
    r, d = call(s, "POST", "/notes", {"body": "ttl"}, headers=hdr)
    envelope(r, d, 201)
    time.sleep(2.2)
    r, d = call(s, "POST", "/notes", {"body": "ttl"}, headers=hdr)
    envelope(r, d, 201)
    check(r.header("Idempotent-Replayed") is None, "an expired key replays")
    eq(notes_rows("body = 'ttl'"), 2, "rows after the key expired")
    for bad in ("x" * 256, "a b", "caf\u00e9", '""'):
        r, d = call(s, "POST", "/notes", {"body": "bad key"},
                    headers={"Idempotency-Key": bad.encode("utf-8")
                             .decode("latin-1")})
        envelope(r, d, 400)
    eq(notes_rows("body = 'bad key'"), 0, "rows after bad keys")
    # PUT and DELETE are idempotent already: the header is ignored.
    r, d = call(s, "DELETE", "/notes/999999", headers=hdr)
    envelope(r, d, 404)


@test
def test_idempotency_table_missing():
    db().sql("CREATE TABLE IF NOT EXISTS plain (id INT NOT NULL "
             "AUTO_INCREMENT PRIMARY KEY, a INT, row_version BIGINT NOT "
             "NULL DEFAULT 1)", database=APP_DB)
    s = rest_server(db(), """
<Resource /plain>
    Database main
    Table plain
    Key id
    Field id int
    Field a int
    RestIdempotency on
    RestIdempotencyTable no_such_keys
</Resource>
""")
    s.wait_log(r"RestIdempotency needs table no_such_keys, which does not "
               r"exist: set ResourceAutoCreate on, or create it with:",
               timeout=10)
    contains(s.log(), "CREATE TABLE IF NOT EXISTS `no_such_keys`", "log")
    r, d = call(s, "POST", "/plain", {"a": 1})
    envelope(r, d, 503)
    contains(d["message"], "no_such_keys", "503 message")
    eq(db().value("SELECT COUNT(*) FROM plain", database=APP_DB), "0",
       "rows")


if __name__ == "__main__":
    main()
