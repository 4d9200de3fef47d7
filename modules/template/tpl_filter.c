/*
 * modules/template/tpl_filter.c: the filters of {{ value | name(args) }}.
 *
 *     upper lower title        ASCII letters change case; keep raw-ness
 *     default(x)               x when the value is null or missing
 *     length                   characters of a string, items of a list
 *                              or an object, else 0
 *     join(sep)                a list's items as text, sep between
 *     json                     JSON safe inside <script> and inside a
 *                              single-quoted attribute; not escaped again
 *     urlencode                percent-encoded but for A-Z a-z 0-9 - _ . ~
 *     date(fmt)                an ISO-8601 string or epoch seconds through
 *                              strftime(fmt) in UTC; default "%Y-%m-%d"
 *     truncate(n)              at most n characters, then "..."
 *     raw                      not escaped on output
 *
 * A filter never fails on a value of the wrong type: it passes it on or
 * works on its text.  Its only errors are the limits (a string it builds
 * larger than max_output) and memory.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tpl_int.h"

/* The date filter's format and result. */
#define TPL_DATE_FORMAT_MAX     128
#define TPL_DATE_MAX            512

/* Epoch seconds of 0001-01-01 and of 9999-12-31T23:59:59. */
#define TPL_EPOCH_MIN           (-62135596800LL)
#define TPL_EPOCH_MAX           253402300799LL


typedef struct {
    char    *s;
    size_t   len;
    size_t   cap;
} tpl_str_t;


static int tpl_filter_upper(tpl_ctx_t *ctx, const tpl_expr_t *e,
                            tpl_val_t *v, json_t **args);
static int tpl_filter_lower(tpl_ctx_t *ctx, const tpl_expr_t *e,
                            tpl_val_t *v, json_t **args);
static int tpl_filter_title(tpl_ctx_t *ctx, const tpl_expr_t *e,
                            tpl_val_t *v, json_t **args);
static int tpl_filter_default(tpl_ctx_t *ctx, const tpl_expr_t *e,
                              tpl_val_t *v, json_t **args);
static int tpl_filter_length(tpl_ctx_t *ctx, const tpl_expr_t *e,
                             tpl_val_t *v, json_t **args);
static int tpl_filter_join(tpl_ctx_t *ctx, const tpl_expr_t *e,
                           tpl_val_t *v, json_t **args);
static int tpl_filter_json(tpl_ctx_t *ctx, const tpl_expr_t *e,
                           tpl_val_t *v, json_t **args);
static int tpl_filter_urlencode(tpl_ctx_t *ctx, const tpl_expr_t *e,
                                tpl_val_t *v, json_t **args);
static int tpl_filter_date(tpl_ctx_t *ctx, const tpl_expr_t *e,
                           tpl_val_t *v, json_t **args);
static int tpl_filter_truncate(tpl_ctx_t *ctx, const tpl_expr_t *e,
                               tpl_val_t *v, json_t **args);
static int tpl_filter_raw(tpl_ctx_t *ctx, const tpl_expr_t *e,
                          tpl_val_t *v, json_t **args);
static int tpl_case(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                    int how);
static int tpl_json_chunk(const char *buf, size_t size, void *data);
static int tpl_parse_iso(const char *s, size_t len, long long *epoch);
static long long tpl_days_from_civil(long long y, unsigned m, unsigned d);
static void tpl_utc(long long epoch, struct tm *tm);
static size_t tpl_format_date(const char *fmt, const struct tm *tm,
                              char *out, size_t size);
static int tpl_set_copy(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                        const char *s, size_t len, int safe);
static int tpl_str_add(tpl_ctx_t *ctx, tpl_str_t *b, const char *s,
                       size_t n);
static int tpl_set_string(tpl_ctx_t *ctx, const tpl_expr_t *e,
                          tpl_val_t *v, char *s, size_t len, int safe);
