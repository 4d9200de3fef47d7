/*
 * core/request.c: the request pipeline and the request API.
 *
 * cairn__pipeline_run() walks the phases of hooks.h from where the request
 * stands (r->phase, r->hook), so a request that was suspended continues
 * with the hook after the one that suspended it, with the value that hook
 * passed to cairn_request_resume().
 */

#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "arena_int.h"
#include "http_int.h"
#include "log_int.h"
#include "metrics_int.h"
#include "path_int.h"
#include "worker_int.h"


static int request_call(cairn_request_t *r, const cairn__hook_t *h,
                        uint64_t *clock_ns);
static void request_slow_hook(cairn_request_t *r, int kind,
                              const cairn__hook_t *h, uint64_t ns);
static void request_route(cairn_request_t *r);
static void request_response_phase(cairn_request_t *r);
static const char *request_header_find(const cairn__headers_t *h,
                                       const char *name, size_t len);


cairn_request_t *
cairn__request_new(cairn_conn_t *c)
{
    cairn_request_t  *r;

    r = cairn_arena_calloc(c->req_arena, sizeof(*r));
    r->conn = c;
    r->arena = c->req_arena;
    r->server = c->server;
    r->state = CAIRN__REQ_HEADERS;
    r->version = 11;
    r->content_length = -1;
    r->out_fd = -1;
    r->start_us = cairn_now_us();
    r->seq = ++c->worker->next_req_id;

    c->req = r;

    if (cairn__crash != NULL && !cairn__crash->served) {
        cairn__crash->served = 1;
    }

    cairn__metrics_request_start();

    return r;
}


/* ------------------------------------------------------------------ */
/* The pipeline                                                       */
/* ------------------------------------------------------------------ */

void
cairn__pipeline_run(cairn_request_t *r, int rc)
{
    const cairn__hook_list_t  *list;
    const cairn__hook_t       *h;
    int                        resumed;
    uint64_t                   clock_ns;

    resumed = r->state == CAIRN__REQ_SUSPENDED;
    if (resumed) {
        r->state = CAIRN__REQ_PHASES;
    }

    while (r->phase < CAIRN_PHASE_RESPONSE) {
        list = &r->server->hooks->kind[r->phase];
        clock_ns = 0;

        if (!resumed && r->hook == 0) {
            if (r->phase == CAIRN_PHASE_ROUTE) {
                request_route(r);
            } else if (r->phase == CAIRN_PHASE_HANDLER && r->has_body
                       && !r->body_done)
            {
                cairn__conn_read_body(r);
                return;
            }
        }

        while (r->hook < list->n) {
            h = &list->v[r->hook];

            if (!resumed) {
                rc = request_call(r, h, &clock_ns);
            }
            resumed = 0;

            if (rc == CAIRN_SUSPENDED) {
                if (r->state != CAIRN__REQ_STREAMING) {
                    r->state = CAIRN__REQ_SUSPENDED;
                }
                r->suspended_by = h->module;
                return;
            }

            if (rc == CAIRN_ERROR || rc >= 400) {
                if (rc == CAIRN_ERROR || rc > 599) {
                    rc = 500;
                }
                cairn__response_error(r, rc);
                goto response;
            }

            if (rc == CAIRN_DONE) {
                goto send;
            }

            if (r->phase == CAIRN_PHASE_HANDLER && rc == CAIRN_OK) {
                goto response;
            }

            r->hook++;
        }

        resumed = 0;

        if (r->phase == CAIRN_PHASE_HANDLER) {
            /* Nobody answered. */
            if (r->route_405) {
                cairn__response_allow(r, r->allow);
                cairn__response_error(r, 405);
            } else {
                cairn__response_error(r, 404);
            }
            goto response;
        }

        r->phase++;
        r->hook = 0;
    }

    if (r->phase == CAIRN_PHASE_RESPONSE) {
        if (resumed) {
            /* A RESPONSE hook suspended and came back. */
            if (rc >= 400) {
                cairn__response_error(r, rc);
            }
            r->hook++;
        }
        goto run_response;
    }

    return;

response:

    r->phase = CAIRN_PHASE_RESPONSE;
    r->hook = 0;

run_response:

    if (r->state == CAIRN__REQ_STREAMING) {
        /* The head is gone already; RESPONSE hooks cannot change it. */
        return;
    }

    request_response_phase(r);
    if (r->state == CAIRN__REQ_SUSPENDED) {
        return;
    }

send:

    if (r->state == CAIRN__REQ_STREAMING) {
        return;
    }

    r->phase = CAIRN_PHASE_LOG;
    cairn__response_queue(r);
}


