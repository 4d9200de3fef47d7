"""dbproxy: a TCP proxy between cairnd and MariaDB that can lose the
answer to a COMMIT, for fault injection.

    proxy = DBProxy(db.port)            # listens on 127.0.0.1:proxy.port
    proxy.hold_next_commit()            # the next COMMIT reaches the
                                        # server, its answer never comes
    ...
    proxy.close()

Bytes pass through untouched.  The client-to-server stream is read as
MySQL packets (3-byte length, sequence, payload) so that a COM_QUERY
"COMMIT" can be recognised; once it has been forwarded, everything the
server sends on that connection is dropped, as if the network had failed
after the server committed.  Only the Python standard library is used.
"""

import socket
import threading

COM_QUERY = 0x03


class DBProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.armed = False
        self.commits_held = 0
        self.closed = False
        self.socks = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def hold_next_commit(self):
        with self.lock:
            self.armed = True

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            state = {"hold": False}
            with self.lock:
                self.socks += [c, s]
            threading.Thread(target=self._up, args=(c, s, state),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(s, c, state),
                             daemon=True).start()

    def _up(self, c, s, state):
        """Client to server, watching for COMMIT."""
        buf = b""
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while len(buf) >= 4:
                n = buf[0] | buf[1] << 8 | buf[2] << 16
                if len(buf) < 4 + n:
                    break
                payload, buf = buf[4:4 + n], buf[4 + n:]
                if (payload[:1] == bytes([COM_QUERY])
                        and payload[1:].strip().upper() == b"COMMIT"):
                    with self.lock:
                        if self.armed:
                            self.armed = False
                            self.commits_held += 1
                            state["hold"] = True
            try:
                s.sendall(data)
            except OSError:
                break
        self._close(c, s)

    def _down(self, s, c, state):
        """Server to client, unless this connection's answers are lost."""
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if state["hold"]:
                continue
            try:
                c.sendall(data)
            except OSError:
                break
        self._close(c, s)

    @staticmethod
    def _close(*socks):
        for x in socks:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                x.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks, self.socks = self.socks, []
        self._close(*socks)
