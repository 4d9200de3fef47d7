/*
 * core/main.c: the cairnd command line.
 *
 *   cairnd [-f FILE] [-D NAME]...          run in the foreground
 *   cairnd -t [-q]                         test the configuration
 *   cairnd -T [--explain HOST PATH]        dump the effective configuration
 *   cairnd -s reload|stop|quit|reopen      signal the running master
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
#include <strings.h>
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
    MAIN_MODINFO,
    MAIN_SIGNAL
} main_action_t;


/*
 * -s NAME: what each name sends to the master (its pid read from the
 * configuration's PidFile).  The names and their effects are nginx's:
 * stop is the fast stop, quit the graceful one.
 */
typedef struct {
    const char  *name;
    int          signo;
    const char  *what;
} main_signal_t;

static const main_signal_t  main_signals[] = {
    { "reload", SIGHUP,  "graceful reload" },
    { "stop",   SIGINT,  "fast stop" },
    { "quit",   SIGTERM, "graceful stop" },
    { "reopen", SIGUSR1, "reopen the log files" },
    { NULL, 0, NULL }
};

/* -s exit statuses (docs/admin-guide.md). */
#define MAIN_EXIT_CONFIG        1   /* usage, or the configuration has errors */
#define MAIN_EXIT_PIDFILE       2   /* no PidFile, or it cannot be read */
#define MAIN_EXIT_NOT_RUNNING   3   /* no pid file, or a stale one */
#define MAIN_EXIT_DENIED        4   /* not allowed to signal the master */


