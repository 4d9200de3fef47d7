/*
 * tests/unit/test_arena.c: core/arena.c.
 */

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>

#include <check.h>

#include "unit.h"

#include "arena_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNIT_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_ASAN  1
#endif
#endif

#define TEST_ALIGN      _Alignof(max_align_t)


static cairn_arena_t  *arena;

/* What the cleanups ran, in order. */
static char            trail[64];
static size_t          ntrail;


static void
setup(void)
{
    arena = cairn_arena_create(0);
    ntrail = 0;
    trail[0] = '\0';
}


static void
teardown(void)
{
    cairn_arena_destroy(arena);
    arena = NULL;
}


static void
record(void *data)
{
    if (ntrail < sizeof(trail) - 1) {
        trail[ntrail++] = *(const char *) data;
        trail[ntrail] = '\0';
    }
}


static void
add_cleanup_again(void *data)
{
    record(data);
    cairn_arena_cleanup_add(arena, record, (void *) "z");
}


static char *
vprintf_helper(const char *fmt, ...)
{
    va_list  ap;
    char    *s;

    va_start(ap, fmt);
    s = cairn_arena_vprintf(arena, fmt, ap);
    va_end(ap);

    return s;
}


START_TEST(alignment)
{
    size_t  size;
    void   *p;
    char   *prev;

    prev = NULL;
    for (size = 0; size < 300; size++) {
        p = cairn_arena_alloc(arena, size);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t) p % TEST_ALIGN, 0);
        ck_assert_ptr_ne(p, prev);
        memset(p, 0xa5, size);
        if (size > 0) {
            prev = p;
        }
    }

    p = cairn_arena_alloc(arena, 100000);
    ck_assert_uint_eq((uintptr_t) p % TEST_ALIGN, 0);

    p = cairn_arena_printf(arena, "%d", 7);
    ck_assert_uint_eq((uintptr_t) p % TEST_ALIGN, 0);
    p = cairn_arena_alloc(arena, 8);
    ck_assert_uint_eq((uintptr_t) p % TEST_ALIGN, 0);
}
END_TEST


START_TEST(many_small)
{
    unsigned char  *ptrs[5000];
    size_t          i, j, size, total;

    total = 0;
    for (i = 0; i < 5000; i++) {
        size = 1 + i % 61;
        ptrs[i] = cairn_arena_alloc(arena, size);
        memset(ptrs[i], (int) (i & 0xff), size);
        total += size;
    }

    for (i = 0; i < 5000; i++) {
        size = 1 + i % 61;
        for (j = 0; j < size; j++) {
            ck_assert_uint_eq(ptrs[i][j], i & 0xff);
        }
    }

    ck_assert_uint_eq(cairn_arena_used(arena), total);
}
END_TEST


START_TEST(large)
{
    unsigned char  *small1, *big1, *big2, *small2, *z;
    size_t          i;

    small1 = cairn_arena_alloc(arena, 16);
    big2 = cairn_arena_alloc(arena, 1 << 20);
    small2 = cairn_arena_alloc(arena, 16);
    big1 = cairn_arena_alloc(arena, 3000);

    /* A large request that does not fit gets a block of its own: the next
     * small one still comes from the first block, right after the first
     * small one. */
    ck_assert(small1 < small2);
    ck_assert_uint_lt((size_t) (small2 - small1), 64);

    memset(small1, 1, 16);
    memset(big1, 2, 3000);
    memset(big2, 3, 1 << 20);
    memset(small2, 4, 16);

    ck_assert_uint_eq(small1[15], 1);
    ck_assert_uint_eq(big1[2999], 2);
    for (i = 0; i < (1 << 20); i += 4096) {
        ck_assert_uint_eq(big2[i], 3);
    }
    ck_assert_uint_eq(small2[0], 4);

    z = cairn_arena_calloc(arena, 50000);
    for (i = 0; i < 50000; i++) {
        ck_assert_uint_eq(z[i], 0);
    }

    ck_assert_uint_eq(cairn_arena_used(arena),
                      16 + 3000 + (1 << 20) + 16 + 50000);
}
END_TEST


START_TEST(size_hint)
{
    cairn_arena_t  *a;
    char           *p;

    a = cairn_arena_create(1);
    p = cairn_arena_alloc(a, 500);
    memset(p, 'x', 500);
    p = cairn_arena_strdup(a, "tiny");
    ck_assert_str_eq(p, "tiny");
    cairn_arena_destroy(a);

    a = cairn_arena_create(1 << 16);
    p = cairn_arena_alloc(a, 60000);
    memset(p, 'y', 60000);
    cairn_arena_destroy(a);

    cairn_arena_destroy(NULL);
}
END_TEST


START_TEST(strings)
{
    char         *s;
    const char   *bytes = "ab\0cd";

    ck_assert_str_eq(cairn_arena_strdup(arena, "hello"), "hello");
    ck_assert_str_eq(cairn_arena_strdup(arena, ""), "");
    ck_assert_ptr_null(cairn_arena_strdup(arena, NULL));

    ck_assert_str_eq(cairn_arena_strndup(arena, "hello", 3), "hel");
    ck_assert_str_eq(cairn_arena_strndup(arena, "hi", 10), "hi");
    ck_assert_str_eq(cairn_arena_strndup(arena, "hi", 0), "");

    s = cairn_arena_memdup(arena, bytes, 5);
    ck_assert_int_eq(memcmp(s, bytes, 5), 0);
}
END_TEST


