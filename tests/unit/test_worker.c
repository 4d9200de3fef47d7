/*
 * tests/unit/test_worker.c: core/worker.c, the list of idle connections
 * that MaxConnections closes from, oldest first.
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "worker_int.h"

#define TEST_NCONNS     5


static cairn__worker_t  test_w;
static cairn__wconn_t   test_c[TEST_NCONNS];


static void
setup(void)
{
    memset(&test_w, 0, sizeof(test_w));
    memset(test_c, 0, sizeof(test_c));
}


/* Checks that the idle list holds exactly want[0..n) (indexes into
 * test_c), oldest first, linked both ways. */
static void
check_idle(const int *want, size_t n)
{
    const cairn__wconn_t  *wc, *prev = NULL;
    size_t                 i = 0;

    for (wc = test_w.idle_head; wc != NULL; wc = wc->idle_next) {
        ck_assert_msg(i < n, "more than %zu idle connections", n);
        ck_assert_msg(wc == &test_c[want[i]], "idle connection %zu is #%d, "
                      "want #%d", i, (int) (wc - test_c), want[i]);
        ck_assert_ptr_eq(wc->idle_prev, prev);
        ck_assert_uint_eq(wc->idle, 1);
        prev = wc;
        i++;
    }
    ck_assert_uint_eq(i, n);
    ck_assert_ptr_eq(test_w.idle_tail, prev);
}


START_TEST(oldest_first)
{
    const int  want[] = { 0, 1, 2 };
    int        i;

    for (i = 0; i < 3; i++) {
        cairn__worker_conn_idle(&test_w, &test_c[i], 1);
    }
    check_idle(want, 3);
}
END_TEST


START_TEST(idle_again_moves_to_the_end)
{
    const int  want[] = { 1, 2, 0 };
    const int  want2[] = { 2, 0, 1 };
    int        i;

    for (i = 0; i < 3; i++) {
        cairn__worker_conn_idle(&test_w, &test_c[i], 1);
    }
    cairn__worker_conn_idle(&test_w, &test_c[0], 1);
    check_idle(want, 3);
    /* Busy, then idle again. */
    cairn__worker_conn_idle(&test_w, &test_c[1], 0);
    cairn__worker_conn_idle(&test_w, &test_c[1], 1);
    check_idle(want2, 3);
}
END_TEST


START_TEST(busy_leaves_the_list)
{
    const int  want_mid[] = { 0, 2, 3, 4 };
    const int  want_ends[] = { 2, 3 };
    int        i;

    for (i = 0; i < TEST_NCONNS; i++) {
        cairn__worker_conn_idle(&test_w, &test_c[i], 1);
    }
    cairn__worker_conn_idle(&test_w, &test_c[1], 0);
    ck_assert_uint_eq(test_c[1].idle, 0);
    ck_assert_ptr_null(test_c[1].idle_prev);
    ck_assert_ptr_null(test_c[1].idle_next);
    check_idle(want_mid, 4);

    cairn__worker_conn_idle(&test_w, &test_c[0], 0);
    cairn__worker_conn_idle(&test_w, &test_c[4], 0);
    check_idle(want_ends, 2);

    /* Not idle: nothing changes. */
    cairn__worker_conn_idle(&test_w, &test_c[4], 0);
    check_idle(want_ends, 2);

    cairn__worker_conn_idle(&test_w, &test_c[2], 0);
    cairn__worker_conn_idle(&test_w, &test_c[3], 0);
    check_idle(NULL, 0);
    ck_assert_ptr_null(test_w.idle_head);
}
END_TEST


static Suite *
worker_suite(void)
{
    const unit_case_t  cases[] = {
        { "oldest_first", oldest_first, 0 },
        { "idle_again_moves_to_the_end", idle_again_moves_to_the_end, 0 },
        { "busy_leaves_the_list", busy_leaves_the_list, 0 },
    };

    return unit_suite("worker", cases, UNIT_NCASES(cases), setup, NULL);
}


int
main(void)
{
    return unit_run(worker_suite());
}
