/*
 * core/conf_core.c: the core's own directives.
 *
 * The core keeps its settings like a module does (module index 0): a
 * directive table over cairn__core_conf_t, merged down the scopes like
 * every other module's.  The value parsers it shares with the config
 * parser and modules' setters are in conf_value.c.
 *
 * Directives: Listen [ADDR:]PORT...      server           append
 *             Workers auto|N             server
 *             User, Group NAME           server
 *             ServerName NAME            server, vhost
 *             ErrorLog stderr|PATH       server
 *             LogLevel LEVEL             server
 *             PidFile PATH               server
 *             KeepAliveTimeout, RequestHeaderTimeout, RequestBodyTimeout,
 *             SendTimeout TIME           server, vhost
 *             RequestBodyMinRate BYTES   server, vhost
 *             LingeringTimeout TIME      server, vhost
 *             DiscardBodyLimit SIZE      server, vhost, location
 *             MaxKeepAliveRequests N     server, vhost
 *             LimitRequestLine, LimitRequestFields,
 *             LimitRequestFieldSize N    server, vhost
 *             LimitRequestBody SIZE      server, vhost, location
 *             LimitRequestHeaderSize SIZE  server      default 32k
 *             GracefulTimeout TIME       server
 *             ConfigTestTimeout TIME     server
 *             MaxConnections N           server
 *             TaskThreads N              server
 *             HookWarnTime TIME          server           default 20ms
 *             Header NAME VALUE          server, vhost, location  by key
 *             ErrorDocument CODE /url|URL|file:PATH|"text"
 *                                        server, vhost, location  by key
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "conf_int.h"
#include "log_int.h"
#include "path_int.h"


#define CONF_CORE_SV    (CAIRN_SCOPE_SERVER | CAIRN_SCOPE_VHOST)


static void *conf_core_create_conf(cairn_arena_t *a);
static const char *conf_core_set_listen(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static const char *conf_core_set_workers(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *conf_core_set_error_log(cairn_cmd_t *cmd, void *conf,
                                           int argc, char **argv);
static const char *conf_core_set_log_level(cairn_cmd_t *cmd, void *conf,
                                           int argc, char **argv);
static const char *conf_core_check_listen(cairn_arena_t *a, const char *spec);
static int conf_core_port(const char *s);
static const char *conf_core_set_log_format(cairn_cmd_t *cmd, void *conf,
                                            int argc, char **argv);
static const char *conf_core_set_crash_quarantine(cairn_cmd_t *cmd,
                                                  void *conf, int argc,
                                                  char **argv);
static const char *conf_core_set_error_document(cairn_cmd_t *cmd, void *conf,
                                                int argc, char **argv);
static const char *conf_core_error_file(cairn_cmd_t *cmd, const char *path,
                                        const char **out);


static const cairn_directive_t  conf_core_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("Listen", CAIRN_ARGS_ONE_OR_MORE,
                           cairn__core_conf_t, listen, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_APPEND, conf_core_set_listen),
    CAIRN_DIRECTIVE_CUSTOM("Workers", CAIRN_ARGS_ONE, cairn__core_conf_t,
                           workers, CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                           conf_core_set_workers),
    CAIRN_DIRECTIVE_ONE("User", cairn__core_conf_t, user,
                        CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_ONE("Group", cairn__core_conf_t, group,
                        CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_ONE("ServerName", cairn__core_conf_t, server_name,
                        CONF_CORE_SV, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("ErrorLog", CAIRN_ARGS_ONE, cairn__core_conf_t,
                           error_log, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_REPLACE, conf_core_set_error_log),
    CAIRN_DIRECTIVE_CUSTOM("ErrorLogFormat", CAIRN_ARGS_ONE,
                           cairn__core_conf_t, log_json, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_REPLACE, conf_core_set_log_format),
    CAIRN_DIRECTIVE_CUSTOM("LogLevel", CAIRN_ARGS_ONE, cairn__core_conf_t,
                           log_level, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_REPLACE, conf_core_set_log_level),
    CAIRN_DIRECTIVE_PATH("PidFile", cairn__core_conf_t, pid_file,
                         CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("KeepAliveTimeout", cairn__core_conf_t,
                         keepalive_timeout_ms, CONF_CORE_SV,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("RequestHeaderTimeout", cairn__core_conf_t,
                         request_header_timeout_ms, CONF_CORE_SV,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("RequestBodyTimeout", cairn__core_conf_t,
                         request_body_timeout_ms, CONF_CORE_SV,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("RequestBodyMinRate", cairn__core_conf_t,
                         request_body_min_rate, CONF_CORE_SV,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("SendTimeout", cairn__core_conf_t, send_timeout_ms,
                         CONF_CORE_SV, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("LingeringTimeout", cairn__core_conf_t,
                         lingering_timeout_ms, CONF_CORE_SV,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("DiscardBodyLimit", cairn__core_conf_t,
                         discard_body_limit, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("ConfigTestTimeout", cairn__core_conf_t,
                         config_test_timeout_ms, CAIRN_SCOPE_SERVER,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("GracefulTimeout", cairn__core_conf_t,
                         graceful_timeout_ms, CAIRN_SCOPE_SERVER,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("MaxKeepAliveRequests", cairn__core_conf_t,
                        max_keepalive_requests, CONF_CORE_SV,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("MaxConnections", cairn__core_conf_t,
                        max_connections, CAIRN_SCOPE_SERVER,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("LimitRequestLine", cairn__core_conf_t,
                        limit_request_line, CONF_CORE_SV,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("LimitRequestFields", cairn__core_conf_t,
                        limit_request_fields, CONF_CORE_SV,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("LimitRequestFieldSize", cairn__core_conf_t,
                        limit_request_field_size, CONF_CORE_SV,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("LimitRequestBody", cairn__core_conf_t,
                         limit_request_body, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("LimitRequestHeaderSize", cairn__core_conf_t,
                         limit_request_header_size, CAIRN_SCOPE_SERVER,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_INT("TaskThreads", cairn__core_conf_t, task_threads,
                        CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("HookWarnTime", cairn__core_conf_t, hook_warn_ms,
                         CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_KV("Header", cairn__core_conf_t, headers,
                       CAIRN_SCOPE_ANY, CAIRN_MERGE_KEY),
    CAIRN_DIRECTIVE_CUSTOM("ErrorDocument", CAIRN_ARGS_TWO,
                           cairn__core_conf_t, error_documents,
                           CAIRN_SCOPE_ANY, CAIRN_MERGE_KEY,
                           conf_core_set_error_document),
    CAIRN_DIRECTIVE_CUSTOM("CrashQuarantine", CAIRN_ARGS_ONE_OR_MORE,
                           cairn__core_conf_t, crash_quarantine,
                           CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                           conf_core_set_crash_quarantine),
    CAIRN_DIRECTIVE_END
};


cairn_module_t  cairn__core_module = {
    CAIRN_MODULE_HEADER,
    .name           = "core",
    .version        = PACKAGE_VERSION,
    .description    = "the cairnd core: listeners, processes, limits",
    .directives     = conf_core_directives,
    .create_conf    = conf_core_create_conf,
};


static void *
conf_core_create_conf(cairn_arena_t *a)
{
    cairn__core_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(cairn__core_conf_t));

    /* listen, user, group, server_name, pid_file and headers stay empty;
     * workers 0 is "auto". */
    conf->error_log = "stderr";
    conf->log_level = CAIRN_LOG_NOTICE;
    conf->keepalive_timeout_ms = 5 * 1000;
    conf->request_header_timeout_ms = 10 * 1000;
    conf->request_body_timeout_ms = 60 * 1000;
    conf->request_body_min_rate = 500;
    conf->send_timeout_ms = 60 * 1000;
    conf->graceful_timeout_ms = 30 * 1000;
    conf->config_test_timeout_ms = 30 * 1000;
    conf->lingering_timeout_ms = 5 * 1000;
    conf->discard_body_limit = 1024 * 1024;
    conf->max_keepalive_requests = 1000;
    conf->max_connections = 4096;
    conf->limit_request_line = 8190;
    conf->limit_request_fields = 100;
    conf->limit_request_field_size = 8190;
    conf->limit_request_body = 1024 * 1024;
    /* nginx's large_client_header_buffers 4 8k. */
    conf->limit_request_header_size = 32 * 1024;
    conf->task_threads = 4;
    conf->hook_warn_ms = 20;
    conf->crash_quarantine.crashes = 5;
    conf->crash_quarantine.period_ms = 60 * 1000;

    return conf;
}


