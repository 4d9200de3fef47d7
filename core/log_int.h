/*
 * core/log_int.h: the error log, inside the core.
 */

#ifndef CAIRN_LOG_INT_H
#define CAIRN_LOG_INT_H

#include <sys/types.h>

#include <cairn/cairn.h>

/* The module whose hook is running, named in log lines; NULL: core. */
extern const cairn_module_t *cairn__log_module;

/* Opens path ("stderr" or NULL: standard error) as the error log and
 * sets the level.  Returns 0 or -1 with errno set. */
int cairn__log_open(const char *path, int level);

/* Reopens the error log file (SIGUSR1). */
int cairn__log_reopen(void);

/* Who the workers run as (set: they run as another user than the root
 * master); cairn_log_file_open() then hands log files to them. */
void cairn__log_set_owner(int set, uid_t uid, gid_t gid);

/* ErrorLogFormat: 0 plain lines, 1 one JSON object per line. */
void cairn__log_set_json(int json);

/* Sets the minimum level written. */
void cairn__log_set_level(int level);

/* What a log line says of a request: its id, and its W3C trace and span
 * ids (NULL when it has none). */
typedef void (*cairn__log_ids_cb)(const cairn_request_t *r, const char **id,
                                  const char **trace, const char **span);

/* Tells the log how to name a request (the request layer, at start). */
void cairn__log_set_request_ids(cairn__log_ids_cb cb);

/*
 * While set, error messages (ERROR and worse) logged outside a request
 * go to cb instead of the error log, as one formatted line without time
 * stamp (the errno text appended): how a post_config hook's reason
 * becomes a configuration error printed as `file:line: message`.
 */
typedef void (*cairn__log_capture_cb)(void *data, const char *msg);
void cairn__log_capture(cairn__log_capture_cb cb, void *data);

/* Parses a level name ("warn"); -1 when unknown. */
int cairn__log_level_parse(const char *name);
const char *cairn__log_level_name(int level);

#endif /* CAIRN_LOG_INT_H */
