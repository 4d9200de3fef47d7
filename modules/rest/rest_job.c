/*
 * rest_job.c: the job of a request that reaches the database: a
 * connection from the resource's Database, then one statement after
 * another (mod_rest_step()), the transactions of PATCH and of writes
 * with an Idempotency-Key, database errors as statuses, and the answer.
 * The handler (rest_handler.c) sets the job up.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cairn/cairn.h>
#include <cairn/db.h>

#include "mod_rest.h"


/* The server's "You have an error in your SQL syntax" (ER_PARSE_ERROR). */
#define MOD_REST_ER_PARSE_ERROR 1064

/* ER_LOCK_WAIT_TIMEOUT: the statement (only) was rolled back. */
#define MOD_REST_ER_LOCK_WAIT   1205

/* ER_LOCK_DEADLOCK: the whole transaction was rolled back. */
#define MOD_REST_ER_DEADLOCK    1213

/* Foreign keys: no parent row (1216, 1452), a child row refers to this
 * one (1217, 1451). */
#define MOD_REST_ER_FK_CHILD    1452
#define MOD_REST_ER_FK_PARENT   1451
#define MOD_REST_ER_FK_CHILD1   1216
#define MOD_REST_ER_FK_PARENT1  1217

/* Expired Idempotency-Key rows are removed at most this often per
 * worker (and for the key in hand, always). */
#define MOD_REST_IDEM_GC_US     (60 * 1000000ULL)


static int mod_rest_row(mod_rest_job_t *job, const cairn_db_result_t *res);
static void mod_rest_idem_step(mod_rest_job_t *job,
                               const cairn_db_result_t *res);
static void mod_rest_idem_record(mod_rest_job_t *job);
static void mod_rest_idem_replay(mod_rest_job_t *job,
                                 const cairn_db_result_t *res);
static void mod_rest_idem_lookup(mod_rest_job_t *job);
static void mod_rest_start(mod_rest_job_t *job);
static void mod_rest_run(mod_rest_job_t *job, mod_rest_step_t step,
                         const char *sql, const cairn_db_param_t *params,
                         size_t n);
static void mod_rest_ran(cairn_request_t *r, const cairn_db_result_t *res,
                         const cairn_db_error_t *err, void *data);
static void mod_rest_tx_done(cairn_request_t *r, const cairn_db_error_t *err,
                             void *data);
static void mod_rest_step(mod_rest_job_t *job, const cairn_db_result_t *res);
static void mod_rest_commit(mod_rest_job_t *job);
static void mod_rest_schema(mod_rest_job_t *job,
                            const cairn_db_result_t *res);
static void mod_rest_list(mod_rest_job_t *job);
static void mod_rest_page(mod_rest_job_t *job);
static const char *mod_rest_cursor_make(mod_rest_job_t *job,
                                        const rest_resource_t *rs,
                                        const rest_query_t *q, json_t *row);
static void mod_rest_embed(mod_rest_job_t *job,
                           const cairn_db_result_t *res);
static int mod_rest_write_params(mod_rest_job_t *job, json_t *doc,
                                 json_t *only, int insert,
                                 cairn_db_param_t **out, size_t *n);
static void mod_rest_patch(mod_rest_job_t *job, json_t *row);
static const char *mod_rest_patch_sql(mod_rest_job_t *job);
static void mod_rest_finish(mod_rest_job_t *job, int status,
                            const char *message, json_t *data);
static void mod_rest_db_error(mod_rest_job_t *job,
                              const cairn_db_error_t *err);
static void mod_rest_answer(mod_rest_job_t *job);
static int mod_rest_outcome_unknown(const mod_rest_job_t *job);
static void mod_rest_value_error(mod_rest_job_t *job,
                                 const cairn_db_error_t *err);
static const char *mod_rest_encode_id(cairn_arena_t *a, const char *id);
static void mod_rest_retry(mod_rest_job_t *job);
static void mod_rest_fk_error(mod_rest_job_t *job,
                              const cairn_db_error_t *err);
static const char *mod_rest_key_field(mod_rest_job_t *job, const char *key);
static const char *mod_rest_row_hash(mod_rest_job_t *job, json_t *row);
static int mod_rest_hash_matches(mod_rest_job_t *job, const char *etag);


/* ------------------------------------------------------------------ */
/* The statements                                                     */
/* ------------------------------------------------------------------ */

void
mod_rest_cancel(cairn_request_t *r, void *data)
{
    mod_rest_job_t  *job = data;

    if (job->conn != NULL) {
        job->db->release(job->conn);
        job->conn = NULL;
    }
    if (job->data != NULL) {
        json_decref(job->data);
        job->data = NULL;
    }
}


void
mod_rest_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                  const cairn_db_error_t *err, void *data)
{
    mod_rest_job_t   *job = data;
    rest_resource_t  *res = job->res;

    if (err != NULL) {
        mod_rest_db_error(job, err);
        return;
    }
    job->conn = c;

    if (res->schema == REST_SCHEMA_OK) {
        mod_rest_start(job);
    } else if (res->auto_create) {
        mod_rest_run(job, MOD_REST_S_SCHEMA_CREATE, res->sql_create, NULL,
                     0);
    } else {
        mod_rest_schema(job, NULL);
    }
}


/* Checks the table's columns (information_schema); res is NULL to ask. */
static void
mod_rest_schema(mod_rest_job_t *job, const cairn_db_result_t *res)
{
    rest_resource_t   *rs = job->res;
    cairn_db_param_t   p;

    if (res == NULL) {
        mod_rest_text_param(&p, rs->table);
        mod_rest_run(job, MOD_REST_S_SCHEMA_COLUMNS, mod_rest_sql_columns,
                     &p, 1);
        return;
    }

    if ((job->step == MOD_REST_S_SCHEMA_COLUMNS
         ? mod_rest_schema_verdict(rs, res, job->r, job->arena)
         : mod_rest_idem_verdict(rs, res, job->r)) != REST_SCHEMA_OK)
    {
        mod_rest_finish(job, 503, rs->schema_error, NULL);
        return;
    }

    if (job->step == MOD_REST_S_SCHEMA_COLUMNS && rs->idem) {
        mod_rest_text_param(&p, rs->idem_table);
        mod_rest_run(job, MOD_REST_S_SCHEMA_IDEM_COLUMNS,
                     mod_rest_sql_columns, &p, 1);
        return;
    }

    mod_rest_start(job);
}


/* The first statement of the request's operation. */
static void
mod_rest_start(mod_rest_job_t *job)
{
    job->hash = job->res->etag_mode == REST_ETAG_HASH;
    if (!job->started) {
        job->started = 1;
        job->has_if_match0 = job->has_if_match;
    }

    if (job->method == CAIRN_METHOD_GET || job->method == CAIRN_METHOD_HEAD)
    {
        if (job->item) {
            mod_rest_run(job, MOD_REST_S_ONE, job->res->sql_one, job->key,
                         job->res->nkey);
        } else {
            mod_rest_list(job);
        }
        return;
    }

    if (job->batch != NULL) {
        /* A batch's operation: its transaction is the batch's. */
        job->in_tx = 1;
        job->step = MOD_REST_S_WRITE;
        mod_rest_step(job, NULL);
        return;
    }

    if (job->idem_key != NULL) {
        /* The write and the record of its answer: one transaction. */
        job->step = MOD_REST_S_IDEM_BEGIN;
        if (job->db->begin(job->conn, mod_rest_tx_done, job) != CAIRN_OK) {
            mod_rest_finish(job, 503, "the database is not available",
                            NULL);
            return;
        }
        job->in_tx = 1;
        return;
    }

    job->step = MOD_REST_S_WRITE;

    if (job->method != CAIRN_METHOD_PATCH
        && job->method != CAIRN_METHOD_PUT
        && !(job->hash && job->has_if_match))
    {
        /* POST and DELETE write with one statement, a transaction of
         * its own (autocommit), the If-Match check in its WHERE; POST
         * gets its row back from the INSERT itself. */
        mod_rest_step(job, NULL);
        return;
    }

    /* PATCH reads the row FOR UPDATE, merges and writes it back; PUT
     * writes it and reads it back under the lock of its UPDATE, so that
     * its answer (and ETag) is its own write, not one committed by
     * another client in between: one explicit transaction each.  With
     * row hash ETags, a DELETE with If-Match reads the row FOR UPDATE
     * and compares its hash before deleting: a transaction too. */
    if (job->db->begin(job->conn, mod_rest_tx_done, job) != CAIRN_OK) {
        mod_rest_finish(job, 503, "the database is not available", NULL);
        return;
    }
    job->in_tx = 1;
}


