/*
 * core/log.c: the error log.
 *
 * One line per message, written with a single write(2) so lines from
 * several processes sharing the file never interleave (O_APPEND).  A
 * control byte in a message (a newline in a decoded request path, say)
 * is written as \xNN, so that nothing a client sends can start a line
 * of its own.  The
 * error log is rare by design, so plain blocking writes are acceptable;
 * the access log (mod_log) is the buffered one.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cairn/encode.h>

#include "log_int.h"
#include "http_int.h"


/* How a request is named in a line (its id, W3C trace and span): told by
 * the request layer (cairn__log_set_request_ids), so that the log itself
 * knows nothing of requests. */
static cairn__log_ids_cb  log_ids;


void
cairn__log_set_request_ids(cairn__log_ids_cb cb)
{
    log_ids = cb;
}


const cairn_module_t  *cairn__log_module;

static cairn__log_capture_cb  log_capture;
static void                  *log_capture_data;


void
cairn__log_capture(cairn__log_capture_cb cb, void *data)
{
    log_capture = cb;
    log_capture_data = data;
}

static int          cairn_log_fd = 2;
static int          cairn_log_json;
static int          cairn_log_level = CAIRN_LOG_NOTICE;
static char        *cairn_log_path;

/* Who the workers run as, when they run as another user than a master
 * started as root (cairn__log_set_owner); log files are handed to them. */
static int          log_owner_set;
static uid_t        log_owner_uid;
static gid_t        log_owner_gid;

static const char  *cairn_log_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};


int
cairn__log_open(const char *path, int level)
{
    int  fd;

    if (level >= 0) {
        cairn_log_level = level;
    }

    if (path == NULL || strcmp(path, "stderr") == 0) {
        if (cairn_log_fd != 2) {
            close(cairn_log_fd);
        }
        cairn_log_fd = 2;
        free(cairn_log_path);
        cairn_log_path = NULL;
        return 0;
    }

    fd = cairn_log_file_open(path, 0640);
    if (fd == -1) {
        return -1;
    }

    if (cairn_log_fd != 2) {
        close(cairn_log_fd);
    }
    cairn_log_fd = fd;

    if (cairn_log_path == NULL || strcmp(cairn_log_path, path) != 0) {
        free(cairn_log_path);
        cairn_log_path = strdup(path);
    }

    return 0;
}


int
cairn__log_reopen(void)
{
    char  *path;
    int    rc;

    if (cairn_log_path == NULL) {
        return 0;
    }

    path = strdup(cairn_log_path);
    if (path == NULL) {
        return -1;
    }
    rc = cairn__log_open(path, -1);
    free(path);

    return rc;
}


void
cairn__log_set_owner(int set, uid_t uid, gid_t gid)
{
    log_owner_set = set;
    log_owner_uid = uid;
    log_owner_gid = gid;
}


/*
 * The master, still root, opens each log before its workers do so again
 * as User (SIGUSR1): a file that does not belong to User becomes theirs,
 * or a worker could not open what logrotate's `create` made root-owned,
 * nor create a file in a directory only root may write.  A file that
 * exists keeps its group (logrotate's `create 0640 root adm` wants adm to
 * read it); one created here gets Group.  Any other process (a worker, a
 * master not running as root) only opens.
 */
int
cairn_log_file_open(const char *path, unsigned mode)
{
    struct stat  st;
    int          fd, created = 0, e;

    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd == -1 && errno == ENOENT) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
                  (mode_t) mode);
        created = fd != -1;
        if (fd == -1 && errno == EEXIST) {
            fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        }
    }
    if (fd == -1) {
        return -1;
    }

    if (!log_owner_set || log_owner_uid == 0 || geteuid() != 0) {
        return fd;
    }

    /* The mode first, while the master may still own the file (it needs
     * no CAP_FOWNER then).  A failure leaves the file open as it is: the
     * workers then say they cannot reopen it, as without the handover. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* /dev/null, a pipe: nothing to hand over. */
        return fd;
    }
    if ((st.st_mode & (S_IRUSR | S_IWUSR)) != (S_IRUSR | S_IWUSR)
        && fchmod(fd, (st.st_mode & 07777) | S_IRUSR | S_IWUSR) != 0)
    {
        e = errno;
        cairn_log(NULL, CAIRN_LOG_WARN, e, "cannot make the log \"%s\" "
                  "writable by its owner", path);
    }
    if (st.st_uid != log_owner_uid
        && fchown(fd, log_owner_uid, created ? log_owner_gid : (gid_t) -1)
           != 0)
    {
        e = errno;
        cairn_log(NULL, CAIRN_LOG_WARN, e, "cannot give the log \"%s\" to "
                  "uid %ld, which the workers run as (a capability bounding "
                  "set without CAP_CHOWN?)", path, (long) log_owner_uid);
    }

    return fd;
}


