/*
 * modules/compress/compress.h: the codecs of mod_compress (gzip, br,
 * zstd) behind one streaming interface.  No server types: the unit
 * tests and the fuzz target call it directly, and a task-pool thread
 * runs it with nothing of the request.
 */

#ifndef MOD_COMPRESS_H
#define MOD_COMPRESS_H

#include <stddef.h>

typedef enum {
    MC_GZIP = 0,
    MC_BR,
    MC_ZSTD,
    MC_NALGOS
} mc_algo_t;

/* How a piece of input ends. */
typedef enum {
    MC_MORE = 0,        /* more input follows: output when it is ready */
    MC_FLUSH,           /* more follows, but send what there is now */
    MC_END              /* the last piece: finish the stream */
} mc_flush_t;

typedef struct mc_stream_s  mc_stream_t;

/* Receives output as it is made; returns 0, or -1 to stop. */
typedef int (*mc_emit_cb)(void *ctx, const void *data, size_t len);

/* "gzip", "br", "zstd"; the Content-Encoding token of each. */
extern const char *const  mc_algo_names[MC_NALGOS];

/* Levels each algorithm takes, and the defaults. */
extern const int  mc_level_min[MC_NALGOS];
extern const int  mc_level_max[MC_NALGOS];
extern const int  mc_level_default[MC_NALGOS];

/* The algorithm named name, or -1. */
int mc_algo_from_name(const char *name);

/* A stream of algo at level (malloc()ed; NULL without memory). */
mc_stream_t *mc_stream_new(mc_algo_t algo, int level);

/* Compresses len bytes, emitting output; 0, or -1 (a codec error or
 * emit said stop).  After MC_END the stream takes no more input. */
int mc_stream_run(mc_stream_t *s, const void *in, size_t len,
                  mc_flush_t flush, mc_emit_cb emit, void *ctx);

void mc_stream_free(mc_stream_t *s);

/* Whether streams of algo can be reset and used again (gzip, zstd: their
 * state is a few hundred KiB that is better not allocated, cleared and
 * freed per response). */
int mc_stream_reuses(mc_algo_t algo);

/* The level s compresses at. */
int mc_stream_level(const mc_stream_t *s);

/* Makes s ready for a new stream at the same algorithm and level, in
 * whatever state it was left: 0, or -1 (then free it). */
int mc_stream_reset(mc_stream_t *s);

#endif /* MOD_COMPRESS_H */
