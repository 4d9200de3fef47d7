/*
 * mod_test_crash: crashes its worker on purpose, to test crash records,
 * respawning and quarantine.
 *
 * Directives: TestCrash on|off   location   default off
 *             TestCrashWorkerInit on|off   server   default off
 *             Every worker crashes in its worker_init hook, before it
 *             serves anything (a crash loop at start-up).
 * Hooks:      handler (FIRST), worker_init
 *
 * Where TestCrash is on: GET .../segv writes to an unmapped address,
 * .../abort calls abort(), anything else answers 200 "alive\n".
 */

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/cairn.h>


typedef struct {
    int  enabled;
    int  worker_init;
} mod_test_crash_conf_t;


static int mod_test_crash_register(cairn_module_t *m);
static int mod_test_crash_handler(cairn_request_t *r);
static int mod_test_crash_worker_init(cairn_server_t *s);
static void *mod_test_crash_create_conf(cairn_arena_t *a);


static const cairn_directive_t  mod_test_crash_directives[] = {
    CAIRN_DIRECTIVE_FLAG("TestCrash", mod_test_crash_conf_t, enabled,
                         CAIRN_SCOPE_LOCATION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_FLAG("TestCrashWorkerInit", mod_test_crash_conf_t,
                         worker_init, CAIRN_SCOPE_SERVER,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


CAIRN_MODULE(test_crash) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_crash",
    .version        = "1.0.0",
    .description    = "crashes its worker on purpose (tests only)",
    .directives     = mod_test_crash_directives,
    .create_conf    = mod_test_crash_create_conf,
    .register_hooks = mod_test_crash_register,
};


static int
mod_test_crash_register(cairn_module_t *m)
{
    if (cairn_hook_worker_init(m, mod_test_crash_worker_init,
                               CAIRN_ORDER_MIDDLE, 0, NULL, NULL)
        != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    return cairn_hook_handler(m, mod_test_crash_handler, CAIRN_ORDER_FIRST,
                              0, NULL, NULL);
}


static int
mod_test_crash_worker_init(cairn_server_t *s)
{
    const mod_test_crash_conf_t  *conf;

    conf = cairn_server_conf(s, &mod_test_crash_module);
    if (conf != NULL && conf->worker_init) {
        volatile uintptr_t  addr = 16;

        *(volatile int *) addr = 1;
    }

    return CAIRN_OK;
}


static int
mod_test_crash_handler(cairn_request_t *r)
{
    const mod_test_crash_conf_t  *conf;
    const char                   *path;
    size_t                        len;

    conf = cairn_request_conf(r, &mod_test_crash_module);
    if (conf == NULL || !conf->enabled) {
        return CAIRN_DECLINED;
    }

    path = cairn_request_path(r);
    len = strlen(path);

    if (len >= 5 && strcmp(path + len - 5, "/segv") == 0) {
        /* An unmapped address that is not NULL: a real segmentation
         * fault, which UBSan's null check would otherwise intercept. */
        volatile uintptr_t  addr = 16;

        *(volatile int *) addr = 1;
    }

    if (len >= 6 && strcmp(path + len - 6, "/abort") == 0) {
        abort();
    }

    return cairn_respond(r, 200, "text/plain", "alive\n", 6);
}


static void *
mod_test_crash_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_test_crash_conf_t));
}
