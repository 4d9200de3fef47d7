/*
 * core/http.c: connections: reading, parsing with llhttp, timeouts,
 * writing.
 *
 * Every entry from the loop into a connection (read, write, timer, a
 * module's resume, a task's completion) is bracketed by cairn__conn_enter() and
 * cairn__conn_leave(): a connection asked to close while something up the stack
 * still uses it is only marked, and freed by the outermost leave.
 *
 * Timeouts use one timer per connection and a deadline that is usually
 * only stored: the timer is re-armed when a deadline moves earlier, and
 * when it fires for a deadline that has since moved later it re-arms
 * itself.  Keep-alive requests thus cost no timer operations.
 */

#include "config.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "arena_int.h"
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "path_int.h"
#include "worker_int.h"


#define HTTP_INBUF_SIZE     8192

/* The first allocation for a request body (it doubles from there). */
#define HTTP_BODY_FIRST     16384

/* Response bodies up to this size are copied behind the head, so a
 * typical response leaves in one write. */
#define HTTP_INLINE_BODY    16384

/* A stopping worker gives an idle connection this long (from its last
 * input) to deliver a request it may be sending right now. */
#define HTTP_STOP_IDLE_US   (1000 * 1000)

cairn_conn_t  *cairn__current_conn;

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void conn_process(cairn_conn_t *c);
static int conn_parse(cairn_conn_t *c);
static void conn_free(cairn_conn_t *c);
static void conn_set_deadline(cairn_conn_t *c, uint64_t at_us);
static void conn_parse_error(cairn_conn_t *c, llhttp_errno_t err);
static void conn_parse_reason(cairn_conn_t *c, cairn_request_t *r,
                              llhttp_errno_t err, int status);
static void conn_unknown_method(cairn_conn_t *c, cairn_request_t *r);
static void conn_salvage_accept(cairn_conn_t *c, cairn_request_t *r);
static void conn_cancel(cairn_conn_t *c);
static void conn_flush(cairn_conn_t *c);
static void conn_next(cairn_conn_t *c, int keepalive);
static int conn_discard_body(cairn_request_t *r);
static void http_read_body(cairn_request_t *r);
static int http_write(cairn_request_t *r, cairn_buf_t *in);
static size_t http_pending(const cairn_request_t *r);
static void http_tunnel(cairn_request_t *r);
static void conn_body_progress(cairn_request_t *r);
static void http_done(cairn_request_t *r, int keepalive);
static void conn_linger(cairn_conn_t *c);
static void conn_eof(cairn_conn_t *c);
static void conn_idle(cairn_conn_t *c);
static int conn_discard_ended(cairn_conn_t *c);
static int conn_headers_done(cairn_request_t *r);
static void conn_accept(cairn__worker_t *w, int fd,
                        const struct sockaddr *sa, socklen_t salen,
                        int refuse);
static void conn_refuse(cairn_conn_t *c);
static void conn_stop(cairn__wconn_t *wc);
static void conn_close_wc(cairn__wconn_t *wc);
static int conn_reap(cairn__wconn_t *wc);

static int http_on_url(llhttp_t *p, const char *at, size_t len);
static int http_on_header_field(llhttp_t *p, const char *at, size_t len);
static int http_on_header_value(llhttp_t *p, const char *at, size_t len);
static int http_on_header_field_complete(llhttp_t *p);
static int http_on_headers_complete(llhttp_t *p);
static int http_on_body(llhttp_t *p, const char *at, size_t len);
static int http_body_grow(cairn_request_t *r, size_t need);
static void http_body_free(void *data);
static void conn_no_memory(cairn_conn_t *c);
static int http_trailer(llhttp_t *p, size_t len);
static int http_on_chunk_header(llhttp_t *p);
static int http_on_chunk_ext(llhttp_t *p, const char *at, size_t len);
static int http_on_message_complete(llhttp_t *p);

static llhttp_settings_t  http_settings;
static int                http_settings_ready;

const cairn__conn_handler_t  cairn__http_handler = {
    "http/1.1", conn_accept, conn_stop, conn_close_wc, conn_reap
};

static const cairn__proto_t  http_proto = {
    "http/1.1", http_read_body, http_write, http_pending, http_done,
    http_tunnel
};


static void
http_settings_init(void)
{
    llhttp_settings_init(&http_settings);
    http_settings.on_url = http_on_url;
    http_settings.on_header_field = http_on_header_field;
    http_settings.on_header_value = http_on_header_value;
    http_settings.on_header_field_complete = http_on_header_field_complete;
    http_settings.on_headers_complete = http_on_headers_complete;
    http_settings.on_body = http_on_body;
    http_settings.on_chunk_header = http_on_chunk_header;
    http_settings.on_chunk_extension_name = http_on_chunk_ext;
    http_settings.on_chunk_extension_value = http_on_chunk_ext;
    http_settings.on_message_complete = http_on_message_complete;
    http_settings_ready = 1;
}


static void
conn_accept(cairn__worker_t *w, int fd, const struct sockaddr *sa,
            socklen_t salen, int refuse)
{
    int  one = 1;

    if (cairn__mem_low() && cairn__worker_mem_shed(w, 1)) {
        /* Not even a connection's worth of memory is spent on it: the
         * answer is sent as it is, best effort, and the socket closed. */
        static const char  resp[] =
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Server: cairn\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 78\r\n"
            "Retry-After: 1\r\n"
            "Connection: close\r\n"
            "\r\n"
            "503 Service Unavailable: the server is short of memory; "
            "try again in a moment\n";
        ssize_t            n;

        n = send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL);
        (void) n;
        shutdown(fd, SHUT_WR);
        close(fd);
        return;
    }

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    cairn__conn_open(w, &cairn__transport_plain, fd, sa, salen, refuse);
}


cairn_conn_t *
cairn__conn_open(cairn__worker_t *w, const cairn__transport_t *t, int fd,
                 const struct sockaddr *sa, socklen_t salen, int refuse)
{
    cairn_conn_t              *c;
    const cairn__core_conf_t  *core;

    if (!http_settings_ready) {
        http_settings_init();
    }

    c = cairn__malloc(sizeof(*c));
    memset(c, 0, sizeof(*c));

    c->worker = w;
    c->proto = &http_proto;
    c->transport = t;
    c->server = w->server;
    c->fd = fd;
    c->id = ++w->next_conn_id;
    c->last_io_us = cairn_now_us();
    c->arena = cairn_arena_create(1024);
    c->req_arena = cairn_arena_create(4096);
    c->in_cap = HTTP_INBUF_SIZE;
    c->in = cairn__malloc(c->in_cap);
    c->out = evbuffer_new();
    if (c->in == NULL || c->out == NULL) {
        cairn__oom(c->in_cap);
    }
    /* Lets evbuffer_write() use sendfile(2) for file segments. */
    evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD);

    if (salen > sizeof(c->peer)) {
        salen = sizeof(c->peer);
    }
    memcpy(&c->peer, sa, salen);
    c->peer_len = salen;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in  *sin = (const struct sockaddr_in *) sa;

        inet_ntop(AF_INET, &sin->sin_addr, c->peer_text,
                  sizeof(c->peer_text));
        c->peer_port = ntohs(sin->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6  *sin6 = (const struct sockaddr_in6 *) sa;

        inet_ntop(AF_INET6, &sin6->sin6_addr, c->peer_text,
                  sizeof(c->peer_text));
        c->peer_port = ntohs(sin6->sin6_port);
    } else {
        strcpy(c->peer_text, "unix");
    }

    llhttp_init(&c->parser, HTTP_REQUEST, &http_settings);
    c->parser.data = c;

    /* With fd -1 the read and write events are registered with the loop
     * but never fire by themselves (libevent polls no descriptor). */
    c->ev_read = event_new(w->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
    c->ev_write = event_new(w->base, fd, EV_WRITE | EV_PERSIST,
                            conn_write_cb, c);
    c->ev_timer = event_new(w->base, -1, 0, conn_timer_cb, c);
    if (c->ev_read == NULL || c->ev_write == NULL || c->ev_timer == NULL) {
        cairn__oom(sizeof(struct event *));
    }

    c->link.handler = &cairn__http_handler;
    cairn__worker_conn_add(w, &c->link);
    cairn__metrics_conn_open();

    core = w->server->main_vhost->base.core;

    c->busy = 1;

    if (cairn__conn_hooks_run(c, CAIRN_CONN_OPEN) != CAIRN_OK) {
        c->closing = 1;
        cairn__conn_leave(c);
        return NULL;
    }

    if (refuse) {
        conn_refuse(c);
        cairn__conn_leave(c);
        return NULL;
    }

    c->state = CAIRN__CONN_IDLE;
    cairn__worker_conn_idle(w, &c->link, 1);
    /* A new connection must deliver its request within the header
     * timeout, like nginx's client_header_timeout. */
    conn_set_deadline(c, cairn_now_us()
                         + (uint64_t) core->request_header_timeout_ms * 1000);
    event_add(c->ev_read, NULL);
    c->reading = 1;

    cairn__conn_leave(c);

    return c;
}


