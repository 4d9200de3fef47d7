/*
 * modules/mysql/mysql_health.c: DatabaseHealth and the metrics.
 *
 * The handler hook answers a DatabaseHealth location with the pool's
 * state after a "SELECT 1" (200, or 503 with the error).  The metric
 * families are registered at post_config; the gauges and the error
 * counter are kept up to date by the pool code.
 */

#include "config.h"

#include <string.h>

#include <jansson.h>

#include "mod_mysql.h"


typedef struct {
    mod_mysql_db_t      *db;
    cairn_db_conn_t     *conn;
} mod_mysql_health_t;


static void mod_mysql_health_acquired(cairn_request_t *r,
                                      cairn_db_conn_t *c,
                                      const cairn_db_error_t *err,
                                      void *data);
static void mod_mysql_health_done(cairn_request_t *r,
                                  const cairn_db_result_t *res,
                                  const cairn_db_error_t *err, void *data);
static void mod_mysql_health_cancel(cairn_request_t *r, void *data);
static int mod_mysql_health_respond(cairn_request_t *r, mod_mysql_db_t *db,
                                    const cairn_db_error_t *err);


/* The metric families, registered by every configuration generation. */
cairn_metric_t         *mod_mysql_m_open;
cairn_metric_t         *mod_mysql_m_in_use;
cairn_metric_t         *mod_mysql_m_overflow;
cairn_metric_t         *mod_mysql_m_waiters;
cairn_metric_t         *mod_mysql_m_wait;
cairn_metric_t         *mod_mysql_m_query;
static cairn_metric_t  *mod_mysql_m_errors;


/* ------------------------------------------------------------------ */
/* DatabaseHealth                                                     */
/* ------------------------------------------------------------------ */

int
mod_mysql_handler(cairn_request_t *r)
{
    const mod_mysql_conf_t  *lc;
    mod_mysql_conf_t        *mc;
    mod_mysql_health_t      *hc;
    mod_mysql_db_t          *db;
    cairn_method_t           method;

    lc = cairn_request_conf(r, &mod_mysql_module);
    if (lc == NULL || lc->health == NULL) {
        return CAIRN_DECLINED;
    }

    method = cairn_request_method(r);
    if (method != CAIRN_METHOD_GET && method != CAIRN_METHOD_HEAD) {
        return cairn_respond_not_allowed(r, CAIRN_M(CAIRN_METHOD_GET));
    }

    mc = cairn_server_conf(cairn_request_server(r), &mod_mysql_module);
    for (db = mc != NULL ? mc->dbs : NULL; db != NULL; db = db->next) {
        if (strcmp(db->name, lc->health->name) == 0) {
            break;
        }
    }
    if (db == NULL || db->pool == NULL) {
        return 500;
    }

    hc = cairn_arena_calloc(cairn_request_arena(r), sizeof(*hc));
    hc->db = db;

    if (db->api.acquire(&db->api, r, mod_mysql_health_acquired, hc)
        != CAIRN_OK)
    {
        return 500;
    }

    cairn_request_on_cancel(r, mod_mysql_health_cancel, hc);

    return CAIRN_SUSPENDED;
}


static void
mod_mysql_health_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                          const cairn_db_error_t *err, void *data)
{
    mod_mysql_health_t  *hc = data;

    if (err != NULL) {
        cairn_request_resume(r, mod_mysql_health_respond(r, hc->db, err));
        return;
    }

    hc->conn = c;
    if (hc->db->api.query(c, "SELECT 1", NULL, 0, mod_mysql_health_done, hc)
        != CAIRN_OK)
    {
        cairn_request_resume(r, 500);
    }
}


static void
mod_mysql_health_done(cairn_request_t *r, const cairn_db_result_t *res,
                      const cairn_db_error_t *err, void *data)
{
    mod_mysql_health_t  *hc = data;

    hc->db->api.release(hc->conn);
    hc->conn = NULL;

    cairn_request_resume(r, mod_mysql_health_respond(r, hc->db, err));
}


