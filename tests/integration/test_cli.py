"""cairnd's command line: -V, -M, -H, --modinfo, -t [-q], -T, --explain,
-D, -s reload|stop|quit|reopen, and usage errors."""

import os
import re
import subprocess
import time

from cairntest import (Server, check, contains, eq, fail, main, matches,
                       module_path, need_modules, not_contains, output,
                       run_cairnd, skip, slow_factor, test, version_h)

need_modules("static")

REQUEST_PHASES = ["post_read_request", "route", "access", "authenticate",
                  "authorize", "fixups", "handler", "response", "log"]
HOOK_LINE_RE = re.compile(
    r"^  (\d+)\. (\S+) \((first|middle|last)([+-]\d+)\)$")
ORDER_RANK = {"first": 0, "middle": 1, "last": 2}


def hook_phases(text):
    """Parses -H output into {phase: [(number, module, order, n)]} and the
    list of phases in printed order."""
    phases = {}
    order = []
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^(\w+):$", line)
        if m:
            current = m.group(1)
            order.append(current)
            phases[current] = []
            continue
        m = HOOK_LINE_RE.match(line)
        if m and current is not None:
            phases[current].append((int(m.group(1)), m.group(2),
                                    m.group(3), int(m.group(4))))
            continue
        if line.startswith("  ") and current is not None:
            fail("-H line in phase %s is not '  N. MODULE (ORDER+n)': %r"
                 % (current, line))
    return phases, order


def short(name):
    return name[4:] if name.startswith("mod_") else name


@test
def test_version():
    ver, major, minor = version_h()
    p = run_cairnd(["-V"])
    eq(p.returncode, 0, "exit status of cairnd -V\n" + output(p))
    out = p.stdout + p.stderr
    matches(out, r"^cairnd %s$" % re.escape(ver), "cairnd -V")
    matches(out, r"^module ABI: %d\.%d$" % (major, minor), "cairnd -V")
    matches(out, r"^module directory: /\S+", "cairnd -V")
    matches(out, r"^config file: /\S+", "cairnd -V")
    matches(out, r"^build: \S.*", "cairnd -V")


@test
def test_version_shows_given_config_file():
    s = Server()
    p = run_cairnd(["-f", s.conf_path, "-V"])
    eq(p.returncode, 0, "exit status\n" + output(p))
    matches(p.stdout + p.stderr,
            r"^config file: %s$" % re.escape(s.conf_path), "cairnd -V")


@test
def test_modules_list():
    ver, _, _ = version_h()
    s = Server(modules=["static", "test_hooks", "test_echo"])
    p = s.run(["-M"])
    eq(p.returncode, 0, "exit status of cairnd -M\n" + output(p))
    lines = [l for l in (p.stdout + p.stderr).splitlines() if l.strip()]
    check(lines, "cairnd -M printed nothing")
    eq(lines[0], "core %s (built-in)" % ver, "first line of -M")
    names = []
    for line in lines[1:]:
        m = re.match(r"^(\S+) (\S+) (/\S+\.so)$", line)
        check(m, "-M line is not 'NAME VERSION PATH': %r" % line)
        names.append(short(m.group(1)))
        check(os.path.exists(m.group(3)), "-M path %s does not exist"
              % m.group(3))
        if short(m.group(1)) == "static":
            eq(os.path.realpath(m.group(3)),
               os.path.realpath(module_path("static")), "static's path")
    eq(names, ["static", "test_hooks", "test_echo"], "modules listed")


