#!/usr/bin/env python3
"""mod_proxy: a location's requests go to real python3 backends on
loopback ports started here (proxytest.py); statuses, headers, bodies,
what the backends saw and the error log are checked."""

import collections
import concurrent.futures
import hashlib
import json
import os
import re
import signal
import socket
import threading
import time

from cairntest import (Server, check, config_error, contains, eq, fail,
                       main, not_contains, sanitizers, socket_owner, test)
from proxytest import (PATTERN, Backend, DnsServer, ProcBackend,
                       RawBackend, StaleBackend, refused_port)
import proxytest


def proxy_server(conf, modules=("proxy",), workers=1):
    s = Server(conf=conf, modules=modules, workers=workers)
    s.start()
    return s


def one_location(backend_addr, extra="", loc="/api/", url_path="/v1/"):
    return ("<Location %s>\n    ProxyPass http://%s%s\n%s</Location>\n"
            % (loc, backend_addr, url_path, extra))


def echo(resp):
    eq(resp.status, 200, "status\n" + resp.describe())
    return json.loads(resp.body)


def hdr(doc, name):
    for k, v in doc["headers"]:
        if k.lower() == name.lower():
            return v
    return None


def worker_pid(s):
    s.wait_workers(1)
    kids = s.children()
    check(len(kids) >= 1, "no worker")
    return kids[0]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ------------------------------------------------------------------ #
# Stage 1: one upstream                                              #
# ------------------------------------------------------------------ #

@test
def test_get_is_forwarded_with_prefix_and_client_headers():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        doc = echo(s.get("/api/echo?x=1", headers={"X-Custom": "yes"}))
        eq(doc["path"], "/v1/echo?x=1", "target upstream")
        eq(doc["method"], "GET", "method")
        eq(hdr(doc, "X-Custom"), "yes", "a client header")
        eq(hdr(doc, "Host"), b.addr, "Host (ProxyPreserveHost off)")
        eq(hdr(doc, "X-Forwarded-For"), "127.0.0.1", "X-Forwarded-For")
        eq(hdr(doc, "X-Real-IP"), "127.0.0.1", "X-Real-IP")
        eq(hdr(doc, "X-Forwarded-Proto"), "http", "X-Forwarded-Proto")
        eq(hdr(doc, "X-Forwarded-Host"), "127.0.0.1:%d" % s.port,
           "X-Forwarded-Host")
        # Outside the location: not proxied.
        eq(s.get("/other").status, 404, "a path outside the location")


@test
def test_target_without_path_is_passed_as_is():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr, url_path=""))
        doc = echo(s.get("/api/echo/%41b?q=%20"))
        eq(doc["path"], "/api/echo/%41b?q=%20", "raw target upstream")


@test
def test_x_forwarded_for_appended_and_hop_by_hop_stripped():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            r = c.request("GET", "/api/echo", headers=[
                ("X-Forwarded-For", "203.0.113.7"),
                ("Connection", "keep-alive, X-Private"),
                ("X-Private", "secret"), ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"), ("Proxy-Authorization", "Basic eA=="),
                ("Upgrade", "websocket"), ("X-Forwarded-Proto", "gopher"),
                ("X-Real-IP", "198.51.100.1")])
        doc = echo(r)
        eq(hdr(doc, "X-Forwarded-For"), "203.0.113.7, 127.0.0.1",
           "X-Forwarded-For appended")
        eq(hdr(doc, "X-Real-IP"), "127.0.0.1", "X-Real-IP replaced")
        eq(hdr(doc, "X-Forwarded-Proto"), "http", "X-Forwarded-Proto")
        for name in ("X-Private", "Keep-Alive", "TE", "Upgrade",
                     "Proxy-Authorization"):
            eq(hdr(doc, name), None, "%s upstream" % name)
        eq(hdr(doc, "Connection"), "close", "Connection upstream")


@test
def test_preserve_host_and_set_header_expansion():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr, extra=(
            "    ProxyPreserveHost on\n"
            "    ProxySetHeader X-Who \"%{remote_addr} %{http_x_user} "
            "%{scheme}://%{host}\"\n"
            "    ProxySetHeader X-Req %{request_id}\n"
            "    ProxySetHeader User-Agent \"\"\n")))
        doc = echo(s.get("/api/echo", host="www.example.test",
                         headers={"X-User": "alice",
                                  "User-Agent": "test-agent"}))
        eq(hdr(doc, "Host"), "www.example.test", "Host preserved")
        eq(hdr(doc, "X-Who"), "127.0.0.1 alice http://www.example.test",
           "ProxySetHeader with variables")
        check(hdr(doc, "X-Req") not in (None, ""), "%{request_id} expanded")
        eq(hdr(doc, "User-Agent"), None, "an empty ProxySetHeader removes")


@test
def test_forwarded_header_rfc7239():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr,
                                      extra="    ProxyAddForwarded on\n"))
        doc = echo(s.get("/api/echo", host="h.test",
                         headers={"Forwarded": "for=192.0.2.60"}))
        eq(hdr(doc, "Forwarded"),
           'for=192.0.2.60, for=127.0.0.1;proto=http;host="h.test"',
           "Forwarded")


@test
def test_traceparent_passed_on():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr), modules=("log", "proxy"))
        tid = "4bf92f3577b34da6a3ce929d0e0e4736"
        doc = echo(s.get("/api/echo", headers={
            "traceparent": "00-%s-00f067aa0ba902b7-01" % tid}))
        tp = hdr(doc, "traceparent")
        check(tp is not None, "no traceparent upstream")
        parts = tp.split("-")
        eq(len(parts), 4, "traceparent fields")
        eq(parts[1], tid, "the trace id goes on")
        check(parts[2] != "00f067aa0ba902b7" and len(parts[2]) == 16,
              "the parent is this server's span: %s" % tp)
        eq(parts[3], "01", "flags kept")


@test
def test_response_headers_filtered_and_hidden():
    with Backend("a") as b:
        s = proxy_server(one_location(
            b.addr, extra="    ProxyHideHeader X-Hide-Me\n"))
        with s.conn() as c:
            r = c.request("GET", "/api/hop")
            eq(r.status, 200, "status")
            eq(r.body, b"hop\n", "body")
            eq(r.header("X-Kept"), "yes", "an ordinary header")
            for name in ("X-Secret", "Keep-Alive", "Proxy-Connection",
                         "Upgrade", "X-Hide-Me"):
                eq(r.header(name), None, "%s to the client" % name)
            eq(r.header("Server"), "cairn", "Server")
            eq(len(r.header_all("Date")), 1, "one Date")
            not_contains(r.header("Date"), "1970", "Date is cairn's")
            # The client connection is still usable.
            eq(c.request("GET", "/api/id").body, b"a", "next request")


@test
def test_pass_reverse_rewrites_location():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr, extra=(
            "    ProxyPassReverse default\n")))
        r = s.get("/api/redirect")
        eq(r.status, 302, "status")
        eq(r.header("Location"), "/api/next?a=1", "Location")
        eq(r.header("Content-Location"), "/api/here", "Content-Location")
        eq(r.header("Refresh"), "5; url=/api/later", "Refresh")
        # Without the directive: untouched.
        s2 = proxy_server(one_location(b.addr))
        eq(s2.get("/api/redirect").header("Location"),
           "http://127.0.0.1:%d/v1/next?a=1" % b.port, "no rewrite")


