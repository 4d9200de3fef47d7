/*
 * core/conf_merge.c: merging the scopes, once per location, and finding
 * the result for a request.
 *
 * cairn__conf_finalize() turns the raw per-scope configs written by the
 * parser into one merged config per module for every kind of request a
 * virtual host can see:
 *
 *   base           server (-> virtual host)
 *   at_prefix[p]   base -> every prefix location that contains the path
 *                  of prefix location p, shortest first
 *   at_regex[..]   at_prefix[p] (or base) -> regex location r
 *
 * A named virtual host inherits the server's <Location> and
 * <LocationMatch> sections: its prefix list is its own plus the
 * server's, sorted longest first, and its regex list is its own, then the
 * server's, each in config order.  Among prefix locations of the same
 * path the server's merge first, so the virtual host's own one wins.
 *
 * The per-request lookups, cairn__conf_vhost() and cairn__conf_locate(),
 * only compare strings and run regexec(): they allocate nothing.
 */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena_int.h"
#include "conf_int.h"
#include "hooks_int.h"
#include "log_int.h"


/* One prefix location while a virtual host's list is put together. */
typedef struct {
    cairn__scope_t          *scope;
    size_t                   len;
    int                      outer;     /* a server-level location seen
                                           from a named virtual host */
    size_t                   ord;       /* config order in its group */
} conf_merge_pre_t;

/*
 * One merge step already done: the same parent config merged with the
 * same scope gives the same result, so locations reached through several
 * paths (a server-level <Location> in every virtual host that adds
 * nothing of the module) share one merged config.
 */
typedef struct {
    const void              *pconf;     /* NULL: a free slot */
    const cairn__scope_t    *scope;
    size_t                   modidx;
    cairn__mconf_t           out;
} conf_merge_memo_t;

/* The merged configs already visited by cairn_server_each_conf(). */
typedef struct {
    const void             **v;
    size_t                   n;
    size_t                   cap;
} conf_merge_seen_t;


static void conf_merge_vhost(cairn_server_t *s, cairn__vhost_t *vh,
                             const cairn__vhost_t *outer);
static void conf_merge_prefixes(cairn_server_t *s, cairn__vhost_t *vh,
                                const cairn__vhost_t *outer);
static void conf_merge_regexes(cairn_server_t *s, cairn__vhost_t *vh,
                               const cairn__vhost_t *outer);
static void conf_merge_loc(cairn_server_t *s, cairn__loc_t *loc,
                           const cairn__loc_t *from,
                           cairn__scope_t *const *scopes, size_t nscopes,
                           const char *name);
static cairn__mconf_t *conf_merge_scope(cairn_server_t *s,
                                        const cairn__mconf_t *parent,
                                        const cairn__scope_t *sc);
static void conf_merge_module(cairn_server_t *s, size_t modidx,
                              const cairn__mconf_t *p,
                              const cairn__mconf_t *c, cairn__mconf_t *out,
                              const cairn__scope_t *sc);
static void conf_merge_append(cairn_arena_t *a, const void *p, const void *c,
                              void *out);
static void conf_merge_keys(cairn_arena_t *a, const void *p, const void *c,
                            void *out);
static void conf_merge_error(cairn_server_t *s, const cairn__scope_t *sc,
                             const cairn_module_t *m, const char *msg);
static int conf_merge_none_set(const cairn_module_t *m,
                               const cairn__mconf_t *mc);
static size_t conf_merge_ndirs(const cairn_module_t *m);
static int conf_merge_by_length(const void *x, const void *y);
static int conf_merge_by_order(const void *x, const void *y);
static void conf_merge_routes(cairn_server_t *s);
static void conf_merge_route_add(const cairn__route_t *route, void *data);
static void conf_merge_post_config(cairn_server_t *s);
static conf_merge_memo_t *conf_merge_memo_slot(const void *pconf,
                                               const cairn__scope_t *sc,
                                               size_t modidx);
static void conf_merge_memo_add(const void *pconf, const cairn__scope_t *sc,
                                size_t modidx, const cairn__mconf_t *out);
static size_t conf_merge_memo_hash(const void *pconf,
                                   const cairn__scope_t *sc, size_t modidx);
static const char *conf_merge_visit(conf_merge_seen_t *seen,
                                    const cairn__loc_t *loc, size_t idx,
                                    const char *where,
                                    cairn_conf_visit_cb cb, void *data);


