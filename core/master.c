/*
 * core/master.c: the master process.
 *
 * The master parses the configuration, loads the modules, opens the
 * listening sockets and forks the workers; then it only supervises: it
 * waits for signals on a signalfd and for the deadlines it keeps (a
 * respawn after a back-off, a stopping worker that overstays).  It never
 * serves a request, so it never blocks anybody.
 *
 * Listening sockets.  Each worker slot has its own socket per Listen
 * address, bound with SO_REUSEPORT, so the kernel spreads connections
 * evenly over the workers.  The master keeps every socket open across
 * reloads: the new worker of a slot inherits the very socket the old one
 * accepted on, so nothing waiting in its queue is lost while the old
 * worker stops accepting.
 *
 * Reload (SIGHUP).  A forked child checks the new configuration with
 * fresh copies of the modules, and sends back what it read (conf_source.c)
 * with what the master must open for it.  The master never waits for it:
 * the child's pipe and its exit are events of the master's poll loop, with
 * a deadline (ConfigTestTimeout), and signals, deaths and respawns go on
 * meanwhile.  Only when the check succeeded, and every new listening
 * address and the new ErrorLog and PidFile could be opened, does the
 * master unload every module and load the generation from exactly the
 * bytes the check read (an upgraded .so thus takes effect, and a file
 * changed meanwhile does not), start new workers and tell the old ones to
 * finish their requests and exit.  Anything that fails refuses the reload
 * and leaves everything as it was; should the new generation not load
 * after all, the running one is loaded again from its own recorded
 * source, so the master is never without a generation.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "arena_int.h"
#include "conf_int.h"
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "worker_int.h"


#define MASTER_MAX_SLOTS        256
#define MASTER_CRASH_RECORDS    1024
#define MASTER_CRASH_HISTORY    256
#define MASTER_FAST_DEATH_US    (2 * 1000 * 1000)
#define MASTER_BACKOFF_MAX_MS   10000
#define MASTER_KILL_GRACE_US    (5 * 1000 * 1000)

/* What a configuration check may write back: its messages and the
 * recorded source (at most 64 MiB of files, see conf.c). */
#define MASTER_CHECK_MAX        (80 * 1024 * 1024)

typedef struct {
    pid_t                    pid;
    int                      slot;
    unsigned                 generation;
    int                      record;        /* index in the crash records */
    uint64_t                 started_us;
    uint64_t                 kill_at_us;    /* 0: not stopping */
    int                      termed;        /* told to stop (SIGTERM) */
} master_worker_t;

/* A configuration check running in a child (at most one). */
typedef struct {
    pid_t                    pid;           /* 0: none */
    int                      fd;            /* its pipe; -1 at its end */
    char                    *buf;           /* what it wrote */
    size_t                   len;
    size_t                   cap;
    int                      exited;
    int                      status;        /* its wait status */
    int                      killed;        /* past ConfigTestTimeout */
    int                      too_much;
    uint64_t                 deadline_us;
    int                      again;         /* a HUP came meanwhile */
} master_check_t;

typedef struct {
    char                    *spec;          /* "127.0.0.1:8080" */
    int                      slot;
    int                      fd;
    int                      used;
} master_listener_t;

typedef struct {
    char                     module[64];
    char                     location[256];
    uint64_t                 at_us;
} master_crash_t;

typedef struct {
    cairn_server_t          *gen;
    unsigned                 generation;
    char                    *conf_file;
    cairn_strv_t             defines;
    int                      nslots;
    uid_t                    uid;
    gid_t                    gid;
    int                      drop;          /* switch to uid/gid */

    master_worker_t         *workers;
    size_t                   nworkers;
    size_t                   capworkers;

    master_listener_t       *ls;
    size_t                   nls;

    cairn__crash_t          *records;       /* shared with the workers */
    unsigned char            record_used[MASTER_CRASH_RECORDS];
    cairn__quarantine_t     *quarantine;    /* shared, per generation */
    master_crash_t           history[MASTER_CRASH_HISTORY];
    size_t                   nhistory;

    int                      fast_deaths[MASTER_MAX_SLOTS];
    uint64_t                 respawn_at[MASTER_MAX_SLOTS];  /* 0: none */
    uint64_t                 died_at[MASTER_MAX_SLOTS];     /* 0: none */

    master_check_t           check;
    cairn__conf_source_t    *src;           /* the running generation's */
    char                    *pid_file;      /* written, or NULL */
    uint64_t                 regen_at;      /* load the running source
                                               again (0: no need) */

    int                      sfd;
    sigset_t                 oldmask;
    int                      stopping;
    uint64_t                 stop_deadline_us;
    unsigned                 reloads;
} master_t;

static master_t  M;

static int master_prepare(cairn_server_t *s, int say, char *err,
                          size_t errlen);
static int master_listeners(cairn_server_t *s);
static void master_listeners_prune(void);
static void master_spawn(int slot);
static void master_reap(void);
static void master_reload(void);
static void master_check_read(void);
static void master_check_end(void);
static void master_commit(const char *text, size_t tlen, const char *blob,
                          size_t blen);
static const char *master_wait_text(int status, char *buf, size_t len);
static void master_fill_slots(void);
static void master_stop(int now);
static void master_reopen(void);
static void master_timers(void);
static int master_poll_timeout(void);
static cairn__quarantine_t *master_quarantine_new(void);


static uint64_t
master_now(void)
{
    cairn__time_update();
    return cairn_now_us();
}


