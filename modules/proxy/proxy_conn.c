/*
 * modules/proxy/proxy_conn.c: upstream connections and a request's
 * drive through them.
 *
 * A try picks a server (proxy_balance.c), takes one of its pooled
 * connections or opens a new one with a non-blocking connect(), writes
 * the request head and body, and reads the response with llhttp
 * (proxy_http.c).  The head goes to the client as soon as it is parsed
 * (cairn_response_stream_start), the body as it arrives; while more
 * than MOD_PROXY_STREAM_HIGH bytes wait for the client the upstream is
 * not read (cairn_response_stream_on_drain resumes it), so a slow
 * client holds at most that much in memory and the upstream's own
 * socket buffers do the rest.
 *
 * The request state (mod_proxy_req_t) lives in an arena of its own, not
 * in the request's: a call into the stream API can finish the request
 * when its client fails (the cancel callback then clears ctx->r), and
 * the state must outlive that to wind the upstream down.  Every entry
 * from the loop counts itself in ctx->depth; the state is freed by the
 * last one out once the request is finished.
 *
 * Failures before the head went to the client are retried on the next
 * server as ProxyNextUpstream allows (never a request whose bytes went
 * out unless its method is idempotent); a pooled connection that the
 * upstream closed before answering is retried once on a fresh one,
 * whatever the method, as it never reached the application.  After the
 * head went out a failure can only cut the response short
 * (cairn_response_stream_abort).
 *
 * A request body is streamed (ProxyRequestBuffering off): after the head
 * the body is asked from the core piece by piece (mod_proxy_body_piece),
 * the client paused while MOD_PROXY_STREAM_HIGH bytes wait for the
 * upstream; its first 64 KiB are kept so that a retry can send them
 * again, and past that a failed try is not retried.
 *
 * A 101 to a client that asked for an upgrade joins the two connections
 * (cairn_response_tunnel): the upstream's bytes go to the client as a
 * stream's, with the same back-pressure, the client's are queued for the
 * upstream, the client paused (cairn_request_body_pause) while more than
 * MOD_PROXY_STREAM_HIGH wait and resumed once under MOD_PROXY_TUNNEL_LOW,
 * until either side closes or
 * ProxyTunnelTimeout passes without a byte either way.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "proxy.h"


/* Bytes queued for the client above which the upstream is not read. */
#define MOD_PROXY_STREAM_HIGH   (64 * 1024)
#define MOD_PROXY_READ_SIZE     (16 * 1024)
/* Body pieces of the first read kept while a whole response may be in
 * it (mod_proxy_on_body). */
#define MOD_PROXY_SLICES        16
/* A tunnel's client, paused past MOD_PROXY_STREAM_HIGH bytes waiting
 * for the upstream, is resumed under this. */
#define MOD_PROXY_TUNNEL_LOW    (16 * 1024)
/* How long the client's body waits for the upstream's 100 Continue
 * before it is sent anyway (an upstream that ignores Expect). */
#define MOD_PROXY_EXPECT_MS     1000
/* How long an idle pooled connection is kept. */
#define MOD_PROXY_IDLE_MS       60000

typedef enum {
    MOD_PROXY_FAIL_CONNECT = 0,
    MOD_PROXY_FAIL_CONNECT_TIMEOUT,
    MOD_PROXY_FAIL_SEND,
    MOD_PROXY_FAIL_SEND_TIMEOUT,
    MOD_PROXY_FAIL_READ,
    MOD_PROXY_FAIL_READ_TIMEOUT,
    MOD_PROXY_FAIL_INVALID,
    MOD_PROXY_FAIL_STATUS
} mod_proxy_fail_t;

/* The metrics' names of those, in that order. */
static const char *const  mod_proxy_causes[] = {
    "connect", "timeout", "send", "timeout", "read", "timeout", "invalid",
    "status"
};

typedef struct mod_proxy_req_s  mod_proxy_req_t;

struct mod_proxy_conn_s {
    int                      fd;
    struct event            *ev_read;
    struct event            *ev_write;
    mod_proxy_server_t      *server;
    mod_proxy_conn_t        *next;      /* in server->idle */
    mod_proxy_req_t         *req;       /* NULL while idle */
    uint64_t                 idle_since_us;
    unsigned                 connecting:1;
    unsigned                 reused:1;
};

struct mod_proxy_req_s {
    cairn_arena_t           *arena;     /* this state, response headers */
    cairn_request_t         *r;         /* NULL: finished or gone */
    const mod_proxy_conf_t  *conf;
    mod_proxy_upstream_t    *up;
    mod_proxy_server_t      *server;
    mod_proxy_conn_t        *pc;
    const char              *head;
    size_t                   head_len;
    const char              *body;
    size_t                   body_len;
    size_t                   out_pos;   /* of head + body, this try */
    const char              *key;
    const char              *loc;
    unsigned char           *tried;
    int                      tries;
    int                      last_status;
    int                      retry_status;
    uint64_t                 start_us;
    uint64_t                 try_us;
    int                      depth;
    int                      sync_status;   /* failed inside the handler */
    mod_proxy_resp_t         resp;
    struct {
        const char          *at;
        size_t               len;
    }                        slices[MOD_PROXY_SLICES];
    size_t                   nslices;
    size_t                   slices_len;
    unsigned                 deferred:1;    /* head parsed, not yet sent */
    unsigned                 upgrade:1;     /* the client asked for one */
    unsigned                 tunnel:1;      /* after a 101 */
    struct evbuffer         *up_out;        /* tunnel: client to upstream */
    unsigned                 client_paused:1;   /* tunnel back-pressure */
    unsigned                 expect:1;      /* Expect: 100-continue sent */
    unsigned                 expect_go:1;   /* the body may be asked */
    struct event            *expect_timer;
    unsigned                 in_client_cb:1;
    struct evbuffer         *body_out;      /* a streamed request body */
    struct evbuffer         *body_copy;     /* its first 64 KiB, for a
                                               retry */
    unsigned                 copy_overflow:1;   /* more than that came */
    unsigned                 body_stream:1;
    unsigned                 body_chunked:1;    /* framed as chunks */
    unsigned                 body_asked:1;      /* reading it started */
    unsigned                 body_taken:1;      /* bytes came: no retry */
    unsigned                 body_in_done:1;    /* its end came */
    unsigned                 body_resent:1;     /* this try has it all */
    unsigned                 idempotent:1;
    unsigned                 sent:1;        /* bytes went out this try */
    unsigned                 streaming:1;
    unsigned                 paused:1;
    unsigned                 fresh_only:1;  /* stale retry: no pool */
    unsigned                 stale_retried:1;
    unsigned                 finished:1;
    unsigned                 in_handler:1;
};