@test
def test_hook_order():
    # test_echo registers its handler FIRST+5 and is loaded after static:
    # the sort must still put it ahead of static's handler.
    s = Server(modules=["static", "test_hooks", "test_echo"])
    p = s.run(["-H"])
    eq(p.returncode, 0, "exit status of cairnd -H\n" + output(p))
    phases, order = hook_phases(p.stdout + p.stderr)
    for ph in REQUEST_PHASES:
        check(ph in phases, "-H has no '%s:' line:\n%s" % (ph, p.stdout))
    positions = [order.index(ph) for ph in REQUEST_PHASES]
    eq(positions, sorted(positions), "order of request phases in -H")
    for ph in REQUEST_PHASES:
        mods = [short(h[1]) for h in phases[ph]]
        check("test_hooks" in mods, "test_hooks missing from phase %s: %s"
              % (ph, mods))
    for ph, hooks in phases.items():
        eq([h[0] for h in hooks], list(range(1, len(hooks) + 1)),
           "numbering in phase %s" % ph)
        keys = [(ORDER_RANK[h[2]], h[3]) for h in hooks]
        eq(keys, sorted(keys), "order keys in phase %s (%s)" % (ph, hooks))
    handler = [(short(h[1]), h[2], h[3]) for h in phases["handler"]]
    check(("test_echo", "first", 5) in handler,
          "handler phase lacks 'test_echo (first+5)': %s" % handler)
    mods = [h[0] for h in handler]
    check("static" in mods, "static missing from handler phase: %s"
          % handler)
    check(mods.index("test_echo") < mods.index("static"),
          "test_echo (first+5) is not sorted before static: %s" % handler)


@test
def test_modinfo_static():
    _, major, minor = version_h()
    p = run_cairnd(["--modinfo", module_path("static")])
    eq(p.returncode, 0, "exit status of --modinfo\n" + output(p))
    out = p.stdout + p.stderr
    matches(out, r"^name: (mod_)?static$", "--modinfo")
    matches(out, r"^version: \S+", "--modinfo")
    matches(out, r"^ABI: %d\.%d$" % (major, minor), "--modinfo")
    matches(out, r"^requires: -$", "--modinfo")
    m = matches(out, r"^directives: (.*)$", "--modinfo")
    for d in ("DocumentRoot", "DirectoryIndex", "StaticDotfiles",
              "StaticSymlinks"):
        check(d in m.group(1).split(), "directives line lacks %s: %r"
              % (d, m.group(0)))
    m = matches(out, r"^hooks: (.*)$", "--modinfo")
    matches(m.group(1), r"(^| )handler\((first|middle|last)[+-]\d+\)",
            "hooks line")


@test
def test_modinfo_requires_and_hooks():
    p = run_cairnd(["--modinfo", module_path("test_requires")])
    eq(p.returncode, 0, "exit status\n" + output(p))
    matches(p.stdout + p.stderr, r"^requires: .*\bstatic\b", "--modinfo")
    p = run_cairnd(["--modinfo", module_path("test_echo")])
    eq(p.returncode, 0, "exit status\n" + output(p))
    out = p.stdout + p.stderr
    matches(out, r"^name: (mod_)?test_echo$", "--modinfo of test_echo")
    matches(out, r"^version: 1\.0\.0$", "--modinfo of test_echo")
    matches(out, r"^hooks: (.* )?handler\(first\+5\)( |$)",
            "--modinfo of test_echo")
    p = run_cairnd(["--modinfo", module_path("test_hooks")])
    eq(p.returncode, 0, "exit status\n" + output(p))
    m = matches(p.stdout + p.stderr, r"^hooks: (.*)$", "--modinfo")
    for ph in REQUEST_PHASES:
        matches(m.group(1), r"(^| )%s\(" % ph, "hooks of test_hooks")


@test
def test_modinfo_bad_files():
    s = Server()
    junk = s.write_tmp("mod_junk.so", b"this is not an ELF file\n" * 20)
    missing = s.path("mod_missing.so")
    for path in (junk, missing, module_path("test_badmagic")):
        p = run_cairnd(["--modinfo", path])
        eq(p.returncode, 1, "exit status of --modinfo %s\n%s"
           % (path, output(p)))
        contains(p.stdout + p.stderr, os.path.basename(path),
                 "--modinfo %s output" % path)
    # A module built for another ABI is either refused like a bad file or
    # described with the ABI it was built for (what a packager wants).
    _, major, minor = version_h()
    path = module_path("test_badabi")
    p = run_cairnd(["--modinfo", path])
    out = p.stdout + p.stderr
    if p.returncode == 0:
        m = matches(out, r"^ABI: (\d+)\.(\d+)$", "--modinfo " + path)
        check((int(m.group(1)), int(m.group(2))) != (major, minor),
              "--modinfo shows the core's ABI for mod_test_badabi.so:\n"
              + out)
    else:
        eq(p.returncode, 1, "exit status of --modinfo %s\n%s"
           % (path, output(p)))
        contains(out, os.path.basename(path), "--modinfo output")
        contains(out, "ABI", "--modinfo output")


