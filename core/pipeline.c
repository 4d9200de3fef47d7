/*
 * core/pipeline.c: the request's life: the phases of hooks.h, suspension
 * and resumption, answers outside the hooks, and finishing (LOG).
 *
 * cairn__pipeline_run() walks the phases from where the request stands
 * (r->phase, r->hook), so a request that was suspended continues with the
 * hook after the one that suspended it, with the value that hook passed
 * to cairn_request_resume().
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
static void pipeline_send(cairn_request_t *r);
static void pipeline_output_done(cairn_request_t *r);
static void pipeline_fail(cairn_request_t *r, int status);
static void pipeline_cancel(cairn_request_t *r);
static void pipeline_flushed(cairn_request_t *r);
static void pipeline_options_server(cairn_request_t *r);
static int pipeline_refuse_method(cairn_request_t *r);
static int pipeline_error_document(cairn_request_t *r, int redirect);
static void pipeline_error_document_end(cairn_request_t *r);


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

    if (cairn__crash != NULL && !cairn__crash->served) {
        cairn__crash->served = 1;
    }

    cairn__metrics_request_start();

    return r;
}


/*
 * What the connection reports.  States change only here and in the
 * functions below: HEADERS -> PHASES (the header block is prepared),
 * BODY -> PHASES (the body is in), SENDING -> DONE (written and
 * logged); GONE cancels whatever state r is in, FAIL answers a request
 * whose input cannot be read on.
 */
void
cairn__pipeline_event(cairn_request_t *r, cairn__pev_t ev, int arg)
{
    int  status;

    switch (ev) {
    case CAIRN__EV_HEADERS:
        if (r->state != CAIRN__REQ_HEADERS) {
            return;
        }
        status = cairn__request_prepare(r);
        if (status != 0) {
            pipeline_fail(r, status);
            return;
        }
        if (r->asterisk) {
            pipeline_options_server(r);
            return;
        }
        r->state = CAIRN__REQ_PHASES;
        r->phase = CAIRN_PHASE_POST_READ_REQUEST;
        r->hook = 0;
        cairn__pipeline_run(r, CAIRN_DECLINED);
        return;

    case CAIRN__EV_BODY:
        if (r->state != CAIRN__REQ_BODY) {
            return;
        }
        r->state = CAIRN__REQ_PHASES;
        cairn__pipeline_run(r, CAIRN_DECLINED);
        return;

    case CAIRN__EV_DRAINED:
        if (r->state != CAIRN__REQ_SENDING) {
            return;
        }
        if (r->out_busy > 0) {
            /* Written while the output chain is still on the stack:
             * finished when it returns (pipeline_output_done). */
            r->finish_pending = 1;
            return;
        }
        cairn__request_finish(r);
        return;

    case CAIRN__EV_FLUSHED:
        pipeline_flushed(r);
        return;

    case CAIRN__EV_GONE:
        if (r->state != CAIRN__REQ_DONE) {
            pipeline_cancel(r);
        }
        return;

    case CAIRN__EV_FAIL:
        if (r->state == CAIRN__REQ_HEADERS || r->state == CAIRN__REQ_BODY) {
            pipeline_fail(r, arg);
        }
        return;
    }
}


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

