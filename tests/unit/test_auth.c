/*
 * tests/unit/test_auth.c: modules/auth/auth_util.c, auth_jwt.c and
 * auth_require.c.
 */

#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "unit.h"

#include "auth/auth.h"


static cairn_arena_t  *arena;
static char            fixture[64];


static void
setup(void)
{
    arena = cairn_arena_create(0);
    fixture[0] = '\0';
}


static void
teardown(void)
{
    cairn_arena_destroy(arena);
    arena = NULL;
    if (fixture[0] != '\0') {
        unlink(fixture);
    }
}


/* Writes text to a fresh file under /tmp, removed by teardown(). */
static const char *
write_fixture(const char *text)
{
    FILE  *f;
    int    fd;

    strcpy(fixture, "/tmp/cairn-test-auth.XXXXXX");
    fd = mkstemp(fixture);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);

    return fixture;
}


/* ------------------------------------------------------------------ */
/* Basic credentials and base64                                       */
/* ------------------------------------------------------------------ */

static int
basic(const char *header, const char **user, const char **pw)
{
    return mod_auth_basic_parse(arena, header, user, pw);
}


START_TEST(basic_good)
{
    const char  *u, *p;

    ck_assert_int_eq(basic("Basic YWxpY2U6c2VjcmV0", &u, &p), 0);
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(p, "secret");

    /* The scheme in any case, extra blanks, a ':' in the password. */
    ck_assert_int_eq(basic("bAsIc   YWxpY2U6c2U6Y3JldA==  ", &u, &p), 0);
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(p, "se:cret");

    /* UTF-8 user names are kept as they are. */
    ck_assert_int_eq(basic("Basic asO8cmdlbjpwdw==", &u, &p), 0);
    ck_assert_str_eq(u, "j\xc3\xbcrgen");
    ck_assert_str_eq(p, "pw");
}
END_TEST


START_TEST(basic_bad)
{
    const char  *u, *p;
    char        *big;

    ck_assert_int_eq(basic(NULL, &u, &p), -1);
    ck_assert_int_eq(basic("Bearer YWxpY2U6c2VjcmV0", &u, &p), -1);
    ck_assert_int_eq(basic("BasicYWxpY2U6c2VjcmV0", &u, &p), -1);
    ck_assert_int_eq(basic("Basic ", &u, &p), -1);
    /* Not base64: bad characters, bad length, bad padding. */
    ck_assert_int_eq(basic("Basic !!!!", &u, &p), -1);
    ck_assert_int_eq(basic("Basic YWxpY2U6c2VjcmV", &u, &p), -1);
    ck_assert_int_eq(basic("Basic YR==", &u, &p), -1);
    ck_assert_int_eq(basic("Basic YWxp Y2U6", &u, &p), -1);
    /* No colon, empty user, a control character. */
    ck_assert_int_eq(basic("Basic YWxpY2U=", &u, &p), -1);
    ck_assert_int_eq(basic("Basic OnB3", &u, &p), -1);
    ck_assert_int_eq(basic("Basic YQFiOnB3", &u, &p), -1);

    /* A very long header. */
    big = cairn_arena_alloc(arena, 20010);
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'A', 20000);
    big[20006] = '\0';
    ck_assert_int_eq(basic(big, &u, &p), -1);
}
END_TEST


START_TEST(base64url)
{
    unsigned char  out[64];
    char           enc[64];
    size_t         n;

    ck_assert_int_eq(cairn_base64_decode("SGVsbG8", 7, out, 1), 5);
    ck_assert_str_eq((char *) out, "Hello");
    ck_assert_int_eq(cairn_base64_decode("-_-_", 4, out, 1), 3);
    ck_assert_int_eq(out[0], 0xfb);
    ck_assert_int_eq(out[1], 0xff);
    ck_assert_int_eq(out[2], 0xbf);

    /* Standard alphabet and padding are not base64url. */
    ck_assert_int_eq(cairn_base64_decode("+/+/", 4, out, 1), -1);
    ck_assert_int_eq(cairn_base64_decode("SGVsbG8=", 8, out, 1), -1);
    /* One character left over, non-zero padding bits. */
    ck_assert_int_eq(cairn_base64_decode("SGVsb", 5, out, 1), -1);
    ck_assert_int_eq(cairn_base64_decode("SGVsbG9", 7, out, 1), -1);
    ck_assert_int_eq(cairn_base64_decode("", 0, out, 1), 0);

    n = cairn_base64_encode("\xfb\xff\xbf\x01", 4, enc, 1);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(enc, "-_-_AQ");
}
END_TEST


