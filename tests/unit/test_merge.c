/*
 * tests/unit/test_merge.c: core/conf_merge.c, core/conf_core.c and
 * core/conf_dump.c (merging the scopes, the lookups, the core's
 * directives and value parsers, -T and --explain).
 *
 * Each test builds a generation for a config file that does not exist,
 * registers mod_test (below) in memory, parses a config text and
 * finalizes it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "conf_int.h"
#include "log_int.h"


/* mod_test: one directive per merge mode and built-in type. */
typedef struct {
    const char      *str;           /* TestString    replace */
    cairn_strv_t     list;          /* TestList      append */
    cairn_kvv_t      kv;            /* TestKey       by key */
    const char      *only;          /* TestOnly      not inherited */
    int              flag;          /* TestFlag */
    int64_t          size;          /* TestSize */
    int64_t          msec;          /* TestMsec */
    int              merges;        /* merge_conf calls that built this */
    cairn_strv_t     rules;         /* TestRule, TestRuleAlt: one setting */
} test_conf_t;

static void *test_create_conf(cairn_arena_t *a);
static const char *test_merge_conf(cairn_arena_t *a, const void *parent,
                                   const void *child, void *merged);
static int test_register(cairn_module_t *m);
static const char *test_set_rule(cairn_cmd_t *cmd, void *conf, int argc,
                                 char **argv);
static int test_post_config(cairn_server_t *srv);

