"""Responses sent before the request body was read.

A request answered early (401/403 from mod_auth, 404/405 from a phase
before the handler, 413 by Content-Length or by a chunked body passing
LimitRequestBody, 417) leaves the rest of its body on the wire.  The
connection must then either discard it and stay usable (the whole body
arrived within DiscardBodyLimit and LingeringTimeout) or close with a
lingering close, and no later body byte may touch the finished request:
one such POST used to kill the worker.

The table crosses every early status with bodies of several sizes and
framings, four ways of delivering them and three things that follow,
runs every case concurrently against one worker, and then checks that
the worker is the same process and the log has no crash record.  The
respawn tests check that a worker that dies while serving is replaced at
once, and that the back-off is kept for workers that die at start-up.
"""

import base64
import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import threading
import time

from cairntest import (Conn, ProtocolError, Server, check, eq, fail, main,
                       need_modules, slow_factor, test)

need_modules("static", "auth", "test_echo", "test_early", "test_crash")

FOLLOW = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
INDEX = b"hello\n"
DISCARD_LIMIT = 1024 * 1024
SMALL_LIMIT = 64 * 1024

CONF = """
LimitRequestBody 10M
<Location /auth>
    AuthType Basic
    AuthName early
    AuthUserFile @TMP@/htpasswd
    Require valid-user
</Location>
<Location /deny>
    Require ip 10.0.0.0/8
</Location>
<Location /nf>
    TestEarlyStatus 404
</Location>
<Location /na>
    TestEarlyStatus 405
</Location>
<Location /slow>
    TestEarlyStatus 403
    TestEarlyDelay 150ms
</Location>
<Location /small>
    LimitRequestBody 64k
</Location>
<Location /echo/small>
    LimitRequestBody 64k
</Location>
"""


def sha_crypt(password):
    out = subprocess.run(["openssl", "passwd", "-6", password],
                         stdout=subprocess.PIPE, check=True, text=True)
    return out.stdout.strip()


def make_server(extra="", modules=("static", "auth", "test_echo",
                                   "test_early")):
    s = Server(conf=CONF + extra, modules=list(modules))
    s.write("index.html", INDEX)
    s.write_tmp("htpasswd", "ann:%s\n" % sha_crypt("secret"))
    return s


# ----------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------

WRONG_PASSWORD = "Basic " + base64.b64encode(b"ann:wrong").decode()

# name -> (path, extra headers, status, whether the status may keep the
# connection, which body sizes apply)
STATUSES = {
    "401": ("/auth/x", [], 401, True, None),
    # A wrong password: the hash is checked on the task pool, so the
    # answer comes from a resumed request while the body arrives.
    "401-hashed": ("/auth/x", [("Authorization", WRONG_PASSWORD)], 401,
                   True, None),
    "403": ("/deny/x", [], 403, True, None),
    # Suspended on a timer, then answered.
    "403-delayed": ("/slow/x", [], 403, True, None),
    "404": ("/nf/x", [], 404, True, None),
    "405": ("/na/x", [], 405, True, None),
    "413-length": ("/small/x", [], 413, False,
                   lambda size: size is not None and size > SMALL_LIMIT),
    "413-chunked": ("/echo/small/x", [], 413, False,
                    lambda size: size is not None and size > SMALL_LIMIT),
    "417": ("/index.html", [("Expect", "foo")], 417, False,
            lambda size: size is not None),
}

# Answered by a request that was suspended (task pool, timer).
SUSPENDS = ("401-hashed", "403-delayed")

SIZES = [None, 1, 8 * 1024, 100 * 1024, 2 * 1024 * 1024]
FRAMINGS = ["length", "chunked"]
# delivery -> the follow-ups it allows
DELIVERIES = {
    "once": ["none", "second", "pipelined"],
    "pieces": ["none", "second", "pipelined"],
    "abort": ["none"],
    "halfclose": ["none", "pipelined"],
}


def encode_chunked(body):
    out = b""
    step = 16 * 1024
    for i in range(0, len(body), step):
        part = body[i:i + step]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def table_cases():
    cases = []
    for sname, (path, hdrs, status, keeps, applies) in STATUSES.items():
        for size in SIZES:
            for framing in FRAMINGS:
                if framing == "length" and sname == "413-chunked":
                    continue
                if framing == "chunked" and sname == "413-length":
                    continue
                if applies is not None and not applies(size):
                    continue
                for delivery, follows in DELIVERIES.items():
                    for follow in follows:
                        cases.append(dict(sname=sname, path=path,
                                          hdrs=hdrs, status=status,
                                          keeps=keeps, size=size,
                                          framing=framing,
                                          delivery=delivery,
                                          follow=follow))
    return cases


