/*
 * mod_test_hooks: records which request phases ran, in order.
 *
 * A hook in every request phase appends the phase's name to a list kept
 * in the request's module context, then declines (so other modules see
 * every request as if this one were absent).  For paths under /hooks/:
 *
 *   handler   answers 200 text/plain with the phases seen so far, comma
 *             separated, and a newline:
 *             "post_read_request,route,access,authenticate,authorize,
 *              fixups,handler\n" (one line);
 *             and the header X-Test-Hooks-Order: N (see TestHooksOrder)
 *   response  adds "X-Test-Response: seen" and "X-Test-Phases: <list>",
 *             the list now ending in ",response"
 *   log       logs "test_hooks phases: <list>" at notice level, the list
 *             ending in ",log"
 *
 * Directives: TestHooksOrder N   server, vhost, location  default 0
 *             An integer with no effect on the hooks: it only proves that
 *             a module's directives are parsed and merged; the handler
 *             echoes it in X-Test-Hooks-Order.
 * Hooks:      every request phase (FIRST)
 */

#include <string.h>

#include <cairn/cairn.h>


typedef struct {
    int          order;
} mod_test_hooks_conf_t;

/* Per request: the phases seen, comma separated. */
typedef struct {
    const char  *seen;
} mod_test_hooks_ctx_t;


static void *mod_test_hooks_create_conf(cairn_arena_t *a);
static int mod_test_hooks_register(cairn_module_t *m);
static int mod_test_hooks_post_read_request(cairn_request_t *r);
static int mod_test_hooks_route(cairn_request_t *r);
static int mod_test_hooks_access(cairn_request_t *r);
static int mod_test_hooks_authenticate(cairn_request_t *r);
static int mod_test_hooks_authorize(cairn_request_t *r);
static int mod_test_hooks_fixups(cairn_request_t *r);
static int mod_test_hooks_handler(cairn_request_t *r);
static int mod_test_hooks_response(cairn_request_t *r);
static int mod_test_hooks_log(cairn_request_t *r);
static const char *mod_test_hooks_note(cairn_request_t *r,
                                       cairn_phase_t phase);
static int mod_test_hooks_is_mine(cairn_request_t *r);


static const cairn_directive_t  mod_test_hooks_directives[] = {
    CAIRN_DIRECTIVE_INT("TestHooksOrder", mod_test_hooks_conf_t, order,
                        CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


CAIRN_MODULE(test_hooks) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_hooks",
    .version        = "1.0.0",
    .description    = "records the request phases under /hooks/ "
                      "(tests only)",
    .directives     = mod_test_hooks_directives,
    .create_conf    = mod_test_hooks_create_conf,
    .register_hooks = mod_test_hooks_register,
};


static int
mod_test_hooks_register(cairn_module_t *m)
{
    static const struct {
        cairn_phase_t           phase;
        cairn_request_hook_cb   fn;
    } hooks[] = {
        { CAIRN_PHASE_POST_READ_REQUEST, mod_test_hooks_post_read_request },
        { CAIRN_PHASE_ROUTE, mod_test_hooks_route },
        { CAIRN_PHASE_ACCESS, mod_test_hooks_access },
        { CAIRN_PHASE_AUTHENTICATE, mod_test_hooks_authenticate },
        { CAIRN_PHASE_AUTHORIZE, mod_test_hooks_authorize },
        { CAIRN_PHASE_FIXUPS, mod_test_hooks_fixups },
        { CAIRN_PHASE_HANDLER, mod_test_hooks_handler },
        { CAIRN_PHASE_RESPONSE, mod_test_hooks_response },
        { CAIRN_PHASE_LOG, mod_test_hooks_log },
    };
    size_t  i;

    for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
        if (cairn_hook_request(m, hooks[i].phase, hooks[i].fn,
                               CAIRN_ORDER_FIRST, 0, NULL, NULL)
            != CAIRN_OK)
        {
            return CAIRN_ERROR;
        }
    }

    return CAIRN_OK;
}


