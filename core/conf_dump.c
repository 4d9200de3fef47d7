/*
 * core/conf_dump.c: `cairnd -T` and `cairnd -T --explain HOST PATH`.
 *
 * -T prints a configuration that reproduces the running one: the
 * modules with the files they came from, then the directives of every
 * scope as they were written (after Include, <IfModule> and <IfDefine>
 * were resolved), each followed by the file:line it came from; a
 * section's file:line is a comment just above it, since a section line
 * must end with '>'.
 *
 * --explain prints, for one request, the virtual host and locations that
 * apply and every effective setting with its origin:
 *
 *   # host example.com -> virtual host example.com (cairn.conf:20)
 *   # path /a/b -> <Location /a> (cairn.conf:24)
 *
 *   # core
 *   KeepAliveTimeout 5s                     # (default)
 *   Header X-Frame-Options DENY             # cairn.conf:3 (server)
 *
 *   # mod_static 0.1.0
 *   DocumentRoot /srv/www                   # cairn.conf:25 (<Location /a>)
 */

#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_int.h"
#include "log_int.h"


/* Where the file:line comments start. */
#define CONF_DUMP_COLUMN    40


/* Where cairn__router_each() prints the routes. */
typedef struct {
    FILE    *out;
    int      indent;
} conf_dump_route_ctx_t;


static void conf_dump_modules(const cairn_server_t *s, FILE *out);
static void conf_dump_scope(const cairn__vhost_t *vh,
                            const cairn__scope_t *sc, int indent, FILE *out);
static void conf_dump_locations(const cairn__vhost_t *vh, int indent,
                                FILE *out);
static void conf_dump_recs(const cairn__rec_t *rec, int indent,
                           const char *where, FILE *out);
static void conf_dump_rec(const cairn__rec_t *rec, int indent,
                          const char *where, FILE *out);
static void conf_dump_routes(const cairn__vhost_t *vh, int indent,
                             FILE *out);
static void conf_dump_route(const cairn__route_t *route, void *data);
static void conf_dump_directive(const cairn_server_t *s,
                                const cairn__loc_t *loc, size_t modidx,
                                size_t di, FILE *out);
static const cairn__rec_t *conf_dump_last(const cairn__scope_t *sc,
                                          size_t modidx,
                                          const cairn_directive_t *d,
                                          const char *key);
static void conf_dump_default(const cairn_module_t *m, size_t di,
                              const void *conf, FILE *out);
static const char *conf_dump_where(const cairn__scope_t *sc, char *buf,
                                   size_t len);
static int conf_dump_words(FILE *out, int indent, const char *open,
                           const char *name, int argc, char *const *argv,
                           const char *close);
static int conf_dump_arg(FILE *out, const char *arg);
static void conf_dump_src(FILE *out, int col, const char *file, int line,
                          const char *where);
static void conf_dump_above(FILE *out, int indent, const char *file,
                            int line, const char *where);
static void conf_dump_comment(FILE *out, int col, const char *text);
static int conf_dump_isset(const cairn__mconf_t *mc, size_t i);
static const char *conf_dump_msec(int64_t ms, char *buf, size_t len);
static const char *conf_dump_size(int64_t n, char *buf, size_t len);


void
cairn__conf_dump(const cairn_server_t *s, FILE *out)
{
    const cairn__vhost_t  *vh;
    size_t                 i;

    fprintf(out, "# The effective configuration of %s, as cairnd reads it:\n"
            "# includes and conditions resolved, each directive followed "
            "by the file:line\n# it comes from (a section's is on the line "
            "above it).\n\n", s->conf_file);

    conf_dump_modules(s, out);

    conf_dump_recs(s->main->recs, 0, NULL, out);
    conf_dump_routes(s->main_vhost, 0, out);
    conf_dump_locations(s->main_vhost, 0, out);

    for (i = 0; i < s->nvhosts; i++) {
        vh = s->vhosts[i];

        fputc('\n', out);
        conf_dump_above(out, 0, vh->scope->file, vh->scope->line, NULL);
        if (vh->names.n > 0) {
            conf_dump_words(out, 0, "<", "VirtualHost", (int) vh->names.n,
                            (char *const *) vh->names.v, ">\n");
        } else {
            conf_dump_words(out, 0, "<", "VirtualHost", 1,
                            (char *const *) &vh->scope->name, ">\n");
        }

        conf_dump_scope(vh, vh->scope, 1, out);

        fputs("</VirtualHost>\n", out);
    }
}


