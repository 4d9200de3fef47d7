/*
 * rest_handler.c: the request side of mod_rest.  The handler serves the
 * OpenAPI document, answers OPTIONS and 405 with Allow, reads the id,
 * If-Match, the body, its Idempotency-Key and the list's query, then
 * hands the request to its job (rest_job.c).  The answers: the envelope
 * as JSON or through a template, and the RESPONSE hook that gives the
 * errors of other modules on a resource's path the same envelope.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/db.h>
#include <cairn/render.h>

#include "mod_rest.h"


#define MOD_REST_RECHECK_US     (5 * 1000000ULL)

/* An Idempotency-Key: 1 to this many visible ASCII characters. */
#define MOD_REST_IDEM_KEY_MAX   255


static int mod_rest_openapi_answer(cairn_request_t *r, mod_rest_oa_t *oa);
static int mod_rest_fail(cairn_request_t *r, rest_resource_t *res,
                         int status, const char *message);
static int mod_rest_prepare_body(mod_rest_job_t *job, int *rc);
static int mod_rest_idem_prepare(mod_rest_job_t *job, int *rc);


/* ------------------------------------------------------------------ */
/* Answers                                                            */
/* ------------------------------------------------------------------ */

void
mod_rest_decref(void *data)
{
    json_decref(data);
}


/*
 * Answers with the envelope (data is stolen): as HTML through the render
 * provider when the resource has a RestTemplate and the client prefers
 * text/html, else as JSON.  Returns what a handler returns.
 */
int
mod_rest_reply(cairn_request_t *r, rest_resource_t *res, int status,
               const char *message, json_t *data)
{
    const cairn_render_t  *rp;
    json_t                *env, *plain;
    char                  *body;
    size_t                 len;
    int                    rc;

    env = rest_envelope(status, message != NULL ? message
                        : cairn_status_reason(status), data);
    if (env == NULL) {
        /* A message that is not valid UTF-8 (every quote of client input
         * goes through rest_quote(), so this is a bug): still the
         * envelope and the status, never a bare 500. */
        cairn_log_error(r, 0, "<Resource %s>: cannot write the envelope "
                        "of a %d answer; its message is not valid UTF-8",
                        res != NULL ? res->path : "-", status);
        env = rest_envelope(status, message != NULL
                            ? rest_quote(cairn_request_arena(r), message,
                                         200)
                            : cairn_status_reason(status), NULL);
        if (env == NULL) {
            return 500;
        }
    }
    cairn_arena_cleanup_add(cairn_request_arena(r), mod_rest_decref, env);
    /* The answer is the resource's own: the RESPONSE hook leaves it. */
    cairn_request_set_ctx(r, &mod_rest_module, env);

    if (res != NULL && res->template_name != NULL) {
        cairn_response_header_add(r, "Vary", "Accept");
        if (rest_prefers_html(cairn_request_header(r, "Accept"))) {
            rp = cairn_provider_get(cairn_request_server(r),
                                    CAIRN_RENDER_PROVIDER,
                                    CAIRN_RENDER_TEMPLATE);
            if (rp != NULL && CAIRN_RENDER_HAS(rp, render)) {
                plain = rest_json_untag(env);
                cairn_arena_cleanup_add(cairn_request_arena(r),
                                        mod_rest_decref, plain);
                cairn_request_set_ctx(r, &mod_rest_module, plain);
                rc = rp->render(rp, r, res->template_name, status, plain);
                if (rc != CAIRN_DECLINED) {
                    return rc;
                }
            }
        }
    }

    /* Exact decimals leave as the numbers they are. */
    body = rest_json_dump(cairn_request_arena(r), env, &len);
    if (body == NULL) {
        return 500;
    }

    return cairn_respond(r, status, "application/json", body, len);
}


/*
 * An error answered for a resource's path before the resource ran (401
 * or 403 of mod_auth, 503 of a quarantine) gets the same envelope as the
 * resource's own errors; its headers (WWW-Authenticate) stay.
 */
int
mod_rest_response(cairn_request_t *r)
{
    mod_rest_route_t  *route;
    json_t            *env;
    char              *body;
    size_t             len;
    int                status = cairn_response_status(r);

    route = cairn_request_route(r, &mod_rest_module);
    if (route == NULL || route->res == NULL || status < 400
        || cairn_request_ctx(r, &mod_rest_module) != NULL)
    {
        return CAIRN_OK;
    }

    env = rest_envelope(status, cairn_status_reason(status), NULL);
    if (env == NULL) {
        return CAIRN_OK;
    }
    len = json_dumpb(env, NULL, 0, JSON_COMPACT);
    body = cairn_arena_alloc(cairn_request_arena(r), len + 1);
    len = json_dumpb(env, body, len, JSON_COMPACT);
    json_decref(env);

    cairn_response_header_set(r, "Content-Type", "application/json");
    cairn_response_set_body(r, body, len);

    return CAIRN_OK;
}


