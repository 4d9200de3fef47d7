/*
 * core/worker_int.h: listeners, the worker's event loop, the task pool.
 *
 * A worker owns one event_base, accepts on the listening sockets it is
 * given, and runs every connection to completion on that loop.  Nothing
 * here assumes a single worker: the listeners are opened before workers
 * exist and every per-worker structure hangs off cairn__worker_t.
 */

#ifndef CAIRN_WORKER_INT_H
#define CAIRN_WORKER_INT_H

#include <event2/event.h>

#include "http_int.h"

typedef struct {
    int                      fd;
    const char              *name;          /* "127.0.0.1:8080" */
} cairn__listener_t;

typedef struct cairn__taskpool_s  cairn__taskpool_t;

struct cairn__worker_s {
    struct event_base       *base;
    cairn_server_t          *server;
    cairn__listener_t       *listeners;
    size_t                   nlisteners;
    struct event           **ev_accept;
    struct event            *ev_accept_resume;  /* after EMFILE */
    struct event            *ev_sigterm;
    struct event            *ev_sigint;
    struct event            *ev_stop_check;
    cairn_conn_t            *conns;
    unsigned                 nconns;
    unsigned                 max_conns;
    uint64_t                 next_conn_id;
    uint64_t                 next_req_id;
    uint32_t                 id_seed;       /* request ids: seed + counter */
    cairn__taskpool_t       *tasks;
    unsigned                 accepting:1;
    unsigned                 stopping:1;
    unsigned                 signals;       /* stop signals received */
    uint64_t                 stop_deadline_us;
};

/* The worker running in this process (NULL in the master). */
extern cairn__worker_t *cairn__worker_current;

/* The generation the worker serves (for lookups without a request). */
extern cairn_server_t *cairn__server_current;

/*
 * Opens every Listen address of s (SO_REUSEADDR, non-blocking,
 * close-on-exec).  Returns 0, or -1 after logging which address failed
 * and why.
 */
int cairn__listeners_open(cairn_server_t *s, cairn__listener_t **out,
                          size_t *n);

/* Runs a worker on s with the given listeners until it is told to stop
 * (SIGTERM/SIGINT: graceful within GracefulTimeout).  Returns the exit
 * status. */
int cairn__worker_run(cairn_server_t *s, cairn__listener_t *ls, size_t n);

/* Stops accepting and closes idle connections; the loop ends when the
 * last connection is gone or the deadline passes. */
void cairn__worker_stop(cairn__worker_t *w);

/* Re-arms accepting after a connection closed below MaxConnections. */
void cairn__worker_conn_closed(cairn__worker_t *w);

/* The task pool: nthreads threads; done callbacks run on base. */
cairn__taskpool_t *cairn__taskpool_create(struct event_base *base,
                                          int nthreads);
void cairn__taskpool_destroy(cairn__taskpool_t *p);
int cairn__taskpool_submit(cairn__taskpool_t *p, void (*work)(void *),
                           void (*done)(void *), void *job);

/* Updates the cached clocks (once per loop callback batch). */
void cairn__time_update(void);

#endif /* CAIRN_WORKER_INT_H */
