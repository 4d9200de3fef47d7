"""cairntest: the harness of cairn's integration tests.

Each test file is a plain script.  It registers small test functions with
the @test decorator and calls main(), which runs them in order, prints
"ok - name" or "not ok - name: reason" for each, and exits 1 if any
failed (77, automake's SKIP, only when a module was switched off at
configure time, i.e. its .so is absent from the build tree).

A Server writes its own config into a fresh temporary directory (with a
document root), binds a free loopback port, runs `$CAIRND -f conf` in
the foreground with stderr captured to a file, and waits until it
accepts connections.  It is stopped with SIGTERM (SIGKILL after 10 s)
and its directory removed, even when a test fails.  Sanitizer reports
and crashes found in its log fail the test file.

The environment comes from tests/integration/Makefile.am: CAIRND,
CAIRN_MODULEDIR, CAIRN_TESTMODULEDIR, CAIRN_SRCDIR, CAIRN_BUILDDIR.

Only the Python standard library is used.
"""

import atexit
import glob
import hashlib
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP = 77

CAIRND = os.environ.get("CAIRND", "")
MODULEDIR = os.environ.get("CAIRN_MODULEDIR", "")
TESTMODULEDIR = os.environ.get("CAIRN_TESTMODULEDIR", "")
SRCDIR = os.environ.get("CAIRN_SRCDIR", "")
BUILDDIR = os.environ.get("CAIRN_BUILDDIR", "")

# Modules that configure may switch off; a test needing an absent one
# skips.  Test modules are always built by `make check`.
OPTIONAL_MODULES = ("static", "example")

# Every temporary file or directory a test makes is named TMP_PREFIX...
# in the temporary directory ($TMPDIR or /tmp): the run's tag (set by
# `make check`, whose check-local fails on any such name left after the
# run), then this process's id.  Each test file removes what it made and
# fails when a name of its own is still there at its end.
TMP_TAG = os.environ.get("CAIRNTEST_TMP_TAG", "")
TMP_PREFIX = "cairntest.%s%d." % (TMP_TAG + "." if TMP_TAG else "",
                                 os.getpid())

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

# Lines in a server's stderr that mean memory errors, and crashes.
SANITIZER_RE = re.compile(
    r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer"
    r"|runtime error:")
CRASH_RE = re.compile(
    r"\[(emerg|alert|crit)\]|(killed|terminated) by signal"
    r"|segmentation fault", re.IGNORECASE)

HTTP_DATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d GMT$")


class TestFailure(AssertionError):
    pass


class TestSkip(Exception):
    pass


def _raise_nofile_limit():
    """Raise our own fd limit: the async and slowloris tests open
    hundreds of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    want = min(want, 65536)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


_raise_nofile_limit()


def _child_setup():
    """Runs in the cairnd child before exec: a generous fd limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


# ----------------------------------------------------------------------
# Assertions
# ----------------------------------------------------------------------

def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def eq(got, want, what="value"):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))


def contains(haystack, needle, what="text"):
    if needle not in haystack:
        raise TestFailure("%s does not contain %r:\n%s"
                          % (what, needle, _clip(haystack)))


def not_contains(haystack, needle, what="text"):
    if needle in haystack:
        raise TestFailure("%s contains %r:\n%s"
                          % (what, needle, _clip(haystack)))


def matches(text, pattern, what="text", flags=re.MULTILINE):
    m = re.search(pattern, text, flags)
    if m is None:
        raise TestFailure("%s does not match /%s/:\n%s"
                          % (what, pattern, _clip(text)))
    return m


def _clip(text, limit=3000):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if len(text) > limit:
        return text[:limit] + "\n... (%d more characters)" % (
            len(text) - limit)
    return text


def skip(reason):
    raise TestSkip(reason)


# ----------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------

