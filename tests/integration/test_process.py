"""Processes and signals: the master and its workers, a worker crash,
graceful stop (TERM) and GracefulTimeout, reload (HUP) without dropping
requests and with a broken config, log reopening (USR1), PidFile,
ErrorLog, Listen errors, User/Group, systemd readiness."""

import grp
import os
import pwd
import re
import signal
import socket
import time

from cairntest import (Server, build_request, check, contains, eq, fail,
                       main, need_modules, output, skip,
                       slow_factor, socket_owner, test)

need_modules("static", "test_async", "test_echo", "test_hooks")


def make_server(conf="", modules=("static", "test_async"), **kw):
    s = Server(modules=list(modules), conf=conf, **kw)
    s.write("f.txt", "file\n")
    return s


def poll(fn, limit=5.0, interval=0.05):
    """Calls fn until it returns a true value or limit seconds pass;
    returns the last value."""
    deadline = time.monotonic() + limit * slow_factor()
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


@test
def test_workers_are_processes():
    s = make_server(workers=2)
    s.start()
    kids = s.wait_workers(2)
    print("# master %d, workers %s" % (s.pid, kids))
    for _ in range(20):
        eq(s.get("/f.txt").status, 200, "GET /f.txt with Workers 2")


@test
def test_connections_spread_over_workers():
    s = make_server(workers=2)
    s.start()
    kids = s.wait_workers(2)
    conns = []
    owners = {k: 0 for k in kids}
    try:
        for _ in range(20):
            c = s.conn()
            eq(c.request("GET", "/f.txt").status, 200, "GET /f.txt")
            conns.append(c)
            owner = socket_owner(s.port, c.sock, kids)
            check(owner is not None, "no worker holds a served connection")
            owners[owner] += 1
        print("# 20 connections over 2 workers: %s" % owners)
        check(min(owners.values()) >= 4, "connections are not spread over "
              "the workers: %s" % owners)
    finally:
        for c in conns:
            c.close()


@test
def test_worker_crash_is_contained():
    s = make_server(workers=2)
    s.expect_fatal = True       # the master may log the crash as critical
    s.start()
    kids = s.wait_workers(2)
    conns = []
    try:
        for _ in range(12):
            c = s.conn()
            eq(c.request("GET", "/f.txt").status, 200, "GET /f.txt")
            conns.append((c, socket_owner(s.port, c.sock, kids)))
        victim = max(kids, key=lambda k: sum(1 for _, o in conns if o == k))
        survivor = [k for k in kids if k != victim][0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.2)
        check(s.alive(), "the master died with a worker")
        for c, owner in conns:
            if owner == survivor:
                r = c.request("GET", "/f.txt")
                eq(r.status, 200, "a connection of the surviving worker "
                   "after the other worker was killed")
        new = s.wait_workers(2, exclude=[victim])
        check(survivor in new, "the surviving worker %d was replaced too: "
              "%s" % (survivor, new))
        s.wait_log(r"\b%d\b.*(signal|SIGKILL|killed)|"
                   r"(signal|SIGKILL|killed).*\b%d\b" % (victim, victim))
        for _ in range(10):
            eq(s.get("/f.txt").status, 200, "GET /f.txt after the respawn")
    finally:
        for c, _ in conns:
            c.close()


@test
def test_graceful_stop_finishes_requests():
    s = make_server("GracefulTimeout 10s\n")
    s.start()
    with s.conn() as c:
        c.send(build_request("GET", "/delay?ms=800"))
        time.sleep(0.2)
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        r = c.read_response(timeout=10)
        eq((r.status, r.body), (200, b"delayed 800\n"),
           "request in flight during SIGTERM")
    rc = s.wait_exit(10 * slow_factor())
    took = time.monotonic() - t0
    eq(rc, 0, "exit status after a graceful stop")
    print("# graceful stop took %.2f s" % took)


