/*
 * mod_test_badmagic: exports mod_test_badmagic_module, but the symbol does
 * not start with the cairn module magic, as if it were some other data
 * that happens to have the right name.  The loader must refuse it before
 * reading any other field ("... is not a cairn module (bad magic)").
 *
 * Directives: none
 * Hooks:      none (never registered)
 */

#include <cairn/cairn.h>


CAIRN_MODULE(test_badmagic) = {
    .magic          = 0x21474142u,      /* "BAG!", not CAIRN_MODULE_MAGIC */
    .abi_major      = CAIRN_ABI_MAJOR,
    .abi_minor      = CAIRN_ABI_MINOR,
    .size           = sizeof(cairn_module_t),
    .index          = -1,
    .name           = "test_badmagic",
    .version        = "1.0.0",
    .description    = "not a cairn module (tests only)",
};
