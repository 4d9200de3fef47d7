/*
 * core/metrics_core.c: the core's own metrics: requests, their duration
 * and bytes, connections, workers, generations, modules and the time of
 * hook calls; and the per-worker accounting through which the master
 * takes back what a dead worker still held.
 */

#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_int.h"
#include "http_int.h"
#include "metrics_int.h"


typedef struct {
    cairn_metric_t          *requests;
    cairn_metric_t          *duration;
    cairn_metric_t          *in_flight;
    cairn_metric_t          *conns_open;
    cairn_metric_t          *accepted;
    cairn_metric_t          *reaped;
    cairn_metric_t          *refused;
    cairn_metric_t          *received;
    cairn_metric_t          *sent;
    cairn_metric_t          *restarts;
    cairn_metric_t          *generation;
    cairn_metric_t          *reloads;
    cairn_metric_t          *workers;
    cairn_metric_t          *start_time;
    cairn_metric_t          *module_info;
    cairn_metric_t          *hooks;
} metrics_core_t;

/* Per process: series looked up once, used on every request. */
typedef struct {
    const cairn__hook_t     *v;
    size_t                   n;
    cairn__series_t        **series;
} metrics_hook_cache_t;

#define METRICS_METHODS         (CAIRN_METHOD_CONNECT + 1)

static metrics_core_t         metrics_core;
static cairn__series_t       *metrics_s_duration;
static cairn__series_t       *metrics_s_in_flight;
static cairn__series_t       *metrics_s_conns;
static cairn__series_t       *metrics_s_accepted;
static cairn__series_t       *metrics_s_reaped;
static cairn__series_t       *metrics_s_refused;
static cairn__series_t       *metrics_s_received;
static cairn__series_t       *metrics_s_sent;
static cairn__series_t       *metrics_s_requests[METRICS_METHODS]
                                                [CAIRN__METRICS_CODES];
static metrics_hook_cache_t   metrics_hook_cache[CAIRN_PHASE_COUNT];

/* The status codes as label values, written by cairn__metrics_init. */
char                          cairn__metrics_codes[CAIRN__METRICS_CODES][6];

static const char *const  metrics_method_names[METRICS_METHODS] = {
    "OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
    "TRACE", "CONNECT"
};

static const double  metrics_hook_buckets[] = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1
};


int
cairn__metrics_core_register(void)
{
    static const char *const  req_labels[] = { "method", "code", NULL };
    static const char *const  mod_labels[] = { "module", "version", NULL };
    static const char *const  hook_labels[] = { "module", "hook", NULL };
    metrics_core_t           *c = &metrics_core;
    size_t                    i;

    const struct {
        cairn_metric_t        **slot;
        cairn_metric_type_t     type;
        const char             *name;
        const char             *help;
        const char *const      *labels;
    } families[] = {
        { &c->requests, CAIRN_METRIC_COUNTER, "cairn_http_requests_total",
          "HTTP requests answered, by method and status code.",
          req_labels },
        { &c->duration, CAIRN_METRIC_HISTOGRAM,
          "cairn_http_request_duration_seconds",
          "Time from the first byte of a request to its last byte sent.",
          NULL },
        { &c->in_flight, CAIRN_METRIC_GAUGE, "cairn_http_requests_in_flight",
          "HTTP requests being received, processed or sent.", NULL },
        { &c->conns_open, CAIRN_METRIC_GAUGE, "cairn_connections_open",
          "Client connections open.", NULL },
        { &c->accepted, CAIRN_METRIC_COUNTER,
          "cairn_connections_accepted_total",
          "Client connections accepted.", NULL },
        { &c->reaped, CAIRN_METRIC_COUNTER,
          "cairn_connections_reaped_total",
          "Idle client connections closed to make room at MaxConnections.",
          NULL },
        { &c->refused, CAIRN_METRIC_COUNTER,
          "cairn_connections_refused_total",
          "Client connections answered 503 and closed at MaxConnections, "
          "none being idle.", NULL },
        { &c->received, CAIRN_METRIC_COUNTER,
          "cairn_http_received_bytes_total",
          "Bytes read from client connections.", NULL },
        { &c->sent, CAIRN_METRIC_COUNTER, "cairn_http_sent_bytes_total",
          "Bytes of responses written to client connections.", NULL },
        { &c->restarts, CAIRN_METRIC_COUNTER, "cairn_worker_restarts_total",
          "Workers started again after they crashed or exited.", NULL },
        { &c->generation, CAIRN_METRIC_GAUGE, "cairn_config_generation",
          "Number of the configuration generation being served.", NULL },
        { &c->reloads, CAIRN_METRIC_COUNTER, "cairn_reloads_total",
          "Successful configuration reloads.", NULL },
        { &c->workers, CAIRN_METRIC_GAUGE, "cairn_workers",
          "Worker processes of the current generation.", NULL },
        { &c->start_time, CAIRN_METRIC_GAUGE, "cairn_start_time_seconds",
          "Start time of the master process since the Unix epoch.", NULL },
        { &c->module_info, CAIRN_METRIC_GAUGE, "cairn_module_info",
          "Modules of the current generation (1) and of earlier ones (0).",
          mod_labels },
        { &c->hooks, CAIRN_METRIC_HISTOGRAM, "cairn_hook_duration_seconds",
          "Time a module's hook held the event loop, by module and hook.",
          hook_labels },
    };

    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        /* Hook calls are short: they get their own buckets. */
        *families[i].slot = cairn__metric_register(families[i].type,
            families[i].name, families[i].help, families[i].labels,
            families[i].slot == &c->hooks ? metrics_hook_buckets : NULL,
            families[i].slot == &c->hooks
            ? sizeof(metrics_hook_buckets) / sizeof(double) : 0);

        if (*families[i].slot == NULL) {
            memset(c, 0, sizeof(*c));
            return -1;
        }
    }

    metrics_s_duration = cairn__metric_series(c->duration, NULL);
    metrics_s_in_flight = cairn__metric_series(c->in_flight, NULL);
    metrics_s_conns = cairn__metric_series(c->conns_open, NULL);
    metrics_s_accepted = cairn__metric_series(c->accepted, NULL);
    metrics_s_reaped = cairn__metric_series(c->reaped, NULL);
    metrics_s_refused = cairn__metric_series(c->refused, NULL);
    metrics_s_received = cairn__metric_series(c->received, NULL);
    metrics_s_sent = cairn__metric_series(c->sent, NULL);

    cairn_metric_set(c->start_time, NULL, (double) time(NULL));

    return 0;
}


