/*
 * tests/unit/test_pipeline.c: core/pipeline.c with the output chain of
 * core/filter.c, driven without sockets.
 *
 * The pipeline talks to its connection only through r->conn->proto and
 * hears from it only through cairn__pipeline_event(), so a request can
 * run on a fake connection: a zeroed cairn_conn_t whose proto is the
 * table below, with a request arena, a generation and a zeroed worker
 * (the request ids come from it).  The fake protocol writes nothing
 * anywhere; it records what it was asked: read_body calls, every buffer
 * given to write (memory bytes concatenated, buffers flagged
 * CAIRN_BUF_LAST counted, and a call without buffers, a stream's head,
 * counted apart), the status at the first write (which sets
 * headers_sent, as HTTP/1.1 does when it writes the head), pending
 * calls, and done calls with their keep-alive, noting those made while
 * write or a body filter is on the stack.  Its done() leaves the arena
 * as it is, so a test still reads the finished request.
 *
 * On demand the fake does what HTTP/1.1 may do from inside a call:
 * write() reports CAIRN__EV_DRAINED as soon as it has seen the last
 * buffer (the socket took everything at once); read_body() completes
 * the body and reports CAIRN__EV_BODY (it was already buffered); done()
 * resets the request arena and starts the next request in it (pipelined
 * input), so a test can see whether anything wrote to a request after
 * it was handed back.
 *
 * Each test builds a generation for a configuration file that does not
 * exist, registers mod_ptest (one hook in every request phase that adds
 * the phase's name to a trace and returns what the test asks; its
 * handler answers from memory or streams) and, for the filter tests,
 * mod_pfilter (a header and a body filter declared in its descriptor),
 * parses a configuration text and finalizes it.  Every entry into the
 * pipeline is bracketed with cairn__conn_enter()/cairn__conn_leave(), as
 * the loop's callbacks do.
 *
 * The cases at the end pin two bugs this suite found: a handler that
 * streams its whole body before it returns, and a RESPONSE hook resumed
 * with CAIRN_ERROR.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "arena_int.h"
#include "conf_int.h"
#include "hooks_int.h"
#include "http_int.h"
#include "log_int.h"
#include "worker_int.h"


/* ------------------------------------------------------------------ */
/* The fake connection                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    unsigned         read_body;     /* read_body calls */
    unsigned         writes;        /* write calls */
    unsigned         heads;         /* write calls without buffers */
    unsigned         lasts;         /* buffers flagged CAIRN_BUF_LAST */
    unsigned         after_last;    /* buffers given after the last */
    unsigned         files;         /* file buffers (none expected) */
    int              status;        /* r->status at the first write */
    char             body[1024];     /* the memory bytes, concatenated */
    size_t           body_len;
    unsigned         pending;       /* pending calls */
    unsigned         done;          /* done calls */
    int              keepalive;     /* done's keepalive */
    unsigned         depth;         /* write or a body filter running */
    unsigned         done_nested;   /* done calls under them */
    unsigned         deferred;      /* DRAINED from write left to the
                                       outermost output call */

    /* What the tests ask of it. */
    unsigned         drain_in_write:1;  /* EV_DRAINED after the last */
    unsigned         body_in_read:1;    /* read_body completes the body */
    unsigned         next_in_done:1;    /* done recycles the arena and
                                           starts the next request */
    cairn_request_t *next;              /* that request */
} fake_t;

static fake_t            fake;
static cairn_conn_t      conn;
static cairn__worker_t   worker;
static cairn_arena_t    *conn_arena;
static cairn_arena_t    *req_arena;
static cairn_server_t   *s;
static char              errbuf[4096];


static void
fake_read_body(cairn_request_t *r)
{
    fake.read_body++;

    if (fake.body_in_read) {
        r->body_done = 1;
        cairn__pipeline_event(r, CAIRN__EV_BODY, 0);
    }
}


static int
fake_write(cairn_request_t *r, cairn_buf_t *in)
{
    cairn_buf_t  *b;
    int           last = 0;

    fake.depth++;

    if (fake.writes++ == 0) {
        fake.status = r->status;
        r->headers_sent = 1;
    }
    if (in == NULL) {
        fake.heads++;
    }

    for (b = in; b != NULL; b = b->next) {
        if (fake.lasts > 0) {
            fake.after_last++;
        }
        if (b->data == NULL && b->len > 0) {
            fake.files++;
        }
        if (b->data != NULL && b->len > 0) {
            ck_assert_uint_lt(fake.body_len + b->len, sizeof(fake.body));
            memcpy(fake.body + fake.body_len, b->data, b->len);
            fake.body_len += b->len;
            fake.body[fake.body_len] = '\0';
        }
        if (b->flags & CAIRN_BUF_LAST) {
            fake.lasts++;
            last = 1;
        }
    }

    if (last && fake.drain_in_write) {
        cairn__pipeline_event(r, CAIRN__EV_DRAINED, 0);
        if (r->finish_pending && r->out_busy > 0) {
            fake.deferred++;
        }
    }

    fake.depth--;

    return CAIRN_OK;
}


static size_t
fake_pending(const cairn_request_t *r)
{
    fake.pending++;

    return 42;
}


static void
fake_done(cairn_request_t *r, int keepalive)
{
    fake.done++;
    fake.keepalive = keepalive;
    if (fake.depth > 0) {
        fake.done_nested++;
    }
    if (fake.next_in_done) {
        cairn__arena_reset(req_arena);
        fake.next = cairn__request_new(&conn);
    }
}


static const cairn__proto_t  fake_proto = {
    .name       = "fake",
    .read_body  = fake_read_body,
    .write      = fake_write,
    .pending    = fake_pending,
    .done       = fake_done,
};


/* ------------------------------------------------------------------ */
/* mod_ptest: a hook in every phase                                   */
/* ------------------------------------------------------------------ */

typedef enum {
    H_DECLINE = 0,      /* no answer */
    H_HELLO,            /* 200 text/plain "hello" */
    H_RANGE,            /* 200 "0123456789", Accept-Ranges: bytes */
    H_STREAM,           /* start, "one", SUSPENDED; the test goes on */
    H_STREAM_SYNC       /* start, "one", "two", end, then handler_rc */
} handler_mode_t;

typedef struct {
    const char      *route;
} ptest_conf_t;

