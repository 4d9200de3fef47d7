/*
 * core/metrics.c: the metric registry in shared memory, its Prometheus
 * rendering, and the core's own metrics.
 *
 * The region starts with a header (a spinlock, the bump allocator, the
 * list of families, one accounting slot per live worker); families and
 * series are carved from the rest.  Offsets, not pointers, link them, so
 * a private copy of the region (cairn__metrics_detach) stays coherent.
 *
 * A family holds a hash table of series (open addressing, twice
 * CAIRN_METRIC_MAX_SERIES cells of 32-bit offsets) and the offsets in
 * creation order for rendering.  Readers find a series without the lock;
 * a missing series is created under the lock after looking again, and
 * published by storing its offset with release order once it is
 * complete.  The lock is only taken to create families and series.
 *
 * Values: counters and gauges are doubles kept as their 64-bit pattern
 * and updated by compare-and-swap; a histogram keeps one 64-bit count per
 * bucket (not cumulative; the last is +Inf) and its sum as a double; its
 * count is the total of the buckets, so _count always equals the +Inf
 * bucket.
 */

#include "config.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "conf_int.h"
#include "http_int.h"
#include "metrics_int.h"


#define METRICS_REGION_SIZE     (8u << 20)
#define METRICS_MAX_FAMILIES    512
#define METRICS_NAME_MAX        128
#define METRICS_HELP_MAX        512
#define METRICS_LABEL_MAX       64          /* a label name, with its NUL */
#define METRICS_VALUE_MAX       128         /* a label value, with its NUL */
#define METRICS_TABLE_SIZE      (2 * CAIRN_METRIC_MAX_SERIES)
#define METRICS_SLOTS           1024
#define METRICS_SPINS           1000

#define METRICS_JOURNAL         32

/*
 * What one live process added to a gauge series: when the process dies
 * (a crash leaves no chance to undo), the master takes its contributions
 * back, so that "connections open" does not count a dead worker's.
 */
typedef struct {
    _Atomic uint32_t         series;        /* its offset, 0: free */
    _Atomic uint64_t         delta;         /* double bits */
} metrics_journal_t;

/* Per live process (its crash record's index). */
typedef struct {
    _Atomic int64_t          in_flight;
    _Atomic int64_t          conns;
    metrics_journal_t        journal[METRICS_JOURNAL];
} metrics_slot_t;

typedef struct {
    uint32_t                 size;
    _Atomic int              lock;          /* pid of the holder, 0: free */
    _Atomic uint32_t         used;          /* bump allocator */
    _Atomic uint32_t         nfamilies;
    uint32_t                 families[METRICS_MAX_FAMILIES];
    metrics_slot_t           slots[METRICS_SLOTS];
} metrics_header_t;

struct cairn_metric_s {
    char                     name[METRICS_NAME_MAX];
    char                     help[METRICS_HELP_MAX];
    cairn_metric_type_t      type;
    unsigned                 nlabels;
    char                     labels[CAIRN_METRIC_MAX_LABELS]
                                   [METRICS_LABEL_MAX];
    unsigned                 nbuckets;      /* without +Inf */
    double                   buckets[CAIRN_METRIC_MAX_BUCKETS];
    unsigned                 ncells;        /* 64-bit cells per series */
    _Atomic uint32_t         nseries;
    _Atomic uint32_t         table[METRICS_TABLE_SIZE];
    uint32_t                 order[CAIRN_METRIC_MAX_SERIES];
};

struct cairn__series_s {
    uint32_t                 hash;
    uint32_t                 labels_off;    /* from the series' start */
    _Atomic uint64_t         cell[];        /* counter/gauge: [0] value;
                                               histogram: [0] sum,
                                               [1 + i] bucket i */
};

typedef struct {
    cairn_metric_t          *requests;
    cairn_metric_t          *duration;
    cairn_metric_t          *in_flight;
    cairn_metric_t          *conns_open;
    cairn_metric_t          *accepted;
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
#define METRICS_CODES           501         /* 100..599, then "other" */

static void metrics_journal_add(cairn__series_t *s, double v);

static metrics_header_t      *metrics_region;
static metrics_core_t         metrics_core;
static metrics_slot_t        *metrics_slot;
static cairn__series_t       *metrics_s_duration;
static cairn__series_t       *metrics_s_in_flight;
static cairn__series_t       *metrics_s_conns;
static cairn__series_t       *metrics_s_accepted;
static cairn__series_t       *metrics_s_received;
static cairn__series_t       *metrics_s_sent;
static cairn__series_t       *metrics_s_requests[METRICS_METHODS]
                                                [METRICS_CODES];
static metrics_hook_cache_t   metrics_hook_cache[CAIRN_PHASE_COUNT];
static char                   metrics_codes[METRICS_CODES][6];

static const char *const  metrics_method_names[METRICS_METHODS] = {
    "OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
    "TRACE", "CONNECT"
};

static const double  metrics_default_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    2.5, 5, 10
};

