/*
 * log_format.c: the access log's formats: parsing an Apache-style format
 * string (or the built-in json) and rendering a request's line with it,
 * escaped for a text log or as JSON.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "mod_log.h"


static void mod_log_put_clf_time(mod_log_str_t *s, uint64_t us);
static void mod_log_put_value(mod_log_str_t *s, const char *v);
static const char *mod_log_protocol(const cairn_request_t *r);
static void mod_log_reserve(mod_log_str_t *s, size_t n);
static void mod_log_puts(mod_log_str_t *s, const char *p);
#define MOD_LOG_PUT_LIT(s, lit)  mod_log_put((s), (lit), sizeof(lit) - 1)
static void mod_log_putu(mod_log_str_t *s, uint64_t v);
static void mod_log_put_escaped(mod_log_str_t *s, const char *v);
static void mod_log_put_json(mod_log_str_t *s, const char *v);
static void mod_log_put_json_field(mod_log_str_t *s, const char *key,
                                   size_t klen, const char *v);
/* ,"key":"value" with the key's punctuation assembled at compile time. */
#define MOD_LOG_JSON_FIELD(s, key, v)                                        \
    mod_log_put_json_field((s), ",\"" key "\":", sizeof(key) + 3, (v))
static uint64_t mod_log_request_time_us(const cairn_request_t *r);


static const char  mod_log_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* The last formatted %t and JSON timestamp (up to the seconds), kept
 * while the second does not change. */
static time_t           mod_log_clf_sec = (time_t) -1;
static char             mod_log_clf[80];
static time_t           mod_log_iso_sec = (time_t) -1;
static char             mod_log_iso[64];

/* The wall clock minus the loop's monotonic clock, read again once a
 * second, so that a line costs no clock read; and the worker's pid. */
static int64_t          mod_log_wall_offset;
static uint64_t         mod_log_wall_checked;
int                     mod_log_wall_known;
pid_t                   mod_log_pid;


/*
 * Parses an Apache-style format string into fmt's items.  Returns NULL
 * or a message naming the offending code.
 */
const char *
mod_log_compile(cairn_arena_t *a, const char *spec, mod_log_format_t *fmt)
{
    mod_log_item_t  *items, *it;
    const char      *p, *start, *arg, *end;
    size_t           n = 0, argl;

    /* Never more items than twice the length, plus one. */
    items = cairn_arena_calloc(a, (2 * strlen(spec) + 1)
                                  * sizeof(mod_log_item_t));

    p = spec;
    while (*p != '\0') {
        if (*p != '%') {
            start = p;
            while (*p != '\0' && *p != '%') {
                p++;
            }
            it = &items[n++];
            it->code = MOD_LOG_LITERAL;
            it->arg = start;
            it->len = (size_t) (p - start);
            continue;
        }

        p++;
        arg = NULL;
        argl = 0;

        if (*p == '%') {
            it = &items[n++];
            it->code = MOD_LOG_LITERAL;
            it->arg = "%";
            it->len = 1;
            p++;
            continue;
        }

        if (*p == '{') {
            end = strchr(p, '}');
            if (end == NULL || end == p + 1) {
                return cairn_arena_printf(a, "log format \"%s\": \"%%{\" "
                                          "without a name and \"}\"", spec);
            }
            arg = p + 1;
            argl = (size_t) (end - arg);
            p = end + 1;
        }

        if (*p == '>' && p[1] == 's') {
            p++;
        }

        it = &items[n];
        switch (*p) {
        case 'h': it->code = MOD_LOG_REMOTE_ADDR; break;
        case 'l': it->code = MOD_LOG_IDENT; break;
        case 'u': it->code = MOD_LOG_USER; break;
        case 't': it->code = MOD_LOG_TIME; break;
        case 'r': it->code = MOD_LOG_REQUEST_LINE; break;
        case 's': it->code = MOD_LOG_STATUS; break;
        case 'b': it->code = MOD_LOG_BODY_BYTES_CLF; break;
        case 'B': it->code = MOD_LOG_BODY_BYTES; break;
        case 'D': it->code = MOD_LOG_DURATION_US; break;
        case 'T': it->code = MOD_LOG_DURATION_S; break;
        case 'm': it->code = MOD_LOG_METHOD; break;
        case 'U': it->code = MOD_LOG_PATH; break;
        case 'q': it->code = MOD_LOG_QUERY; break;
        case 'H': it->code = MOD_LOG_PROTOCOL; break;
        case 'i': it->code = MOD_LOG_REQ_HEADER; break;
        case 'o': it->code = MOD_LOG_RESP_HEADER; break;
        case 'n': it->code = MOD_LOG_NOTE; break;
        case '\0':
            return cairn_arena_printf(a, "log format \"%s\" ends inside "
                                      "a \"%%\" code", spec);
        default:
            return cairn_arena_printf(a, "log format \"%s\": unknown code "
                                      "\"%%%c\"", spec, *p);
        }

        if (it->code == MOD_LOG_REQ_HEADER || it->code == MOD_LOG_RESP_HEADER
            || it->code == MOD_LOG_NOTE)
        {
            if (arg == NULL) {
                return cairn_arena_printf(a, "log format \"%s\": \"%%%c\" "
                                          "needs a name: %%{Name}%c", spec,
                                          *p, *p);
            }
            it->arg = cairn_arena_strndup(a, arg, argl);
        } else if (arg != NULL) {
            return cairn_arena_printf(a, "log format \"%s\": \"%%%c\" takes "
                                      "no {argument}", spec, *p);
        }

        n++;
        p++;
    }

    fmt->items = items;
    fmt->nitems = n;

    return NULL;
}