static void
mod_mysql_health_cancel(cairn_request_t *r, void *data)
{
    mod_mysql_health_t  *hc = data;

    if (hc->conn != NULL) {
        hc->db->api.release(hc->conn);
        hc->conn = NULL;
    }
}


/* 200 or 503 with the pool's state as JSON. */
static int
mod_mysql_health_respond(cairn_request_t *r, mod_mysql_db_t *db,
                         const cairn_db_error_t *err)
{
    mod_mysql_pool_t  *pool = db->pool;
    json_t            *doc;
    char              *body;
    size_t             len;
    int                status;

    status = err == NULL ? 200 : 503;

    doc = json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I,"
                    " s:I, s:I}",
                    "database", db->name,
                    "status", err == NULL ? "up" : "down",
                    "connections",
                        "open", (json_int_t) pool->nopen,
                        "in_use", (json_int_t) pool->nbound,
                        "idle", (json_int_t) (pool->nopen - pool->nbound),
                        "overflow", (json_int_t) pool->noverflow,
                        "connecting", (json_int_t) pool->nconnecting,
                    "waiters", (json_int_t) pool->nwaiting,
                    "pool_size", (json_int_t) db->pool_size,
                    "max_overflow", (json_int_t) db->max_overflow,
                    "failures", (json_int_t) pool->failures);
    if (doc == NULL) {
        return 500;
    }
    if (err != NULL) {
        json_t  *msg = json_string(err->message);

        json_object_set_new(doc, "error",
                            msg != NULL ? msg : json_string("not UTF-8"));
        json_object_set_new(doc, "kind",
                            json_string(mod_mysql_api_kind_name(err->kind)));
    }

    len = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    body = cairn_arena_alloc(cairn_request_arena(r), len + 1);
    len = json_dumpb(doc, body, len, JSON_COMPACT);
    json_decref(doc);
    body[len++] = '\n';

    cairn_response_header_set(r, "Cache-Control", "no-store");
    cairn_respond(r, status, "application/json", body, len);

    return CAIRN_OK;
}


/* ------------------------------------------------------------------ */
/* Metrics                                                            */
/* ------------------------------------------------------------------ */

void
mod_mysql_metrics_register(cairn_server_t *s)
{
    static const char *const  pool[] = { "pool", NULL };
    static const char *const  pool_kind[] = { "pool", "kind", NULL };

    mod_mysql_m_open = cairn_metric_gauge(s, "cairn_db_connections_open",
        "Database connections open, by pool.", pool);
    mod_mysql_m_in_use = cairn_metric_gauge(s, "cairn_db_connections_in_use",
        "Database connections held by requests, by pool.", pool);
    mod_mysql_m_overflow = cairn_metric_gauge(s,
        "cairn_db_connections_overflow",
        "Database connections open beyond PoolSize, by pool.", pool);
    mod_mysql_m_waiters = cairn_metric_gauge(s, "cairn_db_waiters",
        "Requests waiting for a database connection, by pool.", pool);
    mod_mysql_m_wait = cairn_metric_histogram(s, "cairn_db_wait_seconds",
        "Time requests waited for a database connection.", pool, NULL, 0);
    mod_mysql_m_query = cairn_metric_histogram(s, "cairn_db_query_seconds",
        "Time database statements took.", pool, NULL, 0);
    mod_mysql_m_errors = cairn_metric_counter(s, "cairn_db_errors_total",
        "Database errors, by pool and kind.", pool_kind);
}


void
mod_mysql_gauge(cairn_metric_t *m, mod_mysql_pool_t *pool, double delta)
{
    const char  *lv[2];

    if (m == NULL) {
        return;
    }

    lv[0] = pool->db->name;
    lv[1] = NULL;
    cairn_metric_add(m, lv, delta);
}


void
mod_mysql_count_error(mod_mysql_pool_t *pool, cairn_db_errkind_t kind)
{
    const char  *lv[3];

    if (mod_mysql_m_errors == NULL) {
        return;
    }

    lv[0] = pool->db->name;
    lv[1] = mod_mysql_api_kind_name(kind);
    lv[2] = NULL;
    cairn_metric_add(mod_mysql_m_errors, lv, 1);
}
