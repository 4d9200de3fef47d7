/*
 * modules/mysql/mysql_query.c: running what a handle asked for on its
 * connection.
 *
 * Prepared statements (a cache of them per connection), parameters,
 * results as jansson rows, BEGIN/COMMIT/ROLLBACK, handing the outcome
 * to the caller's callback, and turning server and client errors into
 * cairn_db_error_t kinds.
 */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "mod_mysql.h"


#define MOD_MYSQL_MIN_COLUMN_BUF    64


static void mod_mysql_q_start(mod_mysql_conn_t *c);
static void mod_mysql_q_evicted(mod_mysql_conn_t *c);
static void mod_mysql_q_prepare(mod_mysql_conn_t *c);
static void mod_mysql_q_prepared(mod_mysql_conn_t *c);
static void mod_mysql_q_execute(mod_mysql_conn_t *c);
static void mod_mysql_q_executed(mod_mysql_conn_t *c);
static void mod_mysql_q_stored(mod_mysql_conn_t *c);
static void mod_mysql_q_fetch(mod_mysql_conn_t *c);
static int mod_mysql_q_row(mod_mysql_conn_t *c);
static void mod_mysql_q_end(mod_mysql_conn_t *c);
static void mod_mysql_tx_done(mod_mysql_conn_t *c);
static void mod_mysql_deliver(mod_mysql_conn_t *c, int failed);
static void mod_mysql_error_from(mod_mysql_handle_t *h, unsigned code,
                                 const char *sqlstate, const char *msg);
static void mod_mysql_stmt_error(mod_mysql_handle_t *h, MYSQL_STMT *stmt);
static cairn_db_errkind_t mod_mysql_kind(unsigned code);
static json_t *mod_mysql_json_text(const char *p, size_t len);
static void mod_mysql_json_free(void *data);


/* Starts what the handle asked for on its connection. */
void
mod_mysql_run(mod_mysql_handle_t *h)
{
    mod_mysql_conn_t  *c = h->conn;

    h->hstate = MOD_MYSQL_H_RUNNING;
    c->timed_out = 0;
    c->op_start_us = cairn_now_us();

    if (c->broken) {
        mod_mysql_error_set(h->a, &h->err, CAIRN_DB_UNAVAILABLE,
                            CR_SERVER_GONE_ERROR, "HY000",
                            "the server closed the connection");
        mod_mysql_deliver(c, 1);
        return;
    }

    mod_mysql_deadline(c, h->db->query_timeout);

    switch (h->op) {
    case MOD_MYSQL_OP_PREPARE:
        mod_mysql_q_start(c);
        break;
    case MOD_MYSQL_OP_BEGIN:
    case MOD_MYSQL_OP_COMMIT:
    case MOD_MYSQL_OP_ROLLBACK:
        mod_mysql_op_go(c, h->op, mod_mysql_tx_done);
        break;
    default:
        break;
    }
}


/* A cached statement, or one prepared now (evicting the oldest). */
static void
mod_mysql_q_start(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;
    mod_mysql_stmt_t    *e;
    unsigned             i;

    for (i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql != NULL && strcmp(c->cache[i].sql, h->sql) == 0)
        {
            c->stmt = c->cache[i].stmt;
            mod_mysql_q_execute(c);
            return;
        }
    }

    e = &c->cache[c->evict];
    if (c->ncache < MOD_MYSQL_STMT_CACHE || e->stmt == NULL) {
        mod_mysql_q_prepare(c);
        return;
    }

    c->stmt = e->stmt;
    e->stmt = NULL;
    free(e->sql);
    e->sql = NULL;
    mod_mysql_op_go(c, MOD_MYSQL_OP_STMT_CLOSE, mod_mysql_q_evicted);
}


static void
mod_mysql_q_evicted(mod_mysql_conn_t *c)
{
    c->stmt = NULL;

    if (c->h == NULL) {
        mod_mysql_conn_close(c);
        return;
    }
    if (c->ret_bool != 0) {
        c->broken = 1;
        mod_mysql_error_from(c->h, mysql_errno(c->mysql),
                             mysql_sqlstate(c->mysql), mysql_error(c->mysql));
        mod_mysql_deliver(c, 1);
        return;
    }

    mod_mysql_q_prepare(c);
}


