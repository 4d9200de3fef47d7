/*
 * mod_metrics: the metric registry in the Prometheus text format, and a
 * status page for people.
 *
 *     <Location /metrics>
 *         Metrics on
 *     </Location>
 *     GET /metrics               ->  200 text/plain; version=0.0.4
 *
 *     <Location /status>
 *         Status on
 *     </Location>
 *     GET /status                ->  200 text/html: workers, connections,
 *                                    requests, uptime, modules
 *     GET /status?format=json    ->  200 application/json: the same
 *
 * Every worker counts into the same shared registry, so any worker
 * answers for the whole server.  Any method but GET and HEAD gets 405
 * with "Allow: GET, HEAD".
 *
 * Directives: Metrics on|off   location  default off
 *             Status on|off    location  default off
 * Hooks:      handler (MIDDLE)
 */

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/metrics.h>


#define MOD_METRICS_CONTENT_TYPE  "text/plain; version=0.0.4; charset=utf-8"


typedef struct {
    int          metrics;
    int          status;
    const char  *stylesheet;    /* StatusStylesheet: a URL, or NULL */
} mod_metrics_conf_t;


/* One loaded module, as cairn_module_info reports it. */
typedef struct mod_metrics_module_s  mod_metrics_module_t;

struct mod_metrics_module_s {
    const char            *name;
    const char            *version;
    mod_metrics_module_t  *next;
};


/* One upstream server of mod_proxy, from its metrics. */
typedef struct mod_metrics_peer_s  mod_metrics_peer_t;

struct mod_metrics_peer_s {
    const char            *upstream;
    const char            *server;
    double                 up;
    double                 active;
    double                 idle;
    double                 requests;
    double                 errors;
    mod_metrics_peer_t    *next;
};


/* What the status page shows, gathered in one walk over the registry. */
typedef struct {
    cairn_arena_t         *arena;
    double                 workers;
    double                 connections_open;
    double                 connections_accepted;
    double                 requests_total;
    double                 requests_in_flight;
    double                 start_time;
    double                 config_generation;
    double                 reloads;
    double                 worker_restarts;
    mod_metrics_module_t  *modules;
    mod_metrics_module_t **modules_tail;
    size_t                 nmodules;
    mod_metrics_peer_t    *peers;
    mod_metrics_peer_t   **peers_tail;
} mod_metrics_status_t;


static int mod_metrics_handler(cairn_request_t *r);
static void *mod_metrics_create_conf(cairn_arena_t *a);
static int mod_metrics_exposition(cairn_request_t *r);
static int mod_metrics_status_page(cairn_request_t *r);
static void mod_metrics_visit(const char *name, cairn_metric_type_t type,
                              const char *const *label_names,
                              const char *const *label_values,
                              double value, void *data);
static const char *mod_metrics_label(const char *const *names,
                                     const char *const *values,
                                     const char *want);
static double mod_metrics_uptime(const mod_metrics_status_t *st);
static void mod_metrics_visit_peer(mod_metrics_status_t *st,
                                   const char *what,
                                   const char *const *label_names,
                                   const char *const *label_values,
                                   double value);
static int mod_metrics_status_html(cairn_request_t *r,
                                   const mod_metrics_status_t *st);
static int mod_metrics_status_json(cairn_request_t *r,
                                   const mod_metrics_status_t *st);
static int mod_metrics_not_allowed(cairn_request_t *r);


