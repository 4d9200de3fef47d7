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

#include <signal.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <cairn/cairn.h>

typedef struct cairn__worker_s  cairn__worker_t;
typedef struct cairn__wconn_s   cairn__wconn_t;

/*
 * What serves the connections of a listener (today the HTTP/1.1 layer,
 * http.c): the worker calls it and knows nothing above it.  accept()
 * takes a new connection (fd non-blocking); refuse=1 when the worker is
 * at MaxConnections and nothing idle could be closed: the handler answers
 * that it is full and closes.  stop() is called for every connection
 * when the worker starts to stop (idle ones close, busy ones finish their
 * request); close() for those still open when the loop has ended.
 * reap() is asked to close an idle connection at MaxConnections: it
 * returns 1 after closing it, 0 when the connection turned out to have
 * input waiting (it is read now, and the connection is no longer idle).
 */
typedef struct {
    const char              *name;
    void                   (*accept)(cairn__worker_t *w, int fd,
                                     const struct sockaddr *sa,
                                     socklen_t salen, int refuse);
    void                   (*stop)(cairn__wconn_t *wc);
    void                   (*close)(cairn__wconn_t *wc);
    int                    (*reap)(cairn__wconn_t *wc);
} cairn__conn_handler_t;

/* A connection as the worker sees it: a link in its list (the first
 * member of the layer's own connection structure). */
struct cairn__wconn_s {
    cairn__wconn_t              *prev;
    cairn__wconn_t              *next;
    const cairn__conn_handler_t *handler;
    cairn__wconn_t              *idle_prev;     /* in the idle list, */
    cairn__wconn_t              *idle_next;     /* oldest first */
    unsigned                     idle:1;
};

typedef struct {
    int                          fd;
    const char                  *name;      /* "127.0.0.1:8080" */
    const cairn__conn_handler_t *handler;
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
    struct event            *ev_sigusr1;
    struct event            *ev_stop_check;
    cairn__wconn_t          *conns;
    unsigned                 nconns;
    unsigned                 max_conns;
    cairn__wconn_t          *idle_head;     /* idle the longest */
    cairn__wconn_t          *idle_tail;
    unsigned                 reaped;        /* not yet logged */
    unsigned                 refused;       /* not yet logged */
    uint64_t                 reap_logged_us;
    uint64_t                 refuse_logged_us;
    uint64_t                 next_conn_id;
    uint64_t                 next_req_id;
    uint32_t                 id_seed;       /* request ids: seed + counter */
    cairn__taskpool_t       *tasks;
    unsigned                 accepting:1;
    unsigned                 stopping:1;
    unsigned                 signals;       /* stop signals received */
    uint64_t                 stop_deadline_us;
    uint64_t                 emfile_logged_us;
    struct event            *ev_mem;        /* retakes the reserve */
    unsigned                 mem_shed;      /* 503s since low, not logged */
    uint64_t                 mem_low_us;    /* when it ran low; 0: not */
};

/*
 * What a worker's fatal-signal handler leaves for the master: one record
 * per worker slot, in memory shared with the master and allocated before
 * the fork, filled with async-signal-safe copies only.
 */
typedef struct {
    volatile sig_atomic_t    filled;
    volatile sig_atomic_t    served;        /* began a request: a death is
                                               not a start-up crash loop */
    int                      signo;
    char                     module[64];    /* "" when the core itself */
    char                     hook[32];      /* or what the core was doing */
    char                     location[256]; /* "" at server scope */
    char                     request[512];  /* "GET /x HTTP/1.1" */
    char                     request_id[24];
    char                     client[48];
} cairn__crash_t;

/*
 * Modules quarantined after repeated crashes, per configuration
 * generation, in memory shared by the master (which writes it) and the
 * workers (which read it before each hook call).
 */
#define CAIRN__QUARANTINE_MAX    32

typedef struct {
    volatile sig_atomic_t    n;
    struct {
        char                 module[64];
        char                 location[256];
    }                        v[CAIRN__QUARANTINE_MAX];
} cairn__quarantine_t;

/* This worker's crash record and its generation's quarantine list (NULL
 * when running without a master, as in unit tests). */
extern cairn__crash_t       *cairn__crash;
extern cairn__quarantine_t  *cairn__quarantine;

/* The request and phase whose hook is running, for the crash record. */
extern cairn_request_t      *cairn__current_request;
extern int                   cairn__current_phase;

