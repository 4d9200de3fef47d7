/*
 * modules/static/static_cache.c: the worker's cache of small files.
 *
 * A fixed table of entries, made in worker_init, with a hash of chains
 * keyed by the path under the root and the StaticSymlinks policy.  An
 * entry holds the whole file, its ETag, Last-Modified and media type; it
 * is revalidated with one stat(2) per turn of the event loop, replaced
 * by CLOCK, and pinned while a response points into it.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "mime.h"
#include "mod_static.h"


static void mod_static_cache_unlink(mod_static_entry_t *e);
static mod_static_entry_t *mod_static_cache_victim(void);
static int mod_static_stat_same(const mod_static_entry_t *e,
                                const struct stat *st);


/* Per worker process: made in worker_init, freed in worker_exit; NULL
 * when there is none (StaticCacheEntries 0, or no memory). */
mod_static_cache_t  *mod_static_cache;


int
mod_static_cache_create(uint32_t n)
{
    mod_static_cache_t  *c;
    uint32_t             nb, i;

    for (nb = 1; nb < n; nb <<= 1) {
        /* buckets: the next power of two */
    }

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return -1;
    }

    c->entries = calloc(n, sizeof(mod_static_entry_t));
    c->buckets = malloc(nb * sizeof(int32_t));
    if (c->entries == NULL || c->buckets == NULL) {
        free(c->entries);
        free(c->buckets);
        free(c);
        return -1;
    }

    for (i = 0; i < nb; i++) {
        c->buckets[i] = -1;
    }
    for (i = 0; i < n; i++) {
        c->entries[i].next = -1;
    }

    c->n = n;
    c->mask = nb - 1;
    mod_static_cache = c;

    return 0;
}


void
mod_static_cache_destroy(void)
{
    uint32_t  i;

    if (mod_static_cache == NULL) {
        return;
    }

    for (i = 0; i < mod_static_cache->n; i++) {
        free(mod_static_cache->entries[i].buf);
    }
    free(mod_static_cache->entries);
    free(mod_static_cache->buckets);
    free(mod_static_cache);
    mod_static_cache = NULL;
}


/*
 * The cached entry for rel under root and policy links, if its file is
 * still the same: one stat(2), compared by device, inode, size, mtime and
 * ctime.  Requests handled in the same turn of the event loop (the same
 * cairn_now_us()) share one check, as if they had all come at once.  A
 * stale entry leaves the cache.
 */
mod_static_entry_t *
mod_static_cache_find(mod_static_root_t *root, int links, const char *rel,
                      size_t rellen, uint32_t hash)
{
    mod_static_cache_t  *c;
    mod_static_entry_t  *e;
    struct stat          st;
    uint64_t             now;
    int32_t              i;

    c = mod_static_cache;

    for (i = c->buckets[hash & c->mask]; i >= 0; i = e->next) {
        e = &c->entries[i];
        if (e->hash == hash && e->root == root && e->symlinks == links
            && e->keylen == rellen && memcmp(e->key, rel, rellen) == 0)
        {
            now = cairn_now_us();
            if (now != 0 && e->valid_us == now) {
                e->recent = 1;
                return e;
            }

            if (fstatat(root->fd, rel, &st, 0) == 0
                && mod_static_stat_same(e, &st))
            {
                e->valid_us = now;
                e->recent = 1;
                return e;
            }

            mod_static_cache_unlink(e);
            return NULL;
        }
    }

    return NULL;
}


/*
 * Reads the regular file fd (rel under root, status st) into a cache
 * entry.  Returns the entry, or NULL when the file cannot be cached now
 * (every entry busy, no memory, or it changed while being read); the
 * caller still owns fd either way.
 */