/*
 * Every error page the core writes for a resource's path is the
 * envelope, with the core's sentence as its message: the errors of other
 * modules' hooks, and those the core answers before any hook ran (a 400
 * for a method it does not know, a 413 over LimitRequestBody, a
 * timeout), for which the core found the route first.  A resource's own
 * answers never come here (mod_rest_reply).
 */
int
mod_rest_error_page(cairn_request_t *r, int status, const char *reason)
{
    mod_rest_route_t  *route;
    json_t            *env;
    char              *body;
    size_t             len;

    route = cairn_request_route(r, &mod_rest_module);
    if (route == NULL || route->res == NULL) {
        return CAIRN_DECLINED;
    }

    env = rest_envelope(status, reason != NULL ? reason
                                               : cairn_status_reason(status),
                        NULL);
    if (env == NULL && reason != NULL) {
        /* A sentence that quotes a path of invalid UTF-8. */
        env = rest_envelope(status, rest_quote(cairn_request_arena(r),
                                               reason, 200), NULL);
    }
    if (env == NULL) {
        return CAIRN_DECLINED;
    }
    len = json_dumpb(env, NULL, 0, JSON_COMPACT);
    body = cairn_arena_alloc(cairn_request_arena(r), len + 1);
    len = json_dumpb(env, body, len, JSON_COMPACT);
    json_decref(env);

    /* Enveloped already: the RESPONSE hook leaves it. */
    cairn_request_set_ctx(r, &mod_rest_module, body);

    return cairn_respond(r, status, "application/json", body, len);
}


static int
mod_rest_fail(cairn_request_t *r, rest_resource_t *res, int status,
              const char *message)
{
    return mod_rest_reply(r, res, status, message, NULL);
}


static int
mod_rest_openapi_answer(cairn_request_t *r, mod_rest_oa_t *oa)
{
    cairn_method_t  m = cairn_request_method(r);

    if (m == CAIRN_METHOD_GET || m == CAIRN_METHOD_HEAD) {
        return cairn_respond(r, 200, "application/json", oa->doc, oa->len);
    }
    cairn_response_header_set(r, "Allow", "GET, HEAD");
    if (m == CAIRN_METHOD_OPTIONS) {
        return mod_rest_fail(r, NULL, 200, NULL);
    }

    return mod_rest_fail(r, NULL, 405, NULL);
}


/* ------------------------------------------------------------------ */
/* The handler                                                        */
/* ------------------------------------------------------------------ */