static int ptest_register(cairn_module_t *m);
static void *ptest_create_conf(cairn_arena_t *a);
static const char *ptest_set_route(cairn_cmd_t *cmd, void *conf, int argc,
                                   char **argv);

static const cairn_directive_t  ptest_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("PTestRoute", CAIRN_ARGS_TWO, ptest_conf_t, route,
                           CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                           ptest_set_route),
    CAIRN_DIRECTIVE_END
};

static cairn_module_t  ptest_module = {
    CAIRN_MODULE_HEADER,
    .name           = "ptest",
    .version        = "1.0.0",
    .directives     = ptest_directives,
    .create_conf    = ptest_create_conf,
    .register_hooks = ptest_register,
};

/* What the hooks saw and what they are to do. */
static char             trace[512];
static unsigned         nlog;
static unsigned         nhandler;
static unsigned         ncancel;
static void            *cancel_data_seen;
static int              cancel_data;
static int              phase_rc[CAIRN_PHASE_COUNT];
static handler_mode_t   handler_mode;
static int              handler_rc;     /* H_STREAM_SYNC's return */
static int              stream_rc[4];   /* start, write, write, end */


static void
trace_add(const char *word)
{
    size_t  n = strlen(trace);

    ck_assert_uint_lt(n + strlen(word) + 2, sizeof(trace));
    snprintf(trace + n, sizeof(trace) - n, "%s%s", n > 0 ? " " : "", word);
}


static void
ptest_cancel(cairn_request_t *r, void *data)
{
    ncancel++;
    cancel_data_seen = data;
}


static int
ptest_handler(cairn_request_t *r)
{
    nhandler++;

    switch (handler_mode) {
    case H_HELLO:
        return cairn_respond(r, 200, "text/plain", "hello", 5);

    case H_RANGE:
        cairn_response_header_set(r, "Accept-Ranges", "bytes");
        return cairn_respond(r, 200, "text/plain", "0123456789", 10);

    case H_STREAM:
        stream_rc[0] = cairn_response_stream_start(r, 200);
        stream_rc[1] = cairn_response_stream_write(r, "one", 3);
        return CAIRN_SUSPENDED;

    case H_STREAM_SYNC:
        stream_rc[0] = cairn_response_stream_start(r, 200);
        stream_rc[1] = cairn_response_stream_write(r, "one", 3);
        stream_rc[2] = cairn_response_stream_write(r, "two", 3);
        stream_rc[3] = cairn_response_stream_end(r);
        return handler_rc;

    default:
        return CAIRN_DECLINED;
    }
}


static int
ptest_hook(cairn_request_t *r)
{
    cairn_phase_t  phase = r->phase;

    trace_add(cairn_phase_name(phase));

    switch (phase) {
    case CAIRN_PHASE_HANDLER:
        return ptest_handler(r);
    case CAIRN_PHASE_LOG:
        nlog++;
        return CAIRN_OK;
    default:
        break;
    }

    if (phase_rc[phase] == CAIRN_SUSPENDED) {
        cairn_request_on_cancel(r, ptest_cancel, &cancel_data);
    }

    return phase_rc[phase];
}


static int
ptest_register(cairn_module_t *m)
{
    int  p;

    for (p = 0; p < CAIRN_PHASE_COUNT; p++) {
        if (cairn_hook_request(m, (cairn_phase_t) p, ptest_hook,
                               CAIRN_ORDER_MIDDLE, 0, NULL, NULL)
            != CAIRN_OK)
        {
            return CAIRN_ERROR;
        }
    }

    return CAIRN_OK;
}


static void *
ptest_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(ptest_conf_t));
}


/* PTestRoute PATTERN METHOD: a route of mod_ptest for one method. */
static const char *
ptest_set_route(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    ptest_conf_t    *c = conf;
    cairn_method_t   m;

    m = cairn_method_from_name(argv[1]);
    if (m == CAIRN_METHOD_OTHER) {
        return "PTestRoute: unknown method";
    }
    c->route = argv[0];

    return cairn_route_add(cmd, argv[0], CAIRN_M(m), &ptest_module, NULL);
}


/* ------------------------------------------------------------------ */
/* mod_pfilter: a header filter and a body filter                     */
/* ------------------------------------------------------------------ */

typedef enum {
    F_UPPER = 0,        /* upper-cases memory buffers, passes them on */
    F_HOLD              /* keeps copies until the last, passes them all */
} filter_mode_t;

static int pfilter_header(cairn_request_t *r);
static int pfilter_body(cairn_request_t *r, cairn_filter_t *f,
                        cairn_buf_t *in);

