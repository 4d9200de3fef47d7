/*
 * core/router_int.h: the path router.
 *
 * A router holds patterns made of "/"-separated segments: static text,
 * ":name" (one non-empty segment) and "*name" (the rest of the path,
 * possibly empty; only as the last segment).  Matching walks a segment
 * tree, trying at each level the static child first, then the parameter
 * child, then the wildcard, backtracking when a branch fails, so the most
 * specific route wins whatever the order routes were added in.
 * A trailing slash is significant: "/a/" and "/a" are different routes.
 *
 * Each pattern carries entries per method mask.  A lookup returns the
 * entry whose mask contains the method (CAIRN_M_ANY matches all); when the
 * path matches but no entry takes the method, it reports the union of the
 * masks so the caller can answer 405 with Allow.
 */

#ifndef CAIRN_ROUTER_INT_H
#define CAIRN_ROUTER_INT_H

#include <cairn/cairn.h>

typedef struct cairn__router_s  cairn__router_t;

#define CAIRN__ROUTE_MAX_PARAMS  16

typedef struct {
    const char              *pattern;
    const cairn_module_t    *module;
    void                    *data;
    unsigned                 methods;
} cairn__route_t;

typedef struct {
    const cairn__route_t    *route;         /* NULL: no match for method */
    unsigned                 allowed;       /* union of masks on the path;
                                               0: path not routed at all */
    size_t                   nparams;
    const char              *names[CAIRN__ROUTE_MAX_PARAMS];
    const char              *values[CAIRN__ROUTE_MAX_PARAMS];
} cairn__route_match_t;

cairn__router_t *cairn__router_create(cairn_arena_t *a);

/* Returns NULL or an error message (from a): a malformed pattern (empty
 * parameter name, "*" not last, two parameters of one name, more than
 * CAIRN__ROUTE_MAX_PARAMS), or the same pattern with an overlapping
 * method mask. */
const char *cairn__router_add(cairn__router_t *rt, const char *pattern,
                              unsigned methods, const cairn_module_t *m,
                              void *data);

/* Matches path (already normalised, starting with "/") for method.
 * Parameter values are allocated from a.  Returns 1 when a route was
 * found for the method, else 0 (see match->allowed). */
int cairn__router_match(const cairn__router_t *rt, cairn_arena_t *a,
                        const char *path, cairn_method_t method,
                        cairn__route_match_t *match);

/* Number of routes (for -T). */
size_t cairn__router_count(const cairn__router_t *rt);

/* Calls cb for every route in pattern order (for -T). */
void cairn__router_each(const cairn__router_t *rt,
                        void (*cb)(const cairn__route_t *route, void *data),
                        void *data);

#endif /* CAIRN_ROUTER_INT_H */
