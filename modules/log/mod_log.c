/*
 * mod_log: the access log, and the request's trace context.
 *
 * Every request gets a W3C trace context before anything else runs: a
 * valid incoming `traceparent` is continued (same trace id, a new span
 * id), anything else starts a new trace.  Both ids are left as the
 * request notes "trace_id" and "span_id" for other modules, and the
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
 * Hooks:      post_read_request (FIRST), log (MIDDLE), post_config,
 *             worker_init, worker_exit, reopen_logs
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <cairn/cairn.h>


#define MOD_LOG_BUFFER_SIZE     (64 * 1024)
#define MOD_LOG_FLUSH_MS        1000

/* What a format item writes. */
typedef enum {
    MOD_LOG_LITERAL = 0,
    MOD_LOG_REMOTE_ADDR,        /* %h */
    MOD_LOG_IDENT,              /* %l, always "-" */
    MOD_LOG_USER,               /* %u */
    MOD_LOG_TIME,               /* %t */
    MOD_LOG_REQUEST_LINE,       /* %r */
    MOD_LOG_STATUS,             /* %s, %>s */
    MOD_LOG_BODY_BYTES_CLF,     /* %b, "-" for none */
    MOD_LOG_BODY_BYTES,         /* %B */
    MOD_LOG_DURATION_US,        /* %D */
    MOD_LOG_DURATION_S,         /* %T */
    MOD_LOG_METHOD,             /* %m */
    MOD_LOG_PATH,               /* %U */
    MOD_LOG_QUERY,              /* %q, with its '?' */
    MOD_LOG_PROTOCOL,           /* %H */
    MOD_LOG_REQ_HEADER,         /* %{Name}i */
    MOD_LOG_RESP_HEADER,        /* %{Name}o */
    MOD_LOG_NOTE                /* %{name}n */
} mod_log_code_t;

typedef struct {
    mod_log_code_t   code;
    const char      *arg;       /* literal text, header or note name */
    size_t           len;       /* of a literal */
} mod_log_item_t;

typedef struct {
    const char      *name;      /* NULL for an inline format */
    int              json;
    size_t           nitems;
    mod_log_item_t  *items;
} mod_log_format_t;

/* One open log file; its buffer exists in workers only. */
typedef struct mod_log_file_s  mod_log_file_t;

struct mod_log_file_s {
    const char      *path;
    int              fd;
    int              failing;   /* a write error was logged already */
    char            *buf;
    size_t           len;
    mod_log_file_t  *next;
};

/* One AccessLog line; scopes that inherit it share the entry. */
typedef struct {
    const char        *path;
    const char        *format;      /* as written */
    const char        *conf_file;   /* where it was written */
    int                conf_line;
    mod_log_format_t  *fmt;         /* resolved at post_config */
    mod_log_file_t    *file;        /* opened at post_config */
} mod_log_entry_t;

typedef struct {
    size_t             n;
    mod_log_entry_t  **v;
} mod_log_entries_t;

typedef struct {
    size_t              n;
    mod_log_format_t  **v;
} mod_log_formats_t;

typedef struct {
    mod_log_entries_t   logs;
    int                 off;        /* AccessLog off in this scope */
    mod_log_formats_t   formats;    /* LogFormat, server scope */
    mod_log_file_t     *files;      /* every file, in the server conf */
} mod_log_conf_t;

/* A line being formatted, in the request arena. */
typedef struct {
    cairn_arena_t  *a;
    char           *p;
    size_t          len;
    size_t          cap;
} mod_log_str_t;


static int mod_log_register(cairn_module_t *m);
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
static const char *mod_log_compile(cairn_arena_t *a, const char *spec,
                                   mod_log_format_t *fmt);
static mod_log_file_t *mod_log_file_get(cairn_arena_t *a,
                                        mod_log_conf_t *srv,
                                        const char *path);
static void mod_log_file_close(void *data);
static void mod_log_reopen(mod_log_file_t *f);
static void mod_log_flush(mod_log_file_t *f);
static void mod_log_write_out(mod_log_file_t *f, const char *p, size_t n);
static void mod_log_write(mod_log_file_t *f, const char *p, size_t n);
static void mod_log_timer_cb(evutil_socket_t fd, short what, void *arg);
static void mod_log_trace(cairn_request_t *r);
static int mod_log_parse_traceparent(const char *tp, char *trace_id,
                                     char *flags);