@test
def test_config_test_ok():
    s = Server()
    p = s.run(["-t"])
    eq(p.returncode, 0, "exit status of -t\n" + output(p))
    matches(p.stderr, r"(^|\n)%s: configuration OK$"
            % re.escape(s.conf_path), "stderr of -t")
    p = s.run(["-t", "-q"])
    eq(p.returncode, 0, "exit status of -t -q\n" + output(p))
    not_contains(p.stderr, "configuration OK", "stderr of -t -q")


@test
def test_config_test_errors():
    s = Server(conf="Foo bar\nServerName x\nBar baz qux\n")
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    err = p.stderr
    matches(err, r"^%s:%d: .*unknown directive 'Foo'"
            % (re.escape(s.conf_path), s.line_of("Foo bar")), "-t")
    matches(err, r"^%s:%d: .*unknown directive 'Bar'"
            % (re.escape(s.conf_path), s.line_of("Bar baz")), "-t")
    lines = [l for l in err.splitlines() if l.strip()]
    eq(lines[-1], "%s: configuration test failed" % s.conf_path,
       "last line of -t")
    # -q does not hide errors.
    p = s.run(["-t", "-q"])
    eq(p.returncode, 1, "exit status of -t -q\n" + output(p))
    contains(p.stderr, "unknown directive 'Foo'", "stderr of -t -q")


@test
def test_config_file_missing():
    s = Server()
    path = s.path("nonexistent.conf")
    p = run_cairnd(["-t", "-f", path])
    eq(p.returncode, 1, "exit status\n" + output(p))
    contains(p.stderr, path, "stderr")


@test
def test_dump():
    s = Server(conf="Header X-Dump yes\n<Location /sub>\n"
                    "    Header X-Sub 2\n</Location>\n")
    p = s.run(["-T"])
    eq(p.returncode, 0, "exit status of -T\n" + output(p))
    out = p.stdout
    lines = out.splitlines()

    def line_with(needle):
        for i, line in enumerate(lines):
            if needle in line and not line.lstrip().startswith("#"):
                return i
        fail("-T output has no line with %r:\n%s" % (needle, out))

    for needle, conf_line in (("DocumentRoot", "DocumentRoot"),
                              ("X-Dump", "X-Dump"), ("X-Sub", "X-Sub"),
                              ("LoadModule", "LoadModule static")):
        i = line_with(needle)
        where = "%s:%d" % (os.path.basename(s.conf_path),
                           s.line_of(conf_line))
        around = "\n".join(lines[i:i + 2])
        check(re.search(r"#.*%s\b" % re.escape(where), around),
              "-T: %r is not followed by '# ...%s':\n%s"
              % (lines[i], where, out))
    contains(out, s.docroot, "-T output")
    check(line_with("X-Sub") > line_with("<Location"),
          "-T: X-Sub is not inside the <Location> section:\n" + out)


@test
def test_explain():
    s = Server(conf="Header X-A 1\n<Location /sub>\n    Header X-B 2\n"
                    "</Location>\n<Location /other>\n    Header X-C 3\n"
                    "</Location>\n")
    base = os.path.basename(s.conf_path)
    p = s.run(["-T", "--explain", "localhost", "/sub/page.html"])
    eq(p.returncode, 0, "exit status of --explain\n" + output(p))
    out = p.stdout
    contains(out, "/sub", "--explain output")
    for name, conf_line in (("DocumentRoot", "DocumentRoot"),
                            ("X-A", "X-A"), ("X-B", "X-B")):
        where = "%s:%d" % (base, s.line_of(conf_line))
        check(any(name in l and where in l for l in out.splitlines()),
              "--explain has no line with %s and %s:\n%s"
              % (name, where, out))
    not_contains(out, "X-C", "--explain of /sub/page.html")
    p = s.run(["-T", "--explain", "localhost", "/elsewhere"])
    eq(p.returncode, 0, "exit status of --explain\n" + output(p))
    not_contains(p.stdout, "X-B", "--explain of /elsewhere")
    contains(p.stdout, "X-A", "--explain of /elsewhere")


