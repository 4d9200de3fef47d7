#!/usr/bin/env python3
"""The master's memory over many good reloads.

Starts cairnd from the build tree with a module-heavy configuration
(static, log, metrics, auth, mysql with a <Database>, rest with two
resources), sends SIGHUP N times (default 500), each time waiting for
"reloaded: generation K", and prints the master's VmRSS every 50 reloads
and the growth after the first 50 (the warm-up) as a ratio.

    tests/bench/reload_rss.py [N]

Run from the top of a built tree.  Not part of `make check`: it only
measures.  The database need not exist (workers log that they cannot
reach it; the master never connects).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CAIRND = os.path.join(TOP, "core", "cairnd")
MODULEDIR = os.path.join(TOP, "modules", ".libs")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    tmp = tempfile.mkdtemp(prefix="cairn-reload-rss.")
    port = free_port()
    with open(os.path.join(tmp, "db.pass"), "w") as f:
        f.write("secret\n")
    os.chmod(os.path.join(tmp, "db.pass"), 0o600)
    with open(os.path.join(tmp, "htpasswd"), "w") as f:
        f.write("ann:$6$saltsalt$3Yq1lM6kDq8c8jP3Cq9Yh0D4e0Ygk1Kp0c8m6a9Q"
                "8wB2f7kU6pBv2Fz6QHq3mWc9qK5yXo2W1sA0bE7rT1d0u.\n")
    conf = os.path.join(tmp, "cairn.conf")
    with open(conf, "w") as f:
        f.write("""
ModuleDir {moddir}
Listen 127.0.0.1:{port}
Workers 2
LoadModule static
LoadModule log
LoadModule metrics
LoadModule auth
LoadModule mysql
LoadModule rest
DocumentRoot {tmp}
AccessLog {tmp}/access.log json
<Location /metrics>
    Metrics on
</Location>
<Location /private>
    AuthType Basic
    AuthName private
    AuthUserFile {tmp}/htpasswd
    Require valid-user
</Location>
<Database main>
    Host 127.0.0.1
    Port 9
    User app
    PasswordFile {tmp}/db.pass
    Name app
    ConnectTimeout 1s
</Database>
<Resource /users>
    Database main
    Table users
    Key id
    Field id int
    Field name string required max=100
    Field price decimal
    RestIdempotency on
</Resource>
<Resource /notes>
    Database main
    Table notes
    Key id
    Field id bigint
    Field body text max=1000
</Resource>
RestOpenAPI /openapi.json
""".format(moddir=MODULEDIR, port=port, tmp=tmp))
    log = os.path.join(tmp, "error.log")
    with open(log, "wb") as err:
        p = subprocess.Popen([CAIRND, "-f", conf], stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True)
    try:
        for _ in range(200):
            if "listening on" in open(log).read():
                break
            time.sleep(0.05)
        samples = []
        t0 = time.monotonic()
        for i in range(1, n + 1):
            p.send_signal(signal.SIGHUP)
            want = "reloaded: generation %d " % (i + 1)
            deadline = time.monotonic() + 30
            while want not in open(log).read():
                if time.monotonic() > deadline:
                    sys.exit("reload %d did not happen; log tail:\n%s"
                             % (i, open(log).read()[-2000:]))
                time.sleep(0.005)
            if i % 50 == 0:
                samples.append((i, rss_kb(p.pid)))
                print("after %4d reloads: master VmRSS %6d kB" % samples[-1],
                      flush=True)
        took = time.monotonic() - t0
        warm = samples[0][1]
        last = samples[-1][1]
        print("%d reloads in %.1f s; master RSS after the warm-up (50) "
              "%d kB, at the end %d kB: ratio %.3f"
              % (n, took, warm, last, last / warm))
        refused = len(re.findall("reload refused", open(log).read()))
        if refused:
            print("warning: %d reloads were refused" % refused)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
