/*
 * core/accept.c: the q-values of Accept-style headers (RFC 9110 section
 * 12.4.2), for content negotiation: Accept (media ranges), Accept-Encoding
 * and Accept-Charset (tokens).
 *
 * A list element is "value *( OWS ; OWS param )"; its weight is the "q"
 * parameter, 0 to 1 with at most three decimals.  An element whose q is
 * malformed is ignored rather than guessed at, as is an empty one.
 */

#include "config.h"

#include <string.h>
#include <strings.h>

#include <cairn/request.h>


#define ACCEPT_NONE     (-1)


static int accept_q(const char *p, const char *end);
static const char *accept_skip_ows(const char *p, const char *end);


/*
 * The weight, in thousandths, that the header value gives to token: the
 * most specific element that matches decides (the token itself, then,
 * for a media type, its type with a wildcard subtype, then the full
 * wildcard).  -1 when nothing in
 * the value matches, so that a caller can tell "not listed" from "q=0".
 */
int
cairn_accept_q(const char *value, const char *token)
{
    const char  *p, *end, *semi, *slash;
    size_t       len, tlen, typelen;
    int          spec, best_spec = -1, best = ACCEPT_NONE, q;

    if (value == NULL || token == NULL) {
        return ACCEPT_NONE;
    }

    tlen = strlen(token);
    slash = strchr(token, '/');
    typelen = slash != NULL ? (size_t) (slash - token) : 0;

    for (p = value; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }
        p = accept_skip_ows(p, end);
        semi = memchr(p, ';', (size_t) (end - p));
        len = (size_t) ((semi != NULL ? semi : end) - p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }
        if (len == 0) {
            continue;
        }

        if (len == tlen && strncasecmp(p, token, len) == 0) {
            spec = 3;
        } else if (slash != NULL && len == typelen + 2
                   && strncasecmp(p, token, typelen + 1) == 0
                   && p[len - 1] == '*')
        {
            spec = 2;
        } else if ((len == 1 && p[0] == '*')
                   || (len == 3 && memcmp(p, "*/*", 3) == 0))
        {
            spec = 1;
        } else {
            continue;
        }

        q = semi != NULL ? accept_q(semi, end) : 1000;
        if (q < 0) {
            continue;
        }
        if (spec > best_spec) {
            best_spec = spec;
            best = q;
        }
    }

    return best;
}


/* The q of the parameters at p (";" included) up to end: 1000 without
 * one, -1 when it is malformed. */
static int
accept_q(const char *p, const char *end)
{
    const char  *v;
    int          q, digits;

    while (p < end) {
        p = accept_skip_ows(p + 1, end);        /* past ';' */
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            v = p + 2;
            if (v < end && (*v == '0' || *v == '1')) {
                q = (*v++ - '0') * 1000;
                if (v < end && *v == '.') {
                    int  scale = 100;

                    for (v++, digits = 0; v < end && *v >= '0' && *v <= '9'
                                          && digits < 3; v++, digits++)
                    {
                        q += (*v - '0') * scale;
                        scale /= 10;
                    }
                }
                v = accept_skip_ows(v, end);
                if ((v == end || *v == ';') && q <= 1000) {
                    return q;
                }
            }
            return -1;
        }
        p = memchr(p, ';', (size_t) (end - p));
        if (p == NULL) {
            break;
        }
    }

    return 1000;
}


static const char *
accept_skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}
