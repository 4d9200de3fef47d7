"""Output filters: mod_test_upper upper-cases text bodies in a body filter
and proves that every body goes through one chain: static files (sent
with sendfile when nothing reads them), memory bodies (a JSON answer, the
core's error pages), streamed bodies, held-back bodies and bodies whose
length the filter changes (then sent chunked).  HEAD, 304 and Range keep
their meaning, and a client that leaves mid-body does not hurt the
worker."""

import socket
import time

from cairntest import (Server, check, contains, eq, main, need_modules,
                       shared, test)

need_modules("static", "test_async", "test_upper")

TEXT = "Hello, filters: plain text.\n"
BIG = "".join("line %06d of a file larger than one read\n" % i
              for i in range(6000))                # ~264 KiB


def make_server():
    s = Server(modules=["static", "test_async", "test_upper"],
               conf="""
<Location /on>
    TestUpper on
</Location>
<Location /double>
    TestUpper double
</Location>
<Location /hold>
    TestUpper hold
</Location>
<Location /stream>
    TestUpper on
</Location>
<Location /test-upper.json>
    TestUpper on
</Location>
""")
    for d in ("on", "double", "hold", "off"):
        s.write("%s/a.txt" % d, TEXT)
        s.write("%s/big.txt" % d, BIG)
        s.write("%s/img.png" % d, "not text, left alone\n")
    return s


def srv():
    return shared("filters", make_server)


@test
def test_static_file_upper():
    s = srv()
    r = s.get("/on/a.txt")
    eq(r.status, 200, "status")
    eq(r.body, TEXT.upper().encode(), "body")
    eq(r.header("X-Upper"), "on", "X-Upper")
    eq(r.header("Content-Length"), str(len(TEXT)), "Content-Length kept")
    check(r.header("ETag") is None, "ETag unset by the filter")
    check(not r.chunked, "a length-keeping filter is not chunked")


@test
def test_big_file_read_in_pieces():
    s = srv()
    for d in ("on", "hold"):
        r = s.get("/%s/big.txt" % d)
        eq(r.status, 200, "%s status" % d)
        eq(len(r.body), len(BIG), "%s length" % d)
        check(r.body == BIG.upper().encode(), "%s: body differs" % d)


@test
def test_untouched_bodies():
    s = srv()
    r = s.get("/off/a.txt")
    eq(r.body, TEXT.encode(), "no filter where it is off")
    check(r.header("X-Upper") is None, "no X-Upper where it is off")
    r = s.get("/on/img.png")
    eq(r.body, b"not text, left alone\n", "non-text body left alone")
    eq(r.header("X-Upper"), "skipped", "header filter saw it")


