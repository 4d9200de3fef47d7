/*
 * tests/unit/test_request.c: core/request.c, the Host value.
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "http_int.h"


static cairn_arena_t  *test_arena;


static void
setup(void)
{
    test_arena = cairn_arena_create(1024);
}


static void
teardown(void)
{
    cairn_arena_destroy(test_arena);
}


/* Normalises in and checks it gives want (NULL: refused, a 400). */
static void
check_host(const char *in, const char *want)
{
    const char  *got;

    got = cairn__host_normalise(test_arena, in);

    if (want == NULL) {
        ck_assert_msg(got == NULL, "Host \"%s\" gave \"%s\", want refused",
                      in, got);
    } else {
        ck_assert_msg(got != NULL, "Host \"%s\" was refused, want \"%s\"",
                      in, want);
        ck_assert_msg(strcmp(got, want) == 0,
                      "Host \"%s\" gave \"%s\", want \"%s\"", in, got, want);
    }
}


START_TEST(names)
{
    check_host("Example.COM", "example.com");
    check_host("example.com.", "example.com");
    check_host("a_b-c.d", "a_b-c.d");
    check_host("[::1]", "[::1]");
    check_host("", "");
    check_host("a/b", NULL);
    check_host("user@host", NULL);
    check_host("a b", NULL);
    check_host("[::1", NULL);
}
END_TEST


START_TEST(ports_in_range)
{
    check_host("example.com:1", "example.com");
    check_host("example.com:80", "example.com");
    check_host("example.com:8080", "example.com");
    check_host("example.com:65535", "example.com");
    check_host("example.com:00080", "example.com");
    check_host("[::1]:443", "[::1]");
}
END_TEST


START_TEST(ports_out_of_range)
{
    check_host("example.com:0", NULL);
    check_host("example.com:00", NULL);
    check_host("example.com:65536", NULL);
    check_host("example.com:99999", NULL);
    check_host("example.com:4294967377", NULL);
    check_host("[::1]:0", NULL);
    check_host("[::1]:70000", NULL);
}
END_TEST


START_TEST(ports_malformed)
{
    check_host("example.com:", NULL);
    check_host("example.com:x", NULL);
    check_host("example.com:80x", NULL);
    check_host("example.com:-1", NULL);
    check_host("example.com:+80", NULL);
    check_host("example.com: 80", NULL);
    check_host("example.com:80:81", NULL);
    check_host("[::1]:", NULL);
    check_host("[::1]x", NULL);
}
END_TEST


static Suite *
request_suite(void)
{
    const unit_case_t  cases[] = {
        { "names", names, 0 },
        { "ports_in_range", ports_in_range, 0 },
        { "ports_out_of_range", ports_out_of_range, 0 },
        { "ports_malformed", ports_malformed, 0 },
    };

    return unit_suite("request", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(request_suite());
}