static const cairn_hook_decl_t  pfilter_hooks[] = {
    CAIRN_HOOK_HEADER_FILTER(pfilter_header, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_BODY_FILTER(pfilter_body, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};

static cairn_module_t  pfilter_module = {
    CAIRN_MODULE_HEADER,
    .name           = "pfilter",
    .version        = "1.0.0",
    .hooks          = pfilter_hooks,
};

static int              filter_header_rc;
static filter_mode_t    filter_mode;
static unsigned         nheader_filter;
static unsigned         nbody_filter;
static cairn_buf_t     *held;
static cairn_buf_t    **held_tail;


static int
pfilter_header(cairn_request_t *r)
{
    nheader_filter++;

    return filter_header_rc;
}


static int
pfilter_body(cairn_request_t *r, cairn_filter_t *f, cairn_buf_t *in)
{
    cairn_buf_t  *b, *copy;
    char         *p;
    size_t        i;
    int           rc, last = 0;

    nbody_filter++;
    fake.depth++;

    for (b = in; b != NULL; b = b->next) {
        if (b->data != NULL && b->len > 0) {
            p = cairn_arena_alloc(r->arena, b->len);
            for (i = 0; i < b->len; i++) {
                p[i] = filter_mode == F_UPPER
                       ? (char) toupper(((const unsigned char *) b->data)[i])
                       : ((const char *) b->data)[i];
            }
            b->data = p;
        }
        if (b->flags & CAIRN_BUF_LAST) {
            last = 1;
        }
    }

    if (filter_mode == F_UPPER) {
        rc = cairn_filter_next(r, f, in);
        fake.depth--;
        return rc;
    }

    /* F_HOLD: keep copies of the buffers (the data copied above). */
    if (held_tail == NULL) {
        held_tail = &held;
    }
    for (b = in; b != NULL; b = b->next) {
        copy = cairn_arena_calloc(r->arena, sizeof(*copy));
        *copy = *b;
        copy->next = NULL;
        *held_tail = copy;
        held_tail = &copy->next;
    }

    rc = CAIRN_OK;
    if (last) {
        rc = cairn_filter_next(r, f, held);
    }

    fake.depth--;
    return rc;
}


/* ------------------------------------------------------------------ */
/* Fixtures and helpers                                               */
/* ------------------------------------------------------------------ */

static void
setup(void)
{
    int  p;

    memset(&fake, 0, sizeof(fake));
    memset(&conn, 0, sizeof(conn));
    memset(&worker, 0, sizeof(worker));

    trace[0] = '\0';
    nlog = nhandler = ncancel = 0;
    cancel_data_seen = NULL;
    for (p = 0; p < CAIRN_PHASE_COUNT; p++) {
        phase_rc[p] = CAIRN_DECLINED;
    }
    handler_mode = H_HELLO;
    handler_rc = CAIRN_SUSPENDED;
    memset(stream_rc, 0x55, sizeof(stream_rc));

    filter_header_rc = CAIRN_OK;
    filter_mode = F_UPPER;
    nheader_filter = nbody_filter = 0;
    held = NULL;
    held_tail = NULL;

    s = NULL;
    conn_arena = cairn_arena_create(0);
    req_arena = cairn_arena_create(0);
}


static void
teardown(void)
{
    if (s != NULL) {
        cairn__server_destroy(s);
        s = NULL;
    }
    cairn_arena_destroy(req_arena);
    cairn_arena_destroy(conn_arena);
}


static const char *
errors(void)
{
    FILE  *f;

    f = fmemopen(errbuf, sizeof(errbuf), "w");
    if (f == NULL) {
        return "";
    }
    cairn__conf_print_errors(s, f);
    fclose(f);

    return errbuf;
}


/* A generation with mod_ptest (and mod_pfilter when filters is 1) for
 * the configuration text, and the fake connection on it. */
static void
server_up(const char *text, int filters)
{
    const char  *err;

    s = cairn__server_create("/nonexistent/cairn-test/cairn.conf", NULL, 1);
    ck_assert_ptr_nonnull(s);

    cairn__server_building = s;
    err = cairn__module_add_static(s, &ptest_module);
    if (err == NULL && filters) {
        err = cairn__module_add_static(s, &pfilter_module);
    }
    cairn__server_building = NULL;
    ck_assert_msg(err == NULL, "add_static: %s", err ? err : "");

    ck_assert_msg(cairn__conf_parse_string(s, "t.conf", text) == 0,
                  "parse:\n%s", errors());
    ck_assert_msg(cairn__conf_finalize(s) == 0, "finalize:\n%s", errors());

    worker.server = s;
    worker.id_seed = 0x1234;

    conn.proto = &fake_proto;
    conn.worker = &worker;
    conn.server = s;
    conn.fd = -1;
    conn.arena = conn_arena;
    conn.req_arena = req_arena;
    conn.state = CAIRN__CONN_ACTIVE;
    conn.id = 1;
    strcpy(conn.peer_text, "192.0.2.7");
    conn.peer_port = 40000;
}


/* A request as the HTTP layer leaves it when its header block is in. */
static cairn_request_t *
request(cairn_method_t method, const char *target)
{
    cairn_request_t  *r;

    r = cairn__request_new(&conn);
    conn.req = r;

    r->method = method;
    r->method_name = cairn_method_name(method);
    r->head = method == CAIRN_METHOD_HEAD;
    r->version = 11;
    r->target = cairn_arena_strdup(r->arena, target);
    r->target_len = strlen(target);
    r->keepalive = 1;
    r->content_length = -1;
    cairn__headers_add(r->arena, &r->headers, "Host", 4, "example.com");

    return r;
}


/* POST /x announcing a body of 5 bytes, none of them read yet. */
static cairn_request_t *
post_request(void)
{
    cairn_request_t  *r;

    r = request(CAIRN_METHOD_POST, "/x");
    r->has_body = 1;
    r->content_length = 5;

    return r;
}


/* One report from the connection, bracketed as a loop callback is. */
static void
event(cairn_request_t *r, cairn__pev_t ev, int arg)
{
    cairn_conn_t  *outer = cairn__current_conn;

    cairn__conn_enter(&conn);
    cairn__current_conn = &conn;
    cairn__pipeline_event(r, ev, arg);
    cairn__current_conn = outer;
    cairn__conn_leave(&conn);
    ck_assert_uint_eq(conn.busy, 0);
}


/* The core's error page for status and the sentence why, written out
 * independently. */
static const char *
page(int status, const char *reason, const char *why)
{
    static char  buf[1024];

    snprintf(buf, sizeof(buf), "<!DOCTYPE html>\n<html><head><title>%d %s"
             "</title><style>body{font-family:sans-serif;margin:2em}"
             "</style></head>"
             "<body><h1>%d %s</h1><p>%s</p></body></html>\n",
             status, reason, status, reason, why);

    return buf;
}


#define PHASES_TO_FIXUPS \
    "post_read_request route access authenticate authorize fixups"
#define PHASES_ALL          PHASES_TO_FIXUPS " handler response"


/* ------------------------------------------------------------------ */
/* 1. The phases and a response from memory                           */
/* ------------------------------------------------------------------ */

START_TEST(phases_in_order)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = request(CAIRN_METHOD_GET, "/x");
    ck_assert_uint_eq(r->seq, 1);
    ck_assert_int_eq(r->state, CAIRN__REQ_HEADERS);

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_ptr_nonnull(r->loc);
    ck_assert_str_eq(r->path, "/x");
    ck_assert_str_eq(r->host, "example.com");
    ck_assert_int_eq(r->state, CAIRN__REQ_SENDING);
    ck_assert_uint_eq(nhandler, 1);

    /* One write: the body alone (the head is the protocol's), last. */
    ck_assert_uint_eq(fake.writes, 1);
    ck_assert_uint_eq(fake.heads, 0);
    ck_assert_int_eq(fake.status, 200);
    ck_assert_str_eq(r->content_type, "text/plain");
    ck_assert_int_eq(r->out_clen, 5);
    ck_assert_uint_eq(fake.body_len, 5);
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(fake.after_last, 0);
    ck_assert_uint_eq(fake.files, 0);

    /* Not logged, not done, until the connection says it is written. */
    ck_assert_uint_eq(nlog, 0);
    ck_assert_uint_eq(fake.done, 0);

    event(r, CAIRN__EV_DRAINED, 0);

    ck_assert_str_eq(trace, PHASES_ALL " log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
    ck_assert_int_eq(r->state, CAIRN__REQ_DONE);

    /* A second report changes nothing. */
    event(r, CAIRN__EV_DRAINED, 0);
    event(r, CAIRN__EV_GONE, 0);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_uint_eq(fake.writes, 1);
}
END_TEST


/* The writer reports DRAINED from inside write(): the request is
 * finished once the output call has returned, not under it. */
START_TEST(drained_in_write)
{
    cairn_request_t  *r;

    server_up("", 0);
    fake.drain_in_write = 1;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_ALL " log");
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_uint_eq(fake.deferred, 1);
    ck_assert_uint_eq(fake.done_nested, 0);
    ck_assert_int_eq(fake.keepalive, 1);
    ck_assert_int_eq(r->state, CAIRN__REQ_DONE);
    ck_assert_uint_eq(r->out_busy, 0);
    ck_assert_int_eq(r->finish_pending, 0);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
}
END_TEST


/* A request whose client asked to close: done(keepalive 0). */
START_TEST(no_keepalive)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = request(CAIRN_METHOD_GET, "/x");
    r->keepalive = 0;

    event(r, CAIRN__EV_HEADERS, 0);
    event(r, CAIRN__EV_DRAINED, 0);

    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);
}
END_TEST


