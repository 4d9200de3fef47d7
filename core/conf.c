/*
 * core/conf.c: reading the configuration.
 *
 * The text is read one logical line at a time (a trailing backslash joins
 * the next line) and split into words: blanks separate them, double or
 * single quotes keep blanks inside one, a backslash in quotes escapes the
 * next character, and a '#' starting a word starts a comment.  A line
 * "<Name args>" opens a section and "</Name>" closes it; sections must
 * close in the file that opened them.
 *
 * Sections come in four kinds, kept on one stack: conditions (<IfModule>,
 * <IfDefine>) whose body is read or skipped, scopes (<VirtualHost>,
 * <Location>, <LocationMatch>) that change where directives land, module
 * sections whose body is parsed with the module's own table, and bodies
 * skipped after an error.  Directives are applied to the current scope's
 * raw config of their module; cairn__conf_finalize() (conf_merge.c) merges
 * the scopes afterwards.
 *
 * Errors do not stop the reading: each is recorded as "file:line: message"
 * and the line is skipped, so `cairnd -t` reports all of them at once.
 */

#include "config.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena_int.h"
#include "conf_int.h"
#include "hooks_int.h"
#include "log_int.h"


#define CONF_MAX_INCLUDE_DEPTH  16

/* Bounds on what one configuration may read through Include: a pattern
 * that matches far more than intended fails at once with a message,
 * instead of growing without end. */
#define CONF_MAX_FILES          10000
#define CONF_MAX_BYTES          (64 * 1024 * 1024)
#define CONF_MAX_ARGS           256
#define CONF_MAX_FRAMES         64


typedef enum {
    FRAME_COND = 0,         /* <IfModule>/<IfDefine> being read */
    FRAME_SKIP,             /* a body being skipped */
    FRAME_SCOPE,            /* <VirtualHost>, <Location>, <LocationMatch> */
    FRAME_MODULE            /* a module's section */
} conf_frame_kind_t;

typedef struct {
    conf_frame_kind_t          kind;
    const char                *name;        /* section name as written */
    const char                *file;
    int                        line;
    int                        nested;      /* FRAME_SKIP: inner sections */
    cairn__scope_t            *prev_scope;  /* FRAME_SCOPE */
    cairn__vhost_t            *prev_vhost;
    const cairn_directive_t   *table;       /* FRAME_MODULE */
    void                      *conf;
    int                        modidx;
    cairn__rec_t             **prev_tail;   /* where records went before */
} conf_frame_t;

typedef struct {
    cairn_server_t            *s;
    const char                *file;
    int                        line;
    cairn__scope_t            *scope;
    cairn__vhost_t            *vhost;
    conf_frame_t               frames[CONF_MAX_FRAMES];
    int                        nframes;
    int                        depth;       /* Include nesting */
    struct {
        dev_t                  dev;
        ino_t                  ino;
        const char            *file;
        int                    line;        /* of the Include in it */
    }                          chain[CONF_MAX_INCLUDE_DEPTH + 1];
    size_t                     nfiles;      /* read so far */
    size_t                     nbytes;
    int                        too_much;    /* a limit was passed */
    int                        file_base;   /* frames open before this file */
    cairn__rec_t             **tail;        /* where the next record goes */
    int                        modsection;  /* module section nesting */
} conf_ctx_t;

struct cairn_cmd_s {
    conf_ctx_t                *ctx;
    const char                *name;
    const cairn_directive_t   *d;
    const cairn_directive_t   *section_table;
    void                      *section_conf;
    int                        section_ok;
};

static conf_ctx_t  *conf_current;

static int conf_parse_text(conf_ctx_t *ctx, const char *file,
                           const char *text);
static void conf_line(conf_ctx_t *ctx, char *line);
static void conf_directive(conf_ctx_t *ctx, int argc, char **argv);
static void conf_section_open(conf_ctx_t *ctx, int argc, char **argv);
static int conf_include_loop(conf_ctx_t *ctx, const char *path,
                             const struct stat *st);
static void conf_section_close(conf_ctx_t *ctx, const char *name);
static void conf_include(conf_ctx_t *ctx, const char *pattern,
                         int optional);
static const char *conf_apply(conf_ctx_t *ctx, const cairn_directive_t *d,
                              int modidx, void *conf, uint8_t *set,
                              int index, int argc, char **argv,
                              cairn_cmd_t *cmd);
static const char *conf_check_args(const cairn_directive_t *d, int argc);
static const char *conf_check_scope(conf_ctx_t *ctx,
                                    const cairn_directive_t *d);
static cairn__mconf_t *conf_raw(conf_ctx_t *ctx, int modidx);
static cairn__rec_t *conf_record(conf_ctx_t *ctx,
                                 const cairn_directive_t *d, int modidx,
                                 int argc, char **argv);
static conf_frame_t *conf_push(conf_ctx_t *ctx, conf_frame_kind_t kind,
                               const char *name);
static cairn__scope_t *conf_scope_new(conf_ctx_t *ctx,
                                      cairn__scope_kind_t kind,
                                      const char *name);
static void conf_module_section(conf_ctx_t *ctx, const char *name,
                                const cairn_cmd_t *cmd, int modidx,
                                cairn__rec_t *rec);




int
cairn__conf_load(cairn_server_t *s)
{
    conf_ctx_t   ctx;
    const char  *text, *err;
    size_t       n;
    int          rc;
    struct stat  st;

    if (s->nerrors > 0) {
        return -1;
    }

    if (s->src == NULL) {
        s->src = cairn__conf_source_new();
        s->own_src = 1;
    }

    if (cairn__conf_source_file(s->src, s->conf_file, &text, &n, &st, &err)
        != 0)
    {
        cairn__conf_error(s, NULL, 0, "cannot open the configuration file "
                          "%s: %s", s->conf_file, err);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        cairn__conf_error(s, NULL, 0, "the configuration file %s is not a "
                          "regular file", s->conf_file);
        return -1;
    }

    memset(&ctx, 0, sizeof(ctx));
    ctx.s = s;
    ctx.scope = s->main;
    ctx.vhost = s->main_vhost;
    ctx.tail = s->main->recs_tail;
    ctx.chain[0].dev = st.st_dev;
    ctx.chain[0].ino = st.st_ino;
    ctx.chain[0].file = s->conf_file;
    ctx.nfiles = 1;
    ctx.nbytes = n;

    cairn__server_building = s;
    conf_current = &ctx;
    rc = conf_parse_text(&ctx, s->conf_file, text);
    conf_current = NULL;
    cairn__server_building = NULL;

    if (rc != 0 || s->nerrors > 0) {
        return -1;
    }

    return cairn__conf_finalize(s);
}


