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

#endif /* CAIRN_ARENA_INT_H */
