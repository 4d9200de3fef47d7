/*
 * mod_mysql: named pools of MySQL/MariaDB connections, queried without
 * blocking the worker's loop.
 *
 *     <Database main>
 *         Host 127.0.0.1
 *         Port 3306
 *         User app
 *         PasswordFile /etc/cairn/db-main.pass
 *         Name app
 *         PoolSize 8
 *     </Database>
 *
 *     <Location /health/db>
 *         DatabaseHealth main
 *     </Location>
 *
 * Each section registers a provider ("db", name) with the table of
 * cairn/mysql.h; other modules use it to run prepared statements.  Every
 * worker keeps its own pool.  With MariaDB Connector/C every step
 * (connect, prepare, execute, store, fetch, commit, rollback, close) is
 * a _start()/_cont() pair driven by libevent events on the connection's
 * socket and timers; with a client library that lacks that API the same
 * blocking calls run on the worker's task pool instead.
 *
 * Directives: <Database name> ... </Database>   server
 *             DatabaseHealth name                location
 *             (inside <Database>: Host, Port, Socket, User, PasswordFile,
 *             Name, Charset, ConnectTimeout, QueryTimeout, PoolSize,
 *             MaxOverflow, PoolRecycle, PoolTimeout; see README.md)
 * Hooks:      post_config (MIDDLE), worker_init (MIDDLE), worker_exit
 *             (MIDDLE), handler (MIDDLE, in mysql_health.c)
 *
 * mod_mysql.h lists the files of the module and what each holds.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_mysql.h"


#define MOD_MYSQL_PASSWORD_MAX      4096


static void *mod_mysql_create_conf(cairn_arena_t *a);
static const char *mod_mysql_set_database(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static const char *mod_mysql_set_host(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_mysql_set_socket(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static const char *mod_mysql_set_port(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_mysql_set_count(cairn_cmd_t *cmd, void *conf,
                                       int argc, char **argv);
static const char *mod_mysql_set_health(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static int mod_mysql_resolve(cairn_arena_t *a, mod_mysql_db_t *db);
static int mod_mysql_post_config(cairn_server_t *s);
static const char *mod_mysql_check_health(void *conf, const char *where,
                                          void *data);
static const char *mod_mysql_read_password(cairn_arena_t *a,
                                           mod_mysql_db_t *db);
static int mod_mysql_check_connect(mod_mysql_db_t *db);
static int mod_mysql_worker_init(cairn_server_t *s);
static int mod_mysql_worker_exit(cairn_server_t *s);


static const cairn_directive_t  mod_mysql_db_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("Host", CAIRN_ARGS_ONE, mod_mysql_db_t, host,
                           CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_mysql_set_host),
    CAIRN_DIRECTIVE_CUSTOM("Port", CAIRN_ARGS_ONE, mod_mysql_db_t, port,
                           CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_mysql_set_port),
    CAIRN_DIRECTIVE_CUSTOM("Socket", CAIRN_ARGS_ONE, mod_mysql_db_t, socket,
                           CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_mysql_set_socket),
    CAIRN_DIRECTIVE_ONE("User", mod_mysql_db_t, user, CAIRN_SCOPE_SECTION,
                        CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_PATH("PasswordFile", mod_mysql_db_t, password_file,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_ONE("Name", mod_mysql_db_t, dbname, CAIRN_SCOPE_SECTION,
                        CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_ONE("Charset", mod_mysql_db_t, charset,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_MSEC("ConnectTimeout", mod_mysql_db_t, connect_timeout,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_MSEC("QueryTimeout", mod_mysql_db_t, query_timeout,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_CUSTOM("PoolSize", CAIRN_ARGS_ONE, mod_mysql_db_t,
                           pool_size, CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_mysql_set_count),
    CAIRN_DIRECTIVE_CUSTOM("MaxOverflow", CAIRN_ARGS_ONE, mod_mysql_db_t,
                           max_overflow, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_mysql_set_count),
    CAIRN_DIRECTIVE_MSEC("PoolRecycle", mod_mysql_db_t, pool_recycle,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_MSEC("PoolTimeout", mod_mysql_db_t, pool_timeout,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_FLAG("StrictMode", mod_mysql_db_t, strict,
                         CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_END
};


static const cairn_directive_t  mod_mysql_directives[] = {
    CAIRN_DIRECTIVE_SECTION("Database", mod_mysql_conf_t, dbs,
                            CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                            mod_mysql_set_database),
    CAIRN_DIRECTIVE_CUSTOM("DatabaseHealth", CAIRN_ARGS_ONE,
                           mod_mysql_conf_t, health, CAIRN_SCOPE_LOCATION,
                           CAIRN_MERGE_REPLACE, mod_mysql_set_health),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_mysql_defaults[] = {
    "(none)",
    "(none)",
};


static const cairn_hook_decl_t  mod_mysql_hooks[] = {
    CAIRN_HOOK_HANDLER(mod_mysql_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_POST_CONFIG(mod_mysql_post_config, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_mysql_worker_init, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_EXIT(mod_mysql_worker_exit, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(mysql) = {
    CAIRN_MODULE_HEADER,
    .name           = "mysql",
    .version        = CAIRN_VERSION,
    .description    = "MySQL/MariaDB connection pools, non-blocking",
    .directives     = mod_mysql_directives,
    .create_conf    = mod_mysql_create_conf,
    .directive_defaults = mod_mysql_defaults,
    .hooks          = mod_mysql_hooks,
};


/* The databases of the generation this worker runs. */
static mod_mysql_db_t  *mod_mysql_worker_dbs;