static int mod_proxy_try(mod_proxy_req_t *ctx);
static int mod_proxy_start(mod_proxy_req_t *ctx, mod_proxy_server_t *s,
                           int *err);
static void mod_proxy_send(mod_proxy_req_t *ctx);
static void mod_proxy_read(mod_proxy_req_t *ctx);
static void mod_proxy_write_cb(evutil_socket_t fd, short what, void *arg);
static void mod_proxy_read_cb(evutil_socket_t fd, short what, void *arg);
static void mod_proxy_drain_cb(cairn_request_t *r, void *data);
static void mod_proxy_cancel_cb(cairn_request_t *r, void *data);
static int mod_proxy_on_head(mod_proxy_resp_t *p, void *data);
static int mod_proxy_on_body(mod_proxy_resp_t *p, void *data,
                             const char *at, size_t len);
static void mod_proxy_fail(mod_proxy_req_t *ctx, mod_proxy_fail_t kind,
                           int err, const char *what);
static void mod_proxy_complete(mod_proxy_req_t *ctx);
static void mod_proxy_complete_whole(mod_proxy_req_t *ctx);
static int mod_proxy_stream_head(mod_proxy_req_t *ctx);
static int mod_proxy_flush_deferred(mod_proxy_req_t *ctx);
static void mod_proxy_finish(mod_proxy_req_t *ctx, int status);
static void mod_proxy_stream_done(mod_proxy_req_t *ctx, int reuse,
                                  int aborted);
static void mod_proxy_leave(mod_proxy_req_t *ctx);
static void mod_proxy_release(mod_proxy_req_t *ctx, int reuse);
static void mod_proxy_conn_close(mod_proxy_conn_t *pc);
static void mod_proxy_emit(const char *name, const char *value, void *data);
static void mod_proxy_set_notes(mod_proxy_req_t *ctx, int status);
static void mod_proxy_tunnel_start(mod_proxy_req_t *ctx);
static void mod_proxy_tunnel_client(cairn_request_t *r, const char *data,
                                    size_t len, void *arg);
static void mod_proxy_tunnel_write(mod_proxy_req_t *ctx);
static void mod_proxy_tunnel_end(mod_proxy_req_t *ctx, const char *why,
                                 int err);
static void mod_proxy_free_out(void *data);
static void mod_proxy_send_body(mod_proxy_req_t *ctx);
static void mod_proxy_expect_cb(evutil_socket_t fd, short what, void *arg);
static void mod_proxy_expect_go(mod_proxy_req_t *ctx);
static void mod_proxy_free_event(void *data);


int
mod_proxy_run(cairn_request_t *r, const mod_proxy_conf_t *conf,
              const char *head, size_t head_len, const char *hash_key,
              int upgrade, mod_proxy_stream_t *st)
{
    mod_proxy_req_t  *ctx;
    cairn_arena_t    *a;
    cairn_method_t    m;
    int               rc;

    a = cairn_arena_create(8192);
    ctx = cairn_arena_calloc(a, sizeof(*ctx));
    ctx->arena = a;
    ctx->r = r;
    ctx->conf = conf;
    ctx->up = conf->pass->up;
    ctx->head = head;
    ctx->head_len = head_len;
    ctx->body = cairn_request_body(r, &ctx->body_len);
    ctx->key = hash_key;
    ctx->loc = cairn_request_location(r);
    ctx->tried = cairn_arena_calloc(a, ctx->up->n + 1);
    ctx->start_us = mod_proxy_now_us();
    ctx->last_status = 502;
    ctx->upgrade = upgrade ? 1 : 0;
    if (st != NULL) {
        ctx->body_stream = 1;
        ctx->body_chunked = cairn_request_header(r, "Content-Length") == NULL;
        ctx->body_out = evbuffer_new();
        if (ctx->body_out == NULL) {
            cairn_arena_destroy(a);
            return 503;
        }
        cairn_arena_cleanup_add(a, mod_proxy_free_out, ctx->body_out);
        ctx->body_copy = evbuffer_new();
        if (ctx->body_copy == NULL) {
            cairn_arena_destroy(a);
            return 503;
        }
        cairn_arena_cleanup_add(a, mod_proxy_free_out, ctx->body_copy);
        st->req = ctx;
        ctx->expect = st->expect ? 1 : 0;
    }

    m = cairn_request_method(r);
    ctx->idempotent = m == CAIRN_METHOD_GET || m == CAIRN_METHOD_HEAD
                      || m == CAIRN_METHOD_PUT || m == CAIRN_METHOD_DELETE
                      || m == CAIRN_METHOD_OPTIONS
                      || m == CAIRN_METHOD_TRACE;

    ctx->resp.on_head = mod_proxy_on_head;
    ctx->resp.on_body = mod_proxy_on_body;
    ctx->resp.data = ctx;

    ctx->depth = 1;
    ctx->in_handler = 1;
    rc = mod_proxy_try(ctx);
    ctx->in_handler = 0;
    if (rc == 0 && ctx->finished) {
        /* A pooled connection failed at once and so did the rest. */
        rc = ctx->sync_status;
    }
    if (rc != 0) {
        /* Nothing to wait for: the handler answers. */
        ctx->r = NULL;
        ctx->finished = 1;
        mod_proxy_leave(ctx);
        return rc;
    }

    cairn_request_on_cancel(r, mod_proxy_cancel_cb, ctx);
    mod_proxy_leave(ctx);

    return CAIRN_SUSPENDED;
}


void
mod_proxy_pool_close_all(mod_proxy_upstream_t *ups)
{
    mod_proxy_upstream_t  *up;
    size_t                 i;

    for (up = ups; up != NULL; up = up->next) {
        for (i = 0; i < up->n; i++) {
            while (up->servers[i]->idle != NULL) {
                mod_proxy_conn_close(up->servers[i]->idle);
            }
        }
    }
}


void
mod_proxy_pool_close_server(mod_proxy_server_t *s)
{
    mod_proxy_conn_close(s->idle);
}


/* ------------------------------------------------------------------ */
/* Tries                                                              */
/* ------------------------------------------------------------------ */

/*
 * Starts the next try.  Returns 0 when one is under way, else the
 * status to answer (every server tried or down, the tries or the time
 * for them used up).
 */