static const cairn_directive_t  test_directives[] = {
    CAIRN_DIRECTIVE_ONE("TestString", test_conf_t, str, CAIRN_SCOPE_ANY,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_LIST("TestList", test_conf_t, list, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_APPEND),
    CAIRN_DIRECTIVE_KV("TestKey", test_conf_t, kv, CAIRN_SCOPE_ANY,
                       CAIRN_MERGE_KEY),
    CAIRN_DIRECTIVE_ONE("TestOnly", test_conf_t, only, CAIRN_SCOPE_ANY,
                        CAIRN_MERGE_NONE),
    CAIRN_DIRECTIVE_FLAG("TestFlag", test_conf_t, flag, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_SIZE("TestSize", test_conf_t, size, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_MSEC("TestMsec", test_conf_t, msec, CAIRN_SCOPE_ANY,
                         CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("TestRule", CAIRN_ARGS_ONE_OR_MORE, test_conf_t,
                           rules, CAIRN_SCOPE_ANY, CAIRN_MERGE_SCOPE,
                           test_set_rule),
    CAIRN_DIRECTIVE_CUSTOM("TestRuleAlt", CAIRN_ARGS_ONE, test_conf_t,
                           rules, CAIRN_SCOPE_ANY, CAIRN_MERGE_SCOPE,
                           test_set_rule),
    CAIRN_DIRECTIVE_END
};

static cairn_module_t  test_module = {
    CAIRN_MODULE_HEADER,
    .name           = "test",
    .version        = "9.9.9",
    .directives     = test_directives,
    .create_conf    = test_create_conf,
    .merge_conf     = test_merge_conf,
    .register_hooks = test_register,
};

static cairn_server_t  *s;
static int              merge_calls;
static int              post_config_rc;
static int              post_config_calls;
static char             errbuf[4096];


static void *
test_create_conf(cairn_arena_t *a)
{
    test_conf_t  *c;

    c = cairn_arena_calloc(a, sizeof(test_conf_t));
    c->str = "default";
    c->size = 4096;
    c->msec = 1500;

    return c;
}


static const char *
test_merge_conf(cairn_arena_t *a, const void *parent, const void *child,
                void *merged)
{
    const test_conf_t  *p = parent, *c = child;
    test_conf_t        *m = merged;

    merge_calls++;
    m->merges = p->merges + 1;

    if (c->str != NULL && strcmp(c->str, "fail-merge") == 0) {
        return "refused to merge";
    }

    return NULL;
}


/* TestRule and TestRuleAlt add "name:first-argument" to the scope's
 * rules. */
static const char *
test_set_rule(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    test_conf_t  *c = conf;
    const char  **v;

    v = cairn_arena_alloc(cairn_cmd_arena(cmd),
                          (c->rules.n + 1) * sizeof(char *));
    if (c->rules.n > 0) {
        memcpy(v, c->rules.v, c->rules.n * sizeof(char *));
    }
    v[c->rules.n] = cairn_arena_printf(cairn_cmd_arena(cmd), "%s:%s",
                                       cairn_cmd_name(cmd), argv[0]);
    c->rules.v = v;
    c->rules.n++;

    return NULL;
}


static int
test_register(cairn_module_t *m)
{
    return cairn_hook_post_config(m, test_post_config, CAIRN_ORDER_MIDDLE, 0,
                                  NULL, NULL);
}


static int
test_post_config(cairn_server_t *srv)
{
    post_config_calls++;

    return post_config_rc;
}


static void
setup(void)
{
    const char  *err;

    merge_calls = 0;
    post_config_rc = CAIRN_OK;
    post_config_calls = 0;
    errbuf[0] = '\0';

    s = cairn__server_create("/nonexistent/cairn-test/cairn.conf", NULL, 1);
    ck_assert_ptr_nonnull(s);

    cairn__server_building = s;
    err = cairn__module_add_static(s, &test_module);
    cairn__server_building = NULL;
    ck_assert_msg(err == NULL, "add_static: %s", err ? err : "");
}


static void
teardown(void)
{
    cairn__server_destroy(s);
    s = NULL;
}


/* The recorded errors, one per line, for messages and assertions. */
static const char *
errors(void)
{
    FILE  *f;

    f = fmemopen(errbuf, sizeof(errbuf), "w");
    if (f == NULL) {
        return "";
    }
    cairn__conf_print_errors(s, f);
    fclose(f);

    return errbuf;
}


/* Parses text as "t.conf" and finalizes; returns the finalize result. */
static int
load(const char *text)
{
    if (cairn__conf_parse_string(s, "t.conf", text) != 0) {
        return -2;
    }

    return cairn__conf_finalize(s);
}


static void
load_ok(const char *text)
{
    int  rc;

    rc = load(text);
    ck_assert_msg(rc == 0, "config refused (%d):\n%s", rc, errors());
}


static const test_conf_t *
tconf(const char *host, const char *path)
{
    const cairn__loc_t  *loc;

    loc = cairn__conf_locate(cairn__conf_vhost(s, host), path);
    ck_assert_ptr_nonnull(loc);

    return loc->mconf[test_module.index].conf;
}


static const cairn__core_conf_t *
cconf(const char *host, const char *path)
{
    return cairn__conf_locate(cairn__conf_vhost(s, host), path)->core;
}


/* "a,b,c" for a list. */
static const char *
join(const cairn_strv_t *l)
{
    static char  buf[256];
    size_t       i, n = 0;

    buf[0] = '\0';
    for (i = 0; i < l->n; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s",
                               i ? "," : "", l->v[i]);
    }

    return buf;
}


/* "k=v,k=v" for a key list. */
static const char *
joinkv(const cairn_kvv_t *kv)
{
    static char  buf[256];
    size_t       i, n = 0;

    buf[0] = '\0';
    for (i = 0; i < kv->n; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s=%s",
                               i ? "," : "", kv->v[i].key, kv->v[i].value);
    }

    return buf;
}


/* Runs -T (explain == NULL) or --explain into a string. */
static char *
capture(const char *host, const char *path)
{
    char    *text = NULL;
    size_t   len = 0;
    FILE    *f;

    f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);

    if (host == NULL) {
        cairn__conf_dump(s, f);
    } else {
        cairn__conf_explain(s, host, path, f);
    }
    fclose(f);

    return text;
}


/* The line of text that contains needle, or NULL. */
static char *
line_with(const char *text, const char *needle)
{
    static char  buf[512];
    const char  *p, *b, *e;

    p = strstr(text, needle);
    if (p == NULL) {
        return NULL;
    }
    for (b = p; b > text && b[-1] != '\n'; b--) {
        /* void */
    }
    e = strchr(p, '\n');
    if (e == NULL) {
        e = p + strlen(p);
    }
    snprintf(buf, sizeof(buf), "%.*s", (int) (e - b), b);

    return buf;
}


/* The line just before the one that contains needle, or NULL. */
static char *
line_above(const char *text, const char *needle)
{
    static char  buf[512];
    const char  *p, *b, *e;

    p = strstr(text, needle);
    if (p == NULL) {
        return NULL;
    }
    if (*p == '\n') {
        p++;
    }
    for (e = p; e > text && e[-1] != '\n'; e--) {
        /* void */
    }
    if (e == text) {
        return NULL;
    }
    e--;
    for (b = e; b > text && b[-1] != '\n'; b--) {
        /* void */
    }
    snprintf(buf, sizeof(buf), "%.*s", (int) (e - b), b);

    return buf;
}


#define ck_assert_above(text, needle, also)                                  \
    do {                                                                     \
        const char  *l_ = line_above(text, needle);                          \
                                                                             \
        ck_assert_msg(l_ != NULL, "no line before '%s' in:\n%s", needle,    \
                      text);                                                 \
        ck_assert_msg(strstr(l_, also) != NULL,                              \
                      "line '%s' lacks '%s' in:\n%s", l_, also, text);       \
    } while (0)


#define ck_assert_line(text, needle, also)                                   \
    do {                                                                     \
        const char  *l_ = line_with(text, needle);                           \
                                                                             \
        ck_assert_msg(l_ != NULL, "no line with '%s' in:\n%s", needle, text);\
        ck_assert_msg(strstr(l_, also) != NULL,                              \
                      "line '%s' lacks '%s' in:\n%s", l_, also, text);       \
    } while (0)


START_TEST(core_defaults)
{
    const cairn__core_conf_t  *c;
    const test_conf_t         *t;

    load_ok("");

    c = s->main_vhost->base.core;
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(c, cairn_server_conf(s, &cairn__core_module));
    ck_assert_uint_eq(c->listen.n, 0);
    ck_assert_int_eq(c->workers, 0);
    ck_assert_ptr_null(c->user);
    ck_assert_ptr_null(c->group);
    ck_assert_ptr_null(c->server_name);
    ck_assert_str_eq(c->error_log, "stderr");
    ck_assert_int_eq(c->log_level, CAIRN_LOG_NOTICE);
    ck_assert_ptr_null(c->pid_file);
    ck_assert_int_eq(c->keepalive_timeout_ms, 5000);
    ck_assert_int_eq(c->request_header_timeout_ms, 10000);
    ck_assert_int_eq(c->request_body_timeout_ms, 60000);
    ck_assert_int_eq(c->request_body_min_rate, 500);
    ck_assert_int_eq(c->send_timeout_ms, 60000);
    ck_assert_int_eq(c->graceful_timeout_ms, 30000);
    ck_assert_int_eq(c->max_keepalive_requests, 1000);
    ck_assert_int_eq(c->max_connections, 4096);
    ck_assert_int_eq(c->limit_request_line, 8190);
    ck_assert_int_eq(c->limit_request_fields, 100);
    ck_assert_int_eq(c->limit_request_field_size, 8190);
    ck_assert_int_eq(c->limit_request_body, 1024 * 1024);
    ck_assert_int_eq(c->task_threads, 4);
    ck_assert_uint_eq(c->headers.n, 0);

    ck_assert_str_eq(cairn__core_module.name, "core");
    ck_assert_int_eq(cairn__core_module.index, 0);

    /* A module with nothing written gets its defaults everywhere. */
    t = cairn_server_conf(s, &test_module);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->str, "default");
    ck_assert_int_eq(t->size, 4096);
    ck_assert_ptr_eq(tconf("any.host", "/x/y"), t);
    ck_assert_int_eq(post_config_calls, 1);
}
END_TEST


