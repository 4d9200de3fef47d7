#!/usr/bin/env python3
"""mod_auth: Basic and Bearer authentication, Require rules, the
credential cache, file reloads, and a flood of wrong passwords."""

import base64
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import time

from cairntest import (Server, check, contains, eq, fail, main, matches,
                       module_path, not_contains, output, run_cairnd,
                       slow_factor, test, tmpdir)

if module_path("auth") is None:
    print("1..0 # SKIP mod_auth was not built")
    sys.exit(77)

BODY = "secret page\n"
PUBLIC = "public page\n"

HS_SECRET = "k3y-for-tests-0123456789-abcdefghijklmnopqrstuvwxyz"
TOKEN = "tok-0f9e8d7c6b5a49382716"


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------

def run(cmd, data=None):
    p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(p.returncode == 0, "%s failed: %s" % (" ".join(cmd),
                                               p.stderr.decode()))
    return p.stdout


def htpasswd_line(kind, user, password):
    """One line of a password file made by the real tools."""
    if kind == "bcrypt":
        out = run(["htpasswd", "-n", "-b", "-B", "-C", "5", user, password])
        return out.decode().strip()
    if kind in ("sha-512", "sha-256", "yescrypt"):
        h = run(["mkpasswd", "-m", kind, "--stdin"],
                data=password.encode()).decode().strip()
        return "%s:%s" % (user, h)
    if kind == "apr1":
        return run(["htpasswd", "-n", "-b", "-m", user,
                    password]).decode().strip()
    if kind == "sha1":
        return run(["htpasswd", "-n", "-b", "-s", user,
                    password]).decode().strip()
    if kind == "plain":
        return run(["htpasswd", "-n", "-b", "-p", user,
                    password]).decode().strip()
    if kind == "des":
        return run(["htpasswd", "-n", "-b", "-d", user,
                    password]).decode().strip()
    fail("unknown hash kind %s" % kind)


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode("utf-8")
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token):
    return {"Authorization": "Bearer " + token}


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(der):
    """ECDSA-Sig-Value (DER) to the JWS form r || s, 32 bytes each."""
    check(der[0] == 0x30, "not a DER sequence")
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        check(der[i] == 0x02, "not a DER integer")
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += v.rjust(32, b"\x00")
        i += 2 + n
    return out


class Keys:
    """Signing keys made with the openssl command line."""

    def __init__(self, d):
        self.dir = d
        self.rsa = os.path.join(d, "rsa.pem")
        self.rsa_pub = os.path.join(d, "rsa-pub.pem")
        self.ec = os.path.join(d, "ec.pem")
        self.ec_pub = os.path.join(d, "ec-pub.pem")
        self.secret = os.path.join(d, "hs.key")
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
             "rsa_keygen_bits:2048", "-out", self.rsa])
        run(["openssl", "pkey", "-in", self.rsa, "-pubout", "-out",
             self.rsa_pub])
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", self.ec])
        run(["openssl", "pkey", "-in", self.ec, "-pubout", "-out",
             self.ec_pub])
        with open(self.secret, "w") as f:
            f.write(HS_SECRET + "\n")

    def sign(self, alg, header, claims, hmac_key=None):
        h = b64url(json.dumps(header)) if isinstance(header, dict) \
            else b64url(header)
        p = b64url(json.dumps(claims))
        data = ("%s.%s" % (h, p)).encode()
        if alg == "HS256":
            key = (hmac_key or HS_SECRET.encode()).hex()
            sig = run(["openssl", "dgst", "-sha256", "-mac", "HMAC",
                       "-macopt", "hexkey:" + key, "-binary"], data)
        elif alg == "RS256":
            sig = run(["openssl", "dgst", "-sha256", "-sign", self.rsa,
                       "-binary"], data)
        elif alg == "ES256":
            sig = der_to_raw(run(["openssl", "dgst", "-sha256", "-sign",
                                  self.ec, "-binary"], data))
        else:
            sig = b""
        return "%s.%s" % (data.decode(), b64url(sig))

    def jwt(self, alg, **claims):
        return self.sign(alg, {"alg": alg, "typ": "JWT"}, claims)