void
cairn__conn_enter(cairn_conn_t *c)
{
    c->busy++;
}


void
cairn__conn_leave(cairn_conn_t *c)
{
    if (--c->busy == 0 && c->closing) {
        conn_free(c);
    }
}


void
cairn__conn_close(cairn_conn_t *c)
{
    if (c->closing) {
        return;
    }

    c->closing = 1;

    if (c->req != NULL && c->req->state != CAIRN__REQ_DONE) {
        conn_cancel(c);
    }

    if (c->busy == 0) {
        conn_free(c);
    }
}


static void
conn_free(cairn_conn_t *c)
{
    cairn__worker_t  *w = c->worker;

    if (c->freed) {
        return;
    }
    c->freed = 1;

    if (c->req != NULL && c->req->state != CAIRN__REQ_DONE) {
        conn_cancel(c);
    }

    cairn__conn_hooks_run(c, CAIRN_CONN_CLOSE);

    event_free(c->ev_read);
    event_free(c->ev_write);
    event_free(c->ev_timer);

    c->transport->close(c);

    evbuffer_free(c->out);
    free(c->in);
    cairn_arena_destroy(c->req_arena);
    cairn_arena_destroy(c->arena);

    cairn__metrics_conn_close();
    cairn__worker_conn_remove(w, &c->link);

    free(c);
}


/*
 * The worker is at MaxConnections and nothing idle could be closed: a
 * 503 that says so, then a lingering close, so that a request the client
 * already sent does not turn the close into a reset that destroys the
 * answer.
 */
static void
conn_refuse(cairn_conn_t *c)
{
    static const char  resp[] =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Server: cairn\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 80\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n"
        "\r\n"
        "503 Service Unavailable: the server is at MaxConnections; "
        "try again in a moment\n";

    evbuffer_add(c->out, resp, sizeof(resp) - 1);
    conn_flush(c);
    if (!c->closing) {
        conn_linger(c);
    }
}


/*
 * MaxConnections: the worker closes c to make room, as it is idle.  A
 * connection whose first bytes are already waiting in the socket is read
 * now instead (the client sent them before the worker got to them), and
 * its request goes on.  Returns 1 when c was closed.
 */
static int
conn_reap(cairn__wconn_t *wc)
{
    cairn_conn_t  *c = (cairn_conn_t *) wc;
    char           b;

    if (c->closing || c->req != NULL || c->state != CAIRN__CONN_IDLE) {
        return 0;
    }

    if (c->in_start == c->in_end && c->fd >= 0
        && recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
    {
        conn_read_cb(c->fd, EV_READ, c);
        return 0;
    }

    cairn__conn_close(c);

    return 1;
}


/*
 * The worker stops.  A busy connection finishes its request and closes
 * (keep-alive is off while stopping); an idle one gets a second from its
 * last input to deliver a request it may be sending right now, then
 * closes: closing at once would reset a request already on its way.
 */
static void
conn_stop(cairn__wconn_t *wc)
{
    cairn_conn_t  *c = (cairn_conn_t *) wc;

    if (c->req != NULL || c->busy != 0) {
        return;
    }

    if (cairn_now_us() - c->last_io_us >= HTTP_STOP_IDLE_US) {
        cairn__conn_close(c);
    } else {
        conn_set_deadline(c, c->last_io_us + HTTP_STOP_IDLE_US);
    }
}


/* The worker's loop has ended. */
static void
conn_close_wc(cairn__wconn_t *wc)
{
    cairn__conn_close((cairn_conn_t *) wc);
}


/* The client went away (or the server stops) while a request is in
 * progress: the pipeline cancels it. */
static void
conn_cancel(cairn_conn_t *c)
{
    if (c->req != NULL) {
        cairn__pipeline_event(c->req, CAIRN__EV_GONE, 0);
    }
}


static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn_conn_t  *c = arg;
    cairn_conn_t  *outer = cairn__current_conn;
    ssize_t        n;
    size_t         room;

    cairn__time_update();
    cairn__conn_enter(c);
    cairn__current_conn = c;

    if (c->lingering) {
        for ( ;; ) {
            n = c->transport->recv(c, c->in, c->in_cap);
            if (n > 0) {
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                cairn__conn_close(c);
            }
            break;
        }
        goto done;
    }

    for ( ;; ) {
        if (c->in_end == c->in_cap) {
            if (c->in_start > 0) {
                memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
                c->in_end -= c->in_start;
                c->in_start = 0;
            } else if (c->discarding
                       || (c->req != NULL
                           && (c->req->state == CAIRN__REQ_HEADERS
                               || c->req->state == CAIRN__REQ_BODY)))
            {
                /* Only the parser can need more room; its limits bound
                 * the header block, and bodies are consumed as parsed.
                 * A client decides this size: without the memory, 503. */
                char  *in = realloc(c->in, c->in_cap * 2);

                if (in == NULL) {
                    conn_no_memory(c);
                    goto done;
                }
                c->in = in;
                c->in_cap *= 2;
            } else {
                /* A request is being processed and the client keeps
                 * sending: stop reading until it is done. */
                event_del(c->ev_read);
                c->reading = 0;
                break;
            }
        }

        room = c->in_cap - c->in_end;
        n = c->transport->recv(c, c->in + c->in_end, room);

        if (n > 0) {
            c->in_end += (size_t) n;
            c->last_io_us = cairn_now_us();
            cairn__metrics_received((size_t) n);
            conn_process(c);
            /* After the input went through the parser the connection may
             * have started to close, or to linger (which reads raw bytes
             * in the branch above, never into the parser). */
            if (c->closing || c->lingering || (size_t) n < room) {
                break;
            }
            continue;
        }

        if (n == 0) {
            conn_eof(c);
            break;
        }

        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            cairn__conn_close(c);
        }
        break;
    }

done:

    cairn__current_conn = outer;
    cairn__conn_leave(c);
}


/*
 * The client closed its side.  A response already queued is still
 * written (the client may have only half-closed, as `nc -N` does) and the
 * connection closes after it; a request still being read or processed
 * is cancelled, as nginx does, so a module stops work nobody waits for.
 */
static void
conn_eof(cairn_conn_t *c)
{
    cairn_request_t  *r = c->req;

    c->eof = 1;

    if (c->reading) {
        event_del(c->ev_read);
        c->reading = 0;
    }

    if (r != NULL && r->state == CAIRN__REQ_SENDING && !c->closing) {
        r->keepalive = 0;
        return;
    }

    cairn__conn_close(c);
}


/*
 * Drives the connection: parses and processes requests for as long as the
 * input holds complete ones and nothing is waiting.
 */
static void
conn_process(cairn_conn_t *c)
{
    cairn_request_t           *r;
    const cairn__core_conf_t  *core;

    if (c->processing) {
        return;
    }
    c->processing = 1;

    while (!c->closing && !c->lingering) {
        if (c->discarding) {
            /* The rest of a body whose request was answered without it
             * (it may still be sending its response): the parser finds
             * its end, http_on_body() drops it. */
            if (c->in_start == c->in_end || conn_parse(c) != 0) {
                break;
            }
            continue;
        }

        r = c->req;

        if (r != NULL && r->tunnel) {
            /* After a 101 the bytes are another protocol's: handed
             * over as they come, never parsed; while the handler has
             * paused them they stay in the input buffer, and reading
             * stops once it is full (conn_read_cb). */
            if (c->in_start < c->in_end && !r->body_paused) {
                const char  *p = c->in + c->in_start;
                size_t       n = c->in_end - c->in_start;

                c->in_start = 0;
                c->in_end = 0;
                cairn__pipeline_tunnel_data(r, p, n);
            }
            break;
        }

        if (r == NULL) {
            if (c->in_start == c->in_end) {
                break;
            }
            r = cairn__request_new(c);
            c->req = r;
            core = c->server->main_vhost->base.core;
            if (c->nrequests > 0 || c->state == CAIRN__CONN_IDLE) {
                conn_set_deadline(c, cairn_now_us()
                    + (uint64_t) core->request_header_timeout_ms * 1000);
            }
            c->state = CAIRN__CONN_ACTIVE;
            /* A request has begun: MaxConnections no longer closes it. */
            cairn__worker_conn_idle(c->worker, &c->link, 0);
        }

        if (r->state != CAIRN__REQ_HEADERS && r->state != CAIRN__REQ_BODY
            && !(r->body_cb != NULL && r->body_reading && !r->body_paused
                 && !r->body_done && c->in_start < c->in_end))
        {
            break;
        }

        if (conn_parse(c) != 0) {
            break;
        }
    }

    c->processing = 0;
}


