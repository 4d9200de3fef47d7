/*
 * modules/proxy/proxy_http.c: the upstream's response.
 *
 * llhttp parses it in response mode (strict, as the core parses
 * requests); the header block is bounded (MOD_PROXY_MAX_HEADER_BYTES,
 * MOD_PROXY_MAX_HEADERS) before anything is kept.  Interim 1xx
 * responses (100 Continue, 103 Early Hints) are dropped; a 101 is the
 * response only when the client asked for the upgrade (allow_upgrade),
 * and refused otherwise.  Nothing in this file touches a request
 * or a socket: tests/fuzz/fuzz_proxy_response.c drives it directly.
 */

#include <string.h>
#include <strings.h>

#include "proxy.h"


static int mod_proxy_on_message_begin(llhttp_t *h);
static int mod_proxy_on_field(llhttp_t *h, const char *at, size_t len);
static int mod_proxy_on_value(llhttp_t *h, const char *at, size_t len);
static int mod_proxy_on_headers_complete(llhttp_t *h);
static int mod_proxy_on_body(llhttp_t *h, const char *at, size_t len);
static int mod_proxy_on_message_complete(llhttp_t *h);
static int mod_proxy_header_end(mod_proxy_resp_t *p);
static char *mod_proxy_append(mod_proxy_resp_t *p, char *old, size_t *len,
                              const char *at, size_t n);


void
mod_proxy_resp_init(mod_proxy_resp_t *p, cairn_arena_t *a, int head_only)
{
    mod_proxy_resp_head_cb  on_head = p->on_head;
    mod_proxy_resp_body_cb  on_body = p->on_body;
    mod_proxy_resp_done_cb  on_done = p->on_done;
    void                   *data = p->data;

    memset(p, 0, sizeof(*p));
    p->on_head = on_head;
    p->on_body = on_body;
    p->on_done = on_done;
    p->data = data;
    p->arena = a;
    p->head_only = head_only;

    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = mod_proxy_on_message_begin;
    p->settings.on_header_field = mod_proxy_on_field;
    p->settings.on_header_value = mod_proxy_on_value;
    p->settings.on_headers_complete = mod_proxy_on_headers_complete;
    p->settings.on_body = mod_proxy_on_body;
    p->settings.on_message_complete = mod_proxy_on_message_complete;

    llhttp_init(&p->parser, HTTP_RESPONSE, &p->settings);
    p->parser.data = p;
}


int
mod_proxy_resp_feed(mod_proxy_resp_t *p, const char *data, size_t len)
{
    llhttp_errno_t  err;

    if (p->complete) {
        /* Bytes after the response: the connection cannot be reused. */
        if (len > 0) {
            p->keepalive = 0;
        }
        return 0;
    }
    if (p->error != NULL) {
        return -1;
    }

    if (len == 0) {
        err = llhttp_finish(&p->parser);
        if (!p->complete && (err == HPE_OK || err == HPE_INVALID_EOF_STATE)) {
            /* An end nobody announced: only a response that ends with
             * the connection is complete here, and llhttp said so. */
            p->error = p->headers_done
                       ? "the upstream closed the connection in the "
                         "middle of the body"
                       : (p->got_bytes
                          ? "the upstream closed the connection in the "
                            "middle of the header"
                          : "the upstream closed the connection before "
                            "responding");
            return -1;
        }
    } else {
        p->got_bytes = 1;
        err = llhttp_execute(&p->parser, data, len);
    }

    if (err == HPE_OK
        || ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && p->complete))
    {
        if (len > 0 && llhttp_get_error_pos(&p->parser) != NULL
            && llhttp_get_error_pos(&p->parser) < data + len)
        {
            if (p->upgraded) {
                /* The other protocol's first bytes. */
                p->rest = llhttp_get_error_pos(&p->parser);
                p->rest_len = (size_t) (data + len - p->rest);
            } else if (err != HPE_OK) {
                /* Bytes after the response: not reusable. */
                p->keepalive = 0;
            }
        }
        return 0;
    }

    if (p->error == NULL) {
        if (err == HPE_USER || err == HPE_CB_HEADERS_COMPLETE
            || err == HPE_CB_MESSAGE_COMPLETE)
        {
            p->error = "stopped";
        } else if (err == HPE_PAUSED_UPGRADE) {
            p->error = "the upstream switched protocols, which is not "
                       "proxied";
        } else {
            p->error = llhttp_get_error_reason(&p->parser);
            if (p->error == NULL) {
                p->error = llhttp_errno_name(err);
            }
        }
    }

    return -1;
}


const char *
mod_proxy_resp_header(const mod_proxy_resp_t *p, const char *name)
{
    size_t  i;

    for (i = 0; i < p->nheaders; i++) {
        if (strcasecmp(p->headers[i].name, name) == 0) {
            return p->headers[i].value;
        }
    }

    return NULL;
}


/* The headers of RFC 9110 7.6.1, the obsolete Keep-Alive and
 * Proxy-Connection, and every name the Connection header lists. */