static int mod_log_is_hex(const char *p, size_t n);
static uint64_t mod_log_random(void);
static void mod_log_hex(char *out, size_t nhex);
static void mod_log_put_clf_time(mod_log_str_t *s, uint64_t us);
static void mod_log_put_value(mod_log_str_t *s, const char *v);
static const char *mod_log_protocol(const cairn_request_t *r);
static void mod_log_format_text(cairn_request_t *r, mod_log_str_t *s,
                                const mod_log_format_t *fmt);
static void mod_log_format_json(cairn_request_t *r, mod_log_str_t *s);
static void mod_log_reserve(mod_log_str_t *s, size_t n);
static void mod_log_put(mod_log_str_t *s, const char *p, size_t n);
static void mod_log_puts(mod_log_str_t *s, const char *p);
#define MOD_LOG_PUT_LIT(s, lit)  mod_log_put((s), (lit), sizeof(lit) - 1)
static void mod_log_putu(mod_log_str_t *s, uint64_t v);
static void mod_log_put_escaped(mod_log_str_t *s, const char *v);
static size_t mod_log_utf8_len(const unsigned char *p);
static void mod_log_put_json(mod_log_str_t *s, const char *v);
static void mod_log_put_json_field(mod_log_str_t *s, const char *key,
                                   size_t klen, const char *v);
/* ,"key":"value" with the key's punctuation assembled at compile time. */
#define MOD_LOG_JSON_FIELD(s, key, v)                                        \
    mod_log_put_json_field((s), ",\"" key "\":", sizeof(key) + 3, (v))
static uint64_t mod_log_request_time_us(const cairn_request_t *r);


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


CAIRN_MODULE(log) = {
    CAIRN_MODULE_HEADER,            /* magic, ABI major/minor, size */
    .name           = "log",
    .version        = CAIRN_VERSION,
    .description    = "access log and trace context",
    .directives     = mod_log_directives,
    .create_conf    = mod_log_create_conf,
    .merge_conf     = mod_log_merge_conf,
    .register_hooks = mod_log_register,
    .directive_defaults = mod_log_defaults,
};


/* The formats every configuration knows. */
static const char  mod_log_combined[] =
    "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"";
static const char  mod_log_common[] = "%h %l %u %t \"%r\" %>s %b";

static const char  mod_log_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* The worker's state: its generation's files, the flush timer and the
 * generator of ids. */
static mod_log_file_t  *mod_log_files;
static struct event    *mod_log_timer;
static uint64_t         mod_log_rng[2];
static int              mod_log_rng_seeded;

/* The last formatted %t and JSON timestamp (up to the seconds), kept
 * while the second does not change. */
static time_t           mod_log_clf_sec = (time_t) -1;
static char             mod_log_clf[80];
static time_t           mod_log_iso_sec = (time_t) -1;
static char             mod_log_iso[64];

/* The wall clock minus the loop's monotonic clock, read again once a
 * second, so that a line costs no clock read; and the worker's pid. */
static int64_t          mod_log_wall_offset;
static uint64_t         mod_log_wall_checked;
static int              mod_log_wall_known;
static pid_t            mod_log_pid;


