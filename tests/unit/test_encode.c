/*
 * tests/unit/test_encode.c: base64 and base64url (cairn/encode.h).
 */

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <cairn/encode.h>

#include "unit.h"


/* RFC 4648 section 10. */
static const char *const  plain[] = {
    "", "f", "fo", "foo", "foob", "fooba", "foobar"
};
static const char *const  std[] = {
    "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"
};
static const char *const  url[] = {
    "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"
};


START_TEST(rfc4648_vectors)
{
    char           enc[CAIRN_BASE64_ENCODED_SIZE(6)];
    unsigned char  dec[CAIRN_BASE64_DECODED_SIZE(8)];
    size_t         i, n;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        n = cairn_base64_encode(plain[i], strlen(plain[i]), enc, 0);
        ck_assert_str_eq(enc, std[i]);
        ck_assert_uint_eq(n, strlen(std[i]));

        n = cairn_base64_encode(plain[i], strlen(plain[i]), enc, 1);
        ck_assert_str_eq(enc, url[i]);
        ck_assert_uint_eq(n, strlen(url[i]));

        ck_assert_int_eq(cairn_base64_decode(std[i], strlen(std[i]), dec, 0),
                         (long) strlen(plain[i]));
        ck_assert_str_eq((char *) dec, plain[i]);
        ck_assert_int_eq(cairn_base64_decode(url[i], strlen(url[i]), dec, 1),
                         (long) strlen(plain[i]));
        ck_assert_str_eq((char *) dec, plain[i]);
    }
}
END_TEST


START_TEST(alphabets)
{
    char           enc[CAIRN_BASE64_ENCODED_SIZE(3)];
    unsigned char  dec[8];

    cairn_base64_encode("\xfb\xff\xbf", 3, enc, 0);
    ck_assert_str_eq(enc, "+/+/");
    cairn_base64_encode("\xfb\xff\xbf", 3, enc, 1);
    ck_assert_str_eq(enc, "-_-_");

    /* Each alphabet refuses the other's two characters. */
    ck_assert_int_eq(cairn_base64_decode("-_-_", 4, dec, 0), -1);
    ck_assert_int_eq(cairn_base64_decode("+/+/", 4, dec, 1), -1);
}
END_TEST


START_TEST(refused)
{
    unsigned char  dec[16];

    /* Padding: required in base64, refused in base64url. */
    ck_assert_int_eq(cairn_base64_decode("Zg", 2, dec, 0), -1);
    ck_assert_int_eq(cairn_base64_decode("Zg==", 4, dec, 1), -1);
    ck_assert_int_eq(cairn_base64_decode("Z===", 4, dec, 0), -1);
    /* A length no encoding has. */
    ck_assert_int_eq(cairn_base64_decode("Zm9vY", 5, dec, 1), -1);
    /* Non-zero padding bits: a second text for "f". */
    ck_assert_int_eq(cairn_base64_decode("Zh==", 4, dec, 0), -1);
    ck_assert_int_eq(cairn_base64_decode("Zh", 2, dec, 1), -1);
    /* Characters outside the alphabet, a NUL included. */
    ck_assert_int_eq(cairn_base64_decode("Zm9v\n", 5, dec, 1), -1);
    ck_assert_int_eq(cairn_base64_decode("Zm 9", 4, dec, 0), -1);
    ck_assert_int_eq(cairn_base64_decode("Zm\0v", 4, dec, 0), -1);
}
END_TEST


/* One input (len bytes, NULs allowed) and its JSON escape. */
typedef struct {
    const char  *in;
    size_t       len;
    const char  *out;
} json_case_t;

#define JC(in, out)     { in, sizeof(in) - 1, out }


START_TEST(json_escape)
{
    static const json_case_t  cases[] = {
        JC("", ""),
        JC("plain text / slash", "plain text / slash"),
        JC("q\"b\\", "q\\\"b\\\\"),
        JC("\b\f\n\r\t", "\\b\\f\\n\\r\\t"),
        JC("\x01\x1f\x7f", "\\u0001\\u001f\x7f"),
        JC("a\0b", "a\\u0000b"),
        JC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"),
        /* Invalid: a lone byte, overlong, surrogate, too large, cut. */
        JC("x\xffy", "x\xef\xbf\xbdy"),
        JC("\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"),
        JC("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
        JC("\xf5\x80\x80\x80",
           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
        JC("\xf4\x90\x80\x80",
           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
        JC("end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd"),
        JC("\xe0\xa0\x80", "\xe0\xa0\x80"),
    };
    char    *out;
    size_t   i, n;

    for (i = 0; i < UNIT_NCASES(cases); i++) {
        /* Exactly the promised room, on the heap: ASan sees overruns. */
        out = malloc(CAIRN_JSON_ESCAPED_SIZE(cases[i].len) + 1);
        ck_assert_ptr_nonnull(out);
        n = cairn_json_escape(out, cases[i].in, cases[i].len);
        ck_assert_msg(n == strlen(cases[i].out)
                      && memcmp(out, cases[i].out, n) == 0,
                      "case %zu: got %zu bytes \"%.*s\"", i, n, (int) n,
                      out);
        free(out);
    }
}
END_TEST


START_TEST(json_escape_worst_case)
{
    char     in[64], *out;
    size_t   n;

    memset(in, '\x01', sizeof(in));
    out = malloc(CAIRN_JSON_ESCAPED_SIZE(sizeof(in)));
    ck_assert_ptr_nonnull(out);
    n = cairn_json_escape(out, in, sizeof(in));
    ck_assert_uint_eq(n, CAIRN_JSON_ESCAPED_SIZE(sizeof(in)));
    free(out);
}
END_TEST


START_TEST(utf8_seq)
{
    ck_assert_uint_eq(cairn_utf8_seq("a", 1), 1);
    ck_assert_uint_eq(cairn_utf8_seq("\xc3\xa9", 2), 2);
    ck_assert_uint_eq(cairn_utf8_seq("\xc3\xa9", 1), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\xe2\x82\xac", 3), 3);
    ck_assert_uint_eq(cairn_utf8_seq("\xf0\x9d\x84\x9e", 4), 4);
    ck_assert_uint_eq(cairn_utf8_seq("\xf0\x9d\x84", 3), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\x80", 1), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\xc1\xbf", 2), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\xe0\x9f\xbf", 3), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\xed\xbf\xbf", 3), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\xf0\x8f\xbf\xbf", 4), 0);
    ck_assert_uint_eq(cairn_utf8_seq("\xf4\x8f\xbf\xbf", 4), 4);
    ck_assert_uint_eq(cairn_utf8_seq("", 0), 0);
}
END_TEST


static Suite *
encode_suite(void)
{
    const unit_case_t  cases[] = {
        { "rfc4648_vectors", rfc4648_vectors, 0 },
        { "alphabets", alphabets, 0 },
        { "refused", refused, 0 },
        { "json_escape", json_escape, 0 },
        { "json_escape_worst_case", json_escape_worst_case, 0 },
        { "utf8_seq", utf8_seq, 0 },
    };

    return unit_suite("encode", cases, UNIT_NCASES(cases), NULL, NULL);
}


int
main(void)
{
    return unit_run(encode_suite());
}
