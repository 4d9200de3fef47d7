/*
 * cairn/request.h: requests, responses and connections.
 *
 * A cairn_request_t is handed to every request hook.  Strings returned by
 * the accessors are owned by the request arena and stay valid until the
 * LOG phase has run; copy them before keeping them longer.  Every
 * function here must be called on the worker's loop thread (never from
 * task-pool work).
 */

#ifndef CAIRN_REQUEST_H
#define CAIRN_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cairn/defs.h>
#include <cairn/arena.h>

struct event_base;
struct sockaddr;

typedef enum {
    CAIRN_METHOD_OTHER = 0,
    CAIRN_METHOD_GET,
    CAIRN_METHOD_HEAD,
    CAIRN_METHOD_POST,
    CAIRN_METHOD_PUT,
    CAIRN_METHOD_DELETE,
    CAIRN_METHOD_PATCH,
    CAIRN_METHOD_OPTIONS,
    CAIRN_METHOD_TRACE,
    CAIRN_METHOD_CONNECT
} cairn_method_t;

/* Method masks, for routes and Allow headers. */
#define CAIRN_M(method)     (1u << (method))
#define CAIRN_M_ANY         0u


/* ------------------------------------------------------------------ */
/* The request line and headers                                       */
/* ------------------------------------------------------------------ */

/* The method, and its name as the client sent it ("GET", "PROPFIND"). */
CAIRN_API cairn_method_t cairn_request_method(const cairn_request_t *r);
CAIRN_API const char *cairn_request_method_name(const cairn_request_t *r);

/* The request-target exactly as received ("/a%20b/../c?x=1"). */
CAIRN_API const char *cairn_request_target(const cairn_request_t *r);

/*
 * The path: percent-decoded, with "." and ".." segments resolved and
 * repeated slashes folded ("/c").  A target that decodes to a NUL byte or
 * climbs above "/" never gets this far: the core answers 400.
 */
CAIRN_API const char *cairn_request_path(const cairn_request_t *r);

/* The raw query string after '?', or NULL. */
CAIRN_API const char *cairn_request_query(const cairn_request_t *r);

/* The first query argument called name, percent-decoded ('+' is a
 * space), "" for "?name", or NULL when absent. */
CAIRN_API const char *cairn_request_arg(cairn_request_t *r,
                                        const char *name);

/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
CAIRN_API int cairn_request_version(const cairn_request_t *r);

/* The Host header without its port, lower-cased, or "" when absent. */
CAIRN_API const char *cairn_request_host(const cairn_request_t *r);

/*
 * Content negotiation (ABI 1.4): the weight, in thousandths (0 to 1000),
 * that an Accept-style header value gives to token -- a media type for
 * Accept ("text/html", also matched by "text/" + "*" and by the full
 * wildcard), a coding for Accept-Encoding ("gzip", matched by "*").  The most specific element
 * decides; one with a malformed q is ignored.  -1 when nothing matches
 * (not listed, as opposed to q=0).
 */
CAIRN_API int cairn_accept_q(const char *value, const char *token);

/* The first request header called name (case-insensitive), or NULL. */
CAIRN_API const char *cairn_request_header(const cairn_request_t *r,
                                           const char *name);

/* Header iteration: count, then name and value of header i. */
CAIRN_API size_t cairn_request_header_count(const cairn_request_t *r);
CAIRN_API int cairn_request_header_at(const cairn_request_t *r, size_t i,
                                      const char **name, const char **value);

/* A router parameter (":id" or "*rest" of the matched route), or NULL. */
CAIRN_API const char *cairn_request_param(const cairn_request_t *r,
                                          const char *name);

/*
 * The request body, read completely before the HANDLER phase (bounded by
 * LimitRequestBody; chunked bodies arrive de-chunked).  Returns NULL with
 * *len = 0 when there is none.  The data is NUL-terminated for
 * convenience; *len does not count the NUL.
 */
CAIRN_API const char *cairn_request_body(const cairn_request_t *r,
                                         size_t *len);

/*
 * A body streamed to the handler instead of read whole (ABI 1.5).  A
 * hook that runs before HANDLER (FIXUPS, say) calls
 * cairn_request_body_stream(r, cb, arg): the core then reads no body
 * before the handlers, and the handler that answers (suspended, or
 * streaming) asks for it with cairn_request_body_resume(), which sends
 * "100 Continue" when the client waits for one and starts reading.  Each
 * piece goes to cb(r, data, len, arg) as it is parsed (de-chunked), and
 * cb(r, NULL, 0, arg) follows the last; cairn_request_body() stays
 * NULL.  cairn_request_body_pause() stops reading (at most one input
 * buffer more is parsed) until the next resume.  cb runs inside the
 * connection's parser: it must only take the bytes (copy, queue, pause),
 * never answer or resume r there.  A body that breaks (bad framing,
 * LimitRequestBody, RequestBodyTimeout) cancels r (its cancel callback)
 * and closes the connection; a response that ends before the body does
 * leaves the rest to be discarded as for any early answer.  Returns
 * CAIRN_OK, or CAIRN_DECLINED when r has no body to stream (none, or
 * too late: HANDLER reached).
 */