mod_static_entry_t *
mod_static_cache_fill(const mod_static_conf_t *conf, mod_static_root_t *root,
                      const char *rel, size_t rellen, uint32_t hash, int fd,
                      const struct stat *st)
{
    mod_static_cache_t  *c;
    mod_static_entry_t  *e;
    size_t               need, cap, got;
    ssize_t              n;
    char                *buf;
    int32_t              idx, *slot;

    c = mod_static_cache;

    e = mod_static_cache_victim();
    if (e == NULL) {
        return NULL;
    }

    /* Rounded up to a kilobyte: entries are reused for other files. */
    need = rellen + 1 + (size_t) st->st_size;
    if (e->cap < need) {
        cap = (need + 1023) & ~(size_t) 1023;
        buf = realloc(e->buf, cap);
        if (buf == NULL) {
            return NULL;
        }
        e->buf = buf;
        e->cap = cap;
    }

    e->key = e->buf;
    memcpy(e->key, rel, rellen);
    e->key[rellen] = '\0';
    e->keylen = rellen;
    e->data = e->buf + rellen + 1;

    for (got = 0; got < (size_t) st->st_size; got += (size_t) n) {
        n = pread(fd, e->data + got, (size_t) st->st_size - got,
                  (off_t) got);
        if (n < 0 && errno == EINTR) {
            n = 0;
            continue;
        }
        if (n <= 0) {
            /* An error or a file that shrank: serve it from fd. */
            return NULL;
        }
    }

    e->root = root;
    e->hash = hash;
    e->symlinks = (uint8_t) conf->symlinks;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtim = st->st_mtim;
    e->ctim = st->st_ctim;
    e->valid_us = cairn_now_us();
    e->type = mod_static_mime_lookup(mod_static_mime, rel);
    e->is_text = (uint8_t) mod_static_mime_is_text(e->type);
    e->ctype_charset = NULL;
    if (conf->charset != NULL && e->is_text) {
        snprintf(e->ctype, sizeof(e->ctype), "%s; charset=%s", e->type,
                 conf->charset);
        e->ctype_charset = conf->charset;
    }
    mod_static_etag(e->etag, st);
    cairn_http_date(st->st_mtim.tv_sec, e->lastmod);

    idx = (int32_t) (e - c->entries);
    slot = &c->buckets[hash & c->mask];
    e->next = *slot;
    *slot = idx;
    e->live = 1;
    e->recent = 1;

    return e;
}


/* Takes e out of its chain; a pinned entry waits there for its requests. */
static void
mod_static_cache_unlink(mod_static_entry_t *e)
{
    mod_static_cache_t  *c;
    int32_t             *p, idx;

    c = mod_static_cache;
    idx = (int32_t) (e - c->entries);

    for (p = &c->buckets[e->hash & c->mask]; *p >= 0;
         p = &c->entries[*p].next)
    {
        if (*p == idx) {
            *p = e->next;
            break;
        }
    }

    e->next = -1;
    e->live = 0;
}


/*
 * A free entry to fill: CLOCK over the table, skipping pinned entries and
 * giving recently used ones a second chance.  NULL when all are pinned.
 */
static mod_static_entry_t *
mod_static_cache_victim(void)
{
    mod_static_cache_t  *c;
    mod_static_entry_t  *e;
    uint32_t             steps;

    c = mod_static_cache;

    for (steps = 0; steps < 2 * c->n; steps++) {
        e = &c->entries[c->hand];
        c->hand = c->hand + 1 == c->n ? 0 : c->hand + 1;

        if (e->refs != 0) {
            continue;
        }
        if (e->live && e->recent) {
            e->recent = 0;
            continue;
        }
        if (e->live) {
            mod_static_cache_unlink(e);
        }
        return e;
    }

    return NULL;
}


/* Request arena cleanup: the response no longer points into the entry. */
void
mod_static_unpin(void *data)
{
    mod_static_entry_t  *e;
    mod_static_cache_t  *c;

    c = mod_static_cache;

    /* The cache may be gone already if the worker is exiting. */
    if (c == NULL || (uintptr_t) data < (uintptr_t) c->entries
        || (uintptr_t) data >= (uintptr_t) (c->entries + c->n))
    {
        return;
    }

    e = data;
    if (e->refs != 0) {
        e->refs--;
    }
}


static int
mod_static_stat_same(const mod_static_entry_t *e, const struct stat *st)
{
    return e->ino == st->st_ino && e->dev == st->st_dev
           && e->size == st->st_size
           && e->mtim.tv_sec == st->st_mtim.tv_sec
           && e->mtim.tv_nsec == st->st_mtim.tv_nsec
           && e->ctim.tv_sec == st->st_ctim.tv_sec
           && e->ctim.tv_nsec == st->st_ctim.tv_nsec
           && S_ISREG(st->st_mode);
}


/* FNV-1a over the relative path, then the policy. */
uint32_t
mod_static_hash(const char *s, size_t len, int links)
{
    uint32_t  h;
    size_t    i;

    h = 2166136261u;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }
    h ^= (uint32_t) links;
    h *= 16777619u;

    return h;
}
