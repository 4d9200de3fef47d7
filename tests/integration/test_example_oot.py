"""A module built out of tree: `make install DESTDIR=…`, then build
modules/example/mod_example.c against the installed headers with
pkg-config, load it by path into the installed cairnd, and check the
layout of the installed tree."""

import atexit
import glob
import os
import re
import shutil
import subprocess
import tempfile

from cairntest import (Server, SRCDIR, BUILDDIR, check, eq, fail, main,
                       need_modules, sanitizers, skip, test)

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
    dest = tempfile.mkdtemp(prefix="cairntest.install.")
    _state["destdir"] = dest
    p = subprocess.run(["make", "-s", "-C", BUILDDIR, "install",
                        "DESTDIR=" + dest],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=clean_env(),
                       timeout=600)
    if p.returncode != 0:
        fail("make install DESTDIR=%s failed (exit %d):\n%s"
             % (dest, p.returncode, p.stdout.decode(errors="replace")[-4000:]))
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
    work = tempfile.mkdtemp(prefix="cairntest.oot.")
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


def _remove_temporaries():
    for k in ("destdir", "work"):
        if k in _state:
            shutil.rmtree(_state[k], ignore_errors=True)


atexit.register(_remove_temporaries)


if __name__ == "__main__":
    main()
