/*
 * core/filter.c: output filters (filter.h): the header filter chain, the
 * body filter chain, and the hand-over to the protocol's writer.
 *
 * The header filters run once per response, when its head is about to
 * leave; each says whether its body filter takes part.  The body filters
 * that do form the chain for this response (r->out_filters, one slot per
 * registered body filter, in the sorted order); cairn_filter_next()
 * finds the next slot that takes part, or, past the last one, gives the
 * buffers to the protocol (r->conn->proto->write), which frames and
 * writes them.  Responses without a body (HEAD, 1xx, 204, 304) skip the
 * body filters.
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena_int.h"
#include "hooks_int.h"
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "worker_int.h"


struct cairn_filter_s {
    const cairn__hook_t     *hook;
    size_t                   index;
    unsigned                 active:1;
};

static void output_start(cairn_request_t *r);
static void output_range(cairn_request_t *r);
static int output_body(cairn_request_t *r, cairn_buf_t *in);
static int output_write(cairn_request_t *r, cairn_buf_t *in);
static int output_call(cairn_request_t *r, struct cairn_filter_s *f,
                       cairn_buf_t *in);


/*
 * The head is about to leave: the length the body has so far, then the
 * header filters, which may change the status, the headers and the
 * length, and say whether they see the body.
 */
static void
output_start(cairn_request_t *r)
{
    const cairn__hook_list_t  *hl, *bl;
    const char                *cl;
    size_t                     i, j;
    int                        rc;

    if (r->out_started) {
        return;
    }
    r->out_started = 1;

    switch (r->body_kind) {
    case CAIRN__BODY_FILE:
        r->out_clen = (int64_t) r->out_length;
        break;
    case CAIRN__BODY_STREAM:
        cl = cairn__headers_get(&r->out_headers, "Content-Length");
        r->out_clen = cl != NULL ? strtoll(cl, NULL, 10) : -1;
        break;
    default:
        r->out_clen = (int64_t) r->out_len;
        break;
    }

    hl = &r->server->hooks->kind[CAIRN__HOOK_HEADER_FILTER];
    bl = &r->server->hooks->kind[CAIRN__HOOK_BODY_FILTER];

    if (bl->n > 0) {
        r->out_filters = cairn_arena_calloc(r->arena,
                                            bl->n * sizeof(*r->out_filters));
        for (j = 0; j < bl->n; j++) {
            r->out_filters[j].hook = &bl->v[j];
            r->out_filters[j].index = j;
        }
    }

    for (i = 0; i < hl->n; i++) {
        cairn__log_module = hl->v[i].module;
        cairn__current_request = r;
        rc = hl->v[i].fn.header(r);
        cairn__current_request = NULL;
        cairn__log_module = NULL;

        if (rc != CAIRN_OK && rc != CAIRN_DECLINED) {
            cairn_log(r, CAIRN_LOG_ERROR, 0, "mod_%s: its header filter "
                      "returned %d: it stays out of this response",
                      hl->v[i].module->name, rc);
            rc = CAIRN_DECLINED;
        }

        /* Its body filter, if it has one, takes part when it said OK. */
        for (j = 0; j < bl->n; j++) {
            if (bl->v[j].module == hl->v[i].module) {
                r->out_filters[j].active = rc == CAIRN_OK;
            }
        }
    }

    /* A module with a body filter and no header filter sees every body. */
    for (j = 0; j < bl->n; j++) {
        for (i = 0; i < hl->n; i++) {
            if (hl->v[i].module == bl->v[j].module) {
                break;
            }
        }
        if (i == hl->n) {
            r->out_filters[j].active = 1;
        }
    }

    output_range(r);

    r->out_header_only = r->head || r->status < 200 || r->status == 204
                         || r->status == 304;
}


/*
 * A Range on a 200 whose handler said "Accept-Ranges: bytes" (and no
 * filter took it back), with a known length: 206 with the one range
 * (the body is cut at the end of the chain, output_write), or 416 with
 * the error page and a Content-Range of the form "bytes *" "/length".
 * An If-Range that no longer holds, several ranges or a malformed
 * header: the whole body.
 */
