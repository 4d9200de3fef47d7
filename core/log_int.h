/*
 * core/log_int.h: the error log, inside the core.
 */

#ifndef CAIRN_LOG_INT_H
#define CAIRN_LOG_INT_H

#include <cairn/cairn.h>

/* The module whose hook is running, named in log lines; NULL: core. */
extern const cairn_module_t *cairn__log_module;

/* Opens path ("stderr" or NULL: standard error) as the error log and
 * sets the level.  Returns 0 or -1 with errno set. */
int cairn__log_open(const char *path, int level);

/* Reopens the error log file (SIGUSR1). */
int cairn__log_reopen(void);

/* ErrorLogFormat: 0 plain lines, 1 one JSON object per line. */
void cairn__log_set_json(int json);

/* Sets the minimum level written. */
void cairn__log_set_level(int level);

/* Parses a level name ("warn"); -1 when unknown. */
int cairn__log_level_parse(const char *name);
const char *cairn__log_level_name(int level);

#endif /* CAIRN_LOG_INT_H */
