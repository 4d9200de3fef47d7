/*
 * modules/auth/auth.h: the logic of mod_auth that needs no server.
 *
 * Credentials parsing (Basic, Bearer), base64 and base64url, password
 * and token files, JWT verification and the Require rule trees.  These
 * functions touch no request and no event loop, so unit tests compile
 * them alone; mod_auth.c ties them to the pipeline.  Nothing here logs:
 * errors come back as text for the caller to log, and that text never
 * contains a password, a token or a key.
 */

#ifndef MOD_AUTH_AUTH_H
#define MOD_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <openssl/evp.h>

#include <cairn/arena.h>
#include <cairn/encode.h>

/* Longest user name and password accepted from a client. */
#define MOD_AUTH_USER_MAX       255
#define MOD_AUTH_PASSWORD_MAX   1024

/* Longest credentials (the part after "Basic "/"Bearer ") considered. */
#define MOD_AUTH_CRED_MAX       8192

/* The longest HS256 secret; its buffer has one byte more. */
#define MOD_AUTH_SECRET_MAX     4096

/* Room for an error message from the file and key loaders. */
#define MOD_AUTH_ERR_MAX        512


/* ------------------------------------------------------------------ */
/* Encodings and credentials                                          */
/* ------------------------------------------------------------------ */

/*
 * Parses the value of an Authorization header "Basic <base64>" (the
 * scheme in any case).  On success *user and *password point into a
 * copy in a (NUL-terminated) and 0 is returned; -1 when the header is
 * not Basic, is malformed, has no ':', an empty or over-long user, a
 * user with control characters, or an over-long password.
 */
int mod_auth_basic_parse(cairn_arena_t *a, const char *header,
                         const char **user, const char **password);

/* The token of "Bearer <token>", or NULL when the header is not one
 * (or the token is empty, over-long or not token68 characters). */
const char *mod_auth_bearer_token(const char *header);

/* Compares two strings in time that depends only on their lengths. */
int mod_auth_streq_ct(const char *a, const char *b);

/* Lower-case hex SHA-256 of data into out (65 bytes). */
void mod_auth_sha256_hex(const void *data, size_t len, char *out);


/* ------------------------------------------------------------------ */
/* Password and token files                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    char        *user;
    char        *secret;        /* a crypt(3) hash, or sha256 hex */
} mod_auth_entry_t;

/* A parsed file: entries sorted by user, one malloc'ed block. */
typedef struct {
    size_t              n;
    mod_auth_entry_t   *v;
} mod_auth_table_t;

#define MOD_AUTH_FILE_PASSWD    0   /* "user:crypt-hash" */
#define MOD_AUTH_FILE_TOKENS    1   /* "user:sha256-hex-of-token" */

/*
 * Reads and checks a file of the given kind.  Blank lines and lines
 * starting with '#' are skipped.  A password hash must be bcrypt
 * ($2a$, $2b$, $2y$), sha-crypt ($5$, $6$) or yescrypt ($y$); anything
 * else (plain text, $apr1$, $1$, {SHA}, DES) is refused with the line
 * number and the command that re-hashes it.  Returns the table, or NULL
 * with a message in err ("PATH:LINE: ...").
 */
mod_auth_table_t *mod_auth_table_load(const char *path, int kind, char *err,
                                      size_t errlen);
void mod_auth_table_free(mod_auth_table_t *t);

/* The entry of user, or NULL. */
const mod_auth_entry_t *mod_auth_table_find(const mod_auth_table_t *t,
                                            const char *user);

/* The entry whose secret is the SHA-256 hex of token (compared in
 * constant time against every entry), or NULL. */
const mod_auth_entry_t *mod_auth_table_token(const mod_auth_table_t *t,
                                             const char *token);

/*
 * Checks password against a crypt(3) hash with crypt_rn() and a
 * per-thread work area (thread-safe; meant for task-pool threads).
 * Returns 1 on a match, 0 otherwise.
 */
int mod_auth_crypt_check(const char *password, const char *hash);


/* ------------------------------------------------------------------ */
/* JWT                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    const unsigned char *hmac_key;      /* HS256 secret, or NULL */
    size_t               hmac_len;
    EVP_PKEY            *pkey;          /* RSA (RS256) or P-256 (ES256) */
    int64_t              leeway_s;
    const char          *issuer;        /* NULL: not checked */
    const char *const   *audience;      /* any of them; NULL: unchecked */
    size_t               naudience;
} mod_auth_jwt_keys_t;

/*
 * Reads an HS256 secret (the file's bytes, trailing CR/LF removed, at
 * least 32 bytes) into a malloc'ed buffer of MOD_AUTH_SECRET_MAX + 1
 * bytes.  Returns 0, or -1 with err.
 */
