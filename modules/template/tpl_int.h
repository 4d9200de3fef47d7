/*
 * modules/template/tpl_int.h: what the files of the engine share.
 *
 *   tpl_lex.c     source -> tokens (text, tag openers and closers,
 *                 expression tokens), whitespace control, comments
 *   tpl_parse.c   tokens -> tree of statements and expressions
 *   tpl_render.c  tree + jansson data -> bytes, with the limits
 *   tpl_filter.c  the filters (upper, join, json, date, ...)
 *
 * A compiled template owns a pool of chunks holding its tree, names and
 * decoded strings, and a jansson array holding its literals.
 */

#ifndef MOD_TEMPLATE_TPL_INT_H
#define MOD_TEMPLATE_TPL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tpl.h"

/* Expressions nest at most this deep (parentheses, 'not', arguments). */
#define TPL_EXPR_DEPTH      64

#define TPL_DEPTH_MAX       TPL_DEPTH_LIMIT

/* Templates a render has open at once: one per include/extends level. */
#define TPL_CHAIN_MAX       (TPL_DEPTH_MAX + 1)

/* A filter takes at most this many arguments. */
#define TPL_FILTER_ARGS     2


typedef struct tpl_chunk_s  tpl_chunk_t;

struct tpl_chunk_s {
    tpl_chunk_t  *next;
    size_t        used;
    size_t        size;
    max_align_t   data[];
};

typedef struct {
    tpl_chunk_t  *head;
} tpl_pool_t;


typedef enum {
    TPL_T_EOF = 0,
    TPL_T_TEXT,
    TPL_T_OPEN_VAR,             /* {{ */
    TPL_T_OPEN_STMT,            /* {% */
    TPL_T_CLOSE_VAR,            /* }} */
    TPL_T_CLOSE_STMT,           /* %} */
    TPL_T_NAME,
    TPL_T_STRING,
    TPL_T_INT,
    TPL_T_REAL,
    TPL_T_DOT,
    TPL_T_COMMA,
    TPL_T_PIPE,
    TPL_T_LPAREN,
    TPL_T_RPAREN,
    TPL_T_LBRACKET,
    TPL_T_RBRACKET,
    TPL_T_ASSIGN,
    TPL_T_EQ,
    TPL_T_NE,
    TPL_T_LT,
    TPL_T_LE,
    TPL_T_GT,
    TPL_T_GE
} tpl_tok_type_t;

typedef struct {
    tpl_tok_type_t   type;
    unsigned         line;
    unsigned         col;
    const char      *s;         /* text, name or decoded string */
    size_t           len;
    json_int_t       i;
    double           d;
} tpl_tok_t;

typedef struct {
    tpl_tok_t       *toks;
    size_t           n;
    size_t           cap;
} tpl_toks_t;


typedef enum {
    TPL_E_LIT = 0,
    TPL_E_VAR,
    TPL_E_ATTR,
    TPL_E_INDEX,
    TPL_E_FILTER,
    TPL_E_NOT,
    TPL_E_AND,
    TPL_E_OR,
    TPL_E_CMP
} tpl_expr_type_t;

typedef enum {
    TPL_OP_EQ = 0,
    TPL_OP_NE,
    TPL_OP_LT,
    TPL_OP_LE,
    TPL_OP_GT,
    TPL_OP_GE,
    TPL_OP_IN,
    TPL_OP_NOT_IN
} tpl_op_t;

typedef struct tpl_expr_s    tpl_expr_t;
typedef struct tpl_node_s    tpl_node_t;
typedef struct tpl_filter_s  tpl_filter_t;
typedef struct tpl_ctx_s     tpl_ctx_t;

struct tpl_expr_s {
    tpl_expr_type_t  type;
    unsigned         line;
    unsigned         col;
    union {
        json_t      *lit;
        const char  *name;
        struct {
            tpl_expr_t  *obj;
            const char  *name;
            size_t       len;
        } attr;
        struct {
            tpl_expr_t  *obj;
            tpl_expr_t  *index;
        } index;
        struct {
            const tpl_filter_t  *f;
            tpl_expr_t          *arg;
            tpl_expr_t          *args[TPL_FILTER_ARGS];
            unsigned             nargs;
        } filter;
        struct {
            tpl_expr_t  *a;
            tpl_expr_t  *b;
            tpl_op_t     op;
        } bin;
    } u;
};