static void
mod_rest_run(mod_rest_job_t *job, mod_rest_step_t step, const char *sql,
             const cairn_db_param_t *params, size_t n)
{
    job->step = step;
    if (job->db->query(job->conn, sql, params, n, mod_rest_ran, job)
        != CAIRN_OK)
    {
        mod_rest_finish(job, 503, "the database is not available", NULL);
    }
}


/* The list: COUNT(*) with the filters, then the page. */
static void
mod_rest_list(mod_rest_job_t *job)
{
    rest_query_t      *q = &job->query;
    cairn_db_param_t  *p;
    char               buf[32];
    const char        *w = "";
    size_t             i;

    job->wparams = cairn_arena_calloc(job->arena,
                                      (q->nfilter + 2 + (q->nsort + 1)
                                       * (q->nsort + 2) / 2) * sizeof(*p));
    for (i = 0; i < q->nfilter; i++) {
        p = &job->wparams[i];
        /* A string compared with a DECIMAL column would be compared as
         * a double: the value is cast to the column's own type. */
        w = cairn_arena_printf(job->arena, q->filter[i]->type
                               == REST_T_DECIMAL
                               ? "%s%s`%s` = CAST(? AS DECIMAL(%d,%d))"
                               : "%s%s`%s` = ?", w,
                               i == 0 ? " WHERE " : " AND ",
                               q->filter[i]->name, q->filter[i]->precision,
                               q->filter[i]->scale);
        switch (q->filter[i]->type) {
        case REST_T_INT:
        case REST_T_BIGINT:
            p->type = CAIRN_DB_INT;
            p->v.i = strtoll(q->value[i], NULL, 10);
            break;
        case REST_T_NUMBER:
            p->type = CAIRN_DB_DOUBLE;
            p->v.d = strtod(q->value[i], NULL);
            break;
        case REST_T_BOOL:
            p->type = CAIRN_DB_INT;
            p->v.i = strcmp(q->value[i], "true") == 0
                     || strcmp(q->value[i], "1") == 0;
            break;
        case REST_T_DATETIME:
            if (rest_datetime_sql(q->value[i], buf, sizeof(buf)) == 0) {
                p->type = CAIRN_DB_STRING;
                p->v.s.p = cairn_arena_strdup(job->arena, buf);
                p->v.s.len = strlen(buf);
            }
            break;
        case REST_T_DECIMAL:
            p->type = CAIRN_DB_STRING;
            p->v.s.p = rest_decimal_canon(job->arena, q->value[i],
                                          strlen(q->value[i]),
                                          q->filter[i]->precision,
                                          q->filter[i]->scale, NULL);
            p->v.s.len = p->v.s.p != NULL ? strlen(p->v.s.p) : 0;
            break;
        default:
            p->type = CAIRN_DB_STRING;
            p->v.s.p = q->value[i];
            p->v.s.len = strlen(q->value[i]);
            break;
        }
    }
    job->where = w;
    job->nwparams = q->nfilter;

    if (job->after != NULL) {
        /* A cursor's page: no count (it would read every matching
         * row), straight to the rows after the cursor's. */
        job->total = -1;
        mod_rest_page(job);
        return;
    }

    mod_rest_run(job, MOD_REST_S_COUNT, cairn_arena_printf(
        job->arena, "SELECT COUNT(*) AS n FROM `%s`%s", job->res->table, w),
        job->wparams, job->nwparams);
}


static void
mod_rest_tx_done(cairn_request_t *r, const cairn_db_error_t *err,
                 void *data)
{
    mod_rest_job_t  *job = data;

    if (job->step == MOD_REST_S_RETRY) {
        job->in_tx = 0;
        if (err != NULL) {
            mod_rest_db_error(job, err);
            return;
        }
        mod_rest_retry(job);
        return;
    }
    if (job->step == MOD_REST_S_ROLLBACK) {
        job->in_tx = 0;
        if (job->idem_conflict == 1) {
            /* The key is taken: what did its first request answer? */
            mod_rest_idem_lookup(job);
            return;
        }
        mod_rest_answer(job);
        return;
    }
    if (err != NULL) {
        mod_rest_db_error(job, err);
        return;
    }
    if (job->step == MOD_REST_S_COMMIT) {
        job->in_tx = 0;
        mod_rest_answer(job);
        return;
    }

    /* BEGIN done (PATCH): the write. */
    mod_rest_step(job, NULL);
}


static void
mod_rest_ran(cairn_request_t *r, const cairn_db_result_t *res,
             const cairn_db_error_t *err, void *data)
{
    mod_rest_job_t  *job = data;

    if (err != NULL) {
        mod_rest_db_error(job, err);
        return;
    }

    mod_rest_step(job, res);
}


/*
 * Parameters of INSERT or UPDATE from doc, in the order of the resource's
 * statements.  With only (a PATCH's body), just the fields named in it,
 * in declaration order, for the statement mod_rest_patch() builds.
 * Returns 0, or -1 after answering 422 for a value that cannot be
 * stored as it is (never bound as NULL instead).
 */
static int
mod_rest_write_params(mod_rest_job_t *job, json_t *doc, json_t *only,
                      int insert, cairn_db_param_t **out, size_t *n)
{
    rest_resource_t     *res = job->res;
    const rest_field_t  *f;
    cairn_db_param_t    *p;
    const char          *user;
    json_t              *v;
    size_t               i, k = 0;

    p = cairn_arena_calloc(job->arena, (res->nfields + 4) * sizeof(*p));
    for (i = 0; i < res->nfields; i++) {
        f = &res->fields[i];
        if (insert ? !REST_INSERTS(f) : !REST_UPDATES(f)) {
            continue;
        }
        if (only != NULL && ((f->flags & REST_F_USER)
                             || json_object_get(only, f->name) == NULL))
        {
            continue;
        }
        if (f->flags & REST_F_USER) {
            user = cairn_request_user(job->r);
            if (user != NULL) {
                p[k].type = CAIRN_DB_STRING;
                p[k].v.s.p = user;
                p[k].v.s.len = strlen(user);
            }
            k++;
            continue;
        }
        v = json_object_get(doc, f->name);
        if (rest_value_param(job->arena, f, v, &p[k]) != 0) {
            mod_rest_finish(job, 422, "validation failed", json_pack(
                "{s:[{s:s, s:s}]}", "errors", "field", f->name, "message",
                "cannot be stored as it is"));
            return -1;
        }
        k++;
    }

    *out = p;
    *n = k;

    return 0;
}


/* The answer for a single row (data, ETag) of the last SELECT. */
static int
mod_rest_row(mod_rest_job_t *job, const cairn_db_result_t *res)
{
    json_t  *row;

    if (res->nrows == 0) {
        return -1;
    }
    row = json_array_get(res->rows, 0);
    job->data = rest_row_out(job->res, row, 0);
    job->etag = job->hash ? mod_rest_row_hash(job, row)
                : rest_etag(job->arena,
                            json_object_get(row, job->res->version_col));

    return 0;
}


