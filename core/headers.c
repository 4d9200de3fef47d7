/*
 * core/headers.c: the header lists of a request and of its response
 * (arrays in the request arena, names compared without case).
 */

#include "config.h"

#include <string.h>
#include <strings.h>

#include "http_int.h"


const char *
cairn__headers_find(const cairn__headers_t *h, const char *name, size_t len)
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
    return cairn__headers_find(h, name, strlen(name));
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