int
cairn__conf_parse_string(cairn_server_t *s, const char *name,
                         const char *text)
{
    conf_ctx_t  ctx;
    int         rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.s = s;
    ctx.scope = s->main;
    ctx.vhost = s->main_vhost;
    ctx.tail = s->main->recs_tail;
    ctx.chain[0].file = name;

    cairn__server_building = s;
    conf_current = &ctx;
    rc = conf_parse_text(&ctx, cairn_arena_strdup(s->arena, name),
                         cairn_arena_strdup(s->arena, text));
    conf_current = NULL;
    cairn__server_building = NULL;

    return rc != 0 || s->nerrors > 0 ? -1 : 0;
}










/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

static int
conf_parse_text(conf_ctx_t *ctx, const char *file, const char *text)
{
    const char  *saved_file = ctx->file;
    int          saved_line = ctx->line;
    int          base = ctx->nframes;
    int          saved_base = ctx->file_base;
    int          line = 0, start;
    const char  *p = text, *eol;
    char        *buf = NULL;
    size_t       cap = 0, len, n;

    ctx->file = file;
    ctx->file_base = base;

    while (*p != '\0') {
        /* Join continued lines into one logical line. */
        len = 0;
        start = line + 1;

        for ( ;; ) {
            eol = strchr(p, '\n');
            n = eol ? (size_t) (eol - p) : strlen(p);
            line++;

            if (len + n + 1 > cap) {
                char  *nb;

                cap = (len + n + 1) * 2;
                nb = cairn_arena_alloc(ctx->s->arena, cap);
                if (len > 0) {
                    memcpy(nb, buf, len);
                }
                buf = nb;
            }
            memcpy(buf + len, p, n);
            len += n;
            if (len > 0 && buf[len - 1] == '\r') {
                len--;
            }

            p = eol ? eol + 1 : p + n;

            if (len > 0 && buf[len - 1] == '\\' && *p != '\0') {
                len--;
                buf[len++] = ' ';
                continue;
            }
            break;
        }

        buf[len] = '\0';
        ctx->line = start;
        conf_line(ctx, cairn_arena_strndup(ctx->s->arena, buf, len));
    }

    /* Sections must close in the file that opened them. */
    while (ctx->nframes > base) {
        conf_frame_t  *f = &ctx->frames[ctx->nframes - 1];

        cairn__conf_error(ctx->s, f->file, f->line, "<%s> is not closed "
                          "(add </%s> before the end of %s)", f->name,
                          f->name, file);
        conf_section_close(ctx, f->name);
    }

    ctx->file = saved_file;
    ctx->line = saved_line;
    ctx->file_base = saved_base;

    return 0;
}


/*
 * Splits a line into words in place.  Returns the word count, or -1 with
 * *err set.
 */
static int
conf_split(char *line, char **argv, int max, const char **err)
{
    char  *p = line, *w, *out;
    int    argc = 0;
    char   q;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            break;
        }
        if (argc == max) {
            *err = "too many arguments";
            return -1;
        }

        w = out = p;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            if (*p == '"' || *p == '\'') {
                q = *p++;
                while (*p != q) {
                    if (*p == '\0') {
                        *err = q == '"' ? "a double quote is not closed"
                                        : "a single quote is not closed";
                        return -1;
                    }
                    if (*p == '\\' && p[1] != '\0') {
                        p++;
                        switch (*p) {
                        case 'n':  *out++ = '\n'; break;
                        case 't':  *out++ = '\t'; break;
                        case '"':
                        case '\'':
                        case '\\': *out++ = *p;   break;
                        default:
                            /* Like Apache: "\.php$" keeps its backslash,
                             * which regular expressions need. */
                            *out++ = '\\';
                            *out++ = *p;
                            break;
                        }
                        p++;
                        continue;
                    }
                    *out++ = *p++;
                }
                p++;
                continue;
            }
            *out++ = *p++;
        }

        if (*p != '\0') {
            p++;
        }
        *out = '\0';
        argv[argc++] = w;
    }

    return argc;
}