/*
 * What a configuration that is to serve needs beyond what each directive
 * checks (cairnd -t, start, a reload's check): at least one Listen.
 * Returns 0, or -1 with the error recorded.
 */
int
cairn__conf_check_serving(cairn_server_t *s)
{
    const cairn__core_conf_t  *core = s->main_vhost->base.core;

    if (core->listen.n == 0) {
        cairn__conf_error(s, NULL, 0, "%s: no Listen directive: add one, "
                          "e.g. 'Listen 127.0.0.1:8080'", s->conf_file);
        return -1;
    }

    return 0;
}


/*
 * Listen keeps its addresses in a cairn_strv_t like a list directive, but
 * checks each one first: PORT, ADDR:PORT or [IPV6]:PORT with a port from
 * 1 to 65535.  Every Listen line adds to the list; the same address twice
 * is refused, since the second bind would fail at start.
 */
static const char *
conf_core_set_listen(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    cairn__core_conf_t  *c = conf;
    cairn_arena_t       *a = cairn_cmd_arena(cmd);
    const char         **v;
    const char          *err;
    size_t               n, j;
    int                  i;

    for (i = 0; i < argc; i++) {
        err = conf_core_check_listen(a, argv[i]);
        if (err != NULL) {
            return err;
        }
    }

    n = c->listen.n;
    v = cairn_arena_alloc(a, (n + (size_t) argc) * sizeof(char *));
    if (n > 0) {
        memcpy(v, c->listen.v, n * sizeof(char *));
    }

    for (i = 0; i < argc; i++) {
        for (j = 0; j < n; j++) {
            if (strcmp(v[j], argv[i]) == 0) {
                return cairn_arena_printf(a, "Listen %s is given twice",
                                          argv[i]);
            }
        }
        v[n++] = argv[i];
    }

    c->listen.v = v;
    c->listen.n = n;

    return NULL;
}


