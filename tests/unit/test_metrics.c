/*
 * tests/unit/test_metrics.c: core/metrics*.c (registration, series,
 * values, the Prometheus rendering, sharing between processes, the
 * core's own metrics).
 *
 * Each test maps a fresh registry in its fixture and unmaps it in its
 * teardown, so that the tests are independent also when Check does not
 * fork them (CK_FORK=no, as under valgrind).
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <check.h>

#include "unit.h"

#include "arena_int.h"
#include "conf_int.h"
#include "metrics_int.h"


static cairn_arena_t   *arena;
static int              building;

/* What cairn_metrics_each() reported for one series. */
typedef struct {
    char                 name[64];
    char                 labels[128];   /* "a=x,b=y" */
    cairn_metric_type_t  type;
    double               value;
} seen_t;

static seen_t   seen[1024];
static size_t   nseen;


static void
setup(void)
{
    arena = cairn_arena_create(0);
    ck_assert_int_eq(cairn__metrics_init(), 0);
    /* Registration is allowed while a generation is being built. */
    cairn__server_building = (cairn_server_t *) &building;
    nseen = 0;
}


static void
teardown(void)
{
    cairn__server_building = NULL;
    cairn_arena_destroy(arena);
    if (cairn__metrics_region != NULL) {
        munmap(cairn__metrics_region, cairn__metrics_region->size);
        cairn__metrics_region = NULL;
    }
}