@test
def test_request_body_forwarded():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        body = os.urandom(300000)
        doc = echo(s.request("POST", "/api/echo", body=body,
                             headers={"Content-Type": "x/y"}))
        eq(doc["method"], "POST", "method")
        eq(doc["body_len"], len(body), "body length")
        eq(doc["body_sha"], hashlib.sha256(body).hexdigest(), "body")
        eq(hdr(doc, "Content-Type"), "x/y", "Content-Type")
        # A chunked request body arrives with a length.
        with s.conn() as c:
            c.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            doc = echo(c.read_response())
        eq(doc["body_len"], 11, "chunked body length")
        eq(hdr(doc, "Transfer-Encoding"), "chunked",
           "streamed upstream in chunks, as it came")
        eq(b.chunked_bodies, 1, "bodies the backend read as chunks")
        # Buffered, the body goes with its length.
        s2 = proxy_server(one_location(
            b.addr, extra="    ProxyRequestBuffering on\n"))
        with s2.conn() as c:
            c.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            doc = echo(c.read_response())
        eq(doc["body_len"], 11, "buffered body length")
        eq(hdr(doc, "Content-Length"), "11", "Content-Length upstream")
        eq(hdr(doc, "Transfer-Encoding"), None, "no Transfer-Encoding")


@test
def test_large_upload_forwarded():
    with Backend("a") as b:
        s = proxy_server("LimitRequestBody 100M\n" + one_location(b.addr))
        body = os.urandom(1024 * 1024) * 48
        doc = echo(s.request("PUT", "/api/echo", body=body, timeout=60))
        eq(doc["body_len"], len(body), "body length upstream")
        eq(doc["body_sha"], hashlib.sha256(body).hexdigest(), "body")


class BodyWatcher:
    """An upstream that reads a request head, then its body as it comes,
    noting when it had first_bytes of it, and answers 200 with the count
    once it has all (Content-Length or chunked, de-chunked)."""

    def __init__(self, first_bytes):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.first = threading.Event()
        self.first_bytes = first_bytes
        self.got = 0
        self.closed = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        c, _ = self.srv.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        n = None
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        self.got = len(rest)
        try:
            while n is None or self.got < n:
                d = c.recv(1 << 20)
                if not d:
                    self.closed.set()
                    return
                self.got += len(d)
                if self.got >= self.first_bytes:
                    self.first.set()
                if n is None and d.endswith(b"0\r\n\r\n"):
                    break
            body = b"%d\n" % self.got
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
        except OSError:
            self.closed.set()
        c.close()


@test
def test_upload_streams_without_buffering():
    """The upstream has the first MiB while the client still holds the
    rest back, and the worker's memory stays flat for 100 MiB."""
    up = BodyWatcher(1 << 20)
    s = proxy_server("LimitRequestBody 200M\n" + one_location(
        "127.0.0.1:%d" % up.port))
    pid = worker_pid(s)
    rss0 = rss_kib(pid)
    total = 100 << 20
    block = os.urandom(1 << 20)
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"PUT /api/up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
              b"\r\n" % total)
    c.sendall(block)
    check(up.first.wait(5), "the upstream had nothing while the client "
                            "paused after 1 MiB")
    peak = rss0
    for _ in range(99):
        c.sendall(block)
        peak = max(peak, rss_kib(pid))
    c.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
        d = c.recv(65536)
        if not d:
            break
        data += d
    c.close()
    check(data.startswith(b"HTTP/1.1 200"), "status: %r" % data[:40])
    check(data.endswith(b"\r\n\r\n%d\n" % total), "upstream count: %r"
          % data[-20:])
    if not sanitizers():
        # ASan's quarantine keeps what was freed: no figure there.
        check(peak - rss0 < 20 * 1024, "RSS grew by %d KiB for 100 MiB"
              % (peak - rss0))


@test
def test_broken_streamed_body_closes_both_sides():
    up = BodyWatcher(1 << 30)
    s = proxy_server("LogLevel info\n"
                     + one_location("127.0.0.1:%d" % up.port))
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"POST /api/up HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    time.sleep(0.3)
    c.sendall(b"zz\r\nnot a chunk\r\n")
    c.settimeout(5)
    try:
        rest = c.recv(65536)
    except OSError:
        rest = b""
    c.close()
    eq(rest, b"", "the client connection closed without an answer")
    check(up.closed.wait(5), "the upstream connection closed too")
    s.wait_log(r"request body refused \(400\)")
    s.assert_serving("/other", 404)


@test
def test_upstream_that_takes_no_body_times_out():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    held = []

    def serve():
        c, _ = srv.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        held.append(c)

    threading.Thread(target=serve, daemon=True).start()
    s = proxy_server("LimitRequestBody 100M\n" + one_location(
        "127.0.0.1:%d" % port, extra="    ProxySendTimeout 1s\n"))
    t0 = time.monotonic()
    r = s.request("POST", "/api/x", body=b"z" * (32 * 1024 * 1024),
                  timeout=30)
    eq(r.status, 504, "status")
    check(time.monotonic() - t0 < 10, "answered after the send timeout")
    s.wait_log(r"upstream 127\.0\.0\.1:%d timed out \(1000 ms\) sending "
               r"the request" % port)
    for c in held:
        c.close()
    srv.close()


@test
def test_chunked_response_both_versions():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            r = c.request("GET", "/api/chunked")
            eq(r.status, 200, "status")
            check(getattr(r, "chunked", False), "chunked to HTTP/1.1")
            eq(r.body, b"first\nsecond\nthird\n", "body")
        with s.conn() as c:
            c.send(b"GET /api/chunked HTTP/1.0\r\n\r\n")
            r = c.read_response()
            eq(r.body, b"first\nsecond\nthird\n", "body to HTTP/1.0")
            eq(r.header("Transfer-Encoding"), None, "no chunks to 1.0")


@test
def test_head_and_304_have_no_body():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            r = c.request("HEAD", "/api/big?n=5000")
            eq(r.status, 200, "HEAD status")
            eq(r.header("Content-Length"), "5000", "HEAD Content-Length")
            r = c.request("GET", "/api/notmod")
            eq(r.status, 304, "304")
            eq(r.header("ETag"), '"v1"', "ETag of the 304")
            eq(r.body, b"", "no body")
            # Nothing stray on the connection: the next answer parses.
            eq(c.request("GET", "/api/id").body, b"a", "next request")
        eq(b.count(method="HEAD"), 1, "HEAD reached the backend as HEAD")


@test
def test_refused_is_502_with_log_line():
    port = refused_port()
    s = proxy_server(one_location("127.0.0.1:%d" % port))
    t0 = time.monotonic()
    r = s.get("/api/x")
    eq(r.status, 502, "status")
    check(time.monotonic() - t0 < 2, "502 came at once")
    s.wait_log(r"\[error\].*upstream 127\.0\.0\.1:%d.*connect\(\) failed"
               r".*Connection refused" % port)


@test
def test_stalled_upstream_is_504_after_read_timeout():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr,
                                      extra="    ProxyReadTimeout 1s\n"))
        t0 = time.monotonic()
        r = s.get("/api/stall")
        took = time.monotonic() - t0
        eq(r.status, 504, "status")
        check(0.8 < took < 5, "504 after about 1 s, not %.2f s" % took)
        s.wait_log(r"\[error\].*upstream %s timed out \(1000 ms\) "
                   r"reading the response" % b.addr.replace(".", r"\."))
        s.assert_serving("/api/id", 200)


@test
def test_upstream_cut_mid_body_truncates_response():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            c.send(b"GET /api/cut HTTP/1.1\r\nHost: x\r\n\r\n")
            data = c.read_until_close(5)
        contains(data.decode("latin-1"), "Content-Length: 100", "head")
        head, _, body = data.partition(b"\r\n\r\n")
        eq(body, b"0123456789", "what came before the cut")
        s.wait_log(r"\[error\].*upstream %s: the upstream closed the "
                   r"connection in the middle of the body"
                   % b.addr.replace(".", r"\."))


