/*
 * modules/auth/auth_jwt.c: JSON Web Token verification (RFC 7519, compact
 * JWS of RFC 7515) with HS256, RS256 and ES256.
 *
 * Which algorithm a token may use is decided by the configured keys,
 * never by the token: a secret allows HS256 only, an RSA public key
 * RS256 only, a P-256 key ES256 only.  "none", a public key used as an
 * HMAC secret and unknown "crit" extensions are refused.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth.h"

/* The shortest HS256 secret accepted (RFC 7518 3.2: the hash size). */
#define MOD_AUTH_HMAC_MIN       32

/* The latest time claim accepted: 9999-12-31T23:59:59Z.  A claim is a
 * number of seconds in [0, this]; beyond it the token is malformed. */
#define MOD_AUTH_JWT_TIME_MAX   INT64_C(253402300799)


static int mod_auth_jwt_sig_ok(const mod_auth_jwt_keys_t *k, const char *alg,
                               const char *input, size_t inlen,
                               const unsigned char *sig, size_t siglen);
static int mod_auth_jwt_es256(EVP_PKEY *pkey, const char *input,
                              size_t inlen, const unsigned char *sig,
                              size_t siglen);
static int mod_auth_jwt_pkey_verify(EVP_PKEY *pkey, const char *input,
                                    size_t inlen, const unsigned char *sig,
                                    size_t siglen);
static json_t *mod_auth_jwt_json(cairn_arena_t *a, const char *seg,
                                 size_t len, const char **text);
static int mod_auth_jwt_time(const json_t *claims, const char *name,
                             int64_t *out);
static int64_t mod_auth_jwt_add(int64_t t, int64_t leeway_s);
static int mod_auth_jwt_aud_ok(const mod_auth_jwt_keys_t *k,
                               const json_t *aud);


int
mod_auth_jwt_load_secret(const char *path, unsigned char **key, size_t *len,
                         char *err, size_t errlen)
{
    FILE           *f;
    unsigned char  *buf;
    size_t          n;

    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }

    buf = malloc(MOD_AUTH_SECRET_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading %s", path);
        return -1;
    }
    n = fread(buf, 1, MOD_AUTH_SECRET_MAX + 1, f);
    fclose(f);

    if (n > MOD_AUTH_SECRET_MAX) {
        snprintf(err, errlen, "%s: an HS256 secret longer than %d bytes",
                 path, MOD_AUTH_SECRET_MAX);
        OPENSSL_cleanse(buf, MOD_AUTH_SECRET_MAX + 1);
        free(buf);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    if (n < MOD_AUTH_HMAC_MIN) {
        snprintf(err, errlen, "%s: an HS256 secret must have at least %d "
                 "bytes (make one with \"openssl rand -base64 48 > %s\")",
                 path, MOD_AUTH_HMAC_MIN, path);
        OPENSSL_cleanse(buf, MOD_AUTH_SECRET_MAX + 1);
        free(buf);
        return -1;
    }
    if (n >= 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
        snprintf(err, errlen, "%s is a PEM key, not an HS256 secret: use "
                 "AuthJWTPublicKey for it", path);
        OPENSSL_cleanse(buf, MOD_AUTH_SECRET_MAX + 1);
        free(buf);
        return -1;
    }

    *key = buf;
    *len = n;

    return 0;
}


EVP_PKEY *
mod_auth_jwt_load_pubkey(const char *path, char *err, size_t errlen)
{
    FILE      *f;
    EVP_PKEY  *pkey;
    char       curve[64];
    size_t     clen;

    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL) {
        snprintf(err, errlen, "%s holds no PEM public key (\"-----BEGIN "
                 "PUBLIC KEY-----\"; make it with \"openssl pkey -in KEY "
                 "-pubout\")", path);
        return NULL;
    }

    if (EVP_PKEY_base_id(pkey) == EVP_PKEY_RSA) {
        if (EVP_PKEY_bits(pkey) < 2048) {
            snprintf(err, errlen, "%s: RSA keys need at least 2048 bits",
                     path);
            EVP_PKEY_free(pkey);
            return NULL;
        }
        return pkey;
    }

    if (EVP_PKEY_base_id(pkey) == EVP_PKEY_EC
        && EVP_PKEY_get_utf8_string_param(pkey, "group", curve,
                                          sizeof(curve), &clen) == 1
        && (strcmp(curve, "prime256v1") == 0 || strcmp(curve, "P-256") == 0))
    {
        return pkey;
    }

    snprintf(err, errlen, "%s: only RSA (RS256) and EC P-256 (ES256) public "
             "keys are supported", path);
    EVP_PKEY_free(pkey);

    return NULL;
}