@test
def test_graceful_timeout():
    s = make_server("GracefulTimeout 1s\n")
    s.start()
    with s.conn() as c:
        c.send(build_request("GET", "/delay?ms=20000"))
        time.sleep(0.2)
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        rc = s.wait_exit(8 * slow_factor())
        took = time.monotonic() - t0
        check(rc is not None, "cairnd still running 8 s after SIGTERM with "
              "GracefulTimeout 1s")
        print("# stopped %.2f s after SIGTERM (GracefulTimeout 1s)" % took)
        check(took < 3.0 * slow_factor(), "stopping took %.2f s with "
              "GracefulTimeout 1s" % took)
        closed, _ = c.closed_within(2)
        check(closed, "the waiting client's connection was left open")


@test
def test_stop_refuses_new_connections():
    s = make_server("GracefulTimeout 10s\n")
    s.start()
    port = s.port
    with s.conn() as c:
        c.send(build_request("GET", "/delay?ms=1000"))
        time.sleep(0.2)
        s.signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            n = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            pass
        else:
            n.close()
            fail("the listener still accepts connections while stopping")
        eq(c.read_response(timeout=10).status, 200, "request in flight")
    eq(s.wait_exit(10), 0, "exit status")


@test
def test_reload():
    s = make_server("Header X-Gen 1\n")
    s.start()
    eq(s.get("/f.txt").header("X-Gen"), "1", "X-Gen before the reload")
    with s.conn() as c:
        c.send(build_request("GET", "/delay?ms=1000"))
        time.sleep(0.2)
        s.extra = "Header X-Gen 2\n"
        s.write_config()
        s.signal(signal.SIGHUP)
        got = poll(lambda: s.get("/f.txt").header("X-Gen") == "2")
        check(got, "X-Gen still %r 5 s after SIGHUP"
              % s.get("/f.txt").header("X-Gen"))
        r = c.read_response(timeout=10)
        eq((r.status, r.body), (200, b"delayed 1000\n"),
           "request in flight during the reload")
    check(s.alive(), "cairnd exited after SIGHUP")


@test
def test_reload_enables_module():
    s = make_server()
    s.start()
    eq(s.get("/echo/x").status, 404, "/echo/x before test_echo is loaded")
    s.extra = "LoadModule test_echo\n"
    s.write_config()
    s.signal(signal.SIGHUP)
    r = poll(lambda: s.get("/echo/x").status == 200)
    check(r, "test_echo not active 5 s after a reload that loads it")
    eq(s.get("/echo/x").body, b"GET /echo/x\nquery=\n", "GET /echo/x")


@test
def test_reload_with_broken_config():
    s = make_server("Header X-Gen 1\n")
    s.start()
    s.extra = "Header X-Gen 2\nFoo bar\n"
    s.write_config()
    s.signal(signal.SIGHUP)
    s.wait_log(r"unknown directive 'Foo'")
    time.sleep(0.3)
    check(s.alive(), "cairnd exited after a reload with a broken config")
    r = s.get("/f.txt")
    eq((r.status, r.header("X-Gen")), (200, "1"),
       "the old generation still serves after a failed reload")
    # A later good reload works.
    s.extra = "Header X-Gen 3\n"
    s.write_config()
    s.signal(signal.SIGHUP)
    check(poll(lambda: s.get("/f.txt").header("X-Gen") == "3"),
          "a good reload after a failed one did not take effect")


