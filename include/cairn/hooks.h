/*
 * cairn/hooks.h: registering hooks into the server and request pipeline.
 *
 * A module registers its hooks from register_hooks().  Each registration
 * gives an order (CAIRN_ORDER_FIRST, _MIDDLE, _LAST plus a small integer
 * to break ties) and optional NULL-terminated lists of module names that
 * must run before or after it.  The core sorts every phase once per
 * configuration generation; a cycle is a configuration error, and
 * `cairnd -H` prints the resulting order.
 *
 * Request phases run in this order:
 *
 *   POST_READ_REQUEST  headers parsed: request ids, rewrites
 *   ROUTE              pick the handler; the core router fills params
 *   ACCESS             decisions by client address
 *   AUTHENTICATE       who is it (cairn_request_set_user)
 *   AUTHORIZE          may they: return 401 or 403
 *   FIXUPS             last changes before the handler
 *   (the request body, if any, is read here: see request.h)
 *   HANDLER            the first hook that does not decline answers;
 *                      none: 404
 *   RESPONSE           status, headers and body may still change
 *   LOG                after the last byte went out or the client left
 *
 * In every phase but HANDLER all hooks run until one returns something
 * other than CAIRN_OK or CAIRN_DECLINED.  A hook returns:
 *
 *   CAIRN_DECLINED     not mine
 *   CAIRN_OK           done with this phase (HANDLER: the response is set)
 *   CAIRN_DONE         response complete, skip to LOG
 *   CAIRN_SUSPENDED    waiting: call cairn_request_resume() later
 *   a status >= 400    abort with that status (the core writes the error
 *                      response, which RESPONSE hooks may still replace)
 *
 * In the LOG phase the return value is ignored.
 */

#ifndef CAIRN_HOOKS_H
#define CAIRN_HOOKS_H

#include <cairn/defs.h>

typedef enum {
    CAIRN_PHASE_POST_READ_REQUEST = 0,
    CAIRN_PHASE_ROUTE,
    CAIRN_PHASE_ACCESS,
    CAIRN_PHASE_AUTHENTICATE,
    CAIRN_PHASE_AUTHORIZE,
    CAIRN_PHASE_FIXUPS,
    CAIRN_PHASE_HANDLER,
    CAIRN_PHASE_RESPONSE,
    CAIRN_PHASE_LOG,
    CAIRN_PHASE_COUNT
} cairn_phase_t;

typedef enum {
    CAIRN_SERVER_PRE_CONFIG = 0,    /* before the module's directives */
    CAIRN_SERVER_POST_CONFIG,       /* validate; failing fails -t */
    CAIRN_SERVER_WORKER_INIT,       /* in each worker, before accepting */
    CAIRN_SERVER_WORKER_EXIT,       /* in each worker, before it exits */
    CAIRN_SERVER_REOPEN_LOGS,       /* SIGUSR1, in the master (as root)
                                       then in every worker: reopen log
                                       files (cairn_log_file_open) */
    CAIRN_SERVER_HOOK_COUNT
} cairn_server_hook_t;

typedef enum {
    CAIRN_CONN_OPEN = 0,            /* accepted; non-OK closes it */
    CAIRN_CONN_CLOSE,               /* about to close */
    CAIRN_CONN_HOOK_COUNT
} cairn_conn_hook_t;

#define CAIRN_ORDER_FIRST       0
#define CAIRN_ORDER_MIDDLE      10
#define CAIRN_ORDER_LAST        20

typedef int (*cairn_request_hook_cb)(cairn_request_t *r);
typedef int (*cairn_server_hook_cb)(cairn_server_t *s);
typedef int (*cairn_conn_hook_cb)(cairn_conn_t *c);

/*
 * Error page renderers (ABI 1.6).  Whenever the core writes an error
 * page for r (a hook returned a status >= 400, nothing answered, the
 * request could not be read or prepared: a parse error, a body over
 * LimitRequestBody, and every cairn_respond_error() call), it first asks
 * these hooks, in order: status is the status, reason the sentence that
 * says why (NULL when nobody said).  A hook that writes the page itself
 * (cairn_respond() with the same status, or cairn_response_set_body()
 * and a Content-Type) returns CAIRN_OK and the core's page is not
 * written; CAIRN_DECLINED lets the next hook, then the core, do it.
 * The hook runs for requests whose phases may not have run (a request
 * that could not be read has its location, and its route when its
 * path matched one, but ran no hook), and must not suspend, stream or
 * call cairn_respond_error() (which would not ask it again).  Headers
 * set so far (Allow, WWW-Authenticate) stay.
 */
typedef int (*cairn_error_page_cb)(cairn_request_t *r, int status,
                                   const char *reason);

