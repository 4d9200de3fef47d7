/*
 * core/http_int.h: connections, requests and the pipeline.
 *
 * A connection reads into a flat input buffer and feeds llhttp.  The
 * parser pauses after the header block of each request and again after
 * its body, so exactly one request is being processed at a time and
 * pipelined requests wait, unparsed, in the input buffer; responses thus
 * leave in order.  Responses are queued in an evbuffer and written with
 * writev/sendfile; when several pipelined requests are answered at once
 * their responses go out in one write.
 *
 * Request life: HEADERS (parsing) -> phases POST_READ_REQUEST..FIXUPS ->
 * BODY (reading, if any) -> HANDLER -> RESPONSE -> header and body queued
 * -> LOG once the last byte is written (or the client is gone) -> the
 * request arena is reset for the next request on the connection.
 */

#ifndef CAIRN_HTTP_INT_H
#define CAIRN_HTTP_INT_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <llhttp.h>

#include <cairn/cairn.h>

#include "conf_int.h"
#include "worker_int.h"

typedef struct {
    const char              *name;
    const char              *value;
    size_t                   name_len;
} cairn__header_t;

typedef struct {
    cairn__header_t         *v;
    size_t                   n;
    size_t                   cap;
} cairn__headers_t;

typedef enum {
    CAIRN__REQ_HEADERS = 0,     /* parsing the request line and headers */
    CAIRN__REQ_PHASES,          /* running hooks */
    CAIRN__REQ_BODY,            /* reading the body for the handler */
    CAIRN__REQ_SUSPENDED,       /* a hook returned SUSPENDED */
    CAIRN__REQ_STREAMING,       /* handler streams the response */
    CAIRN__REQ_SENDING,         /* response queued, being written */
    CAIRN__REQ_DONE             /* logged */
} cairn__req_state_t;

typedef enum {
    CAIRN__BODY_NONE = 0,
    CAIRN__BODY_MEMORY,
    CAIRN__BODY_FILE,
    CAIRN__BODY_STREAM
} cairn__body_kind_t;

struct cairn_request_s {
    cairn_conn_t            *conn;
    cairn_arena_t           *arena;
    cairn_server_t          *server;
    const cairn__vhost_t    *vhost;
    const cairn__loc_t      *loc;
    cairn__req_state_t       state;
    cairn_phase_t            phase;         /* running or suspended in */
    size_t                   hook;          /* index in the phase */
    cairn_module_t          *suspended_by;

    /* Request line. */
    cairn_method_t           method;
    const char              *method_name;
    char                    *target;
    size_t                   target_len;
    const char              *path;
    const char              *query;
    const char              *host;
    int                      version;       /* 10 or 11 */
    cairn__headers_t         headers;
    const char              *id;
    uint64_t                 start_us;

    /* Parsing state. */
    unsigned                 header_bytes;
    size_t                   head_parsed;   /* bytes of the header block
                                               in earlier input */
    unsigned                 in_value:1;
    unsigned                 value_split:1; /* the value's last span ended
                                               with the input */
    unsigned                 keepalive:1;
    unsigned                 expect_continue:1;
    unsigned                 has_body:1;
    unsigned                 body_done:1;
    unsigned                 head:1;        /* HEAD: no body sent */
    unsigned                 cancelled:1;
    unsigned                 headers_sent:1;
    unsigned                 logged:1;
    unsigned                 chunked_out:1;
    unsigned                 upgrade:1;     /* asked for an upgrade */
    unsigned                 route_405:1;   /* route matched, not method */
    unsigned                 asterisk:1;    /* OPTIONS * */
    unsigned                 finish_deferred:1; /* done, but a task runs */
    unsigned                 broken:1;      /* answered while its input
                                               was half read: never
                                               discard the rest */
    unsigned                 error_status;  /* parse error to answer */
    const char              *error_reason;  /* why, for the error page */
    unsigned                 error_page:1;  /* the body is the core's
                                               error page */
    unsigned                 error_fixed:1; /* out of memory: the fixed
                                               page, nothing allocated */
    unsigned                 error_hooks:1; /* ERROR_PAGE hooks running */
    int                      errdoc_status; /* serving an ErrorDocument
                                               URL for this status */
    const char              *errdoc_reason;
    unsigned                 errdoc_done:1; /* its answer is in */
    cairn_method_t           errdoc_method; /* the request's own, put */
    const char              *errdoc_path;   /* back for LOG */
    const char              *errdoc_query;
    uint64_t                 seq;           /* request number in worker */
    int64_t                  content_length;    /* -1: unknown */
    char                    *body;          /* request body, malloc()ed
                                               (NUL after body_len) */
    size_t                   body_cap;
    size_t                   body_len;
    uint64_t                 body_start_us;

