"""mod_compress: gzip, br and zstd negotiated with Accept-Encoding, for
files, memory bodies and streamed bodies; what is never compressed; the
task pool for long bodies; configuration errors.

Every compressed body is decompressed with an independent decoder
(python's gzip module, the brotli and zstd command-line tools) and
compared byte for byte with what the handler sent."""

import gzip
import shutil
import socket
import subprocess
import threading
import time

from cairntest import (Conn, Server, build_request, check, config_error, eq,
                       in_ci, main, need_modules, shared, skip, test)

need_modules("static", "compress", "test_echo", "test_async")

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
    big = b"".join(b"%08d the quick brown fox %d\n" % (i, i * 7919 % 100003)
                   for i in range(100000))
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


if __name__ == "__main__":
    main()