static int tpl_fail_size(tpl_ctx_t *ctx, const tpl_expr_t *e,
                         tpl_str_t *b);


static const tpl_filter_t  tpl_filters[] = {
    { "upper",      0, 0, tpl_filter_upper },
    { "lower",      0, 0, tpl_filter_lower },
    { "title",      0, 0, tpl_filter_title },
    { "default",    1, 1, tpl_filter_default },
    { "length",     0, 0, tpl_filter_length },
    { "join",       0, 1, tpl_filter_join },
    { "json",       0, 0, tpl_filter_json },
    { "urlencode",  0, 0, tpl_filter_urlencode },
    { "date",       0, 1, tpl_filter_date },
    { "truncate",   1, 1, tpl_filter_truncate },
    { "raw",        0, 0, tpl_filter_raw },
    { NULL,         0, 0, NULL }
};


const tpl_filter_t *
tpl_filter_find(const char *name, size_t len)
{
    const tpl_filter_t  *f;

    for (f = tpl_filters; f->name != NULL; f++) {
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) {
            return f;
        }
    }

    return NULL;
}


static int
tpl_filter_upper(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                 json_t **args)
{
    (void) args;
    return tpl_case(ctx, e, v, 'u');
}


static int
tpl_filter_lower(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                 json_t **args)
{
    (void) args;
    return tpl_case(ctx, e, v, 'l');
}


static int
tpl_filter_title(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                 json_t **args)
{
    (void) args;
    return tpl_case(ctx, e, v, 't');
}


static int
tpl_filter_default(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                   json_t **args)
{
    (void) ctx;
    (void) e;

    if (json_is_null(v->v)) {
        tpl_val_set(v, json_incref(args[0]));
        v->safe = 0;
    }

    return 0;
}


static int
tpl_filter_length(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                  json_t **args)
{
    json_t  *n;
    size_t   len = 0;

    (void) args;

    if (json_is_string(v->v)) {
        len = tpl_utf8_length(json_string_value(v->v),
                              json_string_length(v->v));
    } else if (json_is_array(v->v)) {
        len = json_array_size(v->v);
    } else if (json_is_object(v->v)) {
        len = json_object_size(v->v);
    }

    n = json_integer((json_int_t) len);
    if (n == NULL) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }
    tpl_val_set(v, n);
    v->safe = 0;

    return 0;
}


static int
tpl_filter_join(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                json_t **args)
{
    tpl_str_t  b = { NULL, 0, 0 };
    char      *sep = NULL, *item;
    size_t     seplen = 0, len, i;
    int        rc = 0;

    if (!json_is_array(v->v)) {
        item = tpl_stringify(v->v, &len);
        if (item == NULL) {
            return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
        }
        return tpl_set_string(ctx, e, v, item, len, 0);
    }

    if (args[0] != NULL) {
        sep = tpl_stringify(args[0], &seplen);
        if (sep == NULL) {
            return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
        }
    }

    for (i = 0; i < json_array_size(v->v) && rc == 0; i++) {
        if (i > 0) {
            rc = tpl_str_add(ctx, &b, sep, seplen);
            if (rc != 0) {
                break;
            }
        }
        item = tpl_stringify(json_array_get(v->v, i), &len);
        if (item == NULL) {
            rc = -1;
            break;
        }
        rc = tpl_str_add(ctx, &b, item, len);
        free(item);
    }
    free(sep);

    if (rc != 0) {
        return tpl_fail_size(ctx, e, &b);
    }

    return tpl_set_string(ctx, e, v, b.s, b.len, 0);
}


/*
 * JSON for <script>: jansson's compact text, then <, >, &, ' and the
 * line separators U+2028 and U+2029 (line ends for older JavaScript) as
 * \u escapes, which JSON and JavaScript both read back.
 */
