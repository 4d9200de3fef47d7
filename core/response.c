/*
 * core/response.c: building and queueing responses.
 *
 * The status line and headers are formatted straight into one reserved
 * region of the connection's output buffer, and a small body from memory
 * is copied behind them, so a typical response leaves in one writev(2)
 * with one iovec.  File bodies are queued as file segments and leave with
 * sendfile(2).
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arena_int.h"
#include "http_int.h"
#include "log_int.h"
#include "worker_int.h"


/* Bodies up to this size are copied into the head's region. */
#define RESPONSE_INLINE_BODY    16384

static int response_is_core_header(const char *name, size_t len);
static void response_set_body(cairn_request_t *r, const void *body,
                              size_t len);


int
cairn_respond(cairn_request_t *r, int status, const char *content_type,
              const void *body, size_t len)
{
    r->status = status;
    if (content_type != NULL) {
        r->content_type = content_type;
    }
    response_set_body(r, body, len);

    return CAIRN_OK;
}


int
cairn_respond_file(cairn_request_t *r, int status, const char *content_type,
                   int fd, off_t offset, off_t length)
{
    if (r->out_fd >= 0 && r->out_fd != fd) {
        close(r->out_fd);
    }

    r->status = status;
    if (content_type != NULL) {
        r->content_type = content_type;
    }
    r->body_kind = CAIRN__BODY_FILE;
    r->out_fd = fd;
    r->out_offset = offset;
    r->out_length = length;
    r->out_body = NULL;
    r->out_len = 0;

    return CAIRN_OK;
}


int
cairn_respond_error(cairn_request_t *r, int status)
{
    cairn__response_error(r, status);

    return CAIRN_OK;
}


static void
response_set_body(cairn_request_t *r, const void *body, size_t len)
{
    if (r->out_fd >= 0) {
        close(r->out_fd);
        r->out_fd = -1;
    }

    r->body_kind = CAIRN__BODY_MEMORY;
    r->out_body = body;
    r->out_len = body ? len : 0;
}


void
cairn__response_error(cairn_request_t *r, int status)
{
    const char  *reason = cairn_status_reason(status);
    char        *body;

    r->status = status;
    r->content_type = "text/html; charset=utf-8";

    body = cairn_arena_printf(r->arena,
        "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
        "<body><h1>%d %s</h1></body></html>\n",
        status, reason, status, reason);
    response_set_body(r, body, strlen(body));

    cairn_response_header_unset(r, "Content-Range");
    cairn_response_header_unset(r, "ETag");
    cairn_response_header_unset(r, "Last-Modified");
}


void
cairn__response_allow(cairn_request_t *r, unsigned mask)
{
    char    buf[128];
    size_t  n = 0;
    int     m;

    if (mask & CAIRN_M(CAIRN_METHOD_GET)) {
        mask |= CAIRN_M(CAIRN_METHOD_HEAD);
    }

    buf[0] = '\0';
    for (m = CAIRN_METHOD_GET; m <= CAIRN_METHOD_CONNECT; m++) {
        if (mask & CAIRN_M(m)) {
            n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s",
                                   n ? ", " : "",
                                   cairn_method_name((cairn_method_t) m));
        }
    }

    cairn_response_header_set(r, "Allow", buf);
}


int
cairn_response_status(const cairn_request_t *r)
{
    return r->status;
}


void
cairn_response_set_status(cairn_request_t *r, int status)
{
    r->status = status;
}


void
cairn_response_header_set(cairn_request_t *r, const char *name,
                          const char *value)
{
    size_t  i, len = strlen(name);

    if (len == 12 && strcasecmp(name, "Content-Type") == 0) {
        r->content_type = cairn_arena_strdup(r->arena, value);
        return;
    }

    for (i = 0; i < r->out_headers.n; i++) {
        if (r->out_headers.v[i].name_len == len
            && strcasecmp(r->out_headers.v[i].name, name) == 0)
        {
            r->out_headers.v[i].value = cairn_arena_strdup(r->arena, value);
            return;
        }
    }

    cairn__headers_add(r->arena, &r->out_headers,
                       cairn_arena_strndup(r->arena, name, len), len,
                       cairn_arena_strdup(r->arena, value));
}


void
cairn_response_header_add(cairn_request_t *r, const char *name,
                          const char *value)
{
    size_t  len = strlen(name);

    if (len == 12 && strcasecmp(name, "Content-Type") == 0) {
        r->content_type = cairn_arena_strdup(r->arena, value);
        return;
    }

    cairn__headers_add(r->arena, &r->out_headers,
                       cairn_arena_strndup(r->arena, name, len), len,
                       cairn_arena_strdup(r->arena, value));
}


