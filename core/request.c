/*
 * core/request.c: the request API (what include/cairn/request.h reads
 * and sets on a request and its connection).
 */

#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "path_int.h"
#include "worker_int.h"


static void request_path_reason(cairn_request_t *r, const char *p,
                                size_t len);


/* ------------------------------------------------------------------ */
/* Accessors                                                          */
/* ------------------------------------------------------------------ */

cairn_method_t
cairn_request_method(const cairn_request_t *r)
{
    return r->method;
}

const char *
cairn_request_method_name(const cairn_request_t *r)
{
    return r->method_name;
}

const char *
cairn_request_target(const cairn_request_t *r)
{
    return r->target;
}

const char *
cairn_request_path(const cairn_request_t *r)
{
    return r->path;
}

const char *
cairn_request_query(const cairn_request_t *r)
{
    return r->query;
}

const char *
cairn_request_arg(cairn_request_t *r, const char *name)
{
    const char  *p, *end, *eq, *amp;
    size_t       nlen;
    char        *out;
    ssize_t      n;

    if (r->query == NULL) {
        return NULL;
    }

    nlen = strlen(name);
    p = r->query;
    end = p + strlen(p);

    while (p < end) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        eq = memchr(p, '=', (size_t) (amp - p));

        if ((size_t) ((eq ? eq : amp) - p) == nlen
            && memcmp(p, name, nlen) == 0)
        {
            if (eq == NULL) {
                return "";
            }
            out = cairn_arena_alloc(r->arena, (size_t) (amp - eq));
            n = cairn__url_decode(eq + 1, (size_t) (amp - eq - 1), out, 1);
            return n < 0 ? NULL : out;
        }

        p = amp + 1;
    }

    return NULL;
}

int
cairn_request_version(const cairn_request_t *r)
{
    return r->version;
}

const char *
cairn_request_host(const cairn_request_t *r)
{
    return r->host ? r->host : "";
}

const char *
cairn_request_header(const cairn_request_t *r, const char *name)
{
    return cairn__headers_find(&r->headers, name, strlen(name));
}

size_t
cairn_request_header_count(const cairn_request_t *r)
{
    return r->headers.n;
}

int
cairn_request_header_at(const cairn_request_t *r, size_t i,
                        const char **name, const char **value)
{
    if (i >= r->headers.n) {
        return CAIRN_ERROR;
    }

    *name = r->headers.v[i].name;
    *value = r->headers.v[i].value;

    return CAIRN_OK;
}

const char *
cairn_request_param(const cairn_request_t *r, const char *name)
{
    size_t  i;

    for (i = 0; i < r->nparams; i++) {
        if (strcmp(r->param_names[i], name) == 0) {
            return r->param_values[i];
        }
    }

    return NULL;
}

const char *
cairn_request_body(const cairn_request_t *r, size_t *len)
{
    if (r->body == NULL || r->body_len == 0) {
        *len = 0;
        return NULL;
    }

    *len = r->body_len;

    return r->body;
}

const char *
cairn_request_user(const cairn_request_t *r)
{
    return r->user;
}

void
cairn_request_set_user(cairn_request_t *r, const char *user)
{
    r->user = user ? cairn_arena_strdup(r->arena, user) : NULL;
}

const char *
cairn_request_remote_addr(const cairn_request_t *r)
{
    return r->conn->peer_text;
}

int
cairn_request_remote_port(const cairn_request_t *r)
{
    return r->conn->peer_port;
}

const struct sockaddr *
cairn_request_remote_sockaddr(const cairn_request_t *r)
{
    return (const struct sockaddr *) &r->conn->peer;
}

/* What the error log says of a request (cairn__log_set_request_ids). */
void
cairn__request_log_ids(const cairn_request_t *r, const char **id,
                       const char **trace, const char **span)
{
    *id = cairn_request_id(r);
    *trace = r->trace_id;
    *span = r->span_id;
}


void
cairn_request_set_trace(cairn_request_t *r, const char *trace_id,
                        const char *span_id)
{
    r->trace_id = trace_id != NULL ? cairn_arena_strdup(r->arena, trace_id)
                                   : NULL;
    r->span_id = span_id != NULL ? cairn_arena_strdup(r->arena, span_id)
                                 : NULL;
}