void
cairn__metrics_generation(const cairn_server_t *s, unsigned generation,
                          int nworkers, int reload)
{
    metrics_core_t   *c = &metrics_core;
    cairn__series_t  *se;
    const char       *values[3];
    uint32_t          ns, j;
    size_t            i;

    if (c->module_info == NULL) {
        return;
    }

    /* Modules of earlier generations stay listed, at 0. */
    ns = atomic_load_explicit(&c->module_info->nseries, memory_order_acquire);
    for (j = 0; j < ns; j++) {
        se = cairn__metrics_at(c->module_info->order[j]);
        cairn__series_set(c->module_info, se, 0);
    }

    for (i = 0; i < s->nmods; i++) {
        values[0] = s->mods[i].m->name;
        values[1] = s->mods[i].m->version ? s->mods[i].m->version : "";
        values[2] = NULL;
        cairn_metric_set(c->module_info, values, 1);
    }

    cairn_metric_set(c->generation, NULL, (double) generation);
    cairn_metric_set(c->workers, NULL, (double) nworkers);
    if (reload) {
        cairn_metric_add(c->reloads, NULL, 1);
    }
}


void
cairn__metrics_worker_restart(void)
{
    if (metrics_core.restarts != NULL) {
        cairn_metric_add(metrics_core.restarts, NULL, 1);
    }
}


void
cairn__metrics_worker_slot(int slot)
{
    unsigned  i;

    if (cairn__metrics_region == NULL || slot < 0
        || slot >= CAIRN__METRICS_SLOTS)
    {
        cairn__metrics_slot = NULL;
        return;
    }

    cairn__metrics_slot = &cairn__metrics_region->slots[slot];
    atomic_store(&cairn__metrics_slot->in_flight, 0);
    atomic_store(&cairn__metrics_slot->conns, 0);
    for (i = 0; i < CAIRN__METRICS_JOURNAL; i++) {
        atomic_store(&cairn__metrics_slot->journal[i].series, 0);
    }
}


void
cairn__metrics_worker_gone(int slot)
{
    cairn__metrics_slot_t  *ws;
    int64_t          n;
    uint64_t         bits;
    uint32_t         off;
    double           d;
    unsigned         i;

    if (cairn__metrics_region == NULL || slot < 0
        || slot >= CAIRN__METRICS_SLOTS)
    {
        return;
    }

    ws = &cairn__metrics_region->slots[slot];

    n = atomic_exchange(&ws->in_flight, 0);
    if (n != 0) {
        cairn__metrics_add_double(&metrics_s_in_flight->cell[0], (double) -n);
    }
    n = atomic_exchange(&ws->conns, 0);
    if (n != 0) {
        cairn__metrics_add_double(&metrics_s_conns->cell[0], (double) -n);
    }

    /* Its contributions to module gauges (pool connections...). */
    for (i = 0; i < CAIRN__METRICS_JOURNAL; i++) {
        off = atomic_exchange(&ws->journal[i].series, 0);
        if (off == 0) {
            continue;
        }
        bits = atomic_exchange(&ws->journal[i].delta, 0);
        memcpy(&d, &bits, sizeof(d));
        if (d != 0) {
            cairn__metrics_add_double(&((cairn__series_t *)
                                        cairn__metrics_at(off))->cell[0], -d);
        }
    }
}


