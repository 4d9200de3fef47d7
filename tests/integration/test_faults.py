"""Faults under load: what the server does when the things under it fail.

With real processes and real clients:

- MariaDB SIGKILLed and restarted under POSTs through mod_rest: every
  201 has its row, every failure the client was told of has none, and an
  outcome the client could not see (504 "outcome unknown", a timeout, a
  lost connection) has at most one; PUTs with If-Match on one row from
  several clients lose no update across the same crash.  (mod_rest has
  no batch or multi-row transaction to put through the same.)
- A worker SIGKILLed under keep-alive and new-connection load: only the
  connections it held fail, the master replaces it, serving goes on.
- The access log's disk full: every request is still answered, the
  error log says so once, and logging resumes when space returns.
- The worker out of file descriptors (RLIMIT_NOFILE lowered on it):
  accepting pauses, what needs a descriptor is answered 503, connections
  it has keep being answered, and service is normal once clients leave.
- The worker out of address space (RLIMIT_AS): a header block or a body
  that does not fit is answered 503 (or its connection closed), and the
  worker lives on; an allocation that cannot fail spends the worker's
  reserve, after which new requests and connections are answered 503
  until the memory is back, and serving resumes by itself.

A reload storm under load (50 SIGHUPs, zero failed requests) is
test_reload.py's test_reload_storm.
"""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from cairntest import (Clients, Conn, ProtocolError, Server, build_request,
                       check, children_of, contains, eq,
                       established_connections, in_ci, main, module_path,
                       sanitizers, skip, test, TMP_PREFIX)
from resttest import tagged_resource, tagged_table

BODY = "fault line\n" * 20


def static_server(conf="", workers=1, modules=("static",)):
    s = Server(workers=workers, conf=conf, modules=modules)
    s.write("f.txt", BODY)
    return s


