/*
 * mod_test_db: runs statements through a "db" provider (cairn/mysql.h),
 * for the integration tests.  It uses nothing but the provider's table.
 *
 *     <Location /db>
 *         TestDb main
 *     </Location>
 *
 *   GET  /db?sql=SELECT+1         one statement without parameters
 *   GET  /db?sql=...&i=42         one statement with one integer parameter
 *   POST /db                      a JSON document:
 *
 *       { "tx": true,                      begin a transaction first
 *         "end": "commit",                 commit | rollback | open
 *         "statements": [
 *             { "sql": "INSERT INTO t VALUES (?, ?)",
 *               "params": [1, "x", null, 2.5, {"blob_hex": "00ff"}] } ] }
 *
 * 200 application/json {"results": [{"rows": [...], "affected": N,
 * "insert_id": N}, ...]}; on a database error the status of
 * cairn_db_status() and {"error": {"kind", "code", "sqlstate",
 * "message", "statement"}}.  With "end": "open" the transaction is left
 * to the provider, which must roll it back when the request ends.
 *
 *   GET  /db-cancelled            "cancelled N\n": cancel callbacks run
 *                                 in this worker
 *
 * Directives: TestDb name   location
 * Hooks:      handler (FIRST), post_config
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/db.h>


typedef struct {
    const char          *db;
} mod_test_db_conf_t;


typedef struct {
    const cairn_db_t    *db;
    cairn_db_conn_t     *conn;
    json_t              *doc;           /* the request, decref'd at end */
    json_t              *results;
    size_t               next;
    size_t               count;
    int                  tx;
    const char          *end;
    const char          *sql;           /* GET ?sql= */
    cairn_db_param_t     arg;           /* GET &i= */
    size_t               nargs;
} mod_test_db_job_t;


static int mod_test_db_register(cairn_module_t *m);
static void *mod_test_db_create_conf(cairn_arena_t *a);
static int mod_test_db_post_config(cairn_server_t *s);
static const char *mod_test_db_check(void *conf, const char *where,
                                     void *data);
static int mod_test_db_handler(cairn_request_t *r);
static void mod_test_db_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                                 const cairn_db_error_t *err, void *data);
static void mod_test_db_begun(cairn_request_t *r,
                              const cairn_db_error_t *err, void *data);
static void mod_test_db_next(cairn_request_t *r, mod_test_db_job_t *job);
static void mod_test_db_ran(cairn_request_t *r, const cairn_db_result_t *res,
                            const cairn_db_error_t *err, void *data);
static void mod_test_db_ended(cairn_request_t *r,
                              const cairn_db_error_t *err, void *data);
static void mod_test_db_finish(cairn_request_t *r, mod_test_db_job_t *job,
                               const cairn_db_error_t *err);
static void mod_test_db_cancel(cairn_request_t *r, void *data);
static int mod_test_db_params(cairn_request_t *r, json_t *list,
                              cairn_db_param_t **out, size_t *n);
static int mod_test_db_json(cairn_request_t *r, int status, json_t *doc);
static void mod_test_db_decref(void *data);


static unsigned long  mod_test_db_cancels;


static const cairn_directive_t  mod_test_db_directives[] = {
    CAIRN_DIRECTIVE_ONE("TestDb", mod_test_db_conf_t, db,
                        CAIRN_SCOPE_LOCATION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


CAIRN_MODULE(test_db) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_db",
    .version        = "1.0.0",
    .description    = "runs SQL through a db provider (tests only)",
    .directives     = mod_test_db_directives,
    .create_conf    = mod_test_db_create_conf,
    .register_hooks = mod_test_db_register,
};


static int
mod_test_db_register(cairn_module_t *m)
{
    if (cairn_hook_handler(m, mod_test_db_handler, CAIRN_ORDER_FIRST, 0,
                           NULL, NULL) != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    return cairn_hook_post_config(m, mod_test_db_post_config,
                                  CAIRN_ORDER_LAST, 0, NULL, NULL);
}


static void *
mod_test_db_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_test_db_conf_t));
}


/* Every TestDb must name a provider with the version 1 table. */
static int
mod_test_db_post_config(cairn_server_t *s)
{
    const char  *err;

    err = cairn_server_each_conf(s, &mod_test_db_module, mod_test_db_check,
                                 s);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }

    return CAIRN_OK;
}


static const char *
mod_test_db_check(void *conf, const char *where, void *data)
{
    const mod_test_db_conf_t  *tc = conf;
    cairn_server_t            *s = data;
    const cairn_db_t          *db;

    if (tc->db == NULL) {
        return NULL;
    }

    db = cairn_provider_get(s, CAIRN_DB_PROVIDER, tc->db);
    if (db == NULL || db->version < 1
        || !CAIRN_DB_HAS(db, kind_name))
    {
        return cairn_arena_printf(cairn_server_arena(s), "TestDb %s in %s: "
                                  "no such database provider", tc->db,
                                  where);
    }

    return NULL;
}