static int
mod_proxy_try(mod_proxy_req_t *ctx)
{
    const mod_proxy_conf_t  *conf = ctx->conf;
    mod_proxy_server_t      *s;
    int                      err;

    for ( ;; ) {
        if (ctx->fresh_only) {
            s = ctx->server;
        } else {
            if (ctx->tries > 0
                && ((conf->next_tries > 0 && ctx->tries >= conf->next_tries)
                    || (conf->next_timeout_ms > 0
                        && mod_proxy_now_us() - ctx->start_us
                           >= (uint64_t) conf->next_timeout_ms * 1000)))
            {
                return ctx->last_status;
            }
            s = mod_proxy_pick(ctx->up, ctx->tried, ctx->key);
            if (s == NULL) {
                if (ctx->tries == 0) {
                    cairn_log_error(ctx->r, 0, "upstream \"%s\": no live "
                                    "server to send the request to",
                                    ctx->up->name);
                }
                return ctx->last_status;
            }
            ctx->tried[s->idx] = 1;
            ctx->tries++;
        }

        ctx->server = s;
        ctx->sent = 0;
        ctx->out_pos = 0;
        ctx->body_resent = 0;
        ctx->retry_status = 0;
        ctx->deferred = 0;
        ctx->try_us = mod_proxy_now_us();
        mod_proxy_resp_init(&ctx->resp, ctx->arena,
                            cairn_request_method(ctx->r)
                            == CAIRN_METHOD_HEAD);
        ctx->resp.allow_upgrade = ctx->upgrade;

        if (mod_proxy_start(ctx, s, &err) == 0) {
            return 0;
        }

        /* connect() failed at once (a refused loopback port does). */
        ctx->fresh_only = 0;
        cairn_log_error(ctx->r, err, "upstream %s: connect() failed",
                        s->name);
        mod_proxy_server_failed(s, "connect");
        ctx->last_status = 502;
        if (!(conf->next_upstream & MOD_PROXY_NEXT_ERROR)) {
            return 502;
        }
    }
}


/*
 * Gives ctx a connection to s: a pooled one (sending at once) or a new
 * one being connected.  Returns 0, or -1 with *err when connect()
 * failed at once.
 */
static int
mod_proxy_start(mod_proxy_req_t *ctx, mod_proxy_server_t *s, int *err)
{
    struct event_base  *base = cairn_event_base();
    mod_proxy_conn_t   *pc;
    int                 fd;

    if (!ctx->fresh_only && s->idle != NULL) {
        pc = s->idle;
        s->idle = pc->next;
        s->nidle--;
        s->up->nidle--;
        pc->next = NULL;
        /* Its read event stays armed (only the timeout changes when
         * the request is sent): two epoll_ctl() calls fewer a request. */
        pc->reused = 1;
        pc->req = ctx;
        ctx->pc = pc;
        s->active++;
        mod_proxy_metric_conns(s, 1, -1);
        mod_proxy_send(ctx);
        return 0;
    }
    ctx->fresh_only = 0;

    fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }

    if (connect(fd, (struct sockaddr *) &s->addr, s->addrlen) != 0
        && errno != EINPROGRESS)
    {
        *err = errno;
        close(fd);
        return -1;
    }

    pc = calloc(1, sizeof(*pc));
    if (pc == NULL) {
        *err = ENOMEM;
        close(fd);
        return -1;
    }
    pc->fd = fd;
    pc->server = s;
    pc->req = ctx;
    pc->connecting = 1;
    pc->ev_read = event_new(base, fd, EV_READ | EV_PERSIST,
                            mod_proxy_read_cb, pc);
    pc->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST,
                             mod_proxy_write_cb, pc);
    if (pc->ev_read == NULL || pc->ev_write == NULL) {
        if (pc->ev_read != NULL) {
            event_free(pc->ev_read);
        }
        if (pc->ev_write != NULL) {
            event_free(pc->ev_write);
        }
        free(pc);
        close(fd);
        *err = ENOMEM;
        return -1;
    }
    ctx->pc = pc;
    s->active++;
    mod_proxy_metric_conns(s, 1, 0);

    {
        struct timeval  tv;

        tv.tv_sec = ctx->conf->connect_timeout_ms / 1000;
        tv.tv_usec = (ctx->conf->connect_timeout_ms % 1000) * 1000;
        event_add(pc->ev_write, &tv);
    }

    return 0;
}


/* Writes what is left of the head and body; then reads. */
static void
mod_proxy_send(mod_proxy_req_t *ctx)
{
    mod_proxy_conn_t  *pc = ctx->pc;
    struct iovec       iov[2];
    struct timeval     tv;
    ssize_t            n;
    size_t             total = ctx->head_len + ctx->body_len;
    int                cnt;

    while (ctx->out_pos < total) {
        cnt = 0;
        if (ctx->out_pos < ctx->head_len) {
            iov[cnt].iov_base = (char *) ctx->head + ctx->out_pos;
            iov[cnt].iov_len = ctx->head_len - ctx->out_pos;
            cnt++;
            if (ctx->body_len > 0) {
                iov[cnt].iov_base = (char *) ctx->body;
                iov[cnt].iov_len = ctx->body_len;
                cnt++;
            }
        } else {
            iov[cnt].iov_base = (char *) ctx->body
                                + (ctx->out_pos - ctx->head_len);
            iov[cnt].iov_len = total - ctx->out_pos;
            cnt++;
        }

        n = writev(pc->fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                tv.tv_sec = ctx->conf->send_timeout_ms / 1000;
                tv.tv_usec = (ctx->conf->send_timeout_ms % 1000) * 1000;
                event_add(pc->ev_write, &tv);
                return;
            }
            mod_proxy_fail(ctx, MOD_PROXY_FAIL_SEND, errno,
                           "sending the request");
            return;
        }
        ctx->sent = 1;
        ctx->out_pos += (size_t) n;
    }

    if (ctx->body_stream) {
        mod_proxy_send_body(ctx);
        return;
    }

    event_del(pc->ev_write);
    tv.tv_sec = ctx->conf->read_timeout_ms / 1000;
    tv.tv_usec = (ctx->conf->read_timeout_ms % 1000) * 1000;
    event_add(pc->ev_read, &tv);
}


/*
 * The head is out: the client's body follows as it comes (the first
 * call asks the core for it, which sends 100 Continue if the client
 * waits for one).  The upstream may answer meanwhile (read without a
 * timeout until the body is out); the read timeout starts after it.
 */
