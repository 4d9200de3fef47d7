/*
 * tests/fuzz/fuzz_rest_query.c: mod_rest's list parameters
 * (modules/rest/rest_json.c): the query string of GET /collection
 * (limit, offset, cursor, sort, filters), cursors, and the Accept and
 * If-Match values beside them.
 *
 * Input: lines "QUERY\nCURSOR\nACCEPT\nIF-MATCH".  A query that parses
 * stays inside the declared bounds, and a cursor decodes to what was
 * encoded into it.
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
    char           *part[4], *copy, *cursor;
    long            offset, limit, offset2, limit2;

    copy = fuzz_split(data, size, '\n', part, 4);
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
    }

    if (rest_cursor_decode(part[1], &offset, &limit) == 0) {
        cursor = rest_cursor_encode(a, offset, limit);
        if (cursor == NULL
            || rest_cursor_decode(cursor, &offset2, &limit2) != 0
            || offset2 != offset || limit2 != limit)
        {
            fuzz_rest_fail("a cursor does not encode back");
        }
    }

    rest_prefers_html(part[2]);
    rest_etag_match(part[3], "\"v7\"");
    rest_etag_match(part[3], "W/\"v7\"");

    cairn_arena_destroy(a);
    free(copy);

    return 0;
}
