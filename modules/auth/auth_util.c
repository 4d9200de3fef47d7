/*
 * modules/auth/auth_util.c: encodings, credentials, password and token
 * files, and password hash checks for mod_auth.
 */

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"

/* A password or token file larger than this is refused. */
#define MOD_AUTH_FILE_MAX       (64 * 1024 * 1024)


static int mod_auth_table_line(char *line, size_t lineno, int kind,
                               const char *path, mod_auth_entry_t *e,
                               char *err, size_t errlen);
static const char *mod_auth_hash_problem(const char *hash);
static int mod_auth_entry_cmp(const void *x, const void *y);
static void mod_auth_crypt_key_make(void);


static pthread_key_t   mod_auth_crypt_key;
static pthread_once_t  mod_auth_crypt_once = PTHREAD_ONCE_INIT;
static int             mod_auth_crypt_key_ok;


int
mod_auth_basic_parse(cairn_arena_t *a, const char *header, const char **user,
                     const char **password)
{
    const char     *p, *end;
    unsigned char  *buf;
    char           *colon;
    size_t          len, i;
    long            n;

    if (header == NULL || strncasecmp(header, "Basic", 5) != 0
        || (header[5] != ' ' && header[5] != '\t'))
    {
        return -1;
    }

    p = header + 5;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    len = (size_t) (end - p);
    if (len == 0 || len > MOD_AUTH_CRED_MAX) {
        return -1;
    }

    buf = cairn_arena_alloc(a, len / 4 * 3 + 1);
    n = cairn_base64_decode(p, len, buf, 0);
    if (n <= 0) {
        return -1;
    }

    /* RFC 7617: the user contains no ':'; the password may. */
    colon = memchr(buf, ':', (size_t) n);
    if (colon == NULL || colon == (char *) buf
        || (size_t) (colon - (char *) buf) > MOD_AUTH_USER_MAX
        || (size_t) n - (size_t) (colon - (char *) buf) - 1
           > MOD_AUTH_PASSWORD_MAX)
    {
        return -1;
    }

    /* No NUL or other control character (they would cut or forge log
     * lines and file lookups); UTF-8 bytes are fine. */
    for (i = 0; i < (size_t) n; i++) {
        if (buf[i] < 0x20 || buf[i] == 0x7f) {
            return -1;
        }
    }

    *colon = '\0';
    *user = (const char *) buf;
    *password = colon + 1;

    return 0;
}


const char *
mod_auth_bearer_token(const char *header)
{
    const char  *p;
    size_t       len;

    if (header == NULL || strncasecmp(header, "Bearer", 6) != 0
        || (header[6] != ' ' && header[6] != '\t'))
    {
        return NULL;
    }

    p = header + 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }

    /* token68: ALPHA DIGIT - . _ ~ + / then '=' padding. */
    len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-._~+/");
    len += strspn(p + len, "=");
    if (len == 0 || len > MOD_AUTH_CRED_MAX || p[len] != '\0') {
        return NULL;
    }

    return p;
}


int
mod_auth_streq_ct(const char *a, const char *b)
{
    size_t  la, lb;

    la = strlen(a);
    lb = strlen(b);
    if (la != lb) {
        return 0;
    }

    return CRYPTO_memcmp(a, b, la) == 0;
}


void
mod_auth_sha256_hex(const void *data, size_t len, char *out)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      md[SHA256_DIGEST_LENGTH];
    size_t             i;

    SHA256(data, len, md);
    for (i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * sizeof(md)] = '\0';
    OPENSSL_cleanse(md, sizeof(md));
}


/* ------------------------------------------------------------------ */
/* Files                                                              */
/* ------------------------------------------------------------------ */

