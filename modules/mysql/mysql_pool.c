/*
 * modules/mysql/mysql_pool.c: the pool of each <Database> in a worker.
 *
 * Counting open connections (and those beyond PoolSize), filling the
 * pool and backing off when the server cannot be reached, opening,
 * binding, unbinding, expiring, resetting and closing connections,
 * KILL QUERY for abandoned statements, the ConnectTimeout and
 * QueryTimeout timers, and the queue of requests waiting for a
 * connection (acquire, PoolTimeout).
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <errmsg.h>

#include "mod_mysql.h"


#define MOD_MYSQL_BACKOFF_MIN_MS    100
#define MOD_MYSQL_BACKOFF_MAX_MS    2000
#define MOD_MYSQL_OVERFLOW_IDLE_MS  1000

/* ER_NO_SUCH_THREAD: KILL of a thread that has ended. */
#define MOD_MYSQL_ER_NO_SUCH_THREAD  1094


static void mod_mysql_pool_want(mod_mysql_pool_t *pool);
static void mod_mysql_pool_failed(mod_mysql_pool_t *pool, MYSQL *mysql);
static void mod_mysql_conn_open(mod_mysql_pool_t *pool, int overflow);
static void mod_mysql_conn_connected(mod_mysql_conn_t *c);
static void mod_mysql_conn_idle(mod_mysql_conn_t *c);
static void mod_mysql_conn_bind(mod_mysql_conn_t *c, mod_mysql_handle_t *h);
static void mod_mysql_conn_closed(mod_mysql_conn_t *c);
static void mod_mysql_conn_reset_done(mod_mysql_conn_t *c);
static int mod_mysql_conn_expired(const mod_mysql_conn_t *c);
static void mod_mysql_deadline_cb(evutil_socket_t fd, short what,
                                  void *arg);

static void mod_mysql_kill_later(mod_mysql_pool_t *pool,
                                 unsigned long thread_id);
static void mod_mysql_kill_send(mod_mysql_conn_t *c);
static void mod_mysql_kill_done(mod_mysql_conn_t *c);


/* ------------------------------------------------------------------ */
/* Pools                                                              */
/* ------------------------------------------------------------------ */

/* Counts a connection in or out, and what is beyond PoolSize. */
void
mod_mysql_pool_count(mod_mysql_pool_t *pool, int delta)
{
    unsigned  size = (unsigned) pool->db->pool_size;
    unsigned  over;

    pool->nopen = delta > 0 ? pool->nopen + 1 : pool->nopen - 1;
    mod_mysql_gauge(mod_mysql_m_open, pool, delta);

    over = pool->nopen > size ? pool->nopen - size : 0;
    if (over != pool->noverflow) {
        mod_mysql_gauge(mod_mysql_m_overflow, pool,
                        (double) over - (double) pool->noverflow);
        pool->noverflow = over;
    }
}


/* Opens connections until PoolSize are open or opening. */
void
mod_mysql_pool_fill(mod_mysql_pool_t *pool)
{
    if (pool->retry_at_us > cairn_now_us()) {
        return;
    }

    while (pool->nopen + pool->nconnecting
           < (unsigned) pool->db->pool_size)
    {
        mod_mysql_conn_open(pool, 0);
        if (pool->retry_at_us > cairn_now_us()) {
            return;
        }
    }
}


/* Waiters outnumber connections being opened: open more, up to
 * PoolSize + MaxOverflow. */
static void
mod_mysql_pool_want(mod_mysql_pool_t *pool)
{
    unsigned  limit;

    limit = (unsigned) (pool->db->pool_size + pool->db->max_overflow);

    while (pool->nwaiting > pool->nconnecting
           && pool->nopen + pool->nconnecting < limit
           && pool->retry_at_us <= cairn_now_us())
    {
        mod_mysql_conn_open(pool,
            pool->nopen + pool->nconnecting
            >= (unsigned) pool->db->pool_size);
    }
}


/*
 * A connection attempt failed: back off (doubling up to a ceiling), and
 * when nothing is open or opening, fail the waiters now rather than
 * letting them sit out PoolTimeout.
 */