# Every core directive, set to something other than its default, with
# the default -T --explain must show for it.
CORE_DIRECTIVES = [
    ("Workers 3", "Workers auto"),
    ("ServerName www.example.com", "ServerName (not set)"),
    ("ErrorLog @TMP@/error.log", "ErrorLog stderr"),
    ("ErrorLogFormat json", "ErrorLogFormat plain"),
    ("LogLevel info", "LogLevel notice"),
    ("PidFile @TMP@/cairnd.pid", "PidFile (not set)"),
    ("KeepAliveTimeout 7s", "KeepAliveTimeout 5s"),
    ("RequestHeaderTimeout 11s", "RequestHeaderTimeout 10s"),
    ("RequestBodyTimeout 61s", "RequestBodyTimeout 1m"),
    ("RequestBodyMinRate 1k", "RequestBodyMinRate 500"),
    ("SendTimeout 2m", "SendTimeout 1m"),
    ("LingeringTimeout 3s", "LingeringTimeout 5s"),
    ("DiscardBodyLimit 2M", "DiscardBodyLimit 1M"),
    ("GracefulTimeout 9s", "GracefulTimeout 30s"),
    ("ConfigTestTimeout 12s", "ConfigTestTimeout 30s"),
    ("MaxKeepAliveRequests 50", "MaxKeepAliveRequests 1000"),
    ("MaxConnections 100", "MaxConnections 4096"),
    ("LimitRequestLine 4000", "LimitRequestLine 8190"),
    ("LimitRequestFields 50", "LimitRequestFields 100"),
    ("LimitRequestFieldSize 4000", "LimitRequestFieldSize 8190"),
    ("LimitRequestBody 2M", "LimitRequestBody 1M"),
    ("LimitRequestHeaderSize 16k", "LimitRequestHeaderSize 32k"),
    ("TaskThreads 2", "TaskThreads 4"),
    ("HookWarnTime 50ms", "HookWarnTime 20ms"),
    ("Header X-Every yes", "Header (none)"),
    ("CrashQuarantine 3 30s", "CrashQuarantine 5 1m"),
]


@test
def test_dump_and_explain_cover_every_core_directive():
    """-T and --explain on a configuration that sets every core
    directive (PidFile among them: --explain used to read ErrorLogFormat's
    int as a pointer and crash), and on one that sets none."""
    s = Server(conf="\n".join(c for c, _ in CORE_DIRECTIVES) + "\n")
    for args in (["-T"], ["-T", "--explain", "localhost", "/x"]):
        p = s.run(args)
        eq(p.returncode, 0, "exit status of %s\n%s" % (args, output(p)))
        for conf, _ in CORE_DIRECTIVES:
            contains(p.stdout, s.subst(conf), "%s output" % " ".join(args))
        if "--explain" in args:
            contains(p.stdout, "Group (not set)", "an unset directive")
    bare = Server(workers=None)
    p = bare.run(["-T", "--explain", "localhost", "/x"])
    eq(p.returncode, 0, "exit status of --explain\n" + output(p))
    for _, default in CORE_DIRECTIVES:
        check(any(l.startswith(default) and "(default)" in l
                  for l in p.stdout.splitlines()),
              "--explain shows no '%s ... (default)':\n%s"
              % (default, p.stdout))
    not_contains(p.stdout, "(its module's default)", "--explain of the core")


SHIPPED = ("static", "log", "metrics", "auth", "mysql", "rest", "example")

# A directive of each shipped module that only the module can read, set
# (the others are plain types the core reads itself).
EVERY_MODULE = """
DirectoryIndex start.html index.html
StaticSymlinks off
StaticCharset utf-8
LogFormat short "%h %r %>s"
AccessLog @TMP@/access.log short
<Location /metrics>
    Metrics on
</Location>
<Location /status>
    Status on
</Location>
<Location /private>
    AuthType Basic
    AuthName private
    AuthUserFile @TMP@/htpasswd
    <RequireAny>
        Require user ann
        Require ip 10.0.0.0/8
    </RequireAny>
</Location>
<Database main>
    Host 127.0.0.1
    Port 9
    User app
    PasswordFile @TMP@/db.pass
    Name app
</Database>
<Location /health/db>
    DatabaseHealth main
</Location>
<Resource /things>
    Database main
    Table things
    Key id
    Field id int
    Field price decimal(10,2) min=0
</Resource>
RestOpenAPI /openapi.json
ExampleRoute /hello/:name
"""


