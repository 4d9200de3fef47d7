"""proxytest: upstream servers for the mod_proxy tests.

Backend is a python3 http.server on a loopback port, run in a thread of
the test process, whose answer depends on the path:

    /echo...        200, JSON: name, method, path, headers, body length
                    and sha256 (any method)
    /id             200, the backend's name (distribution tests)
    /sleep?ms=N     the same after N ms
    /status/NNN     NNN with a short body
    /redirect       302 with Location, Content-Location and Refresh
                    pointing at the backend itself under /v1/
    /notmod         304 with an ETag
    /hop            200 with hop-by-hop headers, and X-Secret named in
                    Connection
    /chunked        a chunked body of three chunks
    /big?n=N        N bytes of a known pattern with Content-Length; the
                    backend counts what it sent (sent_bytes)
    /stall          headers never come (the handler sleeps 30 s)
    /hold           headers and a first chunk, then a chunk every 50 ms
                    until the client (the proxy) goes away: held_closed
                    is set then
    /cut            Content-Length 100, ten bytes, then the close

Every request is counted by path (hits) with its method.  Port and name
are attributes; stop() shuts it down.  RawBackend accepts and closes
(or resets) connections at once, for upstreams that fail.  ProcBackend
is a Backend in a process of its own (this file run as a script), for
tests that kill it by its pid.  DnsServer is a small DNS responder on a
loopback UDP port whose answers a test changes (Resolver, Resolve).
"""

import hashlib
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