static void
mod_mysql_pool_failed(mod_mysql_pool_t *pool, MYSQL *mysql)
{
    mod_mysql_handle_t  *h;
    struct timeval       tv;
    uint64_t             ms;
    unsigned             code;

    code = mysql != NULL ? mysql_errno(mysql) : CR_OUT_OF_MEMORY;
    snprintf(pool->last_error, sizeof(pool->last_error), "%s",
             mysql != NULL ? mysql_error(mysql) : "out of memory");
    pool->last_errno = code;

    if (pool->failures == 0) {
        cairn_log_error(NULL, 0, "<Database %s>: cannot connect: %s (%u); "
                        "retrying with back-off", pool->db->name,
                        pool->last_error, code);
    }

    ms = MOD_MYSQL_BACKOFF_MIN_MS;
    if (pool->failures < 16) {
        ms <<= pool->failures;
    } else {
        ms = MOD_MYSQL_BACKOFF_MAX_MS;
    }
    if (ms > MOD_MYSQL_BACKOFF_MAX_MS) {
        ms = MOD_MYSQL_BACKOFF_MAX_MS;
    }
    pool->failures++;
    pool->retry_at_us = cairn_now_us() + ms * 1000;

    tv.tv_sec = (time_t) (ms / 1000);
    tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
    evtimer_add(pool->ev_retry, &tv);

    if (pool->nopen + pool->nconnecting > 0) {
        return;
    }

    while ((h = pool->qhead) != NULL) {
        mod_mysql_queue_remove(h);
        mod_mysql_error_set(h->a, &h->err, CAIRN_DB_UNAVAILABLE, code, "",
                            pool->last_error);
        mod_mysql_handle_later(h, MOD_MYSQL_H_ACQUIRE_FAILED);
    }
}


void
mod_mysql_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_mysql_pool_t  *pool = arg;

    pool->retry_at_us = 0;
    mod_mysql_pool_fill(pool);
    mod_mysql_pool_want(pool);
}


/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

static void
mod_mysql_conn_open(mod_mysql_pool_t *pool, int overflow)
{
    mod_mysql_db_t    *db = pool->db;
    mod_mysql_conn_t  *c;

    c = calloc(1, sizeof(mod_mysql_conn_t));
    if (c == NULL) {
        mod_mysql_pool_failed(pool, NULL);
        return;
    }

    c->pool = pool;
    c->state = MOD_MYSQL_CONNECTING;
    c->overflow = overflow ? 1 : 0;
    c->created_us = cairn_now_us();
    c->mysql = mod_mysql_new_mysql(db, 1);
    c->ev_io = event_new(cairn_event_base(), -1, 0, NULL, NULL);
    c->ev_deadline = evtimer_new(cairn_event_base(), mod_mysql_deadline_cb,
                                 c);
    if (c->mysql == NULL || c->ev_io == NULL || c->ev_deadline == NULL) {
        mod_mysql_conn_free(c);
        mod_mysql_pool_failed(pool, NULL);
        return;
    }

    c->next = pool->conns;
    if (pool->conns != NULL) {
        pool->conns->prev = c;
    }
    pool->conns = c;
    pool->nconnecting++;

    mod_mysql_deadline(c, db->connect_timeout);
    mod_mysql_op_go(c, MOD_MYSQL_OP_CONNECT, mod_mysql_conn_connected);
}


static void
mod_mysql_conn_connected(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t  *pool = c->pool;
    MYSQL             *mysql = c->mysql;

    evtimer_del(c->ev_deadline);
    pool->nconnecting--;

    if (c->ret_mysql == NULL) {
        /* mysql_error() of a failed connect lives in the handle. */
        mod_mysql_pool_failed(pool, mysql);
        c->state = MOD_MYSQL_CLOSING;
        mod_mysql_conn_free(c);
        return;
    }

    if (pool->failures > 0) {
        cairn_log_notice(NULL, "<Database %s>: connected again after %u "
                         "failed attempts", pool->db->name, pool->failures);
    }
    pool->failures = 0;
    pool->retry_at_us = 0;
    c->counted = 1;
    mod_mysql_pool_count(pool, 1);

    cairn_log_debug(NULL, "<Database %s>: connection %lu open",
                    pool->db->name, mysql_thread_id(mysql));

    mod_mysql_conn_idle(c);
}


/*
 * The connection is free: hand it to the first waiter, or keep it
 * (watching its socket: a server that closes it is noticed at once), or
 * close it when it is too old, broken, or an overflow nobody waits for.
 */