/* Where the state machine goes after each step. */
static void
mod_rest_step(mod_rest_job_t *job, const cairn_db_result_t *res)
{
    rest_resource_t   *rs = job->res;
    cairn_db_param_t  *p;
    const char        *inm, *id;
    json_t            *items, *data;
    size_t             n, i;

    switch (job->step) {
    case MOD_REST_S_SCHEMA_CREATE:
        if (rs->idem) {
            mod_rest_run(job, MOD_REST_S_SCHEMA_IDEM_CREATE,
                         rs->sql_idem_create, NULL, 0);
            return;
        }
        mod_rest_schema(job, NULL);
        return;

    case MOD_REST_S_SCHEMA_IDEM_CREATE:
        mod_rest_schema(job, NULL);
        return;

    case MOD_REST_S_SCHEMA_COLUMNS:
    case MOD_REST_S_SCHEMA_IDEM_COLUMNS:
        mod_rest_schema(job, res);
        return;

    case MOD_REST_S_IDEM_BEGIN:
    case MOD_REST_S_IDEM_GC:
    case MOD_REST_S_IDEM_CLEAN:
    case MOD_REST_S_IDEM_CLAIM:
    case MOD_REST_S_IDEM_RECORD:
    case MOD_REST_S_IDEM_LOOKUP:
        mod_rest_idem_step(job, res);
        return;

    case MOD_REST_S_WRITE:
        /* The write itself. */
        switch (job->method) {
        case CAIRN_METHOD_POST:
            if (mod_rest_write_params(job, job->body, NULL, 1, &p, &n)
                != 0)
            {
                return;
            }
            job->insert_params = p;
            job->ninsert_params = n;
            mod_rest_run(job, MOD_REST_S_INSERT, rs->no_returning
                         ? rs->sql_insert : rs->sql_insert_ret, p, n);
            return;
        case CAIRN_METHOD_PUT:
            if (job->hash && job->has_if_match) {
                /* The row's hash is compared under its lock first. */
                mod_rest_run(job, MOD_REST_S_LOCK, rs->sql_lock, job->key,
                             rs->nkey);
                return;
            }
            if (mod_rest_write_params(job, job->body, NULL, 0, &p, &n)
                != 0)
            {
                return;
            }
            memcpy(p + n, job->key, rs->nkey * sizeof(*p));
            n += rs->nkey;
            if (job->has_if_match) {
                p[n].type = CAIRN_DB_INT;
                p[n++].v.i = job->if_match;
            }
            mod_rest_run(job, MOD_REST_S_UPDATE, job->has_if_match
                         ? rs->sql_update_if : rs->sql_update, p, n);
            return;
        case CAIRN_METHOD_PATCH:
            mod_rest_run(job, MOD_REST_S_LOCK, rs->sql_lock, job->key,
                         rs->nkey);
            return;
        default:
            if (job->hash && job->has_if_match) {
                mod_rest_run(job, MOD_REST_S_LOCK, rs->sql_lock, job->key,
                             rs->nkey);
                return;
            }
            p = cairn_arena_calloc(job->arena, 3 * sizeof(*p));
            memcpy(p, job->key, rs->nkey * sizeof(*p));
            n = rs->nkey;
            if (job->has_if_match) {
                p[n].type = CAIRN_DB_INT;
                p[n++].v.i = job->if_match;
            }
            mod_rest_run(job, MOD_REST_S_DELETE, job->has_if_match
                         ? rs->sql_delete_if : rs->sql_delete, p, n);
            return;
        }

    case MOD_REST_S_COUNT:
        job->total = json_integer_value(json_object_get(
            json_array_get(res->rows, 0), "n"));
        mod_rest_page(job);
        return;

    case MOD_REST_S_PAGE:
        /* One row more than the page was asked for: whether there is a
         * next page. */
        items = json_array();
        n = res->nrows > (size_t) job->query.limit
            ? (size_t) job->query.limit : res->nrows;
        for (i = 0; i < n; i++) {
            json_array_append_new(items, rest_row_out(
                rs, json_array_get(res->rows, i), 0));
        }
        data = json_pack("{s:o, s:o, s:I, s:o, s:o}", "items", items,
                         "total", job->total >= 0
                         ? json_integer(job->total) : json_null(),
                         "limit", (json_int_t) job->query.limit,
                         "offset", job->after == NULL
                         ? json_integer(job->query.offset) : json_null(),
                         "next", res->nrows > n
                         ? json_string(mod_rest_cursor_make(
                               job, rs, &job->query,
                               json_array_get(res->rows, n - 1)))
                         : json_null());
        mod_rest_finish(job, 200, NULL, data);
        return;

    case MOD_REST_S_ONE:
        if (mod_rest_row(job, res) != 0) {
            mod_rest_finish(job, 404, "no such resource", NULL);
            return;
        }
        inm = cairn_request_header(job->r, "If-None-Match");
        if (inm != NULL && job->etag != NULL
            && rest_etag_match(inm, job->etag))
        {
            json_decref(job->data);
            job->data = NULL;
            mod_rest_finish(job, 304, NULL, NULL);
            return;
        }
        if (job->nembed > 0) {
            mod_rest_embed(job, NULL);
            return;
        }
        mod_rest_finish(job, 200, NULL, job->data);
        return;

    case MOD_REST_S_EMBED:
        mod_rest_embed(job, res);
        return;

    case MOD_REST_S_INSERT:
        p = cairn_arena_calloc(job->arena, sizeof(*p));
        if (rs->fields[rs->key_index].flags & REST_F_AUTO) {
            p->type = CAIRN_DB_INT;
            p->v.i = res->nrows == 1
                     ? (int64_t) json_integer_value(json_object_get(
                           json_array_get(res->rows, 0), rs->key))
                     : (int64_t) res->insert_id;
            id = cairn_arena_printf(job->arena, "%" PRId64, p->v.i);
        } else {
            id = json_string_value(json_object_get(job->body, rs->key));
            p->type = CAIRN_DB_STRING;
            p->v.s.p = id;
            p->v.s.len = strlen(id);
        }
        job->key[0] = *p;
        job->key[1] = *p;
        job->status = 201;
        job->location = cairn_arena_printf(job->arena, "%s/%s", rs->path,
                                           mod_rest_encode_id(job->arena,
                                                              id));
        if (res->nrows == 1) {
            /* RETURNING gave the row. */
            job->step = MOD_REST_S_REREAD;
            mod_rest_step(job, res);
            return;
        }
        mod_rest_run(job, MOD_REST_S_REREAD, rs->sql_one, job->key,
                     rs->nkey);
        return;

    case MOD_REST_S_UPDATE:
    case MOD_REST_S_DELETE:
        if (res->affected_rows == 0 && job->hash
            && job->step == MOD_REST_S_UPDATE)
        {
            /* Without a version column an UPDATE that leaves the row as
             * it was changes no row: the read back says whether it is
             * there (the UPDATE locked it either way). */
            job->status = 200;
            mod_rest_run(job, MOD_REST_S_REREAD, rs->sql_one, job->key,
                         rs->nkey);
            return;
        }
        if (res->affected_rows == 0) {
            if (job->has_if_match) {
                mod_rest_run(job, MOD_REST_S_EXISTS, rs->sql_exists,
                             job->key, job->res->nkey);
            } else {
                mod_rest_finish(job, 404, "no such resource", NULL);
            }
            return;
        }
        if (job->step == MOD_REST_S_DELETE) {
            job->status = 200;
            job->message = "deleted";
            job->data = NULL;
            mod_rest_commit(job);
            return;
        }
        job->status = 200;
        mod_rest_run(job, MOD_REST_S_REREAD, rs->sql_one, job->key,
                     rs->nkey);
        return;

    case MOD_REST_S_EXISTS:
        /* If-Match names a version; a row that is gone (another DELETE
         * won) has none, so the precondition fails: 412, not 404 (RFC
         * 9110 section 13.1.1). */
        mod_rest_finish(job, 412, res->nrows == 0
                        ? "the resource no longer exists: If-Match "
                          "cannot match"
                        : "the resource was changed: its ETag no longer "
                          "matches If-Match", NULL);
        return;

    case MOD_REST_S_LOCK:
        if (res->nrows == 0) {
            mod_rest_finish(job, job->has_if_match ? 412 : 404,
                            job->has_if_match
                            ? "the resource no longer exists: If-Match "
                              "cannot match"
                            : "no such resource", NULL);
            return;
        }
        if (job->method == CAIRN_METHOD_PATCH) {
            mod_rest_patch(job, json_array_get(res->rows, 0));
            return;
        }
        /* PUT or DELETE with If-Match, row hash ETags: the row is
         * locked until COMMIT; its hash decides. */
        if (!mod_rest_hash_matches(job, mod_rest_row_hash(
                job, json_array_get(res->rows, 0))))
        {
            mod_rest_finish(job, 412, "the resource was changed: its ETag "
                            "no longer matches If-Match", NULL);
            return;
        }
        job->has_if_match = 0;
        job->step = MOD_REST_S_WRITE;
        mod_rest_step(job, NULL);
        return;

    case MOD_REST_S_REREAD:
        if (mod_rest_row(job, res) != 0) {
            mod_rest_finish(job, 404, "no such resource", NULL);
            return;
        }
        mod_rest_commit(job);
        return;

    default:
        mod_rest_finish(job, 500, NULL, NULL);
        return;
    }
}