static int
mod_log_register(cairn_module_t *m)
{
    if (cairn_hook_post_read_request(m, mod_log_post_read_request,
                                     CAIRN_ORDER_FIRST, 0, NULL, NULL)
        != CAIRN_OK
        || cairn_hook_log(m, mod_log_log, CAIRN_ORDER_MIDDLE, 0, NULL, NULL)
           != CAIRN_OK
        || cairn_hook_post_config(m, mod_log_post_config, CAIRN_ORDER_MIDDLE,
                                  0, NULL, NULL) != CAIRN_OK
        || cairn_hook_worker_init(m, mod_log_worker_init, CAIRN_ORDER_MIDDLE,
                                  0, NULL, NULL) != CAIRN_OK
        || cairn_hook_worker_exit(m, mod_log_worker_exit, CAIRN_ORDER_LAST,
                                  0, NULL, NULL) != CAIRN_OK
        || cairn_hook_reopen_logs(m, mod_log_reopen_logs, CAIRN_ORDER_MIDDLE,
                                  0, NULL, NULL) != CAIRN_OK)
    {
        return CAIRN_ERROR;
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

    if (cairn_request_note(r, "trace_id") == NULL) {
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


/*
 * Parses an Apache-style format string into fmt's items.  Returns NULL
 * or a message naming the offending code.
 */
static const char *
mod_log_compile(cairn_arena_t *a, const char *spec, mod_log_format_t *fmt)
{
    mod_log_item_t  *items, *it;
    const char      *p, *start, *arg, *end;
    size_t           n = 0, argl;

    /* Never more items than twice the length, plus one. */
    items = cairn_arena_calloc(a, (2 * strlen(spec) + 1)
                                  * sizeof(mod_log_item_t));

    p = spec;
    while (*p != '\0') {
        if (*p != '%') {
            start = p;
            while (*p != '\0' && *p != '%') {
                p++;
            }
            it = &items[n++];
            it->code = MOD_LOG_LITERAL;
            it->arg = start;
            it->len = (size_t) (p - start);
            continue;
        }

        p++;
        arg = NULL;
        argl = 0;

        if (*p == '%') {
            it = &items[n++];
            it->code = MOD_LOG_LITERAL;
            it->arg = "%";
            it->len = 1;
            p++;
            continue;
        }

        if (*p == '{') {
            end = strchr(p, '}');
            if (end == NULL || end == p + 1) {
                return cairn_arena_printf(a, "log format \"%s\": \"%%{\" "
                                          "without a name and \"}\"", spec);
            }
            arg = p + 1;
            argl = (size_t) (end - arg);
            p = end + 1;
        }

        if (*p == '>' && p[1] == 's') {
            p++;
        }

        it = &items[n];
        switch (*p) {
        case 'h': it->code = MOD_LOG_REMOTE_ADDR; break;
        case 'l': it->code = MOD_LOG_IDENT; break;
        case 'u': it->code = MOD_LOG_USER; break;
        case 't': it->code = MOD_LOG_TIME; break;
        case 'r': it->code = MOD_LOG_REQUEST_LINE; break;
        case 's': it->code = MOD_LOG_STATUS; break;
        case 'b': it->code = MOD_LOG_BODY_BYTES_CLF; break;
        case 'B': it->code = MOD_LOG_BODY_BYTES; break;
        case 'D': it->code = MOD_LOG_DURATION_US; break;
        case 'T': it->code = MOD_LOG_DURATION_S; break;
        case 'm': it->code = MOD_LOG_METHOD; break;
        case 'U': it->code = MOD_LOG_PATH; break;
        case 'q': it->code = MOD_LOG_QUERY; break;
        case 'H': it->code = MOD_LOG_PROTOCOL; break;
        case 'i': it->code = MOD_LOG_REQ_HEADER; break;
        case 'o': it->code = MOD_LOG_RESP_HEADER; break;
        case 'n': it->code = MOD_LOG_NOTE; break;
        case '\0':
            return cairn_arena_printf(a, "log format \"%s\" ends inside "
                                      "a \"%%\" code", spec);
        default:
            return cairn_arena_printf(a, "log format \"%s\": unknown code "
                                      "\"%%%c\"", spec, *p);
        }

        if (it->code == MOD_LOG_REQ_HEADER || it->code == MOD_LOG_RESP_HEADER
            || it->code == MOD_LOG_NOTE)
        {
            if (arg == NULL) {
                return cairn_arena_printf(a, "log format \"%s\": \"%%%c\" "
                                          "needs a name: %%{Name}%c", spec,
                                          *p, *p);
            }
            it->arg = cairn_arena_strndup(a, arg, argl);
        } else if (arg != NULL) {
            return cairn_arena_printf(a, "log format \"%s\": \"%%%c\" takes "
                                      "no {argument}", spec, *p);
        }

        n++;
        p++;
    }

    fmt->items = items;
    fmt->nitems = n;

    return NULL;
}


/* The file for path: the one already open, or a new one. */
static mod_log_file_t *
mod_log_file_get(cairn_arena_t *a, mod_log_conf_t *srv, const char *path)
{
    mod_log_file_t  *f;
    int              fd;

    for (f = srv->files; f != NULL; f = f->next) {
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        return NULL;
    }

    f = cairn_arena_calloc(a, sizeof(mod_log_file_t));
    f->path = path;
    f->fd = fd;
    f->next = srv->files;
    srv->files = f;

    cairn_arena_cleanup_add(a, mod_log_file_close, f);

    return f;
}


static void
mod_log_file_close(void *data)
{
    mod_log_file_t  *f = data;

    if (f->fd != -1) {
        close(f->fd);
        f->fd = -1;
    }
}


/* Puts the file now at f's path behind f's descriptor number, which
 * every user of the descriptor then sees. */
static void
mod_log_reopen(mod_log_file_t *f)
{
    int  fd;

    fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        cairn_log_error(NULL, errno, "cannot reopen the access log \"%s\": "
                        "still writing to the old file", f->path);
        return;
    }

    if (dup3(fd, f->fd, O_CLOEXEC) == -1) {
        cairn_log_error(NULL, errno, "cannot reopen the access log \"%s\": "
                        "still writing to the old file", f->path);
        close(fd);
        return;
    }
    close(fd);
    f->failing = 0;
}


/* Writes the buffer with one write(2), so that its lines stay whole. */
static void
mod_log_flush(mod_log_file_t *f)
{
    size_t  len = f->len;

    f->len = 0;
    mod_log_write_out(f, f->buf, len);
}


/* Writes n bytes to the file, reporting the first of a run of errors. */
static void
mod_log_write_out(mod_log_file_t *f, const char *p, size_t n)
{
    size_t   left = n;
    ssize_t  done;

    while (left > 0 && f->fd != -1) {
        done = write(f->fd, p, left);
        if (done == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (!f->failing) {
                cairn_log_error(NULL, errno, "write() to the access log "
                                "\"%s\" failed: lines lost", f->path);
                f->failing = 1;
            }
            return;
        }
        p += done;
        left -= (size_t) done;
        f->failing = 0;
    }
}


/*
 * Appends a line to the file's buffer, writing the buffer first when the
 * line would not fit.  A line longer than the buffer is written alone.
 */
static void
mod_log_write(mod_log_file_t *f, const char *p, size_t n)
{
    if (f->buf == NULL || n > MOD_LOG_BUFFER_SIZE) {
        if (f->buf != NULL) {
            mod_log_flush(f);
        }
        mod_log_write_out(f, p, n);
        return;
    }

    if (f->len + n > MOD_LOG_BUFFER_SIZE) {
        mod_log_flush(f);
    }

    memcpy(f->buf + f->len, p, n);
    f->len += n;
}


static void
mod_log_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_log_file_t  *f;

    for (f = mod_log_files; f != NULL; f = f->next) {
        if (f->len > 0) {
            mod_log_flush(f);
        }
    }
}


/*
 * Continues the incoming trace or starts one, sets the notes and the
 * response headers.
 */
static void
mod_log_trace(cairn_request_t *r)
{
    const char  *tp;
    char         trace_id[33], span_id[17], flags[3];
    char         echo[56];
    int          continued = 0;

    tp = cairn_request_header(r, "traceparent");
    if (tp != NULL && mod_log_parse_traceparent(tp, trace_id, flags) == 0) {
        continued = 1;
    } else {
        mod_log_hex(trace_id, 32);
    }
    mod_log_hex(span_id, 16);

    cairn_request_set_note(r, "trace_id", trace_id);
    cairn_request_set_note(r, "span_id", span_id);
    cairn_response_header_set(r, "X-Request-Id", trace_id);

    if (continued) {
        snprintf(echo, sizeof(echo), "00-%s-%s-%s", trace_id, span_id,
                 flags);
        cairn_response_header_set(r, "traceparent", echo);
    }
}


/* 1: n lower-case hex digits, not all zero; -1: all zero; 0: not hex. */
static int
mod_log_is_hex(const char *p, size_t n)
{
    size_t  i;
    int     nonzero = 0;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
        if (p[i] != '0') {
            nonzero = 1;
        }
    }

    return nonzero ? 1 : -1;
}