static const double  metrics_hook_buckets[] = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1
};

static const char *const  metrics_other[CAIRN_METRIC_MAX_LABELS + 1] = {
    "other", "other", "other", "other", "other", "other", "other", "other",
    NULL
};


static void metrics_lock(void);
static void metrics_unlock(void);
static void *metrics_at(uint32_t off);
static uint32_t metrics_alloc(size_t size);
static cairn__series_t *metrics_series_find(cairn_metric_t *m,
                                            const char *const *values,
                                            uint32_t hash, int create);


/* ------------------------------------------------------------------ */
/* The region                                                         */
/* ------------------------------------------------------------------ */

int
cairn__metrics_init(void)
{
    void    *p;
    size_t   i;

    if (metrics_region != NULL) {
        return 0;
    }

    p = mmap(NULL, METRICS_REGION_SIZE, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot map %u bytes of "
                  "shared memory for metrics", METRICS_REGION_SIZE);
        return -1;
    }

    metrics_region = p;
    metrics_region->size = METRICS_REGION_SIZE;
    atomic_store(&metrics_region->used,
                 (uint32_t) ((sizeof(metrics_header_t) + 63) & ~63u));

    for (i = 0; i < METRICS_CODES - 1; i++) {
        snprintf(metrics_codes[i], sizeof(metrics_codes[i]), "%zu", i + 100);
    }
    snprintf(metrics_codes[METRICS_CODES - 1],
             sizeof(metrics_codes[0]), "other");

    return 0;
}


void
cairn__metrics_detach(void)
{
    void  *p;

    if (metrics_region == NULL) {
        return;
    }

    /* The copy takes the place of the shared mapping at the same
     * address, so every family and series pointer stays valid. */
    p = mmap(NULL, METRICS_REGION_SIZE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return;
    }

    memcpy(p, metrics_region, METRICS_REGION_SIZE);
    if (mremap(p, METRICS_REGION_SIZE, METRICS_REGION_SIZE,
               MREMAP_MAYMOVE | MREMAP_FIXED, metrics_region) == MAP_FAILED)
    {
        munmap(p, METRICS_REGION_SIZE);
    }
}


static void *
metrics_at(uint32_t off)
{
    return (char *) metrics_region + off;
}


/* Under the lock.  Returns 0 when the region is full. */
static uint32_t
metrics_alloc(size_t size)
{
    uint32_t  off = atomic_load(&metrics_region->used);

    size = (size + 7) & ~(size_t) 7;
    if (size > metrics_region->size - off) {
        return 0;
    }

    atomic_store(&metrics_region->used, off + (uint32_t) size);

    return off;
}


/*
 * The lock holds the holder's pid, so a worker that died holding it (a
 * crash while creating a series) does not block everyone: after a while
 * of spinning, a lock whose holder is gone is taken over.
 */
static void
metrics_lock(void)
{
    int       pid = (int) getpid(), holder;
    unsigned  spins = 0;

    for ( ;; ) {
        holder = 0;
        if (atomic_compare_exchange_weak(&metrics_region->lock, &holder,
                                         pid))
        {
            return;
        }

        if (++spins < METRICS_SPINS) {
            continue;
        }
        spins = 0;

        if (holder != 0 && kill((pid_t) holder, 0) == -1 && errno == ESRCH
            && atomic_compare_exchange_strong(&metrics_region->lock, &holder,
                                              pid))
        {
            return;
        }
        sched_yield();
    }
}


static void
metrics_unlock(void)
{
    atomic_store_explicit(&metrics_region->lock, 0, memory_order_release);
}


/* ------------------------------------------------------------------ */
/* Registration                                                       */
/* ------------------------------------------------------------------ */

