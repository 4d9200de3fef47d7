/*
 * tests/fuzz/fuzz_template.c: mod_template's engine, compiler and
 * renderer (modules/template/tpl_*.c).
 *
 * Input: up to three templates separated by a line "====": the page,
 * then "a.tpl" and "b.tpl", which the page (and each other) may include
 * or extend; any other name fails to load.  Every load compiles again,
 * as a template changed on disk would.  The data is a fixed document
 * with every JSON type.  The limits are small so that a run stays fast:
 * 64 KiB of output, depth 16, 20000 iterations.  A successful render
 * must stay within the output limit; a failure must say where.
 */

#include "config.h"

#include <stdio.h>

#include <jansson.h>

#include "fuzz.h"

#include "template/tpl.h"

#define FUZZ_TPL_FILES      3
#define FUZZ_TPL_OUTPUT     65536

static const char  fuzz_tpl_data[] =
    "{\"title\": \"T <&> '\\\"\", \"n\": 3, \"r\": -0.5, \"t\": true, "
    "\"f\": false, \"z\": null, \"when\": \"2024-05-01T12:00:00+02:00\", "
    "\"epoch\": 1700000000, \"xs\": [1, \"two\", [3, 4], {\"k\": 5}, null], "
    "\"users\": [{\"name\": \"Ann\", \"email\": \"a@x\", \"tags\": [\"a\"]}, "
    "{\"name\": \"B\\u2028</script>\", \"email\": null, \"tags\": []}], "
    "\"o\": {\"a\": 1, \"b\": {\"c\": [\"d\"]}, \"\": \"empty\"}, "
    "\"s\": \"caf\\u00e9 \\u00e9\\u00e9\\u00e9\"}";

static json_t  *fuzz_tpl_json;

typedef struct {
    const char  *src[FUZZ_TPL_FILES];
    size_t       len[FUZZ_TPL_FILES];
} fuzz_tpl_files_t;


static tpl_t *
fuzz_tpl_load(void *ctx, const tpl_t *from, const char *name,
              tpl_error_t *err)
{
    fuzz_tpl_files_t  *files = ctx;
    int                i;

    (void) from;

    if (strcmp(name, "a.tpl") == 0) {
        i = 1;
    } else if (strcmp(name, "b.tpl") == 0) {
        i = 2;
    } else if (strcmp(name, "page.tpl") == 0) {
        i = 0;
    } else {
        return NULL;
    }
    if (files->src[i] == NULL) {
        return NULL;
    }

    return tpl_compile(name, files->src[i], files->len[i], 16, err);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_error_t  jerr;

    (void) argc;
    (void) argv;

    fuzz_tpl_json = json_loads(fuzz_tpl_data, 0, &jerr);
    if (fuzz_tpl_json == NULL) {
        fprintf(stderr, "fuzz_template: bad data: %s\n", jerr.text);
        abort();
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char   sep[] = "\n====\n";
    fuzz_tpl_files_t    files;
    tpl_error_t         err;
    tpl_env_t           env;
    tpl_buf_t           out = { NULL, 0, 0 };
    const char         *p = (const char *) data, *end = p + size, *q;
    char               *copy;
    tpl_t              *t;
    int                 i, rc;

    /* Separate copies, so that a read past one template's end is seen. */
    memset(&files, 0, sizeof(files));
    for (i = 0; i < FUZZ_TPL_FILES; i++) {
        q = memmem(p, end - p, sep, sizeof(sep) - 1);
        if (q == NULL || i == FUZZ_TPL_FILES - 1) {
            q = end;
        }
        copy = malloc(q - p + 1);
        if (copy == NULL) {
            abort();
        }
        memcpy(copy, p, q - p);
        files.src[i] = copy;
        files.len[i] = q - p;
        if (q == end) {
            break;
        }
        p = q + sizeof(sep) - 1;
    }

    memset(&env, 0, sizeof(env));
    env.max_output = FUZZ_TPL_OUTPUT;
    env.max_depth = 16;
    env.max_iterations = 20000;
    env.load = fuzz_tpl_load;
    env.load_ctx = &files;

    t = tpl_compile("page.tpl", files.src[0], files.len[0], 16, &err);
    if (t == NULL) {
        if (err.status != TPL_ERR_SYNTAX || err.line == 0
            || err.column == 0 || err.message[0] == '\0')
        {
            fprintf(stderr, "a compile error without a position\n");
            abort();
        }
    } else {
        rc = tpl_render(t, fuzz_tpl_json, &env, &out, &err);
        if (rc == 0 && out.len > FUZZ_TPL_OUTPUT) {
            fprintf(stderr, "output of %zu bytes past the limit\n",
                    out.len);
            abort();
        }
        if (rc != 0 && (err.status == TPL_OK || err.line == 0
                        || err.column == 0))
        {
            fprintf(stderr, "a render error without a position\n");
            abort();
        }
        if (getenv("FUZZ_TRACE") != NULL) {
            if (rc == 0) {
                fwrite(out.data != NULL ? out.data : "", 1, out.len,
                       stderr);
            } else {
                fprintf(stderr, "%s\n", err.message);
            }
        }
        tpl_unref(t);
    }

    tpl_buf_free(&out);
    for (i = 0; i < FUZZ_TPL_FILES; i++) {
        free((char *) files.src[i]);
    }

    return 0;
}