@test
def test_dump_and_explain_cover_every_shipped_module():
    """Every shipped module loaded: --explain shows a default for every
    directive that is not set (none is left as the module's secret), and
    -T and --explain work on a configuration that sets each module's own
    kind of directives."""
    mods = [m for m in SHIPPED if module_path(m) is not None]
    bare = Server(modules=mods)
    p = bare.run(["-T", "--explain", "localhost", "/"])
    eq(p.returncode, 0, "exit status of --explain\n" + output(p))
    not_contains(p.stdout, "(its module's default)", "--explain")
    for needle in ("DirectoryIndex index.html", "StaticSymlinks inside",
                   "AccessLog off", "AuthType None", "Require all granted",
                   "<Database> (none)", "<Resource> (none)",
                   "ExampleRoute (none)"):
        if any(needle.split()[0].strip("<>").lower() in l.lower()
               for l in p.stdout.splitlines()):
            contains(p.stdout, needle, "--explain defaults")

    if set(mods) != set(SHIPPED):
        skip("not every shipped module was built: %s" % mods)
    s = Server(modules=mods, conf=EVERY_MODULE)
    s.write_tmp("htpasswd", "ann:$6$saltsalt$3Yq1lM6kDq8c8jP3Cq9Yh0D4e0Ygk1K"
                "p0c8m6a9Q8wB2f7kU6pBv2Fz6QHq3mWc9qK5yXo2W1sA0bE7rT1d0u.\n")
    s.write("db.pass", "secret\n", root=s.tmp, mode=0o600)
    for args, path in ((["-T"], None), (["-T", "--explain", "localhost",
                                          "/private/x"], "/private/x"),
                       (["-T", "--explain", "localhost", "/health/db"],
                        "/health/db")):
        p = s.run(args)
        eq(p.returncode, 0, "exit status of %s\n%s" % (args, output(p)))
    p = s.run(["-T", "--explain", "localhost", "/private/x"])
    for needle in ("DirectoryIndex start.html index.html",
                   "StaticSymlinks off", "AuthType Basic",
                   "Require user ann"):
        contains(p.stdout, needle, "--explain of /private/x")


@test
def test_define():
    conf = ("<IfDefine FOO>\n    Header X-Foo on\n</IfDefine>\n"
            "<IfDefine !FOO>\n    Header X-NotFoo on\n</IfDefine>\n")
    s = Server(conf=conf)
    p = s.run(["-T"])
    eq(p.returncode, 0, "exit status\n" + output(p))
    not_contains(p.stdout, "X-Foo", "-T without -D FOO")
    contains(p.stdout, "X-NotFoo", "-T without -D FOO")
    p = s.run(["-D", "FOO", "-T"])
    eq(p.returncode, 0, "exit status\n" + output(p))
    contains(p.stdout, "X-Foo", "-T with -D FOO")
    not_contains(p.stdout, "X-NotFoo", "-T with -D FOO")
    s.write("index.html", "hi\n")
    s.args = ["-D", "FOO"]
    s.start()
    r = s.get("/")
    eq(r.status, 200, "status")
    eq(r.header("X-Foo"), "on", "X-Foo with -D FOO")
    eq(r.header("X-NotFoo"), None, "X-NotFoo with -D FOO")


@test
def test_usage_error():
    p = run_cairnd(["--no-such-option"])
    check(p.returncode not in (0, None), "unknown option accepted\n"
          + output(p))
    check((p.stdout + p.stderr).strip(), "no usage message\n" + output(p))
    p = run_cairnd(["-f"])
    check(p.returncode != 0, "-f without a file accepted\n" + output(p))