def wait_for(cond, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    check(False, "%s: not within %s s" % (what, timeout))


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def prlimit(pid, resource_opt):
    p = subprocess.run(["prlimit", "--pid", str(pid), resource_opt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    eq(p.returncode, 0, "prlimit %s on %d: %s" % (resource_opt, pid,
                                                   p.stdout))


# ----------------------------------------------------------------------
# MariaDB killed under writes
# ----------------------------------------------------------------------

FAULTS_TABLE = tagged_table("faults")
FAULTS = tagged_resource("/faults", "faults")


_rest = {}


def rest():
    """The file's MariaDB and a cairnd with /faults, made on first use."""
    if "db" not in _rest:
        if module_path("rest") is None or module_path("mysql") is None:
            skip("mod_rest or mod_mysql was not built")
        from mariadb import have_mariadb
        if not have_mariadb():
            check(not in_ci(), "MariaDB (mariadb-server, mariadb-client) "
                  "is not installed, and CI=true")
            skip("MariaDB is not installed")
        from resttest import mariadb
        _rest["db"] = mariadb([FAULTS_TABLE])
    from resttest import rest_server
    s = rest_server(_rest["db"], FAULTS, workers=2,
                    db_extra="    QueryTimeout 2s\n")
    return _rest["db"], s


def tag_rows(db, prefix):
    from resttest import APP_DB
    rows = db.sql("SELECT tag, COUNT(*) FROM faults WHERE tag LIKE '%s%%' "
                  "GROUP BY tag" % prefix, database=APP_DB)
    return {t: int(n) for t, n in rows}


def json_call(port, method, path, doc, headers=None, timeout=10):
    """One request on a new connection: (status, headers, parsed body),
    or raises what the client saw (timeout, reset, closed)."""
    hc = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = json.dumps(doc).encode() if doc is not None else None
        h = {"Content-Type": "application/json"} if body else {}
        h.update(headers or {})
        hc.request(method, path, body=body, headers=h)
        r = hc.getresponse()
        data = r.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return r.status, r, parsed
    finally:
        hc.close()


def kill_and_restart_db(db, load_s=1.5, down_s=0.5):
    """SIGKILLs mysqld by its pid in the middle of the load, starts it
    again on the same data directory and port.  Returns when it answers
    (the monotonic time then)."""
    time.sleep(load_s)
    pid = db.proc.pid
    os.kill(pid, signal.SIGKILL)
    db.kill()               # reaps it, removes its socket and pid file
    time.sleep(down_s)
    db.start()
    return time.monotonic()


@test
def test_db_killed_under_posts():
    db, s = rest()
    stopping = threading.Event()
    lock = threading.Lock()
    outcomes = {}           # tag -> ("ok"|"failed"|"unknown", detail, t)

    def client(k):
        n = 0
        while not stopping.is_set():
            n += 1
            tag = "post-%d-%d" % (k, n)
            t0 = time.monotonic()
            try:
                status, r, doc = json_call(s.port, "POST", "/faults",
                                           {"tag": tag, "n": n})
            except Exception as e:
                res = ("unknown", "%s: %s" % (type(e).__name__, e), t0)
            else:
                if status == 201:
                    res = ("ok", doc["data"]["id"], t0)
                elif status == 504:
                    res = ("unknown", "504", t0)
                else:
                    res = ("failed", status, t0)
                    if status != 503:
                        res = ("bad", "%d %r" % (status, doc), t0)
            with lock:
                outcomes[tag] = res
            if res[0] != "ok":
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(4)]
    for t in threads:
        t.start()
    try:
        back = kill_and_restart_db(db)
        time.sleep(2.5)
    finally:
        stopping.set()
        for t in threads:
            t.join(30)
    rows = tag_rows(db, "post-")
    kinds = {}
    for tag, (kind, _, _) in outcomes.items():
        kinds[kind] = kinds.get(kind, 0) + 1
    print("# %d POSTs: %s; %d rows" % (len(outcomes), kinds,
                                       sum(rows.values())))
    bad = [(t, o) for t, o in outcomes.items() if o[0] == "bad"]
    check(not bad, "answers other than 201, 503 and 504: %s" % bad[:5])
    for tag, (kind, detail, _) in sorted(outcomes.items()):
        n = rows.get(tag, 0)
        if kind == "ok":
            eq(n, 1, "rows of %s, acknowledged with 201" % tag)
        elif kind == "failed":
            eq(n, 0, "rows of %s, answered %s" % (tag, detail))
        else:
            check(n <= 1, "%d rows of %s, outcome unknown (%s)"
                  % (n, tag, detail))
    phantoms = sorted(set(rows) - set(outcomes))
    check(not phantoms, "rows nobody asked for: %s" % phantoms[:10])
    check(kinds.get("ok", 0) > 20, "too few 201s: %s" % kinds)
    check(kinds.get("failed", 0) + kinds.get("unknown", 0) > 0,
          "no POST noticed the database going away: %s" % kinds)
    after = [t for t, o in outcomes.items() if o[0] == "ok" and o[2] > back]
    check(after, "no 201 after the database came back")
    contains(s.log(), "database", "the error log")


@test
def test_db_killed_under_if_match_puts():
    db, s = rest()
    status, r, doc = json_call(s.port, "POST", "/faults",
                               {"tag": "put-start", "n": 0})
    eq(status, 201, "POST of the row")
    path = "/faults/%d" % doc["data"]["id"]
    stopping = threading.Event()
    lock = threading.Lock()
    ok = []                 # (version, tag) of each 200
    unknown = []            # tags whose outcome the client could not see
    other = {}

    def client(k):
        n = 0
        while not stopping.is_set():
            try:
                status, r, doc = json_call(s.port, "GET", path, None)
            except Exception:
                time.sleep(0.05)
                continue
            if status != 200:
                time.sleep(0.05)
                continue
            etag = r.getheader("ETag")
            n += 1
            tag = "put-%d-%d" % (k, n)
            try:
                status, r, doc = json_call(s.port, "PUT", path,
                                           {"tag": tag, "n": n},
                                           headers={"If-Match": etag})
            except Exception:
                with lock:
                    unknown.append(tag)
                continue
            with lock:
                if status == 200:
                    ok.append((int(r.getheader("ETag").strip('"v')), tag))
                elif status == 504:
                    unknown.append(tag)
                else:
                    other[status] = other.get(status, 0) + 1
            if status not in (200, 412):
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(k,), daemon=True)
               for k in range(4)]
    for t in threads:
        t.start()
    try:
        kill_and_restart_db(db)
        time.sleep(2.5)
    finally:
        stopping.set()
        for t in threads:
            t.join(30)
    from resttest import APP_DB
    tag, version = db.sql("SELECT tag, row_version FROM faults WHERE id = %s"
                          % path.rsplit("/", 1)[1], database=APP_DB)[0]
    version = int(version)
    print("# %d PUTs answered 200, %d unknown, others %s; version 1 -> %d"
          % (len(ok), len(unknown), other, version))
    check(set(other) <= {412, 503}, "unexpected answers: %s" % other)
    versions = [v for v, _ in ok]
    eq(len(versions), len(set(versions)),
       "distinct versions of the 200s (two writers won from one version)")
    check(len(ok) > 10, "too few 200s: %d" % len(ok))
    increments = version - 1
    check(len(ok) <= increments <= len(ok) + len(unknown),
          "%d increments of the version for %d 200s and %d unknown "
          "outcomes" % (increments, len(ok), len(unknown)))
    last_version, last_tag = max(ok)
    check(last_version <= version, "a 200 gave version %d, the row has %d"
          % (last_version, version))
    if last_version == version:
        eq(tag, last_tag, "the row's value: that of the last 200")
    else:
        check(tag in unknown, "the row has %r at version %d, past the last "
              "200 (%d), but no unknown outcome wrote it"
              % (tag, version, last_version))


