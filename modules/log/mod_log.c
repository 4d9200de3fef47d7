/*
 * mod_log: the access log, and the request's trace context.
 *
 * Every request gets a W3C trace context before anything else runs: a
 * valid incoming `traceparent` is continued (same trace id, a new span
 * id), anything else starts a new trace.  Both ids become the request's
 * trace context (cairn_request_trace_id, and the notes "trace_id" and
 * "span_id") for the core and other modules, and the
 * response carries `X-Request-Id: <trace id>` (plus `traceparent` when
 * one came in).
 *
 * After the response, one line per configured log is formatted into a
 * per-worker buffer of its file.  A buffer is written with one write(2)
 * of whole lines to a descriptor opened with O_APPEND, so the lines of
 * several workers never interleave; it is written when the next line
 * would not fit, once a second, when the worker exits and on SIGUSR1,
 * which also reopens every file (log rotation).
 *
 * Directives: AccessLog PATH [FORMAT]  server, vhost, location  adds a
 *                                      log (FORMAT: combined, common,
 *                                      json, a LogFormat name or a
 *                                      format string; default combined)
 *             AccessLog off            server, vhost, location  no
 *                                      access log in this scope
 *             LogFormat NAME "format"  server  names a format
 * Hooks:      post_config (MIDDLE), worker_init (MIDDLE), worker_exit
 *             (LAST), reopen_logs (MIDDLE), post_read_request (FIRST),
 *             log (MIDDLE)
 *
 * log_format.c compiles the formats and renders the lines, log_file.c
 * owns the files and their buffers, log_trace.c the trace context.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#include <cairn/cairn.h>

#include "mod_log.h"

#define MOD_LOG_FLUSH_MS        1000


static int mod_log_post_read_request(cairn_request_t *r);
static int mod_log_log(cairn_request_t *r);
static int mod_log_post_config(cairn_server_t *s);
static int mod_log_worker_init(cairn_server_t *s);
static int mod_log_worker_exit(cairn_server_t *s);
static int mod_log_reopen_logs(cairn_server_t *s);
static void *mod_log_create_conf(cairn_arena_t *a);
static const char *mod_log_merge_conf(cairn_arena_t *a, const void *parent,
                                      const void *child, void *merged);
static const char *mod_log_set_access_log(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static const char *mod_log_set_log_format(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static const char *mod_log_resolve(void *conf, const char *where,
                                   void *data);


static const cairn_directive_t  mod_log_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("AccessLog", CAIRN_ARGS_ONE_OR_MORE,
                           mod_log_conf_t, logs, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_log_set_access_log),
    CAIRN_DIRECTIVE_CUSTOM("LogFormat", CAIRN_ARGS_TWO,
                           mod_log_conf_t, formats, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_REPLACE, mod_log_set_log_format),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_log_defaults[] = {
    "off",
    "(only the built-in combined, common and json)",
};


static const cairn_hook_decl_t  mod_log_hooks[] = {
    CAIRN_HOOK_POST_READ_REQUEST(mod_log_post_read_request, CAIRN_ORDER_FIRST),
    CAIRN_HOOK_LOG(mod_log_log, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_POST_CONFIG(mod_log_post_config, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_log_worker_init, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_EXIT(mod_log_worker_exit, CAIRN_ORDER_LAST),
    CAIRN_HOOK_REOPEN_LOGS(mod_log_reopen_logs, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(log) = {
    CAIRN_MODULE_HEADER,            /* magic, ABI major/minor, size */
    .name           = "log",
    .version        = CAIRN_VERSION,
    .description    = "access log and trace context",
    .directives     = mod_log_directives,
    .create_conf    = mod_log_create_conf,
    .merge_conf     = mod_log_merge_conf,
    .directive_defaults = mod_log_defaults,
    .hooks          = mod_log_hooks,
};


/* The formats every configuration knows. */
static const char  mod_log_combined[] =
    "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"";
static const char  mod_log_common[] = "%h %l %u %t \"%r\" %>s %b";


/*
 * Resolves every log's format and opens its file.  This runs in the
 * master before it gives up privileges; the workers inherit the
 * descriptors.  A path named by several logs is opened once.
 */
static int
mod_log_post_config(cairn_server_t *s)
{
    const char  *msg;

    msg = cairn_server_each_conf(s, &mod_log_module, mod_log_resolve, s);
    if (msg != NULL) {
        cairn_log_error(NULL, 0, "%s", msg);
        return CAIRN_ERROR;
    }

    return CAIRN_OK;
}


