"""The demo's /users page in a real browser: Debian's chromium, headless,
driven through the DevTools protocol.  The page is mod_template's
rendering of the same REST resource that answers JSON (RestTemplate
users/list over a private MariaDB); the test reads the table the browser
built, keeps a screenshot, fills the add-user form and submits it as a
user would, then finds the new row in the page and in the database."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

from cairntest import (BUILDDIR, SRCDIR, check, contains, eq, in_ci, main,
                       need_modules, skip, test, TMP_PREFIX)

need_modules("static", "mysql", "rest", "template")

USERS_TABLE = """
CREATE TABLE users (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(254) NOT NULL,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  row_version BIGINT NOT NULL DEFAULT 1,
  UNIQUE KEY uq_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

CONF = """
DocumentRoot {src}/demo/htdocs
TemplateDir {src}/demo/templates
TemplateData {src}/demo/templates/site.json
<Resource /users>
    Database main
    Table users
    Key id
    Field id int
    Field name string required max=100
    Field email email required unique
    Field created datetime readonly
    Methods GET POST
    RestTemplate users/list
</Resource>
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    check(not in_ci(), "chromium is missing, and CI=true")
    skip("chromium is missing (apt-get install chromium)")


class Browser:
    """A headless chromium and one page, over the DevTools protocol."""

    def __init__(self):
        try:
            import websocket
        except ImportError:
            check(not in_ci(), "python3-websocket is missing, and CI=true")
            skip("python3-websocket is missing")
        self.websocket = websocket
        self.profile = tempfile.mkdtemp(prefix=TMP_PREFIX + "chromium.")
        # Its chatter goes to a file: a pipe nobody reads would fill up
        # and stop it.
        self.err = open(os.path.join(self.profile, "stderr"), "w+b")
        self.proc = subprocess.Popen(
            [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--disable-extensions",
             "--remote-debugging-port=0", "--window-size=1100,800",
             "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.err)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                self.err.seek(0)
                check(False, "chromium exited: %s" % self.err.read().decode(
                    errors="replace")[-2000:])
            check(time.monotonic() < deadline, "chromium did not start")
            time.sleep(0.1)
        time.sleep(0.2)
        port = open(port_file).read().split()[0]
        import urllib.request
        pages = json.loads(urllib.request.urlopen(
            "http://127.0.0.1:%s/json/list" % port, timeout=10).read())
        page = [p for p in pages if p.get("type") == "page"][0]
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"],
                                              timeout=30,
                                              suppress_origin=True)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method,
                                 "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                check("error" not in msg, "%s: %s" % (method, msg))
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr,
                      returnByValue=True, awaitPromise=True)
        check("exceptionDetails" not in r, "%s: %s" % (expr, r))
        return r["result"].get("value")

    def load(self, url):
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && "
                      "location.href === %s" % json.dumps(url))

    def wait_for(self, expr, timeout=15):
        deadline = time.monotonic() + timeout
        while not self.eval("!!(%s)" % expr):
            check(time.monotonic() < deadline, "not within %s s: %s"
                  % (timeout, expr))
            time.sleep(0.1)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        shutil.rmtree(self.profile, ignore_errors=True)


@test
def test_users_page_in_a_browser():
    import resttest
    db = resttest.mariadb([USERS_TABLE])
    db.sql("DELETE FROM users", database=resttest.APP_DB)
    db.sql("INSERT INTO users (name, email) VALUES "
           "('Ada Lovelace', 'ada@example.com'), "
           "('Grace <Hopper>', 'grace@example.com')",
           database=resttest.APP_DB)
    s = resttest.rest_server(db, CONF.format(src=SRCDIR),
                             modules=("static", "mysql", "rest", "template"))
    b = None
    try:
        b = Browser()
        url = "http://127.0.0.1:%d/users" % s.port
        b.load(url)
        eq(b.eval("document.title"), "Users - cairn demo", "the title")
        rows = b.eval("Array.from(document.querySelectorAll("
                      "'#users tbody tr')).map(r => Array.from(r.cells)"
                      ".map(c => c.textContent))")
        eq([r[1:3] for r in rows],
           [["Ada Lovelace", "ada@example.com"],
            ["Grace <Hopper>", "grace@example.com"]],
           "the rows the browser built (names escaped, shown as typed)")
        eq(b.eval("getComputedStyle(document.querySelector('header'))"
                  ".display") != "", True, "the stylesheet applies")
        shot = os.path.join(BUILDDIR, "tests", "integration",
                            "browser-users.png")
        b.screenshot(shot)
        check(os.path.getsize(shot) > 5000, "a screenshot of the page")
        print("# screenshot: %s (%d bytes)" % (shot, os.path.getsize(shot)))

        # The form, as a user fills it: the page posts JSON, then reloads.
        b.eval("document.querySelector('#add [name=name]').value = "
               "'Katherine Johnson'")
        b.eval("document.querySelector('#add [name=email]').value = "
               "'katherine@example.com'")
        b.eval("document.querySelector('#add button[type=submit]').click()")
        b.wait_for("Array.from(document.querySelectorAll('#users tbody td'))"
                   ".some(c => c.textContent === 'Katherine Johnson')")
        names = b.eval("Array.from(document.querySelectorAll("
                       "'#users tbody tr')).map(r => r.cells[1].textContent)")
        eq(names, ["Ada Lovelace", "Grace <Hopper>", "Katherine Johnson"],
           "the table after the form")
        out = db.sql("SELECT name, email FROM users ORDER BY id",
                     database=resttest.APP_DB)
        eq(out, [["Ada Lovelace", "ada@example.com"],
                 ["Grace <Hopper>", "grace@example.com"],
                 ["Katherine Johnson", "katherine@example.com"]],
           "the rows in MariaDB")

        # A refused add: the envelope's message shows on the page.
        b.eval("document.querySelector('#add [name=name]').value = 'Dup'")
        b.eval("document.querySelector('#add [name=email]').value = "
               "'ada@example.com'")
        b.eval("document.querySelector('#add button[type=submit]').click()")
        b.wait_for("!document.getElementById('result').hidden")
        msg = b.eval("document.getElementById('result').textContent")
        check("email" in msg, "the error shown: %r" % msg)
        out = db.sql("SELECT COUNT(*) FROM users", database=resttest.APP_DB)
        eq(out, [["3"]], "no row added by the refused form")
    finally:
        if b is not None:
            b.close()
        s.cleanup()


if __name__ == "__main__":
    main()
