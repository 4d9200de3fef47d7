/*
 * mod_auth: who is it (Basic, Bearer) and may they (Require).
 *
 * Directives: AuthType Basic|Bearer|None     any scope  default None
 *             AuthName REALM                 any scope  default "Restricted"
 *             AuthUserFile FILE              any scope  htpasswd (crypt)
 *             AuthTokenFile FILE             any scope  user:sha256-hex
 *             AuthJWTKey FILE                any scope  HS256 secret
 *             AuthJWTPublicKey FILE          any scope  RS256/ES256 PEM
 *             AuthJWTLeeway SECONDS          any scope  default 0
 *             AuthJWTIssuer ISS              any scope  default unchecked
 *             AuthJWTAudience AUD...         any scope  default unchecked
 *             AuthCacheTTL TIME              any scope  default 60s, 0 off
 *             Require RULE...                any scope  replaced, not merged
 *             <RequireAny> <RequireAll>      any scope, nestable
 * Hooks:      post_config, worker_init, worker_exit, authenticate and
 *             authorize (MIDDLE)
 *
 * Password hashes are checked on the worker's task pool, never on the
 * loop.  A verified user and password are remembered for AuthCacheTTL
 * as an HMAC-SHA256, under a random key of the worker, of the file's
 * load generation, the user and the password: the cache holds neither
 * passwords nor anything that can be checked against a guess without
 * the key, and a changed file invalidates it.  Failures are never
 * cached.  Password and token files are checked for changes at most once
 * a second per worker and re-read without a reload; a file that turns
 * out broken keeps the previous users.  README.md is the documentation.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cairn/cairn.h>
#include <cairn/async.h>

#include "auth.h"

#define MOD_AUTH_TYPE_NONE      0
#define MOD_AUTH_TYPE_BASIC     1
#define MOD_AUTH_TYPE_BEARER    2

/* Slots of the verified-credential cache of a worker (a power of 2). */
#define MOD_AUTH_CACHE_SLOTS    4096

/* How often a worker looks whether a password or token file changed. */
#define MOD_AUTH_CHECK_US       1000000

#define MOD_AUTH_DEFAULT_REALM  "Restricted"


/* A password or token file as one process sees it. */
typedef struct mod_auth_file_s  mod_auth_file_t;
struct mod_auth_file_s {
    mod_auth_file_t     *next;
    const char          *path;
    int                  kind;          /* MOD_AUTH_FILE_* */
    mod_auth_table_t    *table;
    uint64_t             gen;           /* changes with every load */
    uint64_t             checked_us;
    dev_t                dev;
    ino_t                ino;
    off_t                size;
    struct timespec      mtim;
    struct timespec      ctim;
    int                  missing;       /* stat failed: logged once */
};

typedef struct {
    int                  type;
    const char          *realm;
    const char          *user_file;
    const char          *token_file;
    const char          *jwt_key;
    const char          *jwt_pubkey;
    int                  leeway_s;
    const char          *issuer;
    cairn_strv_t         audience;
    int64_t              cache_ttl_ms;
    mod_auth_req_t      *require;       /* NULL: no access control */

    /* Resolved in post_config. */
    int                  resolved;
    mod_auth_file_t     *users;
    mod_auth_file_t     *tokens;
    mod_auth_jwt_keys_t *jwt;
    const char          *challenge;     /* WWW-Authenticate */
    const char          *challenge_bad; /* ... for a bad token */
} mod_auth_conf_t;

/* What the authenticate hook found out, for authorize. */
typedef struct {
    int                  decided;       /* -1, or MOD_AUTH_GRANTED/DENIED */
    int                  authenticated;
    int                  bad;           /* credentials given but wrong */
    const char          *user;
    json_t              *claims;
} mod_auth_ctx_t;

/* One password check on the task pool. */
typedef struct {
    mod_auth_conf_t     *conf;
    mod_auth_ctx_t      *ctx;
    char                *user;
    char                *password;
    char                *hash;
    int                  known;         /* 0: checked against a stand-in */
    int                  cacheable;     /* mac holds the cache key */
    int                  ok;
    unsigned char        mac[32];
} mod_auth_job_t;

typedef struct {
    unsigned char        mac[32];
    uint64_t             expires_us;    /* 0: free */
} mod_auth_slot_t;