/* What is wrong with a password hash, or NULL when it can be checked. */
static const char *
mod_auth_hash_problem(const char *hash)
{
    size_t  len = strlen(hash);

    if (strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0
        || strncmp(hash, "$2y$", 4) == 0)
    {
        return len == 60 ? NULL : "a truncated bcrypt hash";
    }
    if (strncmp(hash, "$5$", 3) == 0 || strncmp(hash, "$6$", 3) == 0
        || strncmp(hash, "$y$", 3) == 0)
    {
        return strchr(hash + 3, '$') != NULL ? NULL
                                               : "a truncated hash";
    }
    if (strncmp(hash, "$apr1$", 6) == 0) {
        return "an Apache MD5 ($apr1$) hash, which is too fast to be safe";
    }
    if (strncmp(hash, "$1$", 3) == 0) {
        return "an MD5-crypt ($1$) hash, which is too fast to be safe";
    }
    if (strncasecmp(hash, "{SHA}", 5) == 0) {
        return "an unsalted {SHA} hash, which is not safe";
    }
    if (len == 13 && strspn(hash, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz") == 13)
    {
        return "a DES crypt hash, which is not safe";
    }
    if (hash[0] == '$') {
        return "a hash of an unsupported kind";
    }

    return "a plain-text password or an unknown hash";
}


static int
mod_auth_table_line(char *line, size_t lineno, int kind, const char *path,
                    mod_auth_entry_t *e, char *err, size_t errlen)
{
    char        *colon, *secret, *end;
    const char  *why;
    size_t       i;

    colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        snprintf(err, errlen, "%s:%zu: not \"user:%s\"", path, lineno,
                 kind == MOD_AUTH_FILE_PASSWD ? "hash" : "sha256-hex");
        return -1;
    }
    *colon = '\0';
    secret = colon + 1;

    /* htpasswd may add fields after the hash; ignore them. */
    end = strchr(secret, ':');
    if (end != NULL) {
        *end = '\0';
    }

    if (strlen(line) > MOD_AUTH_USER_MAX) {
        snprintf(err, errlen, "%s:%zu: the user name is longer than %d "
                 "bytes", path, lineno, MOD_AUTH_USER_MAX);
        return -1;
    }

    if (kind == MOD_AUTH_FILE_PASSWD) {
        why = mod_auth_hash_problem(secret);
        if (why != NULL) {
            snprintf(err, errlen, "%s:%zu: the password of user '%s' is %s; "
                     "set it again with a supported hash (bcrypt: "
                     "\"htpasswd -B %s %s\", or sha-crypt/yescrypt "
                     "from \"mkpasswd -m yescrypt\")", path, lineno, line,
                     why, path, line);
            return -1;
        }
    } else {
        for (i = 0; secret[i] != '\0'; i++) {
            if (secret[i] >= 'A' && secret[i] <= 'F') {
                secret[i] = (char) (secret[i] - 'A' + 'a');
            }
        }
        if (i != 64 || strspn(secret, "0123456789abcdef") != 64) {
            snprintf(err, errlen, "%s:%zu: the token of user '%s' is not "
                     "the 64 hex digits of its SHA-256 (make the line with "
                     "\"printf '%%s' TOKEN | sha256sum\")", path, lineno,
                     line);
            return -1;
        }
    }

    e->user = line;
    e->secret = secret;

    return 0;
}


static int
mod_auth_entry_cmp(const void *x, const void *y)
{
    const mod_auth_entry_t  *a = x, *b = y;

    return strcmp(a->user, b->user);
}


mod_auth_table_t *
mod_auth_table_load(const char *path, int kind, char *err, size_t errlen)
{
    FILE              *f;
    mod_auth_table_t  *t;
    char              *text, *p, *nl, *line, *q;
    size_t             size, nlines, lineno, n, i, len;
    long               fsize;

    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (fsize = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        fclose(f);
        return NULL;
    }
    if (fsize > MOD_AUTH_FILE_MAX) {
        snprintf(err, errlen, "%s is larger than %d bytes", path,
                 MOD_AUTH_FILE_MAX);
        fclose(f);
        return NULL;
    }
    size = (size_t) fsize;

    /* One block: the table, then the entries, then the text. */
    nlines = 0;
    text = malloc(size + 1);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory reading %s", path);
        fclose(f);
        return NULL;
    }
    n = fread(text, 1, size, f);
    fclose(f);
    if (n != size) {
        snprintf(err, errlen, "cannot read %s: short read", path);
        free(text);
        return NULL;
    }
    text[size] = '\0';
    if (memchr(text, '\0', size) != NULL) {
        snprintf(err, errlen, "%s contains a NUL byte", path);
        free(text);
        return NULL;
    }

    for (i = 0; i < size; i++) {
        nlines += text[i] == '\n';
    }
    nlines++;

    t = malloc(sizeof(*t) + nlines * sizeof(mod_auth_entry_t) + size + 1);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory reading %s", path);
        free(text);
        return NULL;
    }
    t->v = (mod_auth_entry_t *) (t + 1);
    t->n = 0;
    q = (char *) (t->v + nlines);
    memcpy(q, text, size + 1);
    OPENSSL_cleanse(text, size);
    free(text);

    lineno = 0;
    for (p = q; p != NULL; p = nl) {
        nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl++ = '\0';
        }
        lineno++;
        line = p;

        len = strlen(line);
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '
                           || line[len - 1] == '\t'))
        {
            line[--len] = '\0';
        }
        while (*line == ' ' || *line == '\t') {
            line++;
        }
        if (*line == '\0' || *line == '#') {
            continue;
        }

        if (mod_auth_table_line(line, lineno, kind, path, &t->v[t->n], err,
                                errlen) != 0)
        {
            mod_auth_table_free(t);
            return NULL;
        }
        t->n++;
    }

    qsort(t->v, t->n, sizeof(t->v[0]), mod_auth_entry_cmp);

    for (i = 1; i < t->n; i++) {
        if (strcmp(t->v[i - 1].user, t->v[i].user) == 0) {
            snprintf(err, errlen, "%s: user '%s' appears more than once",
                     path, t->v[i].user);
            mod_auth_table_free(t);
            return NULL;
        }
    }

    return t;
}