/*
 * A version 00 traceparent: "00-" 32 hex "-" 16 hex "-" 2 hex, lower
 * case, neither id all zeros.  Returns 0 and the trace id and flags, or
 * -1.
 */
static int
mod_log_parse_traceparent(const char *tp, char *trace_id, char *flags)
{
    const char  *end;

    while (*tp == ' ' || *tp == '\t') {
        tp++;
    }

    if (strncmp(tp, "00-", 3) != 0 || strlen(tp) < 55
        || tp[35] != '-' || tp[52] != '-'
        || mod_log_is_hex(tp + 3, 32) != 1
        || mod_log_is_hex(tp + 36, 16) != 1
        || mod_log_is_hex(tp + 53, 2) == 0)
    {
        return -1;
    }

    end = tp + 55;
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (*end != '\0') {
        return -1;
    }

    memcpy(trace_id, tp + 3, 32);
    trace_id[32] = '\0';
    memcpy(flags, tp + 53, 2);
    flags[2] = '\0';

    return 0;
}


/* xorshift128+: fast, and plenty for ids nobody must guess. */
static uint64_t
mod_log_random(void)
{
    uint64_t         x, y;
    struct timespec  ts;

    if (!mod_log_rng_seeded) {
        /* Outside a worker (or without getrandom): seeded once from the
         * clock and the pid. */
        clock_gettime(CLOCK_REALTIME, &ts);
        mod_log_rng[0] = ((uint64_t) ts.tv_nsec << 32 ^ (uint64_t) ts.tv_sec
                          ^ (uint64_t) getpid() << 16) | 1;
        mod_log_rng[1] = 0x9e3779b97f4a7c15u ^ (uint64_t) getpid();
        mod_log_rng_seeded = 1;
    }

    x = mod_log_rng[0];
    y = mod_log_rng[1];
    mod_log_rng[0] = y;
    x ^= x << 23;
    mod_log_rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);

    return mod_log_rng[1] + y;
}