static int
metrics_name_valid(const char *name, int label)
{
    const char  *p;

    if (name == NULL || name[0] == '\0'
        || strlen(name) >= (label ? METRICS_LABEL_MAX : METRICS_NAME_MAX))
    {
        return 0;
    }
    if (label && name[0] == '_' && name[1] == '_') {
        return 0;
    }

    for (p = name; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || *p == '_' || (!label && *p == ':')
            || (p > name && *p >= '0' && *p <= '9'))
        {
            continue;
        }
        return 0;
    }

    return 1;
}


static const char *
metrics_type_name(cairn_metric_type_t type)
{
    switch (type) {
    case CAIRN_METRIC_COUNTER:
        return "counter";
    case CAIRN_METRIC_GAUGE:
        return "gauge";
    default:
        return "histogram";
    }
}


/* Whether an existing family has the same shape as the one asked for. */
static int
metrics_same(const cairn_metric_t *m, cairn_metric_type_t type,
             const char *const *labels, size_t nlabels,
             const double *buckets, size_t nbuckets)
{
    size_t  i;

    if (m->type != type || m->nlabels != nlabels) {
        return 0;
    }
    for (i = 0; i < nlabels; i++) {
        if (strcmp(m->labels[i], labels[i]) != 0) {
            return 0;
        }
    }
    if (type == CAIRN_METRIC_HISTOGRAM) {
        if (m->nbuckets != nbuckets) {
            return 0;
        }
        for (i = 0; i < nbuckets; i++) {
            if (m->buckets[i] != buckets[i]) {
                return 0;
            }
        }
    }

    return 1;
}


cairn_metric_t *
cairn__metric_register(cairn_metric_type_t type, const char *name,
                       const char *help, const char *const *labels,
                       const double *buckets, size_t nbuckets)
{
    cairn_metric_t  *m;
    size_t           nlabels = 0, i;
    uint32_t         n, off;

    if (cairn__metrics_init() != 0) {
        return NULL;
    }

    if (!metrics_name_valid(name, 0)) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric name '%s' is not valid: "
                  "[a-zA-Z_:][a-zA-Z0-9_:]*, at most %d characters",
                  name ? name : "(null)", METRICS_NAME_MAX - 1);
        return NULL;
    }

    for (nlabels = 0; labels != NULL && labels[nlabels] != NULL; nlabels++) {
        if (nlabels == CAIRN_METRIC_MAX_LABELS) {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: more than %d "
                      "labels", name, CAIRN_METRIC_MAX_LABELS);
            return NULL;
        }
        if (!metrics_name_valid(labels[nlabels], 1)
            || strcmp(labels[nlabels], "le") == 0)
        {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: label name "
                      "'%s' is not valid", name, labels[nlabels]);
            return NULL;
        }
    }

    if (type == CAIRN_METRIC_HISTOGRAM) {
        if (buckets == NULL) {
            buckets = metrics_default_buckets;
            nbuckets = sizeof(metrics_default_buckets) / sizeof(double);
        }
        if (nbuckets == 0 || nbuckets > CAIRN_METRIC_MAX_BUCKETS) {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: a histogram "
                      "takes 1 to %d buckets", name,
                      CAIRN_METRIC_MAX_BUCKETS);
            return NULL;
        }
        for (i = 0; i < nbuckets; i++) {
            if (!isfinite(buckets[i])
                || (i > 0 && buckets[i] <= buckets[i - 1]))
            {
                cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: bucket "
                          "bounds must be finite and ascending", name);
                return NULL;
            }
        }
    } else {
        nbuckets = 0;
    }

    metrics_lock();

    n = atomic_load(&metrics_region->nfamilies);
    for (i = 0; i < n; i++) {
        m = metrics_at(metrics_region->families[i]);
        if (strcmp(m->name, name) != 0) {
            continue;
        }
        metrics_unlock();
        if (!metrics_same(m, type, labels, nlabels, buckets, nbuckets)) {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s is already "
                      "registered as a %s with other labels or buckets",
                      name, metrics_type_name(m->type));
            return NULL;
        }
        return m;
    }

    off = n < METRICS_MAX_FAMILIES ? metrics_alloc(sizeof(*m)) : 0;
    if (off == 0) {
        metrics_unlock();
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: the metric registry "
                  "is full", name);
        return NULL;
    }

    m = metrics_at(off);
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->help, sizeof(m->help), "%s", help ? help : "");
    m->type = type;
    m->nlabels = (unsigned) nlabels;
    for (i = 0; i < nlabels; i++) {
        snprintf(m->labels[i], sizeof(m->labels[i]), "%s", labels[i]);
    }
    m->nbuckets = (unsigned) nbuckets;
    for (i = 0; i < nbuckets; i++) {
        m->buckets[i] = buckets[i];
    }
    m->ncells = type == CAIRN_METRIC_HISTOGRAM ? (unsigned) nbuckets + 2 : 1;

    metrics_region->families[n] = off;
    atomic_store_explicit(&metrics_region->nfamilies, n + 1,
                          memory_order_release);

    metrics_unlock();

    /* A family without labels has its one series from the start, so it
     * is exported (at 0) before its first update. */
    if (nlabels == 0) {
        cairn__metric_series(m, NULL);
    }

    return m;
}