/* After the pipeline ran: 0 when the parser should go on (the request is
 * finished, or it now reads its body), 1 when the request waits. */
static int
conn_parse_more(cairn_conn_t *c, cairn_request_t *r)
{
    if (c->closing) {
        return 1;
    }
    if (c->req != r) {
        return 0;
    }
    if (r->body_cb != NULL && r->body_reading && !r->body_paused
        && !r->body_done)
    {
        /* The handler asked for its streamed body from inside its call
         * (the parser was on the stack then): parse on. */
        return 0;
    }

    return r->state == CAIRN__REQ_BODY ? 0 : 1;
}


/*
 * Feeds the unparsed input to llhttp.  Returns 0 when the request moved on
 * (the caller loops), 1 when more input is needed or the request waits.
 *
 * The parser pauses after a header block, after each message, and where
 * a discarded body ends; input after the pause stays in the buffer.
 */
static int
conn_parse(cairn_conn_t *c)
{
    cairn_request_t  *r = c->req;
    llhttp_errno_t    err;
    const char       *start, *pos;
    int               discarding = c->discarding;

    start = c->in + c->in_start;
    err = llhttp_execute(&c->parser, start, c->in_end - c->in_start);

    if (err == HPE_OK) {
        if (r != NULL && r->state == CAIRN__REQ_HEADERS && !discarding) {
            r->head_parsed += c->in_end - c->in_start;
        }
        if (c->in_end > c->in_start) {
            c->in_last = c->in[c->in_end - 1];
        }
        c->in_start = c->in_end;
        return 1;
    }

    if (err != HPE_PAUSED && err != HPE_PAUSED_UPGRADE) {
        if (discarding) {
            /* Over DiscardBodyLimit, or the body's framing is broken:
             * nothing on this connection can be trusted any more. */
            c->in_start = c->in_end;
            c->discarding = 0;
            if (r != NULL) {
                r->keepalive = 0;
            } else {
                conn_linger(c);
            }
            return 1;
        }
        conn_parse_error(c, err);
        return 1;
    }

    pos = llhttp_get_error_pos(&c->parser);
    if (pos != NULL && pos >= start && pos <= c->in + c->in_end) {
        c->in_start += (size_t) (pos - start);
    }

    if (discarding) {
        /* The discarded body ended (http_on_message_complete). */
        llhttp_resume(&c->parser);
        return conn_discard_ended(c);
    }

    if (err == HPE_PAUSED_UPGRADE) {
        llhttp_resume_after_upgrade(&c->parser);
        r->upgrade = 1;
        r->body_done = 1;
    } else {
        llhttp_resume(&c->parser);
    }

    if (r->state == CAIRN__REQ_HEADERS) {
        if (conn_headers_done(r) != 0) {
            return 1;
        }
        cairn__pipeline_event(r, CAIRN__EV_HEADERS, 0);
        return conn_parse_more(c, r);
    }

    if (r->state == CAIRN__REQ_BODY && r->body_done) {
        cairn__pipeline_event(r, CAIRN__EV_BODY, 0);
        return conn_parse_more(c, r);
    }

    if (r->body_cb != NULL && r->body_done && !r->body_ended) {
        /* A streamed body is complete: its timeout ends with it. */
        r->body_ended = 1;
        c->deadline_us = 0;
        cairn__pipeline_body_data(r, NULL, 0);
        return 1;
    }

    return 0;
}


/*
 * The status for what llhttp refused.  A well-formed version it does not
 * speak (one digit, a dot, one digit: HTTP/1.2, HTTP/3.0) is 505, since
 * the request may be fine in that version; a malformed one (HTTP/1.10,
 * HTTP/x) is 400 like any other syntax error.  llhttp reports both as
 * HPE_INVALID_VERSION and tells them apart only by the reason.
 */
static int
http_parse_error_status(const llhttp_t *p, llhttp_errno_t err)
{
    const char  *reason = llhttp_get_error_reason(p);

    if (err == HPE_INVALID_VERSION && reason != NULL
        && strcmp(reason, "Invalid HTTP version") == 0)
    {
        return 505;
    }

    if (err == HPE_INVALID_TRANSFER_ENCODING) {
        /* A coding other than chunked, or chunked twice: see
         * conn_headers_done(). */
        return 501;
    }

    return 400;
}


/*
 * The header block outgrew the input buffer and a larger one could not be
 * had: 503 and close, like any request that cannot be read.
 */
static void
conn_no_memory(cairn_conn_t *c)
{
    if (c->req != NULL) {
        c->req->error_status = 503;
        cairn__response_reason(c->req, "the server is short of memory for "
                                       "this request; try again in a "
                                       "moment");
    }
    llhttp_set_error_reason(&c->parser, "no memory for the header block");
    conn_parse_error(c, HPE_USER);
}


static void
conn_parse_error(cairn_conn_t *c, llhttp_errno_t err)
{
    cairn_request_t  *r = c->req;
    int               status;

    if (r != NULL && r->body_cb != NULL && !r->body_done
        && r->state != CAIRN__REQ_HEADERS && r->state != CAIRN__REQ_BODY)
    {
        /* A streamed body broke under a handler that took it: the
         * request is cancelled with the connection. */
        cairn_log(r, CAIRN_LOG_INFO, 0, "client %s: request body refused "
                  "(%d): %s", c->peer_text,
                  r->error_status ? (int) r->error_status : 400,
                  llhttp_get_error_reason(&c->parser));
        c->in_start = c->in_end;
        cairn__conn_close(c);
        return;
    }

    if (r == NULL || (r->state != CAIRN__REQ_HEADERS
                      && r->state != CAIRN__REQ_BODY))
    {
        /* Nothing is being read that could be answered. */
        c->in_start = c->in_end;
        if (r == NULL) {
            conn_linger(c);
        } else {
            r->keepalive = 0;
        }
        return;
    }

    status = r->error_status ? (int) r->error_status
                             : http_parse_error_status(&c->parser, err);
    conn_parse_reason(c, r, err, status);
    if (r->state == CAIRN__REQ_HEADERS && r->headers.n == 0) {
        conn_salvage_accept(c, r);
    }

    if (cairn_log_enabled(CAIRN_LOG_INFO)) {
        cairn_log(r, CAIRN_LOG_INFO, 0, "client %s: bad request (%d): %s",
                  c->peer_text, status, llhttp_get_error_reason(&c->parser));
    }

    /* After a parse error the stream cannot be trusted: answer and close. */
    r->keepalive = 0;
    r->body_done = r->state != CAIRN__REQ_BODY ? 1 : 0;
    if (r->method_name == NULL) {
        r->method_name = "-";
    }
    c->in_start = c->in_end;

    cairn__pipeline_event(r, CAIRN__EV_FAIL, status);
}


/*
 * The sentence of r's error page for what llhttp refused, unless the
 * callback that stopped it said why already.
 */
static void
conn_parse_reason(cairn_conn_t *c, cairn_request_t *r, llhttp_errno_t err,
                  int status)
{
    const char  *why = llhttp_get_error_reason(&c->parser);

    if (r->error_reason != NULL) {
        return;
    }

    switch (err) {

    case HPE_INVALID_METHOD:
        conn_unknown_method(c, r);
        return;

    case HPE_INVALID_URL:
        cairn__response_reason(r, "the request target is malformed");
        return;

    case HPE_INVALID_VERSION:
        cairn__response_reason(r, status == 505
                                  ? "only HTTP/1.0 and HTTP/1.1 are spoken "
                                    "on this connection"
                                  : "the HTTP version is malformed");
        return;

    case HPE_INVALID_TRANSFER_ENCODING:
        cairn__response_reason(r, "the body has a Transfer-Encoding other "
                                  "than chunked, which this server does not "
                                  "decode");
        return;

    case HPE_INVALID_HEADER_TOKEN:
        cairn__response_reason(r, "a header field is malformed");
        return;

    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        cairn__response_reason(r, "the Content-Length is malformed, "
                                  "repeated or beside a Transfer-Encoding");
        return;

    case HPE_INVALID_CHUNK_SIZE:
        cairn__response_reason(r, "a chunk of the body is malformed");
        return;

    case HPE_USER:
        /* Ours (http_on_*): a sentence already. */
        cairn__response_reasonf(r, "the request is malformed: %s",
                                why != NULL ? why : "-");
        return;

    default:
        cairn__response_reasonf(r, "the request line or a header line is "
                                "malformed (%s)", why != NULL ? why : "-");
        return;
    }
}


