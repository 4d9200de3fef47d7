/*
 * modules/static/static_handler.c: answering a request for a file.
 *
 * A directory's DirectoryIndex (403 when it has none, as there is no
 * listing), a regular file from the cache or with sendfile, the
 * preconditions of RFC 9110 section 13.2.2 (412, 304), the 301 that
 * adds a directory's '/', and the status of a failed open.  The
 * handler itself, which checks the path and looks in the cache first,
 * is in mod_static.c.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "mime.h"
#include "mod_static.h"

/* A file changed less than this many seconds ago is not cached: two
 * writes within one timestamp tick would look like one. */
#define MOD_STATIC_SETTLE_S         2


/* What a response is made from: a cache entry or an open file. */
typedef struct {
    off_t                size;
    int64_t              mtime;         /* seconds */
    const char          *etag;          /* NULL: StaticFileETag off */
    const char          *lastmod;
    const char          *ctype;
    const char          *encoding;      /* a precompressed sibling's */
    mod_static_entry_t  *entry;         /* NULL: fd */
    int                  fd;
    /* The file's identity, for the "static_file" note. */
    dev_t                dev;
    ino_t                ino;
    struct timespec      mtim;
    struct timespec      ctim;
} mod_static_file_t;

/* CompressStatic: the codings of the precompressed siblings, in the
 * order taken when the client weighs several equally (the smallest
 * output first), and the suffix of each. */
static const struct {
    const char          *coding;
    const char          *suffix;
} mod_static_codings[] = {
    { "br",   "br"  },
    { "zstd", "zst" },
    { "gzip", "gz"  },
};

#define MOD_STATIC_NCODINGS                                                   \
    (sizeof(mod_static_codings) / sizeof(mod_static_codings[0]))

/* The request headers that make a request conditional (Range and
 * If-Range are the core's: it answers ranges of any body). */
typedef struct {
    const char          *if_match;
    const char          *if_none_match;
    const char          *if_modified_since;
    const char          *if_unmodified_since;
} mod_static_cond_t;


static int mod_static_send(cairn_request_t *r, const mod_static_conf_t *conf,
                           mod_static_file_t *f);
static const char *mod_static_ctype(cairn_request_t *r,
                                    const mod_static_conf_t *conf,
                                    const char *type, int is_text);
static void mod_static_cond_read(cairn_request_t *r, mod_static_cond_t *c);
static int mod_static_precompressed(cairn_request_t *r,
                                    const mod_static_conf_t *conf,
                                    mod_static_root_t *root, const char *rel,
                                    size_t rellen,
                                    const struct timespec *mtim,
                                    const char *type, int is_text,
                                    int *status);
static int mod_static_send_variant(cairn_request_t *r,
                                   const mod_static_conf_t *conf,
                                   mod_static_entry_t *e, int fd,
                                   const struct stat *st, unsigned coding,
                                   const char *type, int is_text);
static int mod_static_newer(const struct timespec *a,
                            const struct timespec *b);


/* Bodies of the answers made here, in the style of the core's pages. */
static const char  mod_static_301[] =
    "<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title>"
    "</head><body><h1>301 Moved Permanently</h1></body></html>\n";


/*
 * A path ending in '/': the first DirectoryIndex file that is a regular
 * file, else 403 when the directory exists (there is no listing), else
 * 404.
 */