void
cairn__log_set_json(int json)
{
    cairn_log_json = json;
}


/*
 * Rewrites the control bytes (below 0x20, and 0x7f) of line[from, n) as
 * \xNN, keeping the result within cap bytes and never cutting an
 * escape; returns the new length.
 */
static size_t
log_escape_controls(char *line, size_t from, size_t n, size_t cap)
{
    static const char  hex[] = "0123456789abcdef";
    char                tmp[4096];
    size_t              i, w, room;
    unsigned char       c;

    for (i = from; i < n; i++) {
        c = (unsigned char) line[i];
        if (c < 0x20 || c == 0x7f) {
            break;
        }
    }
    if (i == n) {
        return n;
    }

    room = cap - from < sizeof(tmp) ? cap - from : sizeof(tmp);
    w = 0;
    for (i = from; i < n; i++) {
        c = (unsigned char) line[i];
        if (c >= 0x20 && c != 0x7f) {
            if (w + 1 > room) {
                break;
            }
            tmp[w++] = (char) c;
            continue;
        }
        if (w + 4 > room) {
            break;
        }
        tmp[w++] = '\\';
        tmp[w++] = 'x';
        tmp[w++] = hex[c >> 4];
        tmp[w++] = hex[c & 0x0f];
    }
    memcpy(line + from, tmp, w);

    return from + w;
}


/* Appends s to buf as the inside of a JSON string, as much of it as
 * fits (never cutting a character); returns the new end.  A piece that
 * surely fits is escaped at a time, so plain text fills the line. */
static size_t
log_json_escape(char *buf, size_t n, size_t cap, const char *s)
{
    size_t  len = strlen(s), fit, k;

    while (len > 0 && n + 8 < cap) {
        fit = (cap - n - 8) / 6;
        k = len < fit ? len : fit;
        while (k > 0 && k < len && ((unsigned char) s[k] & 0xc0) == 0x80) {
            k--;
        }
        if (k == 0) {
            break;
        }
        n += cairn_json_escape(buf + n, s, k);
        s += k;
        len -= k;
    }

    return n;
}


/*
 * ErrorLogFormat json: one object per line, with the request's ids (and
 * the trace ids mod_log keeps in the request's notes) when there is one.
 */
static size_t
log_format_json(char *line, size_t cap, const char *stamp,
                cairn_request_t *r, cairn_log_level_t level,
                const char *msg)
{
    const char  *id, *trace, *span;
    size_t       n = 0;
    int          k;

    k = snprintf(line, cap, "{\"timestamp\":\"%s\",\"level\":\"%s\","
                 "\"pid\":%ld", stamp, cairn__log_level_name(level),
                 (long) getpid());
    n = k > 0 && (size_t) k < cap ? (size_t) k : 0;

    if (cairn__log_module != NULL && cairn__log_module->name != NULL
        && n + 64 < cap)
    {
        n += (size_t) snprintf(line + n, cap - n, ",\"module\":\"mod_");
        n = log_json_escape(line, n, cap, cairn__log_module->name);
        line[n++] = '"';
    }

    if (r != NULL && log_ids != NULL && n + 64 < cap) {
        log_ids(r, &id, &trace, &span);
        n += (size_t) snprintf(line + n, cap - n, ",\"request_id\":\"%s\"",
                               id);
        if (trace != NULL && n + 64 < cap) {
            n += (size_t) snprintf(line + n, cap - n, ",\"trace_id\":\"");
            n = log_json_escape(line, n, cap, trace);
            line[n++] = '"';
        }
        if (span != NULL && n + 64 < cap) {
            n += (size_t) snprintf(line + n, cap - n, ",\"span_id\":\"");
            n = log_json_escape(line, n, cap, span);
            line[n++] = '"';
        }
    }

    if (n + 16 < cap) {
        n += (size_t) snprintf(line + n, cap - n, ",\"message\":\"");
        n = log_json_escape(line, n, cap - 3, msg);
        line[n++] = '"';
    }
    line[n++] = '}';

    return n;
}