# ----------------------------------------------------------------------
# A worker killed under load
# ----------------------------------------------------------------------

@test
def test_worker_killed_under_load():
    s = static_server(workers=2)
    s.expect_fatal = True       # the master logs the death as an error
    s.start()
    kids = s.wait_workers(2)
    clients = Clients(s.port, keepalive=4, fresh=2,
                      body=BODY.encode()).start()
    try:
        time.sleep(1.0)
        victim = kids[0]
        # Stopped first, so that it takes no connection between the
        # count and the kill.
        os.kill(victim, signal.SIGSTOP)
        held = established_connections(victim, s.port)
        before = clients.total()
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        new = wait_for(lambda: [k for k in children_of(s.pid)
                                if k not in kids], 10, "a new worker")
        respawn = time.monotonic() - t0
        time.sleep(1.5)
    finally:
        clients.stop()
    failed = len(clients.failures)
    print("# worker %d held %d connections; %d of %d requests failed; "
          "replaced by %d after %.3f s; %d requests after the kill"
          % (victim, held, failed, clients.total(), new[0], respawn,
             clients.total() - before))
    check(failed <= held, "%d requests failed, the killed worker held %d "
          "connections:\n%s" % (failed, held, clients.describe_failures()))
    check(respawn < 5.0, "the worker was replaced after %.3f s" % respawn)
    check(s.alive(), "the master died")
    eq(len(s.wait_workers(2, exclude=[victim])), 2, "workers")
    check(clients.total() - before > 50, "serving did not go on: %d "
          "requests after the kill" % (clients.total() - before))
    for _ in range(10):
        eq(s.get("/f.txt").status, 200, "GET after the respawn")


# ----------------------------------------------------------------------
# The access log's disk full
# ----------------------------------------------------------------------

NOSPACE_RE = r"access log .*No space left on device"


