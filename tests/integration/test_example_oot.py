"""make install DESTDIR=…: the layout of the installed tree, the installed
cairn.conf run as it is (its absolute paths moved under DESTDIR) with its
default page, a second install and an uninstall that keep the files the
admin changed; then a module built out of tree against the installed
headers with pkg-config and loaded by path into the installed cairnd."""

import glob
import os
import re
import shutil
import subprocess

from cairntest import (Server, SRCDIR, BUILDDIR, check, eq, fail, main,
                       need_modules, sanitizers, skip, test, tmpdir)

need_modules("static")

_state = {}


def clean_env(**extra):
    """The environment without the outer make's settings (make check
    runs this file), plus extra."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
              "DESTDIR"):
        env.pop(k, None)
    env.update(extra)
    return env


def installed():
    """Installs the build tree into a temporary DESTDIR once; returns
    (destdir, prefix)."""
    if "install_error" in _state:
        fail(_state["install_error"])
    if "prefix" in _state:
        return _state["destdir"], _state["prefix"]
    try:
        return _install()
    except AssertionError:
        _state["install_error"] = ("make install failed (see the first "
                                   "failure above)")
        raise


def _install():
    check(BUILDDIR and SRCDIR, "CAIRN_BUILDDIR and CAIRN_SRCDIR are not set")
    dest = tmpdir("install")
    _state["destdir"] = dest
    p = subprocess.run(["make", "-s", "-C", BUILDDIR, "install",
                        "DESTDIR=" + dest],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=clean_env(),
                       timeout=600)
    if p.returncode != 0:
        fail("make install DESTDIR=%s failed (exit %d):\n%s"
             % (dest, p.returncode, p.stdout.decode(errors="replace")[-4000:]))
    _state["install_output"] = p.stdout.decode(errors="replace")
    # The workers of a server started as root run as the User of the
    # installed cairn.conf (www-data), who must reach the DocumentRoot.
    os.chmod(dest, 0o755)
    pcs = glob.glob(os.path.join(dest, "**", "pkgconfig", "cairn.pc"),
                    recursive=True)
    check(len(pcs) == 1, "want one installed cairn.pc, found %s" % pcs)
    _state["pc"] = pcs[0]
    text = open(pcs[0]).read()
    m = re.search(r"^prefix=(.*)$", text, re.MULTILINE)
    check(m, "cairn.pc has no prefix= line:\n" + text)
    _state["prefix"] = m.group(1).strip()
    return dest, _state["prefix"]


def under(rel_glob):
    dest, prefix = installed()
    return sorted(glob.glob(os.path.join(dest + prefix, rel_glob)))


def find_one(pattern, what):
    dest, _ = installed()
    hits = sorted(glob.glob(os.path.join(dest, pattern), recursive=True))
    check(hits, "installed tree under %s has no %s (%s)"
          % (dest, what, pattern))
    return hits[0]


@test
def test_install_layout():
    dest, prefix = installed()
    root = dest + prefix
    for rel in ("sbin/cairnd", "include/cairn/cairn.h",
                "include/cairn/version.h", "include/cairn/module.h"):
        check(os.path.exists(os.path.join(root, rel)),
              "%s is not installed under %s" % (rel, root))
    check(os.access(os.path.join(root, "sbin/cairnd"), os.X_OK),
          "sbin/cairnd is not executable")
    mods = under("lib*/cairn/modules/mod_static.so")
    check(mods, "lib*/cairn/modules/mod_static.so is not installed under %s"
          % root)
    moddir = os.path.dirname(mods[0])
    las = glob.glob(os.path.join(moddir, "*.la"))
    eq(las, [], ".la files in the module directory")
    conf = find_one("**/etc/cairn/cairn.conf", "etc/cairn/cairn.conf")
    confd = os.path.join(os.path.dirname(conf), "conf.d", "10-static.conf")
    check(os.path.exists(confd), "%s is not installed" % confd)


def build_example():
    if "build_error" in _state:
        fail(_state["build_error"])
    if "so" in _state:
        return _state["so"]
    try:
        return _build_example()
    except AssertionError:
        _state["build_error"] = ("building mod_example.so failed (see the "
                                 "first failure above)")
        raise


def _build_example():
    dest, prefix = installed()
    src = os.path.join(SRCDIR, "modules", "example", "mod_example.c")
    check(os.path.exists(src), "%s is missing" % src)
    work = tmpdir("oot")
    _state["work"] = work
    shutil.copy(src, work)
    env = clean_env(PKG_CONFIG_PATH=os.path.dirname(_state["pc"]),
                    PKG_CONFIG_SYSROOT_DIR=dest)
    p = subprocess.run(["pkg-config", "--cflags", "cairn"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    eq(p.returncode, 0, "pkg-config --cflags cairn: %s" % p.stderr)
    cflags = p.stdout.split()
    check(any(f.startswith("-I" + dest) for f in cflags),
          "pkg-config --cflags cairn does not point into DESTDIR: %s"
          % p.stdout)
    _state["cflags"] = cflags
    so = os.path.join(work, "mod_example.so")
    cmd = ["cc"] + cflags + ["-shared", "-fPIC", "-o", so,
                             os.path.join(work, "mod_example.c")]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        fail("building mod_example.c out of tree failed:\n%s\n%s"
             % (" ".join(cmd), p.stdout))
    _state["so"] = so
    return so


@test
def test_build_out_of_tree():
    so = build_example()
    check(os.path.exists(so), "mod_example.so was not built")
    p = subprocess.run(["nm", "-D", "--defined-only", so],
                       stdout=subprocess.PIPE, text=True)
    check("mod_example_module" in p.stdout,
          "mod_example.so does not export mod_example_module:\n" + p.stdout)


@test
def test_installed_headers_warning_free():
    # Module authors build with warnings on; the public headers must not
    # be the source of any.
    build_example()
    work = _state["work"]
    src = os.path.join(work, "strict.c")
    with open(src, "w") as f:
        f.write("#include <cairn/cairn.h>\n"
                "int strict_probe(void);\n"
                "int strict_probe(void) { return CAIRN_OK; }\n")
    for std in ("-std=c11", "-std=gnu99"):
        cmd = (["cc"] + _state["cflags"]
               + [std, "-Wall", "-Wextra", "-Wstrict-prototypes",
                  "-Wmissing-prototypes", "-Wshadow", "-Werror", "-c",
                  "-o", os.path.join(work, "strict.o"), src])
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            fail("the installed headers do not compile warning-free:\n%s\n%s"
                 % (" ".join(cmd), p.stdout))


def example_server(extra):
    dest, prefix = installed()
    so = build_example()
    cairnd = os.path.join(dest + prefix, "sbin", "cairnd")
    moddir = os.path.dirname(under("lib*/cairn/modules/mod_static.so")[0])
    s = Server(base=False, modules=(), cairnd=cairnd,
               conf="ModuleDir %s\n"
                    "Listen 127.0.0.1:@PORT@\n"
                    "Workers 1\n"
                    # Run as root, the workers would otherwise be nobody,
                    # who cannot read the test's private directory.
                    "%s"
                    "LoadModule static\n"
                    "DocumentRoot @DOCROOT@\n"
                    "LoadModule example %s\n"
                    "ExampleRoute /hello/:name\n"
                    "<Location /hello>\n"
                    "    ExampleEnabled on\n"
                    "</Location>\n%s"
                    % (moddir, "User root\n" if os.geteuid() == 0 else "",
                       so, extra))
    s.write("index.html", "index\n")
    try:
        s.start()
    except Exception as e:
        if sanitizers():
            skip("the installed cairnd did not start in a sanitizer build "
                 "(%s)" % str(e).splitlines()[0])
        raise
    return s


@test
def test_example_module_runs():
    s = example_server("")
    r = s.get("/hello/alice")
    eq((r.status, r.body), (200, b"hello, alice\n"), "GET /hello/alice")
    r = s.get("/")
    eq((r.status, r.body), (200, b"index\n"), "GET / (mod_static)")
    p = s.run(["-M"])
    eq(p.returncode, 0, "cairnd -M")
    check(re.search(r"^example 1\.0\.0 %s$" % re.escape(build_example()),
                    p.stdout + p.stderr, re.MULTILINE),
          "-M does not list the out-of-tree module:\n" + p.stdout)


@test
def test_example_greeting():
    s = example_server("ExampleGreeting hi\n")
    r = s.get("/hello/alice")
    eq((r.status, r.body), (200, b"hi, alice\n"),
       "GET /hello/alice with ExampleGreeting hi")


def make_in_dest(target):
    dest, _ = installed()
    p = subprocess.run(["make", "-s", "-C", BUILDDIR, target,
                        "DESTDIR=" + dest],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=clean_env(),
                       timeout=600)
    out = p.stdout.decode(errors="replace")
    eq(p.returncode, 0, "make %s DESTDIR=%s exit status (output:\n%s)"
       % (target, dest, out[-4000:]))
    return out


def installed_conf():
    return find_one("**/etc/cairn/cairn.conf", "etc/cairn/cairn.conf")


def installed_server():
    """A server running the installed cairnd on the installed cairn.conf,
    with only what a DESTDIR install needs changed: its absolute paths
    (ModuleDir, DocumentRoot, PidFile, conf.d) moved under DESTDIR, and
    Listen on a free loopback port."""
    dest, _ = installed()
    conf = installed_conf()
    text = open(conf).read()
    m = re.search(r"^ModuleDir (\S+)$", text, re.MULTILINE)
    check(m, "the installed cairn.conf has no ModuleDir line:\n" + text)
    m = re.search(r"^\s*DocumentRoot (\S+)$", text, re.MULTILINE)
    check(m, "the installed cairn.conf has no DocumentRoot line:\n" + text)
    docroot = dest + m.group(1)
    check(os.path.isfile(os.path.join(docroot, "index.html")),
          "make install created no %s/index.html" % docroot)
    eq(len(re.findall(r"^Listen ", text, re.MULTILINE)), 1,
       "Listen lines in the installed cairn.conf")
    text = re.sub(r"^ModuleDir (\S+)$", lambda m: "ModuleDir " + dest
                  + m.group(1), text, flags=re.MULTILINE)
    text = re.sub(r"^(\s*)DocumentRoot (\S+)$", lambda m: m.group(1)
                  + "DocumentRoot " + dest + m.group(2), text,
                  flags=re.MULTILINE)
    # The PidFile's directory is made by make install, under DESTDIR.
    m = re.search(r"^PidFile (\S+)$", text, re.MULTILINE)
    check(m, "the installed cairn.conf has no PidFile line:\n" + text)
    check(os.path.isdir(dest + os.path.dirname(m.group(1))),
          "make install made no %s" % os.path.dirname(m.group(1)))
    text = re.sub(r"^PidFile (\S+)$", lambda m: "PidFile " + dest
                  + m.group(1), text, flags=re.MULTILINE)
    text = re.sub(r"^Listen .*$", "Listen 127.0.0.1:@PORT@", text,
                  flags=re.MULTILINE)
    text = text.replace("IncludeOptional conf.d/",
                        "IncludeOptional %s/conf.d/" % os.path.dirname(conf))
    cairnd = os.path.join(dest + installed()[1], "sbin", "cairnd")
    return Server(base=False, modules=(), cairnd=cairnd, conf=text,
                  workers=None)


@test
def test_install_output_quiet():
    installed()
    out = _state["install_output"]
    for bad in ("LD_LIBRARY_PATH", "libtool --finish",
                "Libraries have been installed"):
        check(bad not in out, "make install prints libtool's advice (%r):\n%s"
              % (bad, out[-3000:]))


@test
def test_installed_config_serves():
    s = installed_server()
    p = s.run(["-t"])
    eq(p.returncode, 0, "cairnd -t on the installed cairn.conf: exit status"
       " (%s)" % (p.stdout + p.stderr))
    out = (p.stdout + p.stderr).strip().splitlines()
    eq(len(out), 1, "lines printed by cairnd -t on the installed cairn.conf"
       " (%r)" % out)
    check(out[0].endswith("configuration OK"),
          "cairnd -t prints %r, not OK" % out[0])
    try:
        s.start()
    except Exception as e:
        if sanitizers():
            skip("the installed cairnd did not start in a sanitizer build "
                 "(%s)" % str(e).splitlines()[0])
        raise
    r = s.get("/")
    eq(r.status, 200, "GET / on the installed configuration")
    check(b"cairn is running" in r.body,
          "GET / is not the default page:\n%r" % r.body[:500])
    check(b"admin-guide.md" in r.body, "the default page names no docs")
    docdir = under("share/doc/cairn/modules")
    check(under("share/doc/cairn/modules/static.md"),
          "share/doc/cairn/modules/static.md is not installed (%s)" % docdir)
    confd = open(os.path.join(os.path.dirname(installed_conf()), "conf.d",
                              "10-static.conf")).read()
    check(re.search(r"/share/doc/cairn/modules/static\.md", confd),
          "the installed 10-static.conf does not name the installed "
          "README:\n" + confd[:400])
    check("@docdir@" not in confd, "@docdir@ left in the installed conf.d")


@test
def test_reinstall_keeps_changed_config():
    conf = installed_conf()
    confd = os.path.join(os.path.dirname(conf), "conf.d", "20-log.conf")
    shipped = open(conf).read()
    shipped_d = open(confd).read()
    with open(conf, "a") as f:
        f.write("# changed by the admin\n")
    out = make_in_dest("install")
    eq(open(conf).read(), shipped + "# changed by the admin\n",
       "cairn.conf after a second make install")
    check(os.path.exists(conf + ".default"),
          "a second make install wrote no cairn.conf.default")
    eq(open(conf + ".default").read(), shipped, "cairn.conf.default")
    eq([l for l in out.splitlines() if "cairn.conf.default" in l and
        "changed" in l].__len__(), 1,
       "lines of make install's output about cairn.conf.default "
       "(output:\n%s)" % out[-2000:])
    eq(open(confd).read(), shipped_d, "an unchanged conf.d file")
    check(not os.path.exists(confd + ".default"),
          "an unchanged conf.d file got a .default")
    # The default page exists now: a second install leaves it alone.
    check("no default page" in out, "make install does not say it keeps "
          "the existing DocumentRoot:\n" + out[-2000:])


@test
def test_prefix_install_serves():
    """./configure --prefix=DIR && make && make install, in a copy of the
    source tree: the installed cairnd -t on the installed cairn.conf,
    untouched but for its Listen (and its conf.d named by path, since the
    test runs a copy of it), prints only OK, and the server answers / with
    the default page from DIR/var/www/cairn."""
    if sanitizers():
        skip("built and run once, by the build without sanitizers")
    work = tmpdir("prefix")
    os.chmod(work, 0o755)
    src = os.path.join(work, "src")
    prefix = os.path.join(work, "inst")
    shutil.copytree(SRCDIR, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "fuzz-work", "*.o", "*.lo", "*.la", ".libs", ".deps",
        "autom4te.cache", "*.log", "*.trs"))
    # A distcheck's source tree is read-only, and so is a copy of it.
    subprocess.run(["chmod", "-R", "u+w", src], check=True)
    env = clean_env()

    def run(cmd, what, timeout=900):
        p = subprocess.run(cmd, cwd=src, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        if p.returncode != 0:
            fail("%s failed (exit %d):\n%s" % (what, p.returncode,
                 p.stdout.decode(errors="replace")[-4000:]))

    # A copy of a tree configured in place: make it pristine first.
    for left in ("config.status", "config.h", "Makefile"):
        path = os.path.join(src, left)
        if os.path.exists(path):
            os.remove(path)
    run(["./configure", "--prefix=" + prefix], "./configure --prefix")
    run(["make", "-j2"], "make")
    run(["make", "install"], "make install")
    conf = os.path.join(prefix, "etc", "cairn", "cairn.conf")
    check(os.path.exists(conf), "no %s" % conf)
    page = os.path.join(prefix, "var", "www", "cairn", "index.html")
    check(os.path.exists(page), "make install made no %s" % page)
    text = open(conf).read()
    check(prefix in text, "cairn.conf does not name the prefix:\n" + text)
    eq(len(re.findall(r"^Listen ", text, re.MULTILINE)), 1,
       "Listen lines in the installed cairn.conf")
    text = re.sub(r"^Listen .*$", "Listen 127.0.0.1:@PORT@", text,
                  flags=re.MULTILINE)
    # The test's copy of cairn.conf lives elsewhere: conf.d by its path.
    text = text.replace("IncludeOptional conf.d/",
                        "IncludeOptional %s/conf.d/" % os.path.dirname(conf))
    s = Server(base=False, modules=(), conf=text, workers=None,
               cairnd=os.path.join(prefix, "sbin", "cairnd"))
    p = s.run(["-t"])
    out = (p.stdout + p.stderr).strip().splitlines()
    eq((p.returncode, len(out)), (0, 1), "cairnd -t on the --prefix install "
       "(%r)" % out)
    check(out[0].endswith("configuration OK"), "cairnd -t prints %r" % out)
    s.start()
    r = s.get("/")
    eq(r.status, 200, "GET / on the --prefix install")
    check(b"cairn is running" in r.body,
          "GET / is not the default page:\n%r" % r.body[:500])
    s.stop()
    check(not os.path.exists(os.path.join(prefix, "var", "run",
                                          "cairn.pid")),
          "the PidFile is left after the server stopped")


@test
def test_uninstall_keeps_changed_config():
    # Last: it removes the install the other tests use.
    conf = installed_conf()
    check(open(conf).read().endswith("# changed by the admin\n"),
          "reinstall_keeps_changed_config did not run first")
    confd = os.path.join(os.path.dirname(conf), "conf.d")
    dest, prefix = installed()
    make_in_dest("uninstall")
    check(os.path.exists(conf), "make uninstall removed a changed cairn.conf")
    check(not os.path.exists(conf + ".default"),
          "make uninstall left cairn.conf.default")
    left = sorted(os.listdir(confd)) if os.path.isdir(confd) else []
    eq(left, [], "conf.d files left by make uninstall (all unchanged)")
    check(not under("sbin/cairnd"), "make uninstall left sbin/cairnd")
    pages = sorted(glob.glob(os.path.join(dest, "**", "www", "cairn",
                                          "index.html"), recursive=True))
    eq(pages, [], "default pages left by make uninstall")
    _state["install_error"] = "the install was removed by make uninstall"


if __name__ == "__main__":
    main()
