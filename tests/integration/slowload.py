"""slowload: slow clients held open against a server, and the latency a
normal client sees meanwhile.  Shared by test_slow.py and
tests/bench/slow_clients.py.

    slow = SlowClients(port, headers=1000, bodies=500, body_path="/echo")
    slow.start()                        # one thread, selectors
    slow.wait_connected(60)
    lat, errors = timed_requests(port, "/f.txt", body, 2000)
    slow.stop()
    print(slow.summary(), percentiles(lat))

Header trickers send a request line and then one byte of an endless
header every interval; body trickers send a whole head with a large
Content-Length and then one byte of the body every interval.  A
connection the server closes, or answers, is counted, not reopened.

Only the Python standard library is used.
"""

import errno
import http.client
import selectors
import socket
import threading
import time


class SlowClients:
    def __init__(self, port, headers=1000, bodies=500, interval=1.0,
                 header_path="/", body_path="/", body_length=500000,
                 host="127.0.0.1"):
        self.port = port
        self.host = host
        self.nheaders = headers
        self.nbodies = bodies
        self.interval = interval
        self.header_path = header_path
        self.body_path = body_path
        self.body_length = body_length
        self.stopping = threading.Event()
        self.thread = None
        self.lock = threading.Lock()
        self.socks = {}         # fd -> state dict
        self.connect_failed = 0
        self.closed_by_server = {"header": 0, "body": 0}
        self.answered = {"header": 0, "body": 0}
        self.first_bytes = []   # what the server sent, a few examples
        self.connected = 0
        self.bytes_sent = 0

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(30)

    def wait_connected(self, timeout):
        """Waits until every connection is established (or failed);
        returns how many are."""
        want = self.nheaders + self.nbodies
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.connected + self.connect_failed >= want:
                    return self.connected
            time.sleep(0.05)
        return self.connected

    def held(self):
        """Connections still open from the client's side."""
        with self.lock:
            return sum(1 for st in self.socks.values() if st["open"])

    def summary(self):
        return ("%d slow connections held (of %d header and %d body "
                "trickers), %d failed to connect, closed by the server: %s, "
                "answered: %s, %d bytes trickled"
                % (self.held(), self.nheaders, self.nbodies,
                   self.connect_failed, self.closed_by_server, self.answered,
                   self.bytes_sent))

    # -- the thread ----------------------------------------------------

    def _open(self, sel, kind, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((self.host, self.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            with self.lock:
                self.connect_failed += 1
            return
        if kind == "header":
            head = ("GET %s?slow=%d HTTP/1.1\r\nHost: localhost\r\n"
                    "X-Slow: " % (self.header_path, i)).encode()
        else:
            head = ("POST %s?slow=%d HTTP/1.1\r\nHost: localhost\r\n"
                    "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                    % (self.body_path, i, self.body_length)).encode()
        st = {"sock": s, "kind": kind, "open": True, "up": False,
              "pending": head, "sent_body": 0,
              # Spread over the interval, so that sends do not come in
              # one burst a second.
              "next": time.monotonic() + self.interval * (i % 100) / 100.0}
        self.socks[s.fileno()] = st
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)

    def _close(self, sel, st, by_server, data=b""):
        if not st["open"]:
            return
        with self.lock:
            st["open"] = False
            if by_server:
                if data:
                    self.answered[st["kind"]] += 1
                    if len(self.first_bytes) < 5:
                        self.first_bytes.append(data[:120])
                else:
                    self.closed_by_server[st["kind"]] += 1
        try:
            sel.unregister(st["sock"])
        except (KeyError, ValueError):
            pass
        st["sock"].close()

    def _send(self, sel, st, data):
        try:
            n = st["sock"].send(data)
        except BlockingIOError:
            return 0
        except OSError:
            self._close(sel, st, True)
            return 0
        with self.lock:
            self.bytes_sent += n
        return n

    def _run(self):
        sel = selectors.DefaultSelector()
        i = 0
        for _ in range(self.nheaders):
            self._open(sel, "header", i)
            i += 1
        for _ in range(self.nbodies):
            self._open(sel, "body", i)
            i += 1
        while not self.stopping.is_set():
            for key, ev in sel.select(timeout=0.05):
                st = key.data
                if not st["open"]:
                    continue
                if ev & selectors.EVENT_READ:
                    try:
                        data = st["sock"].recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    self._close(sel, st, True, data)
                    continue
                if ev & selectors.EVENT_WRITE and not st["up"]:
                    err = st["sock"].getsockopt(socket.SOL_SOCKET,
                                                socket.SO_ERROR)
                    if err:
                        with self.lock:
                            self.connect_failed += 1
                        st["open"] = False
                        sel.unregister(st["sock"])
                        st["sock"].close()
                        continue
                    st["up"] = True
                    with self.lock:
                        self.connected += 1
                    sel.modify(st["sock"], selectors.EVENT_READ, st)
                    n = self._send(sel, st, st["pending"])
                    st["pending"] = st["pending"][n:]
            now = time.monotonic()
            for st in list(self.socks.values()):
                if not st["open"] or not st["up"] or now < st["next"]:
                    continue
                st["next"] = now + self.interval
                if st["pending"]:
                    n = self._send(sel, st, st["pending"])
                    st["pending"] = st["pending"][n:]
                elif st["kind"] == "header":
                    self._send(sel, st, b"a")
                elif st["sent_body"] < self.body_length - 1:
                    st["sent_body"] += self._send(sel, st, b"b")
        for st in self.socks.values():
            if st["open"]:
                st["open"] = False
                st["sock"].close()
        sel.close()


def timed_requests(port, path, body, n, reconnect_every=100,
                   host="127.0.0.1"):
    """n GETs of path, keep-alive, a new connection every
    reconnect_every; returns (latencies in seconds of the good ones, a
    list of error strings)."""
    lat = []
    errors = []
    hc = None
    for i in range(n):
        if hc is None or i % reconnect_every == 0:
            if hc is not None:
                hc.close()
            hc = http.client.HTTPConnection(host, port, timeout=30)
        t0 = time.monotonic()
        try:
            hc.request("GET", path)
            r = hc.getresponse()
            got = r.read()
        except Exception as e:
            errors.append("request %d: %s: %s" % (i, type(e).__name__, e))
            hc.close()
            hc = None
            continue
        dt = time.monotonic() - t0
        if r.status != 200 or (body is not None and got != body):
            errors.append("request %d: %d, %d bytes" % (i, r.status,
                                                        len(got)))
            continue
        lat.append(dt)
        if r.will_close:
            hc.close()
            hc = None
    if hc is not None:
        hc.close()
    return lat, errors


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def describe(lat):
    return "p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d requests" % (
        percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
        (max(lat) if lat else float("nan")) * 1000, len(lat))