START_TEST(bearer_token)
{
    ck_assert_str_eq(mod_auth_bearer_token("Bearer abc.def-_~+/=="),
                     "abc.def-_~+/==");
    ck_assert_str_eq(mod_auth_bearer_token("bearer  x"), "x");
    ck_assert_ptr_null(mod_auth_bearer_token("Bearer "));
    ck_assert_ptr_null(mod_auth_bearer_token("Bearer a b"));
    ck_assert_ptr_null(mod_auth_bearer_token("Bearer a\"b"));
    ck_assert_ptr_null(mod_auth_bearer_token("Basic abc"));
    ck_assert_ptr_null(mod_auth_bearer_token(NULL));
}
END_TEST


START_TEST(streq_ct)
{
    ck_assert_int_eq(mod_auth_streq_ct("abc", "abc"), 1);
    ck_assert_int_eq(mod_auth_streq_ct("abc", "abd"), 0);
    ck_assert_int_eq(mod_auth_streq_ct("abc", "abcd"), 0);
    ck_assert_int_eq(mod_auth_streq_ct("", ""), 1);
}
END_TEST


/* ------------------------------------------------------------------ */
/* Files and hashes                                                   */
/* ------------------------------------------------------------------ */

static char *
make_hash(const char *prefix, const char *password)
{
    char  salt[CRYPT_GENSALT_OUTPUT_SIZE];
    char  *h;

    ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
                                           sizeof(salt)));
    h = crypt(password, salt);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_ne(h[0], '*');

    return cairn_arena_strdup(arena, h);
}


START_TEST(passwd_file)
{
    mod_auth_table_t        *t;
    const mod_auth_entry_t  *e;
    char                     err[MOD_AUTH_ERR_MAX];
    char                    *text;

    text = cairn_arena_printf(arena,
                              "# users\n\n"
                              "carol:%s\n"
                              "alice:%s\n"
                              "  bob:%s:extra field\r\n",
                              make_hash("$y$", "pw-carol"),
                              make_hash("$2b$", "pw-alice"),
                              make_hash("$6$", "pw-bob"));
    t = mod_auth_table_load(write_fixture(text), MOD_AUTH_FILE_PASSWD, err,
                            sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_uint_eq(t->n, 3);

    e = mod_auth_table_find(t, "alice");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(mod_auth_crypt_check("pw-alice", e->secret), 1);
    ck_assert_int_eq(mod_auth_crypt_check("pw-alicE", e->secret), 0);
    e = mod_auth_table_find(t, "bob");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(mod_auth_crypt_check("pw-bob", e->secret), 1);
    ck_assert_int_eq(mod_auth_crypt_check("", e->secret), 0);
    e = mod_auth_table_find(t, "carol");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(mod_auth_crypt_check("pw-carol", e->secret), 1);
    ck_assert_int_eq(mod_auth_crypt_check("pw-bob", e->secret), 0);
    ck_assert_ptr_null(mod_auth_table_find(t, "dave"));

    mod_auth_table_free(t);
}
END_TEST


START_TEST(passwd_refused)
{
    static const struct {
        const char  *line;
        const char  *want;
    }             cases[] = {
        { "plain:secret\n", "plain-text" },
        { "md5:$apr1$xyz$0123456789abcdefghijkl\n", "$apr1$" },
        { "sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "{SHA}" },
        { "des:abJnggxhB/yWI\n", "DES" },
        { "md5crypt:$1$abc$0123456789abcdefghijkl\n", "MD5-crypt" },
        { "nocolon\n", "not \"user:hash\"" },
    };
    mod_auth_table_t  *t;
    char               err[MOD_AUTH_ERR_MAX], want[128];
    const char        *path;
    char              *text;
    size_t             i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        text = cairn_arena_printf(arena, "ok:%s\n# comment\n%s",
                                  make_hash("$2b$", "x"), cases[i].line);
        path = write_fixture(text);
        t = mod_auth_table_load(path, MOD_AUTH_FILE_PASSWD, err, sizeof(err));
        ck_assert_ptr_null(t);
        snprintf(want, sizeof(want), "%s:3: ", path);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        ck_assert_msg(strstr(err, cases[i].want) != NULL, "%s", err);
        if (strchr(cases[i].line, '$') != NULL || cases[i].line[0] == 'p') {
            ck_assert_msg(strstr(err, "htpasswd -B") != NULL, "%s", err);
        }
        unlink(fixture);
        fixture[0] = '\0';
    }

    ck_assert_ptr_null(mod_auth_table_load("/nonexistent/htpasswd",
                                           MOD_AUTH_FILE_PASSWD, err,
                                           sizeof(err)));
}
END_TEST


START_TEST(token_file)
{
    mod_auth_table_t        *t;
    const mod_auth_entry_t  *e;
    char                     err[MOD_AUTH_ERR_MAX], hex[65];
    char                    *text;

    mod_auth_sha256_hex("tok-1", 5, hex);
    /* sha256("abc"), upper case: accepted and folded. */
    text = cairn_arena_printf(arena, "svc:%s\nother:BA7816BF8F01CFEA414140DE"
                              "5DAE2223B00361A396177A9CB410FF61F20015AD\n",
                              hex);
    t = mod_auth_table_load(write_fixture(text), MOD_AUTH_FILE_TOKENS, err,
                            sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);

    e = mod_auth_table_token(t, "tok-1");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->user, "svc");
    e = mod_auth_table_token(t, "abc");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->user, "other");
    ck_assert_ptr_null(mod_auth_table_token(t, "tok-2"));
    mod_auth_table_free(t);

    unlink(fixture);
    t = mod_auth_table_load(write_fixture("svc:tok-1\n"),
                            MOD_AUTH_FILE_TOKENS, err, sizeof(err));
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, ":1: ") != NULL, "%s", err);
}
END_TEST