_keys = None


def keys():
    global _keys
    if _keys is None:
        _keys = Keys(tmpdir("auth-keys"))
    return _keys


def auth_server(conf, users=(), tokens=(), log=False, workers=1):
    """A server with mod_auth; users are (kind, name, password)."""
    mods = ("static", "auth", "log") if log else ("static", "auth")
    s = Server(conf=conf, modules=mods, workers=workers)
    s.write("index.html", PUBLIC)
    for d in ("basic", "bearer", "nest", "nest/inner", "nest/open",
              "nest/admin", "ip", "denied", "claim", "combo", "any"):
        s.write(d + "/index.html", BODY)
    lines = [htpasswd_line(kind, name, pw) for kind, name, pw in users]
    s.write_tmp("htpasswd", "\n".join(lines) + "\n")
    tl = ["%s:%s" % (u, hashlib.sha256(t.encode()).hexdigest())
          for u, t in tokens]
    s.write_tmp("tokens", "# user:sha256-hex\n" + "\n".join(tl) + "\n")
    return s


BASIC_CONF = """
<Location /basic>
    AuthType Basic
    AuthName "Test \\"realm\\""
    AuthUserFile @TMP@/htpasswd
    Require valid-user
</Location>
"""


def challenge(r):
    return r.header("WWW-Authenticate")


# ----------------------------------------------------------------------
# Basic
# ----------------------------------------------------------------------

@test
def test_basic_hashes():
    users = [("bcrypt", "bea", "pw-bcrypt"),
             ("sha-512", "sam", "pw-sha512"),
             ("sha-256", "sid", "pw-sha256"),
             ("yescrypt", "yve", "pw-yescrypt"),
             ("bcrypt", "j\u00fcrgen", "p\u00e4ss:word")]
    # Long headers reach the module (its own bound is 8 KiB).
    s = auth_server(BASIC_CONF + "LimitRequestFieldSize 65536\n",
                    users=users).start()

    r = s.get("/index.html")
    eq(r.status, 200, "public page without credentials")

    r = s.get("/basic/")
    eq(r.status, 401, "no credentials")
    eq(challenge(r), 'Basic realm="Test \\"realm\\"", charset="UTF-8"',
       "WWW-Authenticate")

    for _, name, pw in users:
        r = s.get("/basic/", headers=basic(name, pw))
        eq(r.status, 200, "right password of %s" % name)
        eq(r.text, BODY, "body")
        r = s.get("/basic/", headers=basic(name, pw + "x"))
        eq(r.status, 401, "wrong password of %s" % name)
        check(challenge(r).startswith("Basic "), "challenge after a wrong "
              "password: %r" % challenge(r))
        # Cached now: still only the right password passes.
        r = s.get("/basic/", headers=basic(name, pw))
        eq(r.status, 200, "right password of %s again" % name)
        r = s.get("/basic/", headers=basic(name, pw[:-1]))
        eq(r.status, 401, "wrong password of %s after a cached one" % name)

    r = s.get("/basic/", headers=basic("nobody", "pw-bcrypt"))
    eq(r.status, 401, "unknown user")

    for h in ("Basic", "Basic !!!", "Basic " + b64url("bea"),
              "Basic " + base64.b64encode(b":pw").decode(),
              "Basic " + "QUFB" * 5000, "Digest abc"):
        r = s.get("/basic/", headers={"Authorization": h})
        eq(r.status, 401, "malformed Authorization %r" % h[:40])
    s.assert_serving("/index.html", 200)


