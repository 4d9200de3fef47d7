/*
 * core/worker.c: listening sockets and the worker's event loop.
 *
 * Accepting stops, rather than spins, when the process runs out of
 * descriptors (EMFILE/ENFILE): it resumes after a short pause, or as soon
 * as a connection closes.  At MaxConnections the worker goes on
 * accepting, like nginx: it closes the connections that have been idle
 * the longest (keep-alive ones between requests, and ones that have not
 * sent a byte yet) to make room, a few at a time, and when none is idle
 * it answers the new connection 503 and closes it, rather than leave it
 * waiting in the listen queue.  A connection in the middle of a request
 * is never closed for this.
 *
 * Low on memory (an allocation that cannot fail had to spend the reserve
 * of arena.c), the worker answers every new request and connection 503
 * until it can take its reserve back, which it tries every
 * WORKER_MEM_RETRY_MS: the requests that hold the memory finish, and
 * none is added to them.
 */

#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "arena_int.h"
#include "conf_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "worker_int.h"


#define WORKER_ACCEPT_BATCH     64
#define WORKER_EMFILE_PAUSE_MS  100

/* At MaxConnections, close up to a sixteenth of the limit (at least one,
 * at most this many) idle connections at a time. */
#define WORKER_REAP_MAX         16

/* The MaxConnections messages are repeated at most this often. */
#define WORKER_LIMIT_LOG_US     (60 * 1000000u)

#define WORKER_MEM_RETRY_MS     100

cairn__worker_t  *cairn__worker_current;
cairn_server_t   *cairn__server_current;

static void worker_accept_cb(evutil_socket_t fd, short what, void *arg);
static void worker_accept_resume_cb(evutil_socket_t fd, short what,
                                    void *arg);
static void worker_signal_cb(evutil_socket_t sig, short what, void *arg);
static void worker_stop_check_cb(evutil_socket_t fd, short what, void *arg);
static void worker_reopen_cb(evutil_socket_t sig, short what, void *arg);
static void worker_accept_enable(cairn__worker_t *w, int on);
static void worker_reap(cairn__worker_t *w);
static void worker_refused(cairn__worker_t *w);
static int worker_log_due(uint64_t *last_us);
static void worker_mem_retry_cb(evutil_socket_t fd, short what, void *arg);


/*
 * Splits "ADDR:PORT", "[V6]:PORT" or "PORT" into host and port.
 */
static int
worker_split_listen(const char *spec, char *host, size_t hlen, char *port,
                    size_t plen)
{
    const char  *colon;

    if (spec[0] == '[') {
        const char  *rb = strchr(spec, ']');

        if (rb == NULL || rb[1] != ':' || (size_t) (rb - spec) > hlen) {
            return -1;
        }
        snprintf(host, hlen, "%.*s", (int) (rb - spec - 1), spec + 1);
        snprintf(port, plen, "%s", rb + 2);
        return 0;
    }

    colon = strrchr(spec, ':');
    if (colon == NULL) {
        snprintf(host, hlen, "%s", "");
        snprintf(port, plen, "%s", spec);
        return 0;
    }

    snprintf(host, hlen, "%.*s", (int) (colon - spec), spec);
    snprintf(port, plen, "%s", colon + 1);

    return 0;
}


/*
 * Binds a socket for ai.  An IPv6 socket is IPv6-only, but for the
 * dual-stack wildcard of a bare "PORT" (dual set), which takes IPv4 too
 * (as IPv4-mapped addresses).  quiet: say nothing when the host has no
 * IPv6 (socket() or bind() refuse the family), the caller falls back.
 */
static int
worker_bind(const struct addrinfo *ai, const char *spec, int reuseport,
            int dual, int quiet)
{
    int  fd, one = 1, v6only = !dual;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd == -1) {
        if (!(quiet && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT))) {
            cairn_log(NULL, CAIRN_LOG_ERROR, errno, "socket() for %s", spec);
        }
        return -1;
    }

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
    if (ai->ai_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }

    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (!(quiet && errno == EADDRNOTAVAIL)) {
            cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot listen on %s",
                      spec);
        }
        close(fd);
        return -1;
    }

    return fd;
}


/*
 * A bare "PORT": one [::]:PORT socket with IPV6_V6ONLY off, which
 * accepts IPv4 and IPv6 alike.  On a host without IPv6 (no AF_INET6,
 * or :: not bindable) it is 0.0.0.0:PORT, with a notice when probe is
 * set (once per address, not once per worker slot).  Returns the bound
 * descriptor or -1; *no_v6 says the IPv6 socket could not be made.
 */
