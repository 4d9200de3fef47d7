"""The life of the server under stress: reloads while clients keep
requests flowing, a module upgraded on disk and reloaded, a broken reload
that must leave the running generation alone, worker crashes and the
quarantine of the module that caused them, a graceful stop that waits for
a slow request, log reopening that loses no line, and running out of
file descriptors or of MaxConnections without spinning."""

import http.client
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from cairntest import (SRCDIR, BUILDDIR, CAIRND, Clients, ProtocolError,
                       Server,
                       build_request, check, contains, eq, fail, main,
                       need_modules, sanitizers, skip, slow_factor,
                       socket_owner, test)

need_modules("static", "example", "test_async", "test_crash", "test_hooks")

# The body of the static file the clients fetch: big enough to be more
# than one write, small enough to be quick.
FILE_BODY = ("".join("line %04d of the file under load\n" % i
                     for i in range(100))).encode()


def poll(fn, limit=5.0, interval=0.05):
    """Calls fn until it returns a true value or limit seconds (scaled
    for sanitizer builds) pass; returns the last value."""
    deadline = time.monotonic() + limit * slow_factor()
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


def make_server(conf="", modules=("static",), workers=1, **kw):
    s = Server(modules=list(modules), conf=conf, workers=workers, **kw)
    s.write("f.txt", FILE_BODY)
    return s


def try_get(s, path, timeout=5.0):
    """GET path on a fresh connection; (status, body, X-Gen) or
    (None, error text, None) when the request failed."""
    try:
        r = s.get(path, timeout=timeout)
    except Exception as e:
        return None, "%s: %s" % (type(e).__name__, e), None
    return r.status, r.body, r.header("X-Gen")


def wait_generation(s, n, old, timeout):
    """Waits until the master has exactly n children, none of them in
    old (the workers of earlier generations all gone); returns them."""
    deadline = time.monotonic() + timeout * slow_factor()
    while True:
        kids = s.children()
        if len(kids) == n and not set(kids) & set(old):
            return kids
        if time.monotonic() > deadline:
            fail("after %.1f s the master (pid %s) has children %s; want "
                 "%d, none of the earlier %s; log tail:\n%s"
                 % (timeout, s.pid, kids, n, sorted(old), s.log_tail()))
        time.sleep(0.05)


def conn_owned_by(s, want, pids, tries=60):
    """A raw connection that the worker want has accepted (pids: every
    worker that could accept it).  SO_REUSEPORT picks the worker by the
    client's address, so this tries new connections until one lands."""
    for _ in range(tries):
        c = s.conn()
        owner = poll(lambda: socket_owner(s.port, c.sock, pids), 1.0, 0.01)
        if owner == want:
            return c
        c.close()
    fail("none of %d connections was accepted by worker %d (workers %s)"
         % (tries, want, pids))


def cpu_seconds(pid):
    """User plus system CPU time of a process (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of stat); utime and stime are
    # fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def nofile_limit(pid):
    """The soft RLIMIT_NOFILE of a process, from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        m = re.search(r"^Max open files\s+(\d+)", f.read(), re.MULTILINE)
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------------
# Reloads
# ----------------------------------------------------------------------