def in_ci():
    """Whether this runs in CI (CI=true), where a missing tool fails
    instead of skipping."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def module_path(name):
    """The .so of a module in the build tree (test modules included)."""
    for d in (MODULEDIR, TESTMODULEDIR):
        if d:
            p = os.path.join(d, "mod_%s.so" % name)
            if os.path.exists(p):
                return p
    return None


def need_modules(*names):
    """Skips the whole file (exit 77) when a module that configure may
    switch off was not built; fails when a test module is missing."""
    for name in names:
        if module_path(name) is None:
            if name in OPTIONAL_MODULES:
                print("1..0 # SKIP mod_%s was not built" % name)
                sys.exit(SKIP)
            print("Bail out! mod_%s.so is missing from %s and %s"
                  % (name, MODULEDIR, TESTMODULEDIR))
            sys.exit(1)


def _check_environment():
    missing = [v for v, val in (("CAIRND", CAIRND),
                                ("CAIRN_MODULEDIR", MODULEDIR),
                                ("CAIRN_TESTMODULEDIR", TESTMODULEDIR))
               if not val]
    if missing:
        print("Bail out! environment variable(s) not set: %s "
              "(run the tests with `make check`)" % " ".join(missing))
        sys.exit(1)
    if not os.access(CAIRND, os.X_OK):
        print("Bail out! CAIRND=%s is not an executable" % CAIRND)
        sys.exit(1)


_build_info = None


def build_info():
    """The `build:` line of `cairnd -V` ("" if it cannot be had)."""
    global _build_info
    if _build_info is None:
        _build_info = ""
        try:
            p = run_cairnd(["-V"], timeout=20)
            for line in (p.stdout + p.stderr).splitlines():
                if line.startswith("build:"):
                    _build_info = line
        except Exception:
            pass
    return _build_info


def sanitizers():
    return "sanitizers=yes" in build_info()


def slow_factor():
    """Time limits are scaled by this: ASan/UBSan builds are slower."""
    return 3.0 if sanitizers() else 1.0


def version_h():
    """CAIRN_VERSION, CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR from the build
    tree's generated include/cairn/version.h."""
    path = os.path.join(BUILDDIR, "include", "cairn", "version.h")
    text = open(path).read()
    ver = re.search(r'#define\s+CAIRN_VERSION\s+"([^"]+)"', text).group(1)
    major = re.search(r"#define\s+CAIRN_ABI_MAJOR\s+(\d+)", text).group(1)
    minor = re.search(r"#define\s+CAIRN_ABI_MINOR\s+(\d+)", text).group(1)
    return ver, int(major), int(minor)


# ----------------------------------------------------------------------
# Running cairnd without a server
# ----------------------------------------------------------------------

def run_cairnd(args, timeout=30, cairnd=None, env=None):
    """Runs cairnd with args (for -t, -T, -M, -H, -V, --modinfo) and
    returns the CompletedProcess (text stdout and stderr)."""
    cmd = [cairnd or CAIRND] + list(args)
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout,
                              env=env, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        fail("%s did not exit within %s s" % (" ".join(cmd), timeout))


def output(p):
    """stdout and stderr of a CompletedProcess, for messages."""
    return "exit %s\n--- stdout:\n%s--- stderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)


# ----------------------------------------------------------------------
# HTTP responses
# ----------------------------------------------------------------------