    /* Routing and per-module state. */
    const cairn__route_t    *route;
    size_t                   nparams;
    const char             **param_names;
    const char             **param_values;
    void                   **ctx;           /* [nmods] */
    const char              *user;
    cairn_kvv_t              notes;
    const char              *trace_id;      /* cairn_request_set_trace */
    const char              *span_id;

    /* Response. */
    int                      status;
    const char              *content_type;
    unsigned                 allow;         /* methods for a 405 */
    cairn__headers_t         out_headers;
    cairn__body_kind_t       body_kind;
    const void              *out_body;
    size_t                   out_len;
    int                      out_fd;
    off_t                    out_offset;
    off_t                    out_length;
    uint64_t                 bytes_sent;
    uint64_t                 bytes_queued;
    uint64_t                 head_bytes;     /* status line and headers */
    uint64_t                 framing_bytes;  /* chunk sizes and ends */

    /* Output (filter.c). */
    int64_t                  out_clen;      /* Content-Length, -1: none */
    struct cairn_filter_s   *out_filters;   /* [n body filters] */
    unsigned                 out_busy;      /* output calls on the stack */
    unsigned                 out_started:1; /* header filters ran */
    unsigned                 out_header_only:1; /* HEAD, 1xx, 204, 304 */
    unsigned                 out_eos:1;     /* the last buffer is queued */
    unsigned                 finish_pending:1; /* written or gone while
                                                  out_busy */
    unsigned                 out_range:1;   /* a 206: cut the body */
    off_t                    out_range_start;
    off_t                    out_range_len;
    off_t                    out_range_pos; /* bytes of the body seen */

    /* Async. */
    cairn_cancel_cb          cancel_cb;
    void                    *cancel_data;
    cairn_drain_cb           drain_cb;      /* a stream waits for room */
    void                    *drain_data;
    cairn_tunnel_cb          tunnel_cb;     /* after a 101: client bytes */
    void                    *tunnel_data;
    unsigned                 tunnel:1;      /* the connection is a tunnel */
    cairn_body_cb            body_cb;       /* the body is streamed */
    void                    *body_cb_data;
    unsigned                 body_reading:1;    /* the handler asked */
    unsigned                 body_paused:1;
    unsigned                 body_ended:1;      /* cb had its end */
    unsigned                 out_aborted:1; /* a stream cut short: no
                                               last chunk, close */
    unsigned                 pending_tasks;
};

typedef enum {
    CAIRN__CONN_IDLE = 0,       /* waiting for a request (keep-alive) */
    CAIRN__CONN_ACTIVE,         /* a request is in progress */
    CAIRN__CONN_CLOSING         /* flush the output, then close */
} cairn__conn_state_t;

struct cairn_conn_s {
    cairn__wconn_t           link;          /* first: the worker's list */
    const struct cairn__proto_s *proto;     /* what carries its requests */
    const struct cairn__transport_s *transport; /* how its bytes move */
    cairn__worker_t         *worker;
    cairn_server_t          *server;
    int                      fd;
    cairn__conn_state_t      state;
    struct event            *ev_read;
    struct event            *ev_write;
    struct event            *ev_timer;
    llhttp_t                 parser;
    cairn_arena_t           *arena;         /* the connection's */
    cairn_arena_t           *req_arena;     /* reset per request */
    cairn_request_t         *req;           /* current request or NULL */

    char                    *in;            /* input buffer */
    size_t                   in_start;      /* first unparsed byte */
    size_t                   in_end;        /* end of data */
    size_t                   in_cap;
    char                     in_last;       /* last byte parsed before
                                               in_start */

    struct evbuffer         *out;
    uint64_t                 id;
    unsigned                 nrequests;
    uint64_t                 deadline_us;   /* 0: none */
    uint64_t                 timer_at_us;   /* when ev_timer fires, 0: off */
    uint64_t                 last_io_us;
    unsigned                 busy;          /* entries on the stack */

    unsigned                 reading:1;     /* read event armed */
    unsigned                 writing:1;     /* write event armed */
    unsigned                 eof:1;         /* client closed its side */
    unsigned                 closing:1;
    unsigned                 processing:1;  /* conn_process on the stack */
    unsigned                 lingering:1;   /* draining before close */
    unsigned                 discarding:1;  /* dropping an unread body */
    unsigned                 freed:1;
    int64_t                  discard_left;  /* bytes it may still drop,
                                               -1: until the close */
    size_t                   trailer_bytes; /* of the body's trailer
                                               section, dropped */
    size_t                   ext_bytes;     /* of the chunk's extensions,
                                               dropped */

    struct sockaddr_storage  peer;
    socklen_t                peer_len;
    char                     peer_text[48];
    int                      peer_port;
};

/* ------------------------------------------------------------------ */
/* The connection's transport (transport.c)                           */
/* ------------------------------------------------------------------ */