static void
mod_proxy_send_body(mod_proxy_req_t *ctx)
{
    mod_proxy_conn_t  *pc = ctx->pc;
    struct timeval     tv;
    int                n;

    if (!ctx->body_in_done) {
        /* No read timeout while the client still sends. */
        event_add(pc->ev_read, NULL);
    }
    if (ctx->out_pos == ctx->head_len + ctx->body_len && ctx->body_taken
        && !ctx->body_resent)
    {
        /* A new try: what the client sent so far (all of it in the
         * copy, or the try would not be made) goes again. */
        ctx->body_resent = 1;
        evbuffer_drain(ctx->body_out, evbuffer_get_length(ctx->body_out));
        evbuffer_add(ctx->body_out, evbuffer_pullup(ctx->body_copy, -1),
                     evbuffer_get_length(ctx->body_copy));
    }
    if (!ctx->body_asked && ctx->expect && !ctx->expect_go) {
        /* Expect: 100-continue went upstream: the client is asked for
         * its body once the upstream says 100 (mod_proxy_read), or
         * after MOD_PROXY_EXPECT_MS without an answer; a final answer
         * before that goes to the client, whose body is never read. */
        event_del(pc->ev_write);
        if (ctx->expect_timer == NULL) {
            ctx->expect_timer = evtimer_new(cairn_event_base(),
                                            mod_proxy_expect_cb, ctx);
            if (ctx->expect_timer == NULL) {
                ctx->expect_go = 1;
                goto ask;
            }
            cairn_arena_cleanup_add(ctx->arena, mod_proxy_free_event,
                                    ctx->expect_timer);
            tv.tv_sec = MOD_PROXY_EXPECT_MS / 1000;
            tv.tv_usec = (MOD_PROXY_EXPECT_MS % 1000) * 1000;
            evtimer_add(ctx->expect_timer, &tv);
        }
        return;
    }
ask:
    if (!ctx->body_asked) {
        ctx->body_asked = 1;
        ctx->body_resent = 1;
        /* Pieces already read come at once (mod_proxy_body_piece). */
        cairn_request_body_resume(ctx->r);
        if (ctx->r == NULL || ctx->pc == NULL) {
            return;
        }
    }

    while (evbuffer_get_length(ctx->body_out) > 0) {
        n = evbuffer_write(ctx->body_out, pc->fd);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                tv.tv_sec = ctx->conf->send_timeout_ms / 1000;
                tv.tv_usec = (ctx->conf->send_timeout_ms % 1000) * 1000;
                event_add(pc->ev_write, &tv);
                return;
            }
            mod_proxy_fail(ctx, MOD_PROXY_FAIL_SEND, errno,
                           "sending the request body");
            return;
        }
    }

    event_del(pc->ev_write);

    if (ctx->body_in_done) {
        tv.tv_sec = ctx->conf->read_timeout_ms / 1000;
        tv.tv_usec = (ctx->conf->read_timeout_ms % 1000) * 1000;
        event_add(pc->ev_read, &tv);
        return;
    }

    /* All taken: more from the client. */
    cairn_request_body_resume(ctx->r);
}


/*
 * A piece of the client's body (NULL: its end), inside the core's
 * parser: queued for the upstream (chunk-framed when the client sent no
 * length), the client paused past MOD_PROXY_STREAM_HIGH, and the write
 * left to the loop.
 */
void
mod_proxy_body_piece(cairn_request_t *r, const char *data, size_t len,
                     void *arg)
{
    mod_proxy_stream_t  *st = arg;
    mod_proxy_req_t     *ctx = st->req;
    size_t               before, added, n;

    if (ctx == NULL || ctx->finished || (data != NULL && len == 0)) {
        return;
    }

    before = evbuffer_get_length(ctx->body_out);
    if (data == NULL) {
        if (ctx->body_chunked) {
            evbuffer_add(ctx->body_out, "0\r\n\r\n", 5);
        }
        ctx->body_in_done = 1;
    } else if (len > 0) {
        if (ctx->body_chunked) {
            evbuffer_add_printf(ctx->body_out, "%zx\r\n", len);
            evbuffer_add(ctx->body_out, data, len);
            evbuffer_add(ctx->body_out, "\r\n", 2);
        } else {
            evbuffer_add(ctx->body_out, data, len);
        }
        if (evbuffer_get_length(ctx->body_out) > MOD_PROXY_STREAM_HIGH) {
            cairn_request_body_pause(r);
        }
    }
    ctx->body_taken = 1;

    /* The first 64 KiB are kept: a retry can send them again. */
    added = evbuffer_get_length(ctx->body_out) - before;
    if (!ctx->copy_overflow) {
        if (evbuffer_get_length(ctx->body_copy) + added
            > MOD_PROXY_STREAM_HIGH)
        {
            ctx->copy_overflow = 1;
            evbuffer_drain(ctx->body_copy,
                           evbuffer_get_length(ctx->body_copy));
        } else {
            n = evbuffer_get_length(ctx->body_out);
            evbuffer_add(ctx->body_copy,
                         (char *) evbuffer_pullup(ctx->body_out, -1)
                         + (n - added), added);
        }
    }

    if (ctx->pc != NULL && !ctx->pc->connecting
        && ctx->out_pos >= ctx->head_len)
    {
        event_active(ctx->pc->ev_write, EV_WRITE, 0);
    }
}


/* No 100 from the upstream in time: the client sends its body anyway. */
static void
mod_proxy_expect_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_req_t  *ctx = arg;

    (void) fd;
    (void) what;

    if (ctx->expect_go || ctx->finished) {
        return;
    }
    ctx->depth++;
    mod_proxy_expect_go(ctx);
    mod_proxy_leave(ctx);
}


/* The body may go: asked from the client when the head is out. */
static void
mod_proxy_expect_go(mod_proxy_req_t *ctx)
{
    ctx->expect_go = 1;
    if (ctx->expect_timer != NULL) {
        evtimer_del(ctx->expect_timer);
    }
    if (ctx->r != NULL && ctx->pc != NULL && !ctx->pc->connecting
        && ctx->out_pos >= ctx->head_len)
    {
        mod_proxy_send_body(ctx);
    }
}


static void
mod_proxy_free_event(void *data)
{
    event_free(data);
}