@test
def test_error_log_and_reopen():
    s = make_server("ErrorLog @TMP@/error.log\nLogLevel notice\n",
                    modules=("static", "test_hooks"))
    s.start()
    log = s.path("error.log")
    eq(s.get("/hooks/one").status, 200, "GET /hooks/one")
    check(poll(lambda: os.path.exists(log) and
               "test_hooks phases" in open(log).read()),
          "the log line of /hooks/one is not in ErrorLog %s" % log)
    os.rename(log, log + ".1")
    s.signal(signal.SIGUSR1)
    check(poll(lambda: os.path.exists(log)),
          "ErrorLog not reopened (no new %s) after SIGUSR1" % log)
    # The master reopens first; the worker says so once it has too.
    check(poll(lambda: "SIGUSR1: logs reopened" in open(log).read()),
          "the worker did not log 'SIGUSR1: logs reopened' in the new "
          "ErrorLog:\n" + open(log).read())
    rotated = open(log + ".1").read().count("test_hooks phases")
    eq(s.get("/hooks/two").status, 200, "GET /hooks/two")
    check(poll(lambda: "test_hooks phases" in open(log).read()),
          "no log line in the reopened ErrorLog:\n" + open(log).read())
    eq(open(log + ".1").read().count("test_hooks phases"), rotated,
       "log lines written to the rotated file after SIGUSR1")


@test
def test_pid_file():
    s = make_server("PidFile @TMP@/run/cairnd.pid\n")
    os.makedirs(s.path("run"))
    s.start()
    path = s.path("run/cairnd.pid")
    check(poll(lambda: os.path.exists(path)), "PidFile %s not written"
          % path)
    eq(open(path).read().strip(), str(s.pid), "PidFile content")
    pid = s.pid
    eq(s.stop(), 0, "exit status")
    check(not os.path.exists(path), "PidFile of pid %d left after a clean "
          "stop" % pid)


@test
def test_listen_address_in_use():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        s = make_server(base=False, modules=(),
                        conf="ModuleDir @MODULEDIR@\n"
                             "Listen 127.0.0.1:%d\n" % port)
        p = s.run(["-t"])
        eq(p.returncode, 0, "-t must not bind the listeners\n" + output(p))
        rc, log = s.start_fails()
        check(rc != 0, "cairnd exited 0 without its listener")
        contains(log, "127.0.0.1:%d" % port, "stderr at start-up")
    finally:
        holder.close()


@test
def test_several_listeners():
    s = make_server()
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    port2 = other.getsockname()[1]
    other.close()
    s.extra = "Listen 127.0.0.1:%d\n" % port2
    s.start()
    eq(s.get("/f.txt").status, 200, "GET on the first Listen")
    with socket.create_connection(("127.0.0.1", port2), timeout=5) as c:
        c.sendall(build_request("GET", "/f.txt", {"Connection": "close"}))
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    check(data.startswith(b"HTTP/1.1 200"), "GET on the second Listen: %r"
          % data[:80])


@test
def test_user_and_group():
    if os.geteuid() != 0:
        skip("needs root to switch users")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        skip("no user nobody")
    s = make_server("User nobody\nGroup nogroup\n", workers=2)
    os.chmod(s.tmp, 0o755)
    os.chmod(s.docroot, 0o755)
    os.chmod(os.path.join(s.docroot, "f.txt"), 0o644)
    s.start()
    eq(s.get("/f.txt").status, 200, "GET /f.txt served by nobody")
    check_worker_ids(s, 2, nobody.pw_uid, grp.getgrnam("nogroup").gr_gid)


def check_worker_ids(s, n, uid, gid):
    """Each of the master's n workers runs as uid and gid (real and
    effective).  A worker switches users right after the fork: serve a
    request first, then look (and give a slow machine a moment)."""
    kids = s.wait_workers(n)
    eq(s.get("/f.txt").status, 200, "GET /f.txt")
    for k in kids:
        deadline = time.time() + 2 * slow_factor()
        while True:
            with open("/proc/%d/status" % k) as f:
                text = f.read()
            u = re.search(r"^Uid:\s+(\d+)\s+(\d+)", text, re.M)
            g = re.search(r"^Gid:\s+(\d+)\s+(\d+)", text, re.M)
            got = tuple(int(x) for x in u.groups() + g.groups())
            if got == (uid, uid, gid, gid) or time.time() > deadline:
                break
            time.sleep(0.05)
        eq(got, (uid, uid, gid, gid), "uid and gid (real, effective) of "
           "worker %d" % k)