static void
output_range(cairn_request_t *r)
{
    const char  *range, *accept, *if_range;
    off_t        start, len;
    int          rc;
    char         buf[80];

    if (r->status != 200 || r->out_clen < 0
        || (r->method != CAIRN_METHOD_GET && r->method != CAIRN_METHOD_HEAD))
    {
        return;
    }

    range = cairn__headers_get(&r->headers, "Range");
    accept = cairn__headers_get(&r->out_headers, "Accept-Ranges");
    if (range == NULL || accept == NULL || strcasecmp(accept, "bytes") != 0) {
        return;
    }

    if_range = cairn__headers_get(&r->headers, "If-Range");
    if (if_range != NULL
        && !cairn__range_if(if_range,
                            cairn__headers_get(&r->out_headers, "ETag"),
                            cairn__headers_get(&r->out_headers,
                                               "Last-Modified")))
    {
        return;
    }

    rc = cairn__range_parse(range, (off_t) r->out_clen, &start, &len);
    if (rc == 0) {
        return;
    }

    if (rc < 0) {
        snprintf(buf, sizeof(buf), "bytes */%lld", (long long) r->out_clen);
        cairn__response_reasonf(r, "the range starts past the end of the "
                                "body (%lld bytes long)",
                                (long long) r->out_clen);
        cairn__response_error_page(r, 416);
        cairn_response_header_set(r, "Content-Range", buf);
        r->out_clen = (int64_t) r->out_len;
        return;
    }

    snprintf(buf, sizeof(buf), "bytes %lld-%lld/%lld", (long long) start,
             (long long) (start + len - 1), (long long) r->out_clen);
    cairn_response_header_set(r, "Content-Range", buf);
    r->status = 206;
    r->out_range = 1;
    r->out_range_start = start;
    r->out_range_len = len;
    r->out_clen = (int64_t) len;
}


int
cairn__output_send(cairn_request_t *r)
{
    cairn_buf_t  *b;

    output_start(r);

    b = cairn_arena_calloc(r->arena, sizeof(*b));
    b->fd = -1;
    b->flags = CAIRN_BUF_LAST;

    if (!r->out_header_only) {
        if (r->body_kind == CAIRN__BODY_FILE && r->out_length > 0) {
            b->fd = r->out_fd;
            b->offset = r->out_offset;
            b->len = (size_t) r->out_length;
        } else if (r->body_kind == CAIRN__BODY_MEMORY && r->out_len > 0) {
            b->data = r->out_body;
            b->len = r->out_len;
        }
    }

    return output_body(r, b);
}


int
cairn__output_stream_head(cairn_request_t *r)
{
    output_start(r);

    return r->conn->proto->write(r, NULL);
}


int
cairn__output_stream_data(cairn_request_t *r, const void *data, size_t len)
{
    if (len == 0 || r->out_header_only) {
        return r->conn->closing ? CAIRN_ERROR : CAIRN_OK;
    }

    return output_body(r, cairn_buf_memory(r, data, len));
}


int
cairn__output_stream_end(cairn_request_t *r)
{
    cairn_buf_t  *b;

    b = cairn_buf_memory(r, NULL, 0);
    b->flags = CAIRN_BUF_LAST;

    return output_body(r, b);
}


/* Buffers of the body enter the chain (none for a header-only
 * response: the protocol writes the head and the end). */
static int
output_body(cairn_request_t *r, cairn_buf_t *in)
{
    size_t  n = r->server->hooks->kind[CAIRN__HOOK_BODY_FILTER].n;
    size_t  j;

    if (!r->out_header_only) {
        for (j = 0; j < n; j++) {
            if (r->out_filters[j].active) {
                return output_call(r, &r->out_filters[j], in);
            }
        }
    }

    return output_write(r, in);
}


/*
 * Past the last filter: a 206 keeps only its range of the body (file
 * ranges stay file ranges), then the protocol writes.
 */
