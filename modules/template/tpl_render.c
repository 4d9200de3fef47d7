/*
 * modules/template/tpl_render.c: a compiled template over jansson data.
 *
 * Names resolve innermost first: the variables of the enclosing loops,
 * sets and includes, then the members of the data object.  A loop's body
 * and an included template each get a scope of their own, so what they
 * set does not leak out; an if does not.  A missing name, member or
 * index is null, and null prints as nothing: templates are written
 * against data that varies.
 *
 * Everything a render can grow is bounded: the output by max_output,
 * the recursion (include, extends, block, if and for bodies) by
 * max_depth, and the work by max_iterations, which counts loop turns,
 * includes and extends.  Values cannot grow behind the limits' back:
 * list literals are constants, and every filter that builds a string
 * stops at max_output.
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_int.h"


typedef struct {
    size_t       index;
    size_t       length;
} tpl_loop_t;

typedef struct {
    const char  *name;
    json_t      *v;             /* owned; NULL for a loop */
    tpl_loop_t  *loop;
} tpl_var_t;

struct tpl_ctx_s {
    size_t              max_output;
    unsigned            max_depth;
    unsigned long       max_iterations;
    const tpl_env_t    *env;
    tpl_buf_t          *out;
    size_t              written;
    tpl_error_t        *err;
    json_t             *root;

    tpl_var_t          *vars;
    size_t              nvars;
    size_t              vars_cap;
    size_t              scope;          /* first variable of the scope */

    const tpl_t        *chain[TPL_CHAIN_MAX];
    size_t              nchain;
    size_t              chain_base;     /* blocks resolve from here */

    unsigned            depth;
    unsigned long       iterations;
    const tpl_t        *cur;            /* the template being rendered */
    const tpl_node_t   *node;           /* the node being rendered */
};


static int tpl_render_template(tpl_ctx_t *ctx, tpl_t *t);
static int tpl_render_nodes(tpl_ctx_t *ctx, const tpl_node_t *n);
static int tpl_render_nested(tpl_ctx_t *ctx, const tpl_node_t *body);
static int tpl_render_if(tpl_ctx_t *ctx, const tpl_node_t *n);
static int tpl_render_for(tpl_ctx_t *ctx, const tpl_node_t *n);
static int tpl_render_include(tpl_ctx_t *ctx, const tpl_node_t *n);
static int tpl_render_block(tpl_ctx_t *ctx, const tpl_node_t *n);
static int tpl_render_value(tpl_ctx_t *ctx, const tpl_val_t *val);
static int tpl_eval(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *out);
static void tpl_eval_member(tpl_val_t *out, tpl_val_t *c, json_t *v);
static int tpl_eval_var(tpl_ctx_t *ctx, const tpl_expr_t *e,
                        const tpl_var_t *var, const char *member,
                        tpl_val_t *out);
static int tpl_eval_cmp(tpl_ctx_t *ctx, const tpl_expr_t *e, json_t *a,
                        json_t *b);
static int tpl_eval_loop(tpl_ctx_t *ctx, const tpl_expr_t *e,
                         const tpl_loop_t *loop, const char *member,
                         tpl_val_t *out);
static tpl_var_t *tpl_lookup(tpl_ctx_t *ctx, const char *name);
static int tpl_bind(tpl_ctx_t *ctx, const char *name, json_t *v,
                    tpl_loop_t *loop, int here);
static void tpl_unbind(tpl_ctx_t *ctx, size_t mark);
static tpl_t *tpl_load(tpl_ctx_t *ctx, const char *name);
static int tpl_count(tpl_ctx_t *ctx);
static int tpl_equal(const json_t *a, const json_t *b);
static int tpl_number(const json_t *v, double *d);
static int tpl_write(tpl_ctx_t *ctx, const char *s, size_t len);
static int tpl_write_escaped(tpl_ctx_t *ctx, const char *s, size_t len);
static size_t tpl_format_real(double d, char *buf, size_t size);
static char *tpl_format_int(json_int_t i, char *end);


/* ------------------------------------------------------------------ */
/* Entry                                                               */
/* ------------------------------------------------------------------ */

