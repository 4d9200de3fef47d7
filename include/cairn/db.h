/*
 * cairn/db.h: the database provider contract (cairn_db_t), as mod_mysql
 * provides it.  (It was cairn/mysql.h; that header still includes this
 * one.)
 *
 * Every <Database name> section of mod_mysql registers a provider of kind
 * "db" under its name (provider.h).  Another module looks it up, normally
 * in post_config so that a missing database fails `cairnd -t`:
 *
 *     const cairn_db_t  *db;
 *
 *     db = cairn_provider_get(s, CAIRN_DB_PROVIDER, "main");
 *     if (db == NULL || !CAIRN_DB_HAS(db, rollback)) { ...fail... }
 *
 * and then, for a request:
 *
 *     handler:     db->acquire(db, r, got_conn, ctx);  return SUSPENDED
 *     got_conn:    error?  resume(r, cairn_db_status(err))
 *                  else    db->query(c, "SELECT ... WHERE id = ?",
 *                                    params, 1, got_rows, ctx)
 *     got_rows:    build the response from res->rows; resume(r, OK)
 *
 * Rules:
 *
 *   - Every function and every callback runs on the worker's loop thread.
 *     A callback never runs inside the call that started the operation:
 *     it always comes later from the loop, so a handler can start an
 *     operation and return CAIRN_SUSPENDED, and the callback may call
 *     cairn_request_resume().
 *   - One operation at a time per connection: start the next one from
 *     the callback of the previous one.  A second call while one is
 *     running returns CAIRN_ERROR and changes nothing.
 *   - A connection belongs to the request that acquired it.  It goes back
 *     to the pool when release() is called, or by itself when the request
 *     arena is freed (after LOG, or after the client went away).  A
 *     transaction still open then is rolled back; an operation still
 *     running then is aborted by dropping the connection (the server
 *     rolls back).  No callback runs for a request after its release.
 *   - In a cancel callback (async.h) call release(): the query in flight
 *     is abandoned at once.  If the module does not, the arena cleanup
 *     does the same a little later.
 *   - Results (rows, strings in errors) belong to the request: rows is
 *     freed with the request arena; take a reference (json_incref) only
 *     for use within the request.
 *   - Statements are always prepared; values travel as typed parameters,
 *     never inside the SQL text.
 *
 * The table starts with its size and version so that it can grow: check
 * CAIRN_DB_HAS(db, member) before using a member added after version 1.
 */

#ifndef CAIRN_DB_H
#define CAIRN_DB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cairn/defs.h>

#define CAIRN_DB_PROVIDER       "db"
#define CAIRN_DB_API_VERSION    2

/* Whether the provider's table is large enough to hold member. */
#define CAIRN_DB_HAS(db, member)                                             \
    ((db)->size >= offsetof(cairn_db_t, member) + sizeof((db)->member)      \
     && (db)->member != NULL)


/* What went wrong, in kinds a caller can map to a status. */
typedef enum {
    CAIRN_DB_OK = 0,
    CAIRN_DB_UNAVAILABLE,       /* server down, connection lost, no free
                                   connection within PoolTimeout: 503 */
    CAIRN_DB_TIMEOUT,           /* the statement ran past QueryTimeout */
    CAIRN_DB_DUPLICATE,         /* unique or primary key violated: 409 */
    CAIRN_DB_CONSTRAINT,        /* foreign key, NOT NULL, CHECK, range */
    CAIRN_DB_SYNTAX,            /* bad SQL, unknown table or column */
    CAIRN_DB_OTHER              /* anything else, misuse included */
} cairn_db_errkind_t;

typedef struct {
    cairn_db_errkind_t   kind;
    unsigned int         code;          /* server/client errno, or 0 */
    char                 sqlstate[6];   /* "23000", or "" */
    const char          *message;       /* request arena; never NULL */
} cairn_db_error_t;


/* A typed parameter for a '?' placeholder. */
typedef enum {
    CAIRN_DB_NULL = 0,
    CAIRN_DB_INT,               /* v.i */
    CAIRN_DB_DOUBLE,            /* v.d */
    CAIRN_DB_STRING,            /* v.s: text in the connection's charset */
    CAIRN_DB_BLOB               /* v.s: bytes */
} cairn_db_type_t;