/* ------------------------------------------------------------------ */
/* 2. No answer: 404, and 405 for a route of another method           */
/* ------------------------------------------------------------------ */

START_TEST(not_found)
{
    cairn_request_t  *r;

    server_up("", 0);
    handler_mode = H_DECLINE;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_uint_eq(nhandler, 1);
    ck_assert_int_eq(fake.status, 404);
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(r->content_type, "text/html; charset=utf-8");
    ck_assert_str_eq(fake.body, page(404, "Not Found", "nothing is served at /x"));
    ck_assert_uint_eq(fake.lasts, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, PHASES_ALL " log");
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
}
END_TEST


START_TEST(method_not_allowed)
{
    cairn_request_t  *r;

    server_up("PTestRoute /r GET\n", 0);
    handler_mode = H_DECLINE;
    r = request(CAIRN_METHOD_DELETE, "/r");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_int_eq(r->route_405, 1);
    ck_assert_ptr_null(r->route);
    ck_assert_int_eq(fake.status, 405);
    ck_assert_str_eq(cairn_response_header(r, "Allow"), "GET, HEAD");
    ck_assert_str_eq(fake.body, page(405, "Method Not Allowed", "the method DELETE is not allowed on /r"));
    ck_assert_uint_eq(fake.lasts, 1);
}
END_TEST


/* The route's own method: the route is found, the handler (which
 * declines) leaves a plain 404. */
START_TEST(route_matched)
{
    cairn_request_t  *r;

    server_up("PTestRoute /r GET\n", 0);
    handler_mode = H_DECLINE;
    r = request(CAIRN_METHOD_GET, "/r");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_int_eq(r->route_405, 0);
    ck_assert_ptr_nonnull(r->route);
    ck_assert_str_eq(cairn_request_route_pattern(r), "/r");
    ck_assert_int_eq(fake.status, 404);
    ck_assert_ptr_null(cairn_response_header(r, "Allow"));
}
END_TEST


/* ------------------------------------------------------------------ */
/* 3. A refusal in ACCESS                                             */
/* ------------------------------------------------------------------ */

START_TEST(access_refused)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_ACCESS] = 403;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    /* AUTHENTICATE..HANDLER skipped, RESPONSE run. */
    ck_assert_str_eq(trace, "post_read_request route access response");
    ck_assert_uint_eq(nhandler, 0);
    ck_assert_int_eq(fake.status, 403);
    ck_assert_str_eq(fake.body, page(403, "Forbidden", "access to this resource is denied"));
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(fake.read_body, 0);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, "post_read_request route access response log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
}
END_TEST


/* A hook's status above 599 becomes a 500. */
START_TEST(status_over_599)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_AUTHORIZE] = 777;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, "post_read_request route access authenticate "
                     "authorize response");
    ck_assert_int_eq(fake.status, 500);
    ck_assert_str_eq(fake.body, page(500, "Internal Server Error", "the server failed to answer this request"));
}
END_TEST


/* ------------------------------------------------------------------ */
/* 4. Suspension and resumption                                       */
/* ------------------------------------------------------------------ */

START_TEST(suspend_resume)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_ACCESS] = CAIRN_SUSPENDED;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, "post_read_request route access");
    ck_assert_int_eq(r->state, CAIRN__REQ_SUSPENDED);
    ck_assert_int_eq(r->phase, CAIRN_PHASE_ACCESS);
    ck_assert_ptr_eq(r->suspended_by, &ptest_module);
    ck_assert_uint_eq(fake.writes, 0);
    ck_assert_uint_eq(fake.done, 0);
    ck_assert_uint_eq(nhandler, 0);

    /* Reports that do not apply to a suspended request are ignored. */
    event(r, CAIRN__EV_DRAINED, 0);
    event(r, CAIRN__EV_BODY, 0);
    event(r, CAIRN__EV_FAIL, 408);
    ck_assert_int_eq(r->state, CAIRN__REQ_SUSPENDED);
    ck_assert_uint_eq(fake.writes, 0);

    /* From a later callback: the hook after the one that suspended. */
    cairn_request_resume(r, CAIRN_DECLINED);
    ck_assert_uint_eq(conn.busy, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_uint_eq(nhandler, 1);
    ck_assert_int_eq(r->state, CAIRN__REQ_SENDING);
    ck_assert_ptr_null(r->cancel_cb);
    ck_assert_int_eq(fake.status, 200);
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);

    /* A second resume finds nothing suspended. */
    cairn_request_resume(r, CAIRN_DECLINED);
    ck_assert_uint_eq(nhandler, 1);
    ck_assert_uint_eq(fake.writes, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, PHASES_ALL " log");
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
    ck_assert_uint_eq(ncancel, 0);
}
END_TEST