void
cairn__conf_explain(const cairn_server_t *s, const char *host,
                    const char *path, FILE *out)
{
    const cairn__vhost_t  *vh;
    const cairn__loc_t    *loc;
    const cairn__scope_t  *sc;
    const cairn_module_t  *m;
    char                  *lower;
    char                   where[512];
    size_t                 i, k, di;
    int                    locs;

    lower = strdup(host != NULL ? host : "");
    if (lower == NULL) {
        return;
    }
    for (i = 0; lower[i] != '\0'; i++) {
        if (lower[i] >= 'A' && lower[i] <= 'Z') {
            lower[i] = (char) (lower[i] - 'A' + 'a');
        }
    }
    if (path == NULL || path[0] == '\0') {
        path = "/";
    }

    vh = cairn__conf_vhost(s, lower);
    loc = cairn__conf_locate(vh, path);

    if (vh == s->main_vhost) {
        fprintf(out, "# host %s -> server scope (no <VirtualHost> names "
                "it)\n", lower);
    } else {
        fprintf(out, "# host %s -> virtual host %s (%s:%d)\n", lower,
                vh->names.n > 0 ? vh->names.v[0] : vh->scope->name,
                vh->scope->file, vh->scope->line);
    }

    fprintf(out, "# path %s", path);
    locs = 0;
    for (k = 0; k < loc->nchain; k++) {
        sc = loc->chain[k];
        if (sc->kind == CAIRN__SCOPE_PREFIX || sc->kind == CAIRN__SCOPE_REGEX)
        {
            fprintf(out, " -> %s (%s:%d)",
                    conf_dump_where(sc, where, sizeof(where)), sc->file,
                    sc->line);
            locs++;
        }
    }
    if (locs == 0) {
        fputs(" -> no <Location> or <LocationMatch> applies", out);
    }
    fputc('\n', out);

    free(lower);

    for (i = 0; i < s->nmods; i++) {
        m = s->mods[i].m;

        if (i == 0) {
            fputs("\n# core\n", out);
        } else {
            fprintf(out, "\n# mod_%s %s\n", m->name,
                    m->version != NULL ? m->version : "");
        }

        if (loc->mconf[i].conf == NULL || m->directives == NULL) {
            fputs("#   (no configuration)\n", out);
            continue;
        }

        locs = 0;
        for (di = 0; m->directives[di].name != NULL; di++) {
            if (m->directives[di].merge == CAIRN_MERGE_SCOPE) {
                /* A group of directives is shown once, at its first. */
                if (cairn__conf_group_first(m, di) != di) {
                    continue;
                }
                if (cairn__conf_group_set(m, &loc->mconf[i], di)) {
                    conf_dump_directive(s, loc, i, di, out);
                } else {
                    conf_dump_default(m, di, loc->mconf[i].conf, out);
                }
                locs++;
            } else if (conf_dump_isset(&loc->mconf[i], di)) {
                conf_dump_directive(s, loc, i, di, out);
                locs++;
            } else {
                conf_dump_default(m, di, loc->mconf[i].conf, out);
                locs++;
            }
        }
        if (locs == 0) {
            fputs("#   (nothing set: the module's defaults apply)\n", out);
        }
    }
}


/*
 * LoadModule lines name the file each module was loaded from, so the
 * dump does not depend on ModuleDir.
 */
