/*
 * core/router.c: the path router.
 *
 * Patterns are stored in a segment tree.  The path after the leading
 * "/" is split on "/", so "/" is one empty segment and "/a/" ends with an
 * empty segment (which is why a trailing slash is significant).  Every
 * node has sorted static children, at most one parameter child and at
 * most one wildcard child; routes with differently named parameters in
 * the same place share a node and keep their own names.
 *
 * Matching tries, at each segment, the static child, then the parameter
 * child (non-empty segments only), then the wildcard, and backtracks when
 * a branch ends without a route for the method.  A route that takes GET
 * also takes HEAD.  Parameter values are remembered as slices of the path
 * during the search and copied into the request arena only for the
 * winner, so a lookup allocates nothing else.
 */

#include <string.h>

#include "router_int.h"

/* Every method of cairn_method_t, for CAIRN_M_ANY routes. */
#define ROUTER_ALL_METHODS      (CAIRN_M(CAIRN_METHOD_CONNECT + 1) - 1u)


typedef struct router_entry_s  router_entry_t;
struct router_entry_s {
    cairn__route_t           route;
    const char             **names;     /* parameter names, path order */
    size_t                   nnames;
    router_entry_t          *next;      /* same node, insertion order */
};

typedef struct router_node_s  router_node_t;
struct router_node_s {
    const char              *seg;       /* static text */
    size_t                   len;
    router_node_t          **statics;   /* sorted by router_segcmp */
    size_t                   nstatics;
    size_t                   capstatics;
    router_node_t           *param;
    router_node_t           *wild;
    router_entry_t          *entries;
    unsigned                 allowed;   /* methods the entries take */
};

struct cairn__router_s {
    cairn_arena_t           *arena;
    router_node_t            root;
    size_t                   count;
};

/* A segment of a pattern being added. */
typedef struct {
    const char              *s;
    size_t                   len;
    int                      kind;      /* ':' or '*' or 0 for static */
} router_seg_t;

/* The state of one lookup. */
typedef struct {
    unsigned                 bit;       /* CAIRN_M(method) */
    int                      head;      /* HEAD: GET routes take it too */
    const char              *end;       /* end of the path */
    unsigned                 allowed;
    const router_entry_t    *found;
    size_t                   nvals;
    const char              *val[CAIRN__ROUTE_MAX_PARAMS];
    size_t                   vlen[CAIRN__ROUTE_MAX_PARAMS];
} router_search_t;


static const char *router_parse(cairn__router_t *rt, const char *pattern,
                                router_seg_t **segs, size_t *nsegs,
                                size_t *nparams);
static router_node_t *router_static_child(cairn__router_t *rt,
                                          router_node_t *node, const char *s,
                                          size_t len);
static const router_node_t *router_static_search(const router_node_t *node,
                                                 const char *s, size_t len,
                                                 size_t *at);
static int router_segcmp(const char *a, size_t alen, const char *b,
                         size_t blen);
static unsigned router_mask(unsigned methods);
static int router_search(router_search_t *st, const router_node_t *node,
                         const char *s);
static int router_step(router_search_t *st, const router_node_t *child,
                       const char *e);
static int router_accept(router_search_t *st, const router_node_t *node);
static void router_walk(const router_node_t *node,
                        void (*cb)(const cairn__route_t *route, void *data),
                        void *data);


cairn__router_t *
cairn__router_create(cairn_arena_t *a)
{
    cairn__router_t  *rt;

    rt = cairn_arena_calloc(a, sizeof(cairn__router_t));
    rt->arena = a;

    return rt;
}


