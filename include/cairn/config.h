/*
 * cairn/config.h: directive tables, scopes and merge modes.
 *
 * A module describes its directives in a table.  Each entry names the
 * directive, the shape of its arguments, the scopes it may appear in, the
 * field of the module's config struct it sets, and how the value merges
 * from an outer scope into an inner one.  The core parses, checks argument
 * counts and scopes, converts values of the built-in types, records where
 * every value came from (for `cairnd -T --explain`), and merges server ->
 * virtual host -> location once per location at config time.  A module
 * needs a setter only for values with a shape of its own.
 *
 *     static const cairn_directive_t  mod_x_directives[] = {
 *         CAIRN_DIRECTIVE_ONE("XGreeting", mod_x_conf_t, greeting,
 *                             CAIRN_SCOPE_SERVER | CAIRN_SCOPE_LOCATION,
 *                             CAIRN_MERGE_REPLACE),
 *         CAIRN_DIRECTIVE_LIST("XIndex", mod_x_conf_t, index,
 *                              CAIRN_SCOPE_ANY, CAIRN_MERGE_APPEND),
 *         CAIRN_DIRECTIVE_END
 *     };
 */

#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <regex.h>
#include <stddef.h>

#include <cairn/defs.h>
#include <cairn/arena.h>

/* Where a directive may appear (bit mask). */
#define CAIRN_SCOPE_SERVER      0x01    /* top level of the main config */
#define CAIRN_SCOPE_VHOST       0x02    /* inside <VirtualHost> */
#define CAIRN_SCOPE_LOCATION    0x04    /* inside <Location>/<LocationMatch> */
#define CAIRN_SCOPE_SECTION     0x08    /* inside a module's own section */
#define CAIRN_SCOPE_ANY         0x07    /* server, vhost and location */

/* The shape of a directive's arguments. */
typedef enum {
    CAIRN_ARGS_NONE = 0,        /* no argument */
    CAIRN_ARGS_FLAG,            /* on|off */
    CAIRN_ARGS_ONE,             /* exactly one */
    CAIRN_ARGS_TWO,             /* exactly two */
    CAIRN_ARGS_ONE_OR_MORE,     /* one or more */
    CAIRN_ARGS_ANY,             /* zero or more */
    CAIRN_ARGS_SECTION          /* <Name args...> ... </Name> */
} cairn_args_t;

/* How a value set in an outer scope reaches an inner one. */
typedef enum {
    CAIRN_MERGE_REPLACE = 0,    /* inner value wins; else the outer one */
    CAIRN_MERGE_APPEND,         /* lists: outer items, then inner items */
    CAIRN_MERGE_KEY,            /* key lists: inner keys override outer */
    CAIRN_MERGE_NONE,           /* not inherited (server-only settings) */
    CAIRN_MERGE_SCOPE           /* the innermost scope with any of the
                                   directives that share this field wins,
                                   with all its lines (Require and its
                                   sections) */
} cairn_merge_t;

/* The field type a directive sets; the core converts and checks it. */
typedef enum {
    CAIRN_TYPE_STRING = 0,      /* const char *          "text" */
    CAIRN_TYPE_FLAG,            /* int                   on|off -> 1|0 */
    CAIRN_TYPE_INT,             /* int                   decimal, >= 0 */
    CAIRN_TYPE_SIZE,            /* int64_t (bytes)       512, 64k, 10M, 1G */
    CAIRN_TYPE_MSEC,            /* int64_t (ms)          250ms, 30s, 5m, 1h, 30 (=s) */
    CAIRN_TYPE_PATH,            /* const char *          relative to the config dir */
    CAIRN_TYPE_LIST,            /* cairn_strv_t          every argument appended */
    CAIRN_TYPE_KV,              /* cairn_kvv_t           KEY VALUE... */
    CAIRN_TYPE_CUSTOM           /* the setter decides */
} cairn_type_t;

