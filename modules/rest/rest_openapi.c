/*
 * rest_openapi.c: an OpenAPI 3.1 document generated from the <Resource>
 * declarations.  Component schemas are JSON Schema 2020-12: one per
 * resource ("users"), one for its list page ("users_page"), and the
 * envelopes that wrap them.
 */

#include <stdio.h>
#include <string.h>

#include "rest.h"


static json_t *rest_openapi_field(const rest_field_t *f);
static json_t *rest_openapi_schema(const rest_resource_t *res);
static json_t *rest_openapi_ref(const char *name);
static json_t *rest_openapi_envelope(json_t *data);
static json_t *rest_openapi_response(const char *desc, const char *schema);
static json_t *rest_openapi_errors(json_t *op, const int *codes, size_t n);
static json_t *rest_openapi_op(const rest_resource_t *res, const char *id,
                               const char *summary);
static void rest_openapi_body(json_t *op, const rest_resource_t *res,
                              int patch);
static void rest_openapi_idem(json_t *op, const rest_resource_t *res);


static json_t *
rest_openapi_ref(const char *name)
{
    char  buf[200];

    snprintf(buf, sizeof(buf), "#/components/schemas/%s", name);

    return json_pack("{s:s}", "$ref", buf);
}


static json_t *
rest_openapi_field(const rest_field_t *f)
{
    json_t      *s;
    const char  *type = "string";
    double       max = -1;

    s = json_object();

    switch (f->type) {
    case REST_T_STRING:
        max = REST_STRING_MAX;
        break;
    case REST_T_TEXT:
        max = REST_TEXT_MAX;
        break;
    case REST_T_EMAIL:
        max = REST_EMAIL_MAX;
        json_object_set_new(s, "format", json_string("email"));
        break;
    case REST_T_DATETIME:
        json_object_set_new(s, "format", json_string("date-time"));
        break;
    case REST_T_INT:
        type = "integer";
        json_object_set_new(s, "format", json_string("int32"));
        break;
    case REST_T_BIGINT:
        type = "integer";
        json_object_set_new(s, "format", json_string("int64"));
        break;
    case REST_T_NUMBER:
        type = "number";
        json_object_set_new(s, "format", json_string("double"));
        break;
    case REST_T_BOOL:
        type = "boolean";
        break;
    case REST_T_JSON:
        type = NULL;
        break;
    case REST_T_DECIMAL:
        /* Written from the database's exact digits, never through a
         * double. */
        if (!(f->flags & REST_F_AS_STRING)) {
            type = "number";
        }
        json_object_set_new(s, "format", json_string("decimal"));
        if (f->declared_ps) {
            json_object_set_new(s, "description", json_sprintf(
                "an exact decimal of at most %d digits, %d after the "
                "point%s", f->precision, f->scale,
                (f->flags & REST_F_AS_STRING) ? ", as a string" : ""));
        }
        break;
    case REST_T_DATE:
        json_object_set_new(s, "format", json_string("date"));
        break;
    }

    if (type != NULL) {
        if ((f->flags & REST_F_REQUIRED) || (f->flags & REST_F_KEY)) {
            json_object_set_new(s, "type", json_string(type));
        } else {
            json_object_set_new(s, "type", json_pack("[s, s]", type,
                                                     "null"));
        }
    }

    if (max >= 0) {
        if (f->flags & REST_F_MAX) {
            max = f->max;
        }
        json_object_set_new(s, "maxLength", json_integer((json_int_t) max));
        if (f->flags & REST_F_MIN) {
            json_object_set_new(s, "minLength",
                                json_integer((json_int_t) f->min));
        }
        if (f->pattern != NULL) {
            json_object_set_new(s, "pattern", json_string(f->pattern));
        }
    } else if (f->type == REST_T_INT || f->type == REST_T_BIGINT) {
        if (f->flags & REST_F_MIN) {
            json_object_set_new(s, "minimum",
                                json_integer((json_int_t) f->min));
        }
        if (f->flags & REST_F_MAX) {
            json_object_set_new(s, "maximum",
                                json_integer((json_int_t) f->max));
        }
    } else if (f->type == REST_T_NUMBER
               || (f->type == REST_T_DECIMAL
                   && !(f->flags & REST_F_AS_STRING)))
    {
        if (f->flags & REST_F_MIN) {
            json_object_set_new(s, "minimum", json_real(f->min));
        }
        if (f->flags & REST_F_MAX) {
            json_object_set_new(s, "maximum", json_real(f->max));
        }
    }

    if (f->flags & REST_F_READONLY) {
        json_object_set_new(s, "readOnly", json_true());
    }
    if (f->flags & REST_F_WRITEONLY) {
        json_object_set_new(s, "writeOnly", json_true());
    }

    return s;
}


