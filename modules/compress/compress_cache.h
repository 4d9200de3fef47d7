/*
 * modules/compress/compress_cache.h: a worker's cache of compressed
 * bodies, bounded in bytes, least recently used out first.
 *
 * Keys are strings (mod_compress makes them from the coding, the level
 * and the identity of a file); the cache never looks at a file itself.
 * An entry a response still points into is pinned: evicting it takes it
 * out of the cache at once and frees it when the last response lets go.
 * No server types, so that the unit tests compile it alone.
 */

#ifndef MOD_COMPRESS_CACHE_H
#define MOD_COMPRESS_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mc_cache_s  mc_cache_t;
typedef struct mc_centry_s mc_centry_t;

struct mc_centry_s {
    mc_centry_t     *hnext;         /* hash chain */
    mc_centry_t     *prev;          /* LRU list: most recent at head */
    mc_centry_t     *next;
    mc_cache_t      *cache;         /* NULL once out of the cache */
    uint32_t         hash;
    uint32_t         refs;
    size_t           len;
    unsigned char   *data;          /* malloc()ed, owned */
    size_t           keylen;
    char             key[];
};

struct mc_cache_s {
    mc_centry_t    **buckets;
    uint32_t         mask;
    mc_centry_t     *head;
    mc_centry_t     *tail;
    size_t           bytes;         /* data and keys held */
    size_t           max;
    size_t           entries;
    uint64_t         evictions;
};

/* A cache of at most max bytes (malloc()ed; NULL without memory). */
mc_cache_t *mc_cache_new(size_t max);

/* Frees every entry not pinned; pinned ones leave the cache and are
 * freed by their last mc_cache_unpin(). */
void mc_cache_free(mc_cache_t *c);

/* The largest body an entry may hold: an eighth of the cache, so that
 * one file never empties it. */
size_t mc_cache_entry_max(const mc_cache_t *c);

/* The entry for key, made the most recent, or NULL. */
mc_centry_t *mc_cache_get(mc_cache_t *c, const char *key);

/*
 * Stores data (malloc()ed, len bytes) under key, taking data over
 * (freed at once when it cannot be stored: too large, no memory),
 * replacing an entry of the same key and evicting the least recently
 * used ones until it fits.  Returns the entry or NULL.
 */
mc_centry_t *mc_cache_put(mc_cache_t *c, const char *key,
                          unsigned char *data, size_t len);

/* A response points into e / lets it go (frees an evicted entry). */
void mc_cache_pin(mc_centry_t *e);
void mc_cache_unpin(mc_centry_t *e);

#endif /* MOD_COMPRESS_CACHE_H */