static cairn_metric_t *
metrics_register(cairn_server_t *s, cairn_metric_type_t type,
                 const char *name, const char *help,
                 const char *const *labels, const double *buckets,
                 size_t nbuckets)
{
    if (cairn__server_building == NULL) {
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: families are "
                  "registered at configuration time only", name);
        return NULL;
    }

    return cairn__metric_register(type, name, help, labels, buckets,
                                  nbuckets);
}


cairn_metric_t *
cairn_metric_counter(cairn_server_t *s, const char *name, const char *help,
                     const char *const *labels)
{
    return metrics_register(s, CAIRN_METRIC_COUNTER, name, help, labels,
                            NULL, 0);
}


cairn_metric_t *
cairn_metric_gauge(cairn_server_t *s, const char *name, const char *help,
                   const char *const *labels)
{
    return metrics_register(s, CAIRN_METRIC_GAUGE, name, help, labels,
                            NULL, 0);
}


cairn_metric_t *
cairn_metric_histogram(cairn_server_t *s, const char *name, const char *help,
                       const char *const *labels, const double *buckets,
                       size_t nbuckets)
{
    return metrics_register(s, CAIRN_METRIC_HISTOGRAM, name, help, labels,
                            buckets, nbuckets);
}


/* ------------------------------------------------------------------ */
/* Series                                                             */
/* ------------------------------------------------------------------ */

static size_t
metrics_value_len(const char *v)
{
    return v == NULL ? 0 : strnlen(v, METRICS_VALUE_MAX - 1);
}


/* FNV-1a over the (bounded) label values, each followed by a 0xff. */
static uint32_t
metrics_hash(const cairn_metric_t *m, const char *const *values)
{
    uint32_t  h = 2166136261u;
    size_t    i, j, len;

    for (i = 0; i < m->nlabels; i++) {
        len = metrics_value_len(values[i]);
        for (j = 0; j < len; j++) {
            h = (h ^ (unsigned char) values[i][j]) * 16777619u;
        }
        h = (h ^ 0xffu) * 16777619u;
    }

    return h;
}


static const char *
metrics_series_labels(const cairn__series_t *s)
{
    return (const char *) s + s->labels_off;
}


static int
metrics_series_match(const cairn_metric_t *m, const cairn__series_t *s,
                     const char *const *values)
{
    const char  *p = metrics_series_labels(s);
    size_t       i, len;

    for (i = 0; i < m->nlabels; i++) {
        len = metrics_value_len(values[i]);
        if (strncmp(p, values[i] ? values[i] : "", len) != 0
            || p[len] != '\0')
        {
            return 0;
        }
        p += len + 1;
    }

    return 1;
}


