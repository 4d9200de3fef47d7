/*
 * core/response.c: the response API (status, headers, a body in memory
 * or from a file) and the core's error pages.  Sending it is the
 * protocol's (http.c for HTTP/1.1).
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cairn/encode.h>

#include "arena_int.h"
#include "hooks_int.h"
#include "http_int.h"
#include "log_int.h"
#include "worker_int.h"


typedef enum {
    RESPONSE_PAGE_HTML = 0,
    RESPONSE_PAGE_JSON,
    RESPONSE_PAGE_TEXT
} response_page_t;


static void response_set_body(cairn_request_t *r, const void *body,
                              size_t len);
static void response_error_body(cairn_request_t *r, int status,
                                const char *message);
static const char *response_cut(char *buf);
static const char *response_default_reason(int status);
static response_page_t response_page_kind(const cairn_request_t *r);
static void response_error_fixed(cairn_request_t *r);
static int response_error_hooks(cairn_request_t *r, int status,
                                const char *why);


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
    r->error_page = 0;
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
    cairn__response_reasonf(r, "the method %s is not allowed on %s",
                            r->method_name, r->path);
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
    r->error_page = 0;
    r->out_body = body;
    r->out_len = body ? len : 0;
}


void
cairn__response_error_page(cairn_request_t *r, int status)
{
    response_error_body(r, status, NULL);
}


void
cairn__response_reason(cairn_request_t *r, const char *reason)
{
    r->error_reason = reason;
}


void
cairn__response_reasonf(cairn_request_t *r, const char *fmt, ...)
{
    va_list  ap;
    char     buf[CAIRN__REASON_MAX + 1];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    r->error_reason = cairn_arena_strdup(r->arena, response_cut(buf));
}


int
cairn_respond_errorf(cairn_request_t *r, int status, const char *fmt, ...)
{
    va_list  ap;
    char     buf[CAIRN__REASON_MAX + 1];

    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        r->error_reason = cairn_arena_strdup(r->arena, response_cut(buf));
    } else {
        r->error_reason = NULL;
    }
    response_error_body(r, status, NULL);

    return CAIRN_OK;
}


/*
 * A reason cut at CAIRN__REASON_MAX bytes by vsnprintf() may end inside
 * a UTF-8 sequence: drop the bytes of that sequence, so that the page
 * (and the JSON of a REST envelope) stays valid text.
 */
static const char *
response_cut(char *buf)
{
    size_t  len = strlen(buf), i;

    if (len < CAIRN__REASON_MAX) {
        return buf;
    }

    i = len;
    while (i > 0 && ((unsigned char) buf[i - 1] & 0xc0) == 0x80) {
        i--;
    }
    if (i > 0 && ((unsigned char) buf[i - 1] & 0x80)
        && cairn_utf8_seq(buf + i - 1, len - (i - 1)) != len - (i - 1))
    {
        buf[i - 1] = '\0';
    }

    return buf;
}


/* What the core says when nobody said why. */
static const char *
response_default_reason(int status)
{
    switch (status) {
    case 400: return "the request is malformed";
    case 401: return "authentication is required to reach this resource";
    case 403: return "access to this resource is denied";
    case 404: return "nothing is served at this path";
    case 405: return "the method is not allowed on this resource";
    case 408: return "the request did not arrive in time";
    case 413: return "the request body is too large";
    case 500: return "the server failed to answer this request";
    case 502: return "the upstream server sent no valid answer";
    case 503: return "the service is unavailable for now; try again later";
    case 504: return "the upstream server did not answer in time";
    default:  return NULL;
    }
}


/*
 * Which kind of page the client gets: JSON when its Accept gives
 * application/json more weight than text/html, plain text when it gives
 * text/plain more than both, HTML otherwise (no Accept, a wildcard, a
 * browser).
 */
static response_page_t
response_page_kind(const cairn_request_t *r)
{
    const char  *accept;
    int          html, json, text;

    accept = cairn__headers_find(&r->headers, "Accept", 6);
    if (accept == NULL) {
        return RESPONSE_PAGE_HTML;
    }

    html = cairn_accept_q(accept, "text/html");
    json = cairn_accept_q(accept, "application/json");
    text = cairn_accept_q(accept, "text/plain");

    if (json > 0 && json > html) {
        return RESPONSE_PAGE_JSON;
    }
    if (text > 0 && text > html && text > json) {
        return RESPONSE_PAGE_TEXT;
    }

    return RESPONSE_PAGE_HTML;
}


/*
 * Out of memory: a page chosen among fixed strings, with nothing
 * allocated (the worker is shedding load, worker.c).
 */