int
cairn__master_run(cairn_server_t *s, const cairn_strv_t *defines)
{
    struct signalfd_siginfo  si;
    struct pollfd            pfd[2];
    sigset_t                 mask;
    char                     err[512];
    size_t                   i;
    int                      slot;
    ssize_t                  n;

    M.gen = s;
    M.generation = 1;
    M.conf_file = strdup(s->conf_file);
    M.src = cairn__conf_take_source(s);
    M.check.fd = -1;
    if (s->main_vhost->base.core->pid_file != NULL) {
        M.pid_file = strdup(s->main_vhost->base.core->pid_file);
    }
    M.defines.n = defines->n;
    M.defines.v = calloc(defines->n + 1, sizeof(char *));
    for (i = 0; i < defines->n; i++) {
        M.defines.v[i] = strdup(defines->v[i]);
    }

    if (master_prepare(s, 1, err, sizeof(err)) != 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "%s", err);
        return 1;
    }

    if (master_listeners(s) != 0) {
        return 1;
    }

    cairn__metrics_generation(s, M.generation, M.nslots, 0);

    M.records = mmap(NULL, MASTER_CRASH_RECORDS * sizeof(cairn__crash_t),
                     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    M.quarantine = master_quarantine_new();
    if (M.records == MAP_FAILED || M.quarantine == NULL) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot map shared memory");
        return 1;
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &M.oldmask);

    M.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (M.sfd == -1) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "signalfd() failed");
        return 1;
    }

    for (slot = 0; slot < M.nslots; slot++) {
        master_spawn(slot);
    }

    for (i = 0; i < M.nls; i++) {
        if (M.ls[i].slot == 0) {
            struct sockaddr_storage  ss;
            socklen_t                len = sizeof(ss);
            const char              *what = "";

            /* A bare PORT says which addresses it took. */
            if (strchr(M.ls[i].spec, ':') == NULL
                && getsockname(M.ls[i].fd, (struct sockaddr *) &ss, &len)
                   == 0)
            {
                what = ss.ss_family == AF_INET6
                       ? " (every IPv4 and IPv6 address)"
                       : " (every IPv4 address)";
            }
            cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "listening on %s%s with %d "
                      "worker%s", M.ls[i].spec, what, M.nslots,
                      M.nslots == 1 ? "" : "s");
        }
    }

    cairn__notify("READY=1\nMAINPID=%ld\nSTATUS=serving with %d workers",
                  (long) getpid(), M.nslots);

    for ( ;; ) {
        if (M.stopping && M.nworkers == 0 && M.check.pid == 0) {
            break;
        }

        pfd[0].fd = M.sfd;
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        pfd[1].fd = M.check.fd;
        pfd[1].events = POLLIN;
        pfd[1].revents = 0;
        n = poll(pfd, M.check.fd >= 0 ? 2 : 1, master_poll_timeout());

        if (n > 0 && pfd[1].revents != 0) {
            master_check_read();
        }

        if (n > 0 && pfd[0].revents != 0) {
            while (read(M.sfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
                switch (si.ssi_signo) {
                case SIGCHLD:
                    master_reap();
                    break;
                case SIGHUP:
                    if (!M.stopping) {
                        master_reload();
                    }
                    break;
                case SIGUSR1:
                    master_reopen();
                    break;
                case SIGTERM:
                    master_stop(M.stopping);
                    break;
                default:
                    master_stop(1);
                    break;
                }
            }
        }

        master_timers();
    }

    for (i = 0; i < M.nls; i++) {
        if (M.ls[i].fd >= 0) {
            close(M.ls[i].fd);
        }
    }
    close(M.sfd);
    sigprocmask(SIG_SETMASK, &M.oldmask, NULL);

    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "all workers have exited");

    return 0;
}


/*
 * Checks what the master needs from a generation before using it: the
 * worker count and the User/Group to run workers as.  say: log who the
 * workers run as when that is worth knowing (not in a reload's check).
 */
static int
master_prepare(cairn_server_t *s, int say, char *err, size_t errlen)
{
    const cairn__core_conf_t  *core = s->main_vhost->base.core;
    cairn__workers_user_t      u;
    long                       ncpu;

    M.nslots = core->workers;
    if (M.nslots <= 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        M.nslots = ncpu > 0 ? (int) ncpu : 1;
    }
    if (M.nslots > MASTER_MAX_SLOTS) {
        snprintf(err, errlen, "Workers %d: at most %d are supported",
                 M.nslots, MASTER_MAX_SLOTS);
        return -1;
    }

    if (cairn__master_workers_user(s, &u, err, errlen) != 0) {
        return -1;
    }

    M.drop = u.drop;
    M.uid = u.uid;
    M.gid = u.gid;
    cairn__log_set_owner(u.drop, u.uid, u.gid);

    if (!say) {
        return 0;
    }

    if (!u.drop && (core->user != NULL || core->group != NULL)) {
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "not started as root: User and "
                  "Group are ignored, workers run as uid %ld",
                  (long) geteuid());
    } else if (u.drop && u.uid == 0) {
        cairn_log(NULL, CAIRN_LOG_WARN, 0, "User %s: the workers serve "
                  "requests as root", u.user);
    } else if (u.by_default) {
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "started as root without User: "
                  "the workers run as %s (uid %ld, gid %ld); set User and "
                  "Group to choose", u.user, (long) u.uid, (long) u.gid);
    }

    return 0;
}


int
cairn__master_workers_user(cairn_server_t *s, cairn__workers_user_t *u,
                           char *err, size_t errlen)
{
    const cairn__core_conf_t  *core = s->main_vhost->base.core;
    struct passwd             *pw;
    struct group              *gr;

    memset(u, 0, sizeof(*u));
    u->uid = geteuid();
    u->gid = getegid();

    if (u->uid != 0) {
        return 0;
    }

    /* Started as root, workers never keep root by accident: without
     * User they run as nobody, like nginx's; `User root` says it. */
    u->user = core->user;
    if (u->user == NULL) {
        u->user = CAIRN__DEFAULT_USER;
        u->by_default = 1;
    }

    pw = getpwnam(u->user);
    if (pw == NULL) {
        if (u->by_default) {
            snprintf(err, errlen, "started as root without User, and there "
                     "is no user '%s' to run the workers as: set User (and "
                     "Group)", u->user);
        } else {
            snprintf(err, errlen, "User '%s' does not exist", u->user);
        }
        return -1;
    }
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;

    if (core->group != NULL) {
        gr = getgrnam(core->group);
        if (gr == NULL) {
            snprintf(err, errlen, "Group '%s' does not exist", core->group);
            return -1;
        }
        u->gid = gr->gr_gid;
    }

    u->drop = 1;

    return 0;
}


