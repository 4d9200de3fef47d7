/*
 * tests/fuzz/fuzz_path.c: request path normalisation and percent
 * decoding (core/path.c).
 *
 * Input: a request target's path.  A path the normaliser accepts starts
 * with '/', holds no NUL, no "//" and no "." or ".." segment, and
 * normalising it again changes nothing.
 */

#include "config.h"

#include <stdio.h>
#include <sys/types.h>

#include "fuzz.h"

#include "path_int.h"


static void
fuzz_path_fail(const char *what)
{
    fprintf(stderr, "normalised path %s\n", what);
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char     *dst, *again;
    ssize_t   n, m;

    dst = malloc(size + 1);
    again = malloc(size + 1);
    if (dst == NULL || again == NULL) {
        abort();
    }

    n = cairn__path_normalise((const char *) data, size, dst);
    if (n >= 0) {
        if ((size_t) n > size || strlen(dst) != (size_t) n) {
            fuzz_path_fail("has the wrong length");
        }
        if (dst[0] != '/') {
            fuzz_path_fail("does not start with /");
        }
        if (strstr(dst, "//") != NULL || strstr(dst, "/./") != NULL
            || strstr(dst, "/../") != NULL
            || (n >= 2 && strcmp(dst + n - 2, "/.") == 0)
            || (n >= 3 && strcmp(dst + n - 3, "/..") == 0))
        {
            fuzz_path_fail("keeps a // . or .. segment");
        }
        /* A '%' in the result was decoded from "%25": it is not
         * decoded twice. */
        if (strchr(dst, '%') == NULL) {
            m = cairn__path_normalise(dst, (size_t) n, again);
            if (m != n || memcmp(dst, again, (size_t) n) != 0) {
                fuzz_path_fail("changes when normalised again");
            }
        }
    }

    n = cairn__url_decode((const char *) data, size, dst, 0);
    if (n >= 0 && ((size_t) n > size || dst[n] != '\0')) {
        fuzz_path_fail("decoding has the wrong length");
    }
    cairn__url_decode((const char *) data, size, dst, 1);

    free(again);
    free(dst);

    return 0;
}