static void
conf_dump_modules(const cairn_server_t *s, FILE *out)
{
    const cairn__modrec_t  *mr;
    size_t                  i;
    int                     n;
    char                   *argv[2];

    for (i = 1; i < s->nmods; i++) {
        mr = &s->mods[i];

        if (mr->path == NULL) {
            n = fprintf(out, "# LoadModule %s", mr->m->name);
            conf_dump_comment(out, n, "(built into this cairnd, not from "
                              "a file)");
            continue;
        }

        argv[0] = (char *) mr->m->name;
        argv[1] = (char *) mr->path;
        n = conf_dump_words(out, 0, "", "LoadModule", 2, argv, "");
        conf_dump_src(out, n, mr->file, mr->line, NULL);
    }

    if (s->nmods > 1) {
        fputc('\n', out);
    }
}


/* The directives of one scope, then its locations. */
static void
conf_dump_scope(const cairn__vhost_t *vh, const cairn__scope_t *sc,
                int indent, FILE *out)
{
    conf_dump_recs(sc->recs, indent, NULL, out);
    conf_dump_routes(vh, indent, out);
    conf_dump_locations(vh, indent, out);
}


/*
 * The locations written inside vh (for the server's: at server level).
 * After finalize a named virtual host's lists also hold the server's,
 * so only those whose parent is vh's scope are printed here.  Prefix
 * locations come shortest first (their order has no effect, except
 * between equal paths, which keep theirs), then regex locations in
 * config order.
 */
static void
conf_dump_locations(const cairn__vhost_t *vh, int indent, FILE *out)
{
    const cairn__scope_t  **v;
    const cairn__scope_t   *sc;
    size_t                  n, k, j;

    v = malloc((vh->nprefix + 1) * sizeof(*v));
    if (v == NULL) {
        return;
    }

    /* vh->prefix is longest first with equal paths in order: a stable
     * insertion by length gives shortest first, ties still in order. */
    n = 0;
    for (k = 0; k < vh->nprefix; k++) {
        sc = vh->prefix[k];
        if (sc->parent != vh->scope) {
            continue;
        }
        for (j = n; j > 0 && strlen(v[j - 1]->name) > strlen(sc->name); j--) {
            v[j] = v[j - 1];
        }
        v[j] = sc;
        n++;
    }

    for (k = 0; k < n; k++) {
        sc = v[k];
        fputc('\n', out);
        conf_dump_above(out, indent, sc->file, sc->line, NULL);
        conf_dump_words(out, indent, "<", "Location", 1,
                        (char *const *) &sc->name, ">\n");
        conf_dump_recs(sc->recs, indent + 1, NULL, out);
        fprintf(out, "%*s</Location>\n", indent * 4, "");
    }

    free(v);

    for (k = 0; k < vh->nregex; k++) {
        sc = vh->regex[k];
        if (sc->parent != vh->scope) {
            continue;
        }
        fputc('\n', out);
        conf_dump_above(out, indent, sc->file, sc->line, NULL);
        conf_dump_words(out, indent, "<", "LocationMatch", 1,
                        (char *const *) &sc->name, ">\n");
        conf_dump_recs(sc->recs, indent + 1, NULL, out);
        fprintf(out, "%*s</LocationMatch>\n", indent * 4, "");
    }
}


static void
conf_dump_recs(const cairn__rec_t *rec, int indent, const char *where,
               FILE *out)
{
    for ( /* void */ ; rec != NULL; rec = rec->next) {
        conf_dump_rec(rec, indent, where, out);
    }
}


/* One record; a module section with its body. */
static void
conf_dump_rec(const cairn__rec_t *rec, int indent, const char *where,
              FILE *out)
{
    const char  *name;
    int          n;

    name = rec->d != NULL ? rec->d->name : rec->name;
    if (name == NULL) {
        return;
    }

    if (rec->d != NULL && rec->d->args == CAIRN_ARGS_SECTION) {
        conf_dump_above(out, indent, rec->file, rec->line, where);
        conf_dump_words(out, indent, "<", name, rec->argc, rec->argv, ">\n");
        conf_dump_recs(rec->body, indent + 1, where, out);
        fprintf(out, "%*s</%s>\n", indent * 4, "", name);
        return;
    }

    n = conf_dump_words(out, indent, "", name, rec->argc, rec->argv, "");
    conf_dump_src(out, n, rec->file, rec->line, where);
}