phases:

    while (r->phase < CAIRN_PHASE_RESPONSE) {
        list = &r->server->hooks->kind[r->phase];
        clock_ns = 0;

        if (!resumed && r->hook == 0) {
            if (r->phase == CAIRN_PHASE_ROUTE) {
                request_route(r);
            } else if (r->phase == CAIRN_PHASE_HANDLER && r->has_body
                       && !r->body_done && r->body_cb == NULL
                       && r->errdoc_status == 0)
            {
                if (pipeline_refuse_method(r)) {
                    goto response;
                }
                /* The handler gets the whole body: CAIRN__EV_BODY goes
                 * on from here. */
                r->state = CAIRN__REQ_BODY;
                r->conn->proto->read_body(r);
                return;
            }
        }

        while (r->hook < list->n) {
            h = &list->v[r->hook];

            if (!resumed) {
                /* Bracketed like an output call: a hook that streams
                 * its whole body (or whose client leaves) before it
                 * returns has its request finished here, not under it. */
                r->out_busy++;
                rc = request_call(r, h, &clock_ns);
                if (r->state == CAIRN__REQ_STREAMING
                    || r->state == CAIRN__REQ_SENDING || r->cancelled)
                {
                    /* The stream is the answer, whatever rc says; a
                     * cancelled request is finished. */
                    r->suspended_by = h->module;
                    pipeline_output_done(r);
                    return;
                }
                r->out_busy--;
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
                pipeline_error_document_end(r);
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
                cairn__response_reasonf(r, "the method %s is not allowed "
                                        "on %s", r->method_name, r->path);
                cairn__response_error(r, 405);
            } else {
                cairn__response_reasonf(r, "nothing is served at %s",
                                        r->path);
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
            if (rc == CAIRN_ERROR || rc >= 400) {
                cairn__response_error(r, rc >= 400 && rc <= 599 ? rc : 500);
            }
            r->hook++;
        }
        goto run_response;
    }

    return;

response:

    if (r->state != CAIRN__REQ_STREAMING && pipeline_error_document(r, 1)) {
        /* The phases again, for the ErrorDocument's URL. */
        resumed = 0;
        goto phases;
    }

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
    pipeline_send(r);
}


/* Hands the response of r to its protocol (state SENDING). */
static void
pipeline_send(cairn_request_t *r)
{
    if (r->status == 0) {
        cairn_log(r, CAIRN_LOG_ERROR, 0, "the handler answered without a "
                  "status: sending 500");
        cairn__response_error(r, 500);
    }

    r->state = CAIRN__REQ_SENDING;
    r->out_busy++;
    cairn__output_send(r);
    pipeline_output_done(r);
}


/*
 * An output call (send, a stream's head, data or end) returned.  The
 * request is finished here, not inside the chain, when its response was
 * written (or its client left) meanwhile: the filters that passed the
 * last buffer still run until the outermost call returns.
 */
