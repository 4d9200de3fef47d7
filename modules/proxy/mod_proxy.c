/*
 * mod_proxy: a reverse proxy.  A location's requests go to an upstream
 * server, or to a group of them with load balancing, passive health and
 * retries; the response streams back with back-pressure.
 *
 *     <Upstream app>
 *         Server 127.0.0.1:3000 weight=2
 *         Server 127.0.0.1:3001 max_fails=3 fail_timeout=30s
 *         Server unix:/run/app.sock backup
 *         Balance least_conn
 *         KeepAlive 16
 *     </Upstream>
 *
 *     <Location /api/>
 *         ProxyPass upstream://app/v1/
 *         ProxySetHeader X-Request-Id %{request_id}
 *     </Location>
 *
 * Directives: <Upstream name> ... </Upstream>            server
 *             (inside: Server, Balance, KeepAlive, HealthCheck,
 *             Resolve)
 *             ProxyPass URL|off                           any
 *             ProxyPassReverse FROM|default [TO]          any
 *             ProxyPreserveHost on|off                    any  off
 *             ProxyAddForwarded on|off                    any  off
 *             ProxySetHeader Name value                   any
 *             ProxyHideHeader Name...                     any
 *             ProxyConnectTimeout, ProxyReadTimeout,
 *             ProxySendTimeout TIME                       any  60s
 *             ProxyNextUpstream error|timeout|http_502|
 *                 http_503|http_504|off...                any  error timeout
 *             ProxyNextUpstreamTries N                    any  0 (no limit)
 *             ProxyNextUpstreamTimeout TIME               any  0 (no limit)
 *             ProxyTunnelTimeout TIME                     any  60s
 *             ProxyRequestBuffering on|off                any  off
 *             Resolve every=TIME|off                      server off
 *             Resolver ADDRESS[:PORT]...                  server
 * Hooks:      fixups (LAST), handler (FIRST), post_config, worker_init,
 *             worker_exit
 *
 * Names are resolved when the configuration is loaded (a reload picks up
 * a changed address); with Resolve every=T the workers look them up
 * again with evdns, on their loops (proxy_resolve.c).  Every directive
 * is described in modules/proxy/README.md.
 */

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <event2/buffer.h>

#include "proxy.h"