int
mod_proxy_hop_by_hop(const char *name, const char *connection)
{
    static const char *const  hop[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
        "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding",
        "Upgrade", NULL
    };
    size_t  i;

    for (i = 0; hop[i] != NULL; i++) {
        if (strcasecmp(name, hop[i]) == 0) {
            return 1;
        }
    }

    return connection != NULL && mod_proxy_token_in(connection, name);
}


void
mod_proxy_resp_headers(const mod_proxy_resp_t *p, const cairn_strv_t *hide,
                       const mod_proxy_reverse_t *rev, const char *loc,
                       cairn_arena_t *a, mod_proxy_emit_cb emit, void *data)
{
    const char  *connection, *name, *value;
    size_t       i, k;

    connection = mod_proxy_resp_header(p, "Connection");

    for (i = 0; i < p->nheaders; i++) {
        name = p->headers[i].name;
        value = p->headers[i].value;

        if (mod_proxy_hop_by_hop(name, connection)
            || strcasecmp(name, "Date") == 0
            || strcasecmp(name, "Server") == 0)
        {
            continue;
        }
        if (strcasecmp(name, "Content-Length") == 0
            && (p->status == 204 || p->status == 304 || p->status < 200
                || mod_proxy_resp_header(p, "Transfer-Encoding") != NULL))
        {
            continue;
        }
        for (k = 0; hide != NULL && k < hide->n; k++) {
            if (strcasecmp(name, hide->v[k]) == 0) {
                break;
            }
        }
        if (hide != NULL && k < hide->n) {
            continue;
        }

        if (rev != NULL
            && (strcasecmp(name, "Location") == 0
                || strcasecmp(name, "Content-Location") == 0
                || strcasecmp(name, "Refresh") == 0))
        {
            value = mod_proxy_reverse(rev, loc, value, a,
                                      strcasecmp(name, "Refresh") == 0);
        }

        emit(name, value, data);
    }
}


/*
 * Location: http://backend:8080/app/x -> /x under ProxyPassReverse
 * http://backend:8080/app/ in <Location /> (TO defaults to the
 * location's path).  Refresh carries the URL after "url=".
 */
const char *
mod_proxy_reverse(const mod_proxy_reverse_t *rev, const char *loc,
                  const char *value, cairn_arena_t *a, int refresh)
{
    const char  *url, *to, *pre;
    size_t       i, flen, tlen;

    url = value;
    pre = "";
    if (refresh) {
        url = strcasestr(value, "url=");
        if (url == NULL) {
            return value;
        }
        url += 4;
        pre = cairn_arena_strndup(a, value, (size_t) (url - value));
    }

    for (i = 0; i < rev->n; i++) {
        flen = strlen(rev->from[i]);
        if (flen == 0 || strncmp(url, rev->from[i], flen) != 0) {
            continue;
        }
        to = rev->to[i] != NULL ? rev->to[i] : (loc != NULL ? loc : "/");
        tlen = strlen(to);
        /* Both sides keep their own slash between them. */
        if (tlen > 0 && to[tlen - 1] == '/' && url[flen] == '/') {
            tlen--;
        } else if ((tlen == 0 || to[tlen - 1] != '/') && url[flen] != '/'
                   && url[flen] != '\0' && url[flen] != '?')
        {
            return cairn_arena_printf(a, "%s%s/%s", pre, to, url + flen);
        }
        return cairn_arena_printf(a, "%s%.*s%s", pre, (int) tlen, to,
                                  url + flen);
    }

    return value;
}


/* ------------------------------------------------------------------ */
/* llhttp callbacks                                                   */
/* ------------------------------------------------------------------ */

static int
mod_proxy_on_message_begin(llhttp_t *h)
{
    mod_proxy_resp_t  *p = h->data;

    /* A fresh header list (after an interim 1xx). */
    p->nheaders = 0;
    p->field = NULL;
    p->value = NULL;
    p->field_len = 0;
    p->value_len = 0;
    p->in_value = 0;

    return 0;
}


static int
mod_proxy_on_field(llhttp_t *h, const char *at, size_t len)
{
    mod_proxy_resp_t  *p = h->data;

    if (p->in_value) {
        if (mod_proxy_header_end(p) != 0) {
            return -1;
        }
    }

    p->field = mod_proxy_append(p, p->field, &p->field_len, at, len);

    return p->field == NULL ? -1 : 0;
}


static int
mod_proxy_on_value(llhttp_t *h, const char *at, size_t len)
{
    mod_proxy_resp_t  *p = h->data;

    p->in_value = 1;
    if (p->value == NULL) {
        p->value = mod_proxy_append(p, NULL, &p->value_len, "", 0);
        if (p->value == NULL) {
            return -1;
        }
    }
    p->value = mod_proxy_append(p, p->value, &p->value_len, at, len);

    return p->value == NULL ? -1 : 0;
}