static void
mod_mysql_q_prepare(mod_mysql_conn_t *c)
{
    my_bool  on = 1;

    c->stmt = mysql_stmt_init(c->mysql);
    if (c->stmt == NULL) {
        mod_mysql_error_set(c->h->a, &c->h->err, CAIRN_DB_OTHER,
                            CR_OUT_OF_MEMORY, "HY000",
                            "out of memory for a statement");
        mod_mysql_deliver(c, 1);
        return;
    }

    mysql_stmt_attr_set(c->stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    c->loose_stmt = c->stmt;

    mod_mysql_op_go(c, MOD_MYSQL_OP_PREPARE, mod_mysql_q_prepared);
}


static void
mod_mysql_q_prepared(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;
    mod_mysql_stmt_t    *e;
    unsigned             slot;
    char                *sql;

    if (h == NULL) {
        mod_mysql_conn_close(c);
        return;
    }

    if (c->ret_int != 0) {
        mod_mysql_stmt_error(h, c->stmt);
        if (!mod_mysql_code_broken(mysql_stmt_errno(c->stmt))) {
            /* Never prepared on the server: nothing to send. */
            mysql_stmt_close(c->stmt);
            c->loose_stmt = NULL;
        }
        c->stmt = NULL;
        mod_mysql_deliver(c, 1);
        return;
    }

    /* A full cache had its slot c->evict emptied in q_start. */
    slot = c->ncache < MOD_MYSQL_STMT_CACHE ? c->ncache : c->evict;
    sql = strdup(h->sql);
    if (sql == NULL) {
        /* Left out of the cache; freed with the connection. */
        c->broken = 1;
    } else {
        if (slot == c->ncache) {
            c->ncache++;
        } else {
            c->evict = (c->evict + 1) % MOD_MYSQL_STMT_CACHE;
        }
        e = &c->cache[slot];
        e->sql = sql;
        e->stmt = c->stmt;
        c->loose_stmt = NULL;
    }

    mod_mysql_q_execute(c);
}


static void
mod_mysql_q_execute(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;
    MYSQL_BIND          *b;
    unsigned long        want;
    size_t               i;

    want = mysql_stmt_param_count(c->stmt);
    if (want != h->nparams) {
        mod_mysql_error_set(h->a, &h->err, CAIRN_DB_OTHER, 0, "07001",
            cairn_arena_printf(h->a, "the statement has %lu placeholders "
                               "but %zu parameters were given", want,
                               h->nparams));
        mod_mysql_deliver(c, 1);
        return;
    }

    b = cairn_arena_calloc(h->a, (h->nparams + 1) * sizeof(MYSQL_BIND));
    for (i = 0; i < h->nparams; i++) {
        const cairn_db_param_t  *p = &h->params[i];

        switch (p->type) {
        case CAIRN_DB_INT:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *) &p->v.i;
            break;
        case CAIRN_DB_DOUBLE:
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = (void *) &p->v.d;
            break;
        case CAIRN_DB_STRING:
        case CAIRN_DB_BLOB:
            b[i].buffer_type = p->type == CAIRN_DB_STRING
                               ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            b[i].buffer = (void *) p->v.s.p;
            b[i].buffer_length = (unsigned long) p->v.s.len;
            b[i].length_value = (unsigned long) p->v.s.len;
            b[i].length = &b[i].length_value;
            break;
        default:
            b[i].buffer_type = MYSQL_TYPE_NULL;
            break;
        }
    }

    if (h->nparams > 0 && mysql_stmt_bind_param(c->stmt, b) != 0) {
        mod_mysql_stmt_error(h, c->stmt);
        mod_mysql_deliver(c, 1);
        return;
    }

    mod_mysql_op_go(c, MOD_MYSQL_OP_EXECUTE, mod_mysql_q_executed);
}


static void
mod_mysql_q_executed(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;

    if (h == NULL) {
        mod_mysql_conn_close(c);
        return;
    }

    if (c->ret_int != 0) {
        mod_mysql_stmt_error(h, c->stmt);
        mod_mysql_deliver(c, 1);
        return;
    }

    h->res.rows = json_array();
    cairn_arena_cleanup_add(h->a, mod_mysql_json_free, h->res.rows);
    h->res.nrows = 0;
    h->res.insert_id = mysql_stmt_insert_id(c->stmt);
    h->res.affected_rows = 0;

    c->meta = mysql_stmt_result_metadata(c->stmt);
    if (c->meta == NULL) {
        h->res.affected_rows = mysql_stmt_affected_rows(c->stmt);
        mod_mysql_deliver(c, 0);
        return;
    }

    mod_mysql_op_go(c, MOD_MYSQL_OP_STORE, mod_mysql_q_stored);
}


