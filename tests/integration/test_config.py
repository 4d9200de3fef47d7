"""The configuration language: error messages (from -t and at start-up),
Include/IncludeOptional, sections, and merging by key."""

import os
import re
import signal
import time

from cairntest import (Conn, Server, check, config_error, contains, eq,
                       fail, free_port, main, matches, need_modules,
                       not_contains, output, test)

need_modules("static")


@test
def test_unknown_directive_with_hint():
    _, err = config_error("DocumentRoot @DOCROOT@\n",
                          ["unknown directive 'DocumentRoot'",
                           "LoadModule static"],
                          line_of="DocumentRoot", modules=())


@test
def test_unknown_directive():
    config_error("Foo bar\n", ["unknown directive 'Foo'"], line_of="Foo")


@test
def test_wrong_argument_count():
    config_error("DocumentRoot /a /b\n", ["argument"],
                 line_of="DocumentRoot /a /b")
    config_error("KeepAliveTimeout\n", ["argument"],
                 line_of="KeepAliveTimeout", start=False)
    config_error("Header X-Only\n", ["argument"], line_of="Header X-Only",
                 start=False)


@test
def test_bad_values():
    config_error("KeepAliveTimeout soon\n", ["soon"],
                 line_of="KeepAliveTimeout", start=False)
    config_error("StaticDotfiles maybe\n", ["maybe"],
                 line_of="StaticDotfiles", start=False)
    config_error("LimitRequestBody lots\n", ["lots"],
                 line_of="LimitRequestBody", start=False)


@test
def test_wrong_scope():
    config_error("<Location /x>\n    Listen 127.0.0.1:1\n</Location>\n",
                 ["not allowed"], line_of="Listen 127.0.0.1:1")


@test
def test_unclosed_section():
    config_error("<Location /x>\n    Header X-A 1\n",
                 ["<Location", ("not closed", "unclosed")],
                 line_of="<Location /x>")


@test
def test_stray_section_end():
    config_error("Header X-A 1\n</Location>\n", ["</Location>"],
                 line_of="</Location>", start=False)


@test
def test_mismatched_section_end():
    config_error("<Location /x>\n    Header X-A 1\n</IfModule>\n",
                 ["IfModule"], start=False)


@test
def test_include_nothing_matches():
    config_error("Include @TMP@/nothing/*.conf\n", ["IncludeOptional"],
                 line_of="Include")


@test
def test_include_missing_file():
    config_error("Include @TMP@/missing.conf\n", ["missing.conf"],
                 line_of="missing.conf", start=False)


@test
def test_include_optional_nothing_matches():
    s = Server(conf="IncludeOptional @TMP@/nothing/*.conf\n"
                    "IncludeOptional @TMP@/missing.conf\n")
    p = s.run(["-t"])
    eq(p.returncode, 0, "exit status of -t\n" + output(p))


@test
def test_include_loop():
    s = Server(conf="Include @TMP@/loop.conf\n")
    s.write_conf("loop.conf", "Include @TMP@/loop.conf\n")
    p = s.run(["-t"], timeout=20)
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    contains(p.stderr, "loop.conf", "stderr of -t")


@test
def test_error_in_included_file():
    s = Server(conf="Include conf.d/*.conf\n")
    s.write_conf("conf.d/bad.conf", "# comment\nFoo bar\n")
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    bad = os.path.join(s.tmp, "conf.d", "bad.conf")
    matches(p.stderr, r"^(%s|\S*conf\.d/bad\.conf):2: .*unknown directive "
            r"'Foo'" % re.escape(bad), "stderr of -t")


INCLUDE_FILES = {
    "a.conf": "a",
    "b.conf": "b",
    ".hidden.conf": "hidden",
    "c.conf~": "tilde",
    "x.conf.dpkg-old": "dpkgold",
    "y.conf.rpmnew": "rpmnew",
    "z.conf.rpmsave": "rpmsave",
}