static int
master_listener_add(const char *spec, int slot)
{
    master_listener_t  *l;
    size_t              i;
    int                 fd, probe = 1;

    for (i = 0; i < M.nls; i++) {
        if (strcmp(M.ls[i].spec, spec) == 0) {
            probe = 0;
            break;
        }
    }

    fd = cairn__listen_open(spec, probe);
    if (fd < 0) {
        return -1;
    }

    l = realloc(M.ls, (M.nls + 1) * sizeof(*l));
    if (l == NULL) {
        cairn__oom(sizeof(*l));
    }
    M.ls = l;
    l = &M.ls[M.nls++];
    l->spec = strdup(spec);
    l->slot = slot;
    l->fd = fd;
    l->used = 1;

    return 0;
}


/*
 * Makes sure every (Listen address, worker slot) of s has a socket,
 * keeping the ones that exist.  Sockets no longer needed are closed.
 */
static int
master_listeners(cairn_server_t *s)
{
    const cairn__core_conf_t  *core = s->main_vhost->base.core;
    size_t                     i, j;
    int                        slot, rc = 0;

    if (core->listen.n == 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "%s: no Listen directive: add "
                  "one, e.g. 'Listen 127.0.0.1:8080'", s->conf_file);
        return -1;
    }

    for (i = 0; i < M.nls; i++) {
        M.ls[i].used = 0;
    }

    for (j = 0; j < core->listen.n; j++) {
        for (slot = 0; slot < M.nslots; slot++) {
            for (i = 0; i < M.nls; i++) {
                if (M.ls[i].slot == slot
                    && strcmp(M.ls[i].spec, core->listen.v[j]) == 0)
                {
                    M.ls[i].used = 1;
                    break;
                }
            }
            if (i == M.nls
                && master_listener_add(core->listen.v[j], slot) != 0)
            {
                rc = -1;
            }
        }
    }

    master_listeners_prune();

    return rc;
}


/* Closes the listening sockets no longer marked used. */
static void
master_listeners_prune(void)
{
    size_t  i, k;

    for (i = 0, k = 0; i < M.nls; i++) {
        if (!M.ls[i].used) {
            close(M.ls[i].fd);
            free(M.ls[i].spec);
            continue;
        }
        M.ls[k++] = M.ls[i];
    }
    M.nls = k;
}


static cairn__quarantine_t *
master_quarantine_new(void)
{
    void  *p;

    p = mmap(NULL, sizeof(cairn__quarantine_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}


static void
master_spawn(int slot)
{
    cairn__listener_t   ls[64];
    master_worker_t    *w;
    size_t              i, n;
    int                 rec;
    pid_t               pid, master = getpid();

    if (M.gen == NULL) {
        return;
    }

    for (rec = 0; rec < MASTER_CRASH_RECORDS; rec++) {
        if (!M.record_used[rec]) {
            break;
        }
    }
    if (rec == MASTER_CRASH_RECORDS) {
        rec = -1;
    } else {
        M.record_used[rec] = 1;
        memset(&M.records[rec], 0, sizeof(cairn__crash_t));
    }

    pid = fork();

    if (pid == -1) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "fork() failed: retrying "
                  "in a second");
        if (rec >= 0) {
            M.record_used[rec] = 0;
        }
        M.respawn_at[slot] = master_now() + 1000 * 1000;
        return;
    }

    if (pid == 0) {
        /* The worker: its own signals, only its own sockets. */
        close(M.sfd);
        sigprocmask(SIG_SETMASK, &M.oldmask, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master) {
            _exit(0);
        }

        n = 0;
        for (i = 0; i < M.nls; i++) {
            if (M.ls[i].slot == slot && n < 64) {
                ls[n].fd = M.ls[i].fd;
                ls[n].name = M.ls[i].spec;
                ls[n].handler = &cairn__http_handler;
                n++;
            } else {
                close(M.ls[i].fd);
            }
        }

        if (M.drop) {
            if (setgroups(0, NULL) != 0 || setgid(M.gid) != 0
                || setuid(M.uid) != 0)
            {
                cairn_log(NULL, CAIRN_LOG_CRIT, errno, "cannot switch the "
                          "worker to uid %ld, gid %ld", (long) M.uid,
                          (long) M.gid);
                _exit(2);
            }
        }

        cairn__crash = rec >= 0 ? &M.records[rec] : NULL;
        cairn__quarantine = M.quarantine;
        cairn__metrics_worker_slot(rec);

        exit(cairn__worker_run(M.gen, ls, n));
    }

    if (M.nworkers == M.capworkers) {
        M.capworkers = M.capworkers ? M.capworkers * 2 : 16;
        M.workers = realloc(M.workers, M.capworkers * sizeof(*w));
        if (M.workers == NULL) {
            cairn__oom(M.capworkers * sizeof(*w));
        }
    }

    w = &M.workers[M.nworkers++];
    w->pid = pid;
    w->slot = slot;
    w->generation = M.generation;
    w->record = rec;
    w->started_us = master_now();
    w->kill_at_us = 0;
    w->termed = 0;
    M.respawn_at[slot] = 0;

    if (M.died_at[slot] != 0) {
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "worker %ld took slot %d, "
                  "%llu ms after its previous worker died", (long) pid, slot,
                  (unsigned long long) ((w->started_us - M.died_at[slot])
                                        / 1000));
        M.died_at[slot] = 0;
    }
}


/* Starts a worker in every slot of the serving generation that has none
 * (and none coming). */