static void
mod_mysql_conn_idle(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t    *pool = c->pool;
    mod_mysql_handle_t  *h;

#ifdef CAIRN_MYSQL_NONBLOCKING
    if (!c->broken) {
        mod_mysql_arm(c, EV_READ, NULL);
    }
#endif

    if (c->broken || mod_mysql_conn_expired(c)) {
        mod_mysql_conn_close(c);
        mod_mysql_pool_fill(pool);
        return;
    }

    if (pool->nkill > 0) {
        mod_mysql_kill_send(c);
        return;
    }

    h = pool->qhead;
    if (h != NULL) {
        mod_mysql_queue_remove(h);
        mod_mysql_conn_bind(c, h);
        mod_mysql_handle_later(h, MOD_MYSQL_H_ACQUIRED);
        return;
    }

    c->state = MOD_MYSQL_IDLE;

    if (pool->nopen > (unsigned) pool->db->pool_size) {
        /* Beyond PoolSize: closed unless wanted again soon, so that a
         * burst does not open and close connections by the dozen. */
        mod_mysql_deadline(c, MOD_MYSQL_OVERFLOW_IDLE_MS);
    }

}


static int
mod_mysql_conn_expired(const mod_mysql_conn_t *c)
{
    int64_t  recycle = c->pool->db->pool_recycle;

    return recycle > 0
           && cairn_now_us() - c->created_us >= (uint64_t) recycle * 1000;
}


static void
mod_mysql_conn_bind(mod_mysql_conn_t *c, mod_mysql_handle_t *h)
{
    c->state = MOD_MYSQL_BOUND;
    c->h = h;
    h->conn = c;
    c->pool->nbound++;
    mod_mysql_gauge(mod_mysql_m_in_use, c->pool, 1);
}


/* The request lets go of c (release, or its arena died). */
void
mod_mysql_conn_unbind(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t  *pool = c->pool;

    c->h->conn = NULL;
    c->h = NULL;
    pool->nbound--;
    mod_mysql_gauge(mod_mysql_m_in_use, pool, -1);

    if (c->op != MOD_MYSQL_OP_NONE) {
        /* The operation must not finish for nobody: drop the
         * connection; its callbacks see c->h == NULL and close it. */
        mod_mysql_conn_abort(c);
        return;
    }

    if (c->in_tx && !c->broken) {
        c->state = MOD_MYSQL_RESETTING;
        mod_mysql_deadline(c, pool->db->query_timeout);
        mod_mysql_op_go(c, MOD_MYSQL_OP_ROLLBACK, mod_mysql_conn_reset_done);
        return;
    }

    mod_mysql_conn_idle(c);
}


static void
mod_mysql_conn_reset_done(mod_mysql_conn_t *c)
{
    evtimer_del(c->ev_deadline);

    if (c->ret_bool != 0) {
        c->broken = 1;
    }
    c->in_tx = 0;

    mod_mysql_conn_idle(c);
}


/* Remembers a server thread whose statement was abandoned, and has a free
 * connection stop it now if there is one. */
static void
mod_mysql_kill_later(mod_mysql_pool_t *pool, unsigned long thread_id)
{
    mod_mysql_conn_t  *c;

    if (thread_id == 0) {
        return;
    }
    if (pool->nkill == MOD_MYSQL_KILL_MAX) {
        /* The oldest has most likely finished by now. */
        memmove(&pool->kill[0], &pool->kill[1],
                (MOD_MYSQL_KILL_MAX - 1) * sizeof(pool->kill[0]));
        pool->nkill--;
    }
    pool->kill[pool->nkill++] = thread_id;

    for (c = pool->conns; c != NULL; c = c->next) {
        if (c->state == MOD_MYSQL_IDLE && !c->broken) {
            evtimer_del(c->ev_deadline);
            mod_mysql_kill_send(c);
            return;
        }
    }
}


