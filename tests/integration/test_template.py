"""mod_template: pages compared byte for byte, the request data, a
template edited or broken on disk while the server runs, cairnd -t on a
broken template, the limits, names that climb out of TemplateDir, and
REST resources answered as HTML through the ("render", "template")
provider."""

import json
import os
import threading
import time

from cairntest import (Server, check, contains, eq, main, matches,
                       need_modules, not_contains, output, test)

need_modules("template")

BASE = """<!DOCTYPE html>
<html><head><title>{% block title %}{{ site }}{% end %}</title></head>
<body>
{%- block body %}{% end %}
</body></html>
"""

PAGE = """{% extends "base.tpl" %}
{% block title %}{{ title }} - {{ site }}{% end %}
{% block body %}
<h1>{{ title | upper }}</h1>
<ul>
{%- for item in items %}
<li class="{{ loop.index }}">{{ item.name }}{% if item.tags %} [{{ item.tags | join(", ") }}]{% end %}</li>
{%- else %}
<li>none</li>
{%- end %}
</ul>
{% include "parts/footer.tpl" %}
{%- end %}
"""

FOOTER = "<footer>{{ site }} &middot; {{ request.path }}</footer>"

DATA = {
    "site": "Cairn & Co",
    "title": "Things",
    "items": [{"name": "<b>one</b>", "tags": ["a", "b"]},
              {"name": "two", "tags": []}],
}

PAGE_BYTES = (
    b"<!DOCTYPE html>\n"
    b"<html><head><title>Things - Cairn &amp; Co</title></head>\n"
    b"<body>\n"
    b"<h1>THINGS</h1>\n"
    b"<ul>\n"
    b"<li class=\"1\">&lt;b&gt;one&lt;/b&gt; [a, b]</li>\n"
    b"<li class=\"2\">two</li>\n"
    b"</ul>\n"
    b"<footer>Cairn &amp; Co &middot; /things</footer>\n"
    b"</body></html>\n")

REQ = """method={{ request.method }} path={{ request.path }}
q={{ request.query.q }} n={{ request.query.n | default("-") }}
ua={{ request.headers["x-test"] }} user={{ user | default("nobody") }}
server={{ server.name }} {{ server.version | length > 0 }}
"""

CONF = """
TemplateDir @TMP@/templates
<Location /things>
    Template page.tpl
    TemplateData @TMP@/things.json
</Location>
<Location /req>
    Template req
</Location>
<Location /other>
    Template other.tpl
</Location>
"""


def write_templates(s):
    s.write_tmp("templates/base.tpl", BASE)
    s.write_tmp("templates/page.tpl", PAGE)
    s.write_tmp("templates/parts/footer.tpl", FOOTER)
    s.write_tmp("templates/req.tpl", REQ)
    s.write_tmp("templates/other.tpl", "other page\n")
    s.write_tmp("things.json", json.dumps(DATA))


def server(conf=CONF, start=True):
    s = Server(conf=conf, modules=("template",))
    write_templates(s)
    if start:
        s.start()
    return s


def touch_later(path, content):
    """Rewrites path so that the cache sees it: a second later (it looks
    at most once a second) with another size or time."""
    time.sleep(1.1)
    with open(path, "w") as f:
        f.write(content)
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 1))


def ctype(r):
    return r.header("Content-Type") or ""


@test
def test_page_bytes():
    with server() as s:
        r = s.get("/things")
        eq(r.status, 200, "status (%r)" % r.body[:300])
        eq(ctype(r), "text/html; charset=utf-8", "Content-Type")
        eq(r.body, PAGE_BYTES, "body")
        eq(r.header("Content-Length"), str(len(PAGE_BYTES)),
           "Content-Length")
        r = s.head("/things")
        eq((r.status, r.body), (200, b""), "HEAD")
        r = s.request("POST", "/things", body=b"x")
        eq(r.status, 405, "POST")
        contains(r.header("Allow") or "", "GET", "Allow")
        # A location without Template is not a page.
        eq(s.get("/nothing").status, 404, "no page")


@test
def test_request_data():
    with server() as s:
        r = s.get("/req?q=a%20b%3C&n=2&q=second",
                  headers={"X-Test": "<v>"})
        eq(r.status, 200, "status (%r)" % r.body[:300])
        eq(r.body.decode(),
           "method=GET path=/req\n"
           "q=a b&lt; n=2\n"
           "ua=&lt;v&gt; user=nobody\n"
           "server=cairn true\n", "body")