/* The rows are in client memory: bind buffers sized to fit them. */
static void
mod_mysql_q_stored(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;
    MYSQL_FIELD         *f;
    unsigned long        size;
    unsigned             i, n;

    if (h == NULL) {
        mod_mysql_conn_close(c);
        return;
    }

    if (c->ret_int != 0) {
        /* An error in the result itself (a duplicate key found by an
         * INSERT ... RETURNING, a lost connection). */
        mod_mysql_stmt_error(h, c->stmt);
        mysql_free_result(c->meta);
        c->meta = NULL;
        mod_mysql_deliver(c, 1);
        return;
    }

    n = mysql_num_fields(c->meta);
    f = mysql_fetch_fields(c->meta);

    h->ncols = n;
    h->rbind = cairn_arena_calloc(h->a, (n + 1) * sizeof(MYSQL_BIND));
    h->rlen = cairn_arena_calloc(h->a, (n + 1) * sizeof(unsigned long));
    h->rnull = cairn_arena_calloc(h->a, (n + 1) * sizeof(my_bool));
    h->rerr = cairn_arena_calloc(h->a, (n + 1) * sizeof(my_bool));
    h->rnames = cairn_arena_calloc(h->a, (n + 1) * sizeof(char *));

    for (i = 0; i < n; i++) {
        MYSQL_BIND  *b = &h->rbind[i];

        h->rnames[i] = cairn_arena_strdup(h->a, f[i].name);
        b->length = &h->rlen[i];
        b->is_null = &h->rnull[i];
        b->error = &h->rerr[i];

        switch (f[i].type) {
        case MYSQL_TYPE_TINY:
        case MYSQL_TYPE_SHORT:
        case MYSQL_TYPE_INT24:
        case MYSQL_TYPE_LONG:
        case MYSQL_TYPE_LONGLONG:
        case MYSQL_TYPE_YEAR:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = cairn_arena_calloc(h->a, sizeof(int64_t));
            b->buffer_length = sizeof(int64_t);
            b->is_unsigned = (f[i].flags & UNSIGNED_FLAG) ? 1 : 0;
            break;
        case MYSQL_TYPE_FLOAT:
        case MYSQL_TYPE_DOUBLE:
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = cairn_arena_calloc(h->a, sizeof(double));
            b->buffer_length = sizeof(double);
            break;
        default:
            size = f[i].max_length;
            if (size < MOD_MYSQL_MIN_COLUMN_BUF) {
                size = MOD_MYSQL_MIN_COLUMN_BUF;
            }
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = cairn_arena_alloc(h->a, size + 1);
            b->buffer_length = size;
            break;
        }
    }

    if (mysql_stmt_bind_result(c->stmt, h->rbind) != 0) {
        mod_mysql_stmt_error(h, c->stmt);
        mod_mysql_deliver(c, 1);
        return;
    }

    mod_mysql_q_fetch(c);
}


/* Fetches rows until one needs waiting or the set ends. */
static void
mod_mysql_q_fetch(mod_mysql_conn_t *c)
{
    for ( ;; ) {
#ifdef CAIRN_MYSQL_NONBLOCKING
        int  status;

        status = mod_mysql_fetch_step(c);
        if (status != 0) {
            mod_mysql_wait(c, status);
            return;
        }
        c->op = MOD_MYSQL_OP_NONE;
#else
        mod_mysql_fetch_step(c);
#endif
        if (!mod_mysql_q_row(c)) {
            return;
        }
    }
}


#ifdef CAIRN_MYSQL_NONBLOCKING

/* A fetch that had to wait has finished. */
void
mod_mysql_q_fetched(mod_mysql_conn_t *c)
{
    if (c->h == NULL) {
        mod_mysql_conn_close(c);
        return;
    }

    if (mod_mysql_q_row(c)) {
        mod_mysql_q_fetch(c);
    }
}

#endif