int
mod_static_directory(cairn_request_t *r, mod_static_conf_t *conf,
                     mod_static_root_t *root, const char *path, size_t len)
{
    char                 rel[PATH_MAX];
    const char          *name;
    size_t               i, dirlen, namelen, rellen;
    uint32_t             hash;
    mod_static_entry_t  *e;
    struct stat          st;
    int                  fd;

    /* "/a/b/" becomes "a/b/"; "/" becomes "". */
    dirlen = len - 1;
    if (dirlen >= sizeof(rel)) {
        return cairn_respond_errorf(r, 404, "no file %s", path);
    }
    memcpy(rel, path + 1, dirlen);

    for (i = 0; i < conf->index.n; i++) {
        name = conf->index.v[i];
        namelen = strlen(name);
        rellen = dirlen + namelen;
        if (rellen >= sizeof(rel)) {
            continue;
        }
        memcpy(rel + dirlen, name, namelen + 1);

        if (mod_static_cache != NULL && conf->cache_max_bytes > 0
            && rellen <= MOD_STATIC_KEY_MAX)
        {
            hash = mod_static_hash(rel, rellen, conf->symlinks);
            e = mod_static_cache_find(root, conf->symlinks, rel, rellen,
                                      hash);
            if (e != NULL) {
                return mod_static_send_entry(r, conf, e);
            }
        }

        fd = mod_static_open(r, root, rel, MOD_STATIC_OPEN_FLAGS,
                             conf->symlinks);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR) {
                continue;
            }
            return mod_static_status(r, root, rel, errno);
        }

        if (fstat(fd, &st) != 0) {
            cairn_log_error(r, errno, "fstat(\"%s/%s\") failed", root->path,
                            rel);
            close(fd);
            return cairn_respond_errorf(r, 500, "the file %s cannot be read",
                                        path);
        }

        if (!S_ISREG(st.st_mode)) {
            close(fd);
            continue;
        }

        return mod_static_regular(r, conf, root, rel, rellen, fd, &st);
    }

    /* No index file: does the directory itself exist? */
    rel[dirlen] = '\0';
    fd = mod_static_open(r, root, dirlen == 0 ? "." : rel,
                         O_PATH | O_DIRECTORY | O_CLOEXEC, conf->symlinks);
    if (fd < 0) {
        return mod_static_status(r, root, rel, errno);
    }
    close(fd);

    cairn_log_debug(r, "no DirectoryIndex file in \"%s/%s\"", root->path,
                    rel);

    return cairn_respond_errorf(r, 403, "the directory %s has no index file "
                                "and is not listed", path);
}


/*
 * Serves the file open on fd (rel under root, st its status; 403 unless
 * it is a regular file): from the cache when it fits and has settled,
 * else with sendfile.  Takes fd over.
 */
int
mod_static_regular(cairn_request_t *r, mod_static_conf_t *conf,
                   mod_static_root_t *root, const char *rel, size_t rellen,
                   int fd, const struct stat *st)
{
    mod_static_entry_t  *e;
    mod_static_file_t    f;
    const char          *type;
    char                 etag[MOD_STATIC_ETAG_MAX];
    char                 lastmod[MOD_STATIC_DATE_MAX];
    int                  status;

    if (!S_ISREG(st->st_mode)) {
        cairn_log_debug(r, "\"%s/%s\" is not a regular file", root->path,
                        rel);
        close(fd);
        return cairn_respond_errorf(r, 403, "%s is not a regular file",
                                    cairn_request_path(r));
    }

    type = mod_static_mime_lookup(mod_static_mime, rel);

    if (conf->compress_static
        && mod_static_precompressed(r, conf, root, rel, rellen,
                                    &st->st_mtim, type,
                                    mod_static_mime_is_text(type), &status))
    {
        close(fd);
        return status;
    }

    /* The same conditions as the lookup, so no key is ever cached twice. */
    if (mod_static_cache != NULL && conf->cache_max_bytes > 0
        && st->st_size <= conf->cache_max_bytes
        && rellen <= MOD_STATIC_KEY_MAX
        && st->st_ctim.tv_sec + MOD_STATIC_SETTLE_S <= time(NULL))
    {
        e = mod_static_cache_fill(conf, root, rel, rellen,
                                  mod_static_hash(rel, rellen,
                                                  conf->symlinks),
                                  fd, st);
        if (e != NULL) {
            close(fd);
            return mod_static_send_entry(r, conf, e);
        }
    }

    mod_static_etag(etag, st);
    cairn_http_date(st->st_mtim.tv_sec, lastmod);

    f.size = st->st_size;
    f.mtime = st->st_mtim.tv_sec;
    f.etag = conf->etag ? etag : NULL;
    f.lastmod = lastmod;
    f.ctype = mod_static_ctype(r, conf, type, mod_static_mime_is_text(type));
    f.encoding = NULL;
    f.entry = NULL;
    f.fd = fd;
    f.dev = st->st_dev;
    f.ino = st->st_ino;
    f.mtim = st->st_mtim;
    f.ctim = st->st_ctim;

    return mod_static_send(r, conf, &f);
}


/* Answers from a cache entry (or from its precompressed sibling). */
int
mod_static_send_entry(cairn_request_t *r, const mod_static_conf_t *conf,
                      mod_static_entry_t *e)
{
    mod_static_file_t  f;
    int                status;

    /* A sibling that fills the cache (and may take e's place) is
     * always served: e is used below only when none was found. */
    if (conf->compress_static
        && mod_static_precompressed(r, conf, e->root, e->key, e->keylen,
                                    &e->mtim, e->type, e->is_text, &status))
    {
        return status;
    }

    f.size = e->size;
    f.mtime = e->mtim.tv_sec;
    f.etag = conf->etag ? e->etag : NULL;
    f.lastmod = e->lastmod;
    f.encoding = NULL;
    f.entry = e;
    f.fd = -1;
    f.dev = e->dev;
    f.ino = e->ino;
    f.mtim = e->mtim;
    f.ctim = e->ctim;

    if (conf->charset != NULL && e->is_text
        && e->ctype_charset == conf->charset)
    {
        f.ctype = e->ctype;
    } else {
        f.ctype = mod_static_ctype(r, conf, e->type, e->is_text);
    }

    return mod_static_send(r, conf, &f);
}


