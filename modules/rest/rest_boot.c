/*
 * rest_boot.c: the check of each resource's tables at worker start (on
 * a connection of its own, after creating them with ResourceAutoCreate),
 * and the verdicts on the columns found, which the check of the first
 * request (mod_rest_schema() in rest_job.c) gives too.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/db.h>

#include "mod_rest.h"


/*
 * The check at worker start: each resource's table (and its
 * Idempotency-Key table) is looked at, and created with
 * ResourceAutoCreate, before the first request, on a connection of its
 * own.  When the database cannot be reached then, the first request
 * checks instead.
 */
typedef enum {
    MOD_REST_BOOT_CREATE = 0,
    MOD_REST_BOOT_IDEM_CREATE,
    MOD_REST_BOOT_COLUMNS,
    MOD_REST_BOOT_IDEM_COLUMNS
} mod_rest_boot_step_t;

typedef struct mod_rest_boot_s {
    rest_resource_t         *rs;
    const cairn_db_t        *db;
    cairn_db_conn_t         *conn;
    mod_rest_boot_step_t     step;
} mod_rest_boot_t;

static void mod_rest_boot_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                                   const cairn_db_error_t *err, void *data);
static void mod_rest_boot_next(cairn_request_t *r,
                               const cairn_db_result_t *res,
                               const cairn_db_error_t *err, void *data);
static void mod_rest_boot_done(mod_rest_boot_t *b);
static void mod_rest_boot_run(mod_rest_boot_t *b, mod_rest_boot_step_t step);


/* That check's state, one per resource, alive until worker_exit (a
 * check still waiting for the database when the worker stops is simply
 * dropped with it). */
static struct mod_rest_boot_s  *mod_rest_boots;


/* The columns of a table of the connection's database, with what the
 * type check needs. */
const char  mod_rest_sql_columns[] =
    "SELECT COLUMN_NAME AS c, DATA_TYPE AS t, COLUMN_TYPE AS ct, "
    "NUMERIC_PRECISION AS p, NUMERIC_SCALE AS s, "
    "CHARACTER_MAXIMUM_LENGTH AS l, IS_NULLABLE AS n, EXTRA AS x "
    "FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?";


int
mod_rest_worker_init(cairn_server_t *s)
{
    mod_rest_boot_t   *b;
    size_t             i;

    if (mod_rest_nall == 0) {
        return CAIRN_OK;
    }
    mod_rest_boots = calloc(mod_rest_nall, sizeof(mod_rest_boot_t));
    if (mod_rest_boots == NULL) {
        return CAIRN_OK;
    }

    for (i = 0; i < mod_rest_nall; i++) {
        b = &mod_rest_boots[i];
        b->rs = mod_rest_all[i];
        b->db = mod_rest_all[i]->db;
        if (CAIRN_DB_HAS(b->db, acquire_detached)) {
            (void) b->db->acquire_detached(b->db, mod_rest_boot_acquired, b);
        }
    }

    return CAIRN_OK;
}


int
mod_rest_worker_exit(cairn_server_t *s)
{
    free(mod_rest_boots);
    mod_rest_boots = NULL;

    return CAIRN_OK;
}


static void
mod_rest_boot_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                       const cairn_db_error_t *err, void *data)
{
    mod_rest_boot_t  *b = data;

    if (err != NULL) {
        cairn_log_warn(NULL, 0, "<Resource %s>: database %s not available "
                       "at worker start (%s); the first request checks the "
                       "table", b->rs->path, b->rs->db_name, err->message);
        return;
    }
    b->conn = c;

    mod_rest_boot_run(b, b->rs->auto_create ? MOD_REST_BOOT_CREATE
                                            : MOD_REST_BOOT_COLUMNS);
}


static void
mod_rest_boot_run(mod_rest_boot_t *b, mod_rest_boot_step_t step)
{
    cairn_db_param_t  p;
    const char       *sql = mod_rest_sql_columns;
    size_t            n = 1;

    b->step = step;
    switch (step) {
    case MOD_REST_BOOT_CREATE:
        sql = b->rs->sql_create;
        n = 0;
        break;
    case MOD_REST_BOOT_IDEM_CREATE:
        sql = b->rs->sql_idem_create;
        n = 0;
        break;
    case MOD_REST_BOOT_COLUMNS:
        mod_rest_text_param(&p, b->rs->table);
        break;
    case MOD_REST_BOOT_IDEM_COLUMNS:
        mod_rest_text_param(&p, b->rs->idem_table);
        break;
    }

    if (b->db->query(b->conn, sql, &p, n, mod_rest_boot_next, b)
        != CAIRN_OK)
    {
        mod_rest_boot_done(b);
    }
}


static void
mod_rest_boot_next(cairn_request_t *r, const cairn_db_result_t *res,
                   const cairn_db_error_t *err, void *data)
{
    mod_rest_boot_t  *b = data;
    rest_resource_t  *rs = b->rs;
    cairn_arena_t    *a;
    int               verdict;

    switch (b->step) {
    case MOD_REST_BOOT_CREATE:
    case MOD_REST_BOOT_IDEM_CREATE:
        if (err != NULL) {
            cairn_log_error(NULL, 0, "%s:%d: <Resource %s>: cannot create "
                            "table %s: %s", rs->file, rs->line, rs->path,
                            b->step == MOD_REST_BOOT_CREATE ? rs->table
                            : rs->idem_table, err->message);
        }
        mod_rest_boot_run(b, b->step == MOD_REST_BOOT_CREATE && rs->idem
                          ? MOD_REST_BOOT_IDEM_CREATE
                          : MOD_REST_BOOT_COLUMNS);
        return;

    case MOD_REST_BOOT_COLUMNS:
    case MOD_REST_BOOT_IDEM_COLUMNS:
        if (err != NULL) {
            break;
        }
        a = cairn_arena_create(1024);
        verdict = b->step == MOD_REST_BOOT_COLUMNS
                  ? mod_rest_schema_verdict(rs, res, NULL, a)
                  : mod_rest_idem_verdict(rs, res, NULL);
        cairn_arena_destroy(a);
        if (verdict == REST_SCHEMA_OK && rs->idem
            && b->step == MOD_REST_BOOT_COLUMNS)
        {
            mod_rest_boot_run(b, MOD_REST_BOOT_IDEM_COLUMNS);
            return;
        }
        break;
    }

    mod_rest_boot_done(b);
}


