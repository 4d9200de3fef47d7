/*
 * core/provider.c: providers (cairn/provider.h), the named tables one
 * module offers others in a generation ("db" "main", "render"
 * "template").
 */

#include "config.h"

#include <string.h>

#include "conf_int.h"


int
cairn_provider_register(cairn_server_t *s, const char *kind,
                        const char *name, const void *provider)
{
    cairn__provider_t  *p;

    if (cairn_provider_get(s, kind, name) != NULL) {
        return CAIRN_ERROR;
    }

    p = cairn_arena_calloc(s->arena, sizeof(*p));
    p->kind = cairn_arena_strdup(s->arena, kind);
    p->name = cairn_arena_strdup(s->arena, name);
    p->provider = provider;
    p->next = s->providers;
    s->providers = p;

    return CAIRN_OK;
}


const void *
cairn_provider_get(cairn_server_t *s, const char *kind, const char *name)
{
    const cairn__provider_t  *p;

    for (p = s->providers; p != NULL; p = p->next) {
        if (strcmp(p->kind, kind) == 0 && strcmp(p->name, name) == 0) {
            return p->provider;
        }
    }

    return NULL;
}
