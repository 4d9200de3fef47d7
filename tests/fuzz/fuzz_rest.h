/*
 * tests/fuzz/fuzz_rest.h: the resource that mod_rest's fuzz targets
 * declare, as a RestResource block would: every field type, the
 * constraints and the list parameters (tests/unit/test_rest.c declares
 * its own the same way), and the targets' LLVMFuzzerInitialize, which
 * declares it once for the whole run: a target includes this header
 * once and uses fuzz_res.
 */

#ifndef CAIRN_FUZZ_REST_H
#define CAIRN_FUZZ_REST_H

#include <stdio.h>

#include "rest/rest.h"

static const char *const  fuzz_rest_fields[] = {
    "id int",
    "name string required max=10 min=2 pattern=^[a-z]+$",
    "email email unique",
    "age int min=0 max=150",
    "score number min=-1.5 max=10",
    "active bool",
    "bio text max=5",
    "big bigint",
    "born datetime",
    "day date",
    "prefs json",
    "price decimal(12,2) min=0",
    "exact decimal as=string",
    "secret string writeonly",
    "created datetime readonly",
};

static const char  *fuzz_rest_sortable[] = { "name", "age", "price" };
static const char  *fuzz_rest_filterable[] = {
    "name", "active", "age", "born", "day", "price", "big"
};


/* The resource, in a (which outlives it). */
static rest_resource_t *
fuzz_rest_resource(cairn_arena_t *a)
{
    rest_resource_t  *res;
    const char       *err;
    char             *copy, *argv[16], *save, *tok;
    size_t            i;
    int               argc;

    res = cairn_arena_calloc(a, sizeof(*res));
    res->path = "/users";
    res->name = "users";
    res->db_name = "main";
    res->table = "users";
    res->key = "id";
    res->version_col = "row_version";
    res->page_size = 2;
    res->max_page_size = 5;
    res->max_body = 1 << 20;
    res->methods = REST_METHODS_ALL;

    for (i = 0; i < sizeof(fuzz_rest_fields) / sizeof(fuzz_rest_fields[0]);
         i++)
    {
        copy = cairn_arena_strdup(a, fuzz_rest_fields[i]);
        argc = 0;
        for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 16;
             tok = strtok_r(NULL, " ", &save))
        {
            argv[argc++] = tok;
        }
        err = rest_field_add(a, res, argc, argv);
        if (err != NULL) {
            fprintf(stderr, "Field %s: %s\n", fuzz_rest_fields[i], err);
            abort();
        }
    }

    res->sortable.n = sizeof(fuzz_rest_sortable) / sizeof(char *);
    res->sortable.v = fuzz_rest_sortable;
    res->filterable.n = sizeof(fuzz_rest_filterable) / sizeof(char *);
    res->filterable.v = fuzz_rest_filterable;

    err = rest_resource_finish(a, res);
    if (err != NULL) {
        fprintf(stderr, "the resource: %s\n", err);
        abort();
    }

    return res;
}


static cairn_arena_t    *fuzz_arena;
static rest_resource_t  *fuzz_res;


static void
fuzz_rest_cleanup(void)
{
    cairn_arena_destroy(fuzz_arena);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_arena = cairn_arena_create(0);
    fuzz_res = fuzz_rest_resource(fuzz_arena);
    atexit(fuzz_rest_cleanup);

    return 0;
}

#endif /* CAIRN_FUZZ_REST_H */
