/*
 * tests/unit/test_encode.c: base64 and base64url (cairn/encode.h).
 */

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


static Suite *
encode_suite(void)
{
    const unit_case_t  cases[] = {
        { "rfc4648_vectors", rfc4648_vectors, 0 },
        { "alphabets", alphabets, 0 },
        { "refused", refused, 0 },
    };

    return unit_suite("encode", cases, UNIT_NCASES(cases), NULL, NULL);
}


int
main(void)
{
    return unit_run(encode_suite());
}
