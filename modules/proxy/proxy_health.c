/*
 * modules/proxy/proxy_health.c: whether a server is up, as every worker
 * sees it, active health checks, and the per-server metrics.
 *
 * The health of the servers of the <Upstream> groups lives in one
 * anonymous shared mapping made at configuration load (post_config, in
 * the master, before the workers fork), so a worker that finds a server
 * down takes it out for all of them.  Each server has one slot updated
 * with atomic operations: passive failures (max_fails within
 * fail_timeout: down until now + fail_timeout) and the active check's
 * verdict.  A reload makes a new mapping (the old workers keep theirs
 * until they exit), so health starts afresh with a new configuration.
 *
 * HealthCheck: every worker runs a timer per checked group, and for each
 * server whose next check is due the worker that moves the due time
 * forward (compare and swap) checks it: a non-blocking connect, a GET of
 * the URI with Connection: close, and the status line within the
 * timeout.  `fails` failed checks in a row put the server out, `passes`
 * good ones bring it back; both are logged.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "proxy.h"


#define MOD_PROXY_CHECK_READ    512

typedef struct mod_proxy_check_s  mod_proxy_check_t;

struct mod_proxy_check_s {
    int                      fd;
    struct event            *ev;
    mod_proxy_server_t      *server;
    char                     req[512];
    size_t                   req_len;
    size_t                   sent;
    char                     buf[MOD_PROXY_CHECK_READ];
    size_t                   got;
    mod_proxy_check_t       *next;
};


/* What this worker runs: the groups' timers and checks in flight. */
static mod_proxy_upstream_t  *mod_proxy_hc_ups;
static struct event         **mod_proxy_hc_timers;
static size_t                 mod_proxy_hc_ntimers;
static mod_proxy_check_t     *mod_proxy_hc_flying;

static cairn_metric_t  *mod_proxy_m_requests;
static cairn_metric_t  *mod_proxy_m_errors;
static cairn_metric_t  *mod_proxy_m_seconds;
static cairn_metric_t  *mod_proxy_m_up;
static cairn_metric_t  *mod_proxy_m_conns;


static void mod_proxy_shm_unmap(void *data);
static void mod_proxy_hc_timer_cb(evutil_socket_t fd, short what, void *arg);
static void mod_proxy_hc_start(mod_proxy_server_t *s);
static void mod_proxy_hc_io_cb(evutil_socket_t fd, short what, void *arg);
static void mod_proxy_hc_done(mod_proxy_check_t *ck, int ok,
                              const char *why, int err);
static void mod_proxy_set_up(mod_proxy_server_t *s, int up);
static void mod_proxy_conns_flush(evutil_socket_t fd, short what, void *arg);

/* Connection gauge changes waiting for the end of the loop's turn. */
static mod_proxy_server_t    *mod_proxy_conns_list;
static struct event          *mod_proxy_conns_ev;


/* ------------------------------------------------------------------ */
/* Shared state                                                       */
/* ------------------------------------------------------------------ */

typedef struct {
    size_t                   size;
    void                    *base;
} mod_proxy_shm_t;


