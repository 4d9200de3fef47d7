"""mod_static: files, index files, MIME types, redirects, validators and
304, ranges and 416, large files through sendfile, 405, dotfiles,
symlinks, and no escape from the document root."""

import email.utils
import os
import socket
import time
import urllib.parse

from cairntest import (Server, build_request, check, eq, fail, main,
                       need_modules, sha256, shared, test)

need_modules("static")

SECRET = b"TOP SECRET sentinel outside the document root\n"
ALPHA = b"abcdefghijklmnopqrstuvwxyz"
BIG_SIZE = 5 * 1024 * 1024
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00"
       b"\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")


def populate(s):
    s.write_tmp("secret.txt", SECRET)
    s.write_tmp("outside/secret.txt", SECRET)
    s.write("index.html", "<h1>index</h1>\n")
    s.write("a.txt", ALPHA)
    s.write("style.css", "body { color: red }\n")
    s.write("app.js", "console.log(1);\n")
    s.write("img.png", PNG)
    s.write("data.json", '{"a": 1}\n')
    s.write("blob.xyzzy", "unknown\n")
    s.write("noext", "no extension\n")
    s.write("dir/index.html", "<p>dir index</p>\n")
    s.write("dir/sub.txt", "sub\n")
    os.makedirs(os.path.join(s.docroot, "empty"))
    s.write(".env", "SECRET=dotfile\n")
    s.write(".hidden/file.txt", "hidden dir\n")
    s.write("a/.git/config", "[core]\n")
    s.write("a/b.txt", "a/b\n")
    s.write("with space.txt", "space\n")
    s.write("caf\u00e9.txt", "accent\n")
    os.symlink("a.txt", os.path.join(s.docroot, "link-in"))
    os.symlink("dir", os.path.join(s.docroot, "dirlink"))
    os.symlink("../secret.txt", os.path.join(s.docroot, "link-out"))
    os.symlink(s.path("secret.txt"), os.path.join(s.docroot,
                                                  "link-abs-out"))
    os.symlink("../outside", os.path.join(s.docroot, "dir-out"))
    big = bytearray(os.urandom(BIG_SIZE))
    s.write("big.bin", bytes(big))
    s.big_sha = sha256(big)
    s.big = bytes(big)
    return s


def make_server(conf=""):
    return populate(Server(conf=conf))


def srv():
    return shared("static", make_server)


def ctype(r):
    return (r.header("Content-Type") or "").split(";")[0].strip().lower()


@test
def test_file():
    s = srv()
    r = s.get("/a.txt")
    eq((r.status, r.body), (200, ALPHA), "GET /a.txt")
    eq(r.header("Content-Length"), "26", "Content-Length")
    eq(ctype(r), "text/plain", "Content-Type")
    check(r.header("ETag"), "no ETag on a 200")
    eq(r.header("Accept-Ranges"), "bytes", "Accept-Ranges")
    lm = r.header("Last-Modified")
    check(lm, "no Last-Modified on a 200")
    mtime = int(os.stat(os.path.join(s.docroot, "a.txt")).st_mtime)
    eq(int(email.utils.parsedate_to_datetime(lm).timestamp()), mtime,
       "Last-Modified %r as a time" % lm)
    r = s.get("/a.txt?v=1")
    eq((r.status, r.body), (200, ALPHA), "GET /a.txt?v=1")


@test
def test_index():
    s = srv()
    r = s.get("/")
    eq((r.status, r.body, ctype(r)), (200, b"<h1>index</h1>\n", "text/html"),
       "GET /")
    r = s.get("/dir/")
    eq((r.status, r.body), (200, b"<p>dir index</p>\n"), "GET /dir/")
    r = s.get("/empty/")
    eq(r.status, 403, "GET /empty/ (a directory without an index)")


@test
def test_directory_redirect():
    s = srv()
    for target, want_query in (("/dir", ""), ("/dir?x=1&y=2", "x=1&y=2")):
        r = s.get(target)
        eq(r.status, 301, "GET %s" % target)
        loc = r.header("Location")
        check(loc, "301 without Location")
        u = urllib.parse.urlsplit(loc)
        eq((u.path, u.query), ("/dir/", want_query),
           "Location %r for %s" % (loc, target))


