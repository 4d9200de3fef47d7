/*
 * modules/static/mime.h: media types by file name extension.
 *
 * A table maps lower-case extensions ("html") to media types
 * ("text/html").  It starts with a small built-in set and takes more from
 * files in the mime.types format ("type ext ext ...", '#' comments).
 * Lookups hash the extension once and never allocate, so they are cheap
 * enough for every request.  A table is built before the worker serves
 * and read-only afterwards; it is not thread-safe while being built.
 */

#ifndef MOD_STATIC_MIME_H
#define MOD_STATIC_MIME_H

#include <stddef.h>

/* What a file with no known extension is served as. */
#define MOD_STATIC_MIME_DEFAULT     "application/octet-stream"

/* Longer extensions and types are ignored when loading. */
#define MOD_STATIC_MIME_EXT_MAX     31
#define MOD_STATIC_MIME_TYPE_MAX    127

typedef struct mod_static_mime_s  mod_static_mime_t;


/*
 * Returns a new table holding the built-in types, or NULL when memory
 * runs out.  Free it with mod_static_mime_destroy().
 */
mod_static_mime_t *mod_static_mime_create(void);

/* Frees the table and every string it holds; NULL is ignored. */
void mod_static_mime_destroy(mod_static_mime_t *t);

/*
 * Maps ext (with or without a leading '.', any case) to type, replacing
 * what the extension meant before.  Both strings are copied.  Returns 0,
 * or -1 when the extension or the type is not acceptable (empty, too
 * long, containing '/' or white space, a type without '/') or memory
 * runs out.
 */
int mod_static_mime_add(mod_static_mime_t *t, const char *ext,
                        const char *type);

/*
 * Reads a mime.types file: one media type per line followed by its
 * extensions, separated by white space; '#' starts a comment; lines
 * without extensions or with a malformed type are skipped.  What the file
 * says replaces the built-in types; within the file the first line naming
 * an extension wins.  Returns the number of extensions read, or -1 with
 * errno set when the file cannot be read or memory runs out.
 */
int mod_static_mime_load(mod_static_mime_t *t, const char *file);

/*
 * The media type of the file name or path (the extension after the last
 * '.' of the last segment, case-insensitive; "a.tar.gz" is "gz", and a
 * name that starts with its only dot, ".profile", has none), or
 * MOD_STATIC_MIME_DEFAULT.  t NULL looks only at the built-in types.  The
 * result lives as long as the table.
 */
const char *mod_static_mime_lookup(const mod_static_mime_t *t,
                                   const char *path);

/* The number of extensions in the table. */
size_t mod_static_mime_count(const mod_static_mime_t *t);

/*
 * Whether a charset parameter belongs on type: text/..., and the
 * textual application types application/javascript and application/json.
 * Case-insensitive; parameters after ';' are not looked at.
 */
int mod_static_mime_is_text(const char *type);

#endif /* MOD_STATIC_MIME_H */