int
mod_rest_handler(cairn_request_t *r)
{
    mod_rest_route_t  *route;
    rest_resource_t   *res;
    mod_rest_job_t    *job;
    const cairn_db_t  *db;
    const char        *allow, *err;
    unsigned           need;
    int                rc;

    route = cairn_request_route(r, &mod_rest_module);
    if (route == NULL) {
        return CAIRN_DECLINED;
    }
    if (route->oa != NULL) {
        return mod_rest_openapi_answer(r, route->oa);
    }
    if (route->batch != NULL) {
        return mod_rest_batch_handler(r, route->batch);
    }

    res = route->rel != NULL ? route->rel->target : route->res;
    job = cairn_arena_calloc(cairn_request_arena(r), sizeof(*job));
    job->r = r;
    job->res = res;
    job->arena = cairn_request_arena(r);
    job->item = route->item;
    job->rel = route->rel;
    job->method = cairn_request_method(r);
    job->if_match = -1;

    allow = rest_allow_header(job->arena, res, job->item);
    need = CAIRN_M(job->method == CAIRN_METHOD_HEAD ? CAIRN_METHOD_GET
                   : job->method);
    if (job->method == CAIRN_METHOD_OPTIONS) {
        cairn_response_header_set(r, "Allow", allow);
        return mod_rest_reply(r, res, 200, NULL,
                              json_pack("{s:s}", "allow", allow));
    }
    if (!(res->methods & need)
        || (job->item && job->method == CAIRN_METHOD_POST)
        || (!job->item && (job->method == CAIRN_METHOD_PUT
                           || job->method == CAIRN_METHOD_PATCH
                           || job->method == CAIRN_METHOD_DELETE)))
    {
        cairn_response_header_set(r, "Allow", allow);
        return mod_rest_fail(r, res, 405, cairn_arena_printf(
            job->arena, "%s is not allowed here; allowed: %s",
            cairn_request_method_name(r), allow));
    }

    if (job->item && mod_rest_parse_id(job) != 0) {
        return mod_rest_fail(r, res, 400, "the id is not valid for this "
                             "resource");
    }
    if (job->rel != NULL && mod_rest_parent_id(job, job->rel) != 0) {
        return mod_rest_fail(r, res, 400, cairn_arena_printf(
            job->arena, "the id is not valid for %s", job->rel->parent->path));
    }
    if (job->item && (job->method == CAIRN_METHOD_GET
                      || job->method == CAIRN_METHOD_HEAD))
    {
        err = mod_rest_embed_parse(job, cairn_request_query(r));
        if (err != NULL) {
            return mod_rest_fail(r, res, 400, err);
        }
    }
    if (job->item && job->method != CAIRN_METHOD_GET
        && job->method != CAIRN_METHOD_HEAD)
    {
        mod_rest_if_match(job, cairn_request_header(r, "If-Match"));
    }

    if (job->method == CAIRN_METHOD_POST || job->method == CAIRN_METHOD_PUT
        || job->method == CAIRN_METHOD_PATCH)
    {
        if (mod_rest_prepare_body(job, &rc) != 0) {
            return rc;
        }
    }

    if (res->idem && (job->method == CAIRN_METHOD_POST
                      || job->method == CAIRN_METHOD_PATCH)
        && mod_rest_idem_prepare(job, &rc) != 0)
    {
        return rc;
    }

    if (!job->item && job->method != CAIRN_METHOD_POST) {
        err = rest_query_parse(job->arena, res, cairn_request_query(r),
                               &job->query);
        if (err != NULL) {
            return mod_rest_fail(r, res, 400, err);
        }
        if (job->rel != NULL) {
            /* /users/{id}/posts: the rows of /posts whose user_id is
             * the id, an equality filter the cursors are bound to. */
            if (job->query.nfilter == sizeof(job->query.filter)
                                      / sizeof(job->query.filter[0]))
            {
                return mod_rest_fail(r, res, 400, "too many filters");
            }
            job->query.filter[job->query.nfilter] =
                rest_field_find(res, job->rel->field);
            job->query.value[job->query.nfilter++] = job->parent_id;
        }
        if (job->query.offset > res->max_offset) {
            return mod_rest_fail(r, res, 400, cairn_arena_printf(
                job->arena, "offset is at most %d here; follow the cursor "
                "of each page (next) to go deeper", res->max_offset));
        }
        if (job->query.cursor != NULL && mod_rest_cursor_open(job) != 0) {
            return mod_rest_fail(r, res, 400, "cursor is not valid for this "
                                 "query (give it with the sort and filters "
                                 "of the page that gave it)");
        }
    }

    if (res->schema == REST_SCHEMA_BAD
        && cairn_now_us() - res->schema_at < MOD_REST_RECHECK_US)
    {
        return mod_rest_fail(r, res, 503, res->schema_error);
    }

    db = res->db;
    job->db = db;
    if (db == NULL || db->acquire(db, r, mod_rest_acquired, job)
                      != CAIRN_OK)
    {
        return mod_rest_fail(r, res, 503, "the database is not available");
    }
    cairn_request_on_cancel(r, mod_rest_cancel, job);

    return CAIRN_SUSPENDED;
}


/* The path's id (job->id, else the route's) as a statement parameter:
 * an integer for int keys. */
int
mod_rest_parse_id(mod_rest_job_t *job)
{
    const rest_field_t  *kf = &job->res->fields[job->res->key_index];
    const char          *p;
    char                *end;
    long long            v;

    if (job->id == NULL) {
        job->id = cairn_request_param(job->r, "id");
    }
    if (job->id == NULL || job->id[0] == '\0') {
        return -1;
    }

    if (kf->type == REST_T_INT || kf->type == REST_T_BIGINT) {
        for (p = job->id; *p != '\0'; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }
        }
        if (strlen(job->id) > 19) {
            return -1;
        }
        v = strtoll(job->id, &end, 10);
        job->key[0].type = CAIRN_DB_INT;
        job->key[0].v.i = v;
        job->key[1] = job->key[0];
        return 0;
    }

    if (!rest_key_text_ok(kf, job->id)) {
        return -1;
    }
    job->key[0].type = CAIRN_DB_STRING;
    job->key[0].v.s.p = job->id;
    job->key[0].v.s.len = strlen(job->id);
    job->key[1] = job->key[0];

    return 0;
}