/*
 * How a connection's bytes move, under its protocol: recv reads into buf
 * (bytes, 0 at the end of the stream, -1 with errno; EAGAIN when nothing
 * is there), send writes from out and drains what it wrote (bytes, -1
 * with errno), shutdown ends the writing side, close releases it.
 * Today only the plain transport exists; a TLS one plugs in here without
 * touching the protocol above it.
 */
typedef struct cairn__transport_s {
    const char  *name;
    ssize_t    (*recv)(cairn_conn_t *c, void *buf, size_t len);
    int        (*send)(cairn_conn_t *c, struct evbuffer *out);
    int        (*shutdown)(cairn_conn_t *c);
    void       (*close)(cairn_conn_t *c);
} cairn__transport_t;

/* Sockets as they are (sendfile for file segments). */
extern const cairn__transport_t  cairn__transport_plain;


/* ------------------------------------------------------------------ */
/* The connection's protocol, as the pipeline sees it                 */
/* ------------------------------------------------------------------ */

/*
 * What the pipeline asks of the protocol that carries a request (today
 * HTTP/1.1 in http.c; an HTTP/2 stream later).  The pipeline calls only
 * these, through r->conn->proto, and the protocol answers only through
 * cairn__pipeline_event(): neither calls into the other's internals.
 */
typedef struct cairn__proto_s {
    const char  *name;

    /* Read the request body (answering Expect: 100-continue first);
     * CAIRN__EV_BODY when it is complete. */
    void       (*read_body)(cairn_request_t *r);

    /* Write buffers of r's body (the filter chain's end): the head
     * first, on the first call (Content-Length r->out_clen, or chunked
     * when it is -1; no body when r->out_header_only); the buffer
     * flagged CAIRN_BUF_LAST ends the body, and CAIRN__EV_DRAINED
     * follows once all of it is written.  CAIRN_ERROR: the client is
     * gone. */
    int        (*write)(cairn_request_t *r, cairn_buf_t *in);

    /* Bytes of r's response queued and not yet written. */
    size_t     (*pending)(const cairn_request_t *r);

    /* r is finished and logged (its arena is recycled next): serve the
     * next request, or close (keepalive 0). */
    void       (*done)(cairn_request_t *r, int keepalive);

    /* r's response was a 101 and r->tunnel is set: from now on every
     * byte the client sends (those already read first, before this
     * returns) goes to cairn__pipeline_tunnel_data(), never to the
     * parser. */
    void       (*tunnel)(cairn_request_t *r);
} cairn__proto_t;


/* ------------------------------------------------------------------ */
/* The connection layer (http.c)                                      */
/* ------------------------------------------------------------------ */

/* What serves HTTP/1.1 listeners (worker_int.h): accept, stop, close. */
extern const cairn__conn_handler_t  cairn__http_handler;

/*
 * Opens an HTTP/1.1 connection of worker w over transport t on fd, from
 * the peer sa (what conn_accept does for a socket of a listener): runs
 * the CONNECTION_OPEN hooks and starts waiting for the first request.
 * fd may be -1 for a transport without a descriptor (tests/fuzz): the
 * read and write events then never fire by themselves, and the caller
 * makes c->ev_read active while c->reading is set, and c->ev_write while
 * c->writing is set, when its transport has bytes or room.  With refuse
 * set (MaxConnections reached and no idle connection to close), c is
 * answered 503 at once and closes.  Returns the connection, or NULL when
 * a hook refused it or refuse was set (it is closed or closing).
 */
cairn_conn_t *cairn__conn_open(cairn__worker_t *w, const cairn__transport_t *t,
                               int fd, const struct sockaddr *sa,
                               socklen_t salen, int refuse);

/* Closes the connection (cancelling a request in progress); freed at
 * once, or by the outermost cairn__conn_leave(). */
void cairn__conn_close(cairn_conn_t *c);

/* Bracket every entry from the loop into a connection. */
void cairn__conn_enter(cairn_conn_t *c);
void cairn__conn_leave(cairn_conn_t *c);

/* Runs the connection hooks of one kind; CAIRN_OK or the first refusal. */
int cairn__conn_hooks_run(cairn_conn_t *c, cairn_conn_hook_t which);

/* The connection whose callback is running (crash records). */
extern cairn_conn_t *cairn__current_conn;


/* ------------------------------------------------------------------ */
/* The pipeline (pipeline.c): the one owner of a request's state       */
/* ------------------------------------------------------------------ */

