"""Error pages: every error of the core and of mod_static says why in one
sentence, as HTML, JSON or plain text by the client's Accept (with Vary:
Accept), escaped; and ErrorDocument (a local URL served by an internal
redirect with the original status, a file, a text, a URL), a looping
document falling back to the built-in page, and its configuration
errors."""

import json
import os

from cairntest import (Server, check, contains, eq, main, module_path,
                       need_modules, not_contains, shared, skip, test)

need_modules("static")

JSON = {"Accept": "application/json"}
LIMITS = """
LimitRequestBody 100
LimitRequestLine 200
LimitRequestFieldSize 100
"""


def srv():
    def make():
        s = Server(conf=LIMITS)
        s.write("a.txt", "alpha\n")
        os.makedirs(os.path.join(s.docroot, "noindex"))
        return s
    return shared("errors", make)


def raw(s, data):
    """Sends bytes as they are and reads one response."""
    with s.conn() as c:
        c.send(data)
        return c.read_response()


def raw_get(s, target, extra=b"", accept=None):
    head = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + extra
    if accept is not None:
        head += b"Accept: " + accept.encode() + b"\r\n"
    return raw(s, head + b"\r\n")


def html_says(r, status, title, why):
    eq(r.status, status, "status (body %r)" % r.body[:300])
    contains(r.header("Content-Type") or "", "text/html", "HTML page")
    body = r.text
    contains(body, "<h1>%d %s</h1>" % (status, title), "the heading")
    contains(body, "<p>%s</p>" % why, "the sentence")
    eq(r.header("Content-Length"), str(len(r.body)), "Content-Length")
    contains(r.header("Vary") or "", "Accept", "Vary: Accept")


def json_says(r, status, why):
    eq(r.status, status, "status (body %r)" % r.body[:300])
    eq(r.header("Content-Type"), "application/json", "JSON page")
    eq(json.loads(r.body.decode()), {"code": status, "message": why},
       "the JSON page")


# ----------------------------------------------------------------------
# The sentences, as HTML and as JSON
# ----------------------------------------------------------------------

@test
def test_core_errors_say_why():
    s = srv()
    cases = [
        # (request bytes without Accept, status, title, sentence)
        (b"GET /x#frag HTTP/1.1\r\nHost: x\r\n", 400, "Bad Request",
         "the request target carries a #fragment, which is for the "
         "client alone"),
        (b"GET /a/../../etc/passwd HTTP/1.1\r\nHost: x\r\n", 400,
         "Bad Request", "the path leaves the document root"),
        (b"GET /a.txt HTTP/1.1\r\n", 400, "Bad Request",
         "an HTTP/1.1 request must carry a Host header"),
        (b"GET /x.html HTTP/1.1\r\nHost: x\r\n", 404, "Not Found",
         "no file /x.html"),
        (b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\n", 405,
         "Method Not Allowed", "the method DELETE is not allowed on /a.txt"),
        (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n",
         413, "Content Too Large",
         "the body is over LimitRequestBody (100 bytes)"),
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: x\r\n", 414,
         "URI Too Long",
         "the request target is over LimitRequestLine (200 bytes)"),
        (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200
         + b"\r\n", 431, "Request Header Fields Too Large",
         "a header field is over LimitRequestFieldSize (100 bytes)"),
        (b"POST /a.txt HTTP/1.1\r\nHost: x\r\n"
         b"Transfer-Encoding: gzip\r\n", 501, "Not Implemented",
         "the body has a Transfer-Encoding other than chunked, which this "
         "server does not decode"),
        (b"FROB /a.txt HTTP/1.1\r\nHost: x\r\n", 400, "Bad Request",
         "the method FROB is not one this server knows"),
        (b"GET /a.txt HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
         b"Content-Length: 1\r\n", 417, "Expectation Failed",
         "the only expectation this server meets is 100-continue"),
    ]
    for head, status, title, why in cases:
        r = raw(s, head + b"\r\n")
        html_says(r, status, title, why)
        accept = b"Accept: application/json\r\n"
        # The Accept goes first, right after the request line.
        line, _, rest = head.partition(b"\r\n")
        r = raw(s, line + b"\r\n" + accept + rest + b"\r\n")
        # Refused inside the request line (414, FROB), the page still
        # follows the Accept line that came with it.
        json_says(r, status, why)