static int
worker_bind_dual(const char *spec, const char *port, int reuseport,
                 int *no_v6)
{
    struct sockaddr_in6  sin6;
    struct addrinfo      ai;
    int                  fd;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = htons((uint16_t) atoi(port));

    memset(&ai, 0, sizeof(ai));
    ai.ai_family = AF_INET6;
    ai.ai_socktype = SOCK_STREAM;
    ai.ai_addr = (struct sockaddr *) &sin6;
    ai.ai_addrlen = sizeof(sin6);

    errno = 0;
    fd = worker_bind(&ai, spec, reuseport, 1, 1);
    *no_v6 = fd == -1 && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT
                          || errno == EADDRNOTAVAIL);

    return fd;
}


/*
 * Opens one listening socket for "ADDR:PORT", "[V6]:PORT" or "PORT" (the
 * IPv4 wildcard).  Every socket has SO_REUSEPORT so that each worker can
 * have its own; probe first binds without it, so that an address another
 * program (or another cairnd) holds is reported instead of shared.
 * Returns the descriptor, or -1 after logging why.
 */
int
cairn__listen_open(const char *spec, int probe)
{
    struct addrinfo   hints, *res, *ai;
    char              host[256], port[32];
    int               fd = -1, pfd = -1, rc, no_v6 = 0;

    if (worker_split_listen(spec, host, sizeof(host), port, sizeof(port))
        != 0)
    {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "bad Listen address '%s'", spec);
        return -1;
    }

    if (host[0] == '\0') {
        /* Every address, IPv4 and IPv6, on one socket. */
        if (probe) {
            pfd = worker_bind_dual(spec, port, 0, &no_v6);
            if (pfd != -1) {
                close(pfd);
            }
        }
        if (!probe || pfd != -1) {
            fd = worker_bind_dual(spec, port, 1, &no_v6);
            if (fd != -1) {
                if (listen(fd, 511) != 0) {
                    cairn_log(NULL, CAIRN_LOG_ERROR, errno, "listen() on %s",
                              spec);
                    close(fd);
                    return -1;
                }
                return fd;
            }
        }
        if (!no_v6) {
            return -1;
        }
        if (probe) {
            cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "Listen %s: this host has "
                      "no IPv6: listening on IPv4 only (0.0.0.0:%s)", spec,
                      port);
        }
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = host[0] ? AF_UNSPEC : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "Listen %s: %s", spec,
                  gai_strerror(rc));
        return -1;
    }

    for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
        if (probe) {
            pfd = worker_bind(ai, spec, 0, 0, 0);
            if (pfd == -1) {
                break;
            }
            close(pfd);
        }

        fd = worker_bind(ai, spec, 1, 0, 0);
        if (fd == -1) {
            break;
        }

        if (listen(fd, 511) != 0) {
            cairn_log(NULL, CAIRN_LOG_ERROR, errno, "listen() on %s", spec);
            close(fd);
            fd = -1;
            break;
        }
    }

    freeaddrinfo(res);

    return fd;
}


