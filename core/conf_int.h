/*
 * core/conf_int.h: configuration generations, scopes and the parser.
 *
 * A cairn_server_t is one configuration generation: everything read from
 * the config files, the modules loaded for it, its hooks, routes and
 * providers, all in one arena.  A reload builds a new one beside the old.
 *
 * Scopes form a tree: the server scope, <VirtualHost> scopes under it, and
 * <Location> (prefix) and <LocationMatch> (regex) scopes under either.
 * Each scope keeps, per module, the raw config built from the directives
 * written in it plus a flag per directive saying whether it was set there.
 * cairn__conf_finalize() merges every module's config down the tree once:
 *
 *   server -> vhost -> prefix locations, shortest first, each prefix
 *   location of the vhost (and of the server, for vhosts) that is a
 *   segment-prefix of another merging into it -> at most one regex
 *   location, the first in config order that matches.
 *
 * The per-request lookup (cairn__conf_locate) then only picks a
 * precomputed cairn__loc_t: the longest prefix location that matches the
 * path, combined with the first regex location that matches.
 */

#ifndef CAIRN_CONF_INT_H
#define CAIRN_CONF_INT_H

#include <regex.h>
#include <stdio.h>
#include <sys/stat.h>

#include <ltdl.h>

#include <cairn/cairn.h>

#include "hooks_int.h"
#include "router_int.h"

/* The most modules one generation may load (the core included). */
#define CAIRN__MAX_MODULES      128

/* The core's own directives, kept like a module's (module index 0). */
typedef struct {
    cairn_strv_t     listen;            /* Listen [addr:]port ... */
    int              workers;           /* Workers N|auto (0 = auto) */
    const char      *user;
    const char      *group;
    const char      *server_name;
    const char      *error_log;         /* path, "stderr" (default) */
    int              log_level;         /* cairn_log_level_t */
    int              log_json;          /* ErrorLogFormat json */
    const char      *pid_file;
    int64_t          keepalive_timeout_ms;
    int64_t          request_header_timeout_ms;
    int64_t          request_body_timeout_ms;
    int64_t          request_body_min_rate;    /* bytes per second, 0: off */
    int64_t          send_timeout_ms;
    int64_t          graceful_timeout_ms;
    int64_t          config_test_timeout_ms;
    int64_t          lingering_timeout_ms;
    int64_t          discard_body_limit;    /* DiscardBodyLimit, 0: never */
    int              max_keepalive_requests;
    int              max_connections;
    int              limit_request_line;
    int              limit_request_fields;
    int              limit_request_field_size;
    int64_t          limit_request_body;
    int64_t          limit_request_header_size;    /* the whole block */
    int              task_threads;
    int64_t          hook_warn_ms;      /* HookWarnTime (0: off) */
    cairn_kvv_t      headers;           /* Header NAME VALUE (merge by key) */
    cairn_kvv_t      error_documents;   /* ErrorDocument CODE what (merge
                                           by key): the value's first byte
                                           says what the rest is: 'U' a
                                           local URL, 'R' a URL to
                                           redirect to, 'T' text, 'F' a
                                           file read at load time: its
                                           Content-Type, '\n', its bytes */
    struct {
        int          crashes;           /* CrashQuarantine N (0: off) */
        int64_t      period_ms;         /* ... within PERIOD */
    }                crash_quarantine;
} cairn__core_conf_t;

/* The core as a module: index 0 in every generation. */
extern cairn_module_t cairn__core_module;

/* A loaded module. */
typedef struct {
    cairn_module_t          *m;
    lt_dlhandle              handle;    /* NULL for the core */
    const char              *path;      /* file it was loaded from */
    const char              *file;      /* LoadModule's config file */
    int                      line;
} cairn__modrec_t;