/* nhex random lower-case hex digits (a multiple of 16, not all zero). */
static void
mod_log_hex(char *out, size_t nhex)
{
    static const char  digits[] = "0123456789abcdef";
    uint64_t           v, any = 0;
    size_t             i, k;

    do {
        for (i = 0; i < nhex; i += 16) {
            v = mod_log_random();
            any |= v;
            for (k = 0; k < 16; k++) {
                out[i + k] = digits[v & 0xf];
                v >>= 4;
            }
        }
    } while (any == 0);

    out[nhex] = '\0';
}


static void
mod_log_put_clf_time(mod_log_str_t *s, uint64_t us)
{
    time_t     sec = (time_t) (us / 1000000);
    struct tm  tm;

    if (sec != mod_log_clf_sec) {
        gmtime_r(&sec, &tm);
        snprintf(mod_log_clf, sizeof(mod_log_clf),
                 "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
                 mod_log_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        mod_log_clf_sec = sec;
    }

    mod_log_puts(s, mod_log_clf);
}


/* A value that may be absent: "-" when it is NULL or empty. */
static void
mod_log_put_value(mod_log_str_t *s, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        mod_log_put(s, "-", 1);
    } else {
        mod_log_put_escaped(s, v);
    }
}


static const char *
mod_log_protocol(const cairn_request_t *r)
{
    return cairn_request_version(r) == 10 ? "HTTP/1.0" : "HTTP/1.1";
}


