/*
 * rest_json.c: JSON bodies and representations: validation against the
 * declared fields, JSON merge patch (RFC 7396), rows to representations,
 * list query parameters, cursors, Accept, the envelope and ETags.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rest.h"


static void rest_json_error(json_t *errors, const char *field,
                            const char *fmt, ...) CAIRN_PRINTF(3, 4);
static int rest_json_check(const rest_field_t *f, json_t *v, json_t *errors);
static int rest_json_check_decimal(const rest_field_t *f, json_t *v,
                                   json_t *errors);
static json_t *rest_json_number_text(json_t *v);
static int rest_json_email_ok(const char *s);
static int rest_json_datetime_parse(const char *in, time_t *t);
static char *rest_json_decode(cairn_arena_t *a, const char *s, size_t len);
static int rest_json_parse_long(const char *s, long *out);
static int rest_json_typed_ok(const rest_field_t *f, const char *v);


/*
 * One {field, message} entry.  Both may quote what a client sent (a
 * member name, a value), so both are made valid UTF-8 and short before
 * they go into the envelope.
 */
static void
rest_json_error(json_t *errors, const char *field, const char *fmt, ...)
{
    va_list  ap;
    char     buf[512], msg[512], name[300];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    rest_text_quote(buf, strlen(buf), 200, msg, sizeof(msg));
    rest_text_quote(field, strlen(field), 64, name, sizeof(name));

    json_array_append_new(errors, json_pack("{s:s, s:s}", "field", name,
                                            "message", msg));
}


/*
 * Copies s[0..len) into out (outlen bytes) as valid UTF-8 of at most
 * max_chars characters: an invalid byte becomes the four characters
 * \xNN, a NUL \x00, and a cut text ends with "...".  Never cuts inside a
 * character.  Returns out.
 */
char *
rest_text_quote(const char *s, size_t len, size_t max_chars, char *out,
                size_t outlen)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s;
    size_t               i = 0, o = 0, chars = 0, n;

    if (outlen == 0) {
        return out;
    }

    while (i < len) {
        n = p[i] == 0 ? 0 : cairn_utf8_seq(p + i, len - i);
        if (chars == max_chars || o + (n ? n : 4) + 4 > outlen) {
            if (o + 4 <= outlen) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (n == 0) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[p[i] >> 4];
            out[o++] = hex[p[i] & 15];
            i++;
        } else {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        }
        chars++;
    }
    out[o] = '\0';

    return out;
}


/* rest_text_quote() into the arena, with a limit of max_chars. */
const char *
rest_quote(cairn_arena_t *a, const char *s, size_t max_chars)
{
    size_t  len = strlen(s), cap = max_chars * 4 + 8;
    char   *out;

    if (cap > len * 4 + 8) {
        cap = len * 4 + 8;
    }
    out = cairn_arena_alloc(a, cap);

    return rest_text_quote(s, len, max_chars, out, cap);
}


size_t
rest_utf8_len(const char *s)
{
    size_t  n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char) *s & 0xc0) != 0x80) {
            n++;
        }
    }

    return n;
}


static int
rest_json_email_ok(const char *s)
{
    const char  *at, *dot, *p;

    if (strlen(s) > REST_EMAIL_MAX) {
        return 0;
    }
    at = strchr(s, '@');
    if (at == NULL || at == s || strchr(at + 1, '@') != NULL) {
        return 0;
    }
    for (p = s; *p != '\0'; p++) {
        if ((unsigned char) *p <= ' ' || *p == '<' || *p == '>'
            || *p == ',' || *p == ';' || *p == '"' || *p == '\\')
        {
            return 0;
        }
    }
    dot = strrchr(at + 1, '.');

    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}


/*
 * RFC 3339 date-times: "2024-05-01T10:20:30Z", "...30.5+02:00", also
 * with a space for the T and without a zone (taken as UTC).
 */
static int
rest_json_datetime_parse(const char *in, time_t *t)
{
    struct tm   tm;
    const char *p;
    int         y, mo, d, h, mi, s, n = 0, oh, om, sign;
    long        off = 0;
    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };

    if (sscanf(in, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
               &s, &n) != 6 || n != 19)
    {
        return -1;
    }
    if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || h > 23 || mi > 59 || s > 59 || h < 0 || mi < 0 || s < 0)
    {
        return -1;
    }
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    {
        return -1;
    }
    p = in + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char) *p)) {
            return -1;
        }
        while (isdigit((unsigned char) *p)) {
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!isdigit((unsigned char) p[1]) || !isdigit((unsigned char) p[2])
            || p[3] != ':' || !isdigit((unsigned char) p[4])
            || !isdigit((unsigned char) p[5]))
        {
            return -1;
        }
        oh = (p[1] - '0') * 10 + (p[2] - '0');
        om = (p[4] - '0') * 10 + (p[5] - '0');
        if (oh > 23 || om > 59) {
            return -1;
        }
        off = sign * (oh * 3600L + om * 60L);
        p += 6;
    }
    if (*p != '\0') {
        return -1;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *t = timegm(&tm) - off;

    return 0;
}


/* An RFC 3339 date-time as a DATETIME literal in UTC. */
int
rest_datetime_sql(const char *in, char *out, size_t outlen)
{
    struct tm  tm;
    time_t     t;

    if (rest_json_datetime_parse(in, &t) != 0 || gmtime_r(&t, &tm) == NULL
        || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1000)
    {
        return -1;
    }

    return strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm) > 0 ? 0 : -1;
}


/*
 * Whether a string key can be an address: one path segment that needs no
 * escaping, so /res/{key} names exactly that row: letters, digits and
 * "._~-" ("@+" too for email keys), 1 to the field's max characters.
 * A key field with its own pattern= is held to that pattern instead
 * (and to not containing '/').
 */
int
rest_key_text_ok(const rest_field_t *f, const char *s)
{
    const char  *p;
    double       max;

    max = (f->flags & REST_F_MAX) ? f->max
          : f->type == REST_T_EMAIL ? REST_EMAIL_MAX : REST_STRING_MAX;
    if (*s == '\0' || (double) strlen(s) > max) {
        return 0;
    }
    if (f->re != NULL) {
        return strchr(s, '/') == NULL && regexec(f->re, s, 0, NULL, 0) == 0;
    }
    for (p = s; *p != '\0'; p++) {
        if (!isalnum((unsigned char) *p) && *p != '.' && *p != '_'
            && *p != '~' && *p != '-'
            && !(f->type == REST_T_EMAIL && (*p == '@' || *p == '+')))
        {
            return 0;
        }
    }

    return 1;
}


