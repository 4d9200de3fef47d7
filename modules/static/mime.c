/*
 * modules/static/mime.c: media types by file name extension.
 *
 * The table is an open-addressing hash (linear probing, a power-of-two
 * number of slots, at most three quarters full) keyed by the lower-case
 * extension.  Strings live in a few large blocks freed with the table.
 * The built-in set is also kept as a sorted array, so that a lookup
 * without a table is a binary search that needs no memory at all.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

#define MOD_STATIC_MIME_SLOTS_MIN   256
#define MOD_STATIC_MIME_BLOCK       8192
#define MOD_STATIC_MIME_SPACE       " \t\r\n\v\f"


typedef struct {
    const char                  *ext;       /* lower case; NULL: empty */
    const char                  *type;
    uint32_t                     hash;
    unsigned                     origin;    /* which load set it */
} mod_static_mime_slot_t;

typedef struct mod_static_mime_block_s  mod_static_mime_block_t;
struct mod_static_mime_block_s {
    mod_static_mime_block_t     *next;
    size_t                       used;
    size_t                       size;
    char                         data[];
};

struct mod_static_mime_s {
    mod_static_mime_slot_t      *slots;
    size_t                       mask;      /* number of slots - 1 */
    size_t                       count;
    unsigned                     origin;    /* the last one handed out */
    mod_static_mime_block_t     *blocks;
};

typedef struct {
    const char                  *ext;
    const char                  *type;
} mod_static_mime_builtin_t;


/*
 * The fallback when no mime.types is readable, sorted by extension for
 * bsearch().  The types agree with Debian's media-types package.
 */
static const mod_static_mime_builtin_t  mod_static_mime_builtin[] = {
    { "atom",   "application/atom+xml" },
    { "avif",   "image/avif" },
    { "bmp",    "image/bmp" },
    { "css",    "text/css" },
    { "csv",    "text/csv" },
    { "gif",    "image/gif" },
    { "gz",     "application/gzip" },
    { "htm",    "text/html" },
    { "html",   "text/html" },
    { "ico",    "image/vnd.microsoft.icon" },
    { "jpeg",   "image/jpeg" },
    { "jpg",    "image/jpeg" },
    { "js",     "text/javascript" },
    { "json",   "application/json" },
    { "md",     "text/markdown" },
    { "mjs",    "text/javascript" },
    { "mp3",    "audio/mpeg" },
    { "mp4",    "video/mp4" },
    { "ogg",    "audio/ogg" },
    { "otf",    "font/otf" },
    { "pdf",    "application/pdf" },
    { "png",    "image/png" },
    { "svg",    "image/svg+xml" },
    { "tar",    "application/x-tar" },
    { "ttf",    "font/ttf" },
    { "txt",    "text/plain" },
    { "wasm",   "application/wasm" },
    { "webm",   "video/webm" },
    { "webp",   "image/webp" },
    { "woff",   "font/woff" },
    { "woff2",  "font/woff2" },
    { "xhtml",  "application/xhtml+xml" },
    { "xml",    "application/xml" },
    { "zip",    "application/zip" },
};

#define MOD_STATIC_MIME_NBUILTIN                                             \
    (sizeof(mod_static_mime_builtin) / sizeof(mod_static_mime_builtin[0]))


static uint32_t mod_static_mime_hash(const char *s, size_t len);
static size_t mod_static_mime_ext_of(const char *path, char *buf);
static int mod_static_mime_ext_ok(const char *ext, size_t len);
static int mod_static_mime_type_ok(const char *type, size_t len);
static char *mod_static_mime_strdup(mod_static_mime_t *t, const char *s,
                                    size_t len);
static int mod_static_mime_grow(mod_static_mime_t *t);
static int mod_static_mime_insert(mod_static_mime_t *t, const char *ext,
                                  size_t len, const char *type,
                                  unsigned origin);
static int mod_static_mime_builtin_cmp(const void *key, const void *elem);


mod_static_mime_t *
mod_static_mime_create(void)
{
    mod_static_mime_t                *t;
    const mod_static_mime_builtin_t  *b;
    size_t                            i;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }

    t->slots = calloc(MOD_STATIC_MIME_SLOTS_MIN,
                      sizeof(mod_static_mime_slot_t));
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    t->mask = MOD_STATIC_MIME_SLOTS_MIN - 1;

    /* The built-in strings are static: origin 0, nothing copied. */
    for (i = 0; i < MOD_STATIC_MIME_NBUILTIN; i++) {
        b = &mod_static_mime_builtin[i];
        if (mod_static_mime_insert(t, b->ext, strlen(b->ext), b->type, 0)
            != 0)
        {
            mod_static_mime_destroy(t);
            return NULL;
        }
    }

    return t;
}