static cairn__series_t *
metrics_series_find(cairn_metric_t *m, const char *const *values,
                    uint32_t hash, int create)
{
    cairn__series_t  *s;
    uint32_t          off, n, i, k;
    size_t            need, len;
    char             *p;

    for (i = 0; i < METRICS_TABLE_SIZE; i++) {
        k = (hash + i) & (METRICS_TABLE_SIZE - 1);
        off = atomic_load_explicit(&m->table[k], memory_order_acquire);
        if (off == 0) {
            break;
        }
        s = metrics_at(off);
        if (s->hash == hash && metrics_series_match(m, s, values)) {
            return s;
        }
    }

    if (!create) {
        return NULL;
    }

    metrics_lock();

    /* Another process may have created it meanwhile. */
    s = metrics_series_find(m, values, hash, 0);
    if (s != NULL) {
        metrics_unlock();
        return s;
    }

    n = atomic_load(&m->nseries);
    if (n >= CAIRN_METRIC_MAX_SERIES - 1 && values != metrics_other) {
        metrics_unlock();
        return NULL;
    }
    if (n >= CAIRN_METRIC_MAX_SERIES) {
        metrics_unlock();
        return NULL;
    }

    need = sizeof(*s) + m->ncells * sizeof(uint64_t);
    for (i = 0; i < m->nlabels; i++) {
        need += metrics_value_len(values[i]) + 1;
    }

    off = metrics_alloc(need);
    if (off == 0) {
        metrics_unlock();
        return NULL;
    }

    s = metrics_at(off);
    s->hash = hash;
    s->labels_off = (uint32_t) (sizeof(*s) + m->ncells * sizeof(uint64_t));
    p = (char *) s + s->labels_off;
    for (i = 0; i < m->nlabels; i++) {
        len = metrics_value_len(values[i]);
        if (len > 0) {
            memcpy(p, values[i], len);
        }
        p[len] = '\0';
        p += len + 1;
    }

    m->order[n] = off;
    atomic_store_explicit(&m->nseries, n + 1, memory_order_release);

    for (i = 0; i < METRICS_TABLE_SIZE; i++) {
        k = (hash + i) & (METRICS_TABLE_SIZE - 1);
        if (atomic_load(&m->table[k]) == 0) {
            atomic_store_explicit(&m->table[k], off, memory_order_release);
            break;
        }
    }

    metrics_unlock();

    return s;
}


cairn__series_t *
cairn__metric_series(cairn_metric_t *m, const char *const *label_values)
{
    static const char *const  none[1] = { NULL };
    cairn__series_t          *s;
    size_t                    i;

    if (m == NULL || metrics_region == NULL) {
        return NULL;
    }
    if (label_values == NULL) {
        label_values = m->nlabels == 0 ? none : metrics_other;
    }
    for (i = 0; i < m->nlabels; i++) {
        if (label_values[i] == NULL) {
            /* Fewer values than labels: counted as "other". */
            label_values = metrics_other;
            break;
        }
    }

    s = metrics_series_find(m, label_values, metrics_hash(m, label_values),
                            1);
    if (s == NULL && label_values != metrics_other) {
        s = metrics_series_find(m, metrics_other,
                                metrics_hash(m, metrics_other), 1);
    }

    return s;
}


static double
metrics_load_double(_Atomic uint64_t *cell)
{
    uint64_t  bits = atomic_load_explicit(cell, memory_order_relaxed);
    double    v;

    memcpy(&v, &bits, sizeof(v));

    return v;
}


