/*
 * cairn/log.h: the error log.
 *
 * Messages go to ErrorLog (stderr until it is open).  Each line carries a
 * timestamp, the level, the pid, the module whose hook is running (the
 * core knows it), the request id when there is a request, and the text of
 * errno when err is not 0:
 *
 *   2026-11-24T10:00:00.123Z [error] [pid 4242] [mod_static] [req 1f3a…]
 *       open("/srv/www/x") failed: Permission denied
 *
 * A message names the object and the operation; log once, where the error
 * is handled.  Every function here must be called on the loop thread.
 */

#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

#include <stdarg.h>

#include <cairn/defs.h>

typedef enum {
    CAIRN_LOG_EMERG = 0,
    CAIRN_LOG_ALERT,
    CAIRN_LOG_CRIT,
    CAIRN_LOG_ERROR,
    CAIRN_LOG_WARN,
    CAIRN_LOG_NOTICE,
    CAIRN_LOG_INFO,
    CAIRN_LOG_DEBUG
} cairn_log_level_t;

/* Logs at level; r may be NULL; err is an errno value or 0. */
CAIRN_API void cairn_log(cairn_request_t *r, cairn_log_level_t level,
                         int err, const char *fmt, ...) CAIRN_PRINTF(4, 5);
CAIRN_API void cairn_logv(cairn_request_t *r, cairn_log_level_t level,
                          int err, const char *fmt, va_list ap);

/* Whether a message at level would be written (LogLevel). */
CAIRN_API int cairn_log_enabled(cairn_log_level_t level);

/*
 * Opens the log file at path for appending (O_WRONLY | O_APPEND |
 * O_CLOEXEC, created with mode when missing) and returns its descriptor,
 * or -1 with errno set.  A module opens its own log files with it, at
 * post_config and again in its reopen_logs hook (SIGUSR1).
 *
 * In the master started as root whose workers run as another user
 * (User, or its default), the file is also handed to that user: its
 * owner becomes User (a file created here also gets Group), and the owner
 * may read and write it.  The master runs the reopen_logs hooks before it
 * forwards SIGUSR1 to the workers, so a file that a rotation re-created
 * root-owned, or in a directory only root may write, is the workers' when
 * they open it again.  Elsewhere (a worker, a master not running as root)
 * it only opens.  May block on the file system: call it at post_config
 * or in reopen_logs, not per request.  (ABI 1.4.)
 */
CAIRN_API int cairn_log_file_open(const char *path, unsigned mode);

#define cairn_log_error(r, err, ...)                                         \
    cairn_log(r, CAIRN_LOG_ERROR, err, __VA_ARGS__)
#define cairn_log_warn(r, err, ...)                                          \
    cairn_log(r, CAIRN_LOG_WARN, err, __VA_ARGS__)
#define cairn_log_notice(r, ...)                                             \
    cairn_log(r, CAIRN_LOG_NOTICE, 0, __VA_ARGS__)
#define cairn_log_info(r, ...)                                               \
    cairn_log(r, CAIRN_LOG_INFO, 0, __VA_ARGS__)
#define cairn_log_debug(r, ...)                                              \
    do {                                                                     \
        if (cairn_log_enabled(CAIRN_LOG_DEBUG)) {                            \
            cairn_log(r, CAIRN_LOG_DEBUG, 0, __VA_ARGS__);                   \
        }                                                                    \
    } while (0)

#endif /* CAIRN_LOG_H */
