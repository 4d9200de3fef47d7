/*
 * mod_test_async: requests that wait on timers and on the task pool.
 *
 *   /delay?ms=N        arms a request timer and suspends; N ms later
 *                      answers 200 text/plain "delayed N\n"
 *   /task?ms=N         sleeps N ms on a task-pool thread (the loop keeps
 *                      serving), then answers 200 text/plain "task N\n"
 *   /stream?n=K&ms=N   sends the headers at once (200 text/plain, a
 *                      streamed body), then "chunk 1\n" ... "chunk K\n",
 *                      one per timer tick every N ms, and ends the body;
 *                      K defaults to 3 and N to 20
 *   /cancelled         200 text/plain "cancelled C\n": how many waiting
 *                      requests of this worker process had their cancel
 *                      callback called (the client went away); run the
 *                      tests with `Workers 1` to read one counter
 *
 * ms is 0..60000 and n 1..1000 (default ms for /delay and /task: 0);
 * anything else is answered 400.  Every method is accepted.  A task whose
 * request was cancelled finishes without answering, as async.h requires.
 *
 * Directives: none
 * Hooks:      handler (FIRST)
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairn/cairn.h>

#define MOD_TEST_ASYNC_MAX_MS       60000
#define MOD_TEST_ASYNC_MAX_CHUNKS   1000


typedef enum {
    MOD_TEST_ASYNC_DELAY,
    MOD_TEST_ASYNC_TASK,
    MOD_TEST_ASYNC_STREAM
} mod_test_async_kind_t;

/* One waiting request. */
typedef struct {
    long         ms;
    long         chunks;
    long         sent;
} mod_test_async_job_t;


static int mod_test_async_register(cairn_module_t *m);
static int mod_test_async_handler(cairn_request_t *r);
static int mod_test_async_delay(cairn_request_t *r,
                                mod_test_async_job_t *job);
static int mod_test_async_task(cairn_request_t *r,
                               mod_test_async_job_t *job);
static int mod_test_async_stream(cairn_request_t *r,
                                 mod_test_async_job_t *job);
static void mod_test_async_delay_done(cairn_request_t *r, void *data);
static void mod_test_async_task_work(void *data);
static void mod_test_async_task_done(cairn_request_t *r, void *data);
static void mod_test_async_stream_tick(cairn_request_t *r, void *data);
static void mod_test_async_cancel(cairn_request_t *r, void *data);
static long mod_test_async_arg(cairn_request_t *r, const char *name,
                               long dflt, long min, long max);
static int mod_test_async_text(cairn_request_t *r, const char *word,
                               long n);


/* Cancel callbacks run in this worker process so far. */
static unsigned long  mod_test_async_cancels;


CAIRN_MODULE(test_async) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_async",
    .version        = "1.0.0",
    .description    = "suspends requests on timers and tasks (tests only)",
    .register_hooks = mod_test_async_register,
};


static int
mod_test_async_register(cairn_module_t *m)
{
    return cairn_hook_handler(m, mod_test_async_handler, CAIRN_ORDER_FIRST,
                              0, NULL, NULL);
}


static int
mod_test_async_handler(cairn_request_t *r)
{
    mod_test_async_job_t  *job;
    mod_test_async_kind_t  kind;
    const char            *path;

    path = cairn_request_path(r);
    if (path == NULL) {
        return CAIRN_DECLINED;
    }

    if (strcmp(path, "/cancelled") == 0) {
        return mod_test_async_text(r, "cancelled",
                                   (long) mod_test_async_cancels);
    }

    if (strcmp(path, "/delay") == 0) {
        kind = MOD_TEST_ASYNC_DELAY;
    } else if (strcmp(path, "/task") == 0) {
        kind = MOD_TEST_ASYNC_TASK;
    } else if (strcmp(path, "/stream") == 0) {
        kind = MOD_TEST_ASYNC_STREAM;
    } else {
        return CAIRN_DECLINED;
    }

    job = cairn_arena_calloc(cairn_request_arena(r),
                             sizeof(mod_test_async_job_t));

    job->ms = mod_test_async_arg(r, "ms",
                                 kind == MOD_TEST_ASYNC_STREAM ? 20 : 0, 0,
                                 MOD_TEST_ASYNC_MAX_MS);
    job->chunks = mod_test_async_arg(r, "n", 3, 1,
                                     MOD_TEST_ASYNC_MAX_CHUNKS);
    if (job->ms < 0 || job->chunks < 0) {
        return 400;
    }

    switch (kind) {
    case MOD_TEST_ASYNC_DELAY:
        return mod_test_async_delay(r, job);
    case MOD_TEST_ASYNC_TASK:
        return mod_test_async_task(r, job);
    default:
        return mod_test_async_stream(r, job);
    }
}