int
tpl_render(tpl_t *t, json_t *data, const tpl_env_t *env, tpl_buf_t *out,
           tpl_error_t *err)
{
    tpl_ctx_t  ctx;
    int        rc;

    memset(err, 0, sizeof(*err));
    memset(&ctx, 0, sizeof(ctx));

    ctx.env = env;
    ctx.max_output = env->max_output ? env->max_output
                                     : TPL_DEFAULT_MAX_OUTPUT;
    ctx.max_depth = env->max_depth ? env->max_depth : TPL_DEFAULT_MAX_DEPTH;
    if (ctx.max_depth > TPL_DEPTH_MAX) {
        ctx.max_depth = TPL_DEPTH_MAX;
    }
    ctx.max_iterations = env->max_iterations ? env->max_iterations
                                             : TPL_DEFAULT_MAX_ITERATIONS;
    ctx.out = out;
    ctx.err = err;
    ctx.root = json_is_object(data) ? data : NULL;
    ctx.cur = t;

    rc = tpl_render_template(&ctx, t);

    tpl_unbind(&ctx, 0);
    free(ctx.vars);

    return rc;
}


void
tpl_buf_free(tpl_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}


/*
 * A template from its top: a child template (one with extends) runs its
 * top-level sets, then renders its parent with its blocks first in the
 * chain that {% block %} resolves through.
 */
static int
tpl_render_template(tpl_ctx_t *ctx, tpl_t *t)
{
    const tpl_t       *saved = ctx->cur;
    const tpl_node_t  *n;
    tpl_t             *parent;
    tpl_val_t          val;
    int                rc;

    ctx->chain[ctx->nchain++] = t;
    ctx->cur = t;

    if (t->extends == NULL) {
        rc = tpl_render_nodes(ctx, t->body);
        goto done;
    }

    for (n = t->body; n != NULL; n = n->next) {
        if (n->type != TPL_N_SET) {
            continue;
        }
        ctx->node = n;
        rc = tpl_eval(ctx, n->u.set.e, &val);
        if (rc == 0) {
            rc = tpl_bind(ctx, n->u.set.name, tpl_val_take(&val), NULL, 1);
        }
        if (rc != 0) {
            goto done;
        }
    }

    ctx->node = NULL;
    rc = -1;
    if (ctx->depth >= ctx->max_depth) {
        tpl_set_error(ctx->err, TPL_ERR_DEPTH, t->name, t->extends_line,
                      t->extends_col, "extends nested deeper than %u "
                      "(TemplateMaxDepth)", ctx->max_depth);
        goto done;
    }
    if (tpl_count(ctx) != 0) {
        goto done;
    }
    parent = tpl_load(ctx, t->extends);
    if (parent == NULL) {
        goto done;
    }

    ctx->depth++;
    rc = tpl_render_template(ctx, parent);
    ctx->depth--;
    tpl_unref(parent);

done:

    ctx->nchain--;
    ctx->cur = saved;

    return rc;
}