static void
main_usage(FILE *out)
{
    fprintf(out,
        "usage: cairnd [-f FILE] [-D NAME]... [-t [-q]] [-T [--explain HOST PATH]]\n"
        "              [-s reload|stop|quit|reopen] [-M] [-H] [-V]\n"
        "              [--modinfo FILE.so]\n"
        "\n"
        "  -f FILE        main configuration file (default %s/cairn.conf)\n"
        "  -D NAME        define NAME for <IfDefine NAME>\n"
        "  -t             test the configuration and exit\n"
        "  -q             with -t or -s: print only errors\n"
        "  -T             dump the effective configuration and exit\n"
        "  --explain HOST PATH\n"
        "                 with -T: show every setting for one request\n"
        "  -s SIGNAL      signal the running master, whose pid is in the\n"
        "                 PidFile of the configuration (-f):\n"
        "                   reload  test the configuration, then SIGHUP\n"
        "                           (refused, exit 1, when the test fails)\n"
        "                   stop    fast stop (SIGINT)\n"
        "                   quit    graceful stop (SIGTERM)\n"
        "                   reopen  reopen the log files (SIGUSR1)\n"
        "                 exit 0 sent, 1 configuration errors, 2 no PidFile\n"
        "                 or unreadable, 3 not running (no pid file, or a\n"
        "                 stale one), 4 not permitted\n"
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


/*
 * The PidFile a broken configuration names: the last PidFile line at
 * server level that was read (the configuration could not be finished,
 * so the merged value does not exist).  NULL when there is none.
 */
static const char *
main_raw_pid_file(cairn_server_t *s)
{
    const cairn__rec_t  *rec;
    const char          *path = NULL;

    for (rec = s->main->recs; rec != NULL; rec = rec->next) {
        if (rec->name != NULL && strcasecmp(rec->name, "PidFile") == 0
            && rec->argc == 1)
        {
            path = rec->argv[0];
        }
    }
    if (path != NULL && path[0] != '/') {
        path = cairn_arena_printf(s->arena, "%s/%s", s->conf_dir, path);
    }

    return path;
}


/* Whether /proc says process pid is not a cairnd (a reused pid). */
static int
main_not_cairnd(long pid, char *comm, size_t len)
{
    char     path[64];
    FILE    *f;
    size_t   n;

    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    n = fread(comm, 1, len - 1, f);
    fclose(f);
    comm[n] = '\0';
    if (n > 0 && comm[n - 1] == '\n') {
        comm[n - 1] = '\0';
    }

    return n > 0 && strstr(comm, "cairnd") == NULL;
}


/*
 * -s NAME: finds the master's pid in the PidFile of the configuration
 * and signals it; reload tests the configuration first, like -t, and
 * sends nothing when the test fails.  Returns the exit status.
 */
static int
main_signal(cairn_server_t *s, const main_signal_t *sig, int loaded,
            int quiet)
{
    const char  *pid_file;
    char         buf[64], comm[64], *end;
    long         pid;
    ssize_t      n;
    int          fd;

    if (!loaded) {
        cairn__conf_print_errors(s, stderr);
        if (sig->signo == SIGHUP) {
            fprintf(stderr, "cairnd: reload refused: %s has errors; the "
                    "server goes on with the configuration it runs\n",
                    s->conf_file);
            return MAIN_EXIT_CONFIG;
        }
        pid_file = main_raw_pid_file(s);
        if (pid_file == NULL) {
            fprintf(stderr, "cairnd: -s %s: %s has errors and names no "
                    "PidFile\n", sig->name, s->conf_file);
            return MAIN_EXIT_CONFIG;
        }
        fprintf(stderr, "cairnd: -s %s: %s has errors; using its PidFile "
                "%s\n", sig->name, s->conf_file, pid_file);
    } else {
        if (sig->signo == SIGHUP && main_test_user(s, 1) != 0) {
            fprintf(stderr, "cairnd: reload refused: %s has errors; the "
                    "server goes on with the configuration it runs\n",
                    s->conf_file);
            return MAIN_EXIT_CONFIG;
        }
        pid_file = s->main_vhost->base.core->pid_file;
    }

    if (pid_file == NULL) {
        fprintf(stderr, "cairnd: -s %s: %s sets no PidFile, so the running "
                "master cannot be found: add 'PidFile PATH' (and restart), "
                "or signal it yourself (kill -%s PID)\n", sig->name,
                s->conf_file, sigabbrev_np(sig->signo));
        return MAIN_EXIT_PIDFILE;
    }

    fd = open(pid_file, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT) {
            fprintf(stderr, "cairnd: -s %s: PidFile %s does not exist: is "
                    "cairnd running with %s?\n", sig->name, pid_file,
                    s->conf_file);
            return MAIN_EXIT_NOT_RUNNING;
        }
        fprintf(stderr, "cairnd: -s %s: cannot read PidFile %s: %s\n",
                sig->name, pid_file, strerror(errno));
        return MAIN_EXIT_PIDFILE;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        fprintf(stderr, "cairnd: -s %s: cannot read PidFile %s: %s\n",
                sig->name, pid_file, strerror(errno));
        return MAIN_EXIT_PIDFILE;
    }
    buf[n] = '\0';
    errno = 0;
    pid = strtol(buf, &end, 10);
    if (end == buf || (*end != '\0' && *end != '\n') || errno != 0
        || pid <= 1)
    {
        fprintf(stderr, "cairnd: -s %s: PidFile %s does not hold a process "
                "id\n", sig->name, pid_file);
        return MAIN_EXIT_PIDFILE;
    }

    if (kill((pid_t) pid, 0) != 0 && errno == ESRCH) {
        fprintf(stderr, "cairnd: -s %s: stale PidFile %s: no process %ld; "
                "cairnd is not running (remove the file)\n", sig->name,
                pid_file, pid);
        return MAIN_EXIT_NOT_RUNNING;
    }
    if (main_not_cairnd(pid, comm, sizeof(comm))) {
        fprintf(stderr, "cairnd: -s %s: stale PidFile %s: process %ld is "
                "'%s', not cairnd; cairnd is not running (remove the "
                "file)\n", sig->name, pid_file, pid, comm);
        return MAIN_EXIT_NOT_RUNNING;
    }

    if (kill((pid_t) pid, sig->signo) != 0) {
        if (errno == ESRCH) {
            fprintf(stderr, "cairnd: -s %s: process %ld exited meanwhile\n",
                    sig->name, pid);
            return MAIN_EXIT_NOT_RUNNING;
        }
        fprintf(stderr, "cairnd: -s %s: cannot signal process %ld: %s (run "
                "it as the user that started cairnd)\n", sig->name, pid,
                strerror(errno));
        return MAIN_EXIT_DENIED;
    }

    if (!quiet) {
        fprintf(stderr, "cairnd: sent SIG%s (%s) to the master, pid %ld\n",
                sigabbrev_np(sig->signo), sig->what, pid);
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
    const main_signal_t       *sig = NULL;
    int                        quiet = 0, i, rc, loaded;

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
        } else if (strcmp(a, "-s") == 0 && i + 1 < argc) {
            action = MAIN_SIGNAL;
            for (sig = main_signals; sig->name != NULL; sig++) {
                if (strcmp(sig->name, argv[i + 1]) == 0) {
                    break;
                }
            }
            if (sig->name == NULL) {
                fprintf(stderr, "cairnd: -s %s: unknown signal name; use "
                        "reload, stop, quit or reopen\n", argv[i + 1]);
                return MAIN_EXIT_CONFIG;
            }
            i++;
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

    if (action == MAIN_SIGNAL) {
        loaded = cairn__conf_load(s) == 0
                 && (sig->signo != SIGHUP || cairn__conf_check_serving(s) == 0);
        rc = main_signal(s, sig, loaded, quiet);
        cairn__server_destroy(s);
        return rc;
    }

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