static const char *
conf_core_check_listen(cairn_arena_t *a, const char *spec)
{
    const char  *port, *p, *q;
    size_t       hlen;

    if (spec[0] == '[') {
        p = strchr(spec, ']');
        if (p == NULL || p == spec + 1 || p[1] != ':') {
            goto bad;
        }
        for (q = spec + 1; q < p; q++) {
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')
                  || (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.'))
            {
                goto bad;
            }
        }
        port = p + 2;

    } else {
        p = strrchr(spec, ':');
        if (p == NULL) {
            port = spec;
        } else {
            hlen = (size_t) (p - spec);
            if (hlen == 0 || hlen > 255 || memchr(spec, ':', hlen) != NULL) {
                goto bad;
            }
            port = p + 1;
        }
    }

    if (conf_core_port(port) < 0) {
        return cairn_arena_printf(a, "Listen %s: the port must be a number "
                                  "from 1 to 65535", spec);
    }

    return NULL;

bad:

    return cairn_arena_printf(a, "Listen '%s' is not an address (use PORT, "
                              "ADDR:PORT or [IPV6]:PORT, e.g. "
                              "127.0.0.1:8080)", spec);
}


/* A port number 1-65535, or -1. */
static int
conf_core_port(const char *s)
{
    int  port = 0;

    if (*s == '\0') {
        return -1;
    }

    for ( /* void */ ; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        port = port * 10 + (*s - '0');
        if (port > 65535) {
            return -1;
        }
    }

    return port >= 1 ? port : -1;
}


static const char *
conf_core_set_workers(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    cairn__core_conf_t  *c = conf;
    int                  n;

    if (strcasecmp(argv[0], "auto") == 0) {
        c->workers = 0;
        return NULL;
    }

    if (cairn_parse_int(argv[0], &n) != NULL || n < 1) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "Workers '%s' must "
                                  "be 'auto' or a number >= 1", argv[0]);
    }

    c->workers = n;

    return NULL;
}


/* "stderr" names standard error; anything else is a file, relative to
 * the main config file's directory. */
