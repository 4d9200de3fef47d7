/*
 * core/encode.c: base64 and base64url, JSON strings and UTF-8
 * (cairn/encode.h).
 */

#include <stdint.h>
#include <string.h>

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


/* ------------------------------------------------------------------ */
/* JSON strings and UTF-8                                             */
/* ------------------------------------------------------------------ */

size_t
cairn_utf8_seq(const void *s, size_t n)
{
    const unsigned char  *p = s;
    uint32_t              cp;
    size_t                len, i;

    if (n == 0) {
        return 0;
    }
    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    {
        return 0;
    }

    return len;
}


size_t
cairn_json_escape(char *out, const char *s, size_t len)
{
    static const char     hex[] = "0123456789abcdef";
    const unsigned char  *p = (const unsigned char *) s;
    size_t                i = 0, o = 0, run, n;

    while (i < len) {
        /* The common case: a run of printable ASCII, copied at once. */
        run = i;
        while (i < len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"'
               && p[i] != '\\')
        {
            i++;
        }
        memcpy(out + o, s + run, i - run);
        o += i - run;
        if (i == len) {
            break;
        }

        if (p[i] >= 0x80) {
            n = cairn_utf8_seq(p + i, len - i);
            if (n == 0) {
                memcpy(out + o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            } else {
                memcpy(out + o, p + i, n);
                o += n;
                i += n;
            }
            continue;
        }

        out[o++] = '\\';
        switch (p[i]) {
        case '"':  out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '\b': out[o++] = 'b'; break;
        case '\f': out[o++] = 'f'; break;
        case '\n': out[o++] = 'n'; break;
        case '\r': out[o++] = 'r'; break;
        case '\t': out[o++] = 't'; break;
        default:
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[p[i] >> 4];
            out[o++] = hex[p[i] & 15];
            break;
        }
        i++;
    }

    return o;
}
