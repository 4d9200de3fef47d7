"""mod_metrics: /metrics in the Prometheus text format (exact counts over
several workers, histograms, reloads, promtool, a real Prometheus
scraping it), hook timing with HookWarnTime, and the /status page."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from cairntest import (Server, check, contains, eq, fail, free_port, main,
                       module_path, need_modules, shared, skip, slow_factor,
                       test, version_h, TESTMODULEDIR, TMP_PREFIX, _clip, at_end,
                       not_contains)

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

METRICS_CONF = """
<Location /metrics>
    Metrics on
</Location>
<Location /status>
    Status on
</Location>
"""

if module_path("metrics") is None:
    print("1..0 # SKIP mod_metrics was not built")
    sys.exit(77)
need_modules("static")


# ----------------------------------------------------------------------
# The text format
# ----------------------------------------------------------------------

SAMPLE_RE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_labels(text):
    labels = {}
    pos = 0
    text = text or ""
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if m is None:
            fail("bad label set {%s}" % text)
        value = (m.group(2).replace('\\"', '"').replace("\\n", "\n")
                 .replace("\\\\", "\\"))
        labels[m.group(1)] = value
        pos = m.end()
    return labels


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return float("inf")
    if s == "-Inf":
        return float("-inf")
    return float(s)


def parse_metrics(text):
    """The samples of an exposition as a list of (name, labels, value),
    and the TYPE of each family as a dict."""
    samples = []
    types = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE_RE.match(line)
        if m is None:
            fail("bad sample line %r" % line)
        samples.append((m.group(1), parse_labels(m.group(3)),
                        parse_value(m.group(4))))
    return samples, types


def value(samples, name, **labels):
    """The value of the one sample name{labels} (labels must match
    exactly), or None."""
    for n, l, v in samples:
        if n == name and l == labels:
            return v
    return None


def total(samples, name, **labels):
    """The sum of every sample of name whose labels include labels."""
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == x for k, x in labels.items()))


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------

def metrics_server(workers=2, conf="", modules=("static", "metrics")):
    s = Server(conf=METRICS_CONF + conf, modules=modules, workers=workers)
    s.write("index.html", "hello\n")
    s.start()
    return s


class Scraper:
    """Fetches /metrics and counts its own fetches: each one is a
    GET answered 200 that shows up in the next exposition."""

    def __init__(self, server):
        self.server = server
        self.fetches = 0

    def fetch(self):
        r = self.server.get("/metrics")
        eq(r.status, 200, "status of GET /metrics")
        self.fetches += 1
        return r.text

    def samples(self):
        return parse_metrics(self.fetch())[0]

    def wait(self, what, cond, timeout=5.0):
        """Fetches until cond(samples, fetches before this one) holds:
        the log phase of a request may still be running when its client
        has the last byte."""
        deadline = time.monotonic() + timeout * slow_factor()
        while True:
            before = self.fetches
            samples = self.samples()
            if cond(samples, before):
                return samples
            if time.monotonic() > deadline:
                fail("%s never held; last exposition:\n%s"
                     % (what, _clip("\n".join(
                         "%s%s %s" % (n, l, v) for n, l, v in samples))))
            time.sleep(0.05)


def parallel_gets(server, path, n, threads=8, want=200):
    """n GETs of path, each on its own connection, from several
    threads so that every worker gets some."""
    errors = []
    counter = {"left": n}
    lock = threading.Lock()

    def run():
        while True:
            with lock:
                if counter["left"] == 0:
                    return
                counter["left"] -= 1
            try:
                r = server.get(path)
                if r.status != want:
                    errors.append("GET %s answered %d" % (path, r.status))
            except Exception as e:
                errors.append("GET %s: %s" % (path, e))

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "; ".join(errors[:5]))


def hist_series(samples, name):
    """Histogram series of a family: {frozen labels without le:
    {"buckets": [(le, v)], "count": v, "sum": v}}."""
    out = {}
    for n, l, v in samples:
        if n not in (name + "_bucket", name + "_count", name + "_sum"):
            continue
        key = tuple(sorted((k, x) for k, x in l.items() if k != "le"))
        h = out.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if n.endswith("_bucket"):
            h["buckets"].append((parse_value(l["le"]), v))
        elif n.endswith("_count"):
            h["count"] = v
        else:
            h["sum"] = v
    return out


def check_histogram(samples, name):
    series = hist_series(samples, name)
    check(series, "no series of histogram %s" % name)
    for key, h in series.items():
        where = "%s%s" % (name, dict(key))
        b = h["buckets"]
        check(b, "%s has no buckets" % where)
        les = [le for le, _ in b]
        eq(les, sorted(les), "bucket bounds of %s in order" % where)
        eq(les[-1], float("inf"), "last bucket of %s" % where)
        counts = [v for _, v in b]
        for a, c in zip(counts, counts[1:]):
            check(a <= c, "buckets of %s not monotone: %s" % (where, b))
        check(h["count"] is not None, "%s has no _count" % where)
        check(h["sum"] is not None, "%s has no _sum" % where)
        eq(counts[-1], h["count"], "+Inf bucket of %s vs _count" % where)
    return series


# ----------------------------------------------------------------------
# /metrics
# ----------------------------------------------------------------------

def shared_server():
    return shared("metrics", lambda: metrics_server(workers=2))


@test
def test_content_type_and_methods():
    s = shared_server()
    r = s.get("/metrics")
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), CONTENT_TYPE, "Content-Type")
    contains(r.text, "# TYPE cairn_http_requests_total counter")
    contains(r.text, "# TYPE cairn_http_request_duration_seconds histogram")

    h = s.head("/metrics")
    eq(h.status, 200, "status of HEAD")
    eq(h.body, b"", "body of HEAD")
    eq(h.header("Content-Type"), CONTENT_TYPE, "Content-Type of HEAD")

    for method in ("POST", "DELETE", "PUT"):
        r = s.request(method, "/metrics", body=b"x")
        eq(r.status, 405, "status of %s /metrics" % method)
        eq(r.header("Allow"), "GET, HEAD", "Allow of %s" % method)
        r = s.request(method, "/status", body=b"x")
        eq(r.status, 405, "status of %s /status" % method)
        eq(r.header("Allow"), "GET, HEAD", "Allow of %s /status" % method)

    # Elsewhere the module declines.
    eq(s.get("/index.html").status, 200, "status of a static file")
    eq(s.get("/nothing-here").status, 404, "status of a missing file")


@test
def test_exact_request_count_over_two_workers():
    s = metrics_server(workers=2)
    sc = Scraper(s)
    s.wait_workers(2)
    n = 120
    parallel_gets(s, "/index.html", n)
    want = lambda smp, before: value(
        smp, "cairn_http_requests_total", method="GET", code="200") == (
            n + before)
    samples = sc.wait("GET 200 count == %d + /metrics fetches" % n, want)
    eq(value(samples, "cairn_workers"), 2, "cairn_workers")
    check(value(samples, "cairn_connections_accepted_total") >= n + 1,
          "cairn_connections_accepted_total below %d" % (n + 1))
    eq(value(samples, "cairn_http_requests_in_flight"), 1,
       "cairn_http_requests_in_flight (the scrape itself)")
    check(total(samples, "cairn_http_sent_bytes_total") > 0,
          "no bytes sent counted")
    check(total(samples, "cairn_http_received_bytes_total") > 0,
          "no bytes received counted")

    # Other codes and methods are counted apart.
    parallel_gets(s, "/missing", 7, want=404)
    for _ in range(3):
        eq(s.head("/index.html").status, 200, "status of HEAD")
    sc.wait("GET 404 == 7 and HEAD 200 == 3",
            lambda smp, before: (
                value(smp, "cairn_http_requests_total", method="GET",
                      code="404") == 7
                and value(smp, "cairn_http_requests_total", method="HEAD",
                          code="200") == 3
                and value(smp, "cairn_http_requests_total", method="GET",
                          code="200") == n + before))


@test
def test_histograms():
    s = shared_server()
    parallel_gets(s, "/index.html", 20)
    samples = parse_metrics(s.get("/metrics").text)[0]
    series = check_histogram(samples, "cairn_http_request_duration_seconds")
    n = sum(h["count"] for h in series.values())
    check(n >= 20, "%r request durations observed, want >= 20" % n)
    check_histogram(samples, "cairn_hook_duration_seconds")


@test
def test_module_info():
    s = shared_server()
    samples = parse_metrics(s.get("/metrics").text)[0]
    mods = {l.get("module"): l.get("version") for n, l, v in samples
            if n == "cairn_module_info" and v == 1}
    eq(mods.get("metrics"), version_h()[0],
       "cairn_module_info of metrics (the release's version)")
    check("static" in mods, "no cairn_module_info for static: %s" % mods)
    check(value(samples, "cairn_start_time_seconds") > 1e9,
          "cairn_start_time_seconds is not a Unix time")


@test
def test_reload_keeps_counters():
    s = metrics_server(workers=2)
    sc = Scraper(s)
    parallel_gets(s, "/missing", 9, want=404)
    parallel_gets(s, "/index.html", 11)
    before = sc.wait("9 GET 404 before the reload",
                     lambda smp, b: value(smp, "cairn_http_requests_total",
                                          method="GET", code="404") == 9)
    gen = value(before, "cairn_config_generation")
    check(gen is not None and gen >= 1, "cairn_config_generation %r" % gen)
    eq(value(before, "cairn_reloads_total") or 0, 0, "cairn_reloads_total")
    workers = s.wait_workers(2)

    s.signal(signal.SIGHUP)
    s.wait_workers(2, timeout=10.0, exclude=workers)
    after = sc.wait("a new configuration generation",
                    lambda smp, b: (value(smp, "cairn_config_generation")
                                    or 0) > gen,
                    timeout=10.0)
    eq(value(after, "cairn_reloads_total"), 1, "cairn_reloads_total")
    eq(value(after, "cairn_http_requests_total", method="GET", code="404"),
       9, "GET 404 after the reload")
    check(value(after, "cairn_http_requests_total", method="GET",
                code="200") >= 11,
          "GET 200 after the reload went down")

    parallel_gets(s, "/missing", 4, want=404)
    sc.wait("GET 404 == 13 after the reload",
            lambda smp, b: value(smp, "cairn_http_requests_total",
                                 method="GET", code="404") == 13)


@test
def test_promtool():
    s = shared_server()
    parallel_gets(s, "/index.html", 5)
    parallel_gets(s, "/missing", 2, want=404)
    body = s.get("/metrics").body
    if not os.access(PROMTOOL, os.X_OK):
        print("# %s is absent (Debian package prometheus): "
              "the exposition is not linted" % PROMTOOL)
        return
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    eq(p.returncode, 0, "exit status of promtool check metrics; it said:\n"
       + p.stdout.decode("utf-8", "replace") + "\nthe exposition:\n"
       + _clip(body))


# ----------------------------------------------------------------------
# A real Prometheus
# ----------------------------------------------------------------------

def _die_with_parent():
    """Runs in the Prometheus child before exec: it gets SIGKILL when
    the test process dies, however that happens."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Prometheus:
    """A Prometheus server in a temporary directory, scraping one
    target every second; stopped by pid even when a test fails."""

    live = []

    def __init__(self, target_port):
        self.tmp = tempfile.mkdtemp(prefix=TMP_PREFIX + "prom.")
        self.port = free_port()
        self.log_path = os.path.join(self.tmp, "prometheus.log")
        conf = os.path.join(self.tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: cairn\n"
                    "    metrics_path: /metrics\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % target_port)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + conf,
                 "--storage.tsdb.path=" + os.path.join(self.tmp, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--web.console.templates=" + self.tmp,
                 "--web.console.libraries=" + self.tmp],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_die_with_parent, start_new_session=True,
                cwd=self.tmp)
        Prometheus.live.append(self)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def query(self, expr):
        """The API answer to an instant query (parsed JSON), or None
        while Prometheus is not ready."""
        url = ("http://127.0.0.1:%d/api/v1/query?" % self.port
               + urllib.parse.urlencode({"query": expr}))
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.loads(resp.read().decode())
        except OSError:
            return None

    def wait(self, expr, cond, what):
        """Polls the instant query expr (one series) until cond holds
        for its value; returns the value."""
        deadline = time.monotonic() + 15.0 * slow_factor()
        last = None
        while True:
            if self.proc.poll() is not None:
                fail("prometheus exited with status %s:\n%s"
                     % (self.proc.returncode, _clip(self.log())))
            last = self.query(expr)
            if (last is not None and last.get("status") == "success"
                    and last["data"]["result"]):
                v = float(last["data"]["result"][0]["value"][1])
                if cond(v):
                    return v
            if time.monotonic() > deadline:
                fail("Prometheus never answered %s %s; last answer %r; "
                     "its log:\n%s" % (expr, what, last, _clip(self.log())))
            time.sleep(0.25)

    def stop(self):
        if self.proc is not None:
            p, self.proc = self.proc, None
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self in Prometheus.live:
            Prometheus.live.remove(self)

    @classmethod
    def stop_all(cls):
        for p in list(cls.live):
            p.stop()


