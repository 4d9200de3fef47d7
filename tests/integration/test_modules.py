"""Loading modules: every refusal is one sentence naming the file; the
test modules run in the request pipeline."""

import os

from cairntest import (Server, check, config_error, contains, eq, main,
                       need_modules, output, test)

need_modules("static", "test_hooks", "test_echo", "test_badabi",
             "test_badhooks", "test_badmagic", "test_requires")


@test
def test_bad_magic():
    config_error("LoadModule test_badmagic\n",
                 ["mod_test_badmagic.so", ("not a cairn module", "magic")],
                 line_of="LoadModule test_badmagic")


@test
def test_wrong_abi():
    config_error("LoadModule test_badabi\n",
                 ["mod_test_badabi.so", "ABI", "rebuild"],
                 line_of="LoadModule test_badabi")


@test
def test_unknown_hook_kind_refused():
    config_error("LoadModule test_badhooks\n",
                 ["mod_test_badhooks", "unknown kind 999"],
                 line_of="LoadModule test_badhooks")



@test
def test_missing_requirement():
    config_error("LoadModule test_requires\n",
                 ["mod_test_requires", "requires", "static"],
                 line_of="LoadModule test_requires", modules=())


@test
def test_requirement_loaded_later():
    # A requirement must be loaded first.
    config_error("LoadModule test_requires\nLoadModule static\n",
                 ["requires", "static"],
                 line_of="LoadModule test_requires", modules=(),
                 start=False)


@test
def test_requirement_met():
    s = Server(modules=["static", "test_requires"])
    p = s.run(["-t"])
    eq(p.returncode, 0, "exit status of -t\n" + output(p))


@test
def test_missing_symbol():
    config_error("LoadModule foo @MODULEDIR@/mod_static.so\n",
                 ["mod_foo_module", "mod_static.so"],
                 line_of="LoadModule foo", modules=())


@test
def test_not_a_shared_object():
    def setup(s):
        s.write_tmp("mods/mod_junk.so", b"\x7fELF but not really\n" * 50)
    config_error("ModuleDir @TMP@/mods @MODULEDIR@\n"
                 "Listen 127.0.0.1:@PORT@\n"
                 "LoadModule junk\n",
                 ["mod_junk.so"], line_of="LoadModule junk", base=False,
                 setup=setup)


@test
def test_module_not_found():
    config_error("LoadModule nosuch\n", ["mod_nosuch"],
                 line_of="LoadModule nosuch")


@test
def test_loaded_twice():
    s = Server(conf="LoadModule static\n")
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    contains(p.stderr, "already loaded", "stderr of -t")
    where = "%s:%d:" % (s.conf_path, s.line_of("LoadModule static", nth=2))
    check(any(l.startswith(where) for l in p.stderr.splitlines()),
          "no message starting with %r:\n%s" % (where, p.stderr))
    rc, log = s.start_fails()
    check(rc != 0, "cairnd started with a module loaded twice")
    contains(log, "already loaded", "stderr at start-up")


@test
def test_explicit_path():
    s = Server(modules=(),
               conf="LoadModule static @MODULEDIR@/mod_static.so\n"
                    "DocumentRoot @DOCROOT@\n")
    s.write("index.html", "explicit\n")
    s.start()
    r = s.get("/")
    eq((r.status, r.body), (200, b"explicit\n"), "GET /")


PHASES = (b"post_read_request,route,access,authenticate,authorize,"
          b"fixups,handler")


@test
def test_hook_phases():
    s = Server(modules=["static", "test_hooks"],
               conf="LogLevel info\nTestHooksOrder 3\n"
                    "<Location /hooks/loc>\n    TestHooksOrder 7\n"
                    "</Location>\n")
    s.write("f.txt", "file\n")
    s.start()
    r = s.get("/hooks/x")
    eq(r.status, 200, "status of /hooks/x")
    check((r.header("Content-Type") or "").startswith("text/plain"),
          "Content-Type %r" % r.header("Content-Type"))
    eq(r.body, PHASES + b"\n", "phases seen by the handler of /hooks/x")
    eq(r.header("X-Test-Response"), "seen", "X-Test-Response")
    eq(r.header("X-Test-Phases"), (PHASES + b",response").decode(),
       "X-Test-Phases (set in the response phase)")
    s.wait_log(r"test_hooks phases: %s,response,log"
               % PHASES.decode())
    # The module's directive, merged per location.
    eq(r.header("X-Test-Hooks-Order"), "3", "TestHooksOrder at server")
    eq(s.get("/hooks/loc/x").header("X-Test-Hooks-Order"), "7",
       "TestHooksOrder in <Location /hooks/loc>")
    # Other paths still reach mod_static.
    r = s.get("/f.txt")
    eq((r.status, r.body), (200, b"file\n"), "GET /f.txt")
    eq(r.header("X-Test-Response"), None, "X-Test-Response outside /hooks")


@test
def test_requires_module_runs():
    s = Server(modules=["static", "test_requires"])
    s.start()
    r = s.get("/test-requires")
    eq((r.status, r.body), (200, b"requires: ok\n"), "GET /test-requires")


@test
def test_echo_module():
    s = Server(modules=["static", "test_echo"])
    s.write("f.txt", "file\n")
    s.start()
    r = s.get("/echo/a%20b?x=1&y=%20")
    eq((r.status, r.body), (200, b"GET /echo/a b\nquery=x=1&y=%20\n"),
       "GET /echo/a%20b?x=1&y=%20")
    check((r.header("Content-Type") or "").startswith("text/plain"),
          "Content-Type %r" % r.header("Content-Type"))
    r = s.request("POST", "/echo", body=b"hello\x00world")
    eq((r.status, r.body), (200, b"POST /echo\nquery=\nhello\x00world"),
       "POST /echo")
    r = s.get("/f.txt")
    eq((r.status, r.body), (200, b"file\n"), "GET /f.txt (declined by echo)")
    r = s.get("/echoes")
    eq(r.status, 404, "GET /echoes")


@test
def test_module_dirs_searched_in_order():
    # A module found in the first ModuleDir wins over the second.
    s = Server(base=False, modules=(),
               conf="ModuleDir @TMP@/first @MODULEDIR@ @TESTMODULEDIR@\n"
                    "Listen 127.0.0.1:@PORT@\nWorkers 1\n"
                    "LoadModule static\nDocumentRoot @DOCROOT@\n")
    os.makedirs(s.path("first"))
    os.symlink(os.path.join(os.environ["CAIRN_TESTMODULEDIR"],
                            "mod_test_echo.so"),
               s.path("first/mod_static.so"))
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t with a wrong mod_static.so "
       "first in ModuleDir\n" + output(p))
    contains(p.stderr, "mod_static_module", "stderr of -t")


if __name__ == "__main__":
    main()