/*
 * Answers from f after the preconditions of RFC 9110 section 13.2.2:
 * 412, 304 or 200 (the core turns a 200 into 206 or 416 for a Range).
 * Owns f->fd.
 */
static int
mod_static_send(cairn_request_t *r, const mod_static_conf_t *conf,
                mod_static_file_t *f)
{
    mod_static_cond_t   c;
    int                 status;
    int64_t             t;

    mod_static_cond_read(r, &c);

    if (c.if_match != NULL) {
        if (!mod_static_etag_match(c.if_match, f->etag, 0)) {
            status = 412;
            goto refuse;
        }

    } else if (c.if_unmodified_since != NULL) {
        t = cairn_http_date_parse(c.if_unmodified_since);
        if (t != -1 && f->mtime > t) {
            status = 412;
            goto refuse;
        }
    }

    if (c.if_none_match != NULL) {
        if (mod_static_etag_match(c.if_none_match, f->etag, 1)) {
            goto not_modified;
        }

    } else if (c.if_modified_since != NULL) {
        t = cairn_http_date_parse(c.if_modified_since);
        if (t != -1 && f->mtime <= t) {
            goto not_modified;
        }
    }

    if (f->etag != NULL) {
        cairn_response_header_set(r, "ETag", f->etag);
    }
    cairn_response_header_set(r, "Last-Modified", f->lastmod);
    /* The core answers a Range against what this says: for a
     * precompressed sibling, a range of its bytes (of the coded
     * representation, as RFC 9110 section 14 has it). */
    cairn_response_header_set(r, "Accept-Ranges", "bytes");

    if (f->encoding != NULL) {
        cairn_response_header_set(r, "Content-Encoding", f->encoding);

    } else if (f->entry != NULL
               || f->ctim.tv_sec + MOD_STATIC_SETTLE_S <= time(NULL))
    {
        /*
         * The body is this file, whole and unchanged, and the file has
         * settled: its identity is a key for what others derive from
         * its bytes (mod_compress's cache of compressed files).
         */
        cairn_request_set_note(r, "static_file", cairn_arena_printf(
            cairn_request_arena(r), "%llx:%llx:%llx:%lld.%09ld:%lld.%09ld",
            (unsigned long long) f->dev, (unsigned long long) f->ino,
            (unsigned long long) f->size, (long long) f->mtim.tv_sec,
            f->mtim.tv_nsec, (long long) f->ctim.tv_sec, f->ctim.tv_nsec));
    }

    if (f->entry != NULL) {
        /* The response points into the entry until the request ends. */
        f->entry->refs++;
        cairn_arena_cleanup_add(cairn_request_arena(r), mod_static_unpin,
                                f->entry);
        return cairn_respond(r, 200, f->ctype, f->entry->data,
                             (size_t) f->size);
    }

    return cairn_respond_file(r, 200, f->ctype, f->fd, 0, f->size);

not_modified:

    if (f->fd >= 0) {
        close(f->fd);
    }
    if (f->etag != NULL) {
        cairn_response_header_set(r, "ETag", f->etag);
    }
    cairn_response_header_set(r, "Last-Modified", f->lastmod);

    return cairn_respond(r, 304, NULL, NULL, 0);

refuse:

    if (f->fd >= 0) {
        close(f->fd);
    }

    return status;
}


/* 301 to the directory's URL: the path with a '/' and the query. */
int
mod_static_redirect(cairn_request_t *r, const char *path)
{
    static const char   hex[] = "0123456789ABCDEF";
    const char         *query, *p;
    char               *loc, *w;
    size_t              qlen;
    unsigned char       ch;

    query = cairn_request_query(r);
    qlen = query != NULL && query[0] != '\0' ? strlen(query) + 1 : 0;

    loc = cairn_arena_alloc(cairn_request_arena(r),
                            strlen(path) * 3 + 2 + qlen + 1);
    w = loc;

    /*
     * The path is decoded: escape what may not appear raw in a URL path,
     * including '%', '?', '#', spaces and control bytes.
     */
    for (p = path; *p != '\0'; p++) {
        ch = (unsigned char) *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || strchr("-._~/!$&'()*+,;=:@", ch))
        {
            *w++ = (char) ch;
        } else {
            *w++ = '%';
            *w++ = hex[ch >> 4];
            *w++ = hex[ch & 0x0f];
        }
    }
    *w++ = '/';

    if (qlen != 0) {
        *w++ = '?';
        memcpy(w, query, qlen - 1);
        w += qlen - 1;
    }
    *w = '\0';

    cairn_response_header_set(r, "Location", loc);

    return cairn_respond(r, 301, "text/html", mod_static_301,
                         sizeof(mod_static_301) - 1);
}


