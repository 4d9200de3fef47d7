/*
 * mod_rest.h: what the files of mod_rest share: the routes, the job of
 * a request that reaches the database, and the functions one file calls
 * in another.  Unlike rest.h, this is the request and database side;
 * only the module's own files include it, never its unit tests.
 */

#ifndef MOD_REST_MOD_REST_H
#define MOD_REST_MOD_REST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/db.h>

#include "rest.h"


typedef struct mod_rest_oa_s  mod_rest_oa_t;

/* A RestOpenAPI location: the document is made at post_config. */
struct mod_rest_oa_s {
    const char          *path;
    char                *doc;
    size_t               len;
    mod_rest_oa_t       *next;
};


/* What a route leads to. */
typedef struct {
    rest_resource_t     *res;
    mod_rest_oa_t       *oa;
    int                  item;
} mod_rest_route_t;


typedef enum {
    MOD_REST_S_SCHEMA_CREATE = 0,
    MOD_REST_S_SCHEMA_IDEM_CREATE,
    MOD_REST_S_SCHEMA_COLUMNS,
    MOD_REST_S_SCHEMA_IDEM_COLUMNS,
    MOD_REST_S_IDEM_BEGIN,
    MOD_REST_S_IDEM_GC,
    MOD_REST_S_IDEM_CLEAN,
    MOD_REST_S_IDEM_CLAIM,
    MOD_REST_S_IDEM_RECORD,
    MOD_REST_S_IDEM_LOOKUP,
    MOD_REST_S_WRITE,
    MOD_REST_S_COUNT,
    MOD_REST_S_PAGE,
    MOD_REST_S_ONE,
    MOD_REST_S_INSERT,
    MOD_REST_S_UPDATE,
    MOD_REST_S_LOCK,
    MOD_REST_S_DELETE,
    MOD_REST_S_EXISTS,
    MOD_REST_S_REREAD,
    MOD_REST_S_COMMIT,
    MOD_REST_S_ROLLBACK
} mod_rest_step_t;


typedef struct {
    cairn_request_t     *r;
    rest_resource_t     *res;
    const cairn_db_t    *db;
    cairn_db_conn_t     *conn;
    cairn_arena_t       *arena;
    cairn_method_t       method;
    mod_rest_step_t      step;
    int                  item;
    int                  in_tx;

    const char          *id;            /* from the path */
    cairn_db_param_t     key[2];        /* the id as parameters (bound
                                           res->nkey times) */
    json_t              *body;          /* the parsed body (owned) */
    int                  has_if_match;
    int64_t              if_match;      /* the version it names, or -1 */
    rest_query_t         query;
    const char          *where;         /* list: " WHERE ..." */
    cairn_db_param_t    *wparams;
    size_t               nwparams;
    json_int_t           total;
    cairn_db_param_t    *insert_params; /* kept to insert again */
    size_t               ninsert_params;

    /* Idempotency-Key (RestIdempotency on): the key, what identifies the
     * request (method, target, body), the recorded answer. */
    const char          *idem_key;
    cairn_db_param_t     idem_who[3];   /* resource, owner, key */
    cairn_db_param_t     idem_print;    /* text the fingerprint hashes */
    int                  idem_conflict; /* 1: look the key up, 2: busy */
    char                *idem_text;     /* the envelope, as recorded */
    size_t               idem_len;

    /* The answer kept while a transaction ends. */
    int                  status;
    const char          *message;
    json_t              *data;
    const char          *etag;
    const char          *location;
} mod_rest_job_t;


extern cairn_module_t  mod_rest_module;


/* mod_rest.c */

/* Every resource of the configuration (post_config), for the check at
 * worker start. */
extern rest_resource_t  **mod_rest_all;
extern size_t             mod_rest_nall;


/* rest_handler.c */

/* The handler: answers at once, or hands the request to its job and
 * returns CAIRN_SUSPENDED. */
int mod_rest_handler(cairn_request_t *r);

/* The RESPONSE hook: the envelope for an error answered on a resource's
 * path before the resource ran. */
int mod_rest_response(cairn_request_t *r);
int mod_rest_error_page(cairn_request_t *r, int status, const char *reason);

/* Answers with the envelope (data is stolen); returns what a handler
 * returns. */
int mod_rest_reply(cairn_request_t *r, rest_resource_t *res, int status,
                   const char *message, json_t *data);

/* json_decref() as an arena cleanup. */
void mod_rest_decref(void *data);

/* s as a string parameter of a statement. */
void mod_rest_text_param(cairn_db_param_t *p, const char *s);


/* rest_job.c */

/* The database provider's acquire callback: the job's first
 * statement. */
void mod_rest_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                       const cairn_db_error_t *err, void *data);

/* The request's cancel callback: releases the job's connection. */
void mod_rest_cancel(cairn_request_t *r, void *data);


/* rest_boot.c */

/* worker_init: starts the check of every resource's tables. */
int mod_rest_worker_init(cairn_server_t *s);

/* worker_exit: drops the state of that check. */
int mod_rest_worker_exit(cairn_server_t *s);

/* The columns of a table (its name is the one parameter) from
 * information_schema, with what the type check needs. */
extern const char  mod_rest_sql_columns[];

/*
 * The verdicts on the columns found (rows of mod_rest_sql_columns):
 * REST_SCHEMA_OK or REST_SCHEMA_BAD, recorded in rs and logged, for the
 * resource's table and for its Idempotency-Key table.  r may be NULL
 * (the check at worker start).
 */
int mod_rest_schema_verdict(rest_resource_t *rs,
                            const cairn_db_result_t *res,
                            cairn_request_t *r, cairn_arena_t *a);
int mod_rest_idem_verdict(rest_resource_t *rs, const cairn_db_result_t *res,
                          cairn_request_t *r);

#endif /* MOD_REST_MOD_REST_H */
