/*
 * log_file.c: the access log files: opening each path once (in the
 * master, before it gives up privileges), a worker's buffer of whole
 * lines, writing it with one write(2) to a descriptor opened with
 * O_APPEND, and reopening a path behind the same descriptor on SIGUSR1.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <cairn/cairn.h>

#include "mod_log.h"


static void mod_log_file_close(void *data);
static void mod_log_write_out(mod_log_file_t *f, const char *p, size_t n);
static void mod_log_write_failed(mod_log_file_t *f, int err, size_t n);
static void mod_log_write_resumed(mod_log_file_t *f);
static time_t mod_log_now(void);


/* The worker's state: its generation's files and the flush timer. */
mod_log_file_t         *mod_log_files;
struct event           *mod_log_timer;


/* The file for path: the one already open, or a new one. */
mod_log_file_t *
mod_log_file_get(cairn_arena_t *a, mod_log_conf_t *srv, const char *path)
{
    mod_log_file_t  *f;
    int              fd;

    for (f = srv->files; f != NULL; f = f->next) {
        if (strcmp(f->path, path) == 0) {
            return f;
        }
    }

    fd = cairn_log_file_open(path, 0644);
    if (fd == -1) {
        return NULL;
    }

    f = cairn_arena_calloc(a, sizeof(mod_log_file_t));
    f->path = path;
    f->fd = fd;
    f->next = srv->files;
    srv->files = f;

    cairn_arena_cleanup_add(a, mod_log_file_close, f);

    return f;
}


static void
mod_log_file_close(void *data)
{
    mod_log_file_t  *f = data;

    if (f->fd != -1) {
        close(f->fd);
        f->fd = -1;
    }
}


/* Puts the file now at f's path behind f's descriptor number, which
 * every user of the descriptor then sees.  In the master this runs
 * first, as root, and hands the file to User (cairn_log_file_open), so
 * that the workers can open it after it. */
void
mod_log_reopen(mod_log_file_t *f)
{
    int  fd;

    fd = cairn_log_file_open(f->path, 0644);
    if (fd == -1) {
        cairn_log_error(NULL, errno, "cannot reopen the access log \"%s\": "
                        "still writing to the old file", f->path);
        return;
    }

    if (dup3(fd, f->fd, O_CLOEXEC) == -1) {
        cairn_log_error(NULL, errno, "cannot reopen the access log \"%s\": "
                        "still writing to the old file", f->path);
        close(fd);
        return;
    }
    close(fd);
}


/* Writes the buffer with one write(2), so that its lines stay whole. */
void
mod_log_flush(mod_log_file_t *f)
{
    size_t  len = f->len;

    f->len = 0;
    mod_log_write_out(f, f->buf, len);
}


/* Writes n bytes to the file; errors go to mod_log_write_failed. */
static void
mod_log_write_out(mod_log_file_t *f, const char *p, size_t n)
{
    size_t   left = n;
    ssize_t  done;

    while (left > 0 && f->fd != -1) {
        done = write(f->fd, p, left);
        if (done == -1) {
            if (errno == EINTR) {
                continue;
            }
            mod_log_write_failed(f, errno, left);
            return;
        }
        p += done;
        left -= (size_t) done;
    }

    /* Only a whole buffer written is a recovery: on a disk that is full
     * again at once, a short write is followed by a failure. */
    if (left == 0 && f->failing) {
        mod_log_write_resumed(f);
    }
}


/*
 * A failed write is logged at most once per MOD_LOG_ERROR_INTERVAL
 * seconds for the file, with the bytes lost since the failures began: a
 * full disk would otherwise add a line to the error log (maybe on the
 * same disk) for every buffer of every worker.
 */
static void
mod_log_write_failed(mod_log_file_t *f, int err, size_t n)
{
    time_t  now = mod_log_now();
    int     was_failing = f->failing;

    f->failing = 1;
    f->lost += n;

    if (f->reported_once && now - f->reported < MOD_LOG_ERROR_INTERVAL) {
        return;
    }

    if (!was_failing) {
        cairn_log_error(NULL, err, "write() to the access log \"%s\" "
                        "failed: lines lost", f->path);
    } else {
        cairn_log_error(NULL, err, "write() to the access log \"%s\" "
                        "still failing: %zu bytes of lines lost so far",
                        f->path, f->lost);
    }

    f->reported_once = 1;
    f->reported = now;
}


/* The first write that succeeds after a run of failures says so. */
static void
mod_log_write_resumed(mod_log_file_t *f)
{
    cairn_log_notice(NULL, "the access log \"%s\" is written again; "
                     "%zu bytes of lines were lost", f->path, f->lost);
    f->failing = 0;
    f->lost = 0;
}


static time_t
mod_log_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec;
}


/*
 * Appends a line to the file's buffer, writing the buffer first when the
 * line would not fit.  A line longer than the buffer is written alone.
 */
void
mod_log_write(mod_log_file_t *f, const char *p, size_t n)
{
    if (f->buf == NULL || n > MOD_LOG_BUFFER_SIZE) {
        if (f->buf != NULL) {
            mod_log_flush(f);
        }
        mod_log_write_out(f, p, n);
        return;
    }

    if (f->len + n > MOD_LOG_BUFFER_SIZE) {
        mod_log_flush(f);
    }

    memcpy(f->buf + f->len, p, n);
    f->len += n;
}


void
mod_log_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mod_log_file_t  *f;

    for (f = mod_log_files; f != NULL; f = f->next) {
        if (f->len > 0) {
            mod_log_flush(f);
        }
    }
}