/* Resumed with the value the hook would have returned: a refusal. */
START_TEST(resume_refused)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_ACCESS] = CAIRN_SUSPENDED;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    cairn_request_resume(r, 403);

    ck_assert_str_eq(trace, "post_read_request route access response");
    ck_assert_uint_eq(nhandler, 0);
    ck_assert_int_eq(fake.status, 403);
    ck_assert_str_eq(fake.body, page(403, "Forbidden", "access to this resource is denied"));
}
END_TEST


/* A RESPONSE hook suspends; resumed, the response leaves. */
START_TEST(response_suspend)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_RESPONSE] = CAIRN_SUSPENDED;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_int_eq(r->state, CAIRN__REQ_SUSPENDED);
    ck_assert_uint_eq(fake.writes, 0);

    cairn_request_resume(r, CAIRN_OK);
    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_int_eq(fake.status, 200);
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, PHASES_ALL " log");
    ck_assert_uint_eq(fake.done, 1);
}
END_TEST


/* A RESPONSE hook that fails turns the response into a 500. */
START_TEST(response_error)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_RESPONSE] = CAIRN_ERROR;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_uint_eq(nhandler, 1);
    ck_assert_int_eq(fake.status, 500);
    ck_assert_str_eq(fake.body, page(500, "Internal Server Error", "the server failed to answer this request"));
}
END_TEST


/* ------------------------------------------------------------------ */
/* 5. Cancellation                                                    */
/* ------------------------------------------------------------------ */

START_TEST(cancel_suspended)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_ACCESS] = CAIRN_SUSPENDED;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_SUSPENDED);
    ck_assert_uint_eq(ncancel, 0);

    event(r, CAIRN__EV_GONE, 0);

    ck_assert_uint_eq(ncancel, 1);
    ck_assert_ptr_eq(cancel_data_seen, &cancel_data);
    ck_assert_int_eq(r->cancelled, 1);
    ck_assert_int_eq(cairn_request_cancelled(r), 1);
    ck_assert_int_eq(r->status, 499);
    ck_assert_str_eq(trace, "post_read_request route access log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);
    ck_assert_uint_eq(fake.writes, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_DONE);

    /* A resume after the cancel is ignored; so is a second GONE. */
    cairn_request_resume(r, CAIRN_DECLINED);
    event(r, CAIRN__EV_GONE, 0);
    ck_assert_str_eq(trace, "post_read_request route access log");
    ck_assert_uint_eq(nhandler, 0);
    ck_assert_uint_eq(ncancel, 1);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_uint_eq(fake.writes, 0);
    ck_assert_uint_eq(conn.busy, 0);
}
END_TEST


/* The client leaves while the response is being written: no 499 (a
 * status was sent), LOG once, no keep-alive. */
START_TEST(cancel_sending)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_SENDING);

    event(r, CAIRN__EV_GONE, 0);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(ncancel, 0);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
}
END_TEST


/* ------------------------------------------------------------------ */
/* 6. A request body                                                  */
/* ------------------------------------------------------------------ */

START_TEST(body_then_handler)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = post_request();

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_TO_FIXUPS);
    ck_assert_uint_eq(fake.read_body, 1);
    ck_assert_int_eq(r->state, CAIRN__REQ_BODY);
    ck_assert_int_eq(r->phase, CAIRN_PHASE_HANDLER);
    ck_assert_uint_eq(nhandler, 0);
    ck_assert_uint_eq(fake.writes, 0);

    /* DRAINED and HEADERS do not apply while the body is read. */
    event(r, CAIRN__EV_DRAINED, 0);
    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_BODY);
    ck_assert_str_eq(trace, PHASES_TO_FIXUPS);

    r->body_done = 1;
    event(r, CAIRN__EV_BODY, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_uint_eq(fake.read_body, 1);
    ck_assert_uint_eq(nhandler, 1);
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
}
END_TEST


/* The body was already buffered: read_body reports EV_BODY from inside
 * itself, and the handler runs from there. */
START_TEST(body_in_read_body)
{
    cairn_request_t  *r;

    server_up("", 0);
    fake.body_in_read = 1;
    r = post_request();

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, PHASES_ALL);
    ck_assert_uint_eq(fake.read_body, 1);
    ck_assert_uint_eq(nhandler, 1);
    ck_assert_int_eq(r->state, CAIRN__REQ_SENDING);
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);
}
END_TEST


/* An answer before the handler never reads the body. */
START_TEST(body_unread_on_refusal)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_AUTHORIZE] = 401;
    r = post_request();

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_uint_eq(fake.read_body, 0);
    ck_assert_int_eq(r->body_done, 0);
    ck_assert_int_eq(fake.status, 401);
    ck_assert_str_eq(fake.body, page(401, "Unauthorized", "authentication is required to reach this resource"));
}
END_TEST


/* A declared length over LimitRequestBody: 413 from the preparation,
 * no request hook but LOG, and the connection closes. */
START_TEST(body_too_large)
{
    cairn_request_t  *r;

    server_up("LimitRequestBody 4\n", 0);
    r = post_request();

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, "");
    ck_assert_uint_eq(fake.read_body, 0);
    ck_assert_int_eq(fake.status, 413);
    ck_assert_str_eq(fake.body, page(413, "Content Too Large", "the body is over LimitRequestBody (4 bytes)"));
    ck_assert_int_eq(r->broken, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, "log");
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);
}
END_TEST


/* ------------------------------------------------------------------ */
/* 7. FAIL: the input cannot be read on                               */
/* ------------------------------------------------------------------ */

START_TEST(fail_in_headers)
{
    cairn_request_t  *r;

    server_up("", 0);

    /* A timeout half-way through the header block: no method, no target
     * yet. */
    r = cairn__request_new(&conn);
    conn.req = r;
    r->keepalive = 1;

    event(r, CAIRN__EV_FAIL, 408);

    ck_assert_str_eq(trace, "");
    ck_assert_int_eq(fake.status, 408);
    ck_assert_str_eq(fake.body, page(408, "Request Timeout", "the request did not arrive in time"));
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_int_eq(r->broken, 1);
    ck_assert_int_eq(r->keepalive, 0);
    ck_assert_ptr_eq(r->vhost, s->main_vhost);
    ck_assert_str_eq(r->method_name, "-");

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, "log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);
}
END_TEST


