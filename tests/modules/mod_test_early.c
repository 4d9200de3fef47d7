/*
 * mod_test_early: answers a request in the ACCESS phase, before the core
 * reads its body, so the tests can see what happens to a body nobody
 * read (discarded, or a lingering close).
 *
 * Directives: TestEarlyStatus N      server, vhost, location  default 0
 *             The status to answer with (0: decline).  405 comes with
 *             "Allow: GET, HEAD".
 *             TestEarlyDelay TIME    server, vhost, location  default 0
 *             Suspend the request on a timer for this long first, so the
 *             answer comes from a resumed request while the body may be
 *             arriving.
 * Hooks:      access (FIRST)
 */

#include <cairn/cairn.h>


typedef struct {
    int          status;
    int64_t      delay_ms;
} mod_test_early_conf_t;


static void *mod_test_early_create_conf(cairn_arena_t *a);
static int mod_test_early_register(cairn_module_t *m);
static int mod_test_early_access(cairn_request_t *r);
static int mod_test_early_answer(cairn_request_t *r, int status);
static void mod_test_early_timer(cairn_request_t *r, void *data);


static const cairn_directive_t  mod_test_early_directives[] = {
    CAIRN_DIRECTIVE_INT("TestEarlyStatus", mod_test_early_conf_t, status,
                        CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("TestEarlyDelay", mod_test_early_conf_t, delay_ms,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


CAIRN_MODULE(test_early) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_early",
    .version        = "1.0.0",
    .description    = "answers in the access phase (tests only)",
    .directives     = mod_test_early_directives,
    .create_conf    = mod_test_early_create_conf,
    .register_hooks = mod_test_early_register,
};


static void *
mod_test_early_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_test_early_conf_t));
}


static int
mod_test_early_register(cairn_module_t *m)
{
    return cairn_hook_access(m, mod_test_early_access, CAIRN_ORDER_FIRST, 0,
                             NULL, NULL);
}


static int
mod_test_early_access(cairn_request_t *r)
{
    const mod_test_early_conf_t  *conf;

    conf = cairn_request_conf(r, &mod_test_early_module);
    if (conf == NULL || conf->status == 0) {
        return CAIRN_DECLINED;
    }

    if (conf->delay_ms > 0) {
        cairn_timer_add(r, (uint64_t) conf->delay_ms, mod_test_early_timer,
                        NULL);
        return CAIRN_SUSPENDED;
    }

    return mod_test_early_answer(r, conf->status);
}


static int
mod_test_early_answer(cairn_request_t *r, int status)
{
    if (status == 405) {
        cairn_response_header_set(r, "Allow", "GET, HEAD");
    }

    return status;
}


static void
mod_test_early_timer(cairn_request_t *r, void *data)
{
    const mod_test_early_conf_t  *conf;

    (void) data;

    conf = cairn_request_conf(r, &mod_test_early_module);
    cairn_request_resume(r, mod_test_early_answer(r, conf->status));
}