/* ------------------------------------------------------------------ */
/* Hooks                                                              */
/* ------------------------------------------------------------------ */

static int
mod_mysql_post_config(cairn_server_t *s)
{
    mod_mysql_conf_t  *mc;
    mod_mysql_db_t    *db;
    const char        *err;
    int                rc = CAIRN_OK;

    mc = cairn_server_conf(s, &mod_mysql_module);
    if (mc == NULL) {
        return CAIRN_OK;
    }

    for (db = mc->dbs; db != NULL; db = db->next) {
        err = NULL;
        if (db->user == NULL) {
            err = "needs a User";
        } else if (db->dbname == NULL) {
            err = "needs a Name (the database to use)";
        } else if (db->connect_timeout <= 0) {
            err = "ConnectTimeout must be more than 0";
        } else if (db->query_timeout <= 0) {
            err = "QueryTimeout must be more than 0";
        } else if (db->pool_timeout <= 0) {
            err = "PoolTimeout must be more than 0";
        }
        if (err == NULL && db->password_file != NULL) {
            err = mod_mysql_read_password(cairn_server_arena(s), db);
        }
        if (err != NULL) {
            cairn_log_error(NULL, 0, "%s:%d: <Database %s> %s", db->file,
                            db->line, db->name, err);
            rc = CAIRN_ERROR;
        }
        if (db->password == NULL) {
            db->password = "";
        }
        if (db->host == NULL && db->socket == NULL) {
            db->host = "127.0.0.1";
        }
        if (err == NULL && db->socket == NULL
            && mod_mysql_resolve(cairn_server_arena(s), db) != CAIRN_OK)
        {
            rc = CAIRN_ERROR;
        }
    }

    err = cairn_server_each_conf(s, &mod_mysql_module,
                                 mod_mysql_check_health, s);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        rc = CAIRN_ERROR;
    }

    if (rc == CAIRN_OK && cairn_server_defined(s, "CHECK_DB")) {
        for (db = mc->dbs; db != NULL; db = db->next) {
            if (mod_mysql_check_connect(db) != CAIRN_OK) {
                rc = CAIRN_ERROR;
            }
        }
        /* The master keeps no client state; workers start afresh. */
        mysql_library_end();
    }

    mod_mysql_metrics_register(s);

    return rc;
}
static int
mod_mysql_worker_init(cairn_server_t *s)
{
    mod_mysql_conf_t  *mc;
    mod_mysql_pool_t  *pool;
    mod_mysql_db_t    *db;

    mc = cairn_server_conf(s, &mod_mysql_module);
    mod_mysql_worker_dbs = mc != NULL ? mc->dbs : NULL;
    if (mod_mysql_worker_dbs == NULL) {
        return CAIRN_OK;
    }

    mod_mysql_exiting = 0;
    mod_mysql_reaper = event_new(cairn_event_base(), -1, 0,
                                 mod_mysql_handle_reap, NULL);
    if (mod_mysql_reaper == NULL) {
        cairn_log_error(NULL, 0, "mod_mysql: no memory for an event");
        return CAIRN_ERROR;
    }

    if (mysql_library_init(0, NULL, NULL) != 0) {
        cairn_log_error(NULL, 0, "the MySQL client library failed to "
                        "initialise");
        return CAIRN_ERROR;
    }

    for (db = mod_mysql_worker_dbs; db != NULL; db = db->next) {
        pool = calloc(1, sizeof(mod_mysql_pool_t));
        if (pool == NULL) {
            cairn_log_error(NULL, errno, "no memory for <Database %s>",
                            db->name);
            return CAIRN_ERROR;
        }
        pool->db = db;
        pool->ev_retry = evtimer_new(cairn_event_base(), mod_mysql_retry_cb,
                                     pool);
        db->pool = pool;

        /* Every series exists from the start, at 0. */
        mod_mysql_gauge(mod_mysql_m_open, pool, 0);
        mod_mysql_gauge(mod_mysql_m_in_use, pool, 0);
        mod_mysql_gauge(mod_mysql_m_overflow, pool, 0);
        mod_mysql_gauge(mod_mysql_m_waiters, pool, 0);
        mod_mysql_pool_fill(pool);
    }

    return CAIRN_OK;
}
/*
 * The loop has stopped: requests still holding a connection are told
 * nothing more (their arenas die after this), and every connection is
 * closed with the blocking call, which only sends COM_QUIT.
 */