static void
mod_log_format_text(cairn_request_t *r, mod_log_str_t *s,
                    const mod_log_format_t *fmt)
{
    const mod_log_item_t  *it;
    const char            *q;
    uint64_t               v, dur;
    size_t                 i;

    dur = cairn_now_us() - cairn_request_start_us(r);

    for (i = 0; i < fmt->nitems; i++) {
        it = &fmt->items[i];

        switch (it->code) {
        case MOD_LOG_LITERAL:
            mod_log_put(s, it->arg, it->len);
            break;
        case MOD_LOG_REMOTE_ADDR:
            mod_log_put_value(s, cairn_request_remote_addr(r));
            break;
        case MOD_LOG_IDENT:
            mod_log_put(s, "-", 1);
            break;
        case MOD_LOG_USER:
            mod_log_put_value(s, cairn_request_user(r));
            break;
        case MOD_LOG_TIME:
            mod_log_put_clf_time(s, mod_log_request_time_us(r));
            break;
        case MOD_LOG_REQUEST_LINE:
            mod_log_put_escaped(s, cairn_request_method_name(r));
            mod_log_put(s, " ", 1);
            mod_log_put_escaped(s, cairn_request_target(r));
            mod_log_put(s, " ", 1);
            mod_log_puts(s, mod_log_protocol(r));
            break;
        case MOD_LOG_STATUS:
            mod_log_putu(s, (uint64_t) cairn_response_status(r));
            break;
        case MOD_LOG_BODY_BYTES_CLF:
            v = cairn_response_body_bytes_sent(r);
            if (v == 0) {
                mod_log_put(s, "-", 1);
            } else {
                mod_log_putu(s, v);
            }
            break;
        case MOD_LOG_BODY_BYTES:
            mod_log_putu(s, cairn_response_body_bytes_sent(r));
            break;
        case MOD_LOG_DURATION_US:
            mod_log_putu(s, dur);
            break;
        case MOD_LOG_DURATION_S:
            mod_log_putu(s, dur / 1000000);
            break;
        case MOD_LOG_METHOD:
            mod_log_put_escaped(s, cairn_request_method_name(r));
            break;
        case MOD_LOG_PATH:
            mod_log_put_value(s, cairn_request_path(r));
            break;
        case MOD_LOG_QUERY:
            q = cairn_request_query(r);
            if (q != NULL) {
                mod_log_put(s, "?", 1);
                mod_log_put_escaped(s, q);
            }
            break;
        case MOD_LOG_PROTOCOL:
            mod_log_puts(s, mod_log_protocol(r));
            break;
        case MOD_LOG_REQ_HEADER:
            mod_log_put_value(s, cairn_request_header(r, it->arg));
            break;
        case MOD_LOG_RESP_HEADER:
            mod_log_put_value(s, cairn_response_header(r, it->arg));
            break;
        case MOD_LOG_NOTE:
            mod_log_put_value(s, cairn_request_note(r, it->arg));
            break;
        }
    }
}


