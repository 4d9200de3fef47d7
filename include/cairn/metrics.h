/*
 * cairn/metrics.h: counters, gauges and histograms shared by every
 * worker.
 *
 * A module registers its metric families at configuration time (from a
 * directive setter, post_config, or pre_config) and updates them from any
 * hook.  Values live in memory the master maps once and every worker
 * shares, so all workers count into one set, and a family registered
 * again by the next configuration generation (same name, type and label
 * names) keeps its values: counters do not reset on reload.
 *
 * Series are identified by their label values, given as a NULL-terminated
 * array in the order of the family's label names; a series is created the
 * first time it is used.  The number of series per family is bounded
 * (CAIRN_METRIC_MAX_SERIES); past it, updates are counted in a series
 * whose labels are all "other".  Updates are lock-free atomic operations
 * and may be called on the loop thread of any worker; registration only
 * at configuration time.
 *
 * A gauge a worker moves with cairn_metric_add() counts what it holds
 * (connections, waiters): when the worker dies, even killed, the master
 * takes its additions back, so the gauge never counts a dead worker's
 * share (for up to 32 series per worker).  cairn_metric_set() writes the
 * value for everyone and is not taken back.
 *
 *     static cairn_metric_t  *mod_x_hits;
 *
 *     mod_x_hits = cairn_metric_counter(s, "x_hits_total",
 *                                       "Hits by result.",
 *                                       (const char *[]) { "result", NULL });
 *     ...
 *     cairn_metric_add(mod_x_hits, (const char *[]) { "ok", NULL }, 1);
 */

#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include <stddef.h>

#include <cairn/defs.h>

typedef struct cairn_metric_s  cairn_metric_t;

typedef enum {
    CAIRN_METRIC_COUNTER = 0,
    CAIRN_METRIC_GAUGE,
    CAIRN_METRIC_HISTOGRAM
} cairn_metric_type_t;

#define CAIRN_METRIC_MAX_LABELS     8
#define CAIRN_METRIC_MAX_SERIES     512
#define CAIRN_METRIC_MAX_BUCKETS    24

/*
 * Registers (or finds again) a family.  name follows Prometheus rules
 * ([a-zA-Z_:][a-zA-Z0-9_:]*; counters should end in _total), help is one
 * line, labels is NULL or a NULL-terminated list of label names.  Returns
 * the family, or NULL (logged) when the name is invalid, the same name
 * exists with another type or labels, or the shared memory is full.
 */
CAIRN_API cairn_metric_t *cairn_metric_counter(cairn_server_t *s,
                                               const char *name,
                                               const char *help,
                                               const char *const *labels);
CAIRN_API cairn_metric_t *cairn_metric_gauge(cairn_server_t *s,
                                             const char *name,
                                             const char *help,
                                             const char *const *labels);

/* buckets: ascending upper bounds (the +Inf bucket is implicit); NULL
 * gives the default latency buckets in seconds (0.0005 to 10). */
CAIRN_API cairn_metric_t *cairn_metric_histogram(cairn_server_t *s,
                                                 const char *name,
                                                 const char *help,
                                                 const char *const *labels,
                                                 const double *buckets,
                                                 size_t nbuckets);

/* Counter or gauge: adds v (a counter ignores v < 0). */
CAIRN_API void cairn_metric_add(cairn_metric_t *m,
                                const char *const *label_values, double v);

/* Gauge: sets the value. */
CAIRN_API void cairn_metric_set(cairn_metric_t *m,
                                const char *const *label_values, double v);

/* Histogram: records one observation. */
CAIRN_API void cairn_metric_observe(cairn_metric_t *m,
                                    const char *const *label_values,
                                    double v);

/*
 * Writes every family of the registry in the Prometheus text exposition
 * format 0.0.4 into a buffer from arena a; *len receives its length.
 */
CAIRN_API char *cairn_metrics_render(cairn_arena_t *a, size_t *len);

/* Iteration for other renderings (the status page's JSON): calls cb for
 * every series; value is the counter/gauge value, or for histograms the
 * observation count. */
typedef void (*cairn_metric_visit_cb)(const char *name,
                                      cairn_metric_type_t type,
                                      const char *const *label_names,
                                      const char *const *label_values,
                                      double value, void *data);

/* Visits every series of every family (see above). */
CAIRN_API void cairn_metrics_each(cairn_metric_visit_cb cb, void *data);

#endif /* CAIRN_METRICS_H */