/* Sends KILL QUERY for the oldest remembered thread on the free c. */
static void
mod_mysql_kill_send(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t  *pool = c->pool;
    unsigned long      id = pool->kill[0];

    pool->nkill--;
    memmove(&pool->kill[0], &pool->kill[1],
            pool->nkill * sizeof(pool->kill[0]));

    snprintf(c->kill_sql, sizeof(c->kill_sql), "KILL QUERY %lu", id);
    cairn_log_info(NULL, "<Database %s>: stopping the abandoned statement "
                   "of server thread %lu", pool->db->name, id);

    c->state = MOD_MYSQL_RESETTING;
    mod_mysql_deadline(c, pool->db->query_timeout);
    mod_mysql_op_go(c, MOD_MYSQL_OP_KILL, mod_mysql_kill_done);
}


static void
mod_mysql_kill_done(mod_mysql_conn_t *c)
{
    unsigned int  err;

    evtimer_del(c->ev_deadline);

    if (c->ret_int != 0) {
        /* "Unknown thread id" (the statement ended meanwhile) and "not
         * the owner" are fine; a connection error is not. */
        err = mysql_errno(c->mysql);
        if (mod_mysql_code_broken(err)) {
            c->broken = 1;
        } else if (err != MOD_MYSQL_ER_NO_SUCH_THREAD) {
            cairn_log_warn(NULL, 0, "<Database %s>: KILL QUERY failed: %s",
                           c->pool->db->name, mysql_error(c->mysql));
        }
    }

    mod_mysql_conn_idle(c);
}


/* Stops counting c and closes it without blocking. */
void
mod_mysql_conn_close(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t  *pool = c->pool;

    if (c->counted) {
        c->counted = 0;
        mod_mysql_pool_count(pool, -1);
    }

    event_del(c->ev_io);
    c->ev_what = 0;
    c->ev_timed = 0;
    evtimer_del(c->ev_deadline);
    c->state = MOD_MYSQL_CLOSING;

    mod_mysql_op_go(c, MOD_MYSQL_OP_CLOSE, mod_mysql_conn_closed);
}


static void
mod_mysql_conn_closed(mod_mysql_conn_t *c)
{
    c->mysql = NULL;
    mod_mysql_conn_free(c);
}


/* Frees c (its MYSQL already closed, or never connected). */
void
mod_mysql_conn_free(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t  *pool = c->pool;
    unsigned           i;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else if (pool != NULL && pool->conns == c) {
        pool->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }

    if (c->mysql != NULL) {
        mysql_close(c->mysql);
        c->mysql = NULL;
    }

    /* After mysql_close() the statements are detached: this only frees
     * their memory. */
    if (c->loose_stmt != NULL) {
        mysql_stmt_close(c->loose_stmt);
    }
    for (i = 0; i < c->ncache; i++) {
        if (c->cache[i].stmt != NULL) {
            mysql_stmt_close(c->cache[i].stmt);
        }
        free(c->cache[i].sql);
    }
    if (c->meta != NULL) {
        mysql_free_result(c->meta);
    }

    if (c->ev_io != NULL) {
        event_free(c->ev_io);
    }
    if (c->ev_deadline != NULL) {
        event_free(c->ev_deadline);
    }

    free(c);
}


/* Makes the operation in flight fail now, and the connection with it. */
void
mod_mysql_conn_abort(mod_mysql_conn_t *c)
{
    if (!c->broken && c->mysql != NULL && c->counted
        && c->op != MOD_MYSQL_OP_NONE && c->op != MOD_MYSQL_OP_CONNECT
        && c->op != MOD_MYSQL_OP_CLOSE && c->op != MOD_MYSQL_OP_KILL)
    {
        mod_mysql_kill_later(c->pool, mysql_thread_id(c->mysql));
    }

    c->broken = 1;

#ifdef CAIRN_MYSQL_NONBLOCKING
    if (c->mysql != NULL && mysql_get_socket(c->mysql) >= 0) {
        shutdown(mysql_get_socket(c->mysql), SHUT_RDWR);
    }
#endif
}


void
mod_mysql_deadline(mod_mysql_conn_t *c, int64_t ms)
{
    struct timeval  tv;

    tv.tv_sec = (time_t) (ms / 1000);
    tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
    evtimer_add(c->ev_deadline, &tv);
}


/*
 * ConnectTimeout or QueryTimeout passed: abandon the operation.  On an
 * idle connection: it has been idle long enough to close if the pool
 * is still above PoolSize.
 */
