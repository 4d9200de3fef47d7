/*
 * modules/template/tpl_parse.c: tokens -> the tree of a template.
 *
 * Statements:  {% if e %} {% elif e %} {% else %} {% end %}
 *              {% for x in e %} / {% for k, v in e %} {% else %} {% end %}
 *              {% set name = e %}  {% include "name" %}
 *              {% extends "name" %}  {% block name %} {% end %}
 * {% endif %}, {% endfor %} and {% endblock [name] %} are spellings of
 * {% end %} for the statement they close.
 *
 * Expressions, loosest first:
 *
 *     or      and ('or' and)*
 *     and     not ('and' not)*
 *     not     'not' not | cmp
 *     cmp     filtered (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in'
 *                        | 'not' 'in') filtered)?
 *     filtered  postfix ('|' NAME ('(' args ')')?)*
 *     postfix   primary ('.' NAME | '.' INT | '[' or ']')*
 *     primary   STRING | INT | REAL | true | false | null | NAME
 *               | '(' or ')' | '[' (literal (',' literal)*)? ']'
 *
 * The parser recurses, so both statement and expression nesting are
 * bounded before they can use up the stack.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_int.h"

/* A name the template uses, interned (see tpl_parse_name). */
typedef struct tpl_name_s  tpl_name_t;

struct tpl_name_s {
    tpl_name_t  *next;
    const char  *s;
    size_t       len;
};

#define TPL_NAME_BUCKETS    64

typedef struct {
    tpl_t            *t;
    const tpl_tok_t  *tok;
    tpl_error_t      *err;
    unsigned          depth;
    unsigned          max_depth;
    unsigned          edepth;
    tpl_name_t       *names[TPL_NAME_BUCKETS];
} tpl_parser_t;

typedef enum {
    TPL_CLOSES_IF = 0,
    TPL_CLOSES_FOR,
    TPL_CLOSES_BLOCK
} tpl_closes_t;


static int tpl_parse_body(tpl_parser_t *ps, tpl_node_t **body,
                          const tpl_tok_t **end);
static int tpl_parse_stmt(tpl_parser_t *ps, const tpl_tok_t *open,
                          tpl_node_t **node);
static tpl_node_t *tpl_parse_if(tpl_parser_t *ps, const tpl_tok_t *open);
static tpl_node_t *tpl_parse_for(tpl_parser_t *ps, const tpl_tok_t *open);
static tpl_node_t *tpl_parse_block(tpl_parser_t *ps, const tpl_tok_t *open);
static int tpl_parse_nested(tpl_parser_t *ps, const tpl_tok_t *open,
                            const char *what, tpl_node_t **body,
                            const tpl_tok_t **end);
static int tpl_parse_closer(tpl_parser_t *ps, const tpl_tok_t *open,
                            const char *what, const tpl_tok_t *kw,
                            tpl_closes_t closes);