static void
request_response_phase(cairn_request_t *r)
{
    const cairn__hook_list_t  *list;
    int                        rc;
    uint64_t                   clock_ns = 0;

    list = &r->server->hooks->kind[CAIRN_PHASE_RESPONSE];

    while (r->hook < list->n) {
        rc = request_call(r, &list->v[r->hook], &clock_ns);

        if (rc == CAIRN_SUSPENDED) {
            r->state = CAIRN__REQ_SUSPENDED;
            r->suspended_by = list->v[r->hook].module;
            return;
        }
        if (rc == CAIRN_ERROR || rc >= 400) {
            cairn__response_error(r, rc >= 400 && rc <= 599 ? rc : 500);
        }

        r->hook++;
    }
}


/*
 * Calls one request hook, timed with the monotonic clock: the time goes
 * into cairn_hook_duration_seconds{module,hook}, and a call longer than
 * HookWarnTime is logged with the module, the hook and the request.
 * Hooks of one phase called one after the other share a clock reading:
 * *clock_ns is the end of the previous call (0: none just before), and
 * is set to the end of this one.
 */
static int
request_call(cairn_request_t *r, const cairn__hook_t *h, uint64_t *clock_ns)
{
    struct timespec  ts;
    uint64_t         t0, t1, ns;
    int              rc, kind;

    if (cairn__quarantine != NULL && cairn__quarantine->n > 0
        && cairn__quarantined(r, h->module))
    {
        *clock_ns = 0;
        return 503;
    }

    kind = (int) r->phase;

    cairn__log_module = h->module;
    cairn__current_request = r;
    cairn__current_phase = kind;
    if (*clock_ns != 0) {
        t0 = *clock_ns;
    } else {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
    }
    rc = h->fn.req(r);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t1 = (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
    *clock_ns = t1;
    cairn__current_phase = -1;
    cairn__current_request = NULL;
    cairn__log_module = NULL;

    ns = t1 - t0;
    cairn__metrics_hook(r, kind, h, ns);

    if (r->server->main_vhost->base.core->hook_warn_ms > 0
        && ns >= (uint64_t) r->server->main_vhost->base.core->hook_warn_ms
                 * 1000000u)
    {
        request_slow_hook(r, kind, h, ns);
    }

    return rc;
}


static void
request_slow_hook(cairn_request_t *r, int kind, const cairn__hook_t *h,
                  uint64_t ns)
{
    cairn_log(r, CAIRN_LOG_WARN, 0, "mod_%s hook %s held the event loop "
              "for %llu ms (request %s %s, id %s)", h->module->name,
              cairn__hook_kind_name(kind),
              (unsigned long long) (ns / 1000000u),
              r->method_name ? r->method_name : "-",
              r->path ? r->path : "-", cairn_request_id(r));
}


/* The core router runs first in the ROUTE phase. */
static void
request_route(cairn_request_t *r)
{
    const cairn__router_t  *rt = r->vhost->router;
    cairn__route_match_t    m;
    size_t                  i;

    if (rt == NULL && r->vhost != r->server->main_vhost) {
        rt = r->server->main_vhost->router;
    }
    if (rt == NULL) {
        return;
    }

    if (cairn__router_match(rt, r->arena, r->path, r->method, &m)) {
        r->route = m.route;
        r->nparams = m.nparams;
        if (m.nparams > 0) {
            r->param_names = cairn_arena_alloc(r->arena,
                                               m.nparams * sizeof(char *));
            r->param_values = cairn_arena_alloc(r->arena,
                                                m.nparams * sizeof(char *));
            for (i = 0; i < m.nparams; i++) {
                r->param_names[i] = m.names[i];
                r->param_values[i] = m.values[i];
            }
        }
    } else if (m.allowed != 0) {
        r->route_405 = 1;
        r->allow = m.allowed;
    }
}


/*
 * Answers r with status outside the hooks: the request could not be
 * parsed, or timed out.  LOG still runs.
 */
void
cairn__request_fail(cairn_request_t *r, int status)
{
    if (r->loc == NULL) {
        r->vhost = r->server->main_vhost;
        r->loc = &r->server->main_vhost->base;
    }
    if (r->method_name == NULL) {
        r->method_name = "-";
    }
    if (r->path == NULL) {
        r->path = "-";
    }
    if (r->target == NULL) {
        r->target = "-";
    }

    r->keepalive = 0;
    cairn__response_error(r, status);
    r->phase = CAIRN_PHASE_LOG;
    cairn__response_queue(r);
}


void
cairn__request_finish(cairn_request_t *r)
{
    const cairn__hook_list_t  *list;
    cairn_conn_t              *c = r->conn;
    size_t                     i;
    int                        keepalive;
    uint64_t                   clock_ns = 0;

    if (r->state == CAIRN__REQ_DONE) {
        return;
    }
    if (r->pending_tasks > 0) {
        /* A task still holds r (a module answered without waiting for
         * it): r is recycled only after the task's done callback. */
        r->finish_deferred = 1;
        return;
    }
    r->state = CAIRN__REQ_DONE;

    r->phase = CAIRN_PHASE_LOG;

    if (r->loc != NULL) {
        list = &r->server->hooks->kind[CAIRN_PHASE_LOG];
        for (i = 0; i < list->n; i++) {
            request_call(r, &list->v[i], &clock_ns);
        }
    }

    if (r->out_fd >= 0) {
        close(r->out_fd);
        r->out_fd = -1;
    }

    /* A body still being discarded keeps the connection busy until it
     * ends (cairn__conn_next). */
    keepalive = r->keepalive && !r->cancelled
                && (r->body_done || c->discarding);

    cairn__metrics_request_done(r);

    cairn__conn_next(c, keepalive);
}


/* ------------------------------------------------------------------ */
/* Async                                                              */
/* ------------------------------------------------------------------ */

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
        cairn__oom(sizeof(*t));
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
        cairn__oom(sizeof(*t));
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


/* ------------------------------------------------------------------ */
/* Connection hooks                                                   */
/* ------------------------------------------------------------------ */

int
cairn__conn_hooks_run(cairn_conn_t *c, cairn_conn_hook_t which)
{
    const cairn__hook_list_t  *list;
    size_t                     i;
    int                        rc;

    list = &c->server->hooks->kind[CAIRN__HOOK_CONN_BASE + which];

    for (i = 0; i < list->n; i++) {
        cairn__log_module = list->v[i].module;
        rc = list->v[i].fn.conn(c);
        cairn__log_module = NULL;

        if (which == CAIRN_CONN_OPEN && rc != CAIRN_OK
            && rc != CAIRN_DECLINED)
        {
            return rc;
        }
    }

    return CAIRN_OK;
}


/* ------------------------------------------------------------------ */
/* Accessors                                                          */
/* ------------------------------------------------------------------ */

cairn_method_t
cairn_request_method(const cairn_request_t *r)
{
    return r->method;
}


const char *
cairn_request_method_name(const cairn_request_t *r)
{
    return r->method_name;
}


const char *
cairn_request_target(const cairn_request_t *r)
{
    return r->target;
}


const char *
cairn_request_path(const cairn_request_t *r)
{
    return r->path;
}


const char *
cairn_request_query(const cairn_request_t *r)
{
    return r->query;
}


const char *
cairn_request_arg(cairn_request_t *r, const char *name)
{
    const char  *p, *end, *eq, *amp;
    size_t       nlen;
    char        *out;
    ssize_t      n;

    if (r->query == NULL) {
        return NULL;
    }

    nlen = strlen(name);
    p = r->query;
    end = p + strlen(p);

    while (p < end) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        eq = memchr(p, '=', (size_t) (amp - p));

        if ((size_t) ((eq ? eq : amp) - p) == nlen
            && memcmp(p, name, nlen) == 0)
        {
            if (eq == NULL) {
                return "";
            }
            out = cairn_arena_alloc(r->arena, (size_t) (amp - eq));
            n = cairn__url_decode(eq + 1, (size_t) (amp - eq - 1), out, 1);
            return n < 0 ? NULL : out;
        }

        p = amp + 1;
    }

    return NULL;
}