START_TEST(html_escape)
{
    ck_assert_str_eq(cairn_arena_html_escape(arena, ""), "");
    ck_assert_str_eq(cairn_arena_html_escape(arena, "plain text"),
                     "plain text");
    ck_assert_str_eq(cairn_arena_html_escape(arena,
                                             "<a href=\"x\">Tom's & co</a>"),
                     "&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; co&lt;/a&gt;");
    /* UTF-8 passes through untouched. */
    ck_assert_str_eq(cairn_arena_html_escape(arena, "caf\xc3\xa9 <b>"),
                     "caf\xc3\xa9 &lt;b&gt;");
}
END_TEST


START_TEST(printf_small)
{
    char  *s, *t;

    s = cairn_arena_printf(arena, "%s-%d-%c", "x", 42, 'z');
    ck_assert_str_eq(s, "x-42-z");
    ck_assert_uint_eq(cairn_arena_used(arena), 7);

    t = vprintf_helper("[%05d]", 12);
    ck_assert_str_eq(t, "[00012]");
    ck_assert_str_eq(s, "x-42-z");

    ck_assert_str_eq(cairn_arena_printf(arena, "%s", ""), "");
}
END_TEST


START_TEST(printf_growth)
{
    char    *big, *s, *strs[400];
    size_t   i;

    /* Many strings that cross block boundaries. */
    for (i = 0; i < 400; i++) {
        strs[i] = cairn_arena_printf(arena, "string number %zu with padding "
                                     "%050zu", i, i);
    }
    for (i = 0; i < 400; i++) {
        s = vprintf_helper("string number %zu with padding %050zu", i, i);
        ck_assert_str_eq(strs[i], s);
    }

    /* Larger than a block: formatted twice, into an exact allocation. */
    big = malloc(20001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'q', 20000);
    big[20000] = '\0';

    s = cairn_arena_printf(arena, "<%s>", big);
    ck_assert_uint_eq(strlen(s), 20002);
    ck_assert_int_eq(s[0], '<');
    ck_assert_int_eq(s[20001], '>');
    ck_assert_int_eq(memcmp(s + 1, big, 20000), 0);

    s = vprintf_helper("%s|%s", big, big);
    ck_assert_uint_eq(strlen(s), 40001);
    ck_assert_int_eq(s[20000], '|');

    free(big);
}
END_TEST


START_TEST(cleanups_destroy)
{
    cairn_arena_t  *a;

    a = cairn_arena_create(0);
    cairn_arena_cleanup_add(a, record, (void *) "a");
    cairn_arena_cleanup_add(a, record, (void *) "b");
    (void) cairn_arena_alloc(a, 100000);
    cairn_arena_cleanup_add(a, record, (void *) "c");
    cairn_arena_destroy(a);

    ck_assert_str_eq(trail, "cba");
}
END_TEST


START_TEST(cleanups_reset)
{
    cairn_arena_cleanup_add(arena, record, (void *) "1");
    cairn_arena_cleanup_add(arena, record, (void *) "2");
    cairn_arena_cleanup_add(arena, record, (void *) "3");

    cairn__arena_reset(arena);
    ck_assert_str_eq(trail, "321");

    /* They ran once: a second reset has nothing to run. */
    cairn__arena_reset(arena);
    ck_assert_str_eq(trail, "321");

    cairn_arena_cleanup_add(arena, record, (void *) "4");
    cairn_arena_destroy(arena);
    arena = cairn_arena_create(0);
    ck_assert_str_eq(trail, "3214");
}
END_TEST


START_TEST(cleanup_added_by_cleanup)
{
    cairn_arena_cleanup_add(arena, record, (void *) "a");
    cairn_arena_cleanup_add(arena, add_cleanup_again, (void *) "b");

    cairn__arena_reset(arena);
    ck_assert_str_eq(trail, "bza");
}
END_TEST


START_TEST(reset_reuse)
{
    char    *first, *p;
    size_t   i;

    first = cairn_arena_alloc(arena, 32);
    strcpy(first, "kept across resets");

    for (i = 0; i < 100; i++) {
        (void) cairn_arena_alloc(arena, 700);
    }
    (void) cairn_arena_alloc(arena, 1 << 20);
    ck_assert_uint_gt(cairn_arena_used(arena), 1 << 20);

    cairn__arena_reset(arena);
    ck_assert_uint_eq(cairn_arena_used(arena), 0);

    /* The first block is kept: the same memory comes back. */
    p = cairn_arena_alloc(arena, 32);
    ck_assert_ptr_eq(p, first);
    ck_assert_uint_eq(cairn_arena_used(arena), 32);

    for (i = 0; i < 1000; i++) {
        cairn__arena_reset(arena);
        p = cairn_arena_printf(arena, "request %zu", i);
        ck_assert_ptr_eq(p, first);
    }
    ck_assert_str_eq(p, "request 999");
}
END_TEST