void
mod_static_mime_destroy(mod_static_mime_t *t)
{
    mod_static_mime_block_t  *b, *next;

    if (t == NULL) {
        return;
    }

    for (b = t->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }

    free(t->slots);
    free(t);
}


int
mod_static_mime_add(mod_static_mime_t *t, const char *ext, const char *type)
{
    size_t       elen, tlen;
    const char  *copy;

    if (ext[0] == '.') {
        ext++;
    }
    elen = strlen(ext);
    tlen = strlen(type);

    if (!mod_static_mime_ext_ok(ext, elen)
        || !mod_static_mime_type_ok(type, tlen))
    {
        return -1;
    }

    copy = mod_static_mime_strdup(t, type, tlen);
    if (copy == NULL) {
        return -1;
    }

    return mod_static_mime_insert(t, ext, elen, copy, ++t->origin);
}


int
mod_static_mime_load(mod_static_mime_t *t, const char *file)
{
    FILE      *fp;
    char      *line, *p, *save, *tok, *name, *type;
    size_t     cap, len;
    unsigned   origin;
    int        n, err;

    fp = fopen(file, "re");
    if (fp == NULL) {
        return -1;
    }

    origin = ++t->origin;
    line = NULL;
    cap = 0;
    n = 0;
    err = 0;

    while (getline(&line, &cap, fp) != -1) {
        p = strchr(line, '#');
        if (p != NULL) {
            *p = '\0';
        }

        name = strtok_r(line, MOD_STATIC_MIME_SPACE, &save);
        if (name == NULL || !mod_static_mime_type_ok(name, strlen(name))) {
            continue;
        }

        /* The type is copied once, when its line names an extension. */
        type = NULL;

        while ((tok = strtok_r(NULL, MOD_STATIC_MIME_SPACE, &save)) != NULL) {
            if (tok[0] == '.') {
                tok++;
            }
            len = strlen(tok);
            if (!mod_static_mime_ext_ok(tok, len)) {
                continue;
            }

            if (type == NULL) {
                type = mod_static_mime_strdup(t, name, strlen(name));
                if (type == NULL) {
                    err = ENOMEM;
                    goto done;
                }
            }

            if (mod_static_mime_insert(t, tok, len, type, origin) != 0) {
                err = ENOMEM;
                goto done;
            }
            n++;
        }
    }

    if (ferror(fp)) {
        err = errno != 0 ? errno : EIO;
    }

done:

    free(line);
    fclose(fp);

    if (err != 0) {
        errno = err;
        return -1;
    }

    return n;
}


const char *
mod_static_mime_lookup(const mod_static_mime_t *t, const char *path)
{
    char                              ext[MOD_STATIC_MIME_EXT_MAX + 1];
    size_t                            len, i;
    uint32_t                          h;
    const mod_static_mime_slot_t     *s;
    const mod_static_mime_builtin_t  *b;

    len = mod_static_mime_ext_of(path, ext);
    if (len == 0) {
        return MOD_STATIC_MIME_DEFAULT;
    }

    if (t == NULL) {
        b = bsearch(ext, mod_static_mime_builtin, MOD_STATIC_MIME_NBUILTIN,
                    sizeof(mod_static_mime_builtin[0]),
                    mod_static_mime_builtin_cmp);
        return b != NULL ? b->type : MOD_STATIC_MIME_DEFAULT;
    }

    h = mod_static_mime_hash(ext, len);

    for (i = h & t->mask; ; i = (i + 1) & t->mask) {
        s = &t->slots[i];
        if (s->ext == NULL) {
            return MOD_STATIC_MIME_DEFAULT;
        }
        if (s->hash == h && memcmp(s->ext, ext, len + 1) == 0) {
            return s->type;
        }
    }
}


size_t
mod_static_mime_count(const mod_static_mime_t *t)
{
    return t != NULL ? t->count : MOD_STATIC_MIME_NBUILTIN;
}


int
mod_static_mime_is_text(const char *type)
{
    size_t  len;

    if (strncasecmp(type, "text/", 5) == 0) {
        return 1;
    }

    len = strcspn(type, "; \t");

    return (len == 22 && strncasecmp(type, "application/javascript", 22) == 0)
           || (len == 16 && strncasecmp(type, "application/json", 16) == 0);
}


/* FNV-1a, 32 bits. */
static uint32_t
mod_static_mime_hash(const char *s, size_t len)
{
    uint32_t  h;
    size_t    i;

    h = 2166136261u;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }

    return h;
}


/*
 * Copies the lower-cased extension of path's last segment into buf
 * (MOD_STATIC_MIME_EXT_MAX + 1 bytes) and returns its length; 0 when
 * there is none, it is empty, or it is too long to be in any table.
 */
