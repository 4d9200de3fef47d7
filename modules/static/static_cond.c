/*
 * modules/static/static_cond.c: the ETag of a file and the matching of
 * entity-tag lists (If-Match, If-None-Match).
 *
 * Pure functions: no request, no I/O, nothing logged, so that the unit
 * tests compile this file alone.  static_handler.c reads the request
 * headers and evaluates the preconditions with them.
 */

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mod_static.h"


/* "<size>-<mtime seconds><mtime nanoseconds, 8 digits>", in hex. */
void
mod_static_etag(char *buf, const struct stat *st)
{
    snprintf(buf, MOD_STATIC_ETAG_MAX, "\"%llx-%llx%08lx\"",
             (unsigned long long) st->st_size,
             (unsigned long long) st->st_mtim.tv_sec,
             (unsigned long) st->st_mtim.tv_nsec);
}


/*
 * Whether the entity-tag list (If-Match, If-None-Match) holds "*" or a
 * tag equal to etag: weak comparison (a W/ prefix is ignored) when weak,
 * else strong (W/ tags never match).  etag NULL matches only "*".  A
 * malformed list matches nothing from the malformed part on.
 */
int
mod_static_etag_match(const char *list, const char *etag, int weak)
{
    const char  *p, *q;
    size_t       elen;
    int          is_weak;

    elen = etag != NULL ? strlen(etag) : 0;
    p = list;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }

        if (*p == '\0') {
            return 0;
        }

        if (*p == '*') {
            return 1;
        }

        is_weak = 0;
        if (p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }

        if (*p != '"') {
            return 0;
        }

        q = strchr(p + 1, '"');
        if (q == NULL) {
            return 0;
        }

        if (etag != NULL && (weak || !is_weak) && (size_t) (q + 1 - p) == elen
            && memcmp(p, etag, elen) == 0)
        {
            return 1;
        }

        p = q + 1;
    }
}
