/*
 * core/hooks.c: hook registration, ordering and the server hook runner.
 *
 * Registrations collect in the hook table of the generation being built.
 * Once every module is loaded, cairn__hooks_sort() orders each kind with
 * a topological sort: a hook becomes available when every hook that must
 * run before it (by its own "after" list or another's "before" list) is
 * placed, and among the available hooks the one with the smallest
 * (order, n, registration sequence) goes next.  Without constraints that
 * is a plain stable sort by (order, n).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena_int.h"
#include "conf_int.h"
#include "hooks_int.h"
#include "log_int.h"

cairn__hooks_t  *cairn__hooks_building;


static const char  *hooks_kind_names[CAIRN__HOOK_KINDS] = {
    "post_read_request",
    "route",
    "access",
    "authenticate",
    "authorize",
    "fixups",
    "handler",
    "response",
    "log",
    "pre_config",
    "post_config",
    "worker_init",
    "worker_exit",
    "reopen_logs",
    "connection_open",
    "connection_close",
    "header_filter",
    "body_filter",
    "error_page"
};


static int hooks_register(int kind, cairn_module_t *m, void (*fn)(void),
                          int order, int n, const char *const *before,
                          const char *const *after);
static int hooks_sort_kind(cairn__hook_list_t *list, int kind, char *err,
                           size_t errlen);
static int hooks_names(const char *const *names, const cairn_module_t *m);
static int hooks_less(const cairn__hook_t *x, const cairn__hook_t *y);
static void hooks_cycle(const cairn__hook_list_t *list, int kind,
                        const unsigned char *edge, const unsigned char *placed,
                        char *err, size_t errlen);
static const char *hooks_module_name(const cairn__hook_t *hook);


cairn__hooks_t *
cairn__hooks_create(cairn_arena_t *a)
{
    cairn__hooks_t  *h;

    h = cairn_arena_calloc(a, sizeof(cairn__hooks_t));
    h->arena = a;

    return h;
}


int
cairn__hooks_add(cairn__hooks_t *h, int kind, cairn_module_t *m,
                 void (*fn)(void), int order, int n,
                 const char *const *before, const char *const *after)
{
    cairn__hook_list_t  *list;
    cairn__hook_t       *hook, *v;
    size_t               cap;

    if (h == NULL || kind < 0 || kind >= CAIRN__HOOK_KINDS || m == NULL
        || fn == NULL)
    {
        return CAIRN_ERROR;
    }

    list = &h->kind[kind];

    if (list->n == list->cap) {
        cap = list->cap ? list->cap * 2 : 8;
        v = cairn_arena_alloc(h->arena, cap * sizeof(cairn__hook_t));
        if (list->n > 0) {
            memcpy(v, list->v, list->n * sizeof(cairn__hook_t));
        }
        list->v = v;
        list->cap = cap;
    }

    hook = &list->v[list->n++];
    hook->module = m;
    hook->fn.any = fn;
    hook->order = order;
    hook->n = n;
    hook->seq = h->seq++;
    hook->before = before;
    hook->after = after;

    return CAIRN_OK;
}


int
cairn__hooks_add_decls(cairn__hooks_t *h, cairn_module_t *m,
                       const cairn_hook_decl_t *d, char *err, size_t errlen)
{
    int  kind;

    for ( ; d->kind != -1; d++) {
        if (d->kind >= 0 && d->kind < CAIRN_PHASE_COUNT) {
            kind = d->kind;
        } else if (d->kind >= CAIRN_HOOK_KIND_SERVER(0)
                   && d->kind < CAIRN_HOOK_KIND_SERVER(CAIRN_SERVER_HOOK_COUNT))
        {
            kind = CAIRN__HOOK_SERVER_BASE + d->kind
                   - CAIRN_HOOK_KIND_SERVER(0);
        } else if (d->kind >= CAIRN_HOOK_KIND_CONN(0)
                   && d->kind < CAIRN_HOOK_KIND_CONN(CAIRN_CONN_HOOK_COUNT))
        {
            kind = CAIRN__HOOK_CONN_BASE + d->kind - CAIRN_HOOK_KIND_CONN(0);
        } else if (d->kind == CAIRN_HOOK_KIND_HEADER_FILTER) {
            kind = CAIRN__HOOK_HEADER_FILTER;
        } else if (d->kind == CAIRN_HOOK_KIND_BODY_FILTER) {
            kind = CAIRN__HOOK_BODY_FILTER;
        } else if (d->kind == CAIRN_HOOK_KIND_ERROR_PAGE) {
            kind = CAIRN__HOOK_ERROR_PAGE;
        } else {
            snprintf(err, errlen, "its hooks table has an unknown kind %d "
                     "(built for a newer cairn?)", d->kind);
            return CAIRN_ERROR;
        }

        if (d->fn == NULL) {
            snprintf(err, errlen, "its hooks table has a %s hook without "
                     "a function", cairn__hook_kind_name(kind));
            return CAIRN_ERROR;
        }

        if (cairn__hooks_add(h, kind, m, d->fn, d->order, d->n, d->before,
                             d->after) != CAIRN_OK)
        {
            snprintf(err, errlen, "cannot register its %s hook",
                     cairn__hook_kind_name(kind));
            return CAIRN_ERROR;
        }
    }

    return CAIRN_OK;
}


int
cairn_hook_request(cairn_module_t *m, cairn_phase_t phase,
                   cairn_request_hook_cb fn, int order, int n,
                   const char *const *before, const char *const *after)
{
    if ((int) phase < 0 || phase >= CAIRN_PHASE_COUNT) {
        return CAIRN_ERROR;
    }

    return hooks_register((int) phase, m, (void (*)(void)) fn, order, n,
                          before, after);
}


int
cairn_hook_server(cairn_module_t *m, cairn_server_hook_t which,
                  cairn_server_hook_cb fn, int order, int n,
                  const char *const *before, const char *const *after)
{
    if ((int) which < 0 || which >= CAIRN_SERVER_HOOK_COUNT) {
        return CAIRN_ERROR;
    }

    return hooks_register(CAIRN__HOOK_SERVER_BASE + (int) which, m,
                          (void (*)(void)) fn, order, n, before, after);
}


int
cairn_hook_conn(cairn_module_t *m, cairn_conn_hook_t which,
                cairn_conn_hook_cb fn, int order, int n,
                const char *const *before, const char *const *after)
{
    if ((int) which < 0 || which >= CAIRN_CONN_HOOK_COUNT) {
        return CAIRN_ERROR;
    }

    return hooks_register(CAIRN__HOOK_CONN_BASE + (int) which, m,
                          (void (*)(void)) fn, order, n, before, after);
}


int
cairn_hook_header_filter(cairn_module_t *m, cairn_header_filter_cb fn,
                         int order, int n, const char *const *before,
                         const char *const *after)
{
    return hooks_register(CAIRN__HOOK_HEADER_FILTER, m, (void (*)(void)) fn,
                          order, n, before, after);
}


int
cairn_hook_body_filter(cairn_module_t *m, cairn_body_filter_cb fn,
                       int order, int n, const char *const *before,
                       const char *const *after)
{
    return hooks_register(CAIRN__HOOK_BODY_FILTER, m, (void (*)(void)) fn,
                          order, n, before, after);
}


int
cairn_hook_error_page(cairn_module_t *m, cairn_error_page_cb fn, int order,
                      int n, const char *const *before,
                      const char *const *after)
{
    return hooks_register(CAIRN__HOOK_ERROR_PAGE, m, (void (*)(void)) fn,
                          order, n, before, after);
}


const char *
cairn_phase_name(cairn_phase_t phase)
{
    if ((int) phase < 0 || phase >= CAIRN_PHASE_COUNT) {
        return "unknown";
    }

    return hooks_kind_names[phase];
}


const char *
cairn__hook_kind_name(int kind)
{
    if (kind < 0 || kind >= CAIRN__HOOK_KINDS) {
        return "unknown";
    }

    return hooks_kind_names[kind];
}


int
cairn__hooks_sort(cairn__hooks_t *h, char *err, size_t errlen)
{
    int  kind;

    for (kind = 0; kind < CAIRN__HOOK_KINDS; kind++) {
        if (hooks_sort_kind(&h->kind[kind], kind, err, errlen) != 0) {
            return -1;
        }
    }

    return 0;
}


int
cairn__server_hooks_run(cairn_server_t *s, cairn_server_hook_t which)
{
    const cairn__hook_list_t  *list;
    size_t                     i;
    int                        rc;

    if (s == NULL || s->hooks == NULL || (int) which < 0
        || which >= CAIRN_SERVER_HOOK_COUNT)
    {
        return CAIRN_OK;
    }

    list = &s->hooks->kind[CAIRN__HOOK_SERVER_BASE + (int) which];

    for (i = 0; i < list->n; i++) {
        cairn__log_module = list->v[i].module;
        rc = list->v[i].fn.srv(s);
        cairn__log_module = NULL;

        if (rc != CAIRN_OK && rc != CAIRN_DECLINED) {
            return rc;
        }
    }

    return CAIRN_OK;
}


static int
hooks_register(int kind, cairn_module_t *m, void (*fn)(void), int order,
               int n, const char *const *before, const char *const *after)
{
    if (cairn__hooks_building == NULL) {
        return CAIRN_ERROR;
    }

    return cairn__hooks_add(cairn__hooks_building, kind, m, fn, order, n,
                            before, after);
}


/*
 * edge[i * n + j] says hook i must run before hook j.  Hooks of the same
 * module never constrain each other: a module orders its own hooks with
 * (order, n).
 */
