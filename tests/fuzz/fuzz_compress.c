/*
 * tests/fuzz/fuzz_compress.c: mod_compress's codecs (compress_codec.c)
 * on any body, cut into any pieces, each piece ending with "more",
 * "flush" or "end" as the body filter would: whatever the input, the
 * stream must decode (zlib, libbrotlidec, libzstd) to exactly the bytes
 * given, and a flushed prefix must decode to that prefix.
 *
 * Input: byte 0 the algorithm (mod 3), byte 1 the level, then pieces of
 * "LEN FLUSH DATA[LEN]" (LEN one byte, FLUSH one byte: 0 more, 1
 * flush); the rest is the last piece.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include "fuzz.h"

#include "compress/compress.h"


typedef struct {
    unsigned char  *p;
    size_t          len;
    size_t          cap;
} fuzz_out_t;


static int
fuzz_emit(void *data, const void *p, size_t len)
{
    fuzz_out_t  *o = data;

    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2;
        o->p = realloc(o->p, o->cap);
        if (o->p == NULL) {
            abort();
        }
    }
    memcpy(o->p + o->len, p, len);
    o->len += len;

    return 0;
}


/* Decodes what is there; *got the plain bytes.  0, or -1 (corrupt). */
static int
fuzz_decode(int algo, const unsigned char *in, size_t len, int whole,
            unsigned char *out, size_t cap, size_t *got)
{
    *got = 0;

    if (algo == MC_GZIP) {
        z_stream  z;
        int       rc;

        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, 15 + 16) != Z_OK) {
            abort();
        }
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        rc = inflate(&z, Z_SYNC_FLUSH);
        *got = cap - z.avail_out;
        inflateEnd(&z);
        if (whole ? rc != Z_STREAM_END : (rc != Z_OK && rc != Z_BUF_ERROR
                                          && rc != Z_STREAM_END))
        {
            return -1;
        }
        return 0;
    }

    if (algo == MC_BR) {
        BrotliDecoderState   *d;
        BrotliDecoderResult   rc;
        size_t                avail_in = len, avail_out = cap;
        const uint8_t        *next_in = in;
        uint8_t              *next_out = out;

        d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        rc = BrotliDecoderDecompressStream(d, &avail_in, &next_in,
                                           &avail_out, &next_out, NULL);
        *got = cap - avail_out;
        BrotliDecoderDestroyInstance(d);
        if (whole ? rc != BROTLI_DECODER_RESULT_SUCCESS
                  : rc == BROTLI_DECODER_RESULT_ERROR)
        {
            return -1;
        }
        return 0;
    }

    {
        ZSTD_DCtx       *d = ZSTD_createDCtx();
        ZSTD_inBuffer    ib = { in, len, 0 };
        ZSTD_outBuffer   ob = { out, cap, 0 };
        size_t           rc;

        do {
            rc = ZSTD_decompressStream(d, &ob, &ib);
        } while (!ZSTD_isError(rc) && ib.pos < ib.size && ob.pos < ob.size);
        *got = ob.pos;
        ZSTD_freeDCtx(d);
        if (ZSTD_isError(rc) || (whole && rc != 0)) {
            return -1;
        }
        return 0;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc_stream_t     *s;
    fuzz_out_t       out = { NULL, 0, 0 };
    unsigned char   *plain, *check;
    size_t           plain_len = 0, pos, n, got;
    int              algo, level, flush;

    if (size < 2) {
        return 0;
    }
    algo = data[0] % MC_NALGOS;
    /* Low levels only: the fuzzer wants many runs, not small output. */
    level = mc_level_min[algo] + data[1] % 3;
    pos = 2;

    s = mc_stream_new((mc_algo_t) algo, level);
    if (s == NULL) {
        abort();
    }
    plain = malloc(size + 1);
    check = malloc(size + 1);
    if (plain == NULL || check == NULL) {
        abort();
    }

    while (pos + 2 <= size) {
        n = data[pos];
        flush = data[pos + 1] & 1;
        pos += 2;
        if (n > size - pos) {
            n = size - pos;
        }
        memcpy(plain + plain_len, data + pos, n);
        plain_len += n;
        if (mc_stream_run(s, data + pos, n, flush ? MC_FLUSH : MC_MORE,
                          fuzz_emit, &out) != 0)
        {
            fprintf(stderr, "the codec failed on a piece\n");
            abort();
        }
        pos += n;
        if (flush) {
            /* Everything given so far must decode now. */
            if (fuzz_decode(algo, out.p, out.len, 0, check, size + 1, &got)
                != 0 || got != plain_len
                || memcmp(check, plain, plain_len) != 0)
            {
                fprintf(stderr, "%s: a flushed prefix of %zu bytes "
                        "decodes to %zu\n", mc_algo_names[algo], plain_len,
                        got);
                abort();
            }
        }
    }
    n = size - pos;
    memcpy(plain + plain_len, data + pos, n);
    plain_len += n;
    if (mc_stream_run(s, data + pos, n, MC_END, fuzz_emit, &out) != 0) {
        fprintf(stderr, "the codec failed at the end\n");
        abort();
    }
    /* Nothing is taken after the end. */
    if (mc_stream_run(s, "x", 1, MC_MORE, fuzz_emit, &out) != -1) {
        fprintf(stderr, "input taken after the end\n");
        abort();
    }

    if (fuzz_decode(algo, out.p, out.len, 1, check, size + 1, &got) != 0
        || got != plain_len || memcmp(check, plain, plain_len) != 0)
    {
        fprintf(stderr, "%s: %zu bytes decode to %zu\n", mc_algo_names[algo],
                plain_len, got);
        abort();
    }

    mc_stream_free(s);
    free(out.p);
    free(plain);
    free(check);

    return 0;
}