/* One directive as written, kept for -T and --explain. */
typedef struct cairn__rec_s  cairn__rec_t;
struct cairn__rec_s {
    const cairn_directive_t *d;         /* NULL: ModuleDir (see name) */
    int                      modidx;
    int                      depth;     /* nesting inside module sections */
    const char              *name;      /* as written */
    int                      argc;      /* arguments, without the name */
    char                   **argv;
    const char              *file;
    int                      line;
    cairn__rec_t            *next;
    cairn__rec_t            *body;      /* a module section's directives */
};

typedef enum {
    CAIRN__SCOPE_SERVER = 0,
    CAIRN__SCOPE_VHOST,
    CAIRN__SCOPE_PREFIX,                /* <Location path> */
    CAIRN__SCOPE_REGEX                  /* <LocationMatch regex> */
} cairn__scope_kind_t;

/* A module's config in one scope and which of its directives were set. */
typedef struct {
    void                    *conf;
    uint8_t                 *set;       /* one flag per directive index */
} cairn__mconf_t;

typedef struct cairn__scope_s  cairn__scope_t;
struct cairn__scope_s {
    cairn__scope_kind_t      kind;
    const char              *name;      /* vhost name, path or regex */
    const char              *file;
    int                      line;
    regex_t                  re;        /* CAIRN__SCOPE_REGEX */
    cairn__scope_t          *parent;
    cairn__mconf_t          *raw;       /* [nmods] as written here */
    cairn__rec_t            *recs;      /* directives written here */
    cairn__rec_t           **recs_tail;
};

/* The effective configuration for one kind of request. */
typedef struct {
    const char              *name;      /* location path or regex, or NULL */
    cairn__mconf_t          *mconf;     /* [nmods] merged */
    const cairn__core_conf_t *core;     /* == mconf[0].conf */
    const cairn__scope_t   **chain;     /* scopes merged, outermost first */
    size_t                   nchain;
} cairn__loc_t;

typedef struct {
    cairn__scope_t          *scope;
    cairn_strv_t             names;     /* ServerName + ServerAlias, lower */
    cairn__scope_t         **prefix;    /* longest path first */
    size_t                   nprefix;
    cairn__scope_t         **regex;     /* config order */
    size_t                   nregex;
    cairn__loc_t             base;      /* no location matched */
    cairn__loc_t            *at_prefix; /* [nprefix] */
    cairn__loc_t            *at_regex;  /* [(nprefix + 1) * nregex]:
                                           [p * nregex + r], p == nprefix
                                           for "no prefix matched" */
    cairn__router_t         *router;    /* after finalize: a vhost with
                                           no routes of its own shares the
                                           main server's router; one with
                                           routes also holds the server's
                                           (its own win on a conflict) */
} cairn__vhost_t;

typedef struct cairn__provider_s  cairn__provider_t;
struct cairn__provider_s {
    const char              *kind;
    const char              *name;
    const void              *provider;
    cairn__provider_t       *next;
};

typedef struct {
    const char              *name;
    int                      modidx;
    const cairn_directive_t *d;
    int                      index;     /* in the module's table */
} cairn__dirent_t;

typedef struct cairn__conf_error_s  cairn__conf_error_t;
struct cairn__conf_error_s {
    const char              *text;      /* "file:line: message" */
    cairn__conf_error_t     *next;
};

struct cairn_server_s {
    cairn_arena_t           *arena;
    unsigned                 generation;
    const char              *conf_file; /* as given to -f, absolute */
    const char              *conf_dir;
    cairn_strv_t             defines;   /* -D names */
    int                      testing;   /* -t: no sockets, no side effects */

    cairn__modrec_t         *mods;      /* [0] is the core */
    size_t                   nmods;
    size_t                   capmods;
    cairn_strv_t             moduledirs;

    cairn__dirent_t         *dirs;      /* every known directive */
    size_t                   ndirs;
    size_t                   capdirs;

    cairn__scope_t          *main;
    cairn__vhost_t          *main_vhost;    /* requests for no named vhost */
    cairn__vhost_t         **vhosts;
    size_t                   nvhosts;

    cairn__hooks_t          *hooks;
    cairn__provider_t       *providers;