static json_t *
rest_openapi_schema(const rest_resource_t *res)
{
    json_t  *props, *req, *s;
    size_t   i;

    props = json_object();
    req = json_array();
    for (i = 0; i < res->nfields; i++) {
        json_object_set_new(props, res->fields[i].name,
                            rest_openapi_field(&res->fields[i]));
        if (res->fields[i].flags & (REST_F_REQUIRED | REST_F_KEY)) {
            json_array_append_new(req, json_string(res->fields[i].name));
        }
    }

    s = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props,
                  "additionalProperties", 0);
    /* Where the ETags of its rows come from. */
    json_object_set_new(s, "x-etag", json_string(
        res->version_set ? "version" : "version-or-hash"));
    json_object_set_new(s, "description", res->version_set
        ? json_sprintf("ETag: the version column %s (\"v7\").",
                       res->version_col)
        : json_sprintf("ETag: the version column %s (\"v7\") when the "
                       "table has it, else a strong SHA-256 hash of the "
                       "row's fields (22 base64url characters), which "
                       "changes whenever any program changes the row.",
                       res->version_col));
    if (json_array_size(req) > 0) {
        json_object_set_new(s, "required", req);
    } else {
        json_decref(req);
    }

    return s;
}


static json_t *
rest_openapi_envelope(json_t *data)
{
    return json_pack("{s:s, s:[s, s, s], s:{s:{s:s}, s:{s:s}, s:o}}",
                     "type", "object", "required", "code", "message", "data",
                     "properties",
                     "code", "type", "integer",
                     "message", "type", "string",
                     "data", data);
}


static json_t *
rest_openapi_response(const char *desc, const char *schema)
{
    return json_pack("{s:s, s:{s:{s:o}}}", "description", desc, "content",
                     "application/json", "schema", rest_openapi_ref(schema));
}


static json_t *
rest_openapi_errors(json_t *op, const int *codes, size_t n)
{
    json_t  *responses;
    char     key[8];
    size_t   i;

    responses = json_object_get(op, "responses");
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%d", codes[i]);
        json_object_set_new(responses, key, rest_openapi_response(
            cairn_status_reason(codes[i]), "error_envelope"));
    }

    return op;
}


static json_t *
rest_openapi_op(const rest_resource_t *res, const char *id,
                const char *summary)
{
    char  opid[160];

    snprintf(opid, sizeof(opid), "%s_%s", id, res->name);

    return json_pack("{s:s, s:s, s:[s], s:{}}", "operationId", opid,
                     "summary", summary, "tags", res->name, "responses");
}


static void
rest_openapi_body(json_t *op, const rest_resource_t *res, int patch)
{
    json_t  *content;

    content = json_pack("{s:{s:o}}", "application/json", "schema",
                        rest_openapi_ref(res->name));
    if (patch) {
        json_object_set_new(content, "application/merge-patch+json",
                            json_pack("{s:{s:s}}", "schema", "type",
                                      "object"));
    }
    json_object_set_new(op, "requestBody", json_pack("{s:b, s:o}",
                                                     "required", 1,
                                                     "content", content));
}


/* The Idempotency-Key header of a POST or PATCH (RestIdempotency on). */
static void
rest_openapi_idem(json_t *op, const rest_resource_t *res)
{
    if (!res->idem) {
        return;
    }

    json_object_set_new(op, "parameters", json_pack(
        "[{s:s, s:s, s:b, s:s, s:{s:s, s:i, s:i}}]", "name",
        "Idempotency-Key", "in", "header", "required", 0, "description",
        "A retry with the same key and request gets the first answer "
        "again (with Idempotent-Replayed: true) instead of writing twice; "
        "the same key with another request is 422, and while the first "
        "request runs 409.", "schema", "type", "string", "minLength", 1,
        "maxLength", 255));
}