START_TEST(core_directives)
{
    const cairn__core_conf_t  *c;

    load_ok("Listen 8080 127.0.0.1:8081\n"
            "Listen [::1]:8443\n"
            "Workers 3\n"
            "User www-data\n"
            "Group www-data\n"
            "ServerName main.example\n"
            "ErrorLog /tmp/error.log\n"
            "LogLevel Debug\n"
            "PidFile /run/cairn.pid\n"
            "KeepAliveTimeout 250ms\n"
            "RequestHeaderTimeout 20\n"
            "RequestBodyTimeout 2m\n"
            "RequestBodyMinRate 1k\n"
            "SendTimeout 1h\n"
            "GracefulTimeout 5s\n"
            "MaxKeepAliveRequests 0\n"
            "MaxConnections 10\n"
            "LimitRequestLine 100\n"
            "LimitRequestFields 5\n"
            "LimitRequestFieldSize 200\n"
            "LimitRequestBody 10M\n"
            "TaskThreads 2\n"
            "Header X-A 1\n");

    c = s->main_vhost->base.core;
    ck_assert_str_eq(join(&c->listen), "8080,127.0.0.1:8081,[::1]:8443");
    ck_assert_int_eq(c->workers, 3);
    ck_assert_str_eq(c->user, "www-data");
    ck_assert_str_eq(c->group, "www-data");
    ck_assert_str_eq(c->server_name, "main.example");
    ck_assert_str_eq(c->error_log, "/tmp/error.log");
    ck_assert_int_eq(c->log_level, CAIRN_LOG_DEBUG);
    ck_assert_str_eq(c->pid_file, "/run/cairn.pid");
    ck_assert_int_eq(c->keepalive_timeout_ms, 250);
    ck_assert_int_eq(c->request_header_timeout_ms, 20000);
    ck_assert_int_eq(c->request_body_timeout_ms, 120000);
    ck_assert_int_eq(c->request_body_min_rate, 1024);
    ck_assert_int_eq(c->send_timeout_ms, 3600000);
    ck_assert_int_eq(c->graceful_timeout_ms, 5000);
    ck_assert_int_eq(c->max_keepalive_requests, 0);
    ck_assert_int_eq(c->max_connections, 10);
    ck_assert_int_eq(c->limit_request_line, 100);
    ck_assert_int_eq(c->limit_request_fields, 5);
    ck_assert_int_eq(c->limit_request_field_size, 200);
    ck_assert_int_eq(c->limit_request_body, 10 * 1024 * 1024);
    ck_assert_int_eq(c->task_threads, 2);
    ck_assert_str_eq(joinkv(&c->headers), "X-A=1");
}
END_TEST


START_TEST(core_workers_auto_and_stderr)
{
    const cairn__core_conf_t  *c;

    load_ok("Workers auto\nErrorLog stderr\n");

    c = s->main_vhost->base.core;
    ck_assert_int_eq(c->workers, 0);
    ck_assert_str_eq(c->error_log, "stderr");
}
END_TEST


START_TEST(core_bad_values)
{
    const char  *e;

    ck_assert_int_ne(cairn__conf_parse_string(s, "t.conf",
                                              "Listen 0\n"
                                              "Listen 70000\n"
                                              "Listen host:\n"
                                              "Listen [::1]8080\n"
                                              "Listen a:b:80\n"
                                              "Listen 8080\n"
                                              "Listen 8080\n"
                                              "Workers 0\n"
                                              "LogLevel loud\n"
                                              "KeepAliveTimeout 5d\n"
                                              "LimitRequestBody lots\n"
                                              "Listen []:80\n"), 0);

    e = errors();
    ck_assert_msg(strstr(e, "t.conf:1: Listen 0: the port") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:2: Listen 70000") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:3: Listen host:") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:4: Listen '[::1]8080' is not an "
                         "address") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:5: Listen 'a:b:80'") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:6:") == NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:7: Listen 8080 is given twice") != NULL,
                  "%s", e);
    ck_assert_msg(strstr(e, "t.conf:8: Workers '0'") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:9: unknown LogLevel 'loud' (use emerg, "
                         "alert, crit, error, warn, notice, info or debug)")
                  != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:10: '5d' is not a time") != NULL, "%s",
                  e);
    ck_assert_msg(strstr(e, "t.conf:11: 'lots' is not a size (use e.g. 512, "
                         "64k, 10M)") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:12: Listen '[]:80'") != NULL, "%s", e);
}
END_TEST


START_TEST(core_scopes)
{
    const char  *e;

    ck_assert_int_ne(cairn__conf_parse_string(s, "t.conf",
                                              "<Location /a>\n"
                                              "    Workers 2\n"
                                              "    KeepAliveTimeout 1\n"
                                              "    LimitRequestBody 1k\n"
                                              "    Header X-A 1\n"
                                              "</Location>\n"
                                              "<VirtualHost v.example>\n"
                                              "    Listen 8080\n"
                                              "    ServerName v.example\n"
                                              "    SendTimeout 5\n"
                                              "</VirtualHost>\n"), 0);

    e = errors();
    ck_assert_msg(strstr(e, "t.conf:2:") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:3:") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:4:") == NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:5:") == NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:8:") != NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:9:") == NULL, "%s", e);
    ck_assert_msg(strstr(e, "t.conf:10:") == NULL, "%s", e);
}
END_TEST


START_TEST(nested_prefixes)
{
    const test_conf_t    *t;
    const cairn__loc_t   *loc;

    load_ok("TestString server\n"
            "TestSize 1k\n"
            "<Location /a>\n"
            "    TestString a\n"
            "    TestMsec 2s\n"
            "</Location>\n"
            "<Location /a/b>\n"
            "    TestFlag on\n"
            "    TestSize 2M\n"
            "</Location>\n");

    t = tconf(NULL, "/a/b/c");
    ck_assert_str_eq(t->str, "a");
    ck_assert_int_eq(t->flag, 1);
    ck_assert_int_eq(t->size, 2 * 1024 * 1024);
    ck_assert_int_eq(t->msec, 2000);

    t = tconf(NULL, "/a/x");
    ck_assert_str_eq(t->str, "a");
    ck_assert_int_eq(t->flag, 0);
    ck_assert_int_eq(t->size, 1024);
    ck_assert_int_eq(t->msec, 2000);

    t = tconf(NULL, "/b");
    ck_assert_str_eq(t->str, "server");
    ck_assert_int_eq(t->msec, 1500);

    loc = cairn__conf_locate(s->main_vhost, "/a/b/c");
    ck_assert_str_eq(loc->name, "/a/b");
    ck_assert_uint_eq(loc->nchain, 3);
    ck_assert_ptr_eq(loc->chain[0], s->main);
    ck_assert_str_eq(loc->chain[1]->name, "/a");
    ck_assert_str_eq(loc->chain[2]->name, "/a/b");
    ck_assert_ptr_eq(loc->core, loc->mconf[0].conf);

    /* Longest first. */
    ck_assert_uint_eq(s->main_vhost->nprefix, 2);
    ck_assert_str_eq(s->main_vhost->prefix[0]->name, "/a/b");

    /* The merged flags say where a value came from a directive. */
    ck_assert_int_eq(loc->mconf[test_module.index].set[0], 1);
    ck_assert_int_eq(loc->mconf[test_module.index].set[1], 0);

    ck_assert_ptr_eq(cairn__conf_locate(s->main_vhost, "/zzz"),
                     &s->main_vhost->base);
    ck_assert_ptr_null(s->main_vhost->base.name);
}
END_TEST