int
mod_proxy_health_init(cairn_server_t *srv, mod_proxy_upstream_t *ups)
{
    mod_proxy_upstream_t  *up;
    mod_proxy_shm_t       *shm;
    mod_proxy_shared_t    *slot;
    mod_proxy_server_t    *s;
    size_t                 n = 0, i;
    void                  *base;

    for (up = ups; up != NULL; up = up->next) {
        n += up->n;
    }
    if (n == 0) {
        return CAIRN_OK;
    }

    base = mmap(NULL, n * sizeof(mod_proxy_shared_t), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        cairn_log_error(NULL, errno, "mmap() of the health of %zu upstream "
                        "servers failed", n);
        return CAIRN_ERROR;
    }
    shm = cairn_arena_calloc(cairn_server_arena(srv), sizeof(*shm));
    shm->base = base;
    shm->size = n * sizeof(mod_proxy_shared_t);
    cairn_arena_cleanup_add(cairn_server_arena(srv), mod_proxy_shm_unmap,
                            shm);

    slot = base;
    for (up = ups; up != NULL; up = up->next) {
        for (i = 0; i < up->n; i++) {
            s = up->servers[i];
            s->sh = slot++;
            if (s->dns != NULL && !s->dormant) {
                /* Whose health it is (proxy_resolve.c). */
                s->sh->addr_hash = mod_proxy_hash(&s->addr, s->addrlen, 1);
            }
        }
    }

    mod_proxy_m_requests = cairn_metric_counter(srv,
        "cairn_proxy_requests_total",
        "Responses from upstream servers by status code.",
        (const char *[]) { "upstream", "server", "code", NULL });
    mod_proxy_m_errors = cairn_metric_counter(srv,
        "cairn_proxy_errors_total",
        "Failed tries of upstream servers by cause.",
        (const char *[]) { "upstream", "server", "cause", NULL });
    mod_proxy_m_seconds = cairn_metric_histogram(srv,
        "cairn_proxy_response_seconds",
        "Time from the start of a try to the end of the response.",
        (const char *[]) { "upstream", "server", NULL }, NULL, 0);
    mod_proxy_m_up = cairn_metric_gauge(srv, "cairn_proxy_server_up",
        "1 while the upstream server is taken, 0 while it is down.",
        (const char *[]) { "upstream", "server", NULL });
    mod_proxy_m_conns = cairn_metric_gauge(srv, "cairn_proxy_connections",
        "Connections to upstream servers, active or idle in the pool.",
        (const char *[]) { "upstream", "server", "state", NULL });

    for (up = ups; up != NULL; up = up->next) {
        for (i = 0; i < up->n; i++) {
            if (!up->servers[i]->dormant) {
                mod_proxy_set_up(up->servers[i], 1);
            }
        }
    }

    return CAIRN_OK;
}


static void
mod_proxy_shm_unmap(void *data)
{
    mod_proxy_shm_t  *shm = data;

    munmap(shm->base, shm->size);
}


int
mod_proxy_server_live(const mod_proxy_server_t *s, uint64_t now_us)
{
    const mod_proxy_shared_t  *sh = s->sh;

    if (sh == NULL) {
        return 1;
    }
    return __atomic_load_n(&sh->down_until_us, __ATOMIC_RELAXED) <= now_us
           && !__atomic_load_n(&sh->hc_down, __ATOMIC_RELAXED);
}


