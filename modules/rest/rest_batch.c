/*
 * rest_batch.c: RestBatch /_batch, several operations on the resources
 * of one <Database> in one transaction.  The body
 *
 *     {"operations": [{"method": "POST", "path": "/users", "body": {...}},
 *                     {"method": "PATCH", "path": "/users/7",
 *                      "headers": {"If-Match": "..."}, "body": {...}},
 *                     {"method": "DELETE", "path": "/users/$0.id"}]}
 *
 * is checked whole, then a connection, START TRANSACTION, and each
 * operation in order as a job of its own (rest_job.c) on that connection
 * and inside that transaction; the first that fails rolls everything
 * back and the answer carries its index and envelope; after the last,
 * COMMIT and every envelope.  "$N.field" in a path, or as the whole
 * value of a body member, is that field of operation N's answer (N
 * before this one).  A client that goes away mid-batch has its
 * connection dropped: the server rolls the transaction back.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/db.h>

#include "mod_rest.h"


typedef enum {
    MOD_REST_B_BEGIN = 0,
    MOD_REST_B_OPS,
    MOD_REST_B_COMMIT,
    MOD_REST_B_ROLLBACK
} mod_rest_batch_step_t;

struct mod_rest_batch_s {
    cairn_request_t         *r;
    cairn_arena_t           *arena;
    const cairn_db_t        *db;
    cairn_db_conn_t         *conn;
    mod_rest_batch_step_t    step;
    json_t                  *ops;           /* the request's (borrowed) */
    size_t                   n;
    size_t                   i;             /* the operation running */
    json_t                  *results;       /* their envelopes */
    int                      status;        /* the answer */
    const char              *message;
    json_t                  *data;
};

typedef struct mod_rest_batch_s  mod_rest_batch_t;


static rest_resource_t *mod_rest_batch_resource(const char *path);
static void mod_rest_batch_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                                    const cairn_db_error_t *err, void *data);
static void mod_rest_batch_tx(cairn_request_t *r,
                              const cairn_db_error_t *err, void *data);
static void mod_rest_batch_next(mod_rest_batch_t *b);
static void mod_rest_batch_fail(mod_rest_batch_t *b, int status,
                                const char *message, json_t *data);
static void mod_rest_batch_end(mod_rest_batch_t *b);
static void mod_rest_batch_cancel(cairn_request_t *r, void *data);


static int
mod_rest_batch_reply(cairn_request_t *r, int status, const char *message,
                     json_t *data)
{
    return mod_rest_reply(r, NULL, status, message, data);
}


/* The resource a path names: the longest declared path that is the
 * path or its first segments. */
static rest_resource_t *
mod_rest_batch_resource(const char *path)
{
    rest_resource_t  *best = NULL;
    size_t            i, len;

    for (i = 0; i < mod_rest_nall; i++) {
        len = strlen(mod_rest_all[i]->path);
        if (strncmp(path, mod_rest_all[i]->path, len) == 0
            && (path[len] == '\0' || path[len] == '/' || path[len] == '?')
            && (best == NULL || len > strlen(best->path)))
        {
            best = mod_rest_all[i];
        }
    }

    return best;
}