/* ------------------------------------------------------------------ */
/* JWT                                                                */
/* ------------------------------------------------------------------ */

/* RFC 7515 appendix A.1. */
#define A1_HEADER   "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define A1_PAYLOAD  "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA" \
                    "6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define A1_SIG      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_KEY      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75a" \
                    "KtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_EXP      1300819380

static unsigned char          a1_key[65];
static mod_auth_jwt_keys_t    a1_keys;


static void
a1_setup(void)
{
    setup();
    ck_assert_int_eq(cairn_base64_decode(A1_KEY, strlen(A1_KEY), a1_key, 1),
                     64);
    memset(&a1_keys, 0, sizeof(a1_keys));
    a1_keys.hmac_key = a1_key;
    a1_keys.hmac_len = 64;
}


static json_t *
verify(const mod_auth_jwt_keys_t *k, const char *token, int64_t now,
       const char **why)
{
    const char  *payload;

    return mod_auth_jwt_verify(arena, k, token, now, &payload, why);
}


START_TEST(jwt_rfc7515_a1)
{
    json_t      *c;
    const char  *why, *payload;

    c = mod_auth_jwt_verify(arena, &a1_keys,
                            A1_HEADER "." A1_PAYLOAD "." A1_SIG,
                            A1_EXP - 100, &payload, &why);
    ck_assert_msg(c != NULL, "%s", why);
    ck_assert_str_eq(json_string_value(json_object_get(c, "iss")), "joe");
    ck_assert_ptr_nonnull(strstr(payload, "\"iss\":\"joe\""));
    json_decref(c);

    /* Expired, but within the leeway; then beyond it. */
    a1_keys.leeway_s = 60;
    c = verify(&a1_keys, A1_HEADER "." A1_PAYLOAD "." A1_SIG, A1_EXP + 30,
               &why);
    ck_assert_ptr_nonnull(c);
    json_decref(c);
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD "." A1_SIG,
                              A1_EXP + 61, &why));
    ck_assert_str_eq(why, "JWT expired");

    /* Issuer and audience checks. */
    a1_keys.leeway_s = 0;
    a1_keys.issuer = "bob";
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD "." A1_SIG,
                              A1_EXP - 1, &why));
    ck_assert_str_eq(why, "JWT issuer not accepted");
    a1_keys.issuer = "joe";
    c = verify(&a1_keys, A1_HEADER "." A1_PAYLOAD "." A1_SIG, A1_EXP - 1,
               &why);
    ck_assert_ptr_nonnull(c);
    json_decref(c);
}
END_TEST


