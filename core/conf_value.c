/*
 * core/conf_value.c: the value parsers of the built-in directive types
 * (flag, number, size, time), key-list lookup and the compiling of
 * regular expressions, used by the config parser and by modules' own
 * setters (cairn/config.h).  Plain functions of their arguments: they
 * know nothing of servers or scopes.
 */

#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <regex.h>

#include <cairn/cairn.h>


static const char *conf_value_number(const char *s, uint64_t max,
                                     uint64_t *out, const char **end);
static long conf_value_regex_stacked(const char *re);
static void conf_value_regfree(void *re);


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
 * Every regular expression of the configuration is compiled here, so that
 * none reaches regcomp() with a run of stacked repetitions: a location's
 * or a module's, all written by the admin, all compiled at start and at
 * every reload.
 */
const char *
cairn_regex_compile(cairn_arena_t *a, regex_t *re, const char *pattern,
                    int cflags)
{
    char  msg[256];
    long  at;
    int   rc;

    at = conf_value_regex_stacked(pattern);
    if (at >= 0) {
        return cairn_arena_printf(a, "a repetition ('%c' at offset %ld) "
                                  "follows another one; POSIX leaves that "
                                  "undefined, and long runs of them make "
                                  "the expression take minutes to compile",
                                  pattern[at], at);
    }

    rc = regcomp(re, pattern, REG_EXTENDED | cflags);
    if (rc != 0) {
        regerror(rc, re, msg, sizeof(msg));
        return cairn_arena_printf(a, "bad regular expression: %s", msg);
    }
    cairn_arena_cleanup_add(a, conf_value_regfree, re);

    return NULL;
}


/*
 * The offset of the first repetition operator (*, +, ? or an interval)
 * that follows another one in the extended regular expression re, such
 * as "a**" or "a+?", or -1 when there is none.  POSIX leaves stacked
 * repetitions undefined, and glibc's regcomp() takes time exponential in
 * their number (a hundred "*" in a row do not compile in minutes), so
 * they are refused before compiling.  Escapes and bracket expressions
 * are skipped.
 */
static long
conf_value_regex_stacked(const char *re)
{
    const char  *p = re;
    int          after_rep = 0;

    while (*p != '\0') {
        switch (*p) {
        case '\\':
            after_rep = 0;
            if (p[1] != '\0') {
                p++;
            }
            break;

        case '[':
            /* To the closing ']': one first (or after '^') is a member,
             * and so is everything inside "[:", "[." or "[=" pairs. */
            after_rep = 0;
            p++;
            if (*p == '^') {
                p++;
            }
            if (*p == ']') {
                p++;
            }
            while (*p != '\0' && *p != ']') {
                if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
                    char  close = p[1];

                    p += 2;
                    while (*p != '\0' && !(*p == close && p[1] == ']')) {
                        p++;
                    }
                    if (*p == '\0') {
                        return -1;
                    }
                    p++;
                }
                p++;
            }
            if (*p == '\0') {
                return -1;          /* regcomp() says what is wrong */
            }
            break;

        case '*':
        case '+':
        case '?':
            if (after_rep) {
                return (long) (p - re);
            }
            after_rep = 1;
            break;

        case '{':
            if (after_rep) {
                return (long) (p - re);
            }
            while (*p != '\0' && *p != '}') {
                p++;
            }
            if (*p == '\0') {
                return -1;
            }
            after_rep = 1;
            break;

        default:
            after_rep = 0;
            break;
        }
        p++;
    }

    return -1;
}


static void
conf_value_regfree(void *re)
{
    regfree(re);
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
