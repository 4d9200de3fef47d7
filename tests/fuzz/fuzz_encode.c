/*
 * tests/fuzz/fuzz_encode.c: base64, base64url and the JSON string
 * escape (core/encode.c).
 *
 * Input: any bytes.  They are decoded as base64 and as base64url (what
 * decodes must encode back to the same text: the decoder refuses the
 * second text of a value), encoded and decoded back, and escaped for
 * JSON (the result must be valid UTF-8 without control characters).
 */

#include "config.h"

#include <stdio.h>

#include <cairn/cairn.h>

#include "fuzz.h"


static void
fuzz_encode_fail(const char *what)
{
    fprintf(stderr, "%s\n", what);
    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char  *dec;
    char           *enc, *esc;
    long            n;
    size_t          m, i, k;
    int             url;

    dec = malloc(CAIRN_BASE64_DECODED_SIZE(size));
    enc = malloc(CAIRN_BASE64_ENCODED_SIZE(size));
    esc = malloc(CAIRN_JSON_ESCAPED_SIZE(size) + 1);
    if (dec == NULL || enc == NULL || esc == NULL) {
        abort();
    }

    for (url = 0; url <= 1; url++) {
        n = cairn_base64_decode((const char *) data, size, dec, url);
        if (n >= 0) {
            m = cairn_base64_encode(dec, (size_t) n, enc, url);
            if (m != size || memcmp(enc, data, size) != 0) {
                fuzz_encode_fail("base64: decoded text encodes otherwise");
            }
        }

        m = cairn_base64_encode(data, size, enc, url);
        if (m + 1 > CAIRN_BASE64_ENCODED_SIZE(size)) {
            fuzz_encode_fail("base64: encoding overran its size");
        }
        free(dec);
        dec = malloc(CAIRN_BASE64_DECODED_SIZE(m));
        if (dec == NULL) {
            abort();
        }
        n = cairn_base64_decode(enc, m, dec, url);
        if (n < 0 || (size_t) n != size || memcmp(dec, data, size) != 0) {
            fuzz_encode_fail("base64: encoding does not decode back");
        }
    }

    m = cairn_json_escape(esc, (const char *) data, size);
    if (m > CAIRN_JSON_ESCAPED_SIZE(size)) {
        fuzz_encode_fail("json: escape overran its size");
    }
    for (i = 0; i < m; i += k) {
        if ((unsigned char) esc[i] < 0x20) {
            fuzz_encode_fail("json: a control character left as it is");
        }
        k = cairn_utf8_seq(esc + i, m - i);
        if (k == 0) {
            fuzz_encode_fail("json: the escape is not UTF-8");
        }
    }

    free(esc);
    free(enc);
    free(dec);

    return 0;
}