@test
def test_credential_cache():
    """A verified password is not hashed again within AuthCacheTTL; a
    wrong one always is; AuthCacheTTL 0 turns the cache off."""
    line = run(["htpasswd", "-n", "-b", "-B", "-C", "12", "slow",
                "pw"]).decode().strip()
    conf = BASIC_CONF + """
<Location /nest>
    AuthType Basic
    AuthUserFile @TMP@/htpasswd
    AuthCacheTTL 0
    Require valid-user
</Location>
"""
    s = auth_server(conf)
    s.write_tmp("htpasswd", line + "\n")
    s.start()

    def timed(path, pw):
        t0 = time.monotonic()
        st = s.get(path, headers=basic("slow", pw)).status
        return st, time.monotonic() - t0

    st, first = timed("/basic/", "pw")
    eq(st, 200, "first request")
    st, wrong = timed("/basic/", "px")
    eq(st, 401, "wrong password")
    hits = []
    for _ in range(3):
        st, t = timed("/basic/", "pw")
        eq(st, 200, "cached request")
        hits.append(t)
    st, off = timed("/nest/", "pw")
    eq(st, 200, "AuthCacheTTL 0")
    st, off2 = timed("/nest/", "pw")
    eq(st, 200, "AuthCacheTTL 0 again")
    print("# bcrypt cost 12: first %.1f ms, wrong %.1f ms, cached %.1f ms, "
          "uncached %.1f ms" % (first * 1000, wrong * 1000,
                                min(hits) * 1000, off2 * 1000))
    # A bcrypt check at cost 12 takes about 200 ms, a cached answer well
    # under a millisecond: compare with the cached answers, not with one
    # hash time, which a loaded machine stretches.
    fast = max(hits)
    check(fast * 5 < first, "cached requests (%s) are not much faster "
          "than the first (%.3f s)" % (hits, first))
    check(wrong > fast * 5, "a wrong password was answered from a cache")
    check(off2 > fast * 5, "AuthCacheTTL 0 still caches")


@test
def test_basic_file_reload():
    s = auth_server(BASIC_CONF + "LogLevel info\n",
                    users=[("bcrypt", "ann", "old-pw")]).start()
    eq(s.get("/basic/", headers=basic("ann", "old-pw")).status, 200,
       "ann with the old password")

    # Changed on disk: new password, a new user; no reload.
    time.sleep(1.1)
    lines = [htpasswd_line("bcrypt", "ann", "new-pw"),
             htpasswd_line("yescrypt", "ben", "ben-pw")]
    s.write_tmp("htpasswd", "\n".join(lines) + "\n")
    deadline = time.monotonic() + 5
    while s.get("/basic/", headers=basic("ben", "ben-pw")).status != 200:
        check(time.monotonic() < deadline, "the new user never worked; "
              "log:\n" + s.log_tail())
        time.sleep(0.2)
    eq(s.get("/basic/", headers=basic("ann", "new-pw")).status, 200,
       "ann with the new password")
    eq(s.get("/basic/", headers=basic("ann", "old-pw")).status, 401,
       "ann with the old (cached) password after the change")

    # A broken file keeps the users read before and logs why.
    time.sleep(1.1)
    s.write_tmp("htpasswd", lines[0] + "\neve:plaintext\n")
    pattern = r"htpasswd:2: .*eve.*keeping the 2 entries"
    deadline = time.monotonic() + 5
    while not re.search(pattern, s.log()):
        check(time.monotonic() < deadline, "no log line about the broken "
              "file; log:\n" + s.log_tail())
        s.get("/basic/", headers=basic("ben", "ben-pw"))
        time.sleep(0.2)
    eq(s.get("/basic/", headers=basic("ben", "ben-pw")).status, 200,
       "ben after a broken change")
    eq(s.get("/basic/", headers=basic("eve", "plaintext")).status, 401,
       "eve of the broken file")


@test
def test_unsupported_hashes_refused():
    for kind, what in (("apr1", "$apr1$"), ("sha1", "{SHA}"),
                       ("plain", "plain-text"), ("des", "DES")):
        s = auth_server(BASIC_CONF,
                        users=[("bcrypt", "good", "pw"), (kind, "bad", "pw")])
        p = s.run(["-t"])
        eq(p.returncode, 1, "-t with a %s hash" % kind)
        path = s.path("htpasswd")
        contains(p.stderr, "%s:2: " % path, "stderr of -t")
        contains(p.stderr, what, "stderr of -t")
        contains(p.stderr, "htpasswd -B %s bad" % path, "stderr of -t")
        contains(p.stderr, "configuration test failed", "stderr of -t")
        s.cleanup()