static int
tpl_filter_json(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                json_t **args)
{
    tpl_str_t    raw = { NULL, 0, 0 }, b = { NULL, 0, 0 };
    const char  *p, *end, *start, *esc;
    void        *cb[2];
    int          rc;

    (void) args;

    cb[0] = ctx;
    cb[1] = &raw;
    if (json_dump_callback(v->v, tpl_json_chunk, cb,
                           JSON_COMPACT | JSON_ENCODE_ANY) != 0
        || raw.s == NULL)
    {
        return tpl_fail_size(ctx, e, &raw);
    }

    rc = 0;
    start = raw.s;
    end = raw.s + raw.len;
    for (p = raw.s; p < end && rc == 0; p++) {
        switch (*p) {
        case '<': esc = "\\u003c"; break;
        case '>': esc = "\\u003e"; break;
        case '&': esc = "\\u0026"; break;
        case '\'': esc = "\\u0027"; break;
        case '\xe2':
            if (end - p >= 3 && p[1] == '\x80'
                && (p[2] == '\xa8' || p[2] == '\xa9'))
            {
                esc = p[2] == '\xa8' ? "\\u2028" : "\\u2029";
                rc = tpl_str_add(ctx, &b, start, p - start);
                if (rc == 0) {
                    rc = tpl_str_add(ctx, &b, esc, 6);
                }
                p += 2;
                start = p + 1;
            }
            continue;
        default:
            continue;
        }
        rc = tpl_str_add(ctx, &b, start, p - start);
        if (rc == 0) {
            rc = tpl_str_add(ctx, &b, esc, 6);
        }
        start = p + 1;
    }
    if (rc == 0) {
        rc = tpl_str_add(ctx, &b, start, end - start);
    }
    free(raw.s);

    if (rc != 0) {
        return tpl_fail_size(ctx, e, &b);
    }

    return tpl_set_string(ctx, e, v, b.s, b.len, 1);
}


static int
tpl_json_chunk(const char *buf, size_t size, void *data)
{
    void  **cb = data;

    return tpl_str_add(cb[0], cb[1], buf, size);
}


static int
tpl_filter_urlencode(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                     json_t **args)
{
    static const char   hex[] = "0123456789ABCDEF";
    tpl_str_t           b = { NULL, 0, 0 };
    const unsigned char *s;
    unsigned char       c;
    char               *made = NULL, pct[3];
    size_t              len, i, run;
    int                 rc = 0;

    (void) args;

    if (json_is_string(v->v)) {
        s = (const unsigned char *) json_string_value(v->v);
        len = json_string_length(v->v);
    } else {
        made = tpl_stringify(v->v, &len);
        if (made == NULL) {
            return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
        }
        s = (const unsigned char *) made;
    }

    /* Runs of unreserved bytes in one append, the others as %XX. */
    for (i = 0; i < len && rc == 0; i += run) {
        for (run = 0; i + run < len; run++) {
            c = s[i + run];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '-' || c == '_'
                  || c == '.' || c == '~'))
            {
                break;
            }
        }
        if (run > 0) {
            rc = tpl_str_add(ctx, &b, (const char *) s + i, run);
            continue;
        }
        c = s[i];
        pct[0] = '%';
        pct[1] = hex[c >> 4];
        pct[2] = hex[c & 15];
        rc = tpl_str_add(ctx, &b, pct, 3);
        run = 1;
    }
    free(made);

    if (rc != 0) {
        return tpl_fail_size(ctx, e, &b);
    }

    return tpl_set_string(ctx, e, v, b.s, b.len, 1);
}


