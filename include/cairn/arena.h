/*
 * cairn/arena.h: arenas (memory freed all at once) and cleanups.
 *
 * Every object in cairn lives in an arena: one per configuration
 * generation, one per connection, one per request.  A module allocates
 * from the arena whose lifetime matches the data and never frees by hand.
 * External resources (file descriptors, database handles, libevent
 * events, jansson values) are tied to an arena with a cleanup, which runs
 * when the arena is reset or destroyed, in reverse order of registration.
 *
 * Allocation never returns NULL.  When memory runs out a worker spends a
 * reserve it holds and sheds load (new requests are answered 503) until
 * memory comes back; only an allocation larger than that reserve can
 * still fail, and then the worker logs and aborts.  So anything a client
 * controls must be bounded before it is allocated, and an allocation
 * whose size a client decides should use cairn_arena_try_alloc() and
 * answer 503 when it returns NULL.  Arenas are not thread-safe; use one only from the thread
 * that owns it (task-pool work gets its own, see async.h).
 */

#ifndef CAIRN_ARENA_H
#define CAIRN_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include <cairn/defs.h>

typedef struct cairn_arena_s  cairn_arena_t;

/* A cleanup receives the pointer given at registration. */
typedef void (*cairn_cleanup_cb)(void *data);


/*
 * Creates an arena whose first block holds about size_hint bytes (0 picks
 * a default).  Modules rarely need this: the request, connection and
 * server arenas are handed to them.  Use it for state that outlives a
 * request but not the worker, and destroy it in worker_exit.
 */
CAIRN_API cairn_arena_t *cairn_arena_create(size_t size_hint);

/* Runs the cleanups, then frees every block. */
CAIRN_API void cairn_arena_destroy(cairn_arena_t *a);

/* Returns size bytes aligned for any type; never NULL. */
CAIRN_API void *cairn_arena_alloc(cairn_arena_t *a, size_t size);

/*
 * Like cairn_arena_alloc(), but NULL when memory is short (ABI 1.4): for
 * an allocation whose size a client decides (a body, a large upload),
 * which a request can answer with 503 instead of leaving the worker to
 * spend its reserve.
 */
CAIRN_API void *cairn_arena_try_alloc(cairn_arena_t *a, size_t size);

/* Like cairn_arena_alloc(), zero-filled. */
CAIRN_API void *cairn_arena_calloc(cairn_arena_t *a, size_t size);

/* Copies of strings and memory, owned by the arena. */
CAIRN_API char *cairn_arena_strdup(cairn_arena_t *a, const char *s);
CAIRN_API char *cairn_arena_strndup(cairn_arena_t *a, const char *s,
                                    size_t n);
CAIRN_API void *cairn_arena_memdup(cairn_arena_t *a, const void *p,
                                   size_t n);

/* A copy of s safe inside HTML text and quoted attribute values: & < > "
 * and ' become entities. */
CAIRN_API char *cairn_arena_html_escape(cairn_arena_t *a, const char *s);

/* printf into the arena; the result is NUL-terminated. */
CAIRN_API char *cairn_arena_printf(cairn_arena_t *a, const char *fmt, ...)
    CAIRN_PRINTF(2, 3);
CAIRN_API char *cairn_arena_vprintf(cairn_arena_t *a, const char *fmt,
                                    va_list ap);

/*
 * Registers cb(data) to run when the arena is reset or destroyed.
 * Cleanups run newest first, so a resource registered after the one it
 * depends on is released before it.
 */
CAIRN_API void cairn_arena_cleanup_add(cairn_arena_t *a, cairn_cleanup_cb cb,
                                       void *data);

/*
 * Runs and forgets the cleanup registered with exactly (cb, data), for a
 * resource released early.  Returns 1 if it was found, 0 if not.
 */
CAIRN_API int cairn_arena_cleanup_run(cairn_arena_t *a, cairn_cleanup_cb cb,
                                      void *data);

/* Bytes handed out by the arena so far (for limits and statistics). */
CAIRN_API size_t cairn_arena_used(const cairn_arena_t *a);

#endif /* CAIRN_ARENA_H */