static void
visit(const char *name, cairn_metric_type_t type,
      const char *const *label_names, const char *const *label_values,
      double value, void *data)
{
    seen_t  *s;
    size_t   i, n = 0;

    ck_assert_uint_lt(nseen, sizeof(seen) / sizeof(seen[0]));
    s = &seen[nseen++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->type = type;
    s->value = value;
    s->labels[0] = '\0';
    for (i = 0; label_names[i] != NULL; i++) {
        n += (size_t) snprintf(s->labels + n, sizeof(s->labels) - n,
                               "%s%s=%s", i > 0 ? "," : "", label_names[i],
                               label_values[i]);
    }
}


/* The value of one series as cairn_metrics_each() sees it; -1: none. */
static double
value_of(const char *name, const char *labels)
{
    size_t  i;

    nseen = 0;
    cairn_metrics_each(visit, NULL);

    for (i = 0; i < nseen; i++) {
        if (strcmp(seen[i].name, name) == 0
            && strcmp(seen[i].labels, labels) == 0)
        {
            return seen[i].value;
        }
    }

    return -1;
}


static size_t
series_of(const char *name)
{
    size_t  i, n = 0;

    nseen = 0;
    cairn_metrics_each(visit, NULL);

    for (i = 0; i < nseen; i++) {
        n += strcmp(seen[i].name, name) == 0;
    }

    return n;
}


START_TEST(registration)
{
    static const char *const  labels[] = { "method", "code", NULL };
    static const char *const  other[] = { "method", NULL };
    static const char *const  bad_label[] = { "1x", NULL };
    static const char *const  le[] = { "le", NULL };
    cairn_metric_t           *m;

    m = cairn_metric_counter(NULL, "t_requests_total", "Requests.", labels);
    ck_assert_ptr_nonnull(m);

    /* The next generation finds the same family. */
    ck_assert_ptr_eq(cairn_metric_counter(NULL, "t_requests_total",
                                          "Requests again.", labels), m);

    /* Same name, other type or labels: refused. */
    ck_assert_ptr_null(cairn_metric_gauge(NULL, "t_requests_total", "x",
                                          labels));
    ck_assert_ptr_null(cairn_metric_counter(NULL, "t_requests_total", "x",
                                            other));
    ck_assert_ptr_null(cairn_metric_counter(NULL, "t_requests_total", "x",
                                            NULL));

    /* Names and label names are checked. */
    ck_assert_ptr_null(cairn_metric_counter(NULL, "9lives", "x", NULL));
    ck_assert_ptr_null(cairn_metric_counter(NULL, "a-b", "x", NULL));
    ck_assert_ptr_null(cairn_metric_counter(NULL, "", "x", NULL));
    ck_assert_ptr_null(cairn_metric_counter(NULL, "t_x", "x", bad_label));
    ck_assert_ptr_null(cairn_metric_histogram(NULL, "t_h", "x", le, NULL,
                                              0));
    ck_assert_ptr_nonnull(cairn_metric_gauge(NULL, "t:ns_gauge", "x",
                                             NULL));

    /* Only while a generation is being built. */
    cairn__server_building = NULL;
    ck_assert_ptr_null(cairn_metric_counter(NULL, "t_late_total", "x",
                                            NULL));
    /* Allowed again once a generation is being built. */
    cairn__server_building = (cairn_server_t *) &building;
    ck_assert_ptr_nonnull(cairn_metric_counter(NULL, "t_late_total", "x",
                                               NULL));
}
END_TEST


START_TEST(histogram_buckets_checked)
{
    static const double  down[] = { 1, 0.5 };
    static const double  b1[] = { 0.1, 1 };
    static const double  b2[] = { 0.1, 2 };
    double               many[CAIRN_METRIC_MAX_BUCKETS + 1];
    cairn_metric_t      *m;
    size_t               i;

    for (i = 0; i < sizeof(many) / sizeof(many[0]); i++) {
        many[i] = (double) i + 1;
    }

    ck_assert_ptr_null(cairn_metric_histogram(NULL, "t_h", "x", NULL, down,
                                              2));
    ck_assert_ptr_null(cairn_metric_histogram(NULL, "t_h", "x", NULL, many,
                                              sizeof(many) / sizeof(many[0])));

    m = cairn_metric_histogram(NULL, "t_h", "x", NULL, b1, 2);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_eq(cairn_metric_histogram(NULL, "t_h", "x", NULL, b1, 2),
                     m);
    /* Other bounds are another shape. */
    ck_assert_ptr_null(cairn_metric_histogram(NULL, "t_h", "x", NULL, b2,
                                              2));
    /* NULL: the default buckets. */
    ck_assert_ptr_nonnull(cairn_metric_histogram(NULL, "t_d", "x", NULL,
                                                 NULL, 0));
}
END_TEST


START_TEST(counter_values)
{
    static const char *const  labels[] = { "code", NULL };
    cairn_metric_t           *m;

    m = cairn_metric_counter(NULL, "t_hits_total", "Hits.", labels);
    ck_assert_ptr_nonnull(m);

    cairn_metric_add(m, (const char *[]) { "200", NULL }, 1);
    cairn_metric_add(m, (const char *[]) { "200", NULL }, 2.5);
    cairn_metric_add(m, (const char *[]) { "404", NULL }, 1);
    /* A counter never goes down. */
    cairn_metric_add(m, (const char *[]) { "404", NULL }, -5);
    /* Set is for gauges. */
    cairn_metric_set(m, (const char *[]) { "404", NULL }, 100);

    ck_assert_double_eq(value_of("t_hits_total", "code=200"), 3.5);
    ck_assert_double_eq(value_of("t_hits_total", "code=404"), 1);
    ck_assert_uint_eq(series_of("t_hits_total"), 2);
}
END_TEST


START_TEST(gauge_values)
{
    cairn_metric_t  *m;

    m = cairn_metric_gauge(NULL, "t_temp", "Temperature.", NULL);
    ck_assert_ptr_nonnull(m);

    cairn_metric_set(m, NULL, 10);
    cairn_metric_add(m, NULL, -12.5);
    ck_assert_double_eq(value_of("t_temp", ""), -2.5);

    cairn_metric_set(m, NULL, 7);
    ck_assert_double_eq(value_of("t_temp", ""), 7);

    /* An observation is for histograms. */
    cairn_metric_observe(m, NULL, 1);
    ck_assert_double_eq(value_of("t_temp", ""), 7);
}
END_TEST


/* A worker's additions to a gauge are taken back when it dies; another
 * worker's stay. */
START_TEST(gauge_of_dead_worker)
{
    static const char *const  labels[] = { "pool", NULL };
    static const char *const  main_pool[] = { "main", NULL };
    cairn_metric_t           *m;

    m = cairn_metric_gauge(NULL, "t_conns", "Connections.", labels);
    ck_assert_ptr_nonnull(m);
    cairn__server_building = NULL;

    cairn__metrics_worker_slot(5);
    cairn_metric_add(m, main_pool, 3);
    cairn_metric_add(m, main_pool, -1);
    cairn__metrics_worker_slot(6);
    cairn_metric_add(m, main_pool, 4);
    ck_assert_double_eq(value_of("t_conns", "pool=main"), 6);

    cairn__metrics_worker_slot(-1);
    cairn__metrics_worker_gone(5);
    ck_assert_double_eq(value_of("t_conns", "pool=main"), 4);
    cairn__metrics_worker_gone(5);
    ck_assert_double_eq(value_of("t_conns", "pool=main"), 4);

    /* A new process in slot 5 starts with a clean journal. */
    cairn__metrics_worker_slot(5);
    cairn_metric_add(m, main_pool, 2);
    cairn__metrics_worker_slot(-1);
    cairn__metrics_worker_gone(6);
    cairn__metrics_worker_gone(5);
    ck_assert_double_eq(value_of("t_conns", "pool=main"), 0);
}
END_TEST


START_TEST(series_created_once)
{
    static const char *const  labels[] = { "a", "b", NULL };
    cairn_metric_t           *m;
    cairn__series_t          *s;

    m = cairn_metric_counter(NULL, "t_pairs_total", "Pairs.", labels);
    s = cairn__metric_series(m, (const char *[]) { "x", "y", NULL });
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_eq(cairn__metric_series(m,
                         (const char *[]) { "x", "y", NULL }), s);
    /* The boundary between values matters. */
    ck_assert_ptr_ne(cairn__metric_series(m,
                         (const char *[]) { "xy", "", NULL }), s);
    ck_assert_ptr_ne(cairn__metric_series(m,
                         (const char *[]) { "y", "x", NULL }), s);
    ck_assert_uint_eq(series_of("t_pairs_total"), 3);

    /* Missing values count as "other". */
    cairn_metric_add(m, (const char *[]) { "x", NULL }, 1);
    ck_assert_double_eq(value_of("t_pairs_total", "a=other,b=other"), 1);
}
END_TEST


START_TEST(overflow_series)
{
    static const char *const  labels[] = { "user", NULL };
    cairn_metric_t           *m;
    char                      name[32];
    size_t                    i, total = 600;

    m = cairn_metric_counter(NULL, "t_users_total", "Users.", labels);

    for (i = 0; i < total; i++) {
        snprintf(name, sizeof(name), "u%zu", i);
        cairn_metric_add(m, (const char *[]) { name, NULL }, 1);
    }

    /* The first MAX - 1 get their own series; the rest share "other". */
    ck_assert_uint_eq(series_of("t_users_total"), CAIRN_METRIC_MAX_SERIES);
    ck_assert_double_eq(value_of("t_users_total", "user=u0"), 1);
    ck_assert_double_eq(value_of("t_users_total", "user=u510"), 1);
    ck_assert_double_eq(value_of("t_users_total", "user=u511"), -1);
    ck_assert_double_eq(value_of("t_users_total", "user=other"),
                        (double) (total - (CAIRN_METRIC_MAX_SERIES - 1)));

    /* An existing series is still found past the limit. */
    cairn_metric_add(m, (const char *[]) { "u7", NULL }, 1);
    ck_assert_double_eq(value_of("t_users_total", "user=u7"), 2);
}
END_TEST


START_TEST(histogram_values)
{
    static const double  b[] = { 0.1, 1 };
    cairn_metric_t      *m;

    m = cairn_metric_histogram(NULL, "t_lat", "Latency.", NULL, b, 2);

    cairn_metric_observe(m, NULL, 0.0625);
    cairn_metric_observe(m, NULL, 0.1);       /* le is inclusive */
    cairn_metric_observe(m, NULL, 0.5);
    cairn_metric_observe(m, NULL, 3);
    /* Adds do nothing to a histogram. */
    cairn_metric_add(m, NULL, 10);

    /* each() reports the observation count. */
    ck_assert_double_eq(value_of("t_lat", ""), 4);
}
END_TEST


START_TEST(render_exact)
{
    static const char *const  req_labels[] = { "code", "path", NULL };
    static const char *const  op[] = { "op", NULL };
    static const double       b[] = { 0.1, 1 };
    cairn_metric_t           *c, *g, *h;
    const char               *expect;
    char                     *out;
    size_t                    len;

    c = cairn_metric_counter(NULL, "t_requests_total",
                             "Requests with \\ and\nnewline \"quoted\".",
                             req_labels);
    g = cairn_metric_gauge(NULL, "t_temp", "Temp.", NULL);
    h = cairn_metric_histogram(NULL, "t_lat", "Latency.", op, b, 2);
    /* Registered, never used: at 0. */
    ck_assert_ptr_nonnull(cairn_metric_counter(NULL, "t_unused_total",
                                               "", NULL));

    cairn_metric_add(c, (const char *[]) { "200", "/a\"b\\c\nd", NULL }, 3);
    cairn_metric_add(c, (const char *[]) { "404", "/", NULL }, 1.5);
    cairn_metric_set(g, NULL, -2.5);
    cairn_metric_observe(h, (const char *[]) { "x", NULL }, 0.0625);
    cairn_metric_observe(h, (const char *[]) { "x", NULL }, 0.5);
    cairn_metric_observe(h, (const char *[]) { "x", NULL }, 0.5);
    cairn_metric_observe(h, (const char *[]) { "x", NULL }, 3);

    expect =
        "# HELP t_lat Latency.\n"
        "# TYPE t_lat histogram\n"
        "t_lat_bucket{op=\"x\",le=\"0.1\"} 1\n"
        "t_lat_bucket{op=\"x\",le=\"1\"} 3\n"
        "t_lat_bucket{op=\"x\",le=\"+Inf\"} 4\n"
        "t_lat_sum{op=\"x\"} 4.0625\n"
        "t_lat_count{op=\"x\"} 4\n"
        "# HELP t_requests_total Requests with \\\\ and\\nnewline "
        "\"quoted\".\n"
        "# TYPE t_requests_total counter\n"
        "t_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 3\n"
        "t_requests_total{code=\"404\",path=\"/\"} 1.5\n"
        "# HELP t_temp Temp.\n"
        "# TYPE t_temp gauge\n"
        "t_temp -2.5\n"
        "# HELP t_unused_total \n"
        "# TYPE t_unused_total counter\n"
        "t_unused_total 0\n";

    out = cairn_metrics_render(arena, &len);
    ck_assert_str_eq(out, expect);
    ck_assert_uint_eq(len, strlen(expect));
}
END_TEST


START_TEST(render_numbers)
{
    static const double  b[] = { 0.00001, 0.25, 2.5, 1000 };
    cairn_metric_t      *g, *h;
    char                *out;

    g = cairn_metric_gauge(NULL, "t_g", "G.", NULL);
    h = cairn_metric_histogram(NULL, "t_h", "H.", NULL, b, 4);
    cairn_metric_set(g, NULL, 0.1);
    cairn_metric_observe(h, NULL, 7);

    out = cairn_metrics_render(arena, NULL);
    ck_assert_ptr_nonnull(strstr(out, "\nt_g 0.1\n"));
    ck_assert_ptr_nonnull(strstr(out, "t_h_bucket{le=\"1e-05\"} 0\n"
                                      "t_h_bucket{le=\"0.25\"} 0\n"
                                      "t_h_bucket{le=\"2.5\"} 0\n"
                                      "t_h_bucket{le=\"1000\"} 1\n"
                                      "t_h_bucket{le=\"+Inf\"} 1\n"
                                      "t_h_sum 7\n"
                                      "t_h_count 1\n"));
}
END_TEST


START_TEST(render_empty)
{
    char    *out;
    size_t   len = 99;

    out = cairn_metrics_render(arena, &len);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(len, 0);
}
END_TEST


START_TEST(shared_with_children)
{
    static const char *const  labels[] = { "who", NULL };
    static const double       b[] = { 1 };
    cairn_metric_t           *c, *h;
    pid_t                     pid;
    int                       status, i;

    c = cairn_metric_counter(NULL, "t_shared_total", "Shared.", labels);
    h = cairn_metric_histogram(NULL, "t_shared_seconds", "Shared.", NULL,
                               b, 1);
    cairn_metric_add(c, (const char *[]) { "parent", NULL }, 1);

    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        /* A worker: an existing series and a new one. */
        for (i = 0; i < 1000; i++) {
            cairn_metric_add(c, (const char *[]) { "parent", NULL }, 1);
        }
        cairn_metric_add(c, (const char *[]) { "child", NULL }, 5);
        cairn_metric_observe(h, NULL, 0.5);
        _exit(0);
    }
    for (i = 0; i < 1000; i++) {
        cairn_metric_add(c, (const char *[]) { "parent", NULL }, 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ck_assert_double_eq(value_of("t_shared_total", "who=parent"), 2001);
    ck_assert_double_eq(value_of("t_shared_total", "who=child"), 5);
    ck_assert_double_eq(value_of("t_shared_seconds", ""), 1);
}
END_TEST


START_TEST(detached_copy)
{
    cairn_metric_t  *c;
    pid_t            pid;
    int              status;

    c = cairn_metric_counter(NULL, "t_kept_total", "Kept.", NULL);
    cairn_metric_add(c, NULL, 1);

    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        /* A configuration check: sees the values, changes only its
         * copy. */
        cairn__metrics_detach();
        if (value_of("t_kept_total", "") != 1) {
            _exit(1);
        }
        cairn_metric_add(c, NULL, 10);
        if (cairn_metric_counter(NULL, "t_new_total", "New.", NULL) == NULL
            || value_of("t_kept_total", "") != 11)
        {
            _exit(2);
        }
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);

    ck_assert_double_eq(value_of("t_kept_total", ""), 1);
    ck_assert_uint_eq(series_of("t_new_total"), 0);
    ck_assert_ptr_null(strstr(cairn_metrics_render(arena, NULL),
                              "t_new_total"));
}
END_TEST


START_TEST(core_families)
{
    static cairn_module_t  mod_x = { .name = "x", .version = "1.2" };
    cairn_strv_t           none = { 0, NULL };
    cairn_server_t        *s;
    char                  *out;

    cairn__server_building = NULL;
    ck_assert_int_eq(cairn__metrics_core_register(), 0);

    s = cairn__server_create("/nonexistent/cairn.conf", &none, 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(cairn__module_add_static(s, &mod_x));

    cairn__metrics_generation(s, 1, 4, 0);
    ck_assert_double_eq(value_of("cairn_module_info", "module=x,version=1.2"),
                        1);
    ck_assert_double_eq(value_of("cairn_workers", ""), 4);
    ck_assert_double_eq(value_of("cairn_config_generation", ""), 1);
    ck_assert_double_eq(value_of("cairn_reloads_total", ""), 0);
    cairn__server_destroy(s);

    /* A reload without the module: listed at 0. */
    s = cairn__server_create("/nonexistent/cairn.conf", &none, 1);
    cairn__metrics_generation(s, 2, 2, 1);
    ck_assert_double_eq(value_of("cairn_module_info", "module=x,version=1.2"),
                        0);
    ck_assert_double_eq(value_of("cairn_module_info",
                                 "module=core,version=" PACKAGE_VERSION), 1);
    ck_assert_double_eq(value_of("cairn_config_generation", ""), 2);
    ck_assert_double_eq(value_of("cairn_reloads_total", ""), 1);
    cairn__server_destroy(s);

    /* The request path's counters, through a worker slot. */
    cairn__metrics_worker_slot(3);
    cairn__metrics_conn_open();
    cairn__metrics_conn_open();
    cairn__metrics_request_start();
    cairn__metrics_received(100);
    ck_assert_double_eq(value_of("cairn_connections_open", ""), 2);
    ck_assert_double_eq(value_of("cairn_connections_accepted_total", ""), 2);
    ck_assert_double_eq(value_of("cairn_http_requests_in_flight", ""), 1);
    ck_assert_double_eq(value_of("cairn_http_received_bytes_total", ""),
                        100);
    cairn__metrics_conn_close();

    /* The worker dies: what it held goes back. */
    cairn__metrics_worker_gone(3);
    ck_assert_double_eq(value_of("cairn_connections_open", ""), 0);
    ck_assert_double_eq(value_of("cairn_http_requests_in_flight", ""), 0);
    cairn__metrics_worker_restart();
    ck_assert_double_eq(value_of("cairn_worker_restarts_total", ""), 1);

    out = cairn_metrics_render(arena, NULL);
    ck_assert_ptr_nonnull(strstr(out, "# TYPE cairn_hook_duration_seconds "
                                      "histogram\n"));
    ck_assert_ptr_nonnull(strstr(out, "# TYPE cairn_http_request_duration_"
                                      "seconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(out, "# TYPE cairn_http_requests_total "
                                      "counter\n"));
    ck_assert_ptr_nonnull(strstr(out, "\ncairn_start_time_seconds 1"));
}
END_TEST


static Suite *
metrics_suite(void)
{
    const unit_case_t  cases[] = {
        { "registration", registration, 0 },
        { "histogram_buckets_checked", histogram_buckets_checked, 0 },
        { "counter_values", counter_values, 0 },
        { "gauge_values", gauge_values, 0 },
        { "gauge_of_dead_worker", gauge_of_dead_worker, 0 },
        { "series_created_once", series_created_once, 0 },
        { "overflow_series", overflow_series, 0 },
        { "histogram_values", histogram_values, 0 },
        { "render_exact", render_exact, 0 },
        { "render_numbers", render_numbers, 0 },
        { "render_empty", render_empty, 0 },
        { "shared_with_children", shared_with_children, 0 },
        { "detached_copy", detached_copy, 0 },
        { "core_families", core_families, 0 },
    };

    return unit_suite("metrics", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(metrics_suite());
}