@test
def test_static_errors_say_why():
    s = srv()
    r = s.get("/noindex/")
    html_says(r, 403, "Forbidden",
              "the directory /noindex/ has no index file and is not listed")
    r = s.get("/.env", headers=JSON)
    json_says(r, 404, "no file /.env")
    r = s.get("/a.txt", headers={"Range": "bytes=100-"})
    html_says(r, 416, "Range Not Satisfiable",
              "the range starts past the end of the body (6 bytes long)")
    eq(r.header("Content-Range"), "bytes */6", "Content-Range of the 416")


@test
def test_negotiation():
    """JSON only when the client weighs application/json above
    text/html; text when it weighs text/plain above both; HTML for a
    browser, a wildcard, or no Accept."""
    s = srv()
    for accept, kind in (
            (None, "text/html"),
            ("*/*", "text/html"),
            ("text/html,application/xhtml+xml,application/xml;q=0.9,"
             "*/*;q=0.8", "text/html"),
            ("application/json", "application/json"),
            ("application/json, */*;q=0.1", "application/json"),
            ("text/html, application/json;q=0.9", "text/html"),
            ("application/json;q=0.5, text/html;q=0.4", "application/json"),
            ("application/json;q=0", "text/html"),
            ("text/plain", "text/plain"),
            ("image/png", "text/html")):
        r = s.get("/missing", headers={"Accept": accept} if accept else {})
        eq(r.status, 404, "status")
        check((r.header("Content-Type") or "").startswith(kind),
              "Accept %r: Content-Type %r, want %s"
              % (accept, r.header("Content-Type"), kind))
        contains(r.header("Vary") or "", "Accept", "Vary for %r" % accept)
    r = s.get("/missing", headers={"Accept": "text/plain"})
    eq(r.body, b"404 Not Found: no file /missing\n", "the text page")


@test
def test_reflected_path_escaped():
    s = srv()
    r = s.get("/%3Cscript%3Ealert(1)%3C/script%3E")
    eq(r.status, 404, "status")
    not_contains(r.text, "<script>", "no markup from the path")
    contains(r.text, "no file /&lt;script&gt;alert(1)&lt;/script&gt;",
             "the path, escaped")
    r = s.get("/%3Cscript%3E%22%5C", headers=JSON)
    json_says(r, 404, 'no file /<script>"\\')
    # A long path: the sentence is cut, the page stays small.
    r = shared("plain", Server).get("/" + "%C3%A9" * 150, headers=JSON)
    eq(r.status, 404, "long path: status")
    msg = json.loads(r.body.decode())["message"]
    check(len(msg.encode()) <= 200, "the sentence is cut: %d bytes"
          % len(msg.encode()))
    check(msg.startswith("no file /\u00e9"), "cut at a character: %r"
          % msg[:20])


# ----------------------------------------------------------------------
# ErrorDocument
# ----------------------------------------------------------------------

ERRDOC = """
LimitRequestBody 100
ErrorDocument 404 /errors/404.html
ErrorDocument 403 file:@TMP@/403.html
ErrorDocument 413 file:@TMP@/413.json
ErrorDocument 410 "Gone for good"
<Location /loop>
    ErrorDocument 404 /loop/also-missing.html
</Location>
<Location /elsewhere>
    ErrorDocument 404 https://example.com/nf?x=1
</Location>
<Location /plain>
    ErrorDocument 404 "<b>not here</b>"
</Location>
"""


def errdoc():
    def make():
        s = Server(conf=ERRDOC)
        s.write_tmp("403.html", "<p>custom forbidden</p>\n")
        s.write_tmp("413.json", '{"error": "too big"}\n')
        s.write("errors/404.html", "<p>custom not found</p>\n")
        s.write("a.txt", "alpha\n")
        os.makedirs(os.path.join(s.docroot, "noindex"))
        return s
    return shared("errdoc", make)