static void
pipeline_output_done(cairn_request_t *r)
{
    if (--r->out_busy == 0 && r->finish_pending) {
        r->finish_pending = 0;
        cairn__request_finish(r);
    }
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
        cairn__response_reason(r, "this resource is disabled after repeated "
                                  "failures; try again later");
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
 * read (a parse error, a timeout) or prepared.  RESPONSE hooks do not
 * run; LOG does.  Its input stopped half-way, so the connection closes
 * after the answer.
 */
static void
pipeline_fail(cairn_request_t *r, int status)
{
    if (r->loc == NULL && r->error_fixed) {
        /* Short of memory: nothing more is looked up. */
        r->vhost = r->server->main_vhost;
        r->loc = &r->server->main_vhost->base;
    } else if (r->loc == NULL) {
        cairn__request_locate(r);
    }
    if (r->route == NULL && !r->error_fixed && r->path != NULL
        && r->path[0] == '/')
    {
        /* Its route, for a module's error page (mod_rest's envelope). */
        request_route(r);
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
    r->broken = 1;
    cairn__response_error(r, status);
    (void) pipeline_error_document(r, 0);
    if (status == 503) {
        /* Memory was short (http.c): worth trying again in a moment. */
        cairn_response_header_set(r, "Retry-After", "1");
    }
    r->phase = CAIRN_PHASE_LOG;
    pipeline_send(r);
}


/*
 * The location's ErrorDocument for the status of r, when r's body is the
 * core's error page (not a module's own answer, not the fixed page of a
 * worker short of memory): a text or a file (read at load time) replaces
 * the page, keeping the status; an http(s) URL makes it a 302 to there;
 * a local URL, when redirect is set, starts r's phases again from ROUTE
 * for that URL (GET, or HEAD; the body is left unread), whose answer is
 * sent with the original status (pipeline_error_document_end).  A
 * request that is already serving a document gets no other: an error
 * there falls back to the core's page.  Returns 1 when the phases must
 * run again.
 */
static int
pipeline_error_document(cairn_request_t *r, int redirect)
{
    const char  *doc, *nl, *q, *allow, *auth, *retry;
    char         key[8], *path;
    size_t       plen;

    if (r->errdoc_status != 0) {
        pipeline_error_document_end(r);
        return 0;
    }
    if (!r->error_page || r->error_fixed || r->loc == NULL
        || r->loc->core->error_documents.n == 0)
    {
        return 0;
    }

    snprintf(key, sizeof(key), "%d", r->status);
    doc = cairn_kvv_get(&r->loc->core->error_documents, key);
    if (doc == NULL) {
        return 0;
    }

    switch (doc[0]) {

    case 'T':
        cairn_respond(r, r->status, "text/html; charset=utf-8", doc + 1,
                      strlen(doc + 1));
        return 0;

    case 'F':
        nl = strchr(doc, '\n');
        r->content_type = cairn_arena_strndup(r->arena, doc + 1,
                                              (size_t) (nl - doc - 1));
        cairn_respond(r, r->status, NULL, nl + 1, strlen(nl + 1));
        return 0;

    case 'R':
        cairn_response_header_set(r, "Location", doc + 1);
        cairn_respond(r, 302, NULL, "", 0);
        return 0;

    default:
        break;
    }

    if (!redirect) {
        return 0;
    }

    /* The headers that are part of the error stay; the rest described
     * the page it replaces. */
    allow = cairn__headers_get(&r->out_headers, "Allow");
    auth = cairn__headers_get(&r->out_headers, "WWW-Authenticate");
    retry = cairn__headers_get(&r->out_headers, "Retry-After");
    r->out_headers.n = 0;
    if (allow != NULL) {
        cairn_response_header_set(r, "Allow", allow);
    }
    if (auth != NULL) {
        cairn_response_header_set(r, "WWW-Authenticate", auth);
    }
    if (retry != NULL) {
        cairn_response_header_set(r, "Retry-After", retry);
    }

    r->errdoc_status = r->status;
    r->errdoc_reason = r->error_reason;
    r->errdoc_method = r->method;
    r->errdoc_path = r->path;
    r->errdoc_query = r->query;
    r->error_reason = NULL;
    r->status = 0;
    r->content_type = NULL;
    cairn_response_set_body(r, NULL, 0);

    q = strchr(doc + 1, '?');
    plen = q != NULL ? (size_t) (q - doc - 1) : strlen(doc + 1);
    path = cairn_arena_alloc(r->arena, plen + 1);
    if (cairn__path_normalise(doc + 1, plen, path) < 0) {
        path = "/";
    }
    r->path = path;
    r->query = q != NULL ? q + 1 : NULL;
    r->loc = cairn__conf_locate(r->vhost, r->path);
    r->route = NULL;
    r->nparams = 0;
    r->route_405 = 0;
    r->allow = 0;
    if (r->method != CAIRN_METHOD_HEAD) {
        r->method = CAIRN_METHOD_GET;
    }

    r->phase = CAIRN_PHASE_ROUTE;
    r->hook = 0;

    return 1;
}


/*
 * The answer for an ErrorDocument's URL is in: a success is sent with
 * the status of the error it documents (without the validators that
 * would let a cache keep it as the document's own); anything else falls
 * back to the core's page for that error.
 */
static void
pipeline_error_document_end(cairn_request_t *r)
{
    int  status = r->errdoc_status;

    if (status == 0 || r->errdoc_done) {
        return;
    }
    r->errdoc_done = 1;

    if (r->status >= 200 && r->status < 300 && !r->error_page) {
        r->status = status;
        cairn_response_header_unset(r, "ETag");
        cairn_response_header_unset(r, "Last-Modified");
        cairn_response_header_unset(r, "Accept-Ranges");
        cairn_response_header_unset(r, "Content-Range");
    } else {
        cairn_log(r, CAIRN_LOG_WARN, 0, "ErrorDocument %d: its URL %s was "
                  "answered %d; sending the built-in page", status, r->path,
                  r->status);
        r->error_reason = r->errdoc_reason;
        cairn__response_error(r, status);
    }

    /* The log and the metrics speak of the request the client sent. */
    r->method = r->errdoc_method;
    r->path = r->errdoc_path;
    r->query = r->errdoc_query;
}


/*
 * Before the body of r is read for the handlers: when the handler that
 * would take r says it does not serve r's method (handler_methods, ABI
 * 1.3), r is answered 405 now.  Waiting for a body that no handler
 * wants would hold the client until the body arrived or timed out (and
 * promise it a 100 Continue); answered early, the connection discards
 * the body or closes as for any early answer.  Returns 1 after setting
 * the 405.
 */
static int
pipeline_refuse_method(cairn_request_t *r)
{
    const cairn__hook_list_t  *list;
    unsigned                   mask;
    size_t                     i;

    list = &r->server->hooks->kind[CAIRN_PHASE_HANDLER];

    for (i = 0; i < list->n; i++) {
        if (!cairn__module_handler_methods(list->v[i].module, r, &mask)) {
            /* This handler may take r with any method. */
            return 0;
        }
        if (mask == 0) {
            continue;
        }
        if (mask & CAIRN_M(r->method)) {
            return 0;
        }
        cairn__response_allow(r, mask);
        cairn__response_reasonf(r, "the method %s is not allowed on %s",
                                r->method_name, r->path);
        cairn__response_error(r, 405);
        return 1;
    }

    return 0;
}


/*
 * OPTIONS * asks about the server, not a resource: no location, route or
 * handler is involved, so the core answers itself, as Apache does, with
 * the methods it hands to handlers (which of them a given resource takes
 * is for an OPTIONS on that resource to say).  Only LOG hooks run.
 */
static void
pipeline_options_server(cairn_request_t *r)
{
    r->state = CAIRN__REQ_PHASES;
    cairn__response_allow(r, CAIRN_M(CAIRN_METHOD_GET)
                             | CAIRN_M(CAIRN_METHOD_POST)
                             | CAIRN_M(CAIRN_METHOD_PUT)
                             | CAIRN_M(CAIRN_METHOD_DELETE)
                             | CAIRN_M(CAIRN_METHOD_PATCH)
                             | CAIRN_M(CAIRN_METHOD_OPTIONS));
    cairn_respond(r, 200, NULL, "", 0);
    r->phase = CAIRN_PHASE_LOG;
    pipeline_send(r);
}


/*
 * The client went away (or the server stops) while r is in progress:
 * tell the module that is waiting, then log the request.
 */
static void
pipeline_cancel(cairn_request_t *r)
{
    cairn_cancel_cb   cb;

    if (r->cancelled) {
        return;
    }

    r->cancelled = 1;

    cb = r->cancel_cb;
    r->cancel_cb = NULL;
    if (cb != NULL) {
        cairn__log_module = r->suspended_by;
        cb(r, r->cancel_data);
        cairn__log_module = NULL;
    }

    if (!r->headers_sent && r->status == 0) {
        /* nginx's 499: the client closed the request. */
        r->status = 499;
    }

    if (r->out_busy > 0) {
        /* The client left while the output chain runs: finished when the
         * chain returns. */
        r->finish_pending = 1;
    } else if (r->pending_tasks == 0) {
        cairn__request_finish(r);
    }
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

    keepalive = r->keepalive && !r->cancelled;

    cairn__metrics_request_done(r);

    c->proto->done(r, keepalive);
}


/* ------------------------------------------------------------------ */
/* Streamed responses (response.h)                                    */
/* ------------------------------------------------------------------ */

/*
 * A module streams from its own events (an upstream socket), outside
 * any entry of the core: each call brackets the connection like the
 * core's entries do, so a client that fails under a write is freed only
 * when the call returns, never under it.
 */
int
cairn_response_stream_start(cairn_request_t *r, int status)
{
    cairn_conn_t  *c = r->conn;
    int            rc;

    if (r->headers_sent || r->cancelled) {
        return CAIRN_ERROR;
    }

    if (r->errdoc_status != 0 && !r->errdoc_done) {
        /* An ErrorDocument's URL answered by a stream: it goes out with
         * the status of the error it documents. */
        r->errdoc_done = 1;
        if (status >= 200 && status < 300) {
            status = r->errdoc_status;
        }
        r->method = r->errdoc_method;
        r->path = r->errdoc_path;
        r->query = r->errdoc_query;
    }

    cairn__conn_enter(c);
    r->status = status;
    r->body_kind = CAIRN__BODY_STREAM;
    r->state = CAIRN__REQ_STREAMING;

    r->out_busy++;
    rc = cairn__output_stream_head(r);
    pipeline_output_done(r);
    cairn__conn_leave(c);

    return rc;
}


int
cairn_response_stream_write(cairn_request_t *r, const void *data, size_t len)
{
    cairn_conn_t  *c = r->conn;
    cairn_buf_t    b;
    int            rc;

    if (r->state != CAIRN__REQ_STREAMING || r->cancelled) {
        return CAIRN_ERROR;
    }

    cairn__conn_enter(c);
    r->out_busy++;
    if (r->tunnel) {
        /* Another protocol's bytes: no body filter may touch them. */
        memset(&b, 0, sizeof(b));
        b.data = data;
        b.len = len;
        b.fd = -1;
        rc = len > 0 ? c->proto->write(r, &b) : CAIRN_OK;
    } else {
        rc = cairn__output_stream_data(r, data, len);
    }
    pipeline_output_done(r);
    cairn__conn_leave(c);

    return rc;
}


/* After the end, r may be finished and recycled: the caller touches
 * nothing of it. */
int
cairn_response_stream_end(cairn_request_t *r)
{
    cairn_conn_t  *c = r->conn;

    if (r->state != CAIRN__REQ_STREAMING) {
        return CAIRN_ERROR;
    }

    cairn__conn_enter(c);
    r->state = CAIRN__REQ_SENDING;
    r->drain_cb = NULL;

    r->out_busy++;
    (void) cairn__output_stream_end(r);
    pipeline_output_done(r);
    cairn__conn_leave(c);

    return CAIRN_OK;
}


/*
 * The body cannot be completed (the upstream failed half-way): end it
 * without the last chunk and close the connection, so that the client
 * sees a truncated response instead of a complete one.
 */
int
cairn_response_stream_abort(cairn_request_t *r)
{
    if (r->state != CAIRN__REQ_STREAMING) {
        return CAIRN_ERROR;
    }

    r->out_aborted = 1;
    r->keepalive = 0;

    return cairn_response_stream_end(r);
}


/*
 * A 101 whose connection becomes a tunnel: the head goes out, then the
 * client's bytes go to cb and the handler's stream writes go out as
 * they are (http.c's proto->tunnel).
 */
int
cairn_response_tunnel(cairn_request_t *r, int status, cairn_tunnel_cb cb,
                      void *data)
{
    cairn_conn_t  *c = r->conn;
    int            rc;

    if (status != 101 || !r->upgrade || r->headers_sent || r->cancelled
        || cb == NULL || c->proto->tunnel == NULL)
    {
        return CAIRN_ERROR;
    }

    r->tunnel = 1;
    r->tunnel_cb = cb;
    r->tunnel_data = data;
    r->keepalive = 0;

    rc = cairn_response_stream_start(r, status);
    if (rc != CAIRN_OK || r->cancelled) {
        return CAIRN_ERROR;
    }

    cairn__conn_enter(c);
    c->proto->tunnel(r);
    rc = r->cancelled ? CAIRN_ERROR : CAIRN_OK;
    cairn__conn_leave(c);

    return rc;
}


int
cairn_request_body_stream(cairn_request_t *r, cairn_body_cb cb, void *arg)
{
    if (cb == NULL || !r->has_body || r->body_done || r->body_len > 0
        || r->state != CAIRN__REQ_PHASES || r->phase >= CAIRN_PHASE_HANDLER)
    {
        return CAIRN_DECLINED;
    }

    r->body_cb = cb;
    r->body_cb_data = arg;

    return CAIRN_OK;
}


void
cairn_request_body_pause(cairn_request_t *r)
{
    r->body_paused = 1;
}


/* The first call starts reading the body (100 Continue included). */
void
cairn_request_body_resume(cairn_request_t *r)
{
    cairn_conn_t  *c = r->conn;

    if (r->tunnel) {
        /* A tunnel's client bytes: what waits goes over now, and
         * reading goes on. */
        r->body_paused = 0;
        if (!r->cancelled) {
            cairn__conn_enter(c);
            c->proto->tunnel(r);
            cairn__conn_leave(c);
        }
        return;
    }

    if (r->body_cb == NULL || r->body_done || r->cancelled) {
        r->body_paused = 0;
        return;
    }

    r->body_paused = 0;
    r->body_reading = 1;

    cairn__conn_enter(c);
    c->proto->read_body(r);
    cairn__conn_leave(c);
}


void
cairn__pipeline_body_data(cairn_request_t *r, const char *data, size_t len)
{
    /* The handler may ask from inside its call (PHASES), or later. */
    if ((r->state != CAIRN__REQ_PHASES && r->state != CAIRN__REQ_SUSPENDED
         && r->state != CAIRN__REQ_STREAMING)
        || r->cancelled || r->body_cb == NULL)
    {
        return;
    }

    cairn__log_module = r->suspended_by;
    r->body_cb(r, data, len, r->body_cb_data);
    cairn__log_module = NULL;
}


void
cairn__pipeline_tunnel_data(cairn_request_t *r, const char *data, size_t len)
{
    if (r->state != CAIRN__REQ_STREAMING || r->cancelled
        || r->tunnel_cb == NULL)
    {
        return;
    }

    cairn__log_module = r->suspended_by;
    r->tunnel_cb(r, data, len, r->tunnel_data);
    cairn__log_module = NULL;
}


size_t
cairn_response_stream_pending(const cairn_request_t *r)
{
    return r->conn->proto->pending(r);
}


int
cairn_response_stream_on_drain(cairn_request_t *r, cairn_drain_cb cb,
                               void *data)
{
    if (r->state != CAIRN__REQ_STREAMING || r->cancelled) {
        return CAIRN_ERROR;
    }
    if (r->conn->proto->pending(r) == 0) {
        r->drain_cb = NULL;
        return CAIRN_DECLINED;
    }

    r->drain_cb = cb;
    r->drain_data = data;

    return CAIRN_OK;
}


/*
 * What a stream queued is written: run its drain callback once, unless
 * an output call is on the stack (then the module is writing anyway).
 */
static void
pipeline_flushed(cairn_request_t *r)
{
    cairn_drain_cb  cb;

    if (r->state != CAIRN__REQ_STREAMING || r->cancelled || r->out_busy > 0
        || r->drain_cb == NULL)
    {
        return;
    }

    cb = r->drain_cb;
    r->drain_cb = NULL;
    cairn__log_module = r->suspended_by;
    cb(r, r->drain_data);
    cairn__log_module = NULL;
}
