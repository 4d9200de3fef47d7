/*
 * modules/proxy/proxy_resolve.c: names of upstream servers looked up
 * again while the server runs (Resolve every=T).
 *
 * A name is resolved when the configuration is loaded, with
 * getaddrinfo() in the master.  With Resolve every=T each worker looks
 * it up again every T with libevent's evdns (non-blocking, on the
 * worker's loop), through the nameservers of Resolver or, without it,
 * those of /etc/resolv.conf after /etc/hosts.  The name owns
 * MOD_PROXY_NAME_SLOTS servers of its group, made at post_config so
 * that each has its slot of shared health: an address keeps its server
 * while the name still resolves to it, a new address takes a dormant
 * one, a vanished address's server goes dormant (its pooled
 * connections closed, requests in flight finish).  A failed lookup
 * keeps the addresses there were, logged once until a lookup works
 * again.
 *
 * The workers look up independently; a server's shared slot records
 * the address it is for (addr_hash), and a worker that gives the slot
 * another address starts its health afresh.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "proxy.h"


/* The names this configuration resolves again (made at post_config, in
 * the master; each worker has its copy). */
static mod_proxy_name_t    *mod_proxy_resolving;
static struct evdns_base   *mod_proxy_dns;


static void mod_proxy_resolve_timer_cb(evutil_socket_t fd, short what,
                                       void *arg);
static void mod_proxy_resolve_done(int result, struct evutil_addrinfo *res,
                                   void *arg);
static void mod_proxy_resolve_apply(mod_proxy_name_t *n,
                                    struct sockaddr_storage *addrs,
                                    socklen_t *lens, size_t count);
static int mod_proxy_sockaddr_cmp(const void *a, const void *b);


/* Resolve every=T | Resolve off, into *ms (0: off). */
const char *
mod_proxy_parse_resolve(cairn_cmd_t *cmd, int argc, char **argv,
                        int64_t *ms)
{
    const char   *err;
    int64_t       v;

    if (argc != 1) {
        return "Resolve takes every=TIME or off";
    }
    if (strcmp(argv[0], "off") == 0) {
        *ms = 0;
        return NULL;
    }
    if (strncmp(argv[0], "every=", 6) != 0) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "Resolve \"%s\": "
                                  "expected every=TIME or off", argv[0]);
    }
    err = cairn_parse_msec(argv[0] + 6, &v);
    if (err != NULL) {
        return err;
    }
    if (v < 100) {
        return "Resolve every= is at least 100ms";
    }
    *ms = v;

    return NULL;
}


void
mod_proxy_resolve_reset(void)
{
    mod_proxy_resolving = NULL;
}


const char *
mod_proxy_resolve_prepare(cairn_arena_t *a, mod_proxy_upstream_t *up,
                          int64_t resolve_ms)
{
    mod_proxy_name_t    *n;
    mod_proxy_server_t  *s, *t, **v;
    size_t               k;

    if (up->resolve_ms < 0 || (up->implicit && up->resolve_ms == 0)) {
        up->resolve_ms = resolve_ms;
    }

    for (n = up->names; n != NULL; n = n->next) {
        if (up->resolve_ms == 0) {
            if (n->error != NULL) {
                return cairn_arena_printf(a, "%s:%d: %s", n->file, n->line,
                                          n->error);
            }
            continue;
        }
        if (n->error != NULL) {
            cairn_log_warn(NULL, 0, "%s:%d: %s; it is looked up again "
                           "(Resolve) and has no server until then",
                           n->file, n->line, n->error);
        }

        /* The dormant slots: copies of the first, without an address. */
        s = n->slots[0];
        while (n->nslots < MOD_PROXY_NAME_SLOTS) {
            if (up->n == up->cap) {
                up->cap *= 2;
                v = cairn_arena_alloc(a, up->cap * sizeof(*v));
                memcpy(v, up->servers, up->n * sizeof(*v));
                up->servers = v;
            }
            t = cairn_arena_alloc(a, sizeof(*t));
            *t = *s;
            t->idx = up->n;
            t->dormant = 1;
            t->name = cairn_arena_printf(a, "%s:%d#%zu", n->host, n->port,
                                         n->nslots);
            t->name_hash = mod_proxy_hash(t->name, strlen(t->name), 0);
            memset(&t->addr, 0, sizeof(t->addr));
            t->addrlen = 0;
            up->servers[up->n++] = t;
            n->slots[n->nslots++] = t;
        }
        if (n->error != NULL) {
            s->dormant = 1;
            s->name = cairn_arena_printf(a, "%s:%d#0", n->host, n->port);
            s->name_hash = mod_proxy_hash(s->name, strlen(s->name), 0);
        }
        for (k = 0; k < n->nslots; k++) {
            n->slots[k]->dns = n;
        }
        n->next_resolving = mod_proxy_resolving;
        mod_proxy_resolving = n;
    }

    return NULL;
}