/* Handles one fetch result; returns 1 to fetch the next row. */
static int
mod_mysql_q_row(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;
    MYSQL_BIND          *b;
    json_t              *row, *v;
    unsigned long        len;
    unsigned             i;
    int64_t              iv;
    double               dv;

    if (c->ret_int == MYSQL_NO_DATA) {
        mod_mysql_q_end(c);
        return 0;
    }

    if (c->ret_int != 0 && c->ret_int != MYSQL_DATA_TRUNCATED) {
        mod_mysql_stmt_error(h, c->stmt);
        mysql_stmt_free_result(c->stmt);
        mysql_free_result(c->meta);
        c->meta = NULL;
        mod_mysql_deliver(c, 1);
        return 0;
    }

    row = json_object();

    for (i = 0; i < h->ncols; i++) {
        b = &h->rbind[i];

        if (h->rnull[i]) {
            v = json_null();

        } else if (b->buffer_type == MYSQL_TYPE_LONGLONG) {
            memcpy(&iv, b->buffer, sizeof(iv));
            if (b->is_unsigned && iv < 0) {
                /* Above INT64_MAX: its exact digits, as for DECIMAL. */
                char  digits[24];
                int   n = snprintf(digits, sizeof(digits), "%" PRIu64,
                                   (uint64_t) iv);

                v = json_stringn(digits, (size_t) n);
            } else {
                v = json_integer((json_int_t) iv);
            }

        } else if (b->buffer_type == MYSQL_TYPE_DOUBLE) {
            memcpy(&dv, b->buffer, sizeof(dv));
            v = json_real(dv);
            if (v == NULL) {
                v = json_null();    /* NaN and infinities */
            }

        } else {
            len = h->rlen[i];
            if (len > b->buffer_length) {
                /* Longer than max_length promised: fetch it whole. */
                MYSQL_BIND  big;

                memset(&big, 0, sizeof(big));
                big.buffer_type = MYSQL_TYPE_STRING;
                big.buffer = cairn_arena_alloc(h->a, len + 1);
                big.buffer_length = len;
                big.length = &h->rlen[i];
                mysql_stmt_fetch_column(c->stmt, &big, i, 0);
                v = mod_mysql_json_text(big.buffer, len);
            } else {
                v = mod_mysql_json_text(b->buffer, len);
            }
        }

        json_object_set_new(row, h->rnames[i], v);
    }

    json_array_append_new(h->res.rows, row);
    h->res.nrows++;

    return 1;
}


static void
mod_mysql_q_end(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;

    h->res.affected_rows = mysql_stmt_affected_rows(c->stmt);
    mysql_stmt_free_result(c->stmt);
    mysql_free_result(c->meta);
    c->meta = NULL;

    mod_mysql_deliver(c, 0);
}


static void
mod_mysql_tx_done(mod_mysql_conn_t *c)
{
    mod_mysql_handle_t  *h = c->h;
    int                  failed;

    if (h == NULL) {
        mod_mysql_conn_close(c);
        return;
    }

    failed = h->op == MOD_MYSQL_OP_BEGIN ? c->ret_int != 0
                                         : c->ret_bool != 0;
    if (failed) {
        mod_mysql_error_from(h, mysql_errno(c->mysql),
                             mysql_sqlstate(c->mysql), mysql_error(c->mysql));
        mod_mysql_deliver(c, 1);
        return;
    }

    c->in_tx = h->op == MOD_MYSQL_OP_BEGIN;
    mod_mysql_deliver(c, 0);
}


/*
 * Ends the handle's operation: records metrics, gives up a connection
 * that broke (the request keeps the error for later calls), and calls
 * the user's callback last, since it may end the request.
 */
static void
mod_mysql_deliver(mod_mysql_conn_t *c, int failed)
{
    mod_mysql_handle_t  *h = c->h;
    mod_mysql_pool_t    *pool = c->pool;
    cairn_db_error_t    *err = NULL;
    const char          *lv[2];

    evtimer_del(c->ev_deadline);

    lv[0] = pool->db->name;
    lv[1] = NULL;
    cairn_metric_observe(mod_mysql_m_query, lv,
                         (double) (cairn_now_us() - c->op_start_us) / 1e6);

    if (failed) {
        err = &h->err;
        if (c->timed_out) {
            err->kind = CAIRN_DB_TIMEOUT;
            err->message = cairn_arena_printf(h->a, "the statement ran "
                                              "past QueryTimeout (%s)",
                                              err->message);
            c->broken = 1;
        }
        if (mod_mysql_code_broken(err->code)) {
            c->broken = 1;
        }
        if (c->broken) {
            if (err->kind != CAIRN_DB_TIMEOUT) {
                err->kind = CAIRN_DB_UNAVAILABLE;
            }
            h->dead = *err;
            h->has_dead = 1;
            mod_mysql_conn_unbind(c);
        }
        mod_mysql_count_error(pool, err->kind);
    }

    mod_mysql_handle_answer(h, failed ? NULL : &h->res, err);
}


/* The operation of h is over: its callback, taken off h first (it may
 * start the next operation), gets the result or the error. */