static void
mod_proxy_write_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_conn_t  *pc = arg;
    mod_proxy_req_t   *ctx = pc->req;
    socklen_t          len;
    int                err;

    if (ctx == NULL) {
        event_del(pc->ev_write);
        return;
    }
    ctx->depth++;

    if (pc->connecting) {
        if (what & EV_TIMEOUT) {
            mod_proxy_fail(ctx, MOD_PROXY_FAIL_CONNECT_TIMEOUT, 0,
                           "connecting");
            goto out;
        }
        err = 0;
        len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err != 0) {
            mod_proxy_fail(ctx, MOD_PROXY_FAIL_CONNECT, err, "connecting");
            goto out;
        }
        pc->connecting = 0;
    } else if (ctx->tunnel) {
        if (what & EV_TIMEOUT) {
            mod_proxy_tunnel_end(ctx, "the upstream took nothing for "
                                 "ProxyTunnelTimeout", 0);
        } else {
            mod_proxy_tunnel_write(ctx);
        }
        goto out;
    } else if (what & EV_TIMEOUT) {
        mod_proxy_fail(ctx, MOD_PROXY_FAIL_SEND_TIMEOUT, 0,
                       "sending the request");
        goto out;
    }

    mod_proxy_send(ctx);

out:
    mod_proxy_leave(ctx);
}


static void
mod_proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_conn_t  *pc = arg;
    mod_proxy_req_t   *ctx = pc->req;

    (void) fd;

    if (ctx == NULL) {
        /* Idle in the pool: the upstream closed it, sent something it
         * should not have, or it stayed unused too long. */
        mod_proxy_conn_close(pc);
        return;
    }
    ctx->depth++;

    if ((what & EV_TIMEOUT) && ctx->tunnel) {
        mod_proxy_tunnel_end(ctx, "idle for ProxyTunnelTimeout", 0);
    } else if (what & EV_TIMEOUT) {
        mod_proxy_fail(ctx, MOD_PROXY_FAIL_READ_TIMEOUT, 0,
                       "reading the response");
    } else {
        mod_proxy_read(ctx);
    }

    mod_proxy_leave(ctx);
}


/* Reads once from the upstream and parses what came. */
static void
mod_proxy_read(mod_proxy_req_t *ctx)
{
    mod_proxy_conn_t  *pc = ctx->pc;
    char               buf[MOD_PROXY_READ_SIZE];
    ssize_t            n;
    int                rc, err;

    n = recv(pc->fd, buf, sizeof(buf), 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        err = errno;
        if (ctx->tunnel) {
            mod_proxy_tunnel_end(ctx, "the upstream failed", err);
            return;
        }
        mod_proxy_fail(ctx, MOD_PROXY_FAIL_READ, err, "reading the response");
        return;
    }

    if (ctx->tunnel) {
        /* Another protocol: the bytes go over as they are. */
        if (n == 0) {
            mod_proxy_tunnel_end(ctx, NULL, 0);
            return;
        }
        if (cairn_response_stream_write(ctx->r, buf, (size_t) n)
            != CAIRN_OK || ctx->r == NULL)
        {
            return;
        }
        goto pressure;
    }

    rc = mod_proxy_resp_feed(&ctx->resp, buf, (size_t) n);

    if (ctx->r == NULL) {
        /* The client went away under a write (the cancel callback
         * ran). */
        return;
    }

    if (rc == 0 && ctx->resp.got_continue && ctx->expect && !ctx->expect_go
        && !ctx->resp.headers_done)
    {
        /* The upstream's 100: now the client's body (the core sends
         * the client its 100 Continue). */
        mod_proxy_expect_go(ctx);
        if (ctx->r == NULL || ctx->pc != pc) {
            return;
        }
    }

    if (rc != 0) {
        ctx->deferred = 0;
        if (ctx->retry_status != 0) {
            mod_proxy_fail(ctx, MOD_PROXY_FAIL_STATUS, 0, NULL);
        } else if (n == 0 && !ctx->resp.got_bytes) {
            mod_proxy_fail(ctx, MOD_PROXY_FAIL_READ, 0, ctx->resp.error);
        } else {
            mod_proxy_fail(ctx, ctx->streaming || n == 0
                           ? MOD_PROXY_FAIL_READ : MOD_PROXY_FAIL_INVALID,
                           0, ctx->resp.error);
        }
        return;
    }

    if (ctx->deferred) {
        if (ctx->resp.complete) {
            mod_proxy_complete_whole(ctx);
            return;
        }
        if (mod_proxy_flush_deferred(ctx) != 0) {
            return;
        }
    }

    if (ctx->resp.upgraded && ctx->tunnel) {
        mod_proxy_tunnel_start(ctx);
        return;
    }

    if (ctx->resp.complete) {
        mod_proxy_complete(ctx);
        return;
    }

pressure:

    if (ctx->streaming
        && cairn_response_stream_pending(ctx->r) > MOD_PROXY_STREAM_HIGH)
    {
        /* Back-pressure: read on when the client has taken it. */
        if (cairn_response_stream_on_drain(ctx->r, mod_proxy_drain_cb, ctx)
            == CAIRN_OK)
        {
            event_del(pc->ev_read);
            ctx->paused = 1;
        }
    }
}


static void
mod_proxy_drain_cb(cairn_request_t *r, void *data)
{
    mod_proxy_req_t  *ctx = data;
    struct timeval    tv;
    int64_t           ms;

    (void) r;

    if (!ctx->paused || ctx->pc == NULL) {
        return;
    }
    ctx->depth++;
    ctx->paused = 0;
    ms = ctx->tunnel ? ctx->conf->tunnel_timeout_ms
                     : ctx->conf->read_timeout_ms;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    event_add(ctx->pc->ev_read, &tv);
    /* What the upstream sent meanwhile is read now, not on the next
     * turn of the loop. */
    mod_proxy_read(ctx);
    mod_proxy_leave(ctx);
}


/* The client left: the upstream connection goes too (its response is
 * unfinished, so it cannot be reused). */
static void
mod_proxy_cancel_cb(cairn_request_t *r, void *data)
{
    mod_proxy_req_t  *ctx = data;

    (void) r;

    ctx->r = NULL;
    ctx->finished = 1;
    mod_proxy_release(ctx, 0);
    ctx->depth++;
    mod_proxy_leave(ctx);
}


/* ------------------------------------------------------------------ */
/* The response                                                       */
/* ------------------------------------------------------------------ */

