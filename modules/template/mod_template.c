/*
 * mod_template: pages rendered from templates, and the ("render",
 * "template") provider that renders other modules' JSON as HTML.
 *
 * Directives: TemplateDir DIR               any scope  no default
 *             Template NAME                 any scope  no default: declines
 *             TemplateData FILE.json        any scope  no default
 *             TemplateMaxOutput SIZE        any scope  default 8M
 *             TemplateMaxDepth N            any scope  default 16
 *             TemplateMaxIterations N       any scope  default 1000000
 * Hooks:      post_config (FIRST), worker_exit (MIDDLE), handler (MIDDLE)
 * Provides:   ("render", "template"), cairn/render.h
 *
 * The engine (tpl.h) compiles a template once into a tree.  Each process
 * keeps its compiled templates and parsed data files in a cache keyed by
 * path, and looks at a file again (one stat) at most once a second: a
 * changed file is compiled again, and one that no longer compiles is
 * dropped, so its requests get 500 with the position logged until it is
 * mended.  post_config compiles every file under each TemplateDir, which
 * makes `cairnd -t` report broken templates with file:line:column, and
 * leaves them cached for the workers it forks.  README.md is the user
 * documentation.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <cairn/async.h>
#include <cairn/cairn.h>
#include <cairn/render.h>

#include "tpl.h"

/* A template or data file larger than this is refused. */
#define MOD_TEMPLATE_FILE_MAX       (16 * 1024 * 1024)

/* A file larger than this is read and compiled on the task pool, off the
 * worker's loop; a smaller one costs less than the round trip. */
#define MOD_TEMPLATE_INLINE_MAX     (64 * 1024)

/* TemplateDir is walked this deep for the checks of post_config. */
#define MOD_TEMPLATE_WALK_DEPTH     16

#define MOD_TEMPLATE_BUCKETS        256

#define MOD_TEMPLATE_CONTENT_TYPE   "text/html; charset=utf-8"


typedef struct {
    const char  *dir;
    const char  *page;
    const char  *data;
    int64_t      max_output;
    int          max_depth;
    int          max_iterations;
} mod_template_conf_t;

/* A file of the cache: a compiled template, or a data document. */
typedef struct mod_template_file_s    mod_template_file_t;
typedef struct mod_template_waiter_s  mod_template_waiter_t;

/* A page request waiting for a file that has no version yet. */
struct mod_template_waiter_s {
    mod_template_waiter_t  *next;
    mod_template_file_t    *f;          /* NULL: the cache was emptied */
    cairn_request_t        *r;
};

struct mod_template_file_s {
    mod_template_file_t  *next;
    char                 *path;
    int                   is_data;
    time_t                checked;      /* the second of the last stat */
    int                   found;        /* the last stat found a file */
    dev_t                 dev;
    ino_t                 ino;
    off_t                 size;
    struct timespec       mtime;
    tpl_t                *tpl;          /* NULL: missing or broken */
    json_t               *json;
    tpl_error_t           err;          /* why tpl or json is NULL */
    size_t                out_hint;     /* the last page's size */
    int                   loading;      /* a task-pool job reads it */
    mod_template_waiter_t *waiters;     /* pages waiting for that job */
};

/* A task-pool job: one file read and compiled (or parsed) off the loop,
 * its result put in the cache on the loop. */
typedef struct {
    char                 *path;
    int                   is_data;
    dev_t                 dev;          /* what the job read */
    ino_t                 ino;
    off_t                 size;
    struct timespec       mtime;
    int                   again;        /* reading failed: look again */
    tpl_t                *tpl;
    json_t               *json;
    tpl_error_t           err;
} mod_template_job_t;

/* What the loader of one render needs. */
typedef struct {
    const mod_template_conf_t  *conf;
    mod_template_file_t        *pending;    /* an include still loading */
} mod_template_loader_t;

/* The names a render gets besides its data, made on first use. */
typedef struct {
    cairn_request_t  *r;
    json_t           *request;
    json_t           *user;
    json_t           *server;
    int               failed;       /* out of memory making one */
} mod_template_names_t;

/* The directories post_config has already walked. */
typedef struct {
    cairn_arena_t   *a;
    const char     **dirs;
    size_t           ndirs;
    int              broken;
} mod_template_check_t;


static void *mod_template_create_conf(cairn_arena_t *a);
static int mod_template_post_config(cairn_server_t *s);
static int mod_template_worker_exit(cairn_server_t *s);
static void mod_template_cache_free(void *data);
static int mod_template_handler(cairn_request_t *r);
static unsigned mod_template_handler_methods(cairn_request_t *r);
static int mod_template_render(const cairn_render_t *rp, cairn_request_t *r,
                               const char *template_name, int status,
                               json_t *data);
static int mod_template_exists(const cairn_render_t *rp, cairn_server_t *s,
                               const char *template_name);