static int
mod_proxy_on_headers_complete(llhttp_t *h)
{
    mod_proxy_resp_t  *p = h->data;
    int                rc;

    if (p->in_value || p->field != NULL) {
        if (mod_proxy_header_end(p) != 0) {
            return -1;
        }
    }

    p->status = llhttp_get_status_code(h);
    p->version = llhttp_get_http_major(h) * 10 + llhttp_get_http_minor(h);

    if (p->status < 100) {
        /* llhttp takes any three digits; 050 has no meaning (and no
         * rule for its body). */
        p->error = "the upstream sent a status below 100";
        return -1;
    }
    if (p->status == 101 && p->allow_upgrade) {
        /* Switching protocols, as the client asked: the head is the
         * response, the rest is a tunnel's. */
        p->headers_done = 1;
        p->upgraded = 1;
        p->keepalive = 0;
        if (p->on_head != NULL && p->on_head(p, p->data) != 0) {
            if (p->error == NULL) {
                p->error = "stopped";
            }
            return -1;
        }
        return 1;
    }
    if (p->status < 200) {
        if (p->status == 100) {
            p->got_continue = 1;
        }
        /* Interim: dropped, and it has no body whatever its headers
         * say (llhttp leaves that to the reader); 101 ends the parse
         * (HPE_PAUSED_UPGRADE). */
        return 1;
    }

    p->headers_done = 1;
    p->keepalive = llhttp_should_keep_alive(h) ? 1 : 0;

    if (p->on_head != NULL && p->on_head(p, p->data) != 0) {
        if (p->error == NULL) {
            p->error = "stopped";
        }
        return -1;
    }

    /* 1: no body follows (a HEAD, whatever the length says). */
    rc = p->head_only ? 1 : 0;

    return rc;
}


static int
mod_proxy_on_body(llhttp_t *h, const char *at, size_t len)
{
    mod_proxy_resp_t  *p = h->data;

    if (p->on_body != NULL && p->on_body(p, p->data, at, len) != 0) {
        if (p->error == NULL) {
            p->error = "stopped";
        }
        return -1;
    }

    return 0;
}


static int
mod_proxy_on_message_complete(llhttp_t *h)
{
    mod_proxy_resp_t  *p = h->data;

    if (!p->headers_done) {
        /* The end of an interim response: the real one follows. */
        return 0;
    }

    p->complete = 1;
    p->keepalive = p->keepalive && !p->upgraded
                   && llhttp_should_keep_alive(h);

    if (p->on_done != NULL && p->on_done(p, p->data) != 0) {
        if (p->error == NULL) {
            p->error = "stopped";
        }
        return -1;
    }

    /* Nothing after the response is parsed as another one. */
    return HPE_PAUSED;
}


/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* A header is complete: keep it (bounded). */
static int
mod_proxy_header_end(mod_proxy_resp_t *p)
{
    mod_proxy_header_t  *v;
    char                *val;
    size_t               vlen;

    if (p->field == NULL || p->field_len == 0) {
        p->error = "the upstream sent an empty header name";
        return -1;
    }
    if (p->nheaders >= MOD_PROXY_MAX_HEADERS) {
        p->error = "the upstream sent too many headers";
        return -1;
    }

    val = p->value != NULL ? p->value : "";
    vlen = p->value != NULL ? p->value_len : 0;
    /* llhttp leaves trailing blanks of a value to the reader. */
    while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t')) {
        val[--vlen] = '\0';
    }

    if (p->headers == NULL) {
        p->headers = cairn_arena_alloc(p->arena, MOD_PROXY_MAX_HEADERS
                                       * sizeof(mod_proxy_header_t));
    }
    v = &p->headers[p->nheaders++];
    v->name = p->field;
    v->value = val;

    p->field = NULL;
    p->value = NULL;
    p->field_len = 0;
    p->value_len = 0;
    p->in_value = 0;

    return 0;
}


/* old + at[0..n) as a new NUL-terminated string, counted against the
 * header block's bound; NULL (with p->error) past it. */
static char *
mod_proxy_append(mod_proxy_resp_t *p, char *old, size_t *len,
                 const char *at, size_t n)
{
    char  *s;

    p->header_bytes += n;
    if (p->header_bytes > MOD_PROXY_MAX_HEADER_BYTES) {
        p->error = "the upstream sent a header block larger than 64 KiB";
        return NULL;
    }

    s = cairn_arena_alloc(p->arena, *len + n + 1);
    if (*len > 0) {
        memcpy(s, old, *len);
    }
    memcpy(s + *len, at, n);
    *len += n;
    s[*len] = '\0';

    return s;
}


/* Whether the comma-separated token list holds name. */
int
mod_proxy_token_in(const char *list, const char *name)
{
    size_t       n = strlen(name);
    const char  *p = list, *e;

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        e = p;
        while (*e != '\0' && *e != ',' && *e != ' ' && *e != '\t') {
            e++;
        }
        if ((size_t) (e - p) == n && n > 0 && strncasecmp(p, name, n) == 0) {
            return 1;
        }
        p = e;
        while (*p != '\0' && *p != ',') {
            p++;
        }
    }

    return 0;
}
