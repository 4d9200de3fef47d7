/*
 * cairn/async.h: waiting without blocking the worker's loop.
 *
 * A hook that must wait (a timer, a database, an upstream) arms its
 * events, registers a cancel callback, and returns CAIRN_SUSPENDED.  From
 * any later callback on the loop it calls cairn_request_resume() with the
 * value the hook would have returned, and the pipeline goes on from where
 * it stopped.
 *
 * Work that burns CPU or blocks (a bcrypt check, a blocking library)
 * goes to the worker's task pool: work() runs on a pool thread and must
 * not touch the request; done() runs afterwards on the loop thread.
 */

#ifndef CAIRN_ASYNC_H
#define CAIRN_ASYNC_H

#include <stdint.h>

#include <cairn/defs.h>

/*
 * Continues a suspended request: rc is what the suspended hook would have
 * returned (CAIRN_OK, CAIRN_DECLINED, CAIRN_DONE, a status >= 400, or
 * CAIRN_SUSPENDED again to keep waiting).  The pipeline runs before this
 * returns; do not touch r afterwards, it may be gone.
 */
CAIRN_API void cairn_request_resume(cairn_request_t *r, int rc);

/*
 * Called at most once, on the loop, when the client goes away or the
 * server stops while the request is suspended: abort the query or the
 * upstream and release what the request holds.  After it the request is
 * finished without a resume; do not call cairn_request_resume().
 */
typedef void (*cairn_cancel_cb)(cairn_request_t *r, void *data);

/* Sets that callback (a later call replaces it). */
CAIRN_API void cairn_request_on_cancel(cairn_request_t *r, cairn_cancel_cb cb,
                                       void *data);

/* Whether the client has gone away (for long work that polls). */
CAIRN_API int cairn_request_cancelled(const cairn_request_t *r);

/*
 * A one-shot timer on the request: cb runs on the loop after delay_ms
 * unless the request ends first (the timer dies with the request arena).
 * Returns a handle for cairn_timer_cancel().
 */
typedef struct cairn_timer_s  cairn_timer_t;
typedef void (*cairn_timer_cb)(cairn_request_t *r, void *data);

/* Arms a timer; stops one before it fires (NULL is ignored). */
CAIRN_API cairn_timer_t *cairn_timer_add(cairn_request_t *r,
                                         uint64_t delay_ms,
                                         cairn_timer_cb cb, void *data);
CAIRN_API void cairn_timer_cancel(cairn_timer_t *t);

/*
 * Runs work(data) on a task-pool thread, then done(r, data) on the loop.
 * The request stays alive until done has run, even if the client leaves
 * (cairn_request_cancelled() tells).  Returns CAIRN_OK; the hook then
 * returns CAIRN_SUSPENDED and done() calls cairn_request_resume().
 */
typedef void (*cairn_task_work_cb)(void *data);
typedef void (*cairn_task_done_cb)(cairn_request_t *r, void *data);

/* Submits the job (CAIRN_ERROR when the pool cannot take it). */
CAIRN_API int cairn_task_run(cairn_request_t *r, cairn_task_work_cb work,
                             cairn_task_done_cb done, void *data);

/*
 * The same without a request (for worker-level jobs such as reloading a
 * file): done(NULL, data) runs on the loop.
 */
CAIRN_API int cairn_task_run_detached(cairn_task_work_cb work,
                                      cairn_task_done_cb done, void *data);

/* The event loop of the calling worker (NULL outside a worker), for
 * modules that arm their own events: the one getter of it, with or
 * without a request. */
CAIRN_API struct event_base *cairn_event_base(void);

/* Monotonic clock in microseconds, cached once per loop iteration. */
CAIRN_API uint64_t cairn_now_us(void);

#endif /* CAIRN_ASYNC_H */