at_end(Prometheus.stop_all)


@test
def test_prometheus_scrapes():
    if not os.access(PROMETHEUS, os.X_OK):
        skip("%s is absent (Debian package prometheus)" % PROMETHEUS)
    s = metrics_server(workers=2)
    m = 17
    parallel_gets(s, "/missing", m, want=404)
    prom = Prometheus(s.port)
    try:
        # Requests the test made: 404 is a code the scrapes never get.
        prom.wait('sum(cairn_http_requests_total{job="cairn",code="404"})',
                  lambda v: v == m, "== %d" % m)
        eq(prom.wait('up{job="cairn"}', lambda v: v == 1, "== 1"), 1,
           "up of the target")
        # A scrape is counted as a GET 200, seen by the next scrape.
        prom.wait('sum(cairn_http_requests_total{job="cairn",'
                  'method="GET",code="200"})', lambda v: v >= 1, ">= 1")
    finally:
        prom.stop()


# ----------------------------------------------------------------------
# Hook timing
# ----------------------------------------------------------------------

@test
def test_slow_hook_is_named():
    check(module_path("test_busy") is not None,
          "mod_test_busy.so is missing from %s" % TESTMODULEDIR)
    s = metrics_server(workers=1, conf="HookWarnTime 20ms\n",
                       modules=("static", "metrics", "test_busy"))
    r = s.get("/busy?ms=60")
    eq(r.status, 200, "status of GET /busy?ms=60\n" + r.describe())
    m = s.wait_log(r"^.*\[warn\].*test_busy.*$")
    line = m.group(0)
    contains(line, "handler", "the slow-hook warning")
    rid = re.search(r"\[req ([0-9a-f]+)\]", line)
    check(rid is not None, "no request id in the warning: %s" % line)
    echoed = r.header("X-Request-Id")
    if echoed is not None:
        eq(rid.group(1), echoed, "request id of the warning")

    samples = parse_metrics(s.get("/metrics").text)[0]
    series = check_histogram(samples, "cairn_hook_duration_seconds")
    key = (("hook", "handler"), ("module", "test_busy"))
    check(key in series, "no cairn_hook_duration_seconds series for "
          "test_busy/handler: %s" % list(series))
    h = series[key]
    check(h["count"] >= 1, "count of test_busy/handler is %r" % h["count"])
    check(h["sum"] >= 0.05, "sum of test_busy/handler is %r" % h["sum"])
    # Nothing at or below 50 ms, the one call in a bucket above it.
    below = [v for le, v in h["buckets"] if le <= 0.05]
    above = [v for le, v in h["buckets"] if le > 0.05]
    check(all(v == 0 for v in below),
          "a 60 ms call counted at or below 0.05 s: %s" % h["buckets"])
    check(above and above[0] >= 1,
          "the 60 ms call is in no bucket above 0.05 s: %s" % h["buckets"])


