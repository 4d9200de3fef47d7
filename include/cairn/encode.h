/*
 * cairn/encode.h: base64 and base64url (RFC 4648), for credentials,
 * tokens and opaque identifiers; JSON strings and UTF-8 (ABI 1.2), for
 * whatever writes JSON.
 */

#ifndef CAIRN_ENCODE_H
#define CAIRN_ENCODE_H

#include <stddef.h>

#include <cairn/defs.h>

/* Room for the encoding of n bytes, its NUL included. */
#define CAIRN_BASE64_ENCODED_SIZE(n)    (((n) + 2) / 3 * 4 + 1)

/* Room for the decoding of n characters, a NUL included. */
#define CAIRN_BASE64_DECODED_SIZE(n)    ((n) / 4 * 3 + 3)

/*
 * Encodes len bytes into out (CAIRN_BASE64_ENCODED_SIZE(len) bytes):
 * url = 0 gives base64 with "+/" and '=' padding, url = 1 base64url with
 * "-_" and no padding.  Returns the length written; out is
 * NUL-terminated.
 */
CAIRN_API size_t cairn_base64_encode(const void *in, size_t len, char *out,
                                     int url);

/*
 * Decodes exactly len characters into out
 * (CAIRN_BASE64_DECODED_SIZE(len) bytes, NUL-terminated): url = 0 wants
 * base64 with its '=' padding, url = 1 base64url without padding.  A
 * character outside the alphabet, a wrong length or non-zero padding bits
 * (two texts for one value) are refused.  Returns the decoded length, or
 * -1.
 */
CAIRN_API long cairn_base64_decode(const char *in, size_t len,
                                   unsigned char *out, int url);

/* Room for the JSON escape of n bytes (each byte at worst six). */
#define CAIRN_JSON_ESCAPED_SIZE(n)      ((n) * 6)

/*
 * Writes s[0..len) as the inside of a JSON string (no quotes) into out,
 * which has room for CAIRN_JSON_ESCAPED_SIZE(len) bytes: '"' and '\'
 * escaped, control characters as \b \f \n \r \t or \u00XX, valid UTF-8
 * as it is, and each byte that does not begin a valid UTF-8 sequence
 * (overlong forms, surrogates, above U+10FFFF, a cut sequence) as
 * U+FFFD.  The result is always valid JSON text and valid UTF-8.
 * Returns the bytes written (out is not NUL-terminated).  (ABI 1.2)
 */
CAIRN_API size_t cairn_json_escape(char *out, const char *s, size_t len);

/*
 * The length of the valid UTF-8 sequence that begins s (at most n
 * bytes): 1 to 4, or 0 when it is not one (see cairn_json_escape).
 * (ABI 1.2)
 */
CAIRN_API size_t cairn_utf8_seq(const void *s, size_t n);

#endif /* CAIRN_ENCODE_H */