int
mod_rest_batch_handler(cairn_request_t *r, mod_rest_batch_conf_t *bc)
{
    cairn_arena_t     *a = cairn_request_arena(r);
    mod_rest_batch_t  *b;
    rest_resource_t   *res;
    const cairn_db_t  *db = NULL;
    json_error_t       jerr;
    json_t            *doc, *ops, *op, *v;
    const char        *ct, *body, *m, *path;
    size_t             len, i, n;

    if (cairn_request_method(r) == CAIRN_METHOD_OPTIONS) {
        cairn_response_header_set(r, "Allow", "POST, OPTIONS");
        return mod_rest_batch_reply(r, 200, NULL, NULL);
    }
    if (cairn_request_method(r) != CAIRN_METHOD_POST) {
        cairn_response_header_set(r, "Allow", "POST, OPTIONS");
        return mod_rest_batch_reply(r, 405, "a batch is sent with POST",
                                    NULL);
    }
    ct = cairn_request_header(r, "Content-Type");
    n = ct != NULL ? strcspn(ct, "; \t") : 0;
    if (n != 16 || strncasecmp(ct, "application/json", 16) != 0) {
        return mod_rest_batch_reply(r, 415, "the body must be "
                                    "application/json", NULL);
    }

    body = cairn_request_body(r, &len);
    doc = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES,
                     &jerr);
    if (doc == NULL) {
        return mod_rest_batch_reply(r, 400, cairn_arena_printf(
            a, "malformed JSON: %s (line %d, column %d)",
            rest_quote(a, jerr.text, 120), jerr.line, jerr.column), NULL);
    }
    cairn_arena_cleanup_add(a, mod_rest_decref, doc);

    ops = json_object_get(doc, "operations");
    if (!json_is_object(doc) || !json_is_array(ops)
        || json_array_size(ops) == 0)
    {
        return mod_rest_batch_reply(r, 400, "the body must be {\"operations"
                                    "\": [...]} with at least one "
                                    "operation", NULL);
    }
    if (json_array_size(ops) > (size_t) bc->max_ops) {
        return mod_rest_batch_reply(r, 400, cairn_arena_printf(
            a, "a batch holds at most %d operations (RestBatchMaxOperations)"
            ", not %zu", bc->max_ops, json_array_size(ops)), NULL);
    }

    /* Every operation names a resource, all of one Database. */
    json_array_foreach(ops, i, op) {
        m = json_string_value(json_object_get(op, "method"));
        path = json_string_value(json_object_get(op, "path"));
        v = json_object_get(op, "headers");
        res = path != NULL ? mod_rest_batch_resource(path) : NULL;
        if (!json_is_object(op) || m == NULL || path == NULL
            || (v != NULL && !json_is_object(v))
            || (json_object_get(op, "body") != NULL
                && !json_is_object(json_object_get(op, "body"))))
        {
            return mod_rest_batch_reply(r, 400, cairn_arena_printf(
                a, "operation %zu: each operation is {\"method\": ..., "
                "\"path\": ..., \"headers\": {...}, \"body\": {...}}", i),
                json_pack("{s:I}", "index", (json_int_t) i));
        }
        if (res == NULL) {
            return mod_rest_batch_reply(r, 400, cairn_arena_printf(
                a, "operation %zu: %s is not the path of a resource", i,
                rest_quote(a, path, 100)),
                json_pack("{s:I}", "index", (json_int_t) i));
        }
        if (db == NULL) {
            db = res->db;
        } else if (res->db != db) {
            return mod_rest_batch_reply(r, 400, cairn_arena_printf(
                a, "operation %zu: %s uses another Database than the "
                "operations before it (a batch is one transaction)", i,
                res->path), json_pack("{s:I}", "index", (json_int_t) i));
        }
    }

    b = cairn_arena_calloc(a, sizeof(*b));
    b->r = r;
    b->arena = a;
    b->db = db;
    b->ops = ops;
    b->n = json_array_size(ops);
    b->results = json_array();
    cairn_arena_cleanup_add(a, mod_rest_decref, b->results);

    if (db->acquire(db, r, mod_rest_batch_acquired, b) != CAIRN_OK) {
        return mod_rest_batch_reply(r, 503, "the database is not available",
                                    NULL);
    }
    cairn_request_on_cancel(r, mod_rest_batch_cancel, b);

    return CAIRN_SUSPENDED;
}


/* The client went away: the connection goes, and the server rolls back
 * what was not committed. */
static void
mod_rest_batch_cancel(cairn_request_t *r, void *data)
{
    mod_rest_batch_t  *b = data;

    if (b->conn != NULL) {
        b->db->release(b->conn);
        b->conn = NULL;
    }
}


static void
mod_rest_batch_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                        const cairn_db_error_t *err, void *data)
{
    mod_rest_batch_t  *b = data;

    if (err != NULL) {
        b->status = 503;
        b->message = "the database is not available";
        mod_rest_batch_end(b);
        return;
    }
    b->conn = c;
    b->step = MOD_REST_B_BEGIN;
    if (b->db->begin(c, mod_rest_batch_tx, b) != CAIRN_OK) {
        b->status = 503;
        b->message = "the database is not available";
        mod_rest_batch_end(b);
    }
}


