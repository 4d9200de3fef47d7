"""Reloads that can never take the server down.

Each case runs under a steady load (clients on keep-alive and on fresh
connections) that counts every failed request, and must end with zero
failures, the refusal (or the reload) in the log, and the server still
serving what it should: an include loop; a configuration check slower
than ConfigTestTimeout (the master keeps reaping, respawning and taking
signals meanwhile; TERM during a check stops gracefully); a Listen that
another program holds; TERM soon after HUP with slow requests on the old
workers; a configuration file rewritten while its reload runs; and a
storm of 50 HUPs mixing all of these.
"""

import os
import re
import signal
import socket
import threading
import time

from cairntest import (Clients, Server, check, contains, eq, fail, main,
                       need_modules, not_contains, slow_factor, test)

need_modules("static", "test_busy", "test_async")

BODY = "".join("line %04d of the file under reload\n" % i
               for i in range(40))


def make_server(extra="", workers=2, modules=("static", "test_busy",
                                              "test_async")):
    s = Server(conf="Header X-Gen 1\n" + extra, workers=workers,
               modules=modules)
    s.write("f.txt", BODY)
    s.start()
    s.wait_workers(workers)
    return s


def rewrite(s, extra):
    s.extra = extra
    s.write_config()


def gen_header(s):
    try:
        return s.get("/f.txt").header("X-Gen")
    except Exception as e:
        return "error %s" % e


def wait_for(fn, limit, what):
    deadline = time.monotonic() + limit * slow_factor()
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("%s within %.1f s" % (what, limit))
        time.sleep(0.02)


def master_fds(s):
    return len(os.listdir("/proc/%d/fd" % s.pid))


def under_load(s, action, workers_expected=None):
    """Runs action() while clients hammer /f.txt; fails on any failed
    request.  Returns the clients."""
    clients = Clients(s.port, keepalive=4, fresh=2,
                      body=BODY.encode()).start()
    try:
        time.sleep(0.2)
        action()
        time.sleep(0.3)
    finally:
        clients.stop()
    check(not clients.failures, "%d of %d requests failed:\n%s"
          % (len(clients.failures), clients.total(),
             clients.describe_failures()))
    check(clients.ok > 50, "only %d requests were served" % clients.ok)
    print("# %d requests, none failed" % clients.ok)
    return clients


@test
def test_include_loop_is_refused_at_once():
    s = make_server()
    gen = s.wait_log(r"listening on")
    for name in ("b.conf", "c.conf"):
        s.write_tmp(name, "Include *.conf\n")

    def action():
        rewrite(s, "Header X-Gen 2\nInclude *.conf\n")
        t0 = time.monotonic()
        s.signal(signal.SIGHUP)
        s.wait_log(r"reload refused", timeout=5 * slow_factor())
        print("# refused after %.3f s" % (time.monotonic() - t0))

    under_load(s, action)
    contains(s.log(), "Include loop: ", "the log")
    eq(gen_header(s), "1", "X-Gen after the refused reload")
    not_contains(s.log(), "reloaded:", "the log")
    check(gen is not None, "started")