const char *
cairn_request_trace_id(const cairn_request_t *r)
{
    return r->trace_id;
}


const char *
cairn_request_span_id(const cairn_request_t *r)
{
    return r->span_id;
}

const char *
cairn_request_id(const cairn_request_t *r)
{
    cairn_request_t  *mr = (cairn_request_t *) r;
    cairn__worker_t  *w = r->conn->worker;

    if (r->id == NULL) {
        mr->id = cairn_arena_printf(mr->arena, "%08x%08x",
                                    (unsigned) w->id_seed,
                                    (unsigned) (r->seq & 0xffffffffu));
    }

    return r->id;
}

cairn_arena_t *
cairn_request_arena(cairn_request_t *r)
{
    return r->arena;
}

void *
cairn_request_conf(const cairn_request_t *r, const cairn_module_t *m)
{
    if (r->loc == NULL || m->index < 0
        || (size_t) m->index >= r->server->nmods)
    {
        return NULL;
    }

    return r->loc->mconf[m->index].conf;
}

void *
cairn_request_ctx(const cairn_request_t *r, const cairn_module_t *m)
{
    if (r->ctx == NULL || m->index < 0) {
        return NULL;
    }

    return r->ctx[m->index];
}

void
cairn_request_set_ctx(cairn_request_t *r, const cairn_module_t *m, void *ctx)
{
    if (m->index < 0 || (size_t) m->index >= r->server->nmods) {
        return;
    }

    if (r->ctx == NULL) {
        r->ctx = cairn_arena_calloc(r->arena,
                                    r->server->nmods * sizeof(void *));
    }

    r->ctx[m->index] = ctx;
}

const char *
cairn_request_note(const cairn_request_t *r, const char *key)
{
    return cairn_kvv_get(&r->notes, key);
}

void
cairn_request_set_note(cairn_request_t *r, const char *key,
                       const char *value)
{
    cairn_kv_t  *v;
    size_t       i;

    value = cairn_arena_strdup(r->arena, value);

    for (i = 0; i < r->notes.n; i++) {
        if (strcmp(r->notes.v[i].key, key) == 0) {
            r->notes.v[i].value = value;
            return;
        }
    }

    v = cairn_arena_alloc(r->arena, (r->notes.n + 1) * sizeof(*v));
    if (r->notes.n > 0) {
        memcpy(v, r->notes.v, r->notes.n * sizeof(*v));
    }
    v[r->notes.n].key = cairn_arena_strdup(r->arena, key);
    v[r->notes.n].value = value;
    r->notes.v = v;
    r->notes.n++;
}

void *
cairn_request_route(const cairn_request_t *r, const cairn_module_t *m)
{
    if (r->route == NULL || r->route->module != m) {
        return NULL;
    }

    return r->route->data;
}

const char *
cairn_request_route_pattern(const cairn_request_t *r)
{
    return r->route ? r->route->pattern : NULL;
}

const char *
cairn_request_location(const cairn_request_t *r)
{
    return r->loc ? r->loc->name : NULL;
}

cairn_conn_t *
cairn_request_conn(cairn_request_t *r)
{
    return r->conn;
}

struct event_base *
cairn_request_event_base(cairn_request_t *r)
{
    return r->conn->worker->base;
}

cairn_server_t *
cairn_request_server(cairn_request_t *r)
{
    return r->server;
}

uint64_t
cairn_request_start_us(const cairn_request_t *r)
{
    return r->start_us;
}

const char *
cairn_conn_remote_addr(const cairn_conn_t *c)
{
    return c->peer_text;
}

int
cairn_conn_remote_port(const cairn_conn_t *c)
{
    return c->peer_port;
}

cairn_arena_t *
cairn_conn_arena(cairn_conn_t *c)
{
    return c->arena;
}

uint64_t
cairn_conn_id(const cairn_conn_t *c)
{
    return c->id;
}

unsigned
cairn_conn_requests(const cairn_conn_t *c)
{
    return c->nrequests;
}

/* ------------------------------------------------------------------ */
/* Preparing a request for the phases                                 */
/* ------------------------------------------------------------------ */

