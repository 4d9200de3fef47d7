/*
 * tests/unit/test_path.c: core/path.c.
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "path_int.h"

#define TEST_LONG       8192


/* One input and what normalising it gives (NULL: invalid). */
typedef struct {
    const char  *in;
    const char  *out;
} test_case_t;


/*
 * Normalises in and checks the result against want (NULL: must fail).
 * The output buffer is exactly len + 1 bytes on the heap, so a write past
 * the contract is caught under ASan.
 */
static void
check_normalise(const char *in, size_t len, const char *want)
{
    char     *dst;
    ssize_t   n;

    dst = malloc(len + 1);
    ck_assert_ptr_nonnull(dst);
    memset(dst, 'X', len + 1);

    n = cairn__path_normalise(in, len, dst);

    if (want == NULL) {
        ck_assert_msg(n == -1, "\"%s\" gave \"%.*s\", want invalid", in,
                      n < 0 ? 0 : (int) n, dst);
    } else {
        ck_assert_msg(n >= 0, "\"%s\" was refused, want \"%s\"", in, want);
        ck_assert_msg((size_t) n == strlen(want) && strcmp(dst, want) == 0,
                      "\"%s\" gave \"%s\" (%zd), want \"%s\"", in, dst, n,
                      want);
    }

    free(dst);
}


static void
check_table(const test_case_t *t, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        check_normalise(t[i].in, strlen(t[i].in), t[i].out);
    }
}


static void
check_decode(const char *in, int plus, const char *want)
{
    size_t    len;
    char     *dst;
    ssize_t   n;

    len = strlen(in);
    dst = malloc(len + 1);
    ck_assert_ptr_nonnull(dst);

    n = cairn__url_decode(in, len, dst, plus);

    if (want == NULL) {
        ck_assert_msg(n == -1, "\"%s\" decoded, want invalid", in);
    } else {
        ck_assert_msg(n >= 0, "\"%s\" was refused, want \"%s\"", in, want);
        ck_assert_msg((size_t) n == strlen(want) && strcmp(dst, want) == 0,
                      "\"%s\" gave \"%s\", want \"%s\"", in, dst, want);
    }

    free(dst);
}