typedef struct {
    cairn_db_type_t      type;
    union {
        int64_t          i;
        double           d;
        struct {
            const void  *p;
            size_t       len;
        }                s;
    }                    v;
} cairn_db_param_t;


/*
 * The result of one statement.  rows is a JSON array with one object per
 * row, keyed by column name (or alias): integers as JSON integers
 * (BIGINT UNSIGNED values above INT64_MAX as strings of their exact
 * digits, like DECIMAL), FLOAT/DOUBLE as reals,
 * DECIMAL as a string (exact), NULL as null, dates, times, text and
 * binary as strings.  Statements without a result set give an empty
 * array.
 */
typedef struct {
    json_t              *rows;
    size_t               nrows;
    uint64_t             affected_rows;
    uint64_t             insert_id;
} cairn_db_result_t;


typedef struct cairn_db_s       cairn_db_t;
typedef struct cairn_db_conn_s  cairn_db_conn_t;

/* c is NULL exactly when err is not NULL. */
typedef void (*cairn_db_acquire_cb)(cairn_request_t *r, cairn_db_conn_t *c,
                                    const cairn_db_error_t *err, void *data);

/* res is NULL exactly when err is not NULL. */
typedef void (*cairn_db_query_cb)(cairn_request_t *r,
                                  const cairn_db_result_t *res,
                                  const cairn_db_error_t *err, void *data);

/* err is NULL on success. */
typedef void (*cairn_db_done_cb)(cairn_request_t *r,
                                 const cairn_db_error_t *err, void *data);


struct cairn_db_s {
    uint32_t     size;          /* sizeof(cairn_db_t) of the provider */
    uint32_t     version;       /* CAIRN_DB_API_VERSION of the provider */
    const char  *name;          /* the <Database> name */

    /*
     * Gets a connection for r: cb runs when one is free (possibly after
     * waiting), or with CAIRN_DB_UNAVAILABLE after PoolTimeout or when
     * the server cannot be reached.  Returns CAIRN_OK (cb will run) or
     * CAIRN_ERROR (not in a worker; cb will not run).
     */
    int        (*acquire)(const cairn_db_t *db, cairn_request_t *r,
                          cairn_db_acquire_cb cb, void *data);

    /*
     * Prepares sql (placeholders '?') and runs it with nparams params
     * (copied before the call returns).  A statement that fails leaves
     * the connection usable unless the error is CAIRN_DB_UNAVAILABLE or
     * CAIRN_DB_TIMEOUT, after which the connection is gone and every
     * further call fails the same way.
     */
    int        (*query)(cairn_db_conn_t *c, const char *sql,
                        const cairn_db_param_t *params, size_t nparams,
                        cairn_db_query_cb cb, void *data);

    /* START TRANSACTION, COMMIT, ROLLBACK. */
    int        (*begin)(cairn_db_conn_t *c, cairn_db_done_cb cb, void *data);
    int        (*commit)(cairn_db_conn_t *c, cairn_db_done_cb cb, void *data);
    int        (*rollback)(cairn_db_conn_t *c, cairn_db_done_cb cb,
                           void *data);

    /* Gives the connection back now (see the rules above).  c must not
     * be used afterwards.  Calling it twice is harmless. */
    void       (*release)(cairn_db_conn_t *c);

    /* The name of an error kind ("duplicate"), for messages and logs. */
    const char *(*kind_name)(cairn_db_errkind_t kind);

    /*
     * Version 2.  Gets a connection for work that belongs to no request
     * (checking a schema when a worker starts, a periodic job): like
     * acquire(), but every callback gets r == NULL, results live until
     * release(), and nothing releases the connection by itself: call
     * release() when done (also from a callback).  Returns CAIRN_ERROR
     * outside a worker.
     */
    int        (*acquire_detached)(const cairn_db_t *db,
                                   cairn_db_acquire_cb cb, void *data);
};


/* The HTTP status usually given for an error (unavailable and timeout
 * 503, duplicate 409, constraint 422, syntax and other 500). */
static inline int
cairn_db_status(const cairn_db_error_t *err)
{
    switch (err->kind) {
    case CAIRN_DB_UNAVAILABLE:
    case CAIRN_DB_TIMEOUT:
        return 503;
    case CAIRN_DB_DUPLICATE:
        return 409;
    case CAIRN_DB_CONSTRAINT:
        return 422;
    default:
        return 500;
    }
}

#endif /* CAIRN_DB_H */