START_TEST(segment_rule)
{
    load_ok("TestString server\n"
            "<Location /a>\n"
            "    TestString a\n"
            "</Location>\n"
            "<Location /dir/>\n"
            "    TestString dir\n"
            "</Location>\n");

    ck_assert_str_eq(tconf(NULL, "/a")->str, "a");
    ck_assert_str_eq(tconf(NULL, "/a/")->str, "a");
    ck_assert_str_eq(tconf(NULL, "/a/x")->str, "a");
    ck_assert_str_eq(tconf(NULL, "/ab")->str, "server");
    ck_assert_str_eq(tconf(NULL, "/ab/c")->str, "server");
    ck_assert_str_eq(tconf(NULL, "/dir/x")->str, "dir");
    ck_assert_str_eq(tconf(NULL, "/dir")->str, "server");

    ck_assert_int_eq(cairn__conf_prefix_match("/admin", "/admin"), 1);
    ck_assert_int_eq(cairn__conf_prefix_match("/admin", "/admin/"), 1);
    ck_assert_int_eq(cairn__conf_prefix_match("/admin", "/admin/x"), 1);
    ck_assert_int_eq(cairn__conf_prefix_match("/admin", "/administrator"), 0);
    ck_assert_int_eq(cairn__conf_prefix_match("/admin", "/adm"), 0);
    ck_assert_int_eq(cairn__conf_prefix_match("/", "/"), 1);
    ck_assert_int_eq(cairn__conf_prefix_match("/", "/anything/at/all"), 1);
    ck_assert_int_eq(cairn__conf_prefix_match("/a/", "/a/b"), 1);
    ck_assert_int_eq(cairn__conf_prefix_match("/a/", "/a"), 0);
    ck_assert_int_eq(cairn__conf_prefix_match("/a/b", "/a"), 0);
}
END_TEST


START_TEST(append_mode)
{
    load_ok("TestList x y\n"
            "<Location /a>\n"
            "    TestList z\n"
            "</Location>\n"
            "<Location /a/b>\n"
            "    TestList w\n"
            "    TestList v\n"
            "</Location>\n"
            "<Location /c>\n"
            "    TestString c\n"
            "</Location>\n");

    ck_assert_str_eq(join(&tconf(NULL, "/")->list), "x,y");
    ck_assert_str_eq(join(&tconf(NULL, "/a")->list), "x,y,z");
    ck_assert_str_eq(join(&tconf(NULL, "/a/b/q")->list), "x,y,z,w,v");
    ck_assert_str_eq(join(&tconf(NULL, "/c")->list), "x,y");
}
END_TEST


START_TEST(key_mode)
{
    load_ok("TestKey A 1\n"
            "TestKey B 2\n"
            "Header X-Frame-Options DENY\n"
            "Header X-Served-By cairn\n"
            "<Location /a>\n"
            "    TestKey b 3\n"
            "    TestKey C 4\n"
            "    Header Cache-Control max-age=60\n"
            "</Location>\n"
            "<Location /a/deeper>\n"
            "    TestKey A 5\n"
            "    Header x-frame-options SAMEORIGIN\n"
            "</Location>\n");

    ck_assert_str_eq(joinkv(&tconf(NULL, "/")->kv), "A=1,B=2");
    ck_assert_str_eq(joinkv(&tconf(NULL, "/a")->kv), "A=1,b=3,C=4");
    ck_assert_str_eq(joinkv(&tconf(NULL, "/a/deeper/x")->kv), "A=5,b=3,C=4");

    /* One Header in a location keeps the inherited ones. */
    ck_assert_str_eq(joinkv(&cconf(NULL, "/a")->headers),
                     "X-Frame-Options=DENY,X-Served-By=cairn,"
                     "Cache-Control=max-age=60");
    ck_assert_str_eq(joinkv(&cconf(NULL, "/a/deeper")->headers),
                     "x-frame-options=SAMEORIGIN,X-Served-By=cairn,"
                     "Cache-Control=max-age=60");
    ck_assert_str_eq(joinkv(&cconf(NULL, "/b")->headers),
                     "X-Frame-Options=DENY,X-Served-By=cairn");
}
END_TEST


START_TEST(none_mode)
{
    const cairn__loc_t  *loc;
    size_t               only = 3;

    load_ok("TestOnly server-only\n"
            "TestString s\n"
            "<Location /a>\n"
            "    TestString a\n"
            "</Location>\n"
            "<Location /b>\n"
            "    LimitRequestBody 1\n"
            "</Location>\n"
            "<Location /c>\n"
            "    TestOnly here\n"
            "</Location>\n");

    ck_assert_str_eq(tconf(NULL, "/")->only, "server-only");

    /* Not inherited, whether the location writes something of the
     * module or not. */
    ck_assert_ptr_null(tconf(NULL, "/a")->only);
    ck_assert_str_eq(tconf(NULL, "/a")->str, "a");
    ck_assert_ptr_null(tconf(NULL, "/b")->only);
    ck_assert_str_eq(tconf(NULL, "/b")->str, "s");
    ck_assert_str_eq(tconf(NULL, "/c")->only, "here");

    loc = cairn__conf_locate(s->main_vhost, "/b");
    ck_assert_int_eq(loc->mconf[test_module.index].set[only], 0);
}
END_TEST


/* Directives sharing a field with CAIRN_MERGE_SCOPE are one setting:
 * an inner scope with any of them replaces all the outer lines, and the
 * explanation shows exactly the lines that apply. */
START_TEST(scope_mode)
{
    char  *text;

    load_ok("TestRule a\n"
            "TestRuleAlt x\n"
            "<Location /a>\n"
            "    TestRuleAlt y\n"
            "    TestRule z\n"
            "</Location>\n"
            "<Location /a/b>\n"
            "    TestString b\n"
            "</Location>\n"
            "<Location /c>\n"
            "    TestRuleAlt only\n"
            "</Location>\n"
            "<Location /d>\n"
            "    TestRule only\n"
            "</Location>\n");

    ck_assert_str_eq(join(&tconf(NULL, "/")->rules),
                     "TestRule:a,TestRuleAlt:x");
    ck_assert_str_eq(join(&tconf(NULL, "/a")->rules),
                     "TestRuleAlt:y,TestRule:z");
    ck_assert_str_eq(join(&tconf(NULL, "/a/b/q")->rules),
                     "TestRuleAlt:y,TestRule:z");
    ck_assert_str_eq(join(&tconf(NULL, "/c")->rules), "TestRuleAlt:only");
    ck_assert_str_eq(join(&tconf(NULL, "/d")->rules), "TestRule:only");

    text = capture("localhost", "/a/b/q");
    ck_assert_line(text, "TestRuleAlt y", "(<Location /a>)");
    ck_assert_line(text, "TestRule z", "(<Location /a>)");
    ck_assert_msg(strstr(text, "TestRule a") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "TestRuleAlt x") == NULL, "%s", text);
    /* The group is shown once, not once per directive of it. */
    ck_assert_msg(strstr(strstr(text, "TestRule z") + 1, "TestRule z") == NULL,
                  "%s", text);
    free(text);

    text = capture("localhost", "/c");
    ck_assert_line(text, "TestRuleAlt only", "(<Location /c>)");
    ck_assert_msg(strstr(text, "TestRule a") == NULL, "%s", text);
    free(text);

    text = capture("localhost", "/zzz");
    ck_assert_line(text, "TestRule a", "(server)");
    ck_assert_line(text, "TestRuleAlt x", "(server)");
    free(text);
}
END_TEST