def one_shot_upstream(answer, delay=0.0):
    """A loopback server that reads one request head and sends answer
    (then, after delay, closes).  Returns (port, the request it got, as
    a list filled in later)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    got = []

    def serve():
        c, _ = srv.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                break
            data += d
        got.append(data)
        c.sendall(answer)
        time.sleep(delay)
        c.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], got


@test
def test_http_1_0_upstream_body_until_close():
    body = b"x" * 50000 + b"end"
    port, got = one_shot_upstream(b"HTTP/1.0 200 OK\r\nContent-Type: a/b\r\n"
                                  b"\r\n" + body, delay=0.2)
    s = proxy_server(one_location("127.0.0.1:%d" % port))
    with s.conn() as c:
        r = c.request("GET", "/api/x")
        eq(r.status, 200, "status")
        eq(r.body, body, "body read until the upstream closed")
        eq(r.header("Content-Type"), "a/b", "Content-Type")
    check(got and got[0].startswith(b"GET /v1/x HTTP/1.1\r\n"),
          "request line upstream: %r" % got[:1])


@test
def test_interim_responses_are_not_passed_on():
    port, _ = one_shot_upstream(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    s = proxy_server(one_location("127.0.0.1:%d" % port))
    with s.conn() as c:
        r = c.request("GET", "/api/x")
        eq(r.status, 200, "the final status")
        eq(r.body, b"ok\n", "body")
        eq(r.header("Link"), None, "the 103's header")


@test
def test_status_below_100_is_502():
    port, _ = one_shot_upstream(b"HTTP/1.1 050 Odd\r\n\r\nbody")
    s = proxy_server(one_location("127.0.0.1:%d" % port))
    eq(s.get("/api/x").status, 502, "status")
    s.wait_log(r"upstream 127\.0\.0\.1:%d: the upstream sent a status "
               r"below 100" % port)


@test
def test_expect_100_continue_from_the_client():
    """The body streams: Expect goes upstream, whose 100 (python's
    http.server sends one) lets the client send its body."""
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            c.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            t0 = time.monotonic()
            r = c.read_response()
            eq(r.status, 100, "100 Continue")
            check(time.monotonic() - t0 < 0.8, "the 100 came after %.2f s, "
                  "not from the upstream" % (time.monotonic() - t0))
            c.send(b"hello")
            doc = echo(c.read_response())
        eq(doc["body_len"], 5, "body upstream")
        eq(hdr(doc, "Expect"), "100-continue", "Expect upstream")
    # Read whole first (ProxyRequestBuffering on): cairn answers the
    # Expect itself and the upstream sees none.
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr,
                                      extra="    ProxyRequestBuffering on\n"))
        with s.conn() as c:
            c.send(b"POST /api/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            eq(c.read_response().status, 100, "100 Continue from cairn")
            c.send(b"hello")
            doc = echo(c.read_response())
        eq(doc["body_len"], 5, "body upstream")
        eq(hdr(doc, "Expect"), None, "no Expect upstream")


class ExpectBackend:
    """Reads a request head; mode "deny" answers 401 at once without
    reading the body, "silent" ignores Expect and reads the body by its
    length before answering 200 with its size.  Records the heads and
    the body bytes it read."""

    def __init__(self, mode):
        self.mode = mode
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.addr = "127.0.0.1:%d" % self.srv.getsockname()[1]
        self.heads = []
        self.body_bytes = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,),
                             daemon=True).start()

    def _conn(self, c):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                d = c.recv(65536)
                if not d:
                    return
                data += d
            head, rest = data.split(b"\r\n\r\n", 1)
            self.heads.append(head.decode("latin-1"))
            if self.mode == "deny":
                c.sendall(b"HTTP/1.1 401 Unauthorized\r\n"
                          b"WWW-Authenticate: Basic realm=\"x\"\r\n"
                          b"Content-Length: 5\r\n\r\nnope\n")
                time.sleep(1.0)
                c.setblocking(False)
                try:
                    self.body_bytes += len(rest) + len(c.recv(65536))
                except OSError:
                    self.body_bytes += len(rest)
                return
            n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(rest) < n:
                d = c.recv(65536)
                if not d:
                    break
                rest += d
            self.body_bytes += len(rest)
            body = b"%d\n" % len(rest)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.srv.close()


@test
def test_expect_answered_by_the_upstream_without_the_body():
    """An upstream that answers 401 to an Expect: the client gets the
    401, never a 100, and its body is not asked for nor passed on."""
    up = ExpectBackend("deny")
    try:
        s = proxy_server(one_location(up.addr))
        with s.conn() as c:
            c.send(b"PUT /api/file HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 1000000\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            r = c.read_response()
            eq(r.status, 401, "status\n" + r.describe())
            eq(r.body, b"nope\n", "body")
            eq(r.header("WWW-Authenticate"), 'Basic realm="x"',
               "WWW-Authenticate")
            # The body never sent, the connection is not kept (what
            # comes next could be the body or a new request).
            check(c.closed_within(3), "the connection closes")
        contains(up.heads[0], "Expect: 100-continue", "Expect upstream")
        time.sleep(1.2)
        eq(up.body_bytes, 0, "body bytes the upstream got")
    finally:
        up.stop()


@test
def test_expect_with_an_upstream_that_ignores_it():
    """No 100 from the upstream: the client is told to go on after a
    second anyway, and the body arrives."""
    up = ExpectBackend("silent")
    try:
        s = proxy_server(one_location(up.addr))
        with s.conn() as c:
            c.send(b"POST /api/x HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            t0 = time.monotonic()
            r = c.read_response()
            took = time.monotonic() - t0
            eq(r.status, 100, "100 Continue")
            check(0.7 < took < 4, "the 100 after %.2f s" % took)
            c.send(b"hello")
            r = c.read_response()
            eq(r.status, 200, "status\n" + r.describe())
            eq(r.body, b"5\n", "the upstream's count")
            # The client connection goes on.
            c.send(b"POST /api/x HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 3\r\n\r\nabc")
            eq(c.read_response().body, b"3\n", "a second request")
        contains(up.heads[0], "Expect: 100-continue", "Expect upstream")
    finally:
        up.stop()


class EchoTunnel:
    """A WebSocket-like upstream: answers an Upgrade with 101 (and a
    first greeting right behind its head), then echoes every byte in
    upper case until the client closes.  Records the request heads."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.heads = []
        self.closed = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,),
                             daemon=True).start()

    def _conn(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                c.close()
                return
            data += d
        head, rest = data.split(b"\r\n\r\n", 1)
        self.heads.append(head.decode("latin-1"))
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                  b"\r\nhello\n")
        try:
            if rest:
                c.sendall(rest.upper())
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d.upper())
        except OSError:
            pass
        self.closed.set()
        c.close()

    def stop(self):
        self.srv.close()


def ws_request(path="/api/ws", extra=b""):
    return (b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n%s"
            % (path.encode(), extra))


def read_exactly(c, n, timeout=5):
    c.settimeout(timeout)
    data = b""
    while len(data) < n:
        d = c.recv(n - len(data))
        if not d:
            break
        data += d
    return data


@test
def test_websocket_tunnel_both_ways():
    up = EchoTunnel()
    try:
        s = proxy_server(one_location(up.addr))
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(ws_request(extra=b"early "))
        data = b""
        c.settimeout(5)
        while b"\r\n\r\n" not in data:
            data += c.recv(4096)
        head, rest = data.split(b"\r\n\r\n", 1)
        text = head.decode("latin-1")
        check(text.startswith("HTTP/1.1 101 "), "status line: %r" % text)
        contains(text, "Upgrade: websocket", "Upgrade")
        contains(text, "Connection: upgrade", "Connection")
        contains(text, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                 "accept key")
        got = rest + read_exactly(c, len(b"hello\nEARLY ") - len(rest))
        eq(got, b"hello\nEARLY ", "greeting and the bytes sent early")
        for msg in (b"one", b"two " * 1000, bytes(range(256))):
            c.sendall(msg)
            eq(read_exactly(c, len(msg)), msg.upper(), "echo")
        c.close()
        check(up.closed.wait(5), "the upstream side closed with the client")
        h = up.heads[0]
        contains(h, "Upgrade: websocket", "Upgrade upstream")
        contains(h, "Connection: upgrade", "Connection upstream")
        contains(h, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                 "key upstream")
        s.assert_serving("/other", 404)
    finally:
        up.stop()


