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
 *   GET/POST /users/:id/posts  with Relation posts /posts user_id
 *   POST   /_batch             with RestBatch: one transaction
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
 * the configuration.  Every write is atomic: POST and DELETE are one
 * statement each (a transaction of its own), PUT an explicit transaction
 * around UPDATE and reading the row back, PATCH one around SELECT ...
 * FOR UPDATE, UPDATE and reading back; the version column
 * makes the ETag and the If-Match check part of the write (UPDATE ...
 * WHERE key = ? AND version = ?).  A table without one gets row hash
 * ETags (SHA-256 of the fields), checked under SELECT ... FOR UPDATE in
 * the write's transaction.  Lists page by keyset: the cursor is the last
 * row's sort values and key, signed with a key the master makes and
 * keeps across reloads.
 *
 * Directives: <Resource /path> ... </Resource>   server, vhost, location
 *             RestOpenAPI /path                  server, vhost
 *             RestBatch /path, RestBatchMaxOperations  server, vhost
 *             (inside <Resource>: Database, Table, Key, Field, Methods,
 *             PageSize, MaxPageSize, MaxOffset, Sortable, Filterable,
 *             Relation,
 *             ResourceAutoCreate, VersionColumn, FieldFromUser,
 *             RestTemplate, MaxBodySize, RestIdempotency,
 *             RestIdempotencyTable, RestIdempotencyTTL; see README.md)
 * Hooks:      post_config (LAST), worker_init (LAST), worker_exit
 *             (MIDDLE), handler (MIDDLE), response (FIRST),
 *             error_page (MIDDLE)
 *
 * This file holds the configuration and declares the hooks.  The
 * handler and the answers are in rest_handler.c, the job that talks to
 * the database in rest_job.c, batches in rest_batch.c, the check of the
 * tables at worker start in rest_boot.c; mod_rest.h is what they share.  rest_decl.c, rest_json.c
 * and rest_openapi.c (rest.h) are the logic that needs no server.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/db.h>

#include "mod_rest.h"


typedef struct {
    rest_resource_t     *resources;     /* this scope's own */
    mod_rest_oa_t       *openapi;
    mod_rest_batch_conf_t *batch;       /* RestBatch */
    int                  batch_max;     /* RestBatchMaxOperations */
} mod_rest_conf_t;