const char *
cairn__router_add(cairn__router_t *rt, const char *pattern, unsigned methods,
                  const cairn_module_t *m, void *data)
{
    router_seg_t     *segs;
    router_node_t    *node;
    router_entry_t   *entry, **tail;
    const char       *msg;
    size_t            nsegs, nparams, i, k;

    msg = router_parse(rt, pattern, &segs, &nsegs, &nparams);
    if (msg != NULL) {
        return msg;
    }

    node = &rt->root;
    for (i = 0; i < nsegs; i++) {
        switch (segs[i].kind) {

        case ':':
            if (node->param == NULL) {
                node->param = cairn_arena_calloc(rt->arena,
                                                 sizeof(router_node_t));
            }
            node = node->param;
            break;

        case '*':
            if (node->wild == NULL) {
                node->wild = cairn_arena_calloc(rt->arena,
                                                sizeof(router_node_t));
            }
            node = node->wild;
            break;

        default:
            node = router_static_child(rt, node, segs[i].s, segs[i].len);
            break;
        }
    }

    for (tail = &node->entries; *tail != NULL; tail = &(*tail)->next) {
        if (router_mask((*tail)->route.methods) & router_mask(methods)) {
            return cairn_arena_printf(rt->arena,
                                      "duplicate route '%s': '%s' already "
                                      "takes the same path and method",
                                      pattern, (*tail)->route.pattern);
        }
    }

    entry = cairn_arena_calloc(rt->arena, sizeof(router_entry_t));
    entry->route.pattern = cairn_arena_strdup(rt->arena, pattern);
    entry->route.module = m;
    entry->route.data = data;
    entry->route.methods = methods;
    entry->nnames = nparams;
    entry->names = cairn_arena_alloc(rt->arena,
                                     (nparams ? nparams : 1)
                                     * sizeof(const char *));

    for (i = 0, k = 0; i < nsegs; i++) {
        if (segs[i].kind != 0) {
            entry->names[k++] = cairn_arena_strndup(rt->arena, segs[i].s,
                                                    segs[i].len);
        }
    }

    *tail = entry;
    node->allowed |= router_mask(methods);
    if (node->allowed & CAIRN_M(CAIRN_METHOD_GET)) {
        node->allowed |= CAIRN_M(CAIRN_METHOD_HEAD);
    }
    rt->count++;

    return NULL;
}


int
cairn__router_match(const cairn__router_t *rt, cairn_arena_t *a,
                    const char *path, cairn_method_t method,
                    cairn__route_match_t *match)
{
    router_search_t          st;
    const router_entry_t    *entry;
    size_t                   i;

    match->route = NULL;
    match->allowed = 0;
    match->nparams = 0;

    if (rt == NULL || rt->count == 0 || path == NULL || path[0] != '/') {
        return 0;
    }

    st.bit = ((unsigned) method <= CAIRN_METHOD_CONNECT)
             ? CAIRN_M(method) : CAIRN_M(CAIRN_METHOD_OTHER);
    st.head = (method == CAIRN_METHOD_HEAD);
    st.end = path + strlen(path);
    st.allowed = 0;
    st.found = NULL;
    st.nvals = 0;

    if (!router_search(&st, &rt->root, path + 1)) {
        match->allowed = st.allowed;
        return 0;
    }

    entry = st.found;
    match->route = &entry->route;
    match->allowed = st.allowed;
    match->nparams = entry->nnames < st.nvals ? entry->nnames : st.nvals;

    for (i = 0; i < match->nparams; i++) {
        match->names[i] = entry->names[i];
        match->values[i] = cairn_arena_strndup(a, st.val[i], st.vlen[i]);
    }

    return 1;
}


size_t
cairn__router_count(const cairn__router_t *rt)
{
    return rt != NULL ? rt->count : 0;
}


void
cairn__router_each(const cairn__router_t *rt,
                   void (*cb)(const cairn__route_t *route, void *data),
                   void *data)
{
    if (rt != NULL) {
        router_walk(&rt->root, cb, data);
    }
}


/*
 * Splits and checks a pattern.  Segments point into the pattern; the
 * array comes from the router's arena (patterns are added at config
 * time).
 */