@test
def test_slow_check_never_blocks_the_master():
    s = make_server("ConfigTestTimeout 1s\n")
    s.expect_fatal = True       # a worker is killed on purpose
    old = s.children()

    def action():
        rewrite(s, "ConfigTestTimeout 1s\nHeader X-Gen 2\n"
                   "TestSlowConfig 4s\n")
        s.signal(signal.SIGHUP)
        time.sleep(0.2)
        # The master answers USR1 and replaces a dead worker while the
        # check runs.
        s.signal(signal.SIGUSR1)
        victim = old[0]
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        kids = wait_for(lambda: [k for k in s.children()
                                 if k not in old] or None,
                        1.0, "no worker replaced the killed one")
        print("# killed worker %d replaced by %s in %.0f ms, during the "
              "check" % (victim, kids, (time.monotonic() - t0) * 1000))
        check("refused" not in s.log(), "refused too early")
        s.wait_log(r"reload refused: the configuration check did not "
                   r"finish within 1 s \(ConfigTestTimeout\) and was "
                   r"killed; still serving generation 1",
                   timeout=5 * slow_factor())

    # The killed worker's own connections may fail: count only after.
    action()
    under_load(s, lambda: None)
    eq(gen_header(s), "1", "X-Gen after the refused reload")

    # TERM during a check: the check is killed, the server stops
    # gracefully and exits 0, at once when idle.
    rewrite(s, "Header X-Gen 3\nTestSlowConfig 5s\n")
    s.signal(signal.SIGHUP)
    time.sleep(0.3)
    t0 = time.monotonic()
    s.signal(signal.SIGTERM)
    rc = s.wait_exit(5 * slow_factor())
    eq(rc, 0, "exit status after TERM during a check")
    print("# stopped %.2f s after TERM during a check"
          % (time.monotonic() - t0))
    contains(s.log(), "stopping gracefully", "the log")


@test
def test_taken_port_refuses_the_reload():
    s = make_server()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        def action():
            rewrite(s, "Header X-Gen 2\nListen 127.0.0.1:%d\n" % port)
            s.signal(signal.SIGHUP)
            s.wait_log(r"reload refused: cannot listen on 127\.0\.0\.1:%d"
                       % port, timeout=5 * slow_factor())

        under_load(s, action)
    finally:
        taken.close()
    contains(s.log(), "Address already in use", "the log")
    eq(gen_header(s), "1", "X-Gen after the refused reload")
    not_contains(s.log(), "reloaded:", "the log")

    # The same reload once the port is free: both addresses serve.
    s.signal(signal.SIGHUP)
    s.wait_log(r"reloaded: generation 2", timeout=5 * slow_factor())
    wait_for(lambda: gen_header(s) == "2", 5, "X-Gen 2")
    import http.client
    hc = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    hc.request("GET", "/f.txt")
    eq(hc.getresponse().status, 200, "GET on the new address")
    hc.close()


@test
def test_term_after_hup_is_graceful():
    s = make_server("GracefulTimeout 10s\n")
    results = []

    def slow():
        try:
            r = s.get("/delay?ms=2500", timeout=20)
            results.append(r.status)
        except Exception as e:
            results.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    rewrite(s, "GracefulTimeout 10s\nHeader X-Gen 2\n")
    s.signal(signal.SIGHUP)
    s.wait_log(r"reloaded: generation 2", timeout=5 * slow_factor())
    time.sleep(0.5)
    t0 = time.monotonic()
    s.signal(signal.SIGTERM)
    for t in threads:
        t.join(20)
    rc = s.wait_exit(15)
    took = time.monotonic() - t0
    eq(results, [200] * 4, "the slow requests of the old generation")
    eq(rc, 0, "exit status")
    check(took > 1.0, "the master exited %.2f s after TERM, before the "
          "old generation's requests ended" % took)
    not_contains(s.log(), "stopping now", "the log")
    print("# the old generation's 4 slow requests ended; exit %.2f s after "
          "TERM" % took)


@test
def test_file_changed_during_reload():
    """The master loads what the check read, not what the file holds
    by the time the check is done."""
    s = make_server("TestSlowConfig 0\n")
    s.expect_fatal = True       # a worker is killed on purpose

    def action():
        rewrite(s, "Header X-Gen 2\nTestSlowConfig 1s\n")
        s.signal(signal.SIGHUP)
        s.wait_log(r"test_busy: post_config sleeps 1000 ms",
                   timeout=10 * slow_factor())
        # Broken now, while the check (which read the good one) runs.
        rewrite(s, "Header X-Gen 3\nNoSuchDirective 1\n")
        s.wait_log(r"reloaded: generation 2", timeout=10 * slow_factor())

    under_load(s, action)
    wait_for(lambda: gen_header(s) == "2", 5, "X-Gen 2 from the checked "
             "configuration")
    # Always a generation: a dead worker is replaced.
    kids = s.wait_workers(2, exclude=())
    os.kill(kids[0], signal.SIGKILL)
    wait_for(lambda: len([k for k in s.children() if k != kids[0]]) == 2,
             1.0, "the killed worker was not replaced")
    eq(gen_header(s), "2", "X-Gen after the respawn")


