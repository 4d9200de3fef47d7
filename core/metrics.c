/*
 * core/metrics.c: the metric registry: registering families, finding and
 * creating their series, and updating values (the cairn_metric_* API).
 * The region they live in is metrics_shm.c's.
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

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "conf_int.h"
#include "metrics_int.h"


#define METRICS_VALUE_MAX       128         /* a label value, with its NUL */


static void metrics_journal_add(cairn__series_t *s, double v);
static cairn__series_t *metrics_series_find(cairn_metric_t *m,
                                            const char *const *values,
                                            uint32_t hash, int create);


static const double  metrics_default_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    2.5, 5, 10
};

static const char *const  metrics_other[CAIRN_METRIC_MAX_LABELS + 1] = {
    "other", "other", "other", "other", "other", "other", "other", "other",
    NULL
};


/* ------------------------------------------------------------------ */
/* Registration                                                       */
/* ------------------------------------------------------------------ */

static int
metrics_name_valid(const char *name, int label)
{
    const char  *p;

    if (name == NULL || name[0] == '\0'
        || strlen(name) >= (label ? CAIRN__METRICS_LABEL_MAX
                                  : CAIRN__METRICS_NAME_MAX))
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


const char *
cairn__metrics_type_name(cairn_metric_type_t type)
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
                  name ? name : "(null)", CAIRN__METRICS_NAME_MAX - 1);
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

    cairn__metrics_lock();

    n = atomic_load(&cairn__metrics_region->nfamilies);
    for (i = 0; i < n; i++) {
        m = cairn__metrics_at(cairn__metrics_region->families[i]);
        if (strcmp(m->name, name) != 0) {
            continue;
        }
        cairn__metrics_unlock();
        if (!metrics_same(m, type, labels, nlabels, buckets, nbuckets)) {
            cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s is already "
                      "registered as a %s with other labels or buckets",
                      name, cairn__metrics_type_name(m->type));
            return NULL;
        }
        return m;
    }

    off = n < CAIRN__METRICS_MAX_FAMILIES ? cairn__metrics_alloc(sizeof(*m))
                                          : 0;
    if (off == 0) {
        cairn__metrics_unlock();
        cairn_log(NULL, CAIRN_LOG_ERROR, 0, "metric %s: the metric registry "
                  "is full", name);
        return NULL;
    }

    m = cairn__metrics_at(off);
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

    cairn__metrics_region->families[n] = off;
    atomic_store_explicit(&cairn__metrics_region->nfamilies, n + 1,
                          memory_order_release);

    cairn__metrics_unlock();

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


const char *
cairn__metrics_series_labels(const cairn__series_t *s)
{
    return (const char *) s + s->labels_off;
}


static int
metrics_series_match(const cairn_metric_t *m, const cairn__series_t *s,
                     const char *const *values)
{
    const char  *p = cairn__metrics_series_labels(s);
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

    for (i = 0; i < CAIRN__METRICS_TABLE_SIZE; i++) {
        k = (hash + i) & (CAIRN__METRICS_TABLE_SIZE - 1);
        off = atomic_load_explicit(&m->table[k], memory_order_acquire);
        if (off == 0) {
            break;
        }
        s = cairn__metrics_at(off);
        if (s->hash == hash && metrics_series_match(m, s, values)) {
            return s;
        }
    }

    if (!create) {
        return NULL;
    }

    cairn__metrics_lock();

    /* Another process may have created it meanwhile. */
    s = metrics_series_find(m, values, hash, 0);
    if (s != NULL) {
        cairn__metrics_unlock();
        return s;
    }

    n = atomic_load(&m->nseries);
    if (n >= CAIRN_METRIC_MAX_SERIES - 1 && values != metrics_other) {
        cairn__metrics_unlock();
        return NULL;
    }
    if (n >= CAIRN_METRIC_MAX_SERIES) {
        cairn__metrics_unlock();
        return NULL;
    }

    need = sizeof(*s) + m->ncells * sizeof(uint64_t);
    for (i = 0; i < m->nlabels; i++) {
        need += metrics_value_len(values[i]) + 1;
    }

    off = cairn__metrics_alloc(need);
    if (off == 0) {
        cairn__metrics_unlock();
        return NULL;
    }

    s = cairn__metrics_at(off);
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

    for (i = 0; i < CAIRN__METRICS_TABLE_SIZE; i++) {
        k = (hash + i) & (CAIRN__METRICS_TABLE_SIZE - 1);
        if (atomic_load(&m->table[k]) == 0) {
            atomic_store_explicit(&m->table[k], off, memory_order_release);
            break;
        }
    }

    cairn__metrics_unlock();

    return s;
}


cairn__series_t *
cairn__metric_series(cairn_metric_t *m, const char *const *label_values)
{
    static const char *const  none[1] = { NULL };
    cairn__series_t          *s;
    size_t                    i;

    if (m == NULL || cairn__metrics_region == NULL) {
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


double
cairn__metrics_load_double(_Atomic uint64_t *cell)
{
    uint64_t  bits = atomic_load_explicit(cell, memory_order_relaxed);
    double    v;

    memcpy(&v, &bits, sizeof(v));

    return v;
}


void
cairn__metrics_add_double(_Atomic uint64_t *cell, double v)
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

    cairn__metrics_add_double(&s->cell[0], v);

    if (m->type == CAIRN_METRIC_GAUGE && cairn__metrics_slot != NULL) {
        metrics_journal_add(s, v);
    }
}


/* Records v as this process's contribution to the gauge series s.  Only
 * the process writes its journal; the master reads it once the process
 * is gone.  A process that touches more than CAIRN__METRICS_JOURNAL series
 * leaves the rest uncorrected. */
static void
metrics_journal_add(cairn__series_t *s, double v)
{
    cairn__metrics_journal_t  *j = cairn__metrics_slot->journal;
    uint32_t            off, cur;
    unsigned            i;

    off = (uint32_t) ((char *) s - (char *) cairn__metrics_region);

    for (i = 0; i < CAIRN__METRICS_JOURNAL; i++) {
        cur = atomic_load_explicit(&j[i].series, memory_order_relaxed);
        if (cur == off) {
            cairn__metrics_add_double(&j[i].delta, v);
            return;
        }
        if (cur == 0) {
            atomic_store_explicit(&j[i].delta, 0, memory_order_relaxed);
            cairn__metrics_add_double(&j[i].delta, v);
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
    cairn__metrics_add_double(&s->cell[0], v);
}


double
cairn__series_value(cairn_metric_t *m, cairn__series_t *s)
{
    uint64_t  count = 0;
    unsigned  i;

    if (m->type != CAIRN_METRIC_HISTOGRAM) {
        return cairn__metrics_load_double(&s->cell[0]);
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