int
cairn__worker_run(cairn_server_t *s, cairn__listener_t *ls, size_t n)
{
    const cairn__core_conf_t  *core = s->main_vhost->base.core;
    struct event_config       *cfg;
    cairn__worker_t           *w;
    cairn__wconn_t            *c, *next;
    struct timespec            ts;
    size_t                     i;
    int                        rc = 0;

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        cairn__oom(sizeof(*w));
    }

    cfg = event_config_new();
    /* One thread owns the loop: no locking inside libevent. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (w->base == NULL) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "cannot create the event loop");
        free(w);
        return 1;
    }

    w->server = s;
    w->listeners = ls;
    w->nlisteners = n;
    w->max_conns = core->max_connections > 0
                   ? (unsigned) core->max_connections : 4096;
    clock_gettime(CLOCK_REALTIME, &ts);
    w->id_seed = (uint32_t) ts.tv_nsec ^ ((uint32_t) getpid() << 16)
                 ^ (uint32_t) ts.tv_sec;

    cairn__worker_current = w;
    cairn__server_current = s;
    cairn__time_update();

    w->tasks = cairn__taskpool_create(w->base, core->task_threads);

    w->ev_accept = calloc(n ? n : 1, sizeof(struct event *));
    for (i = 0; i < n; i++) {
        w->ev_accept[i] = event_new(w->base, ls[i].fd, EV_READ | EV_PERSIST,
                                    worker_accept_cb, &ls[i]);
    }
    w->ev_accept_resume = event_new(w->base, -1, 0, worker_accept_resume_cb,
                                    w);
    w->ev_stop_check = event_new(w->base, -1, 0, worker_stop_check_cb, w);
    w->ev_mem = event_new(w->base, -1, 0, worker_mem_retry_cb, w);
    w->ev_sigterm = evsignal_new(w->base, SIGTERM, worker_signal_cb, w);
    w->ev_sigint = evsignal_new(w->base, SIGINT, worker_signal_cb, w);
    w->ev_sigusr1 = evsignal_new(w->base, SIGUSR1, worker_reopen_cb, w);
    event_add(w->ev_sigterm, NULL);
    event_add(w->ev_sigint, NULL);
    event_add(w->ev_sigusr1, NULL);

    if (cairn__crash != NULL) {
        cairn__crash_handlers_install();
    }

    if (cairn__server_hooks_run(s, CAIRN_SERVER_WORKER_INIT) != CAIRN_OK) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "a worker_init hook failed: "
                  "stopping");
        rc = 1;
        goto done;
    }

    if (cairn__mem_reserve() != 0) {
        cairn_log(NULL, CAIRN_LOG_WARN, 0, "cannot set memory aside for "
                  "shortages: an allocation that fails will stop the "
                  "worker");
    }

    worker_accept_enable(w, 1);

    if (cairn__crash == NULL) {
        for (i = 0; i < n; i++) {
            cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "listening on %s",
                      ls[i].name);
        }
    }

    event_base_dispatch(w->base);

    cairn__server_hooks_run(s, CAIRN_SERVER_WORKER_EXIT);

done:

    worker_accept_enable(w, 0);

    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        c->handler->close(c);
    }

    cairn__taskpool_destroy(w->tasks);

    for (i = 0; i < n; i++) {
        event_free(w->ev_accept[i]);
    }
    free(w->ev_accept);
    event_free(w->ev_accept_resume);
    event_free(w->ev_stop_check);
    event_free(w->ev_mem);
    cairn__mem_release();
    event_free(w->ev_sigterm);
    event_free(w->ev_sigint);
    event_free(w->ev_sigusr1);
    event_base_free(w->base);

    cairn__worker_current = NULL;
    free(w);

    return rc;
}


static void
worker_accept_enable(cairn__worker_t *w, int on)
{
    size_t  i;

    if ((on && w->accepting) || (!on && !w->accepting)) {
        return;
    }

    for (i = 0; i < w->nlisteners; i++) {
        if (on) {
            event_add(w->ev_accept[i], NULL);
        } else {
            event_del(w->ev_accept[i]);
        }
    }

    w->accepting = on ? 1 : 0;
}


/*
 * An IPv4 client of a dual-stack socket (Listen PORT) arrives as
 * ::ffff:a.b.c.d: it is made the AF_INET address it is, so logs,
 * Require ip, X-Forwarded-For and every module see 127.0.0.1, never
 * ::ffff:127.0.0.1.
 */
static void
worker_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6  sin6;
    struct sockaddr_in   sin;

    if (ss->ss_family != AF_INET6 || *len < sizeof(sin6)) {
        return;
    }
    memcpy(&sin6, ss, sizeof(sin6));
    if (!IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
        return;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = sin6.sin6_port;
    memcpy(&sin.sin_addr, &sin6.sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &sin, sizeof(sin));
    *len = sizeof(sin);
}


static void
worker_accept_cb(evutil_socket_t fd, short what, void *arg)
{
    const cairn__listener_t  *l = arg;
    cairn__worker_t          *w = cairn__worker_current;
    struct sockaddr_storage   ss;
    socklen_t                 len;
    struct timeval            tv;
    int                       cfd, i;

    cairn__time_update();

    for (i = 0; i < WORKER_ACCEPT_BATCH; i++) {
        len = sizeof(ss);
        cfd = accept4(fd, (struct sockaddr *) &ss, &len,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd == -1) {
            switch (errno) {
            case EINTR:
            case ECONNABORTED:
                continue;
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
                return;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Once a minute is enough to tell the admin. */
                if (worker_log_due(&w->emfile_logged_us)) {
                    cairn_log(NULL, CAIRN_LOG_WARN, errno, "accept() failed: "
                              "pausing accepts for %d ms (and again "
                              "whenever it happens in the next minute)",
                              WORKER_EMFILE_PAUSE_MS);
                }
                worker_accept_enable(w, 0);
                tv.tv_sec = 0;
                tv.tv_usec = WORKER_EMFILE_PAUSE_MS * 1000;
                event_add(w->ev_accept_resume, &tv);
                return;
            default:
                cairn_log(NULL, CAIRN_LOG_ERROR, errno, "accept() failed");
                return;
            }
        }

        worker_unmap(&ss, &len);

        /* Only now that a client is here: room is made for it, not for
         * one that may come. */
        if (w->nconns >= w->max_conns) {
            worker_reap(w);
        }

        if (w->nconns >= w->max_conns) {
            if (w->nconns >= 2 * w->max_conns) {
                /* Even the answers that it is full are too many. */
                close(cfd);
            } else {
                l->handler->accept(w, cfd, (struct sockaddr *) &ss, len, 1);
            }
            worker_refused(w);
            continue;
        }

        l->handler->accept(w, cfd, (struct sockaddr *) &ss, len, 0);
    }
}


