/*
 * core/metrics_int.h: the shared metric registry and the core's own
 * metrics.
 *
 * The registry is one region of shared memory mapped by main() before
 * the first configuration is read; workers inherit it through fork and
 * the master keeps it across reloads, so a family registered again by
 * the next generation finds its values.  Pointers into the region are
 * valid in every process because the region is mapped before any fork.
 */

#ifndef CAIRN_METRICS_INT_H
#define CAIRN_METRICS_INT_H

#include <stdint.h>

#include <cairn/cairn.h>
#include <cairn/metrics.h>

#include "hooks_int.h"

/* One series of a family (label values and value cells). */
typedef struct cairn__series_s  cairn__series_t;

/* Maps the region once; later calls do nothing.  0 or -1 (logged). */
int cairn__metrics_init(void);

/*
 * Replaces the shared region by a private copy in this process: the
 * child that checks a configuration before a reload registers into the
 * copy, never into the registry the workers count in.
 */
void cairn__metrics_detach(void);

/* Registration without the "only while a generation is built" check,
 * for the core's own families. */
cairn_metric_t *cairn__metric_register(cairn_metric_type_t type,
                                       const char *name, const char *help,
                                       const char *const *labels,
                                       const double *buckets,
                                       size_t nbuckets);

/* The series for label_values (created if needed; the overflow series
 * past the limit); NULL only when the region is full. */
cairn__series_t *cairn__metric_series(cairn_metric_t *m,
                                      const char *const *label_values);

/* Updates of a series already looked up (m is its family). */
void cairn__series_add(cairn_metric_t *m, cairn__series_t *s, double v);
void cairn__series_set(cairn_metric_t *m, cairn__series_t *s, double v);
void cairn__series_observe(cairn_metric_t *m, cairn__series_t *s, double v);

/* The value of a counter or gauge series, or a histogram's count. */
double cairn__series_value(cairn_metric_t *m, cairn__series_t *s);

/*
 * The core's metrics.  cairn__metrics_core_register() registers the
 * core families (main, once, after cairn__metrics_init);
 * cairn__metrics_generation() records a generation that starts serving
 * (module info, generation number, workers; reload counts a reload).
 */
int cairn__metrics_core_register(void);
void cairn__metrics_generation(const cairn_server_t *s, unsigned generation,
                               int nworkers, int reload);
void cairn__metrics_worker_restart(void);

/*
 * Per-worker accounting of the gauges a worker moves up and down
 * (requests in flight, open connections): a worker process calls
 * cairn__metrics_worker_slot() with a slot number unique among the live
 * workers; when it dies, the master calls cairn__metrics_worker_gone()
 * with the same number, which takes back what the worker still held.
 */
void cairn__metrics_worker_slot(int slot);
void cairn__metrics_worker_gone(int slot);

/* Update points on the request path. */
void cairn__metrics_request_start(void);
void cairn__metrics_request_done(cairn_request_t *r);
void cairn__metrics_conn_open(void);
void cairn__metrics_conn_close(void);
void cairn__metrics_received(size_t n);

/* One hook call of r in phase kind took ns nanoseconds. */
void cairn__metrics_hook(const cairn_request_t *r, int kind,
                         const cairn__hook_t *h, uint64_t ns);

#endif /* CAIRN_METRICS_INT_H */