int
cairn__request_prepare(cairn_request_t *r)
{
    const char  *host, *q, *path_start;
    char        *path;
    size_t       plen, n, i;
    ssize_t      len;

    if (r->target == NULL) {
        cairn__response_reason(r, "the request has no target");
        return 400;
    }

    /* A fragment is for the client alone (RFC 9110 section 7.1): no
     * client sends one, and a target that carries one was not built by
     * a browser, so it is refused rather than guessed at. */
    if (strchr(r->target, '#') != NULL) {
        cairn__response_reason(r, "the request target carries a #fragment, "
                                  "which is for the client alone");
        return 400;
    }

    /* The Host header: exactly one for HTTP/1.1 (RFC 9112 section 3.2). */
    host = NULL;
    n = 0;
    for (i = 0; i < r->headers.n; i++) {
        if (r->headers.v[i].name_len == 4
            && strcasecmp(r->headers.v[i].name, "host") == 0)
        {
            host = r->headers.v[i].value;
            n++;
        }
    }

    if (strcmp(r->target, "*") == 0) {
        /* asterisk-form: only OPTIONS, about the server as a whole. */
        if (r->method == CAIRN_METHOD_OPTIONS && n <= 1
            && (r->version == 10 || n == 1))
        {
            r->host = cairn__host_normalise(r->arena, host);
            if (r->host == NULL) {
                cairn__response_reason(r, "the Host header is not a valid "
                                          "host name");
                return 400;
            }
            r->asterisk = 1;
            r->path = "*";
            r->vhost = cairn__conf_vhost(r->server, r->host);
            r->loc = &r->vhost->base;
            r->body_done = !r->has_body;
            return 0;
        }
        cairn__response_reason(r, "only OPTIONS with one Host header may "
                                  "ask about the whole server (*)");
        return 400;
    }

    path_start = r->target;
    if (r->target[0] != '/') {
        /* absolute-form: http://host[:port]/path */
        if (strncasecmp(r->target, "http://", 7) == 0
            || strncasecmp(r->target, "https://", 8) == 0)
        {
            const char  *auth = strchr(r->target, ':') + 3;

            path_start = strchr(auth, '/');
            host = cairn_arena_strndup(r->arena, auth,
                                       path_start ? (size_t) (path_start - auth)
                                                  : strlen(auth));
            if (path_start == NULL) {
                path_start = "/";
            }
        } else {
            cairn__response_reason(r, "the request target is neither a path "
                                      "nor an http URL");
            return 400;
        }
    } else if (n > 1) {
        cairn__response_reason(r, "the request carries more than one Host "
                                  "header");
        return 400;
    } else if (r->version == 11 && n != 1) {
        cairn__response_reason(r, "an HTTP/1.1 request must carry a Host "
                                  "header");
        return 400;
    }

    r->host = cairn__host_normalise(r->arena, host);
    if (r->host == NULL) {
        cairn__response_reason(r, "the Host header is not a valid host name");
        return 400;
    }

    q = strchr(path_start, '?');
    plen = q ? (size_t) (q - path_start) : strlen(path_start);
    r->query = q ? q + 1 : NULL;

    path = cairn_arena_alloc(r->arena, plen + 1);
    len = cairn__path_normalise(path_start, plen, path);
    if (len < 0) {
        request_path_reason(r, path_start, plen);
        return 400;
    }
    r->path = path;

    r->vhost = cairn__conf_vhost(r->server, r->host);
    r->loc = cairn__conf_locate(r->vhost, r->path);

    if (r->has_body && r->content_length > r->loc->core->limit_request_body
        && r->loc->core->limit_request_body > 0)
    {
        cairn__response_reasonf(r, "the body is over LimitRequestBody (%lld "
                                "bytes)",
                                (long long) r->loc->core->limit_request_body);
        return 413;
    }

    if (r->has_body) {
        const char  *expect = cairn__headers_get(&r->headers, "Expect");

        if (expect != NULL) {
            if (strcasecmp(expect, "100-continue") != 0) {
                cairn__response_reason(r, "the only expectation this server "
                                          "meets is 100-continue");
                return 417;
            }
            r->expect_continue = 1;
        }
    } else {
        r->body_done = 1;
    }

    return 0;
}


/*
 * A request answered before it could be prepared (a parse error, a
 * limit, a timeout): its virtual host and location, from what was read
 * of it, so that its error page is the location's (ErrorDocument, a
 * module's ERROR_PAGE hook).  Never fails: the server's base location
 * when nothing better is known.
 */