static void
mod_log_format_json(cairn_request_t *r, mod_log_str_t *s)
{
    uint64_t   us;
    time_t     sec;
    struct tm  tm;
    char       ms[4];
    unsigned   frac;

    us = mod_log_request_time_us(r);
    sec = (time_t) (us / 1000000);
    if (sec != mod_log_iso_sec) {
        gmtime_r(&sec, &tm);
        snprintf(mod_log_iso, sizeof(mod_log_iso),
                 "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        mod_log_iso_sec = sec;
    }
    frac = (unsigned) (us % 1000000 / 1000);
    ms[0] = (char) ('0' + frac / 100);
    ms[1] = (char) ('0' + frac / 10 % 10);
    ms[2] = (char) ('0' + frac % 10);
    ms[3] = 'Z';

    MOD_LOG_PUT_LIT(s, "{\"timestamp\":\"");
    mod_log_puts(s, mod_log_iso);
    mod_log_put(s, ms, 4);
    MOD_LOG_PUT_LIT(s, "\",\"level\":\"info\"");
    MOD_LOG_JSON_FIELD(s, "trace_id", cairn_request_note(r, "trace_id"));
    MOD_LOG_JSON_FIELD(s, "span_id", cairn_request_note(r, "span_id"));
    MOD_LOG_JSON_FIELD(s, "method", cairn_request_method_name(r));
    MOD_LOG_JSON_FIELD(s, "path", cairn_request_path(r));
    MOD_LOG_JSON_FIELD(s, "query", cairn_request_query(r));
    MOD_LOG_JSON_FIELD(s, "protocol", mod_log_protocol(r));
    MOD_LOG_PUT_LIT(s, ",\"status\":");
    mod_log_putu(s, (uint64_t) cairn_response_status(r));
    MOD_LOG_PUT_LIT(s, ",\"bytes_sent\":");
    mod_log_putu(s, cairn_response_bytes_sent(r));
    MOD_LOG_PUT_LIT(s, ",\"duration_us\":");
    mod_log_putu(s, cairn_now_us() - cairn_request_start_us(r));
    MOD_LOG_JSON_FIELD(s, "remote_addr", cairn_request_remote_addr(r));
    MOD_LOG_JSON_FIELD(s, "user", cairn_request_user(r));
    MOD_LOG_JSON_FIELD(s, "user_agent",
                           cairn_request_header(r, "User-Agent"));
    MOD_LOG_JSON_FIELD(s, "referer", cairn_request_header(r, "Referer"));
    MOD_LOG_PUT_LIT(s, ",\"pid\":");
    mod_log_putu(s, (uint64_t) (mod_log_pid != 0 ? mod_log_pid : getpid()));
    mod_log_put(s, "}", 1);
}


/* The wall-clock time the request line arrived, in microseconds. */
static uint64_t
mod_log_request_time_us(const cairn_request_t *r)
{
    struct timespec  ts;
    uint64_t         now, wall;

    now = cairn_now_us();
    if (!mod_log_wall_known || now - mod_log_wall_checked >= 1000000) {
        clock_gettime(CLOCK_REALTIME, &ts);
        wall = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        mod_log_wall_offset = (int64_t) (wall - now);
        mod_log_wall_checked = now;
        mod_log_wall_known = 1;
    }

    return (uint64_t) ((int64_t) cairn_request_start_us(r)
                       + mod_log_wall_offset);
}


/* Makes room for n more bytes. */
static void
mod_log_reserve(mod_log_str_t *s, size_t n)
{
    char    *np;
    size_t   cap;

    if (s->len + n <= s->cap) {
        return;
    }

    cap = s->cap ? s->cap * 2 : 1024;
    while (cap < s->len + n) {
        cap *= 2;
    }
    np = cairn_arena_alloc(s->a, cap);
    if (s->len > 0) {
        memcpy(np, s->p, s->len);
    }
    s->p = np;
    s->cap = cap;
}


static void
mod_log_put(mod_log_str_t *s, const char *p, size_t n)
{
    mod_log_reserve(s, n);
    memcpy(s->p + s->len, p, n);
    s->len += n;
}


static void
mod_log_puts(mod_log_str_t *s, const char *p)
{
    mod_log_put(s, p, strlen(p));
}


static void
mod_log_putu(mod_log_str_t *s, uint64_t v)
{
    char  buf[24], *p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    mod_log_put(s, p, (size_t) (buf + sizeof(buf) - p));
}


/*
 * Text formats escape like Apache's: '"' and '\' get a backslash, other
 * bytes outside printable ASCII become \xhh, so a line can be neither
 * split nor forged.
 */
static void
mod_log_put_escaped(mod_log_str_t *s, const char *v)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) v, *start;
    char                 esc[4];

    while (*p != '\0') {
        start = p;
        while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
            p++;
        }
        if (p > start) {
            mod_log_put(s, (const char *) start, (size_t) (p - start));
        }
        if (*p == '\0') {
            break;
        }
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *p;
            mod_log_put(s, esc, 2);
        } else {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[*p >> 4];
            esc[3] = hex[*p & 0xf];
            mod_log_put(s, esc, 4);
        }
        p++;
    }
}


/* The length of a valid UTF-8 sequence at p (at least 2 bytes), or 0. */
static size_t
mod_log_utf8_len(const unsigned char *p)
{
    size_t    n, i;
    uint32_t  cp;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }

    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }

    return n;
}


/*
 * A JSON string: valid UTF-8 goes through, invalid bytes become U+FFFD.
 * Room for the worst case (every byte escaped to six) is made first, so
 * the loop writes without checking.
 */
static void
mod_log_put_json(mod_log_str_t *s, const char *v)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) v;
    char                *o;
    size_t               n;

    n = strlen(v);
    mod_log_reserve(s, n * 6 + 2);
    o = s->p + s->len;

    *o++ = '"';
    while (*p != '\0') {
        if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
            *o++ = (char) *p++;
        } else if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char) *p++;
        } else if (*p < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[*p >> 4];
            o[5] = hex[*p & 0xf];
            o += 6;
            p++;
        } else if ((n = mod_log_utf8_len(p)) == 0) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            p++;
        } else {
            memcpy(o, p, n);
            o += n;
            p += n;
        }
    }
    *o++ = '"';

    s->len = (size_t) (o - s->p);
}


/* key (written as it is, quotes and colon included) then "value" or
 * null. */
static void
mod_log_put_json_field(mod_log_str_t *s, const char *key, size_t klen,
                       const char *v)
{
    mod_log_put(s, key, klen);

    if (v == NULL) {
        mod_log_put(s, "null", 4);
    } else {
        mod_log_put_json(s, v);
    }
}