def bare_root_server(conf=""):
    """A server with no User unless conf sets one, started as root."""
    if os.geteuid() != 0:
        skip("needs root")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        skip("no user nobody")
    s = make_server(base=False, modules=("static",),
                    conf="ModuleDir @MODULEDIR@\n"
                         "Listen 127.0.0.1:@PORT@\n"
                         "Workers 2\n"
                         "LoadModule static\n"
                         "DocumentRoot @DOCROOT@\n" + conf)
    os.chmod(s.tmp, 0o755)
    os.chmod(s.docroot, 0o755)
    os.chmod(os.path.join(s.docroot, "f.txt"), 0o644)
    return s, nobody


@test
def test_root_without_user_runs_workers_as_nobody():
    s, nobody = bare_root_server()
    p = s.run(["-t"])
    eq(p.returncode, 0, "exit status of -t\n" + output(p))
    contains(p.stderr, "User is not set: started as root, the workers "
             "would run as nobody (uid %d, gid %d)"
             % (nobody.pw_uid, nobody.pw_gid), "stderr of -t")
    p = s.run(["-t", "-q"])
    eq(p.stderr, "", "stderr of -t -q")
    s.start()
    eq(s.get("/f.txt").status, 200, "GET /f.txt served by nobody")
    check_worker_ids(s, 2, nobody.pw_uid, nobody.pw_gid)
    with open("/proc/%d/status" % s.pid) as f:
        eq(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1), "0",
           "the master's uid")
    contains(s.log(), "[notice] [pid %d] started as root without User: the "
             "workers run as nobody (uid %d, gid %d); set User and Group to "
             "choose" % (s.pid, nobody.pw_uid, nobody.pw_gid), "the log")


@test
def test_root_with_group_only():
    s, nobody = bare_root_server("Group root\n")
    s.start()
    check_worker_ids(s, 2, nobody.pw_uid, 0)


@test
def test_user_root_is_explicit_and_warned():
    s, _ = bare_root_server("User root\n")
    p = s.run(["-t", "-q"])
    eq(p.returncode, 0, "exit status of -t -q\n" + output(p))
    contains(p.stderr, "warning: User root: the workers would serve "
             "requests as root", "stderr of -t -q")
    s.start()
    check_worker_ids(s, 2, 0, 0)
    contains(s.log(), "[warn] [pid %d] User root: the workers serve "
             "requests as root" % s.pid, "the log")


@test
def test_user_that_does_not_exist():
    s, _ = bare_root_server("User no-such-user-here\n")
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    contains(p.stderr, "%s: User 'no-such-user-here' does not exist"
             % s.conf_path, "stderr of -t")
    rc, log = s.start_fails()
    check(rc != 0, "cairnd started with a User that does not exist")
    contains(log, "User 'no-such-user-here' does not exist", "stderr")


@test
def test_systemd_notify():
    s = make_server()
    path = s.path("notify.sock")
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.bind(path)
    n.settimeout(5 * slow_factor())
    s.env = {"NOTIFY_SOCKET": path}
    try:
        s.start()
        msgs = []
        while not any(b"READY=1" in m for m in msgs):
            try:
                msgs.append(n.recv(4096))
            except socket.timeout:
                fail("no READY=1 on NOTIFY_SOCKET; got %r" % msgs)
        s.signal(signal.SIGTERM)
        while not any(b"STOPPING=1" in m for m in msgs):
            try:
                msgs.append(n.recv(4096))
            except socket.timeout:
                fail("no STOPPING=1 on NOTIFY_SOCKET after SIGTERM; got %r"
                     % msgs)
        eq(s.wait_exit(10), 0, "exit status")
    finally:
        n.close()


if __name__ == "__main__":
    main()
