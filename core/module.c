/*
 * core/module.c: loading modules with libltdl.
 *
 * `LoadModule name [path]` opens the shared object, finds the descriptor
 * mod_<name>_module, and checks it before believing any of it: the magic
 * first (is this a cairn module at all?), then the ABI stamp, then the
 * descriptor's size.  Only then is it handed to cairn__module_add_static(),
 * which does what loading an in-memory module and a file have in common
 * (duplicates, requirements, directives, hooks).  Every refusal is one
 * sentence that names the file and says what to do.
 */

#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ltdl.h>

#include "conf_int.h"
#include "hooks_int.h"
#include "log_int.h"
#include "worker_int.h"


/* The generation whose modules are being registered and whose
 * configuration is being read (cairn_hook_*, providers, module lookups
 * during parsing), NULL otherwise. */
cairn_server_t  *cairn__server_building;


/*
 * A module's own text for the default of its directive di (ABI 1.1), or
 * NULL: a 1.0 descriptor has no such field, or the module gives none.
 */
const char *
cairn__module_default(const cairn_module_t *m, size_t di)
{
    if (m->size < offsetof(cairn_module_t, directive_defaults)
                  + sizeof(m->directive_defaults)
        || m->directive_defaults == NULL)
    {
        return NULL;
    }

    return m->directive_defaults[di];
}


/* The hooks table of an ABI 1.2 descriptor, or NULL. */
static const cairn_hook_decl_t *
module_hooks(const cairn_module_t *m)
{
    if (m->size < offsetof(cairn_module_t, hooks) + sizeof(m->hooks)) {
        return NULL;
    }

    return m->hooks;
}


/*
 * Asks m which methods its handler would serve for r (ABI 1.3): 1 with
 * *mask set, or 0 when m cannot say (an older descriptor, or no
 * handler_methods).
 */
int
cairn__module_handler_methods(const cairn_module_t *m, cairn_request_t *r,
                              unsigned *mask)
{
    if (m == NULL
        || m->size < offsetof(cairn_module_t, handler_methods)
                     + sizeof(m->handler_methods)
        || m->handler_methods == NULL)
    {
        return 0;
    }

    *mask = m->handler_methods(r);

    return 1;
}


/* The descriptor size of ABI 1.0, the smallest a module may have. */
#define MODULE_SIZE_1_0                                                      \
    (offsetof(cairn_module_t, register_hooks)                                \
     + sizeof(((cairn_module_t *) 0)->register_hooks))

static int mod_ltdl_ready;

static int module_ltdl_init(void);
static const char *module_check(cairn_arena_t *a, const char *path,
                                const cairn_module_t *m);
static const char *module_find(cairn_server_t *s, const char *name,
                               char *buf, size_t len);
static lt_dlhandle module_open(const char *path, const char **err);


const char *
cairn__module_load(cairn_server_t *s, const char *name, const char *path,
                   const char *file, int line)
{
    cairn_arena_t   *a = s->arena;
    char             found[4096];
    char             sym[256];
    const char      *err;
    lt_dlhandle      h;
    cairn_module_t  *m;
    size_t           i;

    if (module_ltdl_init() != 0) {
        return "cannot initialise libltdl";
    }

    for (i = 0; name[i] != '\0'; i++) {
        if (!(name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= '0' && name[i] <= '9')))
        {
            return cairn_arena_printf(a, "'%s' is not a module name (use "
                                      "lower-case letters, digits and '_', "
                                      "e.g. LoadModule static)", name);
        }
    }
    if (i == 0 || i > 64) {
        return "LoadModule needs a module name such as 'static'";
    }

    i = cairn__module_index(s, name);
    if ((int) i >= 0) {
        return cairn_arena_printf(a, "module '%s' is already loaded (by %s:%d)",
                                  name, s->mods[i].file, s->mods[i].line);
    }

    if (path != NULL) {
        path = cairn_arena_strdup(a, path);
        if (path[0] != '/') {
            path = cairn_arena_printf(a, "%s/%s", s->conf_dir, path);
        }
    } else {
        path = module_find(s, name, found, sizeof(found));
        if (path == NULL) {
            return cairn_arena_printf(a, "module '%s' not found: no mod_%s.so "
                                      "in ModuleDir (%s); install it or give "
                                      "its path: LoadModule %s /path/to/"
                                      "mod_%s.so", name, name,
                                      s->moduledirs.n ? s->moduledirs.v[0]
                                                      : CAIRN_MODULEDIR,
                                      name, name);
        }
        path = cairn_arena_strdup(a, path);
    }

    h = module_open(path, &err);
    if (h == NULL) {
        return cairn_arena_printf(a, "cannot load %s: %s", path, err);
    }

    snprintf(sym, sizeof(sym), "mod_%s_module", name);
    m = lt_dlsym(h, sym);
    if (m == NULL) {
        lt_dlclose(h);
        return cairn_arena_printf(a, "%s does not export the symbol %s: it is "
                                  "not the cairn module '%s' (check the name "
                                  "in LoadModule)", path, sym, name);
    }

    err = module_check(a, path, m);
    if (err != NULL) {
        lt_dlclose(h);
        return err;
    }

    if (m->name != NULL && strcmp(m->name, name) != 0) {
        lt_dlclose(h);
        return cairn_arena_printf(a, "%s calls itself '%s' but was loaded as "
                                  "'%s'", path, m->name, name);
    }
    if (m->name == NULL) {
        m->name = cairn_arena_strdup(a, name);
    }

    err = cairn__module_add_static(s, m);
    if (err != NULL) {
        lt_dlclose(h);
        return err;
    }

    i = (size_t) m->index;
    s->mods[i].handle = h;
    s->mods[i].path = path;
    s->mods[i].file = file;
    s->mods[i].line = line;

    return NULL;
}