/* Decodes a base64url segment and parses it as a JSON object. */
static json_t *
mod_auth_jwt_json(cairn_arena_t *a, const char *seg, size_t len,
                  const char **text)
{
    unsigned char  *buf;
    json_t         *j;
    long            n;

    if (len == 0) {
        return NULL;
    }
    buf = cairn_arena_alloc(a, len / 4 * 3 + 4);
    n = cairn_base64_decode(seg, len, buf, 1);
    if (n <= 0) {
        return NULL;
    }

    j = json_loadb((const char *) buf, (size_t) n,
                   JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL) {
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    if (text != NULL) {
        *text = (const char *) buf;
    }

    return j;
}


json_t *
mod_auth_jwt_verify(cairn_arena_t *a, const mod_auth_jwt_keys_t *k,
                    const char *token, int64_t now, const char **payload,
                    const char **why)
{
    const char     *dot1, *dot2, *sigseg, *alg, *text, *iss;
    json_t         *header, *claims, *v;
    unsigned char  *sig;
    size_t          hlen, plen, slen;
    long            n;
    int64_t         t;

    *why = "malformed token";

    if (token == NULL || strlen(token) > MOD_AUTH_CRED_MAX) {
        return NULL;
    }

    dot1 = strchr(token, '.');
    dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        *why = "a JWT has three segments";
        return NULL;
    }
    hlen = (size_t) (dot1 - token);
    plen = (size_t) (dot2 - dot1 - 1);
    sigseg = dot2 + 1;
    slen = strlen(sigseg);

    header = mod_auth_jwt_json(a, token, hlen, NULL);
    if (header == NULL) {
        *why = "bad JWT header";
        return NULL;
    }

    v = json_object_get(header, "alg");
    alg = json_is_string(v) ? json_string_value(v) : NULL;
    if (alg == NULL || json_object_get(header, "crit") != NULL) {
        json_decref(header);
        *why = "unsupported JWT header";
        return NULL;
    }

    sig = cairn_arena_alloc(a, slen / 4 * 3 + 4);
    n = slen > 0 ? cairn_base64_decode(sigseg, slen, sig, 1) : -1;
    if (n <= 0
        || !mod_auth_jwt_sig_ok(k, alg, token, (size_t) (dot2 - token), sig,
                                (size_t) n))
    {
        json_decref(header);
        *why = "bad JWT signature or algorithm";
        return NULL;
    }
    json_decref(header);

    /* Only now that the signature holds: the claims. */
    claims = mod_auth_jwt_json(a, dot1 + 1, plen, &text);
    if (claims == NULL) {
        *why = "bad JWT claims";
        return NULL;
    }

    switch (mod_auth_jwt_time(claims, "exp", &t)) {
    case -1:
        goto bad;
    case 1:
        if (now >= mod_auth_jwt_add(t, k->leeway_s)) {
            *why = "JWT expired";
            goto fail;
        }
        break;
    default:
        break;
    }

    switch (mod_auth_jwt_time(claims, "nbf", &t)) {
    case -1:
        goto bad;
    case 1:
        if (mod_auth_jwt_add(now, k->leeway_s) < t) {
            *why = "JWT not yet valid";
            goto fail;
        }
        break;
    default:
        break;
    }

    /* "iat" is not compared with now, but it must be a time too. */
    if (mod_auth_jwt_time(claims, "iat", &t) == -1) {
        goto bad;
    }

    if (k->issuer != NULL) {
        v = json_object_get(claims, "iss");
        iss = json_is_string(v) ? json_string_value(v) : NULL;
        if (iss == NULL || strcmp(iss, k->issuer) != 0) {
            *why = "JWT issuer not accepted";
            goto fail;
        }
    }

    if (k->naudience > 0
        && !mod_auth_jwt_aud_ok(k, json_object_get(claims, "aud")))
    {
        *why = "JWT audience not accepted";
        goto fail;
    }

    v = json_object_get(claims, "sub");
    if (v != NULL && !json_is_string(v)) {
        goto bad;
    }

    *payload = text;
    *why = NULL;

    return claims;

bad:
    *why = "bad JWT claims";
fail:
    json_decref(claims);
    return NULL;
}


/*
 * 1 with the time in *out, 0 when absent, -1 when not a NumericDate in
 * [0, MOD_AUTH_JWT_TIME_MAX]: negative, too large, NaN or not a number.
 * A fraction (RFC 7519 allows one) is dropped.
 */
