/*
 * tests/unit/test_range.c: core/range.c (Range and If-Range).
 */

#include <string.h>

#include <check.h>

#include "unit.h"

#include "http_int.h"


/* One Range value against a size, and what it gives. */
typedef struct {
    const char  *v;
    off_t        size;
    int          rc;
    off_t        start;
    off_t        len;
} range_case_t;


START_TEST(parse)
{
    static const range_case_t  cases[] = {
        { "bytes=0-4", 1000, 1, 0, 5 },
        { "bytes=10-", 1000, 1, 10, 990 },
        { "bytes=-100", 1000, 1, 900, 100 },
        { "bytes=-5000", 1000, 1, 0, 1000 },
        { "bytes=990-5000", 1000, 1, 990, 10 },
        { "bytes=999-999", 1000, 1, 999, 1 },
        { "BYTES = 1-2", 1000, 1, 1, 2 },
        { "bytes=1-2 ", 1000, 1, 1, 2 },
        { "bytes=1000-", 1000, -1, 0, 0 },
        { "bytes=5000-6000", 1000, -1, 0, 0 },
        { "bytes=-0", 1000, -1, 0, 0 },
        { "bytes=0-", 0, -1, 0, 0 },
        { "bytes=-5", 0, 0, 0, 0 },
        { "bytes=0-1,5-6", 1000, 0, 0, 0 },
        { "bytes=5-1", 1000, 0, 0, 0 },
        { "bytes=a-b", 1000, 0, 0, 0 },
        { "bytes=1-2x", 1000, 0, 0, 0 },
        { "bytes=", 1000, 0, 0, 0 },
        { "bytes 0-1", 1000, 0, 0, 0 },
        { "items=0-1", 1000, 0, 0, 0 },
        { "", 1000, 0, 0, 0 },
        { "bytes=99999999999999999999999-", 1000, -1, 0, 0 },
        { "bytes=0-99999999999999999999999", 1000, 1, 0, 1000 },
    };
    size_t  i;
    off_t   start, len;
    int     rc;

    for (i = 0; i < UNIT_NCASES(cases); i++) {
        start = len = -7;
        rc = cairn__range_parse(cases[i].v, cases[i].size, &start, &len);
        ck_assert_msg(rc == cases[i].rc, "\"%s\" of %lld: rc %d, want %d",
                      cases[i].v, (long long) cases[i].size, rc,
                      cases[i].rc);
        if (rc == 1) {
            ck_assert_msg(start == cases[i].start && len == cases[i].len,
                          "\"%s\": %lld+%lld, want %lld+%lld", cases[i].v,
                          (long long) start, (long long) len,
                          (long long) cases[i].start,
                          (long long) cases[i].len);
        }
    }
}
END_TEST


START_TEST(if_range)
{
    static const char  lm[] = "Sun, 06 Nov 1994 08:49:37 GMT";

    ck_assert_int_eq(cairn__range_if("\"abc\"", "\"abc\"", lm), 1);
    ck_assert_int_eq(cairn__range_if("\"abc\"", "\"abd\"", lm), 0);
    ck_assert_int_eq(cairn__range_if("\"abc\"", NULL, lm), 0);
    /* Weak tags never satisfy If-Range. */
    ck_assert_int_eq(cairn__range_if("W/\"abc\"", "W/\"abc\"", lm), 0);
    ck_assert_int_eq(cairn__range_if(lm, "\"abc\"", lm), 1);
    ck_assert_int_eq(cairn__range_if("Sun, 06 Nov 1994 08:49:38 GMT",
                                     "\"abc\"", lm), 0);
    ck_assert_int_eq(cairn__range_if(lm, "\"abc\"", NULL), 0);
    ck_assert_int_eq(cairn__range_if("yesterday", NULL, lm), 0);
}
END_TEST


int
main(void)
{
    const unit_case_t  cases[] = {
        { "parse", parse, 0 },
        { "if_range", if_range, 0 },
    };

    return unit_run(unit_suite("range", cases, UNIT_NCASES(cases), NULL,
                               NULL));
}
