/*
 * modules/mysql/mod_mysql.h: what the files of mod_mysql share.
 *
 * The structures of a <Database> section, of a worker's pool, of a
 * connection and of the request's handle on one (cairn_db_conn_t),
 * and the functions and variables one file uses from another:
 *
 *   mod_mysql.c       the directives and their checks, worker_init,
 *                     worker_exit
 *   mysql_pool.c      the pool: acquire, waiters, fill and back-off, bind,
 *                     unbind, expiry, KILL QUERY, timers
 *   mysql_drive.c     the client library, non-blocking or on the task pool
 *   mysql_query.c     statements, parameters, rows, transactions, errors
 *   mysql_provider.c  the cairn_db_t functions and the life of a handle
 *   mysql_health.c    the DatabaseHealth handler and the metrics
 *
 * Include "config.h" first: CAIRN_MYSQL_NONBLOCKING chooses the code
 * that drives the client library.
 */

#ifndef MOD_MYSQL_MOD_MYSQL_H
#define MOD_MYSQL_MOD_MYSQL_H

#include <stdint.h>

#include <event2/event.h>
#include <mysql.h>

#include <cairn/cairn.h>
#include <cairn/metrics.h>
#include <cairn/db.h>


/* Prepared statements each connection keeps. */
#define MOD_MYSQL_STMT_CACHE        32


typedef struct mod_mysql_db_s      mod_mysql_db_t;
typedef struct mod_mysql_pool_s    mod_mysql_pool_t;
typedef struct mod_mysql_conn_s    mod_mysql_conn_t;
typedef cairn_db_conn_t            mod_mysql_handle_t;

typedef void (*mod_mysql_step_cb)(mod_mysql_conn_t *c);


/* One <Database> section; api comes first so that the provider pointer
 * is the section itself. */
struct mod_mysql_db_s {
    cairn_db_t           api;
    const char          *name;
    const char          *file;
    int                  line;

    const char          *host;
    const char          *address;           /* host resolved at load */
    int                  port;
    const char          *socket;
    const char          *user;
    const char          *password_file;
    const char          *dbname;
    const char          *charset;
    int64_t              connect_timeout;   /* ms */
    int64_t              query_timeout;     /* ms */
    int64_t              pool_timeout;      /* ms */
    int64_t              pool_recycle;      /* ms, 0: never */
    int                  pool_size;
    int                  max_overflow;
    int                  strict;            /* StrictMode (default on) */

    const char          *password;          /* read at post_config */
    mod_mysql_pool_t    *pool;              /* this worker's pool */
    mod_mysql_db_t      *next;
};


/* A DatabaseHealth line, with where it was written. */
typedef struct {
    const char          *name;
    const char          *file;
    int                  line;
} mod_mysql_health_ref_t;


typedef struct {
    mod_mysql_db_t          *dbs;
    mod_mysql_health_ref_t  *health;
} mod_mysql_conf_t;


typedef struct {
    char                *sql;               /* malloc()ed */
    MYSQL_STMT          *stmt;
} mod_mysql_stmt_t;


/* Abandoned server threads a pool remembers for KILL QUERY. */
#define MOD_MYSQL_KILL_MAX  32

typedef enum {
    MOD_MYSQL_OP_NONE = 0,
    MOD_MYSQL_OP_CONNECT,
    MOD_MYSQL_OP_PREPARE,
    MOD_MYSQL_OP_EXECUTE,
    MOD_MYSQL_OP_STORE,
    MOD_MYSQL_OP_FETCH,
    MOD_MYSQL_OP_STMT_CLOSE,
    MOD_MYSQL_OP_BEGIN,
    MOD_MYSQL_OP_COMMIT,
    MOD_MYSQL_OP_ROLLBACK,
    MOD_MYSQL_OP_KILL,          /* KILL QUERY of an abandoned statement */
    MOD_MYSQL_OP_CLOSE
} mod_mysql_op_t;


typedef enum {
    MOD_MYSQL_CONNECTING = 0,
    MOD_MYSQL_IDLE,
    MOD_MYSQL_BOUND,        /* belongs to a request */
    MOD_MYSQL_RESETTING,    /* rolling back after its request left */
    MOD_MYSQL_CLOSING
} mod_mysql_state_t;


