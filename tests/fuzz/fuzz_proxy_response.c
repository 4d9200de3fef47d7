/*
 * tests/fuzz/fuzz_proxy_response.c: mod_proxy's reading of an upstream
 * response (modules/proxy/proxy_http.c): llhttp in response mode, the
 * header bounds, interim responses, the headers passed to the client
 * and the ProxyPassReverse rewrite.
 *
 * Input: a byte of flags (bit 0: the request was a HEAD; bit 1: it asked
 * for an upgrade; bits 2-7: where the rest is cut in two, as two reads),
 * then the bytes the upstream sent; an end of file follows.  The target
 * checks what the proxy promises: no hop-by-hop, Date or Server header
 * reaches the client, a 204 or 304 passes no Content-Length, a HEAD gets
 * no body, no body bytes come before the head, and the bytes behind a
 * 101 lie inside the input.
 */

#include "config.h"

#include <stdio.h>
#include <strings.h>

#include "fuzz.h"

#include "proxy/proxy.h"


typedef struct {
    int                  head_seen;
    size_t               body;
    const mod_proxy_resp_t  *p;
} fuzz_proxy_state_t;


static const char  *fuzz_proxy_hide_v[] = { "X-Hidden" };
static const cairn_strv_t  fuzz_proxy_hide = { 1, fuzz_proxy_hide_v };
static const char *fuzz_proxy_from[] = { "http://u:8080/app/", "/x" };
static const char *fuzz_proxy_to[] = { NULL, "/y/" };
static const mod_proxy_reverse_t  fuzz_proxy_rev = {
    2, fuzz_proxy_from, fuzz_proxy_to
};


static void
fuzz_proxy_emit(const char *name, const char *value, void *data)
{
    fuzz_proxy_state_t  *st = data;
    const char          *conn;

    conn = mod_proxy_resp_header(st->p, "Connection");
    if (mod_proxy_hop_by_hop(name, conn) || strcasecmp(name, "Date") == 0
        || strcasecmp(name, "Server") == 0
        || strcasecmp(name, "X-Hidden") == 0)
    {
        fprintf(stderr, "header %s passed to the client\n", name);
        abort();
    }
    if (strcasecmp(name, "Content-Length") == 0
        && (st->p->status == 204 || st->p->status == 304))
    {
        fprintf(stderr, "Content-Length passed with a %d\n", st->p->status);
        abort();
    }
    if (value == NULL) {
        abort();
    }
}


static int
fuzz_proxy_head(mod_proxy_resp_t *p, void *data)
{
    fuzz_proxy_state_t  *st = data;

    if ((p->status < 200 && !(p->status == 101 && p->upgraded))
        || p->status > 999 || (p->upgraded && !p->allow_upgrade))
    {
        fprintf(stderr, "head with status %d\n", p->status);
        abort();
    }
    st->head_seen = 1;
    st->p = p;
    mod_proxy_resp_headers(p, &fuzz_proxy_hide, &fuzz_proxy_rev, "/loc/",
                           p->arena, fuzz_proxy_emit, st);

    return 0;
}


static int
fuzz_proxy_body(mod_proxy_resp_t *p, void *data, const char *at, size_t len)
{
    fuzz_proxy_state_t  *st = data;

    (void) at;

    if (!st->head_seen || p->head_only) {
        fprintf(stderr, "body bytes before the head or for a HEAD\n");
        abort();
    }
    st->body += len;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_proxy_state_t  st;
    mod_proxy_resp_t    p;
    cairn_arena_t      *a;
    char               *copy;
    size_t              cut;
    int                 rc;

    if (size < 1) {
        return 0;
    }

    memset(&st, 0, sizeof(st));
    memset(&p, 0, sizeof(p));
    p.on_head = fuzz_proxy_head;
    p.on_body = fuzz_proxy_body;
    p.data = &st;

    a = cairn_arena_create(0);
    mod_proxy_resp_init(&p, a, data[0] & 1);
    p.allow_upgrade = (data[0] >> 1) & 1;

    copy = fuzz_strndup(data + 1, size - 1);
    size--;
    cut = size > 0 ? ((size_t) (data[0] >> 2) * 7919) % (size + 1) : 0;

    rc = mod_proxy_resp_feed(&p, copy, cut);
    if (rc == 0 && cut < size && !p.upgraded) {
        rc = mod_proxy_resp_feed(&p, copy + cut, size - cut);
    }
    if (p.upgraded && p.rest_len > 0
        && (p.rest < copy || p.rest + p.rest_len > copy + size))
    {
        fprintf(stderr, "the bytes behind the 101 lie outside the input\n");
        abort();
    }
    if (rc == 0 && !p.complete && !p.upgraded) {
        rc = mod_proxy_resp_feed(&p, "", 0);
    }
    if (rc != 0 && p.error == NULL) {
        fprintf(stderr, "a failure without a reason\n");
        abort();
    }
    if (p.complete && !st.head_seen) {
        fprintf(stderr, "complete without a head\n");
        abort();
    }

    (void) mod_proxy_reverse(&fuzz_proxy_rev, "/loc/", copy, a, 0);
    (void) mod_proxy_reverse(&fuzz_proxy_rev, "/loc/", copy, a, 1);

    free(copy);
    cairn_arena_destroy(a);

    return 0;
}