/*
 * MaxConnections is reached: closes the connections idle the longest,
 * up to a sixteenth of the limit (1 to WORKER_REAP_MAX), so that one
 * burst of new clients does not close every idle connection at once.
 */
static void
worker_reap(cairn__worker_t *w)
{
    cairn__wconn_t  *wc;
    unsigned         n, k = 0;

    n = w->max_conns / 16;
    if (n < 1) {
        n = 1;
    } else if (n > WORKER_REAP_MAX) {
        n = WORKER_REAP_MAX;
    }

    while (k < n && w->idle_head != NULL) {
        wc = w->idle_head;
        /* Off the list first: whether it closes or starts a request, it
         * is not idle any more; each turn shortens the list. */
        cairn__worker_conn_idle(w, wc, 0);
        k += (unsigned) wc->handler->reap(wc);
    }

    if (k == 0) {
        return;
    }

    cairn__metrics_conn_reaped(k);
    w->reaped += k;

    if (worker_log_due(&w->reap_logged_us)) {
        cairn_log(NULL, CAIRN_LOG_WARN, 0, "MaxConnections %u reached, "
                  "closed %u idle connections (this message is repeated "
                  "at most once a minute, with the count since the last "
                  "one)", w->max_conns, w->reaped);
        w->reaped = 0;
    }
}


/*
 * MaxConnections is reached and no connection is idle: the new one was
 * answered 503 (Connection: close) by its handler, instead of waiting in
 * the listen queue until a busy connection ends.
 */
static void
worker_refused(cairn__worker_t *w)
{
    cairn__metrics_conn_refused();
    w->refused++;

    if (worker_log_due(&w->refuse_logged_us)) {
        cairn_log(NULL, CAIRN_LOG_WARN, 0, "MaxConnections %u reached and "
                  "no connection is idle: answered %u new connections 503 "
                  "(this message is repeated at most once a minute, with "
                  "the count since the last one)", w->max_conns, w->refused);
        w->refused = 0;
    }
}


/*
 * Whether a message repeated at most once a minute is due, *last_us
 * being when it was last logged (0: never); if so, *last_us becomes now.
 */
static int
worker_log_due(uint64_t *last_us)
{
    uint64_t  now = cairn_now_us();

    if (*last_us != 0 && now - *last_us < WORKER_LIMIT_LOG_US) {
        return 0;
    }

    *last_us = now;

    return 1;
}


int
cairn__worker_mem_shed(cairn__worker_t *w, int refused)
{
    struct timeval  tv;

    if (w->mem_low_us == 0 && cairn__mem_reserve() == 0) {
        /* Spent and already back: what needed it has finished. */
        cairn_log(NULL, CAIRN_LOG_WARN, 0, "memory ran short: the worker "
                  "spent its reserve and could take it back");
        return 0;
    }

    if (refused) {
        cairn__metrics_conn_refused();
    }
    w->mem_shed++;

    if (w->mem_low_us != 0) {
        return 1;
    }

    w->mem_low_us = cairn_now_us();
    cairn_log(NULL, CAIRN_LOG_ERROR, 0, "out of memory: the worker spent "
              "its reserve and answers new requests 503 until it has it "
              "back");

    tv.tv_sec = 0;
    tv.tv_usec = WORKER_MEM_RETRY_MS * 1000;
    event_add(w->ev_mem, &tv);

    return 1;
}


static void
worker_mem_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn__worker_t  *w = arg;
    struct timeval    tv;

    (void) fd;
    (void) what;

    cairn__time_update();

    if (cairn__mem_reserve() != 0) {
        tv.tv_sec = 0;
        tv.tv_usec = WORKER_MEM_RETRY_MS * 1000;
        event_add(w->ev_mem, &tv);
        return;
    }

    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "memory is available again after "
              "%llu ms: serving resumes (%u requests and connections were "
              "answered 503 meanwhile)",
              (unsigned long long) ((cairn_now_us() - w->mem_low_us) / 1000),
              w->mem_shed);
    w->mem_low_us = 0;
    w->mem_shed = 0;
}