/* One connection to the server; owned by the worker's pool. */
struct mod_mysql_conn_s {
    mod_mysql_pool_t    *pool;
    mod_mysql_conn_t    *prev;
    mod_mysql_conn_t    *next;
    MYSQL               *mysql;
    struct event        *ev_io;             /* persistent, on the socket */
    short                ev_what;           /* what ev_io waits for */
    struct event        *ev_deadline;
    mod_mysql_state_t    state;
    mod_mysql_op_t       op;
    mod_mysql_step_cb    then;
    int                  ret_int;
    char                 kill_sql[48];      /* MOD_MYSQL_OP_KILL */
    my_bool              ret_bool;
    MYSQL               *ret_mysql;
    mod_mysql_handle_t  *h;
    unsigned             in_tx:1;
    unsigned             overflow:1;
    unsigned             broken:1;
    unsigned             timed_out:1;
    unsigned             counted:1;         /* in pool->nopen */
    unsigned             ev_timed:1;        /* ev_io has a timeout */
    uint64_t             created_us;
    uint64_t             op_start_us;

    MYSQL_STMT          *stmt;              /* the statement being run */
    MYSQL_STMT          *loose_stmt;        /* prepared, not cached yet */
    MYSQL_RES           *meta;
    mod_mysql_stmt_t     cache[MOD_MYSQL_STMT_CACHE];
    unsigned             ncache;
    unsigned             evict;
};


/* A waiting request, in the pool's queue. */
typedef enum {
    MOD_MYSQL_H_IDLE = 0,
    MOD_MYSQL_H_WAITING,        /* in the queue; ev is the PoolTimeout */
    MOD_MYSQL_H_ACQUIRED,       /* deliver the connection */
    MOD_MYSQL_H_ACQUIRE_FAILED, /* deliver err to the acquire callback */
    MOD_MYSQL_H_START,          /* start the operation on the loop */
    MOD_MYSQL_H_RUNNING,        /* the connection is working on it */
    MOD_MYSQL_H_FAILED          /* deliver err to the operation callback */
} mod_mysql_hstate_t;


/* The request's side of a connection (cairn_db_conn_t). */
struct cairn_db_conn_s {
    mod_mysql_db_t        *db;
    cairn_request_t       *r;
    cairn_arena_t         *a;
    mod_mysql_conn_t      *conn;
    struct event          *ev;
    mod_mysql_hstate_t     hstate;
    mod_mysql_handle_t    *qprev;
    mod_mysql_handle_t    *qnext;
    uint64_t               wait_start_us;
    unsigned               released:1;
    unsigned               queued:1;
    unsigned               detached:1;      /* owns a, no request */
    unsigned               destroying:1;
    mod_mysql_handle_t    *dprev;           /* detached handles of the */
    mod_mysql_handle_t    *dnext;           /* worker (worker_exit) */

    cairn_db_acquire_cb    acb;
    cairn_db_query_cb      qcb;
    cairn_db_done_cb       dcb;
    void                  *data;

    mod_mysql_op_t         op;              /* what the user asked */
    const char            *sql;
    cairn_db_param_t      *params;
    size_t                 nparams;
    MYSQL_BIND            *rbind;
    unsigned long         *rlen;
    my_bool               *rnull;
    my_bool               *rerr;
    const char           **rnames;
    unsigned               ncols;
    cairn_db_result_t      res;
    cairn_db_error_t       err;
    cairn_db_error_t       dead;            /* why conn is gone */
    int                    has_dead;
};


/* The pool of one database in one worker. */
struct mod_mysql_pool_s {
    mod_mysql_db_t      *db;
    mod_mysql_conn_t    *conns;
    mod_mysql_handle_t  *qhead;
    mod_mysql_handle_t  *qtail;
    struct event        *ev_retry;
    unsigned             nopen;
    unsigned             nconnecting;
    unsigned             nbound;
    unsigned             noverflow;
    unsigned             nwaiting;
    unsigned             failures;
    uint64_t             retry_at_us;
    char                 last_error[256];
    unsigned             last_errno;

    /* Server threads still running a statement this pool abandoned (its
     * request went away, or QueryTimeout passed): the next free
     * connection sends KILL QUERY for each, so that the server does not
     * keep working for nobody while the pool opens replacements. */
    unsigned long        kill[MOD_MYSQL_KILL_MAX];
    unsigned             nkill;
};


/* mod_mysql.c */
extern CAIRN_EXPORT cairn_module_t  mod_mysql_module;