static int
mod_proxy_on_head(mod_proxy_resp_t *p, void *data)
{
    mod_proxy_req_t  *ctx = data;
    int               st = p->status, bit;

    bit = st == 502 ? MOD_PROXY_NEXT_502 : st == 503 ? MOD_PROXY_NEXT_503
          : st == 504 ? MOD_PROXY_NEXT_504 : 0;
    if (bit != 0 && (ctx->conf->next_upstream & bit)
        && !(ctx->conf->next_upstream & MOD_PROXY_NEXT_OFF)
        && (ctx->idempotent || !ctx->sent))
    {
        ctx->retry_status = st;
        return -1;
    }

    if (p->upgraded) {
        /* 101: the head goes out with the Upgrade the upstream chose;
         * the connection is a tunnel from now on. */
        const char  *proto = mod_proxy_resp_header(p, "Upgrade");

        mod_proxy_resp_headers(p, &ctx->conf->hide_headers,
                               ctx->conf->reverse, ctx->loc,
                               cairn_request_arena(ctx->r), mod_proxy_emit,
                               ctx->r);
        if (proto != NULL) {
            cairn_response_header_add(ctx->r, "Upgrade", proto);
        }
        ctx->streaming = 1;
        ctx->tunnel = 1;
        ctx->up_out = evbuffer_new();
        if (ctx->up_out == NULL) {
            return -1;
        }
        cairn_arena_cleanup_add(ctx->arena, mod_proxy_free_out,
                                ctx->up_out);
        if (cairn_response_tunnel(ctx->r, 101, mod_proxy_tunnel_client, ctx)
            != CAIRN_OK || ctx->r == NULL)
        {
            return -1;
        }
        return 0;
    }

    if (!p->head_only && st != 204 && st != 304) {
        /* Held back until the end of this read: a small response that
         * is all in it goes out as one memory body, head and body in
         * one write (mod_proxy_read). */
        ctx->deferred = 1;
        ctx->nslices = 0;
        ctx->slices_len = 0;
        return 0;
    }

    return mod_proxy_stream_head(ctx);
}


/* The head goes to the client: the response is streamed from now on. */
static int
mod_proxy_stream_head(mod_proxy_req_t *ctx)
{
    cairn_request_t  *r = ctx->r;

    mod_proxy_resp_headers(&ctx->resp, &ctx->conf->hide_headers,
                           ctx->conf->reverse, ctx->loc,
                           cairn_request_arena(r), mod_proxy_emit, r);
    ctx->streaming = 1;
    if (cairn_response_stream_start(r, ctx->resp.status) != CAIRN_OK
        || ctx->r == NULL)
    {
        return -1;
    }

    return 0;
}


/* The response is larger than one read: stream what was held back. */
static int
mod_proxy_flush_deferred(mod_proxy_req_t *ctx)
{
    size_t  i;

    ctx->deferred = 0;
    if (mod_proxy_stream_head(ctx) != 0) {
        return -1;
    }
    for (i = 0; i < ctx->nslices; i++) {
        if (cairn_response_stream_write(ctx->r, ctx->slices[i].at,
                                        ctx->slices[i].len) != CAIRN_OK
            || ctx->r == NULL)
        {
            return -1;
        }
    }
    ctx->nslices = 0;

    return 0;
}


static int
mod_proxy_on_body(mod_proxy_resp_t *p, void *data, const char *at,
                  size_t len)
{
    mod_proxy_req_t  *ctx = data;

    (void) p;

    if (ctx->deferred) {
        if (ctx->nslices < MOD_PROXY_SLICES) {
            /* at points into mod_proxy_read()'s buffer, alive until
             * the held-back response is sent. */
            ctx->slices[ctx->nslices].at = at;
            ctx->slices[ctx->nslices].len = len;
            ctx->nslices++;
            ctx->slices_len += len;
            return 0;
        }
        if (mod_proxy_flush_deferred(ctx) != 0) {
            return -1;
        }
    }

    if (ctx->r == NULL
        || cairn_response_stream_write(ctx->r, at, len) != CAIRN_OK
        || ctx->r == NULL)
    {
        return -1;
    }

    return 0;
}


static void
mod_proxy_emit(const char *name, const char *value, void *data)
{
    cairn_response_header_add(data, name, value);
}


/* Writes v in decimal backwards, ending at end; returns the start. */
static char *
mod_proxy_utoa(char *end, uint64_t v)
{
    do {
        *--end = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    return end;
}


/*
 * The notes mod_log reads: upstream_addr, upstream_time (seconds with
 * milliseconds), upstream_ms and, with status > 0, upstream_status.
 * Formatted by hand into one arena piece: this runs for every request.
 */
static void
mod_proxy_set_notes(mod_proxy_req_t *ctx, int status)
{
    cairn_request_t  *r = ctx->r;
    uint64_t          us = mod_proxy_now_us() - ctx->try_us;
    uint64_t          ms = us / 1000;
    char             *buf, *end, *p;

    /* Three numbers of at most 20 digits, a dot, three NULs. */
    buf = cairn_arena_alloc(cairn_request_arena(r), 3 * 24);

    end = buf + 24;
    *--end = '\0';
    *--end = (char) ('0' + ms % 10);
    *--end = (char) ('0' + ms / 10 % 10);
    *--end = (char) ('0' + ms / 100 % 10);
    *--end = '.';
    p = mod_proxy_utoa(end, ms / 1000);

    cairn_request_set_note(r, "upstream_addr", ctx->server->name);
    cairn_request_set_note(r, "upstream_time", p);

    end = buf + 48;
    *--end = '\0';
    cairn_request_set_note(r, "upstream_ms", mod_proxy_utoa(end, ms));

    if (status > 0) {
        end = buf + 72;
        *--end = '\0';
        cairn_request_set_note(r, "upstream_status",
                               mod_proxy_utoa(end, (uint64_t) status));
    }
}


/* The whole response went to the client's queue. */
static void
mod_proxy_complete(mod_proxy_req_t *ctx)
{
    mod_proxy_server_ok(ctx->server);
    mod_proxy_metric_response(ctx->server, ctx->resp.status,
                              mod_proxy_now_us() - ctx->try_us);
    mod_proxy_set_notes(ctx, ctx->resp.status);
    mod_proxy_stream_done(ctx, ctx->resp.keepalive
                               && (!ctx->body_stream || ctx->body_in_done),
                          0);
}


/* ------------------------------------------------------------------ */
/* Tunnels (101 Switching Protocols)                                   */
/* ------------------------------------------------------------------ */

/* The 101 is out: what came behind it goes to the client, then both
 * directions run until either side closes or ProxyTunnelTimeout. */
static void
mod_proxy_tunnel_start(mod_proxy_req_t *ctx)
{
    struct timeval  tv;

    mod_proxy_set_notes(ctx, 101);
    mod_proxy_server_ok(ctx->server);

    if (ctx->resp.rest_len > 0
        && (cairn_response_stream_write(ctx->r, ctx->resp.rest,
                                        ctx->resp.rest_len) != CAIRN_OK
            || ctx->r == NULL))
    {
        return;
    }

    tv.tv_sec = ctx->conf->tunnel_timeout_ms / 1000;
    tv.tv_usec = (ctx->conf->tunnel_timeout_ms % 1000) * 1000;
    event_add(ctx->pc->ev_read, &tv);
}


/* Bytes from the client: queued for the upstream (bounded). */
static void
mod_proxy_tunnel_client(cairn_request_t *r, const char *data, size_t len,
                        void *arg)
{
    mod_proxy_req_t  *ctx = arg;
    struct timeval    tv;

    (void) r;

    if (ctx->pc == NULL || ctx->r == NULL) {
        return;
    }
    ctx->depth++;

    evbuffer_add(ctx->up_out, data, len);

    /* Activity either way keeps the tunnel alive. */
    tv.tv_sec = ctx->conf->tunnel_timeout_ms / 1000;
    tv.tv_usec = (ctx->conf->tunnel_timeout_ms % 1000) * 1000;
    if (!ctx->paused) {
        event_add(ctx->pc->ev_read, &tv);
    }
    ctx->in_client_cb = 1;
    mod_proxy_tunnel_write(ctx);
    ctx->in_client_cb = 0;

    if (ctx->r != NULL && ctx->pc != NULL
        && evbuffer_get_length(ctx->up_out) > MOD_PROXY_STREAM_HIGH)
    {
        /* Back-pressure: the client waits until the upstream takes
         * what is queued (mod_proxy_tunnel_write resumes it). */
        ctx->client_paused = 1;
        cairn_request_body_pause(ctx->r);
    }

    mod_proxy_leave(ctx);
}


static void
mod_proxy_tunnel_write(mod_proxy_req_t *ctx)
{
    mod_proxy_conn_t  *pc = ctx->pc;
    struct timeval     tv;
    int                n;

    while (evbuffer_get_length(ctx->up_out) > 0) {
        n = evbuffer_write(ctx->up_out, pc->fd);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                tv.tv_sec = ctx->conf->tunnel_timeout_ms / 1000;
                tv.tv_usec = (ctx->conf->tunnel_timeout_ms % 1000) * 1000;
                event_add(pc->ev_write, &tv);
                goto pressure;
            }
            mod_proxy_tunnel_end(ctx, "writing to the upstream failed",
                                 errno);
            return;
        }
    }
    event_del(pc->ev_write);