class Response:
    """One HTTP response: status, reason, version, headers (a list of
    (name, value) in wire order), body (bytes), and for responses read
    from a raw socket the exact head bytes."""

    def __init__(self, version, status, reason, headers, body=b"",
                 head=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.head = head
        self.chunked = False

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has_token(self, name, token):
        """Whether a comma-separated header (Connection) has token."""
        token = token.lower()
        for v in self.header_all(name):
            for t in v.split(","):
                if t.strip().lower() == token:
                    return True
        return False

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<%s %s %s>" % (self.version, self.status, self.reason)

    def describe(self):
        lines = ["%s %s %s" % (self.version, self.status, self.reason)]
        lines += ["%s: %s" % kv for kv in self.headers]
        return "\n".join(lines) + "\n\n" + _clip(self.body, 600)


class ProtocolError(Exception):
    pass


class Conn:
    """A raw client connection with a receive buffer, for malformed
    requests, pipelining, slow clients and exact bytes on the wire."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more into buf; False at EOF.  Raises socket.timeout
        past the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take_line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ProtocolError("connection closed inside a line; "
                                    "received %r" % self.buf[:300])
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError("connection closed after %d of %d "
                                    "body bytes" % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, method="GET", timeout=None):
        """Reads one response.  The body is delimited the HTTP way:
        none for HEAD, 1xx, 204 and 304, chunked, Content-Length, or
        until the connection closes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                if self.buf:
                    raise ProtocolError("connection closed inside the "
                                        "response head: %r"
                                        % self.buf[:500])
                raise ProtocolError("connection closed before a response")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if m is None:
            raise ProtocolError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            if ":" not in line:
                raise ProtocolError("bad header line %r" % line)
            k, v = line.split(":", 1)
            if k != k.strip() or not k:
                raise ProtocolError("bad header name %r" % line)
            headers.append((k, v.strip()))
        resp = Response(m.group(1), int(m.group(2)), m.group(3) or "",
                        headers, b"", head + b"\r\n\r\n")
        status = resp.status
        if (method == "HEAD" or 100 <= status < 200 or status in (204, 304)):
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te is not None and "chunked" in te.lower():
            resp.chunked = True
            body = b""
            while True:
                size_line = self._take_line(deadline).decode("latin-1")
                size = int(size_line.split(";", 1)[0].strip(), 16)
                if size == 0:
                    while self._take_line(deadline) != b"":
                        pass
                    break
                body += self._take(size, deadline)
                if self._take(2, deadline) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
            resp.body = body
        elif cl is not None:
            resp.body = self._take(int(cl), deadline)
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, method, path, headers=None, body=None,
                version="HTTP/1.1", host="localhost", timeout=None):
        """Sends one well-formed request and reads its response."""
        self.send(build_request(method, path, headers, body, version,
                                host))
        return self.read_response(method, timeout)

    def read_until_close(self, timeout=None):
        """Everything until the peer closes (or the timeout: then
        socket.timeout is raised)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def closed_within(self, timeout):
        """Waits up to timeout for the peer to close.  Returns (closed,
        bytes received meanwhile)."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            data, self.buf = self.buf, b""
            return False, data
        data, self.buf = self.buf, b""
        return True, data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, path, headers=None, body=None,
                  version="HTTP/1.1", host="localhost"):
    """A well-formed request as bytes.  headers is a dict or a list of
    pairs; Host is added for HTTP/1.1 unless given (host=None: never),
    Content-Length when there is a body and no Transfer-Encoding."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    headers = list(headers or [])
    names = [k.lower() for k, _ in headers]
    if isinstance(body, str):
        body = body.encode()
    if host is not None and "host" not in names and version == "HTTP/1.1":
        headers.insert(0, ("Host", host))
    if (body is not None and "content-length" not in names
            and "transfer-encoding" not in names):
        headers.append(("Content-Length", str(len(body))))
    out = "%s %s %s\r\n" % (method, path, version)
    out += "".join("%s: %s\r\n" % kv for kv in headers)
    out += "\r\n"
    return out.encode("latin-1") + (body or b"")


def chunked(*parts):
    """A chunked body made of the given parts, with the final chunk."""
    out = b""
    for p in parts:
        if isinstance(p, str):
            p = p.encode()
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n\r\n"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------
# A running server
# ----------------------------------------------------------------------

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def children_of(pid):
    """Pids of the child processes of pid (from /proc)."""
    kids = []
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(path) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return sorted(set(kids))


def socket_owner(server_port, client_sock, pids):
    """Which of pids holds the server side of the loopback connection
    client_sock (matched through /proc/net/tcp inodes), or None."""
    lport = client_sock.getsockname()[1]
    want_local = "0100007F:%04X" % server_port
    want_remote = "0100007F:%04X" % lport
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == want_local and parts[2] == want_remote:
                inode = parts[9]
                break
    if inode is None:
        return None
    target = "socket:[%s]" % inode
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


def established_connections(pid, port):
    """How many established TCP connections to the loopback port the
    process pid holds (0 when it is gone)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return 0
    n = 0
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == local and parts[3] == "01" and parts[9] in inodes:
                n += 1
    return n


_live_servers = []
_problems = []


class ServerFailedToStart(TestFailure):
    pass


