/*
 * modules/mysql/mysql_provider.c: the functions of the cairn_db_t table
 * (cairn/mysql.h) that each <Database> registers as a "db" provider.
 *
 * acquire and acquire_detached, query, begin, commit, rollback, release
 * and kind_name, and the life of a handle (cairn_db_conn_t): its steps
 * run from the loop, never inside the caller's call, and a detached
 * handle's arena is freed from the loop after release().
 */

#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "mod_mysql.h"


static void mod_mysql_handle_destroy_later(mod_mysql_handle_t *h);
static int mod_mysql_tx(cairn_db_conn_t *h, mod_mysql_op_t op,
                        cairn_db_done_cb cb, void *data);


/* Detached handles alive in this worker, and the event that frees the
 * released ones from the loop; worker_exit frees whatever is left. */
mod_mysql_handle_t  *mod_mysql_detached;
struct event        *mod_mysql_reaper;
int                  mod_mysql_exiting;


int
mod_mysql_api_acquire(const cairn_db_t *api, cairn_request_t *r,
                      cairn_db_acquire_cb cb, void *data)
{
    if (r == NULL) {
        return CAIRN_ERROR;
    }

    return mod_mysql_acquire(api, r, cairn_request_arena(r), cb, data);
}


/*
 * A connection for worker-level work: the handle lives in an arena of
 * its own, destroyed on the loop after release() (never inside the
 * caller's callback, which may still be running).
 */
int
mod_mysql_api_acquire_detached(const cairn_db_t *api, cairn_db_acquire_cb cb,
                               void *data)
{
    cairn_arena_t  *a;
    int             rc;

    if (cairn_event_base() == NULL) {
        return CAIRN_ERROR;
    }

    a = cairn_arena_create(8192);
    rc = mod_mysql_acquire(api, NULL, a, cb, data);
    if (rc != CAIRN_OK) {
        cairn_arena_destroy(a);
    }

    return rc;
}


int
mod_mysql_api_query(cairn_db_conn_t *h, const char *sql,
                    const cairn_db_param_t *params, size_t nparams,
                    cairn_db_query_cb cb, void *data)
{
    size_t  i;

    if (h == NULL || sql == NULL || cb == NULL || h->released
        || h->hstate != MOD_MYSQL_H_IDLE || (nparams > 0 && params == NULL))
    {
        return CAIRN_ERROR;
    }

    h->op = MOD_MYSQL_OP_PREPARE;
    h->sql = cairn_arena_strdup(h->a, sql);
    h->nparams = nparams;
    h->params = cairn_arena_alloc(h->a, (nparams + 1)
                                        * sizeof(cairn_db_param_t));
    for (i = 0; i < nparams; i++) {
        h->params[i] = params[i];
        if (params[i].type == CAIRN_DB_STRING
            || params[i].type == CAIRN_DB_BLOB)
        {
            if (params[i].v.s.p == NULL || params[i].v.s.len == 0) {
                h->params[i].v.s.p = "";
                h->params[i].v.s.len = 0;
            } else {
                h->params[i].v.s.p = cairn_arena_memdup(h->a,
                    params[i].v.s.p, params[i].v.s.len);
            }
        }
    }
    memset(&h->res, 0, sizeof(h->res));
    h->qcb = cb;
    h->dcb = NULL;
    h->data = data;

    mod_mysql_handle_later(h, MOD_MYSQL_H_START);

    return CAIRN_OK;
}


static int
mod_mysql_tx(cairn_db_conn_t *h, mod_mysql_op_t op, cairn_db_done_cb cb,
             void *data)
{
    if (h == NULL || cb == NULL || h->released
        || h->hstate != MOD_MYSQL_H_IDLE)
    {
        return CAIRN_ERROR;
    }

    h->op = op;
    h->qcb = NULL;
    h->dcb = cb;
    h->data = data;

    mod_mysql_handle_later(h, MOD_MYSQL_H_START);

    return CAIRN_OK;
}


int
mod_mysql_api_begin(cairn_db_conn_t *h, cairn_db_done_cb cb, void *data)
{
    return mod_mysql_tx(h, MOD_MYSQL_OP_BEGIN, cb, data);
}


int
mod_mysql_api_commit(cairn_db_conn_t *h, cairn_db_done_cb cb, void *data)
{
    return mod_mysql_tx(h, MOD_MYSQL_OP_COMMIT, cb, data);
}


int
mod_mysql_api_rollback(cairn_db_conn_t *h, cairn_db_done_cb cb, void *data)
{
    return mod_mysql_tx(h, MOD_MYSQL_OP_ROLLBACK, cb, data);
}


