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
 *             CompressStatic on|off          any scope  default off
 * Hooks:      post_config (MIDDLE), worker_init (MIDDLE), worker_exit
 *             (MIDDLE), handler (LAST)
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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "mime.h"
#include "mod_static.h"

/* StaticCacheEntries may not exceed this. */
#define MOD_STATIC_ENTRIES_MAX      1048576

#define MOD_STATIC_MIME_FILE        "/etc/mime.types"


static void *mod_static_create_conf(cairn_arena_t *a);
static int mod_static_post_config(cairn_server_t *s);
static int mod_static_worker_init(cairn_server_t *s);
static int mod_static_worker_exit(cairn_server_t *s);
static int mod_static_handler(cairn_request_t *r);
static unsigned mod_static_handler_methods(cairn_request_t *r);
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
    /* Precompressed siblings (file.br, file.zst, file.gz): mod_static's,
     * since only it knows which file a path names; named like the other
     * compression directives, as nginx's gzip_static sits beside gzip. */
    CAIRN_DIRECTIVE_FLAG("CompressStatic", mod_static_conf_t,
                         compress_static, CAIRN_SCOPE_ANY,
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
    NULL,
};


static const cairn_hook_decl_t  mod_static_hooks[] = {
    CAIRN_HOOK_POST_CONFIG(mod_static_post_config, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_static_worker_init, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_EXIT(mod_static_worker_exit, CAIRN_ORDER_MIDDLE),
    /* Last: routes and other handlers of the same location go first. */
    CAIRN_HOOK_HANDLER(mod_static_handler, CAIRN_ORDER_LAST),
    CAIRN_HOOK_END
};


CAIRN_MODULE(static) = {
    CAIRN_MODULE_HEADER,
    .version        = CAIRN_VERSION,
    .description    = "files under DocumentRoot",
    .directives     = mod_static_directives,
    .create_conf    = mod_static_create_conf,
    .directive_defaults = mod_static_defaults,
    .hooks          = mod_static_hooks,
    .handler_methods = mod_static_handler_methods,
};


/* Per worker process: set up in worker_init, released in worker_exit. */
mod_static_mime_t          *mod_static_mime;

static const char          *mod_static_default_index[] = { "index.html" };


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


/* GET and HEAD wherever there is a DocumentRoot: a POST is refused
 * before its body is read. */
static unsigned
mod_static_handler_methods(cairn_request_t *r)
{
    const mod_static_conf_t  *conf;

    conf = cairn_request_conf(r, &mod_static_module);
    if (conf == NULL || conf->docroot == NULL) {
        return 0;
    }

    return CAIRN_M(CAIRN_METHOD_GET) | CAIRN_M(CAIRN_METHOD_HEAD);
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
        return cairn_respond_errorf(r, 400, "the path is not absolute");
    }

    for (p = path; *p != '\0'; p++) {
        if (*p == '\\') {
            return cairn_respond_errorf(r, 404, "no file %s", path);
        }
        if (*p == '/' && p[1] == '.') {
            if (p[2] == '.' && (p[3] == '/' || p[3] == '\0')) {
                return cairn_respond_errorf(r, 400, "the path leaves the "
                                            "document root");
            }
            if (!conf->dotfiles) {
                return cairn_respond_errorf(r, 404, "no file %s", path);
            }
        }
    }
    len = (size_t) (p - path);

    root = mod_static_root(r, conf);
    if (root == NULL) {
        return cairn_respond_errorf(r, 404, "no file %s", path);
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
        return cairn_respond_errorf(r, 500, "the file %s cannot be read",
                                    path);
    }

    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return mod_static_redirect(r, path);
    }

    return mod_static_regular(r, conf, root, rel, len, fd, &st);
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