/* Routes are added by module directives; they are listed as comments. */
static void
conf_dump_routes(const cairn__vhost_t *vh, int indent, FILE *out)
{
    conf_dump_route_ctx_t  ctx;

    if (vh->router == NULL || cairn__router_count(vh->router) == 0) {
        return;
    }

    ctx.out = out;
    ctx.indent = indent;

    fprintf(out, "%*s# routes:\n", indent * 4, "");
    cairn__router_each(vh->router, conf_dump_route, &ctx);
}


static void
conf_dump_route(const cairn__route_t *route, void *data)
{
    conf_dump_route_ctx_t  *ctx = data;
    const char             *sep = "";
    int                     m;

    fprintf(ctx->out, "%*s#   %s ", ctx->indent * 4, "", route->pattern);

    if (route->methods == CAIRN_M_ANY) {
        fputs("any method", ctx->out);
    } else {
        for (m = CAIRN_METHOD_GET; m <= CAIRN_METHOD_CONNECT; m++) {
            if (route->methods & CAIRN_M(m)) {
                fprintf(ctx->out, "%s%s", sep,
                        cairn_method_name((cairn_method_t) m));
                sep = ",";
            }
        }
    }

    fprintf(ctx->out, " -> mod_%s\n",
            route->module != NULL && route->module->name != NULL
            ? route->module->name : "?");
}


/*
 * One effective directive of loc and where it came from:
 *
 *   REPLACE   the innermost scope of the chain that wrote it, its last
 *             line there
 *   APPEND    every line in the chain, outermost first
 *   KEY       for each key of the merged list, the line that wins it
 *   NONE      the innermost scope only (the value is not inherited)
 *   SCOPE     every line of the group from the innermost scope with any
 */
static void
conf_dump_directive(const cairn_server_t *s, const cairn__loc_t *loc,
                    size_t modidx, size_t di, FILE *out)
{
    const cairn_module_t     *m = s->mods[modidx].m;
    const cairn_directive_t  *d = &m->directives[di];
    const cairn__rec_t       *rec, *r;
    const cairn__scope_t     *sc = NULL;
    const cairn_kvv_t        *kv;
    char                      where[512];
    size_t                    k, j;
    int                       n, found = 0;

    if (d->merge == CAIRN_MERGE_KEY && d->size == sizeof(cairn_kvv_t)) {
        kv = (const cairn_kvv_t *) ((const char *) loc->mconf[modidx].conf
                                    + d->offset);
        for (j = 0; j < kv->n; j++) {
            rec = NULL;
            for (k = loc->nchain; k > 0 && rec == NULL; k--) {
                sc = loc->chain[k - 1];
                rec = conf_dump_last(sc, modidx, d, kv->v[j].key);
            }
            if (rec != NULL) {
                conf_dump_rec(rec, 0, conf_dump_where(sc, where,
                                                      sizeof(where)), out);
            } else {
                char  *argv[2];

                argv[0] = (char *) kv->v[j].key;
                argv[1] = (char *) kv->v[j].value;
                n = conf_dump_words(out, 0, "", d->name, 2, argv, "");
                conf_dump_comment(out, n, "(set)");
            }
            found++;
        }

    } else if (d->merge == CAIRN_MERGE_SCOPE) {
        /* Every line of the group from the innermost scope that has
         * any. */
        for (k = loc->nchain; k > 0 && found == 0; k--) {
            sc = loc->chain[k - 1];
            for (r = sc->recs; r != NULL; r = r->next) {
                if (r->modidx == (int) modidx
                    && r->d->merge == CAIRN_MERGE_SCOPE
                    && r->d->offset == d->offset && r->d->size == d->size)
                {
                    conf_dump_rec(r, 0, conf_dump_where(sc, where,
                                                        sizeof(where)), out);
                    found++;
                }
            }
        }

    } else if (d->merge == CAIRN_MERGE_APPEND
               || d->merge == CAIRN_MERGE_KEY)
    {
        for (k = 0; k < loc->nchain; k++) {
            sc = loc->chain[k];
            for (r = sc->recs; r != NULL; r = r->next) {
                if (r->d == d && r->modidx == (int) modidx) {
                    conf_dump_rec(r, 0, conf_dump_where(sc, where,
                                                        sizeof(where)), out);
                    found++;
                }
            }
        }

    } else {
        for (k = loc->nchain; k > 0; k--) {
            sc = loc->chain[k - 1];
            rec = conf_dump_last(sc, modidx, d, NULL);
            if (rec != NULL) {
                conf_dump_rec(rec, 0, conf_dump_where(sc, where,
                                                      sizeof(where)), out);
                found++;
                break;
            }
            if (d->merge == CAIRN_MERGE_NONE) {
                break;
            }
        }
    }

    if (found == 0) {
        n = fprintf(out, "%s", d->name);
        conf_dump_comment(out, n, "(set)");
    }
}