/* What post_config gathers from every scope. */
typedef struct {
    cairn_server_t      *s;
    rest_resource_t    **list;
    size_t               n;
    size_t               cap;
    mod_rest_oa_t       *oas;
    mod_rest_batch_conf_t *batch;       /* a RestBatch, for the document */
} mod_rest_collect_t;


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
static const char *mod_rest_set_relation(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *mod_rest_set_batch(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_rest_relations_resolve(cairn_arena_t *a,
                                              rest_resource_t **list,
                                              size_t n);
static int mod_rest_post_config(cairn_server_t *s);
static const char *mod_rest_collect(void *conf, const char *where,
                                    void *data);


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
    CAIRN_DIRECTIVE_CUSTOM("Relation", CAIRN_ARGS_ONE_OR_MORE,
                           rest_resource_t, relations, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_rest_set_relation),
    CAIRN_DIRECTIVE_CUSTOM("Methods", CAIRN_ARGS_ONE_OR_MORE,
                           rest_resource_t, methods, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_rest_set_methods),
    CAIRN_DIRECTIVE_INT("PageSize", rest_resource_t, page_size,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_INT("MaxPageSize", rest_resource_t, max_page_size,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_INT("MaxOffset", rest_resource_t, max_offset,
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
    CAIRN_DIRECTIVE_CUSTOM("RestBatch", CAIRN_ARGS_ONE, mod_rest_conf_t,
                           batch, CAIRN_SCOPE_SERVER | CAIRN_SCOPE_VHOST,
                           CAIRN_MERGE_NONE, mod_rest_set_batch),
    CAIRN_DIRECTIVE_INT("RestBatchMaxOperations", mod_rest_conf_t,
                        batch_max, CAIRN_SCOPE_SERVER | CAIRN_SCOPE_VHOST,
                        CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_rest_defaults[] = {
    "(none)",
    "(none)",
    "(none)",
    "100",
};


static const cairn_hook_decl_t  mod_rest_hooks[] = {
    CAIRN_HOOK_HANDLER(mod_rest_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_rest_worker_init, CAIRN_ORDER_LAST),
    CAIRN_HOOK_WORKER_EXIT(mod_rest_worker_exit, CAIRN_ORDER_MIDDLE),
    /* First, so that later RESPONSE hooks (compression) see the
     * envelope. */
    CAIRN_HOOK_RESPONSE(mod_rest_response, CAIRN_ORDER_FIRST),
    /* The core's errors on a resource's path (a 400 for a method it
     * does not know, a body over LimitRequestBody) are envelopes too. */
    CAIRN_HOOK_ERROR_PAGE(mod_rest_error_page, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_POST_CONFIG(mod_rest_post_config, CAIRN_ORDER_LAST),
    CAIRN_HOOK_END
};


CAIRN_MODULE(rest) = {
    CAIRN_MODULE_HEADER,
    .name           = "rest",
    .version        = CAIRN_VERSION,
    .description    = "REST resources over database tables",
    .directives     = mod_rest_directives,
    .create_conf    = mod_rest_create_conf,
    .directive_defaults = mod_rest_defaults,
    .hooks          = mod_rest_hooks,
};

/* The cursor key (see mod_rest.h). */
const unsigned char  *mod_rest_cursor_key;

/*
 * Where the master keeps the cursor key across reloads, which unload
 * and load the module again (so no variable of the module survives
 * them): a private anonymous page of the master's, inherited by every
 * worker it forks, whose address the master notes in its environment.
 * The address alone is no secret; the page is only trusted when it is
 * mapped in this process and starts with the magic text.
 */
#define MOD_REST_KEY_ENV    "CAIRN_REST_CURSOR_KEY_AT"
static const char  mod_rest_key_magic[] = "cairn mod_rest cursor key v1";

/* Every resource of the configuration, for the check at worker start. */
rest_resource_t  **mod_rest_all;
size_t            mod_rest_nall;


/* ------------------------------------------------------------------ */
/* post_config: databases exist, OpenAPI documents                    */
/* ------------------------------------------------------------------ */

static int
mod_rest_cursor_key_init(void)
{
    const char          *at;
    unsigned long long   addr;
    unsigned char       *page;
    long                 size = sysconf(_SC_PAGESIZE);
    char                 buf[64];

    if (mod_rest_cursor_key != NULL) {
        return 0;
    }
    if (size < 4096) {
        size = 4096;
    }

    at = getenv(MOD_REST_KEY_ENV);
    if (at != NULL && sscanf(at, "%llx", &addr) == 1 && addr != 0
        && addr % (unsigned long long) size == 0)
    {
        page = (unsigned char *) (uintptr_t) addr;
        /* msync() fails with ENOMEM on an address not mapped here. */
        if (msync(page, (size_t) size, MS_ASYNC) == 0
            && memcmp(page, mod_rest_key_magic, sizeof(mod_rest_key_magic))
               == 0)
        {
            mod_rest_cursor_key = page + 64;
            return 0;
        }
    }

    page = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        return -1;
    }
    if (RAND_bytes(page + 64, MOD_REST_CURSOR_KEY_LEN) != 1) {
        munmap(page, (size_t) size);
        return -1;
    }
    memcpy(page, mod_rest_key_magic, sizeof(mod_rest_key_magic));
    snprintf(buf, sizeof(buf), "%llx",
             (unsigned long long) (uintptr_t) page);
    if (setenv(MOD_REST_KEY_ENV, buf, 1) != 0) {
        munmap(page, (size_t) size);
        return -1;
    }
    mod_rest_cursor_key = page + 64;

    return 0;
}


/* The RestBatch location in the OpenAPI document. */
static void
mod_rest_openapi_batch(json_t *doc, const mod_rest_batch_conf_t *bc)
{
    json_t  *op, *item;

    op = json_pack("{s:s, s:s, s:s, s:{s:b, s:{s:{s:o}}}, s:{s:{s:s}, "
                   "s:{s:s}}}",
        "operationId", "batch",
        "summary", "Several operations in one transaction",
        "description", "Each operation is a request on a resource of the "
        "same Database; they run in order in one transaction.  All "
        "succeed: 200 with data.results, each operation's envelope (with "
        "etag and location).  One fails: everything is rolled back, the "
        "status is its status and data is {index, error: its envelope}.  "
        "\"$N.field\" in a path, or as a body member's whole value, is "
        "that field of operation N's data.",
        "requestBody", "required", 1, "content", "application/json",
        "schema", json_pack(
            "{s:s, s:[s], s:{s:{s:s, s:i, s:i, s:{s:s, s:[s, s], "
            "s:{s:{s:[s, s, s, s, s]}, s:{s:s}, s:{s:s}, s:{s:s}}}}}}",
            "type", "object", "required", "operations", "properties",
            "operations", "type", "array", "minItems", 1, "maxItems",
            bc->max_ops, "items", "type", "object", "required", "method",
            "path", "properties", "method", "enum", "GET", "POST", "PUT",
            "PATCH", "DELETE", "path", "type", "string", "headers", "type",
            "object", "body", "type", "object"),
        "responses", "200", "description", "every operation succeeded",
        "default", "description", "an operation failed: nothing was "
        "written");
    item = json_object();
    json_object_set_new(item, "post", op);
    json_object_set_new(json_object_get(doc, "paths"), bc->path, item);
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

    err = mod_rest_relations_resolve(cairn_server_arena(s), col.list, col.n);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }

    if (col.n > 0 && mod_rest_cursor_key_init() != 0) {
        cairn_log_error(NULL, errno, "mod_rest: cannot make the key that "
                        "signs list cursors");
        return CAIRN_ERROR;
    }

    for (oa = col.oas; oa != NULL; oa = oa->next) {
        doc = rest_openapi((const rest_resource_t *const *) col.list, col.n,
                           "cairn REST API");
        if (doc != NULL && col.batch != NULL) {
            mod_rest_openapi_batch(doc, col.batch);
        }
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
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

static void *
mod_rest_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_rest_conf_t));
}
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
    res->max_offset = 10000;
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
/* Relation name /path field: a route /path-of-this/:id/name. */
static const char *
mod_rest_set_relation(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    rest_resource_t   *res = conf;
    rest_relation_t   *rel, **tail;
    mod_rest_route_t  *route;
    cairn_arena_t     *a = cairn_cmd_arena(cmd);
    const char        *err;

    if (argc != 3) {
        return "Relation takes a name, the path of a <Resource> and its "
               "field that holds this resource's key (Relation posts "
               "/posts user_id)";
    }
    if (!rest_ident_ok(argv[0]) || !rest_ident_ok(argv[2])) {
        return cairn_arena_printf(a, "Relation %s ... %s: the name and the "
                                  "field must be identifiers", argv[0],
                                  argv[2]);
    }
    if (argv[1][0] != '/') {
        return cairn_arena_printf(a, "Relation %s: '%s' is not the path of "
                                  "a <Resource>", argv[0], argv[1]);
    }
    for (tail = &res->relations; *tail != NULL; tail = &(*tail)->next) {
        if (strcmp((*tail)->name, argv[0]) == 0) {
            return cairn_arena_printf(a, "Relation %s is already declared",
                                      argv[0]);
        }
    }

    rel = cairn_arena_calloc(a, sizeof(*rel));
    rel->name = cairn_arena_strdup(a, argv[0]);
    rel->path = cairn_arena_strdup(a, argv[1]);
    rel->field = cairn_arena_strdup(a, argv[2]);
    rel->file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    rel->line = cairn_cmd_line(cmd);
    rel->parent = res;

    route = cairn_arena_calloc(a, sizeof(*route));
    route->res = res;
    route->rel = rel;
    err = cairn_route_add(cmd, cairn_arena_printf(a, "%s/:id/%s", res->path,
                                                  rel->name),
                          CAIRN_M_ANY, &mod_rest_module, route);
    if (err != NULL) {
        return cairn_arena_printf(a, "Relation %s: %s", rel->name, err);
    }
    *tail = rel;

    return NULL;
}


/* Each Relation's resource: declared, on the same Database, with the
 * field, which fits the key. */
static const char *
mod_rest_relations_resolve(cairn_arena_t *a, rest_resource_t **list,
                           size_t n)
{
    rest_relation_t     *rel;
    const rest_field_t  *f, *key;
    size_t               i, j;
    int                  ints;

    for (i = 0; i < n; i++) {
        for (rel = list[i]->relations; rel != NULL; rel = rel->next) {
            rel->target = NULL;
            for (j = 0; j < n; j++) {
                if (strcmp(list[j]->path, rel->path) == 0) {
                    rel->target = list[j];
                }
            }
            if (rel->target == NULL) {
                return cairn_arena_printf(a, "%s:%d: Relation %s: there is "
                                          "no <Resource %s>", rel->file,
                                          rel->line, rel->name, rel->path);
            }
            if (strcmp(rel->target->db_name, list[i]->db_name) != 0) {
                return cairn_arena_printf(a, "%s:%d: Relation %s: <Resource "
                                          "%s> uses another Database",
                                          rel->file, rel->line, rel->name,
                                          rel->path);
            }
            f = rest_field_find(rel->target, rel->field);
            key = &list[i]->fields[list[i]->key_index];
            ints = key->type == REST_T_INT || key->type == REST_T_BIGINT;
            if (f == NULL || (f->flags & (REST_F_KEY | REST_F_READONLY))
                || ints != (f->type == REST_T_INT
                            || f->type == REST_T_BIGINT)
                || (!ints && f->type != REST_T_STRING
                    && f->type != REST_T_EMAIL))
            {
                return cairn_arena_printf(a, "%s:%d: Relation %s: %s must "
                                          "be a writable Field of <Resource "
                                          "%s>, other than its Key, of the "
                                          "type of %s (%s)", rel->file,
                                          rel->line, rel->name, rel->field,
                                          rel->path, key->name,
                                          rest_type_name(key->type));
            }
        }
    }

    return NULL;
}


/* RestBatch /path: a location taking batches (its limit is read at
 * post_config, RestBatchMaxOperations may come after it). */
static const char *
mod_rest_set_batch(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_rest_conf_t        *rc = conf;
    mod_rest_batch_conf_t  *bc;
    mod_rest_route_t       *route;
    cairn_arena_t          *a = cairn_cmd_arena(cmd);
    const char             *err;

    if (argv[0][0] != '/') {
        return "RestBatch takes a path starting with / (/_batch)";
    }
    if (rc->batch != NULL) {
        return "RestBatch is given twice in this scope";
    }
    bc = cairn_arena_calloc(a, sizeof(*bc));
    bc->path = cairn_arena_strdup(a, argv[0]);
    bc->max_ops = 100;
    route = cairn_arena_calloc(a, sizeof(*route));
    route->batch = bc;
    err = cairn_route_add(cmd, bc->path, CAIRN_M_ANY, &mod_rest_module,
                          route);
    if (err != NULL) {
        return err;
    }
    rc->batch = bc;

    return NULL;
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
        res->version_set = 1;
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

        if (res->version_set) {
            cairn_log_notice(NULL, "%s:%d: <Resource %s>: ETags come from "
                             "the version column %s", res->file, res->line,
                             res->path, res->version_col);
        } else {
            cairn_log_notice(NULL, "%s:%d: <Resource %s>: ETags come from "
                             "column %s if table %s has it, else from a "
                             "hash of each row (each worker logs which when "
                             "it starts)", res->file, res->line, res->path,
                             res->version_col, res->table);
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

    if (rc->batch != NULL) {
        col->batch = rc->batch;
        if (rc->batch_max < 0 || rc->batch_max > 10000) {
            return cairn_arena_printf(a, "RestBatch %s: RestBatchMaxOperations"
                                      " must be 1 to 10000", rc->batch->path);
        }
        if (rc->batch_max > 0) {
            rc->batch->max_ops = rc->batch_max;
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