START_TEST(regex_on_prefix)
{
    const cairn__loc_t  *loc;
    const test_conf_t   *t;

    load_ok("TestString server\n"
            "<LocationMatch \\.php$>\n"
            "    TestFlag on\n"
            "    TestList php\n"
            "</LocationMatch>\n"
            "<LocationMatch ^/a/.*\\.(php|inc)$>\n"
            "    TestString never\n"
            "</LocationMatch>\n"
            "<Location /a>\n"
            "    TestString a\n"
            "    TestList a\n"
            "</Location>\n");

    t = tconf(NULL, "/a/x.php");
    ck_assert_str_eq(t->str, "a");
    ck_assert_int_eq(t->flag, 1);
    ck_assert_str_eq(join(&t->list), "a,php");

    loc = cairn__conf_locate(s->main_vhost, "/a/x.php");
    ck_assert_str_eq(loc->name, "\\.php$");
    ck_assert_uint_eq(loc->nchain, 3);
    ck_assert_str_eq(loc->chain[1]->name, "/a");
    ck_assert_int_eq(loc->chain[2]->kind, CAIRN__SCOPE_REGEX);

    /* Only the first matching regex applies. */
    t = tconf(NULL, "/a/x.inc");
    ck_assert_str_eq(t->str, "never");
    ck_assert_int_eq(t->flag, 0);
    ck_assert_str_eq(join(&t->list), "a");

    t = tconf(NULL, "/x.php");
    ck_assert_str_eq(t->str, "server");
    ck_assert_int_eq(t->flag, 1);

    t = tconf(NULL, "/a/x.html");
    ck_assert_int_eq(t->flag, 0);
}
END_TEST


START_TEST(vhost_inherits)
{
    const cairn__vhost_t  *vh;
    const cairn__loc_t    *loc;
    const test_conf_t     *t;

    load_ok("TestString server\n"
            "TestList s\n"
            "LimitRequestBody 2k\n"
            "<Location /a>\n"
            "    TestList server-a\n"
            "    TestString server-a\n"
            "</Location>\n"
            "<Location /shared>\n"
            "    TestFlag on\n"
            "</Location>\n"
            "<LocationMatch \\.txt$>\n"
            "    TestSize 1M\n"
            "</LocationMatch>\n"
            "<VirtualHost Example.com www.example.com>\n"
            "    TestString vhost\n"
            "    KeepAliveTimeout 7\n"
            "    <Location /a>\n"
            "        TestString vhost-a\n"
            "    </Location>\n"
            "    <Location /a/b>\n"
            "        TestList vhost-ab\n"
            "    </Location>\n"
            "</VirtualHost>\n"
            "<VirtualHost other.example>\n"
            "</VirtualHost>\n");

    vh = cairn__conf_vhost(s, "example.com");
    ck_assert_ptr_ne(vh, s->main_vhost);
    ck_assert_ptr_eq(cairn__conf_vhost(s, "www.example.com"), vh);
    ck_assert_ptr_eq(cairn__conf_vhost(s, "WWW.Example.COM"), vh);
    ck_assert_ptr_eq(cairn__conf_vhost(s, "nobody.example"), s->main_vhost);
    ck_assert_ptr_eq(cairn__conf_vhost(s, NULL), s->main_vhost);
    ck_assert_ptr_eq(cairn__conf_vhost(s, ""), s->main_vhost);

    /* The virtual host scope over the server. */
    t = tconf("example.com", "/");
    ck_assert_str_eq(t->str, "vhost");
    ck_assert_str_eq(join(&t->list), "s");
    ck_assert_int_eq(cconf("example.com", "/")->keepalive_timeout_ms, 7000);
    ck_assert_int_eq(cconf("example.com", "/")->limit_request_body, 2048);
    ck_assert_int_eq(cconf(NULL, "/")->keepalive_timeout_ms, 5000);

    /* Its own <Location /a> wins over the server's. */
    t = tconf("example.com", "/a/x");
    ck_assert_str_eq(t->str, "vhost-a");
    ck_assert_str_eq(join(&t->list), "s,server-a");
    ck_assert_str_eq(tconf(NULL, "/a/x")->str, "server-a");

    /* Server-level locations apply inside the virtual host, nested
     * with its own. */
    t = tconf("example.com", "/a/b/c");
    ck_assert_str_eq(t->str, "vhost-a");
    ck_assert_str_eq(join(&t->list), "s,server-a,vhost-ab");
    ck_assert_int_eq(tconf("example.com", "/shared/x")->flag, 1);
    ck_assert_int_eq(tconf("example.com", "/a/b/x.txt")->size, 1024 * 1024);
    ck_assert_str_eq(join(&tconf("example.com", "/a/b/x.txt")->list),
                     "s,server-a,vhost-ab");

    loc = cairn__conf_locate(vh, "/a/b/c");
    ck_assert_str_eq(loc->name, "/a/b");
    ck_assert_uint_eq(loc->nchain, 5);
    ck_assert_ptr_eq(loc->chain[0], s->main);
    ck_assert_ptr_eq(loc->chain[1], vh->scope);
    ck_assert_ptr_eq(loc->chain[2]->parent, s->main);
    ck_assert_ptr_eq(loc->chain[3]->parent, vh->scope);
    ck_assert_str_eq(loc->chain[4]->name, "/a/b");

    /* A virtual host with nothing of its own is the server, plus its
     * name. */
    t = tconf("other.example", "/a/b/c");
    ck_assert_str_eq(t->str, "server-a");
    ck_assert_str_eq(join(&t->list), "s,server-a");
    ck_assert_ptr_eq(t, tconf(NULL, "/a/x"));

    /* The main server never sees a virtual host's locations. */
    ck_assert_str_eq(join(&tconf(NULL, "/a/b/c")->list), "s,server-a");
}
END_TEST