@test
def test_explain_shows_every_default():
    """Every directive of every module in the module directory, none of
    them set: --explain shows each with its effective default, marked
    (default), read from the module's own configuration (a list a module
    starts with values, such as CompressTypes, shows them)."""
    import cairntest
    names = sorted(f[4:-3] for f in os.listdir(cairntest.MODULEDIR)
                   if f.startswith("mod_") and f.endswith(".so"))
    check("static" in names, "no mod_static.so in %s" % cairntest.MODULEDIR)
    s = Server(modules=names)
    p = s.run(["-T", "--explain", "localhost", "/x"])
    eq(p.returncode, 0, "exit status of --explain\n" + output(p))
    lines = p.stdout.splitlines()
    for name in names:
        info = run_cairnd(["--modinfo", module_path(name)])
        m = matches(info.stdout, r"^directives: (.*)$", "--modinfo " + name)
        for d in m.group(1).split():
            if d in ("-", "RequireAny", "RequireAll"):
                # A group of directives sharing one setting shows once,
                # at its first (Require all granted).
                continue
            shown = [l for l in lines
                     if re.match(r"^<?%s>?( |$)" % re.escape(d), l)]
            check(shown, "--explain does not show %s (mod_%s):\n%s"
                  % (d, name, p.stdout))
            if d != "DocumentRoot":
                check(all(l.rstrip().endswith("# (default)")
                          for l in shown),
                      "%s not marked (default): %s" % (d, shown))
    not_contains(p.stdout, "(its module's default)", "--explain")
    if "compress" in names:
        m = matches(p.stdout, r"^CompressTypes (.*?)\s+# \(default\)$",
                    "--explain")
        check("text/*" in m.group(1).split(),
              "CompressTypes default lacks text/*: %r" % m.group(0))


# ----------------------------------------------------------------------
# -s: signals from the command line
# ----------------------------------------------------------------------

PID_CONF = "PidFile @TMP@/cairn.pid\nHeader X-Gen %s\n"


def wait_until(fn, limit, what):
    deadline = time.monotonic() + limit * slow_factor()
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("%s within %.1f s" % (what, limit))
        time.sleep(0.05)


def gen_of(s):
    try:
        return s.get("/f.txt").header("X-Gen")
    except Exception as e:
        return "error %s" % e


def signal_server(extra="", modules=("static",)):
    s = Server(conf=PID_CONF % 1 + extra, modules=modules)
    s.write("f.txt", "file\n")
    s.start()
    wait_until(lambda: os.path.exists(s.path("cairn.pid")), 5,
               "the PidFile is written")
    eq(gen_of(s), "1", "X-Gen before any reload")
    return s


@test
def test_signal_reload():
    s = signal_server()
    s.extra = PID_CONF % 2
    p = s.run(["-s", "reload"])
    eq(p.returncode, 0, "exit status of -s reload\n" + output(p))
    contains(p.stderr, "SIGHUP", "stderr of -s reload")
    contains(p.stderr, "pid %d" % s.pid, "stderr of -s reload")
    wait_until(lambda: gen_of(s) == "2", 10, "the reloaded configuration "
               "serves X-Gen 2")
    contains(s.log(), "SIGHUP: reloading", "server log")
    # -q: nothing said on success.
    s.extra = PID_CONF % 3
    p = s.run(["-s", "reload", "-q"])
    eq(p.returncode, 0, "exit status of -s reload -q\n" + output(p))
    not_contains(p.stderr, "SIGHUP", "stderr of -s reload -q")
    wait_until(lambda: gen_of(s) == "3", 10, "the second reload serves "
               "X-Gen 3")


@test
def test_signal_reload_refused_when_the_test_fails():
    s = signal_server()
    s.extra = PID_CONF % 3 + "Foo bar\n"
    p = s.run(["-s", "reload"])
    eq(p.returncode, 1, "exit status of -s reload on a broken config\n"
       + output(p))
    matches(p.stderr, r"^%s:%d: unknown directive 'Foo'"
            % (re.escape(s.conf_path), s.line_of("Foo bar")),
            "stderr of -s reload")
    contains(p.stderr, "reload refused", "stderr of -s reload")
    not_contains(p.stderr, "SIGHUP", "stderr of -s reload")
    time.sleep(0.5)
    not_contains(s.log(), "SIGHUP", "the server log (no signal sent)")
    eq(gen_of(s), "1", "X-Gen after a refused reload")
    check(s.alive(), "the server stopped after a refused reload")


