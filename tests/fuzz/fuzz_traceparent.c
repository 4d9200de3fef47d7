/*
 * tests/fuzz/fuzz_traceparent.c: mod_log's traceparent parser
 * (modules/log/log_trace.c), a static function: the file is included
 * here whole.
 *
 * Input: the header value.  What the parser accepts must be what W3C
 * Trace Context allows: version 00, 32 and 16 lower-case hex digits not
 * all zero, two hex digits of flags.
 */

#include "config.h"

#include <stdio.h>

#include "fuzz.h"

#include "log/log_trace.c"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *tp = fuzz_strndup(data, size);
    char   trace_id[33], flags[3];
    int    ok;

    memset(trace_id, 'x', sizeof(trace_id));
    memset(flags, 'x', sizeof(flags));

    ok = mod_log_parse_traceparent(tp, trace_id, flags) == 0;
    if (ok && (strlen(trace_id) != 32 || mod_log_is_hex(trace_id, 32) != 1
               || strlen(flags) != 2 || mod_log_is_hex(flags, 2) == 0))
    {
        fprintf(stderr, "accepted a malformed traceparent\n");
        abort();
    }

    free(tp);

    return 0;
}