static int
tpl_render_nodes(tpl_ctx_t *ctx, const tpl_node_t *n)
{
    tpl_val_t  val;
    int        rc;

    for ( ; n != NULL; n = n->next) {
        ctx->node = n;

        switch (n->type) {

        case TPL_N_TEXT:
            rc = tpl_write(ctx, n->u.text.s, n->u.text.len);
            break;

        case TPL_N_OUTPUT:
            rc = tpl_eval(ctx, n->u.out, &val);
            if (rc == 0) {
                ctx->node = n;
                rc = tpl_render_value(ctx, &val);
                tpl_val_drop(&val);
            }
            break;

        case TPL_N_IF:
            rc = tpl_render_if(ctx, n);
            break;

        case TPL_N_FOR:
            rc = tpl_render_for(ctx, n);
            break;

        case TPL_N_SET:
            rc = tpl_eval(ctx, n->u.set.e, &val);
            if (rc == 0) {
                rc = tpl_bind(ctx, n->u.set.name, tpl_val_take(&val), NULL,
                              1);
            }
            break;

        case TPL_N_INCLUDE:
            rc = tpl_render_include(ctx, n);
            break;

        case TPL_N_BLOCK:
            rc = tpl_render_block(ctx, n);
            break;

        default:
            rc = 0;
            break;
        }

        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


/* A body one level deeper. */
static int
tpl_render_nested(tpl_ctx_t *ctx, const tpl_node_t *body)
{
    int  rc;

    if (body == NULL) {
        return 0;
    }
    if (ctx->depth >= ctx->max_depth) {
        return tpl_ctx_fail(ctx, NULL, TPL_ERR_DEPTH, "nested deeper than "
                            "%u (TemplateMaxDepth)", ctx->max_depth);
    }

    ctx->depth++;
    rc = tpl_render_nodes(ctx, body);
    ctx->depth--;

    return rc;
}


static int
tpl_render_if(tpl_ctx_t *ctx, const tpl_node_t *n)
{
    const tpl_node_t  *o;
    tpl_val_t          val;
    int                yes;

    for ( ;; ) {
        if (tpl_eval(ctx, n->u.cond.cond, &val) != 0) {
            return -1;
        }
        yes = tpl_truthy(val.v);
        tpl_val_drop(&val);
        ctx->node = n;

        if (yes) {
            return tpl_render_nested(ctx, n->u.cond.then);
        }

        o = n->u.cond.otherwise;
        if (o == NULL || o->type != TPL_N_IF || !o->u.cond.elif) {
            return tpl_render_nested(ctx, o);
        }
        n = o;
        ctx->node = n;
    }
}


static int
tpl_render_for(tpl_ctx_t *ctx, const tpl_node_t *n)
{
    tpl_loop_t   loop;
    tpl_val_t    seq;
    size_t       outer, mark;
    json_t      *v, *key;
    void        *it;
    int          obj, rc = 0;

    if (tpl_eval(ctx, n->u.loop.seq, &seq) != 0) {
        return -1;
    }
    ctx->node = n;

    loop.index = 0;
    loop.length = json_is_array(seq.v) ? json_array_size(seq.v)
                  : json_is_object(seq.v) ? json_object_size(seq.v) : 0;

    if (loop.length == 0) {
        tpl_val_drop(&seq);
        return tpl_render_nested(ctx, n->u.loop.empty);
    }

    /* The loop's scope: its names, then what its body sets. */
    outer = ctx->scope;
    mark = ctx->nvars;
    ctx->scope = mark;
    if ((n->u.loop.key != NULL
         && tpl_bind(ctx, n->u.loop.key, json_null(), NULL, 0) != 0)
        || tpl_bind(ctx, n->u.loop.value, json_null(), NULL, 0) != 0
        || tpl_bind(ctx, "loop", NULL, &loop, 0) != 0)
    {
        rc = -1;
        goto done;
    }

    obj = json_is_object(seq.v);
    it = obj ? json_object_iter(seq.v) : NULL;

    for (loop.index = 0; loop.index < loop.length; loop.index++) {
        ctx->node = n;
        if (tpl_count(ctx) != 0) {
            rc = -1;
            break;
        }

        /* One name over an object is its keys; two are key (or index)
         * and value.  The key is made only when a name takes it. */
        key = NULL;
        if (obj) {
            if (it == NULL) {
                break;
            }
            v = json_object_iter_value(it);
            key = json_stringn_nocheck(json_object_iter_key(it),
                                       json_object_iter_key_len(it));
            it = json_object_iter_next(seq.v, it);
        } else {
            v = json_array_get(seq.v, loop.index);
            if (n->u.loop.key != NULL) {
                key = json_integer((json_int_t) loop.index);
            }
        }
        if (key == NULL && (obj || n->u.loop.key != NULL)) {
            rc = tpl_ctx_fail(ctx, NULL, TPL_ERR_MEMORY, "out of memory");
            break;
        }

        json_decref(ctx->vars[mark].v);
        if (n->u.loop.key != NULL) {
            ctx->vars[mark].v = key;
            json_decref(ctx->vars[mark + 1].v);
            ctx->vars[mark + 1].v = json_incref(v);
        } else if (obj) {
            ctx->vars[mark].v = key;
        } else {
            ctx->vars[mark].v = json_incref(v);
        }

        rc = tpl_render_nested(ctx, n->u.loop.body);
        tpl_unbind(ctx, mark + 2 + (n->u.loop.key != NULL));
        if (rc != 0) {
            break;
        }
    }

done:

    tpl_unbind(ctx, mark);
    ctx->scope = outer;
    tpl_val_drop(&seq);

    return rc;
}


static int
tpl_render_include(tpl_ctx_t *ctx, const tpl_node_t *n)
{
    tpl_t   *t;
    size_t   outer, base;
    int      rc;

    if (ctx->depth >= ctx->max_depth) {
        return tpl_ctx_fail(ctx, NULL, TPL_ERR_DEPTH, "include nested "
                            "deeper than %u (TemplateMaxDepth)",
                            ctx->max_depth);
    }
    if (tpl_count(ctx) != 0) {
        return -1;
    }
    t = tpl_load(ctx, n->u.include);
    if (t == NULL) {
        return -1;
    }

    /* Its own scope and its own blocks. */
    outer = ctx->scope;
    base = ctx->chain_base;
    ctx->scope = ctx->nvars;
    ctx->chain_base = ctx->nchain;
    ctx->depth++;

    rc = tpl_render_template(ctx, t);

    ctx->depth--;
    tpl_unbind(ctx, ctx->scope);
    ctx->scope = outer;
    ctx->chain_base = base;
    tpl_unref(t);

    return rc;
}


/* A block renders the most derived definition of its name. */
static int
tpl_render_block(tpl_ctx_t *ctx, const tpl_node_t *n)
{
    const tpl_t       *saved = ctx->cur, *t = ctx->cur;
    const tpl_node_t  *b, *use = n;
    size_t             i;
    int                rc;

    for (i = ctx->chain_base; i < ctx->nchain && use == n; i++) {
        for (b = ctx->chain[i]->blocks; b != NULL; b = b->u.block.next_block)
        {
            if (strcmp(b->u.block.name, n->u.block.name) == 0) {
                use = b;
                t = ctx->chain[i];
                break;
            }
        }
    }

    ctx->cur = t;
    rc = tpl_render_nested(ctx, use->u.block.body);
    ctx->cur = saved;

    return rc;
}


static int
tpl_render_value(tpl_ctx_t *ctx, const tpl_val_t *val)
{
    json_t  *v = val->v;
    char     num[64], *s;
    size_t   len;
    int      rc;

    switch (json_typeof(v)) {

    case JSON_STRING:
        len = json_string_length(v);
        return val->safe ? tpl_write(ctx, json_string_value(v), len)
                         : tpl_write_escaped(ctx, json_string_value(v), len);

    case JSON_INTEGER:
        s = tpl_format_int(json_integer_value(v), num + sizeof(num));
        return tpl_write(ctx, s, num + sizeof(num) - s);

    case JSON_REAL:
        len = tpl_format_real(json_real_value(v), num, sizeof(num));
        return tpl_write(ctx, num, len);

    case JSON_TRUE:
        return tpl_write(ctx, "true", 4);

    case JSON_FALSE:
        return tpl_write(ctx, "false", 5);

    case JSON_NULL:
        return 0;

    default:
        s = tpl_stringify(v, &len);
        if (s == NULL) {
            return tpl_ctx_fail(ctx, NULL, TPL_ERR_MEMORY, "out of memory");
        }
        rc = val->safe ? tpl_write(ctx, s, len)
                       : tpl_write_escaped(ctx, s, len);
        free(s);
        return rc;
    }
}


/* ------------------------------------------------------------------ */
/* Expressions                                                         */
/* ------------------------------------------------------------------ */

/*
 * Evaluates e into out, borrowed or owned (tpl_val_t); returns 0 or -1.
 * A member or an element of a borrowed value is borrowed too; of an owned
 * one, it takes a reference of its own before the container is let go.
 */
static int
tpl_eval(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_val_t *out)
{
    tpl_var_t  *var;
    tpl_val_t   a, b, args[TPL_FILTER_ARGS];
    json_t     *argv[TPL_FILTER_ARGS] = { NULL, NULL }, *v;
    json_int_t  i;
    unsigned    k, n;
    int         rc;

    out->v = json_null();
    out->safe = 0;
    out->owned = 0;

    switch (e->type) {

    case TPL_E_LIT:
        out->v = e->u.lit;
        return 0;

    case TPL_E_VAR:
        return tpl_eval_var(ctx, e, tpl_lookup(ctx, e->u.name), NULL, out);

    case TPL_E_ATTR:
        /* name.member looks name up once: loop.index is no object. */
        if (e->u.attr.obj->type == TPL_E_VAR) {
            var = tpl_lookup(ctx, e->u.attr.obj->u.name);
            if (tpl_eval_var(ctx, e->u.attr.obj, var, e->u.attr.name, &a)
                != 0)
            {
                return -1;
            }
            if (var != NULL && var->loop != NULL) {
                *out = a;
                return 0;
            }
        } else if (tpl_eval(ctx, e->u.attr.obj, &a) != 0) {
            return -1;
        }
        v = json_is_object(a.v) ? json_object_getn(a.v, e->u.attr.name,
                                                   e->u.attr.len)
                                : NULL;
        tpl_eval_member(out, &a, v);
        return 0;

    case TPL_E_INDEX:
        if (tpl_eval(ctx, e->u.index.obj, &a) != 0) {
            return -1;
        }
        if (tpl_eval(ctx, e->u.index.index, &b) != 0) {
            tpl_val_drop(&a);
            return -1;
        }
        v = NULL;
        if (json_is_array(a.v) && json_is_integer(b.v)) {
            /* items[-1] is the last. */
            i = json_integer_value(b.v);
            if (i < 0) {
                i += (json_int_t) json_array_size(a.v);
            }
            if (i >= 0) {
                v = json_array_get(a.v, (size_t) i);
            }
        } else if (json_is_object(a.v) && json_is_string(b.v)) {
            v = json_object_getn(a.v, json_string_value(b.v),
                                 json_string_length(b.v));
        }
        tpl_val_drop(&b);
        tpl_eval_member(out, &a, v);
        return 0;

    case TPL_E_FILTER:
        if (tpl_eval(ctx, e->u.filter.arg, out) != 0) {
            return -1;
        }
        rc = 0;
        n = e->u.filter.nargs;
        for (k = 0; k < n; k++) {
            if (rc == 0) {
                rc = tpl_eval(ctx, e->u.filter.args[k], &args[k]);
            } else {
                args[k].v = json_null();
                args[k].owned = 0;
            }
            argv[k] = args[k].v;
        }
        if (rc == 0) {
            rc = e->u.filter.f->fn(ctx, e, out, argv);
        }
        for (k = 0; k < n; k++) {
            tpl_val_drop(&args[k]);
        }
        if (rc != 0) {
            tpl_val_drop(out);
        }
        return rc;

    case TPL_E_NOT:
        if (tpl_eval(ctx, e->u.bin.a, &a) != 0) {
            return -1;
        }
        out->v = json_boolean(!tpl_truthy(a.v));
        tpl_val_drop(&a);
        return 0;

    case TPL_E_AND:
    case TPL_E_OR:
        /* The deciding operand itself: {{ name or "anonymous" }}. */
        if (tpl_eval(ctx, e->u.bin.a, out) != 0) {
            return -1;
        }
        if (tpl_truthy(out->v) == (e->type == TPL_E_OR)) {
            return 0;
        }
        tpl_val_drop(out);
        return tpl_eval(ctx, e->u.bin.b, out);

    case TPL_E_CMP:
        if (tpl_eval(ctx, e->u.bin.a, &a) != 0) {
            return -1;
        }
        if (tpl_eval(ctx, e->u.bin.b, &b) != 0) {
            tpl_val_drop(&a);
            return -1;
        }
        rc = tpl_eval_cmp(ctx, e, a.v, b.v);
        tpl_val_drop(&a);
        tpl_val_drop(&b);
        out->v = json_boolean(rc);
        return 0;
    }

    return 0;
}


/*
 * The value of the name e, whose variable (innermost first) is var or
 * NULL: a loop's variable is the loop object, or its member when member
 * is not NULL; else the caller's names (request, user...), else the
 * data's member.
 */
static int
tpl_eval_var(tpl_ctx_t *ctx, const tpl_expr_t *e, const tpl_var_t *var,
             const char *member, tpl_val_t *out)
{
    json_t  *v = NULL;

    out->v = json_null();
    out->safe = 0;
    out->owned = 0;

    if (var != NULL && var->loop != NULL) {
        return tpl_eval_loop(ctx, e, var->loop, member, out);
    }
    if (var != NULL) {
        out->v = var->v;
        return 0;
    }
    if (ctx->env->lookup != NULL) {
        v = ctx->env->lookup(ctx->env->lookup_ctx, e->u.name);
    }
    if (v == NULL && ctx->root != NULL) {
        v = json_object_get(ctx->root, e->u.name);
    }
    if (v != NULL) {
        out->v = v;
    }

    return 0;
}


/* out becomes v (NULL: null), a member or element of container c, which
 * is let go: v is borrowed when c was, else it takes its own reference. */
static void
tpl_eval_member(tpl_val_t *out, tpl_val_t *c, json_t *v)
{
    if (v == NULL) {
        v = json_null();
    } else if (c->owned) {
        json_incref(v);
        out->owned = 1;
    }
    out->v = v;
    out->safe = 0;
    tpl_val_drop(c);
}


static int
tpl_eval_cmp(tpl_ctx_t *ctx, const tpl_expr_t *e, json_t *a, json_t *b)
{
    double       x, y;
    const char  *s, *t;
    size_t       n, m, i;
    int          c;

    (void) ctx;

    switch (e->u.bin.op) {

    case TPL_OP_EQ:
        return tpl_equal(a, b);

    case TPL_OP_NE:
        return !tpl_equal(a, b);

    case TPL_OP_IN:
    case TPL_OP_NOT_IN:
        c = 0;
        if (json_is_array(b)) {
            for (i = 0; i < json_array_size(b) && !c; i++) {
                c = tpl_equal(a, json_array_get(b, i));
            }
        } else if (json_is_object(b) && json_is_string(a)) {
            c = json_object_getn(b, json_string_value(a),
                                 json_string_length(a)) != NULL;
        } else if (json_is_string(b) && json_is_string(a)) {
            c = memmem(json_string_value(b), json_string_length(b),
                       json_string_value(a), json_string_length(a)) != NULL;
        }
        return e->u.bin.op == TPL_OP_IN ? c : !c;

    default:
        break;
    }

    /* The orderings: numbers with numbers, strings with strings (bytes,
     * which for UTF-8 is code point order); anything else is false. */
    if (tpl_number(a, &x) && tpl_number(b, &y)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            c = json_integer_value(a) < json_integer_value(b) ? -1
                : json_integer_value(a) > json_integer_value(b);
        } else {
            c = x < y ? -1 : x > y;
        }
    } else if (json_is_string(a) && json_is_string(b)) {
        s = json_string_value(a);
        t = json_string_value(b);
        n = json_string_length(a);
        m = json_string_length(b);
        c = memcmp(s, t, n < m ? n : m);
        if (c == 0) {
            c = n < m ? -1 : n > m;
        }
    } else {
        return 0;
    }

    switch (e->u.bin.op) {
    case TPL_OP_LT: return c < 0;
    case TPL_OP_LE: return c <= 0;
    case TPL_OP_GT: return c > 0;
    case TPL_OP_GE: return c >= 0;
    default: return 0;
    }
}


/* loop, or one of its members (member NULL: the whole object). */
static int
tpl_eval_loop(tpl_ctx_t *ctx, const tpl_expr_t *e, const tpl_loop_t *loop,
              const char *member, tpl_val_t *out)
{
    json_t  *v;

    if (member == NULL) {
        v = json_pack("{sIsIsbsbsI}",
                      "index", (json_int_t) loop->index + 1,
                      "index0", (json_int_t) loop->index,
                      "first", loop->index == 0,
                      "last", loop->index + 1 == loop->length,
                      "length", (json_int_t) loop->length);
    } else if (strcmp(member, "index") == 0) {
        v = json_integer((json_int_t) loop->index + 1);
    } else if (strcmp(member, "index0") == 0) {
        v = json_integer((json_int_t) loop->index);
    } else if (strcmp(member, "first") == 0) {
        v = json_boolean(loop->index == 0);
    } else if (strcmp(member, "last") == 0) {
        v = json_boolean(loop->index + 1 == loop->length);
    } else if (strcmp(member, "length") == 0) {
        v = json_integer((json_int_t) loop->length);
    } else {
        v = json_null();
    }

    if (v == NULL) {
        return tpl_ctx_fail(ctx, e, TPL_ERR_MEMORY, "out of memory");
    }
    out->v = v;
    out->owned = 1;

    return 0;
}


/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static tpl_var_t *
tpl_lookup(tpl_ctx_t *ctx, const char *name)
{
    size_t  i;

    for (i = ctx->nvars; i > 0; i--) {
        /* Names are interned per template: the pointer mostly tells. */
        if (ctx->vars[i - 1].name == name
            || (ctx->vars[i - 1].name[0] == name[0]
                && strcmp(ctx->vars[i - 1].name, name) == 0))
        {
            return &ctx->vars[i - 1];
        }
    }

    return NULL;
}


/*
 * Binds name to v (stolen) or to a loop.  With here, a name the current
 * scope already has is rebound in place ({% set %}); else a new variable
 * shadows it.
 */
static int
tpl_bind(tpl_ctx_t *ctx, const char *name, json_t *v, tpl_loop_t *loop,
         int here)
{
    tpl_var_t  *vars;
    size_t      i, cap;

    if (here) {
        for (i = ctx->nvars; i > ctx->scope; i--) {
            if (strcmp(ctx->vars[i - 1].name, name) == 0) {
                json_decref(ctx->vars[i - 1].v);
                ctx->vars[i - 1].v = v;
                return 0;
            }
        }
    }

    if (ctx->nvars == ctx->vars_cap) {
        cap = ctx->vars_cap ? ctx->vars_cap * 2 : 16;
        vars = realloc(ctx->vars, cap * sizeof(tpl_var_t));
        if (vars == NULL) {
            json_decref(v);
            return tpl_ctx_fail(ctx, NULL, TPL_ERR_MEMORY, "out of memory");
        }
        ctx->vars = vars;
        ctx->vars_cap = cap;
    }

    ctx->vars[ctx->nvars].name = name;
    ctx->vars[ctx->nvars].v = v;
    ctx->vars[ctx->nvars].loop = loop;
    ctx->nvars++;

    return 0;
}


static void
tpl_unbind(tpl_ctx_t *ctx, size_t mark)
{
    while (ctx->nvars > mark) {
        ctx->nvars--;
        json_decref(ctx->vars[ctx->nvars].v);
    }
}


static tpl_t *
tpl_load(tpl_ctx_t *ctx, const char *name)
{
    const tpl_node_t  *n = ctx->node;
    tpl_t             *t;
    unsigned           line, col;

    line = n != NULL ? n->line : ctx->cur->extends_line;
    col = n != NULL ? n->col : ctx->cur->extends_col;

    if (ctx->env->load == NULL) {
        tpl_set_error(ctx->err, TPL_ERR_LOAD, ctx->cur->name, line, col,
                      "cannot load \"%s\": no loader", name);
        return NULL;
    }

    t = ctx->env->load(ctx->env->load_ctx, ctx->cur, name, ctx->err);
    if (t == NULL && ctx->err->status == TPL_OK) {
        tpl_set_error(ctx->err, TPL_ERR_LOAD, ctx->cur->name, line, col,
                      "cannot load \"%s\"", name);
    }

    return t;
}


/* One more unit of work: a loop turn, an include or an extends. */
static int
tpl_count(tpl_ctx_t *ctx)
{
    if (++ctx->iterations <= ctx->max_iterations) {
        return 0;
    }

    return tpl_ctx_fail(ctx, NULL, TPL_ERR_ITERATIONS, "more than %lu "
                        "iterations (TemplateMaxIterations)",
                        ctx->max_iterations);
}


/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/* Equality: 1 == 1.0; otherwise jansson's (deep, exact). */
static int
tpl_equal(const json_t *a, const json_t *b)
{
    double  x = 0.0, y = 0.0;

    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            return json_integer_value(a) == json_integer_value(b);
        }
        tpl_number(a, &x);
        tpl_number(b, &y);
        return x == y;
    }

    return json_equal((json_t *) a, (json_t *) b);
}