START_TEST(merge_conf_called)
{
    load_ok("TestString s\n"
            "<Location /a>\n"
            "    TestString a\n"
            "</Location>\n"
            "<Location /a/b>\n"
            "    TestFlag on\n"
            "</Location>\n"
            "<Location /only-core>\n"
            "    LimitRequestBody 1\n"
            "</Location>\n");

    ck_assert_int_gt(merge_calls, 0);
    ck_assert_int_eq(tconf(NULL, "/")->merges, 0);
    ck_assert_int_eq(tconf(NULL, "/a")->merges, 1);
    ck_assert_int_eq(tconf(NULL, "/a/b")->merges, 2);

    /* Nothing of the module written: the parent's config, shared. */
    ck_assert_ptr_eq(tconf(NULL, "/only-core"), tconf(NULL, "/"));
}
END_TEST


START_TEST(merge_conf_error)
{
    const char  *e;
    const char  *p;
    int          n = 0;

    ck_assert_int_eq(load("<Location /a>\n"
                          "    TestString fail-merge\n"
                          "</Location>\n"
                          "<Location /a/b>\n"
                          "</Location>\n"
                          "<VirtualHost v.example>\n"
                          "</VirtualHost>\n"), -1);

    e = errors();
    ck_assert_msg(strstr(e, "t.conf:1: mod_test: refused to merge") != NULL,
                  "%s", e);
    for (p = e; (p = strstr(p, "refused")) != NULL; p++) {
        n++;
    }
    ck_assert_int_eq(n, 1);

    /* post_config does not run on a broken configuration. */
    ck_assert_int_eq(post_config_calls, 0);
}
END_TEST


START_TEST(post_config_failure)
{
    const char  *e;

    post_config_rc = CAIRN_ERROR;
    ck_assert_int_eq(load("TestString s\n"), -1);
    ck_assert_int_eq(post_config_calls, 1);

    e = errors();
    ck_assert_msg(strstr(e, ": post_config of mod_test failed (it gave "
                         "no reason)") != NULL, "%s", e);
    ck_assert_ptr_null(cairn__server_building);
}
END_TEST


START_TEST(locate_order)
{
    const cairn__loc_t  *loc;

    load_ok("<Location />\n TestString root\n</Location>\n"
            "<Location /a>\n TestString a\n</Location>\n"
            "<Location /a/b/c>\n TestString abc\n</Location>\n"
            "<Location /a/b>\n TestString ab\n</Location>\n"
            "<Location /a>\n TestList second\n</Location>\n");

    ck_assert_str_eq(tconf(NULL, "/")->str, "root");
    ck_assert_str_eq(tconf(NULL, "/x")->str, "root");
    ck_assert_str_eq(tconf(NULL, "/a/b/x")->str, "ab");
    ck_assert_str_eq(tconf(NULL, "/a/b/c/d")->str, "abc");

    /* Two sections of one path both apply, in config order. */
    ck_assert_str_eq(tconf(NULL, "/a/x")->str, "a");
    ck_assert_str_eq(join(&tconf(NULL, "/a/b/c")->list), "second");

    loc = cairn__conf_locate(s->main_vhost, "/a/b/c/d");
    ck_assert_uint_eq(loc->nchain, 6);
    ck_assert_str_eq(loc->chain[1]->name, "/");
    ck_assert_str_eq(loc->chain[5]->name, "/a/b/c");
}
END_TEST


static const char *
visit_cb(void *conf, const char *where, void *data)
{
    char               *seen = data;
    const test_conf_t  *t = conf;

    strcat(seen, where);
    strcat(seen, "=");
    strcat(seen, t->str);
    strcat(seen, ";");

    if (strcmp(t->str, "stop") == 0) {
        return "stopped here";
    }

    return NULL;
}


START_TEST(each_conf)
{
    char         seen[512];
    const char  *msg;

    load_ok("TestString s\n"
            "<Location /a>\n"
            "    TestString a\n"
            "</Location>\n"
            "<Location /b>\n"
            "    Header X 1\n"
            "</Location>\n"
            "<VirtualHost v.example>\n"
            "    TestString v\n"
            "    <Location /stop>\n"
            "        TestString stop\n"
            "    </Location>\n"
            "    <Location /z>\n"
            "        TestString z\n"
            "    </Location>\n"
            "</VirtualHost>\n");

    seen[0] = '\0';
    msg = cairn_server_each_conf(s, &test_module, visit_cb, seen);
    ck_assert_str_eq(msg, "stopped here");
    ck_assert_str_eq(seen, "server=s;/a=a;v.example=v;/stop=stop;");

    ck_assert_ptr_eq(cairn_server_conf(s, &test_module), tconf(NULL, "/"));
}
END_TEST


START_TEST(parse_flag)
{
    int  v = -1;

    ck_assert_ptr_null(cairn_parse_flag("on", &v));
    ck_assert_int_eq(v, 1);
    ck_assert_ptr_null(cairn_parse_flag("OFF", &v));
    ck_assert_int_eq(v, 0);
    ck_assert_ptr_null(cairn_parse_flag("On", &v));
    ck_assert_int_eq(v, 1);

    ck_assert_str_eq(cairn_parse_flag("yes", &v), "'yes' is not on or off");
    ck_assert_ptr_nonnull(cairn_parse_flag("", &v));
    ck_assert_int_eq(v, 1);
}
END_TEST


START_TEST(parse_int)
{
    int          v = -1;
    const char  *e;

    ck_assert_ptr_null(cairn_parse_int("0", &v));
    ck_assert_int_eq(v, 0);
    ck_assert_ptr_null(cairn_parse_int("123", &v));
    ck_assert_int_eq(v, 123);
    ck_assert_ptr_null(cairn_parse_int("2147483647", &v));
    ck_assert_int_eq(v, 2147483647);

    e = cairn_parse_int("abc", &v);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strstr(e, "'abc' is not a number") != NULL, "%s", e);
    ck_assert_ptr_nonnull(cairn_parse_int("2147483648", &v));
    ck_assert_ptr_nonnull(cairn_parse_int("99999999999999999999999", &v));
    ck_assert_ptr_nonnull(cairn_parse_int("-1", &v));
    ck_assert_ptr_nonnull(cairn_parse_int("+1", &v));
    ck_assert_ptr_nonnull(cairn_parse_int("", &v));
    ck_assert_ptr_nonnull(cairn_parse_int("12a", &v));
    ck_assert_ptr_nonnull(cairn_parse_int(" 1", &v));
    ck_assert_int_eq(v, 2147483647);
}
END_TEST