static void
response_error_fixed(cairn_request_t *r)
{
    static const char  html[] =
        "<!DOCTYPE html>\n<html><head><title>503 Service Unavailable"
        "</title></head><body><h1>503 Service Unavailable</h1>"
        "<p>the server is short of memory; try again in a moment</p>"
        "</body></html>\n";
    static const char  json[] =
        "{\"code\":503,\"message\":\"the server is short of memory; try "
        "again in a moment\"}\n";
    static const char  text[] =
        "503 Service Unavailable: the server is short of memory; try again "
        "in a moment\n";

    r->status = 503;
    switch (response_page_kind(r)) {
    case RESPONSE_PAGE_JSON:
        r->content_type = "application/json";
        response_set_body(r, json, sizeof(json) - 1);
        break;
    case RESPONSE_PAGE_TEXT:
        r->content_type = "text/plain; charset=utf-8";
        response_set_body(r, text, sizeof(text) - 1);
        break;
    default:
        r->content_type = "text/html; charset=utf-8";
        response_set_body(r, html, sizeof(html) - 1);
        break;
    }
    r->error_page = 1;
}


/*
 * The ERROR_PAGE hooks (ABI 1.6): the first that answers CAIRN_OK has
 * written the page itself (mod_rest's envelope).  Returns 1 then.
 */
static int
response_error_hooks(cairn_request_t *r, int status, const char *why)
{
    const cairn__hook_list_t  *list;
    const cairn_module_t      *outer;
    size_t                     i;
    int                        rc = CAIRN_DECLINED;

    if (r->error_hooks || r->server == NULL || r->server->hooks == NULL) {
        return 0;
    }

    list = &r->server->hooks->kind[CAIRN__HOOK_ERROR_PAGE];
    outer = cairn__log_module;
    r->error_hooks = 1;
    for (i = 0; i < list->n && rc != CAIRN_OK; i++) {
        cairn__log_module = list->v[i].module;
        rc = list->v[i].fn.error(r, status, why);
    }
    r->error_hooks = 0;
    cairn__log_module = outer;

    if (rc == CAIRN_OK) {
        r->status = status;
        r->error_page = 0;
        return 1;
    }

    return 0;
}


/*
 * The error page: the status and the sentence that says why, as HTML
 * (title, heading, the sentence escaped), JSON ({"code", "message"}) or
 * plain text as the client's Accept prefers; a module's ERROR_PAGE hook
 * may write it instead.  The sentence is bounded (CAIRN__REASON_MAX),
 * so the page is too.
 */
static void
response_error_body(cairn_request_t *r, int status, const char *message)
{
    const char  *title, *why, *vary;
    char        *body, *esc;
    size_t       len;

    if (status < 100 || status > 999) {
        status = 500;
    }

    if (r->error_fixed) {
        response_error_fixed(r);
        return;
    }

    if (message != NULL) {
        /* The caller's string may not outlive its call: copied, and cut
         * to the bound of every sentence. */
        len = strlen(message);
        esc = cairn_arena_strndup(r->arena, message,
                                  len > CAIRN__REASON_MAX ? CAIRN__REASON_MAX
                                                          : len);
        r->error_reason = len > CAIRN__REASON_MAX ? response_cut(esc) : esc;
    }

    title = cairn_status_reason(status);
    why = r->error_reason != NULL ? r->error_reason
                                  : response_default_reason(status);

    r->status = status;

    vary = cairn__headers_get(&r->out_headers, "Vary");
    if (vary == NULL) {
        cairn_response_header_set(r, "Vary", "Accept");
    }

    if (response_error_hooks(r, status, why)) {
        return;
    }

    switch (response_page_kind(r)) {

    case RESPONSE_PAGE_JSON:
        len = why != NULL ? strlen(why) : strlen(title);
        esc = cairn_arena_alloc(r->arena, CAIRN_JSON_ESCAPED_SIZE(len) + 1);
        len = cairn_json_escape(esc, why != NULL ? why : title, len);
        esc[len] = '\0';
        body = cairn_arena_printf(r->arena, "{\"code\":%d,\"message\":\"%s\"}"
                                  "\n", status, esc);
        r->content_type = "application/json";
        break;

    case RESPONSE_PAGE_TEXT:
        body = cairn_arena_printf(r->arena, "%d %s%s%s\n", status, title,
                                  why != NULL ? ": " : "",
                                  why != NULL ? why : "");
        r->content_type = "text/plain; charset=utf-8";
        break;

    default:
        body = cairn_arena_printf(r->arena,
            "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
            "<style>body{font-family:sans-serif;margin:2em}</style>"
            "</head><body><h1>%d %s</h1>%s%s%s</body></html>\n",
            status, title, status, title,
            why != NULL ? "<p>" : "",
            why != NULL ? cairn_arena_html_escape(r->arena, why) : "",
            why != NULL ? "</p>" : "");
        r->content_type = "text/html; charset=utf-8";
        break;
    }

    response_set_body(r, body, strlen(body));
    r->error_page = 1;
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
