/*
 * core/crash.c: crash records and quarantine.
 *
 * When a worker dies of a fatal signal, its handler copies what it was
 * doing (module and hook, or what the core was doing with which
 * connection; location, request line, request id, client) into a record
 * the master allocated before the fork, then lets the signal kill the
 * process.  The master reads the record, logs it, and counts crashes per
 * module and location; past CrashQuarantine it adds the pair to the
 * generation's quarantine list, and workers answer 503 instead of calling
 * that module's hooks there, until the next reload.
 *
 * Everything the handler does is async-signal-safe: plain byte copies
 * from memory that is already there, no allocation, no stdio.
 */

#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"
#include "log_int.h"
#include "worker_int.h"


cairn__crash_t       *cairn__crash;
cairn__quarantine_t  *cairn__quarantine;
cairn_request_t      *cairn__current_request;
int                   cairn__current_phase = -1;

static const int      crash_signals[] = {
    SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT
};

static void crash_handler(int signo);


static void
crash_copy(char *dst, size_t cap, const char *src)
{
    size_t  i = 0;

    if (src != NULL) {
        while (i + 1 < cap && src[i] != '\0') {
            dst[i] = src[i];
            i++;
        }
    }
    dst[i] = '\0';
}


static size_t
crash_append(char *dst, size_t at, size_t cap, const char *src)
{
    while (src != NULL && *src != '\0' && at + 1 < cap) {
        dst[at++] = *src++;
    }
    dst[at] = '\0';

    return at;
}


void
cairn__crash_handlers_install(void)
{
    static char       altstack[64 * 1024];
    stack_t           ss;
    struct sigaction  sa;
    size_t            i;

    /* A stack overflow must still be able to run the handler. */
    ss.ss_sp = altstack;
    ss.ss_size = sizeof(altstack);
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = crash_handler;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);

    for (i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
        sigaction(crash_signals[i], &sa, NULL);
    }
}


static void
crash_handler(int signo)
{
    cairn__crash_t         *cr = cairn__crash;
    const cairn_conn_t     *c = cairn__current_conn;
    const cairn_request_t  *r = cairn__current_request;
    static const char       hex[] = "0123456789abcdef";
    size_t                  n;
    int                     k;

    if (r == NULL && c != NULL) {
        /* The core itself, in a connection's callback: the request it
         * was reading or answering, if any. */
        r = c->req;
    }

    if (cr != NULL && !cr->filled) {
        cr->signo = signo;
        /* What was copied stays even if a copy below faults again. */
        cr->filled = 1;
        crash_copy(cr->module, sizeof(cr->module),
                   cairn__log_module ? cairn__log_module->name : "");
        if (cairn__current_phase >= 0) {
            crash_copy(cr->hook, sizeof(cr->hook),
                       cairn__hook_kind_name(cairn__current_phase));
        } else if (c != NULL) {
            crash_copy(cr->hook, sizeof(cr->hook),
                       c->lingering ? "lingering close"
                       : c->discarding ? "discarding a body"
                       : r == NULL ? "an idle connection"
                       : r->state == CAIRN__REQ_HEADERS ? "reading a request"
                       : r->state == CAIRN__REQ_BODY ? "reading a body"
                       : "answering a request");
        }
        if (c != NULL) {
            crash_copy(cr->client, sizeof(cr->client), c->peer_text);
        }

        if (r != NULL) {
            crash_copy(cr->location, sizeof(cr->location),
                       r->loc && r->loc->name ? r->loc->name : "");
            n = crash_append(cr->request, 0, sizeof(cr->request),
                             r->method_name ? r->method_name : "-");
            n = crash_append(cr->request, n, sizeof(cr->request), " ");
            n = crash_append(cr->request, n, sizeof(cr->request),
                             r->target ? r->target : "-");
            crash_append(cr->request, n, sizeof(cr->request),
                         r->version == 10 ? " HTTP/1.0" : " HTTP/1.1");

            /* The request id, formatted as cairn_request_id() does. */
            for (k = 0; k < 8; k++) {
                cr->request_id[k] = hex[(r->conn->worker->id_seed
                                         >> (28 - 4 * k)) & 0xf];
            }
            for (k = 0; k < 8; k++) {
                cr->request_id[8 + k] = hex[(r->seq >> (28 - 4 * k)) & 0xf];
            }
            cr->request_id[16] = '\0';
        }
    }

    /* SA_RESETHAND restored the default action: die of the signal. */
    signal(signo, SIG_DFL);
    raise(signo);
}


int
cairn__quarantined(cairn_request_t *r, const cairn_module_t *m)
{
    cairn__quarantine_t  *q = cairn__quarantine;
    const char           *loc;
    int                   i, n;

    loc = r->loc && r->loc->name ? r->loc->name : "";
    n = q->n;

    for (i = 0; i < n && i < CAIRN__QUARANTINE_MAX; i++) {
        if (strcmp(q->v[i].module, m->name) == 0
            && strcmp(q->v[i].location, loc) == 0)
        {
            cairn_log(r, CAIRN_LOG_ERROR, 0, "mod_%s is quarantined in %s "
                      "after repeated crashes: answering 503 (a reload "
                      "lifts it)", m->name, loc[0] ? loc : "the server scope");
            return 1;
        }
    }

    return 0;
}
