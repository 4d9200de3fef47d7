/*
 * tests/unit/test_compress_cache.c: modules/compress/compress_cache.c
 * (mod_compress's per-worker cache of compressed files: the byte bound,
 * least recently used out first, pinned entries).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "compress/compress_cache.h"


/* A malloc()ed body of len bytes, all c. */
static unsigned char *
body(size_t len, int c)
{
    unsigned char  *p;

    p = malloc(len != 0 ? len : 1);
    ck_assert_ptr_nonnull(p);
    memset(p, c, len);

    return p;
}


START_TEST(put_get)
{
    mc_cache_t   *c;
    mc_centry_t  *e;

    c = mc_cache_new(8000);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(mc_cache_entry_max(c), 1000);

    ck_assert_ptr_null(mc_cache_get(c, "gzip:6:a"));
    e = mc_cache_put(c, "gzip:6:a", body(100, 'a'), 100);
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_eq(mc_cache_get(c, "gzip:6:a"), e);
    ck_assert_uint_eq(e->len, 100);
    ck_assert_int_eq(e->data[99], 'a');
    ck_assert_ptr_null(mc_cache_get(c, "gzip:5:a"));
    ck_assert_uint_eq(c->bytes, 100 + strlen("gzip:6:a"));
    ck_assert_uint_eq(c->entries, 1);

    /* The same key again replaces the entry. */
    e = mc_cache_put(c, "gzip:6:a", body(50, 'b'), 50);
    ck_assert_ptr_eq(mc_cache_get(c, "gzip:6:a"), e);
    ck_assert_int_eq(e->data[0], 'b');
    ck_assert_uint_eq(c->bytes, 50 + strlen("gzip:6:a"));
    ck_assert_uint_eq(c->entries, 1);

    /* Larger than an eighth: refused (and the body freed). */
    ck_assert_ptr_null(mc_cache_put(c, "big", body(1000, 'c'), 1000));
    ck_assert_ptr_null(mc_cache_get(c, "big"));

    mc_cache_free(c);
}
END_TEST


START_TEST(bound_and_lru)
{
    mc_cache_t  *c;
    char         key[16];
    int          i;

    c = mc_cache_new(8000);

    /* Ten entries of 990 bytes with their keys: eight fit. */
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_ptr_nonnull(mc_cache_put(c, key, body(988, 'x'), 988));
        ck_assert_uint_le(c->bytes, 8000);
        if (i == 5) {
            /* k0 used: k1 and k2 go first. */
            ck_assert_ptr_nonnull(mc_cache_get(c, "k0"));
        }
    }
    ck_assert_uint_eq(c->entries, 8);
    ck_assert_uint_eq(c->evictions, 2);
    ck_assert_ptr_nonnull(mc_cache_get(c, "k0"));
    ck_assert_ptr_null(mc_cache_get(c, "k1"));
    ck_assert_ptr_null(mc_cache_get(c, "k2"));
    for (i = 3; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_ptr_nonnull(mc_cache_get(c, key));
    }

    mc_cache_free(c);
}
END_TEST


/* An evicted entry a response still sends stays readable until unpinned
 * (ASan and valgrind see a use after free or a leak otherwise). */
START_TEST(pinned)
{
    mc_cache_t   *c;
    mc_centry_t  *e, *f;
    char          key[16];
    int           i;

    c = mc_cache_new(8000);
    e = mc_cache_put(c, "pinned", body(900, 'p'), 900);
    mc_cache_pin(e);
    for (i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        mc_cache_put(c, key, body(900, 'x'), 900);
    }
    ck_assert_ptr_null(mc_cache_get(c, "pinned"));
    ck_assert_ptr_null(e->cache);
    ck_assert_int_eq(e->data[899], 'p');
    mc_cache_unpin(e);

    /* Pinned when the whole cache goes: freed by the last unpin. */
    f = mc_cache_put(c, "last", body(900, 'l'), 900);
    mc_cache_pin(f);
    mc_cache_pin(f);
    mc_cache_free(c);
    ck_assert_int_eq(f->data[0], 'l');
    mc_cache_unpin(f);
    ck_assert_int_eq(f->data[0], 'l');
    mc_cache_unpin(f);
}
END_TEST


int
main(void)
{
    const unit_case_t  cases[] = {
        { "put_get", put_get, 0 },
        { "bound_and_lru", bound_and_lru, 0 },
        { "pinned", pinned, 0 },
    };

    return unit_run(unit_suite("compress_cache", cases, UNIT_NCASES(cases),
                               NULL, NULL));
}
