/*
 * modules/proxy/proxy.h: what the files of mod_proxy share.
 *
 *   mod_proxy.c      directives, configuration, the handler and the
 *                    request head sent upstream
 *   proxy_http.c     the upstream response: llhttp in response mode,
 *                    header limits, the headers a client may see
 *                    (pure: the fuzz target calls it)
 *   proxy_conn.c     upstream connections (non-blocking connect, send,
 *                    read, the keep-alive pool) and the request's drive
 *                    through them: streaming, timeouts, retries
 *   proxy_balance.c  choosing a server of an <Upstream>, passive health
 *   proxy_resolve.c  Resolve every=T: names looked up again with evdns
 */

#ifndef MOD_PROXY_PROXY_H
#define MOD_PROXY_PROXY_H

#include <stdint.h>
#include <sys/socket.h>

#include <llhttp.h>

#include <cairn/cairn.h>


extern cairn_module_t  mod_proxy_module;


typedef enum {
    MOD_PROXY_BAL_ROUND_ROBIN = 0,
    MOD_PROXY_BAL_LEAST_CONN,
    MOD_PROXY_BAL_IP_HASH,
    MOD_PROXY_BAL_HASH,
    MOD_PROXY_BAL_RANDOM
} mod_proxy_balance_t;

/* ProxyNextUpstream conditions (bits). */
#define MOD_PROXY_NEXT_ERROR        0x01
#define MOD_PROXY_NEXT_TIMEOUT      0x02
#define MOD_PROXY_NEXT_502          0x04
#define MOD_PROXY_NEXT_503          0x08
#define MOD_PROXY_NEXT_504          0x10
#define MOD_PROXY_NEXT_OFF          0x80

typedef struct mod_proxy_conn_s      mod_proxy_conn_t;
typedef struct mod_proxy_upstream_s  mod_proxy_upstream_t;
typedef struct mod_proxy_name_s      mod_proxy_name_t;

/* The servers a name of a Server line (or ProxyPass http://) may become
 * when it is resolved again: at most this many addresses are used. */
#define MOD_PROXY_NAME_SLOTS    8

/*
 * A server's health as every worker sees it: one slot of a shared
 * mapping (proxy_health.c), changed with atomic operations.
 */
typedef struct {
    uint64_t                 down_until_us; /* passive: out until then */
    uint64_t                 fail_since_us;
    uint32_t                 fails;
    uint32_t                 hc_down;       /* the active check says */
    uint32_t                 hc_fails;
    uint32_t                 hc_passes;
    uint64_t                 hc_next_us;    /* the next check is due */
    uint64_t                 addr_hash;     /* Resolve: whose health */
} mod_proxy_shared_t;

/* HealthCheck of an <Upstream>. */
typedef struct {
    int                      enabled;
    const char              *uri;
    int64_t                  interval_ms;
    int64_t                  timeout_ms;
    int                      fails;
    int                      passes;
    int                      expect_lo;
    int                      expect_hi;
} mod_proxy_hc_t;

/*
 * One server of an upstream.  The address is resolved at configuration
 * load.  The fields below "per worker" change at run time; each worker
 * has its own copy of the configuration memory (it forked after the
 * load), so they need no locking and start from zero in every worker.
 */
typedef struct mod_proxy_server_s {
    const char              *name;      /* "127.0.0.1:8080", "unix:/x" */
    const char              *host;      /* for Host: "127.0.0.1:8080" */
    struct sockaddr_storage  addr;
    socklen_t                addrlen;
    int                      weight;
    int                      max_fails;
    int                      max_conns;
    int64_t                  fail_timeout_ms;
    unsigned                 backup:1;
    size_t                   idx;       /* in up->servers */
    uint64_t                 name_hash;
    mod_proxy_upstream_t    *up;
    mod_proxy_shared_t      *sh;        /* NULL for a ProxyPass http:// */
    mod_proxy_name_t        *dns;       /* the name it came from, or NULL */

    /* per worker */
    unsigned                 dormant:1; /* Resolve: no address now */
    unsigned                 conns_queued:1;    /* in the flush list */
    int                      d_active;  /* gauge changes not yet out */
    int                      d_idle;
    struct mod_proxy_server_s *conns_next;
    int64_t                  current_weight;
    int                      active;
    mod_proxy_conn_t        *idle;      /* pooled connections, newest
                                           first */
    int                      nidle;
} mod_proxy_server_t;