static void
metrics_add_double(_Atomic uint64_t *cell, double v)
{
    uint64_t  old, new;
    double    d;

    old = atomic_load_explicit(cell, memory_order_relaxed);
    do {
        memcpy(&d, &old, sizeof(d));
        d += v;
        memcpy(&new, &d, sizeof(new));
    } while (!atomic_compare_exchange_weak_explicit(cell, &old, new,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
}


void
cairn__series_add(cairn_metric_t *m, cairn__series_t *s, double v)
{
    if (s == NULL || m->type == CAIRN_METRIC_HISTOGRAM
        || (m->type == CAIRN_METRIC_COUNTER && !(v >= 0)))
    {
        return;
    }

    metrics_add_double(&s->cell[0], v);

    if (m->type == CAIRN_METRIC_GAUGE && metrics_slot != NULL) {
        metrics_journal_add(s, v);
    }
}


/* Records v as this process's contribution to the gauge series s.  Only
 * the process writes its journal; the master reads it once the process
 * is gone.  A process that touches more than METRICS_JOURNAL series
 * leaves the rest uncorrected. */
static void
metrics_journal_add(cairn__series_t *s, double v)
{
    metrics_journal_t  *j = metrics_slot->journal;
    uint32_t            off, cur;
    unsigned            i;

    off = (uint32_t) ((char *) s - (char *) metrics_region);

    for (i = 0; i < METRICS_JOURNAL; i++) {
        cur = atomic_load_explicit(&j[i].series, memory_order_relaxed);
        if (cur == off) {
            metrics_add_double(&j[i].delta, v);
            return;
        }
        if (cur == 0) {
            atomic_store_explicit(&j[i].delta, 0, memory_order_relaxed);
            metrics_add_double(&j[i].delta, v);
            atomic_store_explicit(&j[i].series, off, memory_order_release);
            return;
        }
    }
}


void
cairn__series_set(cairn_metric_t *m, cairn__series_t *s, double v)
{
    uint64_t  bits;

    if (s == NULL || m->type != CAIRN_METRIC_GAUGE) {
        return;
    }

    memcpy(&bits, &v, sizeof(bits));
    atomic_store_explicit(&s->cell[0], bits, memory_order_relaxed);
}


void
cairn__series_observe(cairn_metric_t *m, cairn__series_t *s, double v)
{
    unsigned  i;

    if (s == NULL || m->type != CAIRN_METRIC_HISTOGRAM || isnan(v)) {
        return;
    }

    for (i = 0; i < m->nbuckets; i++) {
        if (v <= m->buckets[i]) {
            break;
        }
    }

    atomic_fetch_add_explicit(&s->cell[1 + i], 1, memory_order_relaxed);
    metrics_add_double(&s->cell[0], v);
}


double
cairn__series_value(cairn_metric_t *m, cairn__series_t *s)
{
    uint64_t  count = 0;
    unsigned  i;

    if (m->type != CAIRN_METRIC_HISTOGRAM) {
        return metrics_load_double(&s->cell[0]);
    }

    for (i = 0; i <= m->nbuckets; i++) {
        count += atomic_load_explicit(&s->cell[1 + i], memory_order_relaxed);
    }

    return (double) count;
}


void
cairn_metric_add(cairn_metric_t *m, const char *const *label_values,
                 double v)
{
    cairn__series_add(m, cairn__metric_series(m, label_values), v);
}


void
cairn_metric_set(cairn_metric_t *m, const char *const *label_values,
                 double v)
{
    cairn__series_set(m, cairn__metric_series(m, label_values), v);
}


void
cairn_metric_observe(cairn_metric_t *m, const char *const *label_values,
                     double v)
{
    cairn__series_observe(m, cairn__metric_series(m, label_values), v);
}


/* ------------------------------------------------------------------ */
/* Rendering                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    cairn_arena_t           *a;
    char                    *buf;
    size_t                   len;
    size_t                   cap;
} metrics_out_t;


static void
metrics_put(metrics_out_t *o, const char *s, size_t n)
{
    char    *nb;
    size_t   cap;

    if (o->len + n + 1 > o->cap) {
        cap = o->cap ? o->cap : 4096;
        while (o->len + n + 1 > cap) {
            cap *= 2;
        }
        nb = cairn_arena_alloc(o->a, cap);
        if (o->len > 0) {
            memcpy(nb, o->buf, o->len);
        }
        o->buf = nb;
        o->cap = cap;
    }

    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}


static void
metrics_puts(metrics_out_t *o, const char *s)
{
    metrics_put(o, s, strlen(s));
}


/* Escapes \ and newline (help), and " too (label values). */
static void
metrics_put_escaped(metrics_out_t *o, const char *s, int quote)
{
    const char  *p, *start = s;

    for (p = s; *p != '\0'; p++) {
        if (*p != '\\' && *p != '\n' && !(quote && *p == '"')) {
            continue;
        }
        metrics_put(o, start, (size_t) (p - start));
        metrics_puts(o, *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "\\\"");
        start = p + 1;
    }
    metrics_put(o, start, (size_t) (p - start));
}


/* The shortest form of v that reads back as v; +Inf, -Inf, NaN. */
static void
metrics_put_number(metrics_out_t *o, double v)
{
    char  buf[40];

    if (isnan(v)) {
        metrics_puts(o, "NaN");
        return;
    }
    if (isinf(v)) {
        metrics_puts(o, v > 0 ? "+Inf" : "-Inf");
        return;
    }

    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, sizeof(buf), "%.17g", v);
    }
    metrics_puts(o, buf);
}


static void
metrics_put_u64(metrics_out_t *o, uint64_t v)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
    metrics_puts(o, buf);
}


/* "{a="x",b="y"" plus le when given, then "}"; nothing for no labels. */
static void
metrics_put_labels(metrics_out_t *o, const cairn_metric_t *m,
                   const cairn__series_t *s, const double *le)
{
    const char  *p = metrics_series_labels(s);
    unsigned     i;

    if (m->nlabels == 0 && le == NULL) {
        return;
    }

    metrics_puts(o, "{");
    for (i = 0; i < m->nlabels; i++) {
        if (i > 0) {
            metrics_puts(o, ",");
        }
        metrics_puts(o, m->labels[i]);
        metrics_puts(o, "=\"");
        metrics_put_escaped(o, p, 1);
        metrics_puts(o, "\"");
        p += strlen(p) + 1;
    }
    if (le != NULL) {
        metrics_puts(o, m->nlabels > 0 ? ",le=\"" : "le=\"");
        metrics_put_number(o, *le);
        metrics_puts(o, "\"");
    }
    metrics_puts(o, "}");
}