@test
def test_websocket_tunnel_idle_timeout():
    up = EchoTunnel()
    try:
        s = proxy_server(one_location(up.addr,
                                      extra="    ProxyTunnelTimeout 1s\n"))
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(ws_request())
        c.settimeout(5)
        data = b""
        while b"hello\n" not in data:
            data += c.recv(4096)
        c.sendall(b"ping")
        eq(read_exactly(c, 4), b"PING", "echo")
        t0 = time.monotonic()
        c.settimeout(5)
        rest = c.recv(4096)
        took = time.monotonic() - t0
        eq(rest, b"", "closed by cairn")
        check(0.8 < took < 4, "closed after %.2f s idle" % took)
        check(up.closed.wait(5), "the upstream side closed too")
    finally:
        up.stop()


class BulkTunnel:
    """A WebSocket-like upstream for volume: after the 101, GET
    /api/sink?n=N reads N bytes slowly (64 KiB every 2 ms) and answers
    the sha256 of them in hex and a newline; /api/source?n=N sends N
    bytes of a known pattern as fast as it can, then its sha256 line."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.max_ahead = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,),
                             daemon=True).start()

    def _conn(self, c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                c.close()
                return
            data += d
        head, rest = data.split(b"\r\n\r\n", 1)
        target = head.split(b" ")[1].decode()
        n = int(target.split("n=")[1])
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        try:
            if "/sink" in target:
                h = hashlib.sha256(rest)
                got = len(rest)
                while got < n:
                    d = c.recv(min(65536, n - got))
                    if not d:
                        break
                    h.update(d)
                    got += len(d)
                    time.sleep(0.002)
                c.sendall(b"%d %s\n" % (got, h.hexdigest().encode()))
            else:
                h = hashlib.sha256()
                sent = 0
                while sent < n:
                    k = min(len(PATTERN), n - sent)
                    c.sendall(PATTERN[:k])
                    h.update(PATTERN[:k])
                    sent += k
                c.sendall(b"%d %s\n" % (sent, h.hexdigest().encode()))
            c.recv(1)
        except OSError:
            pass
        c.close()

    def stop(self):
        self.srv.close()


def ws_open(s, path):
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(ws_request(path))
    c.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        check(d, "closed before the 101")
        data += d
    head, rest = data.split(b"\r\n\r\n", 1)
    check(head.startswith(b"HTTP/1.1 101 "), "status: %r" % head[:40])
    return c, rest


@test
def test_websocket_client_outruns_upstream():
    """50 MiB from a client to an upstream that reads slowly: the
    client is paused while 64 KiB wait for the upstream (no longer
    closed after 1 MiB), the worker's RSS stays flat and every byte
    arrives."""
    up = BulkTunnel()
    try:
        s = proxy_server(one_location(up.addr))
        pid = worker_pid(s)
        rss0 = rss_kib(pid)
        total = 50 << 20
        c, rest = ws_open(s, "/api/sink?n=%d" % total)
        block = os.urandom(1 << 20)
        want = hashlib.sha256()
        peak = rss0
        c.settimeout(60)
        for _ in range(50):
            c.sendall(block)
            want.update(block)
            peak = max(peak, rss_kib(pid))
        line = rest
        while not line.endswith(b"\n"):
            d = c.recv(4096)
            if not d:
                break
            line += d
        c.close()
        eq(line.decode(), "%d %s\n" % (total, want.hexdigest()),
           "what the upstream received")
        if not sanitizers():
            check(peak - rss0 < 16 * 1024, "RSS grew by %d KiB for 50 MiB"
                  % (peak - rss0))
    finally:
        up.stop()


@test
def test_websocket_upstream_outruns_client():
    """50 MiB from an upstream to a client that reads slowly: the
    upstream is read only as the client drains, RSS flat, bytes
    intact."""
    up = BulkTunnel()
    try:
        s = proxy_server(one_location(up.addr))
        pid = worker_pid(s)
        rss0 = rss_kib(pid)
        total = 50 << 20
        c, rest = ws_open(s, "/api/source?n=%d" % total)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        h = hashlib.sha256(rest[:total])
        got = len(rest)
        tail = rest[total:]
        peak = rss0
        c.settimeout(30)
        while got < total:
            d = c.recv(min(262144, total - got))
            check(d, "closed after %d bytes" % got)
            h.update(d)
            got += len(d)
            if got % (1 << 20) < len(d):
                peak = max(peak, rss_kib(pid))
                time.sleep(0.005)
        while not tail.endswith(b"\n"):
            d = c.recv(4096)
            if not d:
                break
            tail += d
        c.close()
        eq(tail.decode(), "%d %s\n" % (total, h.hexdigest()),
           "what the upstream sent against what came")
        if not sanitizers():
            check(peak - rss0 < 16 * 1024, "RSS grew by %d KiB for 50 MiB"
                  % (peak - rss0))
    finally:
        up.stop()


@test
def test_upgrade_refused_by_upstream_is_a_plain_response():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            c.send(ws_request("/api/echo"))
            r = c.read_response()
        doc = echo(r)
        eq(hdr(doc, "Upgrade"), "websocket", "Upgrade upstream")
        eq(r.header("Connection"), "close", "the client connection closes")


@test
def test_garbage_from_upstream_is_502():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n")
        time.sleep(0.5)
        c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    s = proxy_server(one_location("127.0.0.1:%d" % port))
    eq(s.get("/api/x").status, 502, "status")
    s.wait_log(r"\[error\].*upstream 127\.0\.0\.1:%d: " % port)
    srv.close()


@test
def test_slow_client_back_pressure():
    """The upstream is read only as fast as the client drains: with the
    client paused, the backend cannot have sent much more than the
    socket buffers hold, and the worker's memory stays flat."""
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        pid = worker_pid(s)
        rss0 = rss_kib(pid)
        total = 256 * 1024 * 1024
        c = socket.create_connection(("127.0.0.1", s.port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.sendall(b"GET /api/big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % total)
        got = 0
        while got < 4 * 1024 * 1024:
            got += len(c.recv(65536))
        time.sleep(1.5)
        sent = b.sent_bytes
        check(sent < 64 * 1024 * 1024,
              "the backend sent %d bytes while the client had read %d"
              % (sent, got))
        grew = rss_kib(pid) - rss0
        check(grew < 20 * 1024, "RSS grew by %d KiB" % grew)
        c.close()
        check(got > 0 and sent > got, "data flowed (%d, %d)" % (sent, got))


@test
def test_full_download_through_slow_reads():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        total = 20 * 1024 * 1024
        c = socket.create_connection(("127.0.0.1", s.port))
        c.settimeout(30)
        c.sendall(b"GET /api/big?n=%d HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n" % total)
        data = bytearray()
        while True:
            chunk = c.recv(262144)
            if not chunk:
                break
            data += chunk
            if len(data) < 2 * 1024 * 1024:
                time.sleep(0.01)
        c.close()
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        contains(head.decode(), "Content-Length: %d" % total, "head")
        eq(len(body), total, "body length")
        want = (PATTERN * (total // len(PATTERN) + 1))[:total]
        check(body == want, "body bytes differ")


@test
def test_client_gone_closes_upstream():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"GET /api/hold HTTP/1.1\r\nHost: x\r\n\r\n")
        c.recv(4096)
        c.close()
        check(b.held_closed.wait(5),
              "the upstream connection stayed open after the client left")
        s.assert_serving("/api/id", 200)


@test
def test_client_gone_while_waiting_for_head():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        pid = worker_pid(s)
        s.assert_serving("/api/id", 200)
        n0 = len(os.listdir("/proc/%d/fd" % pid))
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", s.port))
            c.sendall(b"GET /api/stall HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)
            c.close()
        time.sleep(0.5)
        n1 = len(os.listdir("/proc/%d/fd" % pid))
        check(n1 <= n0 + 1, "descriptors: %d before, %d after" % (n0, n1))
        s.assert_serving("/api/id", 200)


@test
def test_name_with_several_addresses():
    """localhost may be ::1 and 127.0.0.1: each is a server, and a
    refused one is passed over."""
    with Backend("a") as b:
        s = proxy_server(one_location("localhost:%d" % b.port))
        eq(names(s, 4), ["a"] * 4, "answers through localhost")


@test
def test_unix_socket_upstream():
    s0 = Server(conf="", modules=("proxy",))
    path = os.path.join(s0.tmp, "app.sock")
    with Backend("unix", unix=path):
        s0.extra = ("<Location /u/>\n    ProxyPass unix:%s:/v1/\n"
                    "</Location>\n" % path)
        s0.start()
        doc = echo(s0.get("/u/echo?z=2"))
        eq(doc["name"], "unix", "served by the unix socket backend")
        eq(doc["path"], "/v1/echo?z=2", "target")
        eq(hdr(doc, "Host"), "localhost", "Host for a unix socket")


@test
def test_many_requests_keep_alive_client():
    with Backend("a") as b:
        s = proxy_server(one_location(b.addr))
        with s.conn() as c:
            for i in range(50):
                r = c.request("GET", "/api/id")
                eq(r.body, b"a", "body of request %d" % i)
        eq(b.count("/v1/id"), 50, "backend hits")


def post_config_error(conf, needle, message):
    """A mistake found once the whole configuration is read: cairnd -t
    fails with file:line of the line and the message."""
    s = Server(conf=conf, modules=("proxy",))
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + p.stderr)
    contains(p.stderr, "%s:%d: %s" % (s.conf_path, s.line_of(needle),
                                      message), "stderr of -t")


@test
def test_bad_config_lines():
    config_error("LoadModule proxy\n<Location /a>\n"
                 "    ProxyPass ftp://x/\n</Location>\n",
                 ["ProxyPass \"ftp://x/\": expected"],
                 line_of="ProxyPass", modules=())
    config_error("LoadModule proxy\n<Location /a>\n"
                 "    ProxyPass https://127.0.0.1/\n</Location>\n",
                 ["https upstreams are not supported"],
                 line_of="ProxyPass", modules=())
    config_error("LoadModule proxy\n<Location /a>\n"
                 "    ProxyPass http://127.0.0.1:99999/\n</Location>\n",
                 ["the port must be a number from 1 to 65535"],
                 line_of="ProxyPass", modules=())
    post_config_error("<Location /a>\n"
                      "    ProxyPass http://no-such-host.invalid/\n"
                      "</Location>\n", "ProxyPass",
                      "ProxyPass http://no-such-host.invalid/: host "
                      "\"no-such-host.invalid\" does not resolve")
    post_config_error("<Location /a>\n"
                      "    ProxyPass upstream://nowhere/\n</Location>\n",
                      "ProxyPass", "ProxyPass upstream://nowhere/: there "
                      "is no <Upstream nowhere>")
    config_error("LoadModule proxy\n<Location /a>\n"
                 "    ProxyPassReverse default\n</Location>\n",
                 ["ProxyPassReverse default needs a ProxyPass"],
                 line_of="ProxyPassReverse", modules=())
    config_error("LoadModule proxy\n<Location /a>\n"
                 "    ProxyNextUpstream error sometimes\n</Location>\n",
                 ["ProxyNextUpstream \"sometimes\""],
                 line_of="ProxyNextUpstream", modules=())


@test
def test_module_loaded_without_proxypass_changes_nothing():
    s = Server(conf="", modules=("static", "proxy"))
    s.write("index.html", "home\n")
    s.start()
    eq(s.get("/index.html").body, b"home\n", "static still serves")
    eq(s.get("/nope").status, 404, "404 as before")


# ------------------------------------------------------------------ #
# Stage 2: <Upstream> groups                                         #
# ------------------------------------------------------------------ #

def upstream_conf(servers, extra="", loc_extra="", name="app"):
    lines = ["<Upstream %s>" % name]
    lines += ["    Server %s" % sv for sv in servers]
    lines += ["    " + l for l in extra.splitlines() if l.strip()]
    lines.append("</Upstream>")
    lines.append("<Location /api/>")
    lines.append("    ProxyPass upstream://%s/" % name)
    lines += ["    " + l for l in loc_extra.splitlines() if l.strip()]
    lines.append("</Location>")
    return "\n".join(lines) + "\n"


def names(s, n, path="/api/id"):
    out = []
    with s.conn() as c:
        for _ in range(n):
            r = c.request("GET", path)
            eq(r.status, 200, "status\n" + r.describe())
            out.append(r.body.decode())
    return out


@test
def test_round_robin_weights_1_2_3():
    with Backend("a") as a, Backend("b") as b, Backend("c") as c:
        s = proxy_server(upstream_conf(["%s weight=1" % a.addr,
                                        "%s weight=2" % b.addr,
                                        "%s weight=3" % c.addr]))
        got = names(s, 300)
        cnt = collections.Counter(got)
        for name, want in (("a", 50), ("b", 100), ("c", 150)):
            check(abs(cnt[name] - want) <= 1,
                  "%s served %d of 300, want %d" % (name, cnt[name], want))
        # Smooth: never more than three of c in a row.
        eq(got[:6], ["c", "b", "a", "c", "b", "c"], "the first round")


@test
def test_least_conn_prefers_the_idle_server():
    with Backend("a") as a, Backend("b") as b:
        s = proxy_server(upstream_conf([a.addr, b.addr],
                                       extra="Balance least_conn"))
        pool = concurrent.futures.ThreadPoolExecutor(1)
        slow = pool.submit(s.get, "/api/sleep?ms=1500")
        deadline = time.monotonic() + 5
        while a.count() + b.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        busy = "a" if a.count() else "b"
        fast = names(s, 10)
        eq(set(fast), {"b" if busy == "a" else "a"},
           "fast requests while %s holds a slow one" % busy)
        eq(slow.result().body.decode(), busy, "the slow one")
        pool.shutdown()
        # Both idle: shared again.
        eq(set(names(s, 4)), {"a", "b"}, "both used when idle")


def from_source(port, src, path="/api/id"):
    c = socket.create_connection(("127.0.0.1", port), timeout=5,
                                 source_address=(src, 0))
    try:
        c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data = b""
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
    finally:
        c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200"), "status %r" % head[:40])
    return body.decode()


@test
def test_ip_hash_sticky_across_workers_and_reload():
    with Backend("a") as a, Backend("b") as b, Backend("c") as c:
        s = proxy_server(upstream_conf([a.addr, b.addr, c.addr],
                                       extra="Balance ip_hash"), workers=2)
        sources = ["127.0.0.%d" % i for i in range(2, 12)]
        first = {}
        for src in sources:
            got = {from_source(s.port, src) for _ in range(6)}
            eq(len(got), 1, "servers for %s (two workers)" % src)
            first[src] = got.pop()
        check(len(set(first.values())) >= 2,
              "ten addresses all went to one server: %s" % first)
        old = s.children()
        s.signal(signal.SIGHUP)
        s.wait_workers(2, timeout=10, exclude=old)
        for src in sources:
            eq(from_source(s.port, src), first[src],
               "server for %s after a reload" % src)


@test
def test_hash_key_sticky():
    with Backend("a") as a, Backend("b") as b:
        s = proxy_server(upstream_conf([a.addr, b.addr],
                                       extra="Balance hash %{http_x_user}"))
        seen = {}
        for user in ["user%d" % i for i in range(20)]:
            got = set()
            for _ in range(3):
                r = s.get("/api/id", headers={"X-User": user})
                got.add(r.body.decode())
            eq(len(got), 1, "servers for user %s" % user)
            seen[user] = got.pop()
        check(len(set(seen.values())) == 2, "all users on one server")


@test
def test_random_uses_every_server():
    with Backend("a") as a, Backend("b") as b, Backend("c") as c:
        s = proxy_server(upstream_conf([a.addr, b.addr, c.addr],
                                       extra="Balance random"))
        cnt = collections.Counter(names(s, 90))
        eq(set(cnt), {"a", "b", "c"}, "servers used")


@test
def test_backup_only_when_the_others_are_down():
    with Backend("a") as a, Backend("bk") as bk:
        s = proxy_server(upstream_conf([a.addr, "%s backup" % bk.addr]))
        eq(set(names(s, 10)), {"a"}, "with the primary up")
        dead = refused_port()
        s2 = proxy_server(upstream_conf(["127.0.0.1:%d" % dead,
                                         "%s backup" % bk.addr]))
        eq(set(names(s2, 5)), {"bk"}, "with the primary down")


@test
def test_get_retried_while_one_backend_refuses():
    with Backend("b") as b:
        dead = refused_port()
        s = proxy_server(upstream_conf(["127.0.0.1:%d" % dead, b.addr]))
        got = names(s, 20)
        eq(set(got), {"b"}, "every answer from the live server")
        s.wait_log(r"\[warn\].*upstream \"app\": server 127\.0\.0\.1:%d is "
                   r"down for 10000 ms after 1 failure" % dead)
        # Once down it is not tried again: one connect error logged.
        eq(len([l for l in s.log().splitlines()
                if "127.0.0.1:%d: connect() failed" % dead in l]), 1,
           "connect errors logged")


@test
def test_post_not_retried_after_its_body_went_out():
    with Backend("b") as b:
        raw = RawBackend()
        try:
            s = proxy_server(upstream_conf(
                ["%s max_fails=0" % raw.addr, "%s max_fails=0" % b.addr]))
            # Round robin starts with the raw one.
            r = s.request("POST", "/api/echo", body=b"x" * 1000)
            eq(r.status, 502, "POST to a server that closed")
            eq(raw.accepted, 1, "the closing server saw it once")
            eq(b.count(method="POST"), 0, "not sent to the other one")
            # A GET in the same situation is retried.
            n0 = raw.accepted
            got = names(s, 2)
            eq(got, ["b", "b"], "GETs answered by the live server")
            check(raw.accepted > n0, "a GET went to the closing server")
        finally:
            raw.stop()


@test
def test_post_retried_when_connect_failed():
    with Backend("b") as b:
        dead = refused_port()
        s = proxy_server(upstream_conf(["127.0.0.1:%d" % dead, b.addr]))
        doc = echo(s.request("POST", "/api/echo", body=b"abc"))
        eq(doc["name"], "b", "POST moved on after a refused connect")
        eq(doc["body_len"], 3, "body")


@test
def test_http_503_retried_when_listed():
    with Backend("sick", status=503) as sick, Backend("b") as b:
        s = proxy_server(upstream_conf(
            ["%s max_fails=0" % sick.addr, "%s max_fails=0" % b.addr],
            loc_extra="ProxyNextUpstream error timeout http_503"))
        eq(names(s, 6), ["b"] * 6, "503s replaced by the other server")
        check(sick.count() >= 3, "the sick server was tried")
        # Without http_503 the answer is passed on.
        s2 = proxy_server(upstream_conf(["%s max_fails=0" % sick.addr,
                                         b.addr]))
        r = s2.get("/api/id")
        eq(r.status, 503, "503 passed on")
        eq(r.body, b"sick 503\n", "its body")


@test
def test_all_down_is_502_fast():
    p1, p2 = refused_port(), refused_port()
    s = proxy_server(upstream_conf(["127.0.0.1:%d" % p1,
                                    "127.0.0.1:%d" % p2]))
    t0 = time.monotonic()
    eq(s.get("/api/id").status, 502, "first request")
    eq(s.get("/api/id").status, 502, "second request")
    check(time.monotonic() - t0 < 1.5, "502s came fast")
    s.wait_log(r"upstream \"app\": no live server to send the request to")


@test
def test_stalled_server_times_out_to_the_next():
    with Backend("stall", stall=True) as st, Backend("b") as b:
        s = proxy_server(upstream_conf(
            [st.addr, b.addr], loc_extra="ProxyReadTimeout 1s"))
        t0 = time.monotonic()
        eq(names(s, 1), ["b"], "answered by the next server")
        check(time.monotonic() - t0 >= 0.9, "after the read timeout")
        s.wait_log(r"upstream %s timed out \(1000 ms\)"
                   % st.addr.replace(".", r"\."))
        # Without retries on timeout: 504.
        s2 = proxy_server(upstream_conf(
            [st.addr, b.addr], loc_extra="ProxyReadTimeout 1s\n"
                                         "ProxyNextUpstream error"))
        eq(s2.get("/api/id").status, 504, "504 without timeout retries")


@test
def test_next_upstream_tries_bound():
    p1, p2 = refused_port(), refused_port()
    with Backend("b") as b:
        s = proxy_server(upstream_conf(
            ["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2, b.addr],
            loc_extra="ProxyNextUpstreamTries 2"))
        eq(s.get("/api/id").status, 502, "two refused tries, then 502")
        eq(b.count(), 0, "the third server was not tried")


@test
def test_keepalive_pool_reuses_connections():
    with Backend("a") as a:
        s = proxy_server(upstream_conf([a.addr], extra="KeepAlive 4"))
        eq(names(s, 30), ["a"] * 30, "answers")
        eq(len(a.peers), 1, "upstream connections for 30 requests")
        doc = echo(s.get("/api/echo"))
        eq(hdr(doc, "Connection"), None, "no Connection: close upstream")
        # Without KeepAlive: a connection per request.
        s2 = proxy_server(upstream_conf([a.addr], name="app"))
        a.peers.clear()
        names(s2, 5)
        eq(len(a.peers), 5, "connections without a pool")


@test
def test_stale_pooled_connection_retried_for_post():
    stale = StaleBackend()
    try:
        s = proxy_server(upstream_conf([stale.addr], extra="KeepAlive 4"))
        for i in range(3):
            r = s.request("POST", "/api/x", body=b"data")
            eq(r.status, 200, "POST %d" % i)
            eq(r.body, b"ok\n", "body %d" % i)
        eq(stale.answered, 3, "answered requests")
        check(stale.dropped >= 2, "reused connections dropped: %d"
              % stale.dropped)
    finally:
        stale.stop()


@test
def test_max_conns_skips_a_full_server():
    with Backend("a") as a, Backend("b") as b:
        s = proxy_server(upstream_conf(["%s max_conns=1" % a.addr,
                                        "%s weight=1" % b.addr],
                                       extra="Balance round_robin"))
        pool = concurrent.futures.ThreadPoolExecutor(4)
        futs = [pool.submit(s.get, "/api/sleep?ms=800") for _ in range(4)]
        got = collections.Counter(f.result().body.decode() for f in futs)
        pool.shutdown()
        eq(got["a"], 1, "requests a held at once (%s)" % dict(got))
        eq(got["b"], 3, "requests b took (%s)" % dict(got))


@test
def test_bad_upstream_config():
    base = "LoadModule proxy\n"
    config_error(base + "<Upstream app>\n    Server 127.0.0.1:1 "
                 "weight=0\n</Upstream>\n",
                 ["weight= is from 1 to 1000"], line_of="weight=0",
                 modules=())
    config_error(base + "<Upstream app>\n    Server 127.0.0.1:1 "
                 "heavy\n</Upstream>\n",
                 ["Server: unknown parameter \"heavy\""], line_of="heavy",
                 modules=())
    config_error(base + "<Upstream app>\n    Balance fastest\n"
                 "</Upstream>\n", ["Balance \"fastest\""],
                 line_of="Balance", modules=())
    config_error(base + "<Upstream app>\n    Balance hash\n"
                 "</Upstream>\n", ["Balance hash takes one key"],
                 line_of="Balance", modules=())
    config_error(base + "<Upstream app>\n    Server 127.0.0.1:1\n"
                 "</Upstream>\n<Upstream \"app\">\n    Server 127.0.0.1:2\n"
                 "</Upstream>\n", ["<Upstream app> is already defined"],
                 line_of='<Upstream "app">', modules=())
    config_error(base + "<Upstream app>\n    HealthCheck uri=/h "
                 "often=1\n</Upstream>\n",
                 ["HealthCheck: unknown parameter \"often=1\""],
                 line_of="HealthCheck", modules=())
    config_error(base + "<Upstream app>\n    HealthCheck expect=300-200\n"
                 "</Upstream>\n", ["HealthCheck expect=300-200"],
                 line_of="HealthCheck", modules=())
    config_error(base + "<Upstream app>\n    HealthCheck uri=health\n"
                 "</Upstream>\n", ["HealthCheck uri=health: a path"],
                 line_of="HealthCheck", modules=())
    post_config_error("<Upstream empty>\n</Upstream>\n", "<Upstream empty>",
                      "<Upstream empty> has no Server")
    config_error(base + "<Upstream app>\n    Resolve sometimes\n"
                 "</Upstream>\n", ["Resolve \"sometimes\": expected "
                                    "every=TIME or off"],
                 line_of="Resolve", modules=())
    config_error(base + "Resolve every=10ms\n",
                 ["Resolve every= is at least 100ms"], line_of="Resolve",
                 modules=())
    s = Server(conf="Resolver dns.example\n", modules=("proxy",))
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + p.stderr)
    contains(p.stderr, "Resolver \"dns.example\": expected an IP address",
             "stderr of -t")
    post_config_error("<Upstream app>\n    Server no-such-host.invalid:80\n"
                      "</Upstream>\n", "Server no-such",
                      "host \"no-such-host.invalid\" does not resolve")



# ------------------------------------------------------------------ #
# Stage 3: shared health, HealthCheck, metrics, logs                 #
# ------------------------------------------------------------------ #

@test
def test_health_check_takes_a_server_out_and_back():
    with Backend("b") as b:
        a = Backend("a")
        port = a.port
        s = proxy_server(upstream_conf(
            ["%s max_fails=0" % a.addr, "%s max_fails=0" % b.addr],
            extra="HealthCheck uri=/id interval=200ms timeout=500ms "
                  "fails=2 passes=2"))
        eq(set(names(s, 4)), {"a", "b"}, "both up")
        check(a.count("/id") >= 1, "a was checked")
        a.stop()
        t0 = time.monotonic()
        s.wait_log(r"\[warn\].*upstream \"app\": server 127\.0\.0\.1:%d is "
                   r"down after 2 failed health checks \(GET /id: "
                   r"connect\(\) failed\)" % port, timeout=5)
        took = time.monotonic() - t0
        check(took < 2.0, "out after %.2f s (interval x fails = 0.4 s)"
              % took)
        errors0 = s.log().count("connect() failed")
        eq(names(s, 10), ["b"] * 10, "while a is out")
        eq(s.log().count("connect() failed"), errors0,
           "no request tried the server that is out")
        a2 = Backend("a", port=port)
        try:
            s.wait_log(r"\[notice\].*upstream \"app\": server "
                       r"127\.0\.0\.1:%d is up again after 2 good health "
                       r"checks" % port, timeout=5)
            eq(set(names(s, 4)), {"a", "b"}, "a is back")
        finally:
            a2.stop()


def conn_per_worker(s, workers, tries=200):
    """A keep-alive client connection held by each worker."""
    got = {}
    for _ in range(tries):
        c = s.conn()
        r = c.request("GET", "/api/id")
        eq(r.status, 200, "status\n" + r.describe())
        owner = socket_owner(s.port, c.sock, workers)
        if owner is not None and owner not in got:
            got[owner] = c
            if len(got) == len(workers):
                return got
        else:
            c.close()
    fail("no connection to each of the workers %s after %d tries"
         % (workers, tries))


@test
def test_killed_backend_with_health_checks_and_two_workers():
    """A backend killed by its pid while clients of both workers keep
    sending: out for both workers within interval x fails, no failure a
    client sees (the GETs caught by the kill are retried on the other
    server), back for both after `passes` good checks once restarted."""
    with Backend("b") as b:
        a = ProcBackend("a")
        port = a.port
        a_re = r"127\.0\.0\.1:%d" % port
        s = proxy_server(upstream_conf(
            [a.addr, b.addr],
            extra="KeepAlive 4\nHealthCheck uri=/id interval=200ms "
                  "timeout=500ms fails=2 passes=2"), workers=2)
        try:
            s.wait_workers(2)
            workers = s.children()
            conns = conn_per_worker(s, workers)
            stop = threading.Event()
            seen = {pid: [] for pid in conns}
            errors = []

            def client(pid, c):
                try:
                    while not stop.is_set():
                        r = c.request("GET", "/api/id")
                        if r.status != 200:
                            errors.append("worker %d: %s" % (pid,
                                                             r.describe()))
                        seen[pid].append((time.monotonic(),
                                          r.body.decode()))
                        time.sleep(0.005)
                except Exception as e:      # noqa: BLE001
                    errors.append("worker %d: %r" % (pid, e))

            threads = [threading.Thread(target=client, args=(pid, c),
                                        daemon=True)
                       for pid, c in conns.items()]
            for t in threads:
                t.start()
            time.sleep(0.5)
            for pid in conns:
                eq({n for _, n in seen[pid]}, {"a", "b"},
                   "servers seen through worker %d before the kill" % pid)

            a.kill()
            t0 = time.monotonic()
            s.wait_log(r"\[warn\].*upstream \"app\": server %s is down "
                       r"after 2 failed health checks" % a_re, timeout=5)
            took = time.monotonic() - t0
            check(took < 2.0, "out after %.2f s (interval x fails = 0.4 s)"
                  % took)
            time.sleep(0.2)
            t_out = time.monotonic()
            fails0 = len(re.findall(a_re + r": (connect\(\) failed|failed "
                                    r"while)", s.log()))
            time.sleep(1.0)
            for pid in conns:
                after = [n for t, n in seen[pid] if t > t_out]
                check(len(after) >= 10, "worker %d answered %d requests "
                      "while a was out" % (pid, len(after)))
                eq(set(after), {"b"}, "servers through worker %d while a "
                   "is out" % pid)
            eq(len(re.findall(a_re + r": (connect\(\) failed|failed "
                              r"while)", s.log())), fails0,
               "requests that tried the server while it was out")

            a = ProcBackend("a", port=port)
            t1 = time.monotonic()
            s.wait_log(r"\[notice\].*upstream \"app\": server %s is up "
                       r"again after 2 good health checks" % a_re,
                       timeout=5)
            t_back = time.monotonic()
            check(t_back - t1 < 3.0, "back after %.2f s (interval x passes "
                  "= 0.4 s)" % (t_back - t1))
            time.sleep(1.0)
            stop.set()
            for t in threads:
                t.join(10)
            for pid in conns:
                after = [n for t, n in seen[pid] if t > t_back + 0.1]
                eq(set(after), {"a", "b"}, "servers through worker %d once "
                   "a is back" % pid)
            eq(errors, [], "failures the clients saw")
            for c in conns.values():
                c.close()
        finally:
            a.kill()


def two_addresses_one_port():
    """Backends "one" on 127.0.0.2 and "two" on 127.0.0.3, same port."""
    for _ in range(20):
        one = Backend("one", host="127.0.0.2")
        try:
            two = Backend("two", host="127.0.0.3", port=one.port)
            return one, two
        except OSError:
            one.stop()
    fail("no port free on both 127.0.0.2 and 127.0.0.3")


@test
def test_resolve_follows_a_changing_name():
    """Resolve every=: the name's address set grows and shrinks with
    the answers of the Resolver; a failed lookup keeps the addresses and
    is logged once."""
    with DnsServer() as dns:
        one, two = two_addresses_one_port()
        port = one.port
        name = "app.cairn.test"
        try:
            dns.set(name, ["127.0.0.2"])
            s = proxy_server("Resolver %s\n" % dns.addr + upstream_conf(
                ["%s:%d" % (name, port)], extra="Resolve every=300ms"),
                workers=2)
            # The load's own lookup (the system's) fails: the workers'
            # first one, at once, gives the server.
            contains(s.log(), "host \"%s\" does not resolve" % name,
                     "the load's failed lookup")
            s.wait_log(r"upstream \"app\": %s:%d resolves anew \(added: "
                       r"127\.0\.0\.2:%d; removed: none\)"
                       % (re.escape(name), port, port), timeout=5)
            time.sleep(0.2)
            eq(set(names(s, 6)), {"one"}, "servers with one address")

            dns.set(name, ["127.0.0.3", "127.0.0.2"])
            s.wait_log(r"added: 127\.0\.0\.3:%d; removed: none" % port,
                       timeout=5)
            time.sleep(0.5)
            eq(set(names(s, 8)), {"one", "two"}, "servers with two")

            dns.set(name, ["127.0.0.3"])
            s.wait_log(r"added: none; removed: 127\.0\.0\.2:%d" % port,
                       timeout=5)
            time.sleep(0.5)
            eq(set(names(s, 8)), {"two"}, "servers once .2 is gone")

            dns.failing = True
            s.wait_log(r"\[warn\].*upstream \"app\": looking up %s "
                       r"failed" % re.escape(name), timeout=10)
            q0 = dns.count(name)
            time.sleep(1.5)
            check(dns.count(name) > q0, "no lookup while failing")
            eq(set(names(s, 6)), {"two"}, "servers while lookups fail")
            # Once per worker, not once per lookup.
            n_failed = s.log().count("looking up %s failed" % name)
            check(1 <= n_failed <= 2, "failure logged %d times" % n_failed)

            dns.failing = False
            s.wait_log(r"looking up %s works again" % re.escape(name),
                       timeout=5)
            not_contains("\n".join(s.bad_log_lines()), "[error]",
                         "error lines")
        finally:
            one.stop()
            two.stop()


@test
def test_resolve_for_proxypass_http_name():
    """Resolve at server scope applies to ProxyPass http://name."""
    with DnsServer() as dns:
        one, two = two_addresses_one_port()
        port = one.port
        name = "svc.cairn.test"
        try:
            dns.set(name, ["127.0.0.3"])
            s = proxy_server("Resolver %s\nResolve every=200ms\n" % dns.addr
                             + one_location("%s:%d" % (name, port),
                                            url_path="/"))
            s.wait_log(r"resolves anew \(added: 127\.0\.0\.3", timeout=5)
            eq(s.get("/api/id").body, b"two", "served by .3")
            dns.set(name, ["127.0.0.2"])
            s.wait_log(r"added: 127\.0\.0\.2:%d; removed: 127\.0\.0\.3"
                       % port, timeout=5)
            eq(s.get("/api/id").body, b"one", "served by .2")
        finally:
            one.stop()
            two.stop()


@test
def test_health_check_expect_range():
    with Backend("a") as a, Backend("b") as b:
        s = proxy_server(upstream_conf(
            [a.addr, b.addr],
            extra="HealthCheck uri=/status/404 interval=100ms fails=1 "
                  "passes=1 expect=200-299"))
        s.wait_log(r"server %s is down after 1 failed health check "
                   r"\(GET /status/404: answered 404\)"
                   % a.addr.replace(".", r"\."))
        s.wait_log(r"server %s is down after 1 failed health check"
                   % b.addr.replace(".", r"\."))
        eq(s.get("/api/id").status, 502, "every server out")


@test
def test_passive_health_shared_by_workers():
    """One worker's discovery takes the server out for the other."""
    with Backend("b") as b:
        dead = refused_port()
        s = proxy_server(upstream_conf(
            ["127.0.0.1:%d max_fails=1 fail_timeout=30s" % dead, b.addr]),
            workers=2)
        s.wait_workers(2)
        for _ in range(40):
            eq(from_source(s.port, "127.0.0.1"), "b", "answer")
        eq(s.log().count("127.0.0.1:%d: connect() failed" % dead), 1,
           "connect errors over two workers")


@test
def test_metrics_per_upstream_server():
    with Backend("a") as a:
        dead = refused_port()
        conf = upstream_conf(["127.0.0.1:%d" % dead, a.addr],
                             extra="KeepAlive 2")
        conf += "<Location /metrics>\n    Metrics on\n</Location>\n"
        s = proxy_server(conf, modules=("metrics", "proxy"))
        names(s, 5)
        text = s.get("/metrics").body.decode()
        contains(text, 'cairn_proxy_requests_total{upstream="app",'
                       'server="%s",code="200"} 5' % a.addr, "requests")
        contains(text, 'cairn_proxy_errors_total{upstream="app",'
                       'server="127.0.0.1:%d",cause="connect"} 1' % dead,
                 "errors")
        contains(text, 'cairn_proxy_server_up{upstream="app",'
                       'server="127.0.0.1:%d"} 0' % dead, "down server")
        contains(text, 'cairn_proxy_server_up{upstream="app",'
                       'server="%s"} 1' % a.addr, "up server")
        contains(text, 'cairn_proxy_connections{upstream="app",'
                       'server="%s",state="idle"} 1' % a.addr, "idle")
        contains(text, 'cairn_proxy_response_seconds_count{upstream="app",'
                       'server="%s"} 5' % a.addr, "latency histogram")


@test
def test_status_page_lists_upstream_servers():
    with Backend("a") as a:
        dead = refused_port()
        conf = upstream_conf(["127.0.0.1:%d" % dead, a.addr],
                             extra="KeepAlive 2")
        conf += "<Location /status>\n    Status on\n</Location>\n"
        s = proxy_server(conf, modules=("metrics", "proxy"))
        names(s, 3)
        doc = json.loads(s.get("/status?format=json").body)
        servers = {p["server"]: p for p in doc["upstreams"]["app"]}
        eq(servers["127.0.0.1:%d" % dead]["up"], False, "the dead one")
        eq(servers["127.0.0.1:%d" % dead]["errors"], 1, "its errors")
        eq(servers[a.addr]["up"], True, "the live one")
        eq(servers[a.addr]["responses"], 3, "its responses")
        eq(servers[a.addr]["idle"], 1, "its idle connections")
        html = s.get("/status").body.decode()
        contains(html, "<h2>upstreams</h2>", "HTML section")
        contains(html, "<td>127.0.0.1:%d</td><td>down</td>" % dead,
                 "HTML row of the dead server")


@test
def test_access_log_upstream_fields():
    with Backend("a") as a:
        conf = upstream_conf([a.addr])
        conf += ('AccessLog @TMP@/access.log "%r %>s %{upstream_addr}n '
                 '%{upstream_status}n %{upstream_time}n"\n'
                 'AccessLog @TMP@/access.json json\n')
        s = proxy_server(conf, modules=("log", "proxy"))
        eq(s.get("/api/status/201").status, 201, "status")
        deadline = time.monotonic() + 5
        text = ""
        while time.monotonic() < deadline:
            try:
                text = open(s.path("access.log")).read()
                js = open(s.path("access.json")).read()
            except FileNotFoundError:
                text = js = ""
            if text and js:
                break
            time.sleep(0.1)
        matches_re = re.search(
            r'GET /api/status/201 HTTP/1.1 201 %s 201 \d+\.\d{3}'
            % a.addr.replace(".", r"\."), text)
        check(matches_re is not None, "access log line: %r" % text)
        doc = json.loads(js.splitlines()[-1])
        eq(doc.get("upstream_addr"), a.addr, "json upstream_addr")
        check(isinstance(doc.get("upstream_ms"), int), "json upstream_ms")


if __name__ == "__main__":
    main()
