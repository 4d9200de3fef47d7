/*
 * tests/fuzz/fuzz_rest_body.c: mod_rest's request body path
 * (modules/rest/rest_json.c against a resource declared with
 * rest_decl.c), in the order rest_handler.c takes it.
 *
 * Input: one byte (bit 0: a POST, which creates, else a PUT; bit 1: a
 * PATCH, merged into a stored row first), then the body.  The body is
 * read as the handler reads it (jansson, duplicate members refused),
 * decimal members get their exact digits from the text, and it is
 * validated.  What passes is written out as the handler writes it.
 */

#include "config.h"

#include "fuzz.h"
#include "fuzz_rest.h"


static const char  fuzz_row[] =
    "{\"id\": 7, \"name\": \"ann\", \"email\": \"ann@example.com\", "
    "\"age\": 30, \"prefs\": {\"a\": [1]}, "
    "\"born\": \"2020-01-02T03:04:05Z\", \"day\": \"2020-01-02\"}";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn_arena_t  *a;
    json_error_t    jerr;
    json_t         *body, *errors, *row, *merged;
    const char     *text;
    size_t          len, n;
    int             creating, patch;

    if (size == 0) {
        return 0;
    }
    creating = data[0] & 1;
    patch = (data[0] & 2) != 0;
    text = (const char *) data + 1;
    len = size - 1;

    body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        return 0;
    }

    a = cairn_arena_create(0);

    if (rest_body_exact_numbers(fuzz_res, body, text, len) != 0) {
        goto done;
    }

    errors = json_array();
    if (patch) {
        row = json_loads(fuzz_row, 0, NULL);
        merged = rest_merge_patch(row, body);
        json_decref(row);
        rest_validate(fuzz_res, merged, 0, body, errors);
        rest_json_dump(a, merged, &n);
        json_decref(merged);
    } else if (rest_validate(fuzz_res, body, creating, NULL, errors) == 0) {
        rest_json_dump(a, body, &n);
    }
    rest_json_dump(a, errors, &n);
    json_decref(errors);

done:

    json_decref(body);
    cairn_arena_destroy(a);

    return 0;
}