static int
tpl_filter_date(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                json_t **args)
{
    const char  *fmt = "%Y-%m-%d";
    char         out[TPL_DATE_MAX];
    long long    epoch;
    double       d;
    struct tm    tm;
    size_t       n;

    if (args[0] != NULL && json_is_string(args[0])) {
        fmt = json_string_value(args[0]);
    }

    if (json_is_integer(v->v)) {
        epoch = json_integer_value(v->v);
    } else if (json_is_real(v->v)) {
        d = json_real_value(v->v);
        if (!(d >= TPL_EPOCH_MIN && d <= TPL_EPOCH_MAX)) {
            return 0;
        }
        epoch = (long long) d;
    } else if (!json_is_string(v->v)
               || tpl_parse_iso(json_string_value(v->v),
                                json_string_length(v->v), &epoch) != 0)
    {
        /* Not a date: passed on as it is. */
        return 0;
    }
    if (epoch < TPL_EPOCH_MIN || epoch > TPL_EPOCH_MAX) {
        return 0;
    }

    tpl_utc(epoch, &tm);

    n = 0;
    out[0] = '\0';
    if (strlen(fmt) <= TPL_DATE_FORMAT_MAX
        && (n = tpl_format_date(fmt, &tm, out, sizeof(out))) == (size_t) -1)
    {
        /* The format is the template's to choose, as intended. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        n = strftime(out, sizeof(out), fmt, &tm);
#pragma GCC diagnostic pop
    }

    return tpl_set_copy(ctx, e, v, out, n, 0);
}


/*
 * The broken-down UTC time of epoch (in TPL_EPOCH_MIN..MAX): the inverse
 * of tpl_days_from_civil, with no time zone to consult, which gmtime_r
 * does on every call.
 */
static void
tpl_utc(long long epoch, struct tm *tm)
{
    long long  days, secs, era, doe, yoe, doy, mp, y;

    days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
    secs = epoch - days * 86400;

    memset(tm, 0, sizeof(*tm));
    tm->tm_hour = (int) (secs / 3600);
    tm->tm_min = (int) (secs / 60 % 60);
    tm->tm_sec = (int) (secs % 60);
    /* 1970-01-01 was a Thursday. */
    tm->tm_wday = (int) (((days + 4) % 7 + 7) % 7);

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    tm->tm_mday = (int) (doy - (153 * mp + 2) / 5 + 1);
    tm->tm_mon = (int) (mp < 10 ? mp + 2 : mp - 10);
    y = yoe + era * 400 + (tm->tm_mon <= 1);
    tm->tm_year = (int) (y - 1900);
    tm->tm_yday = (int) (epoch / 86400 - (epoch % 86400 < 0)
                         - tpl_days_from_civil(y, 1, 1));
}


/*
 * The common conversions (%Y %m %d %H %M %S %F %T %%) written by hand;
 * (size_t) -1 for a format with any other, which strftime then writes.
 */
static size_t
tpl_format_date(const char *fmt, const struct tm *tm, char *out, size_t size)
{
    const char  *f;
    size_t       n = 0;
    int          v[3], k, i, w;
    char         sep;

    for (f = fmt; *f != '\0'; f++) {
        if (n + 20 >= size) {
            return (size_t) -1;
        }
        if (*f != '%') {
            out[n++] = *f;
            continue;
        }
        w = 2;
        switch (*++f) {
        case 'Y':
            /* strftime writes a year below 1000 unpadded. */
            if (tm->tm_year + 1900 < 1000) {
                return (size_t) -1;
            }
            v[0] = tm->tm_year + 1900; k = 1; w = 4; sep = 0;
            break;
        case 'm': v[0] = tm->tm_mon + 1; k = 1; sep = 0; break;
        case 'd': v[0] = tm->tm_mday; k = 1; sep = 0; break;
        case 'H': v[0] = tm->tm_hour; k = 1; sep = 0; break;
        case 'M': v[0] = tm->tm_min; k = 1; sep = 0; break;
        case 'S': v[0] = tm->tm_sec; k = 1; sep = 0; break;
        case 'T':
            v[0] = tm->tm_hour; v[1] = tm->tm_min; v[2] = tm->tm_sec;
            k = 3; sep = ':';
            break;
        case 'F':
            k = (int) tpl_format_date("%Y-%m-%d", tm, out + n, size - n);
            if (k < 0) {
                return (size_t) -1;
            }
            n += (size_t) k;
            continue;
        case '%':
            out[n++] = '%';
            continue;
        default:
            return (size_t) -1;
        }
        for (i = 0; i < k; i++) {
            if (i > 0) {
                out[n++] = sep;
            }
            if (w == 4) {
                out[n++] = (char) ('0' + v[i] / 1000);
                out[n++] = (char) ('0' + v[i] / 100 % 10);
            }
            out[n++] = (char) ('0' + v[i] / 10 % 10);
            out[n++] = (char) ('0' + v[i] % 10);
        }
    }
    out[n] = '\0';

    return n;
}


static int
tpl_filter_truncate(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
                    json_t **args)
{
    json_int_t   max = 0;
    char        *s, *cut;
    size_t       len, i, chars;

    if (json_is_integer(args[0])) {
        max = json_integer_value(args[0]);
    } else if (json_is_real(args[0]) && json_real_value(args[0]) > 0) {
        max = json_real_value(args[0]) < 1e15
              ? (json_int_t) json_real_value(args[0]) : 1000000000000000LL;
    }
    if (max < 0) {
        max = 0;
    }

    s = tpl_stringify(v->v, &len);
    if (s == NULL) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }
    if (tpl_utf8_length(s, len) <= (size_t) max) {
        return tpl_set_string(ctx, e, v, s, len, 0);
    }

    /* Cut before the character max + 1, at a character's first byte. */
    for (i = 0, chars = 0; i < len; i++) {
        if (((unsigned char) s[i] & 0xc0) != 0x80) {
            if (chars == (size_t) max) {
                break;
            }
            chars++;
        }
    }
    cut = realloc(s, i + 4);
    if (cut == NULL) {
        free(s);
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }
    memcpy(cut + i, "...", 4);

    return tpl_set_string(ctx, e, v, cut, i + 3, 0);
}


static int
tpl_filter_raw(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
               json_t **args)
{
    (void) ctx;
    (void) e;
    (void) args;

    v->safe = 1;

    return 0;
}


/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Upper ('u'), lower ('l') or title ('t') case for ASCII letters. */
static int
tpl_case(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v, int how)
{
    unsigned char  c;
    char          *s;
    size_t         len, i;
    int            word = 0, alnum;

    s = tpl_stringify(v->v, &len);
    if (s == NULL) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c >= 0x80 || c == '\'';
        if (how == 'u' || (how == 't' && !word)) {
            if (c >= 'a' && c <= 'z') {
                s[i] = (char) (c - 'a' + 'A');
            }
        } else if (c >= 'A' && c <= 'Z') {
            s[i] = (char) (c - 'A' + 'a');
        }
        word = alnum;
    }

    return tpl_set_string(ctx, e, v, s, len, v->safe);
}