const char *
mod_proxy_resolver_check(cairn_arena_t *a, const cairn_strv_t *resolvers)
{
    struct sockaddr_storage  ss;
    int                      len;
    size_t                   i;

    for (i = 0; i < resolvers->n; i++) {
        len = (int) sizeof(ss);
        if (evutil_parse_sockaddr_port(resolvers->v[i],
                                       (struct sockaddr *) &ss, &len) != 0)
        {
            return cairn_arena_printf(a, "Resolver \"%s\": expected an IP "
                                      "address with an optional port "
                                      "(127.0.0.1:53, [::1]:53)",
                                      resolvers->v[i]);
        }
    }

    return NULL;
}


int
mod_proxy_resolve_worker_init(const cairn_strv_t *resolvers)
{
    mod_proxy_name_t  *n;
    struct timeval     tv;
    size_t             i;

    if (mod_proxy_resolving == NULL) {
        return CAIRN_OK;
    }

    mod_proxy_dns = evdns_base_new(cairn_event_base(),
                                   resolvers != NULL && resolvers->n > 0
                                   ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (mod_proxy_dns == NULL) {
        cairn_log_error(NULL, 0, "mod_proxy: evdns_base_new() failed");
        return CAIRN_ERROR;
    }
    for (i = 0; resolvers != NULL && i < resolvers->n; i++) {
        if (evdns_base_nameserver_ip_add(mod_proxy_dns, resolvers->v[i])
            != 0)
        {
            cairn_log_error(NULL, 0, "Resolver %s: the address is refused",
                            resolvers->v[i]);
            return CAIRN_ERROR;
        }
    }
    /* A lookup ends within about 6 s, whatever the resolver does. */
    evdns_base_set_option(mod_proxy_dns, "timeout:", "2");
    evdns_base_set_option(mod_proxy_dns, "attempts:", "3");

    for (n = mod_proxy_resolving; n != NULL; n = n->next_resolving) {
        n->timer = event_new(cairn_event_base(), -1, EV_PERSIST,
                             mod_proxy_resolve_timer_cb, n);
        if (n->timer == NULL) {
            return CAIRN_ERROR;
        }
        tv.tv_sec = n->up->resolve_ms / 1000;
        tv.tv_usec = (n->up->resolve_ms % 1000) * 1000;
        event_add(n->timer, &tv);
        /* A name the load could not resolve is looked up at once. */
        if (n->error != NULL) {
            mod_proxy_resolve_timer_cb(-1, EV_TIMEOUT, n);
        }
    }

    return CAIRN_OK;
}


void
mod_proxy_resolve_worker_exit(void)
{
    mod_proxy_name_t  *n;

    for (n = mod_proxy_resolving; n != NULL; n = n->next_resolving) {
        if (n->timer != NULL) {
            event_free(n->timer);
            n->timer = NULL;
        }
        if (n->busy && n->req != NULL) {
            evdns_getaddrinfo_cancel(n->req);
        }
        n->req = NULL;
    }
    if (mod_proxy_dns != NULL) {
        evdns_base_free(mod_proxy_dns, 0);
        mod_proxy_dns = NULL;
    }
}


static void
mod_proxy_resolve_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_name_t          *n = arg;
    struct evutil_addrinfo     hints;
    struct evdns_getaddrinfo_request  *req;

    (void) fd;
    (void) what;

    if (n->busy || mod_proxy_dns == NULL) {
        return;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;

    n->busy = 1;
    n->req = NULL;
    /* The answer may come at once (an address, /etc/hosts): busy says
     * whether it is still awaited. */
    req = evdns_getaddrinfo(mod_proxy_dns, n->host, NULL, &hints,
                            mod_proxy_resolve_done, n);
    if (n->busy) {
        n->req = req;
    }
}


static void
mod_proxy_resolve_done(int result, struct evutil_addrinfo *res, void *arg)
{
    mod_proxy_name_t         *n = arg;
    struct evutil_addrinfo   *ai;
    struct sockaddr_storage   addrs[MOD_PROXY_NAME_SLOTS];
    socklen_t                 lens[MOD_PROXY_NAME_SLOTS];
    size_t                    count = 0, k;
    int                       dup;

    n->busy = 0;
    n->req = NULL;

    if (result == EVUTIL_EAI_CANCEL) {
        if (res != NULL) {
            evutil_freeaddrinfo(res);
        }
        return;
    }

    for (ai = result == 0 ? res : NULL; ai != NULL; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            || ai->ai_addrlen > sizeof(struct sockaddr_storage))
        {
            continue;
        }
        if (count == MOD_PROXY_NAME_SLOTS) {
            break;
        }
        memset(&addrs[count], 0, sizeof(addrs[count]));
        memcpy(&addrs[count], ai->ai_addr, ai->ai_addrlen);
        lens[count] = (socklen_t) ai->ai_addrlen;
        if (ai->ai_family == AF_INET) {
            ((struct sockaddr_in *) &addrs[count])->sin_port =
                htons((uint16_t) n->port);
        } else {
            ((struct sockaddr_in6 *) &addrs[count])->sin6_port =
                htons((uint16_t) n->port);
        }
        for (dup = 0, k = 0; k < count; k++) {
            if (lens[k] == lens[count]
                && memcmp(&addrs[k], &addrs[count], lens[k]) == 0)
            {
                dup = 1;
            }
        }
        if (!dup) {
            count++;
        }
    }
    if (res != NULL) {
        evutil_freeaddrinfo(res);
    }

    if (count == 0) {
        if (!n->failing) {
            n->failing = 1;
            cairn_log_warn(NULL, 0, "upstream \"%s\": looking up %s failed "
                           "(%s); its addresses stay as they were until a "
                           "lookup works", n->up->name, n->host,
                           result != 0 ? evutil_gai_strerror(result)
                                       : "no address");
        }
        return;
    }
    if (n->failing) {
        n->failing = 0;
        cairn_log_notice(NULL, "upstream \"%s\": looking up %s works again",
                         n->up->name, n->host);
    }

    /* Sorted, so that the workers agree on the order. */
    {
        struct {
            struct sockaddr_storage  ss;
            socklen_t                len;
        }       sorted[MOD_PROXY_NAME_SLOTS];

        for (k = 0; k < count; k++) {
            sorted[k].ss = addrs[k];
            sorted[k].len = lens[k];
        }
        qsort(sorted, count, sizeof(sorted[0]), mod_proxy_sockaddr_cmp);
        for (k = 0; k < count; k++) {
            addrs[k] = sorted[k].ss;
            lens[k] = sorted[k].len;
        }
    }

    mod_proxy_resolve_apply(n, addrs, lens, count);
}


