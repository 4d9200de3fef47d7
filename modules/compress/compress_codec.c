/*
 * modules/compress/compress_codec.c: gzip (zlib), br (libbrotli) and
 * zstd (libzstd) as one streaming interface (compress.h).  Each codec
 * writes into the stream's scratch buffer and hands it to emit() when it
 * is full or the caller asked for a flush or the end.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"

#define MC_SCRATCH      16384


const char *const  mc_algo_names[MC_NALGOS] = { "gzip", "br", "zstd" };
const int  mc_level_min[MC_NALGOS] = { 1, 0, 1 };
const int  mc_level_max[MC_NALGOS] = { 9, 11, 19 };
/* gzip 6 as nginx and Apache; br 4 and zstd 3, the levels at which
 * both beat gzip 6 in size and in time on text. */
const int  mc_level_default[MC_NALGOS] = { 6, 4, 3 };


struct mc_stream_s {
    mc_algo_t                algo;
    int                      level;
    int                      ended;
    union {
        z_stream             z;
        BrotliEncoderState  *br;
        ZSTD_CCtx           *zstd;
    } u;
    unsigned char            out[MC_SCRATCH];
};


static int mc_gzip_run(mc_stream_t *s, const void *in, size_t len,
                       mc_flush_t flush, mc_emit_cb emit, void *ctx);
static int mc_br_run(mc_stream_t *s, const void *in, size_t len,
                     mc_flush_t flush, mc_emit_cb emit, void *ctx);
static int mc_zstd_run(mc_stream_t *s, const void *in, size_t len,
                       mc_flush_t flush, mc_emit_cb emit, void *ctx);


