/*
 * mod_static: serves the files under DocumentRoot.
 *
 * Directives: DocumentRoot DIR               any scope  no default: declines
 *             DirectoryIndex FILE...         any scope  default index.html
 *             StaticDotfiles on|off          any scope  default off
 *             StaticSymlinks on|inside|off   any scope  default inside
 *             StaticCharset CHARSET|none     any scope  default none
 *             StaticFileETag on|off          any scope  default on
 *             StaticCacheMaxFileSize SIZE    any scope  default 64k
 *             StaticCacheEntries N           server     default 1024
 * Hooks:      post_config, worker_init, worker_exit, handler (LAST)
 *
 * GET and HEAD only.  Files are opened with openat2(2) relative to a
 * directory descriptor of the document root, which enforces the symlink
 * policy in the kernel; where openat2 is missing, the real path of what
 * was opened is checked instead.  Each worker keeps its small files in
 * memory, revalidated with one stat(2) per request, so that a hit costs
 * no open, read or close.  README.md is the user documentation;
 * mod_static.h lists the files of the module and what each holds.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "mime.h"
#include "mod_static.h"

/* StaticCacheEntries may not exceed this. */
#define MOD_STATIC_ENTRIES_MAX      1048576

/* A file changed less than this many seconds ago is not cached: two
 * writes within one timestamp tick would look like one. */
#define MOD_STATIC_SETTLE_S         2

#define MOD_STATIC_MIME_FILE        "/etc/mime.types"


/* What a response is made from: a cache entry or an open file. */
typedef struct {
    off_t                size;
    int64_t              mtime;         /* seconds */
    const char          *etag;          /* NULL: StaticFileETag off */
    const char          *lastmod;
    const char          *ctype;
    mod_static_entry_t  *entry;         /* NULL: fd */
    int                  fd;
} mod_static_file_t;

/* The request headers that make a request conditional (Range and
 * If-Range are the core's: it answers ranges of any body). */
typedef struct {
    const char          *if_match;
    const char          *if_none_match;
    const char          *if_modified_since;
    const char          *if_unmodified_since;
} mod_static_cond_t;