/*
 * YYYY-MM-DD, optionally followed by 'T' (or 't' or a space) HH:MM,
 * optional :SS and a fraction (dropped), then optional Z or an offset
 * (+HH:MM, +HHMM, +HH).  0 with *epoch, or -1.
 */
static int
tpl_parse_iso(const char *s, size_t len, long long *epoch)
{
    static const unsigned char  mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };
    unsigned  f[6] = { 0, 0, 0, 0, 0, 0 }, k, i = 0, n;
    long long  off = 0, y;
    int        sign;

/* Reads n digits into x, or fails. */
#define TPL_DIGITS(x, n)                                                    \
    do {                                                                    \
        (x) = 0;                                                            \
        for (k = 0; k < (n); k++, i++) {                                    \
            if (i >= len || s[i] < '0' || s[i] > '9') {                     \
                return -1;                                                  \
            }                                                               \
            (x) = (x) * 10 + (unsigned) (s[i] - '0');                       \
        }                                                                   \
    } while (0)

    TPL_DIGITS(f[0], 4);
    if (i >= len || s[i++] != '-') {
        return -1;
    }
    TPL_DIGITS(f[1], 2);
    if (i >= len || s[i++] != '-') {
        return -1;
    }
    TPL_DIGITS(f[2], 2);

    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        TPL_DIGITS(f[3], 2);
        if (i >= len || s[i++] != ':') {
            return -1;
        }
        TPL_DIGITS(f[4], 2);
        if (i < len && s[i] == ':') {
            i++;
            TPL_DIGITS(f[5], 2);
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                for (i++, n = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                    n++;
                }
                if (n == 0) {
                    return -1;
                }
            }
        }
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            unsigned  oh, om = 0;

            sign = s[i++] == '-' ? -1 : 1;
            TPL_DIGITS(oh, 2);
            if (i < len && s[i] == ':') {
                i++;
            }
            if (i < len) {
                TPL_DIGITS(om, 2);
            }
            if (oh > 23 || om > 59) {
                return -1;
            }
            off = sign * (long long) (oh * 3600 + om * 60);
        }
    }