/*
 * A setter for CAIRN_TYPE_CUSTOM and for sections.  conf is the module's
 * config for the current scope (or the object given to
 * cairn_cmd_section() inside a module section); argv holds argc unquoted
 * arguments owned by the config arena.  Returns NULL, or an error message
 * (static, or from cairn_cmd_arena()) that the core prints as
 * "file:line: message".
 */
typedef const char *(*cairn_directive_cb)(cairn_cmd_t *cmd, void *conf,
                                          int argc, char **argv);

struct cairn_directive_s {
    const char          *name;
    uint8_t              args;      /* cairn_args_t */
    uint8_t              type;      /* cairn_type_t */
    uint8_t              merge;     /* cairn_merge_t */
    uint8_t              scope;     /* CAIRN_SCOPE_* mask */
    size_t               offset;    /* of the field in the conf struct */
    size_t               size;      /* of that field */
    cairn_directive_cb   set;       /* NULL for the built-in types */
};

#define CAIRN__FIELD(T, f)      offsetof(T, f), sizeof(((T *) 0)->f)

#define CAIRN_DIRECTIVE(name, args, type, T, f, scope, merge, set)          \
    { name, args, type, merge, scope, CAIRN__FIELD(T, f), set }

#define CAIRN_DIRECTIVE_ONE(name, T, f, scope, merge)                        \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_ONE, CAIRN_TYPE_STRING, T, f, scope,    \
                    merge, NULL)
#define CAIRN_DIRECTIVE_PATH(name, T, f, scope, merge)                       \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_ONE, CAIRN_TYPE_PATH, T, f, scope,      \
                    merge, NULL)
#define CAIRN_DIRECTIVE_FLAG(name, T, f, scope, merge)                       \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_FLAG, CAIRN_TYPE_FLAG, T, f, scope,     \
                    merge, NULL)
#define CAIRN_DIRECTIVE_INT(name, T, f, scope, merge)                        \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_ONE, CAIRN_TYPE_INT, T, f, scope,       \
                    merge, NULL)
#define CAIRN_DIRECTIVE_SIZE(name, T, f, scope, merge)                       \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_ONE, CAIRN_TYPE_SIZE, T, f, scope,      \
                    merge, NULL)
#define CAIRN_DIRECTIVE_MSEC(name, T, f, scope, merge)                       \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_ONE, CAIRN_TYPE_MSEC, T, f, scope,      \
                    merge, NULL)
#define CAIRN_DIRECTIVE_LIST(name, T, f, scope, merge)                       \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_ONE_OR_MORE, CAIRN_TYPE_LIST, T, f,     \
                    scope, merge, NULL)
#define CAIRN_DIRECTIVE_KV(name, T, f, scope, merge)                         \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_TWO, CAIRN_TYPE_KV, T, f, scope,        \
                    merge, NULL)
#define CAIRN_DIRECTIVE_CUSTOM(name, args, T, f, scope, merge, set)          \
    CAIRN_DIRECTIVE(name, args, CAIRN_TYPE_CUSTOM, T, f, scope, merge, set)
#define CAIRN_DIRECTIVE_SECTION(name, T, f, scope, merge, set)               \
    CAIRN_DIRECTIVE(name, CAIRN_ARGS_SECTION, CAIRN_TYPE_CUSTOM, T, f,       \
                    scope, merge, set)
#define CAIRN_DIRECTIVE_END     { NULL, 0, 0, 0, 0, 0, 0, NULL }


/*
 * The directive being applied, for setters.
 */

/* The arena of the configuration generation: lives until the next reload. */
CAIRN_API cairn_arena_t *cairn_cmd_arena(cairn_cmd_t *cmd);

/* The generation being built, for providers and routes. */
CAIRN_API cairn_server_t *cairn_cmd_server(cairn_cmd_t *cmd);

/* Where the directive was written, for messages that outlive parsing. */
CAIRN_API const char *cairn_cmd_file(cairn_cmd_t *cmd);
CAIRN_API int cairn_cmd_line(cairn_cmd_t *cmd);

/* The directive's name as written. */
CAIRN_API const char *cairn_cmd_name(cairn_cmd_t *cmd);