static tpl_expr_t *tpl_parse_expr(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_logic(tpl_parser_t *ps, size_t level);
static tpl_expr_t *tpl_parse_not(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_cmp(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_filtered(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_postfix(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_primary(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_list(tpl_parser_t *ps);
static tpl_expr_t *tpl_parse_lit(tpl_parser_t *ps, const tpl_tok_t *tok,
                                 json_t *v);
static const char *tpl_parse_var_name(tpl_parser_t *ps);
static const char *tpl_parse_name(tpl_parser_t *ps, const char *s,
                                  size_t len);
static const char *tpl_parse_template_name(tpl_parser_t *ps);
static int tpl_expect(tpl_parser_t *ps, tpl_tok_type_t type,
                      const char *what);
static int tpl_is_name(const tpl_tok_t *tok, const char *name);
static int tpl_is_keyword(const tpl_tok_t *tok);
static void *tpl_new(tpl_parser_t *ps, size_t size, const tpl_tok_t *at);
static tpl_node_t *tpl_new_node(tpl_parser_t *ps, tpl_node_type_t type,
                                const tpl_tok_t *at);
static tpl_expr_t *tpl_new_expr(tpl_parser_t *ps, tpl_expr_type_t type,
                                const tpl_tok_t *at);
static void tpl_fail(tpl_parser_t *ps, const tpl_tok_t *at,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tpl_unexpected(tpl_parser_t *ps, const char *expected);
static void tpl_advance(tpl_parser_t *ps);


/* ------------------------------------------------------------------ */
/* Templates                                                           */
/* ------------------------------------------------------------------ */

tpl_t *
tpl_compile(const char *name, const char *src, size_t len,
            unsigned max_depth, tpl_error_t *err)
{
    tpl_t       *t;
    tpl_toks_t   toks;
    char        *copy;

    memset(err, 0, sizeof(*err));
    memset(&toks, 0, sizeof(toks));

    t = calloc(1, sizeof(tpl_t));
    if (t == NULL) {
        tpl_set_error(err, TPL_ERR_MEMORY, name, 1, 1, "out of memory");
        return NULL;
    }
    t->refs = 1;
    t->name = strdup(name);
    t->consts = json_array();
    if (t->name == NULL || t->consts == NULL) {
        tpl_set_error(err, TPL_ERR_MEMORY, name, 1, 1, "out of memory");
        goto failed;
    }

    if (max_depth == 0) {
        max_depth = TPL_DEFAULT_MAX_DEPTH;
    }
    if (max_depth > TPL_DEPTH_MAX) {
        max_depth = TPL_DEPTH_MAX;
    }

    /* Text nodes point into the template's own copy of the source. */
    copy = tpl_pool_strndup(&t->pool, src, len);
    if (copy == NULL) {
        tpl_set_error(err, TPL_ERR_MEMORY, name, 1, 1, "out of memory");
        goto failed;
    }

    if (tpl_lex(t, copy, len, &toks, err) != 0
        || tpl_parse(t, &toks, max_depth, err) != 0)
    {
        goto failed;
    }

    free(toks.toks);

    return t;

failed:

    free(toks.toks);
    tpl_unref(t);

    return NULL;
}


tpl_t *
tpl_ref(tpl_t *t)
{
    t->refs++;
    return t;
}


void
tpl_unref(tpl_t *t)
{
    if (t == NULL || --t->refs > 0) {
        return;
    }
    json_decref(t->consts);
    tpl_pool_free(&t->pool);
    free(t->name);
    free(t);
}


const char *
tpl_name(const tpl_t *t)
{
    return t->name;
}


int
tpl_parse(tpl_t *t, const tpl_toks_t *toks, unsigned max_depth,
          tpl_error_t *err)
{
    tpl_parser_t      ps;
    const tpl_tok_t  *end;

    memset(&ps, 0, sizeof(ps));
    ps.t = t;
    ps.tok = toks->toks;
    ps.err = err;
    ps.max_depth = max_depth;

    if (tpl_parse_body(&ps, &t->body, &end) != 0) {
        return -1;
    }
    if (end->type != TPL_T_EOF) {
        /* A closing keyword with nothing open. */
        tpl_fail(&ps, end - 1, "'{%% %.*s %%}' without an open statement",
                 (int) end->len, end->s);
        return -1;
    }

    return 0;
}


/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

/*
 * A list of nodes up to the end of the template or to a keyword that
 * belongs to an enclosing statement (else, elif, end...).  *end is that
 * keyword's token (ps->tok stays on it) or the EOF token.
 */
static int
tpl_parse_body(tpl_parser_t *ps, tpl_node_t **body, const tpl_tok_t **end)
{
    static const char  *closers[] = {
        "end", "endif", "endfor", "endblock", "elif", "else", NULL
    };
    const tpl_tok_t    *open, *kw;
    tpl_node_t         *node, **tail = body;
    size_t              i;

    *body = NULL;

    for ( ;; ) {
        open = ps->tok;
        node = NULL;

        switch (open->type) {

        case TPL_T_EOF:
            *end = open;
            return 0;

        case TPL_T_TEXT:
            node = tpl_new_node(ps, TPL_N_TEXT, open);
            if (node == NULL) {
                return -1;
            }
            node->u.text.s = open->s;
            node->u.text.len = open->len;
            tpl_advance(ps);
            break;

        case TPL_T_OPEN_VAR:
            tpl_advance(ps);
            node = tpl_new_node(ps, TPL_N_OUTPUT, open);
            if (node == NULL) {
                return -1;
            }
            node->u.out = tpl_parse_expr(ps);
            if (node->u.out == NULL
                || tpl_expect(ps, TPL_T_CLOSE_VAR, "'}}'") != 0)
            {
                return -1;
            }
            break;

        case TPL_T_OPEN_STMT:
            kw = open + 1;
            if (kw->type != TPL_T_NAME) {
                tpl_advance(ps);
                tpl_unexpected(ps, "a statement");
                return -1;
            }
            for (i = 0; closers[i] != NULL; i++) {
                if (tpl_is_name(kw, closers[i])) {
                    tpl_advance(ps);
                    *end = kw;
                    return 0;
                }
            }
            if (tpl_parse_stmt(ps, open, &node) != 0) {
                return -1;
            }
            break;

        default:
            /* The lexer yields nothing else outside tags. */
            tpl_unexpected(ps, "text or a tag");
            return -1;
        }

        if (node != NULL) {
            *tail = node;
            tail = &node->next;
        }
    }
}


static int
tpl_parse_stmt(tpl_parser_t *ps, const tpl_tok_t *open, tpl_node_t **node)
{
    const tpl_tok_t  *kw = open + 1;
    tpl_node_t       *n;
    const char       *name;

    tpl_advance(ps);

    if (tpl_is_name(kw, "if")) {
        *node = tpl_parse_if(ps, open);
        return *node != NULL ? 0 : -1;
    }
    if (tpl_is_name(kw, "for")) {
        *node = tpl_parse_for(ps, open);
        return *node != NULL ? 0 : -1;
    }
    if (tpl_is_name(kw, "block")) {
        *node = tpl_parse_block(ps, open);
        return *node != NULL ? 0 : -1;
    }

    if (tpl_is_name(kw, "set")) {
        tpl_advance(ps);
        n = tpl_new_node(ps, TPL_N_SET, open);
        if (n == NULL) {
            return -1;
        }
        n->u.set.name = tpl_parse_var_name(ps);
        if (n->u.set.name == NULL
            || tpl_expect(ps, TPL_T_ASSIGN, "'='") != 0)
        {
            return -1;
        }
        n->u.set.e = tpl_parse_expr(ps);
        if (n->u.set.e == NULL
            || tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0)
        {
            return -1;
        }
        *node = n;
        return 0;
    }

    if (tpl_is_name(kw, "include")) {
        tpl_advance(ps);
        n = tpl_new_node(ps, TPL_N_INCLUDE, open);
        if (n == NULL) {
            return -1;
        }
        n->u.include = tpl_parse_template_name(ps);
        if (n->u.include == NULL
            || tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0)
        {
            return -1;
        }
        *node = n;
        return 0;
    }

    if (tpl_is_name(kw, "extends")) {
        if (ps->depth > 0) {
            tpl_fail(ps, open, "'{%% extends %%}' inside a statement");
            return -1;
        }
        if (ps->t->extends != NULL) {
            tpl_fail(ps, open, "a second '{%% extends %%}' (the first is "
                     "at %u:%u)", ps->t->extends_line, ps->t->extends_col);
            return -1;
        }
        tpl_advance(ps);
        name = tpl_parse_template_name(ps);
        if (name == NULL || tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0) {
            return -1;
        }
        ps->t->extends = name;
        ps->t->extends_line = open->line;
        ps->t->extends_col = open->col;
        *node = NULL;
        return 0;
    }

    tpl_fail(ps, kw, "unknown statement '%.*s'",
             (int) (kw->len > 40 ? 40 : kw->len), kw->s);

    return -1;
}


static tpl_node_t *
tpl_parse_if(tpl_parser_t *ps, const tpl_tok_t *open)
{
    const tpl_tok_t  *end, *at = open;
    tpl_node_t       *node, *cur;

    node = tpl_new_node(ps, TPL_N_IF, open);
    if (node == NULL) {
        return NULL;
    }
    cur = node;

    /* ps->tok is on "if" or "elif". */
    for ( ;; ) {
        tpl_advance(ps);
        cur->u.cond.cond = tpl_parse_expr(ps);
        if (cur->u.cond.cond == NULL
            || tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0
            || tpl_parse_nested(ps, open, "if", &cur->u.cond.then, &end)
               != 0)
        {
            return NULL;
        }
        if (!tpl_is_name(end, "elif")) {
            break;
        }
        cur->u.cond.otherwise = tpl_new_node(ps, TPL_N_IF, end - 1);
        if (cur->u.cond.otherwise == NULL) {
            return NULL;
        }
        cur = cur->u.cond.otherwise;
        cur->u.cond.elif = 1;
    }

    if (tpl_is_name(end, "else")) {
        at = end - 1;
        tpl_advance(ps);
        if (tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0
            || tpl_parse_nested(ps, open, "if", &cur->u.cond.otherwise,
                                &end) != 0)
        {
            return NULL;
        }
        if (tpl_is_name(end, "else") || tpl_is_name(end, "elif")) {
            tpl_fail(ps, end - 1, "'{%% %.*s %%}' after the '{%% else %%}' "
                     "at %u:%u", (int) end->len, end->s, at->line, at->col);
            return NULL;
        }
    }

    if (tpl_parse_closer(ps, open, "if", end, TPL_CLOSES_IF) != 0) {
        return NULL;
    }

    return node;
}


static tpl_node_t *
tpl_parse_for(tpl_parser_t *ps, const tpl_tok_t *open)
{
    const tpl_tok_t  *end;
    tpl_node_t       *node;
    const char       *name;

    node = tpl_new_node(ps, TPL_N_FOR, open);
    if (node == NULL) {
        return NULL;
    }

    tpl_advance(ps);
    name = tpl_parse_var_name(ps);
    if (name == NULL) {
        return NULL;
    }
    node->u.loop.value = name;
    if (ps->tok->type == TPL_T_COMMA) {
        tpl_advance(ps);
        node->u.loop.key = name;
        node->u.loop.value = tpl_parse_var_name(ps);
        if (node->u.loop.value == NULL) {
            return NULL;
        }
        if (strcmp(node->u.loop.key, node->u.loop.value) == 0) {
            tpl_fail(ps, ps->tok - 1, "'%s' named twice", name);
            return NULL;
        }
    }
    if (!tpl_is_name(ps->tok, "in")) {
        tpl_unexpected(ps, "'in'");
        return NULL;
    }
    tpl_advance(ps);

    node->u.loop.seq = tpl_parse_expr(ps);
    if (node->u.loop.seq == NULL
        || tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0
        || tpl_parse_nested(ps, open, "for", &node->u.loop.body, &end) != 0)
    {
        return NULL;
    }

    if (tpl_is_name(end, "else")) {
        tpl_advance(ps);
        if (tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0
            || tpl_parse_nested(ps, open, "for", &node->u.loop.empty, &end)
               != 0)
        {
            return NULL;
        }
    }

    if (tpl_parse_closer(ps, open, "for", end, TPL_CLOSES_FOR) != 0) {
        return NULL;
    }

    return node;
}


static tpl_node_t *
tpl_parse_block(tpl_parser_t *ps, const tpl_tok_t *open)
{
    const tpl_tok_t  *end;
    tpl_node_t       *node, *b;

    node = tpl_new_node(ps, TPL_N_BLOCK, open);
    if (node == NULL) {
        return NULL;
    }

    tpl_advance(ps);
    node->u.block.name = tpl_parse_var_name(ps);
    if (node->u.block.name == NULL) {
        return NULL;
    }
    for (b = ps->t->blocks; b != NULL; b = b->u.block.next_block) {
        if (strcmp(b->u.block.name, node->u.block.name) == 0) {
            tpl_fail(ps, ps->tok - 1, "block '%s' is already defined at "
                     "%u:%u", b->u.block.name, b->line, b->col);
            return NULL;
        }
    }
    node->u.block.next_block = ps->t->blocks;
    ps->t->blocks = node;

    if (tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'") != 0
        || tpl_parse_nested(ps, open, "block", &node->u.block.body, &end)
           != 0)
    {
        return NULL;
    }

    if (tpl_is_name(end, "endblock") && end[1].type == TPL_T_NAME) {
        /* {% endblock name %}: the name must be the block's. */
        if (end[1].len != strlen(node->u.block.name)
            || memcmp(end[1].s, node->u.block.name, end[1].len) != 0)
        {
            tpl_fail(ps, end + 1, "'{%% endblock %.*s %%}' closes block "
                     "'%s'", (int) (end[1].len > 40 ? 40 : end[1].len),
                     end[1].s, node->u.block.name);
            return NULL;
        }
        tpl_advance(ps);
    }

    if (tpl_parse_closer(ps, open, "block", end, TPL_CLOSES_BLOCK) != 0) {
        return NULL;
    }

    return node;
}


/* The body of a statement, one level deeper; a body that reaches the end
 * of the template is an unclosed statement. */
static int
tpl_parse_nested(tpl_parser_t *ps, const tpl_tok_t *open, const char *what,
                 tpl_node_t **body, const tpl_tok_t **end)
{
    int  rc;

    if (ps->depth >= ps->max_depth) {
        tpl_fail(ps, open, "statements nested deeper than %u",
                 ps->max_depth);
        return -1;
    }

    ps->depth++;
    rc = tpl_parse_body(ps, body, end);
    ps->depth--;

    if (rc == 0 && (*end)->type == TPL_T_EOF) {
        tpl_fail(ps, open, "'{%% %s %%}' is never closed", what);
        return -1;
    }

    return rc;
}


/* kw (where ps->tok is) must close what: "end" or its own spelling. */
static int
tpl_parse_closer(tpl_parser_t *ps, const tpl_tok_t *open, const char *what,
                 const tpl_tok_t *kw, tpl_closes_t closes)
{
    static const char  *own[] = { "endif", "endfor", "endblock" };

    if (!tpl_is_name(kw, "end") && !tpl_is_name(kw, own[closes])) {
        tpl_fail(ps, kw - 1, "'{%% %.*s %%}' where the '{%% %s %%}' at "
                 "%u:%u needs '{%% end %%}'", (int) kw->len, kw->s, what,
                 open->line, open->col);
        return -1;
    }

    tpl_advance(ps);

    return tpl_expect(ps, TPL_T_CLOSE_STMT, "'%}'");
}


/* ------------------------------------------------------------------ */
/* Expressions                                                         */
/* ------------------------------------------------------------------ */

static tpl_expr_t *
tpl_parse_expr(tpl_parser_t *ps)
{
    const tpl_tok_t  *at = ps->tok;
    tpl_expr_t       *a;

    if (++ps->edepth > TPL_EXPR_DEPTH) {
        tpl_fail(ps, at, "expression nested deeper than %d",
                 TPL_EXPR_DEPTH);
        return NULL;
    }

    a = tpl_parse_logic(ps, 0);

    ps->edepth--;

    return a;
}


/*
 * The binary logical operators, loosest first: each level is a chain of
 * operands of the next level (the last level's operands are 'not'
 * expressions) joined by its keyword, grouped from the left.
 */
static const struct {
    const char       *keyword;
    tpl_expr_type_t   type;
} tpl_logic[] = {
    { "or", TPL_E_OR },
    { "and", TPL_E_AND },
};

#define TPL_LOGIC_LEVELS  (sizeof(tpl_logic) / sizeof(tpl_logic[0]))


static tpl_expr_t *
tpl_parse_logic(tpl_parser_t *ps, size_t level)
{
    const tpl_tok_t  *at;
    tpl_expr_t       *a, *b, *e;

    if (level == TPL_LOGIC_LEVELS) {
        return tpl_parse_not(ps);
    }

    a = tpl_parse_logic(ps, level + 1);
    while (a != NULL && tpl_is_name(ps->tok, tpl_logic[level].keyword)) {
        at = ps->tok;
        tpl_advance(ps);
        b = tpl_parse_logic(ps, level + 1);
        if (b == NULL) {
            return NULL;
        }
        e = tpl_new_expr(ps, tpl_logic[level].type, at);
        if (e == NULL) {
            return NULL;
        }
        e->u.bin.a = a;
        e->u.bin.b = b;
        a = e;
    }

    return a;
}


static tpl_expr_t *
tpl_parse_not(tpl_parser_t *ps)
{
    const tpl_tok_t  *at = ps->tok;
    tpl_expr_t       *e;

    if (!tpl_is_name(at, "not")) {
        return tpl_parse_cmp(ps);
    }

    if (++ps->edepth > TPL_EXPR_DEPTH) {
        tpl_fail(ps, at, "expression nested deeper than %d",
                 TPL_EXPR_DEPTH);
        return NULL;
    }
    tpl_advance(ps);
    e = tpl_new_expr(ps, TPL_E_NOT, at);
    if (e == NULL) {
        return NULL;
    }
    e->u.bin.a = tpl_parse_not(ps);
    ps->edepth--;

    return e->u.bin.a != NULL ? e : NULL;
}


static tpl_expr_t *
tpl_parse_cmp(tpl_parser_t *ps)
{
    const tpl_tok_t  *at;
    tpl_expr_t       *a, *e;
    tpl_op_t          op;

    a = tpl_parse_filtered(ps);
    if (a == NULL) {
        return NULL;
    }

    at = ps->tok;
    switch (at->type) {
    case TPL_T_EQ: op = TPL_OP_EQ; break;
    case TPL_T_NE: op = TPL_OP_NE; break;
    case TPL_T_LT: op = TPL_OP_LT; break;
    case TPL_T_LE: op = TPL_OP_LE; break;
    case TPL_T_GT: op = TPL_OP_GT; break;
    case TPL_T_GE: op = TPL_OP_GE; break;
    default:
        if (tpl_is_name(at, "in")) {
            op = TPL_OP_IN;
        } else if (tpl_is_name(at, "not") && tpl_is_name(at + 1, "in")) {
            op = TPL_OP_NOT_IN;
            tpl_advance(ps);
        } else {
            return a;
        }
    }
    tpl_advance(ps);

    e = tpl_new_expr(ps, TPL_E_CMP, at);
    if (e == NULL) {
        return NULL;
    }
    e->u.bin.op = op;
    e->u.bin.a = a;
    e->u.bin.b = tpl_parse_filtered(ps);

    return e->u.bin.b != NULL ? e : NULL;
}


static tpl_expr_t *
tpl_parse_filtered(tpl_parser_t *ps)
{
    const tpl_tok_t     *at;
    const tpl_filter_t  *f;
    tpl_expr_t          *a, *e;

    a = tpl_parse_postfix(ps);

    while (a != NULL && ps->tok->type == TPL_T_PIPE) {
        tpl_advance(ps);
        at = ps->tok;
        if (at->type != TPL_T_NAME) {
            tpl_unexpected(ps, "a filter name");
            return NULL;
        }
        f = tpl_filter_find(at->s, at->len);
        if (f == NULL) {
            tpl_fail(ps, at, "unknown filter '%.*s'",
                     (int) (at->len > 40 ? 40 : at->len), at->s);
            return NULL;
        }
        tpl_advance(ps);

        e = tpl_new_expr(ps, TPL_E_FILTER, at);
        if (e == NULL) {
            return NULL;
        }
        e->u.filter.f = f;
        e->u.filter.arg = a;

        if (ps->tok->type == TPL_T_LPAREN) {
            tpl_advance(ps);
            while (ps->tok->type != TPL_T_RPAREN) {
                if (e->u.filter.nargs == f->max_args) {
                    tpl_fail(ps, ps->tok, "filter '%s' takes at most %u "
                             "argument%s", f->name, f->max_args,
                             f->max_args == 1 ? "" : "s");
                    return NULL;
                }
                if (e->u.filter.nargs > 0
                    && tpl_expect(ps, TPL_T_COMMA, "',' or ')'") != 0)
                {
                    return NULL;
                }
                e->u.filter.args[e->u.filter.nargs] = tpl_parse_expr(ps);
                if (e->u.filter.args[e->u.filter.nargs] == NULL) {
                    return NULL;
                }
                e->u.filter.nargs++;
            }
            tpl_advance(ps);
        }

        if (e->u.filter.nargs < f->min_args) {
            tpl_fail(ps, at, "filter '%s' needs %u argument%s", f->name,
                     f->min_args, f->min_args == 1 ? "" : "s");
            return NULL;
        }

        a = e;
    }

    return a;
}


static tpl_expr_t *
tpl_parse_postfix(tpl_parser_t *ps)
{
    const tpl_tok_t  *at;
    tpl_expr_t       *a, *e;

    a = tpl_parse_primary(ps);

    while (a != NULL) {
        at = ps->tok;

        if (at->type == TPL_T_DOT) {
            tpl_advance(ps);
            if (ps->tok->type == TPL_T_NAME) {
                e = tpl_new_expr(ps, TPL_E_ATTR, at);
                if (e == NULL) {
                    return NULL;
                }
                e->u.attr.len = ps->tok->len;
                e->u.attr.name = tpl_pool_strndup(&ps->t->pool, ps->tok->s,
                                                  ps->tok->len);
                if (e->u.attr.name == NULL) {
                    tpl_fail(ps, at, "out of memory");
                    return NULL;
                }
                e->u.attr.obj = a;
            } else if (ps->tok->type == TPL_T_INT) {
                /* items.0 is items[0]. */
                e = tpl_new_expr(ps, TPL_E_INDEX, at);
                if (e == NULL) {
                    return NULL;
                }
                e->u.index.index = tpl_parse_lit(ps, ps->tok,
                                                 json_integer(ps->tok->i));
                if (e->u.index.index == NULL) {
                    return NULL;
                }
                e->u.index.obj = a;
            } else {
                tpl_unexpected(ps, "a name after '.'");
                return NULL;
            }
            tpl_advance(ps);
            a = e;
            continue;
        }

        if (at->type == TPL_T_LBRACKET) {
            tpl_advance(ps);
            e = tpl_new_expr(ps, TPL_E_INDEX, at);
            if (e == NULL) {
                return NULL;
            }
            e->u.index.obj = a;
            e->u.index.index = tpl_parse_expr(ps);
            if (e->u.index.index == NULL
                || tpl_expect(ps, TPL_T_RBRACKET, "']'") != 0)
            {
                return NULL;
            }
            a = e;
            continue;
        }

        break;
    }

    return a;
}


static tpl_expr_t *
tpl_parse_primary(tpl_parser_t *ps)
{
    const tpl_tok_t  *at = ps->tok;
    tpl_expr_t       *e;

    switch (at->type) {

    case TPL_T_STRING:
        e = tpl_parse_lit(ps, at, json_stringn(at->s, at->len));
        break;

    case TPL_T_INT:
        e = tpl_parse_lit(ps, at, json_integer(at->i));
        break;

    case TPL_T_REAL:
        e = tpl_parse_lit(ps, at, json_real(at->d));
        break;

    case TPL_T_NAME:
        if (tpl_is_name(at, "true")) {
            e = tpl_parse_lit(ps, at, json_true());
        } else if (tpl_is_name(at, "false")) {
            e = tpl_parse_lit(ps, at, json_false());
        } else if (tpl_is_name(at, "null")) {
            e = tpl_parse_lit(ps, at, json_null());
        } else if (tpl_is_keyword(at)) {
            tpl_unexpected(ps, "an expression");
            return NULL;
        } else {
            e = tpl_new_expr(ps, TPL_E_VAR, at);
            if (e == NULL) {
                return NULL;
            }
            e->u.name = tpl_parse_name(ps, at->s, at->len);
            if (e->u.name == NULL) {
                tpl_fail(ps, at, "out of memory");
                return NULL;
            }
        }
        break;

    case TPL_T_LPAREN:
        tpl_advance(ps);
        e = tpl_parse_expr(ps);
        if (e == NULL || tpl_expect(ps, TPL_T_RPAREN, "')'") != 0) {
            return NULL;
        }
        return e;

    case TPL_T_LBRACKET:
        return tpl_parse_list(ps);

    default:
        tpl_unexpected(ps, "an expression");
        return NULL;
    }

    if (e != NULL) {
        tpl_advance(ps);
    }

    return e;
}


/*
 * A list, of literals only ([1, "a", null]): a constant.  Values built
 * at run time from other values could share parts, and a few lines of
 * them would make structures that take exponential time to compare or
 * print.
 */
static tpl_expr_t *
tpl_parse_list(tpl_parser_t *ps)
{
    const tpl_tok_t  *at = ps->tok, *tok;
    json_t           *list, *v;

    list = json_array();
    if (list == NULL || json_array_append_new(ps->t->consts, list) != 0) {
        tpl_fail(ps, at, "out of memory");
        return NULL;
    }
    tpl_advance(ps);

    while (ps->tok->type != TPL_T_RBRACKET) {
        if (json_array_size(list) > 0
            && tpl_expect(ps, TPL_T_COMMA, "',' or ']'") != 0)
        {
            return NULL;
        }
        tok = ps->tok;
        switch (tok->type) {
        case TPL_T_STRING: v = json_stringn(tok->s, tok->len); break;
        case TPL_T_INT: v = json_integer(tok->i); break;
        case TPL_T_REAL: v = json_real(tok->d); break;
        default:
            if (tpl_is_name(tok, "true")) {
                v = json_true();
            } else if (tpl_is_name(tok, "false")) {
                v = json_false();
            } else if (tpl_is_name(tok, "null")) {
                v = json_null();
            } else {
                tpl_unexpected(ps, "a literal (a list holds literals only)");
                return NULL;
            }
        }
        if (v == NULL || json_array_append_new(list, v) != 0) {
            tpl_fail(ps, tok, "out of memory");
            return NULL;
        }
        tpl_advance(ps);
    }
    tpl_advance(ps);

    json_incref(list);

    return tpl_parse_lit(ps, at, list);
}


/* A literal: v (a new reference, NULL when jansson failed) joins the
 * template's constants. */
static tpl_expr_t *
tpl_parse_lit(tpl_parser_t *ps, const tpl_tok_t *tok, json_t *v)
{
    tpl_expr_t  *e;

    if (v == NULL || json_array_append_new(ps->t->consts, v) != 0) {
        tpl_fail(ps, tok, "out of memory");
        return NULL;
    }

    e = tpl_new_expr(ps, TPL_E_LIT, tok);
    if (e != NULL) {
        e->u.lit = v;
    }

    return e;
}


/* A name that a statement binds: not a keyword, not "loop". */
static const char *
tpl_parse_var_name(tpl_parser_t *ps)
{
    const tpl_tok_t  *tok = ps->tok;
    const char       *name;

    if (tok->type != TPL_T_NAME || tpl_is_keyword(tok)
        || tpl_is_name(tok, "true") || tpl_is_name(tok, "false")
        || tpl_is_name(tok, "null"))
    {
        tpl_unexpected(ps, "a name");
        return NULL;
    }
    if (tpl_is_name(tok, "loop")) {
        tpl_fail(ps, tok, "'loop' is a reserved name");
        return NULL;
    }

    name = tpl_parse_name(ps, tok->s, tok->len);
    if (name == NULL) {
        tpl_fail(ps, tok, "out of memory");
        return NULL;
    }
    tpl_advance(ps);

    return name;
}


/*
 * The one copy of a variable's name in the template: the renderer finds
 * a variable by comparing pointers first, so the name a loop or a set
 * binds and the names that use it are the same string.  NULL: out of
 * memory.
 */
static const char *
tpl_parse_name(tpl_parser_t *ps, const char *s, size_t len)
{
    tpl_name_t  *nm;
    uint32_t     h = 2166136261u;
    size_t       i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }
    h %= TPL_NAME_BUCKETS;

    for (nm = ps->names[h]; nm != NULL; nm = nm->next) {
        if (nm->len == len && memcmp(nm->s, s, len) == 0) {
            return nm->s;
        }
    }

    nm = tpl_pool_alloc(&ps->t->pool, sizeof(tpl_name_t));
    if (nm == NULL || (nm->s = tpl_pool_strndup(&ps->t->pool, s, len)) == NULL)
    {
        return NULL;
    }
    nm->len = len;
    nm->next = ps->names[h];
    ps->names[h] = nm;

    return nm->s;
}


/* The quoted name of an include or extends. */
static const char *
tpl_parse_template_name(tpl_parser_t *ps)
{
    const tpl_tok_t  *tok = ps->tok;
    char             *name;

    if (tok->type != TPL_T_STRING) {
        tpl_unexpected(ps, "a quoted template name");
        return NULL;
    }
    if (tok->len == 0 || memchr(tok->s, '\0', tok->len) != NULL) {
        tpl_fail(ps, tok, "an empty template name or one with a NUL byte");
        return NULL;
    }

    name = tpl_pool_strndup(&ps->t->pool, tok->s, tok->len);
    if (name == NULL) {
        tpl_fail(ps, tok, "out of memory");
        return NULL;
    }
    tpl_advance(ps);

    return name;
}


/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int
tpl_expect(tpl_parser_t *ps, tpl_tok_type_t type, const char *what)
{
    if (ps->tok->type != type) {
        tpl_unexpected(ps, what);
        return -1;
    }
    tpl_advance(ps);

    return 0;
}


static int
tpl_is_name(const tpl_tok_t *tok, const char *name)
{
    size_t  len = strlen(name);

    return tok->type == TPL_T_NAME && tok->len == len
           && memcmp(tok->s, name, len) == 0;
}


static int
tpl_is_keyword(const tpl_tok_t *tok)
{
    return tpl_is_name(tok, "and") || tpl_is_name(tok, "or")
           || tpl_is_name(tok, "not") || tpl_is_name(tok, "in");
}


static void *
tpl_new(tpl_parser_t *ps, size_t size, const tpl_tok_t *at)
{
    void  *p;

    p = tpl_pool_alloc(&ps->t->pool, size);
    if (p == NULL) {
        tpl_set_error(ps->err, TPL_ERR_MEMORY, ps->t->name, at->line,
                      at->col, "out of memory");
    }

    return p;
}


static tpl_node_t *
tpl_new_node(tpl_parser_t *ps, tpl_node_type_t type, const tpl_tok_t *at)
{
    tpl_node_t  *n;

    n = tpl_new(ps, sizeof(tpl_node_t), at);
    if (n != NULL) {
        n->type = type;
        n->line = at->line;
        n->col = at->col;
    }

    return n;
}


static tpl_expr_t *
tpl_new_expr(tpl_parser_t *ps, tpl_expr_type_t type, const tpl_tok_t *at)
{
    tpl_expr_t  *e;

    e = tpl_new(ps, sizeof(tpl_expr_t), at);
    if (e != NULL) {
        e->type = type;
        e->line = at->line;
        e->col = at->col;
    }

    return e;
}


static void
tpl_fail(tpl_parser_t *ps, const tpl_tok_t *at, const char *fmt, ...)
{
    char     msg[384];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    tpl_set_error(ps->err, TPL_ERR_SYNTAX, ps->t->name, at->line, at->col,
                  "%s", msg);
}


/* "expected X, found Y" at the current token. */
static void
tpl_unexpected(tpl_parser_t *ps, const char *expected)
{
    const tpl_tok_t  *tok = ps->tok;
    const char       *found;

    switch (tok->type) {
    case TPL_T_EOF: found = "the end of the template"; break;
    case TPL_T_TEXT: found = "text"; break;
    case TPL_T_OPEN_VAR: found = "'{{'"; break;
    case TPL_T_OPEN_STMT: found = "'{%'"; break;
    case TPL_T_CLOSE_VAR: found = "'}}'"; break;
    case TPL_T_CLOSE_STMT: found = "'%}'"; break;
    case TPL_T_NAME:
        tpl_fail(ps, tok, "expected %s, found '%.*s'", expected,
                 (int) (tok->len > 40 ? 40 : tok->len), tok->s);
        return;
    case TPL_T_STRING: found = "a string"; break;
    case TPL_T_INT:
    case TPL_T_REAL: found = "a number"; break;
    case TPL_T_DOT: found = "'.'"; break;
    case TPL_T_COMMA: found = "','"; break;
    case TPL_T_PIPE: found = "'|'"; break;
    case TPL_T_LPAREN: found = "'('"; break;
    case TPL_T_RPAREN: found = "')'"; break;
    case TPL_T_LBRACKET: found = "'['"; break;
    case TPL_T_RBRACKET: found = "']'"; break;
    case TPL_T_ASSIGN: found = "'='"; break;
    case TPL_T_EQ: found = "'=='"; break;
    case TPL_T_NE: found = "'!='"; break;
    case TPL_T_LT: found = "'<'"; break;
    case TPL_T_LE: found = "'<='"; break;
    case TPL_T_GT: found = "'>'"; break;
    case TPL_T_GE: found = "'>='"; break;
    default: found = "something else"; break;
    }

    tpl_fail(ps, tok, "expected %s, found %s", expected, found);
}


static void
tpl_advance(tpl_parser_t *ps)
{
    if (ps->tok->type != TPL_T_EOF) {
        ps->tok++;
    }
}