/* The merge steps of the finalize running now (open addressing). */
static conf_merge_memo_t  *conf_merge_memo;
static size_t              conf_merge_memo_cap;
static size_t              conf_merge_memo_n;


int
cairn__conf_finalize(cairn_server_t *s)
{
    char    err[512];
    size_t  i;

    /* Merging twice would add the server's locations to the virtual
     * hosts' lists twice. */
    if (s->main_vhost->base.mconf != NULL) {
        return s->nerrors > 0 ? -1 : 0;
    }

    cairn__server_building = s;

    if (s->hooks != NULL
        && cairn__hooks_sort(s->hooks, err, sizeof(err)) != 0)
    {
        cairn__conf_error(s, NULL, 0, "%s", err);
    }

    /* The server's own locations first: named virtual hosts add them to
     * theirs. */
    conf_merge_vhost(s, s->main_vhost, NULL);

    for (i = 0; i < s->nvhosts; i++) {
        conf_merge_vhost(s, s->vhosts[i], s->main_vhost);
    }

    free(conf_merge_memo);
    conf_merge_memo = NULL;
    conf_merge_memo_cap = 0;
    conf_merge_memo_n = 0;

    conf_merge_routes(s);

    /* post_config hooks validate a configuration that makes sense so
     * far; after an error they would only add noise. */
    if (s->nerrors == 0 && s->hooks != NULL) {
        conf_merge_post_config(s);
    }

    cairn__server_building = NULL;

    return s->nerrors > 0 ? -1 : 0;
}


const cairn__vhost_t *
cairn__conf_vhost(const cairn_server_t *s, const char *host)
{
    const cairn__vhost_t  *vh;
    size_t                 i, j;

    if (host == NULL || host[0] == '\0') {
        return s->main_vhost;
    }

    for (i = 0; i < s->nvhosts; i++) {
        vh = s->vhosts[i];
        for (j = 0; j < vh->names.n; j++) {
            if (strcasecmp(vh->names.v[j], host) == 0) {
                return vh;
            }
        }
    }

    return s->main_vhost;
}


const cairn__loc_t *
cairn__conf_locate(const cairn__vhost_t *vh, const char *path)
{
    size_t  p, r;

    if (path == NULL) {
        return &vh->base;
    }

    for (p = 0; p < vh->nprefix; p++) {
        if (cairn__conf_prefix_match(vh->prefix[p]->name, path)) {
            break;
        }
    }

    for (r = 0; r < vh->nregex; r++) {
        if (regexec(&vh->regex[r]->re, path, 0, NULL, 0) == 0) {
            return &vh->at_regex[p * vh->nregex + r];
        }
    }

    return p < vh->nprefix ? &vh->at_prefix[p] : &vh->base;
}


/*
 * "/admin" contains "/admin", "/admin/" and "/admin/x" but not
 * "/administrator"; a prefix ending in '/' contains every path that
 * starts with it ("/" contains all).
 */
size_t
cairn__conf_group_first(const cairn_module_t *m, size_t i)
{
    const cairn_directive_t  *d = &m->directives[i];
    size_t                    j;

    for (j = 0; j < i; j++) {
        if (m->directives[j].merge == CAIRN_MERGE_SCOPE
            && m->directives[j].offset == d->offset
            && m->directives[j].size == d->size)
        {
            return j;
        }
    }

    return i;
}


int
cairn__conf_group_set(const cairn_module_t *m, const cairn__mconf_t *mc,
                      size_t i)
{
    const cairn_directive_t  *d = &m->directives[i];
    size_t                    j;

    if (mc->set == NULL) {
        return 0;
    }

    for (j = 0; m->directives[j].name != NULL; j++) {
        if (mc->set[j] && m->directives[j].merge == CAIRN_MERGE_SCOPE
            && m->directives[j].offset == d->offset
            && m->directives[j].size == d->size)
        {
            return 1;
        }
    }

    return 0;
}


