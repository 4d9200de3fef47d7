/*
 * tests/fuzz/fuzz_config.c: the configuration parser on whole files
 * (core/conf*.c), with Include, the core's directives and those of
 * mod_static and mod_auth (compiled in, as cairn__module_add_static()
 * registers a module), then the merge of every scope and the dump.
 *
 * The files never touch the disk: the parser reads through a source
 * (conf_source.c), the recording a reload replays, and the input is
 * turned into one.  Input: files separated by lines "====".  The first
 * is /fuzz/cairn.conf, the next ones /fuzz/conf.d/01.conf,
 * /fuzz/conf.d/02.conf...; Include (or IncludeOptional) of the
 * patterns conf.d/<star>.conf, conf.d/<star> and conf.d (relative, or
 * under /fuzz) matches them, and any other path matches nothing.  An
 * input that starts with the source's own header is given to
 * cairn__conf_source_read() as it is.
 */

#include "config.h"

#include <stdio.h>

#include "fuzz.h"

#include "conf_int.h"

#define FUZZ_CONF_SEP       "\n====\n"
#define FUZZ_CONF_MAGIC     "cairn-conf-source 1\n"
#define FUZZ_CONF_FILES     16

extern cairn_module_t  mod_static_module;
extern cairn_module_t  mod_auth_module;

static FILE  *fuzz_null;


static void
fuzz_conf_cleanup(void)
{
    fclose(fuzz_null);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_null = fopen("/dev/null", "w");
    if (fuzz_null == NULL) {
        abort();
    }
    atexit(fuzz_conf_cleanup);

    return 0;
}


static void
fuzz_put(FILE *f, const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, f) != n) {
        abort();
    }
}


static void
fuzz_put_u64(FILE *f, uint64_t v)
{
    fuzz_put(f, &v, sizeof(v));
}


static void
fuzz_put_str(FILE *f, const char *s, size_t n)
{
    fuzz_put_u64(f, n);
    fuzz_put(f, s, n);
}


/* The recording of the files in data, as cairn__conf_source_write()
 * would have written it. */
static cairn__conf_source_t *
fuzz_conf_source(const uint8_t *data, size_t size)
{
    static const char *const  patterns[] = {
        "/fuzz/conf.d/*.conf", "/fuzz/conf.d", "/fuzz/conf.d/*"
    };
    cairn__conf_source_t     *src;
    const char               *start[FUZZ_CONF_FILES];
    const char               *p, *end, *sep;
    size_t                    len[FUZZ_CONF_FILES];
    size_t                    n, i, k, blen;
    char                     *buf, path[32];
    FILE                     *f;

    p = (const char *) data;
    end = p + size;
    for (n = 0; n < FUZZ_CONF_FILES; n++) {
        sep = n + 1 < FUZZ_CONF_FILES
              ? memmem(p, (size_t) (end - p), FUZZ_CONF_SEP,
                       sizeof(FUZZ_CONF_SEP) - 1)
              : NULL;
        start[n] = p;
        if (sep == NULL) {
            len[n++] = (size_t) (end - p);
            break;
        }
        len[n] = (size_t) (sep - p) + 1;
        p = sep + sizeof(FUZZ_CONF_SEP) - 1;
    }

    f = open_memstream(&buf, &blen);
    if (f == NULL) {
        abort();
    }
    fuzz_put(f, FUZZ_CONF_MAGIC, sizeof(FUZZ_CONF_MAGIC) - 1);
    fuzz_put_u64(f, n);
    fuzz_put_u64(f, sizeof(patterns) / sizeof(patterns[0]));
    for (i = 0; i < n; i++) {
        if (i == 0) {
            snprintf(path, sizeof(path), "/fuzz/cairn.conf");
        } else {
            snprintf(path, sizeof(path), "/fuzz/conf.d/%02zu.conf", i);
        }
        fuzz_put_str(f, path, strlen(path));
        fuzz_put_u64(f, 1);
        fuzz_put_u64(f, i + 1);
        fuzz_put_str(f, start[i], len[i]);
    }
    for (k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
        fuzz_put_str(f, patterns[k], strlen(patterns[k]));
        fuzz_put_u64(f, n - 1);
        for (i = 1; i < n; i++) {
            snprintf(path, sizeof(path), "/fuzz/conf.d/%02zu.conf", i);
            fuzz_put_str(f, path, strlen(path));
            fuzz_put_u64(f, CAIRN__MATCH_FILE);
            fuzz_put_u64(f, 0);
        }
    }
    if (fclose(f) != 0) {
        abort();
    }

    src = cairn__conf_source_read(buf, blen);
    free(buf);
    if (src == NULL) {
        fprintf(stderr, "the recording of the input does not read back\n");
        abort();
    }

    return src;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cairn__conf_source_t  *src;
    cairn_server_t        *s;
    const char            *err;

    if (size >= sizeof(FUZZ_CONF_MAGIC) - 1
        && memcmp(data, FUZZ_CONF_MAGIC, sizeof(FUZZ_CONF_MAGIC) - 1) == 0)
    {
        src = cairn__conf_source_read((const char *) data, size);
    } else {
        src = fuzz_conf_source(data, size);
    }
    if (src == NULL) {
        return 0;
    }

    /* Named by LoadModule when loaded from a file. */
    mod_static_module.name = "static";
    mod_auth_module.name = "auth";

    s = cairn__server_create("/fuzz/cairn.conf", NULL, 1);
    cairn__server_building = s;
    err = cairn__module_add_static(s, &mod_static_module);
    if (err == NULL) {
        err = cairn__module_add_static(s, &mod_auth_module);
    }
    cairn__server_building = NULL;
    if (err != NULL) {
        fprintf(stderr, "add_static: %s\n", err);
        abort();
    }

    cairn__conf_use_source(s, src);
    if (cairn__conf_load(s) == 0) {
        cairn__conf_dump(s, fuzz_null);
        cairn__conf_explain(s, "example.com", "/a/b", fuzz_null);
    } else if (s->nerrors == 0) {
        fprintf(stderr, "a configuration refused without an error\n");
        abort();
    }
    cairn__conf_print_errors(s, fuzz_null);

    cairn__server_destroy(s);
    cairn__conf_source_free(src);

    return 0;
}