/*
 * A request refused inside its request line (an unknown method, a
 * target over LimitRequestLine) has no headers yet, so its error page
 * could not follow its Accept.  The header lines already in the input
 * after that line are looked at for one: an "Accept" line of at most
 * LimitRequestFieldSize bytes becomes r's only header.  Nothing else of
 * them is trusted or kept.
 */
static void
conn_salvage_accept(cairn_conn_t *c, cairn_request_t *r)
{
    const char  *p, *end, *eol, *v;
    size_t       max, len;

    max = (size_t) c->server->main_vhost->base.core->limit_request_field_size;
    p = c->in + c->in_start;
    end = c->in + c->in_end;

    p = memchr(p, '\n', (size_t) (end - p));
    while (p != NULL && ++p < end) {
        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL) {
            return;
        }
        len = (size_t) (eol - p);
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        if (len == 0) {
            return;
        }
        if (len > 7 && len <= max && strncasecmp(p, "Accept:", 7) == 0) {
            v = p + 7;
            while (v < p + len && (*v == ' ' || *v == '\t')) {
                v++;
            }
            cairn__headers_add(r->arena, &r->headers, "Accept", 6,
                               cairn_arena_strndup(r->arena, v,
                                                   (size_t) (p + len - v)));
            return;
        }
        p = eol;
    }
}


/*
 * A method llhttp does not know stops it at the request line's first
 * bytes, before the target.  When the whole line is in the input, its
 * method and target are still taken (a token and a target of at most
 * LimitRequestLine bytes), so that the 400 is logged with them and
 * answered for the location (and route) of that target: mod_rest
 * answers it with its envelope.
 */
static void
conn_unknown_method(cairn_conn_t *c, cairn_request_t *r)
{
    const char  *p, *end, *m, *t;
    size_t       mlen, tlen, max;

    max = (size_t) c->server->main_vhost->base.core->limit_request_line;
    p = c->in + c->in_start;
    end = c->in + c->in_end;

    if (r->head_parsed == 0) {
        while (p < end && (*p == '\r' || *p == '\n')) {
            p++;
        }
        m = p;
        while (p < end && p - m <= 32 && *p > ' ' && *p < 0x7f) {
            p++;
        }
        mlen = (size_t) (p - m);
        if (p < end && *p == ' ' && mlen > 0 && mlen <= 32) {
            t = ++p;
            while (p < end && (size_t) (p - t) <= max && *p > ' '
                   && *p < 0x7f)
            {
                p++;
            }
            tlen = (size_t) (p - t);
            if (p < end && *p == ' ' && tlen > 0 && tlen <= max) {
                r->method_name = cairn_arena_strndup(r->arena, m, mlen);
                r->target = cairn_arena_strndup(r->arena, t, tlen);
                r->target_len = tlen;
                cairn__response_reasonf(r, "the method %s is not one this "
                                        "server knows", r->method_name);
                return;
            }
        }
    }

    cairn__response_reason(r, "the method is not one this server knows");
}


/*
 * Whether the Transfer-Encoding of r, if any, is exactly "chunked": one
 * header, one coding.
 */
static int
http_te_chunked(const cairn_request_t *r)
{
    const cairn__header_t  *h;
    size_t                  i, len;
    int                     seen = 0;

    for (i = 0; i < r->headers.n; i++) {
        h = &r->headers.v[i];
        if (h->name_len != 17
            || strcasecmp(h->name, "Transfer-Encoding") != 0)
        {
            continue;
        }
        len = strlen(h->value);
        while (len > 0 && (h->value[len - 1] == ' '
                           || h->value[len - 1] == '\t'))
        {
            len--;
        }
        if (seen++ || len != 7 || strncasecmp(h->value, "chunked", 7) != 0) {
            return 0;
        }
    }

    return 1;
}


/*
 * The header block is complete: record what the wire says (version,
 * method, keep-alive, how the body is framed) and refuse what this
 * protocol cannot carry.  Returns 0 (the pipeline prepares the rest), or
 * 1 after answering an error.
 */
static int
conn_headers_done(cairn_request_t *r)
{
    cairn_conn_t  *c = r->conn;
    llhttp_t      *p = &c->parser;

    r->version = p->http_major * 10 + (p->http_minor > 1 ? 1 : p->http_minor);
    if (p->http_major != 1) {
        /* HTTP/0.9 requests are not served; HTTP/2 and later are not
         * spoken over this kind of connection. */
        r->keepalive = 0;
        cairn__response_reason(r, p->http_major == 0
                                  ? "HTTP/0.9 requests are not served"
                                  : "only HTTP/1.0 and HTTP/1.1 are spoken "
                                    "on this connection");
        cairn__pipeline_event(r, CAIRN__EV_FAIL,
                              p->http_major == 0 ? 400 : 505);
        return 1;
    }

    r->method_name = llhttp_method_name((llhttp_method_t) p->method);
    r->method = cairn_method_from_name(r->method_name);
    r->head = r->method == CAIRN_METHOD_HEAD;
    r->keepalive = llhttp_should_keep_alive(p) && !r->upgrade ? 1 : 0;

    if (cairn__mem_low() && cairn__worker_mem_shed(c->worker, 0)) {
        /* The worker spent its memory reserve: no new request until it
         * has it back (worker.c). */
        r->keepalive = 0;
        r->error_fixed = 1;
        cairn__pipeline_event(r, CAIRN__EV_FAIL, 503);
        return 1;
    }

    if (!http_te_chunked(r)) {
        /* Only "chunked" is framed.  llhttp takes "gzip, chunked" for a
         * chunked body; cairn decodes no other coding and will not guess
         * where such a body ends, so nothing after the header block is
         * read as a body: 501, and the connection closes. */
        if (cairn_log_enabled(CAIRN_LOG_INFO)) {
            cairn_log(r, CAIRN_LOG_INFO, 0, "client %s: Transfer-Encoding "
                      "other than chunked (501)", c->peer_text);
        }
        r->keepalive = 0;
        cairn__response_reason(r, "the body has a Transfer-Encoding other "
                                  "than chunked, which this server does not "
                                  "decode");
        cairn__pipeline_event(r, CAIRN__EV_FAIL, 501);
        return 1;
    }

    if (p->flags & F_CHUNKED) {
        r->has_body = 1;
        r->content_length = -1;
    } else if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
        r->has_body = 1;
        r->content_length = (int64_t) p->content_length;
    } else {
        r->content_length = (p->flags & F_CONTENT_LENGTH) ? 0 : -1;
    }

    /* Until the handler wants the body, no deadline of ours runs: hooks
     * that wait set their own. */
    conn_set_deadline(c, 0);

    return 0;
}


/*
 * Called by the pipeline before the HANDLER phase of a request with a
 * body: answers Expect: 100-continue and reads the body.
 */
static void
http_read_body(cairn_request_t *r)
{
    cairn_conn_t              *c = r->conn;
    const cairn__core_conf_t  *core = r->loc->core;

    if (r->body_cb != NULL && r->body_start_us != 0) {
        /* A streamed body read on after a pause: the timeout counts
         * from now, the pause was the handler's. */
        conn_body_progress(r);
        if (!c->reading && !c->closing && !c->eof) {
            event_add(c->ev_read, NULL);
            c->reading = 1;
        }
        conn_process(c);
        return;
    }

    r->body_start_us = cairn_now_us();

    if (r->expect_continue && c->in_start == c->in_end) {
        static const char  cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

        evbuffer_add(c->out, cont, sizeof(cont) - 1);
        r->expect_continue = 0;
        conn_flush(c);
    }

    conn_set_deadline(c, r->body_start_us
                         + (uint64_t) core->request_body_timeout_ms * 1000);

    if (!c->reading && !c->closing) {
        event_add(c->ev_read, NULL);
        c->reading = 1;
    }

    conn_process(c);
}


/*
 * The response of r leaves before its body was read (an early 401, 403,
 * 404, 413, 417 or any answer from a phase before the handler): nginx's
 * discard of an unread body.  From here on the connection, not r, owns
 * the rest of that body: the parser keeps finding its end and
 * http_on_body() drops it, even while r's response is still being
 * written, so a client that sends the whole body before it reads the
 * answer never stalls.  The connection is kept when the status allows it
 * and the rest is known to fit DiscardBodyLimit (a chunked body that
 * turns out larger ends it); otherwise it closes with a lingering close
 * after the response.
 */