static void
mod_log_put_clf_time(mod_log_str_t *s, uint64_t us)
{
    time_t     sec = (time_t) (us / 1000000);
    struct tm  tm;

    if (sec != mod_log_clf_sec) {
        gmtime_r(&sec, &tm);
        snprintf(mod_log_clf, sizeof(mod_log_clf),
                 "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
                 mod_log_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        mod_log_clf_sec = sec;
    }

    mod_log_puts(s, mod_log_clf);
}


/* A value that may be absent: "-" when it is NULL or empty. */
static void
mod_log_put_value(mod_log_str_t *s, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        mod_log_put(s, "-", 1);
    } else {
        mod_log_put_escaped(s, v);
    }
}


static const char *
mod_log_protocol(const cairn_request_t *r)
{
    return cairn_request_version(r) == 10 ? "HTTP/1.0" : "HTTP/1.1";
}


void
mod_log_format_text(cairn_request_t *r, mod_log_str_t *s,
                    const mod_log_format_t *fmt)
{
    const mod_log_item_t  *it;
    const char            *q;
    uint64_t               v, dur;
    size_t                 i;

    dur = cairn_now_us() - cairn_request_start_us(r);

    for (i = 0; i < fmt->nitems; i++) {
        it = &fmt->items[i];

        switch (it->code) {
        case MOD_LOG_LITERAL:
            mod_log_put(s, it->arg, it->len);
            break;
        case MOD_LOG_REMOTE_ADDR:
            mod_log_put_value(s, cairn_request_remote_addr(r));
            break;
        case MOD_LOG_IDENT:
            mod_log_put(s, "-", 1);
            break;
        case MOD_LOG_USER:
            mod_log_put_value(s, cairn_request_user(r));
            break;
        case MOD_LOG_TIME:
            mod_log_put_clf_time(s, mod_log_request_time_us(r));
            break;
        case MOD_LOG_REQUEST_LINE:
            mod_log_put_escaped(s, cairn_request_method_name(r));
            mod_log_put(s, " ", 1);
            mod_log_put_escaped(s, cairn_request_target(r));
            mod_log_put(s, " ", 1);
            mod_log_puts(s, mod_log_protocol(r));
            break;
        case MOD_LOG_STATUS:
            mod_log_putu(s, (uint64_t) cairn_response_status(r));
            break;
        case MOD_LOG_BODY_BYTES_CLF:
            v = cairn_response_body_bytes_sent(r);
            if (v == 0) {
                mod_log_put(s, "-", 1);
            } else {
                mod_log_putu(s, v);
            }
            break;
        case MOD_LOG_BODY_BYTES:
            mod_log_putu(s, cairn_response_body_bytes_sent(r));
            break;
        case MOD_LOG_DURATION_US:
            mod_log_putu(s, dur);
            break;
        case MOD_LOG_DURATION_S:
            mod_log_putu(s, dur / 1000000);
            break;
        case MOD_LOG_METHOD:
            mod_log_put_escaped(s, cairn_request_method_name(r));
            break;
        case MOD_LOG_PATH:
            mod_log_put_value(s, cairn_request_path(r));
            break;
        case MOD_LOG_QUERY:
            q = cairn_request_query(r);
            if (q != NULL) {
                mod_log_put(s, "?", 1);
                mod_log_put_escaped(s, q);
            }
            break;
        case MOD_LOG_PROTOCOL:
            mod_log_puts(s, mod_log_protocol(r));
            break;
        case MOD_LOG_REQ_HEADER:
            mod_log_put_value(s, cairn_request_header(r, it->arg));
            break;
        case MOD_LOG_RESP_HEADER:
            mod_log_put_value(s, cairn_response_header(r, it->arg));
            break;
        case MOD_LOG_NOTE:
            mod_log_put_value(s, cairn_request_note(r, it->arg));
            break;
        }
    }
}