static void *mod_auth_create_conf(cairn_arena_t *a);
static const char *mod_auth_merge_conf(cairn_arena_t *a, const void *parent,
                                       const void *child, void *merged);
static int mod_auth_post_config(cairn_server_t *s);
static int mod_auth_worker_init(cairn_server_t *s);
static int mod_auth_worker_exit(cairn_server_t *s);
static int mod_auth_authenticate(cairn_request_t *r);
static int mod_auth_authorize(cairn_request_t *r);
static int mod_auth_basic(cairn_request_t *r, mod_auth_conf_t *conf,
                          mod_auth_ctx_t *ctx, const char *header);
static int mod_auth_bearer(cairn_request_t *r, mod_auth_conf_t *conf,
                           mod_auth_ctx_t *ctx, const char *header);
static void mod_auth_work(void *data);
static void mod_auth_done(cairn_request_t *r, void *data);
static void mod_auth_json_free(void *data);
static const char *mod_auth_set_type(cairn_cmd_t *cmd, void *conf, int argc,
                                     char **argv);
static const char *mod_auth_set_require(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static const char *mod_auth_set_group(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_auth_set_inner_require(cairn_cmd_t *cmd, void *conf,
                                              int argc, char **argv);
static const char *mod_auth_set_inner_group(cairn_cmd_t *cmd, void *conf,
                                            int argc, char **argv);
static const char *mod_auth_group_open(cairn_cmd_t *cmd, mod_auth_req_t *g,
                                       int argc);
static mod_auth_req_t *mod_auth_root(cairn_cmd_t *cmd, mod_auth_conf_t *c);
static const char *mod_auth_require_add(cairn_cmd_t *cmd,
                                        mod_auth_req_t *parent, int argc,
                                        char **argv);
static const char *mod_auth_resolve(void *conf, const char *where,
                                    void *data);
static const char *mod_auth_challenge(cairn_arena_t *a, const char *scheme,
                                      const char *realm, const char *extra);
static mod_auth_file_t *mod_auth_file_get(cairn_server_t *s,
                                          const char *path, int kind,
                                          const char **err);
static void mod_auth_file_check(mod_auth_file_t *f);
static void mod_auth_file_stamp(mod_auth_file_t *f, const struct stat *st);
static void mod_auth_file_free(void *data);
static void mod_auth_secret_free(void *data);
static void mod_auth_pkey_free(void *data);
static int mod_auth_cache_key(const mod_auth_file_t *f, const char *user,
                              const char *password, unsigned char *mac);
static int mod_auth_cache_find(const unsigned char *mac);
static void mod_auth_cache_put(const unsigned char *mac, int64_t ttl_ms);


static const cairn_directive_t  mod_auth_section_directives[] = {
    { "Require", CAIRN_ARGS_ONE_OR_MORE, CAIRN_TYPE_CUSTOM,
      CAIRN_MERGE_REPLACE, CAIRN_SCOPE_SECTION, 0, 0,
      mod_auth_set_inner_require },
    { "RequireAny", CAIRN_ARGS_SECTION, CAIRN_TYPE_CUSTOM,
      CAIRN_MERGE_REPLACE, CAIRN_SCOPE_SECTION, 0, 0,
      mod_auth_set_inner_group },
    { "RequireAll", CAIRN_ARGS_SECTION, CAIRN_TYPE_CUSTOM,
      CAIRN_MERGE_REPLACE, CAIRN_SCOPE_SECTION, 0, 0,
      mod_auth_set_inner_group },
    CAIRN_DIRECTIVE_END
};

/*
 * The Require family keeps its state outside the table's fields (size
 * 0): mod_auth_merge_conf() takes the inner scope's rules when it has
 * any, else the outer ones, as a whole.
 */
static const cairn_directive_t  mod_auth_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("AuthType", CAIRN_ARGS_ONE, mod_auth_conf_t, type,
                           CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE,
                           mod_auth_set_type),
    CAIRN_DIRECTIVE_ONE("AuthName", mod_auth_conf_t, realm, CAIRN_SCOPE_ANY,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_PATH("AuthUserFile", mod_auth_conf_t, user_file,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_PATH("AuthTokenFile", mod_auth_conf_t, token_file,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_PATH("AuthJWTKey", mod_auth_conf_t, jwt_key,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_PATH("AuthJWTPublicKey", mod_auth_conf_t, jwt_pubkey,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("AuthJWTLeeway", mod_auth_conf_t, leeway_s,
                        CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_ONE("AuthJWTIssuer", mod_auth_conf_t, issuer,
                        CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_LIST("AuthJWTAudience", mod_auth_conf_t, audience,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("AuthCacheTTL", mod_auth_conf_t, cache_ttl_ms,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    /* One setting: an inner scope with any of them replaces the outer
     * rules as a whole. */
    CAIRN_DIRECTIVE_CUSTOM("Require", CAIRN_ARGS_ONE_OR_MORE,
                           mod_auth_conf_t, require, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_SCOPE, mod_auth_set_require),
    CAIRN_DIRECTIVE_SECTION("RequireAny", mod_auth_conf_t, require,
                            CAIRN_SCOPE_ANY, CAIRN_MERGE_SCOPE,
                            mod_auth_set_group),
    CAIRN_DIRECTIVE_SECTION("RequireAll", mod_auth_conf_t, require,
                            CAIRN_SCOPE_ANY, CAIRN_MERGE_SCOPE,
                            mod_auth_set_group),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_auth_defaults[] = {
    "None",
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    "all granted",
    NULL,
    NULL,
};


static const cairn_hook_decl_t  mod_auth_hooks[] = {
    CAIRN_HOOK_POST_CONFIG(mod_auth_post_config, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_auth_worker_init, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_EXIT(mod_auth_worker_exit, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_AUTHENTICATE(mod_auth_authenticate, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_AUTHORIZE(mod_auth_authorize, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(auth) = {
    CAIRN_MODULE_HEADER,
    .version        = CAIRN_VERSION,
    .description    = "Basic and Bearer authentication, Require rules",
    .directives     = mod_auth_directives,
    .create_conf    = mod_auth_create_conf,
    .merge_conf     = mod_auth_merge_conf,
    .directive_defaults = mod_auth_defaults,
    .hooks          = mod_auth_hooks,
};


/* The files of the generation being checked by post_config. */
static mod_auth_file_t   *mod_auth_files;

/* Load generations: unique within a process. */
static uint64_t           mod_auth_gen;

/* Per worker: the verified-credential cache and its key. */
static mod_auth_slot_t   *mod_auth_cache;
static unsigned char      mod_auth_cache_secret[32];


/* ------------------------------------------------------------------ */
/* Hooks                                                              */
/* ------------------------------------------------------------------ */

static int
mod_auth_post_config(cairn_server_t *s)
{
    const char  *err;

    mod_auth_files = NULL;

    err = cairn_server_each_conf(s, &mod_auth_module, mod_auth_resolve, s);

    /* The list is only for sharing files within this check. */
    mod_auth_files = NULL;

    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }

    return CAIRN_OK;
}
static int
mod_auth_worker_init(cairn_server_t *s)
{
    if (RAND_bytes(mod_auth_cache_secret, sizeof(mod_auth_cache_secret))
        != 1)
    {
        cairn_log_warn(NULL, 0, "no random bytes for the credential cache "
                       "key; verified passwords are not cached");
        return CAIRN_OK;
    }

    mod_auth_cache = calloc(MOD_AUTH_CACHE_SLOTS, sizeof(mod_auth_slot_t));
    if (mod_auth_cache == NULL) {
        cairn_log_warn(NULL, ENOMEM, "cannot allocate the credential cache; "
                       "verified passwords are not cached");
    }

    return CAIRN_OK;
}
static int
mod_auth_worker_exit(cairn_server_t *s)
{
    free(mod_auth_cache);
    mod_auth_cache = NULL;
    OPENSSL_cleanse(mod_auth_cache_secret, sizeof(mod_auth_cache_secret));

    return CAIRN_OK;
}
static int
mod_auth_authenticate(cairn_request_t *r)
{
    mod_auth_conf_t  *conf;
    mod_auth_ctx_t   *ctx;
    mod_auth_who_t    who;
    const char       *header;
    int               rc;

    conf = cairn_request_conf(r, &mod_auth_module);
    if (conf == NULL || conf->require == NULL) {
        return CAIRN_DECLINED;
    }

    ctx = cairn_arena_calloc(cairn_request_arena(r), sizeof(*ctx));
    ctx->decided = -1;
    cairn_request_set_ctx(r, &mod_auth_module, ctx);

    /* Rules that hold or fail whoever it is need no credentials. */
    memset(&who, 0, sizeof(who));
    who.addr = cairn_request_remote_sockaddr(r);
    rc = mod_auth_req_eval(conf->require, &who);
    if (rc != MOD_AUTH_NO_USER) {
        ctx->decided = rc;
        return CAIRN_OK;
    }

    header = cairn_request_header(r, "Authorization");
    if (header == NULL) {
        return CAIRN_OK;
    }

    switch (conf->type) {
    case MOD_AUTH_TYPE_BASIC:
        return mod_auth_basic(r, conf, ctx, header);
    case MOD_AUTH_TYPE_BEARER:
        return mod_auth_bearer(r, conf, ctx, header);
    default:
        return CAIRN_OK;
    }
}
static int
mod_auth_authorize(cairn_request_t *r)
{
    mod_auth_conf_t  *conf;
    mod_auth_ctx_t   *ctx;
    mod_auth_who_t    who;
    int               rc;

    conf = cairn_request_conf(r, &mod_auth_module);
    ctx = cairn_request_ctx(r, &mod_auth_module);
    if (conf == NULL || conf->require == NULL || ctx == NULL) {
        return CAIRN_DECLINED;
    }

    rc = ctx->decided;
    if (rc < 0) {
        who.authenticated = ctx->authenticated;
        who.user = ctx->user;
        who.claims = ctx->claims;
        who.addr = cairn_request_remote_sockaddr(r);
        rc = mod_auth_req_eval(conf->require, &who);
    }

    switch (rc) {
    case MOD_AUTH_GRANTED:
        return CAIRN_OK;

    case MOD_AUTH_NO_USER:
        if (conf->challenge != NULL) {
            cairn_response_header_set(r, "WWW-Authenticate",
                                      ctx->bad ? conf->challenge_bad
                                               : conf->challenge);
            return 401;
        }
        return 403;

    default:
        return 403;
    }
}


/* ------------------------------------------------------------------ */
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

static void *
mod_auth_create_conf(cairn_arena_t *a)
{
    mod_auth_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(*conf));
    conf->type = MOD_AUTH_TYPE_NONE;
    conf->cache_ttl_ms = 60000;

    return conf;
}
static const char *
mod_auth_merge_conf(cairn_arena_t *a, const void *parent, const void *child,
                    void *merged)
{
    const mod_auth_conf_t  *p = parent, *c = child;
    mod_auth_conf_t        *m = merged;

    m->require = c->require != NULL ? c->require : p->require;

    return NULL;
}
static const char *
mod_auth_set_type(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_auth_conf_t  *c = conf;

    if (strcasecmp(argv[0], "Basic") == 0) {
        c->type = MOD_AUTH_TYPE_BASIC;
    } else if (strcasecmp(argv[0], "Bearer") == 0) {
        c->type = MOD_AUTH_TYPE_BEARER;
    } else if (strcasecmp(argv[0], "None") == 0) {
        c->type = MOD_AUTH_TYPE_NONE;
    } else {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "AuthType '%s' is "
                                  "not one of Basic, Bearer, None", argv[0]);
    }

    return NULL;
}
static const char *
mod_auth_set_require(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    return mod_auth_require_add(cmd, mod_auth_root(cmd, conf), argc, argv);
}
static const char *
mod_auth_set_group(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    return mod_auth_group_open(cmd, mod_auth_root(cmd, conf), argc);
}
static const char *
mod_auth_set_inner_require(cairn_cmd_t *cmd, void *conf, int argc,
                           char **argv)
{
    return mod_auth_require_add(cmd, conf, argc, argv);
}
static const char *
mod_auth_set_inner_group(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    return mod_auth_group_open(cmd, conf, argc);
}
/* The implicit <RequireAny> of a scope's Require lines. */
static mod_auth_req_t *
mod_auth_root(cairn_cmd_t *cmd, mod_auth_conf_t *c)
{
    if (c->require == NULL) {
        c->require = mod_auth_req_group(cairn_cmd_arena(cmd),
                                        MOD_AUTH_REQ_ANY,
                                        cairn_cmd_file(cmd),
                                        cairn_cmd_line(cmd));
    }

    return c->require;
}
/* A Require line parsed and added to parent (a location's root group or
 * a <RequireAny>/<RequireAll> section). */
static const char *
mod_auth_require_add(cairn_cmd_t *cmd, mod_auth_req_t *parent, int argc,
                     char **argv)
{
    mod_auth_req_t  *n;
    const char      *err;

    n = mod_auth_req_parse(cairn_cmd_arena(cmd), argc, argv, &err);
    if (n == NULL) {
        return err;
    }
    n->file = cairn_cmd_file(cmd);
    n->line = cairn_cmd_line(cmd);
    mod_auth_req_add(cairn_cmd_arena(cmd), parent, n);

    return NULL;
}
static const char *
mod_auth_group_open(cairn_cmd_t *cmd, mod_auth_req_t *parent, int argc)
{
    mod_auth_req_t  *g;

    if (argc != 0) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "<%s> takes no "
                                  "arguments", cairn_cmd_name(cmd));
    }

    g = mod_auth_req_group(cairn_cmd_arena(cmd),
                           strcasecmp(cairn_cmd_name(cmd), "RequireAll") == 0
                           ? MOD_AUTH_REQ_ALL : MOD_AUTH_REQ_ANY,
                           cairn_cmd_file(cmd), cairn_cmd_line(cmd));
    mod_auth_req_add(cairn_cmd_arena(cmd), parent, g);

    return cairn_cmd_section(cmd, mod_auth_section_directives, g);
}
static const char *
mod_auth_resolve(void *conf, const char *where, void *data)
{
    cairn_server_t       *s = data;
    cairn_arena_t        *a = cairn_server_arena(s);
    mod_auth_conf_t      *c = conf;
    mod_auth_jwt_keys_t  *k;
    const char           *err, *realm;
    char                  msg[MOD_AUTH_ERR_MAX];
    unsigned char        *secret;
    size_t                len;
    int                   uses_user;

    if (c->resolved) {
        return NULL;
    }
    c->resolved = 1;

    if (c->leeway_s < 0 || c->cache_ttl_ms < 0) {
        return cairn_arena_printf(a, "AuthJWTLeeway and AuthCacheTTL may "
                                  "not be negative (in %s)", where);
    }

    uses_user = 0;
    if (c->require != NULL) {
        err = mod_auth_req_check(a, c->require, &uses_user);
        if (err != NULL) {
            return err;
        }
    }

    if (uses_user && c->type == MOD_AUTH_TYPE_NONE) {
        return cairn_arena_printf(a, "%s:%d: Require rules that name users "
                                  "(valid-user, user, claim) need AuthType "
                                  "Basic or Bearer (in %s)",
                                  c->require->file, c->require->line, where);
    }
    if (uses_user && c->type == MOD_AUTH_TYPE_BASIC && c->user_file == NULL) {
        return cairn_arena_printf(a, "AuthType Basic needs AuthUserFile "
                                  "(in %s)", where);
    }
    if (uses_user && c->type == MOD_AUTH_TYPE_BEARER && c->token_file == NULL
        && c->jwt_key == NULL && c->jwt_pubkey == NULL)
    {
        return cairn_arena_printf(a, "AuthType Bearer needs AuthTokenFile, "
                                  "AuthJWTKey or AuthJWTPublicKey (in %s)",
                                  where);
    }

    if (c->user_file != NULL) {
        c->users = mod_auth_file_get(s, c->user_file, MOD_AUTH_FILE_PASSWD,
                                     &err);
        if (c->users == NULL) {
            return err;
        }
    }
    if (c->token_file != NULL) {
        c->tokens = mod_auth_file_get(s, c->token_file, MOD_AUTH_FILE_TOKENS,
                                      &err);
        if (c->tokens == NULL) {
            return err;
        }
    }

    if (c->jwt_key != NULL || c->jwt_pubkey != NULL) {
        k = cairn_arena_calloc(a, sizeof(*k));
        if (c->jwt_key != NULL) {
            if (mod_auth_jwt_load_secret(c->jwt_key, &secret, &len, msg,
                                         sizeof(msg)) != 0)
            {
                return cairn_arena_printf(a, "AuthJWTKey: %s", msg);
            }
            cairn_arena_cleanup_add(a, mod_auth_secret_free, secret);
            k->hmac_key = secret;
            k->hmac_len = len;
        }
        if (c->jwt_pubkey != NULL) {
            k->pkey = mod_auth_jwt_load_pubkey(c->jwt_pubkey, msg,
                                               sizeof(msg));
            if (k->pkey == NULL) {
                return cairn_arena_printf(a, "AuthJWTPublicKey: %s", msg);
            }
            cairn_arena_cleanup_add(a, mod_auth_pkey_free, k->pkey);
        }
        k->leeway_s = c->leeway_s;
        k->issuer = c->issuer;
        k->audience = c->audience.v;
        k->naudience = c->audience.n;
        c->jwt = k;
    }

    realm = c->realm != NULL ? c->realm : MOD_AUTH_DEFAULT_REALM;
    if (c->type == MOD_AUTH_TYPE_BASIC) {
        c->challenge = mod_auth_challenge(a, "Basic", realm,
                                          ", charset=\"UTF-8\"");
        c->challenge_bad = c->challenge;
    } else if (c->type == MOD_AUTH_TYPE_BEARER) {
        c->challenge = mod_auth_challenge(a, "Bearer", realm, "");
        c->challenge_bad = mod_auth_challenge(a, "Bearer", realm,
                                              ", error=\"invalid_token\"");
    }

    return NULL;
}
/* `scheme realm="..."extra`, with '"' and '\' in the realm escaped. */
static const char *
mod_auth_challenge(cairn_arena_t *a, const char *scheme, const char *realm,
                   const char *extra)
{
    char    *q, *p;
    size_t   i;

    q = cairn_arena_alloc(a, 2 * strlen(realm) + 1);
    p = q;
    for (i = 0; realm[i] != '\0'; i++) {
        if (realm[i] == '"' || realm[i] == '\\') {
            *p++ = '\\';
        }
        *p++ = realm[i];
    }
    *p = '\0';

    return cairn_arena_printf(a, "%s realm=\"%s\"%s", scheme, q, extra);
}


/* ------------------------------------------------------------------ */
/* Password and token files                                           */
/* ------------------------------------------------------------------ */

static mod_auth_file_t *
mod_auth_file_get(cairn_server_t *s, const char *path, int kind,
                  const char **err)
{
    cairn_arena_t    *a = cairn_server_arena(s);
    mod_auth_file_t  *f;
    struct stat       st;
    char              msg[MOD_AUTH_ERR_MAX];

    for (f = mod_auth_files; f != NULL; f = f->next) {
        if (f->kind == kind && strcmp(f->path, path) == 0) {
            return f;
        }
    }

    f = cairn_arena_calloc(a, sizeof(*f));
    f->path = path;
    f->kind = kind;

    if (stat(path, &st) != 0) {
        *err = cairn_arena_printf(a, "%s %s: %s",
                                  kind == MOD_AUTH_FILE_PASSWD
                                  ? "AuthUserFile" : "AuthTokenFile",
                                  path, strerror(errno));
        return NULL;
    }

    f->table = mod_auth_table_load(path, kind, msg, sizeof(msg));
    if (f->table == NULL) {
        *err = cairn_arena_strdup(a, msg);
        return NULL;
    }
    mod_auth_file_stamp(f, &st);
    f->gen = ++mod_auth_gen;
    cairn_arena_cleanup_add(a, mod_auth_file_free, f);

    f->next = mod_auth_files;
    mod_auth_files = f;

    return f;
}
static void
mod_auth_file_stamp(mod_auth_file_t *f, const struct stat *st)
{
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtim = st->st_mtim;
    f->ctim = st->st_ctim;
}
/*
 * Re-reads the file when its identity, size or times changed since it
 * was loaded (looked at most once per MOD_AUTH_CHECK_US).  On the loop:
 * one stat(2) a second, and a read when an administrator changed it.
 */
static void
mod_auth_file_check(mod_auth_file_t *f)
{
    mod_auth_table_t  *t;
    struct stat        st;
    char               msg[MOD_AUTH_ERR_MAX];
    uint64_t           now;

    now = cairn_now_us();
    if (f->checked_us != 0 && now - f->checked_us < MOD_AUTH_CHECK_US) {
        return;
    }
    f->checked_us = now;

    if (stat(f->path, &st) != 0) {
        if (!f->missing) {
            cairn_log_error(NULL, errno, "stat(\"%s\") failed; keeping the "
                            "%zu entries read before", f->path,
                            f->table != NULL ? f->table->n : (size_t) 0);
            f->missing = 1;
        }
        return;
    }
    f->missing = 0;

    if (st.st_dev == f->dev && st.st_ino == f->ino && st.st_size == f->size
        && st.st_mtim.tv_sec == f->mtim.tv_sec
        && st.st_mtim.tv_nsec == f->mtim.tv_nsec
        && st.st_ctim.tv_sec == f->ctim.tv_sec
        && st.st_ctim.tv_nsec == f->ctim.tv_nsec)
    {
        return;
    }

    /* Whatever happens, this version of the file has been seen. */
    mod_auth_file_stamp(f, &st);

    t = mod_auth_table_load(f->path, f->kind, msg, sizeof(msg));
    if (t == NULL) {
        cairn_log_error(NULL, 0, "%s; keeping the %zu entries read before",
                        msg, f->table != NULL ? f->table->n : (size_t) 0);
        return;
    }

    mod_auth_table_free(f->table);
    f->table = t;
    f->gen = ++mod_auth_gen;

    cairn_log_notice(NULL, "re-read %s: %zu entries", f->path, t->n);
}
static void
mod_auth_file_free(void *data)
{
    mod_auth_file_t  *f = data;

    mod_auth_table_free(f->table);
    f->table = NULL;
}
static void
mod_auth_secret_free(void *data)
{
    /* The length is not kept here: clear the whole buffer. */
    OPENSSL_cleanse(data, MOD_AUTH_SECRET_MAX + 1);
    free(data);
}
static void
mod_auth_pkey_free(void *data)
{
    EVP_PKEY_free(data);
}


/* ------------------------------------------------------------------ */
/* The verified-credential cache                                      */
/* ------------------------------------------------------------------ */

static int
mod_auth_cache_key(const mod_auth_file_t *f, const char *user,
                   const char *password, unsigned char *mac)
{
    unsigned char  buf[8 + MOD_AUTH_USER_MAX + 1 + MOD_AUTH_PASSWORD_MAX];
    unsigned int   len;
    size_t         i, ulen, plen;
    int            rc;

    /* gen || user || NUL || password: unambiguous, since neither the
     * user nor the password may contain a NUL (both were bounded by
     * mod_auth_basic_parse()). */
    ulen = strlen(user);
    plen = strlen(password);
    if (ulen > MOD_AUTH_USER_MAX || plen > MOD_AUTH_PASSWORD_MAX) {
        return -1;
    }

    for (i = 0; i < 8; i++) {
        buf[i] = (unsigned char) (f->gen >> (8 * i));
    }
    memcpy(buf + 8, user, ulen + 1);
    memcpy(buf + 9 + ulen, password, plen);

    len = 32;
    rc = HMAC(EVP_sha256(), mod_auth_cache_secret,
              (int) sizeof(mod_auth_cache_secret), buf, 9 + ulen + plen, mac,
              &len) != NULL && len == 32 ? 0 : -1;

    OPENSSL_cleanse(buf, 9 + ulen + plen);

    return rc;
}
static int
mod_auth_cache_find(const unsigned char *mac)
{
    mod_auth_slot_t  *slot;
    uint32_t          i;

    memcpy(&i, mac, sizeof(i));
    slot = &mod_auth_cache[i & (MOD_AUTH_CACHE_SLOTS - 1)];

    return slot->expires_us > cairn_now_us()
           && CRYPTO_memcmp(slot->mac, mac, 32) == 0;
}
static void
mod_auth_cache_put(const unsigned char *mac, int64_t ttl_ms)
{
    mod_auth_slot_t  *slot;
    uint32_t          i;

    memcpy(&i, mac, sizeof(i));
    slot = &mod_auth_cache[i & (MOD_AUTH_CACHE_SLOTS - 1)];

    memcpy(slot->mac, mac, 32);
    slot->expires_us = cairn_now_us() + (uint64_t) ttl_ms * 1000;
}


/* ------------------------------------------------------------------ */
/* Basic and Bearer                                                   */
/* ------------------------------------------------------------------ */

static int
mod_auth_basic(cairn_request_t *r, mod_auth_conf_t *conf, mod_auth_ctx_t *ctx,
               const char *header)
{
    cairn_arena_t           *a = cairn_request_arena(r);
    const mod_auth_entry_t  *e;
    mod_auth_job_t          *job;
    const char              *user, *password;

    if (conf->users == NULL
        || mod_auth_basic_parse(a, header, &user, &password) != 0)
    {
        ctx->bad = 1;
        cairn_log_info(r, "malformed Basic credentials");
        return CAIRN_OK;
    }

    mod_auth_file_check(conf->users);
    if (conf->users->table == NULL || conf->users->table->n == 0) {
        ctx->bad = 1;
        return CAIRN_OK;
    }

    job = cairn_arena_calloc(a, sizeof(*job));

    if (mod_auth_cache != NULL && conf->cache_ttl_ms > 0) {
        job->cacheable = mod_auth_cache_key(conf->users, user, password,
                                            job->mac) == 0;
        if (job->cacheable && mod_auth_cache_find(job->mac)) {
            OPENSSL_cleanse((char *) password, strlen(password));
            ctx->authenticated = 1;
            ctx->user = user;
            cairn_request_set_user(r, user);
            return CAIRN_OK;
        }
    }

    /*
     * An unknown user costs the same as a wrong password: the check runs
     * against another user's hash and is then discarded, so timing does
     * not tell which names exist.
     */
    e = mod_auth_table_find(conf->users->table, user);
    job->known = e != NULL;
    if (e == NULL) {
        e = &conf->users->table->v[0];
    }

    job->conf = conf;
    job->ctx = ctx;
    job->user = (char *) user;
    job->password = (char *) password;
    job->hash = cairn_arena_strdup(a, e->secret);

    if (cairn_task_run(r, mod_auth_work, mod_auth_done, job) != CAIRN_OK) {
        OPENSSL_cleanse(job->password, strlen(job->password));
        cairn_log_error(r, 0, "cannot queue a password check");
        return 503;
    }

    return CAIRN_SUSPENDED;
}
/* On a task-pool thread: touches nothing but the job. */
static void
mod_auth_work(void *data)
{
    mod_auth_job_t  *job = data;

    job->ok = mod_auth_crypt_check(job->password, job->hash) && job->known;
}
static void
mod_auth_done(cairn_request_t *r, void *data)
{
    mod_auth_job_t  *job = data;

    if (job->ok) {
        if (job->cacheable && mod_auth_cache != NULL) {
            mod_auth_cache_put(job->mac, job->conf->cache_ttl_ms);
        }
        job->ctx->authenticated = 1;
        job->ctx->user = job->user;
        cairn_request_set_user(r, job->user);
    } else {
        job->ctx->bad = 1;
        cairn_log_info(r, "user '%s': authentication failed%s", job->user,
                       job->known ? "" : " (no such user)");
    }

    OPENSSL_cleanse(job->password, strlen(job->password));
    OPENSSL_cleanse(job->mac, sizeof(job->mac));

    cairn_request_resume(r, CAIRN_OK);
}
static int
mod_auth_bearer(cairn_request_t *r, mod_auth_conf_t *conf, mod_auth_ctx_t *ctx,
                const char *header)
{
    const mod_auth_entry_t  *e;
    const char              *token, *payload, *why;
    json_t                  *claims, *sub;

    /* Another scheme is no token at all: a plain challenge (RFC 6750). */
    if (strncasecmp(header, "Bearer", 6) != 0) {
        return CAIRN_OK;
    }

    token = mod_auth_bearer_token(header);
    if (token == NULL) {
        ctx->bad = 1;
        cairn_log_info(r, "malformed Bearer credentials");
        return CAIRN_OK;
    }

    if (conf->tokens != NULL) {
        mod_auth_file_check(conf->tokens);
        e = mod_auth_table_token(conf->tokens->table, token);
        if (e != NULL) {
            ctx->authenticated = 1;
            ctx->user = e->user;
            cairn_request_set_user(r, e->user);
            return CAIRN_OK;
        }
    }

    why = "unknown token";
    if (conf->jwt != NULL) {
        claims = mod_auth_jwt_verify(cairn_request_arena(r), conf->jwt, token,
                                     (int64_t) time(NULL), &payload, &why);
        if (claims != NULL) {
            cairn_arena_cleanup_add(cairn_request_arena(r),
                                    mod_auth_json_free, claims);
            ctx->authenticated = 1;
            ctx->claims = claims;
            sub = json_object_get(claims, "sub");
            if (json_is_string(sub)) {
                ctx->user = json_string_value(sub);
                cairn_request_set_user(r, ctx->user);
            }
            cairn_request_set_note(r, "user_claims", payload);
            return CAIRN_OK;
        }
    }

    ctx->bad = 1;
    cairn_log_info(r, "Bearer token refused: %s", why);

    return CAIRN_OK;
}
static void
mod_auth_json_free(void *data)
{
    json_decref(data);
}