/* Checks one present, non-null value; returns 1 when it is bad. */
static int
rest_json_check(const rest_field_t *f, json_t *v, json_t *errors)
{
    const char  *s;
    double       num;
    size_t       len;
    time_t       t;
    char         buf[32];

    switch (f->type) {
    case REST_T_STRING:
    case REST_T_TEXT:
    case REST_T_EMAIL:
        if (!json_is_string(v)) {
            rest_json_error(errors, f->name, "must be a string");
            return 1;
        }
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) {
            rest_json_error(errors, f->name, "must not contain NUL "
                            "characters");
            return 1;
        }
        len = rest_utf8_len(s);
        if ((f->flags & REST_F_MIN) && (double) len < f->min) {
            rest_json_error(errors, f->name, "must be at least %.0f "
                            "characters long", f->min);
            return 1;
        }
        num = (f->flags & REST_F_MAX) ? f->max
              : f->type == REST_T_STRING ? REST_STRING_MAX
              : f->type == REST_T_EMAIL ? REST_EMAIL_MAX : REST_TEXT_MAX;
        if ((double) len > num) {
            rest_json_error(errors, f->name, "must be at most %.0f "
                            "characters long", num);
            return 1;
        }
        if (f->type == REST_T_EMAIL && !rest_json_email_ok(s)) {
            rest_json_error(errors, f->name, "must be an email address");
            return 1;
        }
        if ((f->flags & REST_F_KEY) && !rest_key_text_ok(f, s)) {
            rest_json_error(errors, f->name, "is the resource's address: "
                            "use only letters, digits and . _ ~ -%s",
                            f->type == REST_T_EMAIL ? " @ +" : "");
            return 1;
        }
        if (f->re != NULL && regexec(f->re, s, 0, NULL, 0) != 0) {
            rest_json_error(errors, f->name, "must match the pattern %s",
                            f->pattern);
            return 1;
        }
        return 0;

    case REST_T_INT:
    case REST_T_BIGINT:
    case REST_T_NUMBER:
        if (f->type == REST_T_NUMBER ? !json_is_number(v)
            : !json_is_integer(v))
        {
            rest_json_error(errors, f->name, "must be %s",
                            f->type == REST_T_NUMBER ? "a number"
                            : "an integer");
            return 1;
        }
        num = json_number_value(v);
        if (f->type == REST_T_INT
            && (json_integer_value(v) > 2147483647LL
                || json_integer_value(v) < -2147483648LL))
        {
            rest_json_error(errors, f->name, "must fit in 32 bits");
            return 1;
        }
        if (f->col_int && (num < f->col_min || num > f->col_max)) {
            /* The column is narrower (SMALLINT, UNSIGNED, ...). */
            rest_json_error(errors, f->name, "must be between %.0f and "
                            "%.0f (the range of its column)", f->col_min,
                            f->col_max);
            return 1;
        }
        if ((f->flags & REST_F_MIN) && num < f->min) {
            rest_json_error(errors, f->name, "must be at least %g", f->min);
            return 1;
        }
        if ((f->flags & REST_F_MAX) && num > f->max) {
            rest_json_error(errors, f->name, "must be at most %g", f->max);
            return 1;
        }
        return 0;

    case REST_T_BOOL:
        if (!json_is_boolean(v)) {
            rest_json_error(errors, f->name, "must be true or false");
            return 1;
        }
        return 0;

    case REST_T_DATETIME:
        if (!json_is_string(v)
            || rest_json_datetime_parse(json_string_value(v), &t) != 0)
        {
            rest_json_error(errors, f->name, "must be an RFC 3339 "
                            "date-time such as 2024-05-01T10:20:30Z");
            return 1;
        }
        if (rest_datetime_sql(json_string_value(v), buf, sizeof(buf)) != 0)
        {
            /* Valid, but outside what the column holds once in UTC. */
            rest_json_error(errors, f->name, "must be between "
                            "1000-01-01T00:00:00Z and 9999-12-31T23:59:59Z "
                            "once converted to UTC");
            return 1;
        }
        if (f->col_kind == REST_COL_TIMESTAMP
            && (strcmp(buf, "1970-01-01 00:00:01") < 0
                || strcmp(buf, "2038-01-19 03:14:07") > 0))
        {
            rest_json_error(errors, f->name, "must be between "
                            "1970-01-01T00:00:01Z and 2038-01-19T03:14:07Z "
                            "(its column is a TIMESTAMP)");
            return 1;
        }
        return 0;

    case REST_T_JSON:
        return 0;

    case REST_T_DECIMAL:
        return rest_json_check_decimal(f, v, errors);

    case REST_T_DATE:
        if (!json_is_string(v) || !rest_date_ok(json_string_value(v))) {
            rest_json_error(errors, f->name, "must be a date such as "
                            "2024-05-01 (1000-01-01 to 9999-12-31)");
            return 1;
        }
        return 0;
    }

    return 0;
}


/*
 * A decimal: an exact number (a JSON number as the client wrote it, see
 * rest_body_exact_numbers()), or a string of one with as=string, that
 * fits the column's precision and scale without rounding.
 */
static int
rest_json_check_decimal(const rest_field_t *f, json_t *v, json_t *errors)
{
    cairn_arena_t  *a;
    const char     *text, *why = NULL;
    size_t          len;
    double          num;
    int             bad = 0;

    text = rest_exact_text(v, &len);
    if (text == NULL && (f->flags & REST_F_AS_STRING) && json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    }
    if (text == NULL) {
        rest_json_error(errors, f->name, (f->flags & REST_F_AS_STRING)
                        ? "must be a decimal number written as a string, "
                          "such as \"12.50\""
                        : "must be a number");
        return 1;
    }

    a = cairn_arena_create(256);
    if (rest_decimal_canon(a, text, len, f->precision, f->scale, &why)
        == NULL)
    {
        rest_json_error(errors, f->name, "%s", why);
        bad = 1;
    } else {
        num = strtod(cairn_arena_strndup(a, text, len), NULL);
        if ((f->flags & REST_F_MIN) && num < f->min) {
            rest_json_error(errors, f->name, "must be at least %g", f->min);
            bad = 1;
        } else if ((f->flags & REST_F_MAX) && num > f->max) {
            rest_json_error(errors, f->name, "must be at most %g", f->max);
            bad = 1;
        }
    }
    cairn_arena_destroy(a);

    return bad;
}