/* Cuts a trailing "# comment" (a '#' after a blank, outside quotes). */
static void
conf_strip_comment(char *p)
{
    char  q = 0;
    char  *start = p;

    for ( ; *p != '\0'; p++) {
        if (q != 0) {
            if (*p == '\\' && p[1] != '\0') {
                p++;
            } else if (*p == q) {
                q = 0;
            }
        } else if (*p == '"' || *p == '\'') {
            q = *p;
        } else if (*p == '#' && p > start && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}


static void
conf_line(conf_ctx_t *ctx, char *line)
{
    char          *argv[CONF_MAX_ARGS];
    char          *p, *end;
    const char    *err = NULL;
    conf_frame_t  *top;
    int            argc, open = 0, close = 0;

    p = line;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '\0' || *p == '#') {
        return;
    }

    if (p[0] == '<') {
        conf_strip_comment(p);
        end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if (end[-1] != '>') {
            cairn__conf_error(ctx->s, ctx->file, ctx->line, "a section line "
                              "must end with '>'");
            return;
        }
        *--end = '\0';
        if (p[1] == '/') {
            close = 1;
            p += 2;
        } else {
            open = 1;
            p += 1;
        }
    }

    argc = conf_split(p, argv, CONF_MAX_ARGS, &err);
    if (argc < 0) {
        cairn__conf_error(ctx->s, ctx->file, ctx->line, "%s", err);
        return;
    }

    top = ctx->nframes > 0 ? &ctx->frames[ctx->nframes - 1] : NULL;

    if (top != NULL && top->kind == FRAME_SKIP) {
        /* Only count sections, to find where the skipped body ends. */
        if (open) {
            top->nested++;
        } else if (close) {
            if (top->nested > 0) {
                top->nested--;
            } else {
                conf_section_close(ctx, argc > 0 ? argv[0] : "");
            }
        }
        return;
    }

    if (argc == 0) {
        cairn__conf_error(ctx->s, ctx->file, ctx->line, "empty section "
                          "name");
        return;
    }

    if (open) {
        conf_section_open(ctx, argc, argv);
    } else if (close) {
        if (argc > 1) {
            cairn__conf_error(ctx->s, ctx->file, ctx->line, "</%s> takes no "
                              "arguments", argv[0]);
        }
        conf_section_close(ctx, argv[0]);
    } else {
        conf_directive(ctx, argc, argv);
    }
}


/*
 * Opens a section frame.  Too deep a nesting is reported and the new
 * section's body skipped (the top frame counts it); NULL is returned and
 * the caller must not change scopes.
 */
static conf_frame_t *
conf_push(conf_ctx_t *ctx, conf_frame_kind_t kind, const char *name)
{
    conf_frame_t  *f;

    if (ctx->nframes == CONF_MAX_FRAMES) {
        cairn__conf_error(ctx->s, ctx->file, ctx->line, "sections nested "
                          "too deep (more than %d)", CONF_MAX_FRAMES);
        f = &ctx->frames[ctx->nframes - 1];
        if (f->kind == FRAME_SCOPE) {
            ctx->scope = f->prev_scope;
            ctx->vhost = f->prev_vhost;
            ctx->tail = f->prev_tail;
        } else if (f->kind == FRAME_MODULE) {
            ctx->modsection--;
            ctx->tail = f->prev_tail;
        }
        /* The top frame now skips to its own close, counting this one. */
        f->kind = FRAME_SKIP;
        f->nested++;
        return NULL;
    }

    f = &ctx->frames[ctx->nframes++];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->name = cairn_arena_strdup(ctx->s->arena, name);
    f->file = ctx->file;
    f->line = ctx->line;

    return f;
}


static void
conf_section_open(conf_ctx_t *ctx, int argc, char **argv)
{
    cairn_server_t         *s = ctx->s;
    cairn_arena_t          *a = s->arena;
    const char             *name = argv[0];
    const cairn__dirent_t  *e;
    const char             *arg, *err;
    cairn__scope_t         *scope;
    cairn__vhost_t         *vh;
    cairn__mconf_t         *raw;
    cairn__rec_t           *rec;
    cairn_cmd_t             cmd;
    conf_frame_t           *f;
    int                     neg, active, i;
    size_t                  k;

    if (strcasecmp(name, "IfModule") == 0
        || strcasecmp(name, "IfDefine") == 0)
    {
        if (argc != 2) {
            cairn__conf_error(s, ctx->file, ctx->line, "<%s> takes one "
                              "argument, %d given", name, argc - 1);
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }
        arg = argv[1];
        neg = arg[0] == '!';
        if (neg) {
            arg++;
        }
        if (strcasecmp(name, "IfModule") == 0) {
            active = cairn__module_index(s, cairn__module_name(a, arg)) >= 0;
        } else {
            active = cairn_server_defined(s, arg);
        }
        conf_push(ctx, (active != neg) ? FRAME_COND : FRAME_SKIP, name);
        return;
    }

    if (strcasecmp(name, "VirtualHost") == 0) {
        if (ctx->scope != s->main || ctx->modsection > 0) {
            const char  *inside = "another section";

            for (i = ctx->nframes - 1; i >= 0; i--) {
                if (ctx->frames[i].kind == FRAME_SCOPE
                    || ctx->frames[i].kind == FRAME_MODULE)
                {
                    inside = cairn_arena_printf(a, "<%s>",
                                                ctx->frames[i].name);
                    break;
                }
            }
            cairn__conf_error(s, ctx->file, ctx->line, "<VirtualHost> is only "
                              "allowed at server level, not inside %s",
                              inside);
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }
        if (argc < 2) {
            cairn__conf_error(s, ctx->file, ctx->line, "<VirtualHost> needs "
                              "at least one host name");
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }

        vh = cairn_arena_calloc(a, sizeof(*vh));
        vh->names.n = (size_t) argc - 1;
        vh->names.v = cairn_arena_calloc(a, (size_t) argc * sizeof(char *));
        for (i = 1; i < argc; i++) {
            char    *lower = cairn_arena_strdup(a, argv[i]);
            size_t   j;

            for (j = 0; lower[j] != '\0'; j++) {
                if (lower[j] >= 'A' && lower[j] <= 'Z') {
                    lower[j] = (char) (lower[j] - 'A' + 'a');
                }
            }
            for (k = 0; k < s->nvhosts; k++) {
                size_t  x;

                for (x = 0; x < s->vhosts[k]->names.n; x++) {
                    if (strcmp(s->vhosts[k]->names.v[x], lower) == 0) {
                        cairn__conf_error(s, ctx->file, ctx->line, "virtual "
                                          "host name '%s' is already used "
                                          "(%s:%d)", lower,
                                          s->vhosts[k]->scope->file,
                                          s->vhosts[k]->scope->line);
                    }
                }
            }
            vh->names.v[i - 1] = lower;
        }

        vh->scope = conf_scope_new(ctx, CAIRN__SCOPE_VHOST,
                                   vh->names.v[0]);
        vh->scope->parent = s->main;

        if (s->nvhosts % 8 == 0) {
            cairn__vhost_t  **v;

            v = cairn_arena_alloc(a, (s->nvhosts + 8) * sizeof(*v));
            if (s->nvhosts > 0) {
                memcpy(v, s->vhosts, s->nvhosts * sizeof(*v));
            }
            s->vhosts = v;
        }
        s->vhosts[s->nvhosts++] = vh;

        f = conf_push(ctx, FRAME_SCOPE, name);
        if (f == NULL) {
            return;
        }
        f->prev_scope = ctx->scope;
        f->prev_vhost = ctx->vhost;
        f->prev_tail = ctx->tail;
        ctx->scope = vh->scope;
        ctx->vhost = vh;
        ctx->tail = &vh->scope->recs;
        return;
    }

    if (strcasecmp(name, "Location") == 0
        || strcasecmp(name, "LocationMatch") == 0)
    {
        int  regex = strcasecmp(name, "LocationMatch") == 0;

        if (ctx->modsection > 0
            || ctx->scope->kind == CAIRN__SCOPE_PREFIX
            || ctx->scope->kind == CAIRN__SCOPE_REGEX)
        {
            cairn__conf_error(s, ctx->file, ctx->line, "<%s> cannot be nested "
                              "inside another location or section; "
                              "locations combine by path instead "
                              "(<Location /a/b> builds on <Location /a>)",
                              name);
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }
        if (argc != 2) {
            cairn__conf_error(s, ctx->file, ctx->line, "<%s> takes one "
                              "argument, %d given", name, argc - 1);
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }
        if (!regex && argv[1][0] != '/') {
            cairn__conf_error(s, ctx->file, ctx->line, "<Location %s>: the "
                              "path must start with '/'", argv[1]);
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }

        scope = conf_scope_new(ctx, regex ? CAIRN__SCOPE_REGEX
                                          : CAIRN__SCOPE_PREFIX, argv[1]);
        scope->parent = ctx->scope;

        if (regex) {
            const char  *msg;

            msg = cairn_regex_compile(a, &scope->re, argv[1], REG_NOSUB);
            if (msg != NULL) {
                cairn__conf_error(s, ctx->file, ctx->line, "<LocationMatch "
                                  "%s>: %s", argv[1], msg);
                conf_push(ctx, FRAME_SKIP, name);
                return;
            }
        }

        vh = ctx->vhost;
        if (regex) {
            cairn__scope_t  **v;

            v = cairn_arena_alloc(a, (vh->nregex + 1) * sizeof(*v));
            if (vh->nregex > 0) {
                memcpy(v, vh->regex, vh->nregex * sizeof(*v));
            }
            v[vh->nregex++] = scope;
            vh->regex = v;
        } else {
            cairn__scope_t  **v;

            v = cairn_arena_alloc(a, (vh->nprefix + 1) * sizeof(*v));
            if (vh->nprefix > 0) {
                memcpy(v, vh->prefix, vh->nprefix * sizeof(*v));
            }
            v[vh->nprefix++] = scope;
            vh->prefix = v;
        }

        f = conf_push(ctx, FRAME_SCOPE, name);
        if (f == NULL) {
            return;
        }
        f->prev_scope = ctx->scope;
        f->prev_vhost = ctx->vhost;
        f->prev_tail = ctx->tail;
        ctx->scope = scope;
        ctx->tail = &scope->recs;
        return;
    }

    /* A module's section, or a section inside one. */
    if (ctx->modsection > 0) {
        const cairn_directive_t  *d;
        conf_frame_t             *mf = NULL;

        for (i = ctx->nframes - 1; i >= 0; i--) {
            if (ctx->frames[i].kind == FRAME_MODULE) {
                mf = &ctx->frames[i];
                break;
            }
        }
        for (d = mf ? mf->table : NULL; d != NULL && d->name != NULL; d++) {
            if (strcasecmp(d->name, name) == 0) {
                break;
            }
        }
        if (d == NULL || d->name == NULL || d->args != CAIRN_ARGS_SECTION) {
            const char  *near = cairn__directive_closest(mf ? mf->table
                                                            : NULL, name, 1);

            cairn__conf_error(s, ctx->file, ctx->line, "unknown section <%s> "
                              "inside <%s>%s%s%s", name, mf ? mf->name : "?",
                              near ? ": did you mean '" : "",
                              near ? near : "", near ? "'?" : "");
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }

        memset(&cmd, 0, sizeof(cmd));
        cmd.ctx = ctx;
        cmd.name = name;
        cmd.d = d;
        rec = conf_record(ctx, d, mf->modidx, argc - 1, argv + 1);
        err = d->set(&cmd, mf->conf, argc - 1, rec->argv);
        if (err != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
            conf_push(ctx, FRAME_SKIP, name);
            return;
        }
        conf_module_section(ctx, name, &cmd, mf->modidx, rec);
        return;
    }

    e = cairn__directive_find(s, name);
    if (e == NULL || e->d->args != CAIRN_ARGS_SECTION) {
        const char  *hint = e ? NULL : cairn__module_hint(s, name, 1);

        if (e != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s is a directive, "
                              "not a section: write it without < >", name);
        } else if (hint != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "unknown section "
                              "<%s>: %s", name, hint);
        } else {
            cairn__conf_error(s, ctx->file, ctx->line, "unknown section "
                              "<%s> (is the module that provides it "
                              "loaded?)", name);
        }
        conf_push(ctx, FRAME_SKIP, name);
        return;
    }

    err = conf_check_scope(ctx, e->d);
    if (err != NULL) {
        cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
        conf_push(ctx, FRAME_SKIP, name);
        return;
    }

    raw = conf_raw(ctx, e->modidx);
    memset(&cmd, 0, sizeof(cmd));
    cmd.ctx = ctx;
    cmd.name = name;
    cmd.d = e->d;
    rec = conf_record(ctx, e->d, e->modidx, argc - 1, argv + 1);

    err = e->d->set(&cmd, raw ? raw->conf : NULL, argc - 1, rec->argv);
    if (err != NULL) {
        cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
        conf_push(ctx, FRAME_SKIP, name);
        return;
    }
    if (raw != NULL) {
        raw->set[e->index] = 1;
    }

    conf_module_section(ctx, name, &cmd, e->modidx, rec);
}