static int
mod_test_hooks_post_read_request(cairn_request_t *r)
{
    mod_test_hooks_note(r, CAIRN_PHASE_POST_READ_REQUEST);
    return CAIRN_DECLINED;
}


static int
mod_test_hooks_route(cairn_request_t *r)
{
    mod_test_hooks_note(r, CAIRN_PHASE_ROUTE);
    return CAIRN_DECLINED;
}


static int
mod_test_hooks_access(cairn_request_t *r)
{
    mod_test_hooks_note(r, CAIRN_PHASE_ACCESS);
    return CAIRN_DECLINED;
}


static int
mod_test_hooks_authenticate(cairn_request_t *r)
{
    mod_test_hooks_note(r, CAIRN_PHASE_AUTHENTICATE);
    return CAIRN_DECLINED;
}


static int
mod_test_hooks_authorize(cairn_request_t *r)
{
    mod_test_hooks_note(r, CAIRN_PHASE_AUTHORIZE);
    return CAIRN_DECLINED;
}


static int
mod_test_hooks_fixups(cairn_request_t *r)
{
    mod_test_hooks_note(r, CAIRN_PHASE_FIXUPS);
    return CAIRN_DECLINED;
}


static int
mod_test_hooks_handler(cairn_request_t *r)
{
    const mod_test_hooks_conf_t  *conf;
    cairn_arena_t                *a;
    const char                   *seen, *body;

    seen = mod_test_hooks_note(r, CAIRN_PHASE_HANDLER);

    if (!mod_test_hooks_is_mine(r)) {
        return CAIRN_DECLINED;
    }

    a = cairn_request_arena(r);
    conf = cairn_request_conf(r, &mod_test_hooks_module);

    cairn_response_header_set(r, "X-Test-Hooks-Order",
                              cairn_arena_printf(a, "%d", conf->order));

    body = cairn_arena_printf(a, "%s\n", seen);

    return cairn_respond(r, 200, "text/plain", body, strlen(body));
}


static int
mod_test_hooks_response(cairn_request_t *r)
{
    const char  *seen;

    seen = mod_test_hooks_note(r, CAIRN_PHASE_RESPONSE);

    if (mod_test_hooks_is_mine(r)) {
        cairn_response_header_set(r, "X-Test-Response", "seen");
        cairn_response_header_set(r, "X-Test-Phases", seen);
    }

    return CAIRN_DECLINED;
}


static int
mod_test_hooks_log(cairn_request_t *r)
{
    const char  *seen;

    seen = mod_test_hooks_note(r, CAIRN_PHASE_LOG);

    if (mod_test_hooks_is_mine(r)) {
        cairn_log_notice(r, "test_hooks phases: %s", seen);
    }

    return CAIRN_DECLINED;
}


static void *
mod_test_hooks_create_conf(cairn_arena_t *a)
{
    mod_test_hooks_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(mod_test_hooks_conf_t));
    conf->order = 0;

    return conf;
}


/* Appends the phase to the request's list and returns the list. */
static const char *
mod_test_hooks_note(cairn_request_t *r, cairn_phase_t phase)
{
    mod_test_hooks_ctx_t  *ctx;
    cairn_arena_t         *a;

    a = cairn_request_arena(r);
    ctx = cairn_request_ctx(r, &mod_test_hooks_module);

    if (ctx == NULL) {
        ctx = cairn_arena_calloc(a, sizeof(mod_test_hooks_ctx_t));
        ctx->seen = cairn_phase_name(phase);
        cairn_request_set_ctx(r, &mod_test_hooks_module, ctx);

    } else {
        ctx->seen = cairn_arena_printf(a, "%s,%s", ctx->seen,
                                       cairn_phase_name(phase));
    }

    return ctx->seen;
}


/* "/hooks/" and everything below it. */
static int
mod_test_hooks_is_mine(cairn_request_t *r)
{
    const char  *path;

    path = cairn_request_path(r);

    return path != NULL && strncmp(path, "/hooks/", 7) == 0;
}