@test
def test_config_errors():
    cases = [
        ("<Location /x>\nRequire valid-user\n</Location>\n",
         "need AuthType"),
        ("<Location /x>\nAuthType Basic\nRequire valid-user\n</Location>\n",
         "needs AuthUserFile"),
        ("<Location /x>\nAuthType Bearer\nRequire valid-user\n</Location>\n",
         "needs AuthTokenFile"),
        ("<Location /x>\nAuthType Digest\n</Location>\n", "AuthType"),
        ("<Location /x>\nRequire ip 10.0.0.300\n</Location>\n",
         "not an IPv4 or IPv6"),
        ("<Location /x>\nRequire nobody\n</Location>\n",
         "unknown Require rule"),
        ("<Location /x>\n<RequireAll>\n</RequireAll>\n</Location>\n",
         "holds no Require rule"),
        ("<Location /x>\nAuthType Basic\nAuthUserFile @TMP@/nope\n"
         "Require valid-user\n</Location>\n", "nope"),
        ("<Location /x>\nAuthType Bearer\nAuthJWTKey @TMP@/short\n"
         "Require valid-user\n</Location>\n", "at least 32"),
        ("<Location /x>\nAuthType Bearer\nAuthJWTPublicKey @TMP@/short\n"
         "Require valid-user\n</Location>\n", "no PEM public key"),
    ]
    for conf, want in cases:
        s = auth_server(conf)
        s.write_tmp("short", "abc\n")
        p = s.run(["-t"])
        eq(p.returncode, 1, "-t of %r" % conf)
        contains(p.stderr, want, "stderr of -t for %r" % conf)
        s.cleanup()


# ----------------------------------------------------------------------
# Require
# ----------------------------------------------------------------------

NEST_CONF = """
<Location /nest>
    AuthType Basic
    AuthName outer
    AuthUserFile @TMP@/htpasswd
    Require user ann
</Location>
<Location /nest/inner>
    Require user bob
</Location>
<Location /nest/open>
    Require all granted
</Location>
<Location /nest/admin>
    AuthName admins
    <RequireAll>
        Require valid-user
        <RequireAny>
            Require user ann
            Require user carl
        </RequireAny>
        Require ip 127.0.0.0/8 ::1
    </RequireAll>
</Location>
<Location /ip>
    Require ip 10.0.0.0/8 ::ffff:192.168.0.0/112
    Require ip 127.0.0.1
</Location>
<Location /denied>
    Require ip 10.0.0.0/8 2001:db8::/32
</Location>
<Location /combo>
    AuthType Basic
    AuthUserFile @TMP@/htpasswd
    <RequireAll>
        Require valid-user
        Require all denied
    </RequireAll>
</Location>
<Location /any>
    AuthType Basic
    AuthUserFile @TMP@/htpasswd
    Require valid-user
    Require ip 127.0.0.1
</Location>
"""