static size_t
mod_static_mime_ext_of(const char *path, char *buf)
{
    const char  *end, *p, *dot;
    size_t       len, i;
    char         c;

    end = path + strlen(path);
    dot = NULL;

    for (p = end; p > path; p--) {
        if (p[-1] == '/') {
            break;
        }
        if (p[-1] == '.') {
            dot = p - 1;
            break;
        }
    }

    /* No dot, or the name's only dot is its first byte (".profile"). */
    if (dot == NULL || dot == path || dot[-1] == '/') {
        return 0;
    }

    len = (size_t) (end - dot - 1);
    if (len == 0 || len > MOD_STATIC_MIME_EXT_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = dot[1 + i];
        buf[i] = (char) (c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    buf[len] = '\0';

    return len;
}


static int
mod_static_mime_ext_ok(const char *ext, size_t len)
{
    size_t  i;

    if (len == 0 || len > MOD_STATIC_MIME_EXT_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) ext[i] <= ' ' || ext[i] == '/' || ext[i] == 0x7f)
        {
            return 0;
        }
    }

    return 1;
}


/* A type is "x/y" made of visible characters that need no quoting in a
 * Content-Type header. */
static int
mod_static_mime_type_ok(const char *type, size_t len)
{
    size_t  i, slashes;

    if (len < 3 || len > MOD_STATIC_MIME_TYPE_MAX) {
        return 0;
    }

    slashes = 0;
    for (i = 0; i < len; i++) {
        if ((unsigned char) type[i] <= ' ' || (unsigned char) type[i] >= 0x7f
            || strchr("\"(),;<>=?@[\\]{}:", type[i]) != NULL)
        {
            return 0;
        }
        slashes += type[i] == '/';
    }

    return slashes == 1 && type[0] != '/' && type[len - 1] != '/';
}


/* Copies len bytes of s, NUL-terminated, into the table's blocks. */
static char *
mod_static_mime_strdup(mod_static_mime_t *t, const char *s, size_t len)
{
    mod_static_mime_block_t  *b;
    size_t                    size;
    char                     *p;

    b = t->blocks;

    if (b == NULL || b->size - b->used < len + 1) {
        size = len + 1 > MOD_STATIC_MIME_BLOCK ? len + 1
                                               : MOD_STATIC_MIME_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (b == NULL) {
            return NULL;
        }
        b->next = t->blocks;
        b->used = 0;
        b->size = size;
        t->blocks = b;
    }

    p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;

    return p;
}


/* Doubles the number of slots and re-inserts every entry. */
static int
mod_static_mime_grow(mod_static_mime_t *t)
{
    mod_static_mime_slot_t  *old, *slots;
    size_t                   n, i, j, mask;

    n = (t->mask + 1) * 2;
    slots = calloc(n, sizeof(mod_static_mime_slot_t));
    if (slots == NULL) {
        return -1;
    }
    mask = n - 1;

    old = t->slots;
    for (i = 0; i <= t->mask; i++) {
        if (old[i].ext == NULL) {
            continue;
        }
        j = old[i].hash & mask;
        while (slots[j].ext != NULL) {
            j = (j + 1) & mask;
        }
        slots[j] = old[i];
    }

    free(old);
    t->slots = slots;
    t->mask = mask;

    return 0;
}


/*
 * Maps ext (len bytes, any case) to type, which the table already owns.
 * An entry set by the same origin is kept: the first line of a file
 * wins over later ones, while a later load replaces an earlier one.
 */
static int
mod_static_mime_insert(mod_static_mime_t *t, const char *ext, size_t len,
                       const char *type, unsigned origin)
{
    char                     lower[MOD_STATIC_MIME_EXT_MAX + 1];
    size_t                   i;
    uint32_t                 h;
    mod_static_mime_slot_t  *s;
    const char              *copy;

    for (i = 0; i < len; i++) {
        lower[i] = (char) (ext[i] >= 'A' && ext[i] <= 'Z'
                           ? ext[i] | 0x20 : ext[i]);
    }
    lower[len] = '\0';

    if ((t->count + 1) * 4 > (t->mask + 1) * 3
        && mod_static_mime_grow(t) != 0)
    {
        return -1;
    }

    h = mod_static_mime_hash(lower, len);

    for (i = h & t->mask; ; i = (i + 1) & t->mask) {
        s = &t->slots[i];
        if (s->ext == NULL) {
            break;
        }
        if (s->hash == h && strcmp(s->ext, lower) == 0) {
            if (s->origin != origin) {
                s->type = type;
                s->origin = origin;
            }
            return 0;
        }
    }

    /* Built-in extensions are static strings already in lower case. */
    if (origin == 0) {
        copy = ext;
    } else {
        copy = mod_static_mime_strdup(t, lower, len);
        if (copy == NULL) {
            return -1;
        }
    }

    s->ext = copy;
    s->type = type;
    s->hash = h;
    s->origin = origin;
    t->count++;

    return 0;
}


static int
mod_static_mime_builtin_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const mod_static_mime_builtin_t *) elem)->ext);
}