/* Commits the transaction if there is one, then answers.  With an
 * Idempotency-Key the answer is recorded first, in the transaction. */
static void
mod_rest_commit(mod_rest_job_t *job)
{
    if (!job->in_tx || job->batch != NULL) {
        mod_rest_answer(job);
        return;
    }

    if (job->idem_key != NULL && job->idem_text == NULL) {
        mod_rest_idem_record(job);
        return;
    }

    job->step = MOD_REST_S_COMMIT;
    if (job->db->commit(job->conn, mod_rest_tx_done, job) != CAIRN_OK) {
        mod_rest_finish(job, 503, "the database is not available", NULL);
    }
}


/* PATCH with the row locked: If-Match, merge, validate, UPDATE. */
static void
mod_rest_patch(mod_rest_job_t *job, json_t *row)
{
    rest_resource_t   *rs = job->res;
    cairn_db_param_t  *p;
    const char        *etag;
    json_t            *cur, *merged, *errors;
    size_t             n;

    etag = job->hash ? mod_rest_row_hash(job, row)
           : rest_etag(job->arena, json_object_get(row, rs->version_col));
    if (job->has_if_match
        && (job->hash ? !mod_rest_hash_matches(job, etag)
            : (etag == NULL || job->if_match < 0
               || json_integer_value(json_object_get(row, rs->version_col))
                  != job->if_match)))
    {
        mod_rest_finish(job, 412, "the resource was changed: its ETag no "
                        "longer matches If-Match", NULL);
        return;
    }

    cur = rest_row_out(rs, row, 1);
    merged = rest_merge_patch(cur, job->body);
    json_decref(cur);
    if (merged == NULL) {
        mod_rest_finish(job, 500, NULL, NULL);
        return;
    }
    cairn_arena_cleanup_add(job->arena, mod_rest_decref, merged);

    errors = json_array();
    if (rest_validate(rs, merged, 0, job->body, errors) > 0) {
        mod_rest_finish(job, 422, "validation failed",
                        json_pack("{s:o}", "errors", errors));
        return;
    }
    json_decref(errors);

    /* Only what the patch names is written (and the version): a column
     * the client did not mention is never rewritten from its
     * representation. */
    if (mod_rest_write_params(job, merged, job->body, 0, &p, &n) != 0) {
        return;
    }
    if (n == 0) {
        /* Nothing to change: the row as it is. */
        job->data = rest_row_out(rs, row, 0);
        job->etag = etag;
        job->status = 200;
        mod_rest_commit(job);
        return;
    }
    memcpy(p + n, job->key, rs->nkey * sizeof(*p));
    n += rs->nkey;
    job->has_if_match = 0;
    mod_rest_run(job, MOD_REST_S_UPDATE, mod_rest_patch_sql(job), p, n);
}


/* UPDATE ... SET for the fields a PATCH names, in declaration order (the
 * order mod_rest_write_params() gives their values). */
static const char *
mod_rest_patch_sql(mod_rest_job_t *job)
{
    rest_resource_t     *rs = job->res;
    const rest_field_t  *f;
    const char          *sets = "";
    size_t               i;

    for (i = 0; i < rs->nfields; i++) {
        f = &rs->fields[i];
        if (!REST_UPDATES(f) || (f->flags & REST_F_USER)
            || json_object_get(job->body, f->name) == NULL)
        {
            continue;
        }
        sets = cairn_arena_printf(job->arena, "%s`%s` = ?, ", sets, f->name);
    }

    if (job->hash) {
        /* No version to bump; the patch names at least one field. */
        return cairn_arena_printf(job->arena, "UPDATE `%s` SET %.*s WHERE %s",
                                  rs->table, (int) (strlen(sets) - 2), sets,
                                  rs->sql_key_where);
    }

    return cairn_arena_printf(job->arena, "UPDATE `%s` SET %s`%s` = `%s` + 1 "
                              "WHERE %s", rs->table, sets, rs->version_col,
                              rs->version_col, rs->sql_key_where);
}


/* Keeps the answer; rolls back first when a transaction is open. */
static void
mod_rest_finish(mod_rest_job_t *job, int status, const char *message,
                json_t *data)
{
    if (job->data != NULL && job->data != data) {
        json_decref(job->data);
    }
    job->status = status;
    job->message = message;
    job->data = data;

    if (job->in_tx && job->conn != NULL && status >= 400
        && job->batch == NULL)
    {
        job->step = MOD_REST_S_ROLLBACK;
        if (job->db->rollback(job->conn, mod_rest_tx_done, job) == CAIRN_OK)
        {
            return;
        }
    }

    mod_rest_answer(job);
}


