/*
 * core/conf_value.c: the value parsers of the built-in directive types
 * (flag, number, size, time) and key-list lookup, used by the config
 * parser and by modules' own setters (cairn/config.h).  Plain functions of
 * their arguments: they know nothing of servers or scopes.
 */

#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cairn/cairn.h>


static const char *conf_value_number(const char *s, uint64_t max,
                                     uint64_t *out, const char **end);


/*
 * The parsers.  Their messages live in a small buffer per parser (and per
 * thread): a setter returns the message at once, and the config parser
 * copies it into the error list before the next directive is read.
 */

const char *
cairn_parse_flag(const char *s, int *out)
{
    static _Thread_local char  msg[160];

    if (strcasecmp(s, "on") == 0) {
        *out = 1;
        return NULL;
    }

    if (strcasecmp(s, "off") == 0) {
        *out = 0;
        return NULL;
    }

    snprintf(msg, sizeof(msg), "'%.100s' is not on or off", s);

    return msg;
}


const char *
cairn_parse_int(const char *s, int *out)
{
    static _Thread_local char  msg[192];
    const char                *end;
    uint64_t                   v;

    if (conf_value_number(s, INT32_MAX, &v, &end) != NULL || *end != '\0') {
        snprintf(msg, sizeof(msg), "'%.100s' is not a number (use a whole "
                 "number from 0 to %d)", s, INT32_MAX);
        return msg;
    }

    *out = (int) v;

    return NULL;
}


const char *
cairn_parse_size(const char *s, int64_t *out)
{
    static _Thread_local char  msg[192];
    const char                *end;
    uint64_t                   v, unit;

    if (conf_value_number(s, INT64_MAX, &v, &end) != NULL) {
        goto bad;
    }

    switch (*end) {
    case '\0':
        unit = 1;
        break;
    case 'k':
    case 'K':
        unit = 1024;
        end++;
        break;
    case 'm':
    case 'M':
        unit = 1024 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        unit = 1024 * 1024 * 1024;
        end++;
        break;
    default:
        goto bad;
    }

    if (*end != '\0') {
        goto bad;
    }

    if (v > (uint64_t) CAIRN_SIZE_MAX / unit) {
        snprintf(msg, sizeof(msg), "'%.100s' is too large a size (at most "
                 "1024G)", s);
        return msg;
    }

    *out = (int64_t) (v * unit);

    return NULL;

bad:

    snprintf(msg, sizeof(msg), "'%.100s' is not a size (use e.g. 512, 64k, "
             "10M)", s);

    return msg;
}


const char *
cairn_parse_msec(const char *s, int64_t *out)
{
    static _Thread_local char  msg[192];
    const char                *end;
    uint64_t                   v, unit;

    if (conf_value_number(s, INT64_MAX, &v, &end) != NULL) {
        goto bad;
    }

    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0) {
        unit = 1000;
    } else if (strcmp(end, "ms") == 0) {
        unit = 1;
    } else if (strcmp(end, "m") == 0) {
        unit = 60 * 1000;
    } else if (strcmp(end, "h") == 0) {
        unit = 60 * 60 * 1000;
    } else {
        goto bad;
    }

    if (v > (uint64_t) CAIRN_TIME_MAX_MS / unit) {
        snprintf(msg, sizeof(msg), "'%.100s' is too long a time (at most "
                 "8760h, a year)", s);
        return msg;
    }

    *out = (int64_t) (v * unit);

    return NULL;

bad:

    snprintf(msg, sizeof(msg), "'%.100s' is not a time (use e.g. 250ms, "
             "30s, 5m, 1h; a bare number means seconds)", s);

    return msg;
}


const char *
cairn_kvv_get(const cairn_kvv_t *kv, const char *key)
{
    size_t  i;

    if (kv == NULL || key == NULL) {
        return NULL;
    }

    for (i = 0; i < kv->n; i++) {
        if (strcmp(kv->v[i].key, key) == 0) {
            return kv->v[i].value;
        }
    }

    return NULL;
}


/*
 * Reads the decimal digits at the start of s (at least one) into *out,
 * refusing a value above max; *end points after the digits.  Returns
 * NULL, or a non-NULL marker when there is no digit or the value is too
 * large.
 */
static const char *
conf_value_number(const char *s, uint64_t max, uint64_t *out,
                 const char **end)
{
    uint64_t  v = 0;
    unsigned  d;

    if (*s < '0' || *s > '9') {
        return "no digits";
    }

    for ( /* void */ ; *s >= '0' && *s <= '9'; s++) {
        d = (unsigned) (*s - '0');
        if (v > (max - d) / 10) {
            return "too large";
        }
        v = v * 10 + d;
    }

    *out = v;
    *end = s;

    return NULL;
}
