/*
 * mod_compress: response compression, negotiated with Accept-Encoding
 * (gzip, br, zstd), as an output filter.
 *
 * The header filter decides once per response: a status with a body, a
 * type in CompressTypes, no Content-Encoding yet, no Cache-Control:
 * no-transform, not a Range answered with a part, at least
 * CompressMinLength bytes when the length is known, and a coding the
 * client takes (the highest q; on a tie, the order of `Compress`).  A
 * response it could have compressed gets `Vary: Accept-Encoding`, whether
 * this client took a coding or not.  A compressed one loses its
 * Content-Length (it goes chunked), Accept-Ranges and Content-MD5, and
 * its ETag becomes weak (W/"..."), as nginx does: the bytes differ, the
 * meaning does not, and a weak If-None-Match still finds the file.
 *
 * The body filter compresses as buffers come: on the loop for a body
 * shorter than CompressOffloadSize (and for streamed bodies, flushed at
 * every write so that nothing waits in the compressor), and on the task
 * pool for a longer body of known length, held until its last buffer
 * and compressed whole, so that a big body never stalls the worker's
 * other clients.
 *
 * Each worker keeps the compressed forms of small files (CompressCacheSize
 * bytes, least recently used out first), keyed by the coding, the level
 * and the identity mod_static gives a settled file in the "static_file"
 * note (device, inode, size, mtime, ctime): mod_static revalidates the
 * file as it serves it, so a file changed on disk has another identity
 * and is compressed afresh, and a hot one is compressed once per worker.
 * Finished gzip and zstd compressors are reset and kept for the next
 * response (up to MC_POOL_MAX of each per worker).
 *
 * Directives (server, virtual host, location; an inner one replaces):
 *   Compress ALGO... | off          CompressTypes TYPE...
 *   CompressMinLength SIZE          CompressLevel ALGO N
 *   CompressOffloadSize SIZE        CompressCacheSize SIZE (server)
 * Hooks: post_config (the metrics), worker_init and worker_exit (the
 * cache), header filter and body filter (MIDDLE).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "compress.h"
#include "compress_cache.h"


typedef struct {
    unsigned                 n;
    unsigned char            v[MC_NALGOS];     /* preference order */
} mc_algos_t;

typedef struct {
    int                      v[MC_NALGOS];
} mc_levels_t;

typedef struct {
    mc_algos_t               algos;
    cairn_strv_t             types;
    int64_t                  min_length;
    int64_t                  offload;
    mc_levels_t              levels;
    int64_t                  cache_size;     /* server level */
} mod_compress_conf_t;

/* A piece of output made on a task-pool thread (malloc()ed). */
typedef struct mc_chunk_s  mc_chunk_t;
struct mc_chunk_s {
    mc_chunk_t              *next;
    size_t                   len;
    unsigned char            data[];
};

typedef struct {
    cairn_request_t         *r;
    cairn_filter_t          *f;
    mc_stream_t             *stream;
    unsigned                 offload:1;     /* held for the task pool */
    unsigned                 streamed:1;    /* unknown length: flush */
    unsigned                 failed:1;
    /* Loop: the output of one call, passed on at its end. */
    cairn_buf_t             *out;
    cairn_buf_t            **out_tail;
    /* Task: the body held, and what the task made of it. */
    cairn_buf_t             *held;
    cairn_buf_t            **held_tail;
    mc_chunk_t              *chunks;
    mc_chunk_t             **chunks_tail;
    int                      task_failed;
    /* The cache: the entry sent, or the key and the output kept. */
    mc_centry_t             *hit;
    const char              *key;
    unsigned char           *acc;
    size_t                   acc_len;
    size_t                   acc_cap;
    unsigned                 fill:1;
    int                      algo;
} mc_ctx_t;


