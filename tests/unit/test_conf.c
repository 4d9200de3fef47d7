/*
 * tests/unit/test_conf.c: core/conf.c (the lexer, sections, directives,
 * Include, module registration, the cmd API and providers).
 *
 * Each test parses a config text into a fresh generation and looks at
 * what landed where: the raw per-scope configs (the core is module 0),
 * the set[] flags, the virtual hosts and locations, and the exact
 * "file:line: message" errors.  Tests that need files (Include,
 * LoadModule) build them in a temporary directory, removed afterwards.
 * Modules are test descriptors registered in memory with
 * cairn__module_add_static().
 */

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "unit.h"

#include "conf_int.h"


#define FAKE_CONF   "/nonexistent/dir/cairn.conf"

#define assert_has(hay, needle)                                             \
    ck_assert_msg(strstr((hay), (needle)) != NULL,                          \
                  "'%s' does not contain '%s'", (hay), (needle))

#define assert_prefix(text, prefix)                                         \
    ck_assert_msg(strncmp((text), (prefix), strlen(prefix)) == 0,           \
                  "'%s' does not start with '%s'", (text), (prefix))

#define assert_nerrors(want)                                                \
    ck_assert_msg(s->nerrors == (want), "%u errors instead of %u:\n%s",     \
                  s->nerrors, (unsigned) (want), all_errors())


/* The test module's configuration and the object of its section. */
typedef struct {
    const char      *name;
    int              inner;
    const char      *label;
} test_block_t;

typedef struct {
    const char      *str;
    cairn_strv_t     list;
    const char      *custom;
    int              flag;
    const char      *path;
    test_block_t    *block;
    int              empty_seen;

    /* What the custom setter saw through the cmd API. */
    const char      *cmd_file;
    int              cmd_line;
    const char      *cmd_name;
    const char      *cmd_location;
    const char      *cmd_path;
    cairn_server_t  *cmd_server;
} test_conf_t;


static void *test_create_conf(cairn_arena_t *a);
static const char *test_set_custom(cairn_cmd_t *cmd, void *conf, int argc,
                                   char **argv);
static const char *test_set_block(cairn_cmd_t *cmd, void *conf, int argc,
                                  char **argv);
static const char *test_set_empty(cairn_cmd_t *cmd, void *conf, int argc,
                                  char **argv);
static const char *test_set_misuse(cairn_cmd_t *cmd, void *conf, int argc,
                                   char **argv);
static int test_handler(cairn_request_t *r);
static int test_pre_config(cairn_server_t *srv);
static int test_pre_config_fail(cairn_server_t *srv);
static int failhooks_register(cairn_module_t *m);
static int prehooks_register(cairn_module_t *m);
static int failpre_register(cairn_module_t *m);


