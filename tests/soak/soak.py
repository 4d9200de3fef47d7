"""The soak run behind tests/soak/soak.sh (see there for the knobs).

Mixed traffic against one cairnd (2 workers) and a private MariaDB:
static files (plain and gzip), a template page, REST reads, POSTs and
If-Match PUTs, Basic-authenticated
requests (and refused ones), metrics scrapes.  A reload (SIGHUP) every
SOAK_RELOAD_EVERY seconds, a worker SIGKILLed every SOAK_KILL_EVERY.
RSS and descriptors of the master and of each worker are sampled every
SOAK_SAMPLE_EVERY seconds into samples.csv (one line per process) and
series.csv (one line per sample: the master, and the median over the
workers).  At the end: RSS and descriptors flat per role after the
warm-up, no failed request apart from the killed workers' connections,
and the table holding exactly the acknowledged writes.  Exits 1 on any
failed check; summary.txt has the figures.

Only the Python standard library, and the integration tests' helpers.
"""

import base64
import csv
import gzip
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))

import cairntest  # noqa: E402
from cairntest import (Server, children_of,  # noqa: E402
                       established_connections)
from mariadb import MariaDB  # noqa: E402
from resttest import tagged_resource, tagged_table  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "3600"))
RELOAD_EVERY = float(os.environ.get("SOAK_RELOAD_EVERY", "60"))
KILL_EVERY = float(os.environ.get("SOAK_KILL_EVERY", "600"))
SAMPLE_EVERY = float(os.environ.get("SOAK_SAMPLE_EVERY", "5"))
WARMUP = float(os.environ.get("SOAK_WARMUP", str(max(30.0,
                                                     SECONDS * 0.2))))
TOLERANCE = float(os.environ.get("SOAK_TOLERANCE", "5")) / 100.0
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "4"))
OUT = os.environ.get("SOAK_OUT", ".")

USER, PASSWORD, DB = "soak", "soak-pass", "soakdb"
FILE = b"soak static file\n" * 64

TABLE = tagged_table("things")

CONF = """
LogLevel notice
AccessLog @TMP@/access.log
<Database main>
    Host 127.0.0.1
    Port %(port)d
    User %(user)s
    PasswordFile @TMP@/db.pass
    Name %(db)s
    ConnectTimeout 2s
    PoolTimeout 2s
    QueryTimeout 5s
</Database>
%(things)s
<Location /private>
    AuthType Basic
    AuthName "soak"
    AuthUserFile @TMP@/htpasswd
    Require valid-user
</Location>
<Location /metrics>
    Metrics on
</Location>
Compress gzip br
TemplateDir @TMP@/templates
TemplateData @TMP@/site.json
<Location /page>
    Template page.tpl
</Location>
"""

PAGE_TPL = """<h1>{{ site }}</h1>
{%- for i in items %}
<p class="{% if loop.first %}first{% end %}">{{ i.n }}: {{ i.text | upper }}</p>
{%- end %}
"""
PAGE_DATA = {"site": "soak <page>",
             "items": [{"n": k, "text": "item %d" % k} for k in range(40)]}
PAGE = ("<h1>soak &lt;page&gt;</h1>" + "".join(
    '\n<p class="%s">%d: ITEM %d</p>' % ("first" if k == 0 else "", k, k)
    for k in range(40)) + "\n").encode()


def log(msg):
    print("soak: %s" % msg, flush=True)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}            # kind -> requests
        self.errors = []            # (time, kind, what)
        self.posts = {}             # tag -> "ok" | "failed" | "unknown"
        self.puts_ok = 0

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def error(self, kind, what):
        with self.lock:
            self.errors.append((time.monotonic(), kind, what))