/* The last line of scope sc that set directive d (with that key). */
static const cairn__rec_t *
conf_dump_last(const cairn__scope_t *sc, size_t modidx,
               const cairn_directive_t *d, const char *key)
{
    const cairn__rec_t  *r, *last = NULL;

    for (r = sc->recs; r != NULL; r = r->next) {
        if (r->d != d || r->modidx != (int) modidx) {
            continue;
        }
        if (key != NULL
            && (r->argc < 1 || strcasecmp(r->argv[0], key) != 0))
        {
            continue;
        }
        last = r;
    }

    return last;
}


/* A core directive never set: its default, formatted like a value. */
static void
conf_dump_default(const cairn_module_t *m, size_t di, const void *conf,
                  FILE *out)
{
    const cairn_directive_t  *d = &m->directives[di];
    const char               *field = (const char *) conf + d->offset;
    const char               *value = NULL, *given;
    char                      buf[64];
    int                       n, i;
    int64_t                   v;
    size_t                    k;

    given = cairn__module_default(m, di);
    if (given != NULL) {
        /* The module says how its own default is written. */
        n = fprintf(out, "%s%s%s%s", d->args == CAIRN_ARGS_SECTION ? "<" : "",
                    d->name, d->args == CAIRN_ARGS_SECTION ? ">" : "",
                    given[0] != '\0' ? " " : "");
        n += fprintf(out, "%s", given);
        conf_dump_comment(out, n, "(default)");
        return;
    }

    if (m->index != 0 && (d->type == CAIRN_TYPE_CUSTOM
                          || d->args == CAIRN_ARGS_SECTION))
    {
        n = fprintf(out, "%s (its module's default)", d->name);
        conf_dump_comment(out, n, "(default)");
        return;
    }

    n = fprintf(out, "%s", d->name);

    if (strcmp(d->name, "Workers") == 0) {
        memcpy(&i, field, sizeof(int));
        if (i == 0) {
            value = "auto";
        } else {
            snprintf(buf, sizeof(buf), "%d", i);
            value = buf;
        }

    } else if (strcmp(d->name, "CrashQuarantine") == 0) {
        const cairn__core_conf_t  *core = conf;

        if (core->crash_quarantine.crashes == 0) {
            value = "off";
        } else {
            n += fprintf(out, " %d", core->crash_quarantine.crashes);
            value = conf_dump_msec(core->crash_quarantine.period_ms, buf,
                                   sizeof(buf));
        }

    } else if (strcmp(d->name, "LogLevel") == 0) {
        memcpy(&i, field, sizeof(int));
        value = cairn__log_level_name(i);

    } else if (strcmp(d->name, "ErrorLog") == 0) {
        memcpy(&value, field, sizeof(value));

    } else if (strcmp(d->name, "ErrorLogFormat") == 0) {
        memcpy(&i, field, sizeof(int));
        value = i ? "json" : "plain";

    } else if (d->type == CAIRN_TYPE_LIST
               || (d->merge == CAIRN_MERGE_APPEND
                   && d->size == sizeof(cairn_strv_t)))
    {
        /* A list whatever its merge: a module may start it with its
         * default values (CompressTypes). */
        const cairn_strv_t  *l = (const cairn_strv_t *) field;

        for (k = 0; k < l->n; k++) {
            fputc(' ', out);
            n += 1 + conf_dump_arg(out, l->v[k]);
        }
        if (l->n == 0) {
            n += fprintf(out, " (none)");
        }

    } else if (d->type == CAIRN_TYPE_KV
               || (d->merge == CAIRN_MERGE_KEY
                   && d->size == sizeof(cairn_kvv_t)))
    {
        const cairn_kvv_t  *kv = (const cairn_kvv_t *) field;

        for (k = 0; k < kv->n; k++) {
            n += fprintf(out, "%s", k > 0 ? ", " : " ");
            n += conf_dump_arg(out, kv->v[k].key);
            fputc(' ', out);
            n += 1 + conf_dump_arg(out, kv->v[k].value);
        }
        if (kv->n == 0) {
            n += fprintf(out, " (none)");
        }

    } else {
        switch ((cairn_type_t) d->type) {
        case CAIRN_TYPE_FLAG:
            memcpy(&i, field, sizeof(int));
            value = i ? "on" : "off";
            break;
        case CAIRN_TYPE_INT:
            memcpy(&i, field, sizeof(int));
            snprintf(buf, sizeof(buf), "%d", i);
            value = buf;
            break;
        case CAIRN_TYPE_SIZE:
            memcpy(&v, field, sizeof(v));
            value = conf_dump_size(v, buf, sizeof(buf));
            break;
        case CAIRN_TYPE_MSEC:
            memcpy(&v, field, sizeof(v));
            value = conf_dump_msec(v, buf, sizeof(buf));
            break;
        case CAIRN_TYPE_STRING:
        case CAIRN_TYPE_PATH:
            memcpy(&value, field, sizeof(value));
            if (value == NULL) {
                n += fprintf(out, " (not set)");
            }
            break;
        case CAIRN_TYPE_LIST:
        case CAIRN_TYPE_KV:
            n += fprintf(out, " (none)");
            break;
        default:
            /* A module's own setter: only it knows what the field holds
             * (a pointer to its structures, a number...). */
            n += fprintf(out, " (its module's default)");
            break;
        }
    }

    if (value != NULL) {
        fputc(' ', out);
        n += 1 + conf_dump_arg(out, value);
    }

    conf_dump_comment(out, n, "(default)");
}


