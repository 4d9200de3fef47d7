/*
 * tests/fuzz/fuzz_range.c: the Range, If-Range and entity-tag list
 * parsers (core/range.c, modules/static/static_cond.c) and the HTTP
 * date parser under them; the q-values of Accept-style headers
 * (core/accept.c) on the LIST line.
 *
 * Input: lines "RANGE\nSIZE\nIF-RANGE\nETAG\nLAST-MODIFIED\nLIST".  The
 * Range value is parsed against SIZE (a decimal, any value an off_t
 * takes), and a range it accepts must lie inside the representation.
 */

#include "config.h"

#include <stdio.h>
#include <sys/types.h>

#include "fuzz.h"

#include "http_int.h"
#include "static/mod_static.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char       *part[6], *copy;
    off_t       rsize, start = -1, len = -1;
    long long   n;
    int         rc;

    copy = fuzz_split(data, size, '\n', part, 6);

    n = strtoll(part[1], NULL, 10);
    rsize = n < 0 ? 0 : (off_t) n;

    rc = cairn__range_parse(part[0], rsize, &start, &len);
    if (rc == 1 && (start < 0 || len <= 0 || start >= rsize
                    || len > rsize - start))
    {
        fprintf(stderr, "range %lld+%lld outside a body of %lld bytes\n",
                (long long) start, (long long) len, (long long) rsize);
        abort();
    }

    cairn__range_if(part[2], part[3][0] != '\0' ? part[3] : NULL,
                    part[4][0] != '\0' ? part[4] : NULL);
    cairn_http_date_parse(part[4]);

    mod_static_etag_match(part[5], part[3][0] != '\0' ? part[3] : NULL, 0);
    mod_static_etag_match(part[5], part[3][0] != '\0' ? part[3] : NULL, 1);

    {
        static const char *const  tokens[] = {
            "gzip", "br", "zstd", "identity", "text/html", "*", ""
        };
        size_t                    i;
        int                       q;

        for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
            q = cairn_accept_q(part[5], tokens[i]);
            if (q < -1 || q > 1000) {
                fprintf(stderr, "q %d for %s\n", q, tokens[i]);
                abort();
            }
        }
    }

    free(copy);

    return 0;
}