START_TEST(plain)
{
    static const test_case_t  t[] = {
        { "/", "/" },
        { "/a", "/a" },
        { "/a/b/c.html", "/a/b/c.html" },
        { "/index.html", "/index.html" },
        { "/a-b_c~d!$&'()*+,;=:@", "/a-b_c~d!$&'()*+,;=:@" },
        { "/.hidden", "/.hidden" },
        { "/a/.b/c", "/a/.b/c" },
        { "/...", "/..." },
        { "/a/..b/c..", "/a/..b/c.." },
        { "/a.", "/a." },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(slashes)
{
    static const test_case_t  t[] = {
        { "//", "/" },
        { "///", "/" },
        { "//a", "/a" },
        { "//a///b/", "/a/b/" },
        { "/a//b", "/a/b" },
        { "/a/b//", "/a/b/" },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(dots)
{
    static const test_case_t  t[] = {
        { "/.", "/" },
        { "/./", "/" },
        { "/./a", "/a" },
        { "/a/./b/.", "/a/b/" },
        { "/a/.", "/a/" },
        { "/a/./", "/a/" },
        { "/a/./b", "/a/b" },
        { "/././.", "/" },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(dotdot)
{
    static const test_case_t  t[] = {
        { "/a/..", "/" },
        { "/a/../", "/" },
        { "/a/../b", "/b" },
        { "/a/b/../c", "/a/c" },
        { "/a/b/../../c", "/c" },
        { "/a/b/..", "/a/" },
        { "/a/b/../", "/a/" },
        { "/a/b/c/../../..", "/" },
        { "/a//..//b", "/b" },
        { "/a/./../b", "/b" },
        { "/aa/bb/../cc/./dd/..", "/aa/cc/" },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(above_root)
{
    static const test_case_t  t[] = {
        { "/..", NULL },
        { "/../", NULL },
        { "/../a", NULL },
        { "/a/../..", NULL },
        { "/a/../../b", NULL },
        { "/a/b/../../../c", NULL },
        { "//..", NULL },
        { "/./..", NULL },
        { "/a/./../..", NULL },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(escapes)
{
    static const test_case_t  t[] = {
        { "/a%20b", "/a b" },
        { "/%41%42%43", "/ABC" },
        { "/%7e%7E", "/~~" },
        { "/%e2%82%ac", "/\xe2\x82\xac" },
        { "/%25", "/%" },
        { "/%2541", "/%41" },
        { "/%3F", "/?" },
        { "/a%2fb", "/a/b" },
        { "/a%2Fb", "/a/b" },
        { "/%2f%2f", "/" },
        { "/a%2f..%2fb", "/b" },
        { "/%2e", "/" },
        { "/%2e/a", "/a" },
        { "/a/%2E%2e/b", "/b" },
        { "/a/%2e%2E", "/" },
        { "/a/.%2e/b", "/b" },
        { "/%2e%2e%2e", "/..." },
        { "/a%2F%2E%2E%2Fb", "/b" },
        { "/+", "/+" },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(escapes_above_root)
{
    static const test_case_t  t[] = {
        { "/%2e%2e", NULL },
        { "/%2e%2e/", NULL },
        { "/%2E%2E/etc/passwd", NULL },
        { "/.%2e", NULL },
        { "/%2e.", NULL },
        { "/a/%2e%2e/%2e%2e", NULL },
        { "/%2f..", NULL },
        { "/a%2f..%2f..", NULL },
        { "/%2f%2e%2e%2f", NULL },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(malformed)
{
    static const test_case_t  t[] = {
        { "", NULL },
        { "a/b", NULL },
        { "a", NULL },
        { ".", NULL },
        { "..", NULL },
        { "*", NULL },
        { "%2f", NULL },
        { "%2fa", NULL },
        { "http://h/a", NULL },
        { "/%zz", NULL },
        { "/%0", NULL },
        { "/%", NULL },
        { "/a%", NULL },
        { "/a%4", NULL },
        { "/%g0", NULL },
        { "/%0g", NULL },
        { "/% 1", NULL },
        { "/%-1", NULL },
        { "/a%00b", NULL },
        { "/%00", NULL },
        { "/a/b%0", NULL },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(raw_nul)
{
    /* A NUL byte inside the given length is as bad as a decoded one. */
    check_normalise("/a\0b", 4, NULL);
    check_normalise("/\0", 2, NULL);
}
END_TEST


START_TEST(length_bounds)
{
    /* Only len bytes are read, and the source need not be terminated. */
    check_normalise("/abc/..", 4, "/abc");
    check_normalise("/a%2", 3, NULL);
    check_normalise("/a%20", 5, "/a ");
    check_normalise("/xyz", 1, "/");
}
END_TEST


START_TEST(long_paths)
{
    char    *in, *want;
    size_t   i, len;

    in = malloc(TEST_LONG + 1);
    want = malloc(TEST_LONG + 1);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(want);

    /* One very long segment. */
    in[0] = '/';
    memset(in + 1, 'a', TEST_LONG - 1);
    in[TEST_LONG] = '\0';
    check_normalise(in, TEST_LONG, in);

    /* Thousands of short segments: "/a/a/.../a". */
    for (i = 0; i < TEST_LONG / 2; i++) {
        in[2 * i] = '/';
        in[2 * i + 1] = 'a';
    }
    in[TEST_LONG] = '\0';
    check_normalise(in, TEST_LONG, in);

    /* "/a/a/.../a" then as many "/.." as segments: back to "/". */
    len = 0;
    for (i = 0; i < 1000; i++) {
        memcpy(in + len, "/a", 2);
        len += 2;
    }
    for (i = 0; i < 1000; i++) {
        memcpy(in + len, "/..", 3);
        len += 3;
    }
    in[len] = '\0';
    check_normalise(in, len, "/");

    /* One ".." more than there are segments: above the root. */
    memcpy(in + len, "/..", 3);
    len += 3;
    in[len] = '\0';
    check_normalise(in, len, NULL);

    /* Escaped slashes all the way: "%2f" x N folds into "/". */
    in[0] = '/';
    len = 1;
    while (len + 3 <= TEST_LONG) {
        memcpy(in + len, "%2f", 3);
        len += 3;
    }
    in[len] = '\0';
    check_normalise(in, len, "/");

    /* Many "./" in a row followed by a name. */
    len = 0;
    while (len + 2 <= TEST_LONG - 2) {
        memcpy(in + len, "/.", 2);
        len += 2;
    }
    memcpy(in + len, "/z", 2);
    len += 2;
    in[len] = '\0';
    check_normalise(in, len, "/z");

    /* Long segments with a climb in the middle. */
    in[0] = '/';
    memset(in + 1, 'b', 3000);
    memcpy(in + 3001, "/..", 3);
    in[3004] = '/';
    memset(in + 3005, 'c', 3000);
    in[6005] = '\0';
    want[0] = '/';
    memset(want + 1, 'c', 3000);
    want[3001] = '\0';
    check_normalise(in, 6005, want);

    free(in);
    free(want);
}
END_TEST


START_TEST(trailing_slash)
{
    static const test_case_t  t[] = {
        { "/dir/", "/dir/" },
        { "/dir", "/dir" },
        { "/dir//", "/dir/" },
        { "/dir/.", "/dir/" },
        { "/dir/sub/..", "/dir/" },
        { "/dir/sub/../", "/dir/" },
        { "/dir%2f", "/dir/" },
        { "/dir/%2e", "/dir/" },
        { "/dir/x/%2e%2e", "/dir/" },
        { "/a/b/c/", "/a/b/c/" },
    };

    check_table(t, sizeof(t) / sizeof(t[0]));
}
END_TEST


START_TEST(in_place_result)
{
    char     buf[32];
    ssize_t  n;

    /* The result is terminated and its length is returned. */
    memset(buf, 'X', sizeof(buf));
    n = cairn__path_normalise("/a/b/../c/", 10, buf);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(buf, "/a/c/");
    ck_assert_int_eq(buf[5], '\0');
}
END_TEST


START_TEST(url_decode)
{
    check_decode("", 0, "");
    check_decode("abc", 0, "abc");
    check_decode("a%20b", 0, "a b");
    check_decode("a+b", 0, "a+b");
    check_decode("a+b", 1, "a b");
    check_decode("%2B", 1, "+");
    check_decode("%2b+%2B", 1, "+ +");
    check_decode("%41%6a%4A", 0, "AjJ");
    check_decode("x=%3D%26", 0, "x==&");
    check_decode("%e2%82%ac", 0, "\xe2\x82\xac");
    check_decode("%2e%2e/%2f", 0, "..//");
    check_decode("100%", 0, NULL);
    check_decode("%4", 0, NULL);
    check_decode("%zz", 1, NULL);
    check_decode("%G1", 0, NULL);
    check_decode("a%00", 0, NULL);
    check_decode("%00", 1, NULL);
}
END_TEST


START_TEST(url_decode_bounds)
{
    char     buf[8];
    ssize_t  n;

    /* Only len bytes count; a raw NUL within them is refused. */
    n = cairn__url_decode("ab%41zz", 5, buf, 0);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(buf, "abA");

    n = cairn__url_decode("a\0b", 3, buf, 0);
    ck_assert_int_eq(n, -1);

    n = cairn__url_decode("ab%4", 3, buf, 0);
    ck_assert_int_eq(n, -1);

    n = cairn__url_decode("ab%4", 2, buf, 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(buf, "ab");
}
END_TEST


static Suite *
path_suite(void)
{
    const unit_case_t  cases[] = {
        { "plain", plain, 0 },
        { "slashes", slashes, 0 },
        { "dots", dots, 0 },
        { "dotdot", dotdot, 0 },
        { "above_root", above_root, 0 },
        { "escapes", escapes, 0 },
        { "escapes_above_root", escapes_above_root, 0 },
        { "malformed", malformed, 0 },
        { "raw_nul", raw_nul, 0 },
        { "length_bounds", length_bounds, 0 },
        { "long_paths", long_paths, 0 },
        { "trailing_slash", trailing_slash, 0 },
        { "in_place_result", in_place_result, 0 },
        { "url_decode", url_decode, 0 },
        { "url_decode_bounds", url_decode_bounds, 0 },
    };

    return unit_suite("path", cases, UNIT_NCASES(cases), NULL, NULL);
}


int
main(void)
{
    return unit_run(path_suite());
}