static int
mod_mysql_worker_exit(cairn_server_t *s)
{
    mod_mysql_pool_t    *pool;
    mod_mysql_conn_t    *c, *next;
    mod_mysql_handle_t  *h;
    mod_mysql_db_t      *db;

    for (db = mod_mysql_worker_dbs; db != NULL; db = db->next) {
        pool = db->pool;
        if (pool == NULL) {
            continue;
        }

        while ((h = pool->qhead) != NULL) {
            mod_mysql_queue_remove(h);
        }

        for (c = pool->conns; c != NULL; c = next) {
            next = c->next;
            if (c->h != NULL) {
                c->h->conn = NULL;
                c->h = NULL;
            }
#ifndef CAIRN_MYSQL_NONBLOCKING
            if (c->op != MOD_MYSQL_OP_NONE) {
                /* A task thread still uses it: it leaves the pool, which
                 * goes now, and is freed when the task is done (the task
                 * pool runs that after the worker_exit hooks). */
                c->pool = NULL;
                c->prev = c->next = NULL;
                continue;
            }
#endif
            if (c->counted) {
                c->counted = 0;
                mod_mysql_pool_count(pool, -1);
            }
            if (c->state == MOD_MYSQL_BOUND) {
                mod_mysql_gauge(mod_mysql_m_in_use, pool, -1);
            }
            mod_mysql_conn_drain(c);
            mod_mysql_conn_free(c);
        }

        event_free(pool->ev_retry);
        free(pool);
        db->pool = NULL;
    }

    /* Worker-level users (a boot check still waiting, say) hear nothing
     * more; their handles go with the pools. */
    mod_mysql_exiting = 1;
    while (mod_mysql_detached != NULL) {
        cairn_arena_destroy(mod_mysql_detached->a);
    }
    if (mod_mysql_reaper != NULL) {
        event_free(mod_mysql_reaper);
        mod_mysql_reaper = NULL;
    }

    mod_mysql_worker_dbs = NULL;
#ifdef CAIRN_MYSQL_NONBLOCKING
    mysql_library_end();
#endif

    return CAIRN_OK;
}


/* ------------------------------------------------------------------ */
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