def case_name(c):
    return "%s %s/%s %s+%s" % (c["sname"], c["size"], c["framing"],
                               c["delivery"], c["follow"])


def expect_keep(c):
    """Whether the connection must stay usable after the answer."""
    if not c["keeps"]:
        return False
    if c["size"] is None:
        return True
    return c["size"] <= DISCARD_LIMIT


def expect_close_header(c):
    """Whether the answer itself must say Connection: close (the server
    knows before sending it that it will close)."""
    if not c["keeps"]:
        return True
    return (c["framing"] == "length" and c["size"] is not None
            and c["size"] > DISCARD_LIMIT)


def request_bytes(c):
    head = "POST %s HTTP/1.1\r\nHost: localhost\r\n" % c["path"]
    head += "".join("%s: %s\r\n" % kv for kv in c["hdrs"])
    body = b"" if c["size"] is None else os.urandom(c["size"])
    if c["framing"] == "chunked":
        head += "Transfer-Encoding: chunked\r\n"
        body = encode_chunked(body)
    elif c["size"] is not None:
        head += "Content-Length: %d\r\n" % c["size"]
    head += "\r\n"
    return head.encode("latin-1"), body


def run_case(port, c):
    """Runs one case; returns None or what went wrong."""
    sf = slow_factor()
    conn = Conn(port, timeout=15.0 * sf)
    head, body = request_bytes(c)
    follow = FOLLOW if c["follow"] == "pipelined" else b""
    sent = threading.Event()
    errors = []

    def sender():
        try:
            if c["delivery"] == "once":
                conn.sock.sendall(head + body + follow)
            elif c["delivery"] == "pieces":
                conn.sock.sendall(head)
                cuts = [0, len(body) // 3, 2 * len(body) // 3, len(body)]
                for pause, a, b in zip((0.2, 0.5, 1.0), cuts, cuts[1:]):
                    time.sleep(pause)
                    if b > a:
                        conn.sock.sendall(body[a:b])
                if follow:
                    conn.sock.sendall(follow)
            elif c["delivery"] == "abort":
                conn.sock.sendall(head + body[:len(body) // 2])
            elif c["delivery"] == "halfclose":
                conn.sock.sendall(head + body + follow)
                conn.sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            # The server closed after an answer that ends the connection.
            pass
        except OSError as e:
            errors.append("send: %s" % e)
        finally:
            sent.set()

    t = threading.Thread(target=sender)
    t.start()
    try:
        if c["delivery"] == "abort":
            if c["sname"] != "413-chunked" or len(body) // 2 > SMALL_LIMIT:
                r = conn.read_response("POST")
                if r.status != c["status"]:
                    return "status %d, want %d" % (r.status, c["status"])
            t.join()
            return None

        try:
            r = conn.read_response("POST")
        except ProtocolError:
            if c["delivery"] == "halfclose" and c["sname"] in SUSPENDS:
                # The end of the input reached the server while the
                # request waited: a client that closes its side is gone,
                # and its request is cancelled (499), as in nginx.
                return None
            raise
        if r.status != c["status"]:
            return "status %d, want %d" % (r.status, c["status"])
        says_close = r.has_token("Connection", "close")
        if says_close != expect_close_header(c):
            return "Connection: close %s, want %s" % (
                "sent" if says_close else "absent",
                "sent" if expect_close_header(c) else "absent")

        keep = expect_keep(c)
        if c["follow"] == "second":
            t.join()
            if keep:
                conn.send(FOLLOW)
                r2 = conn.read_response("GET")
                if r2.status != 200 or r2.body != INDEX:
                    return "second request: %s %r" % (r2.status, r2.body)
            else:
                try:
                    conn.send(FOLLOW)
                except OSError:
                    pass
                data = conn.read_until_close()
                if data.startswith(b"HTTP/"):
                    return "second request answered on a closing connection"
        elif c["follow"] == "pipelined" and keep:
            r2 = conn.read_response("GET")
            if r2.status != 200 or r2.body != INDEX:
                return "pipelined request: %s %r" % (r2.status, r2.body)
        if not keep or c["delivery"] == "halfclose":
            data = conn.read_until_close()
            if data:
                return "unexpected bytes before the close: %r" % data[:80]
        t.join()
        if errors:
            return errors[0]
        return None
    except (ProtocolError, OSError) as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        t.join()
        conn.close()


def run_table(s, cases, threads=32):
    failures = []
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        futs = {pool.submit(run_case, s.port, c): c for c in cases}
        for f in concurrent.futures.as_completed(futs):
            err = f.result()
            if err is not None:
                failures.append("%s: %s" % (case_name(futs[f]), err))
    return failures


def check_worker_intact(s, pid_before):
    check(s.alive(), "cairnd is gone; log tail:\n%s" % s.log_tail())
    eq(s.children(), [pid_before], "the worker processes after the table")
    bad = [l for l in s.log().splitlines()
           if re.search(r"killed by signal|respawning|AddressSanitizer"
                        r"|runtime error", l)]
    check(not bad, "crash records in the error log:\n%s" % "\n".join(bad))
    r = s.get("/index.html")
    eq(r.status, 200, "GET /index.html after the table")


@test
def test_early_answer_table():
    s = make_server()
    s.start()
    pid = s.wait_workers(1)[0]
    cases = table_cases()
    t0 = time.monotonic()
    failures = run_table(s, cases)
    print("# %d cases in %.1f s, %d failed"
          % (len(cases), time.monotonic() - t0, len(failures)))
    check(not failures, "%d of %d cases failed:\n%s"
          % (len(failures), len(cases), "\n".join(sorted(failures)[:40])))
    check_worker_intact(s, pid)


@test
def test_reported_crash():
    """The request of the report: a 401 for a POST whose 100,000 bytes
    follow at once, the client keeping the connection open; and the
    default configuration with a 2 MiB POST (413)."""
    s = make_server()
    s.start()
    pid = s.wait_workers(1)[0]
    for path, size, status in (("/auth/", 100000, 401),
                               ("/small/", 100000, 413),
                               ("/index.html", 2000000, 405)):
        with s.conn() as c:
            c.send(b"POST %s HTTP/1.1\r\nHost: localhost\r\n"
                   b"Content-Length: %d\r\n\r\n" % (path.encode(), size)
                   + b"x" * size)
            r = c.read_response("POST")
            eq(r.status, status, "status of POST %s" % path)
            time.sleep(0.5)
    check_worker_intact(s, pid)

    d = Server(conf="", modules=("static",))
    d.write("index.html", INDEX)
    d.start()
    dpid = d.wait_workers(1)[0]
    for size in (1048576, 1048577, 2000000):
        with d.conn() as c:
            t = threading.Thread(target=lambda: c.sock.sendall(
                b"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                b"%d\r\n\r\n" % size + b"a" * size))
            t.start()
            r = c.read_response("POST")
            eq(r.status, 405 if size <= 1048576 else 413,
               "status of a %d-byte POST with the defaults" % size)
            t.join()
    check_worker_intact(d, dpid)


@test
def test_expect_continue_answered_early():
    """A client waiting for 100 Continue gets the final answer instead,
    no 100, and the connection closes: whether it will still send the
    body cannot be known."""
    s = make_server()
    s.start()
    with s.conn() as c:
        c.send(b"POST /auth/x HTTP/1.1\r\nHost: localhost\r\n"
               b"Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response("POST")
        eq(r.status, 401, "status")
        check(r.has_token("Connection", "close"),
              "no Connection: close:\n%s" % r.describe())
        closed, data = c.closed_within(3.0 * slow_factor())
        check(closed, "the connection stayed open")
        eq(data, b"", "bytes after the answer")
    # Granted, the same request gets its 100 Continue.
    with s.conn() as c:
        c.send(b"POST /echo/x HTTP/1.1\r\nHost: localhost\r\n"
               b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response("POST")
        eq(r.status, 100, "interim status")
        c.send(b"hello")
        r = c.read_response("POST")
        eq(r.status, 200, "final status")
        eq(r.body, b"POST /echo/x\nquery=\nhello", "echoed body")


@test
def test_discard_is_bounded_in_time():
    """A body that stops arriving after an early answer: the connection
    closes after LingeringTimeout, and a body over DiscardBodyLimit is
    not discarded at all."""
    s = make_server("LingeringTimeout 1s\nDiscardBodyLimit 10k\n")
    s.start()
    with s.conn(timeout=10) as c:
        c.send(b"POST /auth/x HTTP/1.1\r\nHost: localhost\r\n"
               b"Content-Length: 5000\r\n\r\n" + b"x" * 100)
        r = c.read_response("POST")
        eq(r.status, 401, "status")
        check(not r.has_token("Connection", "close"),
              "a small body should be discarded:\n%s" % r.describe())
        t0 = time.monotonic()
        closed, _ = c.closed_within(5.0 * slow_factor())
        waited = time.monotonic() - t0
        check(closed, "the connection stayed open")
        check(0.7 <= waited <= 3.0 * slow_factor(),
              "closed after %.2f s, want about LingeringTimeout 1s" % waited)
    with s.conn(timeout=10) as c:
        c.send(b"POST /auth/x HTTP/1.1\r\nHost: localhost\r\n"
               b"Content-Length: 20000\r\n\r\n")
        r = c.read_response("POST")
        eq(r.status, 401, "status")
        check(r.has_token("Connection", "close"),
              "a body over DiscardBodyLimit must close:\n%s" % r.describe())
    # A chunked body that passes the limit while it is discarded.
    with s.conn(timeout=10) as c:
        c.send(b"POST /auth/x HTTP/1.1\r\nHost: localhost\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
        r = c.read_response("POST")
        eq(r.status, 401, "status")
        try:
            c.send(encode_chunked(b"y" * 30000) + FOLLOW)
        except OSError:
            pass
        data = c.read_until_close()
        check(not data.startswith(b"HTTP/"),
              "the request after an over-limit body was answered")
    check(s.alive(), "cairnd is gone")
    eq(s.get("/index.html").status, 200, "GET after the cases")


# ----------------------------------------------------------------------
# Respawning
# ----------------------------------------------------------------------

@test
def test_serving_worker_respawned_at_once():
    s = make_server(modules=("static", "auth", "test_echo", "test_early"))
    s.expect_fatal = True
    s.start()
    worst = 0.0
    for round_ in range(5):
        old = s.wait_workers(1)[0]
        eq(s.get("/index.html").status, 200, "GET before the kill")
        t0 = time.monotonic()
        os.kill(old, signal.SIGSEGV)
        while True:
            kids = [k for k in s.children() if k != old]
            if kids:
                break
            if time.monotonic() - t0 > 5.0:
                fail("no new worker 5 s after the crash; log:\n%s"
                     % s.log_tail())
            time.sleep(0.002)
        took = time.monotonic() - t0
        worst = max(worst, took)
        eq(s.get("/index.html").status, 200, "GET after the respawn")
    print("# slowest replacement of 5: %.0f ms" % (worst * 1000))
    check(worst < 0.2 * slow_factor(), "a serving worker was replaced "
          "after %.0f ms, want < 200 ms" % (worst * 1000))
    log = s.log()
    check("respawning the worker of slot 0 in" not in log,
          "a serving worker's slot waited for a back-off:\n%s"
          % s.log_tail())
    check(re.search(r"killed by signal 11 .*in the core", log),
          "no crash record for the killed worker:\n%s" % s.log_tail())


@test
def test_start_up_crash_still_backs_off():
    s = Server(conf="TestCrashWorkerInit on\n",
               modules=("static", "test_crash"))
    s.expect_fatal = True
    # The master starts; its workers die in worker_init.
    s.proc = None
    with open(s.log_path, "wb") as err:
        p = subprocess.Popen([s.cairnd, "-f", s.conf_path],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err,
                             start_new_session=True, cwd=s.tmp)
    s.proc = p
    try:
        s.wait_log(r"respawning the worker of slot 0 in 400 ms",
                   timeout=10 * slow_factor())
        delays = [int(m) for m in re.findall(
            r"respawning the worker of slot 0 in (\d+) ms", s.log())]
        eq(delays[:3], [100, 200, 400], "the growing back-off")
        check(re.search(r"killed by signal 11 .*in mod_test_crash, "
                        r"hook worker_init", s.log()) or
              re.search(r"killed by signal 11", s.log()),
              "no crash record:\n%s" % s.log_tail())
    finally:
        s.stop()


if __name__ == "__main__":
    main()