int
cairn_request_version(const cairn_request_t *r)
{
    return r->version;
}


const char *
cairn_request_host(const cairn_request_t *r)
{
    return r->host ? r->host : "";
}


static const char *
request_header_find(const cairn__headers_t *h, const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < h->n; i++) {
        if (h->v[i].name_len == len && strcasecmp(h->v[i].name, name) == 0) {
            return h->v[i].value;
        }
    }

    return NULL;
}


const char *
cairn__headers_get(const cairn__headers_t *h, const char *name)
{
    return request_header_find(h, name, strlen(name));
}


void
cairn__headers_add(cairn_arena_t *a, cairn__headers_t *h, const char *name,
                   size_t name_len, const char *value)
{
    cairn__header_t  *v;

    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        v = cairn_arena_alloc(a, h->cap * sizeof(*v));
        if (h->n > 0) {
            memcpy(v, h->v, h->n * sizeof(*v));
        }
        h->v = v;
    }

    h->v[h->n].name = name;
    h->v[h->n].name_len = name_len;
    h->v[h->n].value = value;
    h->n++;
}


const char *
cairn_request_header(const cairn_request_t *r, const char *name)
{
    return request_header_find(&r->headers, name, strlen(name));
}


size_t
cairn_request_header_count(const cairn_request_t *r)
{
    return r->headers.n;
}