@test
def test_edited_on_disk():
    with server() as s:
        eq(s.get("/other").body, b"other page\n", "first version")
        touch_later(s.path("templates/other.tpl"),
                    "{{ \"edited\" | upper }} page\n")
        eq(s.get("/other").body, b"EDITED page\n", "edited version")
        # An included file too, and the data file.
        touch_later(s.path("templates/parts/footer.tpl"), "<f>new</f>")
        data = dict(DATA, title="Renamed")
        with open(s.path("things.json"), "w") as f:
            f.write(json.dumps(data))
        r = s.get("/things")
        contains(r.text, "<f>new</f>", "edited include")
        contains(r.text, "<h1>RENAMED</h1>", "edited data")


@test
def test_broken_on_disk():
    with server() as s:
        eq(s.get("/other").status, 200, "before")
        path = s.path("templates/other.tpl")
        touch_later(path, "line one\n  {% for x in %}\n")
        r = s.get("/other")
        eq(r.status, 500, "broken template")
        not_contains(r.text, "line one", "body of the 500")
        s.wait_log(r"\[error\].*%s:2:15: expected an expression, "
                   r"found '%%\}'" % path.replace(".", r"\."))
        # The other pages keep working, and so does one that includes a
        # file broken later.
        eq(s.get("/things").status, 200, "another page")
        eq(s.get("/req").status, 200, "a third page")
        touch_later(s.path("templates/parts/footer.tpl"), "{{ x | no }}")
        eq(s.get("/things").status, 500, "broken include")
        s.wait_log(r"footer\.tpl:1:8: unknown filter 'no'")
        # Mended: back to 200.
        touch_later(path, "mended\n")
        eq(s.get("/other").body, b"mended\n", "mended")
        check(s.proc.poll() is None, "the server died")


BIG_CONF = CONF + """
LogLevel debug
<Location /big>
    Template big.tpl
    TemplateData @TMP@/big.json
</Location>
<Location /late>
    Template late_page.tpl
</Location>
"""


def big_data(tag, n=4000):
    return json.dumps({"tag": tag,
                       "rows": [{"id": i, "name": "row %d" % i}
                                for i in range(n)]})


def big_page(tag, rows):
    return ("<p>%s</p>" % tag
            + "".join("<i>%d:row %d</i>" % (i, i) for i in range(rows)))


