/*
 * modules/mysql/mysql_drive.c: driving the client library.
 *
 * A MYSQL handle with a section's options, and every operation (connect,
 * prepare, execute, store, fetch, commit, rollback, KILL, close) started
 * and continued without blocking the loop: with MariaDB Connector/C as
 * _start()/_cont() pairs driven by an event on the connection's socket,
 * otherwise as blocking calls on the worker's task pool.  At worker exit
 * an operation still in flight is cut short here.
 */

#include "config.h"

#include <string.h>

#include "mod_mysql.h"


static void mod_mysql_op_finish(mod_mysql_conn_t *c);
#ifdef CAIRN_MYSQL_NONBLOCKING
static int mod_mysql_op_start(mod_mysql_conn_t *c);
static int mod_mysql_op_cont(mod_mysql_conn_t *c, int ready);
static void mod_mysql_peer_closed(mod_mysql_conn_t *c);
static void mod_mysql_io_cb(evutil_socket_t fd, short what, void *arg);
#else
static void mod_mysql_op_blocking(mod_mysql_conn_t *c);
static void mod_mysql_task_work(void *data);
static void mod_mysql_task_done(cairn_request_t *r, void *data);
#endif


/* A MYSQL handle with the section's options (no connection yet). */
MYSQL *
mod_mysql_new_mysql(mod_mysql_db_t *db, int nonblocking)
{
    MYSQL         *mysql;
    unsigned int   secs, proto;

#ifndef CAIRN_MYSQL_NONBLOCKING
    nonblocking = 0;
#endif

    mysql = mysql_init(NULL);
    if (mysql == NULL) {
        return NULL;
    }

#ifdef CAIRN_MYSQL_NONBLOCKING
    if (nonblocking) {
        mysql_options(mysql, MYSQL_OPT_NONBLOCK, 0);
    }
#endif

    secs = (unsigned int) ((db->connect_timeout + 999) / 1000);
    mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    if (!nonblocking) {
        /* Without the non-blocking API nothing else bounds a call. */
        secs = (unsigned int) ((db->query_timeout + 999) / 1000);
        mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &secs);
        mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    }
    mysql_options(mysql, MYSQL_SET_CHARSET_NAME, db->charset);
    if (db->strict) {
        /* A value the column cannot hold is an error, never a silent
         * truncation or rounding, whatever the server's own sql_mode
         * (STRICT_TRANS_TABLES covers only transactional tables). */
        mysql_options(mysql, MYSQL_INIT_COMMAND, "SET SESSION sql_mode = "
                      "CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), "
                      "'STRICT_ALL_TABLES')");
    }

    proto = db->socket != NULL ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
    mysql_options(mysql, MYSQL_OPT_PROTOCOL, &proto);

    return mysql;
}


/*
 * Starts op on c; then(c) runs when it has finished, from the loop (or
 * at once when the library needs no waiting).
 */
void
mod_mysql_op_go(mod_mysql_conn_t *c, mod_mysql_op_t op,
                mod_mysql_step_cb then)
{
    c->op = op;
    c->then = then;

#ifdef CAIRN_MYSQL_NONBLOCKING
    {
        int  status;

        status = mod_mysql_op_start(c);
        if (status != 0) {
            mod_mysql_wait(c, status);
            return;
        }
    }
    mod_mysql_op_finish(c);
#else
    if (op == MOD_MYSQL_OP_CLOSE) {
        /* COM_QUIT needs no answer: not worth a thread. */
        mysql_close(c->mysql);
        mod_mysql_op_finish(c);
        return;
    }
    if (cairn_task_run_detached(mod_mysql_task_work, mod_mysql_task_done, c)
        != CAIRN_OK)
    {
        mod_mysql_op_blocking(c);
        mod_mysql_op_finish(c);
    }
#endif
}


static void
mod_mysql_op_finish(mod_mysql_conn_t *c)
{
    mod_mysql_step_cb  then = c->then;

    c->op = MOD_MYSQL_OP_NONE;
    c->then = NULL;
    then(c);
}


#ifdef CAIRN_MYSQL_NONBLOCKING