static const char *mod_template_set_name(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *mod_template_check_conf(void *conf, const char *where,
                                           void *data);
static void mod_template_walk(mod_template_check_t *ck, const char *dir,
                              int depth);
static int mod_template_answer(int can_wait, cairn_request_t *r,
                               const mod_template_conf_t *conf,
                               const char *name, int status, json_t *extra);
static json_t *mod_template_lookup(void *ctx, const char *name);
static json_t *mod_template_request_data(cairn_request_t *r);
static tpl_t *mod_template_load(void *ctx, const tpl_t *from,
                                const char *name, tpl_error_t *err);
static mod_template_file_t *mod_template_find(const char *dir,
                                              const char *name);
static mod_template_file_t *mod_template_file(const char *path,
                                              int is_data);
static void mod_template_read(mod_template_file_t *f, int fd);
static int mod_template_read_fd(const char *path, int fd, off_t size,
                                int is_data, tpl_t **tpl, json_t **json,
                                tpl_error_t *err);
static int mod_template_job_start(mod_template_file_t *f);
static void mod_template_job_work(void *data);
static void mod_template_job_done(cairn_request_t *r, void *data);
static int mod_template_pending(const mod_template_file_t *f);
static int mod_template_wait(cairn_request_t *r, mod_template_file_t *f);
static void mod_template_wait_cancel(cairn_request_t *r, void *data);
static int mod_template_name_ok(const char *name);
static char *mod_template_path(const char *dir, const char *name,
                               const char *suffix);
static void mod_template_decref(void *data);


static const cairn_directive_t  mod_template_directives[] = {
    CAIRN_DIRECTIVE_PATH("TemplateDir", mod_template_conf_t, dir,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("Template", CAIRN_ARGS_ONE, mod_template_conf_t,
                           page, CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE,
                           mod_template_set_name),
    CAIRN_DIRECTIVE_PATH("TemplateData", mod_template_conf_t, data,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("TemplateMaxOutput", mod_template_conf_t,
                         max_output, CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("TemplateMaxDepth", mod_template_conf_t, max_depth,
                        CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("TemplateMaxIterations", mod_template_conf_t,
                        max_iterations, CAIRN_SCOPE_ANY,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read. */
static const char *const  mod_template_defaults[] = {
    NULL,
    "(none)",
    NULL,
    NULL,
    NULL,
    NULL,
};


static const cairn_hook_decl_t  mod_template_hooks[] = {
    /* First: a module that looks the provider up in its own post_config
     * finds it. */
    CAIRN_HOOK_POST_CONFIG(mod_template_post_config, CAIRN_ORDER_FIRST),
    CAIRN_HOOK_WORKER_EXIT(mod_template_worker_exit, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_HANDLER(mod_template_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(template) = {
    CAIRN_MODULE_HEADER,
    .version        = CAIRN_VERSION,
    .description    = "pages from templates; renders JSON as HTML",
    .directives     = mod_template_directives,
    .create_conf    = mod_template_create_conf,
    .directive_defaults = mod_template_defaults,
    .hooks          = mod_template_hooks,
    .handler_methods = mod_template_handler_methods,
};


static const cairn_render_t  mod_template_provider = {
    sizeof(cairn_render_t),
    CAIRN_RENDER_API_VERSION,
    "template",
    mod_template_render,
    mod_template_exists
};


/* The cache of this process: templates and data files by path. */
static mod_template_file_t  *mod_template_cache[MOD_TEMPLATE_BUCKETS];


static int
mod_template_post_config(cairn_server_t *s)
{
    mod_template_check_t   ck;
    const char            *err;

    if (cairn_provider_register(s, CAIRN_RENDER_PROVIDER,
                                CAIRN_RENDER_TEMPLATE,
                                &mod_template_provider) != CAIRN_OK)
    {
        cairn_log_error(NULL, 0, "another module already provides "
                        "(\"%s\", \"%s\")", CAIRN_RENDER_PROVIDER,
                        CAIRN_RENDER_TEMPLATE);
        return CAIRN_ERROR;
    }

    memset(&ck, 0, sizeof(ck));
    ck.a = cairn_server_arena(s);
    cairn_arena_cleanup_add(ck.a, mod_template_cache_free, NULL);

    err = cairn_server_each_conf(s, &mod_template_module,
                                 mod_template_check_conf, &ck);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }
    if (ck.broken) {
        cairn_log_error(NULL, 0, "%d template%s under TemplateDir do%s not "
                        "compile", ck.broken, ck.broken == 1 ? "" : "s",
                        ck.broken == 1 ? "es" : "");
        return CAIRN_ERROR;
    }

    return CAIRN_OK;
}


static int
mod_template_worker_exit(cairn_server_t *s)
{
    (void) s;

    mod_template_cache_free(NULL);

    return CAIRN_OK;
}


/* Empties the cache: at a worker's exit, and with the generation whose
 * post_config filled it (in the master). */
static void
mod_template_cache_free(void *data)
{
    mod_template_file_t    *f, *next;
    mod_template_waiter_t  *w;
    size_t                  i;

    (void) data;

    for (i = 0; i < MOD_TEMPLATE_BUCKETS; i++) {
        for (f = mod_template_cache[i]; f != NULL; f = next) {
            next = f->next;
            for (w = f->waiters; w != NULL; w = w->next) {
                w->f = NULL;
            }
            tpl_unref(f->tpl);
            json_decref(f->json);
            free(f->path);
            free(f);
        }
        mod_template_cache[i] = NULL;
    }
}


static int
mod_template_handler(cairn_request_t *r)
{
    const mod_template_conf_t  *conf;
    mod_template_file_t        *data = NULL;
    cairn_method_t              m;

    conf = cairn_request_conf(r, &mod_template_module);
    if (conf == NULL || conf->page == NULL) {
        return CAIRN_DECLINED;
    }

    m = cairn_request_method(r);
    if (m != CAIRN_METHOD_GET && m != CAIRN_METHOD_HEAD) {
        return cairn_respond_not_allowed(r, CAIRN_M(CAIRN_METHOD_GET));
    }

    if (conf->data != NULL) {
        data = mod_template_file(conf->data, 1);
        if (data != NULL && mod_template_pending(data)) {
            return mod_template_wait(r, data);
        }
        if (data == NULL || data->json == NULL) {
            cairn_log_error(r, 0, "TemplateData %s: %s", conf->data,
                            data != NULL ? data->err.message
                                         : "out of memory");
            return 500;
        }
    }

    return mod_template_answer(1, r, conf, conf->page, 200,
                               data != NULL ? data->json : NULL);
}


static unsigned
mod_template_handler_methods(cairn_request_t *r)
{
    const mod_template_conf_t  *conf;

    conf = cairn_request_conf(r, &mod_template_module);

    return conf != NULL && conf->page != NULL ? CAIRN_M(CAIRN_METHOD_GET)
                                              : 0;
}


/* ------------------------------------------------------------------ */
/* The provider                                                        */
/* ------------------------------------------------------------------ */

/*
 * Renders another module's document: its members at the top level, with
 * "status", the TemplateData of r's location and the request data.
 */
static int
mod_template_render(const cairn_render_t *rp, cairn_request_t *r,
                    const char *template_name, int status, json_t *data)
{
    const mod_template_conf_t  *conf;
    mod_template_file_t        *f, *doc = NULL;
    json_t                     *extra;

    (void) rp;

    conf = cairn_request_conf(r, &mod_template_module);
    if (conf == NULL || conf->dir == NULL) {
        return CAIRN_DECLINED;
    }

    f = mod_template_find(conf->dir, template_name);
    if (f == NULL || !f->found) {
        cairn_log_debug(r, "no template \"%s\" under %s", template_name,
                        conf->dir);
        return CAIRN_DECLINED;
    }

    if (conf->data != NULL) {
        doc = mod_template_file(conf->data, 1);
        if (doc != NULL && mod_template_pending(doc)) {
            cairn_response_header_set(r, "Retry-After", "1");
            return 503;
        }
        if (doc == NULL || doc->json == NULL) {
            cairn_log_error(r, 0, "TemplateData %s: %s", conf->data,
                            doc != NULL ? doc->err.message
                                        : "out of memory");
            return 500;
        }
    }

    extra = json_object();
    if (extra == NULL) {
        return 500;
    }
    cairn_arena_cleanup_add(cairn_request_arena(r), mod_template_decref,
                            extra);
    if ((doc != NULL && json_object_update(extra, doc->json) != 0)
        || (json_is_object(data) && json_object_update(extra, data) != 0)
        || json_object_set_new(extra, "status", json_integer(status)) != 0)
    {
        return 500;
    }

    return mod_template_answer(0, r, conf, template_name, status, extra);
}


static int
mod_template_exists(const cairn_render_t *rp, cairn_server_t *s,
                    const char *template_name)
{
    const mod_template_conf_t  *conf;
    mod_template_file_t        *f;

    (void) rp;

    conf = cairn_server_conf(s, &mod_template_module);
    if (conf == NULL || conf->dir == NULL) {
        return 0;
    }
    f = mod_template_find(conf->dir, template_name);

    return f != NULL && f->found;
}


/* ------------------------------------------------------------------ */
/* Config                                                              */
/* ------------------------------------------------------------------ */

static void *
mod_template_create_conf(cairn_arena_t *a)
{
    mod_template_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(mod_template_conf_t));
    conf->max_output = TPL_DEFAULT_MAX_OUTPUT;
    conf->max_depth = TPL_DEFAULT_MAX_DEPTH;
    conf->max_iterations = TPL_DEFAULT_MAX_ITERATIONS;

    return conf;
}


static const char *
mod_template_set_name(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_template_conf_t  *tc = conf;

    (void) argc;

    if (!mod_template_name_ok(argv[0])) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "Template \"%s\": "
                                  "a name relative to TemplateDir, without "
                                  "\"..\"", argv[0]);
    }
    tc->page = argv[0];

    return NULL;
}


/*
 * One scope: its limits, its page (which must exist and compile), its
 * data file (a JSON object), and every template under its TemplateDir
 * (each directory walked once).
 */
static const char *
mod_template_check_conf(void *conf, const char *where, void *data)
{
    const mod_template_conf_t  *tc = conf;
    mod_template_check_t       *ck = data;
    mod_template_file_t        *f;
    cairn_arena_t              *a = ck->a;
    struct stat                 st;
    const char                **dirs;
    size_t                      i;

    if (tc->max_output < 1) {
        return cairn_arena_printf(a, "%s: TemplateMaxOutput must be at "
                                  "least 1 byte", where);
    }
    if (tc->max_depth < 1 || tc->max_depth > TPL_DEPTH_LIMIT) {
        return cairn_arena_printf(a, "%s: TemplateMaxDepth %d is out of "
                                  "range (1 to %d)", where, tc->max_depth,
                                  TPL_DEPTH_LIMIT);
    }
    if (tc->max_iterations < 1) {
        return cairn_arena_printf(a, "%s: TemplateMaxIterations must be at "
                                  "least 1", where);
    }

    if (tc->dir != NULL) {
        if (stat(tc->dir, &st) != 0) {
            return cairn_arena_printf(a, "%s: TemplateDir %s: %s", where,
                                      tc->dir, strerror(errno));
        }
        if (!S_ISDIR(st.st_mode)) {
            return cairn_arena_printf(a, "%s: TemplateDir %s: not a "
                                      "directory", where, tc->dir);
        }
        for (i = 0; i < ck->ndirs; i++) {
            if (strcmp(ck->dirs[i], tc->dir) == 0) {
                break;
            }
        }
        if (i == ck->ndirs) {
            dirs = cairn_arena_alloc(a, (ck->ndirs + 1) * sizeof(char *));
            if (ck->ndirs > 0) {
                memcpy(dirs, ck->dirs, ck->ndirs * sizeof(char *));
            }
            dirs[ck->ndirs++] = tc->dir;
            ck->dirs = dirs;
            mod_template_walk(ck, tc->dir, 0);
        }
    }

    if (tc->page != NULL) {
        if (tc->dir == NULL) {
            return cairn_arena_printf(a, "%s: Template %s needs a "
                                      "TemplateDir", where, tc->page);
        }
        f = mod_template_find(tc->dir, tc->page);
        if (f == NULL || !f->found) {
            return cairn_arena_printf(a, "%s: Template %s: no such file "
                                      "under %s", where, tc->page, tc->dir);
        }
    }

    if (tc->data != NULL) {
        f = mod_template_file(tc->data, 1);
        if (f == NULL || f->json == NULL) {
            return cairn_arena_printf(a, "%s: TemplateData %s: %s", where,
                                      tc->data, f != NULL ? f->err.message
                                                          : "out of memory");
        }
    }

    return NULL;
}


/* Compiles every file under dir (not dot files), logging each error. */
static void
mod_template_walk(mod_template_check_t *ck, const char *dir, int depth)
{
    mod_template_file_t  *f;
    struct dirent        *de;
    struct stat           st;
    DIR                  *d;
    char                 *path;

    d = opendir(dir);
    if (d == NULL) {
        cairn_log_error(NULL, errno, "TemplateDir: cannot read %s", dir);
        ck->broken++;
        return;
    }

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        path = mod_template_path(dir, de->d_name, "");
        if (path == NULL) {
            continue;
        }
        if (stat(path, &st) != 0) {
            /* Gone since readdir(), or a dangling link. */
        } else if (S_ISDIR(st.st_mode)) {
            if (depth < MOD_TEMPLATE_WALK_DEPTH) {
                mod_template_walk(ck, path, depth + 1);
            }
        } else if (S_ISREG(st.st_mode)) {
            f = mod_template_file(path, 0);
            if (f == NULL || f->tpl == NULL) {
                cairn_log_error(NULL, 0, "%s", f != NULL ? f->err.message
                                                         : "out of memory");
                ck->broken++;
            }
        }
        free(path);
    }

    closedir(d);
}


/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

/*
 * Renders name (under conf->dir) over data's members plus request, user
 * and server (which win over data's members of the same names), and
 * answers r with status.  CAIRN_DECLINED when the template does not
 * exist, 500 when it is broken or goes over a limit.  A template or an
 * include still loading for the first time on the task pool: with
 * can_wait (a page of this module) the request waits for it and renders
 * again, else (another module's render) 503 with Retry-After.
 */
static int
mod_template_answer(int can_wait, cairn_request_t *r,
                    const mod_template_conf_t *conf,
                    const char *name, int status, json_t *data)
{
    mod_template_loader_t   ld;
    mod_template_names_t    names;
    mod_template_file_t    *f;
    cairn_arena_t          *a = cairn_request_arena(r);
    tpl_error_t             err;
    tpl_env_t               env;
    tpl_buf_t               out = { NULL, 0, 0 };
    tpl_t                  *t;
    int                     rc;

    if (conf->dir == NULL) {
        cairn_log_error(r, 0, "Template %s: no TemplateDir", name);
        return 500;
    }

    f = mod_template_find(conf->dir, name);
    if (f == NULL || !f->found) {
        cairn_log_error(r, 0, "template %s: no such file under %s", name,
                        conf->dir);
        return 500;
    }
    if (mod_template_pending(f)) {
        goto pending;
    }
    if (f->tpl == NULL) {
        cairn_log_error(r, 0, "%s", f->err.message);
        return 500;
    }

    memset(&names, 0, sizeof(names));
    names.r = r;

    memset(&env, 0, sizeof(env));
    env.max_output = (size_t) conf->max_output;
    env.max_depth = (unsigned) conf->max_depth;
    env.max_iterations = (unsigned long) conf->max_iterations;
    env.load = mod_template_load;
    ld.conf = conf;
    ld.pending = NULL;
    env.load_ctx = &ld;
    env.lookup = mod_template_lookup;
    env.lookup_ctx = &names;

    /* The output buffer at once as large as this page was last time, not
     * grown by doubling from nothing on every request. */
    if (f->out_hint > 0 && f->out_hint <= (size_t) conf->max_output) {
        out.data = malloc(f->out_hint);
        out.cap = out.data != NULL ? f->out_hint : 0;
    }

    /* Held for the render: an include of itself may replace it, and a
     * data file may be read again by a loader. */
    t = tpl_ref(f->tpl);
    json_incref(data);
    rc = tpl_render(t, data, &env, &out, &err);
    json_decref(data);
    tpl_unref(t);
    json_decref(names.request);
    json_decref(names.user);
    json_decref(names.server);

    if (out.data != NULL) {
        cairn_arena_cleanup_add(a, free, out.data);
    }
    if (names.failed) {
        cairn_log_error(r, 0, "template %s: out of memory", name);
        return 500;
    }
    if (rc != 0 && ld.pending != NULL) {
        f = ld.pending;
        goto pending;
    }
    if (rc != 0) {
        cairn_log_error(r, 0, "%s", err.message);
        return 500;
    }
    f->out_hint = out.len + 1;

    return cairn_respond(r, status, MOD_TEMPLATE_CONTENT_TYPE,
                         out.data != NULL ? out.data : "", out.len);

pending:

    if (can_wait) {
        return mod_template_wait(r, f);
    }
    cairn_log_info(r, "template %s: %s is being loaded", name, f->path);
    cairn_response_header_set(r, "Retry-After", "1");

    return 503;
}


/*
 * The engine's lookup of the names a page gets besides its data:
 * request, user (mod_auth's user or null) and server ({"name",
 * "version"}), each made the first time the render asks for it, so a
 * page that prints none of them costs nothing for them.
 */
static json_t *
mod_template_lookup(void *ctx, const char *name)
{
    mod_template_names_t  *nm = ctx;
    const char            *user;
    json_t               **slot;

    switch (name[0]) {
    case 'r':
        if (strcmp(name, "request") != 0) {
            return NULL;
        }
        slot = &nm->request;
        if (*slot == NULL) {
            *slot = mod_template_request_data(nm->r);
        }
        break;
    case 'u':
        if (strcmp(name, "user") != 0) {
            return NULL;
        }
        slot = &nm->user;
        if (*slot == NULL) {
            user = cairn_request_user(nm->r);
            *slot = user != NULL ? json_string(user) : json_null();
        }
        break;
    case 's':
        if (strcmp(name, "server") != 0) {
            return NULL;
        }
        slot = &nm->server;
        if (*slot == NULL) {
            *slot = json_pack("{ssss}", "name", "cairn", "version",
                              cairn_version());
        }
        break;
    default:
        return NULL;
    }

    if (*slot == NULL) {
        nm->failed = 1;
        return json_null();
    }

    return *slot;
}


/*
 * {"method", "path", "query": {}, "headers": {}, "params": {}}.  Query
 * arguments and headers that are not valid UTF-8 are left out.  NULL:
 * out of memory.
 */
static json_t *
mod_template_request_data(cairn_request_t *r)
{
    cairn_arena_t  *a = cairn_request_arena(r);
    const char     *q, *amp, *eq, *name, *value, *pattern, *seg, *end;
    json_t         *req, *query, *headers, *params, *v;
    char           *key, *p;
    size_t          i, n;

    req = json_object();
    query = json_object();
    headers = json_object();
    params = json_object();
    if (req == NULL || query == NULL || headers == NULL || params == NULL) {
        goto failed;
    }

    json_object_set_new(req, "method",
                        json_string(cairn_request_method_name(r)));
    v = json_string(cairn_request_path(r));
    json_object_set_new(req, "path", v != NULL ? v : json_null());

    /* Names as written up to '=' (decoded by the core's own argument
     * lookup for the value: the first of each name wins). */
    q = cairn_request_query(r);
    while (q != NULL && *q != '\0') {
        amp = strchr(q, '&');
        end = amp != NULL ? amp : q + strlen(q);
        eq = memchr(q, '=', end - q);
        n = (eq != NULL ? eq : end) - q;
        if (n > 0) {
            key = cairn_arena_strndup(a, q, n);
            value = cairn_request_arg(r, key);
            if (value != NULL && json_object_get(query, key) == NULL) {
                v = json_string(value);
                if (v != NULL) {
                    json_object_set_new(query, key, v);
                }
            }
        }
        q = amp != NULL ? amp + 1 : NULL;
    }

    n = cairn_request_header_count(r);
    for (i = 0; i < n; i++) {
        if (cairn_request_header_at(r, i, &name, &value) != 0) {
            continue;
        }
        key = cairn_arena_strdup(a, name);
        for (p = key; *p != '\0'; p++) {
            if (*p >= 'A' && *p <= 'Z') {
                *p = (char) (*p - 'A' + 'a');
            }
        }
        if (json_object_get(headers, key) == NULL) {
            v = json_string(value);
            if (v != NULL) {
                json_object_set_new(headers, key, v);
            }
        }
    }

    /* The parameters of the route that matched (":id", "*rest"). */
    pattern = cairn_request_route_pattern(r);
    for (seg = pattern; seg != NULL && *seg != '\0'; seg = end) {
        seg++;
        end = strchr(seg, '/');
        if (end == NULL) {
            end = seg + strlen(seg);
        }
        if ((*seg == ':' || *seg == '*') && end - seg > 1) {
            key = cairn_arena_strndup(a, seg + 1, end - seg - 1);
            value = cairn_request_param(r, key);
            if (value != NULL && (v = json_string(value)) != NULL) {
                json_object_set_new(params, key, v);
            }
        }
    }

    json_object_set_new(req, "query", query);
    json_object_set_new(req, "headers", headers);
    json_object_set_new(req, "params", params);

    return req;

failed:

    json_decref(req);
    json_decref(query);
    json_decref(headers);
    json_decref(params);

    return NULL;
}


/* The engine's loader: names of include and extends, under TemplateDir. */
static tpl_t *
mod_template_load(void *ctx, const tpl_t *from, const char *name,
                  tpl_error_t *err)
{
    mod_template_loader_t  *ld = ctx;
    mod_template_file_t    *f;

    (void) from;

    f = mod_template_find(ld->conf->dir, name);
    if (f == NULL || !f->found) {
        return NULL;
    }
    if (mod_template_pending(f)) {
        /* The render fails; the page renders again once it is loaded. */
        ld->pending = f;
        err->status = TPL_ERR_LOAD;
        snprintf(err->message, sizeof(err->message), "%s: being loaded",
                 f->path);
        return NULL;
    }
    if (f->tpl == NULL) {
        *err = f->err;
        return NULL;
    }

    return tpl_ref(f->tpl);
}


/* ------------------------------------------------------------------ */
/* The cache                                                           */
/* ------------------------------------------------------------------ */

/* The template name under dir: NAME, else NAME.tpl.  NULL for a name
 * that climbs out of dir, or out of memory. */
static mod_template_file_t *
mod_template_find(const char *dir, const char *name)
{
    mod_template_file_t  *f;
    char                 *path;

    if (dir == NULL || !mod_template_name_ok(name)) {
        return NULL;
    }

    path = mod_template_path(dir, name, "");
    f = path != NULL ? mod_template_file(path, 0) : NULL;
    free(path);
    if (f != NULL && f->found) {
        return f;
    }

    path = mod_template_path(dir, name, ".tpl");
    f = path != NULL ? mod_template_file(path, 0) : NULL;
    free(path);

    return f;
}


/*
 * The cache entry of path, looked at again when a second has passed
 * since: compiled (or parsed, for data) again when its size, time or
 * inode changed.  NULL only when out of memory.
 */
static mod_template_file_t *
mod_template_file(const char *path, int is_data)
{
    mod_template_file_t  *f;
    struct stat           st;
    const char           *s;
    uint32_t              h = 2166136261u;
    time_t                now = time(NULL);
    int                   fd;

    for (s = path; *s != '\0'; s++) {
        h = (h ^ (unsigned char) *s) * 16777619u;
    }
    h = (h ^ (uint32_t) is_data) % MOD_TEMPLATE_BUCKETS;

    for (f = mod_template_cache[h]; f != NULL; f = f->next) {
        if (f->is_data == is_data && strcmp(f->path, path) == 0) {
            break;
        }
    }
    if (f == NULL) {
        f = calloc(1, sizeof(mod_template_file_t));
        if (f == NULL || (f->path = strdup(path)) == NULL) {
            free(f);
            return NULL;
        }
        f->is_data = is_data;
        f->checked = now - 1;
        f->next = mod_template_cache[h];
        mod_template_cache[h] = f;
    }

    if (f->checked == now) {
        return f;
    }
    f->checked = now;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        f->found = 0;
        tpl_unref(f->tpl);
        f->tpl = NULL;
        json_decref(f->json);
        f->json = NULL;
        f->err.status = TPL_ERR_LOAD;
        snprintf(f->err.message, sizeof(f->err.message),
                 "%s: no such file", path);
        return f;
    }

    if (f->found && st.st_dev == f->dev && st.st_ino == f->ino
        && st.st_size == f->size && st.st_mtim.tv_sec == f->mtime.tv_sec
        && st.st_mtim.tv_nsec == f->mtime.tv_nsec)
    {
        close(fd);
        return f;
    }

    f->found = 1;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = st.st_size;
    f->mtime = st.st_mtim;

    /* A large file, in a worker: read and compiled on the task pool while
     * requests go on with the version before (or wait, when there is
     * none).  The job in flight for an earlier change is left to finish;
     * its result is marked stale if the file changed since. */
    if (f->loading
        || (st.st_size > MOD_TEMPLATE_INLINE_MAX
            && mod_template_job_start(f) == 0))
    {
        close(fd);
        return f;
    }

    mod_template_read(f, fd);
    close(fd);

    return f;
}


/* Reads and compiles (or parses) f's file from fd, replacing what f
 * held: a broken file leaves f with nothing but the error. */
static void
mod_template_read(mod_template_file_t *f, int fd)
{
    tpl_unref(f->tpl);
    f->tpl = NULL;
    json_decref(f->json);
    f->json = NULL;

    if (mod_template_read_fd(f->path, fd, f->size, f->is_data, &f->tpl,
                             &f->json, &f->err) != 0)
    {
        /* Read again on the next look. */
        f->found = 0;
    }
}


/*
 * The reading and compiling of one file, on the loop or on a pool
 * thread (it touches nothing shared): *tpl or *json, or NULL and *err.
 * -1 when the file could not be read whole (worth another look), else 0.
 */
static int
mod_template_read_fd(const char *path, int fd, off_t size, int is_data,
                     tpl_t **tpl, json_t **json, tpl_error_t *err)
{
    json_error_t   jerr;
    char          *buf;
    size_t         len = 0;
    ssize_t        n;

    *tpl = NULL;
    *json = NULL;
    memset(err, 0, sizeof(*err));
    err->status = TPL_ERR_LOAD;

    if (size > MOD_TEMPLATE_FILE_MAX) {
        snprintf(err->message, sizeof(err->message), "%s: larger than "
                 "%d bytes", path, MOD_TEMPLATE_FILE_MAX);
        return 0;
    }

    buf = malloc((size_t) size + 1);
    if (buf == NULL) {
        snprintf(err->message, sizeof(err->message), "%s: out of memory",
                 path);
        return 0;
    }
    while (len < (size_t) size) {
        n = read(fd, buf + len, (size_t) size - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            snprintf(err->message, sizeof(err->message), "%s: %s", path,
                     n < 0 ? strerror(errno) : "shorter than its size");
            free(buf);
            return -1;
        }
        len += (size_t) n;
    }
    buf[len] = '\0';

    if (is_data) {
        *json = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (*json == NULL) {
            snprintf(err->message, sizeof(err->message), "%s:%d:%d: %s",
                     path, jerr.line, jerr.column, jerr.text);
        } else if (!json_is_object(*json)) {
            json_decref(*json);
            *json = NULL;
            snprintf(err->message, sizeof(err->message), "%s: not a JSON "
                     "object", path);
        }
    } else {
        *tpl = tpl_compile(path, buf, len, TPL_DEPTH_LIMIT, err);
    }

    free(buf);

    return 0;
}


/* ------------------------------------------------------------------ */
/* Loading on the task pool                                            */
/* ------------------------------------------------------------------ */

/* f has no version to use yet, and a job is reading it. */
static int
mod_template_pending(const mod_template_file_t *f)
{
    return f->loading && f->tpl == NULL && f->json == NULL;
}


/* Starts a job for f's file; -1 outside a worker (post_config, cairnd
 * -t), when out of memory or when the pool refuses: f is then read on
 * the spot. */
static int
mod_template_job_start(mod_template_file_t *f)
{
    mod_template_job_t  *job;

    if (cairn_event_base() == NULL) {
        return -1;
    }

    job = calloc(1, sizeof(mod_template_job_t));
    if (job == NULL || (job->path = strdup(f->path)) == NULL) {
        free(job);
        return -1;
    }
    job->is_data = f->is_data;

    if (cairn_task_run_detached(mod_template_job_work, mod_template_job_done,
                                job) != CAIRN_OK)
    {
        free(job->path);
        free(job);
        return -1;
    }
    f->loading = 1;

    return 0;
}


/* On a pool thread: the file as it is now. */
static void
mod_template_job_work(void *data)
{
    mod_template_job_t  *job = data;
    struct stat          st;
    int                  fd;

    fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        job->again = 1;
        return;
    }

    job->dev = st.st_dev;
    job->ino = st.st_ino;
    job->size = st.st_size;
    job->mtime = st.st_mtim;
    job->again = mod_template_read_fd(job->path, fd, st.st_size,
                                      job->is_data, &job->tpl, &job->json,
                                      &job->err) != 0;
    close(fd);
}


/*
 * On the loop: the job's result replaces the entry's version (unless the
 * cache was emptied meanwhile), and the pages that waited for it render.
 */
static void
mod_template_job_done(cairn_request_t *r, void *data)
{
    mod_template_job_t     *job = data;
    mod_template_waiter_t  *w, *next;
    mod_template_file_t    *f;
    const char             *s;
    uint32_t                h = 2166136261u;

    (void) r;

    for (s = job->path; *s != '\0'; s++) {
        h = (h ^ (unsigned char) *s) * 16777619u;
    }
    h = (h ^ (uint32_t) job->is_data) % MOD_TEMPLATE_BUCKETS;
    for (f = mod_template_cache[h]; f != NULL; f = f->next) {
        if (f->is_data == job->is_data && strcmp(f->path, job->path) == 0) {
            break;
        }
    }

    if (f == NULL) {
        tpl_unref(job->tpl);
        json_decref(job->json);
        free(job->path);
        free(job);
        return;
    }

    f->loading = 0;
    if (job->again) {
        /* Gone or unreadable: the next look decides. */
        f->found = 0;
        f->checked = 0;
        tpl_unref(f->tpl);
        f->tpl = NULL;
        json_decref(f->json);
        f->json = NULL;
        f->err = job->err;
        if (f->err.message[0] == '\0') {
            snprintf(f->err.message, sizeof(f->err.message), "%s: no such "
                     "file", f->path);
        }
    } else {
        tpl_unref(f->tpl);
        f->tpl = job->tpl;
        json_decref(f->json);
        f->json = job->json;
        f->err = job->err;
        if (job->dev != f->dev || job->ino != f->ino || job->size != f->size
            || job->mtime.tv_sec != f->mtime.tv_sec
            || job->mtime.tv_nsec != f->mtime.tv_nsec)
        {
            /* Changed again while the job ran: look again at once. */
            f->size = -1;
            f->checked = 0;
        }
    }
    free(job->path);
    free(job);

    w = f->waiters;
    f->waiters = NULL;
    for ( ; w != NULL; w = next) {
        next = w->next;
        w->f = NULL;
        cairn_request_on_cancel(w->r, NULL, NULL);
        cairn_request_resume(w->r, mod_template_handler(w->r));
    }
}


/* r waits for f's job; the job's end renders it again. */
static int
mod_template_wait(cairn_request_t *r, mod_template_file_t *f)
{
    mod_template_waiter_t  *w;

    cairn_log_debug(r, "waiting for %s, being loaded", f->path);

    w = cairn_arena_alloc(cairn_request_arena(r),
                          sizeof(mod_template_waiter_t));
    w->f = f;
    w->r = r;
    w->next = f->waiters;
    f->waiters = w;
    cairn_request_on_cancel(r, mod_template_wait_cancel, w);

    return CAIRN_SUSPENDED;
}


static void
mod_template_wait_cancel(cairn_request_t *r, void *data)
{
    mod_template_waiter_t   *w = data, **pp;

    (void) r;

    if (w->f == NULL) {
        return;
    }
    for (pp = &w->f->waiters; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    w->f = NULL;
}


/* A name relative to a directory that stays inside it. */
static int
mod_template_name_ok(const char *name)
{
    const char  *seg, *end;

    if (name == NULL || name[0] == '\0' || name[0] == '/') {
        return 0;
    }
    for (seg = name; ; seg = end + 1) {
        end = strchr(seg, '/');
        if (end == NULL) {
            end = seg + strlen(seg);
        }
        if (end - seg == 2 && seg[0] == '.' && seg[1] == '.') {
            return 0;
        }
        if (*end == '\0') {
            return 1;
        }
    }
}


static char *
mod_template_path(const char *dir, const char *name, const char *suffix)
{
    size_t  d = strlen(dir), n = strlen(name), s = strlen(suffix);
    char   *p;

    if (d + n + s + 2 > PATH_MAX) {
        return NULL;
    }
    p = malloc(d + n + s + 2);
    if (p != NULL) {
        memcpy(p, dir, d);
        p[d] = '/';
        memcpy(p + d + 1, name, n);
        memcpy(p + d + 1 + n, suffix, s + 1);
    }

    return p;
}


static void
mod_template_decref(void *data)
{
    json_decref(data);
}