@test
def test_reload_under_load():
    graceful = 5.0
    s = make_server("GracefulTimeout 5s\nKeepAliveTimeout 30s\n", workers=2)
    s.start()
    original = s.wait_workers(2)
    master = s.pid
    seen = set(original)
    clients = Clients(s.port, keepalive=8, fresh=4, body=FILE_BODY).start()
    try:
        time.sleep(0.3)
        # Sampled before each signal only: the workers of the last
        # generation must not be among them.  Each reload is awaited
        # before the next signal: a SIGHUP that arrives while the master
        # is still loading the previous generation is merged with it (a
        # slow build can take longer than the half second between them).
        for gen in range(2, 7):
            seen |= set(s.children())
            s.signal(signal.SIGHUP)
            time.sleep(0.5)
            s.wait_log(r"reloaded: generation %d with 2 workers" % gen,
                       10 * slow_factor())
    finally:
        clients.stop()
    n, failed = clients.total(), len(clients.failures)
    print("# %d requests during 5 reloads, %d failed (%d answers with "
          "Connection: close, longest stall %.2f s)"
          % (n, failed, clients.closes, clients.max_stall()))
    check(failed == 0, "%d of %d requests failed during 5 reloads:\n%s\n"
          "log tail:\n%s" % (failed, n, clients.describe_failures(),
                             s.log_tail()))
    check(n >= 100, "only %d requests completed in 2.8 s of load" % n)
    check(clients.max_stall() < 2.0 * slow_factor(),
          "no request completed for %.2f s during the reloads"
          % clients.max_stall())
    eq(s.pid, master, "the master's pid after 5 reloads")
    s.wait_log(r"reloaded: generation 6 with 2 workers", 5)
    t0 = time.monotonic()
    kids = wait_generation(s, 2, seen, graceful + 3.0)
    print("# old generations gone %.2f s after the clients stopped; "
          "workers %s -> %s" % (time.monotonic() - t0, original, kids))
    for _ in range(4):
        status, body, _ = try_get(s, "/f.txt")
        eq((status, body), (200, FILE_BODY), "GET /f.txt after the reloads")


@test
def test_reload_spares_new_connection():
    # The fresh-connection clients above race with this case: a
    # connection the old worker accepted, whose request is still on its
    # way when the reload comes, must get its answer like an idle
    # keep-alive connection does.
    s = make_server("KeepAliveTimeout 30s\n")
    s.start()
    old = s.wait_workers(1)
    with s.conn() as c:
        check(poll(lambda: socket_owner(s.port, c.sock, old), 2.0, 0.01),
              "worker %d did not accept the connection" % old[0])
        s.signal(signal.SIGHUP)
        s.wait_log(r"\[pid %d\] signal 15: stopping gracefully" % old[0], 5)
        try:
            r = c.request("GET", "/f.txt", timeout=5)
        except (ProtocolError, OSError) as e:
            fail("a connection accepted just before a reload, its request "
                 "sent just after, got no answer: %s: %s; log tail:\n%s"
                 % (type(e).__name__, e, s.log_tail()))
        eq((r.status, r.body), (200, FILE_BODY), "GET /f.txt on a connection "
           "accepted before the reload")


def build_example(src, out, version, greeting):
    """Compiles modules/example/mod_example.c with another version and
    default greeting into out."""
    text = open(src).read()
    text, nv = re.subn(r'(\.version\s*=\s*)"1\.0\.0"',
                       r'\g<1>"%s"' % version, text)
    text, ng = re.subn(r'(greeting\s*=\s*)"hello"',
                       r'\g<1>"%s"' % greeting, text)
    check(nv == 1 and ng == 1, "%s no longer has one '.version = \"1.0.0\"' "
          "(found %d) and one 'greeting = \"hello\"' (found %d)"
          % (src, nv, ng))
    csrc = out + ".c"
    with open(csrc, "w") as f:
        f.write(text)
    cmd = [os.environ.get("CC", "cc"), "-shared", "-fPIC",
           "-I" + os.path.join(SRCDIR, "include"),
           "-I" + os.path.join(BUILDDIR, "include"), "-o", out, csrc]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    check(p.returncode == 0, "%s failed:\n%s"
          % (" ".join(cmd), p.stdout.decode(errors="replace")))


