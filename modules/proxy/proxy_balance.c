/*
 * modules/proxy/proxy_balance.c: which server of an <Upstream> a try
 * goes to, and passive health.
 *
 *   round_robin  smooth weighted round robin (nginx's): every pick adds
 *                each live server's weight to its current weight, takes
 *                the largest and subtracts the total from it, so weights
 *                1:2:3 give a b c b c c, evenly spread.
 *   least_conn   fewest active connections relative to weight, ties by
 *                round robin.
 *   ip_hash      rendezvous hashing of the client address: each server
 *   hash KEY     scores hash(key, server name) scaled by its weight and
 *                the best wins.  It depends only on the names, so every
 *                worker and every reload picks alike, and a server that
 *                is down moves only its own keys.
 *   random       two weighted random picks, the less busy one wins
 *                (power of two choices).
 *
 * A server is live unless it is down (proxy_health.c: max_fails
 * failures within fail_timeout, or its health checks) or at max_conns
 * (counted per worker).  Backups are used only when no primary server
 * is live.
 */

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy.h"


static int mod_proxy_live(const mod_proxy_server_t *s, uint64_t now_us);
static mod_proxy_server_t *mod_proxy_pick_group(mod_proxy_upstream_t *up,
                                                const unsigned char *tried,
                                                const char *key, int backup,
                                                uint64_t now_us);
static uint64_t mod_proxy_random(mod_proxy_upstream_t *up);


mod_proxy_server_t *
mod_proxy_pick(mod_proxy_upstream_t *up, const unsigned char *tried,
               const char *key)
{
    mod_proxy_server_t  *s;
    uint64_t             now_us = mod_proxy_now_us();

    s = mod_proxy_pick_group(up, tried, key, 0, now_us);
    if (s == NULL) {
        s = mod_proxy_pick_group(up, tried, key, 1, now_us);
    }

    return s;
}


uint64_t
mod_proxy_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


uint64_t
mod_proxy_hash(const void *data, size_t len, uint64_t seed)
{
    const unsigned char  *p = data;
    uint64_t              h = 0xcbf29ce484222325ULL ^ seed;
    size_t                i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }

    /* FNV spreads the low bits poorly: a finaliser mixes them. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;

    return h;
}


/* Live: not down (proxy_health.c) and under max_conns here. */
static int
mod_proxy_live(const mod_proxy_server_t *s, uint64_t now_us)
{
    if (s->dormant || (s->max_conns > 0 && s->active >= s->max_conns)) {
        return 0;
    }
    return mod_proxy_server_live(s, now_us);
}


static mod_proxy_server_t *
mod_proxy_pick_group(mod_proxy_upstream_t *up, const unsigned char *tried,
                     const char *key, int backup, uint64_t now_us)
{
    mod_proxy_server_t  *s, *best = NULL, *other;
    int64_t              total = 0;
    double               score, best_score = -1.0, u;
    uint64_t             kh, h;
    size_t               i, k, live = 0, start;

    for (i = 0; i < up->n; i++) {
        s = up->servers[i];
        if ((int) s->backup == backup && !tried[i]
            && mod_proxy_live(s, now_us))
        {
            live++;
        }
    }
    if (live == 0) {
        return NULL;
    }

#define MOD_PROXY_CANDIDATE(s, i)                                            \
    ((int) (s)->backup == backup && !tried[i] && mod_proxy_live(s, now_us))

    switch (up->balance) {

    case MOD_PROXY_BAL_LEAST_CONN:
        start = up->rr_next++ % up->n;
        for (k = 0; k < up->n; k++) {
            i = (start + k) % up->n;
            s = up->servers[i];
            if (!MOD_PROXY_CANDIDATE(s, i)) {
                continue;
            }
            if (best == NULL
                || (int64_t) s->active * best->weight
                   < (int64_t) best->active * s->weight)
            {
                best = s;
            }
        }
        return best;

    case MOD_PROXY_BAL_IP_HASH:
    case MOD_PROXY_BAL_HASH:
        kh = mod_proxy_hash(key != NULL ? key : "", key != NULL
                            ? strlen(key) : 0, 0);
        for (i = 0; i < up->n; i++) {
            s = up->servers[i];
            if (!MOD_PROXY_CANDIDATE(s, i)) {
                continue;
            }
            h = mod_proxy_hash(&kh, sizeof(kh), s->name_hash);
            /* A uniform u in (0, 1); -w / ln(u) is the weighted
             * rendezvous score. */
            u = ((double) (h >> 11) + 0.5) / 9007199254740992.0;
            score = -(double) s->weight / log(u);
            if (score > best_score) {
                best_score = score;
                best = s;
            }
        }
        return best;

    case MOD_PROXY_BAL_RANDOM:
        for (i = 0; i < up->n; i++) {
            s = up->servers[i];
            if (MOD_PROXY_CANDIDATE(s, i)) {
                total += s->weight;
            }
        }
        for (k = 0; k < 2; k++) {
            int64_t  pick = (int64_t) (mod_proxy_random(up)
                                       % (uint64_t) total);

            other = NULL;
            for (i = 0; i < up->n; i++) {
                s = up->servers[i];
                if (!MOD_PROXY_CANDIDATE(s, i)) {
                    continue;
                }
                pick -= s->weight;
                if (pick < 0) {
                    other = s;
                    break;
                }
            }
            if (best == NULL
                || (other != NULL
                    && (int64_t) other->active * best->weight
                       < (int64_t) best->active * other->weight))
            {
                best = other;
            }
        }
        return best;

    default:
        for (i = 0; i < up->n; i++) {
            s = up->servers[i];
            if (!MOD_PROXY_CANDIDATE(s, i)) {
                continue;
            }
            s->current_weight += s->weight;
            total += s->weight;
            if (best == NULL || s->current_weight > best->current_weight) {
                best = s;
            }
        }
        best->current_weight -= total;
        return best;
    }

#undef MOD_PROXY_CANDIDATE
}


/* xorshift64*, seeded per worker on first use. */
static uint64_t
mod_proxy_random(mod_proxy_upstream_t *up)
{
    uint64_t  x = up->rand_state;

    if (x == 0) {
        x = mod_proxy_now_us() ^ ((uint64_t) getpid() << 32)
            ^ 0x9e3779b97f4a7c15ULL;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    up->rand_state = x;

    return x * 0x2545f4914f6cdd1dULL;
}