static const char *
conf_core_set_error_log(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    cairn__core_conf_t  *c = conf;
    const char          *slash, *dir;
    struct stat          st;

    if (argv[0][0] == '\0') {
        return "ErrorLog needs a file name or 'stderr'";
    }

    if (strcmp(argv[0], "stderr") == 0) {
        c->error_log = "stderr";
        return NULL;
    }

    c->error_log = cairn_cmd_path(cmd, argv[0]);

    /* What can be foreseen is said here, with the line: a log in a
     * directory that does not exist would fail only at start or reload. */
    slash = strrchr(c->error_log, '/');
    dir = slash == NULL ? "." : slash == c->error_log ? "/"
          : cairn_arena_strndup(cairn_cmd_arena(cmd), c->error_log,
                                (size_t) (slash - c->error_log));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "ErrorLog %s: the "
                                  "directory %s does not exist", c->error_log,
                                  dir);
    }
    if (access(dir, W_OK) != 0 && access(c->error_log, W_OK) != 0) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "ErrorLog %s: "
                                  "cannot write in %s: %s", c->error_log,
                                  dir, strerror(errno));
    }

    return NULL;
}


static const char *
conf_core_set_log_level(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    cairn__core_conf_t  *c = conf;
    int                  level;

    level = cairn__log_level_parse(argv[0]);
    if (level < 0) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "unknown LogLevel "
                                  "'%s' (use emerg, alert, crit, error, "
                                  "warn, notice, info or debug)", argv[0]);
    }

    c->log_level = level;

    return NULL;
}


/*
 * CrashQuarantine N PERIOD: a module whose hooks crash workers N times
 * within PERIOD in one location is quarantined there until the next
 * reload.  "CrashQuarantine off" never quarantines.
 */
static const char *
conf_core_set_crash_quarantine(cairn_cmd_t *cmd, void *conf, int argc,
                               char **argv)
{
    cairn__core_conf_t  *c = conf;
    const char          *err;
    int                  n;
    int64_t              ms;

    if (argc == 1 && strcasecmp(argv[0], "off") == 0) {
        c->crash_quarantine.crashes = 0;
        return NULL;
    }

    if (argc != 2) {
        return "CrashQuarantine takes a crash count and a period (e.g. "
               "'CrashQuarantine 5 60s'), or 'off'";
    }

    err = cairn_parse_int(argv[0], &n);
    if (err != NULL) {
        return err;
    }
    if (n < 1) {
        return "CrashQuarantine: the crash count must be 1 or more";
    }

    err = cairn_parse_msec(argv[1], &ms);
    if (err != NULL) {
        return err;
    }
    if (ms <= 0) {
        return "CrashQuarantine: the period must be longer than 0";
    }

    c->crash_quarantine.crashes = n;
    c->crash_quarantine.period_ms = ms;

    return NULL;
}


/* ErrorLogFormat plain|json */
static const char *
conf_core_set_log_format(cairn_cmd_t *cmd, void *conf, int argc,
                         char **argv)
{
    cairn__core_conf_t  *c = conf;

    if (strcasecmp(argv[0], "plain") == 0) {
        c->log_json = 0;
    } else if (strcasecmp(argv[0], "json") == 0) {
        c->log_json = 1;
    } else {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "ErrorLogFormat "
                                  "'%s': use plain or json", argv[0]);
    }

    return NULL;
}


/* The largest file an ErrorDocument may name: it is kept in memory. */
#define CONF_CORE_ERROR_FILE_MAX    (64 * 1024)


/*
 * ErrorDocument CODE WHAT (Apache's): WHAT is a local URL ("/404.html",
 * served by an internal redirect), an http(s) URL (a 302 to it), a file
 * ("file:errors/404.html", read now, relative to the configuration's
 * directory) or a text ("Sorry, not here").  Kept by key in
 * error_documents, encoded as conf_int.h says.
 */
