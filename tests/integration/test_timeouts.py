"""Timeouts: RequestHeaderTimeout is a total deadline for the header
block (a dripping client is cut anyway), KeepAliveTimeout closes idle
connections, RequestBodyTimeout cuts a stalled body, MaxKeepAliveRequests
ends a connection, and a slowloris does not starve normal clients."""

import select
import socket
import threading
import time

from cairntest import (Server, build_request, check, eq, fail, main,
                       need_modules, shared, slow_factor, test)

need_modules("static", "test_echo")

CONF = ("RequestHeaderTimeout 1s\n"
        "KeepAliveTimeout 2s\n"
        "RequestBodyTimeout 1s\n")


def make_server(conf):
    s = Server(modules=["static", "test_echo"], conf=conf)
    s.write("f.txt", "file\n")
    return s


def srv():
    return shared("timeouts", lambda: make_server(CONF))


def drip(sock, data, interval, limit):
    """Sends data one byte every interval seconds until the peer closes
    or limit seconds pass.  Returns (seconds until closed or None, bytes
    received)."""
    t0 = time.monotonic()
    received = b""
    i = 0
    while time.monotonic() - t0 < limit:
        if i < len(data):
            try:
                sock.sendall(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            i += 1
        end = time.monotonic() + interval
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                continue
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return time.monotonic() - t0, received
            received += chunk
    # Either the send failed (the peer closed) or the limit passed.
    sock.settimeout(0.5)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return time.monotonic() - t0, received
            received += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    if time.monotonic() - t0 < limit:
        return time.monotonic() - t0, received
    return None, received


def wait_closed(sock, limit):
    """Seconds until the peer closes (None after limit) and the bytes
    received meanwhile."""
    return drip(sock, b"", 0.05, limit)


@test
def test_header_timeout_is_total():
    s = srv()
    f = slow_factor()
    with s.conn() as c:
        c.send(b"GET /f.tx")
        data = (b"t HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 100)
        took, got = drip(c.sock, data, 0.3, 6 * f)
    check(took is not None, "a client dripping a header byte every 300 ms "
          "was not cut within 6 s (RequestHeaderTimeout 1s); received %r"
          % got)
    print("# dripping client cut after %.2f s" % took)
    check(got.startswith(b"HTTP/1.1 408"),
          "dripping client got %r, want a 408" % got[:200])
    check(0.8 <= took <= 2.5 * f,
          "dripping client cut after %.2f s, want about 1 s" % took)
    s.assert_serving("/f.txt", 200)


@test
def test_header_timeout_silent_client():
    # A connection that never sends a byte is closed too.
    s = srv()
    with s.conn() as c:
        took, got = wait_closed(c.sock, 6 * slow_factor())
    check(took is not None, "silent connection not closed within 6 s")
    print("# silent client cut after %.2f s" % took)
    check(got == b"" or got.startswith(b"HTTP/1.1 408"),
          "silent client got %r" % got[:200])


@test
def test_keepalive_timeout():
    s = srv()
    f = slow_factor()
    with s.conn() as c:
        r = c.request("GET", "/f.txt")
        eq(r.status, 200, "first request")
        took, got = wait_closed(c.sock, 6 * f)
    check(took is not None, "idle keep-alive connection not closed "
          "within 6 s (KeepAliveTimeout 2s)")
    print("# idle keep-alive connection closed after %.2f s" % took)
    eq(got, b"", "bytes sent on an idle keep-alive connection")
    check(1.6 <= took <= 3.5 * f, "idle keep-alive connection closed "
          "after %.2f s, want about 2 s (KeepAliveTimeout 2s, "
          "RequestHeaderTimeout 1s)" % took)


@test
def test_keepalive_outlives_header_timeout():
    # Idle between requests longer than RequestHeaderTimeout but within
    # KeepAliveTimeout: the next request is served.
    s = srv()
    with s.conn() as c:
        eq(c.request("GET", "/f.txt").status, 200, "first request")
        time.sleep(1.4)
        eq(c.request("GET", "/f.txt").status, 200,
           "second request after 1.4 s idle")


@test
def test_body_timeout():
    s = srv()
    f = slow_factor()
    with s.conn() as c:
        c.send(b"POST /echo/b HTTP/1.1\r\nHost: x\r\nContent-Length: 100"
               b"\r\n\r\n" + b"x" * 10)
        took, got = wait_closed(c.sock, 6 * f)
    check(took is not None, "stalled body not cut within 6 s "
          "(RequestBodyTimeout 1s)")
    print("# stalled body cut after %.2f s" % took)
    check(got.startswith(b"HTTP/1.1 408"),
          "stalled body got %r, want a 408" % got[:200])
    check(0.8 <= took <= 2.5 * f,
          "stalled body cut after %.2f s, want about 1 s" % took)
    s.assert_serving("/f.txt", 200)


@test
def test_body_arriving_in_time():
    # A slow but steady body within the timeout is fine.
    s = srv()
    with s.conn() as c:
        c.send(b"POST /echo/b HTTP/1.1\r\nHost: x\r\nContent-Length: 6"
               b"\r\n\r\n")
        for b in b"steady":
            time.sleep(0.1)
            c.send(bytes([b]))
        r = c.read_response()
    eq((r.status, r.body), (200, b"POST /echo/b\nquery=\nsteady"),
       "slow body within RequestBodyTimeout")


@test
def test_max_keepalive_requests():
    s = make_server("MaxKeepAliveRequests 3\n")
    s.start()
    with s.conn() as c:
        for i in range(1, 4):
            r = c.request("GET", "/f.txt")
            eq(r.status, 200, "request %d" % i)
            if i < 3:
                check(not r.has_token("Connection", "close"),
                      "response %d of 3 says Connection: close" % i)
        check(r.has_token("Connection", "close"),
              "response 3 (MaxKeepAliveRequests 3) lacks Connection: close:"
              " %s" % r.headers)
        closed, _ = c.closed_within(2)
        check(closed, "connection not closed after MaxKeepAliveRequests")


@test
def test_max_keepalive_requests_pipelined():
    s = make_server("MaxKeepAliveRequests 2\n")
    s.start()
    with s.conn() as c:
        c.send(b"".join(build_request("GET", "/echo/%d" % i)
                        for i in range(4)))
        r1 = c.read_response()
        r2 = c.read_response()
        closed, extra = c.closed_within(2)
    eq((r1.status, r2.status), (200, 200), "statuses")
    check(r2.has_token("Connection", "close"),
          "response 2 lacks Connection: close")
    check(closed, "connection not closed after 2 requests")
    eq(extra, b"", "bytes after the last allowed response")


@test
def test_slowloris():
    s = make_server("RequestHeaderTimeout 10s\nMaxConnections 4096\n")
    s.start()
    n = 300
    stop = threading.Event()
    socks = []
    try:
        for i in range(n):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(b"GET /f.txt HTTP/1.1\r\nHost: x\r\n")
            socks.append(c)

        def dripper():
            while not stop.is_set():
                for c in socks:
                    try:
                        c.send(b"X")
                    except OSError:
                        pass
                stop.wait(0.5)

        t = threading.Thread(target=dripper, daemon=True)
        t.start()
        time.sleep(0.5)
        latencies = []
        for i in range(20):
            t0 = time.monotonic()
            try:
                r = s.get("/f.txt", timeout=10)
            except Exception as e:
                fail("request %d during the slowloris failed: %s: %s"
                     % (i, type(e).__name__, e))
            latencies.append(time.monotonic() - t0)
            eq((r.status, r.body), (200, b"file\n"),
               "request %d during the slowloris" % i)
        stop.set()
        t.join()
        print("# %d normal requests during a %d-connection slowloris: "
              "max %.1f ms, mean %.1f ms"
              % (len(latencies), n, max(latencies) * 1000,
                 sum(latencies) / len(latencies) * 1000))
        check(max(latencies) < 2.0 * slow_factor(),
              "a normal request took %.2f s during the slowloris"
              % max(latencies))
    finally:
        stop.set()
        for c in socks:
            c.close()


if __name__ == "__main__":
    main()