static const cairn_directive_t  test_inner_directives[] = {
    CAIRN_DIRECTIVE_INT("Inner", test_block_t, inner, CAIRN_SCOPE_SECTION,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_ONE("InnerLabel", test_block_t, label,
                        CAIRN_SCOPE_SECTION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};

static const cairn_directive_t  test_directives[] = {
    CAIRN_DIRECTIVE_ONE("TestString", test_conf_t, str, CAIRN_SCOPE_ANY,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_LIST("TestList", test_conf_t, list, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_APPEND),
    CAIRN_DIRECTIVE_CUSTOM("TestCustom", CAIRN_ARGS_ONE, test_conf_t, custom,
                           CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE,
                           test_set_custom),
    CAIRN_DIRECTIVE_FLAG("TestFlag", test_conf_t, flag, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_PATH("TestPath", test_conf_t, path, CAIRN_SCOPE_SERVER,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SECTION("TestBlock", test_conf_t, block,
                            CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                            test_set_block),
    CAIRN_DIRECTIVE_SECTION("TestEmpty", test_conf_t, empty_seen,
                            CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                            test_set_empty),
    CAIRN_DIRECTIVE_CUSTOM("TestMisuse", CAIRN_ARGS_ANY, test_conf_t,
                           custom, CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE,
                           test_set_misuse),
    CAIRN_DIRECTIVE_END
};

/* The index of each directive above in test_directives. */
enum {
    TEST_STRING = 0, TEST_LIST, TEST_CUSTOM, TEST_FLAG, TEST_PATH,
    TEST_BLOCK, TEST_EMPTY, TEST_MISUSE
};

static cairn_module_t  test_module = {
    CAIRN_MODULE_HEADER,
    .name           = "test",
    .version        = "1.0.0",
    .directives     = test_directives,
    .create_conf    = test_create_conf,
};

static const char *const  needy_requires[] = { "mod_nosuch", NULL };

static cairn_module_t  needy_module = {
    CAIRN_MODULE_HEADER,
    .name           = "needy",
    .requires       = needy_requires,
};

static const char *const  content_requires[] = { "core", "test", NULL };

static cairn_module_t  content_module = {
    CAIRN_MODULE_HEADER,
    .name           = "content",
    .requires       = content_requires,
};

static const cairn_directive_t  clash_directives[] = {
    CAIRN_DIRECTIVE_ONE("listen", test_conf_t, str, CAIRN_SCOPE_SERVER,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};

static cairn_module_t  clash_module = {
    CAIRN_MODULE_HEADER,
    .name           = "clash",
    .directives     = clash_directives,
    .create_conf    = test_create_conf,
};

/* An int directive over a pointer-sized field: the table is wrong. */
static const cairn_directive_t  badsize_directives[] = {
    CAIRN_DIRECTIVE_INT("BadSize", test_conf_t, str, CAIRN_SCOPE_SERVER,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};

static cairn_module_t  badsize_module = {
    CAIRN_MODULE_HEADER,
    .name           = "badsize",
    .directives     = badsize_directives,
    .create_conf    = test_create_conf,
};


/* A module whose register_hooks registers a hook, then fails. */
static const cairn_directive_t  failhooks_directives[] = {
    CAIRN_DIRECTIVE_ONE("FailHooksName", test_conf_t, str,
                        CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};

static cairn_module_t  failhooks_module = {
    CAIRN_MODULE_HEADER,
    .name           = "failhooks",
    .directives     = failhooks_directives,
    .create_conf    = test_create_conf,
    .register_hooks = failhooks_register,
};

/* A module whose pre_config hook succeeds, and one whose hook fails. */
static cairn_module_t  prehooks_module = {
    CAIRN_MODULE_HEADER,
    .name           = "prehooks",
    .register_hooks = prehooks_register,
};

static const cairn_directive_t  failpre_directives[] = {
    CAIRN_DIRECTIVE_ONE("FailPreName", test_conf_t, str,
                        CAIRN_SCOPE_SERVER, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};

static cairn_module_t  failpre_module = {
    CAIRN_MODULE_HEADER,
    .name           = "failpre",
    .directives     = failpre_directives,
    .create_conf    = test_create_conf,
    .register_hooks = failpre_register,
};

/* What the pre_config hooks saw. */
static int              pre_config_runs;
static cairn_server_t  *pre_config_server;


static cairn_server_t  *s;
static char             basedir[64];
static char             tmpdir[PATH_MAX];


/* ------------------------------------------------------------------ */
/* The test module                                                    */
/* ------------------------------------------------------------------ */

static void *
test_create_conf(cairn_arena_t *a)
{
    test_conf_t   *conf;
    const char   **v;

    conf = cairn_arena_calloc(a, sizeof(*conf));

    v = cairn_arena_calloc(a, 2 * sizeof(char *));
    v[0] = "default";
    conf->list.v = v;
    conf->list.n = 1;

    return conf;
}


static const char *
test_set_custom(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    test_conf_t  *c = conf;

    if (strcmp(argv[0], "bad") == 0) {
        return cairn_arena_printf(cairn_cmd_arena(cmd), "%s: '%s' is "
                                  "refused", cairn_cmd_name(cmd), argv[0]);
    }

    c->custom = argv[0];
    c->cmd_file = cairn_cmd_file(cmd);
    c->cmd_line = cairn_cmd_line(cmd);
    c->cmd_name = cairn_cmd_name(cmd);
    c->cmd_location = cairn_cmd_location(cmd);
    c->cmd_path = cairn_cmd_path(cmd, argv[0]);
    c->cmd_server = cairn_cmd_server(cmd);

    return NULL;
}


static const char *
test_set_block(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    test_conf_t   *c = conf;
    test_block_t  *b;

    if (argc != 1) {
        return "<TestBlock> takes one name";
    }

    b = cairn_arena_calloc(cairn_cmd_arena(cmd), sizeof(*b));
    b->name = argv[0];
    b->inner = -1;
    c->block = b;

    return cairn_cmd_section(cmd, test_inner_directives, b);
}


/* A section that takes no directives: it never calls cairn_cmd_section. */
static const char *
test_set_empty(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    test_conf_t  *c = conf;

    c->empty_seen = 1;

    return NULL;
}


/* A setter that is not a section's calls cairn_cmd_section(). */
static const char *
test_set_misuse(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    test_block_t  b;

    return cairn_cmd_section(cmd, test_inner_directives, &b);
}


static int
test_handler(cairn_request_t *r)
{
    return CAIRN_DECLINED;
}


static int
test_pre_config(cairn_server_t *srv)
{
    pre_config_runs++;
    pre_config_server = srv;

    return CAIRN_OK;
}


static int
test_pre_config_fail(cairn_server_t *srv)
{
    pre_config_runs++;

    return CAIRN_ERROR;
}


/* Registers a hook, then gives up. */
static int
failhooks_register(cairn_module_t *m)
{
    (void) cairn_hook_handler(m, test_handler, CAIRN_ORDER_MIDDLE, 0, NULL,
                              NULL);

    return CAIRN_ERROR;
}


static int
prehooks_register(cairn_module_t *m)
{
    return cairn_hook_pre_config(m, test_pre_config, CAIRN_ORDER_MIDDLE, 0,
                                 NULL, NULL);
}


static int
failpre_register(cairn_module_t *m)
{
    if (cairn_hook_handler(m, test_handler, CAIRN_ORDER_MIDDLE, 0, NULL,
                           NULL) != CAIRN_OK)
    {
        return CAIRN_ERROR;
    }

    return cairn_hook_pre_config(m, test_pre_config_fail,
                                 CAIRN_ORDER_MIDDLE, 0, NULL, NULL);
}


/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static cairn_server_t *
server_new(const char *conf_file, int with_defines)
{
    const char    *names[] = { "X", "Other", NULL };
    cairn_strv_t   defines = { 2, names };
    cairn_strv_t   none = { 0, NULL };

    return cairn__server_create(conf_file, with_defines ? &defines : &none,
                                1);
}


static void
setup(void)
{
    tmpdir[0] = '\0';
    s = server_new(FAKE_CONF, 1);
}


static int
remove_entry(const char *path, const struct stat *st, int flag,
             struct FTW *ftw)
{
    return remove(path);
}


static void
teardown(void)
{
    cairn__server_destroy(s);
    s = NULL;

    if (tmpdir[0] != '\0') {
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
    }
}


/*
 * Replaces the fixture's generation with one for another main file
 * (which may live in the old generation's arena, hence the copy).
 */
static void
server_replace(const char *conf_file, int with_defines)
{
    char  path[PATH_MAX];

    snprintf(path, sizeof(path), "%s", conf_file);
    cairn__server_destroy(s);
    s = server_new(path, with_defines);
    ck_assert_uint_eq(s->nerrors, 0);
}


static int
parse(const char *text)
{
    return cairn__conf_parse_string(s, "test.conf", text);
}


static const char *
all_errors(void)
{
    const cairn__conf_error_t  *e;
    const char                 *out = "";

    for (e = s->errors; e != NULL; e = e->next) {
        out = cairn_arena_printf(s->arena, "%s  %s\n", out, e->text);
    }

    return out;
}


/* Parses text that must be clean, showing every error if it is not. */
static void
parse_ok(const char *text)
{
    int  rc;

    rc = parse(text);
    assert_nerrors(0);
    ck_assert_int_eq(rc, 0);
}


/* The i-th recorded error (from 0). */
static const char *
error_at(unsigned i)
{
    const cairn__conf_error_t  *e;

    for (e = s->errors; e != NULL && i > 0; e = e->next) {
        i--;
    }

    return e != NULL ? e->text : "(no such error)";
}


static cairn__core_conf_t *
core_of(const cairn__scope_t *scope)
{
    ck_assert_ptr_nonnull(scope->raw[0].conf);

    return scope->raw[0].conf;
}


static int
core_index(const char *name)
{
    const cairn_directive_t  *d;

    for (d = cairn__core_module.directives; d->name != NULL; d++) {
        if (strcasecmp(d->name, name) == 0) {
            return (int) (d - cairn__core_module.directives);
        }
    }

    ck_abort_msg("the core has no directive %s", name);

    return -1;
}


/* Whether the core directive `name` was set in scope. */
static int
core_set(const cairn__scope_t *scope, const char *name)
{
    const uint8_t  *set = scope->raw[0].set;

    return set != NULL && set[core_index(name)];
}


static test_conf_t *
test_of(const cairn__scope_t *scope)
{
    ck_assert_int_ge(test_module.index, 1);
    ck_assert_ptr_nonnull(scope->raw[test_module.index].conf);

    return scope->raw[test_module.index].conf;
}


/* How many hooks of module m the generation holds, in every kind. */
static size_t
hooks_of(const cairn_module_t *m)
{
    size_t  k, i, n = 0;

    for (k = 0; k < CAIRN__HOOK_KINDS; k++) {
        for (i = 0; i < s->hooks->kind[k].n; i++) {
            if (s->hooks->kind[k].v[i].module == m) {
                n++;
            }
        }
    }

    return n;
}


static void
load_test_module(void)
{
    const char  *err;

    err = cairn__module_add_static(s, &test_module);
    ck_assert_msg(err == NULL, "registering the test module: %s", err);
}


/*
 * A test's directory lives inside the run's base directory: a failed
 * assertion ends the test's process without the teardown, and main()
 * removes whatever is left.
 */
static void
make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", basedir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}


static const char *
tmp_path(const char *rel)
{
    return cairn_arena_printf(s->arena, "%s/%s", tmpdir, rel);
}


static void
tmp_mkdir(const char *rel)
{
    ck_assert_msg(mkdir(tmp_path(rel), 0755) == 0, "mkdir %s: %s", rel,
                  strerror(errno));
}


static void
tmp_write(const char *rel, const char *text)
{
    FILE  *f;

    f = fopen(tmp_path(rel), "w");
    ck_assert_msg(f != NULL, "cannot write %s: %s", rel, strerror(errno));
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}


/* The keys of the core's Header list in scope, joined by spaces. */
static const char *
header_keys(const cairn__scope_t *scope)
{
    const cairn__core_conf_t  *c = core_of(scope);
    const char                *out = "";
    size_t                     i;

    for (i = 0; i < c->headers.n; i++) {
        out = cairn_arena_printf(s->arena, "%s%s%s", out, i ? " " : "",
                                 c->headers.v[i].key);
    }

    return out;
}


/*
 * The Include tree:
 *
 *   main.conf  conf.d/{a.conf, b.conf, .hidden.conf, c.conf~,
 *   d.conf.dpkg-old, e.conf.rpmnew, f.conf.rpmsave, sub.conf/g.conf,
 *   k.conf -> ../other/k.conf}  other/k.conf
 *
 * Each file adds the header X-<its letter>.
 */
static void
make_include_tree(void)
{
    make_tmpdir();
    tmp_mkdir("conf.d");
    tmp_mkdir("conf.d/sub.conf");
    tmp_mkdir("other");

    tmp_write("conf.d/a.conf", "Header X-a 1\n");
    tmp_write("conf.d/b.conf", "# b\nHeader X-b 1\n");
    tmp_write("conf.d/.hidden.conf", "Header X-hidden 1\n");
    tmp_write("conf.d/c.conf~", "Header X-c 1\n");
    tmp_write("conf.d/d.conf.dpkg-old", "Header X-d 1\n");
    tmp_write("conf.d/e.conf.rpmnew", "Header X-e 1\n");
    tmp_write("conf.d/f.conf.rpmsave", "Header X-f 1\n");
    tmp_write("conf.d/sub.conf/g.conf", "Header X-g 1\n");
    tmp_write("other/k.conf", "Header X-k 1\n");
    ck_assert_int_eq(symlink("../other/k.conf", tmp_path("conf.d/k.conf")),
                     0);
}


/* ------------------------------------------------------------------ */
/* Lexer                                                              */
/* ------------------------------------------------------------------ */

START_TEST(lexer_blanks)
{
    cairn__core_conf_t  *c;

    parse_ok("  \tServerName \t  a.example \t \n"
             "\n"
             "   \t\n"
             "Listen\t8080 \t 8081\t\n");

    c = core_of(s->main);
    ck_assert_str_eq(c->server_name, "a.example");
    ck_assert_uint_eq(c->listen.n, 2);
    ck_assert_str_eq(c->listen.v[0], "8080");
    ck_assert_str_eq(c->listen.v[1], "8081");
}
END_TEST


START_TEST(lexer_quotes)
{
    cairn__core_conf_t  *c;

    parse_ok("ServerName \"a  b\"\n"
             "Header X-Single 'c d\te'\n"
             "Header \"X Spaced\" \"\"\n"
             "Header X-Mixed 'it is \"so\"'\n");

    c = core_of(s->main);
    ck_assert_str_eq(c->server_name, "a  b");
    ck_assert_uint_eq(c->headers.n, 3);
    ck_assert_str_eq(c->headers.v[0].key, "X-Single");
    ck_assert_str_eq(c->headers.v[0].value, "c d\te");
    ck_assert_str_eq(c->headers.v[1].key, "X Spaced");
    ck_assert_str_eq(c->headers.v[1].value, "");
    ck_assert_str_eq(c->headers.v[2].value, "it is \"so\"");
}
END_TEST


START_TEST(lexer_escapes)
{
    cairn__core_conf_t  *c;

    parse_ok("Header X-A \"q\\\"b\\\\s\\nn\\tt\"\n"
             "Header X-B 'it\\'s'\n"
             "Header X-C back\\slash\n");

    c = core_of(s->main);
    ck_assert_uint_eq(c->headers.n, 3);
    ck_assert_str_eq(c->headers.v[0].value, "q\"b\\s\nn\tt");
    ck_assert_str_eq(c->headers.v[1].value, "it's");
    /* Outside quotes a backslash is an ordinary character. */
    ck_assert_str_eq(c->headers.v[2].value, "back\\slash");
}
END_TEST


START_TEST(lexer_comments)
{
    cairn__core_conf_t  *c;

    parse_ok("# a comment\n"
             "   \t# an indented comment\n"
             "#ServerName commented.example\n"
             "ServerName a.example # after a directive\n"
             "Listen 80 #8080\n"
             "Header X-Hash \"v # kept\" # dropped\n"
             "Header X-Word a#b\n");

    c = core_of(s->main);
    ck_assert_str_eq(c->server_name, "a.example");
    ck_assert_uint_eq(c->listen.n, 1);
    ck_assert_str_eq(c->listen.v[0], "80");
    ck_assert_uint_eq(c->headers.n, 2);
    ck_assert_str_eq(c->headers.v[0].value, "v # kept");
    ck_assert_str_eq(c->headers.v[1].value, "a#b");
}
END_TEST


START_TEST(lexer_continuation)
{
    cairn__core_conf_t  *c;

    ck_assert_int_eq(parse("Listen 1 \\\n"
                           "    2\n"
                           "Header X-Three \\\n"
                           "  \\\n"
                           "  three\n"
                           "Nosuch\n"
                           "Listen 3 \\\n"
                           "  4 \\\n"
                           "  5\n"
                           "\n"
                           "Nosuch2\n"), -1);
    assert_nerrors(2);

    /* Lines 6 and 11 in the file, not logical lines 3 and 5. */
    assert_has(error_at(0), "test.conf:6: unknown directive 'Nosuch'");
    assert_has(error_at(1), "test.conf:11: unknown directive 'Nosuch2'");

    c = core_of(s->main);
    ck_assert_uint_eq(c->listen.n, 5);
    ck_assert_str_eq(c->listen.v[0], "1");
    ck_assert_str_eq(c->listen.v[1], "2");
    ck_assert_str_eq(c->listen.v[4], "5");
    ck_assert_str_eq(cairn_kvv_get(&c->headers, "X-Three"), "three");
}
END_TEST


START_TEST(lexer_crlf)
{
    cairn__core_conf_t  *c;

    ck_assert_int_eq(parse("ServerName a.example\r\n"
                           "Header X-Q \"v\"\r\n"
                           "Listen 1 \\\r\n"
                           "  2\r\n"
                           "<Location /a>\r\n"
                           "Header X-L 1\r\n"
                           "</Location>\r\n"
                           "Nosuch\r\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:8: unknown directive 'Nosuch'");

    c = core_of(s->main);
    ck_assert_str_eq(c->server_name, "a.example");
    ck_assert_str_eq(cairn_kvv_get(&c->headers, "X-Q"), "v");
    ck_assert_uint_eq(c->listen.n, 2);
    ck_assert_str_eq(c->listen.v[1], "2");
    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(s->main_vhost->prefix[0]->name, "/a");
}
END_TEST


START_TEST(lexer_unclosed_quote)
{
    ck_assert_int_eq(parse("ServerName \"a.example\n"
                           "Header X-A 'b\n"
                           "Header X-B \"ends with a backslash\\\"\n"
                           "Listen 80\n"), -1);
    assert_nerrors(3);
    ck_assert_str_eq(error_at(0), "test.conf:1: a double quote is not "
                                  "closed");
    ck_assert_str_eq(error_at(1), "test.conf:2: a single quote is not "
                                  "closed");
    ck_assert_str_eq(error_at(2), "test.conf:3: a double quote is not "
                                  "closed");

    /* The broken lines are dropped, the rest is read. */
    ck_assert_ptr_null(core_of(s->main)->server_name);
    ck_assert_uint_eq(core_of(s->main)->headers.n, 0);
    ck_assert_uint_eq(core_of(s->main)->listen.n, 1);
}
END_TEST


START_TEST(lexer_case_insensitive_names)
{
    cairn__core_conf_t  *c;

    parse_ok("listen 1\n"
             "LISTEN 2\n"
             "sErVeRnAmE a.example\n"
             "<location /a>\n"
             "HEADER X-L 1\n"
             "</LOCATION>\n");

    c = core_of(s->main);
    ck_assert_uint_eq(c->listen.n, 2);
    ck_assert_str_eq(c->server_name, "a.example");
    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(header_keys(s->main_vhost->prefix[0]), "X-L");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Sections                                                           */
/* ------------------------------------------------------------------ */

START_TEST(section_location)
{
    const cairn__scope_t  *loc;

    parse_ok("ServerName a.example\n"
             "<Location /a>\n"
             "    LimitRequestBody 10\n"
             "    Header X-A 1\n"
             "</Location>\n"
             "<Location \"/b c\">\n"
             "</Location>\n"
             "Header X-Main 1\n");

    ck_assert_uint_eq(s->main_vhost->nprefix, 2);
    ck_assert_uint_eq(s->main_vhost->nregex, 0);
    ck_assert_uint_eq(s->nvhosts, 0);

    loc = s->main_vhost->prefix[0];
    ck_assert_int_eq(loc->kind, CAIRN__SCOPE_PREFIX);
    ck_assert_str_eq(loc->name, "/a");
    ck_assert_str_eq(loc->file, "test.conf");
    ck_assert_int_eq(loc->line, 2);
    ck_assert_ptr_eq(loc->parent, s->main);
    ck_assert_int_eq(core_of(loc)->limit_request_body, 10);
    ck_assert_str_eq(header_keys(loc), "X-A");
    ck_assert(core_set(loc, "LimitRequestBody"));
    ck_assert(core_set(loc, "Header"));
    ck_assert(!core_set(loc, "ServerName"));

    ck_assert_str_eq(s->main_vhost->prefix[1]->name, "/b c");

    /* After </Location> directives land in the server scope again. */
    ck_assert_str_eq(header_keys(s->main), "X-Main");
    ck_assert(!core_set(s->main, "LimitRequestBody"));
    ck_assert_int_eq(core_of(s->main)->limit_request_body, 1024 * 1024);
}
END_TEST


START_TEST(section_location_match)
{
    const cairn__scope_t  *loc;

    parse_ok("<LocationMatch ^/x/.*\\.png$>\n"
             "    Header X-Png 1\n"
             "</LocationMatch>\n");

    ck_assert_uint_eq(s->main_vhost->nregex, 1);
    ck_assert_uint_eq(s->main_vhost->nprefix, 0);

    loc = s->main_vhost->regex[0];
    ck_assert_int_eq(loc->kind, CAIRN__SCOPE_REGEX);
    ck_assert_str_eq(loc->name, "^/x/.*\\.png$");
    ck_assert_ptr_eq(loc->parent, s->main);
    ck_assert_int_eq(regexec(&loc->re, "/x/a/b.png", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(&loc->re, "/x/apng", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(&loc->re, "/y/a.png", 0, NULL, 0), 0);
    ck_assert_str_eq(header_keys(loc), "X-Png");
}
END_TEST


START_TEST(section_virtual_host)
{
    const cairn__vhost_t  *vh;

    parse_ok("ServerName main.example\n"
             "<VirtualHost a.example B.Example>\n"
             "    ServerName A.example\n"
             "    <Location /v>\n"
             "        Header X-V 1\n"
             "    </Location>\n"
             "    <LocationMatch \\.txt$>\n"
             "    </LocationMatch>\n"
             "</VirtualHost>\n"
             "<Location /m>\n"
             "</Location>\n");

    ck_assert_uint_eq(s->nvhosts, 1);
    vh = s->vhosts[0];
    ck_assert_uint_eq(vh->names.n, 2);
    ck_assert_str_eq(vh->names.v[0], "a.example");
    ck_assert_str_eq(vh->names.v[1], "b.example");
    ck_assert_int_eq(vh->scope->kind, CAIRN__SCOPE_VHOST);
    ck_assert_str_eq(vh->scope->name, "a.example");
    ck_assert_int_eq(vh->scope->line, 2);
    ck_assert_ptr_eq(vh->scope->parent, s->main);
    ck_assert_str_eq(core_of(vh->scope)->server_name, "A.example");

    /* Locations inside the virtual host belong to it. */
    ck_assert_uint_eq(vh->nprefix, 1);
    ck_assert_str_eq(vh->prefix[0]->name, "/v");
    ck_assert_ptr_eq(vh->prefix[0]->parent, vh->scope);
    ck_assert_uint_eq(vh->nregex, 1);
    ck_assert_str_eq(vh->regex[0]->name, "\\.txt$");

    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(s->main_vhost->prefix[0]->name, "/m");
    ck_assert_uint_eq(s->main_vhost->nregex, 0);
    ck_assert_str_eq(core_of(s->main)->server_name, "main.example");
}
END_TEST


START_TEST(section_virtual_host_duplicate_name)
{
    ck_assert_int_eq(parse("<VirtualHost a.example>\n"
                           "</VirtualHost>\n"
                           "<VirtualHost b.example A.EXAMPLE>\n"
                           "</VirtualHost>\n"), -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0), "test.conf:3: virtual host name "
                                  "'a.example' is already used "
                                  "(test.conf:1)");
}
END_TEST


START_TEST(section_ifmodule_read)
{
    parse_ok("<IfModule core>\n"
             "    ServerName a.example\n"
             "    <IfModule mod_core.c>\n"
             "        Listen 80\n"
             "    </IfModule>\n"
             "</IfModule>\n"
             "<IfModule !nosuch>\n"
             "    Header X-A 1\n"
             "</IfModule>\n");
    ck_assert_str_eq(core_of(s->main)->server_name, "a.example");
    ck_assert_uint_eq(core_of(s->main)->listen.n, 1);
    ck_assert_str_eq(header_keys(s->main), "X-A");
}
END_TEST


START_TEST(section_ifmodule_negated_skipped)
{
    parse_ok("Listen 80\n"
             "<IfModule !core>\n"
             "    ServerName a.example\n"
             "</IfModule>\n");
    ck_assert_ptr_null(core_of(s->main)->server_name);
    ck_assert(!core_set(s->main, "ServerName"));
}
END_TEST


START_TEST(section_ifmodule_missing_skipped)
{
    ck_assert_int_eq(parse("<IfModule nosuch>\n"
                           "    NosuchDirective on\n"
                           "    <Location /a>\n"
                           "        Header X-A 1\n"
                           "        <IfModule core>\n"
                           "            ServerName inner.example\n"
                           "        </IfModule>\n"
                           "    </Location>\n"
                           "    <NosuchSection x>\n"
                           "    </NosuchSection>\n"
                           "    ServerName skipped.example\n"
                           "</IfModule>\n"
                           "Listen 80\n"
                           "Nosuch\n"), -1);

    /* Only the line after the section counts. */
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:14: unknown directive 'Nosuch'");
    ck_assert_uint_eq(s->main_vhost->nprefix, 0);
    ck_assert_ptr_null(core_of(s->main)->server_name);
    ck_assert_uint_eq(core_of(s->main)->listen.n, 1);
}
END_TEST


START_TEST(section_ifdefine_given)
{
    parse_ok("Listen 80\n"
             "<IfDefine X>\n"
             "    ServerName x.example\n"
             "</IfDefine>\n"
             "<IfDefine !X>\n"
             "    Header X-Not 1\n"
             "</IfDefine>\n"
             "<IfDefine Nosuch>\n"
             "    Header X-Nosuch 1\n"
             "</IfDefine>\n"
             "<IfDefine !Nosuch>\n"
             "    Header X-Yes 1\n"
             "</IfDefine>\n");
    ck_assert(cairn_server_defined(s, "X"));
    ck_assert(!cairn_server_defined(s, "Nosuch"));
    ck_assert_str_eq(core_of(s->main)->server_name, "x.example");
    ck_assert_str_eq(header_keys(s->main), "X-Yes");
}
END_TEST


START_TEST(section_ifdefine_not_given)
{
    server_replace(FAKE_CONF, 0);

    parse_ok("Listen 80\n"
             "<IfDefine X>\n"
             "    ServerName x.example\n"
             "</IfDefine>\n"
             "<IfDefine !X>\n"
             "    Header X-Not 1\n"
             "</IfDefine>\n");
    ck_assert(!cairn_server_defined(s, "X"));
    ck_assert_ptr_null(core_of(s->main)->server_name);
    ck_assert_str_eq(header_keys(s->main), "X-Not");
}
END_TEST


START_TEST(section_unclosed_at_eof)
{
    ck_assert_int_eq(parse("ServerName a.example\n"
                           "<Location /a>\n"
                           "    Header X-A 1\n"
                           "\n"), -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0), "test.conf:2: <Location> is not closed "
                                  "(add </Location> before the end of "
                                  "test.conf)");
}
END_TEST


START_TEST(section_unclosed_nested_at_eof)
{
    ck_assert_int_eq(parse("<VirtualHost a.example>\n"
                           "<IfModule core>\n"
                           "<Location /a>\n"), -1);

    /* Innermost first, each naming where it was opened. */
    assert_nerrors(3);
    assert_has(error_at(0), "test.conf:3: <Location> is not closed");
    assert_has(error_at(1), "test.conf:2: <IfModule> is not closed");
    assert_has(error_at(2), "test.conf:1: <VirtualHost> is not closed");
}
END_TEST


START_TEST(section_stray_close)
{
    ck_assert_int_eq(parse("Listen 80\n"
                           "</Location>\n"
                           "ServerName a.example\n"), -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0), "test.conf:2: </Location> without a "
                                  "matching <Location>");
    ck_assert_str_eq(core_of(s->main)->server_name, "a.example");
}
END_TEST


START_TEST(section_mismatched_close)
{
    ck_assert_int_eq(parse("<Location /a>\n"
                           "</VirtualHost>\n"
                           "Header X-A 1\n"
                           "</Location>\n"), -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0), "test.conf:2: </VirtualHost> closes "
                                  "nothing: the open section is <Location> "
                                  "(test.conf:1)");

    /* The location stayed open until its own close. */
    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(header_keys(s->main_vhost->prefix[0]), "X-A");
}
END_TEST


START_TEST(section_nested_location_refused)
{
    ck_assert_int_eq(parse("<Location /a>\n"
                           "    <Location /a/b>\n"
                           "        Header X-B 1\n"
                           "    </Location>\n"
                           "    <LocationMatch ^/a/c>\n"
                           "    </LocationMatch>\n"
                           "    Header X-A 1\n"
                           "</Location>\n"), -1);
    assert_nerrors(2);
    assert_has(error_at(0), "test.conf:2: <Location> cannot be nested "
                            "inside another location");
    assert_has(error_at(1), "test.conf:5: <LocationMatch> cannot be nested");

    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_uint_eq(s->main_vhost->nregex, 0);
    ck_assert_str_eq(header_keys(s->main_vhost->prefix[0]), "X-A");
}
END_TEST


START_TEST(section_nested_virtual_host_refused)
{
    ck_assert_int_eq(parse("<VirtualHost a.example>\n"
                           "    <VirtualHost b.example>\n"
                           "        ServerName b.example\n"
                           "    </VirtualHost>\n"
                           "    ServerName a.example\n"
                           "</VirtualHost>\n"
                           "<Location /l>\n"
                           "    <VirtualHost c.example>\n"
                           "    </VirtualHost>\n"
                           "</Location>\n"), -1);
    assert_nerrors(2);
    ck_assert_str_eq(error_at(0), "test.conf:2: <VirtualHost> is only "
                                  "allowed at server level, not inside "
                                  "<VirtualHost>");
    ck_assert_str_eq(error_at(1), "test.conf:8: <VirtualHost> is only "
                                  "allowed at server level, not inside "
                                  "<Location>");

    ck_assert_uint_eq(s->nvhosts, 1);
    ck_assert_str_eq(core_of(s->vhosts[0]->scope)->server_name,
                     "a.example");
}
END_TEST


START_TEST(section_location_path_relative)
{
    ck_assert_int_eq(parse("<Location a/b>\n"
                           "    Header X-A 1\n"
                           "</Location>\n"
                           "<Location>\n"
                           "</Location>\n"), -1);
    assert_nerrors(2);
    ck_assert_str_eq(error_at(0), "test.conf:1: <Location a/b>: the path "
                                  "must start with '/'");
    ck_assert_str_eq(error_at(1), "test.conf:4: <Location> takes one "
                                  "argument, 0 given");
    ck_assert_uint_eq(s->main_vhost->nprefix, 0);
    ck_assert_ptr_null(s->main->raw[0].conf);
}
END_TEST


START_TEST(section_bad_regex)
{
    ck_assert_int_eq(parse("<LocationMatch ^/(a>\n"
                           "    Header X-A 1\n"
                           "</LocationMatch>\n"
                           "Listen 80\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:1: <LocationMatch ^/(a>: ");
    assert_has(error_at(0), "regular expression");
    ck_assert_uint_eq(s->main_vhost->nregex, 0);
    ck_assert_uint_eq(core_of(s->main)->headers.n, 0);
}
END_TEST


/* Stacked repetitions are refused before regcomp(), which takes
 * exponential time on a run of them (found by fuzz_config). */
START_TEST(section_stacked_repetition)
{
    static const char  *bad[] = {
        "^/a**$", "^/a+?", "^/a*{2}", "^/a{1,2}*", "^/(x)+*",
        "^/***************************************************b/[0-9]+$",
    };
    static const char  *good[] = {
        "^/a*$", "\\*+", "[*+?]+", "^/a{1,2}b*", "[[:alpha:]*]*x",
        "^/(a*)*$",
    };
    char    conf[256];
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(conf, sizeof(conf), "<LocationMatch %s>\n"
                 "</LocationMatch>\nListen 80\n", bad[i]);
        ck_assert_msg(parse(conf) == -1, "%s was accepted", bad[i]);
        assert_nerrors(1);
        assert_has(error_at(0), "follows another one");
        teardown();
        setup();
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(conf, sizeof(conf), "<LocationMatch %s>\n"
                 "</LocationMatch>\nListen 80\n", good[i]);
        ck_assert_msg(parse(conf) == 0, "%s was refused", good[i]);
        teardown();
        setup();
    }
}
END_TEST


/* cairn_regex_compile(), which <LocationMatch> and modules' patterns
 * (mod_rest's pattern=) share: the same refusal, before regcomp(). */
START_TEST(regex_compile_api)
{
    static const char  *bad[] = {
        "a**", "a+?", "^a*{2}", "x{1,2}*", "(x)+*", "a?+",
        "[0-9]+***************************************************b",
    };
    static const char  *good[] = {
        "^[a-z]+$", "\\*+", "[*+?]+", "a{1,2}b*", "[[:alpha:]*]*x",
        "(a*)*",
    };
    cairn_arena_t  *a = cairn_server_arena(s);
    const char     *msg;
    regex_t        *re;
    size_t          i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        re = cairn_arena_calloc(a, sizeof(regex_t));
        msg = cairn_regex_compile(a, re, bad[i], REG_NOSUB);
        ck_assert_msg(msg != NULL, "%s was compiled", bad[i]);
        ck_assert_msg(strstr(msg, "follows another one") != NULL,
                      "%s: %s", bad[i], msg);
    }
    msg = cairn_regex_compile(a, cairn_arena_calloc(a, sizeof(regex_t)),
                              "a**", 0);
    ck_assert_str_eq(msg, "a repetition ('*' at offset 2) follows another "
                     "one; POSIX leaves that undefined, and long runs of "
                     "them make the expression take minutes to compile");

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        re = cairn_arena_calloc(a, sizeof(regex_t));
        msg = cairn_regex_compile(a, re, good[i], REG_NOSUB);
        ck_assert_msg(msg == NULL, "%s: %s", good[i], msg);
    }

    re = cairn_arena_calloc(a, sizeof(regex_t));
    ck_assert_ptr_null(cairn_regex_compile(a, re, "^ab+c$", REG_ICASE));
    ck_assert_int_eq(regexec(re, "ABBC", 0, NULL, 0), 0);
    ck_assert_int_ne(regexec(re, "ac", 0, NULL, 0), 0);

    msg = cairn_regex_compile(a, cairn_arena_calloc(a, sizeof(regex_t)),
                              "([", 0);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strncmp(msg, "bad regular expression: ", 24) == 0, "%s",
                  msg);
}
END_TEST


START_TEST(section_unknown)
{
    ck_assert_int_eq(parse("<Nosuch x y>\n"
                           "    ServerName skipped.example\n"
                           "    <Location /a>\n"
                           "    </Location>\n"
                           "</Nosuch>\n"
                           "<Listen 80>\n"
                           "</Listen>\n"
                           "<>\n"
                           "<Location /b\n"
                           "Listen 80\n"), -1);
    assert_nerrors(4);
    assert_has(error_at(0), "test.conf:1: unknown section <Nosuch>");
    ck_assert_str_eq(error_at(1), "test.conf:6: Listen is a directive, not "
                                  "a section: write it without < >");
    ck_assert_str_eq(error_at(2), "test.conf:8: empty section name");
    ck_assert_str_eq(error_at(3), "test.conf:9: a section line must end "
                                  "with '>'");

    ck_assert_ptr_null(core_of(s->main)->server_name);
    ck_assert_uint_eq(s->main_vhost->nprefix, 0);
    ck_assert_uint_eq(core_of(s->main)->listen.n, 1);
}
END_TEST


/*
 * DESIGN.md's own example writes "<Location /admin>   # ..."; a comment
 * after a section line is read like one after a directive.
 */
START_TEST(section_trailing_comment)
{
    parse_ok("<Location /admin>    # the admin area\n"
             "    Header X-Admin 1\n"
             "</Location>          # end of /admin\n");
    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(s->main_vhost->prefix[0]->name, "/admin");
    ck_assert_str_eq(header_keys(s->main_vhost->prefix[0]), "X-Admin");
}
END_TEST


/*
 * After "sections nested too deep" the reading goes on sanely: once every
 * section is closed, directives land in the server scope again.
 */
START_TEST(section_too_deep_recovers)
{
    const char  *text = "";
    int          i;

    for (i = 0; i < 63; i++) {
        text = cairn_arena_printf(s->arena, "%s<IfModule core>\n", text);
    }
    text = cairn_arena_printf(s->arena, "%s<VirtualHost v.example>\n"
                              "<Location /deep>\n"
                              "</Location>\n"
                              "</VirtualHost>\n", text);
    for (i = 0; i < 63; i++) {
        text = cairn_arena_printf(s->arena, "%s</IfModule>\n", text);
    }
    text = cairn_arena_printf(s->arena, "%sListen 80\n", text);

    ck_assert_int_eq(parse(text), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:65: sections nested too deep");
    ck_assert_uint_eq(core_of(s->main)->listen.n, 1);
}
END_TEST


/* ------------------------------------------------------------------ */
/* Directives                                                         */
/* ------------------------------------------------------------------ */

START_TEST(directive_unknown)
{
    ck_assert_int_eq(parse("Listen 80\n"
                           "Foo bar baz\n"), -1);
    assert_nerrors(1);

    /* The rest of the message is a hint that depends on ModuleDir. */
    assert_prefix(error_at(0), "test.conf:2: unknown directive 'Foo'");
}
END_TEST


START_TEST(directive_argument_count)
{
    ck_assert_int_eq(parse("ServerName a.example b.example\n"
                           "Header X-Only\n"
                           "Listen\n"
                           "LimitRequestLine\n"
                           "Header A B C\n"
                           "Include\n"), -1);
    assert_nerrors(6);
    ck_assert_str_eq(error_at(0), "test.conf:1: ServerName takes one "
                                  "argument, 2 given");
    ck_assert_str_eq(error_at(1), "test.conf:2: Header takes two "
                                  "arguments, 1 given");
    ck_assert_str_eq(error_at(2), "test.conf:3: Listen takes at least one "
                                  "argument, none given");
    ck_assert_str_eq(error_at(3), "test.conf:4: LimitRequestLine takes one "
                                  "argument, 0 given");
    ck_assert_str_eq(error_at(4), "test.conf:5: Header takes two "
                                  "arguments, 3 given");
    ck_assert_str_eq(error_at(5), "test.conf:6: Include takes one "
                                  "argument, 0 given");
    ck_assert_ptr_null(s->main->raw[0].conf);
}
END_TEST


START_TEST(directive_wrong_scope)
{
    ck_assert_int_eq(parse("<Location /a>\n"
                           "    Listen 80\n"
                           "    ServerName a.example\n"
                           "    LimitRequestBody 1k\n"
                           "</Location>\n"
                           "<VirtualHost v.example>\n"
                           "    MaxConnections 10\n"
                           "    ServerName v.example\n"
                           "</VirtualHost>\n"), -1);
    assert_nerrors(3);
    assert_has(error_at(0), "test.conf:2: ");
    assert_has(error_at(0), "not allowed inside <Location>");
    assert_has(error_at(0), "server level");
    ck_assert_str_eq(error_at(0), "test.conf:2: Listen is not allowed "
                                  "inside <Location>; it belongs at server "
                                  "level");
    ck_assert_str_eq(error_at(1), "test.conf:3: ServerName is not allowed "
                                  "inside <Location>; it belongs at server "
                                  "or <VirtualHost> level");
    ck_assert_str_eq(error_at(2), "test.conf:7: MaxConnections is not "
                                  "allowed inside <VirtualHost>; it belongs "
                                  "at server level");

    ck_assert_int_eq(core_of(s->main_vhost->prefix[0])->limit_request_body,
                     1024);
    ck_assert_str_eq(core_of(s->vhosts[0]->scope)->server_name,
                     "v.example");
    ck_assert(!core_set(s->vhosts[0]->scope, "MaxConnections"));
}
END_TEST


START_TEST(directive_bad_values)
{
    load_test_module();

    ck_assert_int_eq(parse("LimitRequestBody abc\n"
                           "\n"
                           "KeepAliveTimeout 5x\n"
                           "TestFlag maybe\n"
                           "LimitRequestLine -3\n"
                           "Workers none\n"
                           "Listen 70000\n"), -1);
    assert_nerrors(6);
    assert_has(error_at(0), "test.conf:1: ");
    assert_has(error_at(0), "'abc'");
    assert_has(error_at(1), "test.conf:3: ");
    assert_has(error_at(1), "'5x'");
    assert_has(error_at(2), "test.conf:4: ");
    assert_has(error_at(2), "'maybe'");
    assert_has(error_at(3), "test.conf:5: ");
    assert_has(error_at(3), "'-3'");
    assert_has(error_at(4), "test.conf:6: ");
    assert_has(error_at(4), "'none'");
    assert_has(error_at(5), "test.conf:7: ");
    assert_has(error_at(5), "70000");

    /* A refused value neither changes the default nor counts as set. */
    ck_assert_int_eq(core_of(s->main)->limit_request_body, 1024 * 1024);
    ck_assert(!core_set(s->main, "LimitRequestBody"));
    ck_assert(!core_set(s->main, "KeepAliveTimeout"));
    ck_assert(!core_set(s->main, "LimitRequestLine"));
    ck_assert(!core_set(s->main, "Workers"));
    ck_assert(!core_set(s->main, "Listen"));
    ck_assert(!s->main->raw[test_module.index].set[TEST_FLAG]);
}
END_TEST


START_TEST(directive_good_values)
{
    cairn__core_conf_t  *c;

    parse_ok("LimitRequestBody 64k\n"
             "KeepAliveTimeout 250ms\n"
             "RequestHeaderTimeout 30\n"
             "LimitRequestLine 100\n"
             "MaxConnections 0\n"
             "Workers 4\n"
             "ErrorLog /tmp/error.log\n"
             "PidFile logs/cairnd.pid\n"
             "LogLevel debug\n");

    c = core_of(s->main);
    ck_assert_int_eq(c->limit_request_body, 64 * 1024);
    ck_assert_int_eq(c->keepalive_timeout_ms, 250);
    ck_assert_int_eq(c->request_header_timeout_ms, 30000);
    ck_assert_int_eq(c->limit_request_line, 100);
    ck_assert_int_eq(c->max_connections, 0);
    ck_assert_int_eq(c->workers, 4);
    ck_assert_str_eq(c->error_log, "/tmp/error.log");
    ck_assert_str_eq(c->pid_file, "/nonexistent/dir/logs/cairnd.pid");
    ck_assert_int_eq(c->log_level, CAIRN_LOG_DEBUG);

    ck_assert_int_eq(parse("Workers auto\n"), 0);
    ck_assert_int_eq(c->workers, 0);
}
END_TEST


START_TEST(directive_errors_continue)
{
    ck_assert_int_eq(parse("Foo\n"
                           "ServerName a.example b.example\n"
                           "ServerName ok.example\n"), -1);
    assert_nerrors(2);
    assert_has(error_at(0), "test.conf:1: unknown directive 'Foo'");
    assert_has(error_at(1), "test.conf:2: ServerName takes one argument");
    ck_assert_str_eq(core_of(s->main)->server_name, "ok.example");
}
END_TEST


START_TEST(directive_list)
{
    cairn__core_conf_t  *c;

    parse_ok("Listen 127.0.0.1:8080\n"
             "Listen 8081 [::1]:8082\n");

    c = core_of(s->main);
    ck_assert_uint_eq(c->listen.n, 3);
    ck_assert_str_eq(c->listen.v[0], "127.0.0.1:8080");
    ck_assert_str_eq(c->listen.v[1], "8081");
    ck_assert_str_eq(c->listen.v[2], "[::1]:8082");
    ck_assert(core_set(s->main, "Listen"));
}
END_TEST


START_TEST(directive_list_replaces_default)
{
    test_conf_t  *t;

    load_test_module();

    parse_ok("TestList a\n"
             "TestList b c\n"
             "<Location /l>\n"
             "    TestList d\n"
             "</Location>\n"
             "<Location /n>\n"
             "    TestString n\n"
             "</Location>\n");

    /* The first line in a scope replaces the default, later ones add. */
    t = test_of(s->main);
    ck_assert_uint_eq(t->list.n, 3);
    ck_assert_str_eq(t->list.v[0], "a");
    ck_assert_str_eq(t->list.v[1], "b");
    ck_assert_str_eq(t->list.v[2], "c");
    ck_assert_ptr_null(t->list.v[3]);
    ck_assert(s->main->raw[test_module.index].set[TEST_LIST]);

    t = test_of(s->main_vhost->prefix[0]);
    ck_assert_uint_eq(t->list.n, 1);
    ck_assert_str_eq(t->list.v[0], "d");

    /* A scope that never sets it keeps the default, unset. */
    t = test_of(s->main_vhost->prefix[1]);
    ck_assert_uint_eq(t->list.n, 1);
    ck_assert_str_eq(t->list.v[0], "default");
    ck_assert(!s->main_vhost->prefix[1]->raw[test_module.index]
                   .set[TEST_LIST]);
}
END_TEST


START_TEST(directive_key_same)
{
    cairn__core_conf_t  *c;

    parse_ok("Header X 1\n"
             "Header X 2\n");

    c = core_of(s->main);
    ck_assert_uint_eq(c->headers.n, 1);
    ck_assert_str_eq(c->headers.v[0].key, "X");
    ck_assert_str_eq(c->headers.v[0].value, "2");
    ck_assert_str_eq(cairn_kvv_get(&c->headers, "X"), "2");
}
END_TEST


START_TEST(directive_key_different)
{
    cairn__core_conf_t  *c;

    parse_ok("Header X 1\n"
             "Header Y 2\n"
             "Header x-case 3\n"
             "Header X-CASE 4\n");

    c = core_of(s->main);
    ck_assert_uint_eq(c->headers.n, 3);
    ck_assert_str_eq(c->headers.v[0].key, "X");
    ck_assert_str_eq(c->headers.v[0].value, "1");
    ck_assert_str_eq(c->headers.v[1].key, "Y");
    ck_assert_str_eq(c->headers.v[1].value, "2");

    /* Header names are case-insensitive: the key stays as first written. */
    ck_assert_str_eq(c->headers.v[2].key, "x-case");
    ck_assert_str_eq(c->headers.v[2].value, "4");
    ck_assert_ptr_null(cairn_kvv_get(&c->headers, "Z"));
}
END_TEST


START_TEST(directive_set_flags)
{
    const cairn__scope_t  *loc;
    const uint8_t         *set;
    size_t                 i, n;

    parse_ok("ServerName a.example\n"
             "LimitRequestBody 5\n"
             "<Location /a>\n"
             "    Header X 1\n"
             "</Location>\n");

    set = s->main->raw[0].set;
    ck_assert_ptr_nonnull(set);
    n = 0;
    while (cairn__core_module.directives[n].name != NULL) {
        n++;
    }
    for (i = 0; i < n; i++) {
        const char  *name = cairn__core_module.directives[i].name;
        int          want = strcmp(name, "ServerName") == 0
                            || strcmp(name, "LimitRequestBody") == 0;

        ck_assert_msg(set[i] == want, "set[%s] is %d", name, set[i]);
    }

    loc = s->main_vhost->prefix[0];
    ck_assert(core_set(loc, "Header"));
    ck_assert(!core_set(loc, "LimitRequestBody"));
    ck_assert(!core_set(loc, "ServerName"));
    ck_assert(!core_set(s->main, "Header"));
}
END_TEST


/* ------------------------------------------------------------------ */
/* Include                                                            */
/* ------------------------------------------------------------------ */

START_TEST(include_glob_order_load)
{
    make_include_tree();
    tmp_write("main.conf", "Listen 127.0.0.1:8080\n"
                           "Header X-main 1\n"
                           "Include conf.d/*.conf\n"
                           "Header X-last 1\n");
    server_replace(tmp_path("main.conf"), 1);

    ck_assert_msg(cairn__conf_load(s) == 0, "load failed:\n%s",
                  all_errors());
    assert_nerrors(0);
    ck_assert_str_eq(header_keys(s->main), "X-main X-a X-b X-k X-last");
}
END_TEST


START_TEST(include_directory_skips)
{
    make_include_tree();
    server_replace(tmp_path("main.conf"), 1);

    /* A directory includes every file in it, minus the backup and
     * package-manager leftovers, dotfiles and subdirectories. */
    parse_ok("Header X-main 1\n"
             "Include conf.d\n"
             "Header X-last 1\n");
    ck_assert_str_eq(header_keys(s->main), "X-main X-a X-b X-k X-last");
}
END_TEST


START_TEST(include_absolute)
{
    make_include_tree();

    parse_ok(cairn_arena_printf(s->arena, "Include %s/conf.d/*.conf\n",
                                tmpdir));
    ck_assert_str_eq(header_keys(s->main), "X-a X-b X-k");
}
END_TEST


/* A pattern ending in '/' matches the directories as "dir/", with an
 * empty base name: nothing to include, and nothing read before it. */
START_TEST(include_trailing_slash)
{
    make_include_tree();

    parse_ok("Header X-main 1\n"
             "IncludeOptional conf.d/*/\n"
             "Header X-last 1\n");
    ck_assert_str_eq(header_keys(s->main), "X-main X-last");
}
END_TEST


START_TEST(include_no_match)
{
    make_tmpdir();

    ck_assert_int_eq(parse(cairn_arena_printf(s->arena,
                                              "Listen 80\n"
                                              "Include %s/none/*.conf\n"
                                              "Include %s/nofile.conf\n",
                                              tmpdir, tmpdir)), -1);
    assert_nerrors(2);
    assert_has(error_at(0), "test.conf:2: Include '");
    assert_has(error_at(0), "IncludeOptional");
    assert_has(error_at(1), "test.conf:3: ");
    assert_has(error_at(1), "nofile.conf");
}
END_TEST


START_TEST(include_optional_no_match)
{
    make_tmpdir();
    tmp_mkdir("empty");
    tmp_write("only~", "Nosuch\n");

    parse_ok(cairn_arena_printf(s->arena,
                                "IncludeOptional %s/none/*.c\n"
                                "IncludeOptional %s/empty\n"
                                "IncludeOptional %s/only~\n"
                                "Listen 80\n",
                                tmpdir, tmpdir, tmpdir));
    ck_assert_uint_eq(core_of(s->main)->listen.n, 1);
}
END_TEST


START_TEST(include_relative_to_main_dir)
{
    make_include_tree();
    tmp_mkdir("sub");
    tmp_write("sub/inc.conf", "Include other/k.conf\n");
    server_replace(tmp_path("main.conf"), 1);

    /* Neither the working directory nor the including file's directory
     * matters: relative patterns start at the main config's directory. */
    ck_assert_int_eq(chdir("/"), 0);
    parse_ok("Include conf.d/a.conf\n"
             "Include sub/inc.conf\n");
    ck_assert_str_eq(header_keys(s->main), "X-a X-k");
}
END_TEST


START_TEST(include_self)
{
    make_tmpdir();
    tmp_write("self.conf", "Header X-self 1\n"
                           "Include self.conf\n");
    server_replace(tmp_path("main.conf"), 1);

    ck_assert_int_eq(parse("Include self.conf\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), tmp_path("self.conf:2: "));
    assert_has(error_at(0), "Include loop: ");
    assert_has(error_at(0), tmp_path("self.conf:2 -> "));
    ck_assert_uint_eq(core_of(s->main)->headers.n, 1);
}
END_TEST


/* Three files that each include "*.conf", the main one among them:
 * one error naming the chain, at once (it used to expand without end). */
START_TEST(include_glob_loop)
{
    make_tmpdir();
    tmp_write("main.conf", "Listen 127.0.0.1:8080\nInclude *.conf\n");
    tmp_write("b.conf", "Include *.conf\n");
    tmp_write("c.conf", "Include *.conf\n");
    server_replace(tmp_path("main.conf"), 1);

    ck_assert_int_eq(cairn__conf_load(s), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "Include loop: ");
    assert_has(error_at(0), tmp_path("main.conf:2 -> "));
}
END_TEST


START_TEST(include_not_regular)
{
    make_tmpdir();
    server_replace(tmp_path("main.conf"), 1);

    ck_assert_int_eq(parse("Include /dev/zero\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:1: Include: /dev/zero is not a "
                            "regular file");
}
END_TEST


/* A pattern that matches more than 10,000 files stops with one error. */
START_TEST(include_too_many_files)
{
    char  name[64];
    int   i;

    make_tmpdir();
    tmp_mkdir("many");
    for (i = 0; i < 10001; i++) {
        snprintf(name, sizeof(name), "many/f%05d.conf", i);
        tmp_write(name, "");
    }
    server_replace(tmp_path("main.conf"), 1);

    ck_assert_int_eq(parse("Include many/*.conf\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "more than 10000 files");
}
END_TEST


/*
 * A source recorded by one load and replayed by another gives the same
 * configuration, whatever the files hold by then; a source survives
 * being written to a pipe and read back.
 */
START_TEST(source_replay)
{
    cairn__conf_source_t  *src, *back;
    char                  *buf = NULL;
    size_t                 len = 0;
    FILE                  *mem;

    make_include_tree();
    tmp_write("main.conf", "Listen 127.0.0.1:8080\n"
                           "Header X-main 1\n"
                           "Include conf.d/*.conf\n");
    server_replace(tmp_path("main.conf"), 1);
    ck_assert_msg(cairn__conf_load(s) == 0, "load failed:\n%s",
                  all_errors());
    src = cairn__conf_take_source(s);
    ck_assert_ptr_nonnull(src);

    mem = open_memstream(&buf, &len);
    ck_assert_int_eq(cairn__conf_source_write(src, mem), 0);
    fclose(mem);
    cairn__conf_source_free(src);
    back = cairn__conf_source_read(buf, len);
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_null(cairn__conf_source_read(buf, len - 1));

    /* The files change; the replay does not see it. */
    tmp_write("main.conf", "Listen 127.0.0.1:8080\nHeader X-new 1\n");
    tmp_write("conf.d/zz.conf", "Header X-zz 1\n");

    server_replace(tmp_path("main.conf"), 1);
    cairn__conf_use_source(s, back);
    ck_assert_msg(cairn__conf_load(s) == 0, "replay failed:\n%s",
                  all_errors());
    ck_assert_str_eq(header_keys(s->main), "X-main X-a X-b X-k");

    cairn__server_destroy(s);
    s = server_new(FAKE_CONF, 1);
    cairn__conf_source_free(back);
    free(buf);
}
END_TEST


START_TEST(include_unclosed_section_in_file)
{
    const char  *bad;

    make_tmpdir();
    tmp_write("bad.conf", "Header X-bad 1\n"
                          "<Location /a>\n"
                          "    Header X-in 1\n");
    bad = tmp_path("bad.conf");

    ck_assert_int_eq(parse(cairn_arena_printf(s->arena,
                                              "Include %s\n"
                                              "Header X-after 1\n", bad)),
                     -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0),
                     cairn_arena_printf(s->arena, "%s:2: <Location> is not "
                                        "closed (add </Location> before the "
                                        "end of %s)", bad, bad));

    /* The includer goes on in its own scope. */
    ck_assert_str_eq(header_keys(s->main), "X-bad X-after");
    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(header_keys(s->main_vhost->prefix[0]), "X-in");
}
END_TEST


/*
 * Sections close in the file that opened them: an included file cannot
 * close its includer's <Location>.  Its stray close is reported against
 * it, and the includer's directives stay in the location.
 */
START_TEST(include_cannot_close_outer_section)
{
    const char  *x;

    make_tmpdir();
    tmp_write("x.conf", "</Location>\n");
    x = tmp_path("x.conf");

    ck_assert_int_eq(parse(cairn_arena_printf(s->arena,
                                              "<Location /a>\n"
                                              "Include %s\n"
                                              "Header X-in 1\n"
                                              "</Location>\n", x)), -1);
    assert_nerrors(1);
    assert_has(error_at(0), cairn_arena_printf(s->arena, "%s:1: ", x));
    ck_assert_uint_eq(s->main_vhost->nprefix, 1);
    ck_assert_str_eq(header_keys(s->main_vhost->prefix[0]), "X-in");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Modules                                                            */
/* ------------------------------------------------------------------ */

START_TEST(module_load_missing)
{
    make_tmpdir();

    ck_assert_int_eq(parse(cairn_arena_printf(s->arena,
                                              "ModuleDir %s\n"
                                              "LoadModule nosuch\n",
                                              tmpdir)), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:2: module 'nosuch' not found");
    assert_has(error_at(0), tmpdir);
    ck_assert_int_eq(cairn__module_index(s, "nosuch"), -1);
}
END_TEST


START_TEST(module_load_not_a_module)
{
    const char  *path;

    make_tmpdir();
    tmp_write("mod_fake.so", "this is a text file, not a shared object\n");
    path = tmp_path("mod_fake.so");

    ck_assert_int_eq(parse(cairn_arena_printf(s->arena,
                                              "Listen 80\n"
                                              "LoadModule fake %s\n",
                                              path)), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:2: ");
    assert_has(error_at(0), path);
    ck_assert_int_eq(cairn__module_index(s, "fake"), -1);
    ck_assert_uint_eq(s->nmods, 1);
}
END_TEST


START_TEST(module_load_misplaced)
{
    ck_assert_int_eq(parse("<Location /a>\n"
                           "    LoadModule static\n"
                           "</Location>\n"
                           "LoadModule\n"
                           "LoadModule Bad-Name\n"), -1);
    assert_nerrors(3);
    ck_assert_str_eq(error_at(0), "test.conf:2: LoadModule is only allowed "
                                  "at server level");
    assert_has(error_at(1), "test.conf:4: LoadModule takes a module name");
    assert_has(error_at(2), "test.conf:5: 'Bad-Name' is not a module name");
}
END_TEST


START_TEST(module_static_directives)
{
    test_conf_t  *t;

    load_test_module();
    ck_assert_int_eq(test_module.index, 1);
    ck_assert_uint_eq(s->nmods, 2);
    ck_assert_int_eq(cairn__module_index(s, "test"), 1);

    parse_ok("TestString hello\n"
             "testlist a b\n"
             "TestCustom good\n"
             "TestFlag on\n"
             "<IfModule test>\n"
             "    <TestBlock first>\n"
             "        Inner 5\n"
             "        innerlabel \"the label\"\n"
             "    </TestBlock>\n"
             "</IfModule>\n");

    t = test_of(s->main);
    ck_assert_str_eq(t->str, "hello");
    ck_assert_uint_eq(t->list.n, 2);
    ck_assert_str_eq(t->list.v[1], "b");
    ck_assert_str_eq(t->custom, "good");
    ck_assert_int_eq(t->flag, 1);
    ck_assert_ptr_nonnull(t->block);
    ck_assert_str_eq(t->block->name, "first");
    ck_assert_int_eq(t->block->inner, 5);
    ck_assert_str_eq(t->block->label, "the label");
    ck_assert(s->main->raw[test_module.index].set[TEST_STRING]);
    ck_assert(s->main->raw[test_module.index].set[TEST_BLOCK]);
    ck_assert(!s->main->raw[test_module.index].set[TEST_PATH]);

    /* The core's config is untouched by another module's directives. */
    ck_assert_ptr_null(s->main->raw[0].conf);
}
END_TEST


START_TEST(module_custom_setter_error)
{
    load_test_module();

    ck_assert_int_eq(parse("TestCustom fine\n"
                           "\n"
                           "TestCustom bad\n"), -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0), "test.conf:3: TestCustom: 'bad' is "
                                  "refused");
    ck_assert_str_eq(test_of(s->main)->custom, "fine");
}
END_TEST


START_TEST(module_inner_directive_outside)
{
    load_test_module();

    ck_assert_int_eq(parse("Inner 5\n"
                           "<TestBlock b>\n"
                           "</TestBlock>\n"
                           "InnerLabel x\n"), -1);
    assert_nerrors(2);
    assert_has(error_at(0), "test.conf:1: unknown directive 'Inner'");
    assert_has(error_at(1), "test.conf:4: unknown directive 'InnerLabel'");
    ck_assert_int_eq(test_of(s->main)->block->inner, -1);
}
END_TEST


START_TEST(module_section_errors)
{
    load_test_module();

    ck_assert_int_eq(parse("<TestBlock b>\n"
                           "    Nope 1\n"
                           "    Inner -1\n"
                           "    Inner 1 2\n"
                           "    Listen 80\n"
                           "    <Location /x>\n"
                           "    </Location>\n"
                           "    Inner 7\n"
                           "</TestBlock>\n"
                           "<TestBlock>\n"
                           "    Inner 9\n"
                           "</TestBlock>\n"
                           "TestBlock plain\n"
                           "<TestEmpty>\n"
                           "    Inner 1\n"
                           "</TestEmpty>\n"), -1);
    assert_nerrors(8);
    ck_assert_str_eq(error_at(0), "test.conf:2: unknown directive 'Nope' "
                                  "inside <TestBlock>");
    assert_has(error_at(1), "test.conf:3: ");
    assert_has(error_at(1), "'-1'");
    ck_assert_str_eq(error_at(2), "test.conf:4: Inner takes one argument, "
                                  "2 given");
    /* Core directives are not part of a module's section either. */
    ck_assert_str_eq(error_at(3), "test.conf:5: unknown directive 'Listen' "
                                  "inside <TestBlock>");
    assert_has(error_at(4), "test.conf:6: <Location> cannot be nested");
    ck_assert_str_eq(error_at(5), "test.conf:10: <TestBlock> takes one "
                                  "name");
    assert_has(error_at(6), "test.conf:13: TestBlock is a section");
    ck_assert_str_eq(error_at(7), "test.conf:15: <TestEmpty> takes no "
                                  "directives");
}
END_TEST


START_TEST(module_section_values)
{
    test_conf_t  *t;

    load_test_module();

    ck_assert_int_eq(parse("<TestBlock b>\n"
                           "    Nope 1\n"
                           "    Inner 7\n"
                           "</TestBlock>\n"
                           "<TestEmpty>\n"
                           "</TestEmpty>\n"), -1);
    assert_nerrors(1);

    t = test_of(s->main);
    ck_assert_str_eq(t->block->name, "b");
    ck_assert_int_eq(t->block->inner, 7);
    ck_assert_int_eq(t->empty_seen, 1);
    ck_assert_uint_eq(s->main_vhost->nprefix, 0);
}
END_TEST


/* A virtual host cannot open inside a module's section either, and the
 * message names the section it is in. */
START_TEST(module_section_no_virtual_host)
{
    load_test_module();

    ck_assert_int_eq(parse("<TestBlock b>\n"
                           "    <VirtualHost v.example>\n"
                           "    </VirtualHost>\n"
                           "</TestBlock>\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "test.conf:2: <VirtualHost> is only allowed at "
                            "server level");
    ck_assert_msg(strstr(error_at(0), "<Location>") == NULL,
                  "the message blames a <Location>: %s", error_at(0));
    ck_assert_uint_eq(s->nvhosts, 0);
}
END_TEST


START_TEST(module_already_loaded)
{
    cairn_module_t  twin = test_module;
    const char     *err;

    load_test_module();

    err = cairn__module_add_static(s, &test_module);
    ck_assert_ptr_nonnull(err);
    assert_has(err, "already loaded");

    twin.directives = NULL;
    err = cairn__module_add_static(s, &twin);
    ck_assert_ptr_nonnull(err);
    assert_has(err, "module 'test' is already loaded");

    err = cairn__module_add_static(s, &cairn__core_module);
    ck_assert_ptr_nonnull(err);
    assert_has(err, "module 'core' is already loaded");

    ck_assert_uint_eq(s->nmods, 2);
}
END_TEST


START_TEST(module_requires)
{
    const char  *err;

    err = cairn__module_add_static(s, &needy_module);
    ck_assert_ptr_nonnull(err);
    assert_has(err, "requires");
    ck_assert_str_eq(err, "mod_needy requires mod_nosuch: load it first "
                          "with 'LoadModule nosuch'");
    ck_assert_int_eq(cairn__module_index(s, "needy"), -1);

    err = cairn__module_add_static(s, &content_module);
    ck_assert_ptr_nonnull(err);
    assert_has(err, "mod_content requires mod_test");

    load_test_module();
    err = cairn__module_add_static(s, &content_module);
    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_int_eq(cairn__module_index(s, "content"), 2);
}
END_TEST


START_TEST(module_bad_tables)
{
    const char  *err;

    err = cairn__module_add_static(s, &clash_module);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err, "mod_clash declares the directive 'listen', which "
                          "mod_core already provides");

    err = cairn__module_add_static(s, &badsize_module);
    ck_assert_ptr_nonnull(err);
    assert_has(err, "mod_badsize: the field of directive 'BadSize'");

    ck_assert_uint_eq(s->nmods, 1);
    ck_assert_int_eq(parse("BadSize 1\n"), -1);
    assert_has(error_at(0), "unknown directive 'BadSize'");
}
END_TEST


START_TEST(module_pre_config_runs)
{
    const char  *err;

    pre_config_runs = 0;
    err = cairn__module_add_static(s, &prehooks_module);
    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_int_eq(pre_config_runs, 1);
    ck_assert_ptr_eq(pre_config_server, s);
    ck_assert_uint_eq(hooks_of(&prehooks_module), 1);
}
END_TEST


/*
 * A module refused while registering must leave nothing behind: the
 * loader closes its shared object right after, so a descriptor, a
 * directive or a hook left in the generation would point into unmapped
 * memory.
 */
START_TEST(module_failed_hooks_leave_nothing)
{
    const char  *err;

    err = cairn__module_add_static(s, &failhooks_module);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err, "mod_failhooks: registering its hooks failed");

    ck_assert_int_eq(cairn__module_index(s, "failhooks"), -1);
    ck_assert_uint_eq(s->nmods, 1);
    ck_assert_uint_eq(hooks_of(&failhooks_module), 0);

    ck_assert_int_eq(parse("FailHooksName x\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "unknown directive 'FailHooksName'");
}
END_TEST


START_TEST(module_failed_pre_config_leaves_nothing)
{
    const char  *err;

    pre_config_runs = 0;
    err = cairn__module_add_static(s, &failpre_module);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err, "mod_failpre: its pre_config hook failed");
    ck_assert_int_eq(pre_config_runs, 1);

    ck_assert_int_eq(cairn__module_index(s, "failpre"), -1);
    ck_assert_uint_eq(s->nmods, 1);
    ck_assert_uint_eq(hooks_of(&failpre_module), 0);

    ck_assert_int_eq(parse("FailPreName x\n"), -1);
    assert_nerrors(1);
    assert_has(error_at(0), "unknown directive 'FailPreName'");
}
END_TEST


START_TEST(module_cmd_section_misuse)
{
    load_test_module();

    ck_assert_int_eq(parse("TestMisuse\n"), -1);
    assert_nerrors(1);
    ck_assert_str_eq(error_at(0), "test.conf:1: cairn_cmd_section() called "
                                  "outside a section setter");
    ck_assert(!s->main->raw[test_module.index].set[TEST_MISUSE]);
}
END_TEST


START_TEST(module_cmd_api)
{
    test_conf_t  *t;

    load_test_module();

    parse_ok("TestPath rel/file\n"
             "testcustom ../up\n"
             "<Location /loc>\n"
             "\n"
             "    TestCustom /abs/file\n"
             "</Location>\n");

    t = test_of(s->main);
    ck_assert_str_eq(t->path, "/nonexistent/dir/rel/file");
    ck_assert_str_eq(t->cmd_path, "/nonexistent/dir/../up");
    ck_assert_str_eq(t->cmd_file, "test.conf");
    ck_assert_int_eq(t->cmd_line, 2);
    ck_assert_str_eq(t->cmd_name, "testcustom");
    ck_assert_ptr_null(t->cmd_location);
    ck_assert_ptr_eq(t->cmd_server, s);

    t = test_of(s->main_vhost->prefix[0]);
    ck_assert_str_eq(t->cmd_path, "/abs/file");
    ck_assert_int_eq(t->cmd_line, 5);
    ck_assert_str_eq(t->cmd_location, "/loc");
    ck_assert_str_eq(t->cmd_name, "TestCustom");
}
END_TEST


START_TEST(module_cmd_path_main_dir)
{
    make_tmpdir();
    server_replace(tmp_path("main.conf"), 1);
    load_test_module();

    ck_assert_int_eq(chdir("/"), 0);
    ck_assert_int_eq(parse("TestPath data/x\n"), 0);
    ck_assert_str_eq(test_of(s->main)->path, tmp_path("data/x"));
}
END_TEST


START_TEST(providers)
{
    static const int  db1 = 1, db2 = 2, tpl = 3;

    ck_assert_ptr_null(cairn_provider_get(s, "db", "main"));

    ck_assert_int_eq(cairn_provider_register(s, "db", "main", &db1),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_provider_register(s, "db", "stats", &db2),
                     CAIRN_OK);
    ck_assert_int_eq(cairn_provider_register(s, "render", "main", &tpl),
                     CAIRN_OK);

    ck_assert_ptr_eq(cairn_provider_get(s, "db", "main"), &db1);
    ck_assert_ptr_eq(cairn_provider_get(s, "db", "stats"), &db2);
    ck_assert_ptr_eq(cairn_provider_get(s, "render", "main"), &tpl);
    ck_assert_ptr_null(cairn_provider_get(s, "db", "other"));
    ck_assert_ptr_null(cairn_provider_get(s, "render", "stats"));

    ck_assert_int_eq(cairn_provider_register(s, "db", "main", &db2),
                     CAIRN_ERROR);
    ck_assert_ptr_eq(cairn_provider_get(s, "db", "main"), &db1);
}
END_TEST


/* ------------------------------------------------------------------ */
/* The suite                                                          */
/* ------------------------------------------------------------------ */

static Suite *
conf_suite(void)
{
    const unit_case_t  cases[] = {
        { "lexer_blanks", lexer_blanks, 0 },
        { "lexer_quotes", lexer_quotes, 0 },
        { "lexer_escapes", lexer_escapes, 0 },
        { "lexer_comments", lexer_comments, 0 },
        { "lexer_continuation", lexer_continuation, 0 },
        { "lexer_crlf", lexer_crlf, 0 },
        { "lexer_unclosed_quote", lexer_unclosed_quote, 0 },
        { "lexer_case_insensitive_names", lexer_case_insensitive_names, 0 },
        { "section_location", section_location, 0 },
        { "section_location_match", section_location_match, 0 },
        { "section_virtual_host", section_virtual_host, 0 },
        { "section_virtual_host_duplicate_name",
          section_virtual_host_duplicate_name, 0 },
        { "section_ifmodule_read", section_ifmodule_read, 0 },
        { "section_ifmodule_negated_skipped",
          section_ifmodule_negated_skipped, 0 },
        { "section_ifmodule_missing_skipped",
          section_ifmodule_missing_skipped, 0 },
        { "section_ifdefine_given", section_ifdefine_given, 0 },
        { "section_ifdefine_not_given", section_ifdefine_not_given, 0 },
        { "section_unclosed_at_eof", section_unclosed_at_eof, 0 },
        { "section_unclosed_nested_at_eof", section_unclosed_nested_at_eof, 0 },
        { "section_stray_close", section_stray_close, 0 },
        { "section_mismatched_close", section_mismatched_close, 0 },
        { "section_nested_location_refused",
          section_nested_location_refused, 0 },
        { "section_nested_virtual_host_refused",
          section_nested_virtual_host_refused, 0 },
        { "section_location_path_relative", section_location_path_relative, 0 },
        { "section_bad_regex", section_bad_regex, 0 },
        { "section_stacked_repetition", section_stacked_repetition, 0 },
        { "regex_compile_api", regex_compile_api, 0 },
        { "section_unknown", section_unknown, 0 },
        { "section_trailing_comment", section_trailing_comment, 0 },
        { "section_too_deep_recovers", section_too_deep_recovers, 0 },
        { "directive_unknown", directive_unknown, 0 },
        { "directive_argument_count", directive_argument_count, 0 },
        { "directive_wrong_scope", directive_wrong_scope, 0 },
        { "directive_bad_values", directive_bad_values, 0 },
        { "directive_good_values", directive_good_values, 0 },
        { "directive_errors_continue", directive_errors_continue, 0 },
        { "directive_list", directive_list, 0 },
        { "directive_list_replaces_default",
          directive_list_replaces_default, 0 },
        { "directive_key_same", directive_key_same, 0 },
        { "directive_key_different", directive_key_different, 0 },
        { "directive_set_flags", directive_set_flags, 0 },
        { "include_glob_order_load", include_glob_order_load, 0 },
        { "include_directory_skips", include_directory_skips, 0 },
        { "include_absolute", include_absolute, 0 },
        { "include_trailing_slash", include_trailing_slash, 0 },
        { "include_no_match", include_no_match, 0 },
        { "include_optional_no_match", include_optional_no_match, 0 },
        { "include_relative_to_main_dir", include_relative_to_main_dir, 0 },
        { "include_self", include_self, 0 },
        { "include_glob_loop", include_glob_loop, 0 },
        { "include_not_regular", include_not_regular, 0 },
        { "include_too_many_files", include_too_many_files, 0 },
        { "source_replay", source_replay, 0 },
        { "include_unclosed_section_in_file",
          include_unclosed_section_in_file, 0 },
        { "include_cannot_close_outer_section",
          include_cannot_close_outer_section, 0 },
        { "module_load_missing", module_load_missing, 0 },
        { "module_load_not_a_module", module_load_not_a_module, 0 },
        { "module_load_misplaced", module_load_misplaced, 0 },
        { "module_static_directives", module_static_directives, 0 },
        { "module_custom_setter_error", module_custom_setter_error, 0 },
        { "module_inner_directive_outside", module_inner_directive_outside, 0 },
        { "module_section_errors", module_section_errors, 0 },
        { "module_section_values", module_section_values, 0 },
        { "module_section_no_virtual_host", module_section_no_virtual_host, 0 },
        { "module_already_loaded", module_already_loaded, 0 },
        { "module_requires", module_requires, 0 },
        { "module_bad_tables", module_bad_tables, 0 },
        { "module_pre_config_runs", module_pre_config_runs, 0 },
        { "module_failed_hooks_leave_nothing",
          module_failed_hooks_leave_nothing, 0 },
        { "module_failed_pre_config_leaves_nothing",
          module_failed_pre_config_leaves_nothing, 0 },
        { "module_cmd_section_misuse", module_cmd_section_misuse, 0 },
        { "module_cmd_api", module_cmd_api, 0 },
        { "module_cmd_path_main_dir", module_cmd_path_main_dir, 0 },
        { "providers", providers, 0 },
    };

    return unit_suite("conf", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    int  status;

    snprintf(basedir, sizeof(basedir), "/tmp/test_conf.XXXXXX");
    if (mkdtemp(basedir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }

    status = unit_run(conf_suite());

    nftw(basedir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    return status;
}