typedef void (*cairn_body_cb)(cairn_request_t *r, const char *data,
                              size_t len, void *arg);

CAIRN_API int cairn_request_body_stream(cairn_request_t *r,
                                        cairn_body_cb cb, void *arg);
CAIRN_API void cairn_request_body_pause(cairn_request_t *r);
CAIRN_API void cairn_request_body_resume(cairn_request_t *r);

/* The authenticated user, or NULL; set by AUTHENTICATE hooks.  The
 * string is copied into the request arena. */
CAIRN_API const char *cairn_request_user(const cairn_request_t *r);
CAIRN_API void cairn_request_set_user(cairn_request_t *r, const char *user);

/* Client address as text ("127.0.0.1", "::1") and port. */
CAIRN_API const char *cairn_request_remote_addr(const cairn_request_t *r);
CAIRN_API int cairn_request_remote_port(const cairn_request_t *r);
CAIRN_API const struct sockaddr *cairn_request_remote_sockaddr(
    const cairn_request_t *r);

/* A short unique id for this request, also in log lines. */
CAIRN_API const char *cairn_request_id(const cairn_request_t *r);

/* The request's arena: lives until the LOG phase has run. */
CAIRN_API cairn_arena_t *cairn_request_arena(cairn_request_t *r);

/* The module's config merged for this request's location. */
CAIRN_API void *cairn_request_conf(const cairn_request_t *r,
                                   const cairn_module_t *m);

/* Per-request module state (NULL until set). */
CAIRN_API void *cairn_request_ctx(const cairn_request_t *r,
                                  const cairn_module_t *m);
CAIRN_API void cairn_request_set_ctx(cairn_request_t *r,
                                     const cairn_module_t *m, void *ctx);

/*
 * Notes: named strings that modules hand to each other for one request
 * ("trace_id", "user_claims").  Both strings are copied.
 */
CAIRN_API const char *cairn_request_note(const cairn_request_t *r,
                                         const char *key);
CAIRN_API void cairn_request_set_note(cairn_request_t *r, const char *key,
                                      const char *value);

/*
 * The request's trace context (W3C Trace Context: a 32- and a 16-digit
 * lower-case hex id), owned by the core: set by the module that reads or
 * starts it (mod_log), read by the core for its error log and by modules
 * that pass it on (a proxy).  NULL when none was set.  The strings are
 * copied.  (ABI 1.2)
 */
CAIRN_API void cairn_request_set_trace(cairn_request_t *r,
                                       const char *trace_id,
                                       const char *span_id);
CAIRN_API const char *cairn_request_trace_id(const cairn_request_t *r);
CAIRN_API const char *cairn_request_span_id(const cairn_request_t *r);

/* The data given to cairn_route_add() when the matched route belongs to
 * m; NULL when no route matched or it is another module's. */
CAIRN_API void *cairn_request_route(const cairn_request_t *r,
                                    const cairn_module_t *m);

/* The pattern of the matched route ("/users/:id"), or NULL. */
CAIRN_API const char *cairn_request_route_pattern(const cairn_request_t *r);

/* The matched <Location> path or regex, or NULL at server scope. */
CAIRN_API const char *cairn_request_location(const cairn_request_t *r);

/* The connection the request came on. */
CAIRN_API cairn_conn_t *cairn_request_conn(cairn_request_t *r);

/* The same loop as cairn_event_base() (async.h), which new code uses:
 * kept for modules written for ABI 1.0. */
CAIRN_API struct event_base *cairn_request_event_base(cairn_request_t *r);

/* The configuration generation serving the request. */
CAIRN_API cairn_server_t *cairn_request_server(cairn_request_t *r);

/* Monotonic time the request line arrived, in microseconds. */
CAIRN_API uint64_t cairn_request_start_us(const cairn_request_t *r);


/* ------------------------------------------------------------------ */
/* The response                                                       */
/* ------------------------------------------------------------------ */

/*
 * Answers with a body from memory.  body is copied when the headers go
 * out, so it may live in the request arena; content_type may be NULL.
 * Returns CAIRN_OK so a handler can `return cairn_respond(...)`.
 */