@test
def test_reload_storm():
    s = make_server()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    tport = taken.getsockname()[1]
    for name in ("b.conf", "c.conf"):
        s.write_tmp(name, "Include *.conf\n")
    fds_before = master_fds(s)
    variants = [
        ("good", lambda i: "Header X-Gen g%d\n" % i),
        ("broken", lambda i: "Header X-Gen b%d\nDocumentRoot a b\n" % i),
        ("loop", lambda i: "Header X-Gen l%d\nInclude *.conf\n" % i),
        ("port", lambda i: "Header X-Gen p%d\nListen 127.0.0.1:%d\n"
                           % (i, tport)),
        ("midway", None),
    ]
    last_good = [None]

    def action():
        for i in range(50):
            kind, make = variants[i % len(variants)]
            if kind == "midway":
                rewrite(s, "Header X-Gen m%d\n" % i)
                s.signal(signal.SIGHUP)
                time.sleep(0.01)
                rewrite(s, "Header X-Gen x%d\nNoSuchDirective\n" % i)
            else:
                rewrite(s, make(i))
                if kind == "good":
                    last_good[0] = "g%d" % i
                s.signal(signal.SIGHUP)
            time.sleep(0.2)
        # The last word: a good configuration.
        rewrite(s, "Header X-Gen final\n")
        s.signal(signal.SIGHUP)
        wait_for(lambda: gen_header(s) == "final", 20,
                 "the last good configuration served")

    try:
        under_load(s, action)
    finally:
        taken.close()
    time.sleep(0.5)
    fds_after = master_fds(s)
    print("# master fds %d before, %d after 50 HUPs" % (fds_before,
                                                        fds_after))
    check(fds_after <= fds_before + 1, "the master's descriptors grew from "
          "%d to %d" % (fds_before, fds_after))
    check(s.alive(), "cairnd is gone")
    refused = len(re.findall(r"reload refused", s.log()))
    reloaded = len(re.findall(r"reloaded: generation", s.log()))
    print("# %d reloads committed, %d refused" % (reloaded, refused))
    check(refused >= 10 and reloaded >= 5, "refused %d, reloaded %d"
          % (refused, reloaded))


@test
def test_config_test_foresees():
    """What -t can foresee is a file:line error there (and so in the
    reload's check)."""
    s = Server(conf="ErrorLog @TMP@/no/such/dir/error.log\n"
                    "SendTimeout 9223372036854775s\n"
                    "Include /dev/zero\n")
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t")
    for line, needle in (("ErrorLog", "the directory %s/no/such/dir does "
                          "not exist" % s.tmp),
                         ("SendTimeout", "is too long a time (at most "
                          "8760h"),
                         ("Include /dev/zero", "/dev/zero is not a regular "
                          "file")):
        where = "%s:%d: " % (s.conf_path, s.line_of(line))
        check(any(l.startswith(where) and needle in l
                  for l in p.stderr.splitlines()),
              "no '%s...%s' in:\n%s" % (where, needle, p.stderr))

    # A configuration that listens nowhere cannot serve: -t says so (and
    # a reload's check refuses it, as an empty file read mid-write).
    bare = Server(base=False, modules=(), conf="Workers 1\n")
    p = bare.run(["-t"])
    eq(p.returncode, 1, "exit status of -t without Listen")
    contains(p.stderr, "no Listen directive", "stderr of -t")


if __name__ == "__main__":
    main()
