/*
 * core/encode.c: base64 and base64url (cairn/encode.h).
 */

#include <stdint.h>

#include <cairn/encode.h>


static int encode_value(int ch, int url);

static const char  encode_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  encode_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
cairn_base64_encode(const void *in, size_t len, char *out, int url)
{
    const unsigned char  *p = in;
    const char           *tab = url ? encode_url : encode_std;
    size_t                i, o = 0, left;
    uint32_t              v;

    for (i = 0; i < len; i += 3) {
        left = len - i;
        v = (uint32_t) p[i] << 16;
        if (left > 1) {
            v |= (uint32_t) p[i + 1] << 8;
        }
        if (left > 2) {
            v |= p[i + 2];
        }

        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (left > 1) {
            out[o++] = tab[(v >> 6) & 63];
        } else if (!url) {
            out[o++] = '=';
        }
        if (left > 2) {
            out[o++] = tab[v & 63];
        } else if (!url) {
            out[o++] = '=';
        }
    }
    out[o] = '\0';

    return o;
}


long
cairn_base64_decode(const char *in, size_t len, unsigned char *out, int url)
{
    size_t    i, o = 0, pad = 0;
    uint32_t  acc = 0;
    int       v, bits = 0;

    if (!url) {
        if (len % 4 != 0) {
            return -1;
        }
        while (pad < 2 && len > pad && in[len - 1 - pad] == '=') {
            pad++;
        }
        len -= pad;
    } else if (len % 4 == 1) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        v = encode_value((unsigned char) in[i], url);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    /* Left-over bits must be zero: one text, one value. */
    if (acc != 0) {
        return -1;
    }
    out[o] = '\0';

    return (long) o;
}


static int
encode_value(int ch, int url)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == (url ? '-' : '+')) {
        return 62;
    }
    if (ch == (url ? '_' : '/')) {
        return 63;
    }

    return -1;
}