/* A database error as a status (never 500 for what a client sent). */
static void
mod_rest_db_error(mod_rest_job_t *job, const cairn_db_error_t *err)
{
    rest_resource_t  *rs = job->res;
    const char       *k;
    char              field[80];
    size_t            len;
    json_t           *errors;
    int               unknown;

    if (job->step == MOD_REST_S_IDEM_GC
        && err->code == MOD_REST_ER_LOCK_WAIT)
    {
        /* Expired keys locked by somebody else: another time. */
        mod_rest_idem_step(job, NULL);
        return;
    }

    if ((job->step == MOD_REST_S_IDEM_CLAIM
         || job->step == MOD_REST_S_IDEM_CLEAN)
        && (err->kind == CAIRN_DB_DUPLICATE
            || err->code == MOD_REST_ER_LOCK_WAIT))
    {
        if (err->code == MOD_REST_ER_LOCK_WAIT) {
            mod_rest_finish(job, 409, "a request with this Idempotency-Key "
                            "is still being processed; retry later", NULL);
            return;
        }
        /* Taken and committed: roll back, then look its answer up. */
        job->idem_conflict = 1;
        job->step = MOD_REST_S_ROLLBACK;
        if (job->db->rollback(job->conn, mod_rest_tx_done, job) != CAIRN_OK)
        {
            mod_rest_finish(job, 503, "the database is not available", NULL);
        }
        return;
    }

    if ((err->code == MOD_REST_ER_LOCK_WAIT
         || err->code == MOD_REST_ER_DEADLOCK) && job->conn != NULL)
    {
        /* innodb_lock_wait_timeout undid the statement, a deadlock the
         * whole transaction: nothing of this request was written.  Once,
         * the request starts over (after a ROLLBACK of what is left). */
        if (!job->retried && job->batch == NULL) {
            job->retried = 1;
            cairn_log_notice(job->r, "<Resource %s>: %s; trying the "
                             "request again", rs->path, err->message);
            if (job->in_tx) {
                job->step = MOD_REST_S_RETRY;
                if (job->db->rollback(job->conn, mod_rest_tx_done, job)
                    == CAIRN_OK)
                {
                    return;
                }
                job->in_tx = 0;
                mod_rest_finish(job, 503, "the database is not available",
                                NULL);
                return;
            }
            mod_rest_retry(job);
            return;
        }
        cairn_log_warn(job->r, 0, "<Resource %s>: %s%s; answering 503",
                       rs->path, err->message, job->retried ? ", twice"
                       : " (in a batch)");
        cairn_response_header_set(job->r, "Retry-After", "1");
        mod_rest_finish(job, 503, err->code == MOD_REST_ER_DEADLOCK
                        ? "the database broke a deadlock with this request, "
                          "twice; nothing was written; retry"
                        : "the row is locked by another writer for too "
                          "long; nothing was written; retry", NULL);
        return;
    }

    switch (err->kind) {
    case CAIRN_DB_DUPLICATE:
        field[0] = '\0';
        k = strstr(err->message, "for key '");
        if (k != NULL) {
            k += 9;
            len = strcspn(k, "'");
            if (len < sizeof(field)) {
                memcpy(field, k, len);
                field[len] = '\0';
            }
        }
        k = mod_rest_key_field(job, field);
        errors = json_pack("[{s:s, s:s}]", "field", k, "message",
                           "is already taken");
        if (strcmp(k, field) != 0 && field[0] != '\0'
            && strcmp(field, "PRIMARY") != 0)
        {
            json_object_set_new(json_array_get(errors, 0), "constraint",
                                json_string(field));
        }
        mod_rest_finish(job, 409, "conflicts with an existing resource",
                        json_pack("{s:o}", "errors", errors));
        return;

    case CAIRN_DB_CONSTRAINT:
        if (err->code == MOD_REST_ER_FK_CHILD
            || err->code == MOD_REST_ER_FK_PARENT
            || err->code == MOD_REST_ER_FK_CHILD1
            || err->code == MOD_REST_ER_FK_PARENT1)
        {
            mod_rest_fk_error(job, err);
            return;
        }
        mod_rest_value_error(job, err);
        return;

    case CAIRN_DB_UNAVAILABLE:
    case CAIRN_DB_TIMEOUT:
        cairn_log_warn(job->r, 0, "<Resource %s>: database %s: %s",
                       rs->path, rs->db_name, err->message);
        if (job->step == MOD_REST_S_REREAD && !job->in_tx
            && (job->status == 200 || job->status == 201))
        {
            /* The write committed on its own; only reading it back
             * failed.  The outcome is known. */
            mod_rest_finish(job, job->status, "the change was applied, "
                            "but the database stopped answering before it "
                            "could be read back", NULL);
            return;
        }
        unknown = mod_rest_outcome_unknown(job);
        job->in_tx = 0;
        if (unknown) {
            /* The statement (or the COMMIT) may have reached the server
             * before the connection was lost or the wait ran out: it
             * may have been applied.  Saying 503 would invite a retry
             * that writes twice. */
            mod_rest_finish(job, 504, "the outcome of this write is "
                            "unknown: the database did not answer in time, "
                            "and the change may have been applied; retry "
                            "only with an Idempotency-Key", NULL);
            return;
        }
        mod_rest_finish(job, 503, "the database is not available", NULL);
        return;

    case CAIRN_DB_SYNTAX:
        if (job->step == MOD_REST_S_INSERT && !rs->no_returning
            && err->code == MOD_REST_ER_PARSE_ERROR)
        {
            /* A server without INSERT ... RETURNING (MySQL, MariaDB
             * before 10.5): insert, then read the row back. */
            rs->no_returning = 1;
            cairn_log_info(job->r, "<Resource %s>: the server has no "
                           "INSERT ... RETURNING; reading rows back after "
                           "inserts", rs->path);
            mod_rest_run(job, MOD_REST_S_INSERT, rs->sql_insert,
                         job->insert_params, job->ninsert_params);
            return;
        }
        cairn_log_error(job->r, 0, "%s:%d: <Resource %s>: the table does "
                        "not match the declaration: %s", rs->file, rs->line,
                        rs->path, err->message);
        rs->schema = REST_SCHEMA_UNKNOWN;
        mod_rest_finish(job, 503, "the resource is not available", NULL);
        return;

    default:
        if (strncmp(err->sqlstate, "22", 2) == 0) {
            mod_rest_value_error(job, err);
            return;
        }
        cairn_log_error(job->r, 0, "<Resource %s>: database error %u "
                        "(%s): %s", rs->path, err->code, err->sqlstate,
                        err->message);
        mod_rest_finish(job, 500, NULL, NULL);
        return;
    }
}


/*
 * Whether a lost connection or a timeout leaves the write's outcome
 * unknown: a statement that commits by itself (POST's INSERT, PUT's
 * UPDATE, DELETE) or a COMMIT was sent, and no answer came.  A statement
 * inside a transaction (PATCH, any write with an Idempotency-Key) is
 * not: a server that loses the connection rolls back what was not
 * committed.  Reads, BEGIN and the wait for a connection never changed
 * anything.
 */
static int
mod_rest_outcome_unknown(const mod_rest_job_t *job)
{
    if (job->in_tx) {
        /* Rolled back by the server unless the COMMIT got there. */
        return job->step == MOD_REST_S_COMMIT;
    }

    switch (job->step) {
    case MOD_REST_S_INSERT:
    case MOD_REST_S_DELETE:
        return 1;
    case MOD_REST_S_UPDATE:
        return job->method != CAIRN_METHOD_PATCH;
    case MOD_REST_S_COMMIT:
        return 1;
    default:
        return 0;
    }
}


/*
 * The database refused a value (strict SQL mode: out of range, too long,
 * not valid for the column, NULL in a NOT NULL column): 422 naming the
 * field when the server's message names its column.  Nothing was
 * stored: the statement failed whole.
 */
static void
mod_rest_value_error(mod_rest_job_t *job, const cairn_db_error_t *err)
{
    rest_resource_t     *rs = job->res;
    const rest_field_t  *f = NULL;
    const char          *m, *q, *why;
    char                 col[80];
    size_t               len;

    cairn_log_info(job->r, "<Resource %s>: the database refused a value: "
                   "%s", rs->path, err->message);

    /* "... for column 'qty' at row 1", "... column `db`.`t`.`born` ..." */
    m = strstr(err->message, "column ");
    if (m != NULL) {
        m += 7;
        len = strcspn(m, " ");
        for (q = m; q < m + len; q++) {
            if (*q == '.') {
                len -= (size_t) (q + 1 - m);
                m = q + 1;
                q = m - 1;
            }
        }
        while (len > 0 && (*m == '`' || *m == '\'')) {
            m++;
            len--;
        }
        while (len > 0 && (m[len - 1] == '`' || m[len - 1] == '\'')) {
            len--;
        }
        if (len > 0 && len < sizeof(col)) {
            memcpy(col, m, len);
            col[len] = '\0';
            f = rest_field_find(rs, col);
        }
    }

    switch (err->code) {
    case 1264:
        why = "is out of range for its column";
        break;
    case 1406:
        why = "is too long for its column";
        break;
    case 1048:
        why = "cannot be null";
        break;
    case 1265:
        why = "would be truncated by its column";
        break;
    default:
        why = "cannot be stored by its column as it is";
        break;
    }

    if (f == NULL) {
        mod_rest_finish(job, 422, "the database refused a value", NULL);
        return;
    }
    mod_rest_finish(job, 422, "validation failed", json_pack(
        "{s:[{s:s, s:s}]}", "errors", "field", f->name, "message", why));
}


void
mod_rest_job_start(mod_rest_job_t *job)
{
    mod_rest_start(job);
}


/* Starts the request over after a deadlock or a lock wait timeout (no
 * transaction left open, nothing of it written). */
static void
mod_rest_retry(mod_rest_job_t *job)
{
    if (job->data != NULL) {
        json_decref(job->data);
        job->data = NULL;
    }
    job->status = 0;
    job->message = NULL;
    job->etag = NULL;
    job->location = NULL;
    job->idem_text = NULL;
    job->idem_len = 0;
    job->idem_conflict = 0;
    job->has_if_match = job->has_if_match0;
    mod_rest_start(job);
}


/*
 * The field a unique key stands for: the key named after a declared
 * field ("email", "uq_email", MariaDB's default name for a one-column
 * key), the primary key, or a declared field that is one of the key
 * name's '_'-separated words ("users_email_unique").  Else the key's own
 * name.
 */
