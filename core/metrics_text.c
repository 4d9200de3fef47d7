/*
 * core/metrics_text.c: reading the registry out: the Prometheus text
 * exposition format (cairn_metrics_render) and a visit of every series
 * (cairn_metrics_each), the families sorted by name.
 */

#include "config.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"


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
    const char  *p = cairn__metrics_series_labels(s);
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
        metrics_put_number(o, cairn__metrics_load_double(&s->cell[0]));
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
    metrics_put_number(o, cairn__metrics_load_double(&s->cell[0]));
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

    *n = atomic_load_explicit(&cairn__metrics_region->nfamilies,
                              memory_order_acquire);
    v = cairn_arena_alloc(a, (*n + 1) * sizeof(*v));
    for (i = 0; i < *n; i++) {
        v[i] = cairn__metrics_at(cairn__metrics_region->families[i]);
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

    if (cairn__metrics_region != NULL) {
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
            metrics_puts(&o, cairn__metrics_type_name(m->type));
            metrics_puts(&o, "\n");

            ns = atomic_load_explicit(&m->nseries, memory_order_acquire);
            for (j = 0; j < ns; j++) {
                metrics_render_series(&o, m, cairn__metrics_at(m->order[j]));
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

    if (cairn__metrics_region == NULL) {
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
            s = cairn__metrics_at(m->order[j]);
            p = cairn__metrics_series_labels(s);
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
