/*
 * modules/static/mod_static.h: what the files of mod_static share.
 *
 * The structures of a scope's configuration, of a document root as a
 * worker sees it and of the worker's cache of files, the constants they
 * need, and the functions and variables one file uses from another:
 *
 *   mod_static.c      the directives and their checks, post_config,
 *                     worker_init, worker_exit and the handler
 *   static_handler.c  answering: DirectoryIndex, regular files, the
 *                     preconditions (If-Match, If-None-Match,
 *                     If-Modified-Since, If-Unmodified-Since), the 301
 *                     to a directory's '/', the status of a failed open
 *   static_roots.c    the document roots, and opening files beneath
 *                     them with the StaticSymlinks policy (openat2,
 *                     RESOLVE_BENEATH, or a check of the real path)
 *   static_cache.c    the worker's cache of small files
 *   static_cond.c     the ETag of a file and entity-tag list matching:
 *                     pure functions, which the unit tests compile alone
 *   mime.c            media types by extension (mime.h)
 */

#ifndef MOD_STATIC_MOD_STATIC_H
#define MOD_STATIC_MOD_STATIC_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cairn/cairn.h>

#include "mime.h"


/* StaticSymlinks */
#define MOD_STATIC_LINKS_OFF        0
#define MOD_STATIC_LINKS_INSIDE     1
#define MOD_STATIC_LINKS_ON         2

#define MOD_STATIC_CHARSET_MAX      40
#define MOD_STATIC_ETAG_MAX         48
#define MOD_STATIC_DATE_MAX         32
#define MOD_STATIC_CTYPE_MAX        (MOD_STATIC_MIME_TYPE_MAX + 12           \
                                     + MOD_STATIC_CHARSET_MAX)

/* Paths longer than this are served but never cached. */
#define MOD_STATIC_KEY_MAX          1024

#define MOD_STATIC_OPEN_FLAGS       (O_RDONLY | O_NONBLOCK | O_CLOEXEC       \
                                     | O_NOCTTY)


/*
 * A document root as seen by one worker: a directory descriptor opened
 * on first use and re-opened when the path comes to name another
 * directory.  Roots are per process (malloc), shared by every scope with
 * the same DocumentRoot, and freed in worker_exit.
 */
typedef struct mod_static_root_s  mod_static_root_t;
struct mod_static_root_s {
    mod_static_root_t   *next;
    int                  fd;            /* O_PATH directory, -1: none */
    dev_t                dev;
    ino_t                ino;
    uint64_t             checked_us;    /* monotonic; 0: never */
    char                *real;          /* realpath of the directory */
    size_t               real_len;
    size_t               len;
    char                 path[];        /* as configured, no trailing '/' */
};

typedef struct {
    const char          *docroot;
    cairn_strv_t         index;
    int                  dotfiles;
    int                  symlinks;      /* MOD_STATIC_LINKS_* */
    const char          *charset;       /* NULL: none */
    int                  etag;
    int                  compress_static;   /* CompressStatic */
    int64_t              cache_max_bytes;
    int                  cache_entries;
    mod_static_root_t   *root;          /* per worker, found on first use */
} mod_static_conf_t;

/*
 * One cached file.  key and data share one malloc'ed buffer, reused in
 * place when the entry is recycled.  While refs is not 0 some response
 * still points into the entry, so it is neither evicted nor rewritten;
 * a stale pinned entry leaves its chain (live = 0) and is recycled when
 * the last response lets go.
 */
typedef struct {
    mod_static_root_t   *root;
    char                *buf;
    size_t               cap;
    char                *key;           /* path relative to the root */
    size_t               keylen;
    char                *data;
    uint32_t             hash;
    int32_t              next;          /* bucket chain, -1: end */
    uint32_t             refs;
    uint8_t              live;
    uint8_t              recent;        /* CLOCK reference bit */
    uint8_t              symlinks;      /* policy it was opened under */
    uint8_t              is_text;
    uint64_t             valid_us;      /* loop time of the last check */
    dev_t                dev;
    ino_t                ino;
    off_t                size;
    struct timespec      mtim;
    struct timespec      ctim;
    const char          *type;          /* from the MIME table */
    const char          *ctype_charset; /* which StaticCharset made ctype */
    char                 ctype[MOD_STATIC_CTYPE_MAX];
    char                 etag[MOD_STATIC_ETAG_MAX];
    char                 lastmod[MOD_STATIC_DATE_MAX];
} mod_static_entry_t;

typedef struct {
    mod_static_entry_t  *entries;
    int32_t             *buckets;
    uint32_t             n;
    uint32_t             mask;          /* buckets - 1 */
    uint32_t             hand;          /* CLOCK position */
} mod_static_cache_t;


/* mod_static.c */
extern mod_static_mime_t   *mod_static_mime;


/* static_handler.c */
int mod_static_directory(cairn_request_t *r, mod_static_conf_t *conf,
                         mod_static_root_t *root, const char *path,
                         size_t len);
int mod_static_regular(cairn_request_t *r, mod_static_conf_t *conf,
                       mod_static_root_t *root, const char *rel,
                       size_t rellen, int fd, const struct stat *st);
int mod_static_send_entry(cairn_request_t *r, const mod_static_conf_t *conf,
                          mod_static_entry_t *e);
int mod_static_redirect(cairn_request_t *r, const char *path);
int mod_static_status(cairn_request_t *r, mod_static_root_t *root,
                      const char *rel, int err);


/* static_roots.c */
extern mod_static_root_t   *mod_static_roots;

mod_static_root_t *mod_static_root(cairn_request_t *r,
                                   mod_static_conf_t *conf);
int mod_static_open(cairn_request_t *r, mod_static_root_t *root,
                    const char *rel, int flags, int links);


/* static_cache.c */
extern mod_static_cache_t  *mod_static_cache;

int mod_static_cache_create(uint32_t n);
void mod_static_cache_destroy(void);
mod_static_entry_t *mod_static_cache_find(mod_static_root_t *root, int links,
                                          const char *rel, size_t rellen,
                                          uint32_t hash);
mod_static_entry_t *mod_static_cache_fill(const mod_static_conf_t *conf,
                                          mod_static_root_t *root,
                                          const char *rel, size_t rellen,
                                          uint32_t hash, int fd,
                                          const struct stat *st);
void mod_static_unpin(void *data);
uint32_t mod_static_hash(const char *s, size_t len, int links);


/* static_cond.c */

/* Writes the ETag of the file st describes, quoted, into buf
 * (MOD_STATIC_ETAG_MAX bytes). */
void mod_static_etag(char *buf, const struct stat *st);

/* Whether the entity-tag list of an If-Match or If-None-Match header
 * holds "*" or etag (weak: the weak comparison, else the strong one). */
int mod_static_etag_match(const char *list, const char *etag, int weak);

#endif /* MOD_STATIC_MOD_STATIC_H */