class Client(threading.Thread):
    def __init__(self, k, port, stats, stopping):
        super().__init__(daemon=True)
        self.k = k
        self.port = port
        self.stats = stats
        self.stopping = stopping
        self.hc = None
        self.n = 0
        self.mine = []              # ids of rows this client created
        self.rng = random.Random(k)
        self.auth = "Basic " + base64.b64encode(b"soak:soakpw").decode()

    def request(self, method, path, body=None, headers=None):
        if self.hc is None:
            self.hc = http.client.HTTPConnection("127.0.0.1", self.port,
                                                 timeout=15)
        try:
            self.hc.request(method, path, body=body, headers=headers or {})
            r = self.hc.getresponse()
            data = r.read()
        except Exception:
            self.hc.close()
            self.hc = None
            raise
        if r.will_close:
            self.hc.close()
            self.hc = None
        return r, data

    def one(self, kind, method, path, want, body=None, headers=None):
        self.stats.count(kind)
        try:
            r, data = self.request(method, path, body, headers)
        except Exception as e:
            self.stats.error(kind, "%s: %s" % (type(e).__name__, e))
            return None, None
        if r.status not in want:
            self.stats.error(kind, "%s %s: %d %r" % (method, path, r.status,
                                                     data[:200]))
            return None, None
        return r, data

    def post(self):
        self.n += 1
        tag = "c%d-%d" % (self.k, self.n)
        body = json.dumps({"tag": tag, "n": self.n}).encode()
        self.stats.count("post")
        try:
            r, data = self.request("POST", "/things", body,
                                   {"Content-Type": "application/json"})
        except Exception as e:
            self.stats.posts[tag] = "unknown"
            self.stats.error("post", "%s: %s" % (type(e).__name__, e))
            return
        if r.status == 201:
            self.stats.posts[tag] = "ok"
            self.mine.append(json.loads(data)["data"]["id"])
            if len(self.mine) > 50:
                self.mine.pop(0)
        else:
            self.stats.posts[tag] = "unknown" if r.status == 504 else "failed"
            self.stats.error("post", "POST: %d %r" % (r.status, data[:200]))

    def put(self):
        if not self.mine:
            return self.post()
        path = "/things/%d" % self.rng.choice(self.mine)
        r, data = self.one("put", "GET", path, (200,))
        if r is None:
            return
        self.n += 1
        body = json.dumps({"tag": "c%d-%d" % (self.k, self.n),
                           "n": self.n}).encode()
        r, data = self.one("put", "PUT", path, (200,), body,
                           {"Content-Type": "application/json",
                            "If-Match": r.getheader("ETag")})
        if r is not None:
            with self.stats.lock:
                self.stats.puts_ok += 1

    def run(self):
        while not self.stopping.is_set():
            x = self.rng.random()
            if x < 0.30:
                r, data = self.one("static", "GET", "/f.txt", (200,))
                if r is not None and data != FILE:
                    self.stats.error("static", "wrong body")
            elif x < 0.35:
                r, data = self.one("gzip", "GET", "/f.txt", (200,),
                                   headers={"Accept-Encoding": "gzip"})
                if r is not None and (r.getheader("Content-Encoding")
                                      != "gzip"
                                      or gzip.decompress(data) != FILE):
                    self.stats.error("gzip", "wrong body")
            elif x < 0.40:
                r, data = self.one("template", "GET", "/page", (200,))
                if r is not None and data != PAGE:
                    self.stats.error("template", "wrong page")
            elif x < 0.55:
                self.one("rest-read", "GET", "/things?limit=5", (200,))
            elif x < 0.68:
                self.post()
            elif x < 0.73:
                self.put()
            elif x < 0.88:
                self.one("auth", "GET", "/private/f.txt", (200,),
                         headers={"Authorization": self.auth})
            elif x < 0.92:
                self.one("auth-refused", "GET", "/private/f.txt", (401,))
            else:
                r, data = self.one("metrics", "GET", "/metrics", (200,))
                if r is not None and b"cairn_http_requests_total" not in data:
                    self.stats.error("metrics", "no request counter")
        if self.hc is not None:
            self.hc.close()


def proc_status(pid):
    rss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, ValueError):
        return None
    return rss, fds