class Server:
    """A cairnd with its own temporary directory, config and port.

    conf is appended to a base config unless base=False:

        ModuleDir MODULEDIR TESTMODULEDIR
        Listen 127.0.0.1:PORT
        Workers 1
        User root               (when run as root: the tests' files are
                                 root's; a test may set another User)
        LoadModule M            (for each of modules, in order)
        DocumentRoot DOCROOT    (when static is among them)

    In conf (and in files written with write_conf) the placeholders
    @PORT@, @TMP@, @DOCROOT@, @MODULEDIR@ and @TESTMODULEDIR@ are
    replaced.  Extra command-line arguments (-D NAME) go in args.
    """

    def __init__(self, conf="", modules=("static",), base=True, workers=1,
                 args=(), cairnd=None, name="cairn.conf", env=None):
        self.tmp = tempfile.mkdtemp(prefix=TMP_PREFIX)
        self.docroot = os.path.join(self.tmp, "htdocs")
        os.mkdir(self.docroot)
        self.conf_path = os.path.join(self.tmp, name)
        self.log_path = os.path.join(self.tmp, "stderr.log")
        self.out_path = os.path.join(self.tmp, "stdout.log")
        self.extra = conf
        self.modules = list(modules)
        self.base = base
        self.workers = workers
        self.args = list(args)
        self.env = env
        self.cairnd = cairnd or CAIRND
        # A real port from the start: -t checks it too.
        self.port = free_port()
        self.proc = None
        self.exit_status = None
        self.checked_log = False
        self.keep = False
        self.expect_fatal = False
        _live_servers.append(self)
        for m in self.modules:
            if m in OPTIONAL_MODULES and module_path(m) is None:
                skip("mod_%s was not built" % m)
        self.write_config()

    # -- files ---------------------------------------------------------

    def subst(self, text):
        return (text.replace("@PORT@", str(self.port or 0))
                    .replace("@TMP@", self.tmp)
                    .replace("@DOCROOT@", self.docroot)
                    .replace("@MODULEDIR@", MODULEDIR)
                    .replace("@TESTMODULEDIR@", TESTMODULEDIR))

    def config_text(self):
        lines = []
        if self.base:
            lines.append("# written by cairntest")
            lines.append("ModuleDir %s %s" % (MODULEDIR, TESTMODULEDIR))
            lines.append("Listen 127.0.0.1:@PORT@")
            if self.workers is not None:
                lines.append("Workers %s" % self.workers)
            if os.geteuid() == 0:
                # Started as root without User, workers run as nobody,
                # which cannot read the test's private directory.
                lines.append("User root")
            for m in self.modules:
                lines.append("LoadModule %s" % m)
            if "static" in self.modules:
                lines.append("DocumentRoot @DOCROOT@")
        text = "\n".join(lines) + "\n" if lines else ""
        extra = self.extra
        if extra and not extra.endswith("\n"):
            extra += "\n"
        return self.subst(text + extra)

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())

    def line_of(self, needle, path=None, nth=1):
        """The 1-based line number of the nth line containing needle in
        the main config (or in path)."""
        with open(path or self.conf_path) as f:
            seen = 0
            for i, line in enumerate(f, 1):
                if needle in line:
                    seen += 1
                    if seen == nth:
                        return i
        fail("no line containing %r in %s" % (needle, path or self.conf_path))

    def path(self, rel):
        return os.path.join(self.tmp, rel)

    def write(self, rel, content, root=None, mode=None):
        """Writes content (str or bytes) to rel under the document root
        (or under root), creating directories.  Returns the full path."""
        p = os.path.join(root or self.docroot, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content.encode() if isinstance(content, str)
                    else content)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def write_tmp(self, rel, content):
        """Writes a file under the temporary directory (outside the
        document root)."""
        return self.write(rel, content, root=self.tmp)

    def write_conf(self, rel, content):
        """Writes a config file under the temporary directory, with the
        placeholders replaced."""
        return self.write(rel, self.subst(content), root=self.tmp)

    # -- config tests --------------------------------------------------

    def run(self, args, timeout=30):
        """Runs cairnd -f CONF args... (e.g. ["-t"], ["-T"], ["-M"])."""
        self.write_config()
        return run_cairnd(["-f", self.conf_path] + list(args),
                          timeout=timeout, cairnd=self.cairnd)

    # -- lifecycle -----------------------------------------------------

    def start(self, retries=5):
        """Starts cairnd and waits until it accepts connections.  A port
        taken meanwhile by someone else is retried with another."""
        check(self.proc is None, "server already started")
        last = ""
        for attempt in range(retries):
            if attempt:
                self.port = free_port()
            self.write_config()
            rc = self._spawn()
            if rc is None:
                return self
            last = self.log()
            if not re.search(r"in use|bind", last, re.IGNORECASE):
                break
        raise ServerFailedToStart(
            "cairnd exited with status %s before accepting connections; "
            "its stderr:\n%s" % (rc, _clip(last)))

    def _spawn(self):
        with open(self.log_path, "ab") as err, open(self.out_path,
                                                    "ab") as out:
            self.proc = subprocess.Popen(
                [self.cairnd, "-f", self.conf_path] + self.args,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                preexec_fn=_child_setup, start_new_session=True,
                cwd=self.tmp, env=self._env())
        deadline = time.monotonic() + START_TIMEOUT * slow_factor()
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                self.exit_status = rc
                return rc
            try:
                s = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=1)
                s.close()
                return None
            except OSError:
                time.sleep(0.02)
        self._kill()
        raise ServerFailedToStart("cairnd did not accept connections on "
                                  "port %d within %s s; its stderr:\n%s"
                                  % (self.port, START_TIMEOUT,
                                     _clip(self.log())))

    def start_fails(self, timeout=15):
        """Starts cairnd expecting it to refuse; returns (exit status,
        stderr).  Fails if it is still running after timeout."""
        self.expect_fatal = True
        self.port = free_port()
        self.write_config()
        with open(self.log_path, "wb") as err:
            p = subprocess.Popen([self.cairnd, "-f", self.conf_path]
                                 + self.args, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err,
                                 start_new_session=True, cwd=self.tmp,
                                 env=self._env())
        try:
            rc = p.wait(timeout * slow_factor())
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            fail("cairnd started with a config it should refuse; "
                 "its stderr:\n%s" % _clip(self.log()))
        return rc, self.log()

    def _env(self):
        if self.env is None:
            return None
        env = dict(os.environ)
        env.update(self.env)
        return env

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        """The master's pid (None when not running)."""
        return self.proc.pid if self.proc is not None else None

    def signal(self, sig):
        check(self.alive(), "cairnd is not running")
        os.kill(self.proc.pid, sig)

    def children(self):
        """Pids of the master's child processes (its workers)."""
        return children_of(self.pid) if self.alive() else []

    def wait_workers(self, n, timeout=5.0, exclude=()):
        """Waits until the master has n children none of which is in
        exclude; returns their pids."""
        deadline = time.monotonic() + timeout * slow_factor()
        while True:
            kids = [k for k in self.children() if k not in exclude]
            if len(kids) == n:
                return kids
            if time.monotonic() > deadline:
                fail("want %d worker processes (not %s), the master (pid "
                     "%s) has children %s; log tail:\n%s"
                     % (n, list(exclude), self.pid, self.children(),
                        self.log_tail()))
            time.sleep(0.05)

    def wait_exit(self, timeout):
        """Waits for the master to exit by itself; returns its status or
        None if it is still running after timeout."""
        if self.proc is None:
            return self.exit_status
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exit_status = rc
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None
        return rc

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s.  Returns the exit status
        (None when it was not running)."""
        if self.proc is None:
            return self.exit_status
        p, self.proc = self.proc, None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _problems.append("cairnd (pid %d) ignored SIGTERM for %s s "
                                 "and was killed" % (p.pid, STOP_TIMEOUT))
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        # Workers left behind by a master that died: they share its
        # process group.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.exit_status = p.returncode
        return p.returncode

    def _kill(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def cleanup(self):
        """Stops the server, records crashes and sanitizer reports from
        its log, and removes the temporary directory."""
        was_running = self.proc is not None
        rc = self.stop()
        if not self.checked_log:
            self.checked_log = True
            bad = self.bad_log_lines()
            if bad:
                _problems.append("server log of %s has crash or sanitizer "
                                 "reports:\n%s" % (self.conf_path,
                                                   "\n".join(bad[:40])))
            if rc is not None and rc < 0:
                _problems.append("cairnd died of signal %d (%s); log "
                                 "tail:\n%s" % (-rc, signal.Signals(-rc).name,
                                                self.log_tail()))
            elif was_running and rc not in (0, None):
                _problems.append("cairnd exited with status %s after "
                                 "SIGTERM (want 0); log tail:\n%s"
                                 % (rc, self.log_tail()))
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _live_servers:
            _live_servers.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- the log -------------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    def bad_log_lines(self):
        """Sanitizer reports, and crash reports unless the server was
        expected to die (start_fails)."""
        lines = self.log().splitlines()
        out = []
        for i, line in enumerate(lines):
            if SANITIZER_RE.search(line):
                out.extend(lines[i:i + 12])
            elif not self.expect_fatal and CRASH_RE.search(line):
                out.append(line)
        return out

    def wait_log(self, pattern, timeout=5.0):
        """Waits until a log line matches pattern; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log(), re.MULTILINE)
            if m:
                return m
            if time.monotonic() > deadline:
                fail("no log line matching /%s/ within %s s; log:\n%s"
                     % (pattern, timeout, _clip(self.log_tail(40))))
            time.sleep(0.05)

    # -- clients -------------------------------------------------------

    def conn(self, timeout=5.0):
        """A raw connection (Conn)."""
        return Conn(self.port, timeout=timeout)

    def raw(self, data, timeout=5.0):
        """Sends data on a fresh connection and returns every byte
        received until the server closes (or the timeout)."""
        with self.conn(timeout) as c:
            c.send(data)
            try:
                return c.read_until_close(timeout)
            except socket.timeout:
                data, c.buf = c.buf, b""
                return data

    def raw_response(self, data, method="GET", timeout=5.0):
        """Sends data on a fresh connection; returns (first response,
        closed afterwards within 2 s?)."""
        with self.conn(timeout) as c:
            c.send(data)
            r = c.read_response(method, timeout)
            closed, _ = c.closed_within(2.0 * slow_factor())
            return r, closed

    def request(self, method, path, body=None, headers=None, host=None,
                timeout=10.0):
        """One request through http.client; returns a Response."""
        hc = http.client.HTTPConnection("127.0.0.1", self.port,
                                        timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if host is not None:
                hdrs["Host"] = host
            hc.request(method, path, body=body, headers=hdrs)
            r = hc.getresponse()
            body = r.read()
            resp = Response("HTTP/%d.%d" % divmod(r.version, 10), r.status,
                            r.reason, list(r.getheaders()), body)
            resp.chunked = bool(r.chunked)
            return resp
        finally:
            hc.close()

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def head(self, path, headers=None, **kw):
        return self.request("HEAD", path, headers=headers, **kw)

    def curl(self, *args, timeout=30):
        """Runs curl with args (use url() for the server's URLs).
        Returns the CompletedProcess (bytes stdout and stderr)."""
        cmd = ["curl", "--silent", "--show-error", "--max-time",
               str(int(timeout))] + list(args)
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout + 5)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def assert_serving(self, path="/", status=None):
        """A good request still gets an answer (after bad input)."""
        check(self.alive(), "cairnd is no longer running; log tail:\n%s"
              % self.log_tail())
        try:
            r = self.get(path)
        except Exception as e:
            fail("server stopped answering after bad input: %s: %s; "
                 "log tail:\n%s" % (type(e).__name__, e, self.log_tail()))
        if status is not None:
            eq(r.status, status, "status of GET %s after bad input" % path)
        return r