/*
 * Checks a body against the declaration: an object, no unknown member,
 * every required field there and not null, every value of its type and
 * within its limits.  Read-only members are ignored; the Key counts
 * only when creating a resource whose key the client chooses.  With only
 * (a PATCH's own body), just the fields it names are checked: the others
 * keep what is stored, which the client did not send.  Returns the
 * number of errors appended to errors.
 */
int
rest_validate(const rest_resource_t *res, json_t *body, int creating,
              json_t *only, json_t *errors)
{
    const rest_field_t  *f;
    const char          *name;
    json_t              *v;
    size_t               i, unknown = 0, before = json_array_size(errors);

    if (!json_is_object(body)) {
        rest_json_error(errors, "", "the body must be a JSON object");
        return 1;
    }

    /* A body of 60,000 unknown members gets a short answer. */
    json_object_foreach(body, name, v) {
        if (rest_field_find(res, name) == NULL
            && unknown++ < REST_UNKNOWN_REPORTED)
        {
            rest_json_error(errors, name, "is not a field of this resource");
        }
    }
    if (unknown > REST_UNKNOWN_REPORTED) {
        rest_json_error(errors, "", "and %zu more members that are not "
                        "fields of this resource",
                        unknown - REST_UNKNOWN_REPORTED);
    }

    for (i = 0; i < res->nfields; i++) {
        f = &res->fields[i];
        if ((f->flags & REST_F_KEY) ? (f->flags & REST_F_AUTO) || !creating
            : (f->flags & REST_F_READONLY) != 0)
        {
            continue;
        }
        if (only != NULL && json_object_get(only, f->name) == NULL) {
            /* Not written: its stored value is not the client's. */
            continue;
        }
        v = json_object_get(body, f->name);
        if (v == NULL || json_is_null(v)) {
            if (f->flags & REST_F_REQUIRED) {
                rest_json_error(errors, f->name, "is required");
            }
            continue;
        }
        rest_json_check(f, v, errors);
    }

    return (int) (json_array_size(errors) - before);
}


/* A checked value as a statement parameter (copied into a). */
int
rest_value_param(cairn_arena_t *a, const rest_field_t *f, json_t *v,
                 cairn_db_param_t *p)
{
    char    *s, buf[32];
    size_t   len;

    memset(p, 0, sizeof(*p));
    if (v == NULL || json_is_null(v)) {
        p->type = CAIRN_DB_NULL;
        return 0;
    }

    switch (f->type) {
    case REST_T_INT:
    case REST_T_BIGINT:
        p->type = CAIRN_DB_INT;
        p->v.i = json_integer_value(v);
        return 0;
    case REST_T_NUMBER:
        p->type = CAIRN_DB_DOUBLE;
        p->v.d = json_number_value(v);
        return 0;
    case REST_T_BOOL:
        p->type = CAIRN_DB_INT;
        p->v.i = json_is_true(v) ? 1 : 0;
        return 0;
    case REST_T_DATETIME:
        if (rest_datetime_sql(json_string_value(v), buf, sizeof(buf)) != 0) {
            return -1;
        }
        s = cairn_arena_strdup(a, buf);
        p->type = CAIRN_DB_STRING;
        p->v.s.p = s;
        p->v.s.len = strlen(s);
        return 0;
    case REST_T_DECIMAL:
        /* The canonical digits, as text: the server converts them to
         * DECIMAL exactly. */
        s = (char *) rest_exact_text(v, &len);
        if (s == NULL && json_is_string(v)) {
            s = (char *) json_string_value(v);
            len = json_string_length(v);
        }
        s = s != NULL ? (char *) rest_decimal_canon(a, s, len, f->precision,
                                                    f->scale, NULL)
                      : NULL;
        if (s == NULL) {
            return -1;
        }
        p->type = CAIRN_DB_STRING;
        p->v.s.p = s;
        p->v.s.len = strlen(s);
        return 0;
    case REST_T_DATE:
        if (!json_is_string(v) || !rest_date_ok(json_string_value(v))) {
            return -1;
        }
        p->type = CAIRN_DB_STRING;
        p->v.s.p = json_string_value(v);
        p->v.s.len = json_string_length(v);
        return 0;
    case REST_T_JSON:
        s = rest_json_dump(a, v, &len);
        if (s == NULL) {
            return -1;
        }
        p->type = CAIRN_DB_STRING;
        p->v.s.p = s;
        p->v.s.len = len;
        return 0;
    default:
        if (!json_is_string(v)) {
            return -1;
        }
        p->type = CAIRN_DB_STRING;
        p->v.s.p = json_string_value(v);
        p->v.s.len = json_string_length(v);
        return 0;
    }
}


/*
 * RFC 7396: a new reference to target patched with patch.  Objects merge
 * member by member, null removes, anything else replaces.
 */
json_t *
rest_merge_patch(json_t *target, json_t *patch)
{
    json_t      *out, *v, *cur;
    const char  *name;

    if (!json_is_object(patch)) {
        return json_incref(patch);
    }

    out = json_is_object(target) ? json_copy(target) : json_object();
    if (out == NULL) {
        return NULL;
    }

    json_object_foreach(patch, name, v) {
        if (json_is_null(v)) {
            json_object_del(out, name);
            continue;
        }
        cur = json_object_get(out, name);
        json_object_set_new(out, name, rest_merge_patch(cur, v));
    }

    return out;
}


/*
 * A row of the result as its representation: booleans as true/false,
 * json fields parsed, date-times in RFC 3339 (UTC), write-only fields
 * left out unless internal.  The version column is not included.
 */
