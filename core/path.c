/*
 * core/path.c: percent-decoding and normalisation of request paths.
 *
 * Both functions decode into a caller's buffer of len + 1 bytes, which is
 * always enough: an escape shrinks three bytes to one and resolving
 * segments only ever removes bytes.  Decoding comes first, so a "%2e%2e"
 * or a "%2f" is resolved like the ".." or "/" it stands for and can never
 * reach a module as a hidden way out of the document tree.
 */

#include <string.h>
#include <sys/types.h>

#include "path_int.h"


static int path_hex(unsigned char c);
static ssize_t path_decode(const char *src, size_t len, char *dst,
                           int plus_is_space);


ssize_t
cairn__path_normalise(const char *src, size_t len, char *dst)
{
    ssize_t  n;
    size_t   r, w, seg, seglen;
    int      trailing;

    if (len == 0 || src[0] != '/') {
        return -1;
    }

    n = path_decode(src, len, dst, 0);
    if (n < 0) {
        return -1;
    }

    /*
     * Resolve in place.  dst[0, w) holds the output so far as "/seg/seg"
     * without a trailing slash; it never catches up with r, the start of
     * the segment being read, because every output byte comes from a
     * byte already read.
     */
    w = 0;
    r = 0;
    trailing = 0;

    while (r < (size_t) n) {
        /* dst[r] is a '/': the segment runs from r + 1 to the next one. */
        seg = r + 1;
        for (r = seg; r < (size_t) n && dst[r] != '/'; r++) {
            /* scan */
        }
        seglen = r - seg;

        if (seglen == 0 || (seglen == 1 && dst[seg] == '.')) {
            trailing = 1;
            continue;
        }

        if (seglen == 2 && dst[seg] == '.' && dst[seg + 1] == '.') {
            if (w == 0) {
                return -1;
            }
            while (dst[--w] != '/') {
                /* back to the slash before the last output segment */
            }
            trailing = 1;
            continue;
        }

        dst[w++] = '/';
        memmove(dst + w, dst + seg, seglen);
        w += seglen;
        trailing = 0;
    }

    if (w == 0 || trailing) {
        dst[w++] = '/';
    }
    dst[w] = '\0';

    return (ssize_t) w;
}


ssize_t
cairn__url_decode(const char *src, size_t len, char *dst, int plus_is_space)
{
    ssize_t  n;

    n = path_decode(src, len, dst, plus_is_space);
    if (n >= 0) {
        dst[n] = '\0';
    }

    return n;
}


/* The value of a hexadecimal digit, or -1. */
static int
path_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * Decodes %XX escapes of src into dst (not NUL-terminated).  A '%' not
 * followed by two hex digits, or a NUL byte, raw or decoded, makes the
 * whole input invalid: -1.
 */
static ssize_t
path_decode(const char *src, size_t len, char *dst, int plus_is_space)
{
    size_t  i, w;
    int     hi, lo;
    char    c;

    w = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '%') {
            if (len - i < 3) {
                return -1;
            }
            hi = path_hex((unsigned char) src[i + 1]);
            lo = path_hex((unsigned char) src[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = (char) (hi << 4 | lo);
            i += 2;

        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }

        if (c == '\0') {
            return -1;
        }

        dst[w++] = c;
    }

    return (ssize_t) w;
}