/* /users/{id}/posts: the target's list, filtered, and its create. */
static void
rest_openapi_relation(json_t *paths, const rest_resource_t *res,
                      const rest_relation_t *rel, json_t *idp)
{
    static const int         list_err[] = { 400, 503 };
    static const int         write_err[] = { 400, 409, 413, 415, 422, 503,
                                             504 };
    const rest_resource_t   *t = rel->target;
    json_t                  *pi, *op;
    char                     path[400], id[200], name[200];

    if (t == NULL) {
        return;
    }
    pi = json_object();
    json_object_set(pi, "parameters", idp);
    if (t->methods & CAIRN_M(CAIRN_METHOD_GET)) {
        snprintf(id, sizeof(id), "list_%s_%s", res->name, rel->name);
        snprintf(name, sizeof(name), "%s_page_envelope", t->name);
        op = json_pack("{s:s, s:s, s:[s], s:{s:o}}", "operationId", id,
                       "summary", "The rows of the relation: the list of "
                       "the target resource (its limit, cursor, sort and "
                       "filters) where the field is the id", "tags",
                       res->name, "responses", "200",
                       rest_openapi_response("A page", name));
        json_object_set_new(op, "x-relation", json_pack(
            "{s:s, s:s}", "resource", t->path, "field", rel->field));
        json_object_set_new(pi, "get", rest_openapi_errors(op, list_err, 2));
    }
    if (t->methods & CAIRN_M(CAIRN_METHOD_POST)) {
        snprintf(id, sizeof(id), "create_%s_%s", res->name, rel->name);
        snprintf(name, sizeof(name), "%s_envelope", t->name);
        op = json_pack("{s:s, s:s, s:[s], s:{s:o}}", "operationId", id,
                       "summary", "Create a row of the relation (the field "
                       "is set to the id)", "tags", res->name, "responses",
                       "201", rest_openapi_response("Created", name));
        rest_openapi_body(op, t, 0);
        json_object_set_new(pi, "post", rest_openapi_errors(op, write_err,
                                                            7));
    }
    snprintf(path, sizeof(path), "%s/{id}/%s", res->path, rel->name);
    json_object_set_new(paths, path, pi);
}