void
mod_proxy_server_failed(mod_proxy_server_t *s, const char *cause)
{
    mod_proxy_shared_t  *sh = s->sh;
    uint64_t             now_us = mod_proxy_now_us(), since, until;
    uint32_t             n;

    if (cause != NULL && mod_proxy_m_errors != NULL) {
        cairn_metric_add(mod_proxy_m_errors, (const char *[]) {
                             s->up->name, s->name, cause, NULL }, 1);
    }

    if (s->max_fails == 0 || sh == NULL) {
        return;
    }

    since = __atomic_load_n(&sh->fail_since_us, __ATOMIC_RELAXED);
    if (__atomic_load_n(&sh->fails, __ATOMIC_RELAXED) == 0
        || now_us - since > (uint64_t) s->fail_timeout_ms * 1000)
    {
        __atomic_store_n(&sh->fails, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->fail_since_us, now_us, __ATOMIC_RELAXED);
    }

    n = __atomic_add_fetch(&sh->fails, 1, __ATOMIC_RELAXED);
    if (n < (uint32_t) s->max_fails) {
        return;
    }

    __atomic_store_n(&sh->fails, 0, __ATOMIC_RELAXED);
    until = __atomic_load_n(&sh->down_until_us, __ATOMIC_RELAXED);
    if (until > now_us) {
        return;
    }
    if (__atomic_compare_exchange_n(&sh->down_until_us, &until,
                                    now_us + (uint64_t) s->fail_timeout_ms
                                             * 1000,
                                    0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    {
        mod_proxy_set_up(s, 0);
        cairn_log_warn(NULL, 0, "upstream \"%s\": server %s is down for "
                       "%lld ms after %d failure%s", s->up->name, s->name,
                       (long long) s->fail_timeout_ms, s->max_fails,
                       s->max_fails == 1 ? "" : "s");
    }
}


void
mod_proxy_server_ok(mod_proxy_server_t *s)
{
    mod_proxy_shared_t  *sh = s->sh;
    uint64_t             until;

    if (sh == NULL) {
        return;
    }
    if (__atomic_load_n(&sh->fails, __ATOMIC_RELAXED)) {
        __atomic_store_n(&sh->fails, 0, __ATOMIC_RELAXED);
    }
    /* Back after a passive time out: the gauge says so once. */
    until = __atomic_load_n(&sh->down_until_us, __ATOMIC_RELAXED);
    if (until != 0
        && __atomic_compare_exchange_n(&sh->down_until_us, &until, 0, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED)
        && !__atomic_load_n(&sh->hc_down, __ATOMIC_RELAXED))
    {
        mod_proxy_set_up(s, 1);
    }
}


void
mod_proxy_metric_response(mod_proxy_server_t *s, int status,
                          uint64_t took_us)
{
    char  code[8];

    if (mod_proxy_m_requests == NULL || s->sh == NULL) {
        return;
    }
    snprintf(code, sizeof(code), "%d", status);
    cairn_metric_add(mod_proxy_m_requests, (const char *[]) {
                         s->up->name, s->name, code, NULL }, 1);
    cairn_metric_observe(mod_proxy_m_seconds, (const char *[]) {
                             s->up->name, s->name, NULL },
                         (double) took_us / 1e6);
}


/*
 * The connection gauges change twice a request (a pooled connection
 * taken, then given back): the changes are summed per server and go
 * out once per turn of the loop (mod_proxy_conns_flush, an event made
 * active when the first change waits), so a keep-alive request that
 * took and gave back its connection within the turn costs no gauge
 * update at all.
 */
void
mod_proxy_metric_conns(mod_proxy_server_t *s, int active, int idle)
{
    if (mod_proxy_m_conns == NULL || s->sh == NULL) {
        return;
    }
    s->d_active += active;
    s->d_idle += idle;
    if (s->conns_queued) {
        return;
    }
    s->conns_queued = 1;
    s->conns_next = mod_proxy_conns_list;
    mod_proxy_conns_list = s;
    if (mod_proxy_conns_ev != NULL) {
        if (s->conns_next == NULL) {
            event_active(mod_proxy_conns_ev, EV_TIMEOUT, 0);
        }
    } else {
        mod_proxy_conns_flush(-1, 0, NULL);
    }
}


static void
mod_proxy_conns_flush(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_server_t  *s;

    (void) fd;
    (void) what;
    (void) arg;

    while ((s = mod_proxy_conns_list) != NULL) {
        mod_proxy_conns_list = s->conns_next;
        s->conns_next = NULL;
        s->conns_queued = 0;
        if (s->d_active != 0) {
            cairn_metric_add(mod_proxy_m_conns, (const char *[]) {
                                 s->up->name, s->name, "active", NULL },
                             s->d_active);
        }
        if (s->d_idle != 0) {
            cairn_metric_add(mod_proxy_m_conns, (const char *[]) {
                                 s->up->name, s->name, "idle", NULL },
                             s->d_idle);
        }
        s->d_active = 0;
        s->d_idle = 0;
    }
}


static void
mod_proxy_set_up(mod_proxy_server_t *s, int up)
{
    if (mod_proxy_m_up != NULL) {
        cairn_metric_set(mod_proxy_m_up, (const char *[]) {
                             s->up->name, s->name, NULL }, up);
    }
}


/* ------------------------------------------------------------------ */
/* HealthCheck                                                        */
/* ------------------------------------------------------------------ */

/* HealthCheck uri=/health interval=2s timeout=1s fails=3 passes=2
 * [expect=200-399] */
const char *
mod_proxy_set_healthcheck(cairn_cmd_t *cmd, void *conf, int argc,
                          char **argv)
{
    mod_proxy_upstream_t  *up = conf;
    cairn_arena_t         *a = cairn_cmd_arena(cmd);
    const char            *v, *err;
    char                  *end;
    int64_t                ms;
    long                   lo, hi;
    int                    i, n;

    up->hc.enabled = 1;
    up->hc.uri = "/";
    up->hc.interval_ms = 2000;
    up->hc.timeout_ms = 1000;
    up->hc.fails = 3;
    up->hc.passes = 2;
    up->hc.expect_lo = 200;
    up->hc.expect_hi = 399;

    for (i = 0; i < argc; i++) {
        v = strchr(argv[i], '=');
        if (v == NULL) {
            goto unknown;
        }
        v++;
        if (strncmp(argv[i], "uri=", 4) == 0) {
            if (v[0] != '/' || strpbrk(v, " \t\r\n") != NULL
                || strlen(v) > 256)
            {
                return cairn_arena_printf(a, "HealthCheck uri=%s: a path "
                                          "starting with '/', without "
                                          "blanks, of at most 256 bytes", v);
            }
            up->hc.uri = cairn_arena_strdup(a, v);
        } else if (strncmp(argv[i], "interval=", 9) == 0
                   || strncmp(argv[i], "timeout=", 8) == 0)
        {
            err = cairn_parse_msec(v, &ms);
            if (err != NULL) {
                return err;
            }
            if (ms < 10) {
                return "HealthCheck interval= and timeout= are at least 10ms";
            }
            if (argv[i][0] == 'i') {
                up->hc.interval_ms = ms;
            } else {
                up->hc.timeout_ms = ms;
            }
        } else if (strncmp(argv[i], "fails=", 6) == 0
                   || strncmp(argv[i], "passes=", 7) == 0)
        {
            err = cairn_parse_int(v, &n);
            if (err != NULL) {
                return err;
            }
            if (n < 1 || n > 1000) {
                return "HealthCheck fails= and passes= are from 1 to 1000";
            }
            if (argv[i][0] == 'f') {
                up->hc.fails = n;
            } else {
                up->hc.passes = n;
            }
        } else if (strncmp(argv[i], "expect=", 7) == 0) {
            lo = strtol(v, &end, 10);
            hi = lo;
            if (*end == '-') {
                hi = strtol(end + 1, &end, 10);
            }
            if (*end != '\0' || lo < 100 || hi > 599 || lo > hi) {
                return cairn_arena_printf(a, "HealthCheck expect=%s: a "
                                          "status or a range (200-399)", v);
            }
            up->hc.expect_lo = (int) lo;
            up->hc.expect_hi = (int) hi;
        } else {
            goto unknown;
        }
    }

    return NULL;

unknown:

    return cairn_arena_printf(a, "HealthCheck: unknown parameter \"%s\" "
                              "(uri=, interval=, timeout=, fails=, passes=, "
                              "expect=)", argv[i]);
}


int
mod_proxy_health_worker_init(mod_proxy_upstream_t *ups)
{
    mod_proxy_upstream_t  *up;
    struct timeval         tv;
    size_t                 n = 0, k = 0;

    mod_proxy_hc_ups = ups;
    mod_proxy_conns_ev = event_new(cairn_event_base(), -1, 0,
                                   mod_proxy_conns_flush, NULL);
    if (mod_proxy_conns_ev == NULL) {
        return CAIRN_ERROR;
    }
    for (up = ups; up != NULL; up = up->next) {
        n += up->hc.enabled;
    }
    if (n == 0) {
        return CAIRN_OK;
    }

    mod_proxy_hc_timers = calloc(n, sizeof(struct event *));
    if (mod_proxy_hc_timers == NULL) {
        return CAIRN_ERROR;
    }

    for (up = ups; up != NULL; up = up->next) {
        if (!up->hc.enabled) {
            continue;
        }
        mod_proxy_hc_timers[k] = event_new(cairn_event_base(), -1,
                                           EV_PERSIST, mod_proxy_hc_timer_cb,
                                           up);
        if (mod_proxy_hc_timers[k] == NULL) {
            return CAIRN_ERROR;
        }
        /* Every worker wakes often enough to take a due check. */
        tv.tv_sec = 0;
        tv.tv_usec = (up->hc.interval_ms < 1000 ? up->hc.interval_ms : 1000)
                     * 1000 / 2;
        event_add(mod_proxy_hc_timers[k], &tv);
        k++;
    }
    mod_proxy_hc_ntimers = k;

    for (up = ups; up != NULL; up = up->next) {
        if (up->hc.enabled) {
            mod_proxy_hc_timer_cb(-1, EV_TIMEOUT, up);
        }
    }

    return CAIRN_OK;
}


void
mod_proxy_health_worker_exit(void)
{
    mod_proxy_check_t  *ck;
    size_t              i;

    if (mod_proxy_conns_ev != NULL) {
        mod_proxy_conns_flush(-1, 0, NULL);
        event_free(mod_proxy_conns_ev);
        mod_proxy_conns_ev = NULL;
    }
    for (i = 0; i < mod_proxy_hc_ntimers; i++) {
        event_free(mod_proxy_hc_timers[i]);
    }
    free(mod_proxy_hc_timers);
    mod_proxy_hc_timers = NULL;
    mod_proxy_hc_ntimers = 0;

    while ((ck = mod_proxy_hc_flying) != NULL) {
        mod_proxy_hc_flying = ck->next;
        event_free(ck->ev);
        close(ck->fd);
        free(ck);
    }
}


static void
mod_proxy_hc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_upstream_t  *up = arg;
    mod_proxy_server_t    *s;
    uint64_t               now_us = mod_proxy_now_us(), due;
    size_t                 i;

    (void) fd;
    (void) what;

    for (i = 0; i < up->n; i++) {
        s = up->servers[i];
        if (s->dormant) {
            continue;
        }
        due = __atomic_load_n(&s->sh->hc_next_us, __ATOMIC_RELAXED);
        if (due > now_us) {
            continue;
        }
        /* The worker that moves the due time checks; the others skip. */
        if (__atomic_compare_exchange_n(&s->sh->hc_next_us, &due,
                                        now_us + (uint64_t) up->hc.interval_ms
                                                 * 1000,
                                        0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        {
            mod_proxy_hc_start(s);
        }
    }
}


static void
mod_proxy_hc_start(mod_proxy_server_t *s)
{
    mod_proxy_check_t  *ck;
    struct timeval      tv;
    int                 n;

    ck = calloc(1, sizeof(*ck));
    if (ck == NULL) {
        return;
    }
    ck->server = s;
    n = snprintf(ck->req, sizeof(ck->req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
                 "User-Agent: cairn-health-check\r\nConnection: close\r\n"
                 "\r\n", s->up->hc.uri,
                 s->up->implicit ? s->host : s->up->name);
    ck->req_len = (size_t) n < sizeof(ck->req) ? (size_t) n
                                               : sizeof(ck->req) - 1;

    ck->fd = socket(s->addr.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ck->fd < 0) {
        free(ck);
        return;
    }
    ck->ev = event_new(cairn_event_base(), ck->fd, EV_WRITE | EV_PERSIST,
                       mod_proxy_hc_io_cb, ck);
    if (ck->ev == NULL) {
        close(ck->fd);
        free(ck);
        return;
    }
    ck->next = mod_proxy_hc_flying;
    mod_proxy_hc_flying = ck;

    if (connect(ck->fd, (struct sockaddr *) &s->addr, s->addrlen) != 0
        && errno != EINPROGRESS)
    {
        mod_proxy_hc_done(ck, 0, "connect() failed", errno);
        return;
    }

    tv.tv_sec = s->up->hc.timeout_ms / 1000;
    tv.tv_usec = (s->up->hc.timeout_ms % 1000) * 1000;
    event_add(ck->ev, &tv);
}


static void
mod_proxy_hc_io_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_proxy_check_t  *ck = arg;
    const mod_proxy_hc_t  *hc = &ck->server->up->hc;
    struct timeval      tv;
    socklen_t           len;
    ssize_t             n;
    char               *eol;
    int                 err, status;

    if (what & EV_TIMEOUT) {
        mod_proxy_hc_done(ck, 0, "timed out", 0);
        return;
    }

    if (what & EV_WRITE) {
        if (ck->sent == 0) {
            err = 0;
            len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                mod_proxy_hc_done(ck, 0, "connect() failed", err);
                return;
            }
        }
        n = send(fd, ck->req + ck->sent, ck->req_len - ck->sent,
                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                mod_proxy_hc_done(ck, 0, "send() failed", errno);
            }
            return;
        }
        ck->sent += (size_t) n;
        if (ck->sent == ck->req_len) {
            /* Now the answer, in what is left of the timeout. */
            event_del(ck->ev);
            event_assign(ck->ev, cairn_event_base(), fd,
                         EV_READ | EV_PERSIST, mod_proxy_hc_io_cb, ck);
            tv.tv_sec = hc->timeout_ms / 1000;
            tv.tv_usec = (hc->timeout_ms % 1000) * 1000;
            event_add(ck->ev, &tv);
        }
        return;
    }

    n = recv(fd, ck->buf + ck->got, sizeof(ck->buf) - 1 - ck->got, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            mod_proxy_hc_done(ck, 0, "recv() failed", errno);
        }
        return;
    }
    ck->got += (size_t) n;
    ck->buf[ck->got] = '\0';
    eol = strstr(ck->buf, "\r\n");
    if (eol == NULL) {
        if (n == 0 || ck->got == sizeof(ck->buf) - 1) {
            mod_proxy_hc_done(ck, 0, "no status line", 0);
        }
        return;
    }

    if (sscanf(ck->buf, "HTTP/1.%*1d %3d", &status) != 1) {
        mod_proxy_hc_done(ck, 0, "no status line", 0);
        return;
    }
    if (status < hc->expect_lo || status > hc->expect_hi) {
        char  why[48];

        snprintf(why, sizeof(why), "answered %d", status);
        mod_proxy_hc_done(ck, 0, why, 0);
        return;
    }
    mod_proxy_hc_done(ck, 1, NULL, 0);
}