START_TEST(jwt_malformed)
{
    const char  *why;

    /* Tampered payload: "joe" -> "jof" changes the last group. */
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER ".eyJpc3MiOiJqb2YiLA0KICJle"
                              "HAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmN"
                              "vbS9pc19yb290Ijp0cnVlfQ." A1_SIG, A1_EXP - 1,
                              &why));
    /* Tampered signature. */
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD
                              ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
                              A1_EXP - 1, &why));
    /* Segments. */
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD, 0, &why));
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD "." A1_SIG
                              ".x", 0, &why));
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD ".", 0,
                              &why));
    ck_assert_ptr_null(verify(&a1_keys, "..", 0, &why));
    ck_assert_ptr_null(verify(&a1_keys, "", 0, &why));
    /* Bad base64url in each segment. */
    ck_assert_ptr_null(verify(&a1_keys, "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI"
                              "1NiJ9=." A1_PAYLOAD "." A1_SIG, 0, &why));
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER ".eyJ*" "." A1_SIG, 0,
                              &why));
    ck_assert_ptr_null(verify(&a1_keys, A1_HEADER "." A1_PAYLOAD
                              ".dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
                              A1_EXP - 1, &why));
    /* alg none, with and without a signature. */
    ck_assert_ptr_null(verify(&a1_keys, "eyJhbGciOiJub25lIn0." A1_PAYLOAD ".",
                              A1_EXP - 1, &why));
    ck_assert_ptr_null(verify(&a1_keys, "eyJhbGciOiJub25lIn0." A1_PAYLOAD "."
                              A1_SIG, A1_EXP - 1, &why));
}
END_TEST


/* Signs header.payload made of the two JSON texts with alg by key. */
static char *
make_token(const char *header, const char *payload, EVP_PKEY *pkey,
           const unsigned char *hmac, size_t hmaclen)
{
    char           *input, *tok;
    unsigned char   sig[1024], raw[64];
    char            h64[512], p64[1024], s64[1500];
    size_t          siglen;
    unsigned int    maclen;
    EVP_MD_CTX     *ctx;
    ECDSA_SIG      *es;
    const BIGNUM   *r, *s;
    const unsigned char  *q;

    cairn_base64_encode(header, strlen(header), h64, 1);
    cairn_base64_encode(payload, strlen(payload), p64, 1);
    input = cairn_arena_printf(arena, "%s.%s", h64, p64);

    if (hmac != NULL) {
        maclen = 0;
        ck_assert_ptr_nonnull(HMAC(EVP_sha256(), hmac, (int) hmaclen,
                                   (unsigned char *) input, strlen(input),
                                   sig, &maclen));
        siglen = maclen;
    } else {
        ctx = EVP_MD_CTX_new();
        siglen = sizeof(sig);
        ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
                                            pkey), 1);
        ck_assert_int_eq(EVP_DigestSign(ctx, sig, &siglen,
                                        (unsigned char *) input,
                                        strlen(input)), 1);
        EVP_MD_CTX_free(ctx);
        if (EVP_PKEY_base_id(pkey) == EVP_PKEY_EC) {
            q = sig;
            es = d2i_ECDSA_SIG(NULL, &q, (long) siglen);
            ck_assert_ptr_nonnull(es);
            ECDSA_SIG_get0(es, &r, &s);
            ck_assert_int_eq(BN_bn2binpad(r, raw, 32), 32);
            ck_assert_int_eq(BN_bn2binpad(s, raw + 32, 32), 32);
            ECDSA_SIG_free(es);
            memcpy(sig, raw, 64);
            siglen = 64;
        }
    }

    cairn_base64_encode(sig, siglen, s64, 1);
    tok = cairn_arena_printf(arena, "%s.%s", input, s64);

    return tok;
}