    cairn__conf_error_t     *errors;
    cairn__conf_error_t    **errors_tail;
    unsigned                 nerrors;

    /* The bytes the configuration was read from (conf_source.c): made
     * by this load, or given to replay one that was checked. */
    struct cairn__conf_source_s  *src;
    int                      own_src;   /* freed with the generation */
};

/* The generation being built (for cairn_hook_* and providers during
 * parsing), NULL otherwise. */
extern cairn_server_t *cairn__server_building;

/*
 * Creates an empty generation for conf_file (made absolute) with the
 * -D names in defines; the core module is registered as index 0.
 */
cairn_server_t *cairn__server_create(const char *conf_file,
                                     const cairn_strv_t *defines,
                                     int testing);

/* Unloads the modules and frees the arena. */
void cairn__server_destroy(cairn_server_t *s);

/*
 * Parses conf_file with everything it includes, loading modules as
 * LoadModule lines come, then finalizes.  Returns 0, or -1 with one entry
 * per problem in s->errors.
 */
int cairn__conf_load(cairn_server_t *s);

/* Parses a config text given in memory (unit tests); name stands for the
 * file name in messages.  Does not finalize. */
int cairn__conf_parse_string(cairn_server_t *s, const char *name,
                             const char *text);

/* Sorts hooks, compiles and merges every scope, runs post_config hooks.
 * Returns 0 or -1 (errors in s->errors). */
int cairn__conf_finalize(cairn_server_t *s);

/* Records an error "file:line: message" (file NULL: no prefix). */
void cairn__conf_error(cairn_server_t *s, const char *file, int line,
                       const char *fmt, ...) CAIRN_PRINTF(4, 5);

/* A module's own text for the default of its directive di (ABI 1.1), or
 * NULL. */
const char *cairn__module_default(const cairn_module_t *m, size_t di);

/* Which methods m's handler would serve for r (ABI 1.3): 1 with *mask
 * set (0: it would decline r), or 0 when m cannot say. */
int cairn__module_handler_methods(const cairn_module_t *m, cairn_request_t *r,
                                  unsigned *mask);

/* What a configuration that is to serve needs beyond each directive's
 * own checks (a Listen); 0, or -1 with the error recorded. */
int cairn__conf_check_serving(cairn_server_t *s);

/* Writes every recorded error to out, one per line. */
void cairn__conf_print_errors(const cairn_server_t *s, FILE *out);

/* Loads s from a recorded source instead of the files (the caller keeps
 * src); cairn__conf_load() then reads nothing from disk. */
void cairn__conf_use_source(cairn_server_t *s,
                            struct cairn__conf_source_s *src);

/* Takes s's source away from it (the caller frees it). */
struct cairn__conf_source_s *cairn__conf_take_source(cairn_server_t *s);


/* conf_source.c: the configuration's files as they were read. */
typedef struct cairn__conf_source_s  cairn__conf_source_t;

typedef enum {
    CAIRN__MATCH_FILE = 0,
    CAIRN__MATCH_DIR,
    CAIRN__MATCH_OTHER,         /* a device, a FIFO, a socket */
    CAIRN__MATCH_GONE           /* stat() failed: err */
} cairn__match_kind_t;

typedef struct {
    const char              *path;
    int                      kind;      /* cairn__match_kind_t */
    int                      err;
} cairn__conf_match_t;

cairn__conf_source_t *cairn__conf_source_new(void);
void cairn__conf_source_free(cairn__conf_source_t *src);
void cairn__conf_source_replay(cairn__conf_source_t *src);
int cairn__conf_source_file(cairn__conf_source_t *src, const char *path,
                            const char **text, size_t *len, struct stat *st,
                            const char **err);
int cairn__conf_source_glob(cairn__conf_source_t *src, const char *pattern,
                            const cairn__conf_match_t **v, size_t *n);
int cairn__conf_source_write(const cairn__conf_source_t *src, FILE *out);
cairn__conf_source_t *cairn__conf_source_read(const char *buf, size_t len);

