/*
 * tests/unit/unit.h: what every unit test program shares.
 */

#ifndef CAIRN_TEST_UNIT_H
#define CAIRN_TEST_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

/* Runs the suite (each test forked, Check's default) and returns the exit
 * status for main(). */
static inline int
unit_run(Suite *s)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* One test of a suite: its name, the START_TEST function, and the signal
 * it must die of (0: it must pass). */
typedef struct {
    const char   *name;
    const TTest  *test;
    int           signal;
} unit_case_t;

#define UNIT_NCASES(cases)  (sizeof(cases) / sizeof((cases)[0]))

/* Whether Check runs the tests in its own process (CK_FORK=no, as under
 * valgrind), where a test that must die of a signal cannot run. */
static inline int
unit_nofork(void)
{
    const char  *v = getenv("CK_FORK");

    return v != NULL && strcmp(v, "no") == 0;
}


/* A suite with one test case per entry (those that must die of a signal
 * left out when the tests are not forked), each run between setup and
 * teardown (either may be NULL). */
static inline Suite *
unit_suite(const char *name, const unit_case_t *cases, size_t n,
           SFun setup, SFun teardown)
{
    Suite   *s;
    TCase   *tc;
    size_t   i;

    s = suite_create(name);

    for (i = 0; i < n; i++) {
        if (cases[i].signal != 0 && unit_nofork()) {
            fprintf(stderr, "%s: %s left out: it must die of a signal, "
                    "which needs each test forked (CK_FORK=yes)\n", name,
                    cases[i].name);
            continue;
        }
        tc = tcase_create(cases[i].name);
        if (setup != NULL || teardown != NULL) {
            tcase_add_checked_fixture(tc, setup, teardown);
        }
        tcase_add_test_raise_signal(tc, cases[i].test, cases[i].signal);
        suite_add_tcase(s, tc);
    }

    return s;
}

#endif /* CAIRN_TEST_UNIT_H */
