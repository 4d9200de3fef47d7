/*
 * core/arena.c: block arenas with cleanups.
 *
 * An arena is a list of blocks.  Small allocations are carved from the
 * current block by moving a pointer; a request larger than a quarter of
 * the block size gets a block of its own, so it neither wastes the rest
 * of the current block nor forces a new one.  The arena header lives at
 * the start of its first block: creating an arena is one malloc(), and
 * resetting it (what a connection does between requests) frees nothing
 * unless the request outgrew the first block.
 *
 * In AddressSanitizer builds the unused part of every block is poisoned
 * and each allocation is followed by a poisoned gap, so an overflow from
 * one arena object into the next is reported as it would be for malloc().
 *
 * Running out of memory: a worker holds a reserve (cairn__mem_reserve(),
 * ARENA_RESERVE_SIZE bytes).  When malloc() fails under an allocation
 * that cannot fail (cairn_arena_alloc() and the core's own), the reserve
 * is given back and the allocation retried, and the worker is "low on
 * memory" (cairn__mem_low()) until it can take the reserve again: it
 * sheds load meanwhile (worker.c, http.c).  Only an allocation that still
 * fails after that, one larger than what the reserve freed, aborts.
 * Allocations whose size a client decides use the fallible
 * cairn_arena_try_alloc() and are answered 503 instead, without touching
 * the reserve.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "arena_int.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN  1
#endif
#endif

#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)      ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n)    ASAN_UNPOISON_MEMORY_REGION(p, n)
#define ARENA_REDZONE           16
#else
#define ARENA_POISON(p, n)      ((void) (p), (void) (n))
#define ARENA_UNPOISON(p, n)    ((void) (p), (void) (n))
#define ARENA_REDZONE           0
#endif

#define ARENA_ALIGN             _Alignof(max_align_t)
#define ARENA_ROUND(n)          (((n) + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1))

/* Default size of a block, header included, and the smallest first
 * block a size hint may ask for. */
#define ARENA_DEFAULT_SIZE      4096
#define ARENA_MIN_FIRST         64

/* What a worker holds back for the first allocation that fails. */
#define ARENA_RESERVE_SIZE      (4u << 20)

#define arena_likely(x)         __builtin_expect(!!(x), 1)
#define arena_unlikely(x)       __builtin_expect(!!(x), 0)


typedef struct arena_block_s  arena_block_t;
struct arena_block_s {
    arena_block_t           *next;
    size_t                   size;      /* data bytes after the header */
};

typedef struct arena_cleanup_s  arena_cleanup_t;
struct arena_cleanup_s {
    cairn_cleanup_cb         cb;
    void                    *data;
    arena_cleanup_t         *next;
};

struct cairn_arena_s {
    char                    *pos;       /* next free byte, aligned */
    char                    *end;       /* end of the current block */
    arena_cleanup_t         *cleanups;  /* newest first */
    arena_block_t           *blocks;    /* all blocks but the first */
    size_t                   used;
    size_t                   block_size;    /* data bytes of later blocks */
    char                    *first;     /* data of the first block */
    char                    *first_end;
};

#define ARENA_HEADER            ARENA_ROUND(sizeof(cairn_arena_t))
#define ARENA_BLOCK_HEADER      ARENA_ROUND(sizeof(arena_block_t))


static void *arena_alloc_slow(cairn_arena_t *a, size_t size, int may_fail);
static char *arena_block_new(cairn_arena_t *a, size_t size, int may_fail);
static void arena_free_blocks(cairn_arena_t *a);
static void arena_run_cleanups(cairn_arena_t *a);
static const char *arena_html_entity(char c);


cairn_arena_t *
cairn_arena_create(size_t size_hint)
{
    cairn_arena_t  *a;
    size_t          first;

    if (size_hint == 0) {
        first = ARENA_DEFAULT_SIZE - ARENA_HEADER;
    } else if (size_hint < ARENA_MIN_FIRST) {
        first = ARENA_MIN_FIRST;
    } else if (size_hint > SIZE_MAX / 2) {
        cairn__oom(size_hint);
    } else {
        first = ARENA_ROUND(size_hint);
    }

    a = cairn__malloc(ARENA_HEADER + first);

    a->first = (char *) a + ARENA_HEADER;
    a->first_end = a->first + first;
    a->pos = a->first;
    a->end = a->first_end;
    a->cleanups = NULL;
    a->blocks = NULL;
    a->used = 0;
    a->block_size = ARENA_DEFAULT_SIZE - ARENA_BLOCK_HEADER;
    if (first > a->block_size) {
        a->block_size = first;
    }

    ARENA_POISON(a->first, first);

    return a;
}