static void
mod_rest_batch_tx(cairn_request_t *r, const cairn_db_error_t *err,
                  void *data)
{
    mod_rest_batch_t  *b = data;

    switch (b->step) {
    case MOD_REST_B_BEGIN:
        if (err != NULL) {
            b->status = 503;
            b->message = "the database is not available";
            mod_rest_batch_end(b);
            return;
        }
        b->step = MOD_REST_B_OPS;
        mod_rest_batch_next(b);
        return;

    case MOD_REST_B_COMMIT:
        if (err != NULL) {
            /* The COMMIT was sent: it may have been applied. */
            json_decref(b->data);
            b->data = NULL;
            b->status = err->kind == CAIRN_DB_UNAVAILABLE
                        || err->kind == CAIRN_DB_TIMEOUT ? 504 : 503;
            b->message = b->status == 504
                         ? "the outcome of this batch is unknown: the "
                           "database stopped answering after its COMMIT "
                           "was sent"
                         : "the batch could not be committed; nothing was "
                           "written";
        }
        mod_rest_batch_end(b);
        return;

    default:
        /* ROLLBACK done (or failed: the connection is dropped, which
         * rolls back too). */
        mod_rest_batch_end(b);
        return;
    }
}


/*
 * "$N.field": the field of operation N's answer, N before cur; NULL
 * when the text is not such a reference, or names nothing.
 */
static json_t *
mod_rest_batch_ref(mod_rest_batch_t *b, const char *s, size_t len,
                   size_t cur, int *bad)
{
    const char  *p = s + 1, *end = s + len;
    char         name[80];
    size_t       n = 0, flen;
    json_t      *data, *v;

    if (len < 4 || s[0] != '$' || !(*p >= '0' && *p <= '9')) {
        return NULL;
    }
    while (p < end && *p >= '0' && *p <= '9' && n < 100000) {
        n = n * 10 + (size_t) (*p++ - '0');
    }
    if (p >= end || *p != '.' || n >= cur) {
        *bad = 1;
        return NULL;
    }
    p++;
    flen = (size_t) (end - p);
    if (flen == 0 || flen >= sizeof(name)) {
        *bad = 1;
        return NULL;
    }
    memcpy(name, p, flen);
    name[flen] = '\0';
    data = json_object_get(json_array_get(b->results, n), "data");
    v = json_object_get(data, name);
    if (v == NULL || !(json_is_integer(v) || json_is_string(v))) {
        *bad = 1;
        return NULL;
    }

    return v;
}


/* The path with its references replaced (percent-encoding strings);
 * NULL when one names nothing. */
static const char *
mod_rest_batch_path(mod_rest_batch_t *b, const char *path, size_t cur)
{
    static const char  hex[] = "0123456789ABCDEF";
    const char        *p, *seg, *out = "";
    const unsigned char *c;
    char              *enc, *o;
    json_t            *v;
    size_t             len;
    int                bad = 0;

    for (p = path; *p != '\0'; p = seg) {
        seg = p + strcspn(p, "/?");
        if (seg == p) {
            seg = p + 1;
            out = cairn_arena_printf(b->arena, "%s%c", out, *p);
            continue;
        }
        len = (size_t) (seg - p);
        v = mod_rest_batch_ref(b, p, len, cur, &bad);
        if (bad) {
            return NULL;
        }
        if (v == NULL) {
            out = cairn_arena_printf(b->arena, "%s%.*s", out, (int) len, p);
        } else if (json_is_integer(v)) {
            out = cairn_arena_printf(b->arena, "%s%" JSON_INTEGER_FORMAT,
                                     out, json_integer_value(v));
        } else {
            enc = cairn_arena_alloc(b->arena, json_string_length(v) * 3 + 1);
            o = enc;
            for (c = (const unsigned char *) json_string_value(v); *c != 0;
                 c++)
            {
                if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
                    || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'
                    || *c == '_' || *c == '~' || *c == '@' || *c == '+')
                {
                    *o++ = (char) *c;
                } else {
                    *o++ = '%';
                    *o++ = hex[*c >> 4];
                    *o++ = hex[*c & 15];
                }
            }
            *o = '\0';
            out = cairn_arena_printf(b->arena, "%s%s", out, enc);
        }
    }

    return out;
}