void
mod_mysql_api_release(cairn_db_conn_t *h)
{
    if (h == NULL || h->released) {
        return;
    }

    h->released = 1;
    h->qcb = NULL;
    h->dcb = NULL;
    h->acb = NULL;

    if (h->ev != NULL) {
        event_del(h->ev);
    }
    if (h->queued) {
        mod_mysql_queue_remove(h);
    }
    if (h->conn != NULL) {
        mod_mysql_conn_unbind(h->conn);
    }
    if (h->detached) {
        mod_mysql_handle_destroy_later(h);
    }
}


/* Frees a detached handle's arena from the loop, after whatever callback
 * released it has returned. */
static void
mod_mysql_handle_destroy_later(mod_mysql_handle_t *h)
{
    if (h->destroying || mod_mysql_exiting) {
        return;
    }
    h->destroying = 1;
    event_active(mod_mysql_reaper, EV_TIMEOUT, 0);
}


void
mod_mysql_handle_reap(evutil_socket_t fd, short what, void *arg)
{
    mod_mysql_handle_t  *h, *next;

    for (h = mod_mysql_detached; h != NULL; h = next) {
        next = h->dnext;
        if (h->destroying) {
            cairn_arena_destroy(h->a);
        }
    }
}


const char *
mod_mysql_api_kind_name(cairn_db_errkind_t kind)
{
    switch (kind) {
    case CAIRN_DB_OK:          return "ok";
    case CAIRN_DB_UNAVAILABLE: return "unavailable";
    case CAIRN_DB_TIMEOUT:     return "timeout";
    case CAIRN_DB_DUPLICATE:   return "duplicate";
    case CAIRN_DB_CONSTRAINT:  return "constraint";
    case CAIRN_DB_SYNTAX:      return "syntax";
    default:                   return "other";
    }
}


/* The request arena dies: give the connection back, free the event. */
void
mod_mysql_handle_cleanup(void *data)
{
    mod_mysql_handle_t  *h = data;

    mod_mysql_api_release(h);

    if (h->ev != NULL) {
        event_free(h->ev);
        h->ev = NULL;
    }

    if (h->detached) {
        if (h->dprev != NULL) {
            h->dprev->dnext = h->dnext;
        } else {
            mod_mysql_detached = h->dnext;
        }
        if (h->dnext != NULL) {
            h->dnext->dprev = h->dprev;
        }
        h->dprev = h->dnext = NULL;
    }
}


/* Runs h's next step from the loop (never inside the caller's call). */
void
mod_mysql_handle_later(mod_mysql_handle_t *h, mod_mysql_hstate_t st)
{
    h->hstate = st;
    event_del(h->ev);
    event_active(h->ev, EV_TIMEOUT, 0);
}


void
mod_mysql_handle_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_mysql_handle_t   *h = arg;
    cairn_db_acquire_cb   acb;
    mod_mysql_pool_t     *pool = h->db->pool;
    const char           *lv[2];
    void                 *data;

    if (h->released) {
        return;
    }

    lv[0] = h->db->name;
    lv[1] = NULL;

    switch (h->hstate) {
    case MOD_MYSQL_H_WAITING:
        /* PoolTimeout passed in the queue. */
        mod_mysql_queue_remove(h);
        mod_mysql_error_set(h->a, &h->err, CAIRN_DB_UNAVAILABLE, 0, "",
            cairn_arena_printf(h->a, "no connection to <Database %s> free "
                               "within PoolTimeout (%" PRId64 " ms)",
                               h->db->name, h->db->pool_timeout));
        if (pool != NULL) {
            mod_mysql_count_error(pool, CAIRN_DB_UNAVAILABLE);
        }
        /* fall through */

    case MOD_MYSQL_H_ACQUIRE_FAILED:
        h->hstate = MOD_MYSQL_H_IDLE;
        acb = h->acb;
        data = h->data;
        h->acb = NULL;
        h->data = NULL;
        h->released = 1;
        if (h->detached) {
            mod_mysql_handle_destroy_later(h);
        }
        if (acb != NULL) {
            acb(h->r, NULL, &h->err, data);
        }
        return;

    case MOD_MYSQL_H_ACQUIRED:
        h->hstate = MOD_MYSQL_H_IDLE;
        if (h->wait_start_us != 0) {
            cairn_metric_observe(mod_mysql_m_wait, lv,
                (double) (cairn_now_us() - h->wait_start_us) / 1e6);
        }
        acb = h->acb;
        data = h->data;
        h->acb = NULL;
        h->data = NULL;
        if (acb != NULL) {
            acb(h->r, h, NULL, data);
        }
        return;

    case MOD_MYSQL_H_START:
        if (h->conn != NULL) {
            mod_mysql_run(h);
            return;
        }
        if (h->has_dead) {
            h->err = h->dead;
        } else {
            mod_mysql_error_set(h->a, &h->err, CAIRN_DB_UNAVAILABLE, 0, "",
                                "the connection is gone");
        }
        /* fall through */

    case MOD_MYSQL_H_FAILED:
        mod_mysql_handle_answer(h, NULL, &h->err);
        return;

    default:
        return;
    }
}