static void
metrics_render_series(metrics_out_t *o, cairn_metric_t *m,
                      cairn__series_t *s)
{
    uint64_t  cum = 0;
    double    inf = INFINITY;
    unsigned  i;

    if (m->type != CAIRN_METRIC_HISTOGRAM) {
        metrics_puts(o, m->name);
        metrics_put_labels(o, m, s, NULL);
        metrics_puts(o, " ");
        metrics_put_number(o, metrics_load_double(&s->cell[0]));
        metrics_puts(o, "\n");
        return;
    }

    for (i = 0; i <= m->nbuckets; i++) {
        cum += atomic_load_explicit(&s->cell[1 + i], memory_order_relaxed);
        metrics_puts(o, m->name);
        metrics_puts(o, "_bucket");
        metrics_put_labels(o, m, s, i < m->nbuckets ? &m->buckets[i] : &inf);
        metrics_puts(o, " ");
        metrics_put_u64(o, cum);
        metrics_puts(o, "\n");
    }

    metrics_puts(o, m->name);
    metrics_puts(o, "_sum");
    metrics_put_labels(o, m, s, NULL);
    metrics_puts(o, " ");
    metrics_put_number(o, metrics_load_double(&s->cell[0]));
    metrics_puts(o, "\n");

    metrics_puts(o, m->name);
    metrics_puts(o, "_count");
    metrics_put_labels(o, m, s, NULL);
    metrics_puts(o, " ");
    metrics_put_u64(o, cum);
    metrics_puts(o, "\n");
}


static int
metrics_cmp(const void *a, const void *b)
{
    const cairn_metric_t  *ma = *(cairn_metric_t *const *) a;
    const cairn_metric_t  *mb = *(cairn_metric_t *const *) b;

    return strcmp(ma->name, mb->name);
}


/* The families sorted by name, in an array from a; *n their number. */
static cairn_metric_t **
metrics_sorted(cairn_arena_t *a, size_t *n)
{
    cairn_metric_t  **v;
    size_t            i;

    *n = atomic_load_explicit(&metrics_region->nfamilies,
                              memory_order_acquire);
    v = cairn_arena_alloc(a, (*n + 1) * sizeof(*v));
    for (i = 0; i < *n; i++) {
        v[i] = metrics_at(metrics_region->families[i]);
    }
    qsort(v, *n, sizeof(*v), metrics_cmp);

    return v;
}


char *
cairn_metrics_render(cairn_arena_t *a, size_t *len)
{
    cairn_metric_t  **v, *m;
    metrics_out_t     o;
    uint32_t          ns, j;
    size_t            n, i;

    memset(&o, 0, sizeof(o));
    o.a = a;
    metrics_put(&o, "", 0);

    if (metrics_region != NULL) {
        v = metrics_sorted(a, &n);

        for (i = 0; i < n; i++) {
            m = v[i];
            metrics_puts(&o, "# HELP ");
            metrics_puts(&o, m->name);
            metrics_puts(&o, " ");
            metrics_put_escaped(&o, m->help, 0);
            metrics_puts(&o, "\n# TYPE ");
            metrics_puts(&o, m->name);
            metrics_puts(&o, " ");
            metrics_puts(&o, metrics_type_name(m->type));
            metrics_puts(&o, "\n");

            ns = atomic_load_explicit(&m->nseries, memory_order_acquire);
            for (j = 0; j < ns; j++) {
                metrics_render_series(&o, m, metrics_at(m->order[j]));
            }
        }
    }

    if (len != NULL) {
        *len = o.len;
    }

    return o.buf;
}


void
cairn_metrics_each(cairn_metric_visit_cb cb, void *data)
{
    cairn_arena_t      *a;
    cairn_metric_t    **v, *m;
    cairn__series_t    *s;
    const char         *names[CAIRN_METRIC_MAX_LABELS + 1];
    const char         *values[CAIRN_METRIC_MAX_LABELS + 1];
    const char         *p;
    uint32_t            ns, j;
    size_t              n, i, k;

    if (metrics_region == NULL) {
        return;
    }

    a = cairn_arena_create(4096);
    v = metrics_sorted(a, &n);

    for (i = 0; i < n; i++) {
        m = v[i];
        for (k = 0; k < m->nlabels; k++) {
            names[k] = m->labels[k];
        }
        names[m->nlabels] = NULL;

        ns = atomic_load_explicit(&m->nseries, memory_order_acquire);
        for (j = 0; j < ns; j++) {
            s = metrics_at(m->order[j]);
            p = metrics_series_labels(s);
            for (k = 0; k < m->nlabels; k++) {
                values[k] = p;
                p += strlen(p) + 1;
            }
            values[m->nlabels] = NULL;
            cb(m->name, m->type, names, values, cairn__series_value(m, s),
               data);
        }
    }

    cairn_arena_destroy(a);
}


