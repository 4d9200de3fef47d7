/*
 * tests/unit/test_static_cond.c: modules/static/static_cond.c (the ETag
 * of a file, If-Match and If-None-Match lists).
 */

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

#include "unit.h"

#include "static/mod_static.h"


/* One entity-tag list against one tag, and whether it matches. */
typedef struct {
    const char  *list;
    const char  *etag;
    int          weak;
    int          want;
} match_case_t;


/* The ETag of a file of size bytes last modified at sec.nsec. */
static void
etag_of(char *buf, off_t size, time_t sec, long nsec)
{
    struct stat  st;

    memset(&st, 0, sizeof(st));
    st.st_size = size;
    st.st_mtim.tv_sec = sec;
    st.st_mtim.tv_nsec = nsec;

    mod_static_etag(buf, &st);
}


static void
check_cases(const match_case_t *cases, size_t n)
{
    size_t  i;
    int     got;

    for (i = 0; i < n; i++) {
        got = mod_static_etag_match(cases[i].list, cases[i].etag,
                                    cases[i].weak);
        ck_assert_msg(got == cases[i].want,
                      "list '%s', etag %s%s%s, %s: %d, want %d",
                      cases[i].list, cases[i].etag != NULL ? "'" : "",
                      cases[i].etag != NULL ? cases[i].etag : "NULL",
                      cases[i].etag != NULL ? "'" : "",
                      cases[i].weak ? "weak" : "strong", got, cases[i].want);
    }
}


/* Size, seconds and nanoseconds (eight digits) in lower-case hex. */
START_TEST(etag_format)
{
    char  buf[MOD_STATIC_ETAG_MAX];

    etag_of(buf, 1234, 100000000, 0x1234);
    ck_assert_str_eq(buf, "\"4d2-5f5e10000001234\"");

    etag_of(buf, 0xabcdef, 0x65a0bc00, 999999999);
    ck_assert_str_eq(buf, "\"abcdef-65a0bc003b9ac9ff\"");

    etag_of(buf, 1, 1, 1);
    ck_assert_str_eq(buf, "\"1-100000001\"");
}
END_TEST


/* The smallest and the largest values fit, and nothing is written past
 * MOD_STATIC_ETAG_MAX bytes. */
START_TEST(etag_bounds)
{
    char     buf[MOD_STATIC_ETAG_MAX + 16];
    int64_t  big;
    size_t   i;

    etag_of(buf, 0, 0, 0);
    ck_assert_str_eq(buf, "\"0-000000000\"");

    memset(buf, 'X', sizeof(buf));
    etag_of(buf, 0x7fffffff, 0x7fffffff, 999999999);
    ck_assert_str_eq(buf, "\"7fffffff-7fffffff3b9ac9ff\"");

    /* Where off_t and time_t have 64 bits, as on every LP64 system. */
    if (sizeof(off_t) == 8 && sizeof(time_t) == 8) {
        big = INT64_MAX;
        etag_of(buf, (off_t) big, (time_t) big, 999999999);
        ck_assert_str_eq(buf,
                         "\"7fffffffffffffff-7fffffffffffffff3b9ac9ff\"");
    }
    ck_assert_uint_lt(strlen(buf), MOD_STATIC_ETAG_MAX);

    for (i = MOD_STATIC_ETAG_MAX; i < sizeof(buf); i++) {
        ck_assert_msg(buf[i] == 'X', "byte %zu past the buffer written", i);
    }
}
END_TEST