void
cairn__metrics_request_start(void)
{
    if (metrics_s_in_flight == NULL) {
        return;
    }

    cairn__metrics_add_double(&metrics_s_in_flight->cell[0], 1);
    if (cairn__metrics_slot != NULL) {
        atomic_fetch_add_explicit(&cairn__metrics_slot->in_flight, 1,
                                  memory_order_relaxed);
    }
}


void
cairn__metrics_request_done(cairn_request_t *r)
{
    metrics_core_t   *c = &metrics_core;
    cairn__series_t  *s;
    struct timespec   ts;
    const char       *values[3];
    unsigned          mi, ci;
    uint64_t          now;

    if (metrics_s_in_flight == NULL) {
        return;
    }

    cairn__metrics_add_double(&metrics_s_in_flight->cell[0], -1);
    if (cairn__metrics_slot != NULL) {
        atomic_fetch_sub_explicit(&cairn__metrics_slot->in_flight, 1,
                                  memory_order_relaxed);
    }

    mi = (unsigned) r->method < METRICS_METHODS ? (unsigned) r->method : 0;
    ci = r->status >= 100 && r->status <= 599 ? (unsigned) r->status - 100
                                               : CAIRN__METRICS_CODES - 1;

    s = metrics_s_requests[mi][ci];
    if (s == NULL) {
        values[0] = metrics_method_names[mi];
        values[1] = cairn__metrics_codes[ci];
        values[2] = NULL;
        s = cairn__metric_series(c->requests, values);
        metrics_s_requests[mi][ci] = s;
    }
    cairn__series_add(c->requests, s, 1);

    /* The loop's cached time is from before the request was handled. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
    cairn__series_observe(c->duration, metrics_s_duration,
                          now > r->start_us
                          ? (double) (now - r->start_us) / 1e6 : 0.0);

    if (r->bytes_sent > 0) {
        cairn__metrics_add_double(&metrics_s_sent->cell[0],
                                  (double) r->bytes_sent);
    }
}


void
cairn__metrics_conn_open(void)
{
    if (metrics_s_conns == NULL) {
        return;
    }

    cairn__metrics_add_double(&metrics_s_conns->cell[0], 1);
    cairn__metrics_add_double(&metrics_s_accepted->cell[0], 1);
    if (cairn__metrics_slot != NULL) {
        atomic_fetch_add_explicit(&cairn__metrics_slot->conns, 1,
                                  memory_order_relaxed);
    }
}


void
cairn__metrics_conn_close(void)
{
    if (metrics_s_conns == NULL) {
        return;
    }

    cairn__metrics_add_double(&metrics_s_conns->cell[0], -1);
    if (cairn__metrics_slot != NULL) {
        atomic_fetch_sub_explicit(&cairn__metrics_slot->conns, 1,
                                  memory_order_relaxed);
    }
}


void
cairn__metrics_conn_reaped(unsigned n)
{
    if (metrics_s_reaped != NULL && n > 0) {
        cairn__metrics_add_double(&metrics_s_reaped->cell[0], (double) n);
    }
}


void
cairn__metrics_conn_refused(void)
{
    if (metrics_s_refused != NULL) {
        cairn__metrics_add_double(&metrics_s_refused->cell[0], 1);
    }
}


void
cairn__metrics_received(size_t n)
{
    if (metrics_s_received != NULL) {
        cairn__metrics_add_double(&metrics_s_received->cell[0], (double) n);
    }
}


/*
 * The series of every hook of a phase, looked up once per process and
 * generation: the cache is rebuilt when the phase's hook list is not the
 * one it was built for.
 */
static cairn__series_t *
metrics_hook_series(const cairn_request_t *r, int kind, const cairn__hook_t *h)
{
    const cairn__hook_list_t  *list = &r->server->hooks->kind[kind];
    metrics_hook_cache_t      *hc = &metrics_hook_cache[kind];
    const char                *values[3];
    size_t                     i, idx;

    if (h < list->v || h >= list->v + list->n) {
        return NULL;
    }
    idx = (size_t) (h - list->v);

    if (hc->v != list->v || hc->n != list->n) {
        free(hc->series);
        hc->series = calloc(list->n, sizeof(cairn__series_t *));
        if (hc->series == NULL) {
            hc->v = NULL;
            hc->n = 0;
            return NULL;
        }
        for (i = 0; i < list->n; i++) {
            values[0] = list->v[i].module->name;
            values[1] = cairn__hook_kind_name(kind);
            values[2] = NULL;
            hc->series[i] = cairn__metric_series(metrics_core.hooks, values);
        }
        hc->v = list->v;
        hc->n = list->n;
    }

    return hc->series[idx];
}


void
cairn__metrics_hook(const cairn_request_t *r, int kind,
                    const cairn__hook_t *h, uint64_t ns)
{
    if (metrics_core.hooks == NULL || kind < 0 || kind >= CAIRN_PHASE_COUNT)
    {
        return;
    }

    cairn__series_observe(metrics_core.hooks, metrics_hook_series(r, kind, h),
                          (double) ns / 1e9);
}