# ----------------------------------------------------------------------
# /status
# ----------------------------------------------------------------------

@test
def test_status_page():
    s = shared_server()
    s.wait_workers(2)
    parallel_gets(s, "/index.html", 3)

    r = s.get("/status?format=json")
    eq(r.status, 200, "status of /status?format=json")
    check(r.header("Content-Type").startswith("application/json"),
          "Content-Type %r" % r.header("Content-Type"))
    doc = json.loads(r.text)
    eq(doc["workers"], 2, "workers")
    check(doc["requests"]["total"] >= 3, "requests.total %r"
          % doc["requests"]["total"])
    check(doc["connections"]["open"] >= 1, "connections.open %r"
          % doc["connections"]["open"])
    check(doc["uptime_seconds"] >= 0, "uptime_seconds")
    mods = {x["name"]: x["version"] for x in doc["modules"]}
    eq(mods.get("metrics"), version_h()[0],
       "version of metrics")
    check("static" in mods, "static missing from %s" % mods)

    h = s.get("/status")
    eq(h.status, 200, "status of /status")
    check(h.header("Content-Type").startswith("text/html"),
          "Content-Type %r" % h.header("Content-Type"))
    for name, version in mods.items():
        contains(h.text, "<td>%s</td><td>%s</td>" % (name, version),
                 "the status page")
    contains(h.text, "<th>workers</th><td>2</td>", "the status page")
    contains(h.text, "uptime", "the status page")

    hd = s.head("/status")
    eq(hd.status, 200, "status of HEAD /status")
    eq(hd.body, b"", "body of HEAD /status")
    not_contains(h.text, "stylesheet", "the status page without "
                 "StatusStylesheet")


@test
def test_status_stylesheet():
    s = Server("LoadModule metrics\n"
               "<Location /status>\n    Status on\n"
               "    StatusStylesheet /css/site.css?a=1&b=<2>\n"
               "</Location>\n")
    s.start()
    r = s.get("/status")
    eq(r.status, 200, "status of /status")
    contains(r.text, '<link rel="stylesheet" href="/css/site.css?a=1&amp;'
             'b=&lt;2&gt;">\n</head>', "the status page's head")
    r = s.get("/status?format=json")
    eq(r.status, 200, "status of /status?format=json")
    json.loads(r.text)


if __name__ == "__main__":
    main()