int
cairn_request_header_at(const cairn_request_t *r, size_t i,
                        const char **name, const char **value)
{
    if (i >= r->headers.n) {
        return CAIRN_ERROR;
    }

    *name = r->headers.v[i].name;
    *value = r->headers.v[i].value;

    return CAIRN_OK;
}


const char *
cairn_request_param(const cairn_request_t *r, const char *name)
{
    size_t  i;

    for (i = 0; i < r->nparams; i++) {
        if (strcmp(r->param_names[i], name) == 0) {
            return r->param_values[i];
        }
    }

    return NULL;
}


const char *
cairn_request_body(const cairn_request_t *r, size_t *len)
{
    cairn_request_t  *mr = (cairn_request_t *) r;

    if (r->body == NULL || r->body_len == 0) {
        *len = 0;
        return NULL;
    }

    if (mr->body_flat == NULL) {
        mr->body_flat = cairn_arena_alloc(mr->arena, r->body_len + 1);
        evbuffer_copyout(r->body, mr->body_flat, r->body_len);
        mr->body_flat[r->body_len] = '\0';
    }

    *len = r->body_len;

    return r->body_flat;
}


const char *
cairn_request_user(const cairn_request_t *r)
{
    return r->user;
}


void
cairn_request_set_user(cairn_request_t *r, const char *user)
{
    r->user = user ? cairn_arena_strdup(r->arena, user) : NULL;
}


const char *
cairn_request_remote_addr(const cairn_request_t *r)
{
    return r->conn->peer_text;
}


int
cairn_request_remote_port(const cairn_request_t *r)
{
    return r->conn->peer_port;
}


const struct sockaddr *
cairn_request_remote_sockaddr(const cairn_request_t *r)
{
    return (const struct sockaddr *) &r->conn->peer;
}


/* What the error log says of a request (cairn__log_set_request_ids). */
void
cairn__request_log_ids(const cairn_request_t *r, const char **id,
                       const char **trace, const char **span)
{
    *id = cairn_request_id(r);
    *trace = cairn_request_note(r, "trace_id");
    *span = cairn_request_note(r, "span_id");
}


const char *
cairn_request_id(const cairn_request_t *r)
{
    cairn_request_t  *mr = (cairn_request_t *) r;
    cairn__worker_t  *w = r->conn->worker;

    if (r->id == NULL) {
        mr->id = cairn_arena_printf(mr->arena, "%08x%08x",
                                    (unsigned) w->id_seed,
                                    (unsigned) (r->seq & 0xffffffffu));
    }

    return r->id;
}


cairn_arena_t *
cairn_request_arena(cairn_request_t *r)
{
    return r->arena;
}


void *
cairn_request_conf(const cairn_request_t *r, const cairn_module_t *m)
{
    if (r->loc == NULL || m->index < 0
        || (size_t) m->index >= r->server->nmods)
    {
        return NULL;
    }

    return r->loc->mconf[m->index].conf;
}


void *
cairn_request_ctx(const cairn_request_t *r, const cairn_module_t *m)
{
    if (r->ctx == NULL || m->index < 0) {
        return NULL;
    }

    return r->ctx[m->index];
}