static void *mod_compress_create_conf(cairn_arena_t *a);
static const char *mod_compress_set_algos(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static const char *mod_compress_set_level(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);
static int mod_compress_header(cairn_request_t *r);
static int mod_compress_body(cairn_request_t *r, cairn_filter_t *f,
                             cairn_buf_t *in);
static int mc_type_listed(const mod_compress_conf_t *conf,
                          const char *type);
static int mc_choose(const mod_compress_conf_t *conf, const char *accept,
                     int *refuses_identity);
static void mc_weaken_etag(cairn_request_t *r);
static int mc_emit_arena(void *data, const void *p, size_t len);
static int mc_emit_chunk(void *data, const void *p, size_t len);
static void mc_task_work(void *data);
static void mc_task_done(cairn_request_t *r, void *data);
static void mc_ctx_cleanup(void *data);
static int mod_compress_post_config(cairn_server_t *s);
static int mod_compress_worker_init(cairn_server_t *s);
static int mod_compress_worker_exit(cairn_server_t *s);
static void mc_cache_lookup(cairn_request_t *r, mc_ctx_t *ctx,
                            const mod_compress_conf_t *conf, int algo,
                            int64_t len);
static void mc_cache_store(mc_ctx_t *ctx);
static void mc_cache_report(void);
static void mc_unpin(void *data);


/* Per worker: the cache of compressed files (NULL: none). */
static mc_cache_t      *mc_cache;
static size_t           mc_cache_reported;     /* bytes in the gauge */
static uint64_t         mc_evictions_reported;

/* Per worker: compressors left by finished responses, reset and kept
 * for the next ones (gzip and zstd). */
#define MC_POOL_MAX             16

static mc_stream_t     *mc_pool[MC_NALGOS][MC_POOL_MAX];
static unsigned         mc_pool_n[MC_NALGOS];

static mc_stream_t *mc_stream_get(mc_algo_t algo, int level);
static void mc_stream_put(mc_stream_t *s, mc_algo_t algo);

/* Registered at configuration time. */
static cairn_metric_t  *mc_m_lookups;
static cairn_metric_t  *mc_m_bytes;
static cairn_metric_t  *mc_m_evictions;


static const cairn_directive_t  mod_compress_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("Compress", CAIRN_ARGS_ONE_OR_MORE,
                           mod_compress_conf_t, algos, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_compress_set_algos),
    CAIRN_DIRECTIVE_LIST("CompressTypes", mod_compress_conf_t, types,
                         CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("CompressMinLength", mod_compress_conf_t,
                         min_length, CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("CompressOffloadSize", mod_compress_conf_t,
                         offload, CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("CompressLevel", CAIRN_ARGS_TWO,
                           mod_compress_conf_t, levels, CAIRN_SCOPE_ANY,
                           CAIRN_MERGE_REPLACE, mod_compress_set_level),
    CAIRN_DIRECTIVE_SIZE("CompressCacheSize", mod_compress_conf_t,
                         cache_size, CAIRN_SCOPE_SERVER,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};

/* What -T --explain shows for the directives it cannot read. */
static const char *const  mod_compress_defaults[] = {
    "off",
    NULL,
    NULL,
    NULL,
    "gzip 6, br 4, zstd 3",
    NULL,
};

static const cairn_hook_decl_t  mod_compress_hooks[] = {
    CAIRN_HOOK_POST_CONFIG(mod_compress_post_config, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_INIT(mod_compress_worker_init, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_WORKER_EXIT(mod_compress_worker_exit, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_HEADER_FILTER(mod_compress_header, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_BODY_FILTER(mod_compress_body, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};

CAIRN_MODULE(compress) = {
    CAIRN_MODULE_HEADER,
    .version            = CAIRN_VERSION,
    .description        = "response compression (gzip, br, zstd)",
    .directives         = mod_compress_directives,
    .create_conf        = mod_compress_create_conf,
    .directive_defaults = mod_compress_defaults,
    .hooks              = mod_compress_hooks,
};


/* The types worth compressing; images, video and archives already are. */
static const char  *mc_default_types[] = {
    "text/*", "application/json", "application/javascript",
    "application/xml", "application/xhtml+xml", "application/rss+xml",
    "application/atom+xml", "application/problem+json",
    "application/ld+json", "application/manifest+json",
    "application/wasm", "image/svg+xml", "image/x-icon",
    "font/ttf", "font/otf",
};


static void *
mod_compress_create_conf(cairn_arena_t *a)
{
    mod_compress_conf_t  *conf;
    int                   i;

    conf = cairn_arena_calloc(a, sizeof(*conf));
    conf->types.n = sizeof(mc_default_types) / sizeof(mc_default_types[0]);
    conf->types.v = mc_default_types;
    conf->min_length = 256;
    conf->offload = 64 * 1024;
    conf->cache_size = 4 * 1024 * 1024;
    for (i = 0; i < MC_NALGOS; i++) {
        conf->levels.v[i] = mc_level_default[i];
    }

    return conf;
}


static const char *
mod_compress_set_algos(cairn_cmd_t *cmd, void *data, int argc, char **argv)
{
    mod_compress_conf_t  *conf = data;
    int                   i, j, a;

    conf->algos.n = 0;

    if (argc == 1 && strcasecmp(argv[0], "off") == 0) {
        return NULL;
    }

    for (i = 0; i < argc; i++) {
        a = mc_algo_from_name(argv[i]);
        if (a < 0) {
            return cairn_arena_printf(cairn_cmd_arena(cmd), "unknown "
                                      "algorithm \"%s\": use gzip, br, "
                                      "zstd, or off alone", argv[i]);
        }
        for (j = 0; j < (int) conf->algos.n; j++) {
            if (conf->algos.v[j] == a) {
                return cairn_arena_printf(cairn_cmd_arena(cmd), "\"%s\" "
                                          "is named twice", argv[i]);
            }
        }
        conf->algos.v[conf->algos.n++] = (unsigned char) a;
    }

    return NULL;
}


static const char *
mod_compress_set_level(cairn_cmd_t *cmd, void *data, int argc, char **argv)
{
    mod_compress_conf_t  *conf = data;
    const char           *err;
    int                   a, level;

    (void) argc;

    a = mc_algo_from_name(argv[0]);
    if (a < 0) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "unknown algorithm "
                                  "\"%s\": use gzip, br or zstd", argv[0]);
    }
    err = cairn_parse_int(argv[1], &level);
    if (err != NULL || level < mc_level_min[a] || level > mc_level_max[a]) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "%s levels go from "
                                  "%d to %d, not \"%s\"", argv[0],
                                  mc_level_min[a], mc_level_max[a], argv[1]);
    }
    conf->levels.v[a] = level;

    return NULL;
}


/* ------------------------------------------------------------------ */
/* The decision                                                       */
/* ------------------------------------------------------------------ */

static int
mod_compress_header(cairn_request_t *r)
{
    const mod_compress_conf_t  *conf;
    const char                 *v, *accept;
    mc_ctx_t                   *ctx;
    int64_t                     len;
    int                         status, algo, no_identity = 0;

    conf = cairn_request_conf(r, &mod_compress_module);
    if (conf == NULL || conf->algos.n == 0) {
        return CAIRN_DECLINED;
    }

    status = cairn_response_status(r);
    if (status < 200 || status == 204 || status == 206 || status == 304
        || (status >= 300 && status < 400))
    {
        return CAIRN_DECLINED;
    }

    if (cairn_response_header(r, "Content-Encoding") != NULL) {
        return CAIRN_DECLINED;
    }
    v = cairn_response_header(r, "Cache-Control");
    if (v != NULL && strcasestr(v, "no-transform") != NULL) {
        return CAIRN_DECLINED;
    }
    /* A Range the core will answer with a part: the part of the file,
     * as the client asked, never a part of a compressed stream. */
    v = cairn_response_header(r, "Accept-Ranges");
    if (status == 200 && cairn_request_header(r, "Range") != NULL
        && v != NULL && strcasecmp(v, "bytes") == 0)
    {
        return CAIRN_DECLINED;
    }
    if (!mc_type_listed(conf, cairn_response_header(r, "Content-Type"))) {
        return CAIRN_DECLINED;
    }

    accept = cairn_request_header(r, "Accept-Encoding");
    algo = mc_choose(conf, accept, &no_identity);

    len = cairn_response_length(r);
    if (len >= 0 && len < conf->min_length && !no_identity) {
        return CAIRN_DECLINED;
    }

    /* From here the answer depends on Accept-Encoding (mod_static may
     * have said so already, for CompressStatic). */
    v = cairn_response_header(r, "Vary");
    if (v == NULL || strcasestr(v, "Accept-Encoding") == NULL) {
        cairn_response_header_add(r, "Vary", "Accept-Encoding");
    }

    if (algo < 0) {
        return CAIRN_DECLINED;
    }

    cairn_response_header_set(r, "Content-Encoding", mc_algo_names[algo]);
    cairn_response_header_unset(r, "Accept-Ranges");
    cairn_response_header_unset(r, "Content-MD5");
    cairn_response_clear_length(r);
    mc_weaken_etag(r);

    ctx = cairn_arena_calloc(cairn_request_arena(r), sizeof(*ctx));
    ctx->r = r;
    ctx->offload = len >= 0 && len >= conf->offload;
    ctx->streamed = len < 0;
    ctx->held_tail = &ctx->held;
    ctx->chunks_tail = &ctx->chunks;
    cairn_arena_cleanup_add(cairn_request_arena(r), mc_ctx_cleanup, ctx);
    cairn_request_set_ctx(r, &mod_compress_module, ctx);

    if (mc_cache != NULL && !ctx->offload && status == 200
        && cairn_request_method(r) != CAIRN_METHOD_HEAD)
    {
        mc_cache_lookup(r, ctx, conf, algo, len);
        if (ctx->hit != NULL) {
            return CAIRN_OK;
        }
    }

    ctx->algo = algo;
    ctx->stream = mc_stream_get((mc_algo_t) algo, conf->levels.v[algo]);
    if (ctx->stream == NULL) {
        cairn_log(r, CAIRN_LOG_ERROR, 0, "cannot start a %s stream: "
                  "sending the body as it is", mc_algo_names[algo]);
        cairn_response_header_unset(r, "Content-Encoding");
        return CAIRN_DECLINED;
    }

    return CAIRN_OK;
}


/* Whether type (parameters aside) is in CompressTypes; "text/ *" style
 * entries match a whole type. */
static int
mc_type_listed(const mod_compress_conf_t *conf, const char *type)
{
    size_t       i, len, plen;
    const char  *p;

    if (type == NULL) {
        return 0;
    }
    len = strcspn(type, "; \t");

    for (i = 0; i < conf->types.n; i++) {
        p = conf->types.v[i];
        plen = strlen(p);
        if (plen >= 2 && p[plen - 1] == '*' && p[plen - 2] == '/') {
            if (len > plen - 1 && strncasecmp(type, p, plen - 1) == 0) {
                return 1;
            }
        } else if (plen == len && strncasecmp(type, p, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * The coding to use: the highest q the client gives one of ours, the
 * order of `Compress` on a tie; -1 for none.  *refuses_identity when the
 * client said identity;q=0 (or "*;q=0" without naming identity): then
 * even a short body is compressed, since the client will not take it
 * plain.
 */
static int
mc_choose(const mod_compress_conf_t *conf, const char *accept,
          int *refuses_identity)
{
    unsigned  i;
    int       q, best_q = 0, best = -1;

    *refuses_identity = 0;
    if (accept == NULL) {
        return -1;
    }

    *refuses_identity = cairn_accept_q(accept, "identity") == 0;

    for (i = 0; i < conf->algos.n; i++) {
        q = cairn_accept_q(accept, mc_algo_names[conf->algos.v[i]]);
        if (q > best_q) {
            best_q = q;
            best = conf->algos.v[i];
        }
    }

    return best;
}


static void
mc_weaken_etag(cairn_request_t *r)
{
    const char  *etag = cairn_response_header(r, "ETag");

    if (etag == NULL || strncmp(etag, "W/", 2) == 0) {
        return;
    }
    cairn_response_header_set(r, "ETag", cairn_arena_printf(
        cairn_request_arena(r), "W/%s", etag));
}


/* ------------------------------------------------------------------ */
/* The body                                                           */
/* ------------------------------------------------------------------ */

static int
mod_compress_body(cairn_request_t *r, cairn_filter_t *f, cairn_buf_t *in)
{
    mc_ctx_t     *ctx = cairn_request_ctx(r, &mod_compress_module);
    cairn_buf_t  *b, *next, *last;
    mc_flush_t    flush;
    int           end = 0;

    ctx->f = f;

    if (ctx->hit != NULL) {
        /* From the cache: the body given is not read at all. */
        for (b = in; b != NULL; b = b->next) {
            end |= (b->flags & CAIRN_BUF_LAST) != 0;
        }
        if (!end) {
            return CAIRN_OK;
        }
        b = cairn_buf_memory(r, ctx->hit->data, ctx->hit->len);
        last = cairn_buf_memory(r, NULL, 0);
        last->flags = CAIRN_BUF_LAST;
        b->next = last;
        return cairn_filter_next(r, f, b);
    }

    if (ctx->offload) {
        /* Held whole, then compressed on the task pool. */
        for (b = in; b != NULL; b = next) {
            next = b->next;
            b->next = NULL;
            *ctx->held_tail = b;
            ctx->held_tail = &b->next;
            end |= (b->flags & CAIRN_BUF_LAST) != 0;
        }
        if (!end) {
            return CAIRN_OK;
        }
        if (cairn_task_run(r, mc_task_work, mc_task_done, ctx) == CAIRN_OK) {
            return CAIRN_OK;
        }
        /* No pool: here, then. */
        cairn_log(r, CAIRN_LOG_WARN, 0, "the task pool would not take "
                  "the compression: done on the loop");
        ctx->offload = 0;
        in = ctx->held;
        ctx->held = NULL;
    }

    ctx->out = NULL;
    ctx->out_tail = &ctx->out;

    for (b = in; b != NULL; b = b->next) {
        /* A file range becomes 64 KiB of memory and, after it, the rest
         * of the range (which takes the last flag): the loop reaches it
         * next. */
        if (b->data == NULL && b->fd >= 0 && b->len > 0
            && cairn_buf_read(r, b, 65536) != CAIRN_OK)
        {
            ctx->failed = 1;
        }
        end = (b->flags & CAIRN_BUF_LAST) != 0;
        flush = end ? MC_END
                : b->next == NULL && ctx->streamed ? MC_FLUSH : MC_MORE;
        if (!ctx->failed
            && mc_stream_run(ctx->stream, b->data,
                             b->data != NULL ? b->len : 0, flush,
                             mc_emit_arena, ctx) != 0)
        {
            cairn_log(r, CAIRN_LOG_ERROR, 0, "the compressor failed: the "
                      "body is cut short");
            ctx->failed = 1;
        }
        if (end) {
            if (ctx->fill && !ctx->failed) {
                mc_cache_store(ctx);
            }
            last = cairn_buf_memory(r, NULL, 0);
            last->flags = CAIRN_BUF_LAST;
            *ctx->out_tail = last;
            break;
        }
    }

    return cairn_filter_next(r, f, ctx->out);
}


/* Loop output: a copy in the request arena, queued for the next filter. */
static int
mc_emit_arena(void *data, const void *p, size_t len)
{
    mc_ctx_t     *ctx = data;
    cairn_buf_t  *b;

    unsigned char  *acc;
    size_t          cap;

    b = cairn_buf_memory(ctx->r, cairn_arena_memdup(
        cairn_request_arena(ctx->r), p, len), len);
    *ctx->out_tail = b;
    ctx->out_tail = &b->next;

    /* A copy for the cache, while it stays small enough for it. */
    if (ctx->fill) {
        if (ctx->acc_len + len > mc_cache_entry_max(mc_cache)) {
            ctx->fill = 0;
            return 0;
        }
        if (ctx->acc_len + len > ctx->acc_cap) {
            cap = ctx->acc_cap != 0 ? ctx->acc_cap : 4096;
            while (cap < ctx->acc_len + len) {
                cap *= 2;
            }
            acc = realloc(ctx->acc, cap);
            if (acc == NULL) {
                ctx->fill = 0;
                return 0;
            }
            ctx->acc = acc;
            ctx->acc_cap = cap;
        }
        memcpy(ctx->acc + ctx->acc_len, p, len);
        ctx->acc_len += len;
    }

    return 0;
}


/* Task output: malloc()ed chunks (the arena is the loop's). */
static int
mc_emit_chunk(void *data, const void *p, size_t len)
{
    mc_ctx_t    *ctx = data;
    mc_chunk_t  *c;

    c = malloc(sizeof(*c) + len);
    if (c == NULL) {
        return -1;
    }
    c->next = NULL;
    c->len = len;
    memcpy(c->data, p, len);
    *ctx->chunks_tail = c;
    ctx->chunks_tail = &c->next;

    return 0;
}


/* On a pool thread: the held buffers, files read with pread(). */
static void
mc_task_work(void *data)
{
    mc_ctx_t       *ctx = data;
    cairn_buf_t    *b;
    unsigned char  *tmp = NULL;
    size_t          off, n;
    ssize_t         got;
    int             rc = 0;

    for (b = ctx->held; b != NULL && rc == 0; b = b->next) {
        if (b->data != NULL || b->fd < 0) {
            rc = mc_stream_run(ctx->stream, b->data, b->len, MC_MORE,
                               mc_emit_chunk, ctx);
            continue;
        }
        if (tmp == NULL && (tmp = malloc(65536)) == NULL) {
            rc = -1;
            break;
        }
        for (off = 0; off < b->len && rc == 0; off += (size_t) got) {
            n = b->len - off < 65536 ? b->len - off : 65536;
            got = pread(b->fd, tmp, n, b->offset + (off_t) off);
            if (got <= 0) {
                rc = -1;
                break;
            }
            rc = mc_stream_run(ctx->stream, tmp, (size_t) got, MC_MORE,
                               mc_emit_chunk, ctx);
        }
    }
    if (rc == 0) {
        rc = mc_stream_run(ctx->stream, NULL, 0, MC_END, mc_emit_chunk, ctx);
    }

    free(tmp);
    ctx->task_failed = rc != 0;
}


/* Back on the loop: the compressed body goes on, with the last flag. */
static void
mc_task_done(cairn_request_t *r, void *data)
{
    mc_ctx_t     *ctx = data;
    mc_chunk_t   *c;
    cairn_buf_t  *out = NULL, **tail = &out, *b;

    if (cairn_request_cancelled(r)) {
        return;
    }
    if (ctx->task_failed) {
        cairn_log(r, CAIRN_LOG_ERROR, 0, "compressing the body failed "
                  "(a read error or no memory): the body is cut short");
    }

    for (c = ctx->chunks; c != NULL; c = c->next) {
        b = cairn_buf_memory(r, c->data, c->len);
        *tail = b;
        tail = &b->next;
    }
    b = cairn_buf_memory(r, NULL, 0);
    b->flags = CAIRN_BUF_LAST;
    *tail = b;

    cairn_filter_next(r, ctx->f, out);
}


static void
mc_ctx_cleanup(void *data)
{
    mc_ctx_t    *ctx = data;
    mc_chunk_t  *c, *next;

    if (ctx->stream != NULL) {
        mc_stream_put(ctx->stream, (mc_algo_t) ctx->algo);
    }
    ctx->stream = NULL;
    free(ctx->acc);
    ctx->acc = NULL;
    for (c = ctx->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    ctx->chunks = NULL;
}


/* ------------------------------------------------------------------ */
/* The cache of compressed files                                      */
/* ------------------------------------------------------------------ */

/*
 * A body mod_static says is a settled file, whole (its "static_file"
 * note, whose size must be the length sent), is looked up by coding,
 * level and identity: a hit is pinned in ctx->hit, a miss marks the
 * output to be kept (ctx->fill) when the file is small enough.
 */
static void
mc_cache_lookup(cairn_request_t *r, mc_ctx_t *ctx,
                const mod_compress_conf_t *conf, int algo, int64_t len)
{
    const char          *id, *p;
    char                *end;
    unsigned long long   size;

    /* "dev:ino:size:mtime:ctime", the size in hex. */
    id = cairn_request_note(r, "static_file");
    if (id == NULL || len < 0 || (p = strchr(id, ':')) == NULL
        || (p = strchr(p + 1, ':')) == NULL)
    {
        return;
    }
    size = strtoull(p + 1, &end, 16);
    if (*end != ':' || size != (unsigned long long) len) {
        return;
    }

    ctx->key = cairn_arena_printf(cairn_request_arena(r), "%s:%d:%s",
                                  mc_algo_names[algo], conf->levels.v[algo],
                                  id);
    ctx->hit = mc_cache_get(mc_cache, ctx->key);

    if (ctx->hit != NULL) {
        mc_cache_pin(ctx->hit);
        cairn_arena_cleanup_add(cairn_request_arena(r), mc_unpin, ctx->hit);
        cairn_metric_add(mc_m_lookups, (const char *[]) { "hit", NULL }, 1);
        return;
    }

    cairn_metric_add(mc_m_lookups, (const char *[]) { "miss", NULL }, 1);
    /* Kept while the output fits in an entry (mc_emit_arena). */
    ctx->fill = 1;
}


/* The whole output of a miss joins the cache (which takes acc over). */
static void
mc_cache_store(mc_ctx_t *ctx)
{
    mc_cache_put(mc_cache, ctx->key, ctx->acc, ctx->acc_len);
    ctx->acc = NULL;
    ctx->fill = 0;
    mc_cache_report();
}


/* The gauge of bytes held and the count of evictions follow the cache. */
static void
mc_cache_report(void)
{
    if (mc_cache->bytes != mc_cache_reported) {
        cairn_metric_add(mc_m_bytes, NULL, (double) mc_cache->bytes
                                           - (double) mc_cache_reported);
        mc_cache_reported = mc_cache->bytes;
    }
    if (mc_cache->evictions != mc_evictions_reported) {
        cairn_metric_add(mc_m_evictions, NULL, (double) (mc_cache->evictions
                                           - mc_evictions_reported));
        mc_evictions_reported = mc_cache->evictions;
    }
}


/* Request arena cleanup: the response no longer points into the entry. */
static void
mc_unpin(void *data)
{
    mc_cache_unpin(data);
}


/* A compressor for algo at level: one kept by the worker, or a new one. */
static mc_stream_t *
mc_stream_get(mc_algo_t algo, int level)
{
    mc_stream_t  *st;
    unsigned      i;

    for (i = mc_pool_n[algo]; i-- > 0; ) {
        st = mc_pool[algo][i];
        if (mc_stream_level(st) == level) {
            mc_pool[algo][i] = mc_pool[algo][--mc_pool_n[algo]];
            return st;
        }
    }

    return mc_stream_new(algo, level);
}


/* A response is done with st (on the loop, its task finished): kept for
 * the next one when it can be reset and there is room, else freed. */
static void
mc_stream_put(mc_stream_t *st, mc_algo_t algo)
{
    if (mc_stream_reuses(algo) && mc_pool_n[algo] < MC_POOL_MAX
        && mc_stream_reset(st) == 0)
    {
        mc_pool[algo][mc_pool_n[algo]++] = st;
        return;
    }
    mc_stream_free(st);
}


static int
mod_compress_post_config(cairn_server_t *s)
{
    mc_m_lookups = cairn_metric_counter(s, "cairn_compress_cache_total",
        "Lookups in the workers' caches of compressed files, by result.",
        (const char *[]) { "result", NULL });
    mc_m_bytes = cairn_metric_gauge(s, "cairn_compress_cache_bytes",
        "Bytes of compressed files (and their keys) the workers' caches "
        "hold.", NULL);
    mc_m_evictions = cairn_metric_counter(s,
        "cairn_compress_cache_evictions_total",
        "Compressed files evicted from the workers' caches to make room.",
        NULL);

    return CAIRN_OK;
}


static int
mod_compress_worker_init(cairn_server_t *s)
{
    const mod_compress_conf_t  *conf;

    conf = cairn_server_conf(s, &mod_compress_module);
    if (conf == NULL || conf->cache_size <= 0) {
        return CAIRN_OK;
    }

    mc_cache = mc_cache_new((size_t) conf->cache_size);
    if (mc_cache == NULL) {
        cairn_log_error(NULL, 0, "no memory for a cache of compressed "
                        "files: compressing every response");
    }
    mc_cache_reported = 0;
    mc_evictions_reported = 0;

    return CAIRN_OK;
}


static int
mod_compress_worker_exit(cairn_server_t *s)
{
    unsigned  a;

    (void) s;

    for (a = 0; a < MC_NALGOS; a++) {
        while (mc_pool_n[a] > 0) {
            mc_stream_free(mc_pool[a][--mc_pool_n[a]]);
        }
    }

    if (mc_cache == NULL) {
        return CAIRN_OK;
    }
    mc_cache_free(mc_cache);
    mc_cache = NULL;
    if (mc_cache_reported != 0) {
        cairn_metric_add(mc_m_bytes, NULL, -(double) mc_cache_reported);
        mc_cache_reported = 0;
    }

    return CAIRN_OK;
}