@test
def test_length_changing_filter_is_chunked():
    s = srv()
    r = s.get("/double/a.txt")
    eq(r.status, 200, "status")
    want = "".join(ch * 2 for ch in TEXT.upper()).encode()
    eq(r.body, want, "doubled body")
    check(r.chunked, "HTTP/1.1 with a cleared length is chunked")
    check(r.header("Content-Length") is None, "no Content-Length")
    r = s.get("/double/big.txt")
    eq(len(r.body), 2 * len(BIG), "doubled big body")
    # HTTP/1.0: no chunks, the close ends the body.
    raw = s.raw(b"GET /double/a.txt HTTP/1.0\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    check(b"chunked" not in head.lower(), "HTTP/1.0 not chunked: %r" % head)
    contains(head.decode(), "Connection: close", "HTTP/1.0 closes")
    eq(body, want, "HTTP/1.0 body")


@test
def test_memory_json_and_error_pages():
    s = srv()
    r = s.get("/test-upper.json")
    eq(r.status, 200, "status")
    eq(r.body, b'{"NAME": "VALUE", "N": 1}\n', "JSON upper-cased")
    r = s.get("/on/missing.txt")
    eq(r.status, 404, "status")
    contains(r.body.decode(), "404 NOT FOUND", "the error page went through")
    eq(r.header("Content-Length"), str(len(r.body)), "length of error page")


@test
def test_streamed_body():
    s = srv()
    r = s.get("/stream?n=4&ms=10")
    eq(r.status, 200, "status")
    eq(r.body, b"CHUNK 1\nCHUNK 2\nCHUNK 3\nCHUNK 4\n", "streamed body")
    check(r.chunked, "streamed body is chunked")
    eq(r.header("X-Upper"), "on", "header filter ran for the stream")


@test
def test_head_304_and_keepalive():
    s = srv()
    with s.conn() as c:
        r = c.request("HEAD", "/on/a.txt")
        eq(r.status, 200, "HEAD status")
        eq(r.body, b"", "HEAD has no body")
        eq(r.header("X-Upper"), "on", "header filter ran for HEAD")
        eq(r.header("Content-Length"), str(len(TEXT)), "HEAD length")
        r = c.request("HEAD", "/double/a.txt")
        eq(r.body, b"", "HEAD of a length-changing filter has no body")
        lm = s.get("/on/a.txt").header("Last-Modified")
        r = c.request("GET", "/on/a.txt", headers={"If-Modified-Since": lm})
        eq(r.status, 304, "conditional GET")
        eq(r.body, b"", "304 has no body")
        # The connection is still in step after all that.
        r = c.request("GET", "/on/a.txt")
        eq(r.body, TEXT.upper().encode(), "next request on the connection")


@test
def test_range_through_filter():
    """The core answers Range against the final body: after the filters,
    across the pieces a filter read a file in, for memory bodies whose
    handler allows ranges, never when a filter changed the length."""
    s = srv()
    r = s.get("/on/a.txt", headers={"Range": "bytes=0-4"})
    eq(r.status, 206, "status")
    eq(r.body, b"HELLO", "the range, upper-cased")
    eq(r.header("Content-Range"), "bytes 0-4/%d" % len(TEXT),
       "Content-Range")
    eq(r.header("Content-Length"), "5", "Content-Length of the range")
    for d in ("on", "hold", "off"):
        r = s.get("/%s/big.txt" % d, headers={"Range": "bytes=65530-70009"})
        eq(r.status, 206, "%s: status" % d)
        want = BIG[65530:70010]
        if d != "off":
            want = want.upper()
        check(r.body == want.encode(), "%s: a range across pieces differs"
              % d)
        r = s.get("/%s/big.txt" % d, headers={"Range": "bytes=-7"})
        eq(r.body, (BIG[-7:].upper() if d != "off" else BIG[-7:]).encode(),
           "%s: suffix range" % d)
    r = s.get("/test-upper.json", headers={"Range": "bytes=1-6"})
    eq(r.status, 206, "memory body: status")
    eq(r.body, b'"NAME"', "memory body: the range")
    r = s.get("/double/a.txt", headers={"Range": "bytes=0-4"})
    eq(r.status, 200, "a length-changing filter: the whole body")
    eq(len(r.body), 2 * len(TEXT), "doubled whole body")
    check(r.header("Content-Range") is None, "no Content-Range on a 200")


@test
def test_range_not_satisfiable():
    s = srv()
    r = s.get("/on/a.txt", headers={"Range": "bytes=%d-" % len(TEXT)})
    eq(r.status, 416, "status")
    eq(r.header("Content-Range"), "bytes */%d" % len(TEXT),
       "Content-Range of a 416")
    contains(r.body.decode(), "416 RANGE NOT SATISFIABLE", "error page")
    eq(r.header("Content-Length"), str(len(r.body)), "its length")
    r = s.get("/test-upper.json", headers={"Range": "bytes=1000-"})
    eq(r.status, 416, "memory body: status")
    eq(r.header("Content-Range"), "bytes */26", "memory body: Content-Range")


@test
def test_error_page_api():
    """cairn_respond_error(r, status, message) keeps the caller's headers
    and escapes the message; cairn_respond_not_allowed lists the methods
    (GET brings HEAD)."""
    s = srv()
    r = s.get("/test-upper-error")
    eq(r.status, 416, "status")
    eq(r.header("Content-Range"), "bytes */7", "the caller's header kept")
    contains(r.body.decode(), "<p>no &lt;such&gt; range</p>",
             "the message, escaped")
    contains(r.body.decode(), "<h1>416 Range Not Satisfiable</h1>",
             "the title")
    r = s.request("DELETE", "/test-upper-405")
    eq(r.status, 405, "405 status")
    eq(r.header("Allow"), "GET, HEAD, POST", "Allow")
    contains(r.body.decode(), "405 Method Not Allowed", "405 page")


@test
def test_client_leaves_mid_body():
    """Clients that read part of a big filtered body and leave, many times:
    the worker goes on serving."""
    s = srv()
    for i in range(30):
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.settimeout(5)
        sock.sendall(b"GET /%s/big.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                     % (b"hold" if i % 2 else b"double"))
        sock.recv(1000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    time.sleep(0.2)
    r = s.get("/on/a.txt")
    eq(r.status, 200, "served after the clients left")
    eq(r.body, TEXT.upper().encode(), "body after the clients left")


if __name__ == "__main__":
    main()