static const char *
router_parse(cairn__router_t *rt, const char *pattern, router_seg_t **segs,
             size_t *nsegs, size_t *nparams)
{
    router_seg_t  *v;
    const char    *p, *e;
    size_t         n, i, j, k, np;

    *segs = NULL;
    *nsegs = 0;
    *nparams = 0;

    if (pattern == NULL || pattern[0] != '/') {
        return cairn_arena_printf(rt->arena,
                                  "route pattern '%s' does not start "
                                  "with '/'",
                                  pattern != NULL ? pattern : "");
    }

    n = 1;
    for (p = pattern + 1; *p != '\0'; p++) {
        n += (*p == '/');
    }

    v = cairn_arena_alloc(rt->arena, n * sizeof(router_seg_t));
    np = 0;

    for (i = 0, p = pattern + 1; i < n; i++, p = e + 1) {
        e = strchrnul(p, '/');
        v[i].s = p;
        v[i].len = (size_t) (e - p);
        v[i].kind = 0;

        if (v[i].len == 0) {
            if (*e == '/') {
                return cairn_arena_printf(rt->arena,
                                          "route pattern '%s' has an empty "
                                          "segment", pattern);
            }
            continue;
        }

        if (*p != ':' && *p != '*') {
            continue;
        }

        v[i].kind = *p;
        v[i].s++;
        v[i].len--;

        if (v[i].len == 0) {
            return cairn_arena_printf(rt->arena,
                                      "route pattern '%s' has an empty "
                                      "parameter name", pattern);
        }

        for (k = 0; k < v[i].len; k++) {
            if (!(v[i].s[k] == '_' || v[i].s[k] == '-'
                  || (v[i].s[k] >= '0' && v[i].s[k] <= '9')
                  || (v[i].s[k] >= 'a' && v[i].s[k] <= 'z')
                  || (v[i].s[k] >= 'A' && v[i].s[k] <= 'Z')))
            {
                return cairn_arena_printf(rt->arena,
                                          "route pattern '%s': parameter "
                                          "'%.*s' may use only letters, "
                                          "digits, '_' and '-'", pattern,
                                          (int) v[i].len + 1, v[i].s - 1);
            }
        }

        if (v[i].kind == '*' && *e != '\0') {
            return cairn_arena_printf(rt->arena,
                                      "route pattern '%s': the wildcard "
                                      "'*%.*s' must be the last segment",
                                      pattern, (int) v[i].len, v[i].s);
        }

        for (j = 0; j < i; j++) {
            if (v[j].kind != 0 && v[j].len == v[i].len
                && memcmp(v[j].s, v[i].s, v[i].len) == 0)
            {
                return cairn_arena_printf(rt->arena,
                                          "route pattern '%s' names the "
                                          "parameter '%.*s' twice", pattern,
                                          (int) v[i].len, v[i].s);
            }
        }

        if (++np > CAIRN__ROUTE_MAX_PARAMS) {
            return cairn_arena_printf(rt->arena,
                                      "route pattern '%s' has more than %d "
                                      "parameters", pattern,
                                      CAIRN__ROUTE_MAX_PARAMS);
        }
    }

    *segs = v;
    *nsegs = n;
    *nparams = np;

    return NULL;
}


/* Finds or inserts the static child for segment s, keeping the order. */
static router_node_t *
router_static_child(cairn__router_t *rt, router_node_t *node, const char *s,
                    size_t len)
{
    router_node_t  **v, *child;
    size_t           at, cap;

    child = (router_node_t *) router_static_search(node, s, len, &at);
    if (child != NULL) {
        return child;
    }

    if (node->nstatics == node->capstatics) {
        cap = node->capstatics ? node->capstatics * 2 : 4;
        v = cairn_arena_alloc(rt->arena, cap * sizeof(router_node_t *));
        if (node->nstatics > 0) {
            memcpy(v, node->statics,
                   node->nstatics * sizeof(router_node_t *));
        }
        node->statics = v;
        node->capstatics = cap;
    }

    child = cairn_arena_calloc(rt->arena, sizeof(router_node_t));
    child->seg = cairn_arena_strndup(rt->arena, s, len);
    child->len = len;

    memmove(&node->statics[at + 1], &node->statics[at],
            (node->nstatics - at) * sizeof(router_node_t *));
    node->statics[at] = child;
    node->nstatics++;

    return child;
}