@test
def test_module_upgrade():
    if shutil.which(os.environ.get("CC", "cc")) is None:
        skip("no C compiler to build the upgraded module")
    src = os.path.join(SRCDIR, "modules", "example", "mod_example.c")
    s = make_server(workers=2)
    mods = s.path("mods")
    os.mkdir(mods)
    so = os.path.join(mods, "mod_example.so")
    build_example(src, so, "1.1.0", "howdy")
    s.extra = "LoadModule example %s\nExampleRoute /hello/:name\n" % so
    s.start()
    master = s.pid
    old = s.wait_workers(2)
    r = s.get("/hello/bob")
    eq((r.status, r.body), (200, b"howdy, bob\n"), "GET /hello/bob with 1.1.0")
    p = s.run(["-M"])
    eq(p.returncode, 0, "exit status of -M")
    contains(p.stdout, "example 1.1.0 %s\n" % so, "cairnd -M")

    # A package manager writes the new file next to the old one and
    # renames it over: the running processes keep the old inode.
    new = os.path.join(mods, ".mod_example.so.new")
    build_example(src, new, "2.0.0", "hiya")
    os.rename(new, so)
    s.signal(signal.SIGHUP)
    last = []

    def upgraded():
        last[:] = [try_get(s, "/hello/bob")]
        return last[0][:2] == (200, b"hiya, bob\n")

    check(poll(upgraded), "GET /hello/bob 5 s after the reload: %r (want "
          "200 'hiya, bob'); log tail:\n%s" % (last[0][:2], s.log_tail()))
    p = s.run(["-M"])
    contains(p.stdout, "example 2.0.0 %s\n" % so,
             "cairnd -M after the upgrade")
    eq(s.pid, master, "the master's pid after the reload")
    check(s.alive(), "the master exited after the reload")
    kids = wait_generation(s, 2, old, 5.0)
    s.wait_log(r"reloaded: generation 2 with 2 workers", 2)
    for _ in range(6):
        eq(try_get(s, "/hello/bob")[:2], (200, b"hiya, bob\n"),
           "GET /hello/bob served by the new workers %s" % kids)


@test
def test_bad_reload_keeps_serving():
    s = make_server("Header X-Gen 1\n", workers=2)
    s.start()
    master = s.pid
    old = s.wait_workers(2)
    eq(try_get(s, "/f.txt")[2], "1", "X-Gen before the reload")

    s.extra = "Header X-Gen 2\nDocumentRoot @DOCROOT@ second-argument\n"
    s.write_config()
    bad_line = s.line_of("second-argument")
    where = "%s:%d:" % (s.conf_path, bad_line)
    s.signal(signal.SIGHUP)
    t_end = time.monotonic() + 2.0
    n = 0
    while time.monotonic() < t_end:
        n += 1
        got = try_get(s, "/f.txt")
        eq((got[0], got[2]), (200, "1"), "request %d (status, X-Gen) after "
           "a reload with a broken config" % n)
        time.sleep(0.02)
    print("# %d requests in the 2 s after the broken reload, all served by "
          "the old generation" % n)
    m = s.wait_log(r"^.*%s.*$" % re.escape(where), 1)
    print("# " + m.group(0))
    s.wait_log(r"reload refused: the configuration check failed \(exit "
               r"status 1\); still serving generation 1", 1)
    check(s.alive(), "the master exited after a broken reload")
    eq(s.pid, master, "the master's pid")
    eq(s.children(), old, "the workers after a broken reload")

    s.extra = "Header X-Gen 2\n"
    s.write_config()
    s.signal(signal.SIGHUP)
    check(poll(lambda: try_get(s, "/f.txt")[2] == "2"),
          "X-Gen still %r 5 s after a good reload; log tail:\n%s"
          % (try_get(s, "/f.txt")[2], s.log_tail()))
    wait_generation(s, 2, old, 5.0)
    # The failed reload did not count as a generation.
    s.wait_log(r"reloaded: generation 2 with 2 workers", 2)
    eq(s.pid, master, "the master's pid after the good reload")


# ----------------------------------------------------------------------
# Crashes
# ----------------------------------------------------------------------

class Hammer:
    """Threads sending GET /f.txt on given keep-alive raw connections
    until stopped; with MaxKeepAliveRequests 0 the connections must
    stay open, so any error or any answer but 200 is a failure."""

    def __init__(self, conns):
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._run, args=(c,),
                                         daemon=True) for c in conns]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)

    def _run(self, c):
        while not self.stopping.is_set():
            try:
                r = c.request("GET", "/f.txt", timeout=10)
            except Exception as e:
                with self.lock:
                    self.failures.append("%s: %s" % (type(e).__name__, e))
                return
            with self.lock:
                if r.status == 200 and r.body == FILE_BODY:
                    self.ok += 1
                else:
                    self.failures.append(r.describe()[:300])
                    return