static const char *
mod_rest_key_field(mod_rest_job_t *job, const char *key)
{
    rest_resource_t  *rs = job->res;
    const char       *w, *name;
    size_t            i, n;

    if (strcmp(key, "PRIMARY") == 0 || key[0] == '\0') {
        return rs->key;
    }
    if (rest_field_find(rs, key) != NULL) {
        return rest_field_find(rs, key)->name;
    }
    if (strncmp(key, "uq_", 3) == 0 && rest_field_find(rs, key + 3)) {
        return rest_field_find(rs, key + 3)->name;
    }
    for (i = 0; i < rs->nfields; i++) {
        name = rs->fields[i].name;
        n = strlen(name);
        for (w = key; (w = strstr(w, name)) != NULL; w++) {
            if ((w == key || w[-1] == '_')
                && (w[n] == '\0' || w[n] == '_'))
            {
                return name;
            }
        }
    }

    return key;
}


/* Copies the text between the first quote (` or ') after what in msg and
 * the next one. */
static int
mod_rest_quoted_after(const char *msg, const char *what, char *out,
                      size_t outlen)
{
    const char  *p;
    size_t       len;

    p = strstr(msg, what);
    if (p == NULL) {
        return -1;
    }
    p += strlen(what);
    p += strcspn(p, "`'");
    if (*p == '\0') {
        return -1;
    }
    p++;
    len = strcspn(p, "`'");
    if (p[len] == '\0' || len == 0 || len >= outlen) {
        return -1;
    }
    memcpy(out, p, len);
    out[len] = '\0';

    return 0;
}


/*
 * A foreign key refused the write: 409 naming the constraint (and the
 * field, when it is one of this resource's), never 503.  A write that
 * refers to a row that does not exist, or a DELETE (or key change) of a
 * row other rows refer to.  Nothing was written.
 */
static void
mod_rest_fk_error(mod_rest_job_t *job, const cairn_db_error_t *err)
{
    rest_resource_t     *rs = job->res;
    const rest_field_t  *f = NULL;
    char                 constraint[80], col[80], ref[80], table[80];
    json_t              *e;
    int                  child = err->code == MOD_REST_ER_FK_CHILD
                                 || err->code == MOD_REST_ER_FK_CHILD1;

    cairn_log_info(job->r, "<Resource %s>: %s", rs->path, err->message);

    if (mod_rest_quoted_after(err->message, "CONSTRAINT ", constraint,
                              sizeof(constraint)) != 0)
    {
        strcpy(constraint, "");
    }
    if (mod_rest_quoted_after(err->message, "REFERENCES ", ref,
                              sizeof(ref)) != 0)
    {
        strcpy(ref, "");
    }
    /* "(`db`.`posts`, CONSTRAINT ...": the referring table. */
    table[0] = '\0';
    {
        const char  *p = strstr(err->message, "`.`");
        size_t       len;

        if (p != NULL) {
            p += 3;
            len = strcspn(p, "`");
            if (len > 0 && len < sizeof(table) && p[len] == '`') {
                memcpy(table, p, len);
                table[len] = '\0';
            }
        }
    }
    if (child && mod_rest_quoted_after(err->message, "FOREIGN KEY (", col,
                                       sizeof(col)) == 0)
    {
        f = rest_field_find(rs, col);
    }

    e = json_object();
    if (f != NULL) {
        json_object_set_new(e, "field", json_string(f->name));
    }
    if (constraint[0] != '\0') {
        json_object_set_new(e, "constraint", json_string(constraint));
    }
    json_object_set_new(e, "message", child
        ? (ref[0] != '\0' ? json_sprintf("must name an existing row of %s",
                                          ref)
                          : json_string("must name an existing row"))
        : (table[0] != '\0' ? json_sprintf("rows of %s refer to this one",
                                            table)
                            : json_string("other rows refer to this one")));

    mod_rest_finish(job, 409, constraint[0] != '\0'
                    ? cairn_arena_printf(job->arena, "the foreign key %s "
                                         "refuses this change", constraint)
                    : "a foreign key refuses this change",
                    json_pack("{s:[o]}", "errors", e));
}


/*
 * The page: the filters, the rows after the cursor's (keyset: as cheap
 * deep in the table as at its start) or from the offset, in the order
 * asked with the key last, one row more than the limit.
 */
static void
mod_rest_page(mod_rest_job_t *job)
{
    rest_resource_t   *rs = job->res;
    rest_query_t      *q = &job->query;
    cairn_db_param_t  *p = job->wparams;
    const char        *order = "", *where = job->where, *after;
    size_t             i, n = job->nwparams, k = 0;

    for (i = 0; i < q->nsort; i++) {
        order = cairn_arena_printf(job->arena, "%s`%s` %s, ", order,
                                   q->sort[i]->name,
                                   q->desc[i] ? "DESC" : "ASC");
    }
    if (job->after != NULL) {
        after = rest_keyset_where(job->arena, rs, q, job->after, p + n, &k);
        if (after == NULL) {
            mod_rest_finish(job, 400, "cursor is not valid for this query",
                            NULL);
            return;
        }
        where = cairn_arena_printf(job->arena, "%s%s%s", where,
                                   *where != '\0' ? " AND " : " WHERE ",
                                   after);
        n += k;
    }
    p[n].type = CAIRN_DB_INT;
    p[n++].v.i = q->limit + 1;
    if (job->after == NULL) {
        p[n].type = CAIRN_DB_INT;
        p[n++].v.i = q->offset;
    }

    mod_rest_run(job, MOD_REST_S_PAGE, cairn_arena_printf(
        job->arena, "SELECT %s FROM `%s`%s ORDER BY %s`%s` ASC LIMIT ?%s",
        rs->sql_columns, rs->table, where, order, rs->key,
        job->after == NULL ? " OFFSET ?" : ""), p, n);
}


/*
 * List cursors: base64url of {"l": limit, "k": [sort values..., key]}
 * (the last row's, as the database gave them), a dot, and base64url of
 * the first 16 bytes of HMAC-SHA256 over the query it belongs to (its
 * sort and filters, rest_query_ident()), a newline and that JSON, with
 * the key the master made.  A client can neither forge one nor use one
 * with other filters.
 */
static int
mod_rest_cursor_mac(mod_rest_job_t *job, const rest_query_t *q,
                    const char *json, size_t len, unsigned char *mac)
{
    const char     *ident = rest_query_ident(job->arena, q);
    unsigned char   md[EVP_MAX_MD_SIZE];
    unsigned int    mdlen = 0;
    size_t          ilen = strlen(ident);
    char           *text;

    if (mod_rest_cursor_key == NULL) {
        return -1;
    }
    text = cairn_arena_alloc(job->arena, ilen + 1 + len);
    memcpy(text, ident, ilen);
    text[ilen] = '\n';
    memcpy(text + ilen + 1, json, len);
    if (HMAC(EVP_sha256(), mod_rest_cursor_key, MOD_REST_CURSOR_KEY_LEN,
             (const unsigned char *) text, ilen + 1 + len, md, &mdlen)
        == NULL || mdlen < 16)
    {
        return -1;
    }
    memcpy(mac, md, 16);

    return 0;
}


static const char *
mod_rest_cursor_make(mod_rest_job_t *job, const rest_resource_t *rs,
                     const rest_query_t *q, json_t *row)
{
    unsigned char     mac[16];
    json_t           *k, *doc, *v;
    char             *json, *out;
    size_t            i, len, olen;

    k = json_array();
    for (i = 0; i < q->nsort; i++) {
        v = json_object_get(row, q->sort[i]->name);
        json_array_append(k, v != NULL ? v : json_null());
    }
    v = json_object_get(row, rs->key);
    json_array_append(k, v != NULL ? v : json_null());
    doc = json_pack("{s:I, s:o}", "l", (json_int_t) q->limit, "k", k);
    json = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (json == NULL) {
        return NULL;
    }
    len = strlen(json);
    if (mod_rest_cursor_mac(job, q, json, len, mac) != 0) {
        free(json);
        return NULL;
    }
    olen = CAIRN_BASE64_ENCODED_SIZE(len);
    out = cairn_arena_alloc(job->arena, olen + 1
                            + CAIRN_BASE64_ENCODED_SIZE(sizeof(mac)));
    i = cairn_base64_encode(json, len, out, 1);
    out[i++] = '.';
    cairn_base64_encode(mac, sizeof(mac), out + i, 1);
    free(json);

    return out;
}


