/*
 * mod_rest: REST resources over MySQL/MariaDB tables, declared in the
 * configuration.
 *
 *     <Resource /users>
 *         Database main
 *         Table users
 *         Key id
 *         Field id int
 *         Field name string required max=100
 *         Field email email required unique
 *         Sortable name email
 *         Filterable name
 *     </Resource>
 *     RestOpenAPI /openapi.json
 *
 *   GET    /users              a page: {items, total, limit, offset, next}
 *   POST   /users              201 with Location and ETag
 *   GET    /users/:id          ETag; If-None-Match gives 304
 *   PUT    /users/:id          full replace; If-Match gives 412 on a
 *   PATCH  /users/:id          JSON merge patch     stale version
 *   DELETE /users/:id          200 with the envelope
 *   OPTIONS, HEAD              Allow / the headers of GET
 *
 * Each worker compares every table with its declaration before serving
 * it (names and types: a field whose column would lose or reshape what
 * it writes is refused, rest_schema_check()).  PATCH writes only the
 * fields it names; DECIMAL travels as the digits written, never through
 * a double (rest_body_exact_numbers(), rest_json_dump()).
 *
 * Every answer is the envelope {"code", "message", "data"} as
 * application/json (or HTML through a ("render", "template") provider
 * when the resource names a RestTemplate and the client prefers it).
 * Statements are prepared with parameters; identifiers come only from
 * the configuration.  Every write is atomic: POST, PUT and DELETE are
 * one statement each (a transaction of its own), PATCH an explicit
 * transaction around SELECT ... FOR UPDATE and UPDATE; the version column
 * makes the ETag and the If-Match check part of the write (UPDATE ...
 * WHERE key = ? AND version = ?).
 *
 * Directives: <Resource /path> ... </Resource>   server, vhost, location
 *             RestOpenAPI /path                  server, vhost
 *             (inside <Resource>: Database, Table, Key, Field, Methods,
 *             PageSize, MaxPageSize, Sortable, Filterable,
 *             ResourceAutoCreate, VersionColumn, FieldFromUser,
 *             RestTemplate, MaxBodySize, RestIdempotency,
 *             RestIdempotencyTable, RestIdempotencyTTL; see README.md)
 * Hooks:      handler (MIDDLE), post_config
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/mysql.h>
#include <cairn/render.h>

#include "mod_rest.h"


#define MOD_REST_RECHECK_US     (5 * 1000000ULL)

/* An Idempotency-Key: 1 to this many visible ASCII characters. */
#define MOD_REST_IDEM_KEY_MAX   255


typedef struct {
    rest_resource_t     *resources;     /* this scope's own */
    mod_rest_oa_t       *openapi;
} mod_rest_conf_t;