def include_server():
    s = Server(conf="Include conf.d/*\n")
    for name, tag in INCLUDE_FILES.items():
        s.write_conf("conf.d/" + name, "Header X-Order-%s 1\n" % tag)
    s.write_conf("elsewhere/k.conf", "Header X-Order-k 1\n")
    os.symlink("../elsewhere/k.conf", s.path("conf.d/k.conf"))
    s.write("index.html", "index\n")
    return s


@test
def test_include_glob_skips_and_sorts():
    s = include_server()
    p = s.run(["-T"])
    eq(p.returncode, 0, "exit status of -T\n" + output(p))
    out = p.stdout
    pos = []
    for tag in ("a", "b", "k"):
        i = out.find("X-Order-%s" % tag)
        check(i >= 0, "-T lacks X-Order-%s (conf.d/%s.conf not read):\n%s"
              % (tag, tag, out))
        pos.append(i)
    eq(pos, sorted(pos), "order of a.conf, b.conf, k.conf in -T")
    for tag in ("hidden", "tilde", "dpkgold", "rpmnew", "rpmsave"):
        not_contains(out, "X-Order-%s" % tag, "-T output")
    s.start()
    r = s.get("/")
    eq(r.status, 200, "status of GET /")
    for tag in ("a", "b", "k"):
        eq(r.header("X-Order-%s" % tag), "1", "header X-Order-%s" % tag)
    for tag in ("hidden", "tilde", "dpkgold", "rpmnew", "rpmsave"):
        eq(r.header("X-Order-%s" % tag), None, "header X-Order-%s" % tag)


def merge_server():
    s = Server(conf="Header X-A 1\n"
                    "<Location /sub>\n    Header X-B 2\n</Location>\n"
                    "<Location /over>\n    Header X-A 3\n</Location>\n"
                    "<Location /sub/deeper>\n    Header X-C 4\n"
                    "</Location>\n")
    s.write("index.html", "index\n")
    s.write("sub/f.txt", "sub\n")
    s.write("sub/deeper/f.txt", "deeper\n")
    s.write("over/f.txt", "over\n")
    s.write("subway.txt", "subway\n")
    s.start()
    return s


@test
def test_header_merge_by_key():
    s = merge_server()
    r = s.get("/sub/f.txt")
    eq(r.status, 200, "status of /sub/f.txt")
    eq(r.header_all("X-A"), ["1"], "X-A under /sub (inherited)")
    eq(r.header_all("X-B"), ["2"], "X-B under /sub")
    r = s.get("/over/f.txt")
    eq(r.status, 200, "status of /over/f.txt")
    eq(r.header_all("X-A"), ["3"], "X-A under /over (overridden)")
    eq(r.header("X-B"), None, "X-B under /over")
    r = s.get("/")
    eq(r.status, 200, "status of /")
    eq(r.header_all("X-A"), ["1"], "X-A at /")
    eq(r.header("X-B"), None, "X-B at /")
    r = s.get("/sub/deeper/f.txt")
    eq(r.status, 200, "status of /sub/deeper/f.txt")
    eq((r.header_all("X-A"), r.header_all("X-B"), r.header_all("X-C")),
       (["1"], ["2"], ["4"]), "X-A, X-B, X-C under nested locations")
    # A prefix matches whole segments only.
    r = s.get("/subway.txt")
    eq(r.status, 200, "status of /subway.txt")
    eq(r.header("X-B"), None, "X-B on /subway.txt")


@test
def test_header_on_error_responses():
    s = merge_server()
    r = s.get("/sub/missing")
    eq(r.status, 404, "status")
    eq(r.header("X-A"), "1", "X-A on a 404")
    eq(r.header("X-B"), "2", "X-B on a 404 under /sub")


@test
def test_location_match():
    s = Server(conf="<LocationMatch ^/m/.*txt$>\n    Header X-M yes\n"
                    "</LocationMatch>\n")
    s.write("m/a.txt", "a\n")
    s.write("m/a.html", "<p>a</p>\n")
    s.start()
    eq(s.get("/m/a.txt").header("X-M"), "yes", "X-M on /m/a.txt")
    eq(s.get("/m/a.html").header("X-M"), None, "X-M on /m/a.html")


