#!/usr/bin/env python3
"""Slow clients: the latency a normal client sees from cairn and from the
distribution's nginx while each holds the same slow connections.

    tests/bench/slow_clients.py [BUILDDIR]   (default: $CAIRN_BUILDDIR, else .)

For each server in turn (one worker each, pinned to CPU 0 when there are
two CPUs): SLOW_HEADERS (1000) connections trickling a header a byte a
second and SLOW_BODIES (500) POSTs trickling a large body, then
SLOW_REQUESTS (2000) keep-alive GETs of a 4 KiB file from one client
(a new connection every 100), for SLOW_ROUNDS (3) rounds.  Prints p50,
p99 and max per round and the medians.  The servers' deadlines for
headers and bodies are set long, so that the slow connections stay for
the whole round.  nginx answers the slow POSTs (a `return 200`
location) without waiting for their bodies, so it holds only the
slowloris connections: the "slow held" column shows it.  Not part of
`make check`.
"""

import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))

from slowload import SlowClients, percentile, timed_requests  # noqa: E402

NGINX = "/usr/sbin/nginx"


def die(msg):
    print("slow_clients.py: %s" % msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def pinned(cmd):
    if os.cpu_count() >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0"] + cmd
    return cmd


def main():
    builddir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                               os.environ.get("CAIRN_BUILDDIR", "."))
    cairnd = os.path.join(builddir, "core", "cairnd")
    moddir = os.path.join(builddir, "modules", ".libs")
    testmoddir = os.path.join(builddir, "tests", "modules", ".libs")
    headers = int(os.environ.get("SLOW_HEADERS", "1000"))
    bodies = int(os.environ.get("SLOW_BODIES", "500"))
    requests = int(os.environ.get("SLOW_REQUESTS", "2000"))
    rounds = int(os.environ.get("SLOW_ROUNDS", "3"))
    if not os.access(cairnd, os.X_OK):
        die("%s not found: build cairn first, or pass its build directory"
            % cairnd)
    if not os.access(NGINX, os.X_OK):
        die("%s not found: apt-get install nginx-light" % NGINX)

    want = headers + bodies + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    tmp = tempfile.mkdtemp(prefix="cairn-slow.")
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "htdocs")
    os.mkdir(root)
    body = os.urandom(3072).hex()[:4096].encode()
    with open(os.path.join(root, "4k.txt"), "wb") as f:
        f.write(body)
    # POST bodies: cairn's test echo module reads them; nginx's return
    # does not.
    cport, nport = free_port(), free_port()
    while nport == cport:
        nport = free_port()
    with open(os.path.join(tmp, "cairn.conf"), "w") as f:
        f.write("""ModuleDir %s %s
Listen 127.0.0.1:%d
Workers 1
LogLevel error
MaxConnections 8192
KeepAliveTimeout 300s
RequestHeaderTimeout 600s
RequestBodyTimeout 600s
RequestBodyMinRate 0
LoadModule static
LoadModule test_echo
DocumentRoot %s
""" % (moddir, testmoddir, cport, root))
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write("""daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile %d;
pid %s/nginx.pid;
error_log %s/nginx-error.log error;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000;
    client_header_timeout 600s;
    client_body_timeout 600s;
    client_body_temp_path %s/nginx-body;
    proxy_temp_path %s/nginx-proxy;
    fastcgi_temp_path %s/nginx-fastcgi;
    scgi_temp_path %s/nginx-scgi;
    uwsgi_temp_path %s/nginx-uwsgi;
    server {
        listen 127.0.0.1:%d;
        root %s;
        location /echo/ { client_max_body_size 10m; return 200 "ok\\n"; }
    }
}
""" % ((want,) + (tmp,) * 7 + (nport, root)))

    procs = []
    try:
        err = open(os.path.join(tmp, "cairn-stderr.log"), "wb")
        cp = subprocess.Popen(pinned([cairnd, "-f",
                                      os.path.join(tmp, "cairn.conf")]),
                              stderr=err, stdin=subprocess.DEVNULL)
        procs.append(cp)
        np_ = subprocess.Popen(pinned([NGINX, "-p", tmp, "-c",
                                       os.path.join(tmp, "nginx.conf"),
                                       "-e", os.path.join(tmp,
                                                          "nginx-error.log")]),
                               stdin=subprocess.DEVNULL)
        procs.append(np_)
        if not wait_port(cport, cp):
            die("cairn did not start:\n" + open(
                os.path.join(tmp, "cairn-stderr.log")).read())
        if not wait_port(nport, np_):
            die("nginx did not start")
        time.sleep(0.5)

        print("%d slowloris + %d slow-body connections, %d GETs of 4 KiB "
              "per round, %d rounds" % (headers, bodies, requests, rounds))
        print("%-6s %5s %9s %9s %9s %6s %s" % ("server", "round", "p50-ms",
                                              "p99-ms", "max-ms", "errors",
                                              "slow held"))
        results = {"cairn": [], "nginx": []}
        for rnd in range(1, rounds + 1):
            for name, port in (("cairn", cport), ("nginx", nport)):
                slow = SlowClients(port, headers=headers, bodies=bodies,
                                   body_path="/echo/slow").start()
                up = slow.wait_connected(120)
                time.sleep(2.0)
                lat, errors = timed_requests(port, "/4k.txt", body,
                                             requests)
                held = slow.held()
                slow.stop()
                results[name].append(lat)
                print("%-6s %5d %9.2f %9.2f %9.2f %6d %d/%d" % (
                    name, rnd, percentile(lat, 50) * 1000,
                    percentile(lat, 99) * 1000,
                    (max(lat) if lat else 0) * 1000, len(errors), held, up))
                time.sleep(1.0)
        print()
        print("medians over %d rounds:" % rounds)
        for name in ("cairn", "nginx"):
            p50 = statistics.median(percentile(x, 50) for x in results[name])
            p99 = statistics.median(percentile(x, 99) for x in results[name])
            mx = statistics.median(max(x) if x else 0 for x in results[name])
            print("%-6s p50 %.2f ms  p99 %.2f ms  max %.2f ms"
                  % (name, p50 * 1000, p99 * 1000, mx * 1000))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
