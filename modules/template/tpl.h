/*
 * modules/template/tpl.h: the template engine of mod_template.
 *
 * A library with no dependency on the server: it compiles a template's
 * source into a tree once (tpl_compile) and renders that tree over
 * jansson values into a growable buffer (tpl_render), under limits on
 * the output size, the include/extends depth and the work done.  The
 * module, the unit tests (tests/unit/test_template.c) and the fuzz
 * target (tests/fuzz/fuzz_template.c) call it directly.
 *
 * Every error carries the template's name, a line and a column (1-based;
 * the column counts characters, not bytes) and a message, already joined
 * as "name:line:column: message".  No input makes it crash: a source of
 * any bytes compiles or fails with a position, and a render stops at its
 * limits.
 *
 * Compiled templates are reference counted and immutable; a render holds
 * a reference to every template it loads for an include or extends until
 * it is done with it, so a loader may replace its cached copy at any
 * time.  Nothing here is thread-safe beyond that: a worker owns its
 * templates.
 */

#ifndef MOD_TEMPLATE_TPL_H
#define MOD_TEMPLATE_TPL_H

#include <stddef.h>

#include <jansson.h>

/* The defaults of TemplateMaxOutput, TemplateMaxDepth and
 * TemplateMaxIterations. */
#define TPL_DEFAULT_MAX_OUTPUT      (8 * 1024 * 1024)
#define TPL_DEFAULT_MAX_DEPTH       16
#define TPL_DEFAULT_MAX_ITERATIONS  1000000

/* max_depth is never above this: the recursion of the parser and the
 * renderer stays far from the end of a stack. */
#define TPL_DEPTH_LIMIT             256

typedef struct tpl_s  tpl_t;

/* What went wrong. */
typedef enum {
    TPL_OK = 0,
    TPL_ERR_SYNTAX,             /* the source does not compile */
    TPL_ERR_OUTPUT,             /* more output than max_output */
    TPL_ERR_DEPTH,              /* include/extends/nesting past max_depth */
    TPL_ERR_ITERATIONS,         /* more than max_iterations */
    TPL_ERR_LOAD,               /* an include or extends could not load */
    TPL_ERR_MEMORY              /* out of memory */
} tpl_status_t;

typedef struct {
    tpl_status_t  status;
    unsigned      line;
    unsigned      column;
    char          message[512]; /* "name:line:column: what happened" */
} tpl_error_t;

/* A growable output buffer; data is NUL-terminated when len > 0. */
typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
} tpl_buf_t;

/*
 * Resolves the name of an include or extends, written in template from,
 * to a compiled template.  Returns a new reference (the renderer releases
 * it with tpl_unref), or NULL after filling err (its status is then
 * TPL_ERR_LOAD, or TPL_ERR_SYNTAX with the position inside the loaded
 * template).
 */
typedef tpl_t *(*tpl_load_cb)(void *ctx, const tpl_t *from,
                              const char *name, tpl_error_t *err);

/*
 * Names the caller provides besides the data, looked up before the
 * data's members: a value that lives as long as the render, or NULL.
 * The caller may make the value on its first lookup (mod_template makes
 * "request" only for pages that print it).
 */
typedef json_t *(*tpl_lookup_cb)(void *ctx, const char *name);

typedef struct {
    size_t          max_output;     /* bytes; 0: TPL_DEFAULT_MAX_OUTPUT */
    unsigned        max_depth;      /* 0: TPL_DEFAULT_MAX_DEPTH */
    unsigned long   max_iterations; /* loop iterations plus includes and
                                       extends; 0: the default */
    tpl_load_cb     load;           /* NULL: include/extends fail */
    void           *load_ctx;
    tpl_lookup_cb   lookup;         /* NULL: names come from data only */
    void           *lookup_ctx;
} tpl_env_t;


/*
 * Compiles len bytes of src (not NUL-terminated) under name, the name
 * used in messages and passed to the loader.  Statement nesting deeper
 * than max_depth (0: the default) is a syntax error.  Returns a
 * template with one reference, or NULL with err filled.
 */
tpl_t *tpl_compile(const char *name, const char *src, size_t len,
                   unsigned max_depth, tpl_error_t *err);

tpl_t *tpl_ref(tpl_t *t);
void tpl_unref(tpl_t *t);

const char *tpl_name(const tpl_t *t);

/*
 * Renders t over data (an object whose members are the top-level names;
 * NULL or another type: no names) and appends the result to out.
 * Returns 0, or -1 with err filled; out then holds a partial result the
 * caller discards.
 */
int tpl_render(tpl_t *t, json_t *data, const tpl_env_t *env,
               tpl_buf_t *out, tpl_error_t *err);

void tpl_buf_free(tpl_buf_t *b);

#endif /* MOD_TEMPLATE_TPL_H */