int
cairn__conf_prefix_match(const char *prefix, const char *path)
{
    size_t  n;

    n = strlen(prefix);
    if (n == 0) {
        return 1;
    }

    if (strncmp(prefix, path, n) != 0) {
        return 0;
    }

    return prefix[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
}


void *
cairn_server_conf(cairn_server_t *s, const cairn_module_t *m)
{
    const cairn__loc_t  *base;

    if (s == NULL || m == NULL || s->main_vhost == NULL || m->index < 0
        || (size_t) m->index >= s->nmods || s->mods[m->index].m != m)
    {
        return NULL;
    }

    base = &s->main_vhost->base;
    if (base->mconf == NULL) {
        return NULL;
    }

    return base->mconf[m->index].conf;
}


/*
 * Scopes that configure nothing of their own for a module share the
 * merged config of the scope around them; such a config is visited once,
 * under the first name it was reached by (outermost first).
 */
const char *
cairn_server_each_conf(cairn_server_t *s, const cairn_module_t *m,
                       cairn_conf_visit_cb cb, void *data)
{
    const cairn__vhost_t  *vh;
    conf_merge_seen_t      seen;
    const char            *msg, *where;
    size_t                 idx, i, k, nloc;

    if (s == NULL || m == NULL || cb == NULL || s->main_vhost == NULL
        || s->main_vhost->base.mconf == NULL || m->index < 0
        || (size_t) m->index >= s->nmods || s->mods[m->index].m != m)
    {
        return NULL;
    }

    idx = (size_t) m->index;
    seen.v = NULL;
    seen.n = 0;
    seen.cap = 0;
    msg = NULL;

    for (i = 0; i <= s->nvhosts && msg == NULL; i++) {
        vh = i == 0 ? s->main_vhost : s->vhosts[i - 1];

        if (i == 0) {
            where = "server";
        } else if (vh->names.n > 0) {
            where = vh->names.v[0];
        } else {
            where = vh->scope->name;
        }

        msg = conf_merge_visit(&seen, &vh->base, idx, where, cb, data);

        for (k = 0; k < vh->nprefix && msg == NULL; k++) {
            msg = conf_merge_visit(&seen, &vh->at_prefix[k], idx,
                                   vh->at_prefix[k].name, cb, data);
        }

        nloc = (vh->nprefix + 1) * vh->nregex;
        for (k = 0; k < nloc && msg == NULL; k++) {
            msg = conf_merge_visit(&seen, &vh->at_regex[k], idx,
                                   vh->at_regex[k].name, cb, data);
        }
    }

    free(seen.v);

    return msg;
}


static const char *
conf_merge_visit(conf_merge_seen_t *seen, const cairn__loc_t *loc,
                 size_t idx, const char *where, cairn_conf_visit_cb cb,
                 void *data)
{
    const void  **v;
    void         *conf;
    size_t        i, cap;

    if (loc->mconf == NULL) {
        return NULL;
    }

    conf = loc->mconf[idx].conf;
    if (conf == NULL) {
        return NULL;
    }

    for (i = 0; i < seen->n; i++) {
        if (seen->v[i] == conf) {
            return NULL;
        }
    }

    if (seen->n == seen->cap) {
        cap = seen->cap ? seen->cap * 2 : 16;
        v = realloc(seen->v, cap * sizeof(void *));
        if (v == NULL) {
            cairn__oom(cap * sizeof(void *));
        }
        seen->v = v;
        seen->cap = cap;
    }
    seen->v[seen->n++] = conf;

    return cb(conf, where != NULL ? where : "server", data);
}


/*
 * Merges everything one virtual host can see.  outer is the server's
 * virtual host for a named one, NULL for the server's own.
 */
static void
conf_merge_vhost(cairn_server_t *s, cairn__vhost_t *vh,
                 const cairn__vhost_t *outer)
{
    cairn_arena_t       *a = s->arena;
    cairn__scope_t      *sc;
    const cairn__loc_t  *from;
    size_t               p, r, np, nr;

    conf_merge_prefixes(s, vh, outer);
    conf_merge_regexes(s, vh, outer);

    sc = vh->scope != NULL ? vh->scope : s->main;
    conf_merge_loc(s, &vh->base, outer != NULL ? &outer->base : NULL, &sc, 1,
                   NULL);

    np = vh->nprefix;
    nr = vh->nregex;

    vh->at_prefix = cairn_arena_calloc(a, (np > 0 ? np : 1)
                                          * sizeof(cairn__loc_t));
    vh->at_regex = cairn_arena_calloc(a, (nr > 0 ? (np + 1) * nr : 1)
                                         * sizeof(cairn__loc_t));

    /* at_prefix[p]: every prefix location containing p's path, in merge
     * order (shortest first; the server's before the virtual host's own;
     * then config order). */
    if (np > 0) {
        conf_merge_pre_t  *pre, *cand;
        cairn__scope_t   **scopes;
        size_t             k, n;

        pre = malloc(np * sizeof(conf_merge_pre_t));
        cand = malloc(np * sizeof(conf_merge_pre_t));
        scopes = malloc(np * sizeof(cairn__scope_t *));
        if (pre == NULL || cand == NULL || scopes == NULL) {
            cairn__oom(np * (2 * sizeof(conf_merge_pre_t) + sizeof(void *)));
        }

        for (k = 0; k < np; k++) {
            pre[k].scope = vh->prefix[k];
            pre[k].len = strlen(vh->prefix[k]->name);
            pre[k].outer = outer != NULL && vh->prefix[k]->parent != vh->scope;
            pre[k].ord = k;
        }

        for (p = 0; p < np; p++) {
            n = 0;
            for (k = 0; k < np; k++) {
                if (cairn__conf_prefix_match(pre[k].scope->name,
                                             vh->prefix[p]->name))
                {
                    cand[n++] = pre[k];
                }
            }
            qsort(cand, n, sizeof(conf_merge_pre_t), conf_merge_by_order);
            for (k = 0; k < n; k++) {
                scopes[k] = cand[k].scope;
            }

            conf_merge_loc(s, &vh->at_prefix[p], &vh->base, scopes, n,
                           vh->prefix[p]->name);
        }

        free(scopes);
        free(cand);
        free(pre);
    }

    for (p = 0; p <= np; p++) {
        from = p < np ? &vh->at_prefix[p] : &vh->base;
        for (r = 0; r < nr; r++) {
            conf_merge_loc(s, &vh->at_regex[p * nr + r], from, &vh->regex[r],
                           1, vh->regex[r]->name);
        }
    }
}


/*
 * Replaces vh->prefix (the locations written in vh, in config order) by
 * the list the lookup walks: those plus, for a named virtual host, the
 * server's, longest path first.  Equal paths keep the virtual host's own
 * first, then config order, so the first match is always the same one.
 */
static void
conf_merge_prefixes(cairn_server_t *s, cairn__vhost_t *vh,
                    const cairn__vhost_t *outer)
{
    conf_merge_pre_t  *pre;
    size_t             n, own, k;

    own = vh->nprefix;
    n = own + (outer != NULL ? outer->nprefix : 0);
    if (n == 0) {
        vh->prefix = NULL;
        vh->nprefix = 0;
        return;
    }

    pre = malloc(n * sizeof(conf_merge_pre_t));
    if (pre == NULL) {
        cairn__oom(n * sizeof(conf_merge_pre_t));
    }

    for (k = 0; k < n; k++) {
        pre[k].scope = k < own ? vh->prefix[k] : outer->prefix[k - own];
        pre[k].len = strlen(pre[k].scope->name);
        pre[k].outer = k >= own;
        pre[k].ord = k < own ? k : k - own;
    }

    qsort(pre, n, sizeof(conf_merge_pre_t), conf_merge_by_length);

    vh->prefix = cairn_arena_alloc(s->arena, n * sizeof(cairn__scope_t *));
    for (k = 0; k < n; k++) {
        vh->prefix[k] = pre[k].scope;
    }
    vh->nprefix = n;

    free(pre);
}


/* A named virtual host's regex list: its own, then the server's. */
static void
conf_merge_regexes(cairn_server_t *s, cairn__vhost_t *vh,
                   const cairn__vhost_t *outer)
{
    cairn__scope_t  **v;
    size_t            n;

    if (outer == NULL || outer->nregex == 0) {
        return;
    }

    n = vh->nregex + outer->nregex;
    v = cairn_arena_alloc(s->arena, n * sizeof(cairn__scope_t *));
    if (vh->nregex > 0) {
        memcpy(v, vh->regex, vh->nregex * sizeof(cairn__scope_t *));
    }
    memcpy(v + vh->nregex, outer->regex,
           outer->nregex * sizeof(cairn__scope_t *));

    vh->regex = v;
    vh->nregex = n;
}


/* Longest first; equal lengths: own before the server's, then config
 * order. */
static int
conf_merge_by_length(const void *x, const void *y)
{
    const conf_merge_pre_t  *a = x, *b = y;

    if (a->len != b->len) {
        return a->len > b->len ? -1 : 1;
    }
    if (a->outer != b->outer) {
        return a->outer - b->outer;
    }
    if (a->ord != b->ord) {
        return a->ord < b->ord ? -1 : 1;
    }

    return 0;
}


/* Merge order: shortest first; equal lengths: the server's before the
 * virtual host's own, then config order (the later one wins). */
static int
conf_merge_by_order(const void *x, const void *y)
{
    const conf_merge_pre_t  *a = x, *b = y;

    if (a->len != b->len) {
        return a->len < b->len ? -1 : 1;
    }
    if (a->outer != b->outer) {
        return b->outer - a->outer;
    }
    if (a->ord != b->ord) {
        return a->ord < b->ord ? -1 : 1;
    }

    return 0;
}


/*
 * Fills loc with from's merged configs (NULL: none, for the server
 * scope) and the raw configs of scopes merged on top, in that order;
 * nscopes is at least 1.
 */
static void
conf_merge_loc(cairn_server_t *s, cairn__loc_t *loc, const cairn__loc_t *from,
               cairn__scope_t *const *scopes, size_t nscopes, const char *name)
{
    cairn__mconf_t         *mconf;
    const cairn__scope_t  **chain;
    size_t                  nchain, k;

    nchain = (from != NULL ? from->nchain : 0) + nscopes;
    chain = cairn_arena_alloc(s->arena,
                              (nchain ? nchain : 1) * sizeof(*chain));
    if (from != NULL && from->nchain > 0) {
        memcpy(chain, from->chain, from->nchain * sizeof(*chain));
    }

    mconf = from != NULL ? from->mconf : NULL;
    for (k = 0; k < nscopes; k++) {
        mconf = conf_merge_scope(s, mconf, scopes[k]);
        chain[nchain - nscopes + k] = scopes[k];
    }

    loc->name = name;
    loc->mconf = mconf;
    loc->core = mconf[0].conf;
    loc->chain = chain;
    loc->nchain = nchain;
}


/* One merge step: parent's merged configs (NULL at the server scope)
 * with the raw configs of scope sc. */
static cairn__mconf_t *
conf_merge_scope(cairn_server_t *s, const cairn__mconf_t *parent,
                 const cairn__scope_t *sc)
{
    cairn__mconf_t        *out;
    const cairn__mconf_t  *c;
    size_t                 i;

    out = cairn_arena_calloc(s->arena, (s->nmods ? s->nmods : 1)
                                       * sizeof(cairn__mconf_t));

    for (i = 0; i < s->nmods; i++) {
        c = sc != NULL && sc->raw != NULL && sc->raw[i].conf != NULL
            ? &sc->raw[i] : NULL;
        conf_merge_module(s, i, parent != NULL ? &parent[i] : NULL, c,
                          &out[i], sc);
    }

    return out;
}


/*
 * Merges module modidx: p is the merged parent (NULL at the server
 * scope), c the raw config of the scope (NULL when nothing of the module
 * was written there).  Directive i of the table:
 *
 *   set in c          REPLACE, NONE: c's value; APPEND: p's items, then
 *                     c's; KEY: p's keys with c's overlaid
 *   set in p only     p's value, unless NONE
 *   set in neither    the create_conf() default
 *
 * and the merged flag is set when the value came from a directive.
 */
static void
conf_merge_module(cairn_server_t *s, size_t modidx, const cairn__mconf_t *p,
                  const cairn__mconf_t *c, cairn__mconf_t *out,
                  const cairn__scope_t *sc)
{
    cairn_arena_t            *a = s->arena;
    const cairn_module_t     *m = s->mods[modidx].m;
    const cairn_directive_t  *d;
    cairn__mconf_t            fresh;
    conf_merge_memo_t        *memo;
    size_t                    nd, i;
    int                       cset, pset;
    const char               *msg;

    out->conf = NULL;
    out->set = NULL;

    if (m->create_conf == NULL) {
        return;
    }

    nd = conf_merge_ndirs(m);

    if (p == NULL) {
        if (c != NULL) {
            *out = *c;
        } else {
            out->conf = m->create_conf(a);
        }
        if (out->set == NULL && nd > 0) {
            out->set = cairn_arena_calloc(a, nd);
        }
        return;
    }

    if (c == NULL) {
        if (!conf_merge_none_set(m, p)) {
            *out = *p;
            return;
        }

        /* A value that is not inherited must not reach this scope
         * through the shared parent: merge against the defaults. */
        fresh.conf = m->create_conf(a);
        fresh.set = NULL;
        c = &fresh;
    }

    memo = conf_merge_memo_slot(p->conf, sc, modidx);
    if (memo != NULL && memo->pconf != NULL) {
        *out = memo->out;
        return;
    }

    out->conf = m->create_conf(a);
    out->set = nd > 0 ? cairn_arena_calloc(a, nd) : NULL;

    for (i = 0; i < nd; i++) {
        d = &m->directives[i];
        cset = c->set != NULL && c->set[i];
        pset = p->set != NULL && p->set[i] && p->conf != NULL;

        if (d->merge == CAIRN_MERGE_SCOPE) {
            /* One setting made of several directives: the child's, if
             * it has any of them, replaces the parent's entirely. */
            if (cairn__conf_group_set(m, c, i)) {
                pset = 0;
            }
            if (cset && d->size > 0) {
                memcpy((char *) out->conf + d->offset,
                       (const char *) c->conf + d->offset, d->size);
            } else if (pset && d->size > 0) {
                memcpy((char *) out->conf + d->offset,
                       (const char *) p->conf + d->offset, d->size);
            }
            out->set[i] = cset || pset;
            continue;
        }

        if (cset) {
            if (pset && d->merge == CAIRN_MERGE_APPEND
                && d->size == sizeof(cairn_strv_t))
            {
                conf_merge_append(a, (const char *) p->conf + d->offset,
                                  (const char *) c->conf + d->offset,
                                  (char *) out->conf + d->offset);
            } else if (pset && d->merge == CAIRN_MERGE_KEY
                       && d->size == sizeof(cairn_kvv_t))
            {
                conf_merge_keys(a, (const char *) p->conf + d->offset,
                                (const char *) c->conf + d->offset,
                                (char *) out->conf + d->offset);
            } else if (d->size > 0) {
                memcpy((char *) out->conf + d->offset,
                       (const char *) c->conf + d->offset, d->size);
            }
            out->set[i] = 1;

        } else if (pset && d->merge != CAIRN_MERGE_NONE) {
            if (d->size > 0) {
                memcpy((char *) out->conf + d->offset,
                       (const char *) p->conf + d->offset, d->size);
            }
            out->set[i] = 1;
        }
    }

    if (m->merge_conf != NULL && p->conf != NULL) {
        msg = m->merge_conf(a, p->conf, c->conf, out->conf);
        if (msg != NULL) {
            conf_merge_error(s, sc, m, msg);
        }
    }

    conf_merge_memo_add(p->conf, sc, modidx, out);
}


static size_t
conf_merge_memo_hash(const void *pconf, const cairn__scope_t *sc,
                     size_t modidx)
{
    uint64_t  h;

    h = (uint64_t) (uintptr_t) pconf * UINT64_C(0x9e3779b97f4a7c15);
    h ^= (uint64_t) (uintptr_t) sc * UINT64_C(0xc2b2ae3d27d4eb4f);
    h ^= (uint64_t) modidx * UINT64_C(0x165667b19e3779f9);

    return (size_t) (h ^ (h >> 29));
}


/* The slot of a merge step: the one holding it, or the free one where it
 * would go; NULL when the table is empty. */
static conf_merge_memo_t *
conf_merge_memo_slot(const void *pconf, const cairn__scope_t *sc,
                     size_t modidx)
{
    conf_merge_memo_t  *e;
    size_t              i;

    if (conf_merge_memo_cap == 0) {
        return NULL;
    }

    i = conf_merge_memo_hash(pconf, sc, modidx) & (conf_merge_memo_cap - 1);
    for ( ;; ) {
        e = &conf_merge_memo[i];
        if (e->pconf == NULL
            || (e->pconf == pconf && e->scope == sc && e->modidx == modidx))
        {
            return e;
        }
        i = (i + 1) & (conf_merge_memo_cap - 1);
    }
}


static void
conf_merge_memo_add(const void *pconf, const cairn__scope_t *sc,
                    size_t modidx, const cairn__mconf_t *out)
{
    conf_merge_memo_t  *old, *e;
    size_t              oldcap, i;

    if (pconf == NULL) {
        return;
    }

    /* Keep the table at most half full. */
    if ((conf_merge_memo_n + 1) * 2 > conf_merge_memo_cap) {
        old = conf_merge_memo;
        oldcap = conf_merge_memo_cap;

        conf_merge_memo_cap = oldcap ? oldcap * 2 : 256;
        conf_merge_memo = calloc(conf_merge_memo_cap,
                                 sizeof(conf_merge_memo_t));
        if (conf_merge_memo == NULL) {
            cairn__oom(conf_merge_memo_cap * sizeof(conf_merge_memo_t));
        }

        for (i = 0; i < oldcap; i++) {
            if (old[i].pconf != NULL) {
                e = conf_merge_memo_slot(old[i].pconf, old[i].scope,
                                         old[i].modidx);
                *e = old[i];
            }
        }
        free(old);
    }

    e = conf_merge_memo_slot(pconf, sc, modidx);
    if (e->pconf == NULL) {
        e->pconf = pconf;
        e->scope = sc;
        e->modidx = modidx;
        e->out = *out;
        conf_merge_memo_n++;
    }
}


/* out = p's items, then c's (cairn_strv_t). */
static void
conf_merge_append(cairn_arena_t *a, const void *p, const void *c, void *out)
{
    const cairn_strv_t  *pv = p, *cv = c;
    cairn_strv_t        *ov = out;

    if (pv->n == 0) {
        *ov = *cv;
        return;
    }
    if (cv->n == 0) {
        *ov = *pv;
        return;
    }

    ov->n = pv->n + cv->n;
    ov->v = cairn_arena_alloc(a, ov->n * sizeof(char *));
    memcpy(ov->v, pv->v, pv->n * sizeof(char *));
    memcpy(ov->v + pv->n, cv->v, cv->n * sizeof(char *));
}


/*
 * out = p's keys in p's order, each value replaced by c's for a key c
 * has too, then c's other keys in c's order (cairn_kvv_t).  Keys compare
 * without regard to case, as header names do.
 */
static void
conf_merge_keys(cairn_arena_t *a, const void *p, const void *c, void *out)
{
    const cairn_kvv_t  *pv = p, *cv = c;
    cairn_kvv_t        *ov = out;
    size_t              i, j, n;

    if (pv->n == 0) {
        *ov = *cv;
        return;
    }
    if (cv->n == 0) {
        *ov = *pv;
        return;
    }

    ov->v = cairn_arena_alloc(a, (pv->n + cv->n) * sizeof(cairn_kv_t));
    memcpy(ov->v, pv->v, pv->n * sizeof(cairn_kv_t));
    n = pv->n;

    for (i = 0; i < cv->n; i++) {
        for (j = 0; j < n; j++) {
            if (strcasecmp(ov->v[j].key, cv->v[i].key) == 0) {
                break;
            }
        }
        if (j < n) {
            ov->v[j] = cv->v[i];
        } else {
            ov->v[n++] = cv->v[i];
        }
    }

    ov->n = n;
}


/*
 * A merge_conf message, reported once even though the same scope is
 * merged into several locations.
 */
static void
conf_merge_error(cairn_server_t *s, const cairn__scope_t *sc,
                 const cairn_module_t *m, const char *msg)
{
    const cairn__conf_error_t  *e;
    const char                 *text;

    if (sc != NULL && sc->file != NULL) {
        text = cairn_arena_printf(s->arena, "%s:%d: mod_%s: %s", sc->file,
                                  sc->line, m->name, msg);
    } else {
        text = cairn_arena_printf(s->arena, "mod_%s: %s", m->name, msg);
    }

    for (e = s->errors; e != NULL; e = e->next) {
        if (strcmp(e->text, text) == 0) {
            return;
        }
    }

    cairn__conf_error(s, NULL, 0, "%s", text);
}


/* Whether p has a value set by a directive that is not inherited. */
static int
conf_merge_none_set(const cairn_module_t *m, const cairn__mconf_t *mc)
{
    size_t  i, nd;

    if (mc->set == NULL) {
        return 0;
    }

    nd = conf_merge_ndirs(m);
    for (i = 0; i < nd; i++) {
        if (mc->set[i] && m->directives[i].merge == CAIRN_MERGE_NONE) {
            return 1;
        }
    }

    return 0;
}


static size_t
conf_merge_ndirs(const cairn_module_t *m)
{
    size_t  n = 0;

    if (m->directives != NULL) {
        while (m->directives[n].name != NULL) {
            n++;
        }
    }

    return n;
}


/*
 * A named virtual host with routes of its own also answers the server's,
 * unless one of its own takes the same pattern and method.  One without
 * routes uses the server's router directly (see request.c).
 */
static void
conf_merge_routes(cairn_server_t *s)
{
    cairn__router_t  *main_rt;
    size_t            i;

    main_rt = s->main_vhost->router;
    if (main_rt == NULL) {
        return;
    }

    for (i = 0; i < s->nvhosts; i++) {
        if (s->vhosts[i]->router != NULL && s->vhosts[i]->router != main_rt) {
            cairn__router_each(main_rt, conf_merge_route_add,
                               s->vhosts[i]->router);
        }
    }
}


static void
conf_merge_route_add(const cairn__route_t *route, void *data)
{
    /* A refusal means the virtual host has its own route there. */
    (void) cairn__router_add(data, route->pattern, route->methods,
                             route->module, route->data);
}


#define CONF_MERGE_CAPTURED  16

typedef struct {
    cairn_server_t        *s;
    int                    n;
    const char            *msg[CONF_MERGE_CAPTURED];
} conf_merge_capture_t;


/* Whether msg starts with "FILE:LINE: ". */
static int
conf_merge_has_place(const char *msg)
{
    const char  *p = msg;

    while (*p != '\0' && *p != ':' && *p != ' ') {
        p++;
    }
    if (p == msg || *p != ':' || p[1] < '0' || p[1] > '9') {
        return 0;
    }
    for (p++; *p >= '0' && *p <= '9'; p++) {
        /* the line number */
    }

    return p[0] == ':' && p[1] == ' ';
}


/* Keeps what a post_config hook logs at ERROR until it returns. */
static void
conf_merge_capture(void *data, const char *msg)
{
    conf_merge_capture_t  *c = data;

    if (c->n < CONF_MERGE_CAPTURED) {
        c->msg[c->n++] = cairn_arena_strdup(c->s->arena, msg);
    }
}


/*
 * Runs the post_config hooks in order and stops at the first failure.
 * What a hook logs at ERROR meanwhile is the reason: it is printed with
 * the other configuration errors (`file:line: message`), not as a log
 * line.
 */
static void
conf_merge_post_config(cairn_server_t *s)
{
    const cairn__hook_list_t  *list;
    const cairn__hook_t       *h;
    conf_merge_capture_t       cap;
    size_t                     i;
    int                        rc, k;

    list = &s->hooks->kind[CAIRN__HOOK_SERVER_BASE
                           + CAIRN_SERVER_POST_CONFIG];

    for (i = 0; i < list->n; i++) {
        h = &list->v[i];

        cap.s = s;
        cap.n = 0;
        cairn__log_module = h->module;
        cairn__log_capture(conf_merge_capture, &cap);
        rc = h->fn.srv(s);
        cairn__log_capture(NULL, NULL);

        /* A hook that succeeds after all only logged its errors. */
        for (k = 0; k < cap.n; k++) {
            if (rc == CAIRN_OK || rc == CAIRN_DECLINED) {
                cairn_log(NULL, CAIRN_LOG_ERROR, 0, "%s", cap.msg[k]);
            } else if (conf_merge_has_place(cap.msg[k])) {
                cairn__conf_error(s, NULL, 0, "%s", cap.msg[k]);
            } else {
                cairn__conf_error(s, NULL, 0, "%s: mod_%s: %s", s->conf_file,
                                  h->module->name != NULL ? h->module->name
                                                          : "?",
                                  cap.msg[k]);
            }
        }
        cairn__log_module = NULL;

        if (rc != CAIRN_OK && rc != CAIRN_DECLINED) {
            if (cap.n == 0) {
                cairn__conf_error(s, NULL, 0, "%s: post_config of mod_%s "
                                  "failed (it gave no reason)", s->conf_file,
                                  h->module->name != NULL ? h->module->name
                                                          : "?");
            }
            return;
        }
    }
}
