/*
 * mod_test_busy: a handler that holds the event loop on purpose, so the
 * tests can see the core time hooks and name the module that blocks.
 *
 *     GET /busy?ms=N  ->  spins N ms on the loop (no sleep: a clock
 *                         loop), then 200 text/plain "busy N\n"
 *
 * Everything else is declined.  N is 0 to 10000; a bad N is a 400.
 *
 * Directives: TestSlowConfig TIME   server   default 0
 *             post_config sleeps this long: a configuration check that
 *             takes its time (ConfigTestTimeout, a master that must not
 *             wait for it).
 * Hooks:      handler (MIDDLE), post_config
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairn/cairn.h>


#define MOD_TEST_BUSY_MAX_MS    10000


typedef struct {
    int64_t      slow_ms;
} mod_test_busy_conf_t;


static void *mod_test_busy_create_conf(cairn_arena_t *a);
static int mod_test_busy_register(cairn_module_t *m);
static int mod_test_busy_post_config(cairn_server_t *s);
static int mod_test_busy_handler(cairn_request_t *r);
static void mod_test_busy_spin(long ms);


static const cairn_directive_t  mod_test_busy_directives[] = {
    CAIRN_DIRECTIVE_MSEC("TestSlowConfig", mod_test_busy_conf_t, slow_ms,
                         CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


CAIRN_MODULE(test_busy) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_busy",
    .version        = "1.0.0",
    .description    = "busy-waits on the loop under /busy (tests only)",
    .directives     = mod_test_busy_directives,
    .create_conf    = mod_test_busy_create_conf,
    .register_hooks = mod_test_busy_register,
};


static void *
mod_test_busy_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_test_busy_conf_t));
}


static int
mod_test_busy_register(cairn_module_t *m)
{
    if (cairn_hook_post_config(m, mod_test_busy_post_config,
                               CAIRN_ORDER_MIDDLE, 0, NULL, NULL)
        != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    return cairn_hook_handler(m, mod_test_busy_handler, CAIRN_ORDER_MIDDLE,
                              0, NULL, NULL);
}


static int
mod_test_busy_post_config(cairn_server_t *s)
{
    const mod_test_busy_conf_t  *conf;
    struct timespec              ts;

    conf = cairn_server_conf(s, &mod_test_busy_module);
    if (conf != NULL && conf->slow_ms > 0) {
        /* The configuration has been read by now: tests wait for this
         * line before they change the files again. */
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "test_busy: post_config "
                  "sleeps %lld ms", (long long) conf->slow_ms);
        ts.tv_sec = (time_t) (conf->slow_ms / 1000);
        ts.tv_nsec = (long) (conf->slow_ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0) {
            /* interrupted: the rest */
        }
    }

    return CAIRN_OK;
}


static int
mod_test_busy_handler(cairn_request_t *r)
{
    const char  *path, *arg, *body;
    char        *end;
    long         ms = 0;

    path = cairn_request_path(r);
    if (path == NULL || strcmp(path, "/busy") != 0
        || cairn_request_method(r) != CAIRN_METHOD_GET)
    {
        return CAIRN_DECLINED;
    }

    arg = cairn_request_arg(r, "ms");
    if (arg != NULL) {
        ms = strtol(arg, &end, 10);
        if (arg[0] == '\0' || *end != '\0' || ms < 0
            || ms > MOD_TEST_BUSY_MAX_MS)
        {
            return 400;
        }
    }

    mod_test_busy_spin(ms);

    body = cairn_arena_printf(cairn_request_arena(r), "busy %ld\n", ms);

    return cairn_respond(r, 200, "text/plain", body, strlen(body));
}


static void
mod_test_busy_spin(long ms)
{
    struct timespec  start, now;
    long long        elapsed_ns;

    clock_gettime(CLOCK_MONOTONIC, &start);

    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed_ns = (long long) (now.tv_sec - start.tv_sec) * 1000000000LL
                     + (now.tv_nsec - start.tv_nsec);
    } while (elapsed_ns < (long long) ms * 1000000LL);
}