struct mod_proxy_upstream_s {
    const char              *name;
    const char              *file;
    int                      line;
    mod_proxy_server_t     **servers;
    size_t                   n;
    size_t                   cap;
    int                      balance;   /* mod_proxy_balance_t */
    const char              *hash_key;  /* Balance hash KEY */
    int                      keepalive; /* idle connections per worker */
    mod_proxy_hc_t           hc;
    unsigned                 implicit:1;/* ProxyPass http://... */
    int64_t                  resolve_ms;    /* Resolve every=; 0 off,
                                               -1 the server's */
    mod_proxy_name_t        *names;     /* host names of its Servers */
    unsigned                 prepared:1;
    mod_proxy_upstream_t    *next;

    /* per worker */
    int                      nidle;
    unsigned                 rr_next;
    uint64_t                 rand_state;
};

/* ProxyPass: where a location's requests go. */
typedef struct {
    const char              *url;       /* as written */
    const char              *prefix;    /* path replacing the location's,
                                           or NULL: the target as is */
    const char              *upstream_name;
    mod_proxy_upstream_t    *up;        /* resolved at post_config */
    const char              *file;
    int                      line;
} mod_proxy_pass_t;

/* ProxyPassReverse FROM [TO]. */
typedef struct {
    size_t                   n;
    const char             **from;
    const char             **to;        /* NULL: the location's path */
} mod_proxy_reverse_t;

/*
 * A host name of a Server line: the servers its addresses became, in
 * up->servers.  With Resolve every=T the name has MOD_PROXY_NAME_SLOTS
 * servers, those without an address dormant, and each worker looks the
 * name up again every T (proxy_resolve.c).
 */
struct mod_proxy_name_s {
    const char              *host;
    int                      port;
    const char              *file;
    int                      line;
    const char              *error;     /* the load's lookup failed */
    mod_proxy_upstream_t    *up;
    mod_proxy_server_t      *slots[MOD_PROXY_NAME_SLOTS];
    size_t                   nslots;
    mod_proxy_name_t        *next;      /* in up->names */
    mod_proxy_name_t        *next_resolving;

    /* per worker */
    char                     names[MOD_PROXY_NAME_SLOTS][64];
    struct event            *timer;
    void                    *req;       /* evdns lookup in flight */
    unsigned                 busy:1;
    unsigned                 failing:1; /* the failure was logged */
};

typedef struct {
    mod_proxy_upstream_t    *upstreams; /* server scope */
    cairn_strv_t             resolvers; /* Resolver: evdns nameservers */
    int64_t                  resolve_ms;    /* server scope default */
    const mod_proxy_pass_t  *pass;
    const mod_proxy_reverse_t *reverse;
    int                      preserve_host;
    int                      forwarded;
    cairn_kvv_t              set_headers;
    cairn_strv_t             hide_headers;
    int64_t                  connect_timeout_ms;
    int64_t                  read_timeout_ms;
    int64_t                  send_timeout_ms;
    int                      next_upstream;
    int                      next_tries;
    int64_t                  next_timeout_ms;
    int64_t                  tunnel_timeout_ms;
    int                      request_buffering;
} mod_proxy_conf_t;

/* A request whose body is streamed upstream (ProxyRequestBuffering
 * off): set at FIXUPS, its state found by the body callback. */
typedef struct {
    void                    *req;       /* proxy_conn.c's state */
    int                      expect;    /* Expect: 100-continue passed
                                           upstream */
} mod_proxy_stream_t;


/* ------------------------------------------------------------------ */
/* proxy_http.c: the upstream's response                              */
/* ------------------------------------------------------------------ */

#define MOD_PROXY_MAX_HEADER_BYTES  (64 * 1024)
#define MOD_PROXY_MAX_HEADERS       100

