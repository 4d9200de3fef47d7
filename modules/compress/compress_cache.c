/*
 * modules/compress/compress_cache.c: a worker's cache of compressed
 * bodies (compress_cache.h): a hash of chains over string keys and a
 * doubly linked LRU list, bounded by the bytes of keys and bodies.
 */

#include <stdlib.h>
#include <string.h>

#include "compress_cache.h"

#define MC_CACHE_BUCKETS    1024


static uint32_t mc_cache_hash(const char *s, size_t len);
static void mc_cache_remove(mc_cache_t *c, mc_centry_t *e);
static void mc_cache_release(mc_centry_t *e);


mc_cache_t *
mc_cache_new(size_t max)
{
    mc_cache_t  *c;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->buckets = calloc(MC_CACHE_BUCKETS, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    c->mask = MC_CACHE_BUCKETS - 1;
    c->max = max;

    return c;
}


void
mc_cache_free(mc_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    while (c->head != NULL) {
        mc_cache_remove(c, c->head);
    }
    free(c->buckets);
    free(c);
}


size_t
mc_cache_entry_max(const mc_cache_t *c)
{
    return c->max / 8;
}


mc_centry_t *
mc_cache_get(mc_cache_t *c, const char *key)
{
    mc_centry_t  *e;
    size_t        len;
    uint32_t      h;

    len = strlen(key);
    h = mc_cache_hash(key, len);

    for (e = c->buckets[h & c->mask]; e != NULL; e = e->hnext) {
        if (e->hash == h && e->keylen == len
            && memcmp(e->key, key, len) == 0)
        {
            break;
        }
    }
    if (e == NULL) {
        return NULL;
    }

    /* To the head of the list. */
    if (e != c->head) {
        e->prev->next = e->next;
        if (e->next != NULL) {
            e->next->prev = e->prev;
        } else {
            c->tail = e->prev;
        }
        e->prev = NULL;
        e->next = c->head;
        c->head->prev = e;
        c->head = e;
    }

    return e;
}


mc_centry_t *
mc_cache_put(mc_cache_t *c, const char *key, unsigned char *data,
             size_t len)
{
    mc_centry_t  *e, **slot;
    size_t        keylen;

    keylen = strlen(key);
    if (len + keylen > mc_cache_entry_max(c)) {
        free(data);
        return NULL;
    }

    e = mc_cache_get(c, key);
    if (e != NULL) {
        mc_cache_remove(c, e);
    }

    while (c->tail != NULL && c->bytes + len + keylen > c->max) {
        mc_cache_remove(c, c->tail);
        c->evictions++;
    }

    e = malloc(sizeof(*e) + keylen + 1);
    if (e == NULL) {
        free(data);
        return NULL;
    }
    memcpy(e->key, key, keylen + 1);
    e->keylen = keylen;
    e->hash = mc_cache_hash(key, keylen);
    e->refs = 0;
    e->data = data;
    e->len = len;
    e->cache = c;

    slot = &c->buckets[e->hash & c->mask];
    e->hnext = *slot;
    *slot = e;

    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL) {
        c->head->prev = e;
    } else {
        c->tail = e;
    }
    c->head = e;

    c->bytes += len + keylen;
    c->entries++;

    return e;
}


void
mc_cache_pin(mc_centry_t *e)
{
    e->refs++;
}


void
mc_cache_unpin(mc_centry_t *e)
{
    if (e->refs != 0) {
        e->refs--;
    }
    if (e->refs == 0 && e->cache == NULL) {
        mc_cache_release(e);
    }
}


/* Takes e out of the hash and the list; frees it unless pinned. */
static void
mc_cache_remove(mc_cache_t *c, mc_centry_t *e)
{
    mc_centry_t  **p;

    for (p = &c->buckets[e->hash & c->mask]; *p != NULL; p = &(*p)->hnext) {
        if (*p == e) {
            *p = e->hnext;
            break;
        }
    }

    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }

    c->bytes -= e->len + e->keylen;
    c->entries--;
    e->cache = NULL;
    e->hnext = e->prev = e->next = NULL;

    if (e->refs == 0) {
        mc_cache_release(e);
    }
}


static void
mc_cache_release(mc_centry_t *e)
{
    free(e->data);
    free(e);
}


/* FNV-1a. */
static uint32_t
mc_cache_hash(const char *s, size_t len)
{
    uint32_t  h = 2166136261u;
    size_t    i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }

    return h;
}