void
cairn_arena_destroy(cairn_arena_t *a)
{
    if (a == NULL) {
        return;
    }

    arena_run_cleanups(a);
    arena_free_blocks(a);
    ARENA_UNPOISON(a->first, (size_t) (a->first_end - a->first));
    free(a);
}


/*
 * Runs the cleanups, frees the later blocks and rewinds to the start of
 * the first block.  With no cleanups and no extra block this is three
 * stores.
 */
void
cairn__arena_reset(cairn_arena_t *a)
{
    if (a->cleanups != NULL) {
        arena_run_cleanups(a);
    }

    if (a->blocks != NULL) {
        arena_free_blocks(a);
    }

    a->pos = a->first;
    a->end = a->first_end;
    a->used = 0;

    ARENA_POISON(a->first, (size_t) (a->first_end - a->first));
}


void *
cairn_arena_alloc(cairn_arena_t *a, size_t size)
{
    char    *p;
    size_t   need;

    need = ARENA_ROUND(size + ARENA_REDZONE);
    p = a->pos;

    /* need < size only when the rounding wrapped around. */
    if (arena_likely(need >= size && need <= (size_t) (a->end - p))) {
        a->pos = p + need;
        a->used += size;
        ARENA_UNPOISON(p, size);
        return p;
    }

    return arena_alloc_slow(a, size, 0);
}


void *
cairn_arena_try_alloc(cairn_arena_t *a, size_t size)
{
    char    *p;
    size_t   need;

    need = ARENA_ROUND(size + ARENA_REDZONE);
    p = a->pos;

    if (need >= size && need <= (size_t) (a->end - p)) {
        a->pos = p + need;
        a->used += size;
        ARENA_UNPOISON(p, size);
        return p;
    }

    return arena_alloc_slow(a, size, 1);
}


void *
cairn_arena_calloc(cairn_arena_t *a, size_t size)
{
    void  *p;

    p = cairn_arena_alloc(a, size);
    memset(p, 0, size);

    return p;
}


char *
cairn_arena_strdup(cairn_arena_t *a, const char *s)
{
    if (s == NULL) {
        return NULL;
    }

    return cairn_arena_memdup(a, s, strlen(s) + 1);
}