static const cairn_directive_t  mod_metrics_directives[] = {
    CAIRN_DIRECTIVE_FLAG("Metrics", mod_metrics_conf_t, metrics,
                         CAIRN_SCOPE_LOCATION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_FLAG("Status", mod_metrics_conf_t, status,
                         CAIRN_SCOPE_LOCATION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_ONE("StatusStylesheet", mod_metrics_conf_t, stylesheet,
                        CAIRN_SCOPE_LOCATION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


static const cairn_hook_decl_t  mod_metrics_hooks[] = {
    CAIRN_HOOK_HANDLER(mod_metrics_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(metrics) = {
    CAIRN_MODULE_HEADER,            /* magic, ABI major/minor, size */
    .name           = "metrics",
    .version        = CAIRN_VERSION,
    .description    = "Prometheus metrics and a status page",
    .directives     = mod_metrics_directives,
    .create_conf    = mod_metrics_create_conf,  /* no merge: declared above */
    .hooks          = mod_metrics_hooks,
};


/*
 * Answers in locations with Metrics or Status on (Metrics wins when a
 * location has both); declines everywhere else.
 */
static int
mod_metrics_handler(cairn_request_t *r)
{
    const mod_metrics_conf_t  *conf;
    cairn_method_t             method;

    conf = cairn_request_conf(r, &mod_metrics_module);

    if (!conf->metrics && !conf->status) {
        return CAIRN_DECLINED;
    }

    method = cairn_request_method(r);
    if (method != CAIRN_METHOD_GET && method != CAIRN_METHOD_HEAD) {
        return mod_metrics_not_allowed(r);
    }

    if (conf->metrics) {
        return mod_metrics_exposition(r);
    }

    return mod_metrics_status_page(r);
}


static void *
mod_metrics_create_conf(cairn_arena_t *a)
{
    mod_metrics_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(mod_metrics_conf_t));
    conf->metrics = 0;
    conf->status = 0;

    return conf;
}


static int
mod_metrics_exposition(cairn_request_t *r)
{
    char    *body;
    size_t   len;

    len = 0;
    body = cairn_metrics_render(cairn_request_arena(r), &len);
    if (body == NULL) {
        cairn_log_error(r, 0, "mod_metrics: the registry could not be "
                        "rendered");
        return 500;
    }

    cairn_response_header_set(r, "Cache-Control", "no-store");

    return cairn_respond(r, 200, MOD_METRICS_CONTENT_TYPE, body, len);
}


static int
mod_metrics_status_page(cairn_request_t *r)
{
    mod_metrics_status_t   st;
    const char            *format;

    memset(&st, 0, sizeof(st));
    st.arena = cairn_request_arena(r);
    st.modules_tail = &st.modules;
    st.peers_tail = &st.peers;

    cairn_metrics_each(mod_metrics_visit, &st);

    cairn_response_header_set(r, "Cache-Control", "no-store");

    format = cairn_request_arg(r, "format");
    if (format != NULL && strcmp(format, "json") == 0) {
        return mod_metrics_status_json(r, &st);
    }

    return mod_metrics_status_html(r, &st);
}


/*
 * One series of the registry: keeps the ones the status page shows.
 * Label values are copied, as they may not outlive the walk.
 */
static void
mod_metrics_visit(const char *name, cairn_metric_type_t type,
                  const char *const *label_names,
                  const char *const *label_values, double value, void *data)
{
    mod_metrics_status_t  *st = data;
    mod_metrics_module_t  *mod;
    const char            *mname, *mversion;

    if (strcmp(name, "cairn_workers") == 0) {
        st->workers += value;

    } else if (strcmp(name, "cairn_connections_open") == 0) {
        st->connections_open += value;

    } else if (strcmp(name, "cairn_connections_accepted_total") == 0) {
        st->connections_accepted += value;

    } else if (strcmp(name, "cairn_http_requests_total") == 0) {
        st->requests_total += value;

    } else if (strcmp(name, "cairn_http_requests_in_flight") == 0) {
        st->requests_in_flight += value;

    } else if (strcmp(name, "cairn_start_time_seconds") == 0) {
        st->start_time = value;

    } else if (strcmp(name, "cairn_config_generation") == 0) {
        st->config_generation = value;

    } else if (strcmp(name, "cairn_reloads_total") == 0) {
        st->reloads += value;

    } else if (strcmp(name, "cairn_worker_restarts_total") == 0) {
        st->worker_restarts += value;

    } else if (strncmp(name, "cairn_proxy_", 12) == 0) {
        mod_metrics_visit_peer(st, name + 12, label_names, label_values,
                               value);

    } else if (strcmp(name, "cairn_module_info") == 0
               && type == CAIRN_METRIC_GAUGE && value > 0)
    {
        mname = mod_metrics_label(label_names, label_values, "module");
        mversion = mod_metrics_label(label_names, label_values, "version");
        if (mname == NULL) {
            return;
        }

        mod = cairn_arena_calloc(st->arena, sizeof(mod_metrics_module_t));
        mod->name = cairn_arena_strdup(st->arena, mname);
        mod->version = cairn_arena_strdup(st->arena,
                                          mversion ? mversion : "");
        *st->modules_tail = mod;
        st->modules_tail = &mod->next;
        st->nmodules++;
    }
}


/*
 * mod_proxy's series (cairn_proxy_*): one row per upstream server, in
 * the order the registry holds them.
 */
static void
mod_metrics_visit_peer(mod_metrics_status_t *st, const char *what,
                       const char *const *label_names,
                       const char *const *label_values, double value)
{
    mod_metrics_peer_t  *p;
    const char          *up, *server, *state;

    up = mod_metrics_label(label_names, label_values, "upstream");
    server = mod_metrics_label(label_names, label_values, "server");
    if (up == NULL || server == NULL) {
        return;
    }

    for (p = st->peers; p != NULL; p = p->next) {
        if (strcmp(p->upstream, up) == 0 && strcmp(p->server, server) == 0) {
            break;
        }
    }
    if (p == NULL) {
        p = cairn_arena_calloc(st->arena, sizeof(mod_metrics_peer_t));
        p->upstream = cairn_arena_strdup(st->arena, up);
        p->server = cairn_arena_strdup(st->arena, server);
        p->up = -1;
        *st->peers_tail = p;
        st->peers_tail = &p->next;
    }

    if (strcmp(what, "server_up") == 0) {
        p->up = value;
    } else if (strcmp(what, "requests_total") == 0) {
        p->requests += value;
    } else if (strcmp(what, "errors_total") == 0) {
        p->errors += value;
    } else if (strcmp(what, "connections") == 0) {
        state = mod_metrics_label(label_names, label_values, "state");
        if (state != NULL && strcmp(state, "active") == 0) {
            p->active += value;
        } else if (state != NULL && strcmp(state, "idle") == 0) {
            p->idle += value;
        }
    }
}


static const char *
mod_metrics_label(const char *const *names, const char *const *values,
                  const char *want)
{
    size_t  i;

    if (names == NULL || values == NULL) {
        return NULL;
    }

    for (i = 0; names[i] != NULL && values[i] != NULL; i++) {
        if (strcmp(names[i], want) == 0) {
            return values[i];
        }
    }

    return NULL;
}


static double
mod_metrics_uptime(const mod_metrics_status_t *st)
{
    struct timespec  ts;
    double           now;

    if (st->start_time <= 0) {
        return 0;
    }

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;

    return now > st->start_time ? (double) (int64_t) (now - st->start_time)
                                : 0;
}


static int
mod_metrics_status_html(cairn_request_t *r, const mod_metrics_status_t *st)
{
    const mod_metrics_conf_t    *conf;
    cairn_arena_t               *a;
    const char                  *head;
    const mod_metrics_module_t  *mod;
    const mod_metrics_peer_t    *p;
    char                        *body, *rows, *peers;

    a = cairn_request_arena(r);
    conf = cairn_request_conf(r, &mod_metrics_module);

    head = cairn_arena_printf(a,
        "<!DOCTYPE html>\n"
        "<html>\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>cairn status</title>\n%s%s%s</head>\n<body>\n"
        "<h1>cairn status</h1>\n",
        conf->stylesheet != NULL ? "<link rel=\"stylesheet\" href=\"" : "",
        conf->stylesheet != NULL
            ? cairn_arena_html_escape(a, conf->stylesheet) : "",
        conf->stylesheet != NULL ? "\">\n" : "");

    peers = "";
    for (p = st->peers; p != NULL; p = p->next) {
        peers = cairn_arena_printf(a, "%s<tr><td>%s</td><td>%s</td>"
                                   "<td>%s</td><td>%.0f</td><td>%.0f</td>"
                                   "<td>%.0f</td><td>%.0f</td></tr>\n",
                                   peers,
                                   cairn_arena_html_escape(a, p->upstream),
                                   cairn_arena_html_escape(a, p->server),
                                   p->up == 0 ? "down" : "up", p->active,
                                   p->idle, p->requests, p->errors);
    }
    if (peers[0] != '\0') {
        peers = cairn_arena_printf(a, "<h2>upstreams</h2>\n<table>\n"
                                   "<tr><th>upstream</th><th>server</th>"
                                   "<th>state</th><th>active</th>"
                                   "<th>idle</th><th>responses</th>"
                                   "<th>errors</th></tr>\n%s</table>\n",
                                   peers);
    }

    rows = "";
    for (mod = st->modules; mod != NULL; mod = mod->next) {
        rows = cairn_arena_printf(a, "%s<tr><td>%s</td><td>%s</td></tr>\n",
                                  rows, cairn_arena_html_escape(a, mod->name),
                                  cairn_arena_html_escape(a, mod->version));
    }

    body = cairn_arena_printf(a,
        "%s"
        "<table>\n"
        "<tr><th>version</th><td>%s</td></tr>\n"
        "<tr><th>workers</th><td>%.0f</td></tr>\n"
        "<tr><th>open connections</th><td>%.0f</td></tr>\n"
        "<tr><th>accepted connections</th><td>%.0f</td></tr>\n"
        "<tr><th>requests</th><td>%.0f</td></tr>\n"
        "<tr><th>requests in flight</th><td>%.0f</td></tr>\n"
        "<tr><th>uptime</th><td>%.0f s</td></tr>\n"
        "<tr><th>configuration generation</th><td>%.0f</td></tr>\n"
        "<tr><th>reloads</th><td>%.0f</td></tr>\n"
        "<tr><th>worker restarts</th><td>%.0f</td></tr>\n"
        "</table>\n"
        "<h2>modules</h2>\n"
        "<table>\n<tr><th>module</th><th>version</th></tr>\n"
        "%s"
        "</table>\n"
        "%s"
        "</body>\n</html>\n",
        head, cairn_arena_html_escape(a, cairn_version()), st->workers,
        st->connections_open, st->connections_accepted, st->requests_total,
        st->requests_in_flight, mod_metrics_uptime(st),
        st->config_generation, st->reloads, st->worker_restarts, rows,
        peers);

    return cairn_respond(r, 200, "text/html; charset=utf-8", body,
                         strlen(body));
}


/*
 * The status as JSON.  The document is small; jansson builds it and it
 * is serialised straight into the request arena.
 */
static int
mod_metrics_status_json(cairn_request_t *r, const mod_metrics_status_t *st)
{
    const mod_metrics_module_t  *mod;
    const mod_metrics_peer_t    *p;
    json_t                      *doc, *modules, *upstreams, *list;
    char                        *body;
    size_t                       len;

    modules = json_array();
    for (mod = st->modules; mod != NULL; mod = mod->next) {
        json_array_append_new(modules,
                              json_pack("{s:s, s:s}", "name", mod->name,
                                        "version", mod->version));
    }

    upstreams = json_object();
    for (p = st->peers; p != NULL; p = p->next) {
        list = json_object_get(upstreams, p->upstream);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(upstreams, p->upstream, list);
        }
        json_array_append_new(list,
                              json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}",
                                        "server", p->server,
                                        "up", p->up != 0,
                                        "active", (json_int_t) p->active,
                                        "idle", (json_int_t) p->idle,
                                        "responses",
                                        (json_int_t) p->requests,
                                        "errors", (json_int_t) p->errors));
    }

    doc = json_pack("{s:s, s:I, s:{s:I, s:I}, s:{s:I, s:I},"
                    " s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
                    "version", cairn_version(),
                    "workers", (json_int_t) st->workers,
                    "connections",
                        "open", (json_int_t) st->connections_open,
                        "accepted", (json_int_t) st->connections_accepted,
                    "requests",
                        "total", (json_int_t) st->requests_total,
                        "in_flight", (json_int_t) st->requests_in_flight,
                    "uptime_seconds", (json_int_t) mod_metrics_uptime(st),
                    "start_time_seconds", (json_int_t) st->start_time,
                    "config_generation", (json_int_t) st->config_generation,
                    "reloads", (json_int_t) st->reloads,
                    "worker_restarts", (json_int_t) st->worker_restarts,
                    "modules", modules,
                    "upstreams", upstreams);
    if (doc == NULL) {
        cairn_log_error(r, 0, "mod_metrics: the status document could not "
                        "be built");
        return 500;
    }

    len = json_dumpb(doc, NULL, 0, JSON_INDENT(2));
    body = cairn_arena_alloc(cairn_request_arena(r), len + 1);
    len = json_dumpb(doc, body, len, JSON_INDENT(2));
    json_decref(doc);

    body[len++] = '\n';

    return cairn_respond(r, 200, "application/json", body, len);
}


static int
mod_metrics_not_allowed(cairn_request_t *r)
{
    return cairn_respond_not_allowed(r, CAIRN_M(CAIRN_METHOD_GET));
}