def fill(path):
    """Writes zeros to path until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)


@test
def test_access_log_disk_full():
    if shutil.which("mount") is None:
        check(not in_ci(), "mount(8) is missing, and CI=true")
        skip("mount(8) is missing")
    mnt = tempfile.mkdtemp(prefix=TMP_PREFIX + "full.")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                        mnt], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        check(not in_ci(), "cannot mount a tmpfs (%s), and CI=true: the "
              "disk-full test needs root and mount permission"
              % p.stdout.strip())
        skip("cannot mount a tmpfs: %s" % p.stdout.strip())
    log = os.path.join(mnt, "access.log")
    s = static_server('AccessLog %s "%%r %%s"\n' % log,
                      modules=("static", "log"))
    try:
        s.start()
        eq(s.get("/f.txt?before").status, 200, "GET before the disk fills")
        wait_for(lambda: "before" in open(log).read(), 5,
                 "the first line in the access log")
        # Crumbs freed one by one while the disk is full: each lets a
        # write of the log start, and the disk is full again in it.
        crumbs = []
        for i in range(4):
            crumbs.append(os.path.join(mnt, "crumb%d" % i))
            with open(crumbs[-1], "wb") as f:
                f.write(b"\0" * 4096)
        fill(os.path.join(mnt, "filler"))
        statuses = {}
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 4.5:
            n += 1
            if crumbs and time.monotonic() - t0 > 1.1 * (5 - len(crumbs)):
                os.unlink(crumbs.pop())
            st = s.get("/f.txt?full=%d" % n).status
            statuses[st] = statuses.get(st, 0) + 1
            time.sleep(0.005)
        eq(statuses, {200: n}, "statuses while the disk is full")
        # The line comes with a flush of the log buffer (once a second),
        # which a busy machine may delay.
        lines = wait_for(lambda: re.findall(NOSPACE_RE, s.log()), 3,
                         "the error log line about the full disk")
        print("# %d requests on a full disk; %d error log line(s) about it"
              % (n, len(lines)))
        eq(len(lines), 1, "error log lines about the full disk (rate "
           "limited to one a minute)")
        os.unlink(os.path.join(mnt, "filler"))
        for i in range(20):
            eq(s.get("/f.txt?after=%d" % i).status, 200,
               "GET once space is back")
        wait_for(lambda: "after=19" in open(log).read(), 5,
                 "lines in the access log once space is back")
        s.wait_log(r"access log .* is written again")
        eq(len(re.findall(NOSPACE_RE, s.log())), 1,
           "error log lines about the full disk")
    finally:
        s.stop()
        r = subprocess.run(["umount", mnt], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


# ----------------------------------------------------------------------
# Out of file descriptors
# ----------------------------------------------------------------------

def outcome(c, timeout=2.0):
    try:
        r = c.request("GET", "/f.txt", timeout=timeout)
    except (ProtocolError, ConnectionError) as e:
        return "closed"
    except OSError:
        return "no answer"
    if r.status == 503:
        eq(r.header("Retry-After"), "1", "Retry-After of a 503")
    return r.status


@test
def test_out_of_descriptors():
    s = static_server("KeepAliveTimeout 60s\n")
    s.start()
    worker = s.wait_workers(1)[0]
    old = [s.conn() for _ in range(5)]
    new = []
    try:
        for c in old:
            eq(c.request("GET", "/f.txt").status, 200, "GET before")
        limit = fd_count(worker) + 4
        prlimit(worker, "--nofile=%d:%d" % (limit, limit))
        for _ in range(30):
            new.append(Conn(s.port, timeout=2))
        time.sleep(0.3)
        seen = {}
        for c in new[:10]:
            o = outcome(c, timeout=1.0)
            seen[o] = seen.get(o, 0) + 1
        print("# new connections past %d descriptors: %s" % (limit, seen))
        check(set(seen) <= {200, 503, "closed", "no answer"},
              "new connections: %s" % seen)
        check(seen.get("no answer", 0) + seen.get("closed", 0) > 0,
              "every new connection was served past the limit: %s" % seen)
        # The connections the worker had are still answered.
        for round_ in range(2):
            for c in old:
                o = outcome(c)
                check(o in (200, 503), "an existing connection got %r" % o)
        contains(s.log(), "Too many open files", "the error log")
    finally:
        for c in new:
            c.close()
    time.sleep(0.5)
    for c in old:
        eq(outcome(c), 200, "an existing connection once clients left")
        c.close()
    for _ in range(20):
        eq(s.get("/f.txt").status, 200, "GET once clients left")
    eq(s.children(), [worker], "workers (none crashed)")
    check(not re.search(r"signal", s.log()), "signals in the error log:\n%s"
          % s.log_tail())


# ----------------------------------------------------------------------
# Out of memory
# ----------------------------------------------------------------------

def limit_address_space(s, headroom):
    """Lowers the worker's RLIMIT_AS (soft: raising a hard limit back
    needs CAP_SYS_RESOURCE, which a container's root may lack) to its
    size now plus headroom bytes; returns the worker's pid."""
    worker = s.wait_workers(1)[0]
    # Served once: the worker is past its start (and holds its reserve).
    eq(s.get("/f.txt").status, 200, "GET before the limit")
    vm = int(re.search(r"VmSize:\s+(\d+)", open(
        "/proc/%d/status" % worker).read()).group(1)) * 1024
    prlimit(worker, "--as=%d:" % (vm + headroom))
    return worker