/* The virtual host for a Host value (lower-case, no port); never NULL. */
const cairn__vhost_t *cairn__conf_vhost(const cairn_server_t *s,
                                        const char *host);

/* The effective configuration for path in vh; never NULL. */
const cairn__loc_t *cairn__conf_locate(const cairn__vhost_t *vh,
                                       const char *path);

/* `cairnd -T`: the effective configuration, with file:line comments. */
void cairn__conf_dump(const cairn_server_t *s, FILE *out);

/* `cairnd -T --explain HOST PATH`: every effective setting for one
 * request and the file:line it came from. */
void cairn__conf_explain(const cairn_server_t *s, const char *host,
                         const char *path, FILE *out);

/* Whether path (normalised) is inside the <Location> prefix. */
int cairn__conf_prefix_match(const char *prefix, const char *path);

/* For a CAIRN_MERGE_SCOPE directive i of m: the first directive of its
 * group (those sharing its field), and whether mc set any of them. */
size_t cairn__conf_group_first(const cairn_module_t *m, size_t i);
int cairn__conf_group_set(const cairn_module_t *m, const cairn__mconf_t *mc,
                          size_t i);

/* Module loading (core/module.c). */

/*
 * Loads module `name` from path (NULL: search ModuleDir), checks its
 * magic, ABI, size and requirements, adds its directives, and calls its
 * register_hooks and pre_config hooks.  Returns NULL or a sentence
 * naming the file.  file and line are where LoadModule was written.
 */
const char *cairn__module_load(cairn_server_t *s, const char *name,
                               const char *path, const char *file,
                               int line);

/*
 * For an unknown directive (or <section>, when section is set): looks
 * through ModuleDir for a module that declares it and returns a hint
 * ("it is provided by mod_static, which is not loaded: add 'LoadModule
 * static' before this line"); for an Apache section cairn lacks, what to
 * use instead; else the closest known name of the core, a loaded module
 * or any module in ModuleDir ("did you mean 'DocumentRoot'?"), or NULL.
 */
const char *cairn__module_hint(cairn_server_t *s, const char *directive,
                              int section);

/* The name of table closest to an unknown name (a typo), or NULL. */
const char *cairn__directive_closest(const cairn_directive_t *table,
                                     const char *name, int section);

/*
 * (core/module.c) Registers a module descriptor already in memory (the core, a
 * module just opened by cairn__module_load, a test's module): refuses a
 * second module of the same name and one whose requirements are not
 * loaded, checks the directive table, assigns m->index, indexes the
 * directives, calls register_hooks with cairn__hooks_building set to
 * s->hooks and runs the module's own pre_config hooks.  Does no dlopen
 * and no ABI check.  The new s->mods entry has no file, line, handle or
 * path: cairn__module_load() fills those in.  Returns NULL or a sentence
 * for the config error.
 */
const char *cairn__module_add_static(cairn_server_t *s, cairn_module_t *m);

/* "mod_static.so", "mod_static", "static.c" -> "static" (in a). */
const char *cairn__module_name(cairn_arena_t *a, const char *name);

/* The directive called name (case-insensitive) of any loaded module,
 * the core included; NULL when none has it. */
const cairn__dirent_t *cairn__directive_find(const cairn_server_t *s,
                                            const char *name);

/* Closes every module handle of a generation. */
void cairn__modules_unload(cairn_server_t *s);

/* `cairnd --modinfo FILE`: prints a module's descriptor; 0 or 1. */
int cairn__module_info(const char *path, FILE *out);

/* The index of a loaded module by name, or -1. */
int cairn__module_index(const cairn_server_t *s, const char *name);

/* Runs the server hooks of one kind in order, stopping at the first
 * that does not return CAIRN_OK (or CAIRN_DECLINED); returns that value
 * or CAIRN_OK. */
int cairn__server_hooks_run(cairn_server_t *s, cairn_server_hook_t which);

#endif /* CAIRN_CONF_INT_H */
