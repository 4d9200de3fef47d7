/*
 * tests/fuzz/fuzz_rest_query.c: mod_rest's list parameters
 * (modules/rest/rest_json.c): the query string of GET /collection
 * (limit, offset, cursor, sort, filters), the identity of a parsed query
 * that a cursor's signature covers, and the Accept and If-Match values
 * beside them.  A cursor itself is only parsed once its HMAC matches
 * (modules/rest/rest_job.c): before that it is base64url, which
 * fuzz_encode covers.
 *
 * Input: lines "QUERY\nACCEPT\nIF-MATCH".  A query that parses stays
 * inside the declared bounds.
 */

#include "config.h"

#include "fuzz.h"
#include "fuzz_rest.h"


static void
fuzz_rest_fail(const char *what)
{
    fprintf(stderr, "%s\n", what);
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_arena_t  *a;
    rest_query_t    q;
    char           *part[3], *copy;

    copy = fuzz_split(data, size, '\n', part, 3);
    a = cairn_arena_create(0);

    memset(&q, 0, sizeof(q));
    if (rest_query_parse(a, fuzz_res, part[0], &q) == NULL) {
        if (q.limit < 1 || q.limit > fuzz_res->max_page_size
            || q.offset < 0)
        {
            fuzz_rest_fail("a query outside the page bounds");
        }
        if (q.nsort > 32 || q.nfilter > 32) {
            fuzz_rest_fail("a query with too many terms");
        }
        if (rest_query_ident(a, &q) == NULL) {
            fuzz_rest_fail("a parsed query without an identity");
        }
    }

    rest_prefers_html(part[1]);
    rest_etag_match(part[2], "\"v7\"");
    rest_etag_match(part[2], "W/\"v7\"");

    cairn_arena_destroy(a);
    free(copy);

    return 0;
}
