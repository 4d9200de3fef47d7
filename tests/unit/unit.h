/*
 * tests/unit/unit.h: what every unit test program shares.
 */

#ifndef CAIRN_TEST_UNIT_H
#define CAIRN_TEST_UNIT_H

#include <stdlib.h>

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

#endif /* CAIRN_TEST_UNIT_H */