@test
def test_directory_index_directive():
    s = make_server("DirectoryIndex home.htm index.html\n")
    s.write("d2/home.htm", "home\n")
    s.write("d2/index.html", "index\n")
    s.write("d3/index.html", "index3\n")
    s.start()
    eq(s.get("/d2/").body, b"home\n", "first DirectoryIndex name")
    eq(s.get("/d3/").body, b"index3\n", "second DirectoryIndex name")


@test
def test_mime_types():
    s = srv()
    for path, types in (("/index.html", ("text/html",)),
                        ("/style.css", ("text/css",)),
                        ("/app.js", ("text/javascript",
                                     "application/javascript")),
                        ("/img.png", ("image/png",)),
                        ("/data.json", ("application/json",)),
                        ("/blob.xyzzy", ("application/octet-stream",)),
                        ("/noext", ("application/octet-stream",))):
        r = s.get(path)
        eq(r.status, 200, "GET %s" % path)
        check(ctype(r) in types, "Content-Type of %s: %r, want %s"
              % (path, r.header("Content-Type"), " or ".join(types)))
    eq(s.get("/img.png").body, PNG, "PNG bytes")


@test
def test_names_needing_escapes():
    s = srv()
    eq(s.get("/with%20space.txt").body, b"space\n", "GET /with%20space.txt")
    eq(s.get("/caf%C3%A9.txt").body, b"accent\n", "GET /caf%C3%A9.txt")


@test
def test_not_found():
    s = srv()
    for path in ("/missing.txt", "/a.txt/", "/dir/missing/"):
        r = s.get(path)
        eq(r.status, 404, "GET %s" % path)
        eq(ctype(r), "text/html", "Content-Type of a 404")


@test
def test_if_none_match():
    s = srv()
    etag = s.get("/a.txt").header("ETag")
    check(etag, "GET /a.txt has no ETag")
    with s.conn() as c:
        c.send(build_request("GET", "/a.txt", {"If-None-Match": etag})
               + build_request("GET", "/a.txt"))
        r = c.read_response()
        eq(r.status, 304, "If-None-Match: %s" % etag)
        eq(r.body, b"", "304 body")
        eq(r.header("ETag"), etag, "ETag on the 304")
        # No stray body bytes before the next response.
        r = c.read_response()
        eq((r.status, r.body), (200, ALPHA), "response after the 304")
    r = s.get("/a.txt", {"If-None-Match": '"other", %s' % etag})
    eq(r.status, 304, "If-None-Match with a list")
    r = s.get("/a.txt", {"If-None-Match": "*"})
    eq(r.status, 304, "If-None-Match: *")
    r = s.get("/a.txt", {"If-None-Match": '"other"'})
    eq((r.status, r.body), (200, ALPHA), "If-None-Match: other etag")


@test
def test_if_modified_since():
    s = srv()
    lm = s.get("/a.txt").header("Last-Modified")
    check(lm, "GET /a.txt has no Last-Modified")
    r = s.get("/a.txt", {"If-Modified-Since": lm})
    eq((r.status, r.body), (304, b""), "If-Modified-Since: Last-Modified")
    r = s.get("/a.txt", {"If-Modified-Since":
                         "Sat, 01 Jan 2000 00:00:00 GMT"})
    eq((r.status, r.body), (200, ALPHA), "If-Modified-Since in 2000")
    r = s.get("/a.txt", {"If-Modified-Since": "yesterday"})
    eq((r.status, r.body), (200, ALPHA), "If-Modified-Since: garbage")
    # If-None-Match wins over If-Modified-Since.
    r = s.get("/a.txt", {"If-None-Match": '"other"',
                         "If-Modified-Since": lm})
    eq(r.status, 200, "non-matching If-None-Match with a matching "
       "If-Modified-Since")


@test
def test_ranges():
    s = srv()
    for spec, status, body, crange in (
            ("bytes=0-4", 206, ALPHA[0:5], "bytes 0-4/26"),
            ("bytes=-3", 206, ALPHA[-3:], "bytes 23-25/26"),
            ("bytes=5-", 206, ALPHA[5:], "bytes 5-25/26"),
            ("bytes=20-100", 206, ALPHA[20:], "bytes 20-25/26"),
            ("bytes=25-25", 206, ALPHA[25:], "bytes 25-25/26"),
            ("bytes=-100", 206, ALPHA, "bytes 0-25/26")):
        r = s.get("/a.txt", {"Range": spec})
        eq((r.status, r.body), (status, body), "Range: %s" % spec)
        eq(r.header("Content-Range"), crange, "Content-Range for %s" % spec)
        eq(r.header("Content-Length"), str(len(body)),
           "Content-Length for %s" % spec)
    for spec in ("bytes=26-", "bytes=100-200", "bytes=26-30"):
        r = s.get("/a.txt", {"Range": spec})
        eq(r.status, 416, "Range: %s" % spec)
        eq(r.header("Content-Range"), "bytes */26",
           "Content-Range of the 416 for %s" % spec)
    for spec in ("bytes=abc", "items=0-1", "bytes=5-2"):
        r = s.get("/a.txt", {"Range": spec})
        eq((r.status, r.body), (200, ALPHA), "invalid Range: %s" % spec)