static void
worker_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn__worker_t  *w = arg;

    if (!w->stopping && w->nconns < w->max_conns) {
        worker_accept_enable(w, 1);
    }
}


void
cairn__worker_conn_add(cairn__worker_t *w, cairn__wconn_t *wc)
{
    wc->prev = NULL;
    wc->next = w->conns;
    if (w->conns != NULL) {
        w->conns->prev = wc;
    }
    w->conns = wc;
    w->nconns++;
}


void
cairn__worker_conn_idle(cairn__worker_t *w, cairn__wconn_t *wc, int idle)
{
    if (wc->idle) {
        if (wc->idle_prev != NULL) {
            wc->idle_prev->idle_next = wc->idle_next;
        } else {
            w->idle_head = wc->idle_next;
        }
        if (wc->idle_next != NULL) {
            wc->idle_next->idle_prev = wc->idle_prev;
        } else {
            w->idle_tail = wc->idle_prev;
        }
        wc->idle_prev = wc->idle_next = NULL;
        wc->idle = 0;
    }

    if (!idle) {
        return;
    }

    wc->idle_prev = w->idle_tail;
    wc->idle_next = NULL;
    if (w->idle_tail != NULL) {
        w->idle_tail->idle_next = wc;
    } else {
        w->idle_head = wc;
    }
    w->idle_tail = wc;
    wc->idle = 1;
}


void
cairn__worker_conn_remove(cairn__worker_t *w, cairn__wconn_t *wc)
{
    cairn__worker_conn_idle(w, wc, 0);

    if (wc->prev != NULL) {
        wc->prev->next = wc->next;
    } else {
        w->conns = wc->next;
    }
    if (wc->next != NULL) {
        wc->next->prev = wc->prev;
    }
    wc->prev = wc->next = NULL;
    w->nconns--;

    if (w->stopping) {
        if (w->nconns == 0) {
            event_base_loopexit(w->base, NULL);
        }
        return;
    }

    if (!w->accepting && w->nconns < w->max_conns
        && !event_pending(w->ev_accept_resume, EV_TIMEOUT, NULL))
    {
        worker_accept_enable(w, 1);
    }
}


void
cairn__worker_stop(cairn__worker_t *w)
{
    const cairn__core_conf_t  *core = w->server->main_vhost->base.core;
    cairn__wconn_t            *c, *next;
    struct timeval             tv;
    size_t                     i;

    if (w->stopping) {
        return;
    }

    w->stopping = 1;
    worker_accept_enable(w, 0);
    event_del(w->ev_accept_resume);

    /* Stop listening: whatever the master or a newer worker still holds
     * goes on accepting; when nobody does, connections are refused
     * instead of waiting in a queue nobody reads. */
    for (i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i].fd >= 0) {
            close(w->listeners[i].fd);
            w->listeners[i].fd = -1;
        }
    }

    /* Busy connections finish their request and close; idle ones
     * close (the handler decides which is which). */
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        c->handler->stop(c);
    }

    if (w->nconns == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }

    tv.tv_sec = (time_t) (core->graceful_timeout_ms / 1000);
    tv.tv_usec = (suseconds_t) ((core->graceful_timeout_ms % 1000) * 1000);
    event_add(w->ev_stop_check, &tv);
}


static void
worker_stop_check_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn__worker_t  *w = arg;

    cairn_log(NULL, CAIRN_LOG_WARN, 0, "GracefulTimeout reached with %u "
              "connections open: closing them", w->nconns);
    event_base_loopbreak(w->base);
}


static void
worker_reopen_cb(evutil_socket_t sig, short what, void *arg)
{
    cairn__worker_t  *w = arg;

    if (cairn__log_reopen() != 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot reopen the error "
                  "log");
    }
    cairn__server_hooks_run(w->server, CAIRN_SERVER_REOPEN_LOGS);
    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "SIGUSR1: logs reopened");
}


static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    cairn__worker_t  *w = arg;

    w->signals++;

    if (sig == SIGINT || w->signals > 1) {
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "signal %d: stopping now",
                  (int) sig);
        event_base_loopbreak(w->base);
        return;
    }

    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "signal %d: stopping gracefully",
              (int) sig);
    cairn__worker_stop(w);
}