def age(pid):
    """Seconds since the process started."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return up - start / os.sysconf("SC_CLK_TCK")


def flat(values, what, failures, slack=0):
    """The median of the last fifth against that of the first fifth of
    the values after the warm-up."""
    if len(values) < 10:
        failures.append("%s: only %d samples after the warm-up"
                        % (what, len(values)))
        return "?"
    k = max(2, len(values) // 5)
    first = statistics.median(values[:k])
    last = statistics.median(values[-k:])
    allowed = max(first * TOLERANCE, slack)
    ok = abs(last - first) <= allowed
    line = ("%s: %.0f -> %.0f (%+.1f %%, allowed +-%.0f), min %.0f, max %.0f"
            % (what, first, last, (last - first) * 100.0 / first
               if first else 0, allowed, min(values), max(values)))
    if not ok:
        failures.append(line)
    return line


def main():
    os.makedirs(OUT, exist_ok=True)
    log("%.0f s, reload every %.0f s, worker kill every %.0f s, samples "
        "every %.0f s, warm-up %.0f s, %d clients; output in %s"
        % (SECONDS, RELOAD_EVERY, KILL_EVERY, SAMPLE_EVERY, WARMUP, CLIENTS,
           os.path.abspath(OUT)))
    db = MariaDB(prefix="cairn-soak.")
    db.start()
    db.create_app(USER, PASSWORD, DB)
    db.sql(TABLE, database=DB)
    s = Server(modules=("static", "log", "auth", "metrics", "mysql", "rest",
                        "compress", "template"),
               workers=2, conf=CONF % {"port": db.port, "user": USER,
                                       "db": DB,
                                       "things": tagged_resource(
                                           "/things", "things")})
    s.expect_fatal = True           # the killed workers are logged
    s.write("f.txt", FILE)
    s.write("private/f.txt", FILE)
    s.write("db.pass", PASSWORD + "\n", root=s.tmp, mode=0o600)
    line = subprocess.run(["htpasswd", "-n", "-b", "-B", "-C", "5", "soak",
                           "soakpw"],
                          stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()
    s.write_tmp("htpasswd", line + "\n")
    s.write_tmp("templates/page.tpl", PAGE_TPL)
    s.write_tmp("site.json", json.dumps(PAGE_DATA))
    s.start()
    master = s.pid
    s.wait_workers(2)

    stats = Stats()
    stopping = threading.Event()
    clients = [Client(k, s.port, stats, stopping) for k in range(CLIENTS)]
    kills = []                      # (time, pid, connections held)
    reloads = 0
    samples = open(os.path.join(OUT, "samples.csv"), "w", newline="")
    series = open(os.path.join(OUT, "series.csv"), "w", newline="")
    sw = csv.writer(samples)
    sw.writerow(["t", "role", "pid", "rss_kb", "fds"])
    tw = csv.writer(series)
    tw.writerow(["t", "master_rss_kb", "worker_rss_kb", "master_fds",
                 "worker_fds", "workers"])
    rows = []                       # (t, master rss, worker rss, fds, fds)

    t0 = time.monotonic()
    for c in clients:
        c.start()
    next_sample = t0
    next_reload = t0 + RELOAD_EVERY
    next_kill = t0 + KILL_EVERY
    next_report = t0 + 60
    try:
        while time.monotonic() - t0 < SECONDS:
            now = time.monotonic()
            if not s.alive():
                raise RuntimeError("cairnd died:\n" + s.log_tail())
            if now >= next_sample:
                next_sample += SAMPLE_EVERY
                t = now - t0
                m = proc_status(master)
                ws = []
                for pid in children_of(master):
                    # A reload's configuration check is a short-lived
                    # child too: workers are the ones past a second.
                    if age(pid) < 1.0:
                        continue
                    st = proc_status(pid)
                    if st is not None:
                        ws.append((pid, st))
                        sw.writerow(["%.1f" % t, "worker", pid, st[0],
                                     st[1]])
                if m is not None:
                    sw.writerow(["%.1f" % t, "master", master, m[0], m[1]])
                if m is not None and ws:
                    wr = statistics.median(x[1][0] for x in ws)
                    wf = statistics.median(x[1][1] for x in ws)
                    tw.writerow(["%.1f" % t, m[0], wr, m[1], wf, len(ws)])
                    rows.append((t, m[0], wr, m[1], wf))
                samples.flush()
                series.flush()
            if now >= next_reload:
                next_reload += RELOAD_EVERY
                s.signal(signal.SIGHUP)
                reloads += 1
            if now >= next_kill:
                next_kill += KILL_EVERY
                ws = [p for p in children_of(master) if age(p) >= 1.0]
                if ws:
                    victim = random.choice(ws)
                    os.kill(victim, signal.SIGSTOP)
                    held = established_connections(victim, s.port)
                    os.kill(victim, signal.SIGKILL)
                    kills.append((time.monotonic(), victim, held))
            if now >= next_report:
                next_report += 60
                log("%.0f s: %d requests, %d errors, %d reloads, %d kills"
                    % (now - t0, sum(stats.counts.values()),
                       len(stats.errors), reloads, len(kills)))
            time.sleep(0.05)
    finally:
        stopping.set()
        for c in clients:
            c.join(30)
        samples.close()
        series.close()

    failures = []
    # Errors: those near a kill count against what the victim held.
    unexplained = []
    by_kill = {k: 0 for k in range(len(kills))}
    for t, kind, what in stats.errors:
        for i, (kt, pid, held) in enumerate(kills):
            if kt - 1.0 <= t <= kt + 5.0:
                by_kill[i] += 1
                break
        else:
            unexplained.append((t - t0, kind, what))
    for i, (kt, pid, held) in enumerate(kills):
        if by_kill[i] > held:
            failures.append("the kill of worker %d at %.0f s: %d failed "
                            "requests, it held %d connections"
                            % (pid, kt - t0, by_kill[i], held))
    if unexplained:
        failures.append("%d failed requests outside the kills, e.g. %s"
                        % (len(unexplained), unexplained[:5]))

    # The table against the acknowledged writes.
    got = {t: int(n) for t, n in db.sql(
        "SELECT tag, COUNT(*) FROM things WHERE tag LIKE 'c%-%' "
        "GROUP BY tag", database=DB)}
    # Tags rewritten by PUTs are also c<k>-<n>: each n is used once per
    # client, by a POST or by a PUT, so a row's current tag names either
    # its POST or a PUT of its client.
    posted = stats.posts
    nrows = int(db.value("SELECT COUNT(*) FROM things", database=DB))
    acked = sum(1 for o in posted.values() if o == "ok")
    unknown = sum(1 for o in posted.values() if o == "unknown")
    if not acked <= nrows <= acked + unknown:
        failures.append("%d rows for %d acknowledged POSTs and %d with an "
                        "unknown outcome" % (nrows, acked, unknown))
    dup = [t for t, n in got.items() if n > 1]
    if dup:
        failures.append("tags written twice: %s" % dup[:10])

    # Flat after the warm-up.
    after = [r for r in rows if r[0] >= WARMUP]
    flats = [
        flat([r[1] for r in after], "master RSS (KiB)", failures),
        flat([r[2] for r in after], "worker RSS (KiB, median)", failures),
        flat([r[3] for r in after], "master fds", failures, slack=2),
        flat([r[4] for r in after], "worker fds (median)", failures,
             slack=CLIENTS + 2),
    ]

    total = sum(stats.counts.values())
    with open(os.path.join(OUT, "summary.txt"), "w") as f:
        def out(text):
            print(text)
            f.write(text + "\n")
        out("duration        %.0f s (warm-up %.0f s)" % (SECONDS, WARMUP))
        out("requests        %d (%.0f/s): %s"
            % (total, total / SECONDS, dict(sorted(stats.counts.items()))))
        out("errors          %d, %d of them at the %d worker kill(s) "
            "(connections held: %s)"
            % (len(stats.errors), sum(by_kill.values()), len(kills),
               [k[2] for k in kills]))
        out("reloads         %d" % reloads)
        out("rows            %d; POSTs acknowledged %d, unknown %d, failed "
            "%d; PUTs acknowledged %d"
            % (nrows, acked, unknown,
               sum(1 for o in posted.values() if o == "failed"),
               stats.puts_ok))
        for line in flats:
            out(line)
        out("result          %s" % ("FAIL" if failures else "ok"))
        for line in failures:
            out("  " + line)
    s.stop()
    shutil.copy(s.log_path, os.path.join(OUT, "cairnd-error.log"))
    db.cleanup()
    cairntest._cleanup_all()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
