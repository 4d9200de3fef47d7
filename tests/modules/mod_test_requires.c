/*
 * mod_test_requires: a module that requires mod_static.
 *
 * `LoadModule test_requires` must come after `LoadModule static`; alone
 * or before it, the loader refuses it naming the missing module.  When
 * loaded, GET /test-requires answers 200 text/plain "requires: ok\n".
 *
 * Directives: none
 * Hooks:      handler (MIDDLE)
 */

#include <string.h>

#include <cairn/cairn.h>


static int mod_test_requires_register(cairn_module_t *m);
static int mod_test_requires_handler(cairn_request_t *r);


static const char *const  mod_test_requires_requires[] = { "static", NULL };


CAIRN_MODULE(test_requires) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_requires",
    .version        = "1.0.0",
    .description    = "requires mod_static (tests only)",
    .requires       = mod_test_requires_requires,
    .register_hooks = mod_test_requires_register,
};


static int
mod_test_requires_register(cairn_module_t *m)
{
    return cairn_hook_handler(m, mod_test_requires_handler,
                              CAIRN_ORDER_MIDDLE, 0, NULL, NULL);
}


static int
mod_test_requires_handler(cairn_request_t *r)
{
    static const char  body[] = "requires: ok\n";

    if (strcmp(cairn_request_path(r), "/test-requires") != 0) {
        return CAIRN_DECLINED;
    }

    return cairn_respond(r, 200, "text/plain", body, sizeof(body) - 1);
}