static const char *
conf_core_set_error_document(cairn_cmd_t *cmd, void *conf, int argc,
                             char **argv)
{
    cairn__core_conf_t  *c = conf;
    cairn_arena_t       *a = cairn_cmd_arena(cmd);
    const char          *v = argv[1], *value = NULL, *err;
    cairn_kv_t          *kv;
    char                *buf;
    size_t               i, len;

    (void) argc;

    if (strlen(argv[0]) != 3 || argv[0][0] < '4' || argv[0][0] > '5'
        || argv[0][1] < '0' || argv[0][1] > '9'
        || argv[0][2] < '0' || argv[0][2] > '9')
    {
        return cairn_arena_printf(a, "ErrorDocument: '%s' is not an error "
                                  "status (400 to 599)", argv[0]);
    }

    len = strlen(v);
    if (len == 0) {
        return "ErrorDocument: the document is empty";
    }

    if (v[0] == '/') {
        buf = cairn_arena_alloc(a, len + 1);
        i = strcspn(v, "?");
        if (cairn__path_normalise(v, i, buf) < 0) {
            return cairn_arena_printf(a, "ErrorDocument %s: '%s' is not a "
                                      "valid local URL", argv[0], v);
        }
        value = cairn_arena_printf(a, "U%s", v);

    } else if (strncasecmp(v, "http://", 7) == 0
               || strncasecmp(v, "https://", 8) == 0)
    {
        if (strpbrk(v, " \t\r\n") != NULL) {
            return cairn_arena_printf(a, "ErrorDocument %s: a URL to "
                                      "redirect to has no blanks", argv[0]);
        }
        value = cairn_arena_printf(a, "R%s", v);

    } else if (strncmp(v, "file:", 5) == 0) {
        err = conf_core_error_file(cmd, v + 5, &value);
        if (err != NULL) {
            return cairn_arena_printf(a, "ErrorDocument %s: %s", argv[0],
                                      err);
        }

    } else {
        value = cairn_arena_printf(a, "T%s", v);
    }

    for (i = 0; i < c->error_documents.n; i++) {
        if (strcmp(c->error_documents.v[i].key, argv[0]) == 0) {
            c->error_documents.v[i].value = value;
            return NULL;
        }
    }

    kv = cairn_arena_alloc(a, (c->error_documents.n + 1) * sizeof(*kv));
    if (c->error_documents.n > 0) {
        memcpy(kv, c->error_documents.v, c->error_documents.n * sizeof(*kv));
    }
    kv[c->error_documents.n].key = argv[0];
    kv[c->error_documents.n].value = value;
    c->error_documents.v = kv;
    c->error_documents.n++;

    return NULL;
}


/*
 * Reads the file of an ErrorDocument (at most CONF_CORE_ERROR_FILE_MAX
 * bytes, no NUL byte) into "F" + its Content-Type + '\n' + its bytes.
 */
static const char *
conf_core_error_file(cairn_cmd_t *cmd, const char *path, const char **out)
{
    cairn_arena_t  *a = cairn_cmd_arena(cmd);
    const char     *full, *ext, *ctype;
    char           *buf, *p;
    struct stat     st;
    ssize_t         n;
    size_t          got = 0, hlen;
    int             fd;

    if (path[0] == '\0') {
        return "file: names no file";
    }
    full = cairn_cmd_path(cmd, path);

    fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return cairn_arena_printf(a, "cannot open '%s': %s", full,
                                  strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cairn_arena_printf(a, "'%s' is not a regular file", full);
    }
    if (st.st_size > CONF_CORE_ERROR_FILE_MAX) {
        close(fd);
        return cairn_arena_printf(a, "'%s' is larger than %d bytes", full,
                                  CONF_CORE_ERROR_FILE_MAX);
    }

    ext = strrchr(full, '.');
    if (ext != NULL && strchr(ext, '/') == NULL
        && strcasecmp(ext, ".json") == 0)
    {
        ctype = "application/json";
    } else if (ext != NULL && strchr(ext, '/') == NULL
               && strcasecmp(ext, ".txt") == 0)
    {
        ctype = "text/plain; charset=utf-8";
    } else {
        ctype = "text/html; charset=utf-8";
    }

    hlen = strlen(ctype) + 2;
    buf = cairn_arena_alloc(a, hlen + (size_t) st.st_size + 1);
    buf[0] = 'F';
    memcpy(buf + 1, ctype, hlen - 2);
    buf[hlen - 1] = '\n';
    p = buf + hlen;

    while (got < (size_t) st.st_size) {
        n = read(fd, p + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            return cairn_arena_printf(a, "cannot read '%s': %s", full,
                                      n < 0 ? strerror(errno)
                                            : "it became shorter");
        }
        got += (size_t) n;
    }
    close(fd);
    p[got] = '\0';

    if (memchr(p, '\0', got) != NULL) {
        return cairn_arena_printf(a, "'%s' holds a NUL byte", full);
    }

    *out = buf;

    return NULL;
}