void
mod_mysql_handle_answer(mod_mysql_handle_t *h, const cairn_db_result_t *res,
                        const cairn_db_error_t *err)
{
    cairn_db_query_cb   qcb = h->qcb;
    cairn_db_done_cb    dcb = h->dcb;
    void               *data = h->data;

    h->qcb = NULL;
    h->dcb = NULL;
    h->data = NULL;
    h->hstate = MOD_MYSQL_H_IDLE;

    if (qcb != NULL) {
        qcb(h->r, res, err, data);
    } else if (dcb != NULL) {
        dcb(h->r, err, data);
    }
}


static void
mod_mysql_error_from(mod_mysql_handle_t *h, unsigned code,
                     const char *sqlstate, const char *msg)
{
    mod_mysql_error_set(h->a, &h->err, mod_mysql_kind(code), code,
                        sqlstate, msg);
}


/* The statement's error becomes h's. */
static void
mod_mysql_stmt_error(mod_mysql_handle_t *h, MYSQL_STMT *stmt)
{
    mod_mysql_error_from(h, mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt),
                         mysql_stmt_error(stmt));
}


void
mod_mysql_error_set(cairn_arena_t *a, cairn_db_error_t *e,
                    cairn_db_errkind_t kind, unsigned code,
                    const char *sqlstate, const char *msg)
{
    e->kind = kind;
    e->code = code;
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s",
             sqlstate != NULL ? sqlstate : "");
    e->message = cairn_arena_strdup(a, msg != NULL && *msg != '\0'
                                       ? msg : "unknown error");
}


static cairn_db_errkind_t
mod_mysql_kind(unsigned code)
{
    if (mod_mysql_code_broken(code)) {
        return CAIRN_DB_UNAVAILABLE;
    }

    switch (code) {
    case ER_DUP_ENTRY:
    case ER_DUP_KEY:
    case ER_DUP_UNIQUE:
    case ER_DUP_ENTRY_WITH_KEY_NAME:
        return CAIRN_DB_DUPLICATE;

    case ER_NO_REFERENCED_ROW:
    case ER_ROW_IS_REFERENCED:
    case ER_NO_REFERENCED_ROW_2:
    case ER_ROW_IS_REFERENCED_2:
    case ER_BAD_NULL_ERROR:
    case ER_NO_DEFAULT_FOR_FIELD:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case ER_DATA_TOO_LONG:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_CONSTRAINT_FAILED:
        return CAIRN_DB_CONSTRAINT;

    case ER_PARSE_ERROR:
    case ER_SYNTAX_ERROR:
    case ER_BAD_FIELD_ERROR:
    case ER_NO_SUCH_TABLE:
    case ER_BAD_TABLE_ERROR:
    case ER_NON_UNIQ_ERROR:
    case ER_UNSUPPORTED_PS:
        return CAIRN_DB_SYNTAX;

    case ER_LOCK_WAIT_TIMEOUT:
    case ER_STATEMENT_TIMEOUT:
        return CAIRN_DB_TIMEOUT;

    case ER_CON_COUNT_ERROR:
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_QUERY_INTERRUPTED:
        return CAIRN_DB_UNAVAILABLE;

    default:
        return CAIRN_DB_OTHER;
    }
}


/* Errors after which the connection cannot be trusted any more. */
int
mod_mysql_code_broken(unsigned code)
{
    switch (code) {
    case CR_SOCKET_CREATE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_IPSOCK_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_OUT_OF_MEMORY:
    case CR_SERVER_HANDSHAKE_ERR:
    case CR_SERVER_LOST:
    case CR_COMMANDS_OUT_OF_SYNC:
    case CR_SSL_CONNECTION_ERROR:
    case CR_MALFORMED_PACKET:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
        return 1;
    default:
        return 0;
    }
}


/*
 * Text as a JSON string.  Bytes that are not UTF-8 (binary columns) are
 * read as Latin-1, so every byte value survives as one code point.
 */
static json_t *
mod_mysql_json_text(const char *p, size_t len)
{
    json_t  *v;
    char    *out, *o;
    size_t   i;

    v = json_stringn(p, len);
    if (v != NULL) {
        return v;
    }

    out = malloc(len * 2 + 1);
    if (out == NULL) {
        return json_null();
    }
    o = out;
    for (i = 0; i < len; i++) {
        unsigned char  ch = (unsigned char) p[i];

        if (ch < 0x80) {
            *o++ = (char) ch;
        } else {
            *o++ = (char) (0xc0 | (ch >> 6));
            *o++ = (char) (0x80 | (ch & 0x3f));
        }
    }
    v = json_stringn(out, (size_t) (o - out));
    free(out);

    return v != NULL ? v : json_null();
}


static void
mod_mysql_json_free(void *data)
{
    json_decref(data);
}