static int
conn_discard_body(cairn_request_t *r)
{
    cairn_conn_t              *c = r->conn;
    const cairn__core_conf_t  *core = r->loc->core;
    int64_t                    limit = core->discard_body_limit;
    int                        keep;

    if (c->discarding) {
        return r->keepalive;
    }

    /* Only a parser that stopped cleanly after the header block knows
     * where the body ends; one that failed, or a body that was being
     * read when it timed out, leaves only the close. */
    if (llhttp_get_errno(&c->parser) != HPE_OK || r->broken
        || r->upgrade || r->body_done || c->lingering)
    {
        return 0;
    }

    switch (r->status) {
    case 400:
    case 408:
    case 413:
    case 414:
    case 417:
    case 431:
    case 500:
    case 501:
        /* The request itself was wrong or the server failed: as nginx
         * and Apache do, do not read on. */
        keep = 0;
        break;
    default:
        /* A client that waits for 100 Continue may never send the body,
         * or send it late: what comes next cannot be told apart. */
        keep = !r->expect_continue && limit > 0
               && (r->content_length < 0
                   || r->content_length - (int64_t) r->body_len <= limit);
        break;
    }

    c->discarding = 1;
    c->discard_left = keep ? limit : -1;

    if (!c->reading && !c->closing) {
        event_add(c->ev_read, NULL);
        c->reading = 1;
    }

    return keep;
}


/*
 * The parser found the end of a discarded body.  Returns 0 when the
 * caller may go on parsing (the next pipelined request), 1 when the
 * request whose body it was still sends its response.
 */
static int
conn_discard_ended(cairn_conn_t *c)
{
    c->discarding = 0;

    if (c->req != NULL) {
        /* Its response is still being written: when it is, the
         * connection goes on as after any request with a body. */
        c->req->body_done = 1;
        return 1;
    }

    conn_idle(c);

    return 0;
}


static void
conn_body_progress(cairn_request_t *r)
{
    cairn_conn_t              *c = r->conn;
    const cairn__core_conf_t  *core = r->loc->core;
    uint64_t                   at;

    /* Like Apache's mod_reqtimeout: the timeout, extended by one second
     * for every RequestBodyMinRate bytes received; without a rate, the
     * timeout counts from the last data. */
    if (core->request_body_min_rate > 0) {
        at = r->body_start_us
             + (uint64_t) core->request_body_timeout_ms * 1000
             + (uint64_t) r->body_len * 1000000
               / (uint64_t) core->request_body_min_rate;
    } else {
        at = cairn_now_us() + (uint64_t) core->request_body_timeout_ms * 1000;
    }

    c->deadline_us = at;
}


/*
 * Closes the connection after a response that ended it, without a reset:
 * a client that already sent more (pipelined requests, a body nobody
 * read) would get an RST that can destroy the response still in flight.
 * So the write side is shut, and whatever arrives is read and dropped
 * until the client closes or a short time has passed.
 */
static void
conn_linger(cairn_conn_t *c)
{
    const cairn__core_conf_t  *core = c->server->main_vhost->base.core;

    c->discarding = 0;

    /* The transport refuses a shutdown it cannot do (the plain one
     * without a socket). */
    if (c->eof || core->lingering_timeout_ms <= 0
        || c->transport->shutdown(c) != 0)
    {
        cairn__conn_close(c);
        return;
    }

    c->lingering = 1;
    c->state = CAIRN__CONN_CLOSING;
    cairn__worker_conn_idle(c->worker, &c->link, 0);
    c->in_start = c->in_end = 0;

    if (c->writing) {
        event_del(c->ev_write);
        c->writing = 0;
    }
    if (!c->reading) {
        event_add(c->ev_read, NULL);
        c->reading = 1;
    }

    conn_set_deadline(c, cairn_now_us()
                         + (uint64_t) core->lingering_timeout_ms * 1000);
}


static void
conn_set_deadline(cairn_conn_t *c, uint64_t at_us)
{
    struct timeval  tv;
    uint64_t        now, d;

    c->deadline_us = at_us;

    if (at_us == 0) {
        return;
    }

    if (c->timer_at_us != 0 && c->timer_at_us <= at_us) {
        /* The armed timer fires first and re-arms itself. */
        return;
    }

    now = cairn_now_us();
    d = at_us > now ? at_us - now : 0;
    tv.tv_sec = (time_t) (d / 1000000);
    tv.tv_usec = (suseconds_t) (d % 1000000);
    event_add(c->ev_timer, &tv);
    c->timer_at_us = at_us;
}


static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn_conn_t     *c = arg;
    cairn_conn_t     *outer;
    cairn_request_t  *r;
    uint64_t          now, at;

    cairn__time_update();
    c->timer_at_us = 0;
    now = cairn_now_us();

    if (c->deadline_us == 0) {
        return;
    }
    if (c->deadline_us > now) {
        at = c->deadline_us;
        conn_set_deadline(c, at);
        return;
    }

    cairn__conn_enter(c);
    outer = cairn__current_conn;
    cairn__current_conn = c;
    r = c->req;

    if (r == NULL) {
        /* Idle keep-alive connection, or nothing sent: close quietly. */
        cairn__conn_close(c);
    } else if (r->state == CAIRN__REQ_HEADERS
               || r->state == CAIRN__REQ_BODY)
    {
        cairn_log(r, CAIRN_LOG_INFO, 0, "client %s: %s timed out",
                  c->peer_text,
                  r->state == CAIRN__REQ_HEADERS ? "request header"
                                                 : "request body");
        r->keepalive = 0;
        cairn__response_reason(r, r->state == CAIRN__REQ_HEADERS
                                  ? "the request header did not arrive "
                                    "within RequestHeaderTimeout"
                                  : "the request body did not arrive "
                                    "within RequestBodyTimeout");
        if (r->method_name == NULL) {
            r->method_name = "-";
        }
        if (r->path == NULL) {
            r->path = "-";
        }
        c->in_start = c->in_end;
        event_del(c->ev_read);
        c->reading = 0;
        cairn__pipeline_event(r, CAIRN__EV_FAIL, 408);
    } else {
        /* Sending stalled past SendTimeout, or a streamed body past
         * RequestBodyTimeout. */
        cairn_log(r, CAIRN_LOG_INFO, 0, "client %s: %s timed out",
                  c->peer_text, r->body_cb != NULL && !r->body_done
                                ? "request body" : "send");
        cairn__conn_close(c);
    }

    cairn__current_conn = outer;
    cairn__conn_leave(c);
}


static void
conn_flush(cairn_conn_t *c)
{
    cairn_request_t  *r = c->req;
    int               n;
    size_t            before;

    while (evbuffer_get_length(c->out) > 0) {
        before = evbuffer_get_length(c->out);
        n = c->transport->send(c, c->out);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            cairn__conn_close(c);
            return;
        }
        if (r != NULL) {
            r->bytes_sent += before - evbuffer_get_length(c->out);
        }
        if (n == 0) {
            break;
        }
    }

    if (evbuffer_get_length(c->out) > 0) {
        if (!c->writing) {
            event_add(c->ev_write, NULL);
            c->writing = 1;
        }
        if (r != NULL) {
            conn_set_deadline(c, cairn_now_us()
                + (uint64_t) r->loc->core->send_timeout_ms * 1000);
        }
        return;
    }

    if (c->writing) {
        event_del(c->ev_write);
        c->writing = 0;
    }

    if (r != NULL && r->out_eos) {
        cairn__pipeline_event(r, CAIRN__EV_DRAINED, 0);
    } else if (r != NULL && r->drain_cb != NULL) {
        cairn__pipeline_event(r, CAIRN__EV_FLUSHED, 0);
    }
}


static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn_conn_t  *c = arg;
    cairn_conn_t  *outer = cairn__current_conn;

    cairn__time_update();
    cairn__conn_enter(c);
    cairn__current_conn = c;
    c->last_io_us = cairn_now_us();
    conn_flush(c);
    cairn__current_conn = outer;
    cairn__conn_leave(c);
}


/*
 * The request on c is finished and logged: decide whether the connection
 * lives on, then go on with any pipelined input.
 */