/* The PEM text of the public half of pkey, in the arena. */
static char *
public_pem(EVP_PKEY *pkey)
{
    BIO    *b;
    char   *data, *out;
    long    n;

    b = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PUBKEY(b, pkey), 1);
    n = BIO_get_mem_data(b, &data);
    out = cairn_arena_strndup(arena, data, (size_t) n);
    BIO_free(b);

    return out;
}


START_TEST(jwt_public_keys)
{
    EVP_PKEY             *rsa, *ec, *pub;
    mod_auth_jwt_keys_t   k;
    json_t               *c;
    const char           *why, *path, *pem;
    const char           *aud[] = { "api", "other" };
    char                  err[MOD_AUTH_ERR_MAX];
    char                 *tok;
    unsigned char        *secret;
    size_t                len;

    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(rsa);
    ck_assert_ptr_nonnull(ec);

    /* RS256 through a PEM file, as the module loads it. */
    pem = public_pem(rsa);
    path = write_fixture(pem);
    pub = mod_auth_jwt_load_pubkey(path, err, sizeof(err));
    ck_assert_msg(pub != NULL, "%s", err);

    memset(&k, 0, sizeof(k));
    k.pkey = pub;
    k.audience = aud;
    k.naudience = 2;

    tok = make_token("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                     "{\"sub\":\"ann\",\"aud\":[\"x\",\"api\"],"
                     "\"exp\":2000,\"nbf\":1000}", rsa, NULL, 0);
    c = verify(&k, tok, 1500, &why);
    ck_assert_msg(c != NULL, "%s", why);
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub")), "ann");
    json_decref(c);
    ck_assert_ptr_null(verify(&k, tok, 999, &why));
    ck_assert_str_eq(why, "JWT not yet valid");
    ck_assert_ptr_null(verify(&k, tok, 2000, &why));

    tok = make_token("{\"alg\":\"RS256\"}", "{\"aud\":\"nope\"}", rsa, NULL,
                     0);
    ck_assert_ptr_null(verify(&k, tok, 1500, &why));
    ck_assert_str_eq(why, "JWT audience not accepted");
    tok = make_token("{\"alg\":\"RS256\"}", "{\"aud\":\"other\"}", rsa, NULL,
                     0);
    c = verify(&k, tok, 1500, &why);
    ck_assert_ptr_nonnull(c);
    json_decref(c);

    /* The header does not choose: ES256 and HS256 claims with an RSA
     * key fail, also an HMAC made with the public key's PEM text. */
    tok = make_token("{\"alg\":\"ES256\"}", "{}", ec, NULL, 0);
    ck_assert_ptr_null(verify(&k, tok, 0, &why));
    tok = make_token("{\"alg\":\"HS256\"}", "{\"aud\":\"api\"}", NULL,
                     (const unsigned char *) pem, strlen(pem));
    ck_assert_ptr_null(verify(&k, tok, 0, &why));

    /* A PEM file is refused as an HS256 secret. */
    ck_assert_int_eq(mod_auth_jwt_load_secret(path, &secret, &len, err,
                                              sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "AuthJWTPublicKey"));
    EVP_PKEY_free(pub);
    unlink(fixture);

    /* ES256: raw r || s signatures. */
    path = write_fixture(public_pem(ec));
    pub = mod_auth_jwt_load_pubkey(path, err, sizeof(err));
    ck_assert_msg(pub != NULL, "%s", err);
    memset(&k, 0, sizeof(k));
    k.pkey = pub;
    tok = make_token("{\"alg\":\"ES256\"}", "{\"sub\":\"eve\"}", ec, NULL, 0);
    c = verify(&k, tok, 0, &why);
    ck_assert_msg(c != NULL, "%s", why);
    json_decref(c);
    tok = make_token("{\"alg\":\"RS256\"}", "{\"sub\":\"eve\"}", rsa, NULL,
                     0);
    ck_assert_ptr_null(verify(&k, tok, 0, &why));
    EVP_PKEY_free(pub);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}
END_TEST


/* Signs a payload with the A.1 key. */
static const char *
a1_token(const char *payload)
{
    return make_token("{\"alg\":\"HS256\"}", payload, NULL, a1_key, 64);
}


/* Time claims near the ends of int64_t neither overflow (UBSan would
 * abort here) nor pass: they are outside [0, year 9999]. */
START_TEST(jwt_time_range)
{
    json_t      *c;
    const char  *why;
    size_t       i;

    const char  *bad[] = {
        "{\"exp\":9223372036854775807}",
        "{\"exp\":9223372036854775806}",
        "{\"exp\":1e300}",
        "{\"exp\":-1}",
        "{\"exp\":-1.5}",
        "{\"exp\":253402300800}",
        "{\"exp\":\"2000\"}",
        "{\"exp\":null}",
        "{\"nbf\":-9223372036854775808}",
        "{\"nbf\":9223372036854775807}",
        "{\"nbf\":-1e300}",
        "{\"iat\":9223372036854775807}",
        "{\"iat\":-1}",
        "{\"iat\":true}",
    };

    a1_keys.leeway_s = 60;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(verify(&a1_keys, a1_token(bad[i]), 1000, &why) == NULL,
                      "%s accepted", bad[i]);
        ck_assert_str_eq(why, "bad JWT claims");
    }

    /* The largest time accepted, and a fraction, with the leeway. */
    c = verify(&a1_keys, a1_token("{\"exp\":253402300799,\"nbf\":0,"
                                  "\"iat\":0}"), 1000, &why);
    ck_assert_msg(c != NULL, "%s", why);
    json_decref(c);
    c = verify(&a1_keys, a1_token("{\"exp\":1000.5}"), 1059, &why);
    ck_assert_msg(c != NULL, "%s", why);
    json_decref(c);
    ck_assert_ptr_null(verify(&a1_keys, a1_token("{\"exp\":1000.5}"), 1060,
                              &why));
    ck_assert_str_eq(why, "JWT expired");

    /* A leeway or clock at the ends of int64_t saturates, not wraps. */
    a1_keys.leeway_s = INT64_MAX;
    c = verify(&a1_keys, a1_token("{\"exp\":253402300799,"
                                  "\"nbf\":253402300799}"), INT64_MAX - 1,
               &why);
    ck_assert_msg(c != NULL, "%s", why);
    json_decref(c);
    a1_keys.leeway_s = 0;
    ck_assert_ptr_null(verify(&a1_keys, a1_token("{\"exp\":253402300799}"),
                              INT64_MAX, &why));
    ck_assert_str_eq(why, "JWT expired");
    ck_assert_ptr_null(verify(&a1_keys, a1_token("{\"nbf\":0}"),
                              INT64_MIN, &why));
    ck_assert_str_eq(why, "JWT not yet valid");
}
END_TEST


