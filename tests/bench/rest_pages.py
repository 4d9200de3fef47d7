#!/usr/bin/python3
"""Deep pages of a mod_rest list: page 1 against page 1,000 of a
1,000,000-row table, by keyset cursor and by offset.

    CAIRND=... CAIRN_MODULEDIR=... tests/bench/rest_pages.py

A private MariaDB (tests/integration/mariadb.py) gets `big (id, grp,
label)` with 1,000,000 rows; one cairnd worker serves it as /big
(PageSize 20, MaxOffset 1000000).  The script follows `next` from page 1
to page 1,000, keeps that cursor, then times BENCH_ROUNDS (50) requests
of each: page 1, page 1,000 by its cursor, page 1,000 by offset=19980,
and the same three sorted by grp (an index), and prints the median
latencies.  Not part of `make check`.
"""

import os
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))

from resttest import APP_DB, call, mariadb, rest_server  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "50"))


def timed(s, path):
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        r, d = call(s, "GET", path)
        times.append(time.perf_counter() - t0)
        assert r.status == 200, (r.status, r.body[:200])
    return statistics.median(times) * 1000


def main():
    db = mariadb()
    print("# filling big with 1000000 rows ...", flush=True)
    db.sql("DROP TABLE IF EXISTS big; CREATE TABLE big (id INT NOT NULL "
           "AUTO_INCREMENT PRIMARY KEY, grp INT NOT NULL, label "
           "VARCHAR(20) NOT NULL, KEY grp (grp)) ENGINE=InnoDB; "
           "INSERT INTO big (grp, label) SELECT seq % 1000, "
           "CONCAT('row ', seq) FROM seq_1_to_1000000", database=APP_DB,
           timeout=600)
    s = rest_server(db, """
<Resource /big>
    Database main
    Table big
    Key id
    Field id int
    Field grp int required
    Field label string required max=20
    Sortable grp
    PageSize 20
    MaxOffset 1000000
</Resource>
""")
    try:
        for sort in ("", "&sort=grp"):
            cursor = None
            for page in range(1, 1000):
                r, d = call(s, "GET", "/big?limit=20%s%s" % (
                    sort, "&cursor=" + cursor if cursor else ""))
                cursor = d["data"]["next"]
            first = timed(s, "/big?limit=20%s" % sort)
            deep = timed(s, "/big?limit=20%s&cursor=%s" % (sort, cursor))
            offset = timed(s, "/big?limit=20%s&offset=19980" % sort)
            print("sort=%-4s page 1 (with COUNT): %.2f ms   page 1000 by "
                  "cursor: %.2f ms   page 1000 by offset (with COUNT): "
                  "%.2f ms" % (sort[6:] or "id", first, deep, offset))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