/* mysql_pool.c */
void mod_mysql_pool_fill(mod_mysql_pool_t *pool);
void mod_mysql_pool_count(mod_mysql_pool_t *pool, int delta);
void mod_mysql_retry_cb(evutil_socket_t fd, short what, void *arg);
void mod_mysql_conn_unbind(mod_mysql_conn_t *c);
void mod_mysql_conn_close(mod_mysql_conn_t *c);
void mod_mysql_conn_free(mod_mysql_conn_t *c);
void mod_mysql_conn_abort(mod_mysql_conn_t *c);
void mod_mysql_deadline(mod_mysql_conn_t *c, int64_t ms);

int mod_mysql_acquire(const cairn_db_t *api, cairn_request_t *r,
                      cairn_arena_t *a, cairn_db_acquire_cb cb, void *data);
void mod_mysql_queue_remove(mod_mysql_handle_t *h);


/* mysql_drive.c */
MYSQL *mod_mysql_new_mysql(mod_mysql_db_t *db, int nonblocking);
void mod_mysql_conn_drain(mod_mysql_conn_t *c);

void mod_mysql_op_go(mod_mysql_conn_t *c, mod_mysql_op_t op,
                     mod_mysql_step_cb then);
#ifdef CAIRN_MYSQL_NONBLOCKING
void mod_mysql_wait(mod_mysql_conn_t *c, int status);
void mod_mysql_arm(mod_mysql_conn_t *c, short what, const struct timeval *tv);
#endif
int mod_mysql_fetch_step(mod_mysql_conn_t *c);


/* mysql_query.c */
void mod_mysql_run(mod_mysql_handle_t *h);
#ifdef CAIRN_MYSQL_NONBLOCKING
void mod_mysql_q_fetched(mod_mysql_conn_t *c);
#endif
void mod_mysql_error_set(cairn_arena_t *a, cairn_db_error_t *e,
                         cairn_db_errkind_t kind, unsigned code,
                         const char *sqlstate, const char *msg);
void mod_mysql_handle_answer(mod_mysql_handle_t *h,
                             const cairn_db_result_t *res,
                             const cairn_db_error_t *err);
int mod_mysql_code_broken(unsigned code);


/* mysql_provider.c */
extern mod_mysql_handle_t  *mod_mysql_detached;
extern struct event        *mod_mysql_reaper;
extern int                  mod_mysql_exiting;

int mod_mysql_api_acquire(const cairn_db_t *db, cairn_request_t *r,
                          cairn_db_acquire_cb cb, void *data);
int mod_mysql_api_acquire_detached(const cairn_db_t *db,
                                   cairn_db_acquire_cb cb, void *data);
void mod_mysql_handle_reap(evutil_socket_t fd, short what, void *arg);
int mod_mysql_api_query(cairn_db_conn_t *h, const char *sql,
                        const cairn_db_param_t *params, size_t nparams,
                        cairn_db_query_cb cb, void *data);
int mod_mysql_api_begin(cairn_db_conn_t *h, cairn_db_done_cb cb, void *data);
int mod_mysql_api_commit(cairn_db_conn_t *h, cairn_db_done_cb cb, void *data);
int mod_mysql_api_rollback(cairn_db_conn_t *h, cairn_db_done_cb cb,
                           void *data);
void mod_mysql_api_release(cairn_db_conn_t *h);
const char *mod_mysql_api_kind_name(cairn_db_errkind_t kind);
void mod_mysql_handle_cleanup(void *data);
void mod_mysql_handle_cb(evutil_socket_t fd, short what, void *arg);
void mod_mysql_handle_later(mod_mysql_handle_t *h, mod_mysql_hstate_t st);


/* mysql_health.c */
extern cairn_metric_t  *mod_mysql_m_open;
extern cairn_metric_t  *mod_mysql_m_in_use;
extern cairn_metric_t  *mod_mysql_m_overflow;
extern cairn_metric_t  *mod_mysql_m_waiters;
extern cairn_metric_t  *mod_mysql_m_wait;
extern cairn_metric_t  *mod_mysql_m_query;

int mod_mysql_handler(cairn_request_t *r);

void mod_mysql_metrics_register(cairn_server_t *s);
void mod_mysql_gauge(cairn_metric_t *m, mod_mysql_pool_t *pool, double delta);
void mod_mysql_count_error(mod_mysql_pool_t *pool, cairn_db_errkind_t kind);

#endif /* MOD_MYSQL_MOD_MYSQL_H */