CAIRN_API int cairn_hook_error_page(cairn_module_t *m, cairn_error_page_cb fn,
                                    int order, int n,
                                    const char *const *before,
                                    const char *const *after);


/*
 * Registers fn in a request phase.  order is CAIRN_ORDER_* and n breaks
 * ties inside it (lower runs first); before and after are NULL or
 * NULL-terminated lists of module names.  Returns CAIRN_OK or CAIRN_ERROR
 * (only called from register_hooks).
 */
CAIRN_API int cairn_hook_request(cairn_module_t *m, cairn_phase_t phase,
                                 cairn_request_hook_cb fn, int order, int n,
                                 const char *const *before,
                                 const char *const *after);

/* Registers a server hook.  A post_config hook returning anything but
 * CAIRN_OK fails the configuration; it should log why first. */
CAIRN_API int cairn_hook_server(cairn_module_t *m, cairn_server_hook_t which,
                                cairn_server_hook_cb fn, int order, int n,
                                const char *const *before,
                                const char *const *after);

/* Registers a connection hook. */
CAIRN_API int cairn_hook_conn(cairn_module_t *m, cairn_conn_hook_t which,
                              cairn_conn_hook_cb fn, int order, int n,
                              const char *const *before,
                              const char *const *after);


#define CAIRN__HOOK_REQ(fname, phase)                                        \
    static inline int                                                        \
    fname(cairn_module_t *m, cairn_request_hook_cb fn, int order, int n,     \
          const char *const *before, const char *const *after)               \
    {                                                                        \
        return cairn_hook_request(m, phase, fn, order, n, before, after);    \
    }

CAIRN__HOOK_REQ(cairn_hook_post_read_request, CAIRN_PHASE_POST_READ_REQUEST)
CAIRN__HOOK_REQ(cairn_hook_route, CAIRN_PHASE_ROUTE)
CAIRN__HOOK_REQ(cairn_hook_access, CAIRN_PHASE_ACCESS)
CAIRN__HOOK_REQ(cairn_hook_authenticate, CAIRN_PHASE_AUTHENTICATE)
CAIRN__HOOK_REQ(cairn_hook_authorize, CAIRN_PHASE_AUTHORIZE)
CAIRN__HOOK_REQ(cairn_hook_fixups, CAIRN_PHASE_FIXUPS)
CAIRN__HOOK_REQ(cairn_hook_handler, CAIRN_PHASE_HANDLER)
CAIRN__HOOK_REQ(cairn_hook_response, CAIRN_PHASE_RESPONSE)
CAIRN__HOOK_REQ(cairn_hook_log, CAIRN_PHASE_LOG)

#define CAIRN__HOOK_SRV(fname, which)                                        \
    static inline int                                                        \
    fname(cairn_module_t *m, cairn_server_hook_cb fn, int order, int n,      \
          const char *const *before, const char *const *after)               \
    {                                                                        \
        return cairn_hook_server(m, which, fn, order, n, before, after);     \
    }

CAIRN__HOOK_SRV(cairn_hook_pre_config, CAIRN_SERVER_PRE_CONFIG)
CAIRN__HOOK_SRV(cairn_hook_post_config, CAIRN_SERVER_POST_CONFIG)
CAIRN__HOOK_SRV(cairn_hook_worker_init, CAIRN_SERVER_WORKER_INIT)
CAIRN__HOOK_SRV(cairn_hook_worker_exit, CAIRN_SERVER_WORKER_EXIT)
CAIRN__HOOK_SRV(cairn_hook_reopen_logs, CAIRN_SERVER_REOPEN_LOGS)

/*
 * ABI 1.2: hooks declared in the descriptor (cairn_module_t.hooks), a
 * table the loader registers before calling register_hooks (which is then
 * needed only for hooks that depend on the configuration):
 *
 *     static const cairn_hook_decl_t  mod_hello_hooks[] = {
 *         CAIRN_HOOK_HANDLER(mod_hello_handler, CAIRN_ORDER_MIDDLE),
 *         CAIRN_HOOK_POST_CONFIG(mod_hello_check, CAIRN_ORDER_LAST),
 *         CAIRN_HOOK_END
 *     };
 *
 * Each macro checks the function's type at compile time.  For a
 * tie-breaker or before/after lists, CAIRN_HOOK_DECL(kind, type, fn,
 * order, n, before, after).
 */
typedef struct cairn_hook_decl_s {
    int                      kind;      /* CAIRN_HOOK_KIND_*; -1 ends */
    void                   (*fn)(void);
    int                      order;
    int                      n;
    const char *const       *before;
    const char *const       *after;
} cairn_hook_decl_t;

