/*
 * core/arena_int.h: arena internals shared inside the core.
 */

#ifndef CAIRN_ARENA_INT_H
#define CAIRN_ARENA_INT_H

#include <cairn/arena.h>

/*
 * Runs the cleanups and frees every block but the first, so the arena can
 * be reused (a connection resets its request arena between requests
 * instead of allocating a new one).
 */
void cairn__arena_reset(cairn_arena_t *a);

/* Allocation failure: logs and aborts.  Never returns. */
void cairn__oom(size_t size) __attribute__((noreturn));

/*
 * The memory reserve of a worker (arena.c).  cairn__mem_reserve() takes
 * it (again): 0 when it is held, -1 when memory is still short.  From the
 * moment an allocation that cannot fail had to spend it, cairn__mem_low()
 * is 1, until cairn__mem_reserve() succeeds.  cairn__mem_release() gives
 * it back for good (the process is not a worker any more).
 */
int cairn__mem_reserve(void);
void cairn__mem_release(void);
int cairn__mem_low(void);

/* Routes libevent's allocations through the reserve; first thing in
 * main(), before any other libevent call. */
void cairn__mem_init(void);

/* malloc() and realloc() that spend the reserve before they abort. */
void *cairn__malloc(size_t size) __attribute__((malloc));
void *cairn__realloc(void *p, size_t size);

#endif /* CAIRN_ARENA_INT_H */