static void
master_fill_slots(void)
{
    size_t  i;
    int     slot;

    for (slot = 0; slot < M.nslots && M.gen != NULL; slot++) {
        for (i = 0; i < M.nworkers; i++) {
            if (M.workers[i].slot == slot
                && M.workers[i].generation == M.generation)
            {
                break;
            }
        }
        if (i == M.nworkers && M.respawn_at[slot] == 0) {
            master_spawn(slot);
        }
    }
}


static void
master_crash_count(const cairn__crash_t *cr)
{
    const cairn__core_conf_t  *core;
    cairn__quarantine_t       *q = M.quarantine;
    master_crash_t            *h;
    uint64_t                   now = master_now(), since;
    size_t                     i;
    int                        count = 0, k;

    if (M.gen == NULL || cr->module[0] == '\0') {
        return;
    }

    core = M.gen->main_vhost->base.core;
    if (core->crash_quarantine.crashes <= 0) {
        return;
    }

    h = &M.history[M.nhistory++ % MASTER_CRASH_HISTORY];
    snprintf(h->module, sizeof(h->module), "%s", cr->module);
    snprintf(h->location, sizeof(h->location), "%s", cr->location);
    h->at_us = now;

    since = (uint64_t) core->crash_quarantine.period_ms * 1000;
    since = now > since ? now - since : 0;

    for (i = 0; i < M.nhistory && i < MASTER_CRASH_HISTORY; i++) {
        if (M.history[i].at_us >= since
            && strcmp(M.history[i].module, cr->module) == 0
            && strcmp(M.history[i].location, cr->location) == 0)
        {
            count++;
        }
    }

    if (count < core->crash_quarantine.crashes) {
        return;
    }

    for (k = 0; k < q->n; k++) {
        if (strcmp(q->v[k].module, cr->module) == 0
            && strcmp(q->v[k].location, cr->location) == 0)
        {
            return;
        }
    }
    if (q->n >= CAIRN__QUARANTINE_MAX) {
        return;
    }

    snprintf(q->v[q->n].module, sizeof(q->v[0].module), "%s", cr->module);
    snprintf(q->v[q->n].location, sizeof(q->v[0].location), "%s",
             cr->location);
    /* The entry is complete before the workers can see it. */
    __sync_synchronize();
    q->n++;

    cairn_log(NULL, CAIRN_LOG_ERROR, 0, "mod_%s crashed %d times in %s "
              "within %lld s: quarantined there, its requests get 503 "
              "until the next reload", cr->module, count,
              cr->location[0] ? cr->location : "the server scope",
              (long long) core->crash_quarantine.period_ms / 1000);
}


static void
master_worker_died(master_worker_t *w, int status)
{
    cairn__crash_t  *cr = w->record >= 0 ? &M.records[w->record] : NULL;
    uint64_t         now = master_now(), delay_ms = 0;
    int              sig;

    if (w->kill_at_us != 0 || M.stopping) {
        cairn_log(NULL, CAIRN_LOG_INFO, 0, "worker %ld of generation %u has "
                  "exited", (long) w->pid, w->generation);
        return;
    }

    if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        if (cr != NULL && cr->filled && cr->module[0] != '\0') {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "worker %ld was killed by "
                      "signal %d (%s) in mod_%s, hook %s, %s, request \"%s\" "
                      "(id %s, client %s)", (long) w->pid, sig,
                      strsignal(sig), cr->module, cr->hook[0] ? cr->hook : "-",
                      cr->location[0] ? cr->location : "server scope",
                      cr->request[0] ? cr->request : "-",
                      cr->request_id[0] ? cr->request_id : "-",
                      cr->client[0] ? cr->client : "-");
            master_crash_count(cr);
        } else if (cr != NULL && cr->filled) {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "worker %ld was killed by "
                      "signal %d (%s) in the core%s%s, %s, request \"%s\" "
                      "(id %s, client %s)", (long) w->pid, sig,
                      strsignal(sig), cr->hook[0] ? " while " : "", cr->hook,
                      cr->location[0] ? cr->location : "server scope",
                      cr->request[0] ? cr->request : "-",
                      cr->request_id[0] ? cr->request_id : "-",
                      cr->client[0] ? cr->client : "-");
        } else {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "worker %ld was killed by "
                      "signal %d (%s)", (long) w->pid, sig, strsignal(sig));
        }
    } else {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "worker %ld exited with status "
                  "%d", (long) w->pid, WEXITSTATUS(status));
    }

    if (w->generation != M.generation) {
        return;
    }
    if (M.gen == NULL) {
        /* Replaced once the generation is loaded again. */
        M.died_at[w->slot] = now;
        return;
    }

    cairn__metrics_worker_restart();
    M.died_at[w->slot] = now;

    /* A worker that keeps dying young, before it served anything (a
     * module that crashes at start-up, a bad environment), waits longer
     * each time.  One that was serving is replaced at once: a client
     * that can crash a worker must not also be able to keep its slot
     * empty. */
    if (cr != NULL && cr->served) {
        M.fast_deaths[w->slot] = 0;
    } else if (now - w->started_us < MASTER_FAST_DEATH_US) {
        M.fast_deaths[w->slot]++;
        delay_ms = 100ull << (M.fast_deaths[w->slot] - 1 < 7
                              ? M.fast_deaths[w->slot] - 1 : 7);
        if (delay_ms > MASTER_BACKOFF_MAX_MS) {
            delay_ms = MASTER_BACKOFF_MAX_MS;
        }
    } else {
        M.fast_deaths[w->slot] = 0;
    }

    if (delay_ms == 0) {
        master_spawn(w->slot);
    } else {
        cairn_log(NULL, CAIRN_LOG_WARN, 0, "respawning the worker of slot %d "
                  "in %llu ms", w->slot, (unsigned long long) delay_ms);
        M.respawn_at[w->slot] = now + delay_ms * 1000;
    }
}