/* A check's verdict: counted, and a change of state logged. */
static void
mod_proxy_hc_done(mod_proxy_check_t *ck, int ok, const char *why, int err)
{
    mod_proxy_server_t   *s = ck->server;
    mod_proxy_shared_t   *sh = s->sh;
    const mod_proxy_hc_t *hc = &s->up->hc;
    mod_proxy_check_t   **pp;
    uint32_t              n;

    for (pp = &mod_proxy_hc_flying; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ck) {
            *pp = ck->next;
            break;
        }
    }
    event_free(ck->ev);
    close(ck->fd);
    free(ck);

    if (ok) {
        __atomic_store_n(&sh->hc_fails, 0, __ATOMIC_RELAXED);
        n = __atomic_add_fetch(&sh->hc_passes, 1, __ATOMIC_RELAXED);
        if (__atomic_load_n(&sh->hc_down, __ATOMIC_RELAXED)
            && n >= (uint32_t) hc->passes)
        {
            /* The checks are the better judge: a passive time out
             * that the failures before them started ends too, or the
             * server would stay out for fail_timeout after it is
             * back. */
            __atomic_store_n(&sh->fails, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&sh->down_until_us, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&sh->hc_down, 0, __ATOMIC_RELAXED);
            mod_proxy_set_up(s, 1);
            cairn_log_notice(NULL, "upstream \"%s\": server %s is up again "
                             "after %d good health check%s", s->up->name,
                             s->name, hc->passes, hc->passes == 1 ? "" : "s");
        }
        return;
    }

    __atomic_store_n(&sh->hc_passes, 0, __ATOMIC_RELAXED);
    n = __atomic_add_fetch(&sh->hc_fails, 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&sh->hc_down, __ATOMIC_RELAXED)
        && n >= (uint32_t) hc->fails)
    {
        __atomic_store_n(&sh->hc_down, 1, __ATOMIC_RELAXED);
        mod_proxy_set_up(s, 0);
        cairn_log_warn(NULL, err, "upstream \"%s\": server %s is down after "
                       "%d failed health check%s (GET %s: %s)", s->up->name,
                       s->name, hc->fails, hc->fails == 1 ? "" : "s",
                       hc->uri, why);
    }
}