static int
mod_test_db_handler(cairn_request_t *r)
{
    const mod_test_db_conf_t  *tc;
    mod_test_db_job_t         *job;
    json_error_t               jerr;
    json_t                    *list;
    const char                *body, *path, *end;
    size_t                     len;

    path = cairn_request_path(r);
    if (path != NULL && strcmp(path, "/db-cancelled") == 0) {
        body = cairn_arena_printf(cairn_request_arena(r), "cancelled %lu\n",
                                  mod_test_db_cancels);
        return cairn_respond(r, 200, "text/plain", body, strlen(body));
    }

    tc = cairn_request_conf(r, &mod_test_db_module);
    if (tc == NULL || tc->db == NULL) {
        return CAIRN_DECLINED;
    }

    job = cairn_arena_calloc(cairn_request_arena(r), sizeof(*job));
    job->db = cairn_provider_get(cairn_request_server(r), CAIRN_DB_PROVIDER,
                                 tc->db);
    if (job->db == NULL) {
        return 500;
    }
    job->results = json_array();
    cairn_arena_cleanup_add(cairn_request_arena(r), mod_test_db_decref,
                            job->results);
    job->end = "commit";

    if (cairn_request_method(r) == CAIRN_METHOD_POST) {
        body = cairn_request_body(r, &len);
        job->doc = json_loadb(body != NULL ? body : "", len, 0, &jerr);
        if (job->doc == NULL) {
            return 400;
        }
        cairn_arena_cleanup_add(cairn_request_arena(r), mod_test_db_decref,
                                job->doc);
        list = json_object_get(job->doc, "statements");
        if (!json_is_array(list)) {
            return 400;
        }
        job->count = json_array_size(list);
        job->tx = json_is_true(json_object_get(job->doc, "tx"));
        end = json_string_value(json_object_get(job->doc, "end"));
        if (end != NULL) {
            job->end = end;
        }
    } else {
        job->sql = cairn_request_arg(r, "sql");
        if (job->sql == NULL) {
            return 400;
        }
        if ((end = cairn_request_arg(r, "i")) != NULL) {
            job->arg.type = CAIRN_DB_INT;
            job->arg.v.i = strtoll(end, NULL, 10);
            job->nargs = 1;
        }
        job->count = 1;
    }

    if (job->db->acquire(job->db, r, mod_test_db_acquired, job)
        != CAIRN_OK)
    {
        return 500;
    }

    cairn_request_on_cancel(r, mod_test_db_cancel, job);

    return CAIRN_SUSPENDED;
}


static void
mod_test_db_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                     const cairn_db_error_t *err, void *data)
{
    mod_test_db_job_t  *job = data;

    if (err != NULL) {
        mod_test_db_finish(r, job, err);
        return;
    }

    job->conn = c;

    if (job->tx) {
        if (job->db->begin(c, mod_test_db_begun, job) != CAIRN_OK) {
            cairn_request_resume(r, 500);
        }
        return;
    }

    mod_test_db_next(r, job);
}


static void
mod_test_db_begun(cairn_request_t *r, const cairn_db_error_t *err,
                  void *data)
{
    mod_test_db_job_t  *job = data;

    if (err != NULL) {
        mod_test_db_finish(r, job, err);
        return;
    }

    mod_test_db_next(r, job);
}


/* Runs the next statement, or ends the transaction, or answers. */
static void
mod_test_db_next(cairn_request_t *r, mod_test_db_job_t *job)
{
    cairn_db_param_t  *params = NULL;
    json_t            *st;
    const char        *sql;
    size_t             n = 0;
    int                rc;

    if (job->next < job->count) {
        if (job->sql != NULL) {
            sql = job->sql;
            params = &job->arg;
            n = job->nargs;
        } else {
            st = json_array_get(json_object_get(job->doc, "statements"),
                                job->next);
            sql = json_string_value(json_object_get(st, "sql"));
            if (sql == NULL
                || mod_test_db_params(r, json_object_get(st, "params"),
                                      &params, &n) != 0)
            {
                cairn_request_resume(r, 400);
                return;
            }
        }
        job->next++;
        if (job->db->query(job->conn, sql, params, n, mod_test_db_ran, job)
            != CAIRN_OK)
        {
            cairn_request_resume(r, 500);
        }
        return;
    }

    if (job->tx && strcmp(job->end, "commit") == 0) {
        rc = job->db->commit(job->conn, mod_test_db_ended, job);
    } else if (job->tx && strcmp(job->end, "rollback") == 0) {
        rc = job->db->rollback(job->conn, mod_test_db_ended, job);
    } else {
        mod_test_db_finish(r, job, NULL);
        return;
    }

    if (rc != CAIRN_OK) {
        cairn_request_resume(r, 500);
    }
}