def config_error(conf, expect, line_of=None, modules=("static",),
                 setup=None, base=True, start=True):
    """The config must fail `cairnd -t` with exit 1, a 'file:line:'
    message containing every string of expect (a string is one
    alternative, a tuple several), then 'configuration test failed';
    starting the server must fail with the same message on stderr.
    line_of: a text of the config whose line the message must cite."""
    s = Server(conf=conf, modules=modules, base=base)
    if setup:
        setup(s)
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    err = p.stderr

    def expect_all(text, where):
        for e in expect:
            alts = e if isinstance(e, tuple) else (e,)
            check(any(a in text for a in alts),
                  "%s does not contain %s:\n%s"
                  % (where, " or ".join(repr(a) for a in alts), text))

    expect_all(err, "stderr of -t")
    if line_of is not None:
        path, needle = (line_of if isinstance(line_of, tuple)
                        else (s.conf_path, line_of))
        where = "%s:%d:" % (path, s.line_of(needle, path))
        check(any(l.startswith(where) for l in err.splitlines()),
              "no message starting with %r:\n%s" % (where, err))
    else:
        matches(err, r"^\S+:\d+: ", "stderr of -t")
    lines = [l for l in err.splitlines() if l.strip()]
    eq(lines[-1], "%s: configuration test failed" % s.conf_path,
       "last line of -t")
    if start:
        rc, log = s.start_fails()
        check(rc != 0, "cairnd exited 0 with a bad config")
        expect_all(log, "stderr of cairnd at start-up")
    return s, err


