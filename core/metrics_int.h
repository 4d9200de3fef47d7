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

#include <stdatomic.h>
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
void cairn__metrics_conn_reaped(unsigned n);   /* MaxConnections: closed */
void cairn__metrics_conn_refused(void);         /* ... nothing to close */
void cairn__metrics_received(size_t n);

/* One hook call of r in phase kind took ns nanoseconds. */
void cairn__metrics_hook(const cairn_request_t *r, int kind,
                         const cairn__hook_t *h, uint64_t ns);


/* ------------------------------------------------------------------ */
/* Between the metrics files only                                     */
/* ------------------------------------------------------------------ */

/*
 * metrics_shm.c maps the region and allocates from it, metrics.c keeps
 * the registry in it, metrics_text.c reads it out, metrics_core.c holds
 * the core's own metrics.  What they share is below; the rest of the
 * core uses the functions above.
 */

#define CAIRN__METRICS_MAX_FAMILIES  512
#define CAIRN__METRICS_NAME_MAX      128
#define CAIRN__METRICS_HELP_MAX      512
#define CAIRN__METRICS_LABEL_MAX     64     /* a label name, with its NUL */
#define CAIRN__METRICS_TABLE_SIZE    (2 * CAIRN_METRIC_MAX_SERIES)
#define CAIRN__METRICS_SLOTS         1024
#define CAIRN__METRICS_JOURNAL       32
#define CAIRN__METRICS_CODES         501    /* 100..599, then "other" */

/*
 * What one live process added to a gauge series: when the process dies
 * (a crash leaves no chance to undo), the master takes its contributions
 * back, so that "connections open" does not count a dead worker's.
 */
typedef struct {
    _Atomic uint32_t         series;        /* its offset, 0: free */
    _Atomic uint64_t         delta;         /* double bits */
} cairn__metrics_journal_t;

/* Per live process (its crash record's index). */
typedef struct {
    _Atomic int64_t          in_flight;
    _Atomic int64_t          conns;
    cairn__metrics_journal_t journal[CAIRN__METRICS_JOURNAL];
} cairn__metrics_slot_t;

typedef struct {
    uint32_t                 size;
    _Atomic int              lock;          /* pid of the holder, 0: free */
    _Atomic uint32_t         used;          /* bump allocator */
    _Atomic uint32_t         nfamilies;
    uint32_t                 families[CAIRN__METRICS_MAX_FAMILIES];
    cairn__metrics_slot_t    slots[CAIRN__METRICS_SLOTS];
} cairn__metrics_header_t;

struct cairn_metric_s {
    char                     name[CAIRN__METRICS_NAME_MAX];
    char                     help[CAIRN__METRICS_HELP_MAX];
    cairn_metric_type_t      type;
    unsigned                 nlabels;
    char                     labels[CAIRN_METRIC_MAX_LABELS]
                                   [CAIRN__METRICS_LABEL_MAX];
    unsigned                 nbuckets;      /* without +Inf */
    double                   buckets[CAIRN_METRIC_MAX_BUCKETS];
    unsigned                 ncells;        /* 64-bit cells per series */
    _Atomic uint32_t         nseries;
    _Atomic uint32_t         table[CAIRN__METRICS_TABLE_SIZE];
    uint32_t                 order[CAIRN_METRIC_MAX_SERIES];
};

struct cairn__series_s {
    uint32_t                 hash;
    uint32_t                 labels_off;    /* from the series' start */
    _Atomic uint64_t         cell[];        /* counter/gauge: [0] value;
                                               histogram: [0] sum,
                                               [1 + i] bucket i */
};

/* The region (NULL until cairn__metrics_init), and this process's
 * accounting slot in it (NULL outside a worker). */
extern cairn__metrics_header_t  *cairn__metrics_region;
extern cairn__metrics_slot_t    *cairn__metrics_slot;

/* The status codes 100..599 and "other" as label values
 * (metrics_core.c's, written by cairn__metrics_init). */
extern char  cairn__metrics_codes[CAIRN__METRICS_CODES][6];

/* metrics_shm.c: the pointer for an offset into the region; the bump
 * allocator (under the lock; 0 when the region is full); the lock. */
void *cairn__metrics_at(uint32_t off);
uint32_t cairn__metrics_alloc(size_t size);
void cairn__metrics_lock(void);
void cairn__metrics_unlock(void);

/* metrics.c: a type's name in the exposition format; the label values
 * of a series, one after the other, each with its NUL; reading and
 * adding to a double kept as its 64-bit pattern. */
const char *cairn__metrics_type_name(cairn_metric_type_t type);
const char *cairn__metrics_series_labels(const cairn__series_t *s);
double cairn__metrics_load_double(_Atomic uint64_t *cell);
void cairn__metrics_add_double(_Atomic uint64_t *cell, double v);

#endif /* CAIRN_METRICS_INT_H */