void
cairn_request_set_ctx(cairn_request_t *r, const cairn_module_t *m, void *ctx)
{
    if (m->index < 0 || (size_t) m->index >= r->server->nmods) {
        return;
    }

    if (r->ctx == NULL) {
        r->ctx = cairn_arena_calloc(r->arena,
                                    r->server->nmods * sizeof(void *));
    }

    r->ctx[m->index] = ctx;
}


const char *
cairn_request_note(const cairn_request_t *r, const char *key)
{
    return cairn_kvv_get(&r->notes, key);
}


void
cairn_request_set_note(cairn_request_t *r, const char *key,
                       const char *value)
{
    cairn_kv_t  *v;
    size_t       i;

    value = cairn_arena_strdup(r->arena, value);

    for (i = 0; i < r->notes.n; i++) {
        if (strcmp(r->notes.v[i].key, key) == 0) {
            r->notes.v[i].value = value;
            return;
        }
    }

    v = cairn_arena_alloc(r->arena, (r->notes.n + 1) * sizeof(*v));
    if (r->notes.n > 0) {
        memcpy(v, r->notes.v, r->notes.n * sizeof(*v));
    }
    v[r->notes.n].key = cairn_arena_strdup(r->arena, key);
    v[r->notes.n].value = value;
    r->notes.v = v;
    r->notes.n++;
}


void *
cairn_request_route(const cairn_request_t *r, const cairn_module_t *m)
{
    if (r->route == NULL || r->route->module != m) {
        return NULL;
    }

    return r->route->data;
}


const char *
cairn_request_route_pattern(const cairn_request_t *r)
{
    return r->route ? r->route->pattern : NULL;
}


const char *
cairn_request_location(const cairn_request_t *r)
{
    return r->loc ? r->loc->name : NULL;
}


cairn_conn_t *
cairn_request_conn(cairn_request_t *r)
{
    return r->conn;
}


struct event_base *
cairn_request_event_base(cairn_request_t *r)
{
    return r->conn->worker->base;
}


cairn_server_t *
cairn_request_server(cairn_request_t *r)
{
    return r->server;
}


uint64_t
cairn_request_start_us(const cairn_request_t *r)
{
    return r->start_us;
}


const char *
cairn_conn_remote_addr(const cairn_conn_t *c)
{
    return c->peer_text;
}


int
cairn_conn_remote_port(const cairn_conn_t *c)
{
    return c->peer_port;
}


cairn_arena_t *
cairn_conn_arena(cairn_conn_t *c)
{
    return c->arena;
}


uint64_t
cairn_conn_id(const cairn_conn_t *c)
{
    return c->id;
}


unsigned
cairn_conn_requests(const cairn_conn_t *c)
{
    return c->nrequests;
}


/*
 * A Host value: lower-cased, without its port.  Letters, digits, '-',
 * '.', '_' and an IPv6 literal in brackets are accepted; anything else
 * (a '/', a space, an '@') makes the request a 400.
 */
const char *
cairn__host_normalise(cairn_arena_t *a, const char *host)
{
    char    *h;
    size_t   i, n, end;

    if (host == NULL || host[0] == '\0') {
        return "";
    }

    n = strlen(host);
    if (n > 255) {
        return NULL;
    }

    h = cairn_arena_alloc(a, n + 1);
    end = n;

    if (host[0] == '[') {
        const char  *rb = strchr(host, ']');

        if (rb == NULL) {
            return NULL;
        }
        end = (size_t) (rb - host) + 1;
        for (i = 1; i + 1 < end; i++) {
            if (!isxdigit((unsigned char) host[i]) && host[i] != ':'
                && host[i] != '.')
            {
                return NULL;
            }
        }
    } else {
        const char  *colon = strchr(host, ':');

        if (colon != NULL) {
            end = (size_t) (colon - host);
        }
        for (i = 0; i < end; i++) {
            unsigned char  ch = (unsigned char) host[i];

            if (!isalnum(ch) && ch != '-' && ch != '.' && ch != '_') {
                return NULL;
            }
        }
    }

    if (end < n) {
        if (host[end] != ':') {
            return NULL;
        }
        for (i = end + 1; i < n; i++) {
            if (!isdigit((unsigned char) host[i])) {
                return NULL;
            }
        }
    }

    for (i = 0; i < end; i++) {
        h[i] = (char) tolower((unsigned char) host[i]);
    }
    /* "example.com." names the same host as "example.com". */
    if (end > 1 && h[end - 1] == '.') {
        end--;
    }
    h[end] = '\0';

    return h;
}