int
cairn__module_index(const cairn_server_t *s, const char *name)
{
    size_t  i;

    for (i = 0; i < s->nmods; i++) {
        if (s->mods[i].m->name != NULL
            && strcmp(s->mods[i].m->name, name) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


const cairn_module_t *
cairn_module_find(const char *name)
{
    cairn_server_t  *s;
    int              i;

    s = cairn__server_building ? cairn__server_building
                               : cairn__server_current;
    if (s == NULL) {
        return NULL;
    }

    if (strncmp(name, "mod_", 4) == 0) {
        name += 4;
    }

    i = cairn__module_index(s, name);

    return i < 0 ? NULL : s->mods[i].m;
}


const char *
cairn_version(void)
{
    return PACKAGE_VERSION;
}


void
cairn__modules_unload(cairn_server_t *s)
{
    size_t  i;

    for (i = s->nmods; i > 0; i--) {
        if (s->mods[i - 1].handle != NULL) {
            lt_dlclose(s->mods[i - 1].handle);
            s->mods[i - 1].handle = NULL;
        }
    }
}


/*
 * Edit distance (insertions, deletions, substitutions), ignoring case,
 * capped: anything above max comes back as max + 1.
 */
static int
module_distance(const char *a, const char *b, int max)
{
    int     row[64], prev, cur, i, j, la, lb, best;

    la = (int) strlen(a);
    lb = (int) strlen(b);
    if (la >= 63 || lb >= 63 || abs(la - lb) > max) {
        return max + 1;
    }

    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        best = row[0];
        for (j = 1; j <= lb; j++) {
            cur = row[j];
            row[j] = prev + (tolower((unsigned char) a[i - 1])
                             != tolower((unsigned char) b[j - 1]));
            if (cur + 1 < row[j]) {
                row[j] = cur + 1;
            }
            if (row[j - 1] + 1 < row[j]) {
                row[j] = row[j - 1] + 1;
            }
            if (row[j] < best) {
                best = row[j];
            }
            prev = cur;
        }
        if (best > max) {
            return max + 1;
        }
    }

    return row[lb] > max ? max + 1 : row[lb];
}


/* The closest candidate so far for an unknown name. */
typedef struct {
    const char  *name;          /* the unknown name */
    int          section;       /* it was written <Name> */
    int          max;           /* the largest distance suggested */
    int          dist;          /* of best: max + 1 when none */
    const char  *best;
    const char  *module;        /* "mod_x" whose file declares best, or
                                   NULL: loaded, or the core */
    int          modlen;
} module_suggest_t;


static void
module_suggest_try(module_suggest_t *g, const char *cand, int is_section,
                   const char *module, int modlen)
{
    int  d;

    if (is_section != g->section) {
        return;
    }
    d = module_distance(g->name, cand, g->max);
    if (d < g->dist) {
        g->dist = d;
        g->best = cand;
        g->module = module;
        g->modlen = modlen;
    }
}


/*
 * The name in table (a module section's own directives) closest to an
 * unknown one, within the distance cairn__module_hint allows; NULL when
 * none is.
 */
const char *
cairn__directive_closest(const cairn_directive_t *table, const char *name,
                         int section)
{
    module_suggest_t  g;

    memset(&g, 0, sizeof(g));
    g.name = name;
    g.section = section;
    g.max = strlen(name) < 5 ? 1 : 2;
    g.dist = g.max + 1;

    for (; table != NULL && table->name != NULL; table++) {
        module_suggest_try(&g, table->name,
                           table->args == CAIRN_ARGS_SECTION, NULL, 0);
    }

    return g.best;
}


/* What Apache admins write that cairn does differently. */
static const struct {
    const char  *name;
    const char  *advice;
} module_apache_sections[] = {
    { "Directory", "cairn maps URLs, not directories: use <Location "
      "/url-path> (DocumentRoot maps it to files), or <LocationMatch "
      "regex>" },
    { "DirectoryMatch", "cairn maps URLs, not directories: use "
      "<LocationMatch regex> on the URL path" },
    { "Files", "use <LocationMatch /name$> (or <Location /path/name>) on "
      "the URL path" },
    { "FilesMatch", "use <LocationMatch regex> on the URL path, e.g. "
      "<LocationMatch \\.php$>" },
    { "If", "there are no expressions: use <Location>, <LocationMatch>, "
      "<IfDefine> or <IfModule>" },
    { "ElseIf", "there are no expressions: use <Location>, "
      "<LocationMatch>, <IfDefine> or <IfModule>" },
    { "Else", "there are no expressions: use <IfDefine !NAME> or "
      "<IfModule !NAME>" },
    { "Limit", "there is no per-method section: a handler answers the "
      "methods it serves (405 with Allow otherwise); put Require in a "
      "<Location>" },
    { "LimitExcept", "there is no per-method section: a handler answers "
      "the methods it serves (405 with Allow otherwise); put Require in a "
      "<Location>" },
    { "Proxy", "put ProxyPass in a <Location /path> (LoadModule proxy); "
      "backends go in an <Upstream name>" },
    { "ProxyMatch", "put ProxyPass in a <LocationMatch regex> (LoadModule "
      "proxy)" },
    { "IfVersion", "use <IfModule NAME> or <IfDefine NAME>" },
    { "IfFile", "use <IfDefine NAME> with cairnd -D NAME" },
    { NULL, NULL }
};


/*
 * For an unknown directive (or <section> when section is set): a hint
 * to append to "unknown directive 'X'".  A module in ModuleDir that
 * declares the very name: load it.  An Apache section cairn does not
 * have: what to write instead.  Else the closest known name (edit
 * distance at most 2, 1 for short names, case ignored) among the core's
 * names, the loaded modules' and those of every module in ModuleDir:
 * "did you mean 'DocumentRoot'?".  NULL when nothing is close.  Only
 * runs on the error path, so it may open every module there.
 */
const char *
cairn__module_hint(cairn_server_t *s, const char *directive, int section)
{
    static const char *const  core_dirs[] = {
        "Include", "IncludeOptional", "LoadModule", "ModuleDir", NULL
    };
    static const char *const  core_sections[] = {
        "Location", "LocationMatch", "VirtualHost", "IfModule", "IfDefine",
        NULL
    };
    const char               *dirs[64];
    size_t                    ndirs, i;
    DIR                      *d;
    struct dirent            *e;
    char                      path[4096], sym[300];
    const char               *err, *hint = NULL;
    lt_dlhandle               h;
    const cairn_module_t     *m;
    const cairn_directive_t  *dp;
    size_t                    len;
    int                       loaded;
    module_suggest_t          g;

    memset(&g, 0, sizeof(g));
    g.name = directive;
    g.section = section;
    g.max = strlen(directive) < 5 ? 1 : 2;
    g.dist = g.max + 1;

    if (section) {
        for (i = 0; module_apache_sections[i].name != NULL; i++) {
            if (strcasecmp(module_apache_sections[i].name, directive) == 0) {
                return cairn_arena_printf(s->arena, "%s",
                                          module_apache_sections[i].advice);
            }
        }
    }

    for (i = 0; core_dirs[i] != NULL; i++) {
        module_suggest_try(&g, core_dirs[i], 0, NULL, 0);
    }
    for (i = 0; core_sections[i] != NULL; i++) {
        module_suggest_try(&g, core_sections[i], 1, NULL, 0);
    }
    for (i = 0; i < s->ndirs; i++) {
        module_suggest_try(&g, s->dirs[i].name,
                           s->dirs[i].d->args == CAIRN_ARGS_SECTION, NULL, 0);
    }

    if (module_ltdl_init() != 0) {
        goto done;
    }

    ndirs = 0;
    for (i = 0; i < s->moduledirs.n && ndirs < 64; i++) {
        dirs[ndirs++] = s->moduledirs.v[i];
    }
    if (ndirs == 0) {
        dirs[ndirs++] = CAIRN_MODULEDIR;
    }

    for (i = 0; i < ndirs && hint == NULL; i++) {
        d = opendir(dirs[i]);
        if (d == NULL) {
            continue;
        }

        while (hint == NULL && (e = readdir(d)) != NULL) {
            len = strlen(e->d_name);
            if (len < 8 || strncmp(e->d_name, "mod_", 4) != 0
                || strcmp(e->d_name + len - 3, ".so") != 0
                || len - 7 > 200)
            {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", dirs[i], e->d_name);
            h = module_open(path, &err);
            if (h == NULL) {
                continue;
            }

            snprintf(sym, sizeof(sym), "%.*s_module", (int) (len - 3),
                     e->d_name);
            m = lt_dlsym(h, sym);
            loaded = cairn__module_index(s, cairn__module_name(s->arena,
                                                      e->d_name)) >= 0;
            if (m != NULL && module_check(s->arena, path, m) == NULL
                && m->directives != NULL)
            {
                for (dp = m->directives; dp->name != NULL; dp++) {
                    if (strcasecmp(dp->name, directive) == 0 && !loaded) {
                        hint = cairn_arena_printf(s->arena,
                            "it is provided by %.*s, which is not loaded: "
                            "add 'LoadModule %.*s' before this line",
                            (int) (len - 3), e->d_name,
                            (int) (len - 7), e->d_name + 4);
                        break;
                    }
                    if (g.dist > 0 && !loaded) {
                        int  before = g.dist;

                        module_suggest_try(&g, dp->name,
                                           dp->args == CAIRN_ARGS_SECTION,
                                           e->d_name, (int) (len - 3));
                        if (g.dist < before) {
                            /* The name lives in the library closed below. */
                            g.best = cairn_arena_strdup(s->arena, dp->name);
                            g.module = cairn_arena_strdup(s->arena,
                                                          e->d_name);
                        }
                    }
                }
            }

            lt_dlclose(h);
        }

        closedir(d);
    }

done:
    if (hint != NULL || g.best == NULL) {
        return hint;
    }
    if (g.module == NULL) {
        return cairn_arena_printf(s->arena, "did you mean '%s'?", g.best);
    }

    return cairn_arena_printf(s->arena, "did you mean '%s'? (it is provided "
                              "by %.*s, which is not loaded: add "
                              "'LoadModule %.*s' before this line)", g.best,
                              g.modlen, g.module, g.modlen - 4,
                              g.module + 4);
}


int
cairn__module_info(const char *path, FILE *out)
{
    cairn_arena_t            *a;
    const char               *base, *err;
    char                      sym[300], name[256];
    lt_dlhandle               h;
    const cairn_module_t     *m;
    const cairn_directive_t  *dp;
    cairn__hooks_t           *hooks;
    size_t                    len, k, j;
    int                       rc = 1;
    char                      why[256];

    if (module_ltdl_init() != 0) {
        fprintf(stderr, "cairnd: cannot initialise libltdl\n");
        return 1;
    }

    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".so") == 0) {
        len -= 3;
    }
    if (len <= 4 || strncmp(base, "mod_", 4) != 0 || len - 4 >= sizeof(name))
    {
        fprintf(stderr, "cairnd: %s: a module file is called mod_NAME.so\n",
                path);
        return 1;
    }
    memcpy(name, base + 4, len - 4);
    name[len - 4] = '\0';

    h = module_open(path, &err);
    if (h == NULL) {
        fprintf(stderr, "cairnd: cannot load %s: %s\n", path, err);
        return 1;
    }

    a = cairn_arena_create(0);

    snprintf(sym, sizeof(sym), "mod_%s_module", name);
    m = lt_dlsym(h, sym);
    if (m == NULL) {
        fprintf(stderr, "cairnd: %s does not export the symbol %s: it is not "
                "a cairn module\n", path, sym);
        goto done;
    }

    err = module_check(a, path, m);
    if (err != NULL) {
        fprintf(stderr, "cairnd: %s\n", err);
        goto done;
    }

    fprintf(out, "name: %s\n", m->name ? m->name : name);
    fprintf(out, "version: %s\n", m->version ? m->version : "-");
    fprintf(out, "ABI: %u.%u\n", m->abi_major, m->abi_minor);
    fprintf(out, "description: %s\n", m->description ? m->description : "-");

    fprintf(out, "requires:");
    if (m->requires == NULL || m->requires[0] == NULL) {
        fprintf(out, " -");
    } else {
        for (k = 0; m->requires[k] != NULL; k++) {
            fprintf(out, " %s", m->requires[k]);
        }
    }
    fprintf(out, "\n");

    fprintf(out, "directives:");
    if (m->directives == NULL || m->directives[0].name == NULL) {
        fprintf(out, " -");
    } else {
        for (dp = m->directives; dp->name != NULL; dp++) {
            fprintf(out, " %s", dp->name);
        }
    }
    fprintf(out, "\n");

    /* Registering hooks into a throw-away table shows them without
     * running anything else of the module. */
    hooks = cairn__hooks_create(a);
    if (module_hooks(m) != NULL) {
        (void) cairn__hooks_add_decls(hooks, (cairn_module_t *) m,
                                      module_hooks(m), why, sizeof(why));
    }
    cairn__hooks_building = hooks;
    if (m->register_hooks != NULL) {
        ((cairn_module_t *) m)->register_hooks((cairn_module_t *) m);
    }
    cairn__hooks_building = NULL;

    fprintf(out, "hooks:");
    j = 0;
    for (k = 0; k < CAIRN__HOOK_KINDS; k++) {
        const cairn__hook_list_t  *l = &hooks->kind[k];
        size_t                     x;

        for (x = 0; x < l->n; x++) {
            if (l->v[x].module != m) {
                continue;
            }
            fprintf(out, " %s(%s+%d)", cairn__hook_kind_name((int) k),
                    l->v[x].order <= CAIRN_ORDER_FIRST ? "first"
                    : l->v[x].order >= CAIRN_ORDER_LAST ? "last" : "middle",
                    l->v[x].n);
            j++;
        }
    }
    fprintf(out, "%s\n", j ? "" : " -");
    fprintf(out, "file: %s\n", path);

    rc = 0;

done:

    cairn_arena_destroy(a);
    lt_dlclose(h);

    return rc;
}


static int
module_ltdl_init(void)
{
    if (!mod_ltdl_ready) {
        if (lt_dlinit() != 0) {
            return -1;
        }
        mod_ltdl_ready = 1;
    }

    return 0;
}


static lt_dlhandle
module_open(const char *path, const char **err)
{
    lt_dladvise  advise;
    lt_dlhandle  h;
    struct stat  st;

    if (stat(path, &st) != 0) {
        *err = strerror(errno);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = "not a regular file";
        return NULL;
    }

    if (lt_dladvise_init(&advise) != 0) {
        *err = lt_dlerror();
        return NULL;
    }
    /* Symbols stay private to each module: modules talk through providers
     * and the core, never through each other's symbols. */
    lt_dladvise_local(&advise);

    h = lt_dlopenadvise(path, advise);
    lt_dladvise_destroy(&advise);

    if (h == NULL) {
        *err = lt_dlerror();
        if (*err == NULL) {
            *err = "unknown error";
        }
    }

    return h;
}


static const char *
module_check(cairn_arena_t *a, const char *path, const cairn_module_t *m)
{
    if (m->magic != CAIRN_MODULE_MAGIC) {
        return cairn_arena_printf(a, "%s is not a cairn module (its "
                                  "descriptor has the wrong magic number)",
                                  path);
    }

    if (m->abi_major != CAIRN_ABI_MAJOR || m->abi_minor > CAIRN_ABI_MINOR) {
        return cairn_arena_printf(a, "%s was built for cairn module ABI %u.%u; "
                                  "this cairnd provides %u.%u: rebuild it "
                                  "against the cairn %u headers",
                                  path, m->abi_major, m->abi_minor,
                                  CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR,
                                  CAIRN_ABI_MAJOR);
    }

    /* Minor versions only add fields at the end: a descriptor must be at
     * least as large as ABI 1.0's. */
    if (m->size < MODULE_SIZE_1_0) {
        return cairn_arena_printf(a, "%s has a descriptor of %u bytes, "
                                  "smaller than ABI 1.0's %zu: rebuild it "
                                  "against these cairn headers", path,
                                  m->size, (size_t) MODULE_SIZE_1_0);
    }

    return NULL;
}


static const char *
module_find(cairn_server_t *s, const char *name, char *buf, size_t len)
{
    struct stat  st;
    size_t       i;

    for (i = 0; i < s->moduledirs.n; i++) {
        snprintf(buf, len, "%s/mod_%s.so", s->moduledirs.v[i], name);
        if (stat(buf, &st) == 0) {
            return buf;
        }
    }

    if (s->moduledirs.n == 0) {
        snprintf(buf, len, "%s/mod_%s.so", CAIRN_MODULEDIR, name);
        if (stat(buf, &st) == 0) {
            return buf;
        }
    }

    return NULL;
}


/* ------------------------------------------------------------------ */
/* The registry of a generation's modules and directives              */
/* ------------------------------------------------------------------ */

/* "mod_static.so" -> "static" */
const char *
cairn__module_name(cairn_arena_t *a, const char *name)
{
    size_t  len;

    if (strncmp(name, "mod_", 4) == 0) {
        name += 4;
    }

    len = strlen(name);
    if (len > 3 && strcmp(name + len - 3, ".so") == 0) {
        len -= 3;
    } else if (len > 2 && strcmp(name + len - 2, ".c") == 0) {
        len -= 2;
    }

    return cairn_arena_strndup(a, name, len);
}


/* The directive called name (case-insensitive) of any loaded module. */
const cairn__dirent_t *
cairn__directive_find(const cairn_server_t *s, const char *name)
{
    size_t  i;

    for (i = 0; i < s->ndirs; i++) {
        if (strcasecmp(s->dirs[i].name, name) == 0) {
            return &s->dirs[i];
        }
    }

    return NULL;
}


/* The size of the field a directive of a built-in type sets (0: custom). */
static size_t
module_field_size(cairn_type_t type)
{
    switch (type) {
    case CAIRN_TYPE_STRING:
    case CAIRN_TYPE_PATH:
        return sizeof(const char *);
    case CAIRN_TYPE_FLAG:
    case CAIRN_TYPE_INT:
        return sizeof(int);
    case CAIRN_TYPE_SIZE:
    case CAIRN_TYPE_MSEC:
        return sizeof(int64_t);
    case CAIRN_TYPE_LIST:
        return sizeof(cairn_strv_t);
    case CAIRN_TYPE_KV:
        return sizeof(cairn_kvv_t);
    default:
        return 0;
    }
}


/*
 * Adds a module whose descriptor is already in memory (the core, or one
 * cairn__module_load() opened) to s: its directives join the registry,
 * its hooks are registered and its pre_config hooks run.  Returns NULL
 * or why it cannot be added; on failure nothing of it stays.
 */
const char *
cairn__module_add_static(cairn_server_t *s, cairn_module_t *m)
{
    cairn_arena_t             *a = s->arena;
    const cairn_directive_t   *d;
    const cairn__dirent_t     *e;
    cairn__modrec_t           *rec;
    cairn__hooks_t            *saved;
    const cairn__hook_list_t  *pre;
    const cairn_hook_decl_t   *decls;
    const char                *err;
    char                       why[256];
    size_t                     i, n, want, k, nmods0, ndirs0;
    size_t                     nhooks0[CAIRN__HOOK_KINDS];
    int                        rc, idx;

    if (m->name == NULL || m->name[0] == '\0') {
        return "a module descriptor has no name";
    }

    idx = cairn__module_index(s, m->name);
    if (idx >= 0) {
        if (s->mods[idx].file != NULL) {
            return cairn_arena_printf(a, "module '%s' is already loaded "
                                      "(by %s:%d)", m->name,
                                      s->mods[idx].file, s->mods[idx].line);
        }
        return cairn_arena_printf(a, "module '%s' is already loaded",
                                  m->name);
    }

    for (i = 0; m->requires != NULL && m->requires[i] != NULL; i++) {
        const char  *req = cairn__module_name(a, m->requires[i]);

        if (cairn__module_index(s, req) < 0) {
            return cairn_arena_printf(a, "mod_%s requires mod_%s: load it "
                                      "first with 'LoadModule %s'", m->name,
                                      req, req);
        }
    }

    if (s->nmods == s->capmods) {
        return cairn_arena_printf(a, "too many modules (at most %zu)",
                                  s->capmods);
    }

    n = 0;
    for (d = m->directives; d != NULL && d->name != NULL; d++, n++) {
        e = cairn__directive_find(s, d->name);
        if (e != NULL) {
            return cairn_arena_printf(a, "mod_%s declares the directive '%s', "
                                      "which mod_%s already provides",
                                      m->name, d->name,
                                      s->mods[e->modidx].m->name);
        }
        want = module_field_size((cairn_type_t) d->type);
        if (want != 0 && d->size != want) {
            return cairn_arena_printf(a, "mod_%s: the field of directive '%s' "
                                      "has %zu bytes, its type needs %zu: "
                                      "fix the directive table", m->name,
                                      d->name, d->size, want);
        }
        if (d->type == CAIRN_TYPE_CUSTOM && d->set == NULL) {
            return cairn_arena_printf(a, "mod_%s: directive '%s' has a custom "
                                      "type but no setter", m->name,
                                      d->name);
        }
    }

    nmods0 = s->nmods;
    ndirs0 = s->ndirs;
    for (k = 0; k < CAIRN__HOOK_KINDS; k++) {
        nhooks0[k] = s->hooks->kind[k].n;
    }

    m->index = (int32_t) s->nmods;
    rec = &s->mods[s->nmods++];
    rec->m = m;
    rec->handle = NULL;
    rec->path = NULL;
    /* LoadModule's file and line: set by cairn__module_load(). */
    rec->file = NULL;
    rec->line = 0;

    for (i = 0; i < n; i++) {
        cairn__dirent_t  *ne;

        if (s->ndirs == s->capdirs) {
            cairn__dirent_t  *v;

            s->capdirs = s->capdirs ? s->capdirs * 2 : 64;
            v = cairn_arena_alloc(a, s->capdirs * sizeof(*v));
            if (s->ndirs > 0) {
                memcpy(v, s->dirs, s->ndirs * sizeof(*v));
            }
            s->dirs = v;
        }
        ne = &s->dirs[s->ndirs++];
        ne->name = m->directives[i].name;
        ne->modidx = m->index;
        ne->d = &m->directives[i];
        ne->index = (int) i;
    }

    decls = module_hooks(m);
    if (decls != NULL
        && cairn__hooks_add_decls(s->hooks, m, decls, why, sizeof(why))
           != CAIRN_OK)
    {
        err = cairn_arena_printf(a, "mod_%s: %s", m->name, why);
        goto failed;
    }

    if (m->register_hooks != NULL) {
        saved = cairn__hooks_building;
        cairn__hooks_building = s->hooks;
        rc = m->register_hooks(m);
        cairn__hooks_building = saved;
        if (rc != CAIRN_OK) {
            goto failed_hooks;
        }
    }

    pre = &s->hooks->kind[CAIRN__HOOK_SERVER_BASE + CAIRN_SERVER_PRE_CONFIG];
    for (i = 0; i < pre->n; i++) {
        if (pre->v[i].module != m) {
            continue;
        }
        cairn__log_module = m;
        rc = pre->v[i].fn.srv(s);
        cairn__log_module = NULL;
        if (rc != CAIRN_OK && rc != CAIRN_DECLINED) {
            goto failed_pre_config;
        }
    }

    return NULL;

failed_hooks:

    err = cairn_arena_printf(a, "mod_%s: registering its hooks failed",
                             m->name);
    goto failed;

failed_pre_config:

    err = cairn_arena_printf(a, "mod_%s: its pre_config hook failed",
                             m->name);

failed:

    /* Leave nothing of the module behind: its file is about to be
     * closed. */
    s->nmods = nmods0;
    s->ndirs = ndirs0;
    for (k = 0; k < CAIRN__HOOK_KINDS; k++) {
        s->hooks->kind[k].n = nhooks0[k];
    }
    memset(&s->mods[nmods0], 0, sizeof(s->mods[nmods0]));
    m->index = -1;

    return err;
}