const char *
cairn_response_header(const cairn_request_t *r, const char *name)
{
    if (strcasecmp(name, "Content-Type") == 0) {
        return r->content_type;
    }

    return cairn__headers_get(&r->out_headers, name);
}


void
cairn_response_header_unset(cairn_request_t *r, const char *name)
{
    size_t  i, j, len = strlen(name);

    if (len == 12 && strcasecmp(name, "Content-Type") == 0) {
        r->content_type = NULL;
        return;
    }

    for (i = 0, j = 0; i < r->out_headers.n; i++) {
        if (r->out_headers.v[i].name_len == len
            && strcasecmp(r->out_headers.v[i].name, name) == 0)
        {
            continue;
        }
        r->out_headers.v[j++] = r->out_headers.v[i];
    }
    r->out_headers.n = j;
}


const void *
cairn_response_body(const cairn_request_t *r, size_t *len)
{
    if (r->body_kind != CAIRN__BODY_MEMORY) {
        *len = 0;
        return NULL;
    }

    *len = r->out_len;

    return r->out_body;
}


void
cairn_response_set_body(cairn_request_t *r, const void *body, size_t len)
{
    response_set_body(r, body, len);
}


uint64_t
cairn_response_bytes_sent(const cairn_request_t *r)
{
    return r->bytes_sent;
}


uint64_t
cairn_response_body_bytes_sent(const cairn_request_t *r)
{
    uint64_t  body, queued;

    if (r->bytes_sent <= r->head_bytes) {
        return 0;
    }

    body = r->bytes_sent - r->head_bytes;
    body = body > r->framing_bytes ? body - r->framing_bytes : 0;
    queued = r->bytes_queued - r->head_bytes - r->framing_bytes;

    return body < queued ? body : queued;
}


/* Headers the core writes itself; a module's copy is not sent. */
static int
response_is_core_header(const char *name, size_t len)
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
response_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}


/*
 * Formats the status line and headers of r into out; body_len is the
 * Content-Length to announce, or -1 for none (chunked or no body).
 */
static void
response_head(cairn_request_t *r, struct evbuffer *out, int64_t body_len,
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

    p = response_put(p, "HTTP/1.1 ", 9);
    *p++ = (char) ('0' + r->status / 100 % 10);
    *p++ = (char) ('0' + r->status / 10 % 10);
    *p++ = (char) ('0' + r->status % 10);
    *p++ = ' ';
    p = response_put(p, reason, rlen);
    p = response_put(p, "\r\nServer: cairn\r\nDate: ", 23);
    p = response_put(p, cairn__date_now(), 29);
    p = response_put(p, "\r\n", 2);

    if (r->content_type != NULL) {
        p = response_put(p, "Content-Type: ", 14);
        p = response_put(p, r->content_type, tlen);
        p = response_put(p, "\r\n", 2);
    }
    if (body_len >= 0) {
        p = response_put(p, "Content-Length: ", 16);
        p = response_put(p, num, (size_t) numlen);
        p = response_put(p, "\r\n", 2);
    } else if (r->chunked_out) {
        p = response_put(p, "Transfer-Encoding: chunked\r\n", 28);
    }

    for (i = 0; i < r->out_headers.n; i++) {
        const cairn__header_t  *h = &r->out_headers.v[i];

        if (response_is_core_header(h->name, h->name_len)) {
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
        p = response_put(p, h->name, h->name_len);
        p = response_put(p, ": ", 2);
        p = response_put(p, h->value, strlen(h->value));
        p = response_put(p, "\r\n", 2);
    }

    for (i = 0; i < extra->n; i++) {
        p = response_put(p, extra->v[i].key, strlen(extra->v[i].key));
        p = response_put(p, ": ", 2);
        p = response_put(p, extra->v[i].value, strlen(extra->v[i].value));
        p = response_put(p, "\r\n", 2);
    }

    if (!r->keepalive) {
        p = response_put(p, "Connection: close\r\n", 19);
    } else if (r->version == 10) {
        p = response_put(p, "Connection: keep-alive\r\n", 24);
    }

    p = response_put(p, "\r\n", 2);

    if (inline_len > 0) {
        p = response_put(p, inline_body, inline_len);
    }

    vec.iov_len = (size_t) (p - (char *) vec.iov_base);
    evbuffer_commit_space(out, &vec, 1);
    r->bytes_queued += vec.iov_len;
    r->head_bytes = vec.iov_len - inline_len;
    r->headers_sent = 1;
}


/* Whether the connection may stay open after r. */
static void
response_decide_keepalive(cairn_request_t *r)
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
    if (!r->body_done && !cairn__conn_discard_body(r)) {
        r->keepalive = 0;
    }
}