static int
hooks_sort_kind(cairn__hook_list_t *list, int kind, char *err,
                size_t errlen)
{
    cairn__hook_t   *sorted;
    unsigned char   *edge, *placed;
    unsigned        *indeg;
    size_t           n, i, j, k, best;
    int              constrained, rc;

    n = list->n;
    if (n < 2) {
        return 0;
    }

    edge = calloc(n * n + n, 1);
    indeg = calloc(n, sizeof(unsigned));
    sorted = malloc(n * sizeof(cairn__hook_t));
    if (edge == NULL || indeg == NULL || sorted == NULL) {
        cairn__oom(n * n + n * (sizeof(unsigned) + sizeof(cairn__hook_t)));
    }
    placed = edge + n * n;

    constrained = 0;
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            if (i == j || list->v[i].module == list->v[j].module) {
                continue;
            }
            if (hooks_names(list->v[i].before, list->v[j].module)
                || hooks_names(list->v[j].after, list->v[i].module))
            {
                if (!edge[i * n + j]) {
                    edge[i * n + j] = 1;
                    indeg[j]++;
                    constrained = 1;
                }
            }
        }
    }

    for (k = 0; k < n; k++) {
        best = n;
        for (i = 0; i < n; i++) {
            if (!placed[i] && indeg[i] == 0
                && (best == n || hooks_less(&list->v[i], &list->v[best])))
            {
                best = i;
            }
        }

        if (best == n) {
            hooks_cycle(list, kind, edge, placed, err, errlen);
            rc = -1;
            goto done;
        }

        placed[best] = 1;
        sorted[k] = list->v[best];
        if (constrained) {
            for (j = 0; j < n; j++) {
                if (edge[best * n + j]) {
                    indeg[j]--;
                }
            }
        }
    }

    memcpy(list->v, sorted, n * sizeof(cairn__hook_t));
    rc = 0;

