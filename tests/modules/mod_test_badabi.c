/*
 * mod_test_badabi: a module stamped for the next major module ABI.
 *
 * Everything but the ABI major is what a real module would have, so the
 * loader's refusal ("built for cairn module ABI N+1.0; this cairnd
 * provides N.M - rebuild it ...") is the only thing a test sees.  Its
 * handler would answer 200 "badabi loaded\n", which must never happen.
 *
 * Directives: none
 * Hooks:      handler (MIDDLE)
 */

#include <string.h>

#include <cairn/cairn.h>


static int mod_test_badabi_register(cairn_module_t *m);
static int mod_test_badabi_handler(cairn_request_t *r);


CAIRN_MODULE(test_badabi) = {
    .magic          = CAIRN_MODULE_MAGIC,
    .abi_major      = CAIRN_ABI_MAJOR + 1,
    .abi_minor      = 0,
    .size           = sizeof(cairn_module_t),
    .index          = -1,
    .name           = "test_badabi",
    .version        = "1.0.0",
    .description    = "built for another module ABI (tests only)",
    .register_hooks = mod_test_badabi_register,
};


static int
mod_test_badabi_register(cairn_module_t *m)
{
    return cairn_hook_handler(m, mod_test_badabi_handler, CAIRN_ORDER_MIDDLE,
                              0, NULL, NULL);
}


static int
mod_test_badabi_handler(cairn_request_t *r)
{
    static const char  body[] = "badabi loaded\n";

    return cairn_respond(r, 200, "text/plain", body, sizeof(body) - 1);
}