static void
master_reap(void)
{
    master_worker_t  dead;
    pid_t            pid;
    size_t           i;
    int              status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == M.check.pid) {
            M.check.exited = 1;
            M.check.status = status;
            master_check_end();
            continue;
        }

        for (i = 0; i < M.nworkers; i++) {
            if (M.workers[i].pid == pid) {
                break;
            }
        }
        if (i == M.nworkers) {
            continue;
        }

        dead = M.workers[i];
        M.workers[i] = M.workers[--M.nworkers];
        /* What it held of the shared gauges is no longer in flight. */
        cairn__metrics_worker_gone(dead.record);
        if (dead.record >= 0) {
            M.record_used[dead.record] = 0;
        }

        master_worker_died(&dead, status);
        if (dead.record >= 0) {
            memset(&M.records[dead.record], 0, sizeof(cairn__crash_t));
        }
    }
}


/* "exit status 1", "killed by signal SIGKILL". */
static const char *
master_wait_text(int status, char *buf, size_t len)
{
    const char  *name;

    if (WIFSIGNALED(status)) {
        name = sigabbrev_np(WTERMSIG(status));
        if (name != NULL) {
            snprintf(buf, len, "killed by signal SIG%s", name);
        } else {
            snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
        }
    } else if (WIFEXITED(status)) {
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    } else {
        snprintf(buf, len, "wait status %d", status);
    }

    return buf;
}


/*
 * The check child: loads the configuration with fresh copies of the
 * modules, and writes "ok" or "failed" with one message per line; after
 * "ok", what the master must open for the new generation ("slots N",
 * "listen ADDR", "errorlog PATH", "pidfile PATH"), then "source" and the
 * recorded source.
 */
static void
master_check_child(int fd)
{
    const cairn__core_conf_t    *core;
    const cairn__conf_error_t  *e;
    cairn_server_t             *s;
    char                        err[512];
    size_t                      i;
    FILE                       *out;
    int                         rc;

    /* Families the check registers stay out of the shared registry. */
    cairn__metrics_detach();
    out = fdopen(fd, "w");
    if (out == NULL) {
        _exit(2);
    }

    cairn__server_destroy(M.gen);
    s = cairn__server_create(M.conf_file, &M.defines, 1);
    rc = cairn__conf_load(s);
    if (rc == 0) {
        rc = cairn__conf_check_serving(s);
    }
    if (rc == 0 && master_prepare(s, 0, err, sizeof(err)) != 0) {
        cairn__conf_error(s, NULL, 0, "%s", err);
        rc = -1;
    }

    if (rc != 0) {
        fprintf(out, "failed\n");
        for (e = s->errors; e != NULL; e = e->next) {
            fprintf(out, "%s\n", e->text);
        }
        fflush(out);
        _exit(1);
    }

    core = s->main_vhost->base.core;
    fprintf(out, "ok\nslots %d\n", M.nslots);
    for (i = 0; i < core->listen.n; i++) {
        fprintf(out, "listen %s\n", core->listen.v[i]);
    }
    fprintf(out, "errorlog %s\n", core->error_log);
    if (core->pid_file != NULL) {
        fprintf(out, "pidfile %s\n", core->pid_file);
    }
    fprintf(out, "source\n");
    if (cairn__conf_source_write(s->src, out) != 0 || fflush(out) != 0) {
        _exit(2);
    }

    _exit(0);
}


/* SIGHUP: starts a check of the configuration, unless one runs. */
static void
master_reload(void)
{
    const cairn__core_conf_t  *core;
    struct timespec            ts;
    pid_t                      pid;
    int                        fds[2];

    if (M.check.pid != 0) {
        M.check.again = 1;
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "SIGHUP: a configuration check "
                  "is running; another follows it");
        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &ts);
    cairn__notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                  (unsigned long long) ts.tv_sec * 1000000ull
                  + (unsigned long long) ts.tv_nsec / 1000);
    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "SIGHUP: reloading %s", M.conf_file);

    if (pipe2(fds, O_CLOEXEC) != 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "reload refused: pipe() "
                  "failed");
        return;
    }

    pid = fork();
    if (pid == -1) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "reload refused: fork() "
                  "failed");
        close(fds[0]);
        close(fds[1]);
        return;
    }

    if (pid == 0) {
        close(fds[0]);
        close(M.sfd);
        master_check_child(fds[1]);
    }

    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);

    core = M.gen != NULL ? M.gen->main_vhost->base.core : NULL;
    memset(&M.check, 0, sizeof(M.check));
    M.check.pid = pid;
    M.check.fd = fds[0];
    M.check.deadline_us = master_now()
        + (uint64_t) (core != NULL ? core->config_test_timeout_ms
                                   : 30 * 1000) * 1000;
}