static void *
mod_mysql_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_mysql_conf_t));
}
/* <Database name>: a new pool with defaults; the body fills it. */
static const char *
mod_mysql_set_database(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_mysql_conf_t  *mc = conf;
    mod_mysql_db_t    *db, **tail;
    cairn_arena_t     *a = cairn_cmd_arena(cmd);

    if (argc != 1 || argv[0][0] == '\0') {
        return "<Database> takes one argument, the database's name";
    }

    for (tail = &mc->dbs; *tail != NULL; tail = &(*tail)->next) {
        if (strcmp((*tail)->name, argv[0]) == 0) {
            return cairn_arena_printf(a, "<Database %s> is already defined "
                                      "at %s:%d", argv[0], (*tail)->file,
                                      (*tail)->line);
        }
    }

    db = cairn_arena_calloc(a, sizeof(mod_mysql_db_t));
    db->name = cairn_arena_strdup(a, argv[0]);
    db->file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    db->line = cairn_cmd_line(cmd);
    db->port = 0;
    db->charset = "utf8mb4";
    db->strict = 1;
    db->connect_timeout = 5000;
    db->query_timeout = 30000;
    db->pool_timeout = 5000;
    db->pool_recycle = 0;
    db->pool_size = 4;
    db->max_overflow = 4;

    db->api.size = sizeof(cairn_db_t);
    db->api.version = CAIRN_DB_API_VERSION;
    db->api.name = db->name;
    db->api.acquire = mod_mysql_api_acquire;
    db->api.query = mod_mysql_api_query;
    db->api.begin = mod_mysql_api_begin;
    db->api.commit = mod_mysql_api_commit;
    db->api.rollback = mod_mysql_api_rollback;
    db->api.release = mod_mysql_api_release;
    db->api.kind_name = mod_mysql_api_kind_name;
    db->api.acquire_detached = mod_mysql_api_acquire_detached;

    if (cairn_provider_register(cairn_cmd_server(cmd), CAIRN_DB_PROVIDER,
                                db->name, &db->api) != CAIRN_OK)
    {
        return cairn_arena_printf(a, "another module already provides a "
                                  "database called \"%s\"", db->name);
    }

    *tail = db;

    return cairn_cmd_section(cmd, mod_mysql_db_directives, db);
}
static const char *
mod_mysql_set_host(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_mysql_db_t  *db = conf;

    if (db->socket != NULL) {
        return "Host and Socket exclude each other: give one of them";
    }
    if (argv[0][0] == '\0') {
        return "Host must not be empty";
    }

    db->host = cairn_arena_strdup(cairn_cmd_arena(cmd), argv[0]);

    return NULL;
}
static const char *
mod_mysql_set_socket(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_mysql_db_t  *db = conf;

    if (db->host != NULL || db->port != 0) {
        return "Socket excludes Host and Port: give one or the other";
    }
    if (argv[0][0] != '/') {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "Socket \"%s\" must "
                                  "be an absolute path", argv[0]);
    }

    db->socket = cairn_arena_strdup(cairn_cmd_arena(cmd), argv[0]);

    return NULL;
}
static const char *
mod_mysql_set_port(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_mysql_db_t  *db = conf;
    const char      *err;
    int              port;

    if (db->socket != NULL) {
        return "Port makes no sense with Socket: give one or the other";
    }

    err = cairn_parse_int(argv[0], &port);
    if (err != NULL) {
        return err;
    }
    if (port < 1 || port > 65535) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "Port %s is not a "
                                  "port number (1 to 65535)", argv[0]);
    }

    db->port = port;

    return NULL;
}
/* PoolSize (1..1000) and MaxOverflow (0..1000). */
static const char *
mod_mysql_set_count(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_mysql_db_t  *db = conf;
    const char      *name = cairn_cmd_name(cmd);
    const char      *err;
    int              n, min;

    err = cairn_parse_int(argv[0], &n);
    if (err != NULL) {
        return err;
    }

    min = strcasecmp(name, "PoolSize") == 0 ? 1 : 0;
    if (n < min || n > 1000) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "%s %s is out of "
                                  "range (%d to 1000)", name, argv[0], min);
    }

    if (min == 1) {
        db->pool_size = n;
    } else {
        db->max_overflow = n;
    }

    return NULL;
}
static const char *
mod_mysql_set_health(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_mysql_conf_t        *mc = conf;
    mod_mysql_health_ref_t  *ref;
    cairn_arena_t           *a = cairn_cmd_arena(cmd);

    ref = cairn_arena_calloc(a, sizeof(*ref));
    ref->name = cairn_arena_strdup(a, argv[0]);
    ref->file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    ref->line = cairn_cmd_line(cmd);
    mc->health = ref;

    return NULL;
}
/*
 * Checks every section (what a section's body cannot check line by
 * line), reads the password files while still privileged, checks every
 * DatabaseHealth name, and with -D CHECK_DB connects once to each.
 */
/*
 * Resolves Host once per configuration load, as nginx does for its
 * upstreams: the client library would look the name up inside its
 * connect call, holding the worker's loop for as long as the lookup
 * takes.  A name that does not resolve fails the configuration; a
 * changed address is picked up by a reload.  "localhost" keeps its
 * MySQL meaning (the server's Unix socket).
 */