json_t *
rest_row_out(const rest_resource_t *res, json_t *row, int internal)
{
    const rest_field_t  *f;
    json_t              *out, *v, *parsed;
    const char          *s;
    char                 buf[40];
    size_t               i;

    out = json_object();

    for (i = 0; i < res->nfields; i++) {
        f = &res->fields[i];
        if ((f->flags & REST_F_WRITEONLY) && !internal) {
            continue;
        }
        v = json_object_get(row, f->name);
        if (v == NULL || json_is_null(v)) {
            json_object_set_new(out, f->name, json_null());
            continue;
        }
        switch (f->type) {
        case REST_T_BOOL:
            json_object_set_new(out, f->name,
                                json_boolean(json_is_true(v)
                                             || json_integer_value(v) != 0));
            break;
        case REST_T_JSON:
            s = json_string_value(v);
            parsed = s != NULL ? json_loads(s, JSON_DECODE_ANY, NULL)
                               : NULL;
            json_object_set_new(out, f->name,
                                parsed != NULL ? parsed : json_incref(v));
            break;
        case REST_T_DATETIME:
            s = json_string_value(v);
            if (s != NULL && strlen(s) >= 19) {
                snprintf(buf, sizeof(buf), "%.10sT%.8sZ", s, s + 11);
                json_object_set_new(out, f->name, json_string(buf));
            } else {
                json_object_set(out, f->name, v);
            }
            break;
        case REST_T_NUMBER:
            json_object_set_new(out, f->name, json_is_number(v)
                                ? json_real(json_number_value(v))
                                : rest_json_number_text(v));
            break;
        case REST_T_DECIMAL:
            /* The database's exact digits (DECIMAL comes as a string). */
            if (json_is_string(v) && (f->flags & REST_F_AS_STRING)) {
                json_object_set(out, f->name, v);
            } else {
                json_object_set_new(out, f->name, rest_json_number_text(v));
            }
            break;
        case REST_T_INT:
        case REST_T_BIGINT:
            /* BIGINT UNSIGNED above 2^63 comes as its digits. */
            json_object_set_new(out, f->name, json_is_string(v)
                                ? rest_json_number_text(v)
                                : json_incref(v));
            break;
        default:
            json_object_set(out, f->name, v);
            break;
        }
    }

    return out;
}


/* A number the database gave as text (or as a number) as an exact
 * number of the tree; null when it is not a number at all. */
static json_t *
rest_json_number_text(json_t *v)
{
    const char  *s;
    size_t       len;

    if (json_is_number(v)) {
        return json_incref(v);
    }
    s = json_string_value(v);
    if (s == NULL) {
        return json_null();
    }
    len = json_string_length(v);
    if (!rest_number_syntax_ok(s, len, 0)) {
        return json_null();
    }

    return rest_exact(s, len);
}


/* An exact number of the tree: REST_EXACT_TAG and the digits. */
json_t *
rest_exact(const char *digits, size_t len)
{
    char    buf[128];
    json_t  *v;
    char    *big = NULL, *p = buf;

    if (len + 1 > sizeof(buf)) {
        big = malloc(len + 1);
        if (big == NULL) {
            return json_null();
        }
        p = big;
    }
    p[0] = REST_EXACT_TAG;
    memcpy(p + 1, digits, len);
    v = json_stringn_nocheck(p, len + 1);
    free(big);

    return v != NULL ? v : json_null();
}


/* The digits of an exact number of the tree, or NULL for any other
 * value. */
const char *
rest_exact_text(json_t *v, size_t *len)
{
    const char  *s;

    if (!json_is_string(v)) {
        return NULL;
    }
    s = json_string_value(v);
    if (json_string_length(v) < 2 || s[0] != REST_EXACT_TAG) {
        return NULL;
    }
    *len = json_string_length(v) - 1;

    return s + 1;
}


/* Skips a JSON string starting at text[i] == '"'; returns the index after
 * it.  The text was accepted by jansson, so it is well formed. */
static size_t
rest_json_skip_string(const char *text, size_t len, size_t i)
{
    for (i++; i < len && text[i] != '"'; i++) {
        if (text[i] == '\\') {
            i++;
        }
    }

    return i + 1;
}


/* Skips any JSON value starting at text[i]: returns the index of the
 * ',', '}' or space after it. */
static size_t
rest_json_skip_value(const char *text, size_t len, size_t i)
{
    int  depth = 0;

    while (i < len) {
        if (text[i] == '"') {
            i = rest_json_skip_string(text, len, i);
            if (depth == 0) {
                return i;
            }
            continue;
        }
        if (text[i] == '{' || text[i] == '[') {
            depth++;
        } else if (text[i] == '}' || text[i] == ']') {
            if (depth == 0) {
                return i;
            }
            if (--depth == 0) {
                return i + 1;
            }
        } else if (depth == 0
                   && (text[i] == ',' || isspace((unsigned char) text[i])))
        {
            return i;
        }
        i++;
    }

    return i;
}


/*
 * jansson keeps a JSON number only as a double or a 64-bit integer, so
 * "12.10" and 0.1 would reach a DECIMAL column through a double.  This
 * reads the body's text again: each member of the top-level object that
 * is a decimal field and holds a number gets the number's own digits,
 * as an exact number of the tree (rest_exact()).  Member names are
 * compared as written; one with escapes is left alone (it cannot name a
 * field, whose names are plain identifiers).  Returns 0, or -1 when a
 * decimal member's text could not be found.
 */
int
rest_body_exact_numbers(const rest_resource_t *res, json_t *body,
                        const char *text, size_t len)
{
    const rest_field_t  *f;
    char                 key[80];
    size_t               i = 0, k, start, klen;
    int                  plain;

    if (!json_is_object(body)) {
        return 0;
    }

    while (i < len && text[i] != '{') {
        i++;
    }
    i++;

    while (i < len) {
        while (i < len && (isspace((unsigned char) text[i])
                           || text[i] == ','))
        {
            i++;
        }
        if (i >= len || text[i] == '}' || text[i] != '"') {
            break;
        }
        start = i + 1;
        i = rest_json_skip_string(text, len, i);
        klen = i - 1 - start;
        plain = klen < sizeof(key) && memchr(text + start, '\\', klen) == NULL;
        if (plain) {
            memcpy(key, text + start, klen);
            key[klen] = '\0';
        }
        while (i < len && (isspace((unsigned char) text[i])
                           || text[i] == ':'))
        {
            i++;
        }
        if (i >= len) {
            break;
        }
        if (text[i] == '-' || isdigit((unsigned char) text[i])) {
            for (k = i; k < len && (isdigit((unsigned char) text[k])
                                    || text[k] == '-' || text[k] == '+'
                                    || text[k] == '.' || text[k] == 'e'
                                    || text[k] == 'E'); k++)
            {
                /* the number's characters */
            }
            f = plain ? rest_field_find(res, key) : NULL;
            if (f != NULL && f->type == REST_T_DECIMAL
                && !(f->flags & REST_F_AS_STRING)
                && json_is_number(json_object_get(body, key)))
            {
                json_object_set_new(body, key, rest_exact(text + i, k - i));
            }
            i = k;
            continue;
        }
        i = rest_json_skip_value(text, len, i);
    }

    for (k = 0; k < res->nfields; k++) {
        f = &res->fields[k];
        if (f->type == REST_T_DECIMAL && !(f->flags & REST_F_AS_STRING)
            && json_is_number(json_object_get(body, f->name)))
        {
            return -1;
        }
    }

    return 0;
}