/* Size and modification time make the tag; nothing else in the stat. */
START_TEST(etag_fields)
{
    struct stat  st;
    char         a[MOD_STATIC_ETAG_MAX], b[MOD_STATIC_ETAG_MAX];

    etag_of(a, 100, 1700000000, 5);

    etag_of(b, 101, 1700000000, 5);
    ck_assert_str_ne(a, b);
    etag_of(b, 100, 1700000001, 5);
    ck_assert_str_ne(a, b);
    etag_of(b, 100, 1700000000, 6);
    ck_assert_str_ne(a, b);

    memset(&st, 0, sizeof(st));
    st.st_size = 100;
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 5;
    st.st_ino = 4242;
    st.st_dev = 7;
    st.st_mode = S_IFREG | 0644;
    st.st_ctim.tv_sec = 1800000000;
    st.st_atim.tv_sec = 1900000000;
    mod_static_etag(b, &st);
    ck_assert_str_eq(a, b);
}
END_TEST


START_TEST(match_star)
{
    static const match_case_t  cases[] = {
        { "*", "\"a\"", 0, 1 },
        { "*", "\"a\"", 1, 1 },
        { "*", NULL, 0, 1 },
        { "*", NULL, 1, 1 },
        { "  *  ", "\"a\"", 0, 1 },
        { "\"b\", *", "\"a\"", 0, 1 },
        /* A quoted star is a tag like any other. */
        { "\"*\"", "\"a\"", 0, 0 },
        { "\"*\"", "\"a\"", 1, 0 },
    };

    check_cases(cases, UNIT_NCASES(cases));
}
END_TEST


/* If-Match: W/ tags never match, not even the same opaque tag. */
START_TEST(match_strong)
{
    static const match_case_t  cases[] = {
        { "\"a\"", "\"a\"", 0, 1 },
        { "\"a\"", "\"b\"", 0, 0 },
        { "\"a\"", "\"ab\"", 0, 0 },
        { "\"ab\"", "\"a\"", 0, 0 },
        { "\"A\"", "\"a\"", 0, 0 },
        { "\"\"", "\"\"", 0, 1 },
        { "\"\"", "\"a\"", 0, 0 },
        { "W/\"a\"", "\"a\"", 0, 0 },
        { "W/\"a\", \"a\"", "\"a\"", 0, 1 },
        { "\"4d2-5f5e10000001234\"", "\"4d2-5f5e10000001234\"", 0, 1 },
        { "\"4d2-5f5e10000001234\"", "\"4d2-5f5e10000001235\"", 0, 0 },
    };

    check_cases(cases, UNIT_NCASES(cases));
}
END_TEST


/* If-None-Match: the W/ prefix is ignored. */
START_TEST(match_weak)
{
    static const match_case_t  cases[] = {
        { "W/\"a\"", "\"a\"", 1, 1 },
        { "\"a\"", "\"a\"", 1, 1 },
        { "W/\"b\"", "\"a\"", 1, 0 },
        { "\"b\"", "\"a\"", 1, 0 },
        { "W/\"b\", W/\"a\"", "\"a\"", 1, 1 },
        { "W/\"ab\"", "\"a\"", 1, 0 },
        /* The prefix is "W/" exactly. */
        { "w/\"a\"", "\"a\"", 1, 0 },
        { "W /\"a\"", "\"a\"", 1, 0 },
        { "W\"a\"", "\"a\"", 1, 0 },
    };

    check_cases(cases, UNIT_NCASES(cases));
}
END_TEST


/* Members separated by commas, spaces and tabs, empty members skipped,
 * commas inside a tag are part of it. */
START_TEST(match_lists)
{
    static const match_case_t  cases[] = {
        { "\"b\", \"a\"", "\"a\"", 0, 1 },
        { "\"b\",\"a\"", "\"a\"", 0, 1 },
        { "\"b\" ,\t\"a\"", "\"a\"", 0, 1 },
        { "  \"a\"  ", "\"a\"", 0, 1 },
        { "\t\"a\"", "\"a\"", 0, 1 },
        { ",, \"a\" ,,", "\"a\"", 0, 1 },
        { "\"b\", \"c\", \"d\"", "\"a\"", 0, 0 },
        { "\"b\", \"c\", \"a\"", "\"a\"", 1, 1 },
        { "\"a,b\"", "\"a,b\"", 0, 1 },
        { "\"a,b\"", "\"a\"", 0, 0 },
        { "\"a,b\"", "\"b\"", 0, 0 },
        { "\"x\", W/\"a\", \"y\"", "\"a\"", 1, 1 },
        { "\"x\", W/\"a\", \"y\"", "\"a\"", 0, 0 },
        { "", "\"a\"", 0, 0 },
        { "   ", "\"a\"", 1, 0 },
        { ", ,", "\"a\"", 1, 0 },
    };

    check_cases(cases, UNIT_NCASES(cases));
}
END_TEST


