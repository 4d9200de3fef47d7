/*
 * tests/fuzz/fuzz_jwt.c: mod_auth's JWT parser and verifier
 * (modules/auth/auth_jwt.c).
 *
 * Input: one byte choosing the key and the checks, then the token.  Bits
 * 0-1: the key (0: an HS256 secret, 1: an EC P-256 public key for
 * ES256, 2: an RSA 2048 public key for RS256, 3: the HS256 secret
 * again); bit 2: "iss" must be "cairn"; bit 3: "aud" must be "api" or
 * "web"; bits 4-5: the leeway (0, 1, 60 or 3600 s).  The clock stands at
 * FUZZ_JWT_NOW.  The private halves of the keys signed the seed corpus
 * (tests/fuzz/corpus/jwt) and are not kept.  With FUZZ_TRACE set in
 * the environment, the claims accepted or the reason for a refusal go to
 * standard error.
 */

#include "config.h"

#include <stdio.h>

#include <openssl/pem.h>

#include "fuzz.h"

#include "auth/auth.h"


#define FUZZ_JWT_NOW    1700000000

static const char  fuzz_jwt_secret[] =
    "cairn-fuzz-hs256-secret-32-bytes-long!";

static const char  fuzz_jwt_ec[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf55OTYm3bDH1/6c738Zk/N/jzKoX\n"
    "PI5pVawmR6sInP1QzOCApVTsuksJUI1WEmihdkgXtiLeykDS0fVr11fJlA==\n"
    "-----END PUBLIC KEY-----\n";

static const char  fuzz_jwt_rsa[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1MuYc+Wzl3oQhvqvti2h\n"
    "a7/q7EKFT7CggTYzNxrPd6VoSGcFpz551jFEQWxbYcU8MjGWyk69PwGPR5HMd8mZ\n"
    "FbL3eUQLlRcDK4aFpD7TCER6k0YqO/FNIWueFJAjaJHDgDLfzMuMESK9rmAap9IB\n"
    "4V17qi65Ea6FNGJgDvcNAHnRgihNd9njCCD7StFPDflh0qBgqp7tIXegU0gVwmB2\n"
    "dZdGBE/OEuKA4fYUzirT+vZjVCuJMAJzkiEXTa1S7Q+U4rvLg2YZhevvY7btpu/v\n"
    "rZJBdbFrZjVGQMVULeTwTUqsyzoh4iFDcLJdAO0uv9HL5STAzj3ZEjE5yQuK4oo0\n"
    "5wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static EVP_PKEY  *fuzz_ec;
static EVP_PKEY  *fuzz_rsa;


static EVP_PKEY *
fuzz_jwt_key(const char *pem)
{
    BIO       *b;
    EVP_PKEY  *k;

    b = BIO_new_mem_buf(pem, -1);
    k = b != NULL ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (k == NULL) {
        fprintf(stderr, "cannot read a built-in key\n");
        abort();
    }

    return k;
}


static void
fuzz_jwt_cleanup(void)
{
    EVP_PKEY_free(fuzz_ec);
    EVP_PKEY_free(fuzz_rsa);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_ec = fuzz_jwt_key(fuzz_jwt_ec);
    fuzz_rsa = fuzz_jwt_key(fuzz_jwt_rsa);
    atexit(fuzz_jwt_cleanup);

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const  audience[] = { "api", "web" };
    static const int64_t      leeway[] = { 0, 1, 60, 3600 };
    mod_auth_jwt_keys_t       k;
    cairn_arena_t            *a;
    json_t                   *claims;
    const char               *payload = NULL, *why = NULL;
    char                     *token;

    if (size == 0) {
        return 0;
    }

    memset(&k, 0, sizeof(k));
    switch (data[0] & 3) {
    case 1:
        k.pkey = fuzz_ec;
        break;
    case 2:
        k.pkey = fuzz_rsa;
        break;
    default:
        k.hmac_key = (const unsigned char *) fuzz_jwt_secret;
        k.hmac_len = sizeof(fuzz_jwt_secret) - 1;
        break;
    }
    if (data[0] & 4) {
        k.issuer = "cairn";
    }
    if (data[0] & 8) {
        k.audience = audience;
        k.naudience = 2;
    }
    k.leeway_s = leeway[(data[0] >> 4) & 3];

    token = fuzz_strndup(data + 1, size - 1);
    a = cairn_arena_create(0);

    claims = mod_auth_jwt_verify(a, &k, token, FUZZ_JWT_NOW, &payload, &why);
    if (claims != NULL) {
        if (!json_is_object(claims) || payload == NULL) {
            fprintf(stderr, "accepted claims that are not an object\n");
            abort();
        }
        json_decref(claims);
    } else if (why == NULL) {
        fprintf(stderr, "a token refused without a reason\n");
        abort();
    }
    if (getenv("FUZZ_TRACE") != NULL) {
        fprintf(stderr, "%s\n", claims != NULL ? payload : why);
    }

    cairn_arena_destroy(a);
    free(token);

    return 0;
}