json_t *
rest_openapi(const rest_resource_t *const *list, size_t n, const char *title)
{
    static const int         list_err[] = { 400, 503 };
    static const int         one_err[] = { 400, 404, 503 };
    static const int         write_err[] = { 400, 404, 409, 412, 413, 415,
                                             422, 503, 504 };
    static const int         delete_err[] = { 400, 404, 412, 503, 504 };
    const rest_resource_t   *res;
    const rest_relation_t   *rel;
    json_t                  *doc, *paths, *schemas, *coll, *item, *op;
    json_t                  *params, *idp, *err;
    char                     name[160], page[160], ipath[300];
    size_t                   i, j;

    paths = json_object();
    schemas = json_object();

    err = json_pack("{s:s, s:[s, s], s:{s:{s:s}, s:{s:s}}}",
                    "type", "object", "required", "field", "message",
                    "properties", "field", "type", "string",
                    "message", "type", "string");
    err = json_pack("{s:s, s:{s:{s:s, s:o}}}", "type", "object",
                    "properties", "errors", "type", "array", "items", err);
    json_object_set_new(schemas, "error_envelope", rest_openapi_envelope(
        json_pack("{s:[{s:s}, o]}", "oneOf", "type", "null", err)));

    for (i = 0; i < n; i++) {
        res = list[i];
        coll = json_object();
        item = json_object();

        json_object_set_new(schemas, res->name, rest_openapi_schema(res));
        snprintf(name, sizeof(name), "%s_page", res->name);
        json_object_set_new(schemas, name, json_pack(
            "{s:s, s:[s, s, s, s, s], s:{s:{s:s, s:o}, s:{s:[s, s]}, "
            "s:{s:s}, s:{s:[s, s]}, s:{s:[s, s]}}}",
            "type", "object",
            "required", "items", "total", "limit", "offset", "next",
            "properties",
            "items", "type", "array", "items", rest_openapi_ref(res->name),
            "total", "type", "integer", "null",
            "limit", "type", "integer",
            "offset", "type", "integer", "null",
            "next", "type", "string", "null"));
        snprintf(name, sizeof(name), "%s_envelope", res->name);
        json_object_set_new(schemas, name,
                            rest_openapi_envelope(rest_openapi_ref(
                                res->name)));
        snprintf(name, sizeof(name), "%s_page_envelope", res->name);
        snprintf(page, sizeof(page), "%s_page", res->name);
        json_object_set_new(schemas, name,
                            rest_openapi_envelope(rest_openapi_ref(page)));

        if (res->methods & CAIRN_M(CAIRN_METHOD_GET)) {
            op = rest_openapi_op(res, "list", "List with paging, sorting "
                                 "and filters");
            params = json_array();
            json_array_append_new(params, json_pack(
                "{s:s, s:s, s:{s:s, s:i, s:i}}", "name", "limit", "in",
                "query", "schema", "type", "integer", "minimum", 1,
                "maximum", res->max_page_size));
            json_array_append_new(params, json_pack(
                "{s:s, s:s, s:{s:s, s:i, s:i}}", "name", "offset", "in",
                "query", "schema", "type", "integer", "minimum", 0,
                "maximum", res->max_offset));
            json_array_append_new(params, json_pack(
                "{s:s, s:s, s:s, s:{s:s}}", "name", "cursor", "in", "query",
                "description", "the next of the previous page (keyset: "
                "signed, bound to the same sort and filters)", "schema",
                "type", "string"));
            if (res->sortable.n > 0) {
                json_array_append_new(params, json_pack(
                    "{s:s, s:s, s:s, s:{s:s}}", "name", "sort", "in",
                    "query", "description", "comma-separated fields, "
                    "'-' for descending", "schema", "type", "string"));
            }
            for (j = 0; j < res->filterable.n; j++) {
                json_array_append_new(params, json_pack(
                    "{s:s, s:s, s:{s:s}}", "name", res->filterable.v[j],
                    "in", "query", "schema", "type", "string"));
            }
            json_object_set_new(op, "parameters", params);
            snprintf(name, sizeof(name), "%s_page_envelope", res->name);
            json_object_set_new(json_object_get(op, "responses"), "200",
                                rest_openapi_response("A page", name));
            json_object_set_new(coll, "get", rest_openapi_errors(
                op, list_err, 2));

            op = rest_openapi_op(res, "get", "Get one by key");
            if (res->relations != NULL) {
                json_object_set_new(op, "parameters", json_pack(
                    "[{s:s, s:s, s:s, s:{s:s}}]", "name", "embed", "in",
                    "query", "description", "comma-separated Relations: "
                    "each adds the first page of its rows to data, as "
                    "{items, limit, next}", "schema", "type", "string"));
            }
            snprintf(name, sizeof(name), "%s_envelope", res->name);
            json_object_set_new(json_object_get(op, "responses"), "200",
                                rest_openapi_response("The resource",
                                                      name));
            json_object_set_new(json_object_get(op, "responses"), "304",
                                json_pack("{s:s}", "description",
                                          "Not Modified"));
            json_object_set_new(item, "get", rest_openapi_errors(
                op, one_err, 3));
        }
        snprintf(name, sizeof(name), "%s_envelope", res->name);
        if (res->methods & CAIRN_M(CAIRN_METHOD_POST)) {
            op = rest_openapi_op(res, "create", "Create");
            rest_openapi_body(op, res, 0);
            rest_openapi_idem(op, res);
            json_object_set_new(json_object_get(op, "responses"), "201",
                                rest_openapi_response("Created", name));
            json_object_set_new(coll, "post", rest_openapi_errors(
                op, write_err, 9));
        }
        if (res->methods & CAIRN_M(CAIRN_METHOD_PUT)) {
            op = rest_openapi_op(res, "replace", "Replace");
            rest_openapi_body(op, res, 0);
            json_object_set_new(json_object_get(op, "responses"), "200",
                                rest_openapi_response("Replaced", name));
            json_object_set_new(item, "put", rest_openapi_errors(
                op, write_err, 9));
        }
        if (res->methods & CAIRN_M(CAIRN_METHOD_PATCH)) {
            op = rest_openapi_op(res, "patch", "Update with a JSON merge "
                                 "patch (RFC 7396)");
            rest_openapi_body(op, res, 1);
            rest_openapi_idem(op, res);
            json_object_set_new(json_object_get(op, "responses"), "200",
                                rest_openapi_response("Updated", name));
            json_object_set_new(item, "patch", rest_openapi_errors(
                op, write_err, 9));
        }
        if (res->methods & CAIRN_M(CAIRN_METHOD_DELETE)) {
            op = rest_openapi_op(res, "delete", "Delete");
            json_object_set_new(json_object_get(op, "responses"), "200",
                                rest_openapi_response("Deleted",
                                                      "error_envelope"));
            json_object_set_new(item, "delete", rest_openapi_errors(
                op, delete_err, 5));
        }

        idp = json_pack("[{s:s, s:s, s:b, s:o}]", "name", "id", "in",
                        "path", "required", 1, "schema",
                        rest_openapi_field(&res->fields[res->key_index]));
        json_object_del(json_object_get(json_array_get(idp, 0), "schema"),
                        "readOnly");
        json_object_set_new(item, "parameters", idp);

        if (json_object_size(coll) > 0) {
            json_object_set_new(paths, res->path, coll);
        } else {
            json_decref(coll);
        }
        snprintf(ipath, sizeof(ipath), "%s/{id}", res->path);
        json_object_set_new(paths, ipath, item);

        for (rel = res->relations; rel != NULL; rel = rel->next) {
            rest_openapi_relation(paths, res, rel, idp);
        }
    }

    doc = json_pack("{s:s, s:{s:s, s:s}, s:s, s:o, s:{s:o}}",
                    "openapi", "3.1.0",
                    "info", "title", title, "version", "1",
                    "jsonSchemaDialect",
                    "https://json-schema.org/draft/2020-12/schema",
                    "paths", paths,
                    "components", "schemas", schemas);

    return doc;
}