static int
mod_mysql_resolve(cairn_arena_t *a, mod_mysql_db_t *db)
{
    struct addrinfo   hints, *res;
    char              text[NI_MAXHOST];
    int               rc;

    db->address = db->host;
    if (strcmp(db->host, "localhost") == 0) {
        return CAIRN_OK;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(db->host, NULL, &hints, &res);
    if (rc != 0) {
        cairn_log_error(NULL, 0, "%s:%d: <Database %s> Host \"%s\" does not "
                        "resolve: %s", db->file, db->line, db->name,
                        db->host, gai_strerror(rc));
        return CAIRN_ERROR;
    }

    rc = getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof(text),
                     NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0) {
        cairn_log_error(NULL, 0, "%s:%d: <Database %s> Host \"%s\": %s",
                        db->file, db->line, db->name, db->host,
                        gai_strerror(rc));
        return CAIRN_ERROR;
    }

    db->address = cairn_arena_strdup(a, text);

    return CAIRN_OK;
}
static const char *
mod_mysql_check_health(void *conf, const char *where, void *data)
{
    const mod_mysql_conf_t  *lc = conf;
    const mod_mysql_conf_t  *mc;
    const mod_mysql_db_t    *db;
    cairn_server_t          *s = data;

    if (lc->health == NULL) {
        return NULL;
    }

    mc = cairn_server_conf(s, &mod_mysql_module);

    for (db = mc != NULL ? mc->dbs : NULL; db != NULL; db = db->next) {
        if (strcmp(db->name, lc->health->name) == 0) {
            return NULL;
        }
    }

    return cairn_arena_printf(cairn_server_arena(s), "%s:%d: DatabaseHealth "
                              "%s: there is no <Database %s>",
                              lc->health->file, lc->health->line,
                              lc->health->name, lc->health->name);
}
/*
 * Reads PasswordFile: a regular file nobody but its owner may read, the
 * password on its first line (one trailing newline is dropped).
 */
static const char *
mod_mysql_read_password(cairn_arena_t *a, mod_mysql_db_t *db)
{
    const char   *path = db->password_file;
    struct stat   st;
    char          buf[MOD_MYSQL_PASSWORD_MAX + 1];
    ssize_t       n;
    size_t        len;
    int           fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return cairn_arena_printf(a, "PasswordFile %s cannot be opened: %s",
                                  path, strerror(errno));
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cairn_arena_printf(a, "PasswordFile %s is not a regular "
                                  "file", path);
    }

    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return cairn_arena_printf(a, "PasswordFile %s is readable by group "
                                  "or others (mode %04o): run chmod 600 %s",
                                  path, (unsigned) (st.st_mode & 07777),
                                  path);
    }

    len = 0;
    for ( ;; ) {
        n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t) n;
        if (len == sizeof(buf) - 1) {
            break;
        }
    }
    close(fd);

    if (n < 0) {
        return cairn_arena_printf(a, "PasswordFile %s cannot be read: %s",
                                  path, strerror(errno));
    }
    if (len >= MOD_MYSQL_PASSWORD_MAX) {
        return cairn_arena_printf(a, "PasswordFile %s is too long", path);
    }

    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (memchr(buf, '\0', len) != NULL) {
        return cairn_arena_printf(a, "PasswordFile %s holds a NUL byte",
                                  path);
    }

    db->password = cairn_arena_strndup(a, buf, len);
    memset(buf, 0, sizeof(buf));

    return NULL;
}
/* -D CHECK_DB: one blocking connection (this is the config test). */
static int
mod_mysql_check_connect(mod_mysql_db_t *db)
{
    MYSQL  *mysql;

    mysql = mod_mysql_new_mysql(db, 0);
    if (mysql == NULL) {
        cairn_log_error(NULL, 0, "%s:%d: <Database %s>: out of memory",
                        db->file, db->line, db->name);
        return CAIRN_ERROR;
    }

    if (mysql_real_connect(mysql, db->socket ? NULL : db->address, db->user,
                           db->password, db->dbname,
                           (unsigned) db->port, db->socket, 0) == NULL)
    {
        cairn_log_error(NULL, 0, "%s:%d: <Database %s>: cannot connect: "
                        "%s (%u)", db->file, db->line, db->name,
                        mysql_error(mysql), mysql_errno(mysql));
        mysql_close(mysql);
        return CAIRN_ERROR;
    }

    cairn_log_info(NULL, "<Database %s>: connected to %s, server %s",
                     db->name, mysql_get_host_info(mysql),
                     mysql_get_server_info(mysql));
    mysql_close(mysql);

    return CAIRN_OK;
}