int
mc_algo_from_name(const char *name)
{
    int  i;

    for (i = 0; i < MC_NALGOS; i++) {
        if (strcmp(name, mc_algo_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


mc_stream_t *
mc_stream_new(mc_algo_t algo, int level)
{
    mc_stream_t  *s;

    if ((unsigned) algo >= MC_NALGOS) {
        return NULL;
    }
    if (level < mc_level_min[algo] || level > mc_level_max[algo]) {
        level = mc_level_default[algo];
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->algo = algo;
    s->level = level;

    switch (algo) {
    case MC_GZIP:
        /* 15 window bits + 16: a gzip header and trailer, not zlib's. */
        if (deflateInit2(&s->u.z, level, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
        {
            free(s);
            return NULL;
        }
        break;

    case MC_BR:
        s->u.br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (s->u.br == NULL
            || !BrotliEncoderSetParameter(s->u.br, BROTLI_PARAM_QUALITY,
                                          (uint32_t) level))
        {
            BrotliEncoderDestroyInstance(s->u.br);
            free(s);
            return NULL;
        }
        break;

    default:
        s->u.zstd = ZSTD_createCCtx();
        if (s->u.zstd == NULL
            || ZSTD_isError(ZSTD_CCtx_setParameter(s->u.zstd,
                                                   ZSTD_c_compressionLevel,
                                                   level)))
        {
            ZSTD_freeCCtx(s->u.zstd);
            free(s);
            return NULL;
        }
        break;
    }

    return s;
}


int
mc_stream_run(mc_stream_t *s, const void *in, size_t len, mc_flush_t flush,
              mc_emit_cb emit, void *ctx)
{
    int  rc;

    if (s->ended) {
        return len == 0 ? 0 : -1;
    }

    switch (s->algo) {
    case MC_GZIP:
        rc = mc_gzip_run(s, in, len, flush, emit, ctx);
        break;
    case MC_BR:
        rc = mc_br_run(s, in, len, flush, emit, ctx);
        break;
    default:
        rc = mc_zstd_run(s, in, len, flush, emit, ctx);
        break;
    }

    if (flush == MC_END) {
        s->ended = 1;
    }

    return rc;
}


int
mc_stream_reuses(mc_algo_t algo)
{
    /* Brotli's encoder has no reset: a new one each time. */
    return algo == MC_GZIP || algo == MC_ZSTD;
}


int
mc_stream_level(const mc_stream_t *s)
{
    return s->level;
}


int
mc_stream_reset(mc_stream_t *s)
{
    s->ended = 0;

    switch (s->algo) {
    case MC_GZIP:
        return deflateReset(&s->u.z) == Z_OK ? 0 : -1;
    case MC_ZSTD:
        return ZSTD_isError(ZSTD_CCtx_reset(s->u.zstd,
                                            ZSTD_reset_session_only))
               ? -1 : 0;
    default:
        return -1;
    }
}


void
mc_stream_free(mc_stream_t *s)
{
    if (s == NULL) {
        return;
    }

    switch (s->algo) {
    case MC_GZIP:
        deflateEnd(&s->u.z);
        break;
    case MC_BR:
        BrotliEncoderDestroyInstance(s->u.br);
        break;
    default:
        ZSTD_freeCCtx(s->u.zstd);
        break;
    }

    free(s);
}


/*
 * zlib takes at most UINT_MAX bytes at a time: longer input is fed in
 * slices, the flush applied with the last one.
 */
static int
mc_gzip_run(mc_stream_t *s, const void *in, size_t len, mc_flush_t flush,
            mc_emit_cb emit, void *ctx)
{
    z_stream       *z = &s->u.z;
    const uint8_t  *p = in;
    size_t          slice;
    int             zf, rc, last;

    do {
        slice = len > 1u << 30 ? 1u << 30 : len;
        last = slice == len;
        z->next_in = (Bytef *) p;
        z->avail_in = (uInt) slice;
        zf = !last || flush == MC_MORE ? Z_NO_FLUSH
             : flush == MC_FLUSH ? Z_SYNC_FLUSH : Z_FINISH;

        do {
            z->next_out = s->out;
            z->avail_out = sizeof(s->out);
            rc = deflate(z, zf);
            if (rc == Z_STREAM_ERROR) {
                return -1;
            }
            if (z->avail_out < sizeof(s->out)
                && emit(ctx, s->out, sizeof(s->out) - z->avail_out) != 0)
            {
                return -1;
            }
            /* Done when it left room: all input taken and, for a flush
             * or the end, all output given. */
        } while (z->avail_out == 0 || (zf == Z_FINISH && rc != Z_STREAM_END));

        p += slice;
        len -= slice;
    } while (len > 0);

    return 0;
}


static int
mc_br_run(mc_stream_t *s, const void *in, size_t len, mc_flush_t flush,
          mc_emit_cb emit, void *ctx)
{
    const uint8_t         *next_in = in;
    size_t                 avail_in = len, avail_out;
    uint8_t               *next_out;
    BrotliEncoderOperation op;

    op = flush == MC_MORE ? BROTLI_OPERATION_PROCESS
         : flush == MC_FLUSH ? BROTLI_OPERATION_FLUSH
         : BROTLI_OPERATION_FINISH;

    for ( ;; ) {
        next_out = s->out;
        avail_out = sizeof(s->out);
        if (!BrotliEncoderCompressStream(s->u.br, op, &avail_in, &next_in,
                                         &avail_out, &next_out, NULL))
        {
            return -1;
        }
        if (avail_out < sizeof(s->out)
            && emit(ctx, s->out, sizeof(s->out) - avail_out) != 0)
        {
            return -1;
        }
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(s->u.br)
            && (op != BROTLI_OPERATION_FINISH
                || BrotliEncoderIsFinished(s->u.br)))
        {
            return 0;
        }
    }
}


static int
mc_zstd_run(mc_stream_t *s, const void *in, size_t len, mc_flush_t flush,
            mc_emit_cb emit, void *ctx)
{
    ZSTD_inBuffer      ib = { in, len, 0 };
    ZSTD_outBuffer     ob;
    ZSTD_EndDirective  mode;
    size_t             left;

    mode = flush == MC_MORE ? ZSTD_e_continue
           : flush == MC_FLUSH ? ZSTD_e_flush : ZSTD_e_end;

    for ( ;; ) {
        ob.dst = s->out;
        ob.size = sizeof(s->out);
        ob.pos = 0;
        left = ZSTD_compressStream2(s->u.zstd, &ob, &ib, mode);
        if (ZSTD_isError(left)) {
            return -1;
        }
        if (ob.pos > 0 && emit(ctx, s->out, ob.pos) != 0) {
            return -1;
        }
        /* continue: done when the input is taken; flush and end: when
         * nothing is left to write either. */
        if (mode == ZSTD_e_continue ? ib.pos == ib.size : left == 0) {
            return 0;
        }
    }
}