typedef enum {
    TPL_N_TEXT = 0,
    TPL_N_OUTPUT,
    TPL_N_IF,
    TPL_N_FOR,
    TPL_N_SET,
    TPL_N_INCLUDE,
    TPL_N_BLOCK
} tpl_node_type_t;

struct tpl_node_s {
    tpl_node_type_t  type;
    unsigned         line;
    unsigned         col;
    tpl_node_t      *next;
    union {
        struct {
            const char  *s;
            size_t       len;
        } text;
        tpl_expr_t      *out;
        struct {
            tpl_expr_t  *cond;
            tpl_node_t  *then;
            tpl_node_t  *otherwise;     /* an elif is an IF here */
            int          elif;          /* this IF is an elif */
        } cond;
        struct {
            const char  *key;           /* NULL with one name */
            const char  *value;
            tpl_expr_t  *seq;
            tpl_node_t  *body;
            tpl_node_t  *empty;         /* {% else %} */
        } loop;
        struct {
            const char  *name;
            tpl_expr_t  *e;
        } set;
        const char      *include;
        struct {
            const char  *name;
            tpl_node_t  *body;
            tpl_node_t  *next_block;    /* the template's block list */
        } block;
    } u;
};


struct tpl_s {
    unsigned         refs;
    char            *name;
    tpl_pool_t       pool;
    json_t          *consts;        /* holds every literal */
    tpl_node_t      *body;
    const char      *extends;       /* the parent's name, or NULL */
    unsigned         extends_line;
    unsigned         extends_col;
    tpl_node_t      *blocks;
};


/*
 * A value while rendering: whether it is markup already (raw, json,
 * urlencode), which output does not escape, and whether the value holds
 * a reference of its own.  Most values are borrowed: a literal of the
 * template, a member of the data, a variable's value, all of which
 * outlive the expression; only what an expression makes (a filter's
 * result, a loop member) is owned.  Borrowing spares the atomic
 * increments and decrements of jansson's reference counts on every name
 * a page prints.
 */
typedef struct {
    json_t          *v;
    int              safe;
    int              owned;
} tpl_val_t;

/* Lets go of v's value, leaving null. */
static inline void
tpl_val_drop(tpl_val_t *v)
{
    if (v->owned) {
        json_decref(v->v);
    }
    v->v = json_null();
    v->owned = 0;
}

/* v's value becomes n, a new reference (the old one is let go). */
static inline void
tpl_val_set(tpl_val_t *v, json_t *n)
{
    if (v->owned) {
        json_decref(v->v);
    }
    v->v = n;
    v->owned = 1;
}

/* A reference of the caller's own to v's value, which v gives up. */
static inline json_t *
tpl_val_take(tpl_val_t *v)
{
    json_t  *n = v->owned ? v->v : json_incref(v->v);

    v->v = json_null();
    v->owned = 0;

    return n;
}

typedef int (*tpl_filter_cb)(tpl_ctx_t *ctx, const tpl_expr_t *e,
                             tpl_val_t *v, json_t **args);

struct tpl_filter_s {
    const char      *name;
    unsigned         min_args;
    unsigned         max_args;
    tpl_filter_cb    fn;
};


/* tpl_lex.c */
void *tpl_pool_alloc(tpl_pool_t *p, size_t size);
char *tpl_pool_strndup(tpl_pool_t *p, const char *s, size_t len);
void tpl_pool_free(tpl_pool_t *p);
int tpl_lex(tpl_t *t, const char *src, size_t len, tpl_toks_t *out,
            tpl_error_t *err);
void tpl_set_error(tpl_error_t *err, tpl_status_t status, const char *name,
                   unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* tpl_parse.c */
int tpl_parse(tpl_t *t, const tpl_toks_t *toks, unsigned max_depth,
              tpl_error_t *err);

/* tpl_filter.c */
const tpl_filter_t *tpl_filter_find(const char *name, size_t len);

/* tpl_render.c, for the filters */
int tpl_ctx_fail(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_status_t status,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
char *tpl_stringify(const json_t *v, size_t *len);
int tpl_truthy(const json_t *v);
size_t tpl_ctx_max_output(const tpl_ctx_t *ctx);
size_t tpl_utf8_length(const char *s, size_t len);

#endif /* MOD_TEMPLATE_TPL_INT_H */