@test
def test_require_nested():
    users = [("bcrypt", "ann", "a"), ("bcrypt", "bob", "b"),
             ("bcrypt", "carl", "c"), ("bcrypt", "dora", "d")]
    s = auth_server(NEST_CONF, users=users).start()

    def st(path, who=None):
        h = basic(who, who[0]) if who else None
        return s.get(path, headers=h).status

    eq(st("/nest/"), 401, "/nest/ anonymous")
    eq(challenge(s.get("/nest/")),
       'Basic realm="outer", charset="UTF-8"', "challenge")
    eq(st("/nest/", "ann"), 200, "/nest/ ann")
    eq(st("/nest/", "bob"), 403, "/nest/ bob")
    # The inner location's rules replace the outer ones.
    eq(st("/nest/inner/", "bob"), 200, "/nest/inner/ bob")
    eq(st("/nest/inner/", "ann"), 403, "/nest/inner/ ann")
    eq(st("/nest/inner/"), 401, "/nest/inner/ anonymous")
    eq(st("/nest/open/"), 200, "/nest/open/ anonymous")
    eq(st("/nest/admin/", "ann"), 200, "/nest/admin/ ann")
    eq(st("/nest/admin/", "carl"), 200, "/nest/admin/ carl")
    eq(st("/nest/admin/", "dora"), 403, "/nest/admin/ dora")
    r = s.get("/nest/admin/")
    eq(r.status, 401, "/nest/admin/ anonymous")
    eq(challenge(r), 'Basic realm="admins", charset="UTF-8"',
       "challenge of /nest/admin/")
    # cairnd -T --explain shows the rules that apply, and only those.
    p = s.run(["-T", "--explain", "localhost", "/nest/admin/x"])
    eq(p.returncode, 0, "-T --explain\n" + output(p))
    text = p.stdout
    contains(text, "Require user carl", "the inner rules")
    outer = [l for l in text.splitlines()
             if "Require" in l and "(<Location /nest>)" in l]
    eq(outer, [], "Require lines of the outer location")
    eq(text.count("<RequireAll>"), 1, "<RequireAll> once\n" + text)
    p = s.run(["-T", "--explain", "localhost", "/ip/"])
    contains(p.stdout, "Require ip 10.0.0.0/8 ::ffff:192.168.0.0/112",
             "first line of /ip")
    contains(p.stdout, "Require ip 127.0.0.1", "second line of /ip")
    # Address rules need no AuthType; 403 without asking for a password.
    eq(st("/ip/"), 200, "/ip/ from 127.0.0.1")
    r = s.get("/denied/")
    eq(r.status, 403, "/denied/ from 127.0.0.1")
    eq(challenge(r), None, "no challenge for an address rule")
    eq(st("/combo/", "ann"), 403, "valid-user and all denied")
    eq(st("/any/"), 200, "valid-user or the client's address")
    eq(st("/index.html"), 200, "no Require: no auth")


# ----------------------------------------------------------------------
# Bearer
# ----------------------------------------------------------------------

BEARER_CONF = """
<Location /bearer>
    AuthType Bearer
    AuthName api
    AuthTokenFile @TMP@/tokens
    AuthJWTKey @TMP@/hs.key
    AuthJWTIssuer https://issuer.test
    AuthJWTAudience cairn other
    AuthJWTLeeway 5
    Require valid-user
</Location>
<Location /claim>
    AuthType Bearer
    AuthJWTPublicKey @TMP@/rsa-pub.pem
    Require claim groups ops
    Require claim role admin
</Location>
<Location /nest>
    AuthType Bearer
    AuthJWTPublicKey @TMP@/ec-pub.pem
    Require valid-user
</Location>
"""


def bearer_server(log=False, extra=""):
    k = keys()
    s = auth_server(BEARER_CONF + extra, tokens=[("svc", TOKEN)], log=log)
    for name in ("hs.key", "rsa-pub.pem", "ec-pub.pem"):
        with open(os.path.join(k.dir, name), "rb") as f:
            s.write_tmp(name, f.read())
    return s