static int
mod_proxy_sockaddr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct sockaddr_storage));
}


/* The name's servers become the addresses (count of them, sorted). */
static void
mod_proxy_resolve_apply(mod_proxy_name_t *n, struct sockaddr_storage *addrs,
                        socklen_t *lens, size_t count)
{
    mod_proxy_server_t  *s;
    mod_proxy_shared_t  *sh;
    unsigned char        kept[MOD_PROXY_NAME_SLOTS];
    char                 text[INET6_ADDRSTRLEN], added[512], removed[512];
    size_t               i, k, alen = 0, rlen = 0;
    uint64_t             h, old;

    memset(kept, 0, sizeof(kept));
    added[0] = '\0';
    removed[0] = '\0';

    /* Servers whose address is still there keep it; the others go. */
    for (i = 0; i < n->nslots; i++) {
        s = n->slots[i];
        if (s->dormant) {
            continue;
        }
        for (k = 0; k < count; k++) {
            if (!kept[k] && lens[k] == s->addrlen
                && memcmp(&addrs[k], &s->addr, lens[k]) == 0)
            {
                kept[k] = 1;
                break;
            }
        }
        if (k == count) {
            s->dormant = 1;
            while (s->idle != NULL) {
                /* Pooled connections to an address the name lost. */
                mod_proxy_pool_close_server(s);
            }
            if (rlen < sizeof(removed) - 64) {
                rlen += (size_t) snprintf(removed + rlen,
                                          sizeof(removed) - rlen, " %s",
                                          s->name);
            }
        }
    }

    /* New addresses take dormant servers. */
    for (k = 0; k < count; k++) {
        if (kept[k]) {
            continue;
        }
        for (i = 0; i < n->nslots; i++) {
            if (n->slots[i]->dormant && n->slots[i]->active == 0) {
                break;
            }
        }
        if (i == n->nslots) {
            break;
        }
        s = n->slots[i];
        memcpy(&s->addr, &addrs[k], lens[k]);
        s->addrlen = lens[k];
        if (getnameinfo((struct sockaddr *) &s->addr, s->addrlen, text,
                        sizeof(text), NULL, 0, NI_NUMERICHOST) != 0)
        {
            continue;
        }
        snprintf(n->names[i], sizeof(n->names[i]),
                 s->addr.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", text,
                 n->port);
        s->name = n->names[i];
        s->name_hash = mod_proxy_hash(s->name, strlen(s->name), 0);
        s->current_weight = 0;
        s->dormant = 0;

        /* The shared slot's health is this address's, or starts anew. */
        sh = s->sh;
        if (sh != NULL) {
            h = mod_proxy_hash(&s->addr, s->addrlen, 1);
            old = __atomic_exchange_n(&sh->addr_hash, h, __ATOMIC_RELAXED);
            if (old != h) {
                __atomic_store_n(&sh->down_until_us, 0, __ATOMIC_RELAXED);
                __atomic_store_n(&sh->fails, 0, __ATOMIC_RELAXED);
                __atomic_store_n(&sh->hc_down, 0, __ATOMIC_RELAXED);
                __atomic_store_n(&sh->hc_fails, 0, __ATOMIC_RELAXED);
                __atomic_store_n(&sh->hc_passes, 0, __ATOMIC_RELAXED);
            }
        }
        if (alen < sizeof(added) - 64) {
            alen += (size_t) snprintf(added + alen, sizeof(added) - alen,
                                      " %s", s->name);
        }
    }

    if (alen > 0 || rlen > 0) {
        cairn_log_notice(NULL, "upstream \"%s\": %s:%d resolves anew "
                         "(added:%s; removed:%s)", n->up->name, n->host,
                         n->port, alen > 0 ? added : " none",
                         rlen > 0 ? removed : " none");
    }
}