@test
def test_bad_location_match_regex():
    config_error("<LocationMatch (unclosed>\n</LocationMatch>\n",
                 ["(unclosed"], line_of="<LocationMatch", start=False)


@test
def test_if_module():
    s = Server(conf="<IfModule static>\n    Header X-If1 1\n</IfModule>\n"
                    "<IfModule !static>\n    Header X-If2 1\n"
                    "</IfModule>\n"
                    "<IfModule !nosuch>\n    Header X-If3 1\n"
                    "</IfModule>\n"
                    "<IfModule nosuch>\n    NoSuchDirective 1\n"
                    "</IfModule>\n")
    s.write("index.html", "index\n")
    s.start()
    r = s.get("/")
    eq((r.header("X-If1"), r.header("X-If2"), r.header("X-If3")),
       ("1", None, "1"), "X-If1, X-If2, X-If3")


@test
def test_if_define():
    s = Server(conf="<IfDefine BAR>\n    Header X-Bar 1\n</IfDefine>\n"
                    "<IfDefine !BAR>\n    Header X-NoBar 1\n"
                    "</IfDefine>\n", args=["-D", "BAR"])
    s.write("index.html", "index\n")
    s.start()
    r = s.get("/")
    eq((r.header("X-Bar"), r.header("X-NoBar")), ("1", None),
       "X-Bar, X-NoBar with -D BAR")


@test
def test_virtual_host():
    s = Server(conf="<VirtualHost a.example>\n"
                    "    DocumentRoot @TMP@/vh\n"
                    "    Header X-VH a\n"
                    "</VirtualHost>\n")
    s.write("index.html", "main\n")
    s.write("index.html", "vhost a\n", root=s.path("vh"))
    s.start()
    r = s.get("/", host="a.example")
    eq((r.status, r.body, r.header("X-VH")), (200, b"vhost a\n", "a"),
       "GET / Host: a.example")
    r = s.get("/", host="A.Example:%d" % s.port)
    eq((r.status, r.body, r.header("X-VH")), (200, b"vhost a\n", "a"),
       "GET / Host: A.Example:port")
    r = s.get("/", host="other.example")
    eq((r.status, r.body, r.header("X-VH")), (200, b"main\n", None),
       "GET / Host: other.example")


@test
def test_quoting_comments_continuation():
    s = Server(conf='# a comment line\n'
                    '    # an indented comment\n'
                    'Header X-Quoted "a b  c"\n'
                    'Header X-Hash "x # y"\n'
                    'Header X-Cont \\\n'
                    '    continued\n'
                    'Header X-Trail yes   # a trailing comment\n'
                    '\n'
                    '   Header   X-Spaces   spaced   \n')
    s.write("index.html", "index\n")
    s.start()
    r = s.get("/")
    eq(r.status, 200, "status")
    eq(r.header("X-Quoted"), "a b  c", "quoted value")
    eq(r.header("X-Hash"), "x # y", "quoted '#'")
    eq(r.header("X-Cont"), "continued", "continued line")
    eq(r.header("X-Trail"), "yes", "value before a trailing comment")
    eq(r.header("X-Spaces"), "spaced", "value among extra spaces")


@test
def test_line_numbers_after_continuation():
    s = Server(conf="Header X-Cont \\\n    continued\nFoo bar\n")
    p = s.run(["-t"])
    eq(p.returncode, 1, "exit status of -t\n" + output(p))
    matches(p.stderr, r"^%s:%d: .*unknown directive 'Foo'"
            % (re.escape(s.conf_path), s.line_of("Foo bar")),
            "stderr of -t")