static int
output_write(cairn_request_t *r, cairn_buf_t *in)
{
    cairn_buf_t  *b;
    off_t         from, to, pos, end, cut;

    if (!r->out_range || r->out_header_only) {
        return r->conn->proto->write(r, in);
    }

    from = r->out_range_start;
    to = from + r->out_range_len;

    for (b = in; b != NULL; b = b->next) {
        pos = r->out_range_pos;
        end = pos + (off_t) b->len;
        r->out_range_pos = end;

        if (end <= from || pos >= to) {
            b->len = 0;
            continue;
        }
        cut = from > pos ? from - pos : 0;
        if (b->data != NULL) {
            b->data = (const char *) b->data + cut;
        } else {
            b->offset += cut;
        }
        b->len = (size_t) ((end < to ? end : to) - (pos + cut));
    }

    return r->conn->proto->write(r, in);
}


static int
output_call(cairn_request_t *r, struct cairn_filter_s *f, cairn_buf_t *in)
{
    const cairn_module_t  *outer_module = cairn__log_module;
    cairn_request_t       *outer_request = cairn__current_request;
    int                    rc;

    cairn__log_module = f->hook->module;
    cairn__current_request = r;
    rc = f->hook->fn.body(r, f, in);
    cairn__current_request = outer_request;
    cairn__log_module = (cairn_module_t *) outer_module;

    return rc;
}


int
cairn_filter_next(cairn_request_t *r, cairn_filter_t *f, cairn_buf_t *in)
{
    size_t  n = r->server->hooks->kind[CAIRN__HOOK_BODY_FILTER].n;
    size_t  j;

    if (r->conn->closing || r->cancelled) {
        return CAIRN_ERROR;
    }
    if (in == NULL) {
        return CAIRN_OK;
    }

    for (j = f->index + 1; j < n; j++) {
        if (r->out_filters[j].active) {
            return output_call(r, &r->out_filters[j], in);
        }
    }

    return output_write(r, in);
}


/* ------------------------------------------------------------------ */
/* Buffers                                                            */
/* ------------------------------------------------------------------ */

cairn_buf_t *
cairn_buf_memory(cairn_request_t *r, const void *data, size_t len)
{
    cairn_buf_t  *b;

    b = cairn_arena_calloc(r->arena, sizeof(*b));
    b->data = data;
    b->len = data != NULL ? len : 0;
    b->fd = -1;

    return b;
}


int
cairn_buf_read(cairn_request_t *r, cairn_buf_t *b, size_t max)
{
    cairn_buf_t  *rest;
    char         *p;
    size_t        want, got;
    ssize_t       n;

    if (b->data != NULL || b->fd < 0 || b->len == 0) {
        return CAIRN_OK;
    }
    if (max == 0) {
        max = 65536;
    }

    want = b->len < max ? b->len : max;
    p = cairn_arena_alloc(r->arena, want);

    for (got = 0; got < want; ) {
        n = pread(b->fd, p + got, want - got, b->offset + (off_t) got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            cairn_log(r, n < 0 ? CAIRN_LOG_ERROR : CAIRN_LOG_WARN,
                      n < 0 ? errno : 0, "cannot read the file body for "
                      "a filter%s", n == 0 ? ": the file shrank" : "");
            return CAIRN_ERROR;
        }
        got += (size_t) n;
    }

    if (want < b->len) {
        rest = cairn_arena_calloc(r->arena, sizeof(*rest));
        rest->fd = b->fd;
        rest->offset = b->offset + (off_t) want;
        rest->len = b->len - want;
        rest->flags = b->flags;
        rest->next = b->next;
        b->next = rest;
        b->flags = 0;
    }

    b->data = p;
    b->len = want;
    b->fd = -1;
    b->offset = 0;

    return CAIRN_OK;
}


int64_t
cairn_response_length(const cairn_request_t *r)
{
    return r->out_started ? r->out_clen : -1;
}


void
cairn_response_clear_length(cairn_request_t *r)
{
    r->out_clen = -1;
}