void
cairn__log_set_level(int level)
{
    cairn_log_level = level;
}


int
cairn__log_level_parse(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(cairn_log_names) / sizeof(cairn_log_names[0]);
         i++)
    {
        if (strcasecmp(name, cairn_log_names[i]) == 0) {
            return (int) i;
        }
    }

    if (strcasecmp(name, "warning") == 0) {
        return CAIRN_LOG_WARN;
    }

    return -1;
}


const char *
cairn__log_level_name(int level)
{
    if (level < 0 || level > CAIRN_LOG_DEBUG) {
        return "unknown";
    }

    return cairn_log_names[level];
}


int
cairn_log_enabled(cairn_log_level_t level)
{
    return (int) level <= cairn_log_level;
}


void
cairn_log(cairn_request_t *r, cairn_log_level_t level, int err,
          const char *fmt, ...)
{
    va_list  ap;

    if ((int) level > cairn_log_level) {
        return;
    }

    va_start(ap, fmt);
    cairn_logv(r, level, err, fmt, ap);
    va_end(ap);
}


void
cairn_logv(cairn_request_t *r, cairn_log_level_t level, int err,
           const char *fmt, va_list ap)
{
    char             line[4096];
    const char      *id, *trace, *span;
    size_t           n, cap, msg_at;
    int              k;
    struct timespec  ts;
    struct tm        tm;

    if (log_capture != NULL && r == NULL && level <= CAIRN_LOG_ERROR) {
        k = vsnprintf(line, sizeof(line), fmt, ap);
        n = k < 0 ? 0 : (size_t) k < sizeof(line) ? (size_t) k
                                                   : sizeof(line) - 1;
        line[n] = '\0';
        if (err != 0) {
            snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
        }
        log_capture(log_capture_data, line);
        return;
    }

    if ((int) level > cairn_log_level) {
        return;
    }

    /* Keep room for the errno text and the newline. */
    cap = sizeof(line) - 1;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, cap, "%Y-%m-%dT%H:%M:%S", &tm);

    k = snprintf(line + n, cap - n, ".%03ldZ [%s] [pid %ld]",
                 ts.tv_nsec / 1000000, cairn__log_level_name(level),
                 (long) getpid());
    n += (k > 0 && (size_t) k < cap - n) ? (size_t) k : 0;

    if (cairn__log_module != NULL && cairn__log_module->name != NULL
        && n < cap)
    {
        k = snprintf(line + n, cap - n, " [mod_%s]", cairn__log_module->name);
        n += (k > 0 && (size_t) k < cap - n) ? (size_t) k : 0;
    }

    if (r != NULL && log_ids != NULL && n < cap) {
        log_ids(r, &id, &trace, &span);
        k = snprintf(line + n, cap - n, " [req %s]", id);
        n += (k > 0 && (size_t) k < cap - n) ? (size_t) k : 0;
    }

    if (n < cap) {
        line[n++] = ' ';
    }

    msg_at = n;
    if (n < cap) {
        k = vsnprintf(line + n, cap - n, fmt, ap);
        if (k > 0) {
            n += ((size_t) k < cap - n) ? (size_t) k : cap - n - 1;
        }
    }

    if (err != 0 && n < cap) {
        k = snprintf(line + n, cap - n, ": %s", strerror(err));
        if (k > 0) {
            n += ((size_t) k < cap - n) ? (size_t) k : cap - n - 1;
        }
    }

    if (!cairn_log_json) {
        n = log_escape_controls(line, msg_at, n, cap);
    }

    if (cairn_log_json) {
        char  stamp[40], json[4096];

        line[n] = '\0';
        /* The plain line is "STAMP [level] [pid N]... message". */
        memcpy(stamp, line, 24);
        stamp[24] = '\0';
        n = log_format_json(json, sizeof(json) - 1, stamp, r, level,
                            line + msg_at);
        memcpy(line, json, n);
    }

    line[n++] = '\n';

    /* A failed write to the error log has nowhere left to be reported. */
    if (write(cairn_log_fd, line, n) < 0) {
        return;
    }
}