/* A malformed list matches nothing from the malformed part on; what came
 * before it still counts. */
START_TEST(match_malformed)
{
    static const match_case_t  cases[] = {
        { "a", "\"a\"", 0, 0 },
        { "a", "\"a\"", 1, 0 },
        { "x, \"a\"", "\"a\"", 0, 0 },
        { "\"b\", x, \"a\"", "\"a\"", 1, 0 },
        { "\"a\", x", "\"a\"", 0, 1 },
        { "\"a", "\"a\"", 0, 0 },
        { "\"a", "\"a", 0, 0 },
        { "\"b\", \"a", "\"a\"", 1, 0 },
        { "W/", "\"a\"", 1, 0 },
        { "W/a", "\"a\"", 1, 0 },
        { "'a'", "'a'", 0, 0 },
        { "x, *", "\"a\"", 0, 0 },
    };

    check_cases(cases, UNIT_NCASES(cases));
}
END_TEST


/* No ETag (StaticFileETag off): only "*" matches. */
START_TEST(match_null_etag)
{
    static const match_case_t  cases[] = {
        { "\"a\"", NULL, 0, 0 },
        { "\"a\"", NULL, 1, 0 },
        { "W/\"a\"", NULL, 1, 0 },
        { "\"\"", NULL, 0, 0 },
        { "\"b\", *", NULL, 0, 1 },
        { "", NULL, 1, 0 },
    };

    check_cases(cases, UNIT_NCASES(cases));
}
END_TEST


/* A tag made by mod_static_etag() matches itself in a list, strongly as
 * is and weakly with W/; another file's tag does not. */
START_TEST(match_own_etag)
{
    char  tag[MOD_STATIC_ETAG_MAX], other[MOD_STATIC_ETAG_MAX];
    char  list[4 * MOD_STATIC_ETAG_MAX];

    etag_of(tag, 5120, 1700000000, 123456789);
    etag_of(other, 5120, 1700000000, 123456788);

    ck_assert_int_eq(mod_static_etag_match(tag, tag, 0), 1);
    ck_assert_int_eq(mod_static_etag_match(other, tag, 0), 0);
    ck_assert_int_eq(mod_static_etag_match(other, tag, 1), 0);

    strcpy(list, other);
    strcat(list, ", ");
    strcat(list, tag);
    ck_assert_int_eq(mod_static_etag_match(list, tag, 0), 1);
    ck_assert_int_eq(mod_static_etag_match(list, other, 0), 1);

    strcpy(list, "W/");
    strcat(list, tag);
    ck_assert_int_eq(mod_static_etag_match(list, tag, 1), 1);
    ck_assert_int_eq(mod_static_etag_match(list, tag, 0), 0);
}
END_TEST


int
main(void)
{
    const unit_case_t  cases[] = {
        { "etag_format", etag_format, 0 },
        { "etag_bounds", etag_bounds, 0 },
        { "etag_fields", etag_fields, 0 },
        { "match_star", match_star, 0 },
        { "match_strong", match_strong, 0 },
        { "match_weak", match_weak, 0 },
        { "match_lists", match_lists, 0 },
        { "match_malformed", match_malformed, 0 },
        { "match_null_etag", match_null_etag, 0 },
        { "match_own_etag", match_own_etag, 0 },
    };

    return unit_run(unit_suite("static_cond", cases, UNIT_NCASES(cases),
                               NULL, NULL));
}