/* Reads what the check child wrote so far. */
static void
master_check_read(void)
{
    char     *grown;
    ssize_t   n;

    for ( ;; ) {
        if (M.check.len == M.check.cap) {
            if (M.check.cap >= MASTER_CHECK_MAX) {
                /* A check that writes without end is not a check. */
                M.check.too_much = 1;
                kill(M.check.pid, SIGKILL);
                close(M.check.fd);
                M.check.fd = -1;
                break;
            }
            M.check.cap = M.check.cap ? M.check.cap * 2 : 65536;
            grown = realloc(M.check.buf, M.check.cap + 1);
            if (grown == NULL) {
                cairn__oom(M.check.cap);
            }
            M.check.buf = grown;
        }
        n = read(M.check.fd, M.check.buf + M.check.len,
                 M.check.cap - M.check.len);
        if (n > 0) {
            M.check.len += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        close(M.check.fd);
        M.check.fd = -1;
        break;
    }

    master_check_end();
}


/*
 * When the check child has both exited and been read to its end: commit
 * or refuse the reload, then start the next check if a HUP came
 * meanwhile.
 */
static void
master_check_end(void)
{
    char     what[64];
    char    *text, *line, *save = NULL, *blob;
    size_t   tlen = 0, blen = 0;
    int      ok;

    if (M.check.pid == 0 || M.check.fd >= 0 || !M.check.exited) {
        return;
    }

    text = M.check.buf != NULL ? M.check.buf : (char *) "";
    if (M.check.buf != NULL) {
        M.check.buf[M.check.len] = '\0';
    }
    ok = WIFEXITED(M.check.status) && WEXITSTATUS(M.check.status) == 0
         && strncmp(text, "ok\n", 3) == 0;

    if (M.stopping) {
        /* Stopping: the check no longer matters. */
    } else if (M.check.killed) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: the "
                  "configuration check did not finish within %lld s "
                  "(ConfigTestTimeout) and was killed; still serving "
                  "generation %u", M.gen != NULL
                  ? (long long) M.gen->main_vhost->base.core
                        ->config_test_timeout_ms / 1000 : 30LL,
                  M.generation);
    } else if (M.check.too_much) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: the "
                  "configuration check wrote more than %d MiB; still "
                  "serving generation %u", MASTER_CHECK_MAX / (1024 * 1024),
                  M.generation);
    } else if (ok) {
        blob = strstr(text, "\nsource\n");
        if (blob != NULL) {
            tlen = (size_t) (blob - text) + 1;
            blob += 8;
            blen = M.check.len - (size_t) (blob - text);
            master_commit(text, tlen, blob, blen);
        } else {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: the "
                      "configuration check's answer is incomplete");
        }
    } else {
        if (strncmp(text, "failed\n", 7) == 0) {
            text += 7;
        }
        for (line = strtok_r(text, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
        {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload: %s", line);
        }
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: the "
                  "configuration check failed (%s); still serving "
                  "generation %u", master_wait_text(M.check.status, what,
                                                    sizeof(what)),
                  M.generation);
    }

    if (!ok || M.check.killed || M.check.too_much) {
        cairn__notify("READY=1\nSTATUS=reload refused: still serving "
                      "generation %u", M.generation);
    }

    free(M.check.buf);
    ok = M.check.again;
    memset(&M.check, 0, sizeof(M.check));
    M.check.fd = -1;

    if (ok && !M.stopping) {
        master_reload();
    }
}


/* Loads a generation from a recorded source; NULL after logging why. */
static cairn_server_t *
master_load(cairn__conf_source_t *src, int level, const char *what)
{
    const cairn__conf_error_t  *e;
    cairn_server_t             *s;
    char                        err[512];

    s = cairn__server_create(M.conf_file, &M.defines, 0);
    cairn__conf_use_source(s, src);
    if (cairn__conf_load(s) == 0
        && master_prepare(s, 1, err, sizeof(err)) == 0)
    {
        return s;
    }

    for (e = s->errors; e != NULL; e = e->next) {
        cairn_log(NULL, level, 0, "%s: %s", what, e->text);
    }
    cairn__server_destroy(s);

    return NULL;
}


/* A file a generation will write (ErrorLog, PidFile) can be opened. */
static int
master_can_write(const char *path)
{
    int  fd;

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd == -1) {
        return -1;
    }
    close(fd);

    return 0;
}


/*
 * The check succeeded: text holds its "slots", "listen", "errorlog" and
 * "pidfile" lines, blob the recorded source.  Opens what the new
 * generation needs in the master first; then replaces the generation.
 */