@test
def test_signal_quit_and_stop():
    for name, said in (("quit", "gracefully"), ("stop", "now")):
        s = signal_server()
        p = s.run(["-s", name])
        eq(p.returncode, 0, "exit status of -s %s\n" % name + output(p))
        rc = s.wait_exit(10 * slow_factor())
        eq(rc, 0, "exit status of the master after -s %s" % name)
        contains(s.log(), "stopping %s" % said, "server log after -s %s"
                 % name)
        check(not os.path.exists(s.path("cairn.pid")),
              "the PidFile is left after -s %s" % name)
        s.cleanup()


@test
def test_signal_reopen():
    s = signal_server(extra="AccessLog @TMP@/access.log\n",
                      modules=("static", "log"))
    log = s.path("access.log")
    wait_until(lambda: os.path.exists(log) and "/f.txt" in open(log).read(),
               5, "the access log has the first request")
    os.rename(log, log + ".1")
    p = s.run(["-s", "reopen"])
    eq(p.returncode, 0, "exit status of -s reopen\n" + output(p))
    contains(p.stderr, "SIGUSR1", "stderr of -s reopen")
    wait_until(lambda: os.path.exists(log), 5, "the access log is created "
               "again")

    def logged():
        s.get("/f.txt?after-reopen")
        return "after-reopen" in open(log).read()
    wait_until(logged, 5, "a request after the reopen is in the new log")
    not_contains(open(log + ".1").read(), "after-reopen", "the rotated log")


@test
def test_signal_pid_file_problems():
    # No PidFile at all.
    s = Server()
    p = s.run(["-s", "reload"])
    eq(p.returncode, 2, "exit status without PidFile\n" + output(p))
    contains(p.stderr, "sets no PidFile", "stderr without PidFile")
    contains(p.stderr, "PidFile PATH", "stderr without PidFile")
    s.cleanup()

    s = Server(conf="PidFile @TMP@/cairn.pid\n")
    pid_file = s.path("cairn.pid")
    # Not running: no file.
    p = s.run(["-s", "stop"])
    eq(p.returncode, 3, "exit status with no pid file\n" + output(p))
    contains(p.stderr, "%s does not exist" % pid_file, "stderr")
    # Stale: the process is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(pid_file, "w") as f:
        f.write("%d\n" % dead.pid)
    p = s.run(["-s", "quit"])
    eq(p.returncode, 3, "exit status with a stale pid file\n" + output(p))
    contains(p.stderr, "stale PidFile %s: no process %d" % (pid_file,
                                                          dead.pid),
             "stderr")
    # Stale: the pid was reused by another program.
    other = subprocess.Popen(["sleep", "30"])
    try:
        with open(pid_file, "w") as f:
            f.write("%d\n" % other.pid)
        p = s.run(["-s", "reopen"])
        eq(p.returncode, 3, "exit status with a reused pid\n" + output(p))
        contains(p.stderr, "'sleep', not cairnd", "stderr")
        check(other.poll() is None, "the other program was signalled")
    finally:
        other.kill()
        other.wait()
    # Garbage.
    with open(pid_file, "w") as f:
        f.write("hello\n")
    p = s.run(["-s", "reload"])
    eq(p.returncode, 2, "exit status with a garbled pid file\n" + output(p))
    contains(p.stderr, "does not hold a process id", "stderr")
    # Unreadable: a directory.
    os.unlink(pid_file)
    os.mkdir(pid_file)
    p = s.run(["-s", "reload"])
    eq(p.returncode, 2, "exit status with an unreadable pid file\n"
       + output(p))
    contains(p.stderr, "cannot read PidFile", "stderr")
    # An unknown name.
    p = s.run(["-s", "restart"])
    eq(p.returncode, 1, "exit status of -s restart\n" + output(p))
    contains(p.stderr, "reload, stop, quit or reopen", "stderr")


@test
def test_signal_stop_with_a_broken_config():
    # stop still finds the PidFile of a configuration broken since.
    s = signal_server()
    s.extra = PID_CONF % 1 + "Foo bar\n"
    p = s.run(["-s", "stop"])
    eq(p.returncode, 0, "exit status of -s stop\n" + output(p))
    contains(p.stderr, "unknown directive 'Foo'", "stderr of -s stop")
    eq(s.wait_exit(10 * slow_factor()), 0, "exit status of the master")


if __name__ == "__main__":
    main()