static int
mod_mysql_op_start(mod_mysql_conn_t *c)
{
    mod_mysql_db_t    *db = c->pool->db;
    static const char  begin[] = "START TRANSACTION";

    switch (c->op) {
    case MOD_MYSQL_OP_CONNECT:
        return mysql_real_connect_start(&c->ret_mysql, c->mysql,
                                        db->socket ? NULL : db->address,
                                        db->user, db->password, db->dbname,
                                        (unsigned) db->port, db->socket, 0);
    case MOD_MYSQL_OP_PREPARE:
        return mysql_stmt_prepare_start(&c->ret_int, c->stmt, c->h->sql,
                                        strlen(c->h->sql));
    case MOD_MYSQL_OP_EXECUTE:
        return mysql_stmt_execute_start(&c->ret_int, c->stmt);
    case MOD_MYSQL_OP_STORE:
        return mysql_stmt_store_result_start(&c->ret_int, c->stmt);
    case MOD_MYSQL_OP_FETCH:
        return mysql_stmt_fetch_start(&c->ret_int, c->stmt);
    case MOD_MYSQL_OP_STMT_CLOSE:
        return mysql_stmt_close_start(&c->ret_bool, c->stmt);
    case MOD_MYSQL_OP_BEGIN:
        return mysql_real_query_start(&c->ret_int, c->mysql, begin,
                                      sizeof(begin) - 1);
    case MOD_MYSQL_OP_KILL:
        return mysql_real_query_start(&c->ret_int, c->mysql, c->kill_sql,
                                      strlen(c->kill_sql));
    case MOD_MYSQL_OP_COMMIT:
        return mysql_commit_start(&c->ret_bool, c->mysql);
    case MOD_MYSQL_OP_ROLLBACK:
        return mysql_rollback_start(&c->ret_bool, c->mysql);
    case MOD_MYSQL_OP_CLOSE:
        return mysql_close_start(c->mysql);
    default:
        return 0;
    }
}


static int
mod_mysql_op_cont(mod_mysql_conn_t *c, int ready)
{
    switch (c->op) {
    case MOD_MYSQL_OP_CONNECT:
        return mysql_real_connect_cont(&c->ret_mysql, c->mysql, ready);
    case MOD_MYSQL_OP_PREPARE:
        return mysql_stmt_prepare_cont(&c->ret_int, c->stmt, ready);
    case MOD_MYSQL_OP_EXECUTE:
        return mysql_stmt_execute_cont(&c->ret_int, c->stmt, ready);
    case MOD_MYSQL_OP_STORE:
        return mysql_stmt_store_result_cont(&c->ret_int, c->stmt, ready);
    case MOD_MYSQL_OP_FETCH:
        return mysql_stmt_fetch_cont(&c->ret_int, c->stmt, ready);
    case MOD_MYSQL_OP_STMT_CLOSE:
        return mysql_stmt_close_cont(&c->ret_bool, c->stmt, ready);
    case MOD_MYSQL_OP_BEGIN:
    case MOD_MYSQL_OP_KILL:
        return mysql_real_query_cont(&c->ret_int, c->mysql, ready);
    case MOD_MYSQL_OP_COMMIT:
        return mysql_commit_cont(&c->ret_bool, c->mysql, ready);
    case MOD_MYSQL_OP_ROLLBACK:
        return mysql_rollback_cont(&c->ret_bool, c->mysql, ready);
    case MOD_MYSQL_OP_CLOSE:
        return mysql_close_cont(c->mysql, ready);
    default:
        return 0;
    }
}


/* Arms the socket event (and the library's own timeout) for status. */
void
mod_mysql_wait(mod_mysql_conn_t *c, int status)
{
    struct timeval   tv, *tvp = NULL;
    unsigned int     ms;
    short            what = 0;

    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT)) {
        what |= EV_READ;
    }
    if (status & MYSQL_WAIT_WRITE) {
        what |= EV_WRITE;
    }
    if (status & MYSQL_WAIT_TIMEOUT) {
        ms = mysql_get_timeout_value_ms(c->mysql);
        tv.tv_sec = (time_t) (ms / 1000);
        tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
        tvp = &tv;
    }

    mod_mysql_arm(c, what, tvp);
}


/*
 * (Re)arms the socket event.  It is persistent and normally waits for
 * EV_READ the whole life of the connection, so most statements touch
 * neither epoll nor the timer heap here.
 */
void
mod_mysql_arm(mod_mysql_conn_t *c, short what, const struct timeval *tv)
{
    if (tv == NULL && !c->ev_timed && c->ev_what == what) {
        return;
    }

    event_del(c->ev_io);
    event_assign(c->ev_io, cairn_event_base(),
                 what ? mysql_get_socket(c->mysql) : -1,
                 what ? (short) (what | EV_PERSIST) : 0, mod_mysql_io_cb, c);
    event_add(c->ev_io, tv);
    c->ev_what = what;
    c->ev_timed = tv != NULL;
}


/*
 * The socket became readable with no operation running: the server
 * closed the connection (or killed it).  An idle one is dropped now; one
 * a request holds fails its next operation.
 */
static void
mod_mysql_peer_closed(mod_mysql_conn_t *c)
{
    mod_mysql_pool_t  *pool = c->pool;

    event_del(c->ev_io);
    c->ev_what = 0;
    c->ev_timed = 0;
    c->broken = 1;

    if (c->state != MOD_MYSQL_IDLE) {
        return;
    }

    cairn_log_info(NULL, "<Database %s>: the server closed idle connection "
                   "%lu", c->pool->db->name, mysql_thread_id(c->mysql));
    mod_mysql_conn_close(c);     /* may free c */
    mod_mysql_pool_fill(pool);
}