/*
 * Binary search of the sorted static children: the child for segment s,
 * or NULL and in *at the index where it would go.
 */
static const router_node_t *
router_static_search(const router_node_t *node, const char *s, size_t len,
                     size_t *at)
{
    size_t  lo, hi, mid;
    int     c;

    lo = 0;
    hi = node->nstatics;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = router_segcmp(s, len, node->statics[mid]->seg,
                          node->statics[mid]->len);
        if (c == 0) {
            return node->statics[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }

    *at = lo;
    return NULL;
}


/* Byte order, a prefix before the longer segment. */
static int
router_segcmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int  c;

    c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c;
    }

    return (alen > blen) - (alen < blen);
}


static unsigned
router_mask(unsigned methods)
{
    return methods == CAIRN_M_ANY ? ROUTER_ALL_METHODS : methods;
}


/*
 * Matches the segment starting at s (and what follows) below node.
 * Returns 1 when a route for the method was found (st->found).
 */
static int
router_search(router_search_t *st, const router_node_t *node, const char *s)
{
    const router_node_t  *child;
    const char           *e;
    size_t                len, at;

    for (e = s; *e != '/' && *e != '\0'; e++) {
        /* void */
    }
    len = (size_t) (e - s);

    child = router_static_search(node, s, len, &at);
    if (child != NULL && router_step(st, child, e)) {
        return 1;
    }

    if (len > 0 && node->param != NULL
        && st->nvals < CAIRN__ROUTE_MAX_PARAMS)
    {
        st->val[st->nvals] = s;
        st->vlen[st->nvals] = len;
        st->nvals++;
        if (router_step(st, node->param, e)) {
            return 1;
        }
        st->nvals--;
    }

    if (node->wild != NULL && st->nvals < CAIRN__ROUTE_MAX_PARAMS) {
        st->val[st->nvals] = s;
        st->vlen[st->nvals] = (size_t) (st->end - s);
        st->nvals++;
        if (router_accept(st, node->wild)) {
            return 1;
        }
        st->nvals--;
    }

    return 0;
}


/* Goes on below child after the segment that ends at e. */
static int
router_step(router_search_t *st, const router_node_t *child, const char *e)
{
    if (*e == '\0') {
        return router_accept(st, child);
    }

    return router_search(st, child, e + 1);
}


/* The path ends at node: is there a route for the method? */
static int
router_accept(router_search_t *st, const router_node_t *node)
{
    const router_entry_t  *entry;

    if (node->entries == NULL) {
        return 0;
    }

    for (entry = node->entries; entry != NULL; entry = entry->next) {
        if (entry->route.methods == CAIRN_M_ANY
            || (entry->route.methods & st->bit))
        {
            goto found;
        }
    }

    if (st->head) {
        for (entry = node->entries; entry != NULL; entry = entry->next) {
            if (entry->route.methods & CAIRN_M(CAIRN_METHOD_GET)) {
                goto found;
            }
        }
    }

    st->allowed |= node->allowed;
    return 0;

found:

    st->found = entry;
    st->allowed = node->allowed;
    return 1;
}


static void
router_walk(const router_node_t *node,
            void (*cb)(const cairn__route_t *route, void *data), void *data)
{
    const router_entry_t  *entry;
    size_t                 i;

    for (entry = node->entries; entry != NULL; entry = entry->next) {
        cb(&entry->route, data);
    }

    for (i = 0; i < node->nstatics; i++) {
        router_walk(node->statics[i], cb, data);
    }

    if (node->param != NULL) {
        router_walk(node->param, cb, data);
    }

    if (node->wild != NULL) {
        router_walk(node->wild, cb, data);
    }
}