typedef struct {
    const char  *name;
    const char  *value;
} mod_proxy_header_t;

typedef struct mod_proxy_resp_s  mod_proxy_resp_t;

/* What the parser reports; each returns 0 to go on, -1 to stop. */
typedef int (*mod_proxy_resp_head_cb)(mod_proxy_resp_t *p, void *data);
typedef int (*mod_proxy_resp_body_cb)(mod_proxy_resp_t *p, void *data,
                                      const char *at, size_t len);
typedef int (*mod_proxy_resp_done_cb)(mod_proxy_resp_t *p, void *data);

struct mod_proxy_resp_s {
    llhttp_t                 parser;
    llhttp_settings_t        settings;
    cairn_arena_t           *arena;     /* header strings */
    int                      status;
    int                      version;   /* 10, 11 */
    int                      head_only; /* a HEAD request: no body */
    int                      allow_upgrade; /* a 101 is taken */
    mod_proxy_header_t      *headers;
    size_t                   nheaders;
    size_t                   header_bytes;
    char                    *field;     /* being read */
    size_t                   field_len;
    char                    *value;
    size_t                   value_len;
    unsigned                 in_value:1;
    unsigned                 headers_done:1;
    unsigned                 complete:1;
    unsigned                 keepalive:1;
    unsigned                 got_bytes:1;
    unsigned                 upgraded:1;    /* a 101 taken: rest follows */
    unsigned                 got_continue:1;    /* an interim 100 came */
    const char              *rest;      /* bytes after the 101's head */
    size_t                   rest_len;
    const char              *error;     /* why parsing failed */
    mod_proxy_resp_head_cb   on_head;
    mod_proxy_resp_body_cb   on_body;
    mod_proxy_resp_done_cb   on_done;
    void                    *data;
};

/* Starts parsing a response to a request (head_only for HEAD). */
void mod_proxy_resp_init(mod_proxy_resp_t *p, cairn_arena_t *a,
                         int head_only);

/*
 * Feeds bytes (len 0: the upstream closed).  Returns 0 while more is
 * expected or when the response is complete (p->complete), -1 when the
 * response is malformed (p->error says why) or a callback stopped it.
 */
int mod_proxy_resp_feed(mod_proxy_resp_t *p, const char *data, size_t len);

/* The first header called name in the response, or NULL. */
const char *mod_proxy_resp_header(const mod_proxy_resp_t *p,
                                  const char *name);

/* Whether the comma-separated token list holds name (any case). */
int mod_proxy_token_in(const char *list, const char *name);

/* Whether name is hop-by-hop (RFC 9110 7.6.1) for a message whose
 * Connection header is connection (may be NULL). */
int mod_proxy_hop_by_hop(const char *name, const char *connection);

/*
 * The response headers a client may see: hop-by-hop and Connection
 * ones, Date and Server (the core writes its own), those hidden by
 * hide, and Content-Length when the body is not passed as it is, are
 * left out; Location, Content-Location and Refresh are rewritten by rev
 * (loc is the location's path, for TO left out).  emit(name, value,
 * data) gets each survivor.
 */
typedef void (*mod_proxy_emit_cb)(const char *name, const char *value,
                                  void *data);

void mod_proxy_resp_headers(const mod_proxy_resp_t *p,
                            const cairn_strv_t *hide,
                            const mod_proxy_reverse_t *rev,
                            const char *loc, cairn_arena_t *a,
                            mod_proxy_emit_cb emit, void *data);

/* A value rewritten by ProxyPassReverse, or value itself (refresh: a
 * Refresh header, whose URL follows "url="). */
const char *mod_proxy_reverse(const mod_proxy_reverse_t *rev,
                              const char *loc, const char *value,
                              cairn_arena_t *a, int refresh);


/* ------------------------------------------------------------------ */
/* proxy_conn.c                                                       */
/* ------------------------------------------------------------------ */

/* Runs a request through its upstream; returns what the handler
 * returns (CAIRN_SUSPENDED, or an error status). */