static const char *
conf_dump_where(const cairn__scope_t *sc, char *buf, size_t len)
{
    switch (sc->kind) {
    case CAIRN__SCOPE_SERVER:
        return "server";
    case CAIRN__SCOPE_VHOST:
        snprintf(buf, len, "<VirtualHost %s>", sc->name);
        return buf;
    case CAIRN__SCOPE_PREFIX:
        snprintf(buf, len, "<Location %s>", sc->name);
        return buf;
    default:
        snprintf(buf, len, "<LocationMatch %s>", sc->name);
        return buf;
    }
}


/*
 * Writes indent levels, open, the name and the arguments (quoted where
 * needed) and close; returns the number of characters written.
 */
static int
conf_dump_words(FILE *out, int indent, const char *open, const char *name,
                int argc, char *const *argv, const char *close)
{
    int  n, i;

    n = fprintf(out, "%*s%s%s", indent * 4, "", open, name);

    for (i = 0; i < argc; i++) {
        fputc(' ', out);
        n += 1 + conf_dump_arg(out, argv[i]);
    }

    n += fprintf(out, "%s", close);

    return n;
}


/* An argument as the parser reads it back: quoted when it is empty or
 * holds blanks, quotes, '#', a backslash or control characters. */
static int
conf_dump_arg(FILE *out, const char *arg)
{
    const unsigned char  *p;
    int                   n;

    if (arg[0] != '\0'
        && strpbrk(arg, " \t\"'#\\") == NULL)
    {
        for (p = (const unsigned char *) arg; *p >= 0x20 && *p != 0x7f; p++) {
            /* void */
        }
        if (*p == '\0') {
            return fprintf(out, "%s", arg);
        }
    }

    fputc('"', out);
    n = 2;
    for (p = (const unsigned char *) arg; *p != '\0'; p++) {
        switch (*p) {
        case '"':
        case '\\':
            fputc('\\', out);
            fputc(*p, out);
            n += 2;
            break;
        case '\n':
            fputs("\\n", out);
            n += 2;
            break;
        case '\t':
            fputs("\\t", out);
            n += 2;
            break;
        default:
            fputc(*p, out);
            n++;
            break;
        }
    }
    fputc('"', out);

    return n;
}