# ----------------------------------------------------------------------
# Load while something happens to the server
# ----------------------------------------------------------------------

class Clients:
    """Client threads fetching /f.txt until stopped.  Keep-alive clients
    reuse one HTTPConnection and open a new one only after a response
    with "Connection: close"; the others open a connection per request.
    Every exception and every answer but 200 with the file's body is a
    failure."""

    def __init__(self, port, keepalive, fresh, body, path="/f.txt"):
        self.port = port
        self.path = path
        self.body = body
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.closes = 0             # "Connection: close" answers
        self.failures = []
        self.done_at = []           # completion times, for stalls
        self.threads = []
        for i in range(keepalive):
            self.threads.append(threading.Thread(
                target=self._keepalive, args=("keepalive-%d" % i,),
                daemon=True))
        for i in range(fresh):
            self.threads.append(threading.Thread(
                target=self._fresh, args=("fresh-%d" % i,), daemon=True))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        stuck = [t.name for t in self.threads if t.is_alive()]
        check(not stuck, "client threads still running 30 s after being "
              "stopped: %s" % stuck)

    def total(self):
        return self.ok + len(self.failures)

    def describe_failures(self, limit=20):
        lines = ["%s request %d at +%.3f s: %s" % f
                 for f in self.failures[:limit]]
        if len(self.failures) > limit:
            lines.append("... and %d more" % (len(self.failures) - limit))
        return "\n".join(lines)

    def max_stall(self):
        """The longest time without any request completing."""
        times = sorted(self.done_at)
        gaps = [b - a for a, b in zip(times, times[1:])]
        return max(gaps) if gaps else 0.0

    def _record(self, who, n, t0, error):
        with self.lock:
            if error is None:
                self.ok += 1
                self.done_at.append(time.monotonic())
            else:
                self.failures.append((who, n, time.monotonic() - t0, error))

    def _check(self, r, body):
        if r.status != 200:
            return "status %d %s" % (r.status, r.reason)
        if body != self.body:
            return "wrong body (%d bytes): %r" % (len(body), body[:80])
        return None

    def _keepalive(self, who):
        t0 = time.monotonic()
        hc = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stopping.is_set():
            n += 1
            try:
                hc.request("GET", self.path)
                r = hc.getresponse()
                body = r.read()
            except Exception as e:
                self._record(who, n, t0, "%s: %s" % (type(e).__name__, e))
                hc.close()
                hc = http.client.HTTPConnection("127.0.0.1", self.port,
                                                timeout=10)
                continue
            self._record(who, n, t0, self._check(r, body))
            if r.will_close:
                with self.lock:
                    self.closes += 1
                hc.close()
                hc = http.client.HTTPConnection("127.0.0.1", self.port,
                                                timeout=10)
        hc.close()

    def _fresh(self, who):
        t0 = time.monotonic()
        n = 0
        while not self.stopping.is_set():
            n += 1
            hc = http.client.HTTPConnection("127.0.0.1", self.port,
                                            timeout=10)
            try:
                hc.request("GET", self.path)
                r = hc.getresponse()
                body = r.read()
            except Exception as e:
                self._record(who, n, t0, "%s: %s" % (type(e).__name__, e))
                continue
            finally:
                hc.close()
            self._record(who, n, t0, self._check(r, body))



