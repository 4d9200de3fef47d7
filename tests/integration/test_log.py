#!/usr/bin/env python3
"""mod_log: access log formats, trace context, buffering and reopening."""

import grp
import json
import os
import pwd
import re
import signal
import sys
import threading
import time

from cairntest import (Conn, Server, check, config_error, contains, eq, fail,
                       main, matches, module_path, skip, slow_factor, test)

if module_path("log") is None:
    print("1..0 # SKIP mod_log was not built")
    sys.exit(77)

COMBINED_RE = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) '
    r'"([^"]*)" "([^"]*)"$')
CLF_TIME_RE = re.compile(
    r"^\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}"
    r":\d\d:\d\d:\d\d \+0000$")
RFC3339_MS_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")
HEX16_RE = re.compile(r"^[0-9a-f]{16}$")

BODY = "hello, log\n"

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def log_server(conf, workers=1):
    s = Server(conf=conf, modules=("static", "log"), workers=workers)
    for name in ("index.html", "a.txt", "off/b.txt"):
        s.write(name, BODY)
    return s


def read_lines(path, n, timeout=5.0):
    """Waits until the file at path has at least n lines (the buffers
    are written at least once a second); returns them all."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, "rb") as f:
                data = f.read().decode("utf-8")
        except FileNotFoundError:
            data = ""
        lines = data.splitlines()
        if len(lines) >= n:
            check(data.endswith("\n"), "the log ends inside a line: %r"
                  % data[-200:])
            return lines
        if time.monotonic() > deadline:
            fail("want %d lines in %s, have %d:\n%s"
                 % (n, path, len(lines), data[-2000:]))
        time.sleep(0.05)


def combined(line):
    m = COMBINED_RE.match(line)
    check(m is not None, "not a combined log line: %r" % line)
    return m.groups()


def assert_clf_time(t):
    check(CLF_TIME_RE.match(t), "bad time %r" % t)
    parsed = time.strptime(t, "%d/%b/%Y:%H:%M:%S +0000")
    age = time.time() - time.mktime(parsed) + time.timezone
    check(-5 < age < 120, "time %r is %.0f s away from now" % (t, age))


@test
def test_combined_lines():
    s = log_server("AccessLog @TMP@/access.log combined\n").start()
    path = s.path("access.log")

    r = s.get("/a.txt?x=1", headers={"Referer": "http://example.com/p",
                                     "User-Agent": "tester/1.0"})
    eq(r.status, 200, "status")
    s.head("/a.txt")
    r404 = s.get("/missing", headers={"User-Agent": ""})
    with s.conn() as c:
        # No User-Agent, no Referer at all.
        c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
        c.read_response()

    lines = read_lines(path, 4)
    eq(len(lines), 4, "number of lines")

    host, ident, user, t, req, status, size, ref, ua = combined(lines[0])
    eq(host, "127.0.0.1", "%h")
    eq(ident, "-", "%l")
    eq(user, "-", "%u")
    assert_clf_time(t)
    eq(req, "GET /a.txt?x=1 HTTP/1.1", "%r")
    eq(status, "200", "%>s")
    eq(size, str(len(BODY)), "%b of a file")
    eq(ref, "http://example.com/p", "Referer")
    eq(ua, "tester/1.0", "User-Agent")

    g = combined(lines[1])
    eq(g[4], "HEAD /a.txt HTTP/1.1", "%r of HEAD")
    eq(g[5], "200", "status of HEAD")
    eq(g[6], "-", "%b of HEAD")

    g = combined(lines[2])
    eq(g[4], "GET /missing HTTP/1.1", "%r of the 404")
    eq(g[5], "404", "status of the 404")
    # A body from memory is counted exactly.
    eq(g[6], str(len(r404.body)), "%b of the 404")
    eq(g[7], "-", "empty Referer")
    eq(g[8], "-", "empty User-Agent")

    g = combined(lines[3])
    eq(g[4], "GET /a.txt HTTP/1.0", "%r of HTTP/1.0")
    eq((g[7], g[8]), ("-", "-"), "absent Referer and User-Agent")


@test
def test_combined_escapes_quotes():
    s = log_server("AccessLog @TMP@/access.log combined\n").start()
    s.get("/a.txt", headers={"User-Agent": 'say "hi" \\ bye'})
    line = read_lines(s.path("access.log"), 1)[0]
    contains(line, '"say \\"hi\\" \\\\ bye"', "log line")


@test
def test_json_lines():
    s = log_server("AccessLog @TMP@/access.json json\n").start()
    r = s.get("/a.txt?q=%C3%A9&b=2",
              headers={"User-Agent": "json \"agent\" \u00e9".encode()
                       .decode("latin-1"),
                       "Referer": "http://r/"})
    eq(r.status, 200, "status")
    s.get("/missing")

    lines = read_lines(s.path("access.json"), 2)
    eq(len(lines), 2, "number of lines")
    o = json.loads(lines[0])
    check(RFC3339_MS_RE.match(o["timestamp"]), "timestamp %r"
          % o["timestamp"])
    eq(o["level"], "info", "level")
    check(HEX32_RE.match(o["trace_id"]), "trace_id %r" % o["trace_id"])
    check(HEX16_RE.match(o["span_id"]), "span_id %r" % o["span_id"])
    eq(o["trace_id"], r.header("X-Request-Id"), "trace_id = X-Request-Id")
    eq(o["method"], "GET", "method")
    eq(o["path"], "/a.txt", "path")
    eq(o["query"], "q=%C3%A9&b=2", "query")
    eq(o["protocol"], "HTTP/1.1", "protocol")
    eq(o["status"], 200, "status")
    check(isinstance(o["bytes_sent"], int)
          and o["bytes_sent"] > len(BODY), "bytes_sent %r" % o["bytes_sent"])
    check(isinstance(o["duration_us"], int) and o["duration_us"] >= 0,
          "duration_us %r" % o["duration_us"])
    eq(o["remote_addr"], "127.0.0.1", "remote_addr")
    eq(o["user"], None, "user")
    eq(o["user_agent"], 'json "agent" \u00e9', "user_agent")
    eq(o["referer"], "http://r/", "referer")
    check(o["pid"] in s.children(), "pid %r is not a worker's" % o["pid"])

    o = json.loads(lines[1])
    eq((o["path"], o["query"], o["status"]), ("/missing", None, 404),
       "second line")
    eq((o["user_agent"], o["referer"]), (None, None), "absent headers")


@test
def test_body_bytes_exact():
    """%b, %B and bytes_sent for bodies from memory, from a file sent
    with sendfile, streamed in chunks, and for HEAD."""
    s = Server(conf='LogFormat sizes "%U %>s %b %B"\n'
                    "AccessLog @TMP@/sizes.log sizes\n"
                    "AccessLog @TMP@/sizes.json json\n",
               modules=("static", "log", "test_async"))
    big = "x" * (3 * 1024 * 1024 + 7)
    s.write("big.bin", big)
    s.write("a.txt", BODY)
    s.start()
    eq(len(s.get("/big.bin").body), len(big), "big body")
    eq(s.get("/a.txt").status, 200, "small file")
    r = s.get("/stream?n=3&ms=1")
    eq(r.body, b"chunk 1\nchunk 2\nchunk 3\n", "streamed body")
    eq(s.head("/a.txt").status, 200, "HEAD")

    lines = read_lines(s.path("sizes.log"), 4)
    want = ["/big.bin 200 %d %d" % (len(big), len(big)),
            "/a.txt 200 %d %d" % (len(BODY), len(BODY)),
            "/stream 200 24 24",
            "/a.txt 200 - 0"]
    eq(lines, want, "sizes")

    objs = [json.loads(x) for x in read_lines(s.path("sizes.json"), 4)]
    check(objs[0]["bytes_sent"] > len(big), "bytes_sent counts headers: %r"
          % objs[0]["bytes_sent"])
    check(0 < objs[3]["bytes_sent"] < 400, "bytes_sent of HEAD %r"
          % objs[3]["bytes_sent"])


@test
def test_traceparent_continued():
    s = log_server("AccessLog @TMP@/access.json json\n").start()
    tp = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
    r = s.get("/a.txt", headers={"traceparent": tp})
    eq(r.status, 200, "status")
    eq(r.header("X-Request-Id"), TRACE_ID, "X-Request-Id")
    echoed = r.header("traceparent")
    check(echoed is not None, "no traceparent in the response")
    m = matches(echoed, r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$",
                "echoed traceparent")
    eq(m.group(1), TRACE_ID, "trace id of the echoed traceparent")
    check(m.group(2) != PARENT_ID, "the span id was not renewed")

    o = json.loads(read_lines(s.path("access.json"), 1)[0])
    eq(o["trace_id"], TRACE_ID, "trace_id in the log")
    eq(o["span_id"], m.group(2), "span_id in the log")


@test
def test_error_log_json_has_trace_ids():
    s = Server(conf="ErrorLogFormat json\nLogLevel notice\n",
               modules=("static", "log", "test_hooks")).start()
    tp = "00-%s-%s-01" % (TRACE_ID, PARENT_ID)
    r = s.get("/hooks/x", headers={"traceparent": tp})
    eq(r.status, 200, "status")
    deadline = time.monotonic() + 5
    while True:
        objs = []
        for line in s.log().splitlines():
            if line.startswith("{"):
                objs.append(json.loads(line))
        hits = [o for o in objs if "test_hooks phases" in o.get("message", "")]
        if hits or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    check(objs, "no JSON line in the error log:\n" + s.log_tail())
    check(hits, "no JSON line from mod_test_hooks:\n" + s.log_tail())
    o = hits[0]
    eq(o["trace_id"], TRACE_ID, "trace_id of the error log line")
    matches(o["span_id"], r"^[0-9a-f]{16}$", "span_id")
    eq(o["module"], "mod_test_hooks", "module")
    eq(o["level"], "notice", "level")
    matches(o["timestamp"], RFC3339_MS_RE.pattern, "timestamp")
    check(isinstance(o["pid"], int), "pid is a number")
    check(o.get("request_id"), "request_id")


@test
def test_error_log_json_is_utf8():
    """A message carrying bytes that are not UTF-8 (a path with %FF) is
    still one valid JSON object per line, the bad byte as U+FFFD."""
    s = Server(conf="ErrorLogFormat json\nLogLevel debug\n",
               modules=("static",))
    os.mkdir(os.path.join(s.docroot.encode(), b"d\xff"))
    s.start()
    r = s.get("/d%ff/")
    eq(r.status, 403, "a directory without an index")
    deadline = time.monotonic() + 5
    while True:
        with open(s.log_path, "rb") as f:
            raw = f.read()
        if b"no DirectoryIndex" in raw or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    hits = []
    for line in raw.splitlines():
        if not line.startswith(b"{"):
            continue
        text = line.decode("utf-8")     # strict: fails on a raw 0xff
        o = json.loads(text)
        if "no DirectoryIndex" in o.get("message", ""):
            hits.append(o)
    check(hits, "no JSON line about the directory:\n" + s.log_tail())
    contains(hits[0]["message"], "d\ufffd", "the bad byte as U+FFFD")


@test
def test_traceparent_invalid():
    s = log_server("AccessLog @TMP@/access.json json\n").start()
    bad = [
        "01-%s-%s-01" % (TRACE_ID, PARENT_ID),          # version
        "00-%s-%s-01" % ("0" * 32, PARENT_ID),          # zero trace id
        "00-%s-%s-01" % (TRACE_ID, "0" * 16),           # zero parent
        "00-%s-%s-01" % (TRACE_ID.upper(), PARENT_ID),  # upper case
        "00-%s-%s-1" % (TRACE_ID, PARENT_ID),           # short flags
        "00-%s-%s-01-x" % (TRACE_ID, PARENT_ID),        # trailing data
        "garbage",
    ]
    ids = set()
    for tp in bad:
        r = s.get("/a.txt", headers={"traceparent": tp})
        rid = r.header("X-Request-Id")
        check(rid is not None and HEX32_RE.match(rid),
              "X-Request-Id %r for %r" % (rid, tp))
        check(rid != TRACE_ID, "invalid traceparent %r was continued" % tp)
        eq(r.header("traceparent"), None, "traceparent echoed for %r" % tp)
        ids.add(rid)
    eq(len(ids), len(bad), "distinct fresh trace ids")
    r = s.get("/a.txt")
    check(r.header("X-Request-Id") not in ids, "trace id repeated")

    lines = read_lines(s.path("access.json"), len(bad) + 1)
    logged = [json.loads(l)["trace_id"] for l in lines[:len(bad)]]
    eq(set(logged), ids, "trace ids in the log")


@test
def test_custom_format():
    conf = ('LogFormat mine "%m %U%q %H %s %>s %B %b %D %T %l %u '
            '%{X-Test}i %{Content-Type}o %{trace_id}n %{span_id}n 100%%"\n'
            "AccessLog @TMP@/custom.log mine\n")
    s = log_server(conf).start()
    r = s.get("/a.txt?k=v", headers={"X-Test": "abc"})
    r405 = s.request("POST", "/missing", body="x")

    lines = read_lines(s.path("custom.log"), 2)
    f = lines[0].split(" ")
    eq(len(f), 16, "fields of %r" % lines[0])
    eq(f[0], "GET", "%m")
    eq(f[1], "/a.txt?k=v", "%U%q")
    eq(f[2], "HTTP/1.1", "%H")
    eq((f[3], f[4]), ("200", "200"), "%s %>s")
    eq((f[5], f[6]), (str(len(BODY)),) * 2, "%B and %b of a file")
    check(f[7].isdigit(), "%%D %r" % f[7])
    eq(f[8], "0", "%T")
    eq((f[9], f[10]), ("-", "-"), "%l %u")
    eq(f[11], "abc", "%{X-Test}i")
    check(f[12].startswith("text/plain"), "%%{Content-Type}o %r" % f[12])
    eq(f[13], r.header("X-Request-Id"), "%{trace_id}n")
    check(HEX16_RE.match(f[14]), "%%{span_id}n %r" % f[14])
    eq(f[15], "100%", "%%")

    f = lines[1].split(" ")
    eq((f[0], f[1], f[3]), ("POST", "/missing", "405"), "the POST")
    eq(f[11], "-", "absent request header")
    eq((f[5], f[6]), (str(len(r405.body)),) * 2, "%B %b of the 405")


@test
def test_access_log_off_in_location():
    conf = ("AccessLog @TMP@/access.log combined\n"
            "<Location /off>\n"
            "    AccessLog off\n"
            "</Location>\n"
            "<Location /more>\n"
            "    AccessLog @TMP@/more.log common\n"
            "</Location>\n")
    s = log_server(conf).start()
    eq(s.get("/off/b.txt").status, 200, "status under /off")
    s.get("/a.txt")
    s.get("/more/x")
    lines = read_lines(s.path("access.log"), 2)
    s.stop()
    lines = read_lines(s.path("access.log"), 2)
    eq(len(lines), 2, "lines in access.log:\n" + "\n".join(lines))
    eq(combined(lines[0])[4], "GET /a.txt HTTP/1.1", "first line")
    eq(combined(lines[1])[4], "GET /more/x HTTP/1.1", "second line")
    more = read_lines(s.path("more.log"), 1)
    eq(len(more), 1, "lines in more.log")
    matches(more[0], r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /more/x HTTP/1\.1" '
            r'404 \d+$', "common line")


@test
def test_two_logs():
    conf = ("AccessLog @TMP@/one.log combined\n"
            "AccessLog @TMP@/two.json json\n")
    s = log_server(conf).start()
    for i in range(5):
        s.get("/a.txt?i=%d" % i)
    s.stop()
    one = read_lines(s.path("one.log"), 5)
    two = read_lines(s.path("two.json"), 5)
    eq((len(one), len(two)), (5, 5), "lines in both logs")
    for i in range(5):
        eq(combined(one[i])[4], "GET /a.txt?i=%d HTTP/1.1" % i, "combined")
        eq(json.loads(two[i])["query"], "i=%d" % i, "json")


@test
def test_reopen_on_sigusr1():
    s = log_server("AccessLog @TMP@/access.log combined\n",
                   workers=2).start()
    path = s.path("access.log")
    for i in range(10):
        s.get("/a.txt?before=%d" % i)
    os.rename(path, path + ".1")
    for i in range(10):
        # Still buffered or written to the renamed file: never lost.
        s.get("/a.txt?between=%d" % i)
    s.signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not os.path.exists(path):
        check(time.monotonic() < deadline, "SIGUSR1 did not create %s"
              % path)
        time.sleep(0.05)
    time.sleep(0.3)
    for i in range(10):
        s.get("/a.txt?after=%d" % i)
    eq(s.stop(), 0, "exit status")

    old = read_lines(path + ".1", 20)
    new = read_lines(path, 10)
    reqs_old = [combined(l)[4] for l in old]
    reqs_new = [combined(l)[4] for l in new]
    eq(len(reqs_old), 20, "lines in the renamed file")
    eq(len(reqs_new), 10, "lines in the new file")
    check(all("after" not in q for q in reqs_old), "late lines in the old "
          "file")
    eq(sorted(reqs_new), sorted("GET /a.txt?after=%d HTTP/1.1" % i
                                for i in range(10)), "the new file")


def rotation_server():
    """Two workers running as nobody, writing their error and access logs
    under a directory only root may write (the way /var/log/cairn is)."""
    if os.geteuid() != 0:
        skip("needs root to run the workers as another user")
    try:
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrnam("nogroup")
    except KeyError:
        skip("no user nobody or group nogroup")
    s = log_server("User nobody\nGroup nogroup\n"
                   "ErrorLog @TMP@/logs/error.log\n"
                   "AccessLog @TMP@/logs/access.log combined\n", workers=2)
    os.mkdir(s.path("logs"), 0o755)
    for p in (s.tmp, s.docroot):
        os.chmod(p, 0o755)
    os.chmod(os.path.join(s.docroot, "a.txt"), 0o644)
    return s, nobody, nogroup


def rotate_and_check(s, nobody, want_gid, recreate):
    """Serves requests, rotates both logs (renaming them, then creating
    root-owned 0640 files in their place like logrotate's `create 0640
    root root`, or leaving nothing in a directory the workers may not
    write), sends SIGUSR1 and serves more: the new files get the new
    lines, belong to the workers' user, and the old ones keep the rest."""
    access = s.path("logs/access.log")
    error = s.path("logs/error.log")
    s.start()
    s.wait_workers(2)
    for i in range(10):
        eq(s.get("/a.txt?before=%d" % i).status, 200, "GET before")
    for p in (access, error):
        os.rename(p, p + ".1")
        if recreate:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
            os.chown(p, 0, 0)
            os.chmod(p, 0o640)
    s.signal(signal.SIGUSR1)

    # Each worker says it reopened, in the new error log.
    deadline = time.monotonic() + 5 * slow_factor()
    while True:
        try:
            text = open(error).read()
        except FileNotFoundError:
            text = ""
        if text.count("SIGUSR1: logs reopened") >= 2:
            break
        check(time.monotonic() < deadline, "both workers did not log "
              "'SIGUSR1: logs reopened' to the new error log:\n%s\n"
              "--- the old one:\n%s" % (text, open(error + ".1").read()))
        time.sleep(0.05)

    for i in range(10):
        eq(s.get("/a.txt?after=%d" % i).status, 200, "GET after")
    new = read_lines(access, 10)
    eq(s.stop(), 0, "exit status")

    old = read_lines(access + ".1", 10)
    eq(sorted(combined(l)[4] for l in old),
       sorted("GET /a.txt?before=%d HTTP/1.1" % i for i in range(10)),
       "the rotated access log")
    eq(sorted(combined(l)[4] for l in read_lines(access, 10)),
       sorted("GET /a.txt?after=%d HTTP/1.1" % i for i in range(10)),
       "the new access log")
    check(len(new) == 10, "lines in the new access log")
    contains(open(error + ".1").read(), "listening on",
             "the rotated error log")
    text = open(error).read()
    check("cannot reopen" not in text and "Permission denied" not in text,
          "a process could not reopen a log:\n%s" % text)
    for p in (access, error):
        st = os.stat(p)
        eq((st.st_uid, st.st_gid), (nobody.pw_uid, want_gid), "owner of %s"
           % os.path.basename(p))
        check(st.st_mode & 0o600 == 0o600, "%s is not readable and "
              "writable by its owner: %o" % (p, st.st_mode))


@test
def test_rotation_create_root_owned():
    s, nobody, _ = rotation_server()
    rotate_and_check(s, nobody, 0, recreate=True)


@test
def test_rotation_into_root_directory():
    s, nobody, nogroup = rotation_server()
    rotate_and_check(s, nobody, nogroup.gr_gid, recreate=False)


@test
def test_thousand_requests_two_workers():
    s = log_server("AccessLog @TMP@/access.log combined\n",
                   workers=2).start()
    errors = []

    def keepalive(k):
        try:
            with Conn(s.port) as c:
                for i in range(250):
                    r = c.request("GET", "/a.txt?ka=%d-%d" % (k, i))
                    if r.status != 200:
                        errors.append(r.status)
        except Exception as e:
            errors.append(repr(e))

    def fresh(k):
        try:
            for i in range(250):
                r = s.get("/a.txt?new=%d-%d" % (k, i))
                if r.status != 200:
                    errors.append(r.status)
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=keepalive, args=(k,))
               for k in range(2)]
    threads += [threading.Thread(target=fresh, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq(errors, [], "client errors")
    eq(s.stop(), 0, "exit status after SIGTERM")

    with open(s.path("access.log"), "rb") as f:
        data = f.read().decode("utf-8")
    check(data.endswith("\n"), "the log ends inside a line")
    lines = data.splitlines()
    eq(len(lines), 1000, "lines after a graceful stop")
    targets = set()
    for line in lines:
        g = combined(line)
        eq(g[5], "200", "status in %r" % line)
        targets.add(g[4])
    eq(len(targets), 1000, "distinct requests")


@test
def test_bad_config():
    config_error('LogFormat broken "%h %Z"\n',
                 ['unknown code "%Z"'], line_of="LogFormat",
                 modules=("log",), start=False)
    config_error('AccessLog @TMP@/a.log "%{Referer}"\n',
                 ['ends inside a "%" code'], line_of="AccessLog",
                 modules=("log",), start=False)
    config_error("AccessLog @TMP@/a.log one two three\n",
                 ["AccessLog takes a path and a format"],
                 line_of="AccessLog", modules=("log",), start=False)

    # Names and files are checked once the whole file is read; the
    # message still cites the line.
    for conf, want in (
            ("AccessLog @TMP@/a.log nosuchformat\n",
             'AccessLog: no format called "nosuchformat"'),
            ("AccessLog @TMP@/nodir/a.log combined\n",
             "AccessLog: cannot open")):
        s = Server(conf=conf, modules=("log",))
        p = s.run(["-t"])
        eq(p.returncode, 1, "exit status of -t")
        contains(p.stderr, "%s:%d: %s" % (s.conf_path,
                                          s.line_of("AccessLog"), want),
                 "stderr of -t")
        contains(p.stderr, "configuration test failed", "stderr of -t")


if __name__ == "__main__":
    main()