void
mod_log_format_json(cairn_request_t *r, mod_log_str_t *s)
{
    uint64_t     us;
    time_t       sec;
    struct tm    tm;
    char         ms[4];
    unsigned     frac;
    const char  *upstream;

    us = mod_log_request_time_us(r);
    sec = (time_t) (us / 1000000);
    if (sec != mod_log_iso_sec) {
        gmtime_r(&sec, &tm);
        snprintf(mod_log_iso, sizeof(mod_log_iso),
                 "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        mod_log_iso_sec = sec;
    }
    frac = (unsigned) (us % 1000000 / 1000);
    ms[0] = (char) ('0' + frac / 100);
    ms[1] = (char) ('0' + frac / 10 % 10);
    ms[2] = (char) ('0' + frac % 10);
    ms[3] = 'Z';

    MOD_LOG_PUT_LIT(s, "{\"timestamp\":\"");
    mod_log_puts(s, mod_log_iso);
    mod_log_put(s, ms, 4);
    MOD_LOG_PUT_LIT(s, "\",\"level\":\"info\"");
    MOD_LOG_JSON_FIELD(s, "trace_id", cairn_request_trace_id(r));
    MOD_LOG_JSON_FIELD(s, "span_id", cairn_request_span_id(r));
    MOD_LOG_JSON_FIELD(s, "method", cairn_request_method_name(r));
    MOD_LOG_JSON_FIELD(s, "path", cairn_request_path(r));
    MOD_LOG_JSON_FIELD(s, "query", cairn_request_query(r));
    MOD_LOG_JSON_FIELD(s, "protocol", mod_log_protocol(r));
    MOD_LOG_PUT_LIT(s, ",\"status\":");
    mod_log_putu(s, (uint64_t) cairn_response_status(r));
    MOD_LOG_PUT_LIT(s, ",\"bytes_sent\":");
    mod_log_putu(s, cairn_response_bytes_sent(r));
    MOD_LOG_PUT_LIT(s, ",\"duration_us\":");
    mod_log_putu(s, cairn_now_us() - cairn_request_start_us(r));
    MOD_LOG_JSON_FIELD(s, "remote_addr", cairn_request_remote_addr(r));
    MOD_LOG_JSON_FIELD(s, "user", cairn_request_user(r));
    MOD_LOG_JSON_FIELD(s, "user_agent",
                           cairn_request_header(r, "User-Agent"));
    MOD_LOG_JSON_FIELD(s, "referer", cairn_request_header(r, "Referer"));
    /* A proxied request (mod_proxy's notes): where it went, how long. */
    upstream = cairn_request_note(r, "upstream_addr");
    if (upstream != NULL) {
        MOD_LOG_JSON_FIELD(s, "upstream_addr", upstream);
        upstream = cairn_request_note(r, "upstream_ms");
        if (upstream != NULL) {
            MOD_LOG_PUT_LIT(s, ",\"upstream_ms\":");
            mod_log_putu(s, strtoull(upstream, NULL, 10));
        }
    }
    MOD_LOG_PUT_LIT(s, ",\"pid\":");
    mod_log_putu(s, (uint64_t) (mod_log_pid != 0 ? mod_log_pid : getpid()));
    mod_log_put(s, "}", 1);
}


/* The wall-clock time the request line arrived, in microseconds. */
static uint64_t
mod_log_request_time_us(const cairn_request_t *r)
{
    struct timespec  ts;
    uint64_t         now, wall;

    now = cairn_now_us();
    if (!mod_log_wall_known || now - mod_log_wall_checked >= 1000000) {
        clock_gettime(CLOCK_REALTIME, &ts);
        wall = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        mod_log_wall_offset = (int64_t) (wall - now);
        mod_log_wall_checked = now;
        mod_log_wall_known = 1;
    }

    return (uint64_t) ((int64_t) cairn_request_start_us(r)
                       + mod_log_wall_offset);
}


/* Makes room for n more bytes. */
static void
mod_log_reserve(mod_log_str_t *s, size_t n)
{
    char    *np;
    size_t   cap;

    if (s->len + n <= s->cap) {
        return;
    }

    cap = s->cap ? s->cap * 2 : 1024;
    while (cap < s->len + n) {
        cap *= 2;
    }
    np = cairn_arena_alloc(s->a, cap);
    if (s->len > 0) {
        memcpy(np, s->p, s->len);
    }
    s->p = np;
    s->cap = cap;
}


void
mod_log_put(mod_log_str_t *s, const char *p, size_t n)
{
    mod_log_reserve(s, n);
    memcpy(s->p + s->len, p, n);
    s->len += n;
}


static void
mod_log_puts(mod_log_str_t *s, const char *p)
{
    mod_log_put(s, p, strlen(p));
}


static void
mod_log_putu(mod_log_str_t *s, uint64_t v)
{
    char  buf[24], *p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    mod_log_put(s, p, (size_t) (buf + sizeof(buf) - p));
}


/*
 * Text formats escape like Apache's: '"' and '\' get a backslash, other
 * bytes outside printable ASCII become \xhh, so a line can be neither
 * split nor forged.
 */
static void
mod_log_put_escaped(mod_log_str_t *s, const char *v)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) v, *start;
    char                 esc[4];

    while (*p != '\0') {
        start = p;
        while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
            p++;
        }
        if (p > start) {
            mod_log_put(s, (const char *) start, (size_t) (p - start));
        }
        if (*p == '\0') {
            break;
        }
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *p;
            mod_log_put(s, esc, 2);
        } else {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[*p >> 4];
            esc[3] = hex[*p & 0xf];
            mod_log_put(s, esc, 4);
        }
        p++;
    }
}


/* A JSON string (cairn_json_escape: valid UTF-8 goes through, invalid
 * bytes become U+FFFD).  Room for the worst case is made first. */
static void
mod_log_put_json(mod_log_str_t *s, const char *v)
{
    size_t  n = strlen(v);

    mod_log_reserve(s, CAIRN_JSON_ESCAPED_SIZE(n) + 2);
    s->p[s->len++] = '"';
    s->len += cairn_json_escape(s->p + s->len, v, n);
    s->p[s->len++] = '"';
}


/* key (written as it is, quotes and colon included) then "value" or
 * null. */
static void
mod_log_put_json_field(mod_log_str_t *s, const char *key, size_t klen,
                       const char *v)
{
    mod_log_put(s, key, klen);

    if (v == NULL) {
        mod_log_put(s, "null", 4);
    } else {
        mod_log_put_json(s, v);
    }
}