START_TEST(fail_in_body)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = post_request();

    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_BODY);

    event(r, CAIRN__EV_FAIL, 408);

    ck_assert_str_eq(trace, PHASES_TO_FIXUPS);
    ck_assert_uint_eq(nhandler, 0);
    ck_assert_int_eq(fake.status, 408);
    ck_assert_str_eq(fake.body, page(408, "Request Timeout", "the request did not arrive in time"));

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, PHASES_TO_FIXUPS " log");
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);
}
END_TEST


/* HTTP/1.1 without Host: 400 from the preparation. */
START_TEST(prepare_refused)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = cairn__request_new(&conn);
    r->method = CAIRN_METHOD_GET;
    r->method_name = "GET";
    r->target = cairn_arena_strdup(r->arena, "/x");
    r->keepalive = 1;

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(trace, "");
    ck_assert_int_eq(fake.status, 400);
    ck_assert_str_eq(fake.body, page(400, "Bad Request", "an HTTP/1.1 request must carry a Host header"));

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, "log");
    ck_assert_int_eq(fake.keepalive, 0);
}
END_TEST


/* ------------------------------------------------------------------ */
/* 8. Output filters                                                  */
/* ------------------------------------------------------------------ */

START_TEST(filter_upper)
{
    cairn_request_t  *r;

    server_up("", 1);
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_uint_eq(nheader_filter, 1);
    ck_assert_uint_eq(nbody_filter, 1);
    ck_assert_uint_eq(fake.writes, 1);
    ck_assert_str_eq(fake.body, "HELLO");
    ck_assert_uint_eq(fake.lasts, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(fake.done, 1);
}
END_TEST


/* DRAINED reported under the body filter: finished when the chain has
 * returned. */
START_TEST(filter_drained_in_write)
{
    cairn_request_t  *r;

    server_up("", 1);
    fake.drain_in_write = 1;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(fake.body, "HELLO");
    ck_assert_str_eq(trace, PHASES_ALL " log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_uint_eq(fake.deferred, 1);
    ck_assert_uint_eq(fake.done_nested, 0);
}
END_TEST


START_TEST(filter_declined)
{
    cairn_request_t  *r;

    server_up("", 1);
    filter_header_rc = CAIRN_DECLINED;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_uint_eq(nheader_filter, 1);
    ck_assert_uint_eq(nbody_filter, 0);
    ck_assert_str_eq(fake.body, "hello");
    ck_assert_uint_eq(fake.lasts, 1);
}
END_TEST


/* A filter that holds the buffers back and passes them with the last:
 * the whole streamed body arrives once, in one write. */
START_TEST(filter_hold)
{
    cairn_request_t  *r;
    cairn_conn_t     *c;

    server_up("", 1);
    filter_mode = F_HOLD;
    handler_mode = H_STREAM;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    /* The head left; "one" is held. */
    ck_assert_int_eq(stream_rc[0], CAIRN_OK);
    ck_assert_int_eq(stream_rc[1], CAIRN_OK);
    ck_assert_uint_eq(fake.heads, 1);
    ck_assert_uint_eq(fake.writes, 1);
    ck_assert_uint_eq(fake.body_len, 0);

    /* Later callbacks stream the rest. */
    c = r->conn;
    cairn__conn_enter(c);
    ck_assert_int_eq(cairn_response_stream_write(r, "two", 3), CAIRN_OK);
    ck_assert_uint_eq(fake.body_len, 0);
    ck_assert_int_eq(cairn_response_stream_end(r), CAIRN_OK);
    cairn__conn_leave(c);

    ck_assert_uint_eq(nbody_filter, 3);
    ck_assert_uint_eq(fake.writes, 2);
    ck_assert_str_eq(fake.body, "onetwo");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(fake.after_last, 0);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
}
END_TEST


/* HEAD: the header filter runs, the body filter does not, and no byte
 * of body is written (only the end). */
START_TEST(filter_head)
{
    cairn_request_t  *r;

    server_up("", 1);
    r = request(CAIRN_METHOD_HEAD, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_uint_eq(nhandler, 1);
    ck_assert_uint_eq(nheader_filter, 1);
    ck_assert_uint_eq(nbody_filter, 0);
    ck_assert_int_eq(r->out_header_only, 1);
    ck_assert_int_eq(fake.status, 200);
    ck_assert_int_eq(r->out_clen, 5);
    ck_assert_uint_eq(fake.writes, 1);
    ck_assert_uint_eq(fake.body_len, 0);
    ck_assert_uint_eq(fake.lasts, 1);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
}
END_TEST


/* ------------------------------------------------------------------ */
/* 9. Streaming                                                       */
/* ------------------------------------------------------------------ */

/* As response.h describes it: the handler starts the stream and
 * suspends; later callbacks write and end it. */
START_TEST(stream_later)
{
    cairn_request_t  *r;
    cairn_conn_t     *c;

    server_up("", 0);
    handler_mode = H_STREAM;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    /* RESPONSE hooks do not run: the head is gone. */
    ck_assert_str_eq(trace, PHASES_TO_FIXUPS " handler");
    ck_assert_int_eq(r->state, CAIRN__REQ_STREAMING);
    ck_assert_int_eq(stream_rc[0], CAIRN_OK);
    ck_assert_int_eq(stream_rc[1], CAIRN_OK);
    ck_assert_uint_eq(fake.heads, 1);
    ck_assert_int_eq(fake.status, 200);
    ck_assert_int_eq(r->out_clen, -1);
    ck_assert_str_eq(fake.body, "one");
    ck_assert_uint_eq(fake.lasts, 0);

    c = r->conn;
    cairn__conn_enter(c);
    ck_assert_int_eq(cairn_response_stream_start(r, 200), CAIRN_ERROR);
    ck_assert_uint_eq(cairn_response_stream_pending(r), 42);
    ck_assert_uint_eq(fake.pending, 1);
    ck_assert_int_eq(cairn_response_stream_write(r, "two", 3), CAIRN_OK);
    ck_assert_int_eq(cairn_response_stream_write(r, "", 0), CAIRN_OK);
    ck_assert_int_eq(cairn_response_stream_end(r), CAIRN_OK);
    cairn__conn_leave(c);

    ck_assert_str_eq(fake.body, "onetwo");
    ck_assert_uint_eq(fake.heads, 1);
    ck_assert_uint_eq(fake.writes, 4);
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(fake.after_last, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_SENDING);

    /* A write after the end is refused. */
    ck_assert_int_eq(cairn_response_stream_write(r, "x", 1), CAIRN_ERROR);
    ck_assert_uint_eq(fake.writes, 4);

    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_str_eq(trace, PHASES_TO_FIXUPS " handler log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 1);
}
END_TEST


/* The same, the writer reporting DRAINED at the end: finished when
 * cairn_response_stream_end() returns. */
START_TEST(stream_later_drained)
{
    cairn_request_t  *r;
    cairn_conn_t     *c;

    server_up("", 0);
    fake.drain_in_write = 1;
    handler_mode = H_STREAM;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_uint_eq(fake.done, 0);

    c = r->conn;
    cairn__conn_enter(c);
    ck_assert_int_eq(cairn_response_stream_write(r, "two", 3), CAIRN_OK);
    ck_assert_uint_eq(fake.done, 0);
    ck_assert_int_eq(cairn_response_stream_end(r), CAIRN_OK);
    cairn__conn_leave(c);

    ck_assert_str_eq(fake.body, "onetwo");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_str_eq(trace, PHASES_TO_FIXUPS " handler log");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_uint_eq(fake.deferred, 1);
    ck_assert_uint_eq(fake.done_nested, 0);
    ck_assert_int_eq(fake.keepalive, 1);
}
END_TEST


/* The client leaves while the handler streams: LOG once, no
 * keep-alive, and the stream refuses what comes after. */
START_TEST(stream_cancelled)
{
    cairn_request_t  *r;

    server_up("", 0);
    handler_mode = H_STREAM;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    event(r, CAIRN__EV_GONE, 0);

    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_int_eq(fake.keepalive, 0);

    ck_assert_int_eq(cairn_response_stream_write(r, "two", 3), CAIRN_ERROR);
    ck_assert_str_eq(fake.body, "one");
    ck_assert_uint_eq(fake.lasts, 0);
}
END_TEST


/* A request finished under its output call leaves nothing of its own
 * behind: the next request, which done() starts in the same memory as
 * HTTP/1.1 does for pipelined input, is untouched when the call
 * returns. */
START_TEST(recycled_after_done)
{
    cairn_request_t  *r;

    server_up("", 1);
    fake.drain_in_write = 1;
    fake.next_in_done = 1;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_str_eq(fake.body, "HELLO");
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_ptr_nonnull(fake.next);
    ck_assert_uint_eq(fake.next->seq, 2);
    ck_assert_int_eq(fake.next->state, CAIRN__REQ_HEADERS);
    ck_assert_int_eq(fake.next->phase, CAIRN_PHASE_POST_READ_REQUEST);
    ck_assert_uint_eq(fake.next->hook, 0);
    ck_assert_uint_eq(fake.next->out_busy, 0);
    ck_assert_int_eq(fake.next->status, 0);
}
END_TEST


/* ------------------------------------------------------------------ */
/* 10. Range                                                          */
/* ------------------------------------------------------------------ */

START_TEST(range_206)
{
    cairn_request_t  *r;

    server_up("", 0);
    handler_mode = H_RANGE;
    r = request(CAIRN_METHOD_GET, "/x");
    cairn__headers_add(r->arena, &r->headers, "Range", 5, "bytes=1-3");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_int_eq(fake.status, 206);
    ck_assert_int_eq(r->status, 206);
    ck_assert_str_eq(cairn_response_header(r, "Content-Range"),
                     "bytes 1-3/10");
    ck_assert_int_eq(r->out_clen, 3);
    ck_assert_uint_eq(fake.body_len, 3);
    ck_assert_str_eq(fake.body, "123");
    ck_assert_uint_eq(fake.lasts, 1);
}
END_TEST


START_TEST(range_416)
{
    cairn_request_t  *r;

    server_up("", 0);
    handler_mode = H_RANGE;
    r = request(CAIRN_METHOD_GET, "/x");
    cairn__headers_add(r->arena, &r->headers, "Range", 5, "bytes=20-30");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_int_eq(fake.status, 416);
    ck_assert_str_eq(cairn_response_header(r, "Content-Range"),
                     "bytes */10");
    ck_assert_str_eq(fake.body, page(416, "Range Not Satisfiable", "the range starts past the end of the body (10 bytes long)"));
    ck_assert_int_eq(r->out_clen, (int64_t) strlen(fake.body));
}
END_TEST


/* Without Accept-Ranges from the handler the Range is ignored. */
START_TEST(range_not_offered)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = request(CAIRN_METHOD_GET, "/x");
    cairn__headers_add(r->arena, &r->headers, "Range", 5, "bytes=1-3");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_int_eq(fake.status, 200);
    ck_assert_ptr_null(cairn_response_header(r, "Content-Range"));
    ck_assert_str_eq(fake.body, "hello");
}
END_TEST


/* The range is cut after the body filters. */
START_TEST(range_after_filter)
{
    cairn_request_t  *r;

    server_up("", 1);
    handler_mode = H_RANGE;
    r = request(CAIRN_METHOD_GET, "/x");
    cairn__headers_add(r->arena, &r->headers, "Range", 5, "bytes=-2");

    event(r, CAIRN__EV_HEADERS, 0);

    ck_assert_uint_eq(nbody_filter, 1);
    ck_assert_int_eq(fake.status, 206);
    ck_assert_str_eq(cairn_response_header(r, "Content-Range"),
                     "bytes 8-9/10");
    ck_assert_str_eq(fake.body, "89");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Bugs found here, now fixed                                         */
/* ------------------------------------------------------------------ */

/* GET /x through the headers event, answered by a handler that streams
 * its whole body before it returns rc. */
static cairn_request_t *
stream_sync_get(int rc)
{
    cairn_request_t  *r;

    handler_mode = H_STREAM_SYNC;
    handler_rc = rc;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);

    return r;
}


/* The stream's writer reports DRAINED: the end was sent once, and the
 * request logged and handed back once. */
static void
drained_once(cairn_request_t *r)
{
    event(r, CAIRN__EV_DRAINED, 0);
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
}


/*
 * A handler streams its whole body before it returns (start, write,
 * write, end) and returns CAIRN_SUSPENDED, as response.h tells a
 * streaming handler to.  The writer gets the pieces in order and one
 * LAST; the request is logged and handed back once DRAINED comes.  (It
 * used to be set back to SUSPENDED after cairn_response_stream_end()
 * had made it SENDING, and was never finished.)
 */
START_TEST(stream_sync)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = stream_sync_get(CAIRN_SUSPENDED);

    ck_assert_int_eq(stream_rc[0], CAIRN_OK);
    ck_assert_int_eq(stream_rc[1], CAIRN_OK);
    ck_assert_int_eq(stream_rc[2], CAIRN_OK);
    ck_assert_int_eq(stream_rc[3], CAIRN_OK);
    ck_assert_uint_eq(fake.heads, 1);
    ck_assert_str_eq(fake.body, "onetwo");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(fake.after_last, 0);

    drained_once(r);
    ck_assert_int_eq(r->state, CAIRN__REQ_DONE);
}
END_TEST


/*
 * The same with the writer reporting DRAINED at once (HTTP/1.1 does when
 * the socket takes everything): the request is finished inside
 * cairn_response_stream_end(), and done() recycles the arena and starts
 * the next pipelined request in the same memory.  The request must be
 * finished only once the handler has returned, and the next one left
 * alone.  (The pipeline used to write into the recycled request.)
 */
START_TEST(stream_sync_next)
{
    server_up("", 0);
    fake.drain_in_write = 1;
    fake.next_in_done = 1;
    stream_sync_get(CAIRN_SUSPENDED);

    ck_assert_str_eq(fake.body, "onetwo");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_uint_eq(fake.done_nested, 0);
    ck_assert_ptr_nonnull(fake.next);
    ck_assert_int_eq(fake.next->state, CAIRN__REQ_HEADERS);
    ck_assert_ptr_null(fake.next->suspended_by);
}
END_TEST


/*
 * The handler streams its whole body and returns CAIRN_OK (response.h
 * says CAIRN_SUSPENDED; nothing stops it): the stream is the answer, so
 * no RESPONSE hook runs and the end is sent once.  (The pipeline used to
 * go on to the RESPONSE hooks and send the end a second time.)
 */
START_TEST(stream_sync_ok)
{
    cairn_request_t  *r;

    server_up("", 0);
    r = stream_sync_get(CAIRN_OK);

    ck_assert_str_eq(fake.body, "onetwo");
    ck_assert_str_eq(trace, PHASES_TO_FIXUPS " handler");
    ck_assert_uint_eq(fake.lasts, 1);
    ck_assert_uint_eq(fake.after_last, 0);

    drained_once(r);
}
END_TEST


/*
 * The same with DRAINED at once and the next request started by done():
 * nothing of the recycled request may be touched.  (The pipeline used to
 * step it to ROUTE and run the router on it: a SIGSEGV.)
 */
START_TEST(stream_sync_ok_next)
{
    server_up("", 0);
    fake.drain_in_write = 1;
    fake.next_in_done = 1;
    stream_sync_get(CAIRN_OK);

    ck_assert_uint_eq(nlog, 1);
    ck_assert_uint_eq(fake.done, 1);
    ck_assert_ptr_nonnull(fake.next);
    ck_assert_int_eq(fake.next->state, CAIRN__REQ_HEADERS);
    ck_assert_int_eq(fake.next->phase, CAIRN_PHASE_POST_READ_REQUEST);
    ck_assert_uint_eq(fake.next->hook, 0);
}
END_TEST


/*
 * A RESPONSE hook suspends and is resumed with CAIRN_ERROR, the value it
 * would have returned (async.h): a 500, as for a hook that returns
 * CAIRN_ERROR.  (The resumed path used to look only at values >= 400,
 * and the 200 left unchanged.)
 */
START_TEST(response_resume_error)
{
    cairn_request_t  *r;

    server_up("", 0);
    phase_rc[CAIRN_PHASE_RESPONSE] = CAIRN_SUSPENDED;
    r = request(CAIRN_METHOD_GET, "/x");

    event(r, CAIRN__EV_HEADERS, 0);
    ck_assert_int_eq(r->state, CAIRN__REQ_SUSPENDED);

    cairn_request_resume(r, CAIRN_ERROR);

    ck_assert_int_eq(fake.status, 500);
    ck_assert_str_eq(fake.body, page(500, "Internal Server Error", "the server failed to answer this request"));
}
END_TEST


int
main(void)
{
    const unit_case_t  cases[] = {
        { "phases_in_order", phases_in_order, 0 },
        { "drained_in_write", drained_in_write, 0 },
        { "no_keepalive", no_keepalive, 0 },
        { "not_found", not_found, 0 },
        { "method_not_allowed", method_not_allowed, 0 },
        { "route_matched", route_matched, 0 },
        { "access_refused", access_refused, 0 },
        { "status_over_599", status_over_599, 0 },
        { "suspend_resume", suspend_resume, 0 },
        { "resume_refused", resume_refused, 0 },
        { "response_suspend", response_suspend, 0 },
        { "response_error", response_error, 0 },
        { "cancel_suspended", cancel_suspended, 0 },
        { "cancel_sending", cancel_sending, 0 },
        { "body_then_handler", body_then_handler, 0 },
        { "body_in_read_body", body_in_read_body, 0 },
        { "body_unread_on_refusal", body_unread_on_refusal, 0 },
        { "body_too_large", body_too_large, 0 },
        { "fail_in_headers", fail_in_headers, 0 },
        { "fail_in_body", fail_in_body, 0 },
        { "prepare_refused", prepare_refused, 0 },
        { "filter_upper", filter_upper, 0 },
        { "filter_drained_in_write", filter_drained_in_write, 0 },
        { "filter_declined", filter_declined, 0 },
        { "filter_hold", filter_hold, 0 },
        { "filter_head", filter_head, 0 },
        { "stream_later", stream_later, 0 },
        { "stream_later_drained", stream_later_drained, 0 },
        { "stream_cancelled", stream_cancelled, 0 },
        { "recycled_after_done", recycled_after_done, 0 },
        { "range_206", range_206, 0 },
        { "range_416", range_416, 0 },
        { "range_not_offered", range_not_offered, 0 },
        { "range_after_filter", range_after_filter, 0 },
        { "stream_sync", stream_sync, 0 },
        { "stream_sync_next", stream_sync_next, 0 },
        { "stream_sync_ok", stream_sync_ok, 0 },
        { "stream_sync_ok_next", stream_sync_ok_next, 0 },
        { "response_resume_error", response_resume_error, 0 },
    };

    return unit_run(unit_suite("pipeline", cases, UNIT_NCASES(cases),
                               setup, teardown));
}
