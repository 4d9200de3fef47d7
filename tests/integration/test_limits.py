"""Request limits: LimitRequestLine (414), LimitRequestFieldSize,
LimitRequestFields and LimitRequestHeaderSize (431), LimitRequestBody
(413, by Content-Length and by a chunked body), the built-in defaults,
and MaxConnections (idle connections closed to make room, 503 when none
is idle).  After every refusal the
server goes on serving."""

import time

import re

from cairntest import (Server, build_request, check, chunked, eq, fail, main,
                       module_path, skip,
                       need_modules, shared, test)

need_modules("static", "test_echo")

LIMITS = ("LimitRequestLine 256\n"
          "LimitRequestFieldSize 256\n"
          "LimitRequestFields 10\n"
          "LimitRequestBody 100\n")


def make_server(conf):
    s = Server(modules=["static", "test_echo"], conf=conf)
    s.write("f.txt", "file\n")
    return s


def srv():
    return shared("limits", lambda: make_server(LIMITS))


def default_srv():
    return shared("defaults", lambda: make_server(""))


def exchange(s, data, method="GET"):
    """Sends data (stopping quietly if the server closes early) and
    reads the first response."""
    with s.conn(timeout=10) as c:
        try:
            for i in range(0, len(data), 16384):
                c.send(data[i:i + 16384])
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return c.read_response(method)
        except ConnectionResetError:
            fail("connection reset without a response to %r..."
                 % data[:80])


def expect_status(s, data, status, what):
    r = exchange(s, data)
    if r.status != status:
        fail("%s: got %d, want %d\n%s" % (what, r.status, status,
                                          r.describe()))
    s.assert_serving("/f.txt", 200)
    return r


def echo(method, path, body=b""):
    return ("%s %s\nquery=\n" % (method, path)).encode() + body


@test
def test_request_line_limit():
    s = srv()
    path = "/echo/" + "a" * 200
    r = exchange(s, build_request("GET", path))
    eq((r.status, r.body), (200, echo("GET", path)),
       "request line of %d bytes (limit 256)" % len(path))
    expect_status(s, build_request("GET", "/echo/" + "a" * 300), 414,
                  "request line over LimitRequestLine")


@test
def test_request_line_limit_while_dripping():
    # The limit holds when the line arrives in small pieces too.
    s = srv()
    with s.conn() as c:
        try:
            c.send(b"GET /")
            for _ in range(40):
                c.send(b"a" * 10)
                time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
    eq(r.status, 414, "dripped request line over the limit")
    s.assert_serving("/f.txt", 200)


@test
def test_field_size_limit():
    s = srv()
    r = exchange(s, build_request("GET", "/echo/ok", {"X-Long": "a" * 200}))
    eq(r.status, 200, "header line of 208 bytes (limit 256)")
    expect_status(s, build_request("GET", "/echo/x", {"X-Long": "a" * 300}),
                  431, "header line over LimitRequestFieldSize")
    # A long header name counts as well.
    expect_status(s, build_request("GET", "/echo/x", {"X-" + "n" * 300: "1"}),
                  431, "header name over LimitRequestFieldSize")


@test
def test_header_block_limit():
    # Each field within LimitRequestFieldSize and their number within
    # LimitRequestFields, the block over LimitRequestHeaderSize: 431 and
    # a closed connection.
    s = make_server("LimitRequestFieldSize 2000\n"
                    "LimitRequestFields 50\n"
                    "LimitRequestHeaderSize 4k\n").start()
    ok = build_request("GET", "/echo/ok",
                       [("X-H%d" % i, "v" * 900) for i in range(4)])
    check(len(ok) < 4096, "request of %d bytes" % len(ok))
    r = exchange(s, ok)
    eq((r.status, r.body), (200, echo("GET", "/echo/ok")),
       "header block of %d bytes (limit 4k)" % len(ok))
    for what, data in (
            ("five 900-byte fields",
             build_request("GET", "/echo/x",
                           [("X-H%d" % i, "v" * 900) for i in range(5)])),
            ("forty 100-byte fields",
             build_request("GET", "/echo/x",
                           [("X-H%d" % i, "v" * 100) for i in range(40)])),
            ("a long target and fields",
             build_request("GET", "/echo/" + "t" * 1500,
                           [("X-H%d" % i, "v" * 900) for i in range(3)])),
            ("spaces inside the lines",
             b"GET /echo/x HTTP/1.1\r\nHost: x\r\n"
             + b"".join(b"X-H%d:%s1%s\r\n" % (i, b" " * 450, b" " * 450)
                        for i in range(5)) + b"\r\n")):
        with s.conn(timeout=10) as c:
            c.send(data)
            r = c.read_response()
            closed, _ = c.closed_within(3)
        eq(r.status, 431, what)
        check(closed, "%s: connection open after 431" % what)
        s.assert_serving("/f.txt", 200)
    # Dripped in small pieces, the block is counted all the same.
    with s.conn(timeout=10) as c:
        try:
            c.send(b"GET /echo/drip HTTP/1.1\r\nHost: x\r\n")
            for i in range(60):
                c.send(b"X-D%d: %s\r\n" % (i, b"d" * 90))
                time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response()
    eq(r.status, 431, "dripped header block over 4k")
    s.stop()