@test
def test_bearer_tokens_and_jwt():
    k = keys()
    s = bearer_server().start()
    now = int(time.time())
    good = dict(iss="https://issuer.test", aud="cairn", sub="ann",
                exp=now + 600)

    r = s.get("/bearer/")
    eq(r.status, 401, "no token")
    eq(challenge(r), 'Bearer realm="api"', "challenge without a token")
    r = s.get("/bearer/", headers=basic("svc", TOKEN))
    eq(r.status, 401, "Basic credentials at a Bearer location")
    eq(challenge(r), 'Bearer realm="api"', "challenge for another scheme")

    eq(s.get("/bearer/", headers=bearer(TOKEN)).status, 200, "file token")
    r = s.get("/bearer/", headers=bearer(TOKEN + "x"))
    eq(r.status, 401, "wrong file token")
    eq(challenge(r), 'Bearer realm="api", error="invalid_token"',
       "challenge with a bad token")

    eq(s.get("/bearer/", headers=bearer(k.jwt("HS256", **good))).status,
       200, "HS256")
    arr = dict(good, aud=["x", "other"])
    eq(s.get("/bearer/", headers=bearer(k.jwt("HS256", **arr))).status,
       200, "aud array")

    bad = {
        "expired": k.jwt("HS256", **dict(good, exp=now - 60)),
        "not yet valid": k.jwt("HS256", **dict(good, nbf=now + 60)),
        "wrong issuer": k.jwt("HS256", **dict(good, iss="https://evil")),
        "wrong audience": k.jwt("HS256", **dict(good, aud="nope")),
        "wrong audience array": k.jwt("HS256", **dict(good, aud=["a", "b"])),
        "no audience": k.jwt("HS256", iss=good["iss"], exp=now + 60),
        "wrong key": k.sign("HS256", {"alg": "HS256"}, good,
                            hmac_key=b"another-secret-another-secret-xx"),
        "alg none": k.sign("none", {"alg": "none"}, good),
        "RS256 for an HS256 location": k.jwt("RS256", **good),
        "bad base64": k.jwt("HS256", **good).replace(".", ".*", 1),
        "two segments": ".".join(k.jwt("HS256", **good).split(".")[:2]),
        "four segments": k.jwt("HS256", **good) + ".e30",
        # Time claims that would overflow exp + leeway, or make no sense.
        "exp INT64_MAX": k.jwt("HS256", **dict(good, exp=2 ** 63 - 1)),
        "exp INT64_MAX - 1": k.jwt("HS256", **dict(good, exp=2 ** 63 - 2)),
        "exp 1e300": k.jwt("HS256", **dict(good, exp=1e300)),
        "exp -1": k.jwt("HS256", **dict(good, exp=-1)),
        "nbf INT64_MIN": k.jwt("HS256", **dict(good, nbf=-2 ** 63)),
        "iat INT64_MAX": k.jwt("HS256", **dict(good, iat=2 ** 63 - 1)),
    }
    t = k.jwt("HS256", **good)
    h, p, sig = t.split(".")
    tampered = b64url(json.dumps(dict(good, sub="admin")))
    bad["tampered"] = "%s.%s.%s" % (h, tampered, sig)
    for what, tok in bad.items():
        r = s.get("/bearer/", headers=bearer(tok))
        eq(r.status, 401, what)
        eq(challenge(r), 'Bearer realm="api", error="invalid_token"',
           "challenge for %s" % what)
    # Within the leeway.
    eq(s.get("/bearer/", headers=bearer(
        k.jwt("HS256", **dict(good, exp=now - 2)))).status, 200,
       "expired within the leeway")

    # RS256 and ES256 locations; the algorithm comes from the key.
    claims = dict(sub="ops1", groups=["dev", "ops"], exp=now + 600)
    eq(s.get("/claim/", headers=bearer(k.jwt("RS256", **claims))).status,
       200, "RS256 with groups ops")
    eq(s.get("/claim/", headers=bearer(k.jwt("RS256", sub="x",
                                            role="admin"))).status,
       200, "RS256 with role admin")
    eq(s.get("/claim/", headers=bearer(k.jwt("RS256", sub="x",
                                            groups=["dev"]))).status,
       403, "RS256 without the claims")
    eq(s.get("/claim/", headers=bearer(k.jwt("ES256", **claims))).status,
       401, "ES256 at an RS256 location")
    # Algorithm confusion: HS256 keyed with the RSA public key's PEM.
    with open(k.rsa_pub, "rb") as f:
        pem = f.read()
    conf = k.sign("HS256", {"alg": "HS256"}, claims, hmac_key=pem)
    eq(s.get("/claim/", headers=bearer(conf)).status, 401,
       "HS256 signed with the public key")
    eq(s.get("/nest/", headers=bearer(k.jwt("ES256", sub="e"))).status,
       200, "ES256")
    eq(s.get("/nest/", headers=bearer(k.jwt("RS256", sub="e"))).status,
       401, "RS256 at an ES256 location")
    s.assert_serving("/index.html", 200)


# ----------------------------------------------------------------------
# Logs
# ----------------------------------------------------------------------