pressure:

    if (ctx->client_paused && !ctx->in_client_cb && ctx->r != NULL
        && evbuffer_get_length(ctx->up_out) <= MOD_PROXY_TUNNEL_LOW)
    {
        /* What the client sent meanwhile comes now (it may pause the
         * client again). */
        ctx->client_paused = 0;
        cairn_request_body_resume(ctx->r);
    }
}


/* Either side is done (why: NULL for an orderly close). */
static void
mod_proxy_tunnel_end(mod_proxy_req_t *ctx, const char *why, int err)
{
    cairn_request_t  *r = ctx->r;

    if (why != NULL) {
        cairn_log(r, CAIRN_LOG_INFO, err, "upstream %s: tunnel closed: %s",
                  ctx->server->name, why);
    }
    mod_proxy_stream_done(ctx, 0, 0);
}


static void
mod_proxy_free_out(void *data)
{
    evbuffer_free(data);
}


/*
 * The whole response came in one read: answered as a memory body (the
 * head and the body leave in one write, with a Content-Length), through
 * the RESPONSE hooks like any handler's answer.
 */
static void
mod_proxy_complete_whole(mod_proxy_req_t *ctx)
{
    cairn_request_t  *r = ctx->r;
    char             *body, *p;
    size_t            i;

    ctx->deferred = 0;
    mod_proxy_resp_headers(&ctx->resp, &ctx->conf->hide_headers,
                           ctx->conf->reverse, ctx->loc,
                           cairn_request_arena(r), mod_proxy_emit, r);
    /* The length is the core's to write, from the body. */
    cairn_response_header_unset(r, "Content-Length");

    body = cairn_arena_alloc(cairn_request_arena(r), ctx->slices_len + 1);
    for (p = body, i = 0; i < ctx->nslices; i++) {
        memcpy(p, ctx->slices[i].at, ctx->slices[i].len);
        p += ctx->slices[i].len;
    }

    mod_proxy_server_ok(ctx->server);
    mod_proxy_metric_response(ctx->server, ctx->resp.status,
                              mod_proxy_now_us() - ctx->try_us);
    mod_proxy_set_notes(ctx, ctx->resp.status);
    mod_proxy_release(ctx, ctx->resp.keepalive
                           && (!ctx->body_stream || ctx->body_in_done));

    ctx->r = NULL;
    ctx->finished = 1;
    cairn_respond(r, ctx->resp.status, NULL, body, ctx->slices_len);
    cairn_request_resume(r, CAIRN_OK);
}


/*
 * A try failed.  Logged with the server and the cause; then the next
 * try, or the answer (502, 504), or, after the head went out, the
 * response cut short.
 */