/*
 * A decimal number's text (JSON number syntax, as written or as a
 * string) as plain digits that fit DECIMAL(precision, scale) exactly:
 * "1.250e1" is "12.5", "-0.00" is "0".  NULL, with *why saying so, when
 * it is not a number or would need rounding or more digits.
 */
const char *
rest_decimal_canon(cairn_arena_t *a, const char *s, size_t len,
                   int precision, int scale, const char **why)
{
    char        digits[140], *out;
    const char *p = s, *end = s + len;
    long        exp = 0, point;
    size_t      nd = 0, i, first, last;
    int         neg = 0, seen_point = 0, intd, fracd;
    long        frac_before = 0;

    if (why != NULL) {
        *why = "must be a decimal number";
    }
    if (!rest_number_syntax_ok(s, len, 0)) {
        return NULL;
    }
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; p < end && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (nd == sizeof(digits)) {
            if (why != NULL) {
                *why = "has too many digits";
            }
            return NULL;
        }
        digits[nd++] = *p;
        if (seen_point) {
            frac_before++;
        }
    }
    if (p < end) {
        p++;
        if (end - p > 6) {
            if (why != NULL) {
                *why = "is out of range";
            }
            return NULL;
        }
        exp = strtol(cairn_arena_strndup(a, p, (size_t) (end - p)), NULL,
                     10);
    }

    /* The value is 0.digits... shifted: the point sits after "point"
     * digits of digits[]. */
    point = (long) nd - frac_before + exp;

    for (first = 0; first < nd && digits[first] == '0'; first++) {
        /* leading zeros */
    }
    for (last = nd; last > first && digits[last - 1] == '0'; last--) {
        /* trailing zeros */
    }
    if (first == last) {
        return "0";
    }

    intd = point > (long) first ? (int) (point - (long) first) : 0;
    fracd = (long) last > point ? (int) ((long) last - point) : 0;
    if (point > (long) last + 70 || (long) first - point > 70) {
        if (why != NULL) {
            *why = "is out of range";
        }
        return NULL;
    }
    if (fracd > scale) {
        if (why != NULL) {
            *why = cairn_arena_printf(a, "has more than %d digit%s after "
                                      "the decimal point (it would be "
                                      "rounded)", scale,
                                      scale == 1 ? "" : "s");
        }
        return NULL;
    }
    if (intd > precision - scale) {
        if (why != NULL) {
            *why = cairn_arena_printf(a, "has more than %d digit%s before "
                                      "the decimal point (the column holds "
                                      "DECIMAL(%d,%d))", precision - scale,
                                      precision - scale == 1 ? "" : "s",
                                      precision, scale);
        }
        return NULL;
    }

    out = cairn_arena_alloc(a, (size_t) (intd + fracd) + 4);
    i = 0;
    if (neg) {
        out[i++] = '-';
    }
    if (intd == 0) {
        out[i++] = '0';
    } else {
        for (long d = point - intd; d < point; d++) {
            out[i++] = d >= (long) first && d < (long) last
                       ? digits[d] : '0';
        }
    }
    if (fracd > 0) {
        out[i++] = '.';
        for (long d = point; d < (long) last; d++) {
            out[i++] = d >= (long) first ? digits[d] : '0';
        }
    }
    out[i] = '\0';

    return out;
}


/* YYYY-MM-DD, a real day from 1000-01-01 to 9999-12-31. */
int
rest_date_ok(const char *s)
{
    static const int  mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
                                  30, 31 };
    int               y, m, d, n = 0;

    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3
        || n != 10 || s[4] != '-' || s[7] != '-'
        || !isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[5])
        || !isdigit((unsigned char) s[8]))
    {
        return 0;
    }
    if (y < 1000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return 0;
    }
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
    {
        return 0;
    }

    return 1;
}


/* Percent-decodes s[0..len) with '+' as a space; NULL on a NUL byte or a
 * bad escape. */
static char *
rest_json_decode(cairn_arena_t *a, const char *s, size_t len)
{
    char    *out, *o;
    size_t   i;
    int      hi, lo;

    out = cairn_arena_alloc(a, len + 1);
    o = out;
    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= len || !isxdigit((unsigned char) s[i + 1])
                || !isxdigit((unsigned char) s[i + 2]))
            {
                return NULL;
            }
            hi = isdigit((unsigned char) s[i + 1]) ? s[i + 1] - '0'
                 : (tolower((unsigned char) s[i + 1]) - 'a' + 10);
            lo = isdigit((unsigned char) s[i + 2]) ? s[i + 2] - '0'
                 : (tolower((unsigned char) s[i + 2]) - 'a' + 10);
            if (hi == 0 && lo == 0) {
                return NULL;
            }
            *o++ = (char) (hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';

    return out;
}


static int
rest_json_parse_long(const char *s, long *out)
{
    char  *end;
    long   v;

    if (*s == '\0' || !isdigit((unsigned char) *s) || strlen(s) > 12) {
        return -1;
    }
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0) {
        return -1;
    }
    *out = v;

    return 0;
}


/*
 * Whether s is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * (decimal only: no hex, no "inf", no leading '+' or spaces).  With
 * integer set, neither a fraction nor an exponent.
 */