static int mod_rest_register(cairn_module_t *m);
static void *mod_rest_create_conf(cairn_arena_t *a);
static const char *mod_rest_set_resource(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *mod_rest_set_openapi(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static const char *mod_rest_set_ident(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_rest_set_field(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_rest_set_methods(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static int mod_rest_post_config(cairn_server_t *s);
static const char *mod_rest_collect(void *conf, const char *where,
                                    void *data);
static int mod_rest_handler(cairn_request_t *r);
static int mod_rest_openapi_answer(cairn_request_t *r, mod_rest_oa_t *oa);
static int mod_rest_fail(cairn_request_t *r, rest_resource_t *res,
                         int status, const char *message);
static int mod_rest_prepare_body(mod_rest_job_t *job, int *rc);
static int mod_rest_parse_id(mod_rest_job_t *job);
static void mod_rest_if_match(mod_rest_job_t *job);
static int mod_rest_idem_prepare(mod_rest_job_t *job, int *rc);
static int mod_rest_response(cairn_request_t *r);


static const cairn_directive_t  mod_rest_resource_directives[] = {
    CAIRN_DIRECTIVE_ONE("Database", rest_resource_t, db_name,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_CUSTOM("Table", CAIRN_ARGS_ONE, rest_resource_t, table,
                           CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_rest_set_ident),
    CAIRN_DIRECTIVE_CUSTOM("Key", CAIRN_ARGS_ONE, rest_resource_t, key,
                           CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_rest_set_ident),
    CAIRN_DIRECTIVE_CUSTOM("VersionColumn", CAIRN_ARGS_ONE, rest_resource_t,
                           version_col, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_rest_set_ident),
    CAIRN_DIRECTIVE_CUSTOM("FieldFromUser", CAIRN_ARGS_ONE, rest_resource_t,
                           from_user, CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_rest_set_ident),
    CAIRN_DIRECTIVE_CUSTOM("Field", CAIRN_ARGS_ONE_OR_MORE, rest_resource_t,
                           fields, CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_rest_set_field),
    CAIRN_DIRECTIVE_CUSTOM("Methods", CAIRN_ARGS_ONE_OR_MORE,
                           rest_resource_t, methods, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_rest_set_methods),
    CAIRN_DIRECTIVE_INT("PageSize", rest_resource_t, page_size,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_INT("MaxPageSize", rest_resource_t, max_page_size,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_LIST("Sortable", rest_resource_t, sortable,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_LIST("Filterable", rest_resource_t, filterable,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_FLAG("ResourceAutoCreate", rest_resource_t, auto_create,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_ONE("RestTemplate", rest_resource_t, template_name,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_SIZE("MaxBodySize", rest_resource_t, max_body,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_FLAG("RestIdempotency", rest_resource_t, idem,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_CUSTOM("RestIdempotencyTable", CAIRN_ARGS_ONE,
                           rest_resource_t, idem_table, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_rest_set_ident),
    CAIRN_DIRECTIVE_MSEC("RestIdempotencyTTL", rest_resource_t, idem_ttl_ms,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_END
};


static const cairn_directive_t  mod_rest_directives[] = {
    CAIRN_DIRECTIVE_SECTION("Resource", mod_rest_conf_t, resources,
                            CAIRN_SCOPE_ANY, CAIRN_MERGE_NONE,
                            mod_rest_set_resource),
    CAIRN_DIRECTIVE_CUSTOM("RestOpenAPI", CAIRN_ARGS_ONE, mod_rest_conf_t,
                           openapi, CAIRN_SCOPE_SERVER | CAIRN_SCOPE_VHOST,
                           CAIRN_MERGE_NONE, mod_rest_set_openapi),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_rest_defaults[] = {
    "(none)",
    "(none)",
};


CAIRN_MODULE(rest) = {
    CAIRN_MODULE_HEADER,
    .name           = "rest",
    .version        = CAIRN_VERSION,
    .description    = "REST resources over database tables",
    .directives     = mod_rest_directives,
    .create_conf    = mod_rest_create_conf,
    .register_hooks = mod_rest_register,
    .directive_defaults = mod_rest_defaults,
};

/* Every resource of the configuration, for the check at worker start. */
rest_resource_t  **mod_rest_all;
size_t            mod_rest_nall;


static int
mod_rest_register(cairn_module_t *m)
{
    if (cairn_hook_handler(m, mod_rest_handler, CAIRN_ORDER_MIDDLE, 0,
                           NULL, NULL) != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    if (cairn_hook_worker_init(m, mod_rest_worker_init, CAIRN_ORDER_LAST, 0,
                               NULL, NULL) != CAIRN_OK
        || cairn_hook_worker_exit(m, mod_rest_worker_exit, CAIRN_ORDER_MIDDLE,
                                  0, NULL, NULL) != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    /* First, so that later RESPONSE hooks (compression) see the
     * envelope. */
    if (cairn_hook_response(m, mod_rest_response, CAIRN_ORDER_FIRST, 0,
                            NULL, NULL) != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    return cairn_hook_post_config(m, mod_rest_post_config,
                                  CAIRN_ORDER_LAST, 0, NULL, NULL);
}


static void *
mod_rest_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_rest_conf_t));
}


/* ------------------------------------------------------------------ */
/* Directives                                                         */
/* ------------------------------------------------------------------ */

/* <Resource /path>: defaults, two routes, then the body. */
static const char *
mod_rest_set_resource(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_rest_conf_t   *rc = conf;
    rest_resource_t   *res, **tail;
    mod_rest_route_t  *coll, *item;
    cairn_arena_t     *a = cairn_cmd_arena(cmd);
    const char        *err, *p, *file;
    char              *name, *c;
    size_t             len;
    int                line;

    file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    line = cairn_cmd_line(cmd);

    if (argc != 1) {
        return "<Resource> takes one argument, its path (/users)";
    }
    p = argv[0];
    len = strlen(p);
    if (p[0] != '/' || len < 2 || p[len - 1] == '/'
        || strpbrk(p, ":*?#%{} \t") != NULL || strstr(p, "//") != NULL)
    {
        return cairn_arena_printf(a, "<Resource %s>: the path must start "
                                  "with /, not end with /, and hold no "
                                  ": * ? # %% { } or spaces", p);
    }

    for (tail = &rc->resources; *tail != NULL; tail = &(*tail)->next) {
        if (strcmp((*tail)->path, p) == 0) {
            return cairn_arena_printf(a, "<Resource %s> is already declared "
                                      "at %s:%d", p, (*tail)->file,
                                      (*tail)->line);
        }
    }

    res = cairn_arena_calloc(a, sizeof(rest_resource_t));
    res->path = cairn_arena_strdup(a, p);
    res->file = file;
    res->line = line;
    res->version_col = "row_version";
    res->page_size = 20;
    res->max_page_size = 100;
    res->max_body = 1024 * 1024;
    res->idem_table = "rest_idempotency";
    res->idem_ttl_ms = 24 * 3600 * 1000;

    /* The OpenAPI names: the path's segments joined with '_'. */
    name = cairn_arena_strdup(a, p + 1);
    for (c = name; *c != '\0'; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
              || (*c >= '0' && *c <= '9')))
        {
            *c = '_';
        }
    }
    res->name = name;

    coll = cairn_arena_calloc(a, sizeof(*coll));
    coll->res = res;
    item = cairn_arena_calloc(a, sizeof(*item));
    item->res = res;
    item->item = 1;

    err = cairn_route_add(cmd, res->path, CAIRN_M_ANY, &mod_rest_module,
                          coll);
    if (err == NULL) {
        err = cairn_route_add(cmd, cairn_arena_printf(a, "%s/:id",
                                                      res->path),
                              CAIRN_M_ANY, &mod_rest_module, item);
    }
    if (err != NULL) {
        return cairn_arena_printf(a, "<Resource %s>: %s", p, err);
    }

    *tail = res;

    /* The body is applied after this returns; post_config checks the
     * whole declaration. */
    return cairn_cmd_section(cmd, mod_rest_resource_directives, res);
}


static const char *
mod_rest_set_openapi(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_rest_conf_t   *rc = conf;
    mod_rest_oa_t     *oa;
    mod_rest_route_t  *route;
    cairn_arena_t     *a = cairn_cmd_arena(cmd);
    const char        *err;

    if (argv[0][0] != '/') {
        return "RestOpenAPI takes a path starting with / (/openapi.json)";
    }
    if (rc->openapi != NULL) {
        return "RestOpenAPI is given twice in this scope";
    }

    oa = cairn_arena_calloc(a, sizeof(*oa));
    oa->path = cairn_arena_strdup(a, argv[0]);
    route = cairn_arena_calloc(a, sizeof(*route));
    route->oa = oa;

    err = cairn_route_add(cmd, oa->path, CAIRN_M_ANY, &mod_rest_module,
                          route);
    if (err != NULL) {
        return err;
    }
    rc->openapi = oa;

    return NULL;
}


/* Table, Key, VersionColumn, FieldFromUser: an identifier. */
static const char *
mod_rest_set_ident(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    rest_resource_t  *res = conf;
    const char       *name = cairn_cmd_name(cmd), *v;
    cairn_arena_t    *a = cairn_cmd_arena(cmd);

    if (!rest_ident_ok(argv[0])) {
        return cairn_arena_printf(a, "%s '%s' is not a valid identifier "
                                  "(^[A-Za-z_][A-Za-z0-9_]*$, at most 64 "
                                  "characters)", name, argv[0]);
    }
    v = cairn_arena_strdup(a, argv[0]);

    if (strcasecmp(name, "Table") == 0) {
        res->table = v;
    } else if (strcasecmp(name, "Key") == 0) {
        res->key = v;
    } else if (strcasecmp(name, "VersionColumn") == 0) {
        res->version_col = v;
    } else if (strcasecmp(name, "RestIdempotencyTable") == 0) {
        res->idem_table = v;
    } else {
        res->from_user = v;
    }

    return NULL;
}


static const char *
mod_rest_set_field(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    return rest_field_add(cairn_cmd_arena(cmd), conf, argc, argv);
}


static const char *
mod_rest_set_methods(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    rest_resource_t  *res = conf;
    const char       *err;
    int               i;

    res->methods = 0;
    for (i = 0; i < argc; i++) {
        err = rest_methods_parse(argv[i], &res->methods);
        if (err != NULL) {
            return cairn_arena_printf(cairn_cmd_arena(cmd), "%s, not '%s'",
                                      err, argv[i]);
        }
    }

    return NULL;
}


/* ------------------------------------------------------------------ */
/* post_config: databases exist, OpenAPI documents                    */
/* ------------------------------------------------------------------ */

typedef struct {
    cairn_server_t      *s;
    rest_resource_t    **list;
    size_t               n;
    size_t               cap;
    mod_rest_oa_t       *oas;
} mod_rest_collect_t;


static const char *
mod_rest_collect(void *conf, const char *where, void *data)
{
    mod_rest_conf_t     *rc = conf;
    mod_rest_collect_t  *col = data;
    rest_resource_t     *res, **grown;
    mod_rest_oa_t       *oa;
    cairn_arena_t       *a = cairn_server_arena(col->s);
    const char          *err;
    size_t               i;

    for (res = rc->resources; res != NULL; res = res->next) {
        for (i = 0; i < col->n; i++) {
            if (col->list[i] == res) {
                break;
            }
        }
        if (i < col->n) {
            continue;
        }
        if (col->n == col->cap) {
            col->cap = col->cap ? col->cap * 2 : 8;
            grown = cairn_arena_alloc(a, col->cap * sizeof(*grown));
            if (col->n > 0) {
                memcpy(grown, col->list, col->n * sizeof(*grown));
            }
            col->list = grown;
        }
        col->list[col->n++] = res;

        if (res->methods == 0) {
            res->methods = REST_METHODS_ALL;
        }
        err = res->max_body < 1 ? "MaxBodySize must be at least 1 byte"
              : res->idem_ttl_ms < 1000 ? "RestIdempotencyTTL must be at "
                                          "least 1s"
              : rest_resource_finish(a, res);
        if (err != NULL) {
            return cairn_arena_printf(a, "%s:%d: <Resource %s>: %s",
                                      res->file, res->line, res->path, err);
        }

        res->db = cairn_provider_get(col->s, CAIRN_DB_PROVIDER,
                                     res->db_name);
        if (res->db == NULL
            || !CAIRN_DB_HAS((const cairn_db_t *) res->db, release))
        {
            return cairn_arena_printf(a, "%s:%d: <Resource %s>: Database "
                                      "%s: there is no <Database %s> "
                                      "section (is mod_mysql loaded?)",
                                      res->file, res->line, res->path,
                                      res->db_name, res->db_name);
        }
    }

    if (rc->openapi != NULL) {
        for (oa = col->oas; oa != NULL; oa = oa->next) {
            if (oa == rc->openapi) {
                return NULL;
            }
        }
        rc->openapi->next = col->oas;
        col->oas = rc->openapi;
    }

    return NULL;
}


static int
mod_rest_post_config(cairn_server_t *s)
{
    mod_rest_collect_t   col;
    mod_rest_oa_t       *oa;
    const char          *err;
    json_t              *doc;
    char                *text;

    memset(&col, 0, sizeof(col));
    col.s = s;

    err = cairn_server_each_conf(s, &mod_rest_module, mod_rest_collect,
                                 &col);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }
    mod_rest_all = col.list;
    mod_rest_nall = col.n;

    for (oa = col.oas; oa != NULL; oa = oa->next) {
        doc = rest_openapi((const rest_resource_t *const *) col.list, col.n,
                           "cairn REST API");
        text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)
                                        | JSON_SORT_KEYS) : NULL;
        json_decref(doc);
        if (text == NULL) {
            cairn_log_error(NULL, 0, "RestOpenAPI %s: cannot build the "
                            "document", oa->path);
            return CAIRN_ERROR;
        }
        oa->len = strlen(text);
        oa->doc = cairn_arena_memdup(cairn_server_arena(s), text,
                                     oa->len + 1);
        free(text);
    }

    return CAIRN_OK;
}


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
static int
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

static int
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

    res = route->res;
    job = cairn_arena_calloc(cairn_request_arena(r), sizeof(*job));
    job->r = r;
    job->res = res;
    job->arena = cairn_request_arena(r);
    job->item = route->item;
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
    if (job->item && job->method != CAIRN_METHOD_GET
        && job->method != CAIRN_METHOD_HEAD)
    {
        mod_rest_if_match(job);
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


/* The path's id as a statement parameter: an integer for int keys. */
static int
mod_rest_parse_id(mod_rest_job_t *job)
{
    const rest_field_t  *kf = &job->res->fields[job->res->key_index];
    const char          *p;
    char                *end;
    long long            v;

    job->id = cairn_request_param(job->r, "id");
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
static void
mod_rest_if_match(mod_rest_job_t *job)
{
    const char  *p;
    char        *end;

    p = cairn_request_header(job->r, "If-Match");
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