/* Ends a line of col characters with "# file:line" (and "(where)"). */
static void
conf_dump_src(FILE *out, int col, const char *file, int line,
              const char *where)
{
    col = col < CONF_DUMP_COLUMN - 2 ? CONF_DUMP_COLUMN - col : 2;

    fprintf(out, "%*s# %s:%d%s%s%s\n", col, "", file != NULL ? file : "?",
            line, where != NULL ? " (" : "", where != NULL ? where : "",
            where != NULL ? ")" : "");
}


/*
 * A section line must end with '>', so its file:line goes on a comment
 * line of its own just above it.
 */
static void
conf_dump_above(FILE *out, int indent, const char *file, int line,
                const char *where)
{
    fprintf(out, "%*s# %s:%d%s%s%s\n", indent * 4, "",
            file != NULL ? file : "?", line, where != NULL ? " (" : "",
            where != NULL ? where : "", where != NULL ? ")" : "");
}


static void
conf_dump_comment(FILE *out, int col, const char *text)
{
    col = col < CONF_DUMP_COLUMN - 2 ? CONF_DUMP_COLUMN - col : 2;

    fprintf(out, "%*s# %s\n", col, "", text);
}


static int
conf_dump_isset(const cairn__mconf_t *mc, size_t i)
{
    return mc->set != NULL && mc->set[i];
}


/* 250ms, 30s, 5m, 1h: the largest unit that divides the value. */
static const char *
conf_dump_msec(int64_t ms, char *buf, size_t len)
{
    if (ms != 0 && ms % (3600 * 1000) == 0) {
        snprintf(buf, len, "%" PRId64 "h", ms / (3600 * 1000));
    } else if (ms != 0 && ms % (60 * 1000) == 0) {
        snprintf(buf, len, "%" PRId64 "m", ms / (60 * 1000));
    } else if (ms % 1000 == 0) {
        snprintf(buf, len, "%" PRId64 "s", ms / 1000);
    } else {
        snprintf(buf, len, "%" PRId64 "ms", ms);
    }

    return buf;
}


/* 512, 64k, 10M, 1G: the largest unit that divides the value. */
static const char *
conf_dump_size(int64_t n, char *buf, size_t len)
{
    const int64_t  k = 1024;

    if (n != 0 && n % (k * k * k) == 0) {
        snprintf(buf, len, "%" PRId64 "G", n / (k * k * k));
    } else if (n != 0 && n % (k * k) == 0) {
        snprintf(buf, len, "%" PRId64 "M", n / (k * k));
    } else if (n != 0 && n % k == 0) {
        snprintf(buf, len, "%" PRId64 "k", n / k);
    } else {
        snprintf(buf, len, "%" PRId64, n);
    }

    return buf;
}