@test
def test_post_config_error_is_a_config_error():
    # mod_log finds an unknown format name only in post_config: its
    # reason is printed like a parse error, with no log time stamp.
    _, err = config_error("AccessLog @TMP@/a.log nosuchformat\n",
                          ['no format called "nosuchformat"'],
                          line_of="nosuchformat",
                          modules=("static", "log"))
    not_contains(err, "[error]", "stderr of -t")
    not_contains(err, "see the messages above", "stderr of -t")
    check(not re.search(r"^\d{4}-\d\d-\d\dT", err, re.MULTILINE),
          "a time-stamped log line in stderr of -t:\n" + err)


@test
def test_bad_access_log_format():
    _, err = config_error('AccessLog @TMP@/a.log "%h %Z"\n', ['"%Z"'],
                          line_of="AccessLog", modules=("static", "log"))
    check(not re.search(r"^\d{4}-\d\d-\d\dT", err, re.MULTILINE),
          "a time-stamped log line in stderr of -t:\n" + err)


@test
def test_typo_suggestions():
    # A core directive, a loaded module's, a module's that is not loaded
    # (found in ModuleDir), a core section and a module's section.
    config_error("KeepAliveTimout 5s\n",
                 ["unknown directive 'KeepAliveTimout': did you mean "
                  "'KeepAliveTimeout'?"], line_of="KeepAliveTimout")
    config_error("DocumentRot /x\n",
                 ["unknown directive 'DocumentRot': did you mean "
                  "'DocumentRoot'?"], line_of="DocumentRot", start=False)
    _, err = config_error("AccessLgo @TMP@/a.log\n",
                          ["unknown directive 'AccessLgo': did you mean "
                           "'AccessLog'?", "LoadModule log"],
                          line_of="AccessLgo", start=False)
    config_error("Incldue @TMP@/x.conf\n", ["did you mean 'Include'?"],
                 line_of="Incldue", start=False)
    config_error("<Locaton /x>\n    Header X-A 1\n</Locaton>\n",
                 ["unknown section <Locaton>: did you mean 'Location'?"],
                 line_of="<Locaton", start=False)
    config_error("<Resorce /x>\n</Resorce>\n",
                 ["unknown section <Resorce>: did you mean 'Resource'?",
                  "LoadModule rest"], line_of="<Resorce", start=False)
    # Inside a module's section: its own directives.
    config_error("<Upstream app>\n    Sever 127.0.0.1:1\n</Upstream>\n",
                 ["unknown directive 'Sever' inside <Upstream>: did you "
                  "mean 'Server'?"], line_of="Sever",
                 modules=("static", "proxy"), start=False)
    # Nothing close: no suggestion.
    _, err = config_error("Frobnicate on\n",
                          ["unknown directive 'Frobnicate'"],
                          line_of="Frobnicate", start=False)
    not_contains(err, "did you mean", "stderr of -t")


@test
def test_apache_sections_say_what_to_use():
    for section, advice in (("Directory /var/www", "<Location"),
                            ("Files secret.txt", "<LocationMatch"),
                            ("FilesMatch \\.php$", "<LocationMatch"),
                            ("DirectoryMatch ^/x", "<LocationMatch"),
                            ("If \"%{HTTPS} == 'on'\"", "<Location"),
                            ("Limit POST", "Require"),
                            ("LimitExcept GET", "Require")):
        name = section.split()[0]
        conf = ("<%s>\n    Require all granted\n    <Files inner>\n"
                "    </Files>\n    Foo bar\n</%s>\n" % (section, name))
        _, err = config_error(conf, ["unknown section <%s>" % name, advice],
                              line_of="<%s" % name, start=False)
        errors = [l for l in err.splitlines()
                  if l.strip() and not l.endswith("configuration test "
                                                  "failed")]
        eq(len(errors), 1, "errors for <%s> (one, not one per line of its "
           "body):\n%s" % (name, err))


def host_has_ipv6():
    """Whether the host has IPv6 at all (an address on some interface)."""
    try:
        with open("/proc/net/if_inet6") as f:
            return bool(f.read().strip())
    except OSError:
        return False


