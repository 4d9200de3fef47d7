/*
 * mod_test_badhooks: a module whose descriptor declares a hook of a kind
 * no cairn knows (as a module built for a later ABI could), so the
 * loader's refusal ("its hooks table has an unknown kind 999") is what a
 * test sees.  Its handler would answer 200 "badhooks loaded\n", which
 * must never happen.
 *
 * Directives: none
 * Hooks:      handler (MIDDLE), and one of kind 999
 */

#include <string.h>

#include <cairn/cairn.h>


static int mod_test_badhooks_handler(cairn_request_t *r);


static const cairn_hook_decl_t  mod_test_badhooks_hooks[] = {
    CAIRN_HOOK_HANDLER(mod_test_badhooks_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_DECL(999, cairn_request_hook_cb, mod_test_badhooks_handler,
                    CAIRN_ORDER_MIDDLE, 0, NULL, NULL),
    CAIRN_HOOK_END
};


CAIRN_MODULE(test_badhooks) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_badhooks",
    .version        = "1.0.0",
    .description    = "declares a hook of an unknown kind (tests only)",
    .hooks          = mod_test_badhooks_hooks,
};


static int
mod_test_badhooks_handler(cairn_request_t *r)
{
    static const char  body[] = "badhooks loaded\n";

    return cairn_respond(r, 200, "text/plain", body, sizeof(body) - 1);
}