done:

    free(sorted);
    free(indeg);
    free(edge);

    return rc;
}


/* Whether the NULL-terminated list names module m. */
static int
hooks_names(const char *const *names, const cairn_module_t *m)
{
    if (names == NULL || m->name == NULL) {
        return 0;
    }

    for ( /* void */ ; *names != NULL; names++) {
        if (strcmp(*names, m->name) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
hooks_less(const cairn__hook_t *x, const cairn__hook_t *y)
{
    if (x->order != y->order) {
        return x->order < y->order;
    }

    if (x->n != y->n) {
        return x->n < y->n;
    }

    return x->seq < y->seq;
}


/*
 * Every hook left unplaced still waits for another unplaced hook, so
 * walking from any of them to a predecessor, again and again, must come
 * back to a hook already seen: the hooks from there on form a cycle.  It
 * is reported in running order, starting from the hook that sorts first:
 * "mod_a must run before mod_b, mod_b before mod_c and mod_c before
 * mod_a".
 */
static void
hooks_cycle(const cairn__hook_list_t *list, int kind,
            const unsigned char *edge, const unsigned char *placed,
            char *err, size_t errlen)
{
    const cairn__hook_t  *from, *to;
    size_t               *path, *seen, *cycle;
    size_t                n, i, j, len, ncycle, first, pos;
    int                   w;

    if (err == NULL || errlen == 0) {
        return;
    }

    n = list->n;
    path = malloc(2 * n * sizeof(size_t));
    if (path == NULL) {
        cairn__oom(2 * n * sizeof(size_t));
    }
    seen = path + n;

    for (i = 0; i < n; i++) {
        seen[i] = n;
    }

    for (i = 0; placed[i]; i++) {
        /* void */
    }

    len = 0;
    while (seen[i] == n) {
        seen[i] = len;
        path[len++] = i;
        for (j = 0; j < n; j++) {
            if (!placed[j] && edge[j * n + i]) {
                break;
            }
        }
        i = j;
    }

    /* path[seen[i]] .. path[len - 1] is the cycle walked backwards (each
     * hook runs before the one preceding it in path); reverse it in
     * place so that it reads in running order. */
    cycle = path + seen[i];
    ncycle = len - seen[i];
    for (j = 0; j < ncycle / 2; j++) {
        i = cycle[j];
        cycle[j] = cycle[ncycle - 1 - j];
        cycle[ncycle - 1 - j] = i;
    }

    first = 0;
    for (j = 1; j < ncycle; j++) {
        if (hooks_less(&list->v[cycle[j]], &list->v[cycle[first]])) {
            first = j;
        }
    }

    w = snprintf(err, errlen, "hook order cycle in phase '%s': ",
                 cairn__hook_kind_name(kind));
    pos = w > 0 ? (size_t) w : errlen;

    for (j = 0; j < ncycle && pos < errlen; j++) {
        from = &list->v[cycle[(first + j) % ncycle]];
        to = &list->v[cycle[(first + j + 1) % ncycle]];

        w = snprintf(err + pos, errlen - pos, "%smod_%s %s mod_%s",
                     j == 0 ? "" : (j == ncycle - 1 ? " and " : ", "),
                     hooks_module_name(from),
                     j == 0 ? "must run before" : "before",
                     hooks_module_name(to));
        if (w < 0) {
            break;
        }
        pos += (size_t) w;
    }

    free(path);
}


static const char *
hooks_module_name(const cairn__hook_t *hook)
{
    return hook->module->name != NULL ? hook->module->name : "?";
}