@test
def test_if_range():
    s = srv()
    r = s.get("/a.txt")
    etag, lm = r.header("ETag"), r.header("Last-Modified")
    check(etag and lm, "no ETag or Last-Modified: %s" % r.headers)
    r = s.get("/a.txt", {"Range": "bytes=0-1", "If-Range": etag})
    eq((r.status, r.body), (206, b"ab"), "If-Range with the ETag")
    r = s.get("/a.txt", {"Range": "bytes=0-1", "If-Range": '"old"'})
    eq((r.status, r.body), (200, ALPHA), "If-Range with another ETag")
    r = s.get("/a.txt", {"Range": "bytes=0-1", "If-Range": lm})
    eq((r.status, r.body), (206, b"ab"), "If-Range with Last-Modified")


@test
def test_big_file():
    s = srv()
    r = s.get("/big.bin", timeout=60)
    eq(r.status, 200, "GET /big.bin")
    eq(r.header("Content-Length"), str(BIG_SIZE), "Content-Length")
    check(sha256(r.body) == s.big_sha, "5 MiB file corrupted: %d bytes, "
          "sha256 %s" % (len(r.body), sha256(r.body)))
    p = s.curl("-o", s.path("big.copy"), s.url("/big.bin"))
    eq(p.returncode, 0, "curl exit status: %s" % p.stderr)
    with open(s.path("big.copy"), "rb") as f:
        check(sha256(f.read()) == s.big_sha, "5 MiB file via curl corrupted")
    r = s.get("/big.bin", {"Range": "bytes=4000000-4000099"})
    eq((r.status, r.body), (206, s.big[4000000:4000100]),
       "a range in the middle of the big file")


@test
def test_big_file_slow_reader():
    # The client reads slowly: partial writes must resume where they
    # stopped, and a pipelined request must follow intact.
    s = srv()
    with s.conn(timeout=30) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(build_request("GET", "/big.bin")
               + build_request("GET", "/a.txt"))
        time.sleep(0.3)
        got = b""
        head_done = False
        while not head_done:
            got += c.sock.recv(4096)
            head_done = b"\r\n\r\n" in got
        head, body = got.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 200"), "head %r" % head[:100])
        while len(body) < BIG_SIZE:
            chunk = c.sock.recv(min(262144, BIG_SIZE - len(body)))
            if not chunk:
                fail("connection closed after %d bytes" % len(body))
            body += chunk
            time.sleep(0.002)
        check(sha256(body) == s.big_sha, "slowly read 5 MiB file corrupted")
        r = c.read_response()
        eq((r.status, r.body), (200, ALPHA), "pipelined request after it")


@test
def test_head():
    s = srv()
    with s.conn() as c:
        c.send(build_request("HEAD", "/a.txt")
               + build_request("HEAD", "/big.bin")
               + build_request("GET", "/a.txt"))
        r = c.read_response("HEAD")
        eq((r.status, r.header("Content-Length")), (200, "26"), "HEAD /a.txt")
        check(r.header("ETag"), "HEAD without ETag")
        r = c.read_response("HEAD")
        eq((r.status, r.header("Content-Length")), (200, str(BIG_SIZE)),
           "HEAD /big.bin")
        r = c.read_response()
        eq((r.status, r.body), (200, ALPHA), "GET after two HEADs")


@test
def test_method_not_allowed():
    s = srv()
    for method in ("POST", "PUT", "DELETE"):
        r = s.request(method, "/a.txt", body=b"x")
        eq(r.status, 405, "%s /a.txt" % method)
        allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
        eq(sorted(allow), ["GET", "HEAD"], "Allow header %r"
           % r.header("Allow"))
    s.assert_serving("/a.txt", 200)


