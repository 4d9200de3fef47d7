/*
 * core/hooks_int.h: hook registration and ordering.
 *
 * Modules register hooks from register_hooks(); the registrations go into
 * the hook table of the generation being built (cairn__hooks_building).
 * cairn__hooks_sort() then orders every phase once: by (order, n), keeping
 * registration order for ties, under the constraints of the before/after
 * lists (a name that is not loaded is ignored).  A cycle fails with a
 * message naming the modules in it.
 */

#ifndef CAIRN_HOOKS_INT_H
#define CAIRN_HOOKS_INT_H

#include <cairn/cairn.h>

/* Hook kinds: request phases first, then server hooks, then connection
 * hooks, then the output filters, then the error page renderers. */
#define CAIRN__HOOK_SERVER_BASE     CAIRN_PHASE_COUNT
#define CAIRN__HOOK_CONN_BASE       (CAIRN__HOOK_SERVER_BASE                 \
                                     + CAIRN_SERVER_HOOK_COUNT)
#define CAIRN__HOOK_HEADER_FILTER   (CAIRN__HOOK_CONN_BASE                   \
                                     + CAIRN_CONN_HOOK_COUNT)
#define CAIRN__HOOK_BODY_FILTER     (CAIRN__HOOK_HEADER_FILTER + 1)
#define CAIRN__HOOK_ERROR_PAGE      (CAIRN__HOOK_BODY_FILTER + 1)
#define CAIRN__HOOK_KINDS           (CAIRN__HOOK_ERROR_PAGE + 1)

typedef struct {
    cairn_module_t          *module;
    union {
        cairn_request_hook_cb   req;
        cairn_server_hook_cb    srv;
        cairn_conn_hook_cb      conn;
        cairn_header_filter_cb  header;
        cairn_body_filter_cb    body;
        cairn_error_page_cb     error;
        void                  (*any)(void);
    } fn;
    int                      order;
    int                      n;
    unsigned                 seq;           /* registration order */
    const char *const       *before;
    const char *const       *after;
} cairn__hook_t;

typedef struct {
    cairn__hook_t           *v;
    size_t                   n;
    size_t                   cap;
} cairn__hook_list_t;

typedef struct cairn__hooks_s {
    cairn_arena_t           *arena;
    cairn__hook_list_t       kind[CAIRN__HOOK_KINDS];
    unsigned                 seq;
} cairn__hooks_t;

/* Creates an empty table in arena a. */
cairn__hooks_t *cairn__hooks_create(cairn_arena_t *a);

/* Where cairn_hook_*() registrations go; set by the loader around
 * register_hooks() calls. */
extern cairn__hooks_t *cairn__hooks_building;

/* Adds a registration to kind (a phase, CAIRN__HOOK_SERVER_BASE + which,
 * or CAIRN__HOOK_CONN_BASE + which).  Returns CAIRN_OK or CAIRN_ERROR. */
int cairn__hooks_add(cairn__hooks_t *h, int kind, cairn_module_t *m,
                     void (*fn)(void), int order, int n,
                     const char *const *before, const char *const *after);

/*
 * Adds the hooks a module declares in its descriptor (ABI 1.2), up to
 * CAIRN_HOOK_END.  Returns CAIRN_OK, or CAIRN_ERROR with a message in
 * err for an unknown kind or a missing function.
 */
int cairn__hooks_add_decls(cairn__hooks_t *h, cairn_module_t *m,
                           const cairn_hook_decl_t *d, char *err,
                           size_t errlen);

/*
 * Sorts every kind in place.  Returns 0, or -1 with a message such as
 * "hook order cycle in phase 'handler': mod_a runs before mod_b, which
 * runs before mod_a" written into err (errlen bytes).
 */
int cairn__hooks_sort(cairn__hooks_t *h, char *err, size_t errlen);

/* The name of a hook kind ("handler", "post_config", "connection_open"). */
const char *cairn__hook_kind_name(int kind);

#endif /* CAIRN_HOOKS_INT_H */