@test
def test_crash_and_quarantine():
    s = make_server("CrashQuarantine 3 60s\n"
                    "MaxKeepAliveRequests 0\n"
                    "<Location /crash>\n"
                    "    TestCrash on\n"
                    "</Location>\n",
                    modules=("static", "test_crash"), workers=2)
    s.expect_fatal = True       # the crashes are logged as errors
    s.start()
    master = s.pid
    survivor, victim = s.wait_workers(2)
    # /segv writes to an unmapped address: a real SIGSEGV, with or without
    # sanitizers.
    what, signo = "segv", 11
    r = s.get("/crash/x")
    eq((r.status, r.body), (200, b"alive\n"), "GET /crash/x before crashing")

    # The load runs on connections of the worker that never crashes: a
    # crash must not disturb them.  Crashes are sent to the other one.
    conns = [conn_owned_by(s, survivor, [survivor, victim])
             for _ in range(4)]
    hammer = Hammer(conns).start()
    dead = []
    crash_re = r"^.*worker %%d was killed by signal %d\b.*$" % signo
    try:
        for i in range(3):
            c = conn_owned_by(s, victim, [survivor, victim])
            try:
                c.send(build_request("GET", "/crash/" + what))
                try:
                    r = c.read_response(timeout=5 * slow_factor())
                    fail("GET /crash/%s (crash %d) was answered: %s"
                         % (what, i + 1, r.describe()))
                except socket.timeout:
                    fail("GET /crash/%s (crash %d): neither an answer nor "
                         "a closed connection within 5 s" % (what, i + 1))
                except (ProtocolError, OSError):
                    pass
            finally:
                c.close()
            line = s.wait_log(crash_re % victim, 5).group(0)
            for want in ("mod_test_crash", "hook handler",
                         'request "GET /crash/%s HTTP/1.1"' % what):
                contains(line, want, "the crash report of worker %d"
                         % victim)
            check(s.alive(), "the master died with worker %d" % victim)
            dead.append(victim)
            kids = wait_generation(s, 2, dead, 5.0)
            check(survivor in kids, "the worker that did not crash (%d) is "
                  "gone: children %s" % (survivor, kids))
            victim = [k for k in kids if k != survivor][0]
            print("# crash %d: worker %d replaced by %d"
                  % (i + 1, dead[-1], victim))
    finally:
        time.sleep(0.2)
        hammer.stop()
        for c in conns:
            c.close()
    print("# %d requests on the other worker during 3 crashes, %d failed"
          % (hammer.ok, len(hammer.failures)))
    check(not hammer.failures, "requests on the worker that did not crash "
          "failed:\n%s" % "\n".join(hammer.failures[:10]))
    check(hammer.ok > 0, "no request was served during the crashes")

    m = s.wait_log(r"^.*mod_test_crash crashed 3 times in /crash.*"
                   r"quarantined.*$", 5)
    print("# " + m.group(0))
    for i in range(6):
        r = s.get("/crash/x")
        eq(r.status, 503, "GET /crash/x (%d) while mod_test_crash is "
           "quarantined" % (i + 1))
        eq(try_get(s, "/f.txt")[:2], (200, FILE_BODY),
           "GET /f.txt while mod_test_crash is quarantined in /crash")
    eq(s.pid, master, "the master's pid after 3 crashes")

    s.signal(signal.SIGHUP)
    check(poll(lambda: try_get(s, "/crash/x")[:2] == (200, b"alive\n")),
          "GET /crash/x 5 s after the reload: %r (want 200 'alive'); log "
          "tail:\n%s" % (try_get(s, "/crash/x")[:2], s.log_tail()))
    for i in range(6):
        r = s.get("/crash/x")
        eq((r.status, r.body), (200, b"alive\n"),
           "GET /crash/x (%d) after the reload lifted the quarantine"
           % (i + 1))


# ----------------------------------------------------------------------
# Stopping and logs
# ----------------------------------------------------------------------

