/*
 * cairn/defs.h: macros shared by every public header.
 */

#ifndef CAIRN_DEFS_H
#define CAIRN_DEFS_H

#include <stddef.h>
#include <stdint.h>

/* Marks the functions cairnd exports to modules (everything else in the
 * core is hidden). */
#define CAIRN_API           __attribute__((visibility("default")))

/* Marks the one symbol a module exports: its descriptor. */
#define CAIRN_EXPORT        __attribute__((visibility("default")))

#define CAIRN_PRINTF(fmt, first) \
    __attribute__((format(printf, fmt, first)))

/* Hook and API return codes.  A request hook may also return an HTTP
 * status >= 400 to abort the request with that status. */
#define CAIRN_OK            0       /* done with this phase, go on */
#define CAIRN_DECLINED      (-1)    /* not mine: ask the next hook */
#define CAIRN_DONE          (-2)    /* response complete: skip to log */
#define CAIRN_SUSPENDED     (-3)    /* waiting: cairn_request_resume() later */
#define CAIRN_ERROR         (-4)    /* failure: 500 for requests */

typedef struct cairn_module_s     cairn_module_t;
typedef struct cairn_server_s     cairn_server_t;
typedef struct cairn_conn_s       cairn_conn_t;
typedef struct cairn_request_s    cairn_request_t;
typedef struct cairn_cmd_s        cairn_cmd_t;
typedef struct cairn_directive_s  cairn_directive_t;

/* A list of strings, as kept by list directives (CAIRN_TYPE_LIST). */
typedef struct {
    size_t        n;
    const char  **v;
} cairn_strv_t;

/* One key and value, as kept by key directives (CAIRN_TYPE_KV). */
typedef struct {
    const char   *key;
    const char   *value;
} cairn_kv_t;

typedef struct {
    size_t        n;
    cairn_kv_t   *v;
} cairn_kvv_t;

#endif /* CAIRN_DEFS_H */