CAIRN_API int cairn_respond(cairn_request_t *r, int status,
                            const char *content_type, const void *body,
                            size_t len);

/*
 * Answers with length bytes of the open file fd from offset, sent with
 * sendfile.  The core owns fd from now on and closes it.  Returns
 * CAIRN_OK.
 */
CAIRN_API int cairn_respond_file(cairn_request_t *r, int status,
                                 const char *content_type, int fd,
                                 off_t offset, off_t length);

/*
 * Answers with the core's error page for status (a short HTML, JSON or
 * text body, as the client's Accept prefers; see cairn_respond_errorf()).
 *
 *   cairn_respond_error(r, status)
 *       drops the headers that described a body it replaces
 *       (Content-Range, ETag, Last-Modified);
 *   cairn_respond_error(r, status, message)       (ABI 1.2)
 *       keeps every header set so far (Allow, Content-Range,
 *       WWW-Authenticate, ...) and shows message, HTML-escaped, under
 *       the title; message may be NULL.
 *
 * Both return CAIRN_OK, so a handler can `return cairn_respond_error(...)`.
 * The two-argument form is the ABI 1.0 function; the three-argument one
 * is cairn_respond_error_message(), chosen by the macro below.
 */
CAIRN_API int (cairn_respond_error)(cairn_request_t *r, int status);
CAIRN_API int cairn_respond_error_message(cairn_request_t *r, int status,
                                          const char *message);

#define CAIRN__PICK3(_1, _2, _3, name, ...)     name
#define cairn_respond_error(...)                                             \
    CAIRN__PICK3(__VA_ARGS__, cairn_respond_error_message,                   \
                 cairn_respond_error, )(__VA_ARGS__)

/*
 * The core's error page for status with the sentence that says why,
 * formatted like printf ("no file %s", path), ABI 1.6: as HTML, JSON
 * ({"code": status, "message": why}) or plain text as the client's
 * Accept prefers, or as an ERROR_PAGE hook writes it (hooks.h), or the
 * location's ErrorDocument.  Like the three-argument
 * cairn_respond_error(), it keeps every header set so far; the sentence
 * is escaped for each form and cut at 200 bytes (at a UTF-8 boundary).
 * fmt may be NULL: the core's default sentence for status, if any.
 * Returns CAIRN_OK.
 */
CAIRN_API int cairn_respond_errorf(cairn_request_t *r, int status,
                                   const char *fmt, ...) CAIRN_PRINTF(3, 4);

/*
 * Answers 405 Method Not Allowed with the core's error page and an Allow
 * header listing methods, a mask of CAIRN_M() bits (GET brings HEAD
 * along).  Returns CAIRN_OK.  (ABI 1.2)
 */
CAIRN_API int cairn_respond_not_allowed(cairn_request_t *r,
                                        unsigned methods);

/* Status and headers, for handlers and RESPONSE hooks. */
CAIRN_API int cairn_response_status(const cairn_request_t *r);
CAIRN_API void cairn_response_set_status(cairn_request_t *r, int status);

/* Sets (replacing any of that name), adds, reads, removes a header.
 * Name and value are copied. */
CAIRN_API void cairn_response_header_set(cairn_request_t *r,
                                         const char *name, const char *value);
CAIRN_API void cairn_response_header_add(cairn_request_t *r,
                                         const char *name, const char *value);
CAIRN_API const char *cairn_response_header(const cairn_request_t *r,
                                            const char *name);
CAIRN_API void cairn_response_header_unset(cairn_request_t *r,
                                           const char *name);

/* The body set by cairn_respond() (NULL for file or streamed bodies), and
 * a replacement, for RESPONSE hooks such as template rendering. */
CAIRN_API const void *cairn_response_body(const cairn_request_t *r,
                                          size_t *len);
CAIRN_API void cairn_response_set_body(cairn_request_t *r, const void *body,
                                       size_t len);

/* Bytes of the response sent so far (body and headers). */
CAIRN_API uint64_t cairn_response_bytes_sent(const cairn_request_t *r);

/* Bytes of the body sent so far, without the status line, the headers
 * and chunked framing, whether the body came from memory, a file or a
 * stream (Apache's %B). */
CAIRN_API uint64_t cairn_response_body_bytes_sent(
    const cairn_request_t *r);

/*
 * Streaming: start sends the status and headers now (chunked unless a
 * Content-Length header was set, or HTTP/1.0 which closes the
 * connection); write queues data; end finishes the body and lets the
 * pipeline go on to LOG.  A handler that streams returns
 * CAIRN_SUSPENDED and calls cairn_response_stream_end() when the body is
 * complete.  write and end return CAIRN_OK or CAIRN_ERROR (the client
 * is gone).
 */