/*
 * Enters the body of a module section whose setter succeeded.  Without
 * cairn_cmd_section() the body must stay empty: a frame with no table
 * reports any directive in it.
 */
static void
conf_module_section(conf_ctx_t *ctx, const char *name, const cairn_cmd_t *cmd,
                    int modidx, cairn__rec_t *rec)
{
    conf_frame_t  *f;

    f = conf_push(ctx, FRAME_MODULE, name);
    if (f == NULL) {
        return;
    }
    f->table = cmd->section_ok ? cmd->section_table : NULL;
    f->conf = cmd->section_conf;
    f->modidx = modidx;
    f->prev_tail = ctx->tail;
    ctx->tail = &rec->body;
    ctx->modsection++;
}


static void
conf_section_close(conf_ctx_t *ctx, const char *name)
{
    conf_frame_t  *f;

    if (ctx->nframes <= ctx->file_base) {
        /* Sections close in the file that opened them. */
        cairn__conf_error(ctx->s, ctx->file, ctx->line, "</%s> without a "
                          "matching <%s>%s", name, name,
                          ctx->nframes > 0 ? " in this file" : "");
        return;
    }

    f = &ctx->frames[ctx->nframes - 1];

    if (strcasecmp(f->name, name) != 0) {
        cairn__conf_error(ctx->s, ctx->file, ctx->line, "</%s> closes "
                          "nothing: the open section is <%s> (%s:%d)", name,
                          f->name, f->file, f->line);
        return;
    }

    switch (f->kind) {
    case FRAME_SCOPE:
        ctx->scope = f->prev_scope;
        ctx->vhost = f->prev_vhost;
        ctx->tail = f->prev_tail;
        break;
    case FRAME_MODULE:
        ctx->modsection--;
        ctx->tail = f->prev_tail;
        break;
    default:
        if (f->prev_tail != NULL) {
            ctx->tail = f->prev_tail;
        }
        break;
    }

    ctx->nframes--;
}