START_TEST(cleanup_run)
{
    ck_assert_int_eq(cairn_arena_cleanup_run(arena, record, (void *) "x"),
                     0);

    cairn_arena_cleanup_add(arena, record, (void *) "a");
    cairn_arena_cleanup_add(arena, record, (void *) "b");
    cairn_arena_cleanup_add(arena, record, (void *) "c");

    ck_assert_int_eq(cairn_arena_cleanup_run(arena, record, (void *) "b"),
                     1);
    ck_assert_str_eq(trail, "b");

    /* Forgotten: neither run again nor found again. */
    ck_assert_int_eq(cairn_arena_cleanup_run(arena, record, (void *) "b"),
                     0);
    ck_assert_int_eq(cairn_arena_cleanup_run(arena, add_cleanup_again,
                                             (void *) "a"), 0);

    cairn__arena_reset(arena);
    ck_assert_str_eq(trail, "bca");
}
END_TEST


START_TEST(oom_aborts)
{
    (void) cairn_arena_alloc(arena, SIZE_MAX - 8);
}
END_TEST


/* A size no allocator can give: refused, nothing spent, no abort. */
START_TEST(try_alloc)
{
    char  *p;

    ck_assert_ptr_null(cairn_arena_try_alloc(arena, SIZE_MAX - 8));
    ck_assert_int_eq(cairn__mem_low(), 0);

    p = cairn_arena_try_alloc(arena, 10);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t) p % _Alignof(max_align_t), 0);
    memset(p, 'a', 10);

    p = cairn_arena_try_alloc(arena, 100000);
    ck_assert_ptr_nonnull(p);
    memset(p, 'b', 100000);
}
END_TEST


#ifndef UNIT_ASAN

/* The address space of this (forked) process now, in bytes. */
static size_t
vm_size(void)
{
    FILE           *f;
    char            line[128];
    unsigned long   kb = 0;

    f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmSize: %lu kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    ck_assert_uint_gt(kb, 0);

    return (size_t) kb * 1024;
}


/*
 * Under an address space limit, an allocation that cannot fail spends
 * the reserve instead of aborting; the process is low on memory until
 * the memory is freed and the reserve taken back.  A fallible allocation
 * never spends it.
 */
START_TEST(reserve_spent_and_taken_back)
{
    cairn_arena_t  *a;
    struct rlimit   rl;
    int             i;

    ck_assert_int_eq(cairn__mem_reserve(), 0);
    ck_assert_int_eq(cairn__mem_low(), 0);

    a = cairn_arena_create(0);
    rl.rlim_cur = vm_size() + 1024 * 1024;
    rl.rlim_max = RLIM_INFINITY;
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);

    /* Fallible: NULL once the headroom is gone, the reserve untouched. */
    ck_assert_ptr_null(cairn_arena_try_alloc(a, 2 * 1024 * 1024));
    ck_assert_int_eq(cairn__mem_low(), 0);

    /* Three MiB where one is free: the reserve pays for the rest. */
    for (i = 0; i < 12; i++) {
        memset(cairn_arena_alloc(a, 256 * 1024), 'x', 256 * 1024);
    }
    ck_assert_int_eq(cairn__mem_low(), 1);
    ck_assert_int_ne(cairn__mem_reserve(), 0);
    ck_assert_int_eq(cairn__mem_low(), 1);

    cairn_arena_destroy(a);
    ck_assert_int_eq(cairn__mem_reserve(), 0);
    ck_assert_int_eq(cairn__mem_low(), 0);

    cairn__mem_release();
}
END_TEST

#endif /* !UNIT_ASAN */


static Suite *
arena_suite(void)
{
    const unit_case_t  cases[] = {
        { "alignment", alignment, 0 },
        { "many_small", many_small, 0 },
        { "large", large, 0 },
        { "size_hint", size_hint, 0 },
        { "strings", strings, 0 },
        { "html_escape", html_escape, 0 },
        { "printf_small", printf_small, 0 },
        { "printf_growth", printf_growth, 0 },
        { "cleanups_destroy", cleanups_destroy, 0 },
        { "cleanups_reset", cleanups_reset, 0 },
        { "cleanup_added_by_cleanup", cleanup_added_by_cleanup, 0 },
        { "reset_reuse", reset_reuse, 0 },
        { "cleanup_run", cleanup_run, 0 },
        { "oom_aborts", oom_aborts, SIGABRT },
        { "try_alloc", try_alloc, 0 },
    };
    Suite  *s;

    s = unit_suite("arena", cases, UNIT_NCASES(cases), setup, teardown);

    /* An address space limit needs a process of its own, and neither
     * ASan (terabytes of shadow) nor valgrind can run under one. */
#ifndef UNIT_ASAN
    if (!unit_nofork()) {
        TCase  *tc = tcase_create("reserve_spent_and_taken_back");

        tcase_add_test(tc, reserve_spent_and_taken_back);
        suite_add_tcase(s, tc);
    }
#endif

    return s;
}


int
main(void)
{
    return unit_run(arena_suite());
}