static int
tpl_number(const json_t *v, double *d)
{
    if (!json_is_number(v)) {
        return 0;
    }
    *d = json_number_value(v);
    return 1;
}


int
tpl_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_TRUE: return 1;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    default: return 0;
    }
}


/*
 * A value as text in a malloc'ed string (*len bytes, NUL-terminated):
 * strings as they are, numbers and booleans as written in JSON, null
 * empty, arrays and objects as compact JSON.  NULL: out of memory.
 */
char *
tpl_stringify(const json_t *v, size_t *len)
{
    char    num[64], *s;
    size_t  n;

    switch (json_typeof(v)) {
    case JSON_STRING:
        n = json_string_length(v);
        s = malloc(n + 1);
        if (s != NULL) {
            memcpy(s, json_string_value(v), n + 1);
            *len = n;
        }
        return s;
    case JSON_INTEGER:
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        break;
    case JSON_REAL:
        n = tpl_format_real(json_real_value(v), num, sizeof(num));
        break;
    case JSON_TRUE:
        n = snprintf(num, sizeof(num), "true");
        break;
    case JSON_FALSE:
        n = snprintf(num, sizeof(num), "false");
        break;
    case JSON_NULL:
        num[0] = '\0';
        n = 0;
        break;
    default:
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s != NULL) {
            *len = strlen(s);
        }
        return s;
    }

    s = strdup(num);
    if (s != NULL) {
        *len = n;
    }

    return s;
}