@test
def test_graceful_stop_waits_for_slow_request():
    s = make_server("GracefulTimeout 10s\n",
                    modules=("static", "test_async"))
    s.start()
    result = {}

    def slow():
        result["sent"] = time.monotonic()
        try:
            r = s.get("/delay?ms=1500", timeout=10)
            result["resp"] = (r.status, r.body)
        except Exception as e:
            result["resp"] = "%s: %s" % (type(e).__name__, e)
        result["at"] = time.monotonic()

    t = threading.Thread(target=slow, daemon=True)
    t.start()
    time.sleep(0.3)
    t_sig = time.monotonic()
    s.signal(signal.SIGTERM)
    exited_at = None
    deadline = t_sig + 10 * slow_factor()
    while time.monotonic() < deadline:
        if not s.alive():
            exited_at = time.monotonic()
            break
        time.sleep(0.01)
    t.join(10)
    check(exited_at is not None, "the master still runs 10 s after SIGTERM")
    eq(result.get("resp"), (200, b"delayed 1500\n"),
       "GET /delay?ms=1500 in flight during SIGTERM")
    rc = s.wait_exit(1)
    eq(rc, 0, "the master's exit status after a graceful stop")
    print("# response %.2f s, exit %.2f s after SIGTERM"
          % (result["at"] - t_sig, exited_at - t_sig))
    # The request's timer ran 1.5 s from when it was sent.
    check(exited_at - result["sent"] >= 1.45, "the master exited %.2f s "
          "after the request was sent, before its 1.5 s were over"
          % (exited_at - result["sent"]))
    check(exited_at + 0.1 >= result["at"], "the master exited %.3f s "
          "before the response arrived" % (result["at"] - exited_at))


def log_lines(path, needle="test_hooks phases: "):
    try:
        with open(path) as f:
            return [l for l in f.read().splitlines() if needle in l]
    except FileNotFoundError:
        return []


def request_ids(lines):
    return [re.search(r"\[req ([0-9a-f]+)\]", l).group(1) for l in lines]


@test
def test_log_reopen_keeps_lines():
    s = make_server("ErrorLog @TMP@/error.log\nLogLevel notice\n",
                    modules=("static", "test_hooks"), workers=2)
    s.start()
    log = s.path("error.log")
    kids = s.wait_workers(2)

    def five(tag):
        # Both workers serve some of them: every process must reopen.
        for i in range(5):
            c = conn_owned_by(s, kids[i % 2], kids)
            with c:
                r = c.request("GET", "/hooks/%s-%d" % (tag, i))
                eq(r.status, 200, "GET /hooks/%s-%d" % (tag, i))

    five("before")
    check(poll(lambda: len(log_lines(log)) == 5), "want 5 'test_hooks "
          "phases' lines in %s, found:\n%s" % (log, "\n".join(log_lines(log))))
    os.rename(log, log + ".1")
    s.signal(signal.SIGUSR1)
    time.sleep(0.3)
    check(os.path.exists(log), "ErrorLog %s not reopened 0.3 s after SIGUSR1"
          % log)
    five("after")
    check(poll(lambda: len(log_lines(log)) == 5), "want 5 'test_hooks "
          "phases' lines in the reopened %s, found:\n%s"
          % (log, "\n".join(log_lines(log))))
    time.sleep(0.2)
    old, new = log_lines(log + ".1"), log_lines(log)
    eq(len(old), 5, "lines in the rotated error.log.1:\n" + "\n".join(old))
    eq(len(new), 5, "lines in the new error.log:\n" + "\n".join(new))
    ids = request_ids(old + new)
    eq(len(set(ids)), 10, "distinct request ids among the 10 lines")
    for k in kids:
        check(any("[pid %d]" % k in l for l in new), "no line of worker %d "
              "in the reopened log:\n%s" % (k, "\n".join(new)))


# ----------------------------------------------------------------------
# Running out of descriptors and connections
# ----------------------------------------------------------------------