static void
mod_rest_boot_done(mod_rest_boot_t *b)
{
    b->db->release(b->conn);
    b->conn = NULL;
}


/*
 * The Idempotency-Key table must have the columns of sql_idem_create;
 * the verdict joins the main table's in rs.
 */
int
mod_rest_idem_verdict(rest_resource_t *rs, const cairn_db_result_t *res,
                      cairn_request_t *r)
{
    static const char *const  need[] = { "resource", "owner", "idem_key",
        "fingerprint", "status", "location", "etag", "body", "expires" };
    const char  *name;
    size_t       i, j;

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        for (j = 0; j < res->nrows; j++) {
            name = json_string_value(json_object_get(
                json_array_get(res->rows, j), "c"));
            if (name != NULL && strcasecmp(name, need[i]) == 0) {
                break;
            }
        }
        if (j == res->nrows) {
            break;
        }
    }
    if (i == sizeof(need) / sizeof(need[0])) {
        return REST_SCHEMA_OK;
    }

    rs->schema = REST_SCHEMA_BAD;
    rs->schema_at = cairn_now_us();
    snprintf(rs->schema_error, sizeof(rs->schema_error), "resource %s is "
             "not available: RestIdempotency needs table %s, which %s%s",
             rs->path, rs->idem_table, res->nrows == 0 ? "does not exist"
             : "lacks the column ", res->nrows == 0 ? "" : need[i]);
    cairn_log_error(r, 0, "%s:%d: <Resource %s>: %s: set ResourceAutoCreate "
                    "on, or create it with:\n%s", rs->file, rs->line,
                    rs->path, rs->schema_error, rs->sql_idem_create);

    return REST_SCHEMA_BAD;
}


/*
 * Compares the columns found (rows of information_schema.COLUMNS) with
 * the declaration: every field and the version column must exist, and
 * every field's type must fit its column (rest_schema_check()).  Records
 * the verdict in rs and logs a bad one, naming each field, its column's
 * type and what to declare.  r may be NULL (the check at worker start).
 */
int
mod_rest_schema_verdict(rest_resource_t *rs, const cairn_db_result_t *res,
                        cairn_request_t *r, cairn_arena_t *a)
{
    const char  *missing = NULL, *wrong = NULL, *col, *name, *err;
    json_t      *row;
    size_t       i, j;
    int          mode = REST_ETAG_VERSION;

    for (i = 0; i <= rs->nfields; i++) {
        col = i < rs->nfields ? rs->fields[i].name : rs->version_col;
        row = NULL;
        for (j = 0; j < res->nrows; j++) {
            name = json_string_value(json_object_get(
                json_array_get(res->rows, j), "c"));
            if (name != NULL && strcasecmp(name, col) == 0) {
                row = json_array_get(res->rows, j);
                break;
            }
        }
        if (row == NULL && i == rs->nfields && !rs->version_set) {
            /* No version column, and none was asked for: the ETags are
             * hashes of the rows (the table is never altered). */
            mode = REST_ETAG_HASH;
            continue;
        }
        if (row == NULL) {
            missing = missing == NULL ? col
                      : cairn_arena_printf(a, "%s, %s", missing, col);
            continue;
        }
        if (i == rs->nfields) {
            continue;
        }
        err = rest_schema_check(a, rs, &rs->fields[i], row);
        if (err != NULL) {
            wrong = wrong == NULL ? err
                    : cairn_arena_printf(a, "%s; %s", wrong, err);
        }
    }

    if (res->nrows > 0 && missing == NULL && wrong == NULL) {
        rs->schema = REST_SCHEMA_OK;
        rest_etag_mode_set(rs, mode);
        if (rs->etag_logged != 1 + mode) {
            /* Once per resource (and again if the table changes). */
            rs->etag_logged = 1 + mode;
            cairn_log_notice(r, "%s:%d: <Resource %s>: ETags are %s%s%s",
                             rs->file, rs->line, rs->path,
                             rest_etag_mode_text(rs),
                             mode == REST_ETAG_VERSION ? " " : "",
                             mode == REST_ETAG_VERSION ? rs->version_col
                             : "");
        }
        return REST_SCHEMA_OK;
    }

    rs->schema = REST_SCHEMA_BAD;
    rs->schema_at = cairn_now_us();
    if (res->nrows == 0) {
        snprintf(rs->schema_error, sizeof(rs->schema_error), "resource %s "
                 "is not available: table %s does not exist", rs->path,
                 rs->table);
    } else if (missing != NULL) {
        snprintf(rs->schema_error, sizeof(rs->schema_error), "resource %s "
                 "is not available: table %s lacks the column(s) %s",
                 rs->path, rs->table, missing);
    } else {
        snprintf(rs->schema_error, sizeof(rs->schema_error), "resource %s "
                 "is not available: %s", rs->path, wrong);
    }
    cairn_log_error(r, 0, "%s:%d: <Resource %s>: %s%s", rs->file, rs->line,
                    rs->path, rs->schema_error, missing != NULL
                    || res->nrows == 0 ? " (create it, or set "
                    "ResourceAutoCreate on)" : "");

    return REST_SCHEMA_BAD;
}