void
mod_auth_table_free(mod_auth_table_t *t)
{
    size_t  i;

    if (t == NULL) {
        return;
    }

    /* The hashes are not secrets as such, but no need to leave them. */
    for (i = 0; i < t->n; i++) {
        OPENSSL_cleanse(t->v[i].secret, strlen(t->v[i].secret));
    }
    free(t);
}


const mod_auth_entry_t *
mod_auth_table_find(const mod_auth_table_t *t, const char *user)
{
    mod_auth_entry_t  key;

    if (t == NULL || t->n == 0) {
        return NULL;
    }

    key.user = (char *) user;
    key.secret = NULL;

    return bsearch(&key, t->v, t->n, sizeof(t->v[0]), mod_auth_entry_cmp);
}


const mod_auth_entry_t *
mod_auth_table_token(const mod_auth_table_t *t, const char *token)
{
    const mod_auth_entry_t  *found;
    char                     hex[65];
    size_t                   i;

    if (t == NULL) {
        return NULL;
    }

    mod_auth_sha256_hex(token, strlen(token), hex);

    /* Every secret of a token table is 64 hex digits (the loader refuses
     * other lines); one that is not, in a table of another kind, is
     * never read past its end. */
    found = NULL;
    for (i = 0; i < t->n; i++) {
        if (strnlen(t->v[i].secret, 65) == 64
            && CRYPTO_memcmp(hex, t->v[i].secret, 64) == 0 && found == NULL)
        {
            found = &t->v[i];
        }
    }

    return found;
}


static void
mod_auth_crypt_key_make(void)
{
    mod_auth_crypt_key_ok = pthread_key_create(&mod_auth_crypt_key, free)
                            == 0;
}


int
mod_auth_crypt_check(const char *password, const char *hash)
{
    struct crypt_data  *cd;
    const char         *out;
    int                 own, ok;

    /* struct crypt_data is about 32 KiB: one per thread, on the heap. */
    pthread_once(&mod_auth_crypt_once, mod_auth_crypt_key_make);

    own = 0;
    cd = mod_auth_crypt_key_ok ? pthread_getspecific(mod_auth_crypt_key)
                               : NULL;
    if (cd == NULL) {
        cd = calloc(1, sizeof(*cd));
        if (cd == NULL) {
            return 0;
        }
        if (!mod_auth_crypt_key_ok
            || pthread_setspecific(mod_auth_crypt_key, cd) != 0)
        {
            own = 1;
        }
    }

    out = crypt_rn(password, hash, cd, (int) sizeof(*cd));
    ok = out != NULL && out[0] != '*' && mod_auth_streq_ct(out, hash);

    /* The work area holds state derived from the password. */
    OPENSSL_cleanse(cd, sizeof(*cd));
    if (own) {
        free(cd);
    }

    return ok;
}
