"""mariadb: a private MariaDB server for integration tests.

    from mariadb import MariaDB, need_mariadb

    need_mariadb()                      # exit 77 (SKIP) without the binaries
    db = MariaDB()                      # nothing runs yet
    try:
        db.start()                      # install a data dir, start mariadbd
        db.create_app("app", "s3cret", "appdb")
        db.sql("CREATE TABLE t (id INT PRIMARY KEY)", database="appdb")
        db.kill(); db.start()           # a crash and a restart, same port
    finally:
        db.cleanup()                    # also run at exit, whatever happens

The server lives in its own temporary directory, listens on 127.0.0.1 at
a free port and on a socket in that directory, and never reads the
system's option files (--no-defaults).  Root logs in over the socket
without a password (for the tests' own checks through the `mariadb`
client); applications get a real user with a password.

Only the Python standard library is used.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    # The tests' temporary names (cairntest.py), also when used alone.
    from cairntest import TMP_PREFIX, at_end
except ImportError:
    TMP_PREFIX = "cairn-"
    at_end = atexit.register

SKIP = 77

INSTALL_DB = (shutil.which("mariadb-install-db")
              or "/usr/bin/mariadb-install-db")
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"

_live = []


def have_mariadb():
    return all(os.access(p, os.X_OK) for p in (INSTALL_DB, MARIADBD, CLIENT))


def need_mariadb():
    """Skips the whole test file when MariaDB is not installed, except in
    CI (CI=true), where a surface left untested is a failure."""
    if not have_mariadb():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            print("Bail out! MariaDB (mariadb-server, mariadb-client) is "
                  "not installed, and CI=true: install it "
                  "(scripts/install-deps.sh)")
            sys.exit(1)
        print("1..0 # SKIP MariaDB (mariadb-server, mariadb-client) is not "
              "installed")
        sys.exit(SKIP)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def quote(text):
    """text as an SQL string literal (for the tests' own statements)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDBError(Exception):
    pass


class MariaDB:
    """One private mariadbd: data directory, socket and port of its own."""

    def __init__(self, prefix="mariadb."):
        self.tmp = tempfile.mkdtemp(prefix=TMP_PREFIX + prefix)
        os.chmod(self.tmp, 0o755)
        self.datadir = os.path.join(self.tmp, "data")
        self.socket = os.path.join(self.tmp, "mysqld.sock")
        self.pidfile = os.path.join(self.tmp, "mysqld.pid")
        self.errlog = os.path.join(self.tmp, "mysqld.err")
        self.port = _free_port()
        self.proc = None
        self.installed = False
        _live.append(self)

    # -- lifecycle -----------------------------------------------------

    def _user_args(self):
        return ["--user=root"] if os.geteuid() == 0 else []

    def install(self):
        if self.installed:
            return
        # Its own tmpdir too: servers of parallel tests must not share
        # temporary tables in /tmp.
        cmd = [INSTALL_DB, "--no-defaults", "--datadir=" + self.datadir,
               "--auth-root-authentication-method=normal", "--skip-test-db",
               "--skip-name-resolve", "--tmpdir=" + self.tmp] \
            + self._user_args()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=180, text=True, errors="replace")
        if p.returncode != 0:
            raise MariaDBError("mariadb-install-db failed (exit %d):\n%s"
                               % (p.returncode, p.stdout[-3000:]))
        self.installed = True

    def start(self, timeout=60):
        """Starts mariadbd (installing the data dir the first time) and
        waits until it answers on its socket and its port."""
        self.install()
        if self.proc is not None and self.proc.poll() is None:
            return self
        cmd = [MARIADBD, "--no-defaults", "--datadir=" + self.datadir,
               "--socket=" + self.socket, "--port=%d" % self.port,
               "--bind-address=127.0.0.1", "--pid-file=" + self.pidfile,
               "--log-error=" + self.errlog, "--skip-name-resolve",
               "--tmpdir=" + self.tmp,
               "--max-connections=300", "--innodb-buffer-pool-size=64M",
               "--innodb-flush-log-at-trx-commit=2",
               "--skip-log-bin"] + self._user_args()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MariaDBError("mariadbd exited with %s; its log:\n%s"
                                   % (self.proc.returncode,
                                      self.log_tail()))
            if self._answers():
                return self
            time.sleep(0.1)
        raise MariaDBError("mariadbd did not answer within %s s; its log:"
                           "\n%s" % (timeout, self.log_tail()))

    def _answers(self):
        if not os.path.exists(self.socket):
            return False
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            s.close()
        except OSError:
            return False
        p = subprocess.run(self._client() + ["-e", "SELECT 1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        return p.returncode == 0

    def kill(self):
        """SIGKILL: the server vanishes like after a crash."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        for p in (self.socket, self.socket + ".lock", self.pidfile):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        try:
            self.stop(timeout=10)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self in _live:
                _live.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def log_tail(self, n=30):
        try:
            with open(self.errlog, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except FileNotFoundError:
            return "(no log)"

    # -- SQL through the command-line client ---------------------------

    def _client(self, user="root", password=None, database=None):
        cmd = [CLIENT, "--no-defaults", "--socket=" + self.socket,
               "--user=" + user, "--batch", "--raw", "--skip-column-names",
               "--default-character-set=utf8mb4"]
        if password is not None:
            cmd.append("--password=" + password)
        if database:
            cmd.append("--database=" + database)
        return cmd

    def sql(self, statements, database=None, user="root", password=None,
            timeout=30):
        """Runs statements with the `mariadb` client as root (over the
        socket); returns the rows as lists of strings (NULL as None)."""
        p = subprocess.run(self._client(user, password, database),
                           input=statements.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise MariaDBError("mariadb client failed: %s\nSQL: %s"
                               % (p.stderr.decode(errors="replace"),
                                  statements[:500]))
        rows = []
        for line in p.stdout.decode("utf-8", "replace").splitlines():
            rows.append([None if c == "NULL" else c
                         for c in line.split("\t")])
        return rows

    def value(self, statement, database=None):
        """The first column of the first row, or None."""
        rows = self.sql(statement, database=database)
        return rows[0][0] if rows and rows[0] else None

    def create_app(self, user, password, database):
        """A database and a user with a password allowed to use it from
        127.0.0.1 and over the socket."""
        self.sql("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4;"
                 % database)
        for host in ("127.0.0.1", "localhost"):
            self.sql("CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY "
                     "%s; GRANT ALL ON `%s`.* TO '%s'@'%s';"
                     % (user, host, quote(password), database, user, host))

    def connections(self, user):
        """How many server threads belong to user (SHOW PROCESSLIST)."""
        return int(self.value("SELECT COUNT(*) FROM "
                              "information_schema.PROCESSLIST WHERE "
                              "USER = '%s'" % user))

    def connection_ids(self, user):
        return sorted(int(r[0]) for r in self.sql(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '%s'"
            % user))


def _cleanup_all():
    for db in list(_live):
        try:
            db.cleanup()
        except Exception:
            pass


at_end(_cleanup_all)