def no_asan():
    if sanitizers():
        # ASan reserves terabytes of shadow memory: an address space
        # limit kills it before cairnd does anything.
        skip("an address space limit cannot be combined with ASan")


@test
def test_out_of_address_space():
    no_asan()
    s = static_server("LimitRequestFieldSize 65536\n"
                      "LimitRequestHeaderSize 32M\n"
                      "LimitRequestFields 1000\n"
                      "LimitRequestBody 64M\n", workers=1,
                      modules=("static", "test_echo"))
    s.start()
    worker = limit_address_space(s, 2 * 1024 * 1024)
    seen = {}
    conns = []
    big = [("X-Big-%d" % j, "v" * 60000) for j in range(300)]
    for i in range(40):
        try:
            c = Conn(s.port, timeout=5)
            conns.append(c)
            if i % 2:
                c.send(build_request("GET", "/f.txt", big))
            else:
                c.send(build_request("POST", "/echo/b",
                                     body=b"x" * (8 << 20)))
        except OSError:
            seen["closed"] = seen.get("closed", 0) + 1
    for c in conns:
        try:
            st = c.read_response().status
        except (ProtocolError, ConnectionError):
            st = "closed"
        except OSError:
            st = "no answer"
        seen[st] = seen.get(st, 0) + 1
        c.close()
    print("# under RLIMIT_AS of VmSize + 2 MiB: %s" % seen)
    check(set(seen) <= {503, "closed"}, "answers: %s" % seen)
    check(seen.get(503, 0) > 0, "no 503 among %s" % seen)
    check(s.alive(), "the master died")
    eq(s.children(), [worker], "workers (none died)")
    check("out of memory allocating" not in s.log(),
          "an allocation aborted:\n%s" % s.log_tail())
    check("signal" not in s.log(), "a signal:\n%s" % s.log_tail())
    for _ in range(20):
        eq(s.get("/f.txt").status, 200, "GET under the limit")
    prlimit(worker, "--as=unlimited:")
    with Conn(s.port, timeout=10) as c:
        eq(c.request("GET", "/f.txt", big).status, 200,
           "a large request once the limit is gone")
    eq(s.children(), [worker], "workers after the pressure")


@test
def test_out_of_memory_reserve():
    """An allocation that cannot fail spends the reserve: the request
    that made it is served, the worker sheds new work with 503 while the
    memory stays taken, and takes its reserve back once it is freed."""
    no_asan()
    s = static_server(workers=1, modules=("static", "test_echo"))
    s.start()
    worker = limit_address_space(s, 2 * 1024 * 1024)
    holder = Conn(s.port, timeout=10)
    r = holder.request("GET", "/echo/alloc?3")
    eq(r.status, 200, "the request that spent the reserve")
    eq(r.body, b"allocated 3 MiB\n", "its body")
    # The three MiB stay with the holder's connection: the worker cannot
    # take its reserve back, so new work is refused.
    eq(s.get("/f.txt").status, 503, "a new connection's request")
    s.wait_log(r"out of memory: the worker spent its reserve")
    shed = 1
    for _ in range(5):
        try:
            with Conn(s.port, timeout=5) as c:
                st = c.request("GET", "/f.txt").status
        except (ProtocolError, ConnectionError):
            st = "closed"
        check(st in (503, "closed"), "while short: %s" % st)
        shed += 1
    r = holder.request("GET", "/f.txt")
    eq(r.status, 503, "the holder's next request")
    eq(r.header("connection"), "close", "and its connection closes")
    eq(r.header("retry-after"), "1", "Retry-After")
    holder.close()
    m = s.wait_log(r"memory is available again after (\d+) ms: serving "
                   r"resumes \((\d+) requests and connections were "
                   r"answered 503", timeout=5)
    print("# short of memory for %s ms, %s answered 503"
          % (m.group(1), m.group(2)))
    check(int(m.group(2)) >= shed, "counted %s, sent %d"
          % (m.group(2), shed))
    for _ in range(20):
        eq(s.get("/f.txt").status, 200, "GET once the memory is back")
    eq(s.children(), [worker], "the same worker")
    check("out of memory allocating" not in s.log(),
          "an allocation aborted:\n%s" % s.log_tail())
    prlimit(worker, "--as=unlimited:")


if __name__ == "__main__":
    main()
