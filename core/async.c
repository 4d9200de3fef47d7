/*
 * core/async.c: what include/cairn/async.h promises: resuming a suspended
 * request, cancellation, per-request timers, and jobs on the task pool.
 *
 * Every callback that comes back from the loop into a request brackets
 * its work with cairn__conn_enter()/cairn__conn_leave(), so a connection
 * closed meanwhile is freed only when the callback has returned.
 */

#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "arena_int.h"
#include "http_int.h"
#include "log_int.h"
#include "worker_int.h"


void
cairn_request_resume(cairn_request_t *r, int rc)
{
    cairn_conn_t  *c = r->conn;
    cairn_conn_t  *outer = cairn__current_conn;

    if (r->cancelled || r->state != CAIRN__REQ_SUSPENDED) {
        return;
    }

    cairn__time_update();
    cairn__conn_enter(c);
    cairn__current_conn = c;
    r->cancel_cb = NULL;
    cairn__pipeline_run(r, rc);
    cairn__current_conn = outer;
    cairn__conn_leave(c);
}


void
cairn_request_on_cancel(cairn_request_t *r, cairn_cancel_cb cb, void *data)
{
    r->cancel_cb = cb;
    r->cancel_data = data;
}


int
cairn_request_cancelled(const cairn_request_t *r)
{
    return r->cancelled;
}


struct cairn_timer_s {
    struct event     *ev;
    cairn_request_t  *r;
    cairn_timer_cb    cb;
    void             *data;
};


static void
request_timer_fire(evutil_socket_t fd, short what, void *arg)
{
    cairn_timer_t  *t = arg;
    cairn_conn_t   *c = t->r->conn;
    cairn_conn_t   *outer = cairn__current_conn;

    cairn__time_update();
    cairn__conn_enter(c);
    cairn__current_conn = c;
    t->cb(t->r, t->data);
    cairn__current_conn = outer;
    cairn__conn_leave(c);
}


cairn_timer_t *
cairn_timer_add(cairn_request_t *r, uint64_t delay_ms, cairn_timer_cb cb,
                void *data)
{
    cairn_timer_t   *t;
    struct timeval   tv;

    t = cairn_arena_calloc(r->arena, sizeof(*t));
    t->r = r;
    t->cb = cb;
    t->data = data;
    t->ev = event_new(r->conn->worker->base, -1, 0, request_timer_fire, t);
    if (t->ev == NULL) {
        cairn__oom(sizeof(struct event *));
    }
    cairn_arena_cleanup_add(r->arena, (cairn_cleanup_cb) event_free, t->ev);

    tv.tv_sec = (time_t) (delay_ms / 1000);
    tv.tv_usec = (suseconds_t) ((delay_ms % 1000) * 1000);
    event_add(t->ev, &tv);

    return t;
}


void
cairn_timer_cancel(cairn_timer_t *t)
{
    if (t != NULL) {
        event_del(t->ev);
    }
}


typedef struct {
    cairn_request_t     *r;
    cairn_task_work_cb   work;
    cairn_task_done_cb   done;
    void                *data;
    const cairn_module_t *module;
} request_task_t;


static void
request_task_work(void *arg)
{
    request_task_t  *t = arg;

    t->work(t->data);
}


static void
request_task_done(void *arg)
{
    request_task_t   *t = arg;
    cairn_request_t  *r = t->r;
    cairn_conn_t     *c, *outer;
    int               cancelled, deferred;

    cairn__time_update();

    if (r == NULL) {
        cairn__log_module = t->module;
        t->done(NULL, t->data);
        cairn__log_module = NULL;
        free(t);
        return;
    }

    c = r->conn;
    r->pending_tasks--;
    cancelled = r->cancelled;
    deferred = r->finish_deferred;

    outer = cairn__current_conn;
    cairn__current_conn = c;
    cairn__log_module = t->module;
    t->done(r, t->data);
    cairn__log_module = NULL;

    /* A live request may have been resumed and finished by done(), its
     * memory recycled: only a cancelled one, or one whose finish waits
     * for its tasks (their resumes are ignored), is still ours to look
     * at. */
    if ((cancelled || deferred) && r->pending_tasks == 0
        && r->state != CAIRN__REQ_DONE)
    {
        cairn__request_finish(r);
    }

    free(t);
    cairn__current_conn = outer;
    cairn__conn_leave(c);
}


int
cairn_task_run(cairn_request_t *r, cairn_task_work_cb work,
               cairn_task_done_cb done, void *data)
{
    request_task_t  *t;

    /* The job crosses threads, so it is not in the (single-threaded)
     * request arena. */
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CAIRN_ERROR;
    }
    t->r = r;
    t->work = work;
    t->done = done;
    t->data = data;
    t->module = cairn__log_module;

    if (cairn__taskpool_submit(r->conn->worker->tasks, request_task_work,
                               request_task_done, t) != 0)
    {
        free(t);
        return CAIRN_ERROR;
    }

    r->pending_tasks++;
    cairn__conn_enter(r->conn);

    return CAIRN_OK;
}


int
cairn_task_run_detached(cairn_task_work_cb work, cairn_task_done_cb done,
                        void *data)
{
    request_task_t  *t;

    if (cairn__worker_current == NULL) {
        return CAIRN_ERROR;
    }

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return CAIRN_ERROR;
    }
    t->work = work;
    t->done = done;
    t->data = data;
    t->module = cairn__log_module;

    if (cairn__taskpool_submit(cairn__worker_current->tasks,
                               request_task_work, request_task_done, t) != 0)
    {
        free(t);
        return CAIRN_ERROR;
    }

    return CAIRN_OK;
}


struct event_base *
cairn_event_base(void)
{
    return cairn__worker_current ? cairn__worker_current->base : NULL;
}
