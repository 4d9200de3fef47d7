/*
 * core/main.c: the cairnd command line.
 *
 *   cairnd [-f FILE] [-D NAME]...          run in the foreground
 *   cairnd -t [-q]                         test the configuration
 *   cairnd -T [--explain HOST PATH]        dump the effective configuration
 *   cairnd -M | -H | -V                    modules, hook order, version
 *   cairnd --modinfo FILE.so               describe a module file
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena_int.h"
#include "conf_int.h"
#include "hooks_int.h"
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "worker_int.h"


typedef enum {
    MAIN_RUN = 0,
    MAIN_TEST,
    MAIN_DUMP,
    MAIN_MODULES,
    MAIN_HOOKS,
    MAIN_VERSION,
    MAIN_MODINFO
} main_action_t;


static void
main_usage(FILE *out)
{
    fprintf(out,
        "usage: cairnd [-f FILE] [-D NAME]... [-t [-q]] [-T [--explain HOST PATH]]\n"
        "              [-M] [-H] [-V] [--modinfo FILE.so]\n"
        "\n"
        "  -f FILE        main configuration file (default %s/cairn.conf)\n"
        "  -D NAME        define NAME for <IfDefine NAME>\n"
        "  -t             test the configuration and exit\n"
        "  -q             with -t: print only errors\n"
        "  -T             dump the effective configuration and exit\n"
        "  --explain HOST PATH\n"
        "                 with -T: show every setting for one request\n"
        "  -M             list the loaded modules\n"
        "  -H             show the hook order of every phase\n"
        "  -V             show version, module ABI and build options\n"
        "  --modinfo FILE describe a module file without starting\n",
        CAIRN_CONFDIR);
}


static void
main_print_modules(const cairn_server_t *s)
{
    size_t  i;

    for (i = 0; i < s->nmods; i++) {
        const cairn_module_t  *m = s->mods[i].m;

        printf("%s %s %s\n", m->name, m->version ? m->version : "-",
               s->mods[i].handle ? s->mods[i].path : "(built-in)");
    }
}


static void
main_print_hooks(const cairn_server_t *s)
{
    size_t  k, i;

    for (k = 0; k < CAIRN__HOOK_KINDS; k++) {
        const cairn__hook_list_t  *l = &s->hooks->kind[k];

        printf("%s:\n", cairn__hook_kind_name((int) k));
        for (i = 0; i < l->n; i++) {
            const cairn__hook_t  *h = &l->v[i];

            printf("  %zu. %s (%s+%d)\n", i + 1, h->module->name,
                   h->order <= CAIRN_ORDER_FIRST ? "first"
                   : h->order >= CAIRN_ORDER_LAST ? "last" : "middle",
                   h->n);
        }
    }
}


/*
 * -t: whether the workers' user exists, and who they would run as when
 * it is not what the configuration says (User ignored, or not set).
 * Returns -1 when the test fails.
 */