@test
def test_field_count_limit():
    s = srv()
    ok = [("X-H%d" % i, "v") for i in range(9)]     # + Host = 10
    r = exchange(s, build_request("GET", "/echo/ok", ok))
    eq(r.status, 200, "10 header fields (limit 10)")
    over = [("X-H%d" % i, "v") for i in range(10)]  # + Host = 11
    expect_status(s, build_request("GET", "/echo/x", over), 431,
                  "11 header fields (limit 10)")


@test
def test_body_limit_content_length():
    s = srv()
    body = b"b" * 100
    r = exchange(s, build_request("POST", "/echo/b", body=body))
    eq((r.status, r.body), (200, echo("POST", "/echo/b", body)),
       "body of 100 bytes (limit 100)")
    expect_status(s, build_request("POST", "/echo/b", body=b"b" * 101), 413,
                  "Content-Length 101 over LimitRequestBody 100")
    # Refused from the header alone: the body never needs to arrive.
    with s.conn() as c:
        c.send(b"POST /echo/b HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 1000000000\r\n\r\n")
        r = c.read_response(timeout=5)
    eq(r.status, 413, "Content-Length 1e9 without a body")
    s.assert_serving("/f.txt", 200)


@test
def test_body_limit_chunked():
    s = srv()
    ok = chunked("a" * 45, "b" * 45)
    r = exchange(s, build_request("POST", "/echo/c",
                                  {"Transfer-Encoding": "chunked"}, ok))
    eq((r.status, r.body),
       (200, echo("POST", "/echo/c", b"a" * 45 + b"b" * 45)),
       "chunked body of 90 bytes (limit 100)")
    over = chunked("a" * 50, "b" * 50, "c" * 50)
    expect_status(s, build_request("POST", "/echo/c",
                                   {"Transfer-Encoding": "chunked"}, over),
                  413, "chunked body of 150 bytes (limit 100)")
    # One chunk announcing more than the limit.
    expect_status(s, b"POST /echo/c HTTP/1.1\r\nHost: x\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n"
                     b"fffffff\r\n" + b"x" * 200, 413,
                  "chunk size 0xfffffff")


@test
def test_body_limit_with_expect():
    # Too large for the limit: refused at once instead of 100 Continue.
    s = srv()
    with s.conn() as c:
        c.send(b"POST /echo/e HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response(timeout=5)
    eq(r.status, 413, "first response to an oversized Expect: 100-continue")
    s.assert_serving("/f.txt", 200)


@test
def test_size_units():
    s = make_server("LimitRequestBody 1k\n")
    s.start()
    r = exchange(s, build_request("POST", "/echo/u", body=b"u" * 1024))
    eq(r.status, 200, "body of 1024 bytes with LimitRequestBody 1k")
    r = exchange(s, build_request("POST", "/echo/u", body=b"u" * 1025))
    eq(r.status, 413, "body of 1025 bytes with LimitRequestBody 1k")


@test
def test_default_limits():
    s = default_srv()
    problems = []
    for what, data, status in (
            ("request line of 100 KiB",
             build_request("GET", "/" + "a" * 102400), 414),
            ("header of 100 KiB",
             build_request("GET", "/f.txt", {"X-Big": "a" * 102400}), 431),
            ("2000 headers",
             build_request("GET", "/f.txt",
                           [("X-H%d" % i, "v") for i in range(2000)]), 431),
            ("header block of 1 MiB in 10 KiB lines",
             build_request("GET", "/f.txt",
                           [("X-H%d" % i, "v" * 10240)
                            for i in range(100)]), 431),
            ("header block over 32 KiB in fields within the limits",
             build_request("GET", "/f.txt",
                           [("X-H%d" % i, "v" * 8000)
                            for i in range(5)]), 431)):
        try:
            r = exchange(s, data)
        except Exception as e:
            problems.append("%s: %s: %s" % (what, type(e).__name__, e))
        else:
            if r.status != status:
                problems.append("%s: got %d, want %d"
                                % (what, r.status, status))
        s.assert_serving("/f.txt", 200)
    if problems:
        fail("\n".join(problems))


@test
def test_large_body():
    s = make_server("LimitRequestBody 8M\n")
    s.start()
    body = bytes(range(256)) * 16384
    r = exchange(s, build_request("POST", "/echo/big", body=body))
    eq(r.status, 200, "POST of 4 MiB with LimitRequestBody 8M")
    check(r.body == echo("POST", "/echo/big", body),
          "4 MiB body not echoed intact (%d bytes back)" % len(r.body))
    r = exchange(s, build_request("POST", "/echo/big",
                                  {"Transfer-Encoding": "chunked"},
                                  chunked(*[body[i:i + 65536] for i in
                                            range(0, len(body), 65536)])))
    eq(r.status, 200, "chunked POST of 4 MiB")
    check(r.body == echo("POST", "/echo/big", body),
          "4 MiB chunked body not echoed intact (%d bytes back)"
          % len(r.body))



# --------------------------------------------------------------------
# MaxConnections
# --------------------------------------------------------------------

# Long timeouts: a connection the server did not close to make room
# would stay for a minute, far beyond the bounds below.
MAXCONN_CONF = """
LoadModule metrics
MaxConnections %d
KeepAliveTimeout 60s
RequestHeaderTimeout 60s
RequestBodyTimeout 60s
<Location /metrics>
    Metrics on
</Location>
"""


def maxconn_server(limit):
    if module_path("metrics") is None:
        skip("mod_metrics was not built")
    s = make_server(MAXCONN_CONF % limit).start()
    return s


def metric(s, name):
    """The value of an unlabelled core metric, scraped on a connection
    that is closed afterwards."""
    with s.conn(timeout=10) as c:
        r = c.request("GET", "/metrics", {"Connection": "close"})
    eq(r.status, 200, "GET /metrics")
    m = re.search(r"^%s (\S+)$" % re.escape(name), r.body.decode(),
                  re.MULTILINE)
    check(m is not None, "no %s in /metrics" % name)
    return float(m.group(1))


def start_body(s, path, length, sent):
    """A connection in the middle of a request: the header block and
    the first bytes of its body."""
    c = s.conn(timeout=10)
    c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
           % (path.encode(), length) + sent)
    return c