size_t
tpl_utf8_length(const char *s, size_t len)
{
    size_t  i, n = 0;

    for (i = 0; i < len; i++) {
        n += ((unsigned char) s[i] & 0xc0) != 0x80;
    }

    return n;
}


/* The decimal digits of i, written backwards to end; returns their
 * start (no printf for the integers a page is full of). */
static char *
tpl_format_int(json_int_t i, char *end)
{
    unsigned long long  u;
    char               *p = end;

    u = i < 0 ? 0ULL - (unsigned long long) i : (unsigned long long) i;
    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (i < 0) {
        *--p = '-';
    }

    return p;
}


/* The shortest of %.15g and %.17g that reads back the same, always with
 * a '.' or an exponent so that a real stays visibly one (2.0). */
static size_t
tpl_format_real(double d, char *buf, size_t size)
{
    size_t  n;

    n = snprintf(buf, size, "%.15g", d);
    if (strtod(buf, NULL) != d) {
        n = snprintf(buf, size, "%.17g", d);
    }
    if (strpbrk(buf, ".eEn") == NULL && n + 2 < size) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }

    return n;
}


/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static int
tpl_write(tpl_ctx_t *ctx, const char *s, size_t len)
{
    tpl_buf_t  *b = ctx->out;
    size_t      cap;
    char       *d;

    if (len == 0) {
        return 0;
    }
    if (len > ctx->max_output - ctx->written) {
        return tpl_ctx_fail(ctx, NULL, TPL_ERR_OUTPUT, "output larger than "
                            "%zu bytes (TemplateMaxOutput)",
                            ctx->max_output);
    }

    if (b->cap - b->len <= len) {
        cap = b->cap ? b->cap : 4096;
        while (cap - b->len <= len) {
            cap *= 2;
        }
        d = realloc(b->data, cap);
        if (d == NULL) {
            return tpl_ctx_fail(ctx, NULL, TPL_ERR_MEMORY, "out of memory");
        }
        b->data = d;
        b->cap = cap;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
    ctx->written += len;

    return 0;
}


/* HTML text and quoted attribute values: & < > " ' become entities. */
static int
tpl_write_escaped(tpl_ctx_t *ctx, const char *s, size_t len)
{
    static const unsigned char  special[256] = {
        ['&'] = 1, ['<'] = 2, ['>'] = 3, ['"'] = 4, ['\''] = 5
    };
    static const struct {
        const char  *s;
        size_t       n;
    } ent[] = {
        { "", 0 }, { "&amp;", 5 }, { "&lt;", 4 }, { "&gt;", 4 },
        { "&quot;", 6 }, { "&#39;", 5 }
    };
    const char     *start = s, *end = s + len;
    unsigned        k;

    for ( ; s < end; s++) {
        k = special[(unsigned char) *s];
        if (k == 0) {
            continue;
        }
        if (tpl_write(ctx, start, s - start) != 0
            || tpl_write(ctx, ent[k].s, ent[k].n) != 0)
        {
            return -1;
        }
        start = s + 1;
    }

    return tpl_write(ctx, start, end - start);
}


/*
 * Fails the render with status at e (or the node being rendered) of the
 * template being rendered.  Returns -1.
 */
int
tpl_ctx_fail(tpl_ctx_t *ctx, const tpl_expr_t *e, tpl_status_t status,
             const char *fmt, ...)
{
    char      msg[384];
    va_list   ap;
    unsigned  line = 1, col = 1;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (e != NULL) {
        line = e->line;
        col = e->col;
    } else if (ctx->node != NULL) {
        line = ctx->node->line;
        col = ctx->node->col;
    }

    tpl_set_error(ctx->err, status, ctx->cur->name, line, col, "%s", msg);

    return -1;
}


size_t
tpl_ctx_max_output(const tpl_ctx_t *ctx)
{
    return ctx->max_output;
}