static int
mod_auth_jwt_time(const json_t *claims, const char *name, int64_t *out)
{
    const json_t  *v;
    json_int_t     i;
    double         d;

    v = json_object_get(claims, name);
    if (v == NULL) {
        return 0;
    }
    if (json_is_integer(v)) {
        i = json_integer_value(v);
        if (i < 0 || i > MOD_AUTH_JWT_TIME_MAX) {
            return -1;
        }
        *out = (int64_t) i;
        return 1;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        if (!(d >= 0.0 && d <= (double) MOD_AUTH_JWT_TIME_MAX)) {
            return -1;
        }
        *out = (int64_t) d;
        return 1;
    }

    return -1;
}


/* t + leeway_s, saturated at the ends of int64_t instead of wrapping. */
static int64_t
mod_auth_jwt_add(int64_t t, int64_t leeway_s)
{
    int64_t  sum;

    if (__builtin_add_overflow(t, leeway_s, &sum)) {
        return leeway_s > 0 ? INT64_MAX : INT64_MIN;
    }

    return sum;
}


static int
mod_auth_jwt_aud_ok(const mod_auth_jwt_keys_t *k, const json_t *aud)
{
    const json_t  *item;
    size_t         i, j;

    if (json_is_string(aud)) {
        for (j = 0; j < k->naudience; j++) {
            if (strcmp(json_string_value(aud), k->audience[j]) == 0) {
                return 1;
            }
        }
        return 0;
    }

    if (!json_is_array(aud)) {
        return 0;
    }

    json_array_foreach(aud, i, item) {
        if (!json_is_string(item)) {
            continue;
        }
        for (j = 0; j < k->naudience; j++) {
            if (strcmp(json_string_value(item), k->audience[j]) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


static int
mod_auth_jwt_sig_ok(const mod_auth_jwt_keys_t *k, const char *alg,
                    const char *input, size_t inlen, const unsigned char *sig,
                    size_t siglen)
{
    unsigned char  mac[EVP_MAX_MD_SIZE];
    unsigned int   maclen;
    int            ok;

    if (strcmp(alg, "HS256") == 0) {
        if (k->hmac_key == NULL || siglen != 32) {
            return 0;
        }
        maclen = 0;
        if (HMAC(EVP_sha256(), k->hmac_key, (int) k->hmac_len,
                 (const unsigned char *) input, inlen, mac, &maclen) == NULL
            || maclen != 32)
        {
            return 0;
        }
        ok = CRYPTO_memcmp(mac, sig, 32) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    }

    if (k->pkey == NULL) {
        return 0;
    }

    if (strcmp(alg, "RS256") == 0) {
        if (EVP_PKEY_base_id(k->pkey) != EVP_PKEY_RSA) {
            return 0;
        }
        return mod_auth_jwt_pkey_verify(k->pkey, input, inlen, sig, siglen);
    }

    if (strcmp(alg, "ES256") == 0) {
        if (EVP_PKEY_base_id(k->pkey) != EVP_PKEY_EC) {
            return 0;
        }
        return mod_auth_jwt_es256(k->pkey, input, inlen, sig, siglen);
    }

    return 0;
}


static int
mod_auth_jwt_pkey_verify(EVP_PKEY *pkey, const char *input, size_t inlen,
                         const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX  *ctx;
    int          ok;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return 0;
    }

    ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1
         && EVP_DigestVerify(ctx, sig, siglen,
                             (const unsigned char *) input, inlen) == 1;

    EVP_MD_CTX_free(ctx);

    return ok;
}


/* JWS carries ES256 signatures as raw r || s (32 bytes each); OpenSSL
 * wants the DER of an ECDSA-Sig-Value. */
static int
mod_auth_jwt_es256(EVP_PKEY *pkey, const char *input, size_t inlen,
                   const unsigned char *sig, size_t siglen)
{
    ECDSA_SIG      *es;
    BIGNUM         *r, *s;
    unsigned char  *der;
    int             derlen, ok;

    if (siglen != 64) {
        return 0;
    }

    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL
        || ECDSA_SIG_set0(es, r, s) != 1)
    {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return 0;
    }

    der = NULL;
    derlen = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (derlen <= 0) {
        return 0;
    }

    ok = mod_auth_jwt_pkey_verify(pkey, input, inlen, der, (size_t) derlen);
    OPENSSL_free(der);

    return ok;
}