/*
 * Content-Type, size, JSON, If-Match and (but for PATCH) validation.
 * Returns 0 to go on, or -1 when it answered (*rc is the handler's
 * return value).
 */
static int
mod_rest_prepare_body(mod_rest_job_t *job, int *rc)
{
    cairn_request_t  *r = job->r;
    rest_resource_t  *res = job->res;
    json_error_t      jerr;
    json_t           *errors;
    const char       *ct, *body;
    size_t            len, n;

    ct = cairn_request_header(r, "Content-Type");
    n = ct != NULL ? strcspn(ct, "; \t") : 0;
    if (ct == NULL
        || !((n == 16 && strncasecmp(ct, "application/json", 16) == 0)
             || (job->method == CAIRN_METHOD_PATCH && n == 28
                 && strncasecmp(ct, "application/merge-patch+json", 28)
                    == 0)))
    {
        *rc = mod_rest_fail(r, res, 415, job->method == CAIRN_METHOD_PATCH
                            ? "the body must be application/json or "
                              "application/merge-patch+json"
                            : "the body must be application/json");
        return -1;
    }

    body = cairn_request_body(r, &len);
    if ((int64_t) len > res->max_body) {
        *rc = mod_rest_fail(r, res, 413, cairn_arena_printf(
            job->arena, "the body is larger than %" PRId64 " bytes",
            res->max_body));
        return -1;
    }
    job->body = json_loadb(body != NULL ? body : "", len,
                           JSON_REJECT_DUPLICATES, &jerr);
    if (job->body == NULL && json_error_code(&jerr)
                             == json_error_out_of_memory)
    {
        *rc = mod_rest_fail(r, res, 503, "the server is short of memory");
        return -1;
    }
    if (job->body == NULL) {
        /* jansson's text may quote the input, cut anywhere. */
        *rc = mod_rest_fail(r, res, 400, cairn_arena_printf(
            job->arena, "malformed JSON: %s (line %d, column %d)",
            rest_quote(job->arena, jerr.text, 120), jerr.line,
            jerr.column));
        return -1;
    }
    cairn_arena_cleanup_add(job->arena, mod_rest_decref, job->body);

    if (rest_body_exact_numbers(res, job->body, body, len) != 0) {
        *rc = mod_rest_fail(r, res, 400, "cannot read the exact digits of "
                            "a decimal member of the body");
        return -1;
    }

    if (job->rel != NULL && json_is_object(job->body)) {
        /* POST /users/{id}/posts: user_id is the id, whatever the body
         * says. */
        const rest_field_t  *f = rest_field_find(res, job->rel->field);

        json_object_set_new(job->body, f->name,
                            f->type == REST_T_INT || f->type == REST_T_BIGINT
                            ? json_integer(strtoll(job->parent_id, NULL, 10))
                            : json_string(job->parent_id));
    }

    if (job->method == CAIRN_METHOD_PATCH) {
        return 0;
    }

    errors = json_array();
    if (rest_validate(res, job->body, job->method == CAIRN_METHOD_POST,
                      NULL, errors) > 0)
    {
        *rc = mod_rest_reply(r, res, 422, "validation failed",
                             json_pack("{s:o}", "errors", errors));
        return -1;
    }
    json_decref(errors);

    return 0;
}


/*
 * Idempotency-Key (the IETF httpapi draft): a POST or PATCH that carries
 * one is written in one transaction with a record of its answer, so a
 * retry with the same key gets that answer again instead of writing
 * twice.  The key is an sf-string: 1 to 255 visible ASCII characters,
 * quoted or not.  Returns 0 (with or without a key), or -1 when it
 * answered 400.
 */