static void
conn_next(cairn_conn_t *c, int keepalive)
{
    const cairn__core_conf_t  *core = c->server->main_vhost->base.core;

    c->req = NULL;
    c->nrequests++;
    cairn__arena_reset(c->req_arena);

    if (c->closing) {
        cairn__conn_close(c);
        return;
    }

    if (!keepalive || c->worker->stopping || c->eof) {
        conn_linger(c);
        return;
    }

    if (c->discarding) {
        /* The rest of the finished request's body is still on its way:
         * it must arrive within LingeringTimeout. */
        c->state = CAIRN__CONN_ACTIVE;
        conn_set_deadline(c, cairn_now_us()
                             + (uint64_t) core->lingering_timeout_ms * 1000);
        if (!c->reading) {
            event_add(c->ev_read, NULL);
            c->reading = 1;
        }
        conn_process(c);
        return;
    }

    conn_idle(c);

    if (c->in_start == c->in_end) {
        c->in_start = c->in_end = 0;
        return;
    }

    conn_process(c);
}


/* Waits for the next request on a kept connection (KeepAliveTimeout). */
static void
conn_idle(cairn_conn_t *c)
{
    const cairn__core_conf_t  *core = c->server->main_vhost->base.core;

    c->state = CAIRN__CONN_IDLE;
    cairn__worker_conn_idle(c->worker, &c->link, 1);
    conn_set_deadline(c, cairn_now_us()
                         + (uint64_t) core->keepalive_timeout_ms * 1000);

    if (!c->reading) {
        event_add(c->ev_read, NULL);
        c->reading = 1;
    }
}


/* ------------------------------------------------------------------ */
/* llhttp callbacks                                                   */
/* ------------------------------------------------------------------ */

/*
 * old + at[len] as a new string of the arena, or NULL without the memory
 * (the request is answered 503: a client decides these sizes).
 */
static char *
http_append(cairn_arena_t *a, const char *old, size_t old_len,
            const char *at, size_t len)
{
    char  *s;

    s = cairn_arena_try_alloc(a, old_len + len + 1);
    if (s == NULL) {
        return NULL;
    }
    if (old_len > 0) {
        memcpy(s, old, old_len);
    }
    memcpy(s + old_len, at, len);
    s[old_len + len] = '\0';

    return s;
}


/*
 * Every callback first checks that the parser is where the connection
 * thinks it is: a request being read (HEADERS or BODY), or a body being
 * discarded.  A callback for anything else would write into a request
 * that is finished or recycled; it stops the parser instead (HPE_USER),
 * which ends the connection.
 */
static cairn_request_t *
http_req(llhttp_t *p)
{
    cairn_conn_t     *c = p->data;
    cairn_request_t  *r = c->req;

    if (c->discarding || r == NULL
        || (r->state != CAIRN__REQ_HEADERS && r->state != CAIRN__REQ_BODY
            && !(r->body_cb != NULL && r->body_reading && !r->body_done)))
    {
        return NULL;
    }

    return r;
}


/*
 * Whether the header block of r, up to end (in the input being parsed),
 * is over LimitRequestHeaderSize: then r is answered 431.  Counted on
 * the wire, from the request's first byte, whatever the fields are.
 */
static int
http_head_over(cairn_conn_t *c, cairn_request_t *r, const char *end)
{
    int64_t  limit = c->server->main_vhost->base.core
                         ->limit_request_header_size;

    if (limit > 0
        && (int64_t) (r->head_parsed + (size_t) (end - (c->in + c->in_start)))
           > limit)
    {
        r->error_status = 431;
        cairn__response_reasonf(r, "the header block is over "
                                "LimitRequestHeaderSize (%lld bytes)",
                                (long long) limit);
        return 1;
    }

    return 0;
}


static int
http_on_url(llhttp_t *p, const char *at, size_t len)
{
    cairn_conn_t     *c = p->data;
    cairn_request_t  *r = http_req(p);
    char             *s;

    if (r == NULL) {
        return -1;
    }
    if (r->method_name == NULL) {
        /* Known before the target: a crash record can name it. */
        r->method_name = llhttp_method_name((llhttp_method_t) p->method);
    }

    if (r->target_len + len > (size_t) c->server->main_vhost->base.core
                                           ->limit_request_line)
    {
        r->error_status = 414;
        cairn__response_reasonf(r, "the request target is over "
                                "LimitRequestLine (%d bytes)",
                                c->server->main_vhost->base.core
                                    ->limit_request_line);
        return -1;
    }
    if (http_head_over(c, r, at + len)) {
        return -1;
    }

    s = http_append(r->arena, r->target, r->target_len, at, len);
    if (s == NULL) {
        r->error_status = 503;
        cairn__response_reason(r, "the server is short of memory for this "
                                  "request; try again in a moment");
        return -1;
    }
    r->target = s;
    r->target_len += len;

    return 0;
}


static int
http_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    cairn_conn_t              *c = p->data;
    cairn_request_t           *r = http_req(p);
    const cairn__core_conf_t  *core = c->server->main_vhost->base.core;
    cairn__header_t           *h;
    char                      *s;

    if (p->flags & F_TRAILING) {
        return http_trailer(p, len);
    }
    if (r == NULL) {
        return -1;
    }

    if (r->headers.n == 0 || r->in_value) {
        if (core->limit_request_fields > 0
            && r->headers.n >= (size_t) core->limit_request_fields)
        {
            r->error_status = 431;
            cairn__response_reasonf(r, "the request has more than "
                                    "LimitRequestFields (%d) header fields",
                                    core->limit_request_fields);
            return -1;
        }
        cairn__headers_add(r->arena, &r->headers, "", 0, "");
        r->in_value = 0;
        r->value_split = 0;
        r->header_bytes = 0;
    }

    h = &r->headers.v[r->headers.n - 1];
    r->header_bytes += (unsigned) len;
    if (r->header_bytes > (unsigned) core->limit_request_field_size) {
        r->error_status = 431;
        cairn__response_reasonf(r, "a header field is over "
                                "LimitRequestFieldSize (%d bytes)",
                                core->limit_request_field_size);
        return -1;
    }
    if (http_head_over(c, r, at + len)) {
        return -1;
    }

    s = http_append(r->arena, h->name, h->name_len, at, len);
    if (s == NULL) {
        r->error_status = 503;
        cairn__response_reason(r, "the server is short of memory for this "
                                  "request; try again in a moment");
        return -1;
    }
    h->name = s;
    h->name_len += len;

    return 0;
}


/*
 * Whether the first span of a value, at, follows a line break instead
 * of the colon (spaces and tabs aside), as far as the input buffer still
 * holds what came before it.
 */
static int
http_after_fold(const cairn_conn_t *c, const char *at)
{
    const char  *q = at;

    while (q > c->in && (q[-1] == ' ' || q[-1] == '\t')) {
        q--;
    }

    return q > c->in && q[-1] == '\n';
}


static int
http_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    cairn_conn_t              *c = p->data;
    cairn_request_t           *r = http_req(p);
    const cairn__core_conf_t  *core = c->server->main_vhost->base.core;
    cairn__header_t           *h;
    size_t                     old;
    char                      *s;

    if (p->flags & F_TRAILING) {
        return http_trailer(p, len);
    }
    if (r == NULL || r->headers.n == 0) {
        return -1;
    }

    h = &r->headers.v[r->headers.n - 1];

    if (len > 0 && (at[0] == ' ' || at[0] == '\t')
        && !(r->value_split && at == c->in + c->in_start
             && c->in_last != '\n'))
    {
        /* Obsolete line folding: a line that starts with a space or a
         * tab continues the value.  llhttp accepts it even without
         * lenient flags, as a new span that starts at that space (the
         * first span of a value starts after its leading spaces, and one
         * that only goes on after the end of the input starts where the
         * new input does, unless the line break came alone in between).
         * RFC 9112 section 5.2 lets a server refuse
         * it, and intermediaries that unfold it differently make it a
         * smuggling vector. */
        llhttp_set_error_reason(p, "obsolete line folding");
        return -1;
    }
    if (len > 0 && h->value[0] == '\0' && http_after_fold(c, at)) {
        /* Folded into an empty value: llhttp skips the fold with the
         * leading spaces. */
        return -1;
    }
    r->value_split = at + len == c->in + c->in_end;

    r->header_bytes += (unsigned) len;
    if (r->header_bytes > (unsigned) core->limit_request_field_size) {
        r->error_status = 431;
        cairn__response_reasonf(r, "a header field is over "
                                "LimitRequestFieldSize (%d bytes)",
                                core->limit_request_field_size);
        return -1;
    }
    if (http_head_over(c, r, at + len)) {
        return -1;
    }

    old = strlen(h->value);
    s = http_append(r->arena, h->value, old, at, len);
    if (s == NULL) {
        r->error_status = 503;
        cairn__response_reason(r, "the server is short of memory for this "
                                  "request; try again in a moment");
        return -1;
    }
    h->value = s;

    return 0;
}