/* The scope of the directive being parsed, as a CAIRN_SCOPE_* bit. */
static unsigned
conf_scope_bit(const conf_ctx_t *ctx)
{
    if (ctx->modsection > 0) {
        return CAIRN_SCOPE_SECTION;
    }

    switch (ctx->scope->kind) {
    case CAIRN__SCOPE_SERVER:
        return CAIRN_SCOPE_SERVER;
    case CAIRN__SCOPE_VHOST:
        return CAIRN_SCOPE_VHOST;
    default:
        return CAIRN_SCOPE_LOCATION;
    }
}


static const char *
conf_check_scope(conf_ctx_t *ctx, const cairn_directive_t *d)
{
    unsigned     bit = conf_scope_bit(ctx);
    const char  *where, *belongs;

    if (d->scope & bit) {
        return NULL;
    }

    switch (bit) {
    case CAIRN_SCOPE_SERVER:   where = "at server level"; break;
    case CAIRN_SCOPE_VHOST:    where = "inside <VirtualHost>"; break;
    case CAIRN_SCOPE_LOCATION: where = "inside <Location>"; break;
    default:                   where = "inside this section"; break;
    }

    switch (d->scope & CAIRN_SCOPE_ANY) {
    case CAIRN_SCOPE_SERVER:
        belongs = "it belongs at server level";
        break;
    case CAIRN_SCOPE_SERVER | CAIRN_SCOPE_VHOST:
        belongs = "it belongs at server or <VirtualHost> level";
        break;
    case CAIRN_SCOPE_LOCATION:
        belongs = "it belongs inside a <Location>";
        break;
    case CAIRN_SCOPE_VHOST | CAIRN_SCOPE_LOCATION:
        belongs = "it belongs inside <VirtualHost> or <Location>";
        break;
    case CAIRN_SCOPE_SERVER | CAIRN_SCOPE_LOCATION:
        belongs = "it belongs at server level or inside a <Location>";
        break;
    default:
        belongs = (d->scope & CAIRN_SCOPE_SECTION)
                  ? "it belongs inside its module's section"
                  : "it is not allowed anywhere here";
        break;
    }

    return cairn_arena_printf(ctx->s->arena, "%s is not allowed %s; %s",
                              d->name, where, belongs);
}


static const char *
conf_check_args(const cairn_directive_t *d, int argc)
{
    static const struct {
        int          min;
        int          max;           /* -1: no limit */
        const char  *want;
    }            shapes[] = {
        [CAIRN_ARGS_NONE]        = { 0, 0, "no arguments" },
        [CAIRN_ARGS_FLAG]        = { 1, 1, "one argument (on or off)" },
        [CAIRN_ARGS_ONE]         = { 1, 1, "one argument" },
        [CAIRN_ARGS_TWO]         = { 2, 2, "two arguments" },
        [CAIRN_ARGS_ONE_OR_MORE] = { 1, -1, "at least one argument" },
        [CAIRN_ARGS_ANY]         = { 0, -1, "any number of arguments" },
    };
    static char  msg[256];

    if (d->args == CAIRN_ARGS_SECTION) {
        snprintf(msg, sizeof(msg), "%s is a section: write <%s ...> and "
                 "close it with </%s>", d->name, d->name, d->name);
        return msg;
    }

    if (d->args > CAIRN_ARGS_ANY
        || (argc >= shapes[d->args].min
            && (shapes[d->args].max < 0 || argc <= shapes[d->args].max)))
    {
        return NULL;
    }

    if (argc == 0 && shapes[d->args].max < 0) {
        snprintf(msg, sizeof(msg), "%s takes %s, none given", d->name,
                 shapes[d->args].want);
    } else {
        snprintf(msg, sizeof(msg), "%s takes %s, %d given", d->name,
                 shapes[d->args].want, argc);
    }

    return msg;
}


