/*
 * core/server.c: generations.
 *
 * A generation (cairn_server_t) is one loaded configuration: its arena,
 * its modules (the core first), its scopes, hooks and providers, and the
 * errors found while it was read.  conf.c fills it from the files,
 * conf_merge.c finalizes it, the master keeps the one that serves.
 */

#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ltdl.h>

#include "arena_int.h"
#include "conf_int.h"


cairn_server_t *
cairn__server_create(const char *conf_file, const cairn_strv_t *defines,
                     int testing)
{
    cairn_server_t  *s;
    cairn_arena_t   *a;
    char             cwd[PATH_MAX];
    const char      *slash;
    size_t           i;
    const char      *err;

    a = cairn_arena_create(16384);
    s = cairn_arena_calloc(a, sizeof(*s));
    s->arena = a;
    s->testing = testing;

    if (conf_file[0] == '/') {
        s->conf_file = cairn_arena_strdup(a, conf_file);
    } else if (getcwd(cwd, sizeof(cwd)) != NULL) {
        s->conf_file = cairn_arena_printf(a, "%s/%s", cwd, conf_file);
    } else {
        s->conf_file = cairn_arena_strdup(a, conf_file);
    }

    slash = strrchr(s->conf_file, '/');
    s->conf_dir = slash == s->conf_file
                  ? "/"
                  : cairn_arena_strndup(a, s->conf_file,
                                        (size_t) (slash - s->conf_file));

    s->defines.n = defines ? defines->n : 0;
    s->defines.v = cairn_arena_calloc(a, (s->defines.n + 1)
                                         * sizeof(char *));
    for (i = 0; i < s->defines.n; i++) {
        s->defines.v[i] = cairn_arena_strdup(a, defines->v[i]);
    }

    s->capmods = CAIRN__MAX_MODULES;
    s->mods = cairn_arena_calloc(a, s->capmods * sizeof(*s->mods));
    s->hooks = cairn__hooks_create(a);
    s->errors_tail = &s->errors;

    s->main = cairn_arena_calloc(a, sizeof(*s->main));
    s->main->kind = CAIRN__SCOPE_SERVER;
    s->main->name = "server";
    s->main->file = s->conf_file;
    s->main->raw = cairn_arena_calloc(a, s->capmods * sizeof(cairn__mconf_t));
    s->main->recs_tail = &s->main->recs;

    s->main_vhost = cairn_arena_calloc(a, sizeof(*s->main_vhost));
    s->main_vhost->scope = s->main;

    cairn__server_building = s;
    err = cairn__module_add_static(s, &cairn__core_module);
    cairn__server_building = NULL;
    if (err != NULL) {
        cairn__conf_error(s, NULL, 0, "%s", err);
    }

    return s;
}


void
cairn__conf_use_source(cairn_server_t *s, cairn__conf_source_t *src)
{
    if (s->own_src) {
        cairn__conf_source_free(s->src);
    }
    cairn__conf_source_replay(src);
    s->src = src;
    s->own_src = 0;
}


cairn__conf_source_t *
cairn__conf_take_source(cairn_server_t *s)
{
    cairn__conf_source_t  *src = s->src;

    s->src = NULL;
    s->own_src = 0;

    return src;
}


void
cairn__server_destroy(cairn_server_t *s)
{
    lt_dlhandle  handles[CAIRN__MAX_MODULES];
    size_t       i, nh;

    if (s == NULL) {
        return;
    }

    /* The arena's cleanups may be module code (a module closing its
     * files): run them while the modules are still mapped, then unload. */
    nh = 0;
    for (i = s->nmods; i > 0 && nh < CAIRN__MAX_MODULES; i--) {
        if (s->mods[i - 1].handle != NULL) {
            handles[nh++] = s->mods[i - 1].handle;
        }
    }

    if (s->own_src) {
        cairn__conf_source_free(s->src);
    }
    cairn_arena_destroy(s->arena);

    for (i = 0; i < nh; i++) {
        lt_dlclose(handles[i]);
    }
}


cairn_arena_t *
cairn_server_arena(cairn_server_t *s)
{
    return s->arena;
}


int
cairn_server_defined(cairn_server_t *s, const char *name)
{
    size_t  i;

    for (i = 0; i < s->defines.n; i++) {
        if (strcmp(s->defines.v[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}


void
cairn__conf_error(cairn_server_t *s, const char *file, int line,
                  const char *fmt, ...)
{
    cairn__conf_error_t  *e;
    va_list               ap;
    char                 *msg;

    va_start(ap, fmt);
    msg = cairn_arena_vprintf(s->arena, fmt, ap);
    va_end(ap);

    e = cairn_arena_calloc(s->arena, sizeof(*e));
    e->text = file ? cairn_arena_printf(s->arena, "%s:%d: %s", file, line,
                                        msg)
                   : msg;
    *s->errors_tail = e;
    s->errors_tail = &e->next;
    s->nerrors++;
}


void
cairn__conf_print_errors(const cairn_server_t *s, FILE *out)
{
    const cairn__conf_error_t  *e;

    for (e = s->errors; e != NULL; e = e->next) {
        fprintf(out, "%s\n", e->text);
    }
}