/* What a connection reports about its request. */
typedef enum {
    CAIRN__EV_HEADERS = 0,      /* the header block is parsed */
    CAIRN__EV_BODY,             /* the body the handler waits for is in */
    CAIRN__EV_DRAINED,          /* all of the response is written */
    CAIRN__EV_FLUSHED,          /* what a stream queued so far is
                                   written (its drain callback) */
    CAIRN__EV_GONE,             /* the client is gone, or the server
                                   closes the connection */
    CAIRN__EV_FAIL              /* the request cannot be read on (a
                                   parse error, a timeout): arg is the
                                   status to answer */
} cairn__pev_t;

/* Starts a request on c (state HEADERS). */
cairn_request_t *cairn__request_new(cairn_conn_t *c);

/* The single entry from the connection into the pipeline. */
void cairn__pipeline_event(cairn_request_t *r, cairn__pev_t ev, int arg);

/* A streamed body's pieces (NULL, 0: its end), from http_on_body. */
void cairn__pipeline_body_data(cairn_request_t *r, const char *data,
                               size_t len);

/* And the one for a tunnel's bytes from the client (proto->tunnel). */
void cairn__pipeline_tunnel_data(cairn_request_t *r, const char *data,
                                 size_t len);

/* Runs the pipeline of r from its current phase until it suspends or
 * the response is sent (async.c: a resumed request). */
void cairn__pipeline_run(cairn_request_t *r, int rc);

/* Runs LOG and hands r back to its connection (async.c: a finish that
 * waited for a task). */
void cairn__request_finish(cairn_request_t *r);


/* ------------------------------------------------------------------ */
/* Requests and responses (request.c, response.c, headers.c)          */
/* ------------------------------------------------------------------ */

/*
 * The header block is parsed and the wire facts are set (version,
 * method, keep-alive, body framing): checks the target and Host,
 * normalises the path, finds the virtual host and location, applies
 * LimitRequestBody to a declared length and Expect.  Returns 0, or the
 * status to answer (400, 413, 417).
 */
int cairn__request_prepare(cairn_request_t *r);

/* The virtual host and location of a request answered before it was
 * prepared (pipeline_fail), from the target and Host read so far. */
void cairn__request_locate(cairn_request_t *r);

/* Lower-cases a Host value and strips its port; "" for NULL; NULL when
 * it is not a valid host. */
const char *cairn__host_normalise(cairn_arena_t *a, const char *host);

/* What the error log says of a request: its id, trace and span. */
void cairn__request_log_ids(const cairn_request_t *r, const char **id,
                            const char **trace, const char **span);

/* Sets the Allow header from a method mask (GET implies HEAD). */
void cairn__response_allow(cairn_request_t *r, unsigned mask);

/* Sets up r's error response for status (body, content type), dropping
 * the headers that described the body it replaces (Content-Range, ETag,
 * Last-Modified). */
void cairn__response_error(cairn_request_t *r, int status);

/* The same, keeping every header the caller set. */
void cairn__response_error_page(cairn_request_t *r, int status);

/* Sets why r is answered with an error (the sentence its error page
 * shows, cut at CAIRN__REASON_MAX bytes); the next error page of r uses
 * it.  A static string may be given to cairn__response_reason(), which
 * copies nothing. */
#define CAIRN__REASON_MAX   200
void cairn__response_reason(cairn_request_t *r, const char *reason);
void cairn__response_reasonf(cairn_request_t *r, const char *fmt, ...)
    CAIRN_PRINTF(2, 3);

/* Byte ranges (range.c).  cairn__range_parse: 1 with the one range of
 * a body of size bytes, 0 to send it all (not bytes, malformed, several
 * ranges), -1 when it cannot be satisfied.  cairn__range_if: whether an
 * If-Range value holds for a response with this ETag and
 * Last-Modified. */
int cairn__range_parse(const char *v, off_t size, off_t *start, off_t *len);
int cairn__range_if(const char *if_range, const char *etag,
                    const char *last_modified);


/* ------------------------------------------------------------------ */
/* Output (filter.c): the filter chains and the protocol's writer      */
/* ------------------------------------------------------------------ */

/* Sends r's memory or file body (or none) through the header and body
 * filters to the protocol. */
int cairn__output_send(cairn_request_t *r);

/* A streamed body: the head (header filters), a piece, the end. */
int cairn__output_stream_head(cairn_request_t *r);
int cairn__output_stream_data(cairn_request_t *r, const void *data,
                              size_t len);
int cairn__output_stream_end(cairn_request_t *r);

/* Header list helpers (headers.c). */
const char *cairn__headers_find(const cairn__headers_t *h, const char *name,
                                size_t len);
void cairn__headers_add(cairn_arena_t *a, cairn__headers_t *h,
                        const char *name, size_t name_len,
                        const char *value);
const char *cairn__headers_get(const cairn__headers_t *h, const char *name);

/* The cached Date header value for now (29 bytes + NUL). */
const char *cairn__date_now(void);

#endif /* CAIRN_HTTP_INT_H */