PATTERN = bytes(range(256)) * 256     # 64 KiB


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _count(self):
        b = self.server.backend
        with b.lock:
            b.hits.append((self.command, self.path))

    def _send(self, status, body=b"", headers=(), ctype="text/plain"):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            self.server.backend.chunked_bodies += 1
            return bytes(data)
        n = int(self.headers.get("Content-Length") or 0)
        data = bytearray()
        while len(data) < n:
            chunk = self.rfile.read(min(1 << 20, n - len(data)))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def _any(self):
        self._count()
        b = self.server.backend
        with b.lock:
            b.peers.add(self.client_address)
        if b.stall:
            time.sleep(30)
            return
        if b.status is not None:
            self._body()
            self._send(b.status, ("%s %d\n" % (b.name, b.status)).encode())
            return
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        path = url.path
        body = self._body()
        for prefix in ("/v1/", "/api/"):
            if path.startswith(prefix):
                path = path[len(prefix) - 1:]
        if path.startswith("/echo"):
            doc = {"name": b.name, "method": self.command,
                   "path": self.path, "headers": list(self.headers.items()),
                   "body_len": len(body),
                   "body_sha": hashlib.sha256(body).hexdigest()}
            self._send(200, json.dumps(doc).encode(), ctype="application/json")
        elif path == "/id":
            self._send(200, b.name.encode())
        elif path == "/sleep":
            time.sleep(int(q.get("ms", ["100"])[0]) / 1000.0)
            self._send(200, b.name.encode())
        elif path.startswith("/status/"):
            st = int(path[8:])
            self._send(st, ("%s %d\n" % (b.name, st)).encode())
        elif path == "/redirect":
            base = "http://127.0.0.1:%d/v1" % b.port
            self._send(302, b"moved\n", headers=[
                ("Location", base + "/next?a=1"),
                ("Content-Location", base + "/here"),
                ("Refresh", "5; url=%s/later" % base)])
        elif path == "/notmod":
            self._send(304, headers=[("ETag", '"v1"')])
        elif path == "/hop":
            self._send(200, b"hop\n", headers=[
                ("Connection", "X-Secret"), ("X-Secret", "1"),
                ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "close"),
                ("Upgrade", "h2c"), ("X-Kept", "yes"), ("X-Hide-Me", "1"),
                ("Server", "backend/1"), ("Date", "Thu, 01 Jan 1970 "
                                                  "00:00:00 GMT")])
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for part in (b"first\n", b"second\n", b"third\n"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                    time.sleep(0.02)
                self.wfile.write(b"0\r\n\r\n")
        elif path == "/big":
            n = int(q.get("n", ["1048576"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            sent = 0
            try:
                while sent < n:
                    chunk = PATTERN[:min(len(PATTERN), n - sent)]
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    with b.lock:
                        b.sent_bytes = sent
            except OSError:
                pass
        elif path == "/stall":
            time.sleep(30)
        elif path == "/hold":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"5\r\nhold\n\r\n")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                b.held_closed.set()
        elif path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send(404, b"no such path\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any
    do_OPTIONS = _any


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UnixServer(socketserver.ThreadingMixIn,
                  socketserver.UnixStreamServer):
    daemon_threads = True


class Backend:
    """status: answer every request with it; stall: never answer."""

    def __init__(self, name="b", host="127.0.0.1", port=0, status=None,
                 stall=False, unix=None):
        self.name = name
        self.status = status
        self.stall = stall
        self.peers = set()
        self.chunked_bodies = 0
        self.lock = threading.Lock()
        self.hits = []
        self.sent_bytes = 0
        self.held_closed = threading.Event()
        if unix is not None:
            self.httpd = _UnixServer(unix, _Handler)
            self.port = 0
            self.addr = "unix:" + unix
        else:
            self.httpd = _Server((host, port), _Handler)
            self.port = self.httpd.server_address[1]
            self.addr = "%s:%d" % (host, self.port)
        self.httpd.backend = self
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def count(self, path=None, method=None):
        with self.lock:
            return sum(1 for m, p in self.hits
                       if (path is None or p == path)
                       and (method is None or m == method))

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class RawBackend:
    """Accepts connections and, for each, reads the request head and
    closes (reset=True: with an RST), counting them."""

    def __init__(self, reset=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.reset = reset
        self.accepted = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                c.settimeout(2)
                c.recv(65536)
            except OSError:
                pass
            if self.reset:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            c.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


class StaleBackend:
    """Keep-alive connections that the server drops when reused: the
    first request on each connection is answered (keep-alive), the second
    finds the connection closed, the race of an upstream's idle timeout.
    Counts answered requests."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.answered = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,),
                             daemon=True).start()

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            data = c.recv(65536)
            if not data:
                return None, b""
            buf += data
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(rest) < n:
            rest += c.recv(65536)
        return head, rest[n:]

    def _conn(self, c):
        try:
            head, buf = self._read_request(c, b"")
            if head is None:
                return
            self.answered += 1
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            # Wait for the reuse, then drop it unanswered.
            head, buf = self._read_request(c, buf)
            if head is not None:
                self.dropped += 1
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def refused_port():
    """A loopback port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ProcBackend:
    """A Backend run by a python3 process of its own on port (0: any);
    kill() ends it with SIGKILL, as a crash would: its sockets are
    closed by the kernel, requests in flight cut."""

    def __init__(self, name="b", port=0):
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), name, str(port)],
            stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("backend %s did not start" % name)
        self.port = int(line)
        self.pid = self.proc.pid
        self.addr = "127.0.0.1:%d" % self.port

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()

    stop = kill

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


class DnsServer:
    """Answers A queries for the names in `answers` (name -> list of
    IPv4 addresses), AAAA with no address, other names NXDOMAIN;
    failing=True answers SERVFAIL.  Counts the queries by name."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.answers = {}
        self.failing = False
        self.queries = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set(self, name, addrs):
        with self.lock:
            self.answers[name.lower()] = list(addrs)

    def count(self, name):
        with self.lock:
            return self.queries.get(name.lower(), 0)

    def _run(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                reply = self._answer(data)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                return

    def _answer(self, data):
        qid, flags = struct.unpack("!HH", data[:4])
        labels, i = [], 12
        while data[i] != 0:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode())
            i += 1 + n
        qtype, qclass = struct.unpack("!HH", data[i + 1:i + 5])
        question = data[12:i + 5]
        name = ".".join(labels).lower()
        with self.lock:
            self.queries[name] = self.queries.get(name, 0) + 1
            addrs = self.answers.get(name)
            failing = self.failing
        rd = flags & 0x0100
        if failing:
            rcode, records = 2, []
        elif addrs is None:
            rcode, records = 3, []
        else:
            rcode = 0
            records = addrs if qtype == 1 else []
        head = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080
                           | rcode, 1, len(records), 0, 0)
        body = b""
        for a in records:
            body += struct.pack("!HHHIH", 0xC00C, 1, qclass, 1, 4)
            body += socket.inet_aton(a)
        return head + question + body

    def stop(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    _b = Backend(sys.argv[1], port=int(sys.argv[2]))
    sys.stdout.write("%d\n" % _b.port)
    sys.stdout.flush()
    _b.thread.join()