static int
mod_rest_idem_prepare(mod_rest_job_t *job, int *rc)
{
    cairn_request_t  *r = job->r;
    const char       *key, *user, *body, *p;
    size_t            len, blen;
    char             *text;

    key = cairn_request_header(r, "Idempotency-Key");
    if (key == NULL) {
        return 0;
    }
    len = strlen(key);
    if (len >= 2 && key[0] == '"' && key[len - 1] == '"') {
        key = cairn_arena_strndup(job->arena, key + 1, len - 2);
        len -= 2;
    }
    for (p = key; *p != '\0' && *p > ' ' && *p < 0x7f; p++) {
        /* visible ASCII */
    }
    if (len == 0 || len > MOD_REST_IDEM_KEY_MAX || *p != '\0') {
        *rc = mod_rest_fail(r, job->res, 400, "Idempotency-Key must be 1 "
                            "to 255 visible ASCII characters");
        return -1;
    }

    job->idem_key = key;
    user = cairn_request_user(r);
    mod_rest_text_param(&job->idem_who[0], job->res->path);
    mod_rest_text_param(&job->idem_who[1], user != NULL ? user : "");
    mod_rest_text_param(&job->idem_who[2], key);

    /* What makes two requests the same one. */
    body = cairn_request_body(r, &blen);
    text = cairn_arena_printf(job->arena, "%s %s\n",
                              cairn_request_method_name(r),
                              cairn_request_target(r));
    len = strlen(text);
    job->idem_print.type = CAIRN_DB_BLOB;
    job->idem_print.v.s.p = text;
    job->idem_print.v.s.len = len;
    if (blen > 0) {
        text = cairn_arena_alloc(job->arena, len + blen);
        memcpy(text, job->idem_print.v.s.p, len);
        memcpy(text + len, body, blen);
        job->idem_print.v.s.p = text;
        job->idem_print.v.s.len = len + blen;
    }

    return 0;
}


/* The parent's id of /users/{id}/posts, checked against the parent's
 * key (and kept as text: the filter and the body take it from there). */
int
mod_rest_parent_id(mod_rest_job_t *job, rest_relation_t *rel)
{
    const rest_field_t  *kf = &rel->parent->fields[rel->parent->key_index];
    const char          *id, *p;

    id = job->parent_id != NULL ? job->parent_id
         : cairn_request_param(job->r, "id");
    if (id == NULL || id[0] == '\0') {
        return -1;
    }
    if (kf->type == REST_T_INT || kf->type == REST_T_BIGINT) {
        for (p = id; *p != '\0'; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }
        }
        if (strlen(id) > 18) {
            return -1;
        }
    } else if (!rest_key_text_ok(kf, id)) {
        return -1;
    }
    job->parent_id = id;

    return 0;
}


/* ?embed=posts,tags on GET /users/{id}: relations of the resource. */
const char *
mod_rest_embed_parse(mod_rest_job_t *job, const char *q)
{
    const char       *p, *end, *amp;
    rest_relation_t  *rel;
    size_t            len;

    for (p = q; p != NULL && *p != '\0'; p = amp != NULL ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        if (strncmp(p, "embed=", 6) != 0) {
            continue;
        }
        p += 6;
        end = amp != NULL ? amp : p + strlen(p);
        while (p < end) {
            len = strcspn(p, ",&");
            if (p + len > end) {
                len = (size_t) (end - p);
            }
            for (rel = job->res->relations; rel != NULL; rel = rel->next) {
                if (strlen(rel->name) == len
                    && strncmp(rel->name, p, len) == 0)
                {
                    break;
                }
            }
            if (rel == NULL) {
                return cairn_arena_printf(job->arena, "embed: '%s' is not a "
                                          "Relation of %s", rest_quote(
                                              job->arena,
                                              cairn_arena_strndup(job->arena,
                                                                  p, len),
                                              64), job->res->path);
            }
            if (job->nembed == MOD_REST_EMBED_MAX) {
                return "embed: too many relations";
            }
            job->embed[job->nembed++] = rel;
            p += len;
            if (p < end && *p == ',') {
                p++;
            }
        }
    }

    return NULL;
}


void
mod_rest_text_param(cairn_db_param_t *p, const char *s)
{
    memset(p, 0, sizeof(*p));
    p->type = CAIRN_DB_STRING;
    p->v.s.p = s;
    p->v.s.len = strlen(s);
}


/* If-Match: the version it names (-1 when it names none of ours); "*"
 * asks for no check. */
void
mod_rest_if_match(mod_rest_job_t *job, const char *p)
{
    char        *end;

    if (p == NULL) {
        return;
    }
    while (*p == ' ') {
        p++;
    }
    if (*p == '*') {
        return;
    }
    job->has_if_match = 1;
    job->if_match_text = p;
    if (strncmp(p, "W/", 2) == 0) {
        p += 2;
    }
    if (p[0] == '"' && p[1] == 'v') {
        job->if_match = strtoll(p + 2, &end, 10);
        if (end == p + 2 || *end != '"' || job->if_match < 0) {
            job->if_match = -1;
        }
    }
}