/* ------------------------------------------------------------------ */
/* The core's metrics                                                 */
/* ------------------------------------------------------------------ */

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
        se = metrics_at(c->module_info->order[j]);
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

    if (metrics_region == NULL || slot < 0 || slot >= METRICS_SLOTS) {
        metrics_slot = NULL;
        return;
    }

    metrics_slot = &metrics_region->slots[slot];
    atomic_store(&metrics_slot->in_flight, 0);
    atomic_store(&metrics_slot->conns, 0);
    for (i = 0; i < METRICS_JOURNAL; i++) {
        atomic_store(&metrics_slot->journal[i].series, 0);
    }
}


void
cairn__metrics_worker_gone(int slot)
{
    metrics_slot_t  *ws;
    int64_t          n;
    uint64_t         bits;
    uint32_t         off;
    double           d;
    unsigned         i;

    if (metrics_region == NULL || slot < 0 || slot >= METRICS_SLOTS) {
        return;
    }

    ws = &metrics_region->slots[slot];

    n = atomic_exchange(&ws->in_flight, 0);
    if (n != 0) {
        metrics_add_double(&metrics_s_in_flight->cell[0], (double) -n);
    }
    n = atomic_exchange(&ws->conns, 0);
    if (n != 0) {
        metrics_add_double(&metrics_s_conns->cell[0], (double) -n);
    }

    /* Its contributions to module gauges (pool connections...). */
    for (i = 0; i < METRICS_JOURNAL; i++) {
        off = atomic_exchange(&ws->journal[i].series, 0);
        if (off == 0) {
            continue;
        }
        bits = atomic_exchange(&ws->journal[i].delta, 0);
        memcpy(&d, &bits, sizeof(d));
        if (d != 0) {
            metrics_add_double(&((cairn__series_t *)
                                 metrics_at(off))->cell[0], -d);
        }
    }
}


void
cairn__metrics_request_start(void)
{
    if (metrics_s_in_flight == NULL) {
        return;
    }

    metrics_add_double(&metrics_s_in_flight->cell[0], 1);
    if (metrics_slot != NULL) {
        atomic_fetch_add_explicit(&metrics_slot->in_flight, 1,
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

    metrics_add_double(&metrics_s_in_flight->cell[0], -1);
    if (metrics_slot != NULL) {
        atomic_fetch_sub_explicit(&metrics_slot->in_flight, 1,
                                  memory_order_relaxed);
    }

    mi = (unsigned) r->method < METRICS_METHODS ? (unsigned) r->method : 0;
    ci = r->status >= 100 && r->status <= 599 ? (unsigned) r->status - 100
                                               : METRICS_CODES - 1;

    s = metrics_s_requests[mi][ci];
    if (s == NULL) {
        values[0] = metrics_method_names[mi];
        values[1] = metrics_codes[ci];
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
        metrics_add_double(&metrics_s_sent->cell[0], (double) r->bytes_sent);
    }
}


void
cairn__metrics_conn_open(void)
{
    if (metrics_s_conns == NULL) {
        return;
    }

    metrics_add_double(&metrics_s_conns->cell[0], 1);
    metrics_add_double(&metrics_s_accepted->cell[0], 1);
    if (metrics_slot != NULL) {
        atomic_fetch_add_explicit(&metrics_slot->conns, 1,
                                  memory_order_relaxed);
    }
}


void
cairn__metrics_conn_close(void)
{
    if (metrics_s_conns == NULL) {
        return;
    }

    metrics_add_double(&metrics_s_conns->cell[0], -1);
    if (metrics_slot != NULL) {
        atomic_fetch_sub_explicit(&metrics_slot->conns, 1,
                                  memory_order_relaxed);
    }
}


void
cairn__metrics_received(size_t n)
{
    if (metrics_s_received != NULL) {
        metrics_add_double(&metrics_s_received->cell[0], (double) n);
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