/* Answers a failed open of rel with its error page and the sentence
 * that says why: 404, 403, 503 when the process or the system is out of
 * descriptors or memory (it passes, so the client is told to retry), or
 * 500.  Returns CAIRN_OK. */
int
mod_static_status(cairn_request_t *r, mod_static_root_t *root,
                  const char *rel, int err)
{
    switch (err) {

    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
    case EXDEV:
        return cairn_respond_errorf(r, 404, "no file %s",
                                    cairn_request_path(r));

    case EACCES:
    case EPERM:
        cairn_log_error(r, err, "open(\"%s/%s\") failed", root->path, rel);
        return cairn_respond_errorf(r, 403, "the file %s may not be read",
                                    cairn_request_path(r));

    case EMFILE:
    case ENFILE:
    case ENOMEM:
        cairn_log_error(r, err, "open(\"%s/%s\") failed", root->path, rel);
        cairn_response_header_set(r, "Retry-After", "1");
        return cairn_respond_errorf(r, 503, "the server is short of file "
                                    "descriptors or memory; try again in a "
                                    "moment");

    default:
        cairn_log_error(r, err, "open(\"%s/%s\") failed", root->path, rel);
        return cairn_respond_errorf(r, 500, "the file %s cannot be read",
                                    cairn_request_path(r));
    }
}


/*
 * CompressStatic: the sibling rel.br, rel.zst or rel.gz in the coding
 * the client weighs highest in Accept-Encoding (the order of
 * mod_static_codings on a tie; q=0 never), when it is a regular file at
 * least as new as rel (whose mtime is mtim); a sibling missing, refused
 * or older gives way to the next coding, and the last to rel itself.
 * Returns 1 with the answer made from a sibling in *status (what the
 * handler returns), or 0 to serve rel.  Every answer gets Vary: Accept-Encoding, since what a client
 * gets depends on it.  rel and mtim may point into a cache entry, which
 * is not touched once a sibling has been found.
 */
static int
mod_static_precompressed(cairn_request_t *r, const mod_static_conf_t *conf,
                         mod_static_root_t *root, const char *rel,
                         size_t rellen, const struct timespec *mtim,
                         const char *type, int is_text, int *status)
{
    const char          *accept, *suffix;
    char                 vrel[PATH_MAX];
    int                  q[MOD_STATIC_NCODINGS];
    unsigned             i, best;
    size_t               vlen, slen;
    uint32_t             hash = 0;
    mod_static_entry_t  *e;
    struct stat          st;
    int                  fd, cached;

    cairn_response_header_add(r, "Vary", "Accept-Encoding");

    accept = cairn_request_header(r, "Accept-Encoding");
    if (accept == NULL) {
        return 0;
    }

    for (i = 0; i < MOD_STATIC_NCODINGS; i++) {
        q[i] = cairn_accept_q(accept, mod_static_codings[i].coding);
    }

    for ( ;; ) {
        best = MOD_STATIC_NCODINGS;
        for (i = 0; i < MOD_STATIC_NCODINGS; i++) {
            if (q[i] > 0 && (best == MOD_STATIC_NCODINGS || q[i] > q[best])) {
                best = i;
            }
        }
        if (best == MOD_STATIC_NCODINGS) {
            return 0;
        }
        q[best] = 0;

        suffix = mod_static_codings[best].suffix;
        slen = strlen(suffix);
        vlen = rellen + 1 + slen;
        if (vlen >= sizeof(vrel)) {
            return 0;
        }
        memcpy(vrel, rel, rellen);
        vrel[rellen] = '.';
        memcpy(vrel + rellen + 1, suffix, slen + 1);

        cached = mod_static_cache != NULL && conf->cache_max_bytes > 0
                 && vlen <= MOD_STATIC_KEY_MAX;
        if (cached) {
            hash = mod_static_hash(vrel, vlen, conf->symlinks);
            e = mod_static_cache_find(root, conf->symlinks, vrel, vlen,
                                      hash);
            if (e != NULL) {
                if (mod_static_newer(mtim, &e->mtim)) {
                    continue;
                }
                *status = mod_static_send_variant(r, conf, e, -1, NULL,
                                                  best, type, is_text);
                return 1;
            }
        }

        fd = mod_static_open(r, root, vrel, MOD_STATIC_OPEN_FLAGS,
                             conf->symlinks);
        if (fd < 0) {
            continue;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
            || mod_static_newer(mtim, &st.st_mtim))
        {
            cairn_log_debug(r, "\"%s/%s\" is not served: not a regular file "
                            "as new as \"%s\"", root->path, vrel, rel);
            close(fd);
            continue;
        }

        /* As for rel itself: cached when it fits and has settled. */
        e = NULL;
        if (cached && st.st_size <= conf->cache_max_bytes
            && st.st_ctim.tv_sec + MOD_STATIC_SETTLE_S <= time(NULL))
        {
            e = mod_static_cache_fill(conf, root, vrel, vlen, hash, fd, &st);
        }
        if (e != NULL) {
            close(fd);
            fd = -1;
        }

        *status = mod_static_send_variant(r, conf, e, fd, &st, best, type,
                                          is_text);
        return 1;
    }
}