START_TEST(jwt_secret_file)
{
    unsigned char  *secret;
    size_t          len;
    char            err[MOD_AUTH_ERR_MAX];

    ck_assert_int_eq(mod_auth_jwt_load_secret(
                         write_fixture("0123456789abcdef0123456789abcdef\n"),
                         &secret, &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(memcmp(secret, "0123456789abcdef", 16), 0);
    free(secret);
    unlink(fixture);

    ck_assert_int_eq(mod_auth_jwt_load_secret(write_fixture("short\n"),
                                              &secret, &len, err,
                                              sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "at least 32"));
}
END_TEST


/* ------------------------------------------------------------------ */
/* Require                                                            */
/* ------------------------------------------------------------------ */

static mod_auth_req_t *
leaf(const char *a0, const char *a1, const char *a2)
{
    char            *argv[3];
    int              argc;
    mod_auth_req_t  *n;
    const char      *err = NULL;

    argv[0] = (char *) a0;
    argv[1] = (char *) a1;
    argv[2] = (char *) a2;
    argc = a1 == NULL ? 1 : a2 == NULL ? 2 : 3;
    n = mod_auth_req_parse(arena, argc, argv, &err);
    ck_assert_msg(n != NULL, "%s", err);

    return n;
}


static struct sockaddr_storage  addr_buf;

static const struct sockaddr *
addr(const char *text)
{
    struct sockaddr_in   *s4 = (struct sockaddr_in *) &addr_buf;
    struct sockaddr_in6  *s6 = (struct sockaddr_in6 *) &addr_buf;

    memset(&addr_buf, 0, sizeof(addr_buf));
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
    } else {
        ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
        s6->sin6_family = AF_INET6;
    }

    return (const struct sockaddr *) &addr_buf;
}


START_TEST(require_ip)
{
    mod_auth_cidr_t  c;
    char            *argv[] = { "ip", "10.0.0.0/8", "192.0.2.7", "::1",
                                "2001:db8::/32" };
    mod_auth_req_t  *n;
    mod_auth_who_t   who;
    const char      *err;

    ck_assert_int_eq(mod_auth_cidr_parse("10.1.2.3/8", &c), 0);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("10.200.0.1")), 1);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("11.0.0.1")), 0);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("::ffff:10.9.9.9")), 1);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("::a09:909")), 0);
    ck_assert_int_eq(mod_auth_cidr_parse("0.0.0.0/0", &c), 0);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("8.8.8.8")), 1);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("::2")), 0);
    ck_assert_int_eq(mod_auth_cidr_parse("fe80::/10", &c), 0);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("febf::1")), 1);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("fec0::1")), 0);
    ck_assert_int_eq(mod_auth_cidr_parse("::ffff:192.168.0.0/112", &c), 0);
    ck_assert_int_eq(mod_auth_cidr_match(&c, addr("192.168.4.4")), 1);

    ck_assert_int_eq(mod_auth_cidr_parse("10.0.0.0/33", &c), -1);
    ck_assert_int_eq(mod_auth_cidr_parse("10.0.0.0/", &c), -1);
    ck_assert_int_eq(mod_auth_cidr_parse("10.0.0.0/-1", &c), -1);
    ck_assert_int_eq(mod_auth_cidr_parse("10.0.0", &c), -1);
    ck_assert_int_eq(mod_auth_cidr_parse("host.example", &c), -1);
    ck_assert_int_eq(mod_auth_cidr_parse("::1/129", &c), -1);

    n = mod_auth_req_parse(arena, 5, argv, &err);
    ck_assert_ptr_nonnull(n);
    memset(&who, 0, sizeof(who));
    who.addr = addr("192.0.2.7");
    ck_assert_int_eq(mod_auth_req_eval(n, &who), MOD_AUTH_GRANTED);
    who.addr = addr("192.0.2.8");
    ck_assert_int_eq(mod_auth_req_eval(n, &who), MOD_AUTH_DENIED);
    who.addr = addr("::1");
    ck_assert_int_eq(mod_auth_req_eval(n, &who), MOD_AUTH_GRANTED);
    who.addr = addr("2001:db8:1::5");
    ck_assert_int_eq(mod_auth_req_eval(n, &who), MOD_AUTH_GRANTED);
    who.addr = addr("::ffff:10.0.0.1");
    ck_assert_int_eq(mod_auth_req_eval(n, &who), MOD_AUTH_GRANTED);
}
END_TEST


