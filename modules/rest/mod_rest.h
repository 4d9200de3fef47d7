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
    rest_relation_t     *rel;           /* /users/{id}/posts */
    void                *batch;         /* mod_rest_batch_conf_t */
} mod_rest_route_t;

/* The relations one GET of an item may embed. */
#define MOD_REST_EMBED_MAX  8


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
    MOD_REST_S_ROLLBACK,
    MOD_REST_S_RETRY,               /* rolling back to try again */
    MOD_REST_S_EMBED
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
    const char          *if_match_text; /* the header (row hash ETags) */
    int                  hash;          /* ETags are row hashes */
    int                  started;       /* mod_rest_start() ran */
    int                  retried;       /* after a deadlock/lock wait */
    int                  has_if_match0; /* has_if_match as the client
                                           sent it */
    rest_query_t         query;
    const char          *where;         /* list: " WHERE ..." */
    cairn_db_param_t    *wparams;
    size_t               nwparams;
    json_int_t           total;
    json_t              *after;         /* a cursor's row: sort values,
                                           key (owned) */
    struct mod_rest_batch_s *batch;     /* an operation of a batch */
    rest_relation_t     *rel;           /* a nested list or create */
    const char          *parent_id;     /* its parent's id, from the path */
    rest_relation_t     *embed[MOD_REST_EMBED_MAX];
    size_t               nembed;
    size_t               embed_i;
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


/* The key that signs list cursors (MOD_REST_CURSOR_KEY_LEN bytes):
 * made once in the master, before the workers are forked, and kept
 * across reloads; NULL when it could not be made. */
#define MOD_REST_CURSOR_KEY_LEN 32
extern const unsigned char  *mod_rest_cursor_key;


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

/* The item's id (job->id, else the route's :id) as the key's
 * parameters; -1 when it cannot be a key. */
int mod_rest_parse_id(mod_rest_job_t *job);

/* The parent's id of a relation's path (job->parent_id, else the
 * route's :id), checked; -1 when it cannot be the parent's key. */
int mod_rest_parent_id(mod_rest_job_t *job, rest_relation_t *rel);

/* ?embed=a,b of a GET of an item (query may be NULL): the relations
 * into the job; NULL, or what is wrong. */
const char *mod_rest_embed_parse(mod_rest_job_t *job, const char *query);

/* An If-Match header's value (NULL: none) into the job. */
void mod_rest_if_match(mod_rest_job_t *job, const char *value);


/* rest_job.c */

/* The database provider's acquire callback: the job's first
 * statement. */
void mod_rest_acquired(cairn_request_t *r, cairn_db_conn_t *c,
                       const cairn_db_error_t *err, void *data);

/* The request's cancel callback: releases the job's connection. */
void mod_rest_cancel(cairn_request_t *r, void *data);

/* Checks the signature of the query's cursor and takes its row (and
 * limit) into the job; -1 when it is not valid for this query. */
int mod_rest_cursor_open(mod_rest_job_t *job);

/* Runs a job on a connection it was given (a batch's operation). */
void mod_rest_job_start(mod_rest_job_t *job);


/* rest_batch.c */

/* RestBatch /path: the location and its limit. */
typedef struct {
    const char          *path;
    int                  max_ops;       /* RestBatchMaxOperations */
} mod_rest_batch_conf_t;

/* The handler of a RestBatch location. */
int mod_rest_batch_handler(cairn_request_t *r, mod_rest_batch_conf_t *bc);

/* An operation's job ended (its status, message, data, etag, location
 * are set): the next operation, or the end of the batch. */
void mod_rest_batch_done(mod_rest_job_t *job);


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