/*
 * Answers from a precompressed sibling, a cache entry e or the open fd
 * (status st): the original's Content-Type, the sibling's length and
 * Last-Modified, and an ETag of its own (the sibling's, with the suffix:
 * never the original's).  Owns fd.
 */
static int
mod_static_send_variant(cairn_request_t *r, const mod_static_conf_t *conf,
                        mod_static_entry_t *e, int fd, const struct stat *st,
                        unsigned coding, const char *type, int is_text)
{
    mod_static_file_t  f;
    const char        *etag;
    char               buf[MOD_STATIC_ETAG_MAX];
    char               lastmod[MOD_STATIC_DATE_MAX];

    memset(&f, 0, sizeof(f));

    if (e != NULL) {
        f.size = e->size;
        f.mtime = e->mtim.tv_sec;
        f.lastmod = e->lastmod;
        etag = e->etag;
    } else {
        mod_static_etag(buf, st);
        cairn_http_date(st->st_mtim.tv_sec, lastmod);
        f.size = st->st_size;
        f.mtime = st->st_mtim.tv_sec;
        f.lastmod = lastmod;
        etag = buf;
    }

    /* "<size>-<mtime>" becomes "<size>-<mtime>-gz". */
    f.etag = !conf->etag ? NULL
             : cairn_arena_printf(cairn_request_arena(r), "%.*s-%s\"",
                                  (int) strlen(etag) - 1, etag,
                                  mod_static_codings[coding].suffix);
    f.ctype = mod_static_ctype(r, conf, type, is_text);
    f.encoding = mod_static_codings[coding].coding;
    f.entry = e;
    f.fd = fd;

    return mod_static_send(r, conf, &f);
}


/* Whether a is later than b. */
static int
mod_static_newer(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec
           || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}


/* The Content-Type: type, with "; charset=X" for text when configured. */
static const char *
mod_static_ctype(cairn_request_t *r, const mod_static_conf_t *conf,
                 const char *type, int is_text)
{
    if (conf->charset == NULL || !is_text) {
        return type;
    }

    return cairn_arena_printf(cairn_request_arena(r), "%s; charset=%s", type,
                              conf->charset);
}


/* One pass over the request headers for the four that matter here. */
static void
mod_static_cond_read(cairn_request_t *r, mod_static_cond_t *c)
{
    size_t        i, n;
    const char   *name, *value, **slot;

    memset(c, 0, sizeof(*c));
    n = cairn_request_header_count(r);

    for (i = 0; i < n; i++) {
        name = NULL;
        value = NULL;
        cairn_request_header_at(r, i, &name, &value);
        if (name == NULL || value == NULL) {
            continue;
        }

        if ((name[0] | 0x20) == 'i' && (name[1] | 0x20) == 'f'
                   && name[2] == '-')
        {
            name += 3;
            if (strcasecmp(name, "None-Match") == 0) {
                slot = &c->if_none_match;
            } else if (strcasecmp(name, "Modified-Since") == 0) {
                slot = &c->if_modified_since;
            } else if (strcasecmp(name, "Match") == 0) {
                slot = &c->if_match;
            } else if (strcasecmp(name, "Unmodified-Since") == 0) {
                slot = &c->if_unmodified_since;
            } else {
                slot = NULL;
            }

        } else {
            continue;
        }

        if (slot != NULL && *slot == NULL) {
            *slot = value;
        }
    }
}