static void
conf_directive(conf_ctx_t *ctx, int argc, char **argv)
{
    cairn_server_t         *s = ctx->s;
    const char             *name = argv[0];
    const cairn__dirent_t  *e;
    const char             *err, *hint;
    cairn__mconf_t         *raw;
    conf_frame_t           *mf = NULL;
    cairn_cmd_t             cmd;
    int                     i;

    if (strcasecmp(name, "Include") == 0
        || strcasecmp(name, "IncludeOptional") == 0)
    {
        if (argc != 2) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s takes one "
                              "argument, %d given", name, argc - 1);
            return;
        }
        conf_include(ctx, argv[1], strcasecmp(name, "IncludeOptional") == 0);
        return;
    }

    if (strcasecmp(name, "LoadModule") == 0
        || strcasecmp(name, "ModuleDir") == 0)
    {
        if (ctx->scope != s->main || ctx->modsection > 0) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s is only allowed at "
                              "server level", name);
            return;
        }

        if (strcasecmp(name, "ModuleDir") == 0) {
            if (argc < 2) {
                cairn__conf_error(s, ctx->file, ctx->line, "ModuleDir takes "
                                  "at least one directory");
                return;
            }
            for (i = 1; i < argc; i++) {
                const char  **v;

                v = cairn_arena_alloc(s->arena, (s->moduledirs.n + 1)
                                                * sizeof(char *));
                if (s->moduledirs.n > 0) {
                    memcpy(v, s->moduledirs.v,
                           s->moduledirs.n * sizeof(char *));
                }
                v[s->moduledirs.n++] = argv[i][0] == '/'
                    ? cairn_arena_strdup(s->arena, argv[i])
                    : cairn_arena_printf(s->arena, "%s/%s", s->conf_dir,
                                         argv[i]);
                s->moduledirs.v = v;
            }
            conf_record(ctx, NULL, -1, argc - 1, argv + 1)->name =
                "ModuleDir";
            return;
        }

        if (argc < 2 || argc > 3) {
            cairn__conf_error(s, ctx->file, ctx->line, "LoadModule takes a "
                              "module name and an optional path, e.g. "
                              "'LoadModule static'");
            return;
        }
        err = cairn__module_load(s, cairn__module_name(s->arena, argv[1]),
                                 argc == 3 ? argv[2] : NULL, ctx->file,
                                 ctx->line);
        if (err != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
        }
        return;
    }

    if (ctx->modsection > 0) {
        const cairn_directive_t  *d = NULL;
        cairn__rec_t             *rec;

        for (i = ctx->nframes - 1; i >= 0; i--) {
            if (ctx->frames[i].kind == FRAME_MODULE) {
                mf = &ctx->frames[i];
                break;
            }
        }
        if (mf != NULL && mf->table != NULL) {
            for (d = mf->table; d->name != NULL; d++) {
                if (strcasecmp(d->name, name) == 0) {
                    break;
                }
            }
        }
        if (mf == NULL || mf->table == NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "<%s> takes no "
                              "directives", mf ? mf->name : "?");
            return;
        }
        if (d == NULL || d->name == NULL) {
            const char  *near = cairn__directive_closest(mf->table, name, 0);

            cairn__conf_error(s, ctx->file, ctx->line, "unknown directive "
                              "'%s' inside <%s>%s%s%s", name, mf->name,
                              near ? ": did you mean '" : "",
                              near ? near : "", near ? "'?" : "");
            return;
        }

        err = conf_check_args(d, argc - 1);
        if (err == NULL && d->args == CAIRN_ARGS_FLAG) {
            int  flag;

            err = cairn_parse_flag(argv[1], &flag);
        }
        if (err != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
            return;
        }

        memset(&cmd, 0, sizeof(cmd));
        cmd.ctx = ctx;
        cmd.name = name;
        cmd.d = d;
        rec = conf_record(ctx, d, mf->modidx, argc - 1, argv + 1);
        err = conf_apply(ctx, d, mf->modidx, mf->conf, NULL, 0, argc - 1,
                         rec->argv, &cmd);
        if (err != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
        }
        return;
    }

    e = cairn__directive_find(s, name);
    if (e == NULL) {
        hint = cairn__module_hint(s, name, 0);
        if (hint != NULL) {
            cairn__conf_error(s, ctx->file, ctx->line, "unknown directive "
                              "'%s': %s", name, hint);
        } else {
            cairn__conf_error(s, ctx->file, ctx->line, "unknown directive "
                              "'%s' (is the module that provides it "
                              "loaded?)", name);
        }
        return;
    }

    err = conf_check_args(e->d, argc - 1);
    if (err == NULL) {
        err = conf_check_scope(ctx, e->d);
    }
    if (err != NULL) {
        cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
        return;
    }

    raw = conf_raw(ctx, e->modidx);

    memset(&cmd, 0, sizeof(cmd));
    cmd.ctx = ctx;
    cmd.name = name;
    cmd.d = e->d;

    {
        cairn__rec_t  *rec = conf_record(ctx, e->d, e->modidx, argc - 1,
                                         argv + 1);

        err = conf_apply(ctx, e->d, e->modidx, raw ? raw->conf : NULL,
                         raw ? raw->set : NULL, e->index, argc - 1,
                         rec->argv, &cmd);
    }
    if (err != NULL) {
        cairn__conf_error(s, ctx->file, ctx->line, "%s", err);
    }
}


/*
 * Converts and stores one directive's value.  set is NULL inside module
 * sections (their objects are the module's own).
 */