static int
http_on_header_field_complete(llhttp_t *p)
{
    cairn_request_t  *r = http_req(p);

    if (p->flags & F_TRAILING) {
        return 0;
    }
    if (r == NULL) {
        return -1;
    }

    if (r->headers.n == 0 || r->in_value
        || r->headers.v[r->headers.n - 1].name_len == 0)
    {
        /* No name before the colon (": value"): llhttp lets it through,
         * RFC 9110 requires a token. */
        llhttp_set_error_reason(p, "empty header name");
        return -1;
    }

    /* The name is complete: the next field callback starts a new header,
     * even when this one's value turns out empty. */
    r->in_value = 1;

    return 0;
}


static int
http_on_headers_complete(llhttp_t *p)
{
    cairn_request_t  *r = http_req(p);

    if (r == NULL) {
        return -1;
    }

    if (p->upgrade) {
        /* No protocol upgrades: answered as a plain request, then the
         * connection closes. */
        r->upgrade = 1;
    }

    /* With a body, pause: the phases up to FIXUPS run before the body is
     * read (a 401 or 413 needs no body).  Without one, the message
     * completes right away and pauses there. */
    if ((p->flags & F_CHUNKED)
        || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0))
    {
        return HPE_PAUSED;
    }

    return 0;
}


static void
http_body_free(void *data)
{
    cairn_request_t  *r = data;

    free(r->body);
    r->body = NULL;
    r->body_cap = 0;
}


/*
 * Makes room for need bytes of body: the declared length at once, a
 * chunked body by doubling.  -1 when memory is short; the client decides
 * this size, so it is a 503 and not a reason to spend the reserve.
 */
static int
http_body_grow(cairn_request_t *r, size_t need)
{
    size_t   cap;
    char    *b;

    /* Grown as the bytes come, so that a slow client costs what it sent,
     * up to the declared length. */
    cap = r->body_cap ? r->body_cap : HTTP_BODY_FIRST;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (r->content_length >= 0 && (uint64_t) r->content_length < SIZE_MAX
        && cap > (size_t) r->content_length + 1
        && need <= (size_t) r->content_length + 1)
    {
        cap = (size_t) r->content_length + 1;
    }

    b = realloc(r->body, cap);
    if (b == NULL) {
        return -1;
    }
    if (r->body == NULL) {
        cairn_arena_cleanup_add(r->arena, http_body_free, r);
    }
    r->body = b;
    r->body_cap = cap;

    return 0;
}


static int
http_on_body(llhttp_t *p, const char *at, size_t len)
{
    cairn_conn_t     *c = p->data;
    cairn_request_t  *r;
    int64_t           limit;

    if (c->discarding) {
        /* Read and dropped: the request it belonged to is answered. */
        if (c->discard_left >= 0) {
            if ((int64_t) len > c->discard_left) {
                return -1;
            }
            c->discard_left -= (int64_t) len;
        }
        return 0;
    }

    r = http_req(p);
    if (r == NULL || r->loc == NULL
        || (r->state != CAIRN__REQ_BODY && r->body_cb == NULL))
    {
        return -1;
    }
    limit = r->loc->core->limit_request_body;

    if (limit > 0 && (int64_t) (r->body_len + len) > limit) {
        r->error_status = 413;
        cairn__response_reasonf(r, "the body is over LimitRequestBody (%lld "
                                "bytes)", (long long) limit);
        return -1;
    }

    if (r->body_cb != NULL) {
        /* Streamed: counted (limit, rate), handed over, not kept. */
        r->body_len += len;
        conn_body_progress(r);
        cairn__pipeline_body_data(r, at, len);
        return c->closing ? -1 : 0;
    }

    if (r->body_cap - r->body_len < len + 1
        && http_body_grow(r, r->body_len + len + 1) != 0)
    {
        r->error_status = 503;
        cairn__response_reason(r, "the server is short of memory for this "
                                  "request; try again in a moment");
        return -1;
    }

    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    conn_body_progress(r);

    return 0;
}


/*
 * A field of the trailer section after a chunked body (llhttp calls the
 * header callbacks for it, with F_TRAILING set).  Trailers are read and
 * dropped, never merged into the request's headers: a trailer saying
 * Content-Length, Host or anything a handler or the access log reads
 * would come after the phases that checked those, and RFC 9110 section
 * 6.5.1 forbids merging fields that were not declared safe for it.  The
 * section is bounded like the header block, by LimitRequestHeaderSize
 * (400 past it).
 */
static int
http_trailer(llhttp_t *p, size_t len)
{
    cairn_conn_t  *c = p->data;
    int64_t        limit = c->server->main_vhost->base.core
                               ->limit_request_header_size;

    c->trailer_bytes += len;
    if (limit > 0 && c->trailer_bytes > (uint64_t) limit) {
        llhttp_set_error_reason(p, "trailer section too large");
        return -1;
    }

    return 0;
}


/* A chunk's size line is parsed: its extensions start counting anew. */
static int
http_on_chunk_header(llhttp_t *p)
{
    cairn_conn_t  *c = p->data;

    c->ext_bytes = 0;

    return 0;
}


/*
 * Chunk extensions (";name=value" after a chunk's size) mean nothing to
 * cairn and are dropped, but they are on the wire and in no body limit:
 * the extensions of one chunk are bounded like one header field, by
 * LimitRequestFieldSize (400 past it).
 */
static int
http_on_chunk_ext(llhttp_t *p, const char *at, size_t len)
{
    cairn_conn_t  *c = p->data;
    int64_t        limit = c->server->main_vhost->base.core
                               ->limit_request_field_size;

    (void) at;
    c->ext_bytes += len;
    if (limit > 0 && c->ext_bytes > (uint64_t) limit) {
        llhttp_set_error_reason(p, "chunk extensions too long");
        return -1;
    }

    return 0;
}


static int
http_on_message_complete(llhttp_t *p)
{
    cairn_conn_t     *c = p->data;
    cairn_request_t  *r;

    c->trailer_bytes = 0;
    c->ext_bytes = 0;

    if (c->discarding) {
        /* conn_parse() sees the pause and ends the discard. */
        return HPE_PAUSED;
    }

    r = http_req(p);
    if (r == NULL) {
        return -1;
    }

    r->body_done = 1;

    return HPE_PAUSED;
}


int
cairn__conn_hooks_run(cairn_conn_t *c, cairn_conn_hook_t which)
{
    const cairn__hook_list_t  *list;
    size_t                     i;
    int                        rc;

    list = &c->server->hooks->kind[CAIRN__HOOK_CONN_BASE + which];

    for (i = 0; i < list->n; i++) {
        cairn__log_module = list->v[i].module;
        rc = list->v[i].fn.conn(c);
        cairn__log_module = NULL;

        if (which == CAIRN_CONN_OPEN && rc != CAIRN_OK
            && rc != CAIRN_DECLINED)
        {
            return rc;
        }
    }

    return CAIRN_OK;
}


/* ------------------------------------------------------------------ */
/* Responses: HTTP/1.1 framing                                        */
/* ------------------------------------------------------------------ */


/* Headers the core writes itself; a module's copy is not sent. */
static int
http_is_core_header(const char *name, size_t len)
{
    switch (len) {
    case 4:
        return strcasecmp(name, "Date") == 0;
    case 10:
        return strcasecmp(name, "Connection") == 0
               || strcasecmp(name, "Keep-Alive") == 0;
    case 14:
        return strcasecmp(name, "Content-Length") == 0;
    case 17:
        return strcasecmp(name, "Transfer-Encoding") == 0;
    default:
        return 0;
    }
}


static char *
http_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}


/*
 * Formats the status line and headers of r into out; body_len is the
 * Content-Length to announce, or -1 for none (chunked or no body).
 */