/* Installs the fatal-signal handlers that fill cairn__crash. */
void cairn__crash_handlers_install(void);

/* Whether module m is quarantined for r's location; logs the refusal. */
int cairn__quarantined(cairn_request_t *r, const cairn_module_t *m);

/* The master: spawns and supervises the workers, reloads on SIGHUP.
 * Returns the exit status of cairnd. */
int cairn__master_run(cairn_server_t *s, const cairn_strv_t *defines);

/* Frees what the master holds, its current generation included. */
void cairn__master_cleanup(void);

/* Who the workers of a generation run as. */
typedef struct {
    int          drop;          /* switch to uid/gid (started as root) */
    uid_t        uid;
    gid_t        gid;
    const char  *user;          /* the name, for messages */
    int          by_default;    /* User not set: CAIRN__DEFAULT_USER */
} cairn__workers_user_t;

/* The user the workers of a master started as root run as when User is
 * not set, as nginx's; with its primary group unless Group is set. */
#define CAIRN__DEFAULT_USER     "nobody"

/*
 * Works out who the workers of s run as: started as root, User (or
 * CAIRN__DEFAULT_USER) and Group (or the user's group); started as
 * anyone else, that user, and User/Group are ignored.  Returns 0, or -1
 * with a message in err when a user or group does not exist.
 */
int cairn__master_workers_user(cairn_server_t *s, cairn__workers_user_t *u,
                               char *err, size_t errlen);

/* Writes this process's pid into path; logs and returns -1 on failure. */
int cairn__master_write_pid(const char *path);

/* The PidFile the master wrote last (a reload may change it), or NULL;
 * valid until cairn__master_cleanup(). */
const char *cairn__master_pid_file(void);

/* sd_notify(3)'s datagram protocol, spoken directly: sends msg to
 * $NOTIFY_SOCKET when it is set. */
void cairn__notify(const char *fmt, ...) CAIRN_PRINTF(1, 2);

/* The worker running in this process (NULL in the master). */
extern cairn__worker_t *cairn__worker_current;

/* The generation the worker serves (for lookups without a request). */
extern cairn_server_t *cairn__server_current;

/*
 * Opens a listening socket for one Listen address, with SO_REUSEPORT (one
 * socket per worker); probe first checks that nobody else holds the
 * address.  Returns the descriptor or -1 after logging why.
 */
int cairn__listen_open(const char *spec, int probe);

/* Runs a worker on s with the given listeners until it is told to stop
 * (SIGTERM/SIGINT: graceful within GracefulTimeout).  Returns the exit
 * status. */
int cairn__worker_run(cairn_server_t *s, cairn__listener_t *ls, size_t n);

/* Stops accepting and closes idle connections; the loop ends when the
 * last connection is gone or the deadline passes. */
void cairn__worker_stop(cairn__worker_t *w);

/* A connection joins or leaves the worker's list; leaving re-arms
 * accepting below MaxConnections, or ends a stopping worker's loop after
 * the last one. */
void cairn__worker_conn_add(cairn__worker_t *w, cairn__wconn_t *wc);
void cairn__worker_conn_remove(cairn__worker_t *w, cairn__wconn_t *wc);

/*
 * A connection becomes idle (between keep-alive requests, or accepted
 * and nothing received yet) or busy again.  Idle connections are kept in
 * a list, the one idle the longest first (becoming idle again moves a
 * connection to the end): at MaxConnections the worker closes the oldest
 * through handler->reap() to make room for new ones.
 */
void cairn__worker_conn_idle(cairn__worker_t *w, cairn__wconn_t *wc,
                             int idle);

/* The task pool: nthreads threads; done callbacks run on base. */
cairn__taskpool_t *cairn__taskpool_create(struct event_base *base,
                                          int nthreads);
void cairn__taskpool_destroy(cairn__taskpool_t *p);
int cairn__taskpool_submit(cairn__taskpool_t *p, void (*work)(void *),
                           void (*done)(void *), void *job);

/* Updates the cached clocks (once per loop callback batch). */
void cairn__time_update(void);

/*
 * cairn__mem_low() is true (an allocation spent the reserve): whether the
 * new request (refused = 0) or connection (refused = 1) must be answered
 * 503.  0 when the reserve could be taken back at once; otherwise the
 * worker logs, counts, and tries again every WORKER_MEM_RETRY_MS.
 */
int cairn__worker_mem_shed(cairn__worker_t *w, int refused);

#endif /* CAIRN_WORKER_INT_H */