void
cairn__response_queue(cairn_request_t *r)
{
    cairn_conn_t  *c = r->conn;
    int            nobody;
    int64_t        len;

    if (r->status == 0) {
        cairn_log(r, CAIRN_LOG_ERROR, 0, "the handler answered without a "
                  "status: sending 500");
        cairn__response_error(r, 500);
    }

    response_decide_keepalive(r);

    nobody = r->status < 200 || r->status == 204 || r->status == 304;

    if (nobody) {
        len = -1;
    } else if (r->body_kind == CAIRN__BODY_FILE) {
        len = (int64_t) r->out_length;
    } else {
        len = (int64_t) r->out_len;
    }

    if (nobody || r->head) {
        response_head(r, c->out, len, NULL, 0);
    } else if (r->body_kind == CAIRN__BODY_FILE) {
        response_head(r, c->out, len, NULL, 0);
        if (r->out_length > 0) {
            /* libevent owns the descriptor from here on. */
            if (evbuffer_add_file(c->out, r->out_fd, r->out_offset,
                                  r->out_length) != 0)
            {
                cairn_log(r, CAIRN_LOG_ERROR, 0, "cannot queue the file "
                          "body: closing the connection");
                r->keepalive = 0;
                c->closing = 1;
            } else {
                r->out_fd = -1;
            }
            r->bytes_queued += (uint64_t) r->out_length;
        }
    } else if (r->out_len <= RESPONSE_INLINE_BODY) {
        response_head(r, c->out, len, r->out_body, r->out_len);
    } else {
        response_head(r, c->out, len, NULL, 0);
        evbuffer_add(c->out, r->out_body, r->out_len);
        r->bytes_queued += r->out_len;
    }

    r->state = CAIRN__REQ_SENDING;
    cairn__conn_flush(c);
}


/* ------------------------------------------------------------------ */
/* Streaming                                                          */
/* ------------------------------------------------------------------ */

int
cairn_response_stream_start(cairn_request_t *r, int status)
{
    if (r->headers_sent || r->cancelled) {
        return CAIRN_ERROR;
    }

    r->status = status;
    r->body_kind = CAIRN__BODY_STREAM;
    response_decide_keepalive(r);

    if (cairn__headers_get(&r->out_headers, "Content-Length") != NULL) {
        /* The handler knows the length: send it as it is. */
        const char  *cl = cairn__headers_get(&r->out_headers,
                                             "Content-Length");

        r->state = CAIRN__REQ_STREAMING;
        response_head(r, r->conn->out, strtoll(cl, NULL, 10), NULL, 0);
    } else {
        if (r->version >= 11) {
            r->chunked_out = 1;
        } else {
            r->keepalive = 0;
        }
        r->state = CAIRN__REQ_STREAMING;
        response_head(r, r->conn->out, -1, NULL, 0);
    }

    cairn__conn_flush(r->conn);

    return r->conn->closing ? CAIRN_ERROR : CAIRN_OK;
}


int
cairn_response_stream_write(cairn_request_t *r, const void *data, size_t len)
{
    struct evbuffer  *out = r->conn->out;
    char              size[24];
    int               n;

    if (r->state != CAIRN__REQ_STREAMING || r->cancelled
        || r->conn->closing)
    {
        return CAIRN_ERROR;
    }
    if (r->head || len == 0) {
        return CAIRN_OK;
    }

    if (r->chunked_out) {
        n = snprintf(size, sizeof(size), "%zx\r\n", len);
        evbuffer_add(out, size, (size_t) n);
        evbuffer_add(out, data, len);
        evbuffer_add(out, "\r\n", 2);
        r->bytes_queued += (uint64_t) n + len + 2;
        r->framing_bytes += (uint64_t) n + 2;
    } else {
        evbuffer_add(out, data, len);
        r->bytes_queued += len;
    }

    cairn__conn_flush(r->conn);

    return r->conn->closing ? CAIRN_ERROR : CAIRN_OK;
}


int
cairn_response_stream_end(cairn_request_t *r)
{
    if (r->state != CAIRN__REQ_STREAMING) {
        return CAIRN_ERROR;
    }

    if (r->chunked_out && !r->head) {
        evbuffer_add(r->conn->out, "0\r\n\r\n", 5);
        r->bytes_queued += 5;
        r->framing_bytes += 5;
    }

    r->state = CAIRN__REQ_SENDING;
    cairn__conn_flush(r->conn);

    return CAIRN_OK;
}


size_t
cairn_response_stream_pending(const cairn_request_t *r)
{
    return evbuffer_get_length(r->conn->out);
}


void
cairn__stream_drained(cairn_request_t *r)
{
    /* Nothing waits on this yet; streaming modules poll
     * cairn_response_stream_pending() for flow control. */
    (void) r;
}