int
mod_rest_cursor_open(mod_rest_job_t *job)
{
    rest_query_t   *q = &job->query;
    const char     *c = q->cursor, *dot;
    unsigned char   mac[16], *raw;
    unsigned char   got[CAIRN_BASE64_DECODED_SIZE(22)];
    json_t         *doc, *k, *l;
    long            len;

    dot = strrchr(c, '.');
    if (dot == NULL || dot == c || strlen(dot + 1) != 22
        || cairn_base64_decode(dot + 1, 22, got, 1) != 16)
    {
        return -1;
    }
    raw = cairn_arena_alloc(job->arena,
                            CAIRN_BASE64_DECODED_SIZE((size_t) (dot - c)));
    len = cairn_base64_decode(c, (size_t) (dot - c), raw, 1);
    if (len <= 0
        || mod_rest_cursor_mac(job, q, (const char *) raw, (size_t) len,
                               mac) != 0
        || CRYPTO_memcmp(mac, got, sizeof(mac)) != 0)
    {
        return -1;
    }

    /* Ours: the JSON we wrote. */
    doc = json_loadb((const char *) raw, (size_t) len, 0, NULL);
    k = json_object_get(doc, "k");
    l = json_object_get(doc, "l");
    if (!json_is_array(k) || json_array_size(k) != q->nsort + 1
        || !json_is_integer(l) || json_integer_value(l) < 1)
    {
        json_decref(doc);
        return -1;
    }
    job->after = json_incref(k);
    cairn_arena_cleanup_add(job->arena, mod_rest_decref, job->after);
    if (!q->has_limit) {
        q->limit = (long) json_integer_value(l);
        if (q->limit > job->res->max_page_size) {
            q->limit = job->res->max_page_size;
        }
    }
    json_decref(doc);

    return 0;
}


/*
 * ?embed=posts on GET /users/{id}: for each relation asked, one query,
 * the first page of its rows (the target's PageSize, in key order) into
 * data.posts = {"items": [...], "limit": L, "next": CURSOR-or-null},
 * whose cursor continues at GET /users/{id}/posts.  res is NULL to start
 * the next relation's query.
 */
static void
mod_rest_embed(mod_rest_job_t *job, const cairn_db_result_t *res)
{
    rest_relation_t     *rel = job->embed[job->embed_i];
    rest_resource_t     *t = rel->target;
    const rest_field_t  *f = rest_field_find(t, rel->field);
    cairn_db_param_t    *p;
    rest_query_t        *q;
    json_t              *items;
    size_t               i, n;

    if (res == NULL) {
        p = cairn_arena_calloc(job->arena, 2 * sizeof(*p));
        if (f->type == REST_T_INT || f->type == REST_T_BIGINT) {
            p[0].type = CAIRN_DB_INT;
            p[0].v.i = strtoll(job->id, NULL, 10);
        } else {
            mod_rest_text_param(&p[0], job->id);
        }
        p[1].type = CAIRN_DB_INT;
        p[1].v.i = t->page_size + 1;
        mod_rest_run(job, MOD_REST_S_EMBED, cairn_arena_printf(
            job->arena, "SELECT %s FROM `%s` WHERE `%s` = ? ORDER BY `%s` "
            "ASC LIMIT ?", t->sql_columns, t->table, f->name, t->key), p, 2);
        return;
    }

    /* The query GET /users/{id}/posts makes: its cursors fit. */
    q = cairn_arena_calloc(job->arena, sizeof(*q));
    q->limit = t->page_size;
    q->filter[0] = f;
    q->value[0] = job->id;
    q->nfilter = 1;

    items = json_array();
    n = res->nrows > (size_t) q->limit ? (size_t) q->limit : res->nrows;
    for (i = 0; i < n; i++) {
        json_array_append_new(items, rest_row_out(
            t, json_array_get(res->rows, i), 0));
    }
    json_object_set_new(job->data, rel->name, json_pack(
        "{s:o, s:I, s:o}", "items", items, "limit", (json_int_t) q->limit,
        "next", res->nrows > n ? json_string(mod_rest_cursor_make(
            job, t, q, json_array_get(res->rows, n - 1))) : json_null()));

    if (++job->embed_i < job->nembed) {
        mod_rest_embed(job, NULL);
        return;
    }
    mod_rest_finish(job, 200, NULL, job->data);
}


/* Releases the connection and answers. */
static void
mod_rest_answer(mod_rest_job_t *job)
{
    cairn_request_t  *r = job->r;
    int               rc;

    if (job->batch != NULL) {
        /* The batch keeps the connection and its transaction. */
        mod_rest_batch_done(job);
        return;
    }

    if (job->conn != NULL) {
        job->db->release(job->conn);
        job->conn = NULL;
    }

    if (job->etag != NULL && job->status < 400) {
        cairn_response_header_set(r, "ETag", job->etag);
    }
    if (job->location != NULL && job->status == 201) {
        cairn_response_header_set(r, "Location", job->location);
    }

    if (job->idem_text != NULL && job->status < 400) {
        /* The very bytes recorded with the Idempotency-Key. */
        json_decref(job->data);
        job->data = NULL;
        cairn_request_set_ctx(r, &mod_rest_module, job);
        rc = cairn_respond(r, job->status, "application/json",
                           job->idem_text, job->idem_len);
        cairn_request_resume(r, rc);
        return;
    }

    if (job->status == 304) {
        rc = cairn_respond(r, 304, NULL, NULL, 0);
    } else {
        rc = mod_rest_reply(r, job->res, job->status, job->message,
                            job->data);
        job->data = NULL;
    }

    cairn_request_resume(r, rc);
}


/* An id for a Location header: unreserved characters stay, the rest is
 * percent-encoded. */
