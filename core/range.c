/*
 * core/range.c: byte ranges (RFC 9110 section 14): parsing a Range
 * header against a body of known size, and If-Range.  Pure functions;
 * the output applies them (filter.c).
 */

#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"


static const char *range_num(const char *p, off_t *out);


/*
 * Parses a Range header against a representation of size bytes.
 * Returns 1 with the one range in *start and *len, 0 to ignore the
 * header and send everything (not bytes, malformed, several ranges, or a
 * suffix range of an empty file), or -1 when it cannot be satisfied.
 */
int
cairn__range_parse(const char *v, off_t size, off_t *start, off_t *len)
{
    const char  *p;
    off_t        a, b;
    int          has_b;

    if (strncasecmp(v, "bytes", 5) != 0) {
        return 0;
    }
    p = v + 5;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p++ != '=') {
        return 0;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }

    /* Several ranges are allowed to be answered with the whole file. */
    if (strchr(p, ',') != NULL) {
        return 0;
    }

    if (*p == '-') {
        p = range_num(p + 1, &b);
        if (p == NULL) {
            return 0;
        }
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p != '\0') {
            return 0;
        }
        if (b == 0) {
            return -1;
        }
        if (size == 0) {
            return 0;
        }
        if (b > size) {
            b = size;
        }
        *start = size - b;
        *len = b;
        return 1;
    }

    p = range_num(p, &a);
    if (p == NULL || *p++ != '-') {
        return 0;
    }

    has_b = *p >= '0' && *p <= '9';
    b = 0;
    if (has_b) {
        p = range_num(p, &b);
        if (p == NULL) {
            return 0;
        }
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != '\0' || (has_b && b < a)) {
        return 0;
    }

    if (a >= size) {
        return -1;
    }
    if (!has_b || b >= size) {
        b = size - 1;
    }

    *start = a;
    *len = b - a + 1;

    return 1;
}


/* Reads decimal digits (at least one), saturating at the largest off_t.
 * Returns the end, or NULL when there is no digit. */
static const char *
range_num(const char *p, off_t *out)
{
    off_t  v, max;

    if (*p < '0' || *p > '9') {
        return NULL;
    }

    max = (off_t) INT64_MAX;
    v = 0;

    for ( ; *p >= '0' && *p <= '9'; p++) {
        if (v > (max - (*p - '0')) / 10) {
            v = max;
        } else {
            v = v * 10 + (*p - '0');
        }
    }

    *out = v;

    return p;
}


/*
 * Whether an If-Range value still holds for the response: an entity tag
 * equal (strongly) to etag, or a date equal to last_modified.
 */
int
cairn__range_if(const char *if_range, const char *etag,
                const char *last_modified)
{
    int64_t  t;

    if (if_range[0] == '"') {
        return etag != NULL && strcmp(if_range, etag) == 0;
    }

    if (last_modified == NULL) {
        return 0;
    }
    t = cairn_http_date_parse(if_range);

    return t >= 0 && t == cairn_http_date_parse(last_modified);
}