int
rest_number_syntax_ok(const char *s, size_t len, int integer)
{
    size_t  i = 0;

    if (i < len && s[i] == '-') {
        i++;
    }
    if (i == len || !isdigit((unsigned char) s[i])) {
        return 0;
    }
    if (s[i] == '0') {
        i++;
    } else {
        while (i < len && isdigit((unsigned char) s[i])) {
            i++;
        }
    }
    if (i < len && s[i] == '.' && !integer) {
        i++;
        if (i == len || !isdigit((unsigned char) s[i])) {
            return 0;
        }
        while (i < len && isdigit((unsigned char) s[i])) {
            i++;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E') && !integer) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i == len || !isdigit((unsigned char) s[i])) {
            return 0;
        }
        while (i < len && isdigit((unsigned char) s[i])) {
            i++;
        }
    }

    return i == len;
}


/* Whether a filter value suits its field's type. */
static int
rest_json_typed_ok(const rest_field_t *f, const char *v)
{
    char       *end, buf[32];
    double      d;
    long long   n;

    switch (f->type) {
    case REST_T_INT:
    case REST_T_BIGINT:
        if (!rest_number_syntax_ok(v, strlen(v), 1)) {
            return 0;
        }
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno == ERANGE) {
            return 0;
        }
        if (f->col_int && ((double) n < f->col_min
                           || (double) n > f->col_max))
        {
            /* No row of the column can hold it. */
            return 0;
        }
        return f->type == REST_T_BIGINT
               || (n >= -2147483648LL && n <= 2147483647LL);
    case REST_T_NUMBER:
        if (!rest_number_syntax_ok(v, strlen(v), 0)) {
            return 0;
        }
        d = strtod(v, &end);
        return isfinite(d);
    case REST_T_BOOL:
        return strcmp(v, "true") == 0 || strcmp(v, "false") == 0
               || strcmp(v, "1") == 0 || strcmp(v, "0") == 0;
    case REST_T_DATETIME:
        return rest_datetime_sql(v, buf, sizeof(buf)) == 0;
    case REST_T_DECIMAL: {
        cairn_arena_t  *a = cairn_arena_create(256);
        int             ok;

        /* A value with more digits than the column can equal no row. */
        ok = rest_decimal_canon(a, v, strlen(v), f->precision, f->scale,
                                NULL) != NULL;
        cairn_arena_destroy(a);
        return ok;
    }
    case REST_T_DATE:
        return rest_date_ok(v);
    default:
        return rest_utf8_valid(v, strlen(v));
    }
}


/* Whether s[0..len) is valid UTF-8 without NUL. */
int
rest_utf8_valid(const char *s, size_t len)
{
    const unsigned char  *p = (const unsigned char *) s;
    size_t                i = 0, n;

    while (i < len) {
        n = p[i] == 0 ? 0 : cairn_utf8_seq(p + i, len - i);
        if (n == 0) {
            return 0;
        }
        i += n;
    }

    return 1;
}


/*
 * The query string of a list: limit, offset, cursor, sort and filters on
 * Filterable fields.  Returns NULL or the message of a 400.
 */
const char *
rest_query_parse(cairn_arena_t *a, const rest_resource_t *res,
                 const char *query, rest_query_t *q)
{
    const rest_field_t  *f;
    const char          *p, *amp, *eq, *name, *value, *tok;
    char                *list, *save, *item;
    size_t               i;
    int                  have_offset = 0;

    memset(q, 0, sizeof(*q));
    q->limit = res->page_size;

    for (p = query; p != NULL && *p != '\0'; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        eq = memchr(p, '=', amp ? (size_t) (amp - p) : strlen(p));
        if (p == amp) {
            continue;
        }
        name = rest_json_decode(a, p, eq ? (size_t) (eq - p)
                                : amp ? (size_t) (amp - p) : strlen(p));
        value = eq ? rest_json_decode(a, eq + 1, amp ? (size_t) (amp - eq - 1)
                                      : strlen(eq + 1))
                   : "";
        if (name == NULL || value == NULL) {
            return "malformed query string (a bad or NUL %-escape)";
        }

        if (strcmp(name, "limit") == 0) {
            if (rest_json_parse_long(value, &q->limit) != 0 || q->limit < 1) {
                return "limit must be a positive integer";
            }
            q->has_limit = 1;
        } else if (strcmp(name, "offset") == 0) {
            if (rest_json_parse_long(value, &q->offset) != 0) {
                return "offset must be a non-negative integer";
            }
            have_offset = 1;
        } else if (strcmp(name, "cursor") == 0) {
            /* Its signature and contents are checked by the module. */
            if (*value == '\0' || strlen(value) > 4096) {
                return "cursor is not valid";
            }
            q->cursor = value;
        } else if (strcmp(name, "sort") == 0) {
            if (*value == '\0') {
                return "sort needs at least one field";
            }
            list = cairn_arena_strdup(a, value);
            for (tok = strtok_r(list, ",", &save); tok != NULL;
                 tok = strtok_r(NULL, ",", &save))
            {
                item = (char *) tok;
                while (*item == ' ') {
                    item++;
                }
                if (q->nsort == sizeof(q->sort) / sizeof(q->sort[0])) {
                    return "too many sort keys";
                }
                q->desc[q->nsort] = *item == '-';
                if (*item == '-' || *item == '+') {
                    item++;
                }
                f = NULL;
                for (i = 0; i < res->sortable.n; i++) {
                    if (strcmp(res->sortable.v[i], item) == 0) {
                        f = rest_field_find(res, item);
                    }
                }
                if (f == NULL) {
                    return cairn_arena_printf(a, "cannot sort by '%s'",
                                              rest_quote(a, item, 64));
                }
                q->sort[q->nsort++] = f;
            }
        } else {
            f = NULL;
            for (i = 0; i < res->filterable.n; i++) {
                if (strcmp(res->filterable.v[i], name) == 0) {
                    f = rest_field_find(res, name);
                }
            }
            if (f == NULL) {
                return cairn_arena_printf(a, "unknown query parameter "
                                          "'%s' (not a Filterable "
                                          "field)", rest_quote(a, name, 64));
            }
            if (q->nfilter == sizeof(q->filter) / sizeof(q->filter[0])) {
                return "too many filters";
            }
            if (!rest_json_typed_ok(f, value)) {
                return cairn_arena_printf(a, "filter %s: '%s' is not a "
                                          "valid %s", f->name,
                                          rest_quote(a, value, 64),
                                          rest_type_name(f->type));
            }
            q->filter[q->nfilter] = f;
            q->value[q->nfilter++] = value;
        }
    }

    if (q->cursor != NULL && have_offset) {
        return "give either cursor or offset";
    }
    if (q->limit > res->max_page_size) {
        q->limit = res->max_page_size;
    }

    return NULL;
}