static void
master_commit(const char *text, size_t tlen, const char *blob, size_t blen)
{
    const cairn__core_conf_t  *core;
    cairn__conf_source_t      *src;
    cairn__quarantine_t       *q;
    cairn_server_t            *s;
    master_listener_t         *fresh = NULL;
    const char                *p, *eol;
    char                       line[1024], *errorlog = NULL, *pidfile = NULL;
    char                     **specs = NULL;
    size_t                     nspecs = 0, nfresh = 0, i, j, k, n;
    uint64_t                   now, kill_at;
    int                        slots = 0, slot, fd, failed = 0;

    src = cairn__conf_source_read(blob, blen);
    if (src == NULL) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: the "
                  "configuration check's source cannot be read");
        return;
    }

    for (p = text; p < text + tlen; p = eol + 1) {
        eol = memchr(p, '\n', (size_t) (text + tlen - p));
        if (eol == NULL) {
            break;
        }
        n = (size_t) (eol - p) < sizeof(line) ? (size_t) (eol - p)
                                              : sizeof(line) - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        if (strncmp(line, "slots ", 6) == 0) {
            slots = atoi(line + 6);
        } else if (strncmp(line, "listen ", 7) == 0) {
            specs = realloc(specs, (nspecs + 1) * sizeof(*specs));
            if (specs == NULL) {
                cairn__oom(sizeof(*specs));
            }
            specs[nspecs++] = strdup(line + 7);
        } else if (strncmp(line, "errorlog ", 9) == 0) {
            free(errorlog);
            errorlog = strdup(line + 9);
        } else if (strncmp(line, "pidfile ", 8) == 0) {
            free(pidfile);
            pidfile = strdup(line + 8);
        }
    }

    if (nspecs == 0 || slots <= 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: the checked "
                  "configuration listens nowhere; still serving generation "
                  "%u", M.generation);
        failed = 1;
    }

    /* Every (address, slot) the new generation listens on, bound before
     * anything changes: a taken address refuses the reload. */
    for (j = 0; j < nspecs && !failed; j++) {
        for (slot = 0; slot < slots && !failed; slot++) {
            for (i = 0; i < M.nls; i++) {
                if (M.ls[i].slot == slot && strcmp(M.ls[i].spec, specs[j])
                                            == 0)
                {
                    break;
                }
            }
            if (i < M.nls) {
                continue;
            }
            for (k = 0; k < M.nls; k++) {
                if (strcmp(M.ls[k].spec, specs[j]) == 0) {
                    break;
                }
            }
            fd = cairn__listen_open(specs[j], k == M.nls && slot == 0);
            if (fd < 0) {
                cairn_log(NULL, CAIRN_LOG_ERROR, 0, "reload refused: cannot "
                          "listen on %s (see above); still serving "
                          "generation %u with its sockets", specs[j],
                          M.generation);
                failed = 1;
                break;
            }
            fresh = realloc(fresh, (nfresh + 1) * sizeof(*fresh));
            if (fresh == NULL) {
                cairn__oom(sizeof(*fresh));
            }
            fresh[nfresh].spec = strdup(specs[j]);
            fresh[nfresh].slot = slot;
            fresh[nfresh].fd = fd;
            fresh[nfresh].used = 1;
            nfresh++;
        }
    }

    if (!failed && errorlog != NULL && strcmp(errorlog, "stderr") != 0
        && master_can_write(errorlog) != 0)
    {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "reload refused: cannot "
                  "open ErrorLog %s; still serving generation %u", errorlog,
                  M.generation);
        failed = 1;
    }
    if (!failed && pidfile != NULL
        && (M.pid_file == NULL || strcmp(pidfile, M.pid_file) != 0)
        && master_can_write(pidfile) != 0)
    {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "reload refused: cannot "
                  "write PidFile %s; still serving generation %u", pidfile,
                  M.generation);
        failed = 1;
    }

    if (!failed) {
        /* Unload every module, then load them again from their files,
         * with the configuration exactly as the check read it. */
        cairn__server_destroy(M.gen);
        M.gen = NULL;
        s = master_load(src, CAIRN_LOG_CRIT, "reload");
        if (s == NULL) {
            cairn_log(NULL, CAIRN_LOG_CRIT, 0, "reload refused: the checked "
                      "configuration did not load again in the master; "
                      "loading generation %u again", M.generation);
            M.gen = master_load(M.src, CAIRN_LOG_ALERT, "generation again");
            if (M.gen != NULL) {
                master_fill_slots();
            } else {
                M.regen_at = master_now() + 1000 * 1000;
                cairn_log(NULL, CAIRN_LOG_ALERT, 0, "the running generation "
                          "cannot be loaded again either: its workers go on, "
                          "none can be replaced; retrying every second");
            }
            failed = 1;
        }
    }

    if (failed) {
        for (i = 0; i < nfresh; i++) {
            close(fresh[i].fd);
            free(fresh[i].spec);
        }
        cairn__conf_source_free(src);
        goto done;
    }

    /* Committed. */
    M.gen = s;
    cairn__conf_source_free(M.src);
    M.src = src;
    M.generation++;
    M.reloads++;
    core = s->main_vhost->base.core;
    cairn__metrics_generation(s, M.generation, M.nslots, 1);

    cairn__log_set_json(core->log_json);
    if (cairn__log_open(core->error_log, core->log_level) != 0) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot open ErrorLog %s",
                  core->error_log);
    }

    if (core->pid_file != NULL
        && (M.pid_file == NULL || strcmp(core->pid_file, M.pid_file) != 0))
    {
        if (M.pid_file != NULL) {
            unlink(M.pid_file);
        }
        free(M.pid_file);
        M.pid_file = strdup(core->pid_file);
        cairn__master_write_pid(M.pid_file);
    } else if (core->pid_file == NULL && M.pid_file != NULL) {
        unlink(M.pid_file);
        free(M.pid_file);
        M.pid_file = NULL;
    }

    /* The sockets: the ones kept, the new ones; the rest closed. */
    for (i = 0; i < M.nls; i++) {
        M.ls[i].used = 0;
        for (j = 0; j < nspecs; j++) {
            if (strcmp(M.ls[i].spec, specs[j]) == 0 && M.ls[i].slot < slots) {
                M.ls[i].used = 1;
            }
        }
    }
    master_listeners_prune();
    if (nfresh > 0) {
        M.ls = realloc(M.ls, (M.nls + nfresh) * sizeof(*M.ls));
        if (M.ls == NULL) {
            cairn__oom(sizeof(*M.ls));
        }
        memcpy(M.ls + M.nls, fresh, nfresh * sizeof(*fresh));
        M.nls += nfresh;
    }

    q = master_quarantine_new();
    if (q != NULL) {
        munmap(M.quarantine, sizeof(*M.quarantine));
        M.quarantine = q;
    } else {
        memset(M.quarantine, 0, sizeof(*M.quarantine));
    }
    M.nhistory = 0;

    /* Old workers stop accepting and finish, each told once; new ones
     * take over the same sockets. */
    now = master_now();
    kill_at = now + (uint64_t) core->graceful_timeout_ms * 1000
              + MASTER_KILL_GRACE_US;
    for (i = 0; i < M.nworkers; i++) {
        if (M.workers[i].kill_at_us == 0) {
            M.workers[i].kill_at_us = kill_at;
        }
    }

    for (slot = 0; slot < MASTER_MAX_SLOTS; slot++) {
        M.fast_deaths[slot] = 0;
        M.respawn_at[slot] = 0;
        M.died_at[slot] = 0;
    }
    for (slot = 0; slot < M.nslots; slot++) {
        master_spawn(slot);
    }

    for (i = 0; i < M.nworkers; i++) {
        if (M.workers[i].generation != M.generation
            && !M.workers[i].termed)
        {
            kill(M.workers[i].pid, SIGTERM);
            M.workers[i].termed = 1;
        }
    }

    cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "reloaded: generation %u with %d "
              "workers", M.generation, M.nslots);
    cairn__notify("READY=1\nSTATUS=serving generation %u with %d workers",
                  M.generation, M.nslots);

done:

    free(fresh);
    for (j = 0; j < nspecs; j++) {
        free(specs[j]);
    }
    free(specs);
    free(errorlog);
    free(pidfile);
}