/* The enclosing <Location> path or <LocationMatch> regex, or NULL at
 * server and virtual host scope. */
CAIRN_API const char *cairn_cmd_location(cairn_cmd_t *cmd);

/* A path resolved against the main config file's directory (absolute
 * paths are returned as they are); owned by the config arena. */
CAIRN_API const char *cairn_cmd_path(cairn_cmd_t *cmd, const char *path);

/*
 * For section setters: parse the section's body with `table`, storing
 * into `conf` (offsets in the table are relative to conf).  Without this
 * call a section must be empty.  Returns NULL or an error message.
 */
CAIRN_API const char *cairn_cmd_section(cairn_cmd_t *cmd,
                                        const cairn_directive_t *table,
                                        void *conf);

/*
 * Helpers for setters that parse values like the built-in types do.
 * Each returns NULL on success or an error message naming the value.
 * A TIME is at most CAIRN_TIME_MAX_MS (365 days: "8760h"), a SIZE at most
 * CAIRN_SIZE_MAX (1 TiB: "1024G"), an INT from 0 to INT32_MAX, so that a
 * deadline (now + time, in microseconds) or a size times a rate cannot
 * overflow.
 */
#define CAIRN_TIME_MAX_MS       (INT64_C(365) * 24 * 3600 * 1000)
#define CAIRN_SIZE_MAX          (INT64_C(1024) * 1024 * 1024 * 1024)

/* on|off; a decimal INT; a SIZE (512, 64k, 10M, 1G); a TIME (250ms, 30s,
 * 5m, 1h; a bare number is seconds), in milliseconds. */
CAIRN_API const char *cairn_parse_flag(const char *s, int *out);
CAIRN_API const char *cairn_parse_int(const char *s, int *out);
CAIRN_API const char *cairn_parse_size(const char *s, int64_t *out);
CAIRN_API const char *cairn_parse_msec(const char *s, int64_t *out);

/*
 * Compiles the POSIX extended regular expression pattern into *re
 * (regcomp(3) with REG_EXTENDED | cflags, e.g. REG_NOSUB or REG_ICASE);
 * *re is freed with regfree() when the arena a dies.  A repetition that
 * follows another one ("a**", "a+?", "a*{2}") is refused before
 * compiling: POSIX leaves it undefined and glibc's regcomp() takes time
 * exponential in a run of them, so an expression from a configuration
 * must never reach regcomp() without this check.  Returns NULL, or a
 * message (in a) for a setter to return: "a repetition ('*' at offset 2)
 * follows another one; ..." or "bad regular expression: " and regerror's
 * text.  For config time (a setter, post_config), not per request.
 * (ABI 1.4.)
 */
CAIRN_API const char *cairn_regex_compile(cairn_arena_t *a, regex_t *re,
                                          const char *pattern, int cflags);

/* Looks a key up in a key list; NULL when absent. */
CAIRN_API const char *cairn_kvv_get(const cairn_kvv_t *kv, const char *key);

/*
 * The module's configuration for the server scope of a generation (in
 * post_config and worker_init), or NULL when it has none.
 */
CAIRN_API void *cairn_server_conf(cairn_server_t *s, const cairn_module_t *m);

/*
 * Calls cb once for every merged scope of the generation (the server, each
 * virtual host, each location) with the module's config there.  `where`
 * is "server", a virtual host name, or the location's path or regex.
 * Stops and returns the first non-NULL message cb returns.
 */
typedef const char *(*cairn_conf_visit_cb)(void *conf, const char *where,
                                           void *data);

/* Visits the scopes (see above). */
CAIRN_API const char *cairn_server_each_conf(cairn_server_t *s,
                                             const cairn_module_t *m,
                                             cairn_conf_visit_cb cb,
                                             void *data);

/* The arena of the configuration generation. */
CAIRN_API cairn_arena_t *cairn_server_arena(cairn_server_t *s);

/* Whether `-D name` was given on the command line. */
CAIRN_API int cairn_server_defined(cairn_server_t *s, const char *name);

#endif /* CAIRN_CONFIG_H */
