/*
 * cairn/encode.h: base64 and base64url (RFC 4648), for credentials,
 * tokens and opaque identifiers.
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

#endif /* CAIRN_ENCODE_H */