static void
master_stop(int now)
{
    uint64_t  graceful_ms = 1000;
    size_t    i;

    if (M.gen != NULL) {
        graceful_ms = (uint64_t) M.gen->main_vhost->base.core
                                     ->graceful_timeout_ms;
    }

    if (!M.stopping) {
        cairn__notify("STOPPING=1");
        cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "stopping %s",
                  now ? "now" : "gracefully");

        /* New connections are refused from here on. */
        for (i = 0; i < M.nls; i++) {
            close(M.ls[i].fd);
            M.ls[i].fd = -1;
        }
    }

    M.stopping = 1;
    M.stop_deadline_us = master_now()
                         + (now ? 2000 * 1000 : graceful_ms * 1000 + 2000000);

    if (M.check.pid != 0) {
        /* A reload being checked no longer matters. */
        kill(M.check.pid, SIGKILL);
    }

    for (i = 0; i < M.nworkers; i++) {
        if (now) {
            kill(M.workers[i].pid, SIGINT);
        } else if (!M.workers[i].termed) {
            /* Once: a second TERM tells a worker to stop at once, which
             * would cut the requests of an old generation still
             * finishing after a reload. */
            kill(M.workers[i].pid, SIGTERM);
            M.workers[i].termed = 1;
        }
    }
}


/*
 * SIGUSR1.  The master reopens every log first, its error log and, through
 * the reopen_logs hooks, the modules' files, while it is still root:
 * cairn_log_file_open() then hands each file to User, so the workers
 * signalled after it can open it again whoever created it (nginx does
 * the same).  Workers started later inherit the new descriptors.
 */
static void
master_reopen(void)
{
    size_t  i;

    if (cairn__log_reopen() != 0) {
        /* The log still open may be a deleted file nobody reads: say it
         * on stderr too (the journal, under systemd). */
        int  e = errno;

        cairn_log(NULL, CAIRN_LOG_ERROR, e, "cannot reopen the error log");
        fprintf(stderr, "cairnd: SIGUSR1: cannot reopen the error log: %s; "
                "logging goes on to the file that was open\n", strerror(e));
    }
    if (M.gen != NULL) {
        cairn__server_hooks_run(M.gen, CAIRN_SERVER_REOPEN_LOGS);
    }

    for (i = 0; i < M.nworkers; i++) {
        kill(M.workers[i].pid, SIGUSR1);
    }
}


static void
master_timers(void)
{
    uint64_t  now = master_now();
    size_t    i;
    int       slot;

    if (M.stopping) {
        if (now >= M.stop_deadline_us) {
            for (i = 0; i < M.nworkers; i++) {
                kill(M.workers[i].pid, SIGKILL);
            }
            M.stop_deadline_us = now + 1000 * 1000;
        }
        return;
    }

    if (M.check.pid != 0 && !M.check.killed && now >= M.check.deadline_us) {
        kill(M.check.pid, SIGKILL);
        M.check.killed = 1;
    }

    if (M.regen_at != 0 && now >= M.regen_at) {
        M.gen = master_load(M.src, CAIRN_LOG_ALERT, "generation again");
        M.regen_at = M.gen == NULL ? now + 1000 * 1000 : 0;
        if (M.gen != NULL) {
            cairn_log(NULL, CAIRN_LOG_NOTICE, 0, "generation %u is loaded "
                      "again: dead workers are replaced", M.generation);
            master_fill_slots();
        }
    }

    for (i = 0; i < M.nworkers; i++) {
        if (M.workers[i].kill_at_us != 0 && now >= M.workers[i].kill_at_us) {
            cairn_log(NULL, CAIRN_LOG_WARN, 0, "worker %ld of generation %u "
                      "outlived GracefulTimeout: killing it",
                      (long) M.workers[i].pid, M.workers[i].generation);
            kill(M.workers[i].pid, SIGKILL);
            M.workers[i].kill_at_us = now + 1000 * 1000;
        }
    }

    for (slot = 0; slot < M.nslots && M.gen != NULL; slot++) {
        if (M.respawn_at[slot] != 0 && now >= M.respawn_at[slot]) {
            master_spawn(slot);
        }
    }
}


int
cairn__master_write_pid(const char *path)
{
    char  buf[32];
    int   fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot write PidFile %s",
                  path);
        return -1;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (write(fd, buf, (size_t) n) != n) {
        close(fd);
        return -1;
    }

    return close(fd);
}


const char *
cairn__master_pid_file(void)
{
    return M.pid_file;
}


static int
master_poll_timeout(void)
{
    uint64_t  now = master_now(), next = 0;
    size_t    i;
    int       slot;

    if (M.check.pid != 0 && !M.check.killed) {
        next = M.check.deadline_us;
    }
    if (M.regen_at != 0 && (next == 0 || M.regen_at < next)) {
        next = M.regen_at;
    }

    if (M.stopping) {
        if (next == 0 || M.stop_deadline_us < next) {
            next = M.stop_deadline_us;
        }
    } else {
        for (i = 0; i < M.nworkers; i++) {
            if (M.workers[i].kill_at_us != 0
                && (next == 0 || M.workers[i].kill_at_us < next))
            {
                next = M.workers[i].kill_at_us;
            }
        }
        for (slot = 0; slot < M.nslots; slot++) {
            if (M.respawn_at[slot] != 0
                && (next == 0 || M.respawn_at[slot] < next))
            {
                next = M.respawn_at[slot];
            }
        }
    }

    if (next == 0) {
        return -1;
    }

    return next <= now ? 0 : (int) ((next - now) / 1000 + 1);
}


void
cairn__master_cleanup(void)
{
    size_t  i;

    cairn__server_destroy(M.gen);
    M.gen = NULL;

    for (i = 0; i < M.nls; i++) {
        free(M.ls[i].spec);
    }
    free(M.ls);
    free(M.workers);
    for (i = 0; i < M.defines.n; i++) {
        free((char *) M.defines.v[i]);
    }
    free(M.defines.v);
    free(M.conf_file);
    free(M.pid_file);
    cairn__conf_source_free(M.src);
    free(M.check.buf);
    if (M.records != NULL && M.records != MAP_FAILED) {
        munmap(M.records, MASTER_CRASH_RECORDS * sizeof(cairn__crash_t));
    }
    if (M.quarantine != NULL) {
        munmap(M.quarantine, sizeof(*M.quarantine));
    }
    memset(&M, 0, sizeof(M));
}