static void
mod_mysql_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_mysql_conn_t  *c = arg;

    if (c->op == MOD_MYSQL_OP_NONE) {
        if (c->state == MOD_MYSQL_IDLE
            && c->pool->nopen > (unsigned) c->pool->db->pool_size)
        {
            mod_mysql_conn_close(c);
        }
        return;
    }

    c->timed_out = 1;
    mod_mysql_conn_abort(c);
}


/* ------------------------------------------------------------------ */
/* Waiting for a connection                                           */
/* ------------------------------------------------------------------ */

int
mod_mysql_acquire(const cairn_db_t *api, cairn_request_t *r,
                  cairn_arena_t *a, cairn_db_acquire_cb cb, void *data)
{
    mod_mysql_db_t      *db = (mod_mysql_db_t *) api;
    mod_mysql_pool_t    *pool = db->pool;
    mod_mysql_conn_t    *c, *next;
    mod_mysql_handle_t  *h;
    struct timeval       tv;
    const char          *lv[2];

    if (pool == NULL || cb == NULL) {
        return CAIRN_ERROR;
    }

    h = cairn_arena_calloc(a, sizeof(*h));
    h->db = db;
    h->r = r;
    h->a = a;
    h->detached = r == NULL;
    h->acb = cb;
    h->data = data;
    h->ev = event_new(cairn_event_base(), -1, 0, mod_mysql_handle_cb, h);
    if (h->ev == NULL) {
        return CAIRN_ERROR;
    }
    cairn_arena_cleanup_add(h->a, mod_mysql_handle_cleanup, h);
    if (h->detached) {
        h->dnext = mod_mysql_detached;
        if (mod_mysql_detached != NULL) {
            mod_mysql_detached->dprev = h;
        }
        mod_mysql_detached = h;
    }

    lv[0] = db->name;
    lv[1] = NULL;

    for (c = pool->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state != MOD_MYSQL_IDLE) {
            continue;
        }
        if (mod_mysql_conn_expired(c)) {
            mod_mysql_conn_close(c);
            continue;
        }
        mod_mysql_conn_bind(c, h);
        cairn_metric_observe(mod_mysql_m_wait, lv, 0);
        mod_mysql_handle_later(h, MOD_MYSQL_H_ACQUIRED);
        mod_mysql_pool_fill(pool);
        return CAIRN_OK;
    }

    mod_mysql_pool_fill(pool);

    if (pool->nopen + pool->nconnecting == 0
        && pool->retry_at_us > cairn_now_us())
    {
        /* Down and backing off: say so now. */
        mod_mysql_error_set(h->a, &h->err, CAIRN_DB_UNAVAILABLE,
                            pool->last_errno, "", pool->last_error);
        mod_mysql_count_error(pool, CAIRN_DB_UNAVAILABLE);
        mod_mysql_handle_later(h, MOD_MYSQL_H_ACQUIRE_FAILED);
        return CAIRN_OK;
    }

    h->hstate = MOD_MYSQL_H_WAITING;
    h->queued = 1;
    h->wait_start_us = cairn_now_us();
    h->qprev = pool->qtail;
    if (pool->qtail != NULL) {
        pool->qtail->qnext = h;
    } else {
        pool->qhead = h;
    }
    pool->qtail = h;
    pool->nwaiting++;
    mod_mysql_gauge(mod_mysql_m_waiters, pool, 1);

    tv.tv_sec = (time_t) (db->pool_timeout / 1000);
    tv.tv_usec = (suseconds_t) ((db->pool_timeout % 1000) * 1000);
    event_add(h->ev, &tv);

    mod_mysql_pool_want(pool);

    return CAIRN_OK;
}


void
mod_mysql_queue_remove(mod_mysql_handle_t *h)
{
    mod_mysql_pool_t  *pool = h->db->pool;

    if (!h->queued || pool == NULL) {
        h->queued = 0;
        return;
    }

    if (h->qprev != NULL) {
        h->qprev->qnext = h->qnext;
    } else {
        pool->qhead = h->qnext;
    }
    if (h->qnext != NULL) {
        h->qnext->qprev = h->qprev;
    } else {
        pool->qtail = h->qprev;
    }
    h->qprev = NULL;
    h->qnext = NULL;
    h->queued = 0;
    if (h->ev != NULL) {
        event_del(h->ev);
    }

    pool->nwaiting--;
    mod_mysql_gauge(mod_mysql_m_waiters, pool, -1);
}
