/*
 * core/response.c: the response API (status, headers, a body in memory
 * or from a file) and the core's error pages.  Sending it is the
 * protocol's (http.c for HTTP/1.1).
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


static void response_set_body(cairn_request_t *r, const void *body,
                              size_t len);
static void response_error_body(cairn_request_t *r, int status,
                                const char *message);


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
(cairn_respond_error)(cairn_request_t *r, int status)
{
    cairn__response_error(r, status);

    return CAIRN_OK;
}


int
cairn_respond_error_message(cairn_request_t *r, int status,
                            const char *message)
{
    response_error_body(r, status, message);

    return CAIRN_OK;
}


int
cairn_respond_not_allowed(cairn_request_t *r, unsigned methods)
{
    cairn__response_allow(r, methods);
    response_error_body(r, 405, NULL);

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
cairn__response_error_page(cairn_request_t *r, int status)
{
    response_error_body(r, status, NULL);
}


/* The error page: the status as title and heading, then the message. */
static void
response_error_body(cairn_request_t *r, int status, const char *message)
{
    const char  *reason;
    char        *body;

    if (status < 100 || status > 999) {
        status = 500;
    }
    reason = cairn_status_reason(status);

    r->status = status;
    r->content_type = "text/html; charset=utf-8";

    body = cairn_arena_printf(r->arena,
        "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
        "<body><h1>%d %s</h1>%s%s%s</body></html>\n",
        status, reason, status, reason,
        message != NULL ? "<p>" : "",
        message != NULL ? cairn_arena_html_escape(r->arena, message) : "",
        message != NULL ? "</p>" : "");
    response_set_body(r, body, strlen(body));
}


void
cairn__response_error(cairn_request_t *r, int status)
{
    cairn__response_error_page(r, status);

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