void
cairn__request_locate(cairn_request_t *r)
{
    const char  *host, *q;
    char        *path;
    size_t       plen;

    if (r->loc != NULL) {
        return;
    }

    if (r->vhost == NULL) {
        host = r->host;
        if (host == NULL) {
            host = cairn__host_normalise(r->arena,
                                         cairn__headers_find(&r->headers,
                                                             "Host", 4));
        }
        r->vhost = cairn__conf_vhost(r->server, host);
    }

    if ((r->path == NULL || strcmp(r->path, "-") == 0)
        && r->target != NULL && r->target[0] == '/')
    {
        q = strchr(r->target, '?');
        plen = q != NULL ? (size_t) (q - r->target) : strlen(r->target);
        path = cairn_arena_alloc(r->arena, plen + 1);
        if (cairn__path_normalise(r->target, plen, path) >= 0) {
            r->path = path;
        }
    }

    r->loc = r->path != NULL && r->path[0] == '/'
             ? cairn__conf_locate(r->vhost, r->path) : &r->vhost->base;
}


/* Why a target's path was refused (cairn__path_normalise() failed). */
static void
request_path_reason(cairn_request_t *r, const char *p, size_t len)
{
    size_t  i;

    if (len == 0 || p[0] != '/') {
        cairn__response_reason(r, "the path does not begin with '/'");
        return;
    }

    for (i = 0; i < len; i++) {
        if (p[i] != '%') {
            continue;
        }
        if (len - i < 3 || !isxdigit((unsigned char) p[i + 1])
            || !isxdigit((unsigned char) p[i + 2]))
        {
            cairn__response_reason(r, "the path has a malformed %-escape");
            return;
        }
        if (p[i + 1] == '0' && p[i + 2] == '0') {
            cairn__response_reason(r, "the path holds a NUL byte (%00)");
            return;
        }
    }

    cairn__response_reason(r, "the path leaves the document root");
}


/* A port after the colon of a Host: 1 to 65535, in digits only. */
static int
host_port_valid(const char *p)
{
    unsigned long  port = 0;

    if (*p == '\0') {
        return 0;
    }

    for ( ; *p != '\0'; p++) {
        if (!isdigit((unsigned char) *p)) {
            return 0;
        }
        port = port * 10 + (unsigned long) (*p - '0');
        if (port > 65535) {
            return 0;
        }
    }

    return port >= 1;
}


/*
 * A Host value: lower-cased, without its port.  Letters, digits, '-',
 * '.', '_' and an IPv6 literal in brackets are accepted, with a port of
 * 1 to 65535; anything else (a '/', a space, an '@', a port of 0, 65536,
 * "x" or nothing after the colon) makes the request a 400.
 */
const char *
cairn__host_normalise(cairn_arena_t *a, const char *host)
{
    char    *h;
    size_t   i, n, end;

    if (host == NULL || host[0] == '\0') {
        return "";
    }

    n = strlen(host);
    if (n > 255) {
        return NULL;
    }

    h = cairn_arena_alloc(a, n + 1);
    end = n;

    if (host[0] == '[') {
        const char  *rb = strchr(host, ']');

        if (rb == NULL) {
            return NULL;
        }
        end = (size_t) (rb - host) + 1;
        for (i = 1; i + 1 < end; i++) {
            if (!isxdigit((unsigned char) host[i]) && host[i] != ':'
                && host[i] != '.')
            {
                return NULL;
            }
        }
    } else {
        const char  *colon = strchr(host, ':');

        if (colon != NULL) {
            end = (size_t) (colon - host);
        }
        for (i = 0; i < end; i++) {
            unsigned char  ch = (unsigned char) host[i];

            if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_') {
                return NULL;
            }
        }
    }

    if (end < n && (host[end] != ':' || !host_port_valid(host + end + 1))) {
        return NULL;
    }

    for (i = 0; i < end; i++) {
        h[i] = (char) tolower((unsigned char) host[i]);
    }
    /* "example.com." names the same host as "example.com". */
    if (end > 1 && h[end - 1] == '.') {
        end--;
    }
    h[end] = '\0';

    return h;
}