static int
mod_log_worker_init(cairn_server_t *s)
{
    mod_log_conf_t  *srv;
    mod_log_file_t  *f;
    struct timeval   tv;
    uint64_t         seed[2];

    mod_log_pid = getpid();
    mod_log_wall_known = 0;

    if (getrandom(seed, sizeof(seed), 0) == (ssize_t) sizeof(seed)) {
        mod_log_rng[0] = seed[0] | 1;
        mod_log_rng[1] = seed[1];
        mod_log_rng_seeded = 1;
    }

    srv = cairn_server_conf(s, &mod_log_module);
    mod_log_files = srv != NULL ? srv->files : NULL;

    if (mod_log_files == NULL) {
        return CAIRN_OK;
    }

    for (f = mod_log_files; f != NULL; f = f->next) {
        f->buf = malloc(MOD_LOG_BUFFER_SIZE);
        if (f->buf == NULL) {
            cairn_log_error(NULL, errno, "no memory for the buffer of the "
                            "access log \"%s\"", f->path);
            return CAIRN_ERROR;
        }
        f->len = 0;
    }

    mod_log_timer = event_new(cairn_event_base(), -1, EV_PERSIST,
                              mod_log_timer_cb, NULL);
    if (mod_log_timer == NULL) {
        cairn_log_error(NULL, 0, "cannot create the access log timer");
        return CAIRN_ERROR;
    }

    tv.tv_sec = MOD_LOG_FLUSH_MS / 1000;
    tv.tv_usec = (MOD_LOG_FLUSH_MS % 1000) * 1000;
    event_add(mod_log_timer, &tv);

    return CAIRN_OK;
}


static int
mod_log_worker_exit(cairn_server_t *s)
{
    mod_log_file_t  *f;

    if (mod_log_timer != NULL) {
        event_free(mod_log_timer);
        mod_log_timer = NULL;
    }

    for (f = mod_log_files; f != NULL; f = f->next) {
        mod_log_flush(f);
        free(f->buf);
        f->buf = NULL;
    }

    mod_log_files = NULL;

    return CAIRN_OK;
}


/*
 * SIGUSR1: writes what is buffered to the old file, then opens the path
 * again.  The master does it too, so workers it starts later inherit the
 * new file.
 */
static int
mod_log_reopen_logs(cairn_server_t *s)
{
    mod_log_conf_t  *srv;
    mod_log_file_t  *f;

    srv = cairn_server_conf(s, &mod_log_module);
    if (srv == NULL) {
        return CAIRN_OK;
    }

    for (f = srv->files; f != NULL; f = f->next) {
        mod_log_flush(f);
        mod_log_reopen(f);
    }

    return CAIRN_OK;
}


static int
mod_log_post_read_request(cairn_request_t *r)
{
    mod_log_trace(r);

    return CAIRN_DECLINED;
}


/*
 * Formats one line per log of the request's location into the buffers
 * of their files.  Two logs with the same format share the line.
 */
static int
mod_log_log(cairn_request_t *r)
{
    const mod_log_conf_t    *conf;
    const mod_log_format_t  *last = NULL;
    mod_log_entry_t         *e;
    mod_log_str_t            s;
    size_t                   i;

    conf = cairn_request_conf(r, &mod_log_module);
    if (conf == NULL || conf->logs.n == 0) {
        return CAIRN_OK;
    }

    if (cairn_request_trace_id(r) == NULL) {
        /* The request ended before post_read_request (a bad request). */
        mod_log_trace(r);
    }

    s.a = cairn_request_arena(r);
    s.p = NULL;
    s.len = 0;
    s.cap = 0;

    for (i = 0; i < conf->logs.n; i++) {
        e = conf->logs.v[i];
        if (e->fmt == NULL || e->file == NULL) {
            continue;
        }

        if (e->fmt != last) {
            s.len = 0;
            if (e->fmt->json) {
                mod_log_format_json(r, &s);
            } else {
                mod_log_format_text(r, &s, e->fmt);
            }
            mod_log_put(&s, "\n", 1);
            last = e->fmt;
        }

        mod_log_write(e->file, s.p, s.len);
    }

    return CAIRN_OK;
}


static void *
mod_log_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_log_conf_t));
}


/*
 * The core has copied the inner scope's list when it set one.  The
 * inner logs come in addition to the outer ones, unless the inner scope
 * said `AccessLog off`.
 */
static const char *
mod_log_merge_conf(cairn_arena_t *a, const void *parent, const void *child,
                   void *merged)
{
    const mod_log_conf_t  *p = parent, *c = child;
    mod_log_conf_t        *m = merged;

    if (c->off || c->logs.n == 0 || p->logs.n == 0) {
        return NULL;
    }

    m->logs.n = p->logs.n + c->logs.n;
    m->logs.v = cairn_arena_alloc(a, m->logs.n * sizeof(mod_log_entry_t *));
    memcpy(m->logs.v, p->logs.v, p->logs.n * sizeof(mod_log_entry_t *));
    memcpy(m->logs.v + p->logs.n, c->logs.v,
           c->logs.n * sizeof(mod_log_entry_t *));

    return NULL;
}