int mod_auth_jwt_load_secret(const char *path, unsigned char **key,
                             size_t *len, char *err, size_t errlen);

/* Reads a PEM public key; only RSA (2048 bits or more) and EC P-256
 * keys are accepted.  Returns the key, or NULL with err. */
EVP_PKEY *mod_auth_jwt_load_pubkey(const char *path, char *err,
                                   size_t errlen);

/*
 * Verifies a compact JWS: three base64url segments, a header whose
 * "alg" is the one the configured key allows (HS256 for the secret,
 * RS256 or ES256 by the public key's type: the header never chooses a
 * key), the signature, then the claims: "exp" and "nbf" against now with
 * the leeway ("exp", "nbf" and "iat" must be numbers of seconds from 0
 * to the end of year 9999), "iss" and "aud" when configured.  On
 * success returns the claims object (a new reference) and sets *payload
 * to the claims text in a; returns NULL with a short reason in *why
 * otherwise.
 */
json_t *mod_auth_jwt_verify(cairn_arena_t *a, const mod_auth_jwt_keys_t *k,
                            const char *token, int64_t now,
                            const char **payload, const char **why);


/* ------------------------------------------------------------------ */
/* Require trees                                                      */
/* ------------------------------------------------------------------ */

typedef enum {
    MOD_AUTH_REQ_ANY = 0,       /* <RequireAny>: one child suffices */
    MOD_AUTH_REQ_ALL,           /* <RequireAll>: every child */
    MOD_AUTH_REQ_VALID_USER,
    MOD_AUTH_REQ_USER,
    MOD_AUTH_REQ_IP,
    MOD_AUTH_REQ_GRANTED,       /* all granted */
    MOD_AUTH_REQ_DENIED,        /* all denied */
    MOD_AUTH_REQ_CLAIM
} mod_auth_req_kind_t;

typedef struct {
    int                  family;        /* AF_INET or AF_INET6 */
    unsigned             bits;
    unsigned char        addr[16];
} mod_auth_cidr_t;

typedef struct mod_auth_req_s  mod_auth_req_t;
struct mod_auth_req_s {
    mod_auth_req_kind_t  kind;
    mod_auth_req_t     **child;         /* groups */
    size_t               nchild;
    const char         **names;         /* users; claim name and value */
    size_t               nnames;
    mod_auth_cidr_t     *cidr;
    size_t               ncidr;
    const char          *file;          /* where it was written */
    int                  line;
};

/* What a tree says about a request. */
#define MOD_AUTH_GRANTED    0
#define MOD_AUTH_DENIED     1
#define MOD_AUTH_NO_USER    2   /* would depend on who it is: ask */

/* Who is asking. */
typedef struct {
    int                     authenticated;
    const char             *user;       /* may be NULL when authenticated */
    const json_t           *claims;     /* Bearer JWT only */
    const struct sockaddr  *addr;
} mod_auth_who_t;

/* A new empty group (ANY or ALL) in a. */
mod_auth_req_t *mod_auth_req_group(cairn_arena_t *a, mod_auth_req_kind_t kind,
                                   const char *file, int line);

/* Parses the arguments of one Require line into a new node; NULL with a
 * message in *err (from a) when they make no sense. */
mod_auth_req_t *mod_auth_req_parse(cairn_arena_t *a, int argc,
                                   char **argv, const char **err);

/* Appends child to the group g. */
void mod_auth_req_add(cairn_arena_t *a, mod_auth_req_t *g,
                      mod_auth_req_t *child);

/* Parses "10.0.0.0/8", "::1", "192.0.2.7" into c; 0 or -1. */
int mod_auth_cidr_parse(const char *s, mod_auth_cidr_t *c);

/* Whether addr is inside c (IPv4-mapped IPv6 addresses count as IPv4). */
int mod_auth_cidr_match(const mod_auth_cidr_t *c,
                        const struct sockaddr *addr);

/* Evaluates the tree: MOD_AUTH_GRANTED, _DENIED or _NO_USER. */
int mod_auth_req_eval(const mod_auth_req_t *n, const mod_auth_who_t *who);

/*
 * Checks a tree after parsing: no empty group.  *uses_user is set when
 * some rule depends on who the client is (valid-user, user, claim).
 * Returns NULL or a message ("FILE:LINE: ...") from a.
 */
const char *mod_auth_req_check(cairn_arena_t *a, const mod_auth_req_t *n,
                               int *uses_user);

#endif /* MOD_AUTH_AUTH_H */