def limited_cairnd(tmp, nofile):
    """A wrapper that execs cairnd (same pid) with RLIMIT_NOFILE lowered
    to nofile, soft and hard, so nothing can raise it again."""
    path = os.path.join(tmp, "cairnd-nofile")
    with open(path, "w") as f:
        f.write("#!%s\n"
                "import os, resource, sys\n"
                "resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d))\n"
                "os.execv(%r, [%r] + sys.argv[1:])\n"
                % (sys.executable, nofile, nofile, CAIRND, CAIRND))
    os.chmod(path, 0o755)
    return path


@test
def test_fd_exhaustion():
    nofile = 64
    s = make_server("MaxConnections 1000\nKeepAliveTimeout 30s\n"
                    "RequestHeaderTimeout 30s\n")
    s.cairnd = limited_cairnd(s.tmp, nofile)
    s.start()
    worker = s.wait_workers(1)[0]
    eq(nofile_limit(worker), nofile, "the worker's RLIMIT_NOFILE")
    held = []
    try:
        for _ in range(100):
            held.append(socket.create_connection(("127.0.0.1", s.port),
                                                 timeout=5))
        s.wait_log(r"pausing accepts", 5)
        time.sleep(0.2)
        fds = len(os.listdir("/proc/%d/fd" % worker))
        cpu0 = cpu_seconds(worker)
        time.sleep(2.0)
        cpu = cpu_seconds(worker) - cpu0
        pauses = len(re.findall(r"pausing accepts", s.log()))
        print("# worker %d at %d of %d descriptors with 100 connections "
              "held: %.3f s CPU in 2 s; %d 'pausing accepts' lines so far"
              % (worker, fds, nofile, cpu, pauses))
        check(cpu < 0.3 * slow_factor(), "the worker used %.3f s of CPU in "
              "2 s while out of descriptors (spinning?)" % cpu)
        check(s.alive() and s.children() == [worker], "the server did not "
              "survive running out of descriptors: children %s; log "
              "tail:\n%s" % (s.children(), s.log_tail()))
    finally:
        for c in held:
            c.close()
    last = []

    def served():
        last[:] = [try_get(s, "/f.txt", timeout=2)]
        return last[0][:2] == (200, FILE_BODY)

    check(poll(served, 5.0, 0.1), "no normal request served 5 s after the "
          "100 connections closed: %r; log tail:\n%s"
          % (last[0][:2], s.log_tail()))


@test
def test_max_connections():
    # 20 connections that send nothing at first, MaxConnections 10: each
    # one past the limit closes the one idle the longest, so the first
    # ones are closed and the last ones answered; nobody waits in the
    # listen queue for a timeout (test_limits.py has the rest).
    s = make_server("MaxConnections 10\nKeepAliveTimeout 30s\n"
                    "RequestHeaderTimeout 30s\n")
    s.start()
    s.wait_workers(1)
    conns = []
    try:
        for _ in range(20):
            conns.append(s.conn(timeout=5))
        time.sleep(0.5)
        for c in conns:
            try:
                c.send(build_request("GET", "/f.txt"))
            except (BrokenPipeError, ConnectionResetError):
                pass
        answered = []
        for i, c in enumerate(conns):
            try:
                r = c.read_response(timeout=5 * slow_factor())
            except (ProtocolError, ConnectionResetError):
                continue
            eq((r.status, r.body), (200, FILE_BODY),
               "GET /f.txt on connection %d" % (i + 1))
            answered.append(i)
        print("# MaxConnections 10, 20 connections: %s answered"
              % [i + 1 for i in answered])
        # The oldest are closed first: the answered ones are the newest,
        # 10 of them (9 when the start-up probe was still open; it is
        # the oldest and closed first).
        check(len(answered) in (9, 10)
              and answered == list(range(20 - len(answered), 20)),
              "connections answered: %s" % [i + 1 for i in answered])
        s.wait_log(r"MaxConnections 10 reached, closed \d+ idle "
                   r"connections")
        s.assert_serving("/f.txt", 200)
    finally:
        for c in conns:
            c.close()


if __name__ == "__main__":
    main()