static void
mod_mysql_io_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_mysql_conn_t  *c = arg;
    int                ready = 0, status;

    if (c->op == MOD_MYSQL_OP_NONE) {
        if (what & EV_READ) {
            mod_mysql_peer_closed(c);
        } else {
            mod_mysql_arm(c, EV_READ, NULL);
        }
        return;
    }

    if (what & EV_READ) {
        ready |= MYSQL_WAIT_READ;
    }
    if (what & EV_WRITE) {
        ready |= MYSQL_WAIT_WRITE;
    }
    if (what & EV_TIMEOUT) {
        ready |= MYSQL_WAIT_TIMEOUT;
    }

    status = mod_mysql_op_cont(c, ready);
    if (status != 0) {
        mod_mysql_wait(c, status);
        return;
    }

    if (c->op == MOD_MYSQL_OP_CLOSE) {
        /* The library closed the socket. */
        event_del(c->ev_io);
        c->ev_what = 0;
        c->ev_timed = 0;
    } else if (c->ev_what != EV_READ || c->ev_timed) {
        mod_mysql_arm(c, EV_READ, NULL);
    }

    if (c->op == MOD_MYSQL_OP_FETCH) {
        /* The row is there; the fetch loop goes on. */
        c->op = MOD_MYSQL_OP_NONE;
        mod_mysql_q_fetched(c);
        return;
    }

    mod_mysql_op_finish(c);
}


/* One fetch: 0 when its result is in c->ret_int, else a wait status. */
int
mod_mysql_fetch_step(mod_mysql_conn_t *c)
{
    c->op = MOD_MYSQL_OP_FETCH;
    return mysql_stmt_fetch_start(&c->ret_int, c->stmt);
}

#else /* !CAIRN_MYSQL_NONBLOCKING */

/* The same operations as blocking calls, for a task-pool thread. */
static void
mod_mysql_op_blocking(mod_mysql_conn_t *c)
{
    mod_mysql_db_t    *db = c->pool->db;
    static const char  begin[] = "START TRANSACTION";

    switch (c->op) {
    case MOD_MYSQL_OP_CONNECT:
        c->ret_mysql = mysql_real_connect(c->mysql,
                                          db->socket ? NULL : db->address,
                                          db->user, db->password,
                                          db->dbname, (unsigned) db->port,
                                          db->socket, 0);
        break;
    case MOD_MYSQL_OP_PREPARE:
        c->ret_int = mysql_stmt_prepare(c->stmt, c->h->sql,
                                        strlen(c->h->sql));
        break;
    case MOD_MYSQL_OP_EXECUTE:
        c->ret_int = mysql_stmt_execute(c->stmt);
        break;
    case MOD_MYSQL_OP_STORE:
        c->ret_int = mysql_stmt_store_result(c->stmt);
        break;
    case MOD_MYSQL_OP_STMT_CLOSE:
        c->ret_bool = mysql_stmt_close(c->stmt);
        break;
    case MOD_MYSQL_OP_BEGIN:
        c->ret_int = mysql_real_query(c->mysql, begin, sizeof(begin) - 1);
        break;
    case MOD_MYSQL_OP_KILL:
        c->ret_int = mysql_real_query(c->mysql, c->kill_sql,
                                      strlen(c->kill_sql));
        break;
    case MOD_MYSQL_OP_COMMIT:
        c->ret_bool = mysql_commit(c->mysql);
        break;
    case MOD_MYSQL_OP_ROLLBACK:
        c->ret_bool = mysql_rollback(c->mysql);
        break;
    default:
        break;
    }
}


static void
mod_mysql_task_work(void *data)
{
    mod_mysql_op_blocking(data);
}


static void
mod_mysql_task_done(cairn_request_t *r, void *data)
{
    mod_mysql_conn_t  *c = data;

    if (c->pool == NULL) {
        /* The worker stopped while the task ran (worker_exit). */
        c->op = MOD_MYSQL_OP_NONE;
        mod_mysql_conn_free(c);
        return;
    }

    mod_mysql_op_finish(c);
}


/* Rows are already in memory after store_result: no thread needed. */
int
mod_mysql_fetch_step(mod_mysql_conn_t *c)
{
    c->ret_int = mysql_stmt_fetch(c->stmt);
    return 0;
}

#endif /* CAIRN_MYSQL_NONBLOCKING */


/*
 * At worker exit: finishes an operation still in flight by cutting the
 * socket (every wait then ends at once), so that the handle can be
 * closed and freed.
 */
void
mod_mysql_conn_drain(mod_mysql_conn_t *c)
{
#ifdef CAIRN_MYSQL_NONBLOCKING
    int  i, closing;

    if (c->op == MOD_MYSQL_OP_NONE) {
        return;
    }

    closing = c->op == MOD_MYSQL_OP_CLOSE;
    mod_mysql_conn_abort(c);
    event_del(c->ev_io);

    for (i = 0; i < 1000; i++) {
        if (mod_mysql_op_cont(c, MYSQL_WAIT_READ | MYSQL_WAIT_WRITE
                                 | MYSQL_WAIT_TIMEOUT) == 0)
        {
            break;
        }
    }
    c->op = MOD_MYSQL_OP_NONE;

    if (closing) {
        c->mysql = NULL;
    }
#else
    (void) c;
#endif
}