static const char *
mod_rest_encode_id(cairn_arena_t *a, const char *id)
{
    static const char  hex[] = "0123456789ABCDEF";
    const unsigned char  *p;
    char                 *out, *o;

    out = cairn_arena_alloc(a, strlen(id) * 3 + 1);
    o = out;
    for (p = (const unsigned char *) id; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'
            || *p == '_' || *p == '~' || *p == '@')
        {
            *o++ = (char) *p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';

    return out;
}


/* ------------------------------------------------------------------ */
/* Idempotency-Key                                                    */
/* ------------------------------------------------------------------ */

/*
 * The steps of a POST or PATCH with an Idempotency-Key, inside its
 * transaction: BEGIN, (now and then) drop expired keys, drop this key if
 * expired, claim it (a row locked until COMMIT), the write itself, record
 * the answer, COMMIT.  A key already committed makes the claim fail as a
 * duplicate: the transaction is rolled back and the recorded answer
 * looked up.  A key whose first request still runs holds the claim's
 * row lock: the claim does not wait for it, and the answer is 409.
 */
static void
mod_rest_idem_step(mod_rest_job_t *job, const cairn_db_result_t *res)
{
    rest_resource_t   *rs = job->res;
    cairn_db_param_t  *p;

    switch (job->step) {
    case MOD_REST_S_IDEM_BEGIN:
        if (cairn_now_us() - rs->idem_gc_at > MOD_REST_IDEM_GC_US) {
            rs->idem_gc_at = cairn_now_us();
            mod_rest_run(job, MOD_REST_S_IDEM_GC, rs->sql_idem_gc, NULL, 0);
            return;
        }
        mod_rest_run(job, MOD_REST_S_IDEM_CLEAN, rs->sql_idem_clean,
                     job->idem_who, 3);
        return;

    case MOD_REST_S_IDEM_GC:
        mod_rest_run(job, MOD_REST_S_IDEM_CLEAN, rs->sql_idem_clean,
                     job->idem_who, 3);
        return;

    case MOD_REST_S_IDEM_CLEAN:
        p = cairn_arena_calloc(job->arena, 5 * sizeof(*p));
        memcpy(p, job->idem_who, 3 * sizeof(*p));
        p[3] = job->idem_print;
        p[4].type = CAIRN_DB_INT;
        p[4].v.i = rs->idem_ttl_ms / 1000;
        mod_rest_run(job, MOD_REST_S_IDEM_CLAIM, rs->sql_idem_claim, p, 5);
        return;

    case MOD_REST_S_IDEM_CLAIM:
        /* The key is ours until COMMIT: the write. */
        job->step = MOD_REST_S_WRITE;
        mod_rest_step(job, NULL);
        return;

    case MOD_REST_S_IDEM_RECORD:
        /* Recorded (idem_text is set): now the COMMIT. */
        mod_rest_commit(job);
        return;

    case MOD_REST_S_IDEM_LOOKUP:
        mod_rest_idem_replay(job, res);
        return;

    default:
        mod_rest_finish(job, 500, NULL, NULL);
        return;
    }
}


/* The answer of the write, recorded with its key before COMMIT: the
 * envelope exactly as it will be sent. */
static void
mod_rest_idem_record(mod_rest_job_t *job)
{
    cairn_db_param_t  *p;
    json_t            *env;

    env = rest_envelope(job->status, job->message != NULL ? job->message
                        : cairn_status_reason(job->status),
                        job->data != NULL ? json_incref(job->data) : NULL);
    job->idem_text = env != NULL ? rest_json_dump(job->arena, env,
                                                  &job->idem_len)
                                 : NULL;
    json_decref(env);
    if (job->idem_text == NULL) {
        mod_rest_finish(job, 500, NULL, NULL);
        return;
    }

    p = cairn_arena_calloc(job->arena, 7 * sizeof(*p));
    p[0].type = CAIRN_DB_INT;
    p[0].v.i = job->status;
    if (job->location != NULL) {
        mod_rest_text_param(&p[1], job->location);
    }
    if (job->etag != NULL) {
        mod_rest_text_param(&p[2], job->etag);
    }
    p[3].type = CAIRN_DB_STRING;
    p[3].v.s.p = job->idem_text;
    p[3].v.s.len = job->idem_len;
    memcpy(p + 4, job->idem_who, 3 * sizeof(*p));

    mod_rest_run(job, MOD_REST_S_IDEM_RECORD, job->res->sql_idem_record, p, 7);
}


/* After the claim found the key taken (and the transaction was rolled
 * back): the recorded answer, if the request is the same one. */
static void
mod_rest_idem_lookup(mod_rest_job_t *job)
{
    cairn_db_param_t  *p;

    job->idem_conflict = 2;
    p = cairn_arena_calloc(job->arena, 4 * sizeof(*p));
    p[0] = job->idem_print;
    memcpy(p + 1, job->idem_who, 3 * sizeof(*p));
    mod_rest_run(job, MOD_REST_S_IDEM_LOOKUP, job->res->sql_idem_lookup, p,
                 4);
}


static void
mod_rest_idem_replay(mod_rest_job_t *job, const cairn_db_result_t *res)
{
    json_t      *row;
    const char  *body;

    if (res->nrows == 0) {
        /* Gone since (expired, or its first request rolled back). */
        mod_rest_finish(job, 409, "a request with this Idempotency-Key "
                        "did not finish; send it again", NULL);
        return;
    }
    row = json_array_get(res->rows, 0);
    if (json_integer_value(json_object_get(row, "same")) != 1) {
        mod_rest_finish(job, 422, "this Idempotency-Key was used for a "
                        "different request (method, path or body)", NULL);
        return;
    }

    body = json_string_value(json_object_get(row, "body"));
    if (body == NULL) {
        mod_rest_finish(job, 500, NULL, NULL);
        return;
    }
    job->status = (int) json_integer_value(json_object_get(row, "status"));
    job->location = json_string_value(json_object_get(row, "location"));
    job->etag = json_string_value(json_object_get(row, "etag"));
    if (job->location != NULL) {
        job->location = cairn_arena_strdup(job->arena, job->location);
    }
    if (job->etag != NULL) {
        job->etag = cairn_arena_strdup(job->arena, job->etag);
    }
    job->idem_len = json_string_length(json_object_get(row, "body"));
    job->idem_text = cairn_arena_memdup(job->arena, body, job->idem_len + 1);
    cairn_response_header_set(job->r, "Idempotent-Replayed", "true");

    mod_rest_answer(job);
}


/* ------------------------------------------------------------------ */
/* Row hash ETags                                                     */
/* ------------------------------------------------------------------ */

static void
mod_rest_hash_piece(EVP_MD_CTX *ctx, const void *p, size_t len)
{
    unsigned char  n[4];

    n[0] = (unsigned char) (len >> 24);
    n[1] = (unsigned char) (len >> 16);
    n[2] = (unsigned char) (len >> 8);
    n[3] = (unsigned char) len;
    EVP_DigestUpdate(ctx, n, 4);
    EVP_DigestUpdate(ctx, p, len);
}


/*
 * The ETag of a row of a table without a version column: SHA-256 over,
 * for each declared field in declaration order, its name (a 4-byte
 * big-endian length, then the bytes), a type tag ('N' NULL, 'I' integer,
 * 'R' floating point, 'S' anything else: text, DECIMAL, dates, bytes)
 * and, unless NULL, the value as the database gave it (length, bytes:
 * integers in decimal, floating point as %.17g).  The first 16 bytes,
 * base64url without padding, quoted.  Any change to a field, by any
 * program, changes it; NULL and '' differ.
 */
static const char *
mod_rest_row_hash(mod_rest_job_t *job, json_t *row)
{
    static const char  b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                               "qrstuvwxyz0123456789-_";
    rest_resource_t    *rs = job->res;
    EVP_MD_CTX         *ctx;
    unsigned char       md[EVP_MAX_MD_SIZE];
    unsigned int        mdlen = 0;
    char                num[40], *out, *o, *dump;
    const char         *name, *p;
    unsigned char       tag;
    json_t             *v;
    size_t              i, len;
    uint32_t            bits;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    for (i = 0; i < rs->nfields; i++) {
        name = rs->fields[i].name;
        mod_rest_hash_piece(ctx, name, strlen(name));
        v = json_object_get(row, name);
        dump = NULL;
        p = num;
        switch (v != NULL ? json_typeof(v) : JSON_NULL) {
        case JSON_NULL:
            tag = 'N';
            break;
        case JSON_INTEGER:
            tag = 'I';
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            tag = 'I';
            snprintf(num, sizeof(num), "%d", json_is_true(v));
            break;
        case JSON_REAL:
            tag = 'R';
            snprintf(num, sizeof(num), "%.17g", json_real_value(v));
            break;
        case JSON_STRING:
            tag = 'S';
            p = json_string_value(v);
            break;
        default:
            tag = 'S';
            dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            p = dump != NULL ? dump : "";
            break;
        }
        EVP_DigestUpdate(ctx, &tag, 1);
        if (tag != 'N') {
            len = tag == 'S' && dump == NULL ? json_string_length(v)
                  : strlen(p);
            mod_rest_hash_piece(ctx, p, len);
        }
        free(dump);
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    EVP_MD_CTX_free(ctx);

    /* 16 bytes: five groups of three, then one byte (22 characters). */
    out = cairn_arena_alloc(job->arena, REST_HASH_ETAG_LEN + 1);
    o = out;
    *o++ = '"';
    for (i = 0; i < 15; i += 3) {
        bits = (uint32_t) md[i] << 16 | (uint32_t) md[i + 1] << 8
               | md[i + 2];
        *o++ = b64[bits >> 18 & 63];
        *o++ = b64[bits >> 12 & 63];
        *o++ = b64[bits >> 6 & 63];
        *o++ = b64[bits & 63];
    }
    *o++ = b64[md[15] >> 2];
    *o++ = b64[(md[15] & 3) << 4];
    *o++ = '"';
    *o = '\0';

    return out;
}


/* Whether If-Match names etag (a row hash). */
static int
mod_rest_hash_matches(mod_rest_job_t *job, const char *etag)
{
    return etag != NULL && job->if_match_text != NULL
           && rest_etag_match(job->if_match_text, etag);
}