@test
def test_max_connections_closes_idle():
    # 40 idle connections against MaxConnections 20 on one worker: the
    # oldest idle ones (keep-alive between requests, or nothing sent)
    # are closed to make room, a fresh client is served at once, and a
    # connection in the middle of a request is left alone.
    s = maxconn_server(20)
    mid = start_body(s, "/echo/mid", 10, b"abc")
    time.sleep(0.2)
    silent, kept = [], []
    for i in range(20):
        silent.append(s.conn(timeout=10))
        c = s.conn(timeout=10)
        r = c.request("GET", "/f.txt")
        eq(r.status, 200, "keep-alive request %d" % i)
        kept.append(c)
    time.sleep(0.2)

    with s.conn(timeout=10) as c:
        t0 = time.monotonic()
        r = c.request("GET", "/f.txt")
        took = time.monotonic() - t0
    eq(r.status, 200, "a fresh client at MaxConnections")
    check(took < 10, "a fresh client waited %.1f s" % took)
    print("# fresh client served in %.3f s" % took)

    closed, _ = silent[0].closed_within(5)
    check(closed, "the oldest connection that sent nothing is still open")
    s.wait_log(r"MaxConnections 20 reached, closed \d+ idle connections")
    # 42 connections so far (the 40, the mid-request one, the fresh one)
    # and at most 20 open at a time: at least 22 were closed.
    reaped = metric(s, "cairn_connections_reaped_total")
    check(reaped >= 22, "cairn_connections_reaped_total is %g" % reaped)

    mid.send(b"defghij")
    r = mid.read_response("POST", timeout=10)
    eq((r.status, r.body), (200, echo("POST", "/echo/mid", b"abcdefghij")),
       "the request in progress while connections were closed")
    for c in [mid] + silent + kept:
        c.close()
    s.stop()


@test
def test_max_connections_none_idle():
    # Every connection in the middle of a request: a new client gets 503
    # and a closed connection instead of waiting in the listen queue.
    s = maxconn_server(4)
    busy = [start_body(s, "/echo/b%d" % i, 5, b"a") for i in range(4)]
    time.sleep(0.2)
    with s.conn(timeout=10) as c:
        c.send(b"GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(timeout=10)
        closed, _ = c.closed_within(5)
    eq(r.status, 503, "a new client with every connection busy")
    check(r.has_token("Connection", "close"), "503 without Connection: close")
    check(closed, "connection open after the 503")
    s.wait_log(r"MaxConnections 4 reached and no connection is idle")
    for i, c in enumerate(busy):
        c.send(b"bcde")
        r = c.read_response("POST", timeout=10)
        eq(r.status, 200, "busy request %d" % i)
        c.close()
    refused = metric(s, "cairn_connections_refused_total")
    check(refused >= 1, "cairn_connections_refused_total is %g" % refused)
    s.stop()


if __name__ == "__main__":
    main()