CAIRN_API int cairn_response_stream_start(cairn_request_t *r, int status);
CAIRN_API int cairn_response_stream_write(cairn_request_t *r,
                                          const void *data, size_t len);
CAIRN_API int cairn_response_stream_end(cairn_request_t *r);

/* Bytes queued for the client but not yet written (for flow control). */
CAIRN_API size_t cairn_response_stream_pending(const cairn_request_t *r);

/*
 * Back-pressure for a stream fed from another source (ABI 1.5): a
 * handler that finds cairn_response_stream_pending() above its bound
 * stops reading its source and asks to be told when the client has
 * taken everything queued.  cb(r, data) then runs once, on the loop,
 * from the write event that emptied the queue; the handler resumes
 * reading there.  Returns CAIRN_OK when armed, CAIRN_DECLINED when
 * nothing is pending (go on at once; cb will not run), CAIRN_ERROR when
 * r is not streaming or its client is gone (the cancel callback runs
 * instead).  A later call replaces cb; cairn_response_stream_end()
 * forgets it.  The stream functions may be called from the module's
 * own events (an upstream socket): a client that fails during a call
 * is released only after the call has returned.
 */
typedef void (*cairn_drain_cb)(cairn_request_t *r, void *data);

CAIRN_API int cairn_response_stream_on_drain(cairn_request_t *r,
                                             cairn_drain_cb cb, void *data);

/*
 * Ends a stream that cannot be completed (its source failed after the
 * head went out), ABI 1.5: what was queued is still written, but a
 * chunked body gets no last chunk and the connection closes after it,
 * so the client sees a truncated response rather than a complete one.
 * Like cairn_response_stream_end(), r may be gone when it returns.
 * Returns CAIRN_OK, or CAIRN_ERROR when r is not streaming.
 */
CAIRN_API int cairn_response_stream_abort(cairn_request_t *r);

/*
 * Tunnels (ABI 1.5): a request that asked for a protocol upgrade
 * (Connection: upgrade and Upgrade) may be answered 101 with
 * cairn_response_tunnel(r, 101, cb, data) instead of a stream start:
 * the head goes out with the headers set so far and "Connection:
 * upgrade", and the connection carries another protocol from then on.
 * Every byte the client sends is handed to cb(r, bytes, len, data) as
 * it is read (those it already sent, before this returns); the
 * handler's cairn_response_stream_write() calls send bytes as they are,
 * without framing or body filters; pending and on_drain work as for a
 * stream; cairn_response_stream_end() closes the connection once what
 * is queued is written, and a client that closes ends the request
 * through the cancel callback.  cairn_request_body_pause() stops
 * handing the client's bytes to cb (they wait in the connection's input
 * buffer, and reading stops once it is full: back-pressure to the
 * client) until cairn_request_body_resume(), which hands over what
 * waits and reads on (not to be called from inside cb).  Returns
 * CAIRN_OK, or CAIRN_ERROR when status is not 101, r asked for no
 * upgrade, its head went out already or its client is gone.
 */
typedef void (*cairn_tunnel_cb)(cairn_request_t *r, const char *data,
                                size_t len, void *arg);

CAIRN_API int cairn_response_tunnel(cairn_request_t *r, int status,
                                    cairn_tunnel_cb cb, void *data);


/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

/* The client's address ("192.0.2.7", "2001:db8::1", "unix") and port. */
CAIRN_API const char *cairn_conn_remote_addr(const cairn_conn_t *c);
CAIRN_API int cairn_conn_remote_port(const cairn_conn_t *c);

/* Memory that lives as long as the connection (connection hooks). */
CAIRN_API cairn_arena_t *cairn_conn_arena(cairn_conn_t *c);

/* The connection's number, unique in its worker (logs). */
CAIRN_API uint64_t cairn_conn_id(const cairn_conn_t *c);

/* Requests served on the connection so far. */
CAIRN_API unsigned cairn_conn_requests(const cairn_conn_t *c);


/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* The reason phrase of a status ("Not Found"), or "Unknown". */
CAIRN_API const char *cairn_status_reason(int status);

/* The method called name, or CAIRN_METHOD_OTHER. */
CAIRN_API cairn_method_t cairn_method_from_name(const char *name);
CAIRN_API const char *cairn_method_name(cairn_method_t method);

/* Formats t as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT") into buf
 * (at least 30 bytes); returns buf. */
CAIRN_API char *cairn_http_date(int64_t t, char *buf);

/* Parses an HTTP date; returns -1 when it is not one. */
CAIRN_API int64_t cairn_http_date_parse(const char *s);

#endif /* CAIRN_REQUEST_H */