/*
 * What a list's cursor is bound to: its sort and its filters, as the
 * request gave them ("sort=name,-age;name=alice;").  A cursor made for
 * one query is refused by another.
 */
const char *
rest_query_ident(cairn_arena_t *a, const rest_query_t *q)
{
    const char  *s = "sort=";
    size_t       i;

    for (i = 0; i < q->nsort; i++) {
        s = cairn_arena_printf(a, "%s%s%s%s", s, i > 0 ? "," : "",
                               q->desc[i] ? "-" : "", q->sort[i]->name);
    }
    s = cairn_arena_printf(a, "%s;", s);
    for (i = 0; i < q->nfilter; i++) {
        s = cairn_arena_printf(a, "%s%s=%zu:%s;", s, q->filter[i]->name,
                               strlen(q->value[i]), q->value[i]);
    }

    return s;
}


/* One value of a cursor as a parameter: "?", or a cast for DECIMAL. */
static const char *
rest_keyset_param(cairn_arena_t *a, const rest_field_t *f, json_t *v,
                  cairn_db_param_t *p)
{
    memset(p, 0, sizeof(*p));
    if (json_is_integer(v)) {
        p->type = CAIRN_DB_INT;
        p->v.i = json_integer_value(v);
    } else if (json_is_real(v)) {
        p->type = CAIRN_DB_DOUBLE;
        p->v.d = json_real_value(v);
    } else {
        p->type = CAIRN_DB_STRING;
        p->v.s.p = json_string_value(v);
        p->v.s.len = json_string_length(v);
    }
    if (f->type == REST_T_DECIMAL) {
        return cairn_arena_printf(a, "CAST(? AS DECIMAL(%d,%d))",
                                  f->precision, f->scale);
    }

    return "?";
}


/*
 * The condition for the rows after a cursor's row: after holds the
 * values of the query's sort fields, then the key's, as the database
 * gave them.  ORDER BY s1, s2, ..., key: a row comes after when it is
 * after on s1, or equal on s1 and after on s2, ..., or equal on every
 * sort field and after on the key.  A field sorted DESC comes after when
 * smaller; NULL sorts first ascending and last descending (MariaDB), so
 * after a NULL only NULLs follow descending, and every non-NULL value
 * ascending.  Parameters go to p (room for (nsort + 1) * (nsort + 2) / 2
 * entries); returns the condition, or NULL when after does not fit the
 * query.
 */
const char *
rest_keyset_where(cairn_arena_t *a, const rest_resource_t *res,
                  const rest_query_t *q, json_t *after, cairn_db_param_t *p,
                  size_t *n)
{
    const rest_field_t  *f;
    const char          *or = NULL, *and, *ph;
    json_t              *v;
    size_t               i, j, k = 0;
    int                  desc;

    if (!json_is_array(after) || json_array_size(after) != q->nsort + 1) {
        return NULL;
    }
    for (i = 0; i <= q->nsort; i++) {
        v = json_array_get(after, i);
        if (!json_is_integer(v) && !json_is_real(v) && !json_is_string(v)
            && !(json_is_null(v) && i < q->nsort))
        {
            return NULL;
        }
    }

    for (i = 0; i <= q->nsort; i++) {
        and = "";
        for (j = 0; j < i; j++) {
            f = q->sort[j];
            v = json_array_get(after, j);
            if (json_is_null(v)) {
                and = cairn_arena_printf(a, "%s`%s` IS NULL AND ", and,
                                         f->name);
            } else {
                ph = rest_keyset_param(a, f, v, &p[k++]);
                and = cairn_arena_printf(a, "%s`%s` = %s AND ", and,
                                         f->name, ph);
            }
        }
        f = i < q->nsort ? q->sort[i] : &res->fields[res->key_index];
        desc = i < q->nsort && q->desc[i];
        v = json_array_get(after, i);
        if (json_is_null(v)) {
            if (desc) {
                /* Nothing sorts after NULL descending: drop the
                 * parameters of this term's prefix. */
                for (j = 0; j < i; j++) {
                    if (!json_is_null(json_array_get(after, j))) {
                        k--;
                    }
                }
                continue;
            }
            and = cairn_arena_printf(a, "%s`%s` IS NOT NULL", and, f->name);
        } else {
            ph = rest_keyset_param(a, f, v, &p[k++]);
            and = desc ? cairn_arena_printf(a, "%s(`%s` < %s OR `%s` IS "
                                            "NULL)", and, f->name, ph,
                                            f->name)
                       : cairn_arena_printf(a, "%s`%s` > %s", and, f->name,
                                            ph);
        }
        or = or == NULL ? cairn_arena_printf(a, "(%s)", and)
             : cairn_arena_printf(a, "%s OR (%s)", or, and);
    }

    *n = k;

    return or != NULL ? cairn_arena_printf(a, "(%s)", or) : "FALSE";
}


/* Whether the client prefers text/html to application/json. */
int
rest_prefers_html(const char *accept)
{
    int  html, json;

    if (accept == NULL || *accept == '\0') {
        return 0;
    }
    html = cairn_accept_q(accept, "text/html");
    json = cairn_accept_q(accept, "application/json");

    return html > 0 && html > json;
}


/* {"code": code, "message": message, "data": data (stolen, NULL: null)} */
json_t *
rest_envelope(int code, const char *message, json_t *data)
{
    return json_pack("{s:i, s:s, s:o}", "code", code, "message", message,
                     "data", data != NULL ? data : json_null());
}


/* The ETag of a row: its version column, quoted. */
const char *
rest_etag(cairn_arena_t *a, json_t *version)
{
    if (json_is_integer(version)) {
        return cairn_arena_printf(a, "\"v%" JSON_INTEGER_FORMAT "\"",
                                  json_integer_value(version));
    }
    if (json_is_string(version)) {
        return cairn_arena_printf(a, "\"v%s\"", json_string_value(version));
    }

    return NULL;
}


/* Whether an If-Match / If-None-Match list names etag (or is "*"); weak
 * validators compare by their opaque part. */
