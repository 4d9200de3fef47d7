/*
 * log_trace.c: the request's W3C trace context: a valid incoming
 * traceparent is continued with a new span id, anything else starts a
 * new trace; the ids become the request's trace context
 * (cairn_request_set_trace, and the notes "trace_id" and "span_id") and
 * the response headers X-Request-Id (and traceparent).
 */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "mod_log.h"


static int mod_log_parse_traceparent(const char *tp, char *trace_id,
                                     char *flags);
static int mod_log_is_hex(const char *p, size_t n);
static uint64_t mod_log_random(void);
static void mod_log_hex(char *out, size_t nhex);


/* The worker's generator of ids. */
uint64_t                mod_log_rng[2];
int                     mod_log_rng_seeded;


/*
 * Continues the incoming trace or starts one, sets the notes and the
 * response headers.
 */
void
mod_log_trace(cairn_request_t *r)
{
    const char  *tp;
    char         trace_id[33], span_id[17], flags[3];
    char         echo[56];
    int          continued = 0;

    tp = cairn_request_header(r, "traceparent");
    if (tp != NULL && mod_log_parse_traceparent(tp, trace_id, flags) == 0) {
        continued = 1;
    } else {
        mod_log_hex(trace_id, 32);
    }
    mod_log_hex(span_id, 16);

    cairn_request_set_trace(r, trace_id, span_id);
    /* The notes stay for modules written before the core kept it. */
    cairn_request_set_note(r, "trace_id", trace_id);
    cairn_request_set_note(r, "span_id", span_id);
    cairn_response_header_set(r, "X-Request-Id", trace_id);

    if (continued) {
        snprintf(echo, sizeof(echo), "00-%s-%s-%s", trace_id, span_id,
                 flags);
        cairn_response_header_set(r, "traceparent", echo);
    }
}


/* 1: n lower-case hex digits, not all zero; -1: all zero; 0: not hex. */
static int
mod_log_is_hex(const char *p, size_t n)
{
    size_t  i;
    int     nonzero = 0;

    for (i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }
        if (p[i] != '0') {
            nonzero = 1;
        }
    }

    return nonzero ? 1 : -1;
}


/*
 * A version 00 traceparent: "00-" 32 hex "-" 16 hex "-" 2 hex, lower
 * case, neither id all zeros.  Returns 0 and the trace id and flags, or
 * -1.
 */
static int
mod_log_parse_traceparent(const char *tp, char *trace_id, char *flags)
{
    const char  *end;

    while (*tp == ' ' || *tp == '\t') {
        tp++;
    }

    if (strncmp(tp, "00-", 3) != 0 || strlen(tp) < 55
        || tp[35] != '-' || tp[52] != '-'
        || mod_log_is_hex(tp + 3, 32) != 1
        || mod_log_is_hex(tp + 36, 16) != 1
        || mod_log_is_hex(tp + 53, 2) == 0)
    {
        return -1;
    }

    end = tp + 55;
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (*end != '\0') {
        return -1;
    }

    memcpy(trace_id, tp + 3, 32);
    trace_id[32] = '\0';
    memcpy(flags, tp + 53, 2);
    flags[2] = '\0';

    return 0;
}


/* xorshift128+: fast, and plenty for ids nobody must guess. */
static uint64_t
mod_log_random(void)
{
    uint64_t         x, y;
    struct timespec  ts;

    if (!mod_log_rng_seeded) {
        /* Outside a worker (or without getrandom): seeded once from the
         * clock and the pid. */
        clock_gettime(CLOCK_REALTIME, &ts);
        mod_log_rng[0] = ((uint64_t) ts.tv_nsec << 32 ^ (uint64_t) ts.tv_sec
                          ^ (uint64_t) getpid() << 16) | 1;
        mod_log_rng[1] = 0x9e3779b97f4a7c15u ^ (uint64_t) getpid();
        mod_log_rng_seeded = 1;
    }

    x = mod_log_rng[0];
    y = mod_log_rng[1];
    mod_log_rng[0] = y;
    x ^= x << 23;
    mod_log_rng[1] = x ^ y ^ (x >> 17) ^ (y >> 26);

    return mod_log_rng[1] + y;
}


/* nhex random lower-case hex digits (a multiple of 16, not all zero). */
static void
mod_log_hex(char *out, size_t nhex)
{
    static const char  digits[] = "0123456789abcdef";
    uint64_t           v, any = 0;
    size_t             i, k;

    do {
        for (i = 0; i < nhex; i += 16) {
            v = mod_log_random();
            any |= v;
            for (k = 0; k < 16; k++) {
                out[i + k] = digits[v & 0xf];
                v >>= 4;
            }
        }
    } while (any == 0);

    out[nhex] = '\0';
}