/* Kinds: stable numbers, whatever phases later ABIs add. */
#define CAIRN_HOOK_KIND_PHASE(p)        ((int) (p))
#define CAIRN_HOOK_KIND_SERVER(w)       (100 + (int) (w))
#define CAIRN_HOOK_KIND_CONN(w)         (200 + (int) (w))
#define CAIRN_HOOK_KIND_HEADER_FILTER   300
#define CAIRN_HOOK_KIND_BODY_FILTER     301
#define CAIRN_HOOK_KIND_ERROR_PAGE      302     /* ABI 1.6 */

#define CAIRN_HOOK_DECL(kind, type, fn, order, n, before, after)            \
    { (kind), (void (*)(void)) (1 ? (fn) : (type) 0), (order), (n),          \
      (before), (after) }

#define CAIRN__HOOK_P(phase, fn, order)                                      \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_PHASE(phase), cairn_request_hook_cb,     \
                    fn, order, 0, NULL, NULL)
#define CAIRN__HOOK_S(which, fn, order)                                      \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_SERVER(which), cairn_server_hook_cb,     \
                    fn, order, 0, NULL, NULL)

#define CAIRN_HOOK_POST_READ_REQUEST(fn, order)                              \
    CAIRN__HOOK_P(CAIRN_PHASE_POST_READ_REQUEST, fn, order)
#define CAIRN_HOOK_ROUTE(fn, order)                                          \
    CAIRN__HOOK_P(CAIRN_PHASE_ROUTE, fn, order)
#define CAIRN_HOOK_ACCESS(fn, order)                                         \
    CAIRN__HOOK_P(CAIRN_PHASE_ACCESS, fn, order)
#define CAIRN_HOOK_AUTHENTICATE(fn, order)                                   \
    CAIRN__HOOK_P(CAIRN_PHASE_AUTHENTICATE, fn, order)
#define CAIRN_HOOK_AUTHORIZE(fn, order)                                      \
    CAIRN__HOOK_P(CAIRN_PHASE_AUTHORIZE, fn, order)
#define CAIRN_HOOK_FIXUPS(fn, order)                                         \
    CAIRN__HOOK_P(CAIRN_PHASE_FIXUPS, fn, order)
#define CAIRN_HOOK_HANDLER(fn, order)                                        \
    CAIRN__HOOK_P(CAIRN_PHASE_HANDLER, fn, order)
#define CAIRN_HOOK_RESPONSE(fn, order)                                       \
    CAIRN__HOOK_P(CAIRN_PHASE_RESPONSE, fn, order)
#define CAIRN_HOOK_LOG(fn, order)                                            \
    CAIRN__HOOK_P(CAIRN_PHASE_LOG, fn, order)
#define CAIRN_HOOK_PRE_CONFIG(fn, order)                                     \
    CAIRN__HOOK_S(CAIRN_SERVER_PRE_CONFIG, fn, order)
#define CAIRN_HOOK_POST_CONFIG(fn, order)                                    \
    CAIRN__HOOK_S(CAIRN_SERVER_POST_CONFIG, fn, order)
#define CAIRN_HOOK_WORKER_INIT(fn, order)                                    \
    CAIRN__HOOK_S(CAIRN_SERVER_WORKER_INIT, fn, order)
#define CAIRN_HOOK_WORKER_EXIT(fn, order)                                    \
    CAIRN__HOOK_S(CAIRN_SERVER_WORKER_EXIT, fn, order)
#define CAIRN_HOOK_REOPEN_LOGS(fn, order)                                    \
    CAIRN__HOOK_S(CAIRN_SERVER_REOPEN_LOGS, fn, order)
#define CAIRN_HOOK_CONN_OPEN(fn, order)                                      \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_CONN(CAIRN_CONN_OPEN),                   \
                    cairn_conn_hook_cb, fn, order, 0, NULL, NULL)
#define CAIRN_HOOK_CONN_CLOSE(fn, order)                                     \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_CONN(CAIRN_CONN_CLOSE),                  \
                    cairn_conn_hook_cb, fn, order, 0, NULL, NULL)
#define CAIRN_HOOK_ERROR_PAGE(fn, order)                                     \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_ERROR_PAGE, cairn_error_page_cb, fn,     \
                    order, 0, NULL, NULL)
/* The filter kinds' types are in filter.h: CAIRN_HOOK_HEADER_FILTER and
 * CAIRN_HOOK_BODY_FILTER are defined there. */

#define CAIRN_HOOK_END          { -1, NULL, 0, 0, NULL, NULL }

/* The name of a phase ("handler"), for messages. */
CAIRN_API const char *cairn_phase_name(cairn_phase_t phase);

#endif /* CAIRN_HOOKS_H */