def answers(host, port):
    """The status of GET /f.txt on host:port, or None when refused."""
    try:
        with Conn(port, host=host, timeout=5) as c:
            return c.request("GET", "/f.txt").status
    except OSError:
        return None


def tcp_listeners(port):
    """(family, local address) of the sockets listening on port."""
    out = []
    for name, fam in (("/proc/net/tcp", "4"), ("/proc/net/tcp6", "6")):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            addr, hexport = f[1].split(":")
            if f[3] == "0A" and int(hexport, 16) == port:
                out.append((fam, addr))
    return out


@test
def test_listen_port_is_dual_stack():
    # Listen PORT: one [::] socket taking IPv4 too; IPv4 clients are
    # logged as 127.0.0.1, not ::ffff:127.0.0.1.
    s = Server(conf="AccessLog @TMP@/access.log \"%h %U\"\n",
               modules=("static", "log"))
    s.extra = s.config_text().replace("Listen 127.0.0.1:%d" % s.port,
                                      "Listen @PORT@")
    s.base = False
    s.write("f.txt", "file\n")
    s.start()
    eq(answers("127.0.0.1", s.port), 200, "GET over 127.0.0.1")
    socks = tcp_listeners(s.port)
    if host_has_ipv6():
        eq(answers("::1", s.port), 200, "GET over ::1")
        check(socks and all(fam == "6" and addr == "0" * 32
                            for fam, addr in socks),
              "Listen PORT is not one [::] socket per worker: %s" % socks)
        contains(s.log(), "listening on %d (every IPv4 and IPv6 address)"
                 % s.port, "server log")
    else:
        check(socks and all(fam == "4" and addr == "00000000"
                            for fam, addr in socks),
              "Listen PORT without IPv6 is not 0.0.0.0: %s" % socks)
        contains(s.log(), "no IPv6", "server log")
    s.stop()
    log = open(s.path("access.log")).read()
    contains(log, "127.0.0.1 /f.txt", "access log")
    not_contains(log, "::ffff:", "access log")


@test
def test_listen_address_binds_only_it():
    v6 = host_has_ipv6()
    p6 = free_port()
    p4 = free_port()
    conf = "Listen 127.0.0.1:%d\n" % p4
    if v6:
        conf += "Listen [::1]:%d\n" % p6
    s = Server(conf=conf)
    s.write("f.txt", "file\n")
    s.start()
    eq(answers("127.0.0.1", p4), 200, "GET on Listen 127.0.0.1:PORT")
    eq(tcp_listeners(p4), [("4", "0100007F")] * len(tcp_listeners(p4)),
       "sockets of Listen 127.0.0.1:PORT")
    if not v6:
        return
    eq(answers("::1", p4), None, "::1 on Listen 127.0.0.1:PORT (refused)")
    eq(answers("::1", p6), 200, "GET on Listen [::1]:PORT")
    eq(answers("127.0.0.1", p6), None,
       "127.0.0.1 on Listen [::1]:PORT (refused)")


@test
def test_listen_dual_stack_across_reload():
    # A reload keeps the very [::] socket of Listen PORT (no new bind,
    # no refused connection).
    s = Server()
    s.extra = s.config_text().replace("Listen 127.0.0.1:%d" % s.port,
                                      "Listen @PORT@") + "Header X-Gen 1\n"
    s.base = False
    s.write("f.txt", "file\n")
    s.start()
    before = sorted(tcp_listeners(s.port))
    s.extra = s.extra.replace("X-Gen 1", "X-Gen 2")
    s.write_config()
    s.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Conn(s.port) as c:
            if c.request("GET", "/f.txt").header("X-Gen") == "2":
                break
        time.sleep(0.05)
    else:
        fail("the reload did not take effect:\n" + s.log_tail())
    eq(sorted(tcp_listeners(s.port)), before, "listening sockets after the "
       "reload")
    if host_has_ipv6():
        eq(answers("::1", s.port), 200, "GET over ::1 after the reload")


if __name__ == "__main__":
    main()