/* AccessLog off | AccessLog PATH [FORMAT] */
static const char *
mod_log_set_access_log(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_log_conf_t     *c = conf;
    cairn_arena_t      *a = cairn_cmd_arena(cmd);
    mod_log_entry_t    *e, **v;
    mod_log_format_t    probe;
    const char         *msg;

    if (argc > 2) {
        return "AccessLog takes a path and a format, or \"off\"";
    }

    if (argc == 1 && strcmp(argv[0], "off") == 0) {
        c->off = 1;
        c->logs.n = 0;
        c->logs.v = NULL;
        return NULL;
    }

    if (argv[0][0] == '\0') {
        return "AccessLog: the path is empty";
    }

    e = cairn_arena_calloc(a, sizeof(mod_log_entry_t));
    e->path = cairn_cmd_path(cmd, argv[0]);
    e->format = argc == 2 ? argv[1] : "combined";
    e->conf_file = cairn_cmd_file(cmd);
    e->conf_line = cairn_cmd_line(cmd);

    /* A format string (not a name) is checked now, where the line is
     * known; names are looked up once every LogFormat has been read. */
    if (strchr(e->format, '%') != NULL) {
        msg = mod_log_compile(a, e->format, &probe);
        if (msg != NULL) {
            return msg;
        }
    }

    v = cairn_arena_alloc(a, (c->logs.n + 1) * sizeof(mod_log_entry_t *));
    if (c->logs.n > 0) {
        memcpy(v, c->logs.v, c->logs.n * sizeof(mod_log_entry_t *));
    }
    v[c->logs.n++] = e;
    c->logs.v = v;

    return NULL;
}


/* LogFormat NAME "format" */
static const char *
mod_log_set_log_format(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_log_conf_t     *c = conf;
    cairn_arena_t      *a = cairn_cmd_arena(cmd);
    mod_log_format_t   *fmt, **v;
    const char         *msg;
    size_t              i;

    if (strcmp(argv[0], "json") == 0 || strchr(argv[0], '%') != NULL) {
        return cairn_arena_printf(a, "LogFormat: \"%s\" cannot be the name "
                                  "of a format", argv[0]);
    }

    fmt = cairn_arena_calloc(a, sizeof(mod_log_format_t));
    fmt->name = argv[0];

    msg = mod_log_compile(a, argv[1], fmt);
    if (msg != NULL) {
        return msg;
    }

    for (i = 0; i < c->formats.n; i++) {
        if (strcmp(c->formats.v[i]->name, argv[0]) == 0) {
            c->formats.v[i] = fmt;
            return NULL;
        }
    }

    v = cairn_arena_alloc(a, (c->formats.n + 1) * sizeof(mod_log_format_t *));
    if (c->formats.n > 0) {
        memcpy(v, c->formats.v, c->formats.n * sizeof(mod_log_format_t *));
    }
    v[c->formats.n++] = fmt;
    c->formats.v = v;

    return NULL;
}


/*
 * For each scope at post_config: gives every log of the scope its format
 * and its open file.  Entries inherited by several scopes are done once.
 */
static const char *
mod_log_resolve(void *conf, const char *where, void *data)
{
    cairn_server_t    *s = data;
    cairn_arena_t     *a = cairn_server_arena(s);
    mod_log_conf_t    *c = conf, *srv;
    mod_log_entry_t   *e;
    mod_log_format_t  *fmt;
    const char        *msg, *spec;
    size_t             i, k;

    srv = cairn_server_conf(s, &mod_log_module);

    for (i = 0; i < c->logs.n; i++) {
        e = c->logs.v[i];
        if (e->fmt != NULL && e->file != NULL) {
            continue;
        }

        fmt = NULL;
        for (k = 0; srv != NULL && k < srv->formats.n; k++) {
            if (strcmp(srv->formats.v[k]->name, e->format) == 0) {
                fmt = srv->formats.v[k];
            }
        }

        if (fmt == NULL) {
            fmt = cairn_arena_calloc(a, sizeof(mod_log_format_t));
            fmt->name = e->format;
            if (strcmp(e->format, "json") == 0) {
                fmt->json = 1;
                spec = NULL;
            } else if (strcmp(e->format, "combined") == 0) {
                spec = mod_log_combined;
            } else if (strcmp(e->format, "common") == 0) {
                spec = mod_log_common;
            } else if (strchr(e->format, '%') != NULL) {
                spec = e->format;
            } else {
                return cairn_arena_printf(a, "%s:%d: AccessLog: no format "
                                          "called \"%s\" (combined, common, "
                                          "json or a LogFormat name)",
                                          e->conf_file, e->conf_line,
                                          e->format);
            }
            if (spec != NULL) {
                msg = mod_log_compile(a, spec, fmt);
                if (msg != NULL) {
                    return msg;
                }
            }
        }

        e->fmt = fmt;
        e->file = mod_log_file_get(a, srv != NULL ? srv : c, e->path);
        if (e->file == NULL) {
            return cairn_arena_printf(a, "%s:%d: AccessLog: cannot open "
                                      "\"%s\": %s", e->conf_file,
                                      e->conf_line, e->path,
                                      strerror(errno));
        }
    }

    return NULL;
}