/* A path segment, percent-decoded; NULL for a bad or NUL escape. */
static const char *
mod_rest_batch_unescape(cairn_arena_t *a, const char *s, size_t len)
{
    char    *out = cairn_arena_alloc(a, len + 1), *o = out;
    size_t   i;
    int      hi, lo;

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= len) {
            return NULL;
        }
        hi = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0'
             : (s[i + 1] | 32) >= 'a' && (s[i + 1] | 32) <= 'f'
               ? (s[i + 1] | 32) - 'a' + 10 : -1;
        lo = s[i + 2] >= '0' && s[i + 2] <= '9' ? s[i + 2] - '0'
             : (s[i + 2] | 32) >= 'a' && (s[i + 2] | 32) <= 'f'
               ? (s[i + 2] | 32) - 'a' + 10 : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            return NULL;
        }
        *o++ = (char) (hi * 16 + lo);
        i += 2;
    }
    *o = '\0';

    return out;
}


/* Operation b->i failed before or while it ran: everything is rolled
 * back, and the answer names it. */
static void
mod_rest_batch_fail(mod_rest_batch_t *b, int status, const char *message,
                    json_t *data)
{
    json_t  *env;

    env = rest_envelope(status, message != NULL ? message
                        : cairn_status_reason(status), data);
    b->status = status;
    b->message = cairn_arena_printf(b->arena, "operation %zu failed: %s; "
                                    "the batch was rolled back, nothing was "
                                    "written", b->i, message != NULL
                                    ? message : cairn_status_reason(status));
    b->data = json_pack("{s:I, s:o}", "index", (json_int_t) b->i, "error",
                        env != NULL ? env : json_null());

    if (b->conn == NULL) {
        mod_rest_batch_end(b);
        return;
    }
    b->step = MOD_REST_B_ROLLBACK;
    if (b->db->rollback(b->conn, mod_rest_batch_tx, b) != CAIRN_OK) {
        mod_rest_batch_end(b);
    }
}


/* Sets up operation b->i as a job and starts it; the job ends in
 * mod_rest_batch_done(). */
