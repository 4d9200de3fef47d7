/*
 * modules/log/mod_log.h: what the files of mod_log share.
 *
 * mod_log.c holds the directives, the configuration and the hooks;
 * log_format.c compiles a format and renders a line with it;
 * log_file.c opens, buffers, writes and reopens the log files;
 * log_trace.c gives a request its trace context.
 */

#ifndef MOD_LOG_MOD_LOG_H
#define MOD_LOG_MOD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include <cairn/cairn.h>


/* The buffer of a file, in a worker. */
#define MOD_LOG_BUFFER_SIZE     (64 * 1024)

/* Seconds between two error log lines about the same failing file. */
#define MOD_LOG_ERROR_INTERVAL  60

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
    int              failing;   /* the last write failed */
    int              reported_once;
    time_t           reported;  /* when a failure was last logged */
    size_t           lost;      /* bytes lost in this run of failures */
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


/* ------------------------------------------------------------------ */
/* Formats (log_format.c)                                             */
/* ------------------------------------------------------------------ */

/*
 * Parses an Apache-style format string into fmt's items.  Returns NULL
 * or a message naming the offending code.
 */
const char *mod_log_compile(cairn_arena_t *a, const char *spec,
                            mod_log_format_t *fmt);

/* The line of r in a text format, or in JSON, appended to s. */
void mod_log_format_text(cairn_request_t *r, mod_log_str_t *s,
                         const mod_log_format_t *fmt);
void mod_log_format_json(cairn_request_t *r, mod_log_str_t *s);

/* Appends n bytes to s. */
void mod_log_put(mod_log_str_t *s, const char *p, size_t n);

/* The worker's pid (0 outside a worker), and whether the wall clock's
 * offset is known (worker_init sets the pid and forgets the offset). */
extern int              mod_log_wall_known;
extern pid_t            mod_log_pid;


/* ------------------------------------------------------------------ */
/* Files (log_file.c)                                                 */
/* ------------------------------------------------------------------ */

/* The file for path: the one already open, or a new one (NULL and
 * errno when it cannot be opened). */
mod_log_file_t *mod_log_file_get(cairn_arena_t *a, mod_log_conf_t *srv,
                                 const char *path);

/* Opens f's path again behind f's descriptor (log rotation). */
void mod_log_reopen(mod_log_file_t *f);

/* Writes f's buffer with one write(2). */
void mod_log_flush(mod_log_file_t *f);

/* Appends a line to f's buffer, writing the buffer first when needed. */
void mod_log_write(mod_log_file_t *f, const char *p, size_t n);

/* The flush timer's callback: writes every buffer that holds lines. */
void mod_log_timer_cb(evutil_socket_t fd, short what, void *arg);

/* The worker's state: its generation's files and the flush timer. */
extern mod_log_file_t  *mod_log_files;
extern struct event    *mod_log_timer;


/* ------------------------------------------------------------------ */
/* Trace context (log_trace.c)                                        */
/* ------------------------------------------------------------------ */

/*
 * Continues the incoming trace or starts one, sets the notes "trace_id"
 * and "span_id" and the response headers.
 */
void mod_log_trace(cairn_request_t *r);

/* The generator of ids, seeded by worker_init (or, outside a worker,
 * from the clock at its first use). */
extern uint64_t         mod_log_rng[2];
extern int              mod_log_rng_seeded;

#endif /* MOD_LOG_MOD_LOG_H */