@test
def test_large_files_off_the_loop():
    """Files over 64 KiB are read and compiled on the task pool: pages
    that need one with no version yet wait for it (many at once), an
    include first seen while rendering makes the page render again, a
    changed file replaces the version before without a failed request,
    and a broken one is a 500 with its position."""
    filler = "<!-- %s -->\n" % ("x" * 80)
    big_tpl = (filler * 900 + "<p>{{ tag }}</p>"
               "{% for r in rows %}<i>{{ r.id }}:{{ r.name }}</i>{% end %}")
    late = filler * 900 + "late"
    s = server(conf=BIG_CONF, start=False)
    s.write_tmp("templates/late_page.tpl", "[{% include \"late.tpl\" %}]")
    s.write_tmp("templates/big.tpl", big_tpl)
    s.write_tmp("big.json", big_data("one"))
    s.start()
    try:
        want = (filler * 900 + big_page("one", 4000)).encode()
        eq(s.get("/big").body, want, "the page compiled at start")

        # The data file broken, then mended: the workers have no version
        # of it, and 20 requests at once wait for the one job.
        touch_later(s.path("big.json"), "{broken")
        eq(s.get("/big").status, 500, "broken data file")
        touch_later(s.path("big.json"), big_data("two", 5000))
        check(os.path.getsize(s.path("big.json")) > 65536,
              "the data file is over the inline size")
        results = []

        def fetch():
            r = s.get("/big", timeout=30)
            results.append((r.status, r.body))

        threads = [threading.Thread(target=fetch) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        want = (filler * 900 + big_page("two", 5000)).encode()
        eq(len(results), 20, "answers")
        eq(sorted(set(st for st, _ in results)), [200],
           "statuses of 20 concurrent requests")
        check(all(b == want for _, b in results), "every body is the page")
        s.wait_log(r"\[debug\].*waiting for %s, being loaded"
                   % s.path("big.json").replace(".", r"\."))

        # An include over 64 KiB that did not exist at start: the render
        # finds it loading, and the page renders again once it is.
        eq(s.get("/late").status, 500, "missing include")
        touch_later(s.path("templates/late.tpl"), late)
        r = s.get("/late", timeout=30)
        eq(r.status, 200, "page with a large new include (%r)" % r.body[:80])
        eq(r.body, ("[" + late + "]").encode(), "the include")
        s.wait_log(r"\[debug\].*waiting for %s, being loaded"
                   % s.path("templates/late.tpl").replace(".", r"\."))

        # A changed data file: the version before until the new one is
        # parsed, never an error.
        touch_later(s.path("big.json"), big_data("three", 4500))
        seen = set()
        deadline = time.time() + 10
        while time.time() < deadline:
            r = s.get("/big", timeout=30)
            eq(r.status, 200, "while the data file is reloaded")
            tag = r.body[len(filler) * 900:].split(b"</p>")[0]
            seen.add(tag)
            if tag == b"<p>three":
                break
            time.sleep(0.05)
        check(seen <= {b"<p>two", b"<p>three"}, "pages seen: %r" % seen)
        eq(r.body, (filler * 900 + big_page("three", 4500)).encode(),
           "page over the new data")

        # A large template broken on disk.
        touch_later(s.path("templates/big.tpl"), filler * 900 + "{% if %}")
        deadline = time.time() + 10
        while time.time() < deadline:
            r = s.get("/big", timeout=30)
            if r.status != 200:
                break
            time.sleep(0.05)
        eq(r.status, 500, "broken large template")
        s.wait_log(r"big\.tpl:901:7: expected an expression")
        eq(s.get("/other").status, 200, "another page")
        check(s.proc.poll() is None, "the server died")
    finally:
        s.cleanup()


@test
def test_check_reports_broken():
    s = server(start=False)
    p = s.run(["-t"])
    eq(p.returncode, 0, "-t with good templates\n" + output(p))
    s.write_tmp("templates/deep/bad.tpl", "ok\n{% if a %}\n{{ b }\n")
    s.write_tmp("templates/deep/bad2.html", "{% frob %}")
    p = s.run(["-t"])
    eq(p.returncode, 1, "-t with a broken template\n" + output(p))
    contains(p.stderr, s.path("templates/deep/bad.tpl")
             + ":3:6: unexpected '}'", "position of the first")
    contains(p.stderr, s.path("templates/deep/bad2.html")
             + ":1:4: unknown statement 'frob'", "position of the second")
    contains(p.stderr, "2 templates under TemplateDir do not compile",
             "summary")
    s.cleanup()


@test
def test_config_errors():
    cases = [
        ("<Location /x>\nTemplate ../../etc/passwd\n</Location>",
         "a name relative to TemplateDir"),
        ("<Location /x>\nTemplate missing.tpl\n</Location>",
         "Template missing.tpl: no such file under"),
        ("TemplateDir @TMP@/nowhere", "No such file or directory"),
        ("TemplateMaxDepth 0", "TemplateMaxDepth 0 is out of range"),
        ("TemplateMaxDepth 1000", "TemplateMaxDepth 1000 is out of range"),
        ("TemplateMaxIterations 0", "TemplateMaxIterations must be"),
        ("TemplateMaxOutput 0", "TemplateMaxOutput must be"),
        ("TemplateData @TMP@/bad.json", "bad.json:1:"),
        ("TemplateData @TMP@/array.json", "not a JSON object"),
    ]
    for conf, want in cases:
        s = Server(modules=("template",), conf=conf if "TemplateDir" in
                   conf else "TemplateDir @TMP@/templates\n" + conf)
        write_templates(s)
        s.write_tmp("bad.json", "{oops")
        s.write_tmp("array.json", "[1]")
        p = s.run(["-t"])
        eq(p.returncode, 1, "-t with %r\n%s" % (conf, output(p)))
        contains(p.stderr, want, "stderr for %r" % conf)
        s.cleanup()
    # A page without TemplateDir.
    s = Server(modules=("template",),
               conf="<Location /x>\nTemplate a.tpl\n</Location>")
    p = s.run(["-t"])
    eq(p.returncode, 1, "-t\n" + output(p))
    contains(p.stderr, "Template a.tpl needs a TemplateDir", "stderr")
    s.cleanup()


@test
def test_traversal_refused():
    with server(start=False) as s:
        s.write_tmp("secret.tpl", "SECRET")
        s.write_tmp("templates/inc.tpl",
                    "{% include \"../secret.tpl\" %}")
        s.write_tmp("templates/inc2.tpl",
                    "{% include \"../../../../etc/passwd\" %}")
        s.extra += ("<Location /inc>\nTemplate inc.tpl\n</Location>\n"
                    "<Location /inc2>\nTemplate inc2.tpl\n</Location>\n")
        s.start()
        for path in ("/inc", "/inc2"):
            r = s.get(path)
            eq(r.status, 500, path)
            not_contains(r.text, "SECRET", path)
            not_contains(r.text, "root:", path)
        s.wait_log(r"inc\.tpl:1:1: cannot load \"\.\./secret\.tpl\"")
        s.wait_log(r"inc2\.tpl:1:1: cannot load \"\.\./\.\./\.\./\.\./etc/"
                   r"passwd\"")


@test
def test_limits():
    conf = CONF + """
<Location /big>
    Template big.tpl
    TemplateMaxOutput 100
</Location>
<Location /loops>
    Template loops.tpl
    TemplateMaxIterations 50
</Location>
<Location /deep>
    Template deep.tpl
    TemplateMaxDepth 3
</Location>
<Location /fine>
    Template loops.tpl
</Location>
"""
    with server(conf, start=False) as s:
        s.write_tmp("templates/big.tpl",
                    "{% for i in [1,2,3,4,5,6,7,8,9,10,11] %}"
                    "0123456789{% end %}")
        s.write_tmp("templates/loops.tpl",
                    "{% for i in [1,2,3,4,5,6,7,8] %}{% for j in "
                    "[1,2,3,4,5,6,7,8] %}.{% end %}{% end %}")
        s.write_tmp("templates/deep.tpl", "{% include \"deep2.tpl\" %}")
        s.write_tmp("templates/deep2.tpl", "{% include \"deep3.tpl\" %}")
        s.write_tmp("templates/deep3.tpl", "{% if 1 %}{% if 1 %}x"
                    "{% end %}{% end %}")
        s.start()
        eq(s.get("/big").status, 500, "TemplateMaxOutput")
        s.wait_log(r"big\.tpl:1:41: output larger than 100 bytes "
                   r"\(TemplateMaxOutput\)")
        eq(s.get("/loops").status, 500, "TemplateMaxIterations")
        s.wait_log(r"loops\.tpl:1:33: more than 50 iterations "
                   r"\(TemplateMaxIterations\)")
        eq(s.get("/deep").status, 500, "TemplateMaxDepth")
        s.wait_log(r"deep3\.tpl:1:11: nested deeper than 3 "
                   r"\(TemplateMaxDepth\)")
        r = s.get("/fine")
        eq((r.status, len(r.body)), (200, 64), "the defaults")


@test
def test_demo_templates():
    from cairntest import SRCDIR
    demo = os.path.join(SRCDIR, "demo", "templates")
    s = Server(modules=("template",),
               conf="TemplateDir %s\nTemplateData %s/site.json\n"
                    "<Location /home>\nTemplate index.tpl\n</Location>\n"
                    % (demo, demo))
    try:
        p = s.run(["-t"])
        eq(p.returncode, 0, "-t over demo/templates\n" + output(p))
        s.start()
        r = s.get("/home")
        eq(r.status, 200, "the demo's home page")
        contains(r.text, "<h1>cairn demo is running</h1>", "its heading")
        contains(r.text, '<a href="/users">Users</a>', "its links")
    finally:
        s.cleanup()


# ----------------------------------------------------------------------
# REST as HTML
# ----------------------------------------------------------------------

USERS_TABLE = """
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(254) NOT NULL,
  row_version BIGINT NOT NULL DEFAULT 1,
  UNIQUE KEY uq_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

REST = """
TemplateDir @TMP@/templates
TemplateData @TMP@/site.json
<Resource /users>
    Database main
    Table users
    Key id
    Field id int
    Field name string required max=100
    Field email email required unique
    Methods GET POST DELETE
    RestTemplate users/list
</Resource>
"""

LIST = """<title>{{ site }}: {{ code }} {{ message }}</title>
{%- if code >= 400 %}
<p class="error">{{ message }}</p>
{%- for e in data.errors %}
<p class="field">{{ e.field }}: {{ e.message }}</p>
{%- end %}
{%- elif data.items %}
<table>
{%- for u in data.items %}
<tr><td>{{ u.id }}</td><td>{{ u.name }}</td><td>{{ u.email }}</td></tr>
{%- end %}
</table>
<p>{{ data.total }} in all</p>
{%- else %}
<p>one: {{ data.name }} &lt;{{ data.email }}&gt; ({{ status }})</p>
{%- end %}
"""


@test
def test_rest_html():
    if not need_rest():
        return
    import resttest
    db = resttest.mariadb([USERS_TABLE])
    db.sql("DELETE FROM users", database=resttest.APP_DB)
    s = resttest.rest_server(db, REST, modules=("mysql", "rest",
                                                "template"), start=False)
    s.write_tmp("templates/users/list.tpl", LIST)
    s.write_tmp("site.json", '{"site": "Demo"}')
    s.start()
    try:
        html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        r = s.request("POST", "/users",
                      body=json.dumps({"name": "Ann <A>",
                                       "email": "ann@example.com"}),
                      headers=dict(html, **{"Content-Type":
                                            "application/json"}))
        eq(r.status, 201, "POST as HTML (%r)" % r.body[:300])
        eq(ctype(r), "text/html; charset=utf-8", "Content-Type of 201")
        check(r.header("Location"), "Location kept")
        matches(r.text, r"<p>one: Ann &lt;A&gt; &lt;ann@example\.com&gt; "
                r"\(201\)</p>", "201 body")
        uid = json.loads(json.dumps(r.header("Location"))).rsplit("/", 1)[1]

        r = s.get("/users", headers=html)
        eq(r.status, 200, "GET list as HTML")
        eq(ctype(r), "text/html; charset=utf-8", "Content-Type")
        contains(r.header("Vary") or "", "Accept", "Vary")
        eq(r.text, "<title>Demo: 200 OK</title>\n<table>\n"
           "<tr><td>%s</td><td>Ann &lt;A&gt;</td><td>ann@example.com</td>"
           "</tr>\n</table>\n<p>1 in all</p>\n" % uid, "list body")

        r = s.get("/users/999999", headers=html)
        eq(r.status, 404, "404 as HTML")
        eq(ctype(r), "text/html; charset=utf-8", "Content-Type of 404")
        matches(r.text, r"^<title>Demo: 404 .*</title>\n"
                r"<p class=\"error\">", "404 page")

        r = s.request("POST", "/users", body=json.dumps({"name": "x"}),
                      headers=dict(html, **{"Content-Type":
                                            "application/json"}))
        eq(r.status, 422, "422 as HTML")
        eq(ctype(r), "text/html; charset=utf-8", "Content-Type of 422")
        matches(r.text, r"<p class=\"field\">email: ", "field errors")

        r = s.get("/users", headers={"Accept": "application/json"})
        eq(r.status, 200, "JSON")
        contains(ctype(r), "application/json", "Content-Type of JSON")
        contains(r.header("Vary") or "", "Accept", "Vary on JSON")
        d = json.loads(r.body)
        eq(d["data"]["items"][0]["name"], "Ann <A>", "JSON data")

        # A template broken on disk: 500, position logged.
        time.sleep(1.1)
        s.write_tmp("templates/users/list.tpl", "{% if %}")
        r = s.get("/users", headers=html)
        eq(r.status, 500, "broken REST template")
        s.wait_log(r"users/list\.tpl:1:7: expected an expression")
        eq(s.get("/users", headers={"Accept": "application/json"}).status,
           200, "JSON still")
    finally:
        s.cleanup()


def need_rest():
    from cairntest import module_path
    for m in ("mysql", "rest"):
        if module_path(m) is None:
            print("# mod_%s was not built: REST as HTML not tested" % m)
            return False
    return True


if __name__ == "__main__":
    main()
