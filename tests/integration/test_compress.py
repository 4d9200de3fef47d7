"""mod_compress: gzip, br and zstd negotiated with Accept-Encoding, for
files, memory bodies and streamed bodies; what is never compressed; the
task pool for long bodies; configuration errors.

Every compressed body is decompressed with an independent decoder
(python's gzip module, the brotli and zstd command-line tools) and
compared byte for byte with what the handler sent."""

import gzip
import os
import shutil
import socket
import subprocess
import threading
import time

from cairntest import (Conn, Server, build_request, check, config_error, eq,
                       in_ci, main, need_modules, shared, skip, test)

need_modules("static", "compress", "metrics", "test_echo", "test_async")

TEXT = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n"
                % i for i in range(4000))
SHORT = b"short and plain\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 4000


def decode(coding, data):
    """data decoded from coding (None: as it is)."""
    if coding is None:
        return data
    if coding == "gzip":
        return gzip.decompress(data)
    tool = {"br": "brotli", "zstd": "zstd"}[coding]
    if shutil.which(tool) is None:
        check(not in_ci(), "%s(1) is missing, and CI=true" % tool)
        skip("%s(1) is missing" % tool)
    p = subprocess.run([tool, "-dc"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    eq(p.returncode, 0, "%s -dc: %s" % (tool, p.stderr))
    return p.stdout


def server(conf="Compress gzip br zstd\n"):
    s = Server(conf=conf, workers=1,
               modules=("static", "compress", "test_echo", "test_async"))
    s.write("text.txt", TEXT)
    s.write("short.txt", SHORT)
    s.write("img.png", PNG)
    s.write("page.html", b"<p>" + TEXT + b"</p>\n")
    return s


def srv():
    return shared("compress", server)


def get(s, path, accept=None, method="GET", headers=()):
    h = list(headers)
    if accept is not None:
        h.append(("Accept-Encoding", accept))
    with Conn(s.port) as c:
        return c.request(method, path, h)


def tokens(r, name):
    return [t.strip() for v in r.header_all(name) for t in v.split(",")]


@test
def static_each_algorithm():
    s = srv()
    plain = get(s, "/text.txt")
    etag = plain.header("etag")
    for coding in ("gzip", "br", "zstd"):
        r = get(s, "/text.txt", coding)
        eq(r.status, 200, coding)
        eq(r.header("content-encoding"), coding, "Content-Encoding")
        eq(decode(coding, r.body), TEXT, "%s body decoded" % coding)
        check(len(r.body) < len(TEXT) / 4, "%s: %d bytes for %d"
              % (coding, len(r.body), len(TEXT)))
        check("Accept-Encoding" in tokens(r, "vary"), "Vary: %s"
              % r.header_all("vary"))
        eq(r.header("content-length"), None, "no Content-Length")
        eq(r.header("transfer-encoding"), "chunked", "chunked")
        eq(r.header("accept-ranges"), None, "no Accept-Ranges")
        eq(r.header("etag"), "W/" + etag, "the ETag made weak")
        print("# %s: %d -> %d bytes" % (coding, len(TEXT), len(r.body)))
    eq(plain.header("content-encoding"), None, "no Accept-Encoding: plain")
    eq(plain.body, TEXT, "plain body")
    check("Accept-Encoding" in tokens(plain, "vary"),
          "Vary on the plain answer too")


@test
def negotiation():
    s = srv()
    cases = [
        ("gzip;q=0.5, br;q=0.9", "br"),
        ("br;q=0, gzip", "gzip"),
        ("zstd;q=0.1, gzip;q=0.2, br;q=0.15", "gzip"),
        ("gzip, br, zstd", "gzip"),          # a tie: Compress order
        ("*", "gzip"),
        ("*;q=0.5, zstd", "zstd"),
        ("GZIP", "gzip"),
        ("gzip;q=0", None),
        ("deflate, compress", None),
        ("identity", None),
        ("", None),
        ("gzip;q=2", None),                  # malformed: ignored
        ("gzip;q=0.5x, br", "br"),
    ]
    for accept, want in cases:
        r = get(s, "/text.txt", accept)
        eq(r.status, 200, accept)
        eq(r.header("content-encoding"), want, "for %r" % accept)
        eq(decode(want, r.body), TEXT, "body for %r" % accept)


@test
def server_preference():
    s = server("Compress zstd br gzip\n")
    s.start()
    try:
        eq(get(s, "/text.txt", "gzip, br, zstd").header("content-encoding"),
           "zstd", "the first of Compress on a tie")
        eq(get(s, "/text.txt", "gzip, br;q=0.9").header("content-encoding"),
           "gzip", "a higher q wins over the order")
    finally:
        s.stop()


@test
def not_compressed():
    s = srv()
    r = get(s, "/short.txt", "gzip")
    eq(r.header("content-encoding"), None, "shorter than CompressMinLength")
    eq(r.body, SHORT, "short body")
    eq(r.header("vary"), None, "no Vary when the length alone decides")
    r = get(s, "/img.png", "gzip")
    eq(r.header("content-encoding"), None, "image/png is not listed")
    eq(r.body, PNG, "png body")
    r = get(s, "/text.txt", "gzip", headers=[("Range", "bytes=5-14")])
    eq(r.status, 206, "a Range: its part")
    eq(r.header("content-encoding"), None, "the part is not compressed")
    eq(r.body, TEXT[5:15], "the part")
    r = get(s, "/nothing-here", "gzip")
    eq(r.status, 404, "404")
    eq(r.header("content-encoding"), None, "a short error page")


@test
def identity_refused_forces_short_bodies():
    s = srv()
    r = get(s, "/short.txt", "identity;q=0, gzip")
    eq(r.header("content-encoding"), "gzip", "identity;q=0")
    eq(decode("gzip", r.body), SHORT, "body")


@test
def head_has_the_same_headers():
    s = srv()
    g = get(s, "/text.txt", "br")
    h = get(s, "/text.txt", "br", method="HEAD")
    eq(h.status, 200, "HEAD")
    eq(h.body, b"", "no body")
    for name in ("content-encoding", "vary", "etag", "content-length"):
        eq(h.header(name), g.header(name), name)


@test
def conditional_on_the_weak_etag():
    s = srv()
    r = get(s, "/text.txt", "gzip")
    etag = r.header("etag")
    check(etag.startswith("W/"), "weak: %s" % etag)
    r2 = get(s, "/text.txt", "gzip", headers=[("If-None-Match", etag)])
    eq(r2.status, 304, "If-None-Match with the weak ETag")
    eq(r2.body, b"", "no body")


@test
def memory_bodies():
    s = srv()
    body = TEXT[:3000]
    for coding in ("gzip", "br", "zstd"):
        with Conn(s.port) as c:
            r = c.request("POST", "/echo/x", [("Accept-Encoding", coding)],
                          body=body)
        eq(r.status, 200, coding)
        eq(r.header("content-encoding"), coding, "Content-Encoding")
        eq(decode(coding, r.body), b"POST /echo/x\nquery=\n" + body,
           "echoed body through %s" % coding)


@test
def streamed_bodies():
    s = srv()
    want = b"".join(b"chunk %d\n" % i for i in range(1, 101))
    for coding in ("gzip", "br", "zstd"):
        r = get(s, "/stream?n=100&ms=0", coding)
        eq(r.status, 200, coding)
        eq(r.header("content-encoding"), coding, "streamed: compressed")
        eq(decode(coding, r.body), want, "streamed body through %s" % coding)


@test
def streamed_bodies_are_flushed():
    """Each write of a streaming handler leaves the compressor at once: a
    client can decode the first chunk long before the last is made."""
    s = srv()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    try:
        sock.sendall(build_request("GET", "/stream?n=3&ms=400",
                                   [("Accept-Encoding", "gzip")]))
        t0 = time.monotonic()
        d = __import__("zlib").decompressobj(16 + 15)
        raw = b""
        text = b""
        while b"chunk 1\n" not in text:
            data = sock.recv(65536)
            check(data, "closed before the first chunk")
            raw += data
            head, sep, rest = raw.partition(b"\r\n\r\n")
            if not sep:
                continue
            # De-chunk what is there, then decode what that gives.
            body, buf = b"", rest
            while True:
                line, sep, buf2 = buf.partition(b"\r\n")
                if not sep:
                    break
                n = int(line.split(b";")[0], 16)
                if len(buf2) < n + 2:
                    break
                body += buf2[:n]
                buf = buf2[n + 2:]
            d = __import__("zlib").decompressobj(16 + 15)
            text = d.decompress(body)
        elapsed = time.monotonic() - t0
        print("# first chunk decoded after %.0f ms (the last comes at "
              "1200 ms)" % (elapsed * 1000))
        check(elapsed < 1.0, "the first chunk took %.2f s" % elapsed)
    finally:
        sock.close()


@test
def long_bodies_on_the_task_pool():
    """A long body is compressed on the task pool: a small request sent
    while it compresses is answered before the long one's first byte."""
    s = server("Compress gzip br zstd\nCompressLevel gzip 9\n")
    # Large enough (10 MB) that gzip 9 takes well over 0.2 s even on an
    # idle machine.
    big = b"".join(b"%08d the quick brown fox %d\n" % (i, i * 7919 % 100003)
                   for i in range(300000))
    s.write("big.txt", big)
    s.start()
    try:
        for coding in ("gzip", "br", "zstd"):
            r = get(s, "/big.txt", coding)
            eq(decode(coding, r.body), big, "big body through %s" % coding)
        result = {}

        def fetch_big():
            t0 = time.monotonic()
            with Conn(s.port, timeout=60) as c:
                c.send(build_request("GET", "/big.txt",
                                     [("Accept-Encoding", "gzip")]))
                c.sock.recv(1)
                result["ttfb"] = time.monotonic() - t0

        t = threading.Thread(target=fetch_big)
        t.start()
        time.sleep(0.05)
        t0 = time.monotonic()
        r = get(s, "/text.txt", "gzip")
        small = time.monotonic() - t0
        t.join()
        eq(r.status, 200, "the small request")
        print("# gzip 9 of %d bytes: first byte after %.0f ms; a small gzip "
              "request meanwhile: %.1f ms" % (len(big), result["ttfb"] * 1000,
                                               small * 1000))
        check(result["ttfb"] > 0.2, "the long body compressed too fast to "
              "tell (%.3f s)" % result["ttfb"])
        check(small < result["ttfb"] / 2, "the small request waited: %.3f s "
              "(the long body's first byte: %.3f s)"
              % (small, result["ttfb"]))
        check("Aborted" not in s.log(), "crash:\n%s" % s.log_tail())
    finally:
        s.stop()


@test
def scoped_off():
    s = server("Compress gzip\n<Location /plain>\n    Compress off\n"
               "</Location>\n")
    s.write("plain/text.txt", TEXT)
    s.start()
    try:
        eq(get(s, "/text.txt", "gzip").header("content-encoding"), "gzip",
           "server scope")
        r = get(s, "/plain/text.txt", "gzip")
        eq(r.header("content-encoding"), None, "Compress off in a location")
        eq(r.body, TEXT, "plain body")
    finally:
        s.stop()


# -- precompressed files (CompressStatic, mod_static) ----------------------

def encode(coding, data):
    """data compressed with coding, by an independent encoder."""
    if coding == "gzip":
        return gzip.compress(data, 9)
    tool = {"br": "brotli", "zstd": "zstd"}[coding]
    if shutil.which(tool) is None:
        check(not in_ci(), "%s(1) is missing, and CI=true" % tool)
        skip("%s(1) is missing" % tool)
    p = subprocess.run([tool, "-c"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    eq(p.returncode, 0, "%s -c: %s" % (tool, p.stderr))
    return p.stdout


JS = b"".join(b"function f%d(x) { return x * %d; }\n" % (i, i)
              for i in range(2000))
# What the siblings hold differs from JS, so that the test sees which
# file was sent.
JS_GZ_TEXT = JS + b"// from app.js.gz\n"
JS_BR_TEXT = JS + b"// from app.js.br\n"


def precompressed_server(conf="CompressStatic on\n"):
    s = Server(conf="Compress gzip br zstd\n" + conf, workers=1,
               modules=("static", "compress"))
    now = time.time()
    files = {
        "app.js": (JS, now - 100),
        "app.js.gz": (encode("gzip", JS_GZ_TEXT), now - 50),
        "app.js.br": (encode("br", JS_BR_TEXT), now - 100),   # as new
        "old.css": (TEXT, now - 50),
        "old.css.gz": (encode("gzip", b"stale\n" * 100), now - 100),
        "dir/index.html": (TEXT, now - 100),
        "dir/index.html.gz": (encode("gzip", JS_GZ_TEXT), now - 100),
        "lonely.txt.gz": (encode("gzip", TEXT), now - 100),
    }
    for name, (data, mtime) in files.items():
        p = s.write(name, data)
        os.utime(p, (mtime, mtime))
    s.siblings = {k: v[0] for k, v in files.items()}
    return s


def check_precompressed(s):
    gz = s.siblings["app.js.gz"]
    br = s.siblings["app.js.br"]
    plain = get(s, "/app.js")
    eq(plain.status, 200, "identity")
    eq(plain.body, JS, "identity body")
    eq(plain.header("content-encoding"), None, "identity: no coding")
    eq(tokens(plain, "vary").count("Accept-Encoding"), 1,
       "Vary once on the identity answer: %s" % plain.header_all("vary"))
    ident_etag = plain.header("etag")

    r = get(s, "/app.js", "gzip")
    eq(r.status, 200, "gzip")
    eq(r.header("content-encoding"), "gzip", "Content-Encoding")
    eq(r.body, gz, "the .gz file, as it is (not compressed again)")
    eq(decode("gzip", r.body), JS_GZ_TEXT, "decoded")
    check("javascript" in r.header("content-type"),
          "the original's type: %r" % r.header("content-type"))
    eq(r.header("content-type"), plain.header("content-type"),
       "the original's type")
    eq(r.header("content-length"), str(len(gz)), "its own length")
    eq(tokens(r, "vary").count("Accept-Encoding"), 1,
       "Vary once: %s" % r.header_all("vary"))
    etag = r.header("etag")
    check(etag is not None and not etag.startswith("W/"),
          "a strong ETag: %r" % etag)
    check(etag != ident_etag, "an ETag of its own: %r, %r"
          % (etag, ident_etag))
    eq(r.header("accept-ranges"), "bytes", "ranges of the .gz")

    for accept, want, body in (("gzip, br", "br", br),
                               ("br;q=0.5, gzip", "gzip", gz),
                               ("*", "br", br),
                               ("gzip;q=0, br", "br", br),
                               ("identity", None, JS),
                               ("br;q=0, gzip;q=0", None, JS)):
        r = get(s, "/app.js", accept)
        eq(r.status, 200, accept)
        eq(r.header("content-encoding"), want, "for %r" % accept)
        eq(r.body, body, "body for %r" % accept)
    eq(decode("br", get(s, "/app.js", "br").body), JS_BR_TEXT, "br decoded")

    # No .zst: mod_compress compresses the original.
    r = get(s, "/app.js", "zstd")
    eq(r.header("content-encoding"), "zstd", "zstd made on the fly")
    eq(decode("zstd", r.body), JS, "zstd of the original")
    eq(tokens(r, "vary").count("Accept-Encoding"), 1,
       "Vary once: %s" % r.header_all("vary"))

    r = get(s, "/app.js", "gzip", method="HEAD")
    eq(r.status, 200, "HEAD")
    eq(r.header("content-encoding"), "gzip", "HEAD Content-Encoding")
    eq(r.header("content-length"), str(len(gz)), "HEAD Content-Length")
    eq(r.header("etag"), etag, "HEAD ETag")
    eq(r.body, b"", "HEAD body")

    r = get(s, "/app.js", "gzip", headers=[("If-None-Match", etag)])
    eq(r.status, 304, "If-None-Match with the .gz's ETag")
    eq(r.header("etag"), etag, "304 ETag")
    check("Accept-Encoding" in tokens(r, "vary"), "304 Vary")
    r = get(s, "/app.js", "gzip", headers=[("If-None-Match", ident_etag)])
    eq(r.status, 200, "the identity ETag does not match the .gz")
    r = get(s, "/app.js", None, headers=[("If-None-Match", etag)])
    eq(r.status, 200, "the .gz's ETag does not match the identity file")
    eq(r.body, JS, "identity body")

    # A range of the coded representation (RFC 9110 section 14.1.2).
    r = get(s, "/app.js", "gzip", headers=[("Range", "bytes=0-99")])
    eq(r.status, 206, "Range on the .gz")
    eq(r.header("content-encoding"), "gzip", "206 Content-Encoding")
    eq(r.header("content-range"), "bytes 0-99/%d" % len(gz),
       "Content-Range of the .gz")
    eq(r.body, gz[:100], "the first 100 bytes of the .gz")
    r = get(s, "/app.js", "gzip", headers=[("Range", "bytes=0-99"),
                                           ("If-Range", etag)])
    eq(r.status, 206, "If-Range with the .gz's ETag")
    r = get(s, "/app.js", "gzip", headers=[("Range", "bytes=0-99"),
                                           ("If-Range", ident_etag)])
    eq(r.status, 200, "If-Range with the identity ETag: the whole .gz")
    eq(r.body, gz, "whole .gz")

    # Older than the original: not served; the original is compressed.
    r = get(s, "/old.css", "gzip")
    eq(r.header("content-encoding"), "gzip", "old.css compressed")
    eq(decode("gzip", r.body), TEXT, "the original, not the stale .gz")
    # Without the original, a sibling alone is not served.
    eq(get(s, "/lonely.txt", "gzip").status, 404, "no original: 404")
    # The directory index.
    r = get(s, "/dir/", "gzip")
    eq(r.header("content-encoding"), "gzip", "index.html.gz")
    eq(r.body, s.siblings["dir/index.html.gz"], "the index's .gz")
    eq(r.header("content-type"), "text/html", "index type")


@test
def precompressed_files():
    s = precompressed_server()
    s.start()
    try:
        # Files just written are opened each time (not settled yet) ...
        check_precompressed(s)
        # ... and from mod_static's cache once they have settled.
        time.sleep(2.5)
        check_precompressed(s)
        check_precompressed(s)
    finally:
        s.stop()


@test
def precompressed_off_by_default():
    s = precompressed_server(conf="<Location /pre>\n    CompressStatic on\n"
                                  "</Location>\n")
    s.write("pre/app.js", JS)
    s.start()
    try:
        r = get(s, "/app.js", "gzip")
        eq(r.header("content-encoding"), "gzip", "compressed")
        eq(decode("gzip", r.body), JS, "the original, compressed: the .gz "
           "is not used without CompressStatic")
        r = get(s, "/pre/app.js", "gzip")
        eq(decode("gzip", r.body), JS, "no sibling: compressed")
    finally:
        s.stop()


# -- the cache of compressed files -----------------------------------------

METRICS = "<Location /metrics>\n    Metrics on\n    Compress off\n</Location>\n"


def metric(s, name):
    r = get(s, "/metrics")
    eq(r.status, 200, "/metrics")
    for line in r.text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def cache_server(conf=""):
    return Server(conf="Compress gzip br zstd\n" + METRICS + conf,
                  workers=1, modules=("static", "compress", "metrics"))


def json_body(n, tag):
    return (b'{"tag": "%s", "items": [' % tag + b",".join(
        b'{"id": %d, "name": "item %d", "ok": true}' % (i, i)
        for i in range(n)) + b"]}\n")


@test
def cache_hits_and_changes():
    s = cache_server()
    data = json_body(1000, b"first")
    path = s.write("data.json", data)
    s.start()
    try:
        hit = 'cairn_compress_cache_total{result="hit"}'
        miss = 'cairn_compress_cache_total{result="miss"}'
        # Not settled yet: compressed each time, not cached.
        r = get(s, "/data.json", "gzip")
        eq(decode("gzip", r.body), data, "fresh file")
        eq(metric(s, miss), 0, "a file just written is not looked up")
        time.sleep(2.5)
        for coding in ("gzip", "br", "zstd"):
            for i in range(3):
                r = get(s, "/data.json", coding)
                eq(r.status, 200, coding)
                eq(r.header("content-encoding"), coding, coding)
                eq(decode(coding, r.body), data, "%s body %d" % (coding, i))
                eq(r.header("transfer-encoding"), "chunked", "chunked")
                check(r.header("etag", ).startswith("W/"), "weak ETag")
        eq(metric(s, miss), 3, "one miss per coding")
        eq(metric(s, hit), 6, "then hits")
        check(metric(s, "cairn_compress_cache_bytes") > 0, "bytes held")
        eq(get(s, "/data.json", "gzip", method="HEAD").body, b"", "HEAD")
        eq(metric(s, hit), 6, "HEAD does not count")

        # Changed on disk, the same size: served fresh at once.
        data2 = data.replace(b"first", b"secnd")
        eq(len(data2), len(data), "same size")
        with open(path, "r+b") as f:
            f.write(data2)
        for coding in ("gzip", "br"):
            r = get(s, "/data.json", coding)
            eq(decode(coding, r.body), data2, "the changed file, %s" % coding)
        # And cached again once settled.
        time.sleep(2.5)
        m = metric(s, miss)
        h = metric(s, hit)
        for i in range(2):
            eq(decode("gzip", get(s, "/data.json", "gzip").body), data2,
               "changed file, cached")
        eq(metric(s, miss), m + 1, "one miss for the new version")
        eq(metric(s, hit), h + 1, "then a hit")

        # A range, a Compress off location, identity: the cache is not
        # involved.
        r = get(s, "/data.json", "gzip", headers=[("Range", "bytes=0-9")])
        eq(r.status, 206, "Range")
        eq(r.body, data2[:10], "Range untouched")
    finally:
        s.stop()


@test
def cache_bound():
    import random
    rnd = random.Random(16)
    s = cache_server("CompressCacheSize 128k\n")
    files = {}
    for i in range(14):
        # Random hex: about half the size gzipped (11 KiB of 22).
        files["f%02d.txt" % i] = bytes(
            "".join(rnd.choice("0123456789abcdef") for _ in range(22000)),
            "ascii")
        s.write("f%02d.txt" % i, files["f%02d.txt" % i])
    s.write("big.txt", TEXT)            # 16 KiB gzipped: too big to keep
    s.start()
    try:
        time.sleep(2.5)
        for rnd_pass in range(2):
            for name, data in files.items():
                r = get(s, "/" + name, "gzip")
                eq(decode("gzip", r.body), data, name)
                held = metric(s, "cairn_compress_cache_bytes")
                check(0 < held <= 128 * 1024, "held %d bytes" % held)
        check(metric(s, "cairn_compress_cache_evictions_total") > 0,
              "evictions")
        # The last file read is still there.
        h = metric(s, 'cairn_compress_cache_total{result="hit"}')
        eq(decode("gzip", get(s, "/f13.txt", "gzip").body), files["f13.txt"],
           "last file")
        eq(metric(s, 'cairn_compress_cache_total{result="hit"}'), h + 1,
           "a hit for the most recent file")
    finally:
        s.stop()


@test
def cache_off():
    s = cache_server("CompressCacheSize 0\n")
    data = json_body(500, b"off")
    s.write("data.json", data)
    s.start()
    try:
        time.sleep(2.5)
        for i in range(3):
            eq(decode("gzip", get(s, "/data.json", "gzip").body), data,
               "body %d" % i)
        eq(metric(s, 'cairn_compress_cache_total{result="miss"}'), 0,
           "no lookups")
        eq(metric(s, 'cairn_compress_cache_total{result="hit"}'), 0,
           "no hits")
    finally:
        s.stop()



@test
def config_errors():
    mods = ("static", "compress")
    config_error("Compress lzma\n", ['unknown algorithm "lzma"'],
                 line_of="Compress lzma", modules=mods)
    config_error("Compress gzip br gzip\n", ['"gzip" is named twice'],
                 line_of="Compress gzip br gzip", modules=mods)
    config_error("Compress gzip off\n", ['unknown algorithm "off"'],
                 modules=mods)
    config_error("CompressLevel gzip 12\n",
                 ['gzip levels go from 1 to 9, not "12"'], modules=mods)
    config_error("CompressLevel br x\n",
                 ['br levels go from 0 to 11, not "x"'], modules=mods)
    config_error("CompressLevel lz4 1\n", ['unknown algorithm "lz4"'],
                 modules=mods)
    config_error("CompressMinLength -1\n", ["'-1' is not a size"],
                 line_of="CompressMinLength -1", modules=mods)
    config_error("CompressCacheSize lots\n", ["'lots' is not a size"],
                 line_of="CompressCacheSize lots", modules=mods)
    config_error("<Location /x>\n    CompressCacheSize 1m\n</Location>\n",
                 ["CompressCacheSize"], line_of="CompressCacheSize 1m",
                 modules=mods)
    config_error("CompressStatic maybe\n", ["'maybe' is not on or off"],
                 line_of="CompressStatic maybe", modules=mods)


if __name__ == "__main__":
    main()