# ----------------------------------------------------------------------
# The runner
# ----------------------------------------------------------------------

_tests = []
_tmpdirs = []
_at_end = []


def at_end(fn):
    """Registers fn (a helper's cleanup: a database, a Prometheus) to run
    when the test file's tests are done, before its temporary files are
    checked; it runs at exit too, so it must bear running twice."""
    _at_end.append(fn)
    atexit.register(fn)
    return fn


def tmpdir(what):
    """A new private temporary directory, removed when the test file
    ends (after its servers are stopped)."""
    d = tempfile.mkdtemp(prefix=TMP_PREFIX + what + ".")
    _tmpdirs.append(d)
    return d


def _remove_tmpdirs():
    while _tmpdirs:
        shutil.rmtree(_tmpdirs.pop(), ignore_errors=True)


def _tmp_leaks():
    """Names of this process's temporary files still there; removed."""
    top = tempfile.gettempdir()
    try:
        left = sorted(n for n in os.listdir(top) if n.startswith(TMP_PREFIX))
    except OSError:
        return []
    for n in left:
        path = os.path.join(top, n)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
    return [os.path.join(top, n) for n in left]


def test(fn):
    """Registers a test function; they run in definition order."""
    _tests.append(fn)
    return fn


def _cleanup_all(final=True):
    for s in list(_live_servers):
        if s.keep and not final:
            continue
        try:
            s.cleanup()
        except Exception as e:
            _problems.append("cleanup of %s failed: %s" % (s.tmp, e))