char *
cairn_arena_strndup(cairn_arena_t *a, const char *s, size_t n)
{
    char    *p;
    size_t   len;

    if (s == NULL) {
        return NULL;
    }

    len = strnlen(s, n);
    p = cairn_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


void *
cairn_arena_memdup(cairn_arena_t *a, const void *p, size_t n)
{
    void  *q;

    q = cairn_arena_alloc(a, n);
    if (n > 0) {
        memcpy(q, p, n);
    }

    return q;
}


char *
cairn_arena_html_escape(cairn_arena_t *a, const char *s)
{
    const char  *p, *e;
    char        *out, *o;
    size_t       n = 0;

    for (p = s; *p != '\0'; p++) {
        e = arena_html_entity(*p);
        n += e != NULL ? strlen(e) : 1;
    }

    out = cairn_arena_alloc(a, n + 1);
    o = out;
    for (p = s; *p != '\0'; p++) {
        e = arena_html_entity(*p);
        if (e != NULL) {
            n = strlen(e);
            memcpy(o, e, n);
            o += n;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';

    return out;
}


static const char *
arena_html_entity(char c)
{
    switch (c) {
    case '&':   return "&amp;";
    case '<':   return "&lt;";
    case '>':   return "&gt;";
    case '"':   return "&quot;";
    case '\'':  return "&#39;";
    default:    return NULL;
    }
}


char *
cairn_arena_printf(cairn_arena_t *a, const char *fmt, ...)
{
    va_list  ap;
    char    *p;

    va_start(ap, fmt);
    p = cairn_arena_vprintf(a, fmt, ap);
    va_end(ap);

    return p;
}


/*
 * Formats straight into the free space of the current block, which is
 * enough for most strings; only when the result does not fit is it
 * formatted a second time into an allocation of the exact size.
 */
char *
cairn_arena_vprintf(cairn_arena_t *a, const char *fmt, va_list ap)
{
    va_list   aq;
    char     *p;
    size_t    avail, room;
    int       n;

    p = a->pos;
    avail = (size_t) (a->end - p);
    room = avail > ARENA_REDZONE ? avail - ARENA_REDZONE : 0;

    ARENA_UNPOISON(p, room);
    va_copy(aq, ap);
    n = vsnprintf(p, room, fmt, aq);
    va_end(aq);

    if (n < 0) {
        ARENA_POISON(p, room);
        return cairn_arena_memdup(a, "", 1);
    }

    if ((size_t) n < room) {
        /* room is a multiple of the alignment, so this stays in the
         * block. */
        a->pos = p + ARENA_ROUND((size_t) n + 1 + ARENA_REDZONE);
        a->used += (size_t) n + 1;
        ARENA_POISON(p + n + 1, room - (size_t) n - 1);
        return p;
    }

    ARENA_POISON(p, room);
    p = cairn_arena_alloc(a, (size_t) n + 1);
    vsnprintf(p, (size_t) n + 1, fmt, ap);

    return p;
}


void
cairn_arena_cleanup_add(cairn_arena_t *a, cairn_cleanup_cb cb, void *data)
{
    arena_cleanup_t  *c;

    c = cairn_arena_alloc(a, sizeof(arena_cleanup_t));
    c->cb = cb;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
}


int
cairn_arena_cleanup_run(cairn_arena_t *a, cairn_cleanup_cb cb, void *data)
{
    arena_cleanup_t  **pc, *c;

    for (pc = &a->cleanups; *pc != NULL; pc = &(*pc)->next) {
        c = *pc;
        if (c->cb == cb && c->data == data) {
            *pc = c->next;
            c->cb(c->data);
            return 1;
        }
    }

    return 0;
}


size_t
cairn_arena_used(const cairn_arena_t *a)
{
    return a->used;
}


/*
 * The reserve and the "low on memory" state.  A task-pool thread may
 * allocate too, hence the atomics; the reserve itself is only taken back
 * by the worker's loop thread (cairn__mem_reserve()).
 */
static void  *arena_reserve;
static int    arena_mem_low;
static int    arena_reserve_wanted;


int
cairn__mem_reserve(void)
{
    void  *p;

    __atomic_store_n(&arena_reserve_wanted, 1, __ATOMIC_RELAXED);

    if (__atomic_load_n(&arena_reserve, __ATOMIC_ACQUIRE) != NULL) {
        return 0;
    }

    p = malloc(ARENA_RESERVE_SIZE);
    if (p == NULL) {
        return -1;
    }

    __atomic_store_n(&arena_reserve, p, __ATOMIC_RELEASE);
    __atomic_store_n(&arena_mem_low, 0, __ATOMIC_RELEASE);

    return 0;
}


void
cairn__mem_release(void)
{
    void  *p;

    __atomic_store_n(&arena_reserve_wanted, 0, __ATOMIC_RELAXED);
    p = __atomic_exchange_n(&arena_reserve, NULL, __ATOMIC_ACQ_REL);
    free(p);
    __atomic_store_n(&arena_mem_low, 0, __ATOMIC_RELEASE);
}


int
cairn__mem_low(void)
{
    return __atomic_load_n(&arena_mem_low, __ATOMIC_RELAXED);
}


/*
 * malloc() or realloc(), and when it fails in a worker, the same again
 * after the reserve was given back (the worker is low on memory from
 * then on).  NULL when even that fails.
 */
static void *
arena_mem_retry(void *old, size_t size, int resize)
{
    void  *p;

    p = resize ? realloc(old, size) : malloc(size);
    if (arena_likely(p != NULL) || size == 0) {
        return p;
    }

    if (__atomic_load_n(&arena_reserve_wanted, __ATOMIC_RELAXED)) {
        __atomic_store_n(&arena_mem_low, 1, __ATOMIC_RELEASE);
        free(__atomic_exchange_n(&arena_reserve, NULL, __ATOMIC_ACQ_REL));
        p = resize ? realloc(old, size) : malloc(size);
    }

    return p;
}


void *
cairn__malloc(size_t size)
{
    void  *p;

    p = arena_mem_retry(NULL, size, 0);
    if (p == NULL) {
        cairn__oom(size);
    }

    return p;
}


void *
cairn__realloc(void *old, size_t size)
{
    void  *p;

    p = arena_mem_retry(old, size, 1);
    if (p == NULL) {
        cairn__oom(size);
    }

    return p;
}


/*
 * libevent's allocator (event_set_mem_functions(), set once in main()):
 * its buffers may spend the reserve too, but a failure stays a NULL that
 * libevent reports to its caller.
 */
static void *
arena_event_malloc(size_t size)
{
    return arena_mem_retry(NULL, size, 0);
}


static void *
arena_event_realloc(void *p, size_t size)
{
    return arena_mem_retry(p, size, 1);
}


void
cairn__mem_init(void)
{
    event_set_mem_functions(arena_event_malloc, arena_event_realloc, free);
}


void
cairn__oom(size_t size)
{
    static const char  head[] = "cairnd: out of memory allocating ";
    static const char  tail[] = " bytes, aborting\n";
    char               buf[sizeof(head) + sizeof(tail) + 24];
    char               digits[24];
    size_t             len, nd;
    ssize_t            rc;

    nd = 0;
    do {
        digits[nd++] = (char) ('0' + size % 10);
        size /= 10;
    } while (size > 0);

    memcpy(buf, head, sizeof(head) - 1);
    len = sizeof(head) - 1;
    while (nd > 0) {
        buf[len++] = digits[--nd];
    }
    memcpy(buf + len, tail, sizeof(tail) - 1);
    len += sizeof(tail) - 1;

    /* Nothing else can be done if stderr is gone too. */
    rc = write(STDERR_FILENO, buf, len);
    (void) rc;

    abort();
}


/*
 * A request that did not fit the current block: either a block of its
 * own (large requests) or a fresh block that becomes the current one.
 */
static void *
arena_alloc_slow(cairn_arena_t *a, size_t size, int may_fail)
{
    char    *p;
    size_t   need;

    if (size > SIZE_MAX / 2) {
        if (may_fail) {
            return NULL;
        }
        cairn__oom(size);
    }

    need = ARENA_ROUND(size + ARENA_REDZONE);

    if (need > a->block_size / 4) {
        p = arena_block_new(a, need, may_fail);
        if (p == NULL) {
            return NULL;
        }

    } else {
        p = arena_block_new(a, a->block_size, may_fail);
        if (p == NULL) {
            return NULL;
        }
        a->pos = p + need;
        a->end = p + a->block_size;
    }

    a->used += size;
    ARENA_UNPOISON(p, size);

    return p;
}


/*
 * Allocates a block with size data bytes, links it, returns its data.
 * With may_fail, NULL when malloc() fails (the reserve is left alone).
 */
static char *
arena_block_new(cairn_arena_t *a, size_t size, int may_fail)
{
    arena_block_t  *b;
    char           *data;

    if (may_fail) {
        b = malloc(ARENA_BLOCK_HEADER + size);
        if (b == NULL) {
            return NULL;
        }
    } else {
        b = cairn__malloc(ARENA_BLOCK_HEADER + size);
    }

    b->size = size;
    b->next = a->blocks;
    a->blocks = b;

    data = (char *) b + ARENA_BLOCK_HEADER;
    ARENA_POISON(data, size);

    return data;
}


static void
arena_free_blocks(cairn_arena_t *a)
{
    arena_block_t  *b, *next;

    for (b = a->blocks; b != NULL; b = next) {
        next = b->next;
        ARENA_UNPOISON((char *) b + ARENA_BLOCK_HEADER, b->size);
        free(b);
    }

    a->blocks = NULL;
}


/*
 * Each cleanup is unlinked before it runs, so one that registers another
 * cleanup, or runs cairn_arena_cleanup_run(), sees a consistent list.
 */
static void
arena_run_cleanups(cairn_arena_t *a)
{
    arena_cleanup_t  *c;

    while ((c = a->cleanups) != NULL) {
        a->cleanups = c->next;
        c->cb(c->data);
    }
}
