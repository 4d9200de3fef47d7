"""Slow clients: 1,000 slowloris connections (a header trickled a byte a
second) and 500 slow-body POSTs (a large Content-Length, the body
trickled a byte a second) are held open while a normal client makes
2,000 requests: all of them succeed, with a p99 under a generous bound
(the real p50, p99 and max are printed).  The deadlines that cut such
clients off (RequestHeaderTimeout, RequestBodyTimeout) are set long here,
so that every slow connection stays for the whole run; test_timeouts.py
checks that they are cut.

tests/bench/slow_clients.py measures the same against nginx.
"""

import os
import resource
import time

from cairntest import (Server, check, eq, main, need_modules, slow_factor,
                       test)
from slowload import SlowClients, describe, percentile, timed_requests

need_modules("static", "test_echo")

BODY = b"a normal client's file\n" * 40
HEADERS = 1000
BODIES = 500
REQUESTS = 2000


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(want, hard) if hard != resource.RLIM_INFINITY
                            else want, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft


@test
def test_slow_clients_do_not_starve_others():
    limit = raise_nofile(HEADERS + BODIES + 512)
    check(limit >= HEADERS + BODIES + 100, "RLIMIT_NOFILE of the test is "
          "%d: too low for %d connections" % (limit, HEADERS + BODIES))
    s = Server(modules=["static", "test_echo"], workers=1, conf="""
MaxConnections 4000
RequestHeaderTimeout 300s
RequestBodyTimeout 300s
RequestBodyMinRate 0
KeepAliveTimeout 60s
""")
    s.write("f.txt", BODY)
    s.start()
    worker = s.wait_workers(1)[0]
    slow = SlowClients(s.port, headers=HEADERS, bodies=BODIES,
                       body_path="/echo/slow").start()
    try:
        up = slow.wait_connected(60 * slow_factor())
        eq(up, HEADERS + BODIES, "slow connections established")
        # Every slow client has sent its first bytes.
        time.sleep(2.0)
        lat, errors = timed_requests(s.port, "/f.txt", BODY, REQUESTS)
        held = slow.held()
        summary = slow.summary()
        fds = len(os.listdir("/proc/%d/fd" % worker))
    finally:
        slow.stop()
    print("# normal client: %s" % describe(lat))
    print("# %s" % summary)
    print("# the worker had %d descriptors meanwhile" % fds)
    check(not errors, "%d of %d requests failed: %s"
          % (len(errors), REQUESTS, errors[:10]))
    eq(len(lat), REQUESTS, "requests that succeeded")
    p99 = percentile(lat, 99)
    bound = 1.0 * slow_factor()
    check(p99 < bound, "p99 %.3f s, over %.1f s" % (p99, bound))
    check(held >= (HEADERS + BODIES) * 0.95, "only %d of %d slow "
          "connections were still held at the end: %s"
          % (held, HEADERS + BODIES, summary))
    check(fds > HEADERS + BODIES, "the worker held only %d descriptors: "
          "the slow connections were not accepted" % fds)
    eq(s.children(), [worker], "workers")
    eq(s.get("/f.txt").status, 200, "GET after the slow clients left")


if __name__ == "__main__":
    main()