@test
def test_dotfiles_hidden():
    s = srv()
    for path in ("/.env", "/a/.git/config", "/.hidden/file.txt", "/%2eenv",
                 "/a/%2Egit/config"):
        r = s.get(path)
        eq(r.status, 404, "GET %s" % path)
        check(b"SECRET=dotfile" not in r.body and b"[core]" not in r.body,
              "dotfile content in the answer to %s" % path)


@test
def test_dotfiles_on():
    s = make_server("StaticDotfiles on\n")
    s.start()
    eq(s.get("/.env").body, b"SECRET=dotfile\n", "GET /.env with "
       "StaticDotfiles on")


@test
def test_symlinks_inside():
    s = srv()
    r = s.get("/link-in")
    eq((r.status, r.body), (200, ALPHA), "symlink to a file inside")
    r = s.get("/dirlink/sub.txt")
    eq((r.status, r.body), (200, b"sub\n"), "symlinked directory inside")
    for path in ("/link-out", "/link-abs-out", "/dir-out/secret.txt"):
        r = s.get(path)
        eq(r.status, 404, "GET %s (symlink out of the root)" % path)
        check(SECRET not in r.body, "secret served for %s" % path)


@test
def test_symlinks_off():
    s = make_server("StaticSymlinks off\n")
    s.start()
    for path in ("/link-in", "/dirlink/sub.txt", "/link-out"):
        eq(s.get(path).status, 404, "GET %s with StaticSymlinks off" % path)
    eq(s.get("/a.txt").status, 200, "GET /a.txt with StaticSymlinks off")


@test
def test_symlinks_on():
    s = make_server("StaticSymlinks on\n")
    s.start()
    r = s.get("/link-out")
    eq((r.status, r.body), (200, SECRET), "GET /link-out with StaticSymlinks "
       "on")


TRAVERSALS = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/a/../../secret.txt",
    "/..%2fsecret.txt",
    "/a/..\\..\\secret.txt",
    "/..\\secret.txt",
    "/%2e%2e%5csecret.txt",
    "/%00",
    "/a%00.html",
    "/a.txt%00.html",
    "//../secret.txt",
    "/./../secret.txt",
    "/a/%2e%2e/%2e%2e/secret.txt",
    "/.%2e/secret.txt",
    "/%252e%252e/secret.txt",
    "/dir-out/../../secret.txt",
    "/link-out/",
    "http://h/../secret.txt",
    "http://h/%2e%2e/secret.txt",
    "../secret.txt",
    "secret.txt",
]


@test
def test_traversal():
    s = srv()
    problems = []
    for target in TRAVERSALS:
        data = ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                "\r\n\r\n" % target).encode("latin-1")
        got = s.raw(data)
        status = got[9:12]
        if SECRET in got:
            problems.append("%s: THE SECRET WAS SERVED" % target)
        elif status not in (b"400", b"404"):
            problems.append("%s: got %r, want 400 or 404"
                            % (target, got[:80]))
        s.assert_serving("/a.txt", 200)
    if problems:
        fail("\n".join(problems))


@test
def test_file_changed_on_disk():
    s = srv()
    p = os.path.join(s.docroot, "changing.txt")
    s.write("changing.txt", "version one\n")
    st = os.stat(p)
    r1 = s.get("/changing.txt")
    eq(r1.body, b"version one\n", "first version")
    s.write("changing.txt", "version two, longer\n")
    os.utime(p, (st.st_atime + 10, st.st_mtime + 10))
    r2 = s.get("/changing.txt")
    eq(r2.body, b"version two, longer\n", "second version")
    check(r2.header("ETag") != r1.header("ETag"),
          "ETag unchanged after the file changed: %s" % r2.header("ETag"))
    # Same size, new time.
    s.write("changing.txt", "version THREE, long\n")
    os.utime(p, (st.st_atime + 20, st.st_mtime + 20))
    r3 = s.get("/changing.txt")
    eq(r3.body, b"version THREE, long\n", "third version")
    check(r3.header("ETag") != r2.header("ETag"),
          "ETag unchanged after a same-size change")
    r = s.get("/changing.txt", {"If-None-Match": r1.header("ETag")})
    eq(r.status, 200, "If-None-Match with the old ETag")
    os.unlink(p)
    eq(s.get("/changing.txt").status, 404, "after the file was removed")


if __name__ == "__main__":
    main()
