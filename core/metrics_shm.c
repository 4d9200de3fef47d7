/*
 * core/metrics_shm.c: the shared memory of the metrics: mapping the
 * region, the private copy for a configuration check, the bump allocator
 * and the lock.
 *
 * The region starts with a header (a spinlock, the bump allocator, the
 * list of families, one accounting slot per live worker); families and
 * series are carved from the rest.  Offsets, not pointers, link them, so
 * a private copy of the region (cairn__metrics_detach) stays coherent.
 */

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "metrics_int.h"


#define METRICS_REGION_SIZE     (8u << 20)
#define METRICS_SPINS           1000


/* The region, and this process's accounting slot in it. */
cairn__metrics_header_t      *cairn__metrics_region;
cairn__metrics_slot_t        *cairn__metrics_slot;


int
cairn__metrics_init(void)
{
    void    *p;
    size_t   i;

    if (cairn__metrics_region != NULL) {
        return 0;
    }

    p = mmap(NULL, METRICS_REGION_SIZE, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "cannot map %u bytes of "
                  "shared memory for metrics", METRICS_REGION_SIZE);
        return -1;
    }

    cairn__metrics_region = p;
    cairn__metrics_region->size = METRICS_REGION_SIZE;
    atomic_store(&cairn__metrics_region->used,
                 (uint32_t) ((sizeof(cairn__metrics_header_t) + 63) & ~63u));

    for (i = 0; i < CAIRN__METRICS_CODES - 1; i++) {
        snprintf(cairn__metrics_codes[i], sizeof(cairn__metrics_codes[i]),
                 "%zu", i + 100);
    }
    snprintf(cairn__metrics_codes[CAIRN__METRICS_CODES - 1],
             sizeof(cairn__metrics_codes[0]), "other");

    return 0;
}


void
cairn__metrics_detach(void)
{
    void  *p;

    if (cairn__metrics_region == NULL) {
        return;
    }

    /* The copy takes the place of the shared mapping at the same
     * address, so every family and series pointer stays valid. */
    p = mmap(NULL, METRICS_REGION_SIZE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return;
    }

    memcpy(p, cairn__metrics_region, METRICS_REGION_SIZE);
    if (mremap(p, METRICS_REGION_SIZE, METRICS_REGION_SIZE,
               MREMAP_MAYMOVE | MREMAP_FIXED, cairn__metrics_region)
        == MAP_FAILED)
    {
        munmap(p, METRICS_REGION_SIZE);
    }
}


void *
cairn__metrics_at(uint32_t off)
{
    return (char *) cairn__metrics_region + off;
}


/* Under the lock.  Returns 0 when the region is full. */
uint32_t
cairn__metrics_alloc(size_t size)
{
    uint32_t  off = atomic_load(&cairn__metrics_region->used);

    size = (size + 7) & ~(size_t) 7;
    if (size > cairn__metrics_region->size - off) {
        return 0;
    }

    atomic_store(&cairn__metrics_region->used, off + (uint32_t) size);

    return off;
}


/*
 * The lock holds the holder's pid, so a worker that died holding it (a
 * crash while creating a series) does not block everyone: after a while
 * of spinning, a lock whose holder is gone is taken over.
 */
void
cairn__metrics_lock(void)
{
    int       pid = (int) getpid(), holder;
    unsigned  spins = 0;

    for ( ;; ) {
        holder = 0;
        if (atomic_compare_exchange_weak(&cairn__metrics_region->lock, &holder,
                                         pid))
        {
            return;
        }

        if (++spins < METRICS_SPINS) {
            continue;
        }
        spins = 0;

        if (holder != 0 && kill((pid_t) holder, 0) == -1 && errno == ESRCH
            && atomic_compare_exchange_strong(&cairn__metrics_region->lock,
                                              &holder, pid))
        {
            return;
        }
        sched_yield();
    }
}


void
cairn__metrics_unlock(void)
{
    atomic_store_explicit(&cairn__metrics_region->lock, 0,
                          memory_order_release);
}