static int
main_test_user(cairn_server_t *s, int quiet)
{
    const cairn__core_conf_t  *core = s->main_vhost->base.core;
    cairn__workers_user_t      u;
    char                       err[512];

    if (cairn__master_workers_user(s, &u, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", s->conf_file, err);
        return -1;
    }

    if (!u.drop && (core->user != NULL || core->group != NULL)) {
        if (!quiet) {
            fprintf(stderr, "%s: not run as root: User and Group would be "
                    "ignored\n", s->conf_file);
        }
    } else if (u.drop && u.uid == 0) {
        fprintf(stderr, "%s: warning: User %s: the workers would serve "
                "requests as root\n", s->conf_file, u.user);
    } else if (u.by_default && !quiet) {
        fprintf(stderr, "%s: User is not set: started as root, the workers "
                "would run as %s (uid %ld, gid %ld)\n", s->conf_file,
                u.user, (long) u.uid, (long) u.gid);
    }

    return 0;
}


int
main(int argc, char **argv)
{
    main_action_t              action = MAIN_RUN;
    const char                *conf_file = CAIRN_CONFDIR "/cairn.conf";
    const char                *explain_host = NULL, *explain_path = NULL;
    const char                *modinfo = NULL;
    const char                *defs[64];
    cairn_strv_t               defines;
    cairn_server_t            *s;
    const cairn__core_conf_t  *core;
    const char                *pid_file;
    int                        quiet = 0, i, rc;

    cairn__mem_init();

    defines.n = 0;
    defines.v = defs;

    for (i = 1; i < argc; i++) {
        const char  *a = argv[i];

        if (strcmp(a, "-f") == 0 && i + 1 < argc) {
            conf_file = argv[++i];
        } else if (strcmp(a, "-D") == 0 && i + 1 < argc) {
            if (defines.n < sizeof(defs) / sizeof(defs[0])) {
                defs[defines.n++] = argv[++i];
            }
        } else if (strncmp(a, "-D", 2) == 0 && a[2] != '\0') {
            if (defines.n < sizeof(defs) / sizeof(defs[0])) {
                defs[defines.n++] = a + 2;
            }
        } else if (strcmp(a, "-t") == 0) {
            action = MAIN_TEST;
        } else if (strcmp(a, "-q") == 0) {
            quiet = 1;
        } else if (strcmp(a, "-T") == 0) {
            action = MAIN_DUMP;
        } else if (strcmp(a, "--explain") == 0 && i + 2 < argc) {
            explain_host = argv[++i];
            explain_path = argv[++i];
        } else if (strcmp(a, "-M") == 0) {
            action = MAIN_MODULES;
        } else if (strcmp(a, "-H") == 0) {
            action = MAIN_HOOKS;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            action = MAIN_VERSION;
        } else if (strcmp(a, "--modinfo") == 0 && i + 1 < argc) {
            action = MAIN_MODINFO;
            modinfo = argv[++i];
        } else if (strcmp(a, "--foreground") == 0) {
            /* cairnd always stays in the foreground. */
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            main_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "cairnd: unknown or incomplete option '%s'\n", a);
            main_usage(stderr);
            return 1;
        }
    }

    if (explain_host != NULL && action != MAIN_DUMP) {
        fprintf(stderr, "cairnd: --explain goes with -T\n");
        return 1;
    }

    if (action == MAIN_VERSION) {
        printf("cairnd %s\n", PACKAGE_VERSION);
        printf("module ABI: %d.%d\n", CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
        printf("module directory: %s\n", CAIRN_MODULEDIR);
        printf("config file: %s\n", conf_file);
        printf("build: %s\n", CAIRN_BUILD_OPTIONS);
        return 0;
    }

    if (action == MAIN_MODINFO) {
        return cairn__module_info(modinfo, stdout);
    }

    /* Log lines name requests by the request layer's ids. */
    cairn__log_set_request_ids(cairn__request_log_ids);

    /* The metric registry outlives every generation: mapped once, before
     * the first configuration registers its families. */
    if (cairn__metrics_init() != 0 || cairn__metrics_core_register() != 0) {
        fprintf(stderr, "cairnd: cannot set up the metric registry\n");
        return 1;
    }

    s = cairn__server_create(conf_file, &defines, action != MAIN_RUN);

    if (cairn__conf_load(s) != 0
        || ((action == MAIN_TEST || action == MAIN_RUN)
            && cairn__conf_check_serving(s) != 0))
    {
        cairn__conf_print_errors(s, stderr);
        if (action == MAIN_TEST) {
            fprintf(stderr, "%s: configuration test failed\n", s->conf_file);
        } else {
            fprintf(stderr, "cairnd: not started: the configuration has "
                    "errors\n");
        }
        cairn__server_destroy(s);
        return 1;
    }

    switch (action) {
    case MAIN_TEST:
        if (main_test_user(s, quiet) != 0) {
            fprintf(stderr, "%s: configuration test failed\n", s->conf_file);
            cairn__server_destroy(s);
            return 1;
        }
        if (!quiet) {
            fprintf(stderr, "%s: configuration OK\n", s->conf_file);
        }
        cairn__server_destroy(s);
        return 0;

    case MAIN_DUMP:
        if (explain_host != NULL) {
            cairn__conf_explain(s, explain_host, explain_path, stdout);
        } else {
            cairn__conf_dump(s, stdout);
        }
        cairn__server_destroy(s);
        return 0;

    case MAIN_MODULES:
        main_print_modules(s);
        cairn__server_destroy(s);
        return 0;

    case MAIN_HOOKS:
        main_print_hooks(s);
        cairn__server_destroy(s);
        return 0;

    default:
        break;
    }

    core = s->main_vhost->base.core;

    cairn__log_set_json(core->log_json);
    if (cairn__log_open(core->error_log, core->log_level) != 0) {
        fprintf(stderr, "cairnd: cannot open ErrorLog %s: %s\n",
                core->error_log, strerror(errno));
        cairn__server_destroy(s);
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);

    if (core->pid_file != NULL
        && cairn__master_write_pid(core->pid_file) != 0)
    {
        cairn__server_destroy(s);
        return 1;
    }

    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "cairnd %s starting (pid %ld)",
              PACKAGE_VERSION, (long) getpid());

    /* The master owns the generation from here: a reload replaces it. */
    rc = cairn__master_run(s, &defines);

    pid_file = cairn__master_pid_file();
    if (pid_file != NULL) {
        unlink(pid_file);
    }

    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "cairnd stopped");
    cairn__master_cleanup();

    return rc;
}