static int
mod_test_async_delay(cairn_request_t *r, mod_test_async_job_t *job)
{
    if (cairn_timer_add(r, (uint64_t) job->ms, mod_test_async_delay_done,
                        job) == NULL)
    {
        return CAIRN_ERROR;
    }

    cairn_request_on_cancel(r, mod_test_async_cancel, job);

    return CAIRN_SUSPENDED;
}


static int
mod_test_async_task(cairn_request_t *r, mod_test_async_job_t *job)
{
    if (cairn_task_run(r, mod_test_async_task_work, mod_test_async_task_done,
                       job) != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    cairn_request_on_cancel(r, mod_test_async_cancel, job);

    return CAIRN_SUSPENDED;
}


static int
mod_test_async_stream(cairn_request_t *r, mod_test_async_job_t *job)
{
    cairn_response_header_set(r, "Content-Type", "text/plain");

    if (cairn_response_stream_start(r, 200) != CAIRN_OK) {
        return CAIRN_ERROR;
    }

    if (cairn_timer_add(r, (uint64_t) job->ms, mod_test_async_stream_tick,
                        job) == NULL)
    {
        return CAIRN_ERROR;
    }

    cairn_request_on_cancel(r, mod_test_async_cancel, job);

    return CAIRN_SUSPENDED;
}


static void
mod_test_async_delay_done(cairn_request_t *r, void *data)
{
    mod_test_async_job_t  *job = data;

    cairn_request_resume(r, mod_test_async_text(r, "delayed", job->ms));
}


/* On a pool thread: touches nothing but the job. */
static void
mod_test_async_task_work(void *data)
{
    mod_test_async_job_t  *job = data;
    struct timespec        ts;

    ts.tv_sec = job->ms / 1000;
    ts.tv_nsec = (job->ms % 1000) * 1000000L;

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* the rest of the time is in ts */
    }
}


static void
mod_test_async_task_done(cairn_request_t *r, void *data)
{
    mod_test_async_job_t  *job = data;

    if (cairn_request_cancelled(r)) {
        return;
    }

    cairn_request_resume(r, mod_test_async_text(r, "task", job->ms));
}


static void
mod_test_async_stream_tick(cairn_request_t *r, void *data)
{
    mod_test_async_job_t  *job = data;
    const char            *chunk;

    job->sent++;
    chunk = cairn_arena_printf(cairn_request_arena(r), "chunk %ld\n",
                               job->sent);

    if (cairn_response_stream_write(r, chunk, strlen(chunk)) != CAIRN_OK) {
        /* The client is gone; the core cancels the request. */
        return;
    }

    if (job->sent < job->chunks) {
        if (cairn_timer_add(r, (uint64_t) job->ms,
                            mod_test_async_stream_tick, job) != NULL)
        {
            return;
        }
    }

    cairn_response_stream_end(r);
}


/* The timers die with the request; there is nothing else to release. */
static void
mod_test_async_cancel(cairn_request_t *r, void *data)
{
    mod_test_async_cancels++;
}


/*
 * The query argument name as a number in [min, max]; dflt when absent,
 * -1 when it is not a number in range.
 */
static long
mod_test_async_arg(cairn_request_t *r, const char *name, long dflt,
                   long min, long max)
{
    const char  *s;
    char        *end;
    long         v;

    s = cairn_request_arg(r, name);
    if (s == NULL) {
        return dflt;
    }

    if (*s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }

    return v;
}


/* Answers "word n\n". */
static int
mod_test_async_text(cairn_request_t *r, const char *word, long n)
{
    const char  *body;

    body = cairn_arena_printf(cairn_request_arena(r), "%s %ld\n", word, n);

    return cairn_respond(r, 200, "text/plain", body, strlen(body));
}