int
rest_etag_match(const char *header, const char *etag)
{
    const char  *p, *end;
    size_t       len = strlen(etag);

    for (p = header; *p != '\0'; p = *end ? end + 1 : end) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }
        if (*p == '*') {
            return 1;
        }
        if (strncmp(p, "W/", 2) == 0) {
            p += 2;
        }
        if ((size_t) (end - p) >= len && strncmp(p, etag, len) == 0) {
            p += len;
            while (p < end && (*p == ' ' || *p == '\t')) {
                p++;
            }
            if (p == end) {
                return 1;
            }
        }
    }

    return 0;
}


/* ------------------------------------------------------------------ */
/* Writing JSON with exact numbers                                    */
/* ------------------------------------------------------------------ */

typedef struct {
    char    *p;
    size_t   len;
    size_t   cap;
    int      failed;
} rest_buf_t;


/* Makes room for n more bytes: 0, or -1 (and failed) without memory. */
static int
rest_buf_room(rest_buf_t *b, size_t n)
{
    char    *grown;
    size_t   cap;

    if (b->failed) {
        return -1;
    }
    if (b->len + n > b->cap) {
        cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n) {
            cap *= 2;
        }
        grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->failed = 1;
            return -1;
        }
        b->p = grown;
        b->cap = cap;
    }

    return 0;
}


static void
rest_buf_add(rest_buf_t *b, const char *s, size_t n)
{
    if (rest_buf_room(b, n) != 0) {
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}


/* A string, escaped as jansson's compact output does (no ASCII
 * escaping); bytes that are not UTF-8 become U+FFFD (cairn_json_escape). */
static void
rest_buf_string(rest_buf_t *b, const char *s, size_t len)
{
    rest_buf_add(b, "\"", 1);
    if (rest_buf_room(b, CAIRN_JSON_ESCAPED_SIZE(len)) == 0) {
        b->len += cairn_json_escape(b->p + b->len, s, len);
    }
    rest_buf_add(b, "\"", 1);
}


/* A real as jansson writes it: %.17g, a ".0" when it looks like an
 * integer, no '+' or leading zeros in the exponent. */
static void
rest_buf_real(rest_buf_t *b, double d)
{
    char    buf[64], out[64];
    size_t  i, o = 0;
    int     n, in_exp = 0, lead = 0;

    n = snprintf(buf, sizeof(buf), "%.17g", d);
    if (n < 0 || (size_t) n >= sizeof(buf)) {
        b->failed = 1;
        return;
    }
    for (i = 0; buf[i] != '\0'; i++) {
        if (buf[i] == 'e') {
            in_exp = 1;
            lead = 1;
            out[o++] = 'e';
            continue;
        }
        if (in_exp && buf[i] == '+') {
            continue;
        }
        if (in_exp && buf[i] == '-') {
            out[o++] = '-';
            continue;
        }
        if (in_exp && lead && buf[i] == '0' && buf[i + 1] != '\0') {
            continue;
        }
        lead = 0;
        out[o++] = buf[i];
    }
    out[o] = '\0';
    if (strpbrk(out, ".e") == NULL) {
        out[o++] = '.';
        out[o++] = '0';
    }
    rest_buf_add(b, out, o);
}


static void
rest_buf_value(rest_buf_t *b, json_t *v, int depth)
{
    const char  *key, *text;
    json_t      *item;
    char         num[32];
    size_t       i, len;
    int          n, first;

    if (depth > 2048) {
        b->failed = 1;
        return;
    }

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        rest_buf_add(b, "{", 1);
        first = 1;
        json_object_foreach(v, key, item) {
            if (!first) {
                rest_buf_add(b, ",", 1);
            }
            first = 0;
            rest_buf_string(b, key, strlen(key));
            rest_buf_add(b, ":", 1);
            rest_buf_value(b, item, depth + 1);
        }
        rest_buf_add(b, "}", 1);
        return;
    case JSON_ARRAY:
        rest_buf_add(b, "[", 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0) {
                rest_buf_add(b, ",", 1);
            }
            rest_buf_value(b, json_array_get(v, i), depth + 1);
        }
        rest_buf_add(b, "]", 1);
        return;
    case JSON_STRING:
        text = rest_exact_text(v, &len);
        if (text != NULL) {
            rest_buf_add(b, text, len);
        } else {
            rest_buf_string(b, json_string_value(v), json_string_length(v));
        }
        return;
    case JSON_INTEGER:
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        rest_buf_add(b, num, (size_t) n);
        return;
    case JSON_REAL:
        rest_buf_real(b, json_real_value(v));
        return;
    case JSON_TRUE:
        rest_buf_add(b, "true", 4);
        return;
    case JSON_FALSE:
        rest_buf_add(b, "false", 5);
        return;
    case JSON_NULL:
        rest_buf_add(b, "null", 4);
        return;
    }
}


/*
 * v as compact JSON in the arena, as json_dumpb(JSON_COMPACT) would write
 * it, except that exact numbers (rest_exact()) are written as the bare
 * numbers they are.  NULL when memory runs out.
 */
char *
rest_json_dump(cairn_arena_t *a, json_t *v, size_t *len)
{
    rest_buf_t   b;
    char        *out;

    memset(&b, 0, sizeof(b));
    rest_buf_value(&b, v, 0);
    rest_buf_add(&b, "", 1);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    /* The buffer itself, freed with the arena: no copy. */
    out = b.p;
    cairn_arena_cleanup_add(a, free, out);
    *len = b.len - 1;

    return out;
}


/* A copy of v in which exact numbers are plain strings of their digits
 * (for a template, which knows nothing of the tag). */
json_t *
rest_json_untag(json_t *v)
{
    const char  *key, *text;
    json_t      *out, *item;
    size_t       i, len;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        out = json_object();
        json_object_foreach(v, key, item) {
            json_object_set_new(out, key, rest_json_untag(item));
        }
        return out;
    case JSON_ARRAY:
        out = json_array();
        for (i = 0; i < json_array_size(v); i++) {
            json_array_append_new(out, rest_json_untag(json_array_get(v, i)));
        }
        return out;
    case JSON_STRING:
        text = rest_exact_text(v, &len);
        return text != NULL ? json_stringn(text, len) : json_incref(v);
    default:
        return json_incref(v);
    }
}