static void *mod_proxy_create_conf(cairn_arena_t *a);
static int mod_proxy_fixups(cairn_request_t *r);
static int mod_proxy_handler(cairn_request_t *r);
static int mod_proxy_post_config(cairn_server_t *s);
static int mod_proxy_worker_init(cairn_server_t *s);
static int mod_proxy_worker_exit(cairn_server_t *s);
static const char *mod_proxy_set_upstream(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static const char *mod_proxy_set_server(cairn_cmd_t *cmd, void *conf,
                                        int argc, char **argv);
static const char *mod_proxy_set_balance(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *mod_proxy_set_count(cairn_cmd_t *cmd, void *conf,
                                       int argc, char **argv);
static const char *mod_proxy_set_pass(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_proxy_set_reverse(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *mod_proxy_set_next(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);
static const char *mod_proxy_check_pass(void *conf, const char *where,
                                        void *data);
static const char *mod_proxy_set_resolve(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static const char *mod_proxy_set_up_resolve(cairn_cmd_t *cmd, void *conf,
                                            int argc, char **argv);
static const char *mod_proxy_add_name(cairn_cmd_t *cmd,
                                      mod_proxy_upstream_t *up,
                                      size_t first, const char *spec,
                                      const char *error);

typedef struct {
    cairn_server_t          *server;
    mod_proxy_conf_t        *main;
} mod_proxy_check_t;
static const char *mod_proxy_address(cairn_arena_t *a, const char *spec,
                                     mod_proxy_server_t *s, size_t nth,
                                     size_t *naddr);
static const char *mod_proxy_more_addresses(cairn_arena_t *a,
                                            mod_proxy_upstream_t *up,
                                            mod_proxy_server_t *s,
                                            const char *spec, size_t naddr);
static mod_proxy_server_t *mod_proxy_add_server(cairn_arena_t *a,
                                                mod_proxy_upstream_t *up);
static const char *mod_proxy_target(cairn_request_t *r,
                                    const mod_proxy_pass_t *pass);
static const char *mod_proxy_expand(cairn_request_t *r, const char *tpl);
static const char *mod_proxy_var(cairn_request_t *r, const char *name,
                                 size_t len);
static int mod_proxy_set_by_conf(const mod_proxy_conf_t *conf,
                                 const char *name);


typedef struct {
    const char  *name;
    int          bit;
} mod_proxy_flag_t;

/* mod_proxy_address() failed because the name did not resolve. */
static int  mod_proxy_lookup_failed;

static const mod_proxy_flag_t  mod_proxy_next_names[] = {
    { "error", MOD_PROXY_NEXT_ERROR },
    { "timeout", MOD_PROXY_NEXT_TIMEOUT },
    { "http_502", MOD_PROXY_NEXT_502 },
    { "http_503", MOD_PROXY_NEXT_503 },
    { "http_504", MOD_PROXY_NEXT_504 },
    { "off", MOD_PROXY_NEXT_OFF },
    { NULL, 0 }
};


static const cairn_directive_t  mod_proxy_upstream_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("Server", CAIRN_ARGS_ONE_OR_MORE,
                           mod_proxy_upstream_t, servers, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_proxy_set_server),
    CAIRN_DIRECTIVE_CUSTOM("Balance", CAIRN_ARGS_ONE_OR_MORE,
                           mod_proxy_upstream_t, balance, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_proxy_set_balance),
    CAIRN_DIRECTIVE_CUSTOM("KeepAlive", CAIRN_ARGS_ONE, mod_proxy_upstream_t,
                           keepalive, CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_proxy_set_count),
    CAIRN_DIRECTIVE_CUSTOM("HealthCheck", CAIRN_ARGS_ANY,
                           mod_proxy_upstream_t, hc, CAIRN_SCOPE_SECTION,
                           CAIRN_MERGE_NONE, mod_proxy_set_healthcheck),
    CAIRN_DIRECTIVE_CUSTOM("Resolve", CAIRN_ARGS_ONE_OR_MORE,
                           mod_proxy_upstream_t, resolve_ms,
                           CAIRN_SCOPE_SECTION, CAIRN_MERGE_NONE,
                           mod_proxy_set_up_resolve),
    CAIRN_DIRECTIVE_END
};


static const cairn_directive_t  mod_proxy_directives[] = {
    CAIRN_DIRECTIVE_SECTION("Upstream", mod_proxy_conf_t, upstreams,
                            CAIRN_SCOPE_SERVER, CAIRN_MERGE_NONE,
                            mod_proxy_set_upstream),
    CAIRN_DIRECTIVE_CUSTOM("ProxyPass", CAIRN_ARGS_ONE, mod_proxy_conf_t,
                           pass, CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE,
                           mod_proxy_set_pass),
    CAIRN_DIRECTIVE_CUSTOM("ProxyPassReverse", CAIRN_ARGS_ONE_OR_MORE,
                           mod_proxy_conf_t, reverse, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_proxy_set_reverse),
    CAIRN_DIRECTIVE_FLAG("ProxyPreserveHost", mod_proxy_conf_t,
                         preserve_host, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_FLAG("ProxyAddForwarded", mod_proxy_conf_t, forwarded,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_KV("ProxySetHeader", mod_proxy_conf_t, set_headers,
                       CAIRN_SCOPE_ANY, CAIRN_MERGE_KEY),
    CAIRN_DIRECTIVE_LIST("ProxyHideHeader", mod_proxy_conf_t, hide_headers,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_APPEND),
    CAIRN_DIRECTIVE_MSEC("ProxyConnectTimeout", mod_proxy_conf_t,
                         connect_timeout_ms, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("ProxyReadTimeout", mod_proxy_conf_t,
                         read_timeout_ms, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("ProxySendTimeout", mod_proxy_conf_t,
                         send_timeout_ms, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("ProxyNextUpstream", CAIRN_ARGS_ONE_OR_MORE,
                           mod_proxy_conf_t, next_upstream, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_proxy_set_next),
    CAIRN_DIRECTIVE_INT("ProxyNextUpstreamTries", mod_proxy_conf_t,
                        next_tries, CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("ProxyNextUpstreamTimeout", mod_proxy_conf_t,
                         next_timeout_ms, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("ProxyTunnelTimeout", mod_proxy_conf_t,
                         tunnel_timeout_ms, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_FLAG("ProxyRequestBuffering", mod_proxy_conf_t,
                         request_buffering, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_LIST("Resolver", mod_proxy_conf_t, resolvers,
                         CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("Resolve", CAIRN_ARGS_ONE_OR_MORE,
                           mod_proxy_conf_t, resolve_ms, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_REPLACE, mod_proxy_set_resolve),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for the custom directives (ABI 1.1),
 * in the order of the table above. */
static const char *const  mod_proxy_defaults[] = {
    "(none)",
    "(none)",
    "(none)",
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    "error timeout",
    NULL, NULL, NULL, NULL,
    "(/etc/resolv.conf and /etc/hosts)",
    "off"
};


static const cairn_hook_decl_t  mod_proxy_hooks[] = {
    CAIRN_HOOK_FIXUPS(mod_proxy_fixups, CAIRN_ORDER_LAST),
    /* Ahead of mod_static, which would answer 404 for a proxied path. */
    CAIRN_HOOK_HANDLER(mod_proxy_handler, CAIRN_ORDER_FIRST),
    CAIRN_HOOK_POST_CONFIG(mod_proxy_post_config, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_proxy_worker_init, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_EXIT(mod_proxy_worker_exit, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(proxy) = {
    CAIRN_MODULE_HEADER,
    .version            = "1.0.0",
    .description        = "reverse proxy with load balancing",
    .directives         = mod_proxy_directives,
    .create_conf        = mod_proxy_create_conf,
    .directive_defaults = mod_proxy_defaults,
    .hooks              = mod_proxy_hooks,
};


/* ------------------------------------------------------------------ */
/* Hooks                                                              */
/* ------------------------------------------------------------------ */

/*
 * ProxyRequestBuffering off (the default): the body goes upstream as it
 * arrives instead of being read whole first.
 */
static int
mod_proxy_fixups(cairn_request_t *r)
{
    const mod_proxy_conf_t  *conf;
    mod_proxy_stream_t      *st;

    conf = cairn_request_conf(r, &mod_proxy_module);
    if (conf == NULL || conf->pass == NULL || conf->pass->up == NULL
        || conf->request_buffering
        || (cairn_request_header(r, "Content-Length") == NULL
            && cairn_request_header(r, "Transfer-Encoding") == NULL))
    {
        return CAIRN_DECLINED;
    }

    st = cairn_arena_calloc(cairn_request_arena(r), sizeof(*st));
    if (cairn_request_body_stream(r, mod_proxy_body_piece, st) == CAIRN_OK) {
        cairn_request_set_ctx(r, &mod_proxy_module, st);
    }

    return CAIRN_DECLINED;
}


/*
 * Builds the request head for the upstream once (every try sends the
 * same bytes) and hands the request to proxy_conn.c.
 */
static int
mod_proxy_handler(cairn_request_t *r)
{
    const mod_proxy_conf_t  *conf;
    const char              *connection, *name, *value, *xff, *host, *key;
    const char              *trace, *span, *tp, *upgrade;
    mod_proxy_stream_t      *st;
    cairn_arena_t           *a = cairn_request_arena(r);
    struct evbuffer         *b;
    size_t                   i, n, len, body_len;
    char                    *head;
    int                      has_body;

    conf = cairn_request_conf(r, &mod_proxy_module);
    if (conf == NULL || conf->pass == NULL || conf->pass->up == NULL) {
        return CAIRN_DECLINED;
    }

    b = evbuffer_new();
    if (b == NULL) {
        return 503;
    }

    evbuffer_add_printf(b, "%s %s HTTP/1.1\r\n", cairn_request_method_name(r),
                        mod_proxy_target(r, conf->pass));

    host = cairn_request_header(r, "Host");
    if (!conf->preserve_host || host == NULL) {
        host = conf->pass->up->implicit ? conf->pass->up->servers[0]->host
                                        : conf->pass->up->name;
    }
    if (!mod_proxy_set_by_conf(conf, "Host")) {
        evbuffer_add_printf(b, "Host: %s\r\n", host);
    }

    connection = cairn_request_header(r, "Connection");
    upgrade = cairn_request_header(r, "Upgrade");
    if (upgrade != NULL
        && (connection == NULL || !mod_proxy_token_in(connection, "upgrade")
            || mod_proxy_set_by_conf(conf, "Upgrade")))
    {
        /* An Upgrade the Connection header does not name is no
         * request for one. */
        upgrade = NULL;
    }
    n = cairn_request_header_count(r);
    has_body = 0;
    for (i = 0; i < n; i++) {
        if (cairn_request_header_at(r, i, &name, &value) != CAIRN_OK) {
            continue;
        }
        if (strcasecmp(name, "Content-Length") == 0
            || strcasecmp(name, "Transfer-Encoding") == 0)
        {
            has_body = 1;
            continue;
        }
        if (mod_proxy_hop_by_hop(name, connection)
            || strcasecmp(name, "Host") == 0
            || strcasecmp(name, "Expect") == 0
            || strcasecmp(name, "X-Forwarded-For") == 0
            || strcasecmp(name, "X-Forwarded-Proto") == 0
            || strcasecmp(name, "X-Forwarded-Host") == 0
            || strcasecmp(name, "X-Real-IP") == 0
            || (conf->forwarded && strcasecmp(name, "Forwarded") == 0)
            || (strcasecmp(name, "traceparent") == 0
                && cairn_request_trace_id(r) != NULL)
            || mod_proxy_set_by_conf(conf, name))
        {
            continue;
        }
        evbuffer_add_printf(b, "%s: %s\r\n", name, value);
    }

    /* What the proxy says of the client, unless ProxySetHeader does. */
    xff = cairn_request_header(r, "X-Forwarded-For");
    if (!mod_proxy_set_by_conf(conf, "X-Forwarded-For")) {
        if (xff != NULL && xff[0] != '\0') {
            evbuffer_add_printf(b, "X-Forwarded-For: %s, %s\r\n", xff,
                                cairn_request_remote_addr(r));
        } else {
            evbuffer_add_printf(b, "X-Forwarded-For: %s\r\n",
                                cairn_request_remote_addr(r));
        }
    }
    if (!mod_proxy_set_by_conf(conf, "X-Real-IP")) {
        evbuffer_add_printf(b, "X-Real-IP: %s\r\n",
                            cairn_request_remote_addr(r));
    }
    if (!mod_proxy_set_by_conf(conf, "X-Forwarded-Proto")) {
        evbuffer_add_printf(b, "X-Forwarded-Proto: http\r\n");
    }
    value = cairn_request_header(r, "Host");
    if (value != NULL && !mod_proxy_set_by_conf(conf, "X-Forwarded-Host")) {
        evbuffer_add_printf(b, "X-Forwarded-Host: %s\r\n", value);
    }
    if (conf->forwarded && !mod_proxy_set_by_conf(conf, "Forwarded")) {
        xff = cairn_request_header(r, "Forwarded");
        value = cairn_request_remote_addr(r);
        evbuffer_add_printf(b, "Forwarded: %s%sfor=%s%s%s;proto=http%s%s%s"
                            "\r\n", xff != NULL ? xff : "",
                            xff != NULL ? ", " : "",
                            strchr(value, ':') != NULL ? "\"[" : "", value,
                            strchr(value, ':') != NULL ? "]\"" : "",
                            cairn_request_header(r, "Host") != NULL
                            ? ";host=\"" : "",
                            cairn_request_header(r, "Host") != NULL
                            ? cairn_request_header(r, "Host") : "",
                            cairn_request_header(r, "Host") != NULL
                            ? "\"" : "");
    }

    /* The trace goes on with this server's span as the parent. */
    trace = cairn_request_trace_id(r);
    span = cairn_request_span_id(r);
    if (trace != NULL && span != NULL
        && !mod_proxy_set_by_conf(conf, "traceparent"))
    {
        tp = cairn_request_header(r, "traceparent");
        len = tp != NULL ? strlen(tp) : 0;
        evbuffer_add_printf(b, "traceparent: 00-%s-%s-%s\r\n", trace, span,
                            len == 55 ? tp + 53 : "01");
    }

    for (i = 0; i < conf->set_headers.n; i++) {
        value = mod_proxy_expand(r, conf->set_headers.v[i].value);
        if (value[0] != '\0') {
            evbuffer_add_printf(b, "%s: %s\r\n", conf->set_headers.v[i].key,
                                value);
        }
    }

    st = cairn_request_ctx(r, &mod_proxy_module);
    value = cairn_request_header(r, "Expect");
    if (st != NULL && value != NULL && strcasecmp(value, "100-continue") == 0
        && cairn_request_version(r) >= 11)
    {
        /* The upstream decides: its 100 (or its final answer) is what
         * the client waits for (proxy_conn.c). */
        st->expect = 1;
        evbuffer_add_printf(b, "Expect: 100-continue\r\n");
    }
    if (st != NULL) {
        /* Streamed: the client's length, or chunks as it sent them. */
        value = cairn_request_header(r, "Content-Length");
        if (value != NULL) {
            evbuffer_add_printf(b, "Content-Length: %s\r\n", value);
        } else {
            evbuffer_add_printf(b, "Transfer-Encoding: chunked\r\n");
        }
    } else {
        (void) cairn_request_body(r, &body_len);
        if (body_len > 0 || has_body) {
            evbuffer_add_printf(b, "Content-Length: %zu\r\n", body_len);
        }
    }
    if (upgrade != NULL) {
        /* The one hop-by-hop request passed on: a protocol switch (a
         * WebSocket), tunnelled after the upstream's 101. */
        evbuffer_add_printf(b, "Upgrade: %s\r\nConnection: upgrade\r\n",
                            upgrade);
    } else if (conf->pass->up->keepalive == 0) {
        evbuffer_add_printf(b, "Connection: close\r\n");
    }
    evbuffer_add(b, "\r\n", 2);

    len = evbuffer_get_length(b);
    head = cairn_arena_alloc(a, len + 1);
    evbuffer_remove(b, head, len);
    head[len] = '\0';
    evbuffer_free(b);

    key = NULL;
    if (conf->pass->up->balance == MOD_PROXY_BAL_IP_HASH) {
        key = cairn_request_remote_addr(r);
    } else if (conf->pass->up->balance == MOD_PROXY_BAL_HASH) {
        key = mod_proxy_expand(r, conf->pass->up->hash_key);
    }

    return mod_proxy_run(r, conf, head, len, key, upgrade != NULL, st);
}


/*
 * Resolves every ProxyPass upstream:// name and checks every
 * <Upstream>.
 */
static int
mod_proxy_post_config(cairn_server_t *s)
{
    mod_proxy_conf_t      *mc;
    mod_proxy_upstream_t  *up;
    mod_proxy_check_t      check;
    const char            *err;

    mc = cairn_server_conf(s, &mod_proxy_module);

    mod_proxy_resolve_reset();
    if (mc != NULL) {
        err = mod_proxy_resolver_check(cairn_server_arena(s),
                                       &mc->resolvers);
        if (err != NULL) {
            cairn_log_error(NULL, 0, "%s", err);
            return CAIRN_ERROR;
        }
    }

    for (up = mc != NULL ? mc->upstreams : NULL; up != NULL; up = up->next) {
        if (up->n == 0) {
            cairn_log_error(NULL, 0, "%s:%d: <Upstream %s> has no Server",
                            up->file, up->line, up->name);
            return CAIRN_ERROR;
        }
        err = mod_proxy_resolve_prepare(cairn_server_arena(s), up,
                                        mc->resolve_ms);
        if (err != NULL) {
            cairn_log_error(NULL, 0, "%s", err);
            return CAIRN_ERROR;
        }
    }

    check.server = s;
    check.main = mc;
    err = cairn_server_each_conf(s, &mod_proxy_module, mod_proxy_check_pass,
                                 &check);
    if (err != NULL) {
        cairn_log_error(NULL, 0, "%s", err);
        return CAIRN_ERROR;
    }

    return mod_proxy_health_init(s, mc != NULL ? mc->upstreams : NULL);
}


static int
mod_proxy_worker_init(cairn_server_t *s)
{
    mod_proxy_conf_t  *mc;

    mc = cairn_server_conf(s, &mod_proxy_module);

    if (mod_proxy_resolve_worker_init(mc != NULL ? &mc->resolvers : NULL)
        != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    return mod_proxy_health_worker_init(mc != NULL ? mc->upstreams : NULL);
}


static int
mod_proxy_worker_exit(cairn_server_t *s)
{
    mod_proxy_conf_t  *mc;

    mc = cairn_server_conf(s, &mod_proxy_module);
    if (mc != NULL) {
        mod_proxy_pool_close_all(mc->upstreams);
    }
    mod_proxy_health_worker_exit();
    mod_proxy_resolve_worker_exit();

    return CAIRN_OK;
}


/* ------------------------------------------------------------------ */
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

static void *
mod_proxy_create_conf(cairn_arena_t *a)
{
    mod_proxy_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(mod_proxy_conf_t));
    conf->connect_timeout_ms = 60000;
    conf->read_timeout_ms = 60000;
    conf->send_timeout_ms = 60000;
    conf->next_upstream = MOD_PROXY_NEXT_ERROR | MOD_PROXY_NEXT_TIMEOUT;
    conf->tunnel_timeout_ms = 60000;

    return conf;
}


/* <Upstream name>: a group with defaults; the body adds its servers. */
static const char *
mod_proxy_set_upstream(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_conf_t      *mc = conf;
    mod_proxy_upstream_t  *up, **tail;
    cairn_arena_t         *a = cairn_cmd_arena(cmd);
    const char            *p;

    if (argc != 1 || argv[0][0] == '\0') {
        return "<Upstream> takes one argument, the group's name";
    }
    for (p = argv[0]; *p != '\0'; p++) {
        if (!(*p == '-' || *p == '_' || *p == '.'
              || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
              || (*p >= 'A' && *p <= 'Z')))
        {
            return cairn_arena_printf(a, "<Upstream %s>: a name is made of "
                                      "letters, digits, '-', '_' and '.'",
                                      argv[0]);
        }
    }

    for (tail = &mc->upstreams; *tail != NULL; tail = &(*tail)->next) {
        if (strcmp((*tail)->name, argv[0]) == 0) {
            return cairn_arena_printf(a, "<Upstream %s> is already defined "
                                      "at %s:%d", argv[0], (*tail)->file,
                                      (*tail)->line);
        }
    }

    up = cairn_arena_calloc(a, sizeof(mod_proxy_upstream_t));
    up->name = cairn_arena_strdup(a, argv[0]);
    up->file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    up->line = cairn_cmd_line(cmd);
    up->balance = MOD_PROXY_BAL_ROUND_ROBIN;
    up->resolve_ms = -1;
    *tail = up;

    return cairn_cmd_section(cmd, mod_proxy_upstream_directives, up);
}


/* Server ADDRESS [weight=N] [max_fails=N] [fail_timeout=T] [backup]
 * [max_conns=N] */
static const char *
mod_proxy_set_server(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_upstream_t  *up = conf;
    mod_proxy_server_t    *s;
    cairn_arena_t         *a = cairn_cmd_arena(cmd);
    const char            *err, *v, *lookup;
    int64_t                ms;
    size_t                 naddr, first;
    int                    i, n;

    s = mod_proxy_add_server(a, up);
    first = up->n - 1;
    lookup = NULL;
    err = mod_proxy_address(a, argv[0], s, 0, &naddr);
    if (err != NULL) {
        if (!mod_proxy_lookup_failed) {
            return err;
        }
        /* Fatal at post_config unless the name is looked up again. */
        lookup = err;
        naddr = 0;
    }
    for (i = 0; i < (int) up->n - 1; i++) {
        if (strcmp(up->servers[i]->name, s->name) == 0) {
            return cairn_arena_printf(a, "Server %s is already in "
                                      "<Upstream %s>", s->name, up->name);
        }
    }

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "backup") == 0) {
            s->backup = 1;
            continue;
        }
        v = strchr(argv[i], '=');
        if (v == NULL) {
            return cairn_arena_printf(a, "Server: unknown parameter \"%s\" "
                                      "(weight=, max_fails=, fail_timeout=, "
                                      "max_conns=, backup)", argv[i]);
        }
        v++;
        if (strncmp(argv[i], "fail_timeout=", 13) == 0) {
            err = cairn_parse_msec(v, &ms);
            if (err != NULL) {
                return err;
            }
            s->fail_timeout_ms = ms;
            continue;
        }
        err = cairn_parse_int(v, &n);
        if (err != NULL) {
            return err;
        }
        if (strncmp(argv[i], "weight=", 7) == 0) {
            if (n < 1 || n > 1000) {
                return "Server: weight= is from 1 to 1000";
            }
            s->weight = n;
        } else if (strncmp(argv[i], "max_fails=", 10) == 0) {
            s->max_fails = n;
        } else if (strncmp(argv[i], "max_conns=", 10) == 0) {
            s->max_conns = n;
        } else {
            return cairn_arena_printf(a, "Server: unknown parameter \"%s\" "
                                      "(weight=, max_fails=, fail_timeout=, "
                                      "max_conns=, backup)", argv[i]);
        }
    }

    err = mod_proxy_more_addresses(a, up, s, argv[0], naddr);
    if (err != NULL) {
        return err;
    }

    return mod_proxy_add_name(cmd, up, first, argv[0], lookup);
}


static const char *
mod_proxy_set_balance(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    static const char *const  names[] = {
        "round_robin", "least_conn", "ip_hash", "hash", "random", NULL
    };
    mod_proxy_upstream_t  *up = conf;
    int                    i;

    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(argv[0], names[i]) == 0) {
            break;
        }
    }
    if (names[i] == NULL) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "Balance \"%s\": "
                                  "expected round_robin, least_conn, "
                                  "ip_hash, hash KEY or random", argv[0]);
    }
    if ((i == MOD_PROXY_BAL_HASH) != (argc == 2) || argc > 2) {
        return i == MOD_PROXY_BAL_HASH
               ? "Balance hash takes one key (hash %{http_x_user})"
               : "Balance takes one method (hash takes a key)";
    }

    up->balance = i;
    up->hash_key = argc == 2 ? cairn_arena_strdup(cairn_cmd_arena(cmd),
                                                  argv[1])
                             : NULL;

    return NULL;
}


static const char *
mod_proxy_set_count(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_upstream_t  *up = conf;
    const char            *err;
    int                    n;

    (void) cmd;
    (void) argc;

    err = cairn_parse_int(argv[0], &n);
    if (err != NULL) {
        return err;
    }
    if (n > 10000) {
        return "KeepAlive is at most 10000 connections per worker";
    }
    up->keepalive = n;

    return NULL;
}


/*
 * ProxyPass http://host[:port][/prefix] | unix:/path.sock[:/prefix] |
 * upstream://name[/prefix] | off.  A plain address is a group of one
 * server that is never marked down (there is nothing else to try).
 */
static const char *
mod_proxy_set_pass(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_conf_t      *lc = conf;
    mod_proxy_pass_t      *pass;
    mod_proxy_upstream_t  *up;
    mod_proxy_server_t    *s;
    cairn_arena_t         *a = cairn_cmd_arena(cmd);
    const char            *url = argv[0], *rest, *slash, *err, *lookup;
    char                  *addr;
    size_t                 naddr;

    (void) argc;

    pass = cairn_arena_calloc(a, sizeof(mod_proxy_pass_t));
    pass->url = cairn_arena_strdup(a, url);
    pass->file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    pass->line = cairn_cmd_line(cmd);
    lc->pass = pass;

    if (strcmp(url, "off") == 0) {
        return NULL;
    }

    if (strncmp(url, "upstream://", 11) == 0) {
        rest = url + 11;
        slash = strchr(rest, '/');
        pass->upstream_name = slash != NULL
                              ? cairn_arena_strndup(a, rest,
                                                    (size_t) (slash - rest))
                              : cairn_arena_strdup(a, rest);
        pass->prefix = slash != NULL ? cairn_arena_strdup(a, slash) : NULL;
        if (pass->upstream_name[0] == '\0') {
            return "ProxyPass upstream:// needs the name of an <Upstream>";
        }
        return NULL;
    }

    up = cairn_arena_calloc(a, sizeof(mod_proxy_upstream_t));
    up->implicit = 1;
    up->file = pass->file;
    up->line = pass->line;
    s = mod_proxy_add_server(a, up);

    if (strncmp(url, "unix:", 5) == 0) {
        rest = strstr(url + 5, ":/");
        addr = rest != NULL ? cairn_arena_strndup(a, url, (size_t) (rest - url))
                            : cairn_arena_strdup(a, url);
        pass->prefix = rest != NULL ? cairn_arena_strdup(a, rest + 1) : NULL;
    } else if (strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
        slash = strchr(rest, '/');
        addr = slash != NULL ? cairn_arena_strndup(a, rest,
                                                   (size_t) (slash - rest))
                             : cairn_arena_strdup(a, rest);
        pass->prefix = slash != NULL ? cairn_arena_strdup(a, slash) : NULL;
        if (addr[0] == '\0') {
            return cairn_arena_printf(a, "ProxyPass %s: no host", url);
        }
    } else if (strncmp(url, "https://", 8) == 0) {
        return cairn_arena_printf(a, "ProxyPass %s: https upstreams are not "
                                  "supported (use http:// or unix:)", url);
    } else {
        return cairn_arena_printf(a, "ProxyPass \"%s\": expected "
                                  "http://host:port[/prefix], "
                                  "unix:/path.sock[:/prefix], "
                                  "upstream://name[/prefix] or off", url);
    }

    lookup = NULL;
    err = mod_proxy_address(a, addr, s, 0, &naddr);
    if (err != NULL) {
        if (!mod_proxy_lookup_failed) {
            return cairn_arena_printf(a, "ProxyPass %s: %s", url, err);
        }
        lookup = cairn_arena_printf(a, "ProxyPass %s: %s", url, err);
        naddr = 0;
    }
    s->max_fails = 0;
    up->name = s->name;
    pass->up = up;

    err = mod_proxy_more_addresses(a, up, s, addr, naddr);
    if (err != NULL) {
        return err;
    }

    return mod_proxy_add_name(cmd, up, 0, addr, lookup);
}


/* ProxyPassReverse FROM|default [TO]: one more rewrite for the scope. */
static const char *
mod_proxy_set_reverse(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_conf_t     *lc = conf;
    mod_proxy_reverse_t  *rev;
    cairn_arena_t        *a = cairn_cmd_arena(cmd);
    const char           *from;
    size_t                n;

    if (argc > 2) {
        return "ProxyPassReverse takes FROM (a URL prefix, or default) and "
               "an optional TO";
    }

    from = argv[0];
    if (strcmp(from, "default") == 0) {
        const mod_proxy_pass_t  *pass = lc->pass;

        if (pass == NULL || pass->up == NULL || !pass->up->implicit
            || strncmp(pass->url, "http://", 7) != 0)
        {
            return "ProxyPassReverse default needs a ProxyPass http://... "
                   "earlier in the same scope";
        }
        from = pass->url;
    } else if (strncmp(from, "http://", 7) != 0 && from[0] != '/') {
        return cairn_arena_printf(a, "ProxyPassReverse \"%s\": FROM is a "
                                  "URL (http://host/prefix) or a path",
                                  from);
    }

    n = lc->reverse != NULL ? lc->reverse->n : 0;
    rev = cairn_arena_calloc(a, sizeof(mod_proxy_reverse_t));
    rev->from = cairn_arena_calloc(a, (n + 1) * sizeof(char *));
    rev->to = cairn_arena_calloc(a, (n + 1) * sizeof(char *));
    if (n > 0) {
        memcpy(rev->from, lc->reverse->from, n * sizeof(char *));
        memcpy(rev->to, lc->reverse->to, n * sizeof(char *));
    }
    rev->from[n] = cairn_arena_strdup(a, from);
    rev->to[n] = argc == 2 ? cairn_arena_strdup(a, argv[1]) : NULL;
    rev->n = n + 1;
    lc->reverse = rev;

    return NULL;
}


static const char *
mod_proxy_set_next(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_conf_t  *lc = conf;
    int                i, k, mask = 0;

    for (i = 0; i < argc; i++) {
        for (k = 0; mod_proxy_next_names[k].name != NULL; k++) {
            if (strcmp(argv[i], mod_proxy_next_names[k].name) == 0) {
                break;
            }
        }
        if (mod_proxy_next_names[k].name == NULL) {
            return cairn_arena_printf(cairn_cmd_arena(cmd),
                                      "ProxyNextUpstream \"%s\": expected "
                                      "error, timeout, http_502, http_503, "
                                      "http_504 or off", argv[i]);
        }
        mask |= mod_proxy_next_names[k].bit;
    }
    if ((mask & MOD_PROXY_NEXT_OFF) && mask != MOD_PROXY_NEXT_OFF) {
        return "ProxyNextUpstream off stands alone";
    }
    lc->next_upstream = mask;

    return NULL;
}


static const char *
mod_proxy_check_pass(void *conf, const char *where, void *data)
{
    mod_proxy_conf_t      *lc = conf;
    mod_proxy_check_t     *check = data;
    mod_proxy_conf_t      *mc = check->main;
    mod_proxy_pass_t      *pass = (mod_proxy_pass_t *) lc->pass;
    mod_proxy_upstream_t  *up;

    (void) where;

    if (pass != NULL && pass->up != NULL && pass->up->implicit
        && pass->up->names != NULL && !pass->up->prepared)
    {
        pass->up->prepared = 1;
        return mod_proxy_resolve_prepare(cairn_server_arena(check->server),
                                         pass->up, mc != NULL
                                                   ? mc->resolve_ms : 0);
    }
    if (pass == NULL || pass->upstream_name == NULL || pass->up != NULL) {
        return NULL;
    }

    for (up = mc != NULL ? mc->upstreams : NULL; up != NULL; up = up->next) {
        if (strcmp(up->name, pass->upstream_name) == 0) {
            pass->up = up;
            return NULL;
        }
    }

    return cairn_arena_printf(cairn_server_arena(check->server),
                              "%s:%d: ProxyPass %s: there is no <Upstream "
                              "%s>", pass->file, pass->line, pass->url,
                              pass->upstream_name);
}


/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static mod_proxy_server_t *
mod_proxy_add_server(cairn_arena_t *a, mod_proxy_upstream_t *up)
{
    mod_proxy_server_t   *s, **v;

    if (up->n == up->cap) {
        up->cap = up->cap == 0 ? 4 : up->cap * 2;
        v = cairn_arena_alloc(a, up->cap * sizeof(*v));
        if (up->n > 0) {
            memcpy(v, up->servers, up->n * sizeof(*v));
        }
        up->servers = v;
    }

    s = cairn_arena_calloc(a, sizeof(mod_proxy_server_t));
    s->weight = 1;
    s->max_fails = 1;
    s->fail_timeout_ms = 10000;
    s->up = up;
    s->idx = up->n;
    up->servers[up->n++] = s;

    return s;
}


/*
 * Records a host name given to a Server line or ProxyPass http:// (not
 * an IP address, not a socket): the servers from up->servers[first] on
 * are its addresses.  error: the load's lookup failed (no server has an
 * address yet); whether that is fatal depends on Resolve, known at
 * post_config.
 */
static const char *
mod_proxy_add_name(cairn_cmd_t *cmd, mod_proxy_upstream_t *up, size_t first,
                   const char *spec, const char *error)
{
    cairn_arena_t     *a = cairn_cmd_arena(cmd);
    mod_proxy_name_t  *n, **tail;
    const char        *colon;
    unsigned char      buf[sizeof(struct in6_addr)];
    char              *host;
    size_t             i;
    int                port = 80;

    if (strncmp(spec, "unix:", 5) == 0 || spec[0] == '[') {
        return NULL;
    }
    colon = strrchr(spec, ':');
    host = colon != NULL ? cairn_arena_strndup(a, spec,
                                               (size_t) (colon - spec))
                         : cairn_arena_strdup(a, spec);
    if (inet_pton(AF_INET, host, buf) == 1
        || inet_pton(AF_INET6, host, buf) == 1)
    {
        return NULL;
    }
    if (colon != NULL) {
        (void) cairn_parse_int(colon + 1, &port);
    }

    n = cairn_arena_calloc(a, sizeof(mod_proxy_name_t));
    n->host = host;
    n->port = port;
    n->file = cairn_arena_strdup(a, cairn_cmd_file(cmd));
    n->line = cairn_cmd_line(cmd);
    n->error = error;
    n->up = up;
    for (i = first; i < up->n && n->nslots < MOD_PROXY_NAME_SLOTS; i++) {
        n->slots[n->nslots++] = up->servers[i];
    }
    for (tail = &up->names; *tail != NULL; tail = &(*tail)->next) {
        /* to the end */
    }
    *tail = n;

    return NULL;
}


/* Resolve every=T|off at server scope: for ProxyPass http://name and
 * the <Upstream>s without their own. */
static const char *
mod_proxy_set_resolve(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_proxy_conf_t  *mc = conf;

    return mod_proxy_parse_resolve(cmd, argc, argv, &mc->resolve_ms);
}


static const char *
mod_proxy_set_up_resolve(cairn_cmd_t *cmd, void *conf, int argc,
                         char **argv)
{
    mod_proxy_upstream_t  *up = conf;

    return mod_proxy_parse_resolve(cmd, argc, argv, &up->resolve_ms);
}


/*
 * A name that resolves to several addresses is several servers, as in
 * nginx: s (the first) is copied for each further one.
 */
static const char *
mod_proxy_more_addresses(cairn_arena_t *a, mod_proxy_upstream_t *up,
                         mod_proxy_server_t *s, const char *spec,
                         size_t naddr)
{
    mod_proxy_server_t  *t;
    const char          *err;
    size_t               k, i, idx;

    for (k = 1; k < naddr; k++) {
        t = mod_proxy_add_server(a, up);
        idx = t->idx;
        *t = *s;
        t->idx = idx;
        err = mod_proxy_address(a, spec, t, k, NULL);
        if (err != NULL) {
            return err;
        }
        for (i = 0; i < idx; i++) {
            if (strcmp(up->servers[i]->name, t->name) == 0) {
                /* The same address twice: once is enough. */
                up->n--;
                break;
            }
        }
    }

    return NULL;
}


/* host:port (a name resolved now: its nth address; *naddr gets how many
 * there are) or unix:/path into s. */
static const char *
mod_proxy_address(cairn_arena_t *a, const char *spec, mod_proxy_server_t *s,
                  size_t nth, size_t *naddr)
{
    struct addrinfo      hints, *res, *ai;
    struct sockaddr_un  *sun;
    const char          *colon;
    char                *host, text[NI_MAXHOST];
    int                  rc, port;

    mod_proxy_lookup_failed = 0;

    if (strncmp(spec, "unix:", 5) == 0) {
        if (spec[5] != '/') {
            return cairn_arena_printf(a, "\"%s\": a socket path must be "
                                      "absolute", spec);
        }
        sun = (struct sockaddr_un *) &s->addr;
        if (strlen(spec + 5) >= sizeof(sun->sun_path)) {
            return cairn_arena_printf(a, "\"%s\": the socket path is too "
                                      "long", spec);
        }
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, spec + 5);
        s->addrlen = sizeof(struct sockaddr_un);
        s->name = cairn_arena_strdup(a, spec);
        s->host = "localhost";
        s->name_hash = mod_proxy_hash(s->name, strlen(s->name), 0);
        if (naddr != NULL) {
            *naddr = 1;
        }
        return NULL;
    }

    if (spec[0] == '[') {
        colon = strstr(spec, "]:");
        host = cairn_arena_strndup(a, spec + 1, colon != NULL
                                   ? (size_t) (colon - spec - 1)
                                   : strlen(spec + 1));
        if (colon == NULL && spec[strlen(spec) - 1] == ']') {
            host[strlen(host) - 1] = '\0';
        }
        colon = colon != NULL ? colon + 1 : NULL;
    } else {
        colon = strrchr(spec, ':');
        host = colon != NULL ? cairn_arena_strndup(a, spec,
                                                   (size_t) (colon - spec))
                             : cairn_arena_strdup(a, spec);
    }

    port = 80;
    if (colon != NULL) {
        if (cairn_parse_int(colon + 1, &port) != NULL || port < 1
            || port > 65535)
        {
            return cairn_arena_printf(a, "\"%s\": the port must be a number "
                                      "from 1 to 65535", spec);
        }
    }
    if (host[0] == '\0') {
        return cairn_arena_printf(a, "\"%s\": no host", spec);
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        mod_proxy_lookup_failed = 1;
        s->name = cairn_arena_strdup(a, spec);
        s->host = cairn_arena_strdup(a, spec);
        s->name_hash = mod_proxy_hash(s->name, strlen(s->name), 0);
        return cairn_arena_printf(a, "host \"%s\" does not resolve: %s",
                                  host, gai_strerror(rc));
    }
    ai = res;
    for (rc = 0; ai->ai_next != NULL && (size_t) rc < nth; rc++) {
        ai = ai->ai_next;
    }
    memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
    s->addrlen = ai->ai_addrlen;
    if (naddr != NULL) {
        for (*naddr = 0, ai = res; ai != NULL; ai = ai->ai_next) {
            (*naddr)++;
        }
    }
    freeaddrinfo(res);

    if (s->addr.ss_family == AF_INET) {
        ((struct sockaddr_in *) &s->addr)->sin_port = htons((uint16_t) port);
    } else if (s->addr.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *) &s->addr)->sin6_port =
            htons((uint16_t) port);
    }

    rc = getnameinfo((struct sockaddr *) &s->addr, s->addrlen, text,
                     sizeof(text), NULL, 0, NI_NUMERICHOST);
    if (rc != 0) {
        return cairn_arena_printf(a, "\"%s\": %s", spec, gai_strerror(rc));
    }
    s->name = s->addr.ss_family == AF_INET6
              ? cairn_arena_printf(a, "[%s]:%d", text, port)
              : cairn_arena_printf(a, "%s:%d", text, port);
    s->host = port == 80 ? host
                         : cairn_arena_printf(a, "%s%s%s:%d",
                                              strchr(host, ':') ? "[" : "",
                                              host,
                                              strchr(host, ':') ? "]" : "",
                                              port);
    s->name_hash = mod_proxy_hash(s->name, strlen(s->name), 0);

    return NULL;
}


/*
 * The target sent upstream: the client's as it came when ProxyPass has
 * no path; else the location's prefix replaced by ProxyPass's path
 * (/app/x?q under <Location /app/> with ProxyPass http://b/v1/ ->
 * /v1/x?q).
 */
static const char *
mod_proxy_target(cairn_request_t *r, const mod_proxy_pass_t *pass)
{
    const char  *target = cairn_request_target(r);
    const char  *loc = cairn_request_location(r);
    size_t       llen, plen;

    if (pass->prefix == NULL || target[0] != '/') {
        return target;
    }

    plen = strlen(pass->prefix);
    llen = loc != NULL ? strlen(loc) : 0;
    if (llen > 0 && strncmp(target, loc, llen) == 0) {
        target += llen;
        if (plen > 0 && pass->prefix[plen - 1] == '/' && target[0] == '/') {
            target++;
        } else if ((plen == 0 || pass->prefix[plen - 1] != '/')
                   && target[0] != '/' && target[0] != '?'
                   && target[0] != '\0' && loc[llen - 1] == '/')
        {
            return cairn_arena_printf(cairn_request_arena(r), "%s/%s",
                                      pass->prefix, target);
        }
        return cairn_arena_printf(cairn_request_arena(r), "%s%s",
                                  pass->prefix, target);
    }

    /* Not under the location's path (a regex location): prefixed. */
    if (plen > 0 && pass->prefix[plen - 1] == '/') {
        plen--;
    }
    return cairn_arena_printf(cairn_request_arena(r), "%.*s%s", (int) plen,
                              pass->prefix, target);
}


/* Expands %{var} in tpl (an unknown variable expands to ""). */
static const char *
mod_proxy_expand(cairn_request_t *r, const char *tpl)
{
    struct evbuffer  *b;
    const char       *p, *e, *v;
    char             *out;
    size_t            len;

    if (strstr(tpl, "%{") == NULL) {
        return tpl;
    }

    b = evbuffer_new();
    if (b == NULL) {
        return "";
    }
    for (p = tpl; *p != '\0'; ) {
        if (p[0] == '%' && p[1] == '{' && (e = strchr(p + 2, '}')) != NULL) {
            v = mod_proxy_var(r, p + 2, (size_t) (e - p - 2));
            if (v != NULL) {
                evbuffer_add(b, v, strlen(v));
            }
            p = e + 1;
            continue;
        }
        evbuffer_add(b, p, 1);
        p++;
    }

    len = evbuffer_get_length(b);
    out = cairn_arena_alloc(cairn_request_arena(r), len + 1);
    evbuffer_remove(b, out, len);
    out[len] = '\0';
    evbuffer_free(b);

    return out;
}


static const char *
mod_proxy_var(cairn_request_t *r, const char *name, size_t len)
{
    cairn_arena_t  *a = cairn_request_arena(r);
    char           *h;
    size_t          i;

#define MOD_PROXY_IS(s)  (len == sizeof(s) - 1 && strncmp(name, s, len) == 0)

    if (MOD_PROXY_IS("remote_addr")) {
        return cairn_request_remote_addr(r);
    }
    if (MOD_PROXY_IS("remote_port")) {
        return cairn_arena_printf(a, "%d", cairn_request_remote_port(r));
    }
    if (MOD_PROXY_IS("host")) {
        return cairn_request_host(r);
    }
    if (MOD_PROXY_IS("scheme")) {
        return "http";
    }
    if (MOD_PROXY_IS("request_id")) {
        return cairn_request_id(r);
    }
    if (MOD_PROXY_IS("method")) {
        return cairn_request_method_name(r);
    }
    if (MOD_PROXY_IS("request_uri")) {
        return cairn_request_target(r);
    }
    if (MOD_PROXY_IS("uri")) {
        return cairn_request_path(r);
    }
    if (len > 5 && strncmp(name, "http_", 5) == 0) {
        /* %{http_x_user} is the X-User header. */
        h = cairn_arena_strndup(a, name + 5, len - 5);
        for (i = 0; h[i] != '\0'; i++) {
            if (h[i] == '_') {
                h[i] = '-';
            }
        }
        return cairn_request_header(r, h);
    }

#undef MOD_PROXY_IS

    return NULL;
}


/* Whether ProxySetHeader names the header (it then replaces it). */
static int
mod_proxy_set_by_conf(const mod_proxy_conf_t *conf, const char *name)
{
    size_t  i;

    for (i = 0; i < conf->set_headers.n; i++) {
        if (strcasecmp(conf->set_headers.v[i].key, name) == 0) {
            return 1;
        }
    }

    return 0;
}