@test
def test_logs_show_user_not_secrets():
    k = keys()
    now = int(time.time())
    extra = (BASIC_CONF + "LogLevel debug\n"
             "LogFormat claims \"%u %{user_claims}n\"\n"
             "AccessLog @TMP@/access.json json\n"
             "AccessLog @TMP@/access.log combined\n"
             "AccessLog @TMP@/claims.log claims\n")
    s = bearer_server(log=True, extra=extra)
    s.write_tmp("htpasswd", htpasswd_line("bcrypt", "ann", "Pa55-ann-word")
                + "\n")
    s.start()
    jwt = k.jwt("HS256", iss="https://issuer.test", aud="cairn",
                sub="jwt-user", exp=now + 600)
    eq(s.get("/basic/", headers=basic("ann", "Pa55-ann-word")).status, 200,
       "ann")
    eq(s.get("/basic/", headers=basic("ann", "Wr0ng-ann-word")).status,
       401, "ann, wrong")
    eq(s.get("/bearer/", headers=bearer(jwt)).status, 200, "jwt")
    eq(s.get("/bearer/", headers=bearer(TOKEN)).status, 200, "token")
    eq(s.get("/bearer/", headers=bearer(jwt + "x")).status, 401, "bad jwt")
    eq(s.get("/bearer/", headers=bearer(TOKEN + "zz")).status, 401,
       "bad token")

    deadline = time.monotonic() + 5
    while True:
        try:
            with open(s.path("access.json")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        if len(lines) >= 6:
            break
        check(time.monotonic() < deadline, "access log has %d lines"
              % len(lines))
        time.sleep(0.1)
    users = [json.loads(l).get("user") for l in lines]
    eq(users[0], "ann", "JSON user of the Basic request")
    eq(users[2], "jwt-user", "JSON user of the JWT request")
    eq(users[3], "svc", "JSON user of the token request")
    with open(s.path("access.log")) as f:
        comb = f.read().splitlines()
    eq(comb[0].split(" ")[2], "ann", "%u in combined")
    eq(comb[2].split(" ")[2], "jwt-user", "%u in combined")
    with open(s.path("claims.log")) as f:
        cl = f.read().splitlines()
    contains(cl[2], "jwt-user {", "user_claims note")
    contains(cl[2], "https://issuer.test", "user_claims note")

    s.stop()
    log = s.log()
    contains(log, "authentication failed", "error log")
    for secret in ("Pa55-ann-word", "Wr0ng-ann-word", TOKEN, jwt[-20:],
                   HS_SECRET, base64.b64encode(b"ann:Pa55-ann-word").decode()):
        not_contains(log, secret, "error log")


# ----------------------------------------------------------------------
# A flood of wrong passwords
# ----------------------------------------------------------------------

@test
def test_flood_of_wrong_passwords():
    s = auth_server(BASIC_CONF + "MaxConnections 2000\n",
                    users=[("bcrypt", "ann", "right")]).start()
    import http.client

    def one(path, headers):
        t0 = time.monotonic()
        hc = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        try:
            hc.request("GET", path, headers=headers or {})
            r = hc.getresponse()
            r.read()
            return r.status, time.monotonic() - t0
        finally:
            hc.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=80) as ex:
        wrong = [ex.submit(one, "/basic/", basic("ann", "wrong-%d" % i))
                 for i in range(500)]
        time.sleep(0.05)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex2:
            public = list(ex2.map(lambda i: one("/index.html", None),
                                  range(200)))
        flood = [f.result() for f in wrong]

    bad = [st for st, _ in public if st != 200]
    eq(len(bad), 0, "failed public requests")
    eq(sum(1 for st, _ in flood if st == 401), 500, "401s of the flood")
    lat = sorted(d for _, d in public)
    p99 = lat[int(len(lat) * 0.99) - 1]
    print("# public p99 during the flood: %.1f ms (max %.1f ms, "
          "flood took up to %.0f ms)" % (p99 * 1000, lat[-1] * 1000,
                                          max(d for _, d in flood) * 1000))
    check(p99 < 0.2 * slow_factor(), "p99 of the public requests is %.1f "
          "ms" % (p99 * 1000))
    eq(s.get("/basic/", headers=basic("ann", "right")).status, 200,
       "the right password after the flood")


if __name__ == "__main__":
    main()
