"""Suspended requests on one worker: a thousand timers wait at once while
other requests are served, task-pool work, streamed responses, and the
cancel callback when a client leaves."""

import asyncio
import re
import threading
import time

from cairntest import (Server, build_request, check, eq, fail, main,
                       need_modules, shared, slow_factor, test)

need_modules("static", "test_async")


def make_server():
    s = Server(modules=["static", "test_async"],
               conf="MaxConnections 4096\n")
    s.write("f.txt", "static file\n")
    return s


def srv():
    return shared("async", make_server)


async def fetch(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(build_request("GET", path, {"Connection": "close"}))
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


async def fetch_many(port, paths, limit):
    return await asyncio.wait_for(
        asyncio.gather(*(fetch(port, p) for p in paths),
                       return_exceptions=True), limit)


def body_of(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], body


def cancelled_count(s):
    r = s.get("/cancelled")
    eq(r.status, 200, "GET /cancelled")
    m = re.search(rb"\d+", r.body)
    check(m, "GET /cancelled answered %r" % r.body)
    return int(m.group(0))


def wait_count(s, want, limit=3.0):
    """Polls /cancelled until it shows want (or limit seconds pass);
    returns the last count."""
    deadline = time.monotonic() + limit * slow_factor()
    while True:
        n = cancelled_count(s)
        if n >= want or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


@test
def test_delay_one():
    s = srv()
    t0 = time.monotonic()
    r = s.get("/delay?ms=200")
    took = time.monotonic() - t0
    eq((r.status, r.body), (200, b"delayed 200\n"), "GET /delay?ms=200")
    check(took >= 0.19, "answered after %.3f s, before the timer" % took)


@test
def test_thousand_waiting_requests():
    s = srv()
    n = 1000
    f = slow_factor()
    static_latency = []

    def static_probe():
        time.sleep(0.1)
        t0 = time.monotonic()
        try:
            r = s.get("/f.txt", timeout=10)
            static_latency.append((time.monotonic() - t0, r.status, r.body))
        except Exception as e:
            static_latency.append((time.monotonic() - t0, str(e), b""))

    probe = threading.Thread(target=static_probe)
    t0 = time.monotonic()
    probe.start()
    results = asyncio.run(fetch_many(s.port, ["/delay?ms=200"] * n, 30 * f))
    total = time.monotonic() - t0
    probe.join()
    bad = []
    for i, res in enumerate(results):
        if isinstance(res, BaseException):
            bad.append("request %d: %s: %s" % (i, type(res).__name__, res))
            continue
        line, body = body_of(res)
        if not line.startswith(b"HTTP/1.1 200") or body != b"delayed 200\n":
            bad.append("request %d: %r %r" % (i, line, body[:60]))
    lat, status, body = static_latency[0]
    print("# %d concurrent GET /delay?ms=200 on one worker: %.3f s total"
          % (n, total))
    print("# static request while they waited: %.1f ms" % (lat * 1000))
    if bad:
        fail("%d of %d delayed requests failed:\n%s"
             % (len(bad), n, "\n".join(bad[:10])))
    check(total < 2.0 * f, "%d delayed requests took %.2f s (want < 2 s)"
          % (n, total))
    eq((status, body), (200, b"static file\n"),
       "static request during the wait")
    check(lat < 0.5 * f, "static request took %.3f s while the delayed "
          "requests waited (want < 0.5 s)" % lat)


@test
def test_task_pool():
    s = srv()
    t0 = time.monotonic()
    results = asyncio.run(fetch_many(s.port, ["/task?ms=100"] * 20,
                                     30 * slow_factor()))
    took = time.monotonic() - t0
    for i, res in enumerate(results):
        if isinstance(res, BaseException):
            fail("task request %d: %s: %s" % (i, type(res).__name__, res))
        line, body = body_of(res)
        eq((line[:12], body), (b"HTTP/1.1 200", b"task 100\n"),
           "task request %d" % i)
    print("# 20 concurrent GET /task?ms=100: %.3f s" % took)
    # Meanwhile the loop stayed free.
    r = s.get("/f.txt")
    eq(r.status, 200, "static request after the tasks")


@test
def test_stream():
    s = srv()
    with s.conn() as c:
        r = c.request("GET", "/stream")
        eq(r.status, 200, "GET /stream")
        check(r.chunked, "HTTP/1.1 /stream is not chunked: %s" % r.headers)
        eq(r.body, b"chunk 1\nchunk 2\nchunk 3\n", "streamed body")
        streamed = r.body
        # The connection stays usable after a streamed response.
        r = c.request("GET", "/f.txt")
        eq((r.status, r.body), (200, b"static file\n"),
           "request after the stream")
    with s.conn() as c:
        c.send(b"GET /stream HTTP/1.0\r\n\r\n")
        r = c.read_response()
        eq(r.status, 200, "HTTP/1.0 GET /stream")
        check(not r.chunked, "chunked response to HTTP/1.0")
        eq(r.body, streamed, "HTTP/1.0 streamed body")
        closed, _ = c.closed_within(2)
        check(closed, "HTTP/1.0 stream not ended by closing")


@test
def test_stream_long():
    s = srv()
    with s.conn(timeout=20) as c:
        r = c.request("GET", "/stream?n=500&ms=1")
    eq(r.status, 200, "GET /stream?n=500&ms=1")
    eq(r.body, b"".join(b"chunk %d\n" % i for i in range(1, 501)),
       "500 streamed chunks")


@test
def test_stream_client_leaves():
    s = srv()
    before = cancelled_count(s)
    c = s.conn()
    c.send(build_request("GET", "/stream?n=100&ms=20"))
    time.sleep(0.2)
    c.close()
    eq(wait_count(s, before + 1), before + 1,
       "cancel callbacks after a streaming client left")
    s.assert_serving("/f.txt", 200)


@test
def test_cancel_on_disconnect():
    s = srv()
    before = cancelled_count(s)
    c = s.conn()
    c.send(build_request("GET", "/delay?ms=1000"))
    time.sleep(0.3)
    c.close()
    eq(wait_count(s, before + 1), before + 1, "cancel callbacks after one client left during "
       "/delay?ms=1000")
    # A request that completes is not counted as cancelled.
    eq(s.get("/delay?ms=50").status, 200, "GET /delay?ms=50")
    eq(cancelled_count(s), before + 1, "cancel callbacks after a request "
       "that completed")


@test
def test_cancel_many():
    s = srv()
    before = cancelled_count(s)
    conns = [s.conn() for _ in range(50)]
    for c in conns:
        c.send(build_request("GET", "/delay?ms=2000"))
    time.sleep(0.3)
    for c in conns:
        c.close()
    eq(wait_count(s, before + 50), before + 50, "cancel callbacks after 50 clients left")


@test
def test_stop_with_suspended_requests():
    # SIGTERM while requests wait: the server still exits cleanly (the
    # harness checks the exit status and the log).
    s = make_server()
    s.start()
    conns = [s.conn() for _ in range(20)]
    for c in conns:
        c.send(build_request("GET", "/delay?ms=300"))
    time.sleep(0.1)
    rc = s.stop()
    for c in conns:
        c.close()
    eq(rc, 0, "exit status after SIGTERM with suspended requests")


if __name__ == "__main__":
    main()
