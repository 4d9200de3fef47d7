/*
 * tests/unit/test_accept.c: q-values of Accept-style headers
 * (cairn_accept_q, core/accept.c).
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <cairn/request.h>

#include "unit.h"


typedef struct {
    const char  *value;
    const char  *token;
    int          q;
} accept_case_t;


static const accept_case_t  cases[] = {
    /* Accept-Encoding */
    { "gzip", "gzip", 1000 },
    { "gzip", "br", -1 },
    { "gzip, br", "br", 1000 },
    { "GZIP", "gzip", 1000 },
    { "gzip;q=0.5, br;q=0.8", "gzip", 500 },
    { "gzip;q=0.5, br;q=0.8", "br", 800 },
    { "gzip; q=0.25", "gzip", 250 },
    { "gzip ;q=0.125 ", "gzip", 125 },
    { "gzip;Q=0.3", "gzip", 300 },
    { "gzip;q=0", "gzip", 0 },
    { "gzip;q=1", "gzip", 1000 },
    { "gzip;q=1.000", "gzip", 1000 },
    { "*", "zstd", 1000 },
    { "*;q=0.1, gzip", "zstd", 100 },
    { "*;q=0.1, gzip", "gzip", 1000 },
    { "gzip;q=0, *", "gzip", 0 },
    { "identity;q=0", "identity", 0 },
    { "identity;q=0", "gzip", -1 },
    { "", "gzip", -1 },
    { " , ,gzip,", "gzip", 1000 },
    { "deflate, gzip;level=9;q=0.7", "gzip", 700 },
    { "x-gzip", "gzip", -1 },
    { "gzipx", "gzip", -1 },
    /* malformed weights: the element is ignored */
    { "gzip;q=2", "gzip", -1 },
    { "gzip;q=1.5", "gzip", -1 },
    { "gzip;q=0.5x", "gzip", -1 },
    { "gzip;q=-1", "gzip", -1 },
    { "gzip;q=", "gzip", -1 },
    { "gzip;q=.5", "gzip", -1 },
    { "gzip;q=0.5, gzip;q=x", "gzip", 500 },
    { "gzip;q=0.12345", "gzip", -1 },
    /* Accept */
    { "text/html", "text/html", 1000 },
    { "text/*;q=0.4", "text/html", 400 },
    { "*/*;q=0.1", "application/json", 100 },
    { "text/*;q=0.4, text/html;q=0.9, */*;q=0.1", "text/html", 900 },
    { "text/*;q=0.4, text/html;q=0.9, */*;q=0.1", "text/plain", 400 },
    { "text/*;q=0.4, text/html;q=0.9, */*;q=0.1", "image/png", 100 },
    { "application/json", "text/html", -1 },
    { "text/html;level=1;q=0.3", "text/html", 300 },
    { "image/*", "text/html", -1 },
};


START_TEST(table)
{
    size_t  i;
    int     q;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        q = cairn_accept_q(cases[i].value, cases[i].token);
        ck_assert_msg(q == cases[i].q, "\"%s\" for %s: %d, want %d",
                      cases[i].value, cases[i].token, q, cases[i].q);
    }
}
END_TEST


START_TEST(null_and_long)
{
    char    *v;
    size_t   n = 100000, i;

    ck_assert_int_eq(cairn_accept_q(NULL, "gzip"), -1);
    ck_assert_int_eq(cairn_accept_q("gzip", NULL), -1);

    /* Many elements and parameters: linear, and the last one counts. */
    v = malloc(n + 16);
    ck_assert_ptr_nonnull(v);
    for (i = 0; i + 2 < n; i += 2) {
        v[i] = ';';
        v[i + 1] = ',';
    }
    strcpy(v + i, "br;q=0.7");
    ck_assert_int_eq(cairn_accept_q(v, "br"), 700);
    free(v);
}
END_TEST


int
main(void)
{
    const unit_case_t  tests[] = {
        { "table", table, 0 },
        { "null_and_long", null_and_long, 0 },
    };

    return unit_run(unit_suite("accept", tests, UNIT_NCASES(tests), NULL,
                               NULL));
}