@test
def test_error_document_path():
    """A local URL is served internally (the client sees no redirect)
    with the original status; HEAD, POST and JSON clients get it too."""
    s = errdoc()
    r = s.get("/nope.html")
    eq(r.status, 404, "the original status")
    eq(r.body, b"<p>custom not found</p>\n", "the document")
    eq(r.header("Location"), None, "no redirect")
    eq(r.header("ETag"), None, "no validators of the document")
    eq(r.header("Last-Modified"), None, "no Last-Modified")
    r = s.get("/nope.html", headers=JSON)
    eq((r.status, r.body), (404, b"<p>custom not found</p>\n"),
       "the admin's page whatever the Accept")
    r = s.request("HEAD", "/nope.html")
    eq((r.status, r.body), (404, b""), "HEAD")
    eq(r.header("Content-Length"), "24", "HEAD: the document's length")
    # The document itself is served as usual.
    r = s.get("/errors/404.html")
    eq(r.status, 200, "the document's own URL")
    # Keep-alive goes on after an internal redirect.
    with s.conn() as c:
        r1 = c.request("GET", "/nope")
        r2 = c.request("GET", "/a.txt")
    eq((r1.status, r2.status, r2.body), (404, 200, b"alpha\n"),
       "two requests on one connection")


@test
def test_error_document_file_and_text():
    s = errdoc()
    r = s.get("/noindex/")
    eq(r.status, 403, "403 kept")
    eq(r.body, b"<p>custom forbidden</p>\n", "the file")
    contains(r.header("Content-Type") or "", "text/html", "type of .html")
    # A file also serves the errors answered before any hook (413).
    r = s.request("POST", "/a.txt", body=b"x" * 200)
    eq(r.status, 413, "413 kept")
    eq(r.body, b'{"error": "too big"}\n', "the .json file")
    eq(r.header("Content-Type"), "application/json", "type of .json")
    r = s.get("/plain/x")
    eq((r.status, r.body), (404, b"<b>not here</b>"), "a text, as written")
    r = s.get("/elsewhere/x")
    eq(r.status, 302, "a full URL redirects")
    eq(r.header("Location"), "https://example.com/nf?x=1", "Location")


@test
def test_error_document_loop_falls_back():
    """A document whose own answer is an error: the built-in page with
    the original status and sentence, and a warning in the error log."""
    s = errdoc()
    r = s.get("/loop/x.html")
    html_says(r, 404, "Not Found", "no file /loop/x.html")
    r = s.get("/loop/x.html", headers=JSON)
    json_says(r, 404, "no file /loop/x.html")
    contains(s.log(), "ErrorDocument 404: its URL /loop/also-missing.html "
             "was answered 404", "the warning")


@test
def test_error_document_logged_as_sent():
    """The access log records the request the client sent (its method,
    path and query) with the status it got, not the document's URL."""
    if module_path("log") is None:
        skip("mod_log was not built")
    s = Server(conf="ErrorDocument 404 /errors/404.html\n"
                    "AccessLog @TMP@/access.json json\n",
               modules=("static", "log"))
    s.write("errors/404.html", "<p>custom not found</p>\n")
    s.start()
    try:
        r = s.get("/gone?x=1")
        eq((r.status, r.body), (404, b"<p>custom not found</p>\n"),
           "the document")
        s.stop()
        with open(s.path("access.json")) as f:
            lines = [json.loads(x) for x in f if x.strip()]
    finally:
        s.cleanup()
    last = lines[-1]
    eq((last["method"], last["path"], last["query"], last["status"]),
       ("GET", "/gone", "x=1", 404), "the access log line")


@test
def test_error_document_config_errors():
    for line, msg in (
            ("ErrorDocument 200 /x", "'200' is not an error status"),
            ("ErrorDocument 4044 /x", "'4044' is not an error status"),
            ("ErrorDocument 404 file:@TMP@/absent.html",
             "cannot open"),
            ("ErrorDocument 404 /a/../../x", "is not a valid local URL")):
        s = Server(conf=line + "\n")
        try:
            rc, log = s.start_fails()
        finally:
            s.cleanup()
        check(rc != 0, "%s: refused" % line)
        contains(log, msg, "%s: the message" % line)
    s = Server(conf="ErrorDocument 404 file:@TMP@/big.html\n")
    s.write_tmp("big.html", "x" * (65 * 1024))
    try:
        rc, log = s.start_fails()
    finally:
        s.cleanup()
    contains(log, "larger than 65536 bytes", "a file too large")


if __name__ == "__main__":
    main()
