/*
 * core/path_int.h: request-target path decoding and normalisation.
 */

#ifndef CAIRN_PATH_INT_H
#define CAIRN_PATH_INT_H

#include <sys/types.h>

/*
 * Percent-decodes and normalises the path part of a request target (src,
 * len bytes, no query) into dst, which has room for len + 1 bytes:
 * repeated slashes fold into one, "." segments vanish, ".." removes the
 * segment before it, a trailing slash is kept (and "/a/.." gives "/").
 * Escapes are decoded before segments are resolved, so "%2e%2e" and
 * "%2f" cannot smuggle a ".." or a "/" past the check.  Returns the
 * length written (dst is NUL-terminated), or -1 when the path is
 * invalid: not starting with '/', a malformed escape, a decoded NUL
 * byte, or ".." climbing above the root.
 */
ssize_t cairn__path_normalise(const char *src, size_t len, char *dst);

/*
 * Percent-decodes src (len bytes) into dst (len + 1 bytes), turning '+'
 * into a space when plus_is_space.  Returns the length, or -1 for a
 * malformed escape or a decoded NUL.
 */
ssize_t cairn__url_decode(const char *src, size_t len, char *dst,
                          int plus_is_space);

#endif /* CAIRN_PATH_INT_H */