static void
http_head(cairn_request_t *r, struct evbuffer *out, int64_t body_len,
              const void *inline_body, size_t inline_len)
{
    const cairn_kvv_t  *extra = &r->loc->core->headers;
    const char         *reason = cairn_status_reason(r->status);
    struct evbuffer_iovec  vec;
    size_t              need, i, k, rlen, tlen = 0;
    char                num[32];
    int                 numlen = 0;
    char               *p;

    rlen = strlen(reason);
    need = 9 + 4 + rlen + 2               /* status line */
           + 15                           /* Server: cairn */
           + 6 + 29 + 2                   /* Date */
           + 24                           /* Connection: keep-alive */
           + 28                           /* Transfer-Encoding */
           + 2 + inline_len;

    if (r->content_type != NULL) {
        tlen = strlen(r->content_type);
        need += 14 + tlen + 2;
    }
    if (body_len >= 0) {
        numlen = snprintf(num, sizeof(num), "%lld", (long long) body_len);
        need += 16 + (size_t) numlen + 2;
    }
    for (i = 0; i < r->out_headers.n; i++) {
        need += r->out_headers.v[i].name_len
                + strlen(r->out_headers.v[i].value) + 4;
    }
    for (i = 0; i < extra->n; i++) {
        need += strlen(extra->v[i].key) + strlen(extra->v[i].value) + 4;
    }

    if (evbuffer_reserve_space(out, (ev_ssize_t) need, &vec, 1) < 1) {
        cairn__oom(need);
    }
    p = vec.iov_base;

    p = http_put(p, "HTTP/1.1 ", 9);
    *p++ = (char) ('0' + r->status / 100 % 10);
    *p++ = (char) ('0' + r->status / 10 % 10);
    *p++ = (char) ('0' + r->status % 10);
    *p++ = ' ';
    p = http_put(p, reason, rlen);
    p = http_put(p, "\r\nServer: cairn\r\nDate: ", 23);
    p = http_put(p, cairn__date_now(), 29);
    p = http_put(p, "\r\n", 2);

    if (r->content_type != NULL) {
        p = http_put(p, "Content-Type: ", 14);
        p = http_put(p, r->content_type, tlen);
        p = http_put(p, "\r\n", 2);
    }
    if (body_len >= 0) {
        p = http_put(p, "Content-Length: ", 16);
        p = http_put(p, num, (size_t) numlen);
        p = http_put(p, "\r\n", 2);
    } else if (r->chunked_out) {
        p = http_put(p, "Transfer-Encoding: chunked\r\n", 28);
    }

    for (i = 0; i < r->out_headers.n; i++) {
        const cairn__header_t  *h = &r->out_headers.v[i];

        if (http_is_core_header(h->name, h->name_len)) {
            continue;
        }
        for (k = 0; k < extra->n; k++) {
            if (strcasecmp(extra->v[k].key, h->name) == 0) {
                break;
            }
        }
        if (k < extra->n) {
            /* The configured Header replaces the module's. */
            continue;
        }
        p = http_put(p, h->name, h->name_len);
        p = http_put(p, ": ", 2);
        p = http_put(p, h->value, strlen(h->value));
        p = http_put(p, "\r\n", 2);
    }

    for (i = 0; i < extra->n; i++) {
        p = http_put(p, extra->v[i].key, strlen(extra->v[i].key));
        p = http_put(p, ": ", 2);
        p = http_put(p, extra->v[i].value, strlen(extra->v[i].value));
        p = http_put(p, "\r\n", 2);
    }

    if (r->tunnel) {
        p = http_put(p, "Connection: upgrade\r\n", 21);
    } else if (!r->keepalive) {
        p = http_put(p, "Connection: close\r\n", 19);
    } else if (r->version == 10) {
        p = http_put(p, "Connection: keep-alive\r\n", 24);
    }

    p = http_put(p, "\r\n", 2);

    if (inline_len > 0) {
        p = http_put(p, inline_body, inline_len);
    }

    vec.iov_len = (size_t) (p - (char *) vec.iov_base);
    evbuffer_commit_space(out, &vec, 1);
    r->bytes_queued += vec.iov_len;
    r->head_bytes = vec.iov_len - inline_len;
    r->headers_sent = 1;
}


/* Whether the connection may stay open after r. */
static void
http_decide_keepalive(cairn_request_t *r)
{
    cairn_conn_t              *c = r->conn;
    const cairn__core_conf_t  *core = c->server->main_vhost->base.core;

    if (r->cancelled || c->worker->stopping
        || (core->max_keepalive_requests > 0
            && c->nrequests + 1 >= (unsigned) core->max_keepalive_requests))
    {
        r->keepalive = 0;
    }

    /* Answered before its body was read: the connection drops the rest
     * of the body, and stays only if that is cheap and safe. */
    if (!r->body_done && !conn_discard_body(r)) {
        r->keepalive = 0;
    }
}


/*
 * The end of the filter chain: the head on the first call, then the
 * body's buffers, framed for HTTP/1.1 (as they are under a
 * Content-Length, chunked without one).  A small body that arrives
 * whole with the head is copied behind it, so a typical response leaves
 * in one write; file ranges leave with sendfile(2).
 */
static int
http_write(cairn_request_t *r, cairn_buf_t *in)
{
    cairn_conn_t                  *c = r->conn;
    struct evbuffer_file_segment  *seg;
    cairn_buf_t                   *b;
    char                           size[24];
    int                            n, nobody;

    if (c->closing) {
        return CAIRN_ERROR;
    }

    if (!r->headers_sent) {
        http_decide_keepalive(r);

        nobody = r->status < 200 || r->status == 204 || r->status == 304;
        if (r->out_clen < 0 && !nobody) {
            /* No length: chunked, or (HTTP/1.0) the close ends it. */
            if (r->version >= 11) {
                r->chunked_out = 1;
            } else {
                r->keepalive = 0;
            }
        }

        if (in != NULL && in->next == NULL && (in->flags & CAIRN_BUF_LAST)
            && !r->out_header_only && !r->chunked_out && in->data != NULL
            && in->len <= HTTP_INLINE_BODY)
        {
            http_head(r, c->out, r->out_clen, in->data, in->len);
            r->out_eos = 1;
            conn_flush(c);
            return CAIRN_OK;
        }

        /* 1xx, 204 and 304 say nothing of a length; HEAD says what
         * GET would send. */
        http_head(r, c->out, nobody ? -1 : r->out_clen, NULL, 0);
    }

    for (b = in; b != NULL; b = b->next) {
        if (b->len > 0 && (!r->out_header_only || r->tunnel)) {
            if (r->chunked_out) {
                n = snprintf(size, sizeof(size), "%zx\r\n", b->len);
                evbuffer_add(c->out, size, (size_t) n);
                r->bytes_queued += (uint64_t) n;
                r->framing_bytes += (uint64_t) n;
            }
            if (b->data != NULL) {
                evbuffer_add(c->out, b->data, b->len);
            } else {
                /* The descriptor stays the response's (closed when it is
                 * finished); the segment only reads it. */
                seg = evbuffer_file_segment_new(b->fd, b->offset,
                                                (ev_off_t) b->len, 0);
                if (seg == NULL
                    || evbuffer_add_file_segment(c->out, seg, 0,
                                                 (ev_off_t) b->len) != 0)
                {
                    if (seg != NULL) {
                        evbuffer_file_segment_free(seg);
                    }
                    cairn_log(r, CAIRN_LOG_ERROR, 0, "cannot queue the "
                              "file body: closing the connection");
                    r->keepalive = 0;
                    c->closing = 1;
                    return CAIRN_ERROR;
                }
                evbuffer_file_segment_free(seg);
            }
            r->bytes_queued += b->len;
            if (r->chunked_out) {
                evbuffer_add(c->out, "\r\n", 2);
                r->bytes_queued += 2;
                r->framing_bytes += 2;
            }
        }

        if (b->flags & CAIRN_BUF_LAST) {
            if (r->chunked_out && !r->head && !r->out_aborted) {
                evbuffer_add(c->out, "0\r\n\r\n", 5);
                r->bytes_queued += 5;
                r->framing_bytes += 5;
            }
            r->out_eos = 1;
            break;
        }
    }

    conn_flush(c);

    return c->closing ? CAIRN_ERROR : CAIRN_OK;
}


static size_t
http_pending(const cairn_request_t *r)
{
    return evbuffer_get_length(r->conn->out);
}


/* The connection becomes a tunnel (cairn_response_tunnel): what the
 * client already sent goes over now, the rest as it is read. */
static void
http_tunnel(cairn_request_t *r)
{
    cairn_conn_t  *c = r->conn;

    if (!c->reading && !c->eof && !c->closing) {
        event_add(c->ev_read, NULL);
        c->reading = 1;
    }
    conn_process(c);
}


/*
 * The pipeline's done(): r is logged.  A body still being discarded
 * keeps the connection until it ends (conn_next); a body left unread
 * otherwise ends it.
 */
static void
http_done(cairn_request_t *r, int keepalive)
{
    cairn_conn_t  *c = r->conn;

    keepalive = keepalive && (r->body_done || c->discarding);

    conn_next(c, keepalive);
}