int mod_proxy_run(cairn_request_t *r, const mod_proxy_conf_t *conf,
                  const char *head, size_t head_len, const char *hash_key,
                  int upgrade, mod_proxy_stream_t *st);

/* The body callback of a streamed request body (arg: its
 * mod_proxy_stream_t). */
void mod_proxy_body_piece(cairn_request_t *r, const char *data, size_t len,
                          void *arg);

/* Closes the pooled connections of every upstream (worker exit). */
void mod_proxy_pool_close_all(mod_proxy_upstream_t *ups);

/* Closes one pooled connection of s (s->idle must not be NULL). */
void mod_proxy_pool_close_server(mod_proxy_server_t *s);


/* ------------------------------------------------------------------ */
/* proxy_balance.c                                                    */
/* ------------------------------------------------------------------ */

/*
 * Picks the server for a try: a live one (not down, under max_conns)
 * not yet tried (tried[i] for servers[i]), primary servers first, then
 * backups.  key is the hash key (ip_hash, hash).  NULL: none left.
 */
mod_proxy_server_t *mod_proxy_pick(mod_proxy_upstream_t *up,
                                   const unsigned char *tried,
                                   const char *key);

/*
 * The monotonic clock, read now: cairn_now_us() is cached per turn of
 * the loop by the core's own callbacks, and the module's callbacks (an
 * upstream socket, a health check timer) run outside them.
 */
uint64_t mod_proxy_now_us(void);

/* A 64-bit hash of bytes (FNV-1a, then mixed). */
uint64_t mod_proxy_hash(const void *data, size_t len, uint64_t seed);


/* ------------------------------------------------------------------ */
/* proxy_resolve.c                                                    */
/* ------------------------------------------------------------------ */

/* Resolve every=T|off into *ms (0: off). */
const char *mod_proxy_parse_resolve(cairn_cmd_t *cmd, int argc, char **argv,
                                    int64_t *ms);

/*
 * post_config: every name of up is checked (a name that did not resolve
 * at load is an error unless it is resolved again) and, with Resolve,
 * given its dormant slots and listed for the workers.  Returns an error
 * message or NULL.  mod_proxy_resolve_reset() starts a new list.
 */
const char *mod_proxy_resolve_prepare(cairn_arena_t *a,
                                      mod_proxy_upstream_t *up,
                                      int64_t resolve_ms);
void mod_proxy_resolve_reset(void);

/* Checks the Resolver addresses (post_config); an error or NULL. */
const char *mod_proxy_resolver_check(cairn_arena_t *a,
                                     const cairn_strv_t *resolvers);

/* Starts and stops this worker's lookups. */
int mod_proxy_resolve_worker_init(const cairn_strv_t *resolvers);
void mod_proxy_resolve_worker_exit(void);


/* ------------------------------------------------------------------ */
/* proxy_health.c                                                     */
/* ------------------------------------------------------------------ */

/* Maps the shared health of every server of ups and registers the
 * metrics (post_config). */
int mod_proxy_health_init(cairn_server_t *srv, mod_proxy_upstream_t *ups);

/* Whether s may be tried (not down, passively or by its checks). */
int mod_proxy_server_live(const mod_proxy_server_t *s, uint64_t now_us);

/* Passive health: a failed try of s (cause: connect, timeout, read,
 * invalid, status; counted in the metrics) or a good response. */
void mod_proxy_server_failed(mod_proxy_server_t *s, const char *cause);
void mod_proxy_server_ok(mod_proxy_server_t *s);

/* Metrics: a response of s, and connections to it changing state. */
void mod_proxy_metric_response(mod_proxy_server_t *s, int status,
                               uint64_t took_us);
void mod_proxy_metric_conns(mod_proxy_server_t *s, int active, int idle);

/* HealthCheck's setter (inside <Upstream>). */
const char *mod_proxy_set_healthcheck(cairn_cmd_t *cmd, void *conf,
                                      int argc, char **argv);

/* Starts and stops this worker's health checks. */
int mod_proxy_health_worker_init(mod_proxy_upstream_t *ups);
void mod_proxy_health_worker_exit(void);

#endif /* MOD_PROXY_PROXY_H */