static void
mod_rest_batch_next(mod_rest_batch_t *b)
{
    cairn_arena_t      *a = b->arena;
    mod_rest_job_t     *job;
    rest_resource_t    *res;
    rest_relation_t    *rel;
    json_t             *op, *body = NULL, *v, *errors, *hdrs;
    const char         *m, *path, *rest, *query = NULL, *q, *err, *key;
    const char         *text;
    char               *seg;
    size_t              len, i;
    unsigned            need;
    int                 bad = 0;
    void               *it;

    if (b->i == b->n) {
        b->status = 200;
        b->data = json_pack("{s:O}", "results", b->results);
        b->step = MOD_REST_B_COMMIT;
        if (b->db->commit(b->conn, mod_rest_batch_tx, b) != CAIRN_OK) {
            b->status = 503;
            b->message = "the database is not available";
            mod_rest_batch_end(b);
        }
        return;
    }

    op = json_array_get(b->ops, b->i);
    m = json_string_value(json_object_get(op, "method"));
    path = mod_rest_batch_path(b, json_string_value(json_object_get(op,
                                                                    "path")),
                               b->i);
    if (path == NULL) {
        mod_rest_batch_fail(b, 400, "a $N.field reference in the path "
                            "names no field of an earlier operation", NULL);
        return;
    }
    res = mod_rest_batch_resource(path);
    if (res == NULL) {
        mod_rest_batch_fail(b, 400, "the path is not that of a resource",
                            NULL);
        return;
    }

    job = cairn_arena_calloc(a, sizeof(*job));
    job->r = b->r;
    job->arena = a;
    job->batch = b;
    job->db = b->db;
    job->conn = b->conn;
    job->if_match = -1;
    job->method = strcmp(m, "GET") == 0 ? CAIRN_METHOD_GET
                  : strcmp(m, "POST") == 0 ? CAIRN_METHOD_POST
                  : strcmp(m, "PUT") == 0 ? CAIRN_METHOD_PUT
                  : strcmp(m, "PATCH") == 0 ? CAIRN_METHOD_PATCH
                  : strcmp(m, "DELETE") == 0 ? CAIRN_METHOD_DELETE
                  : CAIRN_METHOD_OTHER;

    /* /res, /res/{id} or /res/{id}/relation, then ?query. */
    rest = path + strlen(res->path);
    q = strchr(rest, '?');
    if (q != NULL) {
        query = q + 1;
        rest = cairn_arena_strndup(a, rest, (size_t) (q - rest));
    }
    job->res = res;
    if (*rest == '/') {
        rest++;
        len = strcspn(rest, "/");
        text = mod_rest_batch_unescape(a, rest, len);
        if (text == NULL || *text == '\0') {
            mod_rest_batch_fail(b, 400, "the id is not valid for this "
                                "resource", NULL);
            return;
        }
        if (rest[len] == '/') {
            seg = cairn_arena_strdup(a, rest + len + 1);
            for (rel = res->relations; rel != NULL; rel = rel->next) {
                if (strcmp(rel->name, seg) == 0) {
                    break;
                }
            }
            if (rel == NULL) {
                mod_rest_batch_fail(b, 404, "no such resource", NULL);
                return;
            }
            job->rel = rel;
            job->parent_id = text;
            job->res = res = rel->target;
            if (mod_rest_parent_id(job, rel) != 0) {
                mod_rest_batch_fail(b, 400, "the id is not valid for this "
                                    "resource", NULL);
                return;
            }
        } else {
            job->item = 1;
            job->id = text;
            if (mod_rest_parse_id(job) != 0) {
                mod_rest_batch_fail(b, 400, "the id is not valid for this "
                                    "resource", NULL);
                return;
            }
        }
    }

    need = CAIRN_M(job->method);
    if (job->method == CAIRN_METHOD_OTHER || !(res->methods & need)
        || (job->item && job->method == CAIRN_METHOD_POST)
        || (!job->item && (job->method == CAIRN_METHOD_PUT
                           || job->method == CAIRN_METHOD_PATCH
                           || job->method == CAIRN_METHOD_DELETE)))
    {
        mod_rest_batch_fail(b, 405, cairn_arena_printf(
            a, "%s is not allowed here; allowed: %s", rest_quote(a, m, 20),
            rest_allow_header(a, res, job->item)), NULL);
        return;
    }
    if (res->schema != REST_SCHEMA_OK) {
        mod_rest_batch_fail(b, 503, res->schema == REST_SCHEMA_BAD
                            ? res->schema_error
                            : "the resource's table was not checked yet",
                            NULL);
        return;
    }

    hdrs = json_object_get(op, "headers");
    json_object_foreach(hdrs, key, v) {
        if (strcasecmp(key, "If-Match") == 0 && json_is_string(v)
            && job->item && job->method != CAIRN_METHOD_GET)
        {
            mod_rest_if_match(job, cairn_arena_strdup(a,
                                                      json_string_value(v)));
        }
    }

    if (job->method == CAIRN_METHOD_POST || job->method == CAIRN_METHOD_PUT
        || job->method == CAIRN_METHOD_PATCH)
    {
        v = json_object_get(op, "body");
        body = v != NULL ? json_deep_copy(v) : json_object();
        cairn_arena_cleanup_add(a, mod_rest_decref, body);
        /* References: a member whose whole value is "$N.field". */
        it = json_object_iter(body);
        while (it != NULL) {
            v = json_object_iter_value(it);
            if (json_is_string(v)) {
                json_t  *ref = mod_rest_batch_ref(b, json_string_value(v),
                                                  json_string_length(v),
                                                  b->i, &bad);

                if (bad) {
                    mod_rest_batch_fail(b, 400, cairn_arena_printf(
                        a, "member %s: a $N.field reference that names no "
                        "field of an earlier operation",
                        json_object_iter_key(it)), NULL);
                    return;
                }
                if (ref != NULL) {
                    json_object_iter_set_new(body, it, json_deep_copy(ref));
                }
            }
            it = json_object_iter_next(body, it);
        }
        if (job->rel != NULL) {
            const rest_field_t  *f = rest_field_find(res, job->rel->field);

            json_object_set_new(body, f->name,
                                f->type == REST_T_INT
                                || f->type == REST_T_BIGINT
                                ? json_integer(strtoll(job->parent_id, NULL,
                                                       10))
                                : json_string(job->parent_id));
        }
        /* Exact decimals: from the digits jansson writes back (15
         * significant digits give back what was sent). */
        text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (text == NULL || rest_body_exact_numbers(res, body, text,
                                                    strlen(text)) != 0)
        {
            free((void *) text);
            mod_rest_batch_fail(b, 400, "cannot read the exact digits of a "
                                "decimal member of the body", NULL);
            return;
        }
        free((void *) text);
        job->body = body;
        if (job->method != CAIRN_METHOD_PATCH) {
            errors = json_array();
            if (rest_validate(res, body, job->method == CAIRN_METHOD_POST,
                              NULL, errors) > 0)
            {
                mod_rest_batch_fail(b, 422, "validation failed",
                                    json_pack("{s:o}", "errors", errors));
                return;
            }
            json_decref(errors);
        }
    }

    if (job->item && job->method == CAIRN_METHOD_GET) {
        err = mod_rest_embed_parse(job, query);
        if (err != NULL) {
            mod_rest_batch_fail(b, 400, err, NULL);
            return;
        }
    }
    if (!job->item && job->method == CAIRN_METHOD_GET) {
        err = rest_query_parse(a, res, query != NULL ? query : "",
                               &job->query);
        if (err == NULL && job->query.cursor != NULL) {
            err = "a cursor cannot be used in a batch";
        }
        if (err == NULL && job->query.offset > res->max_offset) {
            err = "offset is too large";
        }
        if (err != NULL) {
            mod_rest_batch_fail(b, 400, err, NULL);
            return;
        }
        if (job->rel != NULL) {
            i = job->query.nfilter;
            if (i == sizeof(job->query.filter)
                     / sizeof(job->query.filter[0]))
            {
                mod_rest_batch_fail(b, 400, "too many filters", NULL);
                return;
            }
            job->query.filter[i] = rest_field_find(res, job->rel->field);
            job->query.value[i] = job->parent_id;
            job->query.nfilter++;
        }
    }

    mod_rest_job_start(job);
}


void
mod_rest_batch_done(mod_rest_job_t *job)
{
    mod_rest_batch_t  *b = job->batch;
    json_t            *env;

    if (job->status >= 400) {
        mod_rest_batch_fail(b, job->status, job->message, job->data);
        job->data = NULL;
        return;
    }

    env = rest_envelope(job->status, job->message != NULL ? job->message
                        : cairn_status_reason(job->status), job->data);
    job->data = NULL;
    if (job->etag != NULL) {
        json_object_set_new(env, "etag", json_string(job->etag));
    }
    if (job->location != NULL) {
        json_object_set_new(env, "location", json_string(job->location));
    }
    json_array_append_new(b->results, env);

    b->i++;
    mod_rest_batch_next(b);
}


/* The answer; the connection goes back to the pool. */
static void
mod_rest_batch_end(mod_rest_batch_t *b)
{
    int  rc;

    if (b->conn != NULL) {
        b->db->release(b->conn);
        b->conn = NULL;
    }
    if (b->status == 503) {
        cairn_response_header_set(b->r, "Retry-After", "1");
    }
    rc = mod_rest_batch_reply(b->r, b->status, b->message, b->data);
    b->data = NULL;
    cairn_request_resume(b->r, rc);
}
