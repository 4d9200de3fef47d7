/*
 * core/task.c: the per-worker task pool.
 *
 * Jobs go to a queue served by a few threads.  A finished job moves to a
 * completion queue and the loop is woken through an eventfd; its done
 * callback then runs on the loop thread, where everything else of the
 * worker lives.  Threads start with the first job, so a worker that never
 * needs them (and a process about to fork) has none.
 */

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "arena_int.h"
#include "log_int.h"
#include "worker_int.h"


typedef struct task_job_s  task_job_t;
struct task_job_s {
    void         (*work)(void *);
    void         (*done)(void *);
    void          *arg;
    task_job_t    *next;
};

typedef struct {
    task_job_t    *head;
    task_job_t   **tail;
} task_queue_t;

struct cairn__taskpool_s {
    struct event_base  *base;
    struct event       *ev_done;
    int                 efd;
    int                 nthreads;
    int                 started;
    pthread_t          *threads;
    pthread_mutex_t     lock;
    pthread_cond_t      cond;
    task_queue_t        queued;
    task_queue_t        done;
    int                 shutdown;
};

static void *task_thread(void *arg);
static void task_done_cb(evutil_socket_t fd, short what, void *arg);


static void
task_queue_init(task_queue_t *q)
{
    q->head = NULL;
    q->tail = &q->head;
}


static void
task_queue_push(task_queue_t *q, task_job_t *j)
{
    j->next = NULL;
    *q->tail = j;
    q->tail = &j->next;
}


static task_job_t *
task_queue_take_all(task_queue_t *q)
{
    task_job_t  *j = q->head;

    task_queue_init(q);

    return j;
}


cairn__taskpool_t *
cairn__taskpool_create(struct event_base *base, int nthreads)
{
    cairn__taskpool_t  *p;

    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        cairn__oom(sizeof(*p));
    }

    p->base = base;
    p->nthreads = nthreads > 0 ? nthreads : 1;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd == -1) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "eventfd() failed");
        free(p);
        return NULL;
    }

    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    task_queue_init(&p->queued);
    task_queue_init(&p->done);

    p->ev_done = event_new(base, p->efd, EV_READ | EV_PERSIST, task_done_cb,
                           p);
    if (p->ev_done == NULL) {
        cairn__oom(sizeof(struct event *));
    }
    event_add(p->ev_done, NULL);

    return p;
}


void
cairn__taskpool_destroy(cairn__taskpool_t *p)
{
    int  i;

    if (p == NULL) {
        return;
    }

    pthread_mutex_lock(&p->lock);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);

    for (i = 0; i < p->started; i++) {
        pthread_join(p->threads[i], NULL);
    }

    /* Jobs that finished but whose done callbacks never ran. */
    task_done_cb(p->efd, EV_READ, p);

    event_free(p->ev_done);
    close(p->efd);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}


int
cairn__taskpool_submit(cairn__taskpool_t *p, void (*work)(void *),
                       void (*done)(void *), void *arg)
{
    task_job_t  *j;
    int          rc;

    if (p == NULL) {
        return -1;
    }

    j = malloc(sizeof(*j));
    if (j == NULL) {
        return -1;
    }
    j->work = work;
    j->done = done;
    j->arg = arg;

    pthread_mutex_lock(&p->lock);

    if (p->threads == NULL) {
        p->threads = calloc((size_t) p->nthreads, sizeof(pthread_t));
        if (p->threads == NULL) {
            cairn__oom(sizeof(pthread_t));
        }
    }

    /* One more thread while fewer are running than configured. */
    if (p->started < p->nthreads) {
        rc = pthread_create(&p->threads[p->started], NULL, task_thread, p);
        if (rc == 0) {
            p->started++;
        } else if (p->started == 0) {
            pthread_mutex_unlock(&p->lock);
            cairn_log(NULL, CAIRN_LOG_ERROR, rc, "cannot start a task thread");
            free(j);
            return -1;
        }
    }

    task_queue_push(&p->queued, j);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);

    return 0;
}


static void *
task_thread(void *arg)
{
    cairn__taskpool_t  *p = arg;
    task_job_t         *j;
    uint64_t            one = 1;
    int                 wake;

    for ( ;; ) {
        pthread_mutex_lock(&p->lock);
        while (p->queued.head == NULL && !p->shutdown) {
            pthread_cond_wait(&p->cond, &p->lock);
        }
        if (p->queued.head == NULL) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        j = p->queued.head;
        p->queued.head = j->next;
        if (p->queued.head == NULL) {
            p->queued.tail = &p->queued.head;
        }
        pthread_mutex_unlock(&p->lock);

        j->work(j->arg);

        pthread_mutex_lock(&p->lock);
        wake = p->done.head == NULL;
        task_queue_push(&p->done, j);
        pthread_mutex_unlock(&p->lock);

        if (wake) {
            /* The eventfd counter only wakes the loop; its value is
             * irrelevant, so a failed write (counter full) is harmless. */
            if (write(p->efd, &one, sizeof(one)) < 0) {
                continue;
            }
        }
    }
}


static void
task_done_cb(evutil_socket_t fd, short what, void *arg)
{
    cairn__taskpool_t  *p = arg;
    task_job_t         *j, *next;
    uint64_t            n;

    if (read(p->efd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
        cairn_log(NULL, CAIRN_LOG_ERROR, errno, "read(eventfd) failed");
    }

    pthread_mutex_lock(&p->lock);
    j = task_queue_take_all(&p->done);
    pthread_mutex_unlock(&p->lock);

    for ( ; j != NULL; j = next) {
        next = j->next;
        j->done(j->arg);
        free(j);
    }
}