static void
mod_proxy_fail(mod_proxy_req_t *ctx, mod_proxy_fail_t kind, int err,
               const char *what)
{
    const mod_proxy_conf_t  *conf = ctx->conf;
    mod_proxy_server_t      *s = ctx->server;
    cairn_request_t         *r = ctx->r;
    int                      stale, bit, status, rc;

    stale = ctx->pc != NULL && ctx->pc->reused && !ctx->resp.got_bytes
            && !ctx->stale_retried
            && (!ctx->body_taken || !ctx->copy_overflow)
            && (kind == MOD_PROXY_FAIL_SEND || kind == MOD_PROXY_FAIL_READ);

    mod_proxy_release(ctx, 0);

    if (stale) {
        /* The upstream closed a pooled connection as we reused it: the
         * request never reached the application. */
        cairn_log_info(r, "upstream %s: a kept-alive connection was "
                       "closed (%s); retrying on a new one", s->name,
                       err != 0 ? strerror(err) : "end of file");
        ctx->stale_retried = 1;
        ctx->fresh_only = 1;
        goto next;
    }

    switch (kind) {
    case MOD_PROXY_FAIL_CONNECT_TIMEOUT:
    case MOD_PROXY_FAIL_SEND_TIMEOUT:
    case MOD_PROXY_FAIL_READ_TIMEOUT:
        status = 504;
        bit = MOD_PROXY_NEXT_TIMEOUT;
        cairn_log_error(r, 0, "upstream %s timed out (%lld ms) %s",
                        s->name, (long long)
                        (kind == MOD_PROXY_FAIL_CONNECT_TIMEOUT
                         ? conf->connect_timeout_ms
                         : kind == MOD_PROXY_FAIL_SEND_TIMEOUT
                         ? conf->send_timeout_ms : conf->read_timeout_ms),
                        what);
        break;
    case MOD_PROXY_FAIL_STATUS:
        status = ctx->retry_status;
        bit = status == 502 ? MOD_PROXY_NEXT_502
              : status == 503 ? MOD_PROXY_NEXT_503 : MOD_PROXY_NEXT_504;
        cairn_log_warn(r, 0, "upstream %s answered %d: trying the next "
                       "server", s->name, status);
        break;
    default:
        status = 502;
        bit = MOD_PROXY_NEXT_ERROR;
        if (kind == MOD_PROXY_FAIL_CONNECT) {
            cairn_log_error(r, err, "upstream %s: connect() failed",
                            s->name);
        } else if (err != 0) {
            cairn_log_error(r, err, "upstream %s: failed while %s",
                            s->name, what);
        } else {
            cairn_log_error(r, 0, "upstream %s: %s", s->name,
                            what != NULL ? what : "invalid response");
        }
        break;
    }

    mod_proxy_set_notes(ctx, 0);
    mod_proxy_server_failed(s, mod_proxy_causes[kind]);
    if (kind == MOD_PROXY_FAIL_STATUS) {
        mod_proxy_metric_response(s, status, mod_proxy_now_us() - ctx->try_us);
    }
    ctx->last_status = status;

    if (ctx->streaming) {
        /* The head is gone: nothing to retry, only to cut short. */
        mod_proxy_stream_done(ctx, 0, 1);
        return;
    }

    if (!(conf->next_upstream & bit) || (conf->next_upstream
                                         & MOD_PROXY_NEXT_OFF)
        || (ctx->sent && !ctx->idempotent)
        || (ctx->body_taken && ctx->copy_overflow))
    {
        mod_proxy_finish(ctx, status);
        return;
    }

next:

    rc = mod_proxy_try(ctx);
    if (rc != 0) {
        mod_proxy_finish(ctx, rc);
    }
}


/*
 * Ends a request whose head went to the client: the connection goes
 * back to the pool (reuse) or is closed, the request is finished, and
 * its stream ends (cut short when aborted: the client sees a truncated
 * response).  ctx->r is cleared first, as the stream call may run the
 * core's cleanups.
 */
static void
mod_proxy_stream_done(mod_proxy_req_t *ctx, int reuse, int aborted)
{
    cairn_request_t  *r = ctx->r;

    mod_proxy_release(ctx, reuse);
    ctx->r = NULL;
    ctx->finished = 1;
    if (r == NULL) {
        return;
    }
    cairn_request_on_cancel(r, NULL, NULL);
    if (aborted) {
        cairn_response_stream_abort(r);
    } else {
        cairn_response_stream_end(r);
    }
}


/* Answers the suspended request with status (no head went out). */
static void
mod_proxy_finish(mod_proxy_req_t *ctx, int status)
{
    cairn_request_t  *r = ctx->r;

    mod_proxy_release(ctx, 0);
    ctx->r = NULL;
    ctx->finished = 1;
    if (ctx->in_handler) {
        /* Not suspended yet: the handler returns the status. */
        ctx->sync_status = status;
        return;
    }
    cairn_request_resume(r, status);
}


/* An entry from the loop ends: the last one out frees a finished
 * request's state. */
static void
mod_proxy_leave(mod_proxy_req_t *ctx)
{
    if (--ctx->depth == 0 && ctx->finished) {
        mod_proxy_release(ctx, 0);
        cairn_arena_destroy(ctx->arena);
    }
}


/*
 * Lets go of the try's connection: into the pool when it finished a
 * response cleanly and the upstream keeps connections, else closed.
 */
static void
mod_proxy_release(mod_proxy_req_t *ctx, int reuse)
{
    mod_proxy_conn_t      *pc = ctx->pc, *old, **pp, **oldest_pp;
    mod_proxy_server_t    *s;
    mod_proxy_upstream_t  *up;
    struct timeval         tv;
    size_t                 i;

    if (pc == NULL) {
        return;
    }
    ctx->pc = NULL;
    ctx->paused = 0;
    s = pc->server;
    up = s->up;
    s->active--;
    mod_proxy_metric_conns(s, -1, 0);
    pc->req = NULL;

    if (!reuse || up->keepalive == 0 || s->dormant) {
        /* A server whose address a lookup took away (Resolve) pools
         * nothing: the slot may get another address. */
        mod_proxy_conn_close(pc);
        return;
    }

    if (up->nidle >= up->keepalive) {
        /* Full: the connection idle longest makes room. */
        oldest_pp = NULL;
        for (i = 0; i < up->n; i++) {
            for (pp = &up->servers[i]->idle; *pp != NULL;
                 pp = &(*pp)->next)
            {
                if (oldest_pp == NULL
                    || (*pp)->idle_since_us < (*oldest_pp)->idle_since_us)
                {
                    oldest_pp = pp;
                }
            }
        }
        if (oldest_pp == NULL) {
            mod_proxy_conn_close(pc);
            return;
        }
        old = *oldest_pp;
        mod_proxy_conn_close(old);
    }

    event_del(pc->ev_write);
    pc->idle_since_us = mod_proxy_now_us();
    pc->next = s->idle;
    s->idle = pc;
    s->nidle++;
    up->nidle++;
    mod_proxy_metric_conns(s, 0, 1);
    tv.tv_sec = MOD_PROXY_IDLE_MS / 1000;
    tv.tv_usec = 0;
    event_add(pc->ev_read, &tv);
}


/* Closes a connection, taking it out of its pool if it is idle. */
static void
mod_proxy_conn_close(mod_proxy_conn_t *pc)
{
    mod_proxy_server_t  *s = pc->server;
    mod_proxy_conn_t   **pp;

    if (pc->req == NULL) {
        for (pp = &s->idle; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == pc) {
                *pp = pc->next;
                s->nidle--;
                s->up->nidle--;
                mod_proxy_metric_conns(s, 0, -1);
                break;
            }
        }
    }

    event_free(pc->ev_read);
    event_free(pc->ev_write);
    close(pc->fd);
    free(pc);
}