START_TEST(require_parse_errors)
{
    char         *a[][3] = {
        { "bogus", NULL, NULL },
        { "all", "maybe", NULL },
        { "user", NULL, NULL },
        { "ip", "300.1.1.1", NULL },
        { "claim", "groups", NULL },
        { "valid-user", "x", NULL },
    };
    int           argc[] = { 1, 2, 1, 2, 2, 2 };
    const char   *err;
    size_t        i;

    for (i = 0; i < sizeof(argc) / sizeof(argc[0]); i++) {
        err = NULL;
        ck_assert_ptr_null(mod_auth_req_parse(arena, argc[i], a[i], &err));
        ck_assert_ptr_nonnull(err);
    }
}
END_TEST


START_TEST(require_tree)
{
    mod_auth_req_t  *any, *all, *inner;
    mod_auth_who_t   who;
    json_t          *claims;
    int              uses;

    /* Require ip 10.0.0.0/8
     * <RequireAll> Require valid-user; Require claim groups ops;
     *   <RequireAny> Require user ann bob; Require claim role admin
     *   </RequireAny>
     * </RequireAll> */
    any = mod_auth_req_group(arena, MOD_AUTH_REQ_ANY, "f", 1);
    all = mod_auth_req_group(arena, MOD_AUTH_REQ_ALL, "f", 2);
    inner = mod_auth_req_group(arena, MOD_AUTH_REQ_ANY, "f", 5);
    mod_auth_req_add(arena, any, leaf("ip", "10.0.0.0/8", NULL));
    mod_auth_req_add(arena, any, all);
    mod_auth_req_add(arena, all, leaf("valid-user", NULL, NULL));
    mod_auth_req_add(arena, all, leaf("claim", "groups", "ops"));
    mod_auth_req_add(arena, all, inner);
    mod_auth_req_add(arena, inner, leaf("user", "ann", "bob"));
    mod_auth_req_add(arena, inner, leaf("claim", "role", "admin"));

    uses = 0;
    ck_assert_ptr_null(mod_auth_req_check(arena, any, &uses));
    ck_assert_int_eq(uses, 1);

    memset(&who, 0, sizeof(who));
    who.addr = addr("10.1.1.1");
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_GRANTED);

    who.addr = addr("127.0.0.1");
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_NO_USER);

    claims = json_pack("{s:[s,s], s:s}", "groups", "dev", "ops", "role",
                       "admin");
    who.authenticated = 1;
    who.user = "carl";
    who.claims = claims;
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_GRANTED);

    json_object_set_new(claims, "role", json_string("user"));
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_DENIED);
    who.user = "bob";
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_GRANTED);

    json_object_set_new(claims, "groups", json_string("ops"));
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_GRANTED);
    json_object_set_new(claims, "groups", json_integer(3));
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_DENIED);

    /* Basic users have no claims. */
    who.claims = NULL;
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_DENIED);
    json_decref(claims);

    /* all denied wins inside RequireAll even before anyone logs in. */
    all = mod_auth_req_group(arena, MOD_AUTH_REQ_ALL, "f", 9);
    mod_auth_req_add(arena, all, leaf("valid-user", NULL, NULL));
    mod_auth_req_add(arena, all, leaf("all", "denied", NULL));
    memset(&who, 0, sizeof(who));
    ck_assert_int_eq(mod_auth_req_eval(all, &who), MOD_AUTH_DENIED);

    /* all granted inside RequireAny: no credentials needed. */
    any = mod_auth_req_group(arena, MOD_AUTH_REQ_ANY, "f", 9);
    mod_auth_req_add(arena, any, leaf("valid-user", NULL, NULL));
    mod_auth_req_add(arena, any, leaf("all", "granted", NULL));
    ck_assert_int_eq(mod_auth_req_eval(any, &who), MOD_AUTH_GRANTED);

    /* An empty group is a configuration error naming its line. */
    mod_auth_req_add(arena, any, mod_auth_req_group(arena, MOD_AUTH_REQ_ALL,
                                                    "conf", 42));
    ck_assert_str_eq(mod_auth_req_check(arena, any, &uses),
                     "conf:42: <RequireAll> holds no Require rule");
}
END_TEST


static Suite *
auth_suite(void)
{
    Suite   *s;
    TCase   *tc;
    size_t   i;

    const struct {
        const char   *name;
        const TTest  *test;
        int           a1;
    } cases[] = {
        { "basic_good", basic_good, 0 },
        { "basic_bad", basic_bad, 0 },
        { "base64url", base64url, 0 },
        { "bearer_token", bearer_token, 0 },
        { "streq_ct", streq_ct, 0 },
        { "passwd_file", passwd_file, 0 },
        { "passwd_refused", passwd_refused, 0 },
        { "token_file", token_file, 0 },
        { "jwt_rfc7515_a1", jwt_rfc7515_a1, 1 },
        { "jwt_malformed", jwt_malformed, 1 },
        { "jwt_public_keys", jwt_public_keys, 0 },
        { "jwt_time_range", jwt_time_range, 1 },
        { "jwt_secret_file", jwt_secret_file, 0 },
        { "require_ip", require_ip, 0 },
        { "require_parse_errors", require_parse_errors, 0 },
        { "require_tree", require_tree, 0 },
    };

    s = suite_create("auth");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, cases[i].a1 ? a1_setup : setup,
                                  teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }

    return s;
}


int
main(void)
{
    return unit_run(auth_suite());
}