atexit.register(_remove_tmpdirs)
atexit.register(_cleanup_all)


def _report_problems(label):
    global _problems
    n = 0
    for p in _problems:
        n += 1
        first, _, rest = p.partition("\n")
        print("not ok - %s: %s" % (label, first))
        for line in rest.splitlines():
            print("#   " + line)
    _problems = []
    return n


def _test_traceback(exc):
    """The frames of a traceback that are in the test files (where the
    test was when the exception came), as lines."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.dirname(os.path.abspath(f.filename)) == here
              and f.name != "main"]
    return "".join(traceback.format_list(frames[-4:])).splitlines()


def main():
    _check_environment()
    failed = 0
    skipped = 0
    passed = 0
    only = set(sys.argv[1:])
    print("1..%d" % len(_tests))
    for fn in _tests:
        name = fn.__name__
        if name.startswith("test_"):
            name = name[5:]
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
        except TestSkip as e:
            skipped += 1
            print("ok - %s # SKIP %s" % (name, e))
        except TestFailure as e:
            failed += 1
            first, _, rest = str(e).partition("\n")
            print("not ok - %s: %s" % (name, first))
            for line in rest.splitlines():
                print("#   " + line)
        except Exception as e:
            failed += 1
            print("not ok - %s: %s: %s" % (name, type(e).__name__, e))
            for line in _test_traceback(e):
                print("#   " + line)
        else:
            passed += 1
            print("ok - %s (%.2f s)" % (name, time.monotonic() - t0))
        finally:
            _cleanup_all(final=False)
        failed += _report_problems("server of " + name)
        sys.stdout.flush()
    _cleanup_all()
    failed += _report_problems("shared server")
    for fn in reversed(_at_end):
        try:
            fn()
        except Exception as e:
            _problems.append("cleanup %s failed: %s" % (fn.__name__, e))
    failed += _report_problems("cleanup")
    _remove_tmpdirs()
    leaks = _tmp_leaks()
    if leaks:
        failed += 1
        print("not ok - temporary files: left behind (now removed): %s"
              % " ".join(leaks))
    print("# %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        sys.exit(1)
    sys.exit(SKIP if skipped and not passed else 0)


_shared = {}


def shared(key, factory):
    """A server kept running across the tests of a file: created and
    started by factory() on first use, stopped when the file is done."""
    s = _shared.get(key)
    if s is None or s.tmp not in [x.tmp for x in _live_servers]:
        s = factory()
        s.keep = True
        if s.proc is None:
            s.start()
        _shared[key] = s
    return s