static void
mod_test_db_ran(cairn_request_t *r, const cairn_db_result_t *res,
                const cairn_db_error_t *err, void *data)
{
    mod_test_db_job_t  *job = data;

    if (err != NULL) {
        mod_test_db_finish(r, job, err);
        return;
    }

    json_array_append_new(job->results,
                          json_pack("{s:O, s:I, s:I}",
                                    "rows", res->rows,
                                    "affected",
                                    (json_int_t) res->affected_rows,
                                    "insert_id",
                                    (json_int_t) res->insert_id));

    mod_test_db_next(r, job);
}


static void
mod_test_db_ended(cairn_request_t *r, const cairn_db_error_t *err,
                  void *data)
{
    mod_test_db_finish(r, data, err);
}


/* Answers; "end": "open" keeps the connection (and its transaction)
 * until the request is over, as the provider promises. */
static void
mod_test_db_finish(cairn_request_t *r, mod_test_db_job_t *job,
                   const cairn_db_error_t *err)
{
    json_t  *doc;
    int      status;

    if (job->conn != NULL && strcmp(job->end, "open") != 0) {
        job->db->release(job->conn);
        job->conn = NULL;
    }

    if (err == NULL) {
        doc = json_pack("{s:O}", "results", job->results);
        status = 200;
    } else {
        doc = json_pack("{s:{s:s, s:i, s:s, s:s, s:I}}", "error",
                        "kind", job->db->kind_name(err->kind),
                        "code", (int) err->code,
                        "sqlstate", err->sqlstate,
                        "message", err->message,
                        "statement", (json_int_t) job->next - 1);
        status = cairn_db_status(err);
    }

    cairn_request_resume(r, mod_test_db_json(r, status, doc));
}


static void
mod_test_db_cancel(cairn_request_t *r, void *data)
{
    mod_test_db_job_t  *job = data;

    mod_test_db_cancels++;

    if (job->conn != NULL) {
        job->db->release(job->conn);
        job->conn = NULL;
    }
}


static int
mod_test_db_params(cairn_request_t *r, json_t *list, cairn_db_param_t **out,
                   size_t *n)
{
    cairn_db_param_t  *p;
    json_t            *v;
    const char        *hex;
    unsigned char     *bin;
    size_t             i, j, len;
    unsigned           byte;

    *n = json_array_size(list);
    *out = cairn_arena_calloc(cairn_request_arena(r),
                              (*n + 1) * sizeof(cairn_db_param_t));

    for (i = 0; i < *n; i++) {
        p = &(*out)[i];
        v = json_array_get(list, i);

        if (json_is_null(v)) {
            p->type = CAIRN_DB_NULL;
        } else if (json_is_integer(v)) {
            p->type = CAIRN_DB_INT;
            p->v.i = json_integer_value(v);
        } else if (json_is_real(v)) {
            p->type = CAIRN_DB_DOUBLE;
            p->v.d = json_real_value(v);
        } else if (json_is_string(v)) {
            p->type = CAIRN_DB_STRING;
            p->v.s.p = json_string_value(v);
            p->v.s.len = json_string_length(v);
        } else if (json_is_object(v)
                   && (hex = json_string_value(json_object_get(v,
                                                               "blob_hex")))
                      != NULL)
        {
            len = strlen(hex);
            if (len % 2 != 0) {
                return -1;
            }
            bin = cairn_arena_alloc(cairn_request_arena(r), len / 2 + 1);
            for (j = 0; j < len / 2; j++) {
                if (sscanf(hex + 2 * j, "%2x", &byte) != 1) {
                    return -1;
                }
                bin[j] = (unsigned char) byte;
            }
            p->type = CAIRN_DB_BLOB;
            p->v.s.p = bin;
            p->v.s.len = len / 2;
        } else {
            return -1;
        }
    }

    return 0;
}


static int
mod_test_db_json(cairn_request_t *r, int status, json_t *doc)
{
    char    *body;
    size_t   len;

    if (doc == NULL) {
        return 500;
    }

    len = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    body = cairn_arena_alloc(cairn_request_arena(r), len + 1);
    len = json_dumpb(doc, body, len, JSON_COMPACT);
    json_decref(doc);

    return cairn_respond(r, status, "application/json", body, len) == CAIRN_OK
           ? CAIRN_OK : 500;
}


static void
mod_test_db_decref(void *data)
{
    json_decref(data);
}