static const char *
conf_apply(conf_ctx_t *ctx, const cairn_directive_t *d, int modidx,
           void *conf, uint8_t *set, int index, int argc, char **argv,
           cairn_cmd_t *cmd)
{
    cairn_arena_t  *a = ctx->s->arena;
    char           *field;
    const char     *err = NULL;
    size_t          i;

    if (conf == NULL && d->type != CAIRN_TYPE_CUSTOM) {
        return cairn_arena_printf(a, "%s: its module keeps no configuration",
                                  d->name);
    }

    field = (char *) conf + d->offset;

    switch ((cairn_type_t) d->type) {
    case CAIRN_TYPE_STRING:
        *(const char **) field = argv[0];
        break;

    case CAIRN_TYPE_PATH:
        *(const char **) field = cairn_cmd_path(cmd, argv[0]);
        break;

    case CAIRN_TYPE_FLAG:
        err = cairn_parse_flag(argv[0], (int *) field);
        break;

    case CAIRN_TYPE_INT:
        err = cairn_parse_int(argv[0], (int *) field);
        break;

    case CAIRN_TYPE_SIZE:
        err = cairn_parse_size(argv[0], (int64_t *) field);
        break;

    case CAIRN_TYPE_MSEC:
        err = cairn_parse_msec(argv[0], (int64_t *) field);
        break;

    case CAIRN_TYPE_LIST: {
        cairn_strv_t  *l = (cairn_strv_t *) field;
        const char   **v;

        /* Repeating a list directive in one scope adds to it; a fresh
         * scope starts from the module's default only if it was never
         * set here. */
        if (set != NULL && !set[index]) {
            l->n = 0;
        }
        v = cairn_arena_alloc(a, (l->n + (size_t) argc + 1)
                                 * sizeof(char *));
        if (l->n > 0) {
            memcpy(v, l->v, l->n * sizeof(char *));
        }
        for (i = 0; i < (size_t) argc; i++) {
            v[l->n + i] = argv[i];
        }
        v[l->n + (size_t) argc] = NULL;
        l->v = v;
        l->n += (size_t) argc;
        break;
    }

    case CAIRN_TYPE_KV: {
        cairn_kvv_t  *kv = (cairn_kvv_t *) field;
        cairn_kv_t   *v;

        if (set != NULL && !set[index]) {
            kv->n = 0;
        }
        for (i = 0; i < kv->n; i++) {
            if (strcasecmp(kv->v[i].key, argv[0]) == 0) {
                kv->v[i].value = argv[1];
                break;
            }
        }
        if (i == kv->n) {
            v = cairn_arena_alloc(a, (kv->n + 1) * sizeof(*v));
            if (kv->n > 0) {
                memcpy(v, kv->v, kv->n * sizeof(*v));
            }
            v[kv->n].key = argv[0];
            v[kv->n].value = argv[1];
            kv->v = v;
            kv->n++;
        }
        break;
    }

    case CAIRN_TYPE_CUSTOM:
        err = d->set(cmd, conf, argc, argv);
        break;
    }

    if (err == NULL && set != NULL) {
        set[index] = 1;
    }

    (void) modidx;

    return err;
}


static void
conf_include(conf_ctx_t *ctx, const char *pattern, int optional)
{
    cairn_server_t             *s = ctx->s;
    const cairn__conf_match_t  *matches;
    const char                 *full, *base, *text, *err;
    struct stat                 st;
    size_t                      i, len, n, nmatches, errors_before;
    size_t                      matched = 0;

    errors_before = s->nerrors;

    if (ctx->depth >= CONF_MAX_INCLUDE_DEPTH) {
        cairn__conf_error(s, ctx->file, ctx->line, "Include nested more than "
                          "%d levels deep: does '%s' include itself?",
                          CONF_MAX_INCLUDE_DEPTH, pattern);
        return;
    }

    full = pattern[0] == '/'
           ? pattern
           : cairn_arena_printf(s->arena, "%s/%s", s->conf_dir, pattern);

    if (s->src == NULL) {
        /* Parsing a string (unit tests): files are read as usual. */
        s->src = cairn__conf_source_new();
        s->own_src = 1;
    }

    if (cairn__conf_source_glob(s->src, full, &matches, &nmatches) != 0) {
        cairn__conf_error(s, ctx->file, ctx->line, "Include '%s': cannot "
                          "read the directory", pattern);
        return;
    }

    for (i = 0; i < nmatches; i++) {
        const char  *path = matches[i].path;

        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        len = strlen(base);

        /* A pattern ending in '/' matches directories as "dir/": no
         * base name at all. */
        if (base[0] == '.' || (len > 0 && base[len - 1] == '~')
            || strstr(base, ".dpkg-") != NULL
            || (len > 7 && strcmp(base + len - 7, ".rpmnew") == 0)
            || (len > 8 && strcmp(base + len - 8, ".rpmsave") == 0))
        {
            continue;
        }

        if (ctx->too_much) {
            break;
        }

        if (matches[i].kind == CAIRN__MATCH_GONE) {
            cairn__conf_error(s, ctx->file, ctx->line, "Include: cannot "
                              "read %s: %s", path, strerror(matches[i].err));
            continue;
        }
        if (matches[i].kind == CAIRN__MATCH_DIR) {
            continue;
        }
        if (matches[i].kind != CAIRN__MATCH_FILE) {
            cairn__conf_error(s, ctx->file, ctx->line, "Include: %s is not "
                              "a regular file", path);
            continue;
        }

        if (cairn__conf_source_file(s->src, path, &text, &n, &st, &err)
            != 0)
        {
            cairn__conf_error(s, ctx->file, ctx->line, "Include: cannot open "
                              "%s: %s", path, err);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            cairn__conf_error(s, ctx->file, ctx->line, "Include: %s is not "
                              "a regular file", path);
            continue;
        }
        if (conf_include_loop(ctx, path, &st)) {
            continue;
        }
        if (ctx->nfiles + 1 > CONF_MAX_FILES
            || ctx->nbytes + n > CONF_MAX_BYTES)
        {
            cairn__conf_error(s, ctx->file, ctx->line, "Include '%s': the "
                              "configuration would read more than %d files "
                              "or %d MiB; does a pattern match far more "
                              "than intended?", pattern, CONF_MAX_FILES,
                              CONF_MAX_BYTES / (1024 * 1024));
            ctx->too_much = 1;
            break;
        }
        ctx->nfiles++;
        ctx->nbytes += n;

        matched++;
        ctx->chain[ctx->depth].line = ctx->line;
        ctx->depth++;
        ctx->chain[ctx->depth].dev = st.st_dev;
        ctx->chain[ctx->depth].ino = st.st_ino;
        ctx->chain[ctx->depth].file = cairn_arena_strdup(s->arena, path);
        conf_parse_text(ctx, ctx->chain[ctx->depth].file, text);
        ctx->depth--;
    }

    if (matched == 0 && !optional && s->nerrors == errors_before) {
        cairn__conf_error(s, ctx->file, ctx->line, "Include '%s' matches no "
                          "file (use IncludeOptional if that is expected)",
                          pattern);
    }
}