#undef TPL_DIGITS

    if (i != len || f[1] < 1 || f[1] > 12 || f[2] < 1
        || f[2] > mdays[f[1] - 1] || f[3] > 23 || f[4] > 59 || f[5] > 60)
    {
        return -1;
    }
    y = f[0];
    if (f[1] == 2 && f[2] == 29
        && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
    {
        return -1;
    }

    *epoch = tpl_days_from_civil(y, f[1], f[2]) * 86400
             + f[3] * 3600 + f[4] * 60 + f[5] - off;

    return 0;
}


/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar,
 * counted in 400-year eras of 146097 days, each year starting in March
 * so that the leap day comes last. */
static long long
tpl_days_from_civil(long long y, unsigned m, unsigned d)
{
    long long  era, yoe, doy, doe;

    if (m <= 2) {
        y--;
    }
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/* Appends n bytes to b, which may not grow past max_output.  0 or -1
 * (b->s is then freed unless the failure was memory). */
static int
tpl_str_add(tpl_ctx_t *ctx, tpl_str_t *b, const char *s, size_t n)
{
    size_t  cap;
    char   *d;

    if (n > tpl_ctx_max_output(ctx) - b->len) {
        b->cap = SIZE_MAX;
        return -1;
    }
    if (b->cap - b->len <= n) {
        cap = b->cap ? b->cap : 64;
        while (cap - b->len <= n) {
            cap *= 2;
        }
        d = realloc(b->s, cap);
        if (d == NULL) {
            return -1;
        }
        b->s = d;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->s + b->len, s, n);
    }
    b->len += n;
    b->s[b->len] = '\0';

    return 0;
}


/* v becomes the string s (malloc'ed, len bytes, valid UTF-8), freed. */
static int
tpl_set_string(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v, char *s,
               size_t len, int safe)
{
    json_t  *str;

    str = json_stringn_nocheck(s != NULL ? s : "", len);
    free(s);
    if (str == NULL) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }
    tpl_val_set(v, str);
    v->safe = safe;

    return 0;
}


/* v becomes a copy of the string s (len bytes, valid UTF-8). */
static int
tpl_set_copy(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *v,
             const char *s, size_t len, int safe)
{
    json_t  *str;

    str = json_stringn_nocheck(s, len);
    if (str == NULL) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }
    tpl_val_set(v, str);
    v->safe = safe;

    return 0;
}


/* A builder's failure: too large (b->cap was set to SIZE_MAX) or memory. */
static int
tpl_fail_size(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_str_t *b)
{
    int  big = b->cap == SIZE_MAX;

    free(b->s);
    b->s = NULL;

    if (big) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_OUTPUT, "the result of filter "
                            "'%s' is larger than %zu bytes "
                            "(TemplateMaxOutput)", e->u.filter.f->name,
                            tpl_ctx_max_output(ctx));
    }

    return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
}
