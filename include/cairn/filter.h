/*
 * cairn/filter.h: output filters (ABI 1.2).
 *
 * Every response leaves through two chains, ordered like hooks (order,
 * tie-breaker, before/after lists; `cairnd -H` prints them):
 *
 *   header filters   run once, when the head is about to be written: the
 *                    status and headers are final for the handler and
 *                    RESPONSE hooks, and a filter may still change them.
 *                    It returns CAIRN_OK to see this response's body, or
 *                    CAIRN_DECLINED to stay out of it (its body filter is
 *                    then skipped: passing through costs nothing).
 *   body filters     see the body as a stream of buffers (cairn_buf_t):
 *                    memory, file ranges (sent with sendfile when nothing
 *                    reads them), and the last buffer, flagged
 *                    CAIRN_BUF_LAST.  A filter passes buffers on with
 *                    cairn_filter_next(), as they are, transformed, or
 *                    later (it may hold them back until the end, as a
 *                    compressor or a template does).
 *
 * Every body goes through the same chain: memory (cairn_respond), files
 * (cairn_respond_file), and streamed bodies (cairn_response_stream_*,
 * each write a buffer).  Responses without a body (HEAD, 1xx, 204, 304)
 * run the header filters only.  After the last filter the core frames
 * the body for the connection (Content-Length, or chunked when the
 * length is unknown) and writes it.
 *
 * A filter that changes the body's length calls cairn_response_clear_length()
 * from its header filter; one that changes its bytes also unsets what no
 * longer holds (ETag, Accept-Ranges, Content-MD5).
 *
 * Back-pressure: cairn_filter_next() queues what it is given on the
 * connection; a streaming handler paces itself with
 * cairn_response_stream_pending().  A filter must pass the last buffer on
 * exactly once; when the connection is gone, cairn_filter_next() returns
 * CAIRN_ERROR and the filter stops.  The request may be finished when the
 * outermost call that passed the last buffer returns: a filter touches
 * nothing of r after passing it.
 */

#ifndef CAIRN_FILTER_H
#define CAIRN_FILTER_H

#include <stdint.h>
#include <sys/types.h>

#include <cairn/defs.h>
#include <cairn/hooks.h>

/* A buffer of body. */
typedef struct cairn_buf_s  cairn_buf_t;

struct cairn_buf_s {
    cairn_buf_t             *next;
    const void              *data;      /* memory; NULL for a file range */
    size_t                   len;       /* bytes of memory or of the file */
    int                      fd;        /* a file range; -1 for memory */
    off_t                    offset;    /* where the range starts */
    unsigned                 flags;     /* CAIRN_BUF_* */
};

#define CAIRN_BUF_LAST      0x01        /* the end of the body */

/* A filter's place in its chain (opaque; given to the filter). */
typedef struct cairn_filter_s  cairn_filter_t;

typedef int (*cairn_header_filter_cb)(cairn_request_t *r);
typedef int (*cairn_body_filter_cb)(cairn_request_t *r, cairn_filter_t *f,
                                    cairn_buf_t *in);

/* Registers a header filter / a body filter (from register_hooks, like
 * cairn_hook_request).  Returns CAIRN_OK or CAIRN_ERROR. */
CAIRN_API int cairn_hook_header_filter(cairn_module_t *m,
                                       cairn_header_filter_cb fn,
                                       int order, int n,
                                       const char *const *before,
                                       const char *const *after);
CAIRN_API int cairn_hook_body_filter(cairn_module_t *m,
                                     cairn_body_filter_cb fn,
                                     int order, int n,
                                     const char *const *before,
                                     const char *const *after);

/* Declared in the descriptor's hooks table (hooks.h). */
#define CAIRN_HOOK_HEADER_FILTER(fn, order)                                  \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_HEADER_FILTER, cairn_header_filter_cb,   \
                    fn, order, 0, NULL, NULL)
#define CAIRN_HOOK_BODY_FILTER(fn, order)                                    \
    CAIRN_HOOK_DECL(CAIRN_HOOK_KIND_BODY_FILTER, cairn_body_filter_cb,       \
                    fn, order, 0, NULL, NULL)

/* Passes buffers (a list, or NULL for nothing) to the filter after f.
 * Returns CAIRN_OK, or CAIRN_ERROR when the connection is gone. */
CAIRN_API int cairn_filter_next(cairn_request_t *r, cairn_filter_t *f,
                                cairn_buf_t *in);

/* A memory buffer in r's arena pointing at data (not copied: it must
 * live as long as the request). */
CAIRN_API cairn_buf_t *cairn_buf_memory(cairn_request_t *r,
                                        const void *data, size_t len);

/*
 * Makes the start of a file range readable: reads up to max bytes of it
 * into r's arena and turns b into that memory buffer; the rest of the
 * range, if any, becomes a new file buffer after b (which takes b's
 * CAIRN_BUF_LAST).  A memory buffer is left as it is.  Reads block on
 * the disk as little as a read(2) of max bytes does: keep max modest
 * (64 KiB).  Returns CAIRN_OK or CAIRN_ERROR (the file shrank, a read
 * error; logged).
 */
CAIRN_API int cairn_buf_read(cairn_request_t *r, cairn_buf_t *b,
                             size_t max);

/* The body's length as the header filters see it: what the handler set
 * (or a filter before), -1 when unknown (a stream without
 * Content-Length, or after cairn_response_clear_length()).  ABI 1.4. */
CAIRN_API int64_t cairn_response_length(const cairn_request_t *r);

/* The body's length will not be what the handler set: no
 * Content-Length is sent (HTTP/1.1 sends the body chunked). */
CAIRN_API void cairn_response_clear_length(cairn_request_t *r);

#endif /* CAIRN_FILTER_H */