/*
 * Whether including the file at path (st) would include a file that is
 * already on the chain of includes that leads here (same device and
 * inode, whatever the path says): an error naming the chain,
 * "a.conf:3 -> b.conf:1 -> a.conf".
 */
static int
conf_include_loop(conf_ctx_t *ctx, const char *path, const struct stat *st)
{
    const char  *chain;
    int          i, k;

    for (i = 0; i <= ctx->depth; i++) {
        if (ctx->chain[i].dev == st->st_dev
            && ctx->chain[i].ino == st->st_ino)
        {
            break;
        }
    }
    if (i > ctx->depth) {
        return 0;
    }

    ctx->chain[ctx->depth].line = ctx->line;
    chain = "";
    for (k = 0; k <= ctx->depth; k++) {
        chain = cairn_arena_printf(ctx->s->arena, "%s%s:%d -> ", chain,
                                   ctx->chain[k].file, ctx->chain[k].line);
    }
    cairn__conf_error(ctx->s, ctx->file, ctx->line, "Include loop: %s%s",
                      chain, path);
    /* One message: a pattern that loops once loops everywhere. */
    ctx->too_much = 1;

    return 1;
}




static cairn__mconf_t *
conf_raw(conf_ctx_t *ctx, int modidx)
{
    cairn__mconf_t        *raw = &ctx->scope->raw[modidx];
    const cairn_module_t  *m = ctx->s->mods[modidx].m;
    size_t                 n = 0;

    if (m->create_conf == NULL) {
        return NULL;
    }

    if (raw->conf == NULL) {
        while (m->directives != NULL && m->directives[n].name != NULL) {
            n++;
        }
        raw->conf = m->create_conf(ctx->s->arena);
        raw->set = cairn_arena_calloc(ctx->s->arena, n + 1);
    }

    return raw;
}


static cairn__rec_t *
conf_record(conf_ctx_t *ctx, const cairn_directive_t *d, int modidx,
            int argc, char **argv)
{
    cairn_arena_t  *a = ctx->s->arena;
    cairn__rec_t   *rec;
    int             i;

    rec = cairn_arena_calloc(a, sizeof(*rec));
    rec->d = d;
    rec->modidx = modidx;
    rec->depth = ctx->modsection;
    rec->name = d ? d->name : NULL;
    rec->argc = argc;
    rec->argv = cairn_arena_calloc(a, (size_t) (argc + 1) * sizeof(char *));
    for (i = 0; i < argc; i++) {
        rec->argv[i] = cairn_arena_strdup(a, argv[i]);
    }
    rec->file = ctx->file;
    rec->line = ctx->line;

    *ctx->tail = rec;
    ctx->tail = &rec->next;
    if (ctx->modsection == 0) {
        ctx->scope->recs_tail = &rec->next;
    }

    return rec;
}


static cairn__scope_t *
conf_scope_new(conf_ctx_t *ctx, cairn__scope_kind_t kind, const char *name)
{
    cairn__scope_t  *scope;

    scope = cairn_arena_calloc(ctx->s->arena, sizeof(*scope));
    scope->kind = kind;
    scope->name = cairn_arena_strdup(ctx->s->arena, name);
    scope->file = ctx->file;
    scope->line = ctx->line;
    scope->raw = cairn_arena_calloc(ctx->s->arena,
                                    ctx->s->capmods * sizeof(cairn__mconf_t));
    scope->recs_tail = &scope->recs;

    return scope;
}


/* ------------------------------------------------------------------ */
/* The cmd API                                                        */
/* ------------------------------------------------------------------ */

cairn_arena_t *
cairn_cmd_arena(cairn_cmd_t *cmd)
{
    return cmd->ctx->s->arena;
}


cairn_server_t *
cairn_cmd_server(cairn_cmd_t *cmd)
{
    return cmd->ctx->s;
}


const char *
cairn_cmd_file(cairn_cmd_t *cmd)
{
    return cmd->ctx->file;
}


int
cairn_cmd_line(cairn_cmd_t *cmd)
{
    return cmd->ctx->line;
}


const char *
cairn_cmd_name(cairn_cmd_t *cmd)
{
    return cmd->name;
}


const char *
cairn_cmd_location(cairn_cmd_t *cmd)
{
    const cairn__scope_t  *scope = cmd->ctx->scope;

    if (scope->kind == CAIRN__SCOPE_PREFIX
        || scope->kind == CAIRN__SCOPE_REGEX)
    {
        return scope->name;
    }

    return NULL;
}


const char *
cairn_cmd_path(cairn_cmd_t *cmd, const char *path)
{
    cairn_server_t  *s = cmd->ctx->s;

    if (path[0] == '/') {
        return cairn_arena_strdup(s->arena, path);
    }

    return cairn_arena_printf(s->arena, "%s/%s", s->conf_dir, path);
}


const char *
cairn_cmd_section(cairn_cmd_t *cmd, const cairn_directive_t *table,
                  void *conf)
{
    if (cmd->d == NULL || cmd->d->args != CAIRN_ARGS_SECTION) {
        return "cairn_cmd_section() called outside a section setter";
    }

    cmd->section_table = table;
    cmd->section_conf = conf;
    cmd->section_ok = 1;

    return NULL;
}






const char *
cairn_route_add(cairn_cmd_t *cmd, const char *pattern, unsigned methods,
                const cairn_module_t *m, void *data)
{
    cairn__vhost_t  *vh = cmd->ctx->vhost;

    if (vh->router == NULL) {
        vh->router = cairn__router_create(cmd->ctx->s->arena);
    }

    return cairn__router_add(vh->router, pattern, methods, m, data);
}