static void *mod_static_create_conf(cairn_arena_t *a);
static int mod_static_register(cairn_module_t *m);
static int mod_static_post_config(cairn_server_t *s);
static int mod_static_worker_init(cairn_server_t *s);
static int mod_static_worker_exit(cairn_server_t *s);
static int mod_static_handler(cairn_request_t *r);
static const char *mod_static_set_index(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static const char *mod_static_set_symlinks(cairn_cmd_t *cmd, void *conf,
                                           int argc, char **argv);
static const char *mod_static_set_charset(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static const char *mod_static_check_conf(void *conf, const char *where,
                                         void *data);
static const char *mod_static_open_roots(void *conf, const char *where,
                                         void *data);
static const char *mod_static_forget_roots(void *conf, const char *where,
                                           void *data);
static int mod_static_directory(cairn_request_t *r, mod_static_conf_t *conf,
                                mod_static_root_t *root, const char *path,
                                size_t len);
static int mod_static_regular(cairn_request_t *r, mod_static_conf_t *conf,
                              mod_static_root_t *root, const char *rel,
                              size_t rellen, int fd, const struct stat *st);
static int mod_static_send_entry(cairn_request_t *r,
                                 const mod_static_conf_t *conf,
                                 mod_static_entry_t *e);
static int mod_static_send(cairn_request_t *r, const mod_static_conf_t *conf,
                           mod_static_file_t *f);
static int mod_static_redirect(cairn_request_t *r, const char *path);
static int mod_static_status(cairn_request_t *r, mod_static_root_t *root,
                             const char *rel, int err);
static const char *mod_static_ctype(cairn_request_t *r,
                                    const mod_static_conf_t *conf,
                                    const char *type, int is_text);
static void mod_static_cond_read(cairn_request_t *r, mod_static_cond_t *c);


static const cairn_directive_t  mod_static_directives[] = {
    CAIRN_DIRECTIVE_PATH("DocumentRoot", mod_static_conf_t, docroot,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("DirectoryIndex", CAIRN_ARGS_ONE_OR_MORE,
                           mod_static_conf_t, index, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_static_set_index),
    CAIRN_DIRECTIVE_FLAG("StaticDotfiles", mod_static_conf_t, dotfiles,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("StaticSymlinks", CAIRN_ARGS_ONE,
                           mod_static_conf_t, symlinks, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_static_set_symlinks),
    CAIRN_DIRECTIVE_CUSTOM("StaticCharset", CAIRN_ARGS_ONE,
                           mod_static_conf_t, charset, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_static_set_charset),
    CAIRN_DIRECTIVE_FLAG("StaticFileETag", mod_static_conf_t, etag,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("StaticCacheMaxFileSize", mod_static_conf_t,
                         cache_max_bytes, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("StaticCacheEntries", mod_static_conf_t,
                        cache_entries, CAIRN_SCOPE_SERVER,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_static_defaults[] = {
    NULL,
    "index.html",
    NULL,
    "inside",
    "none",
    NULL,
    NULL,
    NULL,
};


CAIRN_MODULE(static) = {
    CAIRN_MODULE_HEADER,
    .version        = CAIRN_VERSION,
    .description    = "files under DocumentRoot",
    .directives     = mod_static_directives,
    .create_conf    = mod_static_create_conf,
    .register_hooks = mod_static_register,
    .directive_defaults = mod_static_defaults,
};


/* Per worker process: set up in worker_init, released in worker_exit. */
mod_static_mime_t          *mod_static_mime;

static const char          *mod_static_default_index[] = { "index.html" };

/* Bodies of the answers made here, in the style of the core's pages. */
static const char           mod_static_301[] =
    "<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title>"
    "</head><body><h1>301 Moved Permanently</h1></body></html>\n";



static int
mod_static_register(cairn_module_t *m)
{
    if (cairn_hook_post_config(m, mod_static_post_config, CAIRN_ORDER_MIDDLE,
                               0, NULL, NULL) != CAIRN_OK
        || cairn_hook_worker_init(m, mod_static_worker_init,
                                  CAIRN_ORDER_MIDDLE, 0, NULL, NULL)
           != CAIRN_OK
        || cairn_hook_worker_exit(m, mod_static_worker_exit,
                                  CAIRN_ORDER_MIDDLE, 0, NULL, NULL)
           != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    /* Last: routes and other handlers of the same location go first. */
    return cairn_hook_handler(m, mod_static_handler, CAIRN_ORDER_LAST, 0,
                              NULL, NULL);
}


static int
mod_static_post_config(cairn_server_t *s)
{
    const mod_static_conf_t  *conf;
    const char               *err;

    conf = cairn_server_conf(s, &mod_static_module);
    if (conf != NULL && (conf->cache_entries < 0
                         || conf->cache_entries > MOD_STATIC_ENTRIES_MAX))
    {
        cairn_log_error(NULL, 0, "StaticCacheEntries %d is out of range "
                        "(0 to %d)", conf->cache_entries,
                        MOD_STATIC_ENTRIES_MAX);
        return CAIRN_ERROR;
    }

    err = cairn_server_each_conf(s, &mod_static_module, mod_static_check_conf,
                                 NULL);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }

    return CAIRN_OK;
}


static int
mod_static_worker_init(cairn_server_t *s)
{
    const mod_static_conf_t  *conf;
    int                       entries, n;

    conf = cairn_server_conf(s, &mod_static_module);
    entries = conf != NULL ? conf->cache_entries : 1024;

    mod_static_mime = mod_static_mime_create();
    if (mod_static_mime == NULL) {
        cairn_log_error(NULL, ENOMEM, "cannot build the MIME type table; "
                        "using the built-in types");

    } else {
        n = mod_static_mime_load(mod_static_mime, MOD_STATIC_MIME_FILE);
        if (n < 0 && errno != ENOENT) {
            cairn_log_warn(NULL, errno, "cannot read %s; using the built-in "
                           "MIME types", MOD_STATIC_MIME_FILE);
        }
    }

    if (entries > 0 && mod_static_cache_create((uint32_t) entries) != 0) {
        cairn_log_error(NULL, ENOMEM, "cannot allocate a cache of %d files; "
                        "serving without it", entries);
    }

    /* Open every root now rather than on the first request. */
    cairn_server_each_conf(s, &mod_static_module, mod_static_open_roots,
                           NULL);

    return CAIRN_OK;
}


static int
mod_static_worker_exit(cairn_server_t *s)
{
    mod_static_root_t  *root, *next;

    cairn_server_each_conf(s, &mod_static_module, mod_static_forget_roots,
                           NULL);

    for (root = mod_static_roots; root != NULL; root = next) {
        next = root->next;
        if (root->fd >= 0) {
            close(root->fd);
        }
        free(root->real);
        free(root);
    }
    mod_static_roots = NULL;

    mod_static_cache_destroy();

    mod_static_mime_destroy(mod_static_mime);
    mod_static_mime = NULL;

    return CAIRN_OK;
}


static int
mod_static_handler(cairn_request_t *r)
{
    mod_static_conf_t   *conf;
    mod_static_root_t   *root;
    mod_static_entry_t  *e;
    cairn_method_t       method;
    const char          *path, *p, *rel;
    size_t               len;
    uint32_t             hash;
    struct stat          st;
    int                  fd;

    conf = cairn_request_conf(r, &mod_static_module);
    if (conf == NULL || conf->docroot == NULL) {
        return CAIRN_DECLINED;
    }

    method = cairn_request_method(r);
    if (method != CAIRN_METHOD_GET && method != CAIRN_METHOD_HEAD) {
        return cairn_respond_not_allowed(r, CAIRN_M(CAIRN_METHOD_GET));
    }

    /*
     * The core hands over a decoded, normalised path; check it again
     * anyway, since this is what decides which file leaves the server.
     */
    path = cairn_request_path(r);
    if (path == NULL || path[0] != '/') {
        return 400;
    }

    for (p = path; *p != '\0'; p++) {
        if (*p == '\\') {
            return 404;
        }
        if (*p == '/' && p[1] == '.') {
            if (p[2] == '.' && (p[3] == '/' || p[3] == '\0')) {
                return 400;
            }
            if (!conf->dotfiles) {
                return 404;
            }
        }
    }
    len = (size_t) (p - path);

    root = mod_static_root(r, conf);
    if (root == NULL) {
        return 404;
    }

    if (path[len - 1] == '/') {
        return mod_static_directory(r, conf, root, path, len);
    }

    rel = path + 1;
    len--;

    if (mod_static_cache != NULL && conf->cache_max_bytes > 0
        && len <= MOD_STATIC_KEY_MAX)
    {
        hash = mod_static_hash(rel, len, conf->symlinks);
        e = mod_static_cache_find(root, conf->symlinks, rel, len, hash);
        if (e != NULL) {
            return mod_static_send_entry(r, conf, e);
        }
    }

    fd = mod_static_open(r, root, rel, MOD_STATIC_OPEN_FLAGS, conf->symlinks);
    if (fd < 0) {
        return mod_static_status(r, root, rel, errno);
    }

    if (fstat(fd, &st) != 0) {
        cairn_log_error(r, errno, "fstat(\"%s/%s\") failed", root->path, rel);
        close(fd);
        return 500;
    }

    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return mod_static_redirect(r, path);
    }

    return mod_static_regular(r, conf, root, rel, len, fd, &st);
}


/* DirectoryIndex: CUSTOM so that a name with a '/' fails with file:line. */
static const char *
mod_static_set_index(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_static_conf_t  *c;
    int                 i;

    c = conf;

    for (i = 0; i < argc; i++) {
        if (argv[i][0] == '\0' || strchr(argv[i], '/') != NULL
            || strcmp(argv[i], ".") == 0 || strcmp(argv[i], "..") == 0
            || strlen(argv[i]) > NAME_MAX)
        {
            return cairn_arena_printf(cairn_cmd_arena(cmd),
                                      "DirectoryIndex '%s' is not a file "
                                      "name (no '/', not '.' or '..')",
                                      argv[i]);
        }
    }

    c->index.n = (size_t) argc;
    c->index.v = (const char **) argv;

    return NULL;
}


static const char *
mod_static_set_symlinks(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_static_conf_t  *c;

    c = conf;

    if (strcasecmp(argv[0], "on") == 0) {
        c->symlinks = MOD_STATIC_LINKS_ON;
    } else if (strcasecmp(argv[0], "inside") == 0) {
        c->symlinks = MOD_STATIC_LINKS_INSIDE;
    } else if (strcasecmp(argv[0], "off") == 0) {
        c->symlinks = MOD_STATIC_LINKS_OFF;
    } else {
        return cairn_arena_printf(cairn_cmd_arena(cmd),
                                  "StaticSymlinks takes on, inside or off, "
                                  "not '%s'", argv[0]);
    }

    return NULL;
}


static const char *
mod_static_set_charset(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_static_conf_t  *c;
    const char         *p;
    size_t              len;

    c = conf;

    if (strcasecmp(argv[0], "none") == 0 || strcasecmp(argv[0], "off") == 0) {
        c->charset = NULL;
        return NULL;
    }

    /* A token (RFC 9110 section 5.6.2) that fits in a header. */
    len = strlen(argv[0]);
    for (p = argv[0]; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')
              || strchr("!#$%&'*+-.^_`|~", *p) != NULL))
        {
            break;
        }
    }

    if (len == 0 || len > MOD_STATIC_CHARSET_MAX || *p != '\0') {
        return cairn_arena_printf(cairn_cmd_arena(cmd),
                                  "StaticCharset '%s' is not a charset name "
                                  "(like utf-8) or none", argv[0]);
    }

    c->charset = argv[0];

    return NULL;
}


static void *
mod_static_create_conf(cairn_arena_t *a)
{
    mod_static_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(*conf));

    conf->index.n = 1;
    conf->index.v = mod_static_default_index;
    conf->dotfiles = 0;
    conf->symlinks = MOD_STATIC_LINKS_INSIDE;
    conf->etag = 1;
    conf->cache_max_bytes = 64 * 1024;
    conf->cache_entries = 1024;

    return conf;
}


/* post_config: a DocumentRoot that is not a directory now is worth a
 * warning (it may be mounted later), never a failure. */
static const char *
mod_static_check_conf(void *conf, const char *where, void *data)
{
    const mod_static_conf_t  *c;
    struct stat               st;

    c = conf;

    if (c->docroot == NULL) {
        return NULL;
    }

    if (c->docroot[0] != '/') {
        return "DocumentRoot must be an absolute path";
    }

    if (stat(c->docroot, &st) != 0) {
        cairn_log_warn(NULL, errno, "DocumentRoot \"%s\" (%s)", c->docroot,
                       where);
    } else if (!S_ISDIR(st.st_mode)) {
        cairn_log_warn(NULL, 0, "DocumentRoot \"%s\" (%s) is not a "
                       "directory", c->docroot, where);
    }

    return NULL;
}


/* worker_init: finds and opens the root of every scope. */
static const char *
mod_static_open_roots(void *conf, const char *where, void *data)
{
    mod_static_conf_t  *c;

    c = conf;

    if (c->docroot != NULL) {
        mod_static_root(NULL, c);
    }

    return NULL;
}


/* worker_exit: the scopes must not keep pointers to freed roots. */
static const char *
mod_static_forget_roots(void *conf, const char *where, void *data)
{
    ((mod_static_conf_t *) conf)->root = NULL;

    return NULL;
}


/*
 * A path ending in '/': the first DirectoryIndex file that is a regular
 * file, else 403 when the directory exists (there is no listing), else
 * 404.
 */
static int
mod_static_directory(cairn_request_t *r, mod_static_conf_t *conf,
                     mod_static_root_t *root, const char *path, size_t len)
{
    char                 rel[PATH_MAX];
    const char          *name;
    size_t               i, dirlen, namelen, rellen;
    uint32_t             hash;
    mod_static_entry_t  *e;
    struct stat          st;
    int                  fd;

    /* "/a/b/" becomes "a/b/"; "/" becomes "". */
    dirlen = len - 1;
    if (dirlen >= sizeof(rel)) {
        return 404;
    }
    memcpy(rel, path + 1, dirlen);

    for (i = 0; i < conf->index.n; i++) {
        name = conf->index.v[i];
        namelen = strlen(name);
        rellen = dirlen + namelen;
        if (rellen >= sizeof(rel)) {
            continue;
        }
        memcpy(rel + dirlen, name, namelen + 1);

        if (mod_static_cache != NULL && conf->cache_max_bytes > 0
            && rellen <= MOD_STATIC_KEY_MAX)
        {
            hash = mod_static_hash(rel, rellen, conf->symlinks);
            e = mod_static_cache_find(root, conf->symlinks, rel, rellen,
                                      hash);
            if (e != NULL) {
                return mod_static_send_entry(r, conf, e);
            }
        }

        fd = mod_static_open(r, root, rel, MOD_STATIC_OPEN_FLAGS,
                             conf->symlinks);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR) {
                continue;
            }
            return mod_static_status(r, root, rel, errno);
        }

        if (fstat(fd, &st) != 0) {
            cairn_log_error(r, errno, "fstat(\"%s/%s\") failed", root->path,
                            rel);
            close(fd);
            return 500;
        }

        if (!S_ISREG(st.st_mode)) {
            close(fd);
            continue;
        }

        return mod_static_regular(r, conf, root, rel, rellen, fd, &st);
    }

    /* No index file: does the directory itself exist? */
    rel[dirlen] = '\0';
    fd = mod_static_open(r, root, dirlen == 0 ? "." : rel,
                         O_PATH | O_DIRECTORY | O_CLOEXEC, conf->symlinks);
    if (fd < 0) {
        return mod_static_status(r, root, rel, errno);
    }
    close(fd);

    cairn_log_debug(r, "no DirectoryIndex file in \"%s/%s\"", root->path,
                    rel);

    return 403;
}


/*
 * Serves the file open on fd (rel under root, st its status; 403 unless
 * it is a regular file): from the cache when it fits and has settled,
 * else with sendfile.  Takes fd over.
 */
static int
mod_static_regular(cairn_request_t *r, mod_static_conf_t *conf,
                   mod_static_root_t *root, const char *rel, size_t rellen,
                   int fd, const struct stat *st)
{
    mod_static_entry_t  *e;
    mod_static_file_t    f;
    const char          *type;
    char                 etag[MOD_STATIC_ETAG_MAX];
    char                 lastmod[MOD_STATIC_DATE_MAX];

    if (!S_ISREG(st->st_mode)) {
        cairn_log_debug(r, "\"%s/%s\" is not a regular file", root->path,
                        rel);
        close(fd);
        return 403;
    }

    /* The same conditions as the lookup, so no key is ever cached twice. */
    if (mod_static_cache != NULL && conf->cache_max_bytes > 0
        && st->st_size <= conf->cache_max_bytes
        && rellen <= MOD_STATIC_KEY_MAX
        && st->st_ctim.tv_sec + MOD_STATIC_SETTLE_S <= time(NULL))
    {
        e = mod_static_cache_fill(conf, root, rel, rellen,
                                  mod_static_hash(rel, rellen,
                                                  conf->symlinks),
                                  fd, st);
        if (e != NULL) {
            close(fd);
            return mod_static_send_entry(r, conf, e);
        }
    }

    type = mod_static_mime_lookup(mod_static_mime, rel);
    mod_static_etag(etag, st);
    cairn_http_date(st->st_mtim.tv_sec, lastmod);

    f.size = st->st_size;
    f.mtime = st->st_mtim.tv_sec;
    f.etag = conf->etag ? etag : NULL;
    f.lastmod = lastmod;
    f.ctype = mod_static_ctype(r, conf, type, mod_static_mime_is_text(type));
    f.entry = NULL;
    f.fd = fd;

    return mod_static_send(r, conf, &f);
}


/* Answers from a cache entry. */
static int
mod_static_send_entry(cairn_request_t *r, const mod_static_conf_t *conf,
                      mod_static_entry_t *e)
{
    mod_static_file_t  f;

    f.size = e->size;
    f.mtime = e->mtim.tv_sec;
    f.etag = conf->etag ? e->etag : NULL;
    f.lastmod = e->lastmod;
    f.entry = e;
    f.fd = -1;

    if (conf->charset != NULL && e->is_text
        && e->ctype_charset == conf->charset)
    {
        f.ctype = e->ctype;
    } else {
        f.ctype = mod_static_ctype(r, conf, e->type, e->is_text);
    }

    return mod_static_send(r, conf, &f);
}


/*
 * Answers from f after the preconditions of RFC 9110 section 13.2.2:
 * 412, 304 or 200 (the core turns a 200 into 206 or 416 for a Range).
 * Owns f->fd.
 */
static int
mod_static_send(cairn_request_t *r, const mod_static_conf_t *conf,
                mod_static_file_t *f)
{
    mod_static_cond_t   c;
    int                 status;
    int64_t             t;

    mod_static_cond_read(r, &c);

    if (c.if_match != NULL) {
        if (!mod_static_etag_match(c.if_match, f->etag, 0)) {
            status = 412;
            goto refuse;
        }

    } else if (c.if_unmodified_since != NULL) {
        t = cairn_http_date_parse(c.if_unmodified_since);
        if (t != -1 && f->mtime > t) {
            status = 412;
            goto refuse;
        }
    }

    if (c.if_none_match != NULL) {
        if (mod_static_etag_match(c.if_none_match, f->etag, 1)) {
            goto not_modified;
        }

    } else if (c.if_modified_since != NULL) {
        t = cairn_http_date_parse(c.if_modified_since);
        if (t != -1 && f->mtime <= t) {
            goto not_modified;
        }
    }

    if (f->etag != NULL) {
        cairn_response_header_set(r, "ETag", f->etag);
    }
    cairn_response_header_set(r, "Last-Modified", f->lastmod);
    /* The core answers a Range against what this says. */
    cairn_response_header_set(r, "Accept-Ranges", "bytes");

    if (f->entry != NULL) {
        /* The response points into the entry until the request ends. */
        f->entry->refs++;
        cairn_arena_cleanup_add(cairn_request_arena(r), mod_static_unpin,
                                f->entry);
        return cairn_respond(r, 200, f->ctype, f->entry->data,
                             (size_t) f->size);
    }

    return cairn_respond_file(r, 200, f->ctype, f->fd, 0, f->size);

not_modified:

    if (f->fd >= 0) {
        close(f->fd);
    }
    if (f->etag != NULL) {
        cairn_response_header_set(r, "ETag", f->etag);
    }
    cairn_response_header_set(r, "Last-Modified", f->lastmod);

    return cairn_respond(r, 304, NULL, NULL, 0);

refuse:

    if (f->fd >= 0) {
        close(f->fd);
    }

    return status;
}


/* 301 to the directory's URL: the path with a '/' and the query. */
static int
mod_static_redirect(cairn_request_t *r, const char *path)
{
    static const char   hex[] = "0123456789ABCDEF";
    const char         *query, *p;
    char               *loc, *w;
    size_t              qlen;
    unsigned char       ch;

    query = cairn_request_query(r);
    qlen = query != NULL && query[0] != '\0' ? strlen(query) + 1 : 0;

    loc = cairn_arena_alloc(cairn_request_arena(r),
                            strlen(path) * 3 + 2 + qlen + 1);
    w = loc;

    /*
     * The path is decoded: escape what may not appear raw in a URL path,
     * including '%', '?', '#', spaces and control bytes.
     */
    for (p = path; *p != '\0'; p++) {
        ch = (unsigned char) *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || strchr("-._~/!$&'()*+,;=:@", ch))
        {
            *w++ = (char) ch;
        } else {
            *w++ = '%';
            *w++ = hex[ch >> 4];
            *w++ = hex[ch & 0x0f];
        }
    }
    *w++ = '/';

    if (qlen != 0) {
        *w++ = '?';
        memcpy(w, query, qlen - 1);
        w += qlen - 1;
    }
    *w = '\0';

    cairn_response_header_set(r, "Location", loc);

    return cairn_respond(r, 301, "text/html", mod_static_301,
                         sizeof(mod_static_301) - 1);
}


/* The status for a failed open of rel: 404, 403 or 500. */
static int
mod_static_status(cairn_request_t *r, mod_static_root_t *root,
                  const char *rel, int err)
{
    switch (err) {

    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EXDEV:
        return 404;

    case EACCES:
    case EPERM:
        cairn_log_error(r, err, "open(\"%s/%s\") failed", root->path, rel);
        return 403;

    default:
        cairn_log_error(r, err, "open(\"%s/%s\") failed", root->path, rel);
        return 500;
    }
}


/* The Content-Type: type, with "; charset=X" for text when configured. */
static const char *
mod_static_ctype(cairn_request_t *r, const mod_static_conf_t *conf,
                 const char *type, int is_text)
{
    if (conf->charset == NULL || !is_text) {
        return type;
    }

    return cairn_arena_printf(cairn_request_arena(r), "%s; charset=%s", type,
                              conf->charset);
}


/* One pass over the request headers for the four that matter here. */
static void
mod_static_cond_read(cairn_request_t *r, mod_static_cond_t *c)
{
    size_t        i, n;
    const char   *name, *value, **slot;

    memset(c, 0, sizeof(*c));
    n = cairn_request_header_count(r);

    for (i = 0; i < n; i++) {
        name = NULL;
        value = NULL;
        cairn_request_header_at(r, i, &name, &value);
        if (name == NULL || value == NULL) {
            continue;
        }

        if ((name[0] | 0x20) == 'i' && (name[1] | 0x20) == 'f'
                   && name[2] == '-')
        {
            name += 3;
            if (strcasecmp(name, "None-Match") == 0) {
                slot = &c->if_none_match;
            } else if (strcasecmp(name, "Modified-Since") == 0) {
                slot = &c->if_modified_since;
            } else if (strcasecmp(name, "Match") == 0) {
                slot = &c->if_match;
            } else if (strcasecmp(name, "Unmodified-Since") == 0) {
                slot = &c->if_unmodified_since;
            } else {
                slot = NULL;
            }

        } else {
            continue;
        }

        if (slot != NULL && *slot == NULL) {
            *slot = value;
        }
    }
}