START_TEST(parse_size)
{
    int64_t  v = -1;

    ck_assert_ptr_null(cairn_parse_size("512", &v));
    ck_assert_int_eq(v, 512);
    ck_assert_ptr_null(cairn_parse_size("64k", &v));
    ck_assert_int_eq(v, 65536);
    ck_assert_ptr_null(cairn_parse_size("64K", &v));
    ck_assert_int_eq(v, 65536);
    ck_assert_ptr_null(cairn_parse_size("10M", &v));
    ck_assert_int_eq(v, 10 * 1024 * 1024);
    ck_assert_ptr_null(cairn_parse_size("1g", &v));
    ck_assert_int_eq(v, 1024 * 1024 * 1024);
    ck_assert_ptr_null(cairn_parse_size("0", &v));
    ck_assert_int_eq(v, 0);
    ck_assert_ptr_null(cairn_parse_size("1024G", &v));
    ck_assert_int_eq(v, CAIRN_SIZE_MAX);
    ck_assert_ptr_null(cairn_parse_size("1099511627776", &v));
    ck_assert_int_eq(v, CAIRN_SIZE_MAX);

    ck_assert_str_eq(cairn_parse_size("abc", &v),
                     "'abc' is not a size (use e.g. 512, 64k, 10M)");
    ck_assert_ptr_nonnull(cairn_parse_size("10X", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("k", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("10kb", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("-5", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("1.5M", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("1025G", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("1099511627777", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("1048577M", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("8589934592G", &v));
    ck_assert_ptr_nonnull(cairn_parse_size("99999999999999999999", &v));
    ck_assert_msg(strstr(cairn_parse_size("2000G", &v), "at most 1024G")
                  != NULL, "the limit is named");
    ck_assert_int_eq(v, CAIRN_SIZE_MAX);
}
END_TEST


START_TEST(parse_msec)
{
    int64_t      v = -1;
    const char  *e;

    ck_assert_ptr_null(cairn_parse_msec("250ms", &v));
    ck_assert_int_eq(v, 250);
    ck_assert_ptr_null(cairn_parse_msec("30s", &v));
    ck_assert_int_eq(v, 30000);
    ck_assert_ptr_null(cairn_parse_msec("30", &v));
    ck_assert_int_eq(v, 30000);
    ck_assert_ptr_null(cairn_parse_msec("5m", &v));
    ck_assert_int_eq(v, 300000);
    ck_assert_ptr_null(cairn_parse_msec("1h", &v));
    ck_assert_int_eq(v, 3600000);
    ck_assert_ptr_null(cairn_parse_msec("0", &v));
    ck_assert_int_eq(v, 0);

    e = cairn_parse_msec("soon", &v);
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strstr(e, "'soon' is not a time") != NULL, "%s", e);
    ck_assert_ptr_nonnull(cairn_parse_msec("1.5s", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("5d", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("5 s", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("ms", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("9223372036854775807h", &v));
    ck_assert_int_eq(v, 0);

    /* At most a year, in every unit: deadlines in microseconds cannot
     * overflow. */
    ck_assert_ptr_null(cairn_parse_msec("8760h", &v));
    ck_assert_int_eq(v, CAIRN_TIME_MAX_MS);
    ck_assert_ptr_null(cairn_parse_msec("525600m", &v));
    ck_assert_ptr_null(cairn_parse_msec("31536000", &v));
    ck_assert_ptr_null(cairn_parse_msec("31536000000ms", &v));
    ck_assert_int_eq(v, CAIRN_TIME_MAX_MS);
    ck_assert_ptr_nonnull(cairn_parse_msec("8761h", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("31536001", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("31536000001ms", &v));
    ck_assert_ptr_nonnull(cairn_parse_msec("9223372036854775s", &v));
    ck_assert_msg(strstr(cairn_parse_msec("9223372036854775s", &v),
                         "at most 8760h") != NULL, "the limit is named");
    ck_assert_int_eq(v, CAIRN_TIME_MAX_MS);
}
END_TEST


START_TEST(kvv_get)
{
    cairn_kv_t   v[2] = { { "A", "1" }, { "b", "2" } };
    cairn_kvv_t  kv = { 2, v };

    ck_assert_str_eq(cairn_kvv_get(&kv, "A"), "1");
    ck_assert_str_eq(cairn_kvv_get(&kv, "b"), "2");
    ck_assert_ptr_null(cairn_kvv_get(&kv, "c"));
    ck_assert_ptr_null(cairn_kvv_get(NULL, "A"));
}
END_TEST


static const char  *dump_conf =
    "Listen 127.0.0.1:8080\n"
    "TestString \"two words\"\n"
    "TestKey X-A \"a # b\"\n"
    "Header X-Frame-Options DENY\n"
    "Header X-Served-By cairn\n"
    "TestOnly top\n"
    "<Location /a>\n"
    "    TestString a\n"
    "    TestList one\n"
    "    Header Cache-Control max-age=60\n"
    "</Location>\n"
    "<LocationMatch \\.txt$>\n"
    "    TestList txt\n"
    "</LocationMatch>\n"
    "<VirtualHost example.com>\n"
    "    TestString vhost\n"
    "    TestList v\n"
    "    <Location /a/b>\n"
    "        TestFlag on\n"
    "        LimitRequestBody 64k\n"
    "    </Location>\n"
    "</VirtualHost>\n";


START_TEST(dump)
{
    char  *text;

    load_ok(dump_conf);

    text = capture(NULL, NULL);

    ck_assert_line(text, "# LoadModule test", "built in");
    ck_assert_line(text, "Listen 127.0.0.1:8080", "# t.conf:1");
    ck_assert_line(text, "TestString \"two words\"", "# t.conf:2");
    ck_assert_line(text, "TestKey X-A \"a # b\"", "# t.conf:3");
    ck_assert_above(text, "\n<Location /a>\n", "# t.conf:7");
    ck_assert_line(text, "    TestString a ", "# t.conf:8");
    ck_assert_line(text, "Header Cache-Control max-age=60", "# t.conf:10");
    ck_assert_above(text, "\n<LocationMatch \"\\\\.txt$\">\n", "# t.conf:12");
    ck_assert_above(text, "\n<VirtualHost example.com>\n", "# t.conf:15");
    ck_assert_above(text, "\n    <Location /a/b>\n", "    # t.conf:18");
    ck_assert_line(text, "        LimitRequestBody 64k", "# t.conf:20");
    ck_assert_msg(strstr(text, "</VirtualHost>\n") != NULL, "%s", text);

    /* The server's locations are not repeated inside the vhost. */
    ck_assert_msg(strstr(strstr(text, "<VirtualHost"), "<Location /a>")
                  == NULL, "%s", text);

    free(text);
}
END_TEST


/* The dump reads back into the same effective configuration. */
START_TEST(dump_reparses)
{
    cairn_server_t     *first;
    char               *text, *again;
    const test_conf_t  *t;
    const char         *err;

    load_ok(dump_conf);
    text = capture(NULL, NULL);

    first = s;
    s = cairn__server_create("/nonexistent/cairn-test/cairn.conf", NULL, 1);
    cairn__server_building = s;
    err = cairn__module_add_static(s, &test_module);
    cairn__server_building = NULL;
    ck_assert_msg(err == NULL, "%s", err ? err : "");

    load_ok(text);

    /* The server's <Location /a> merges over the virtual host. */
    t = tconf("example.com", "/a/b/x.txt");
    ck_assert_str_eq(t->str, "a");
    ck_assert_str_eq(join(&t->list), "v,one,txt");
    ck_assert_int_eq(t->flag, 1);
    ck_assert_str_eq(joinkv(&t->kv), "X-A=a # b");
    ck_assert_int_eq(cconf("example.com", "/a/b")->limit_request_body,
                     64 * 1024);

    again = capture(NULL, NULL);
    ck_assert_ptr_nonnull(strstr(again, "TestString \"two words\""));

    free(again);
    free(text);
    cairn__server_destroy(first);
}
END_TEST


START_TEST(explain)
{
    char  *text;

    load_ok(dump_conf);

    text = capture("Example.COM", "/a/b/c.txt");

    ck_assert_line(text, "# host example.com -> virtual host example.com",
                   "(t.conf:15)");
    ck_assert_line(text, "# path /a/b/c.txt", "<Location /a> (t.conf:7)");
    ck_assert_line(text, "# path /a/b/c.txt", "<Location /a/b> (t.conf:18)");
    ck_assert_line(text, "# path /a/b/c.txt",
                   "<LocationMatch \\.txt$> (t.conf:12)");

    /* Replace: the innermost scope that set it (the server's
     * <Location /a> merges over the virtual host). */
    ck_assert_line(text, "TestString a", "# t.conf:8 (<Location /a>)");
    ck_assert_msg(strstr(text, "two words") == NULL, "%s", text);
    ck_assert_msg(strstr(text, "TestString vhost") == NULL, "%s", text);
    ck_assert_line(text, "TestFlag on", "# t.conf:19 (<Location /a/b>)");
    ck_assert_line(text, "LimitRequestBody 64k", "t.conf:20");

    /* Append: every contributing line, outermost first. */
    ck_assert_line(text, "TestList v", "# t.conf:17");
    ck_assert_line(text, "TestList one", "# t.conf:9 (<Location /a>)");
    ck_assert_line(text, "TestList txt", "t.conf:13 (<LocationMatch");
    ck_assert_msg(strstr(text, "TestList v") < strstr(text, "TestList one")
                  && strstr(text, "TestList one")
                     < strstr(text, "TestList txt"), "%s", text);

    /* By key: each key with the line that set it. */
    ck_assert_line(text, "Header X-Frame-Options DENY", "# t.conf:4 (server)");
    ck_assert_line(text, "Header X-Served-By cairn", "# t.conf:5 (server)");
    ck_assert_line(text, "Header Cache-Control max-age=60", "# t.conf:10");
    ck_assert_line(text, "TestKey X-A \"a # b\"", "# t.conf:3");

    /* Not inherited into a virtual host: its default shows. */
    ck_assert_msg(strstr(text, "TestOnly top") == NULL, "%s", text);
    ck_assert_line(text, "TestOnly", "(default)");

    /* Core defaults, formatted. */
    ck_assert_line(text, "KeepAliveTimeout 5s", "(default)");
    ck_assert_line(text, "RequestHeaderTimeout 10s", "(default)");
    ck_assert_line(text, "RequestBodyTimeout 1m", "(default)");
    ck_assert_line(text, "Workers auto", "(default)");
    ck_assert_line(text, "LogLevel notice", "(default)");
    ck_assert_line(text, "ErrorLog stderr", "(default)");
    ck_assert_line(text, "MaxConnections 4096", "(default)");
    ck_assert_line(text, "User (not set)", "(default)");
    ck_assert_line(text, "Listen 127.0.0.1:8080", "# t.conf:1 (server)");
    ck_assert_line(text, "# mod_test", "9.9.9");

    free(text);

    /* The main server, no location. */
    text = capture("unknown.example", "/zzz");
    ck_assert_line(text, "# host unknown.example", "-> server scope");
    ck_assert_line(text, "# path /zzz", "no <Location>");
    ck_assert_line(text, "TestString \"two words\"", "# t.conf:2 (server)");
    ck_assert_line(text, "TestOnly top", "# t.conf:6 (server)");
    ck_assert_line(text, "LimitRequestBody 1M", "(default)");
    free(text);
}
END_TEST


static Suite *
merge_suite(void)
{
    const unit_case_t  cases[] = {
        { "core_defaults", core_defaults, 0 },
        { "core_directives", core_directives, 0 },
        { "core_workers_auto_and_stderr", core_workers_auto_and_stderr, 0 },
        { "core_bad_values", core_bad_values, 0 },
        { "core_scopes", core_scopes, 0 },
        { "nested_prefixes", nested_prefixes, 0 },
        { "segment_rule", segment_rule, 0 },
        { "append_mode", append_mode, 0 },
        { "key_mode", key_mode, 0 },
        { "none_mode", none_mode, 0 },
        { "scope_mode", scope_mode, 0 },
        { "regex_on_prefix", regex_on_prefix, 0 },
        { "vhost_inherits", vhost_inherits, 0 },
        { "merge_conf_called", merge_conf_called, 0 },
        { "merge_conf_error", merge_conf_error, 0 },
        { "post_config_failure", post_config_failure, 0 },
        { "locate_order", locate_order, 0 },
        { "each_conf", each_conf, 0 },
        { "parse_flag", parse_flag, 0 },
        { "parse_int", parse_int, 0 },
        { "parse_size", parse_size, 0 },
        { "parse_msec", parse_msec, 0 },
        { "kvv_get", kvv_get, 0 },
        { "dump", dump, 0 },
        { "dump_reparses", dump_reparses, 0 },
        { "explain", explain, 0 },
    };

    return unit_suite("merge", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(merge_suite());
}
