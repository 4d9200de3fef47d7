/*
 * tests/unit/test_template.c: the template engine of mod_template
 * (modules/template/tpl_*.c), called directly.
 *
 * Templates come from a table in memory (tt_files) or, for the corpus,
 * from tests/unit/data/template: each NAME.tpl with a NAME.out is
 * rendered over NAME.json and compared with NAME.out byte for byte;
 * names starting with '_' are partials for include and extends.
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <jansson.h>

#include "template/tpl.h"

#include "unit.h"

#define TT_DATA     TEST_SRCDIR "/data/template"


/* name, source: what the loader of the in-memory tests finds. */
static const char *const  *tt_files;

static tpl_env_t           tt_env;


static tpl_t *
tt_load_mem(void *ctx, const tpl_t *from, const char *name, tpl_error_t *err)
{
    size_t  i;

    (void) ctx;
    (void) from;

    for (i = 0; tt_files != NULL && tt_files[i] != NULL; i += 2) {
        if (strcmp(tt_files[i], name) == 0) {
            return tpl_compile(name, tt_files[i + 1],
                               strlen(tt_files[i + 1]), tt_env.max_depth,
                               err);
        }
    }

    return NULL;
}


static char *
tt_read(const char *path, size_t *len)
{
    FILE    *f;
    char    *buf;
    long     n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, n, f), n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;

    return buf;
}


static tpl_t *
tt_load_dir(void *ctx, const tpl_t *from, const char *name,
            tpl_error_t *err)
{
    char    path[1024], *src;
    size_t  len;
    tpl_t  *t;

    (void) from;

    snprintf(path, sizeof(path), "%s/%s", (const char *) ctx, name);
    src = tt_read(path, &len);
    if (src == NULL) {
        return NULL;
    }
    t = tpl_compile(name, src, len, 0, err);
    free(src);

    return t;
}


static void
tt_setup(void)
{
    memset(&tt_env, 0, sizeof(tt_env));
    tt_env.load = tt_load_mem;
    tt_files = NULL;
}


/*
 * Compiles src as "t.tpl" and renders it over data (JSON text, or NULL);
 * returns the output, or "ERROR <message>" (a static buffer either way).
 * *status gets the error's status when status is not NULL.
 */
static const char *
tt_render_st(const char *src, const char *data, tpl_status_t *status)
{
    static char   res[65536];
    tpl_error_t   err;
    tpl_buf_t     out = { NULL, 0, 0 };
    json_error_t  jerr;
    json_t       *d = NULL;
    tpl_t        *t;

    if (data != NULL) {
        d = json_loads(data, 0, &jerr);
        ck_assert_msg(d != NULL, "bad test data: %s", jerr.text);
    }

    if (status != NULL) {
        *status = TPL_OK;
    }

    t = tpl_compile("t.tpl", src, strlen(src), tt_env.max_depth, &err);
    if (t == NULL) {
        ck_assert_int_eq(err.status != TPL_OK, 1);
        snprintf(res, sizeof(res), "ERROR %s", err.message);
    } else if (tpl_render(t, d, &tt_env, &out, &err) != 0) {
        snprintf(res, sizeof(res), "ERROR %s", err.message);
    } else {
        ck_assert_uint_lt(out.len, sizeof(res));
        memcpy(res, out.len ? out.data : "", out.len);
        res[out.len] = '\0';
    }
    if (status != NULL) {
        *status = err.status;
    }

    tpl_buf_free(&out);
    tpl_unref(t);
    json_decref(d);

    return res;
}


static const char *
tt_render(const char *src, const char *data)
{
    return tt_render_st(src, data, NULL);
}


#define TT_EQ(src, data, want)  ck_assert_str_eq(tt_render(src, data), want)


/* ------------------------------------------------------------------ */
/* Expressions                                                         */
/* ------------------------------------------------------------------ */

START_TEST(output_values)
{
    const char  *d = "{\"user\": {\"name\": \"Ann\", \"tags\": [\"a\", "
                     "\"b\"]}, \"items\": [10, 20, 30], \"data\": "
                     "{\"errors\": [{\"field\": \"x\"}, {\"field\": "
                     "\"email\"}]}, \"n\": 2, \"r\": 0.5, \"t\": true, "
                     "\"z\": null}";

    TT_EQ("plain text", NULL, "plain text");
    TT_EQ("", NULL, "");
    TT_EQ("{{ user.name }}", d, "Ann");
    TT_EQ("{{ items[0] }} {{ items[2] }} {{ items[-1] }}", d, "10 30 30");
    TT_EQ("{{ data.errors[1].field }}", d, "email");
    TT_EQ("{{ items.1 }} {{ user.tags.0 }}", d, "20 a");
    TT_EQ("{{ items[n] }} {{ user[\"name\"] }}", d, "30 Ann");
    TT_EQ("[{{ missing }}][{{ user.nope.deeper }}][{{ items[9] }}]"
          "[{{ items[-9] }}][{{ n.x }}][{{ z }}]", d, "[][][][][][]");
    TT_EQ("{{ n }} {{ r }} {{ t }} {{ false }} {{ 1.0 }} {{ -3 }} "
          "{{ 1e3 }} {{ 0.1 }}", d, "2 0.5 true false 1.0 -3 1000.0 0.1");
    TT_EQ("{{ \"dq\" }} {{ 'sq' }} {{ \"a\\\"b\\\\c\\n\" }}", NULL,
          "dq sq a&quot;b\\c\n");
    TT_EQ("{{ user.tags }}", d, "[&quot;a&quot;,&quot;b&quot;]");
    TT_EQ("{{ [1, \"x\", null, true, 2.5] | json }}", NULL,
          "[1,\"x\",null,true,2.5]");
    TT_EQ("{{ [] | length }}", NULL, "0");
    /* Data that is not an object: no names. */
    TT_EQ("[{{ x }}]", "[1, 2]", "[]");
}
END_TEST


START_TEST(operators)
{
    const char  *d = "{\"a\": 1, \"b\": 2, \"s\": \"abc\", \"l\": [1, 2], "
                     "\"o\": {\"k\": 0}}";

    TT_EQ("{{ a == 1 }}{{ a != 1 }}{{ a < b }}{{ a <= 1 }}{{ a > b }}"
          "{{ b >= 2 }}", d, "truefalsetruetruefalsetrue");
    TT_EQ("{{ s < \"abd\" }}{{ s > \"ab\" }}{{ \"b\" >= s }}", d,
          "truetruetrue");
    TT_EQ("{{ s < 1 }}{{ s == 1 }}{{ null == missing }}{{ l == [1, 2] }}",
          d, "falsefalsetruetrue");
    TT_EQ("{{ 2 in l }}{{ 3 in l }}{{ \"k\" in o }}{{ \"bc\" in s }}"
          "{{ 1 in s }}{{ 3 not in l }}", d,
          "truefalsetruetruefalsetrue");
    TT_EQ("{{ a and b }} {{ 0 and b }} {{ z or s }} {{ not a }} "
          "{{ not not a }}", d, "2 0 abc false true");
    TT_EQ("{{ (a or b) and not (s == \"x\") }}", d, "true");
    TT_EQ("{{ a == 1 or b == 1 and s == \"no\" }}", d, "true");
    TT_EQ("{{ not a == 2 }}", d, "true");
    TT_EQ("{{ l | length > 1 }}", d, "true");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

START_TEST(if_elif_else)
{
    const char  *src = "{% if n == 1 %}one{% elif n == 2 %}two{% elif n == 3 "
                       "%}three{% else %}many{% end %}";

    TT_EQ(src, "{\"n\": 1}", "one");
    TT_EQ(src, "{\"n\": 2}", "two");
    TT_EQ(src, "{\"n\": 3}", "three");
    TT_EQ(src, "{\"n\": 4}", "many");
    TT_EQ("{% if x %}yes{% endif %}", "{\"x\": [0]}", "yes");
    TT_EQ("{% if x %}yes{% end %}", "{\"x\": []}", "");
    TT_EQ("{% if x %}yes{% else %}no{% end %}", "{\"x\": \"\"}", "no");
    TT_EQ("{% if x %}{% if y %}xy{% else %}x{% end %}{% end %}",
          "{\"x\": 1, \"y\": 0}", "x");
    TT_EQ("{% if 0.0 %}t{% else %}f{% end %}", NULL, "f");
}
END_TEST


START_TEST(for_loops)
{
    const char  *d = "{\"xs\": [\"a\", \"b\", \"c\"], \"o\": {\"k1\": 1, "
                     "\"k2\": [2]}, \"e\": []}";

    TT_EQ("{% for x in xs %}{{ x }}{% end %}", d, "abc");
    TT_EQ("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}"
          "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
          d, "10truefalse3;21falsefalse3;32falsetrue3;");
    TT_EQ("{% for x in e %}{{ x }}{% else %}empty{% end %}", d, "empty");
    TT_EQ("{% for x in missing %}{{ x }}{% else %}none{% end %}", d,
          "none");
    TT_EQ("{% for x in \"str\" %}{{ x }}{% else %}no{% end %}", d, "no");
    TT_EQ("{% for k, v in o %}{{ k }}={{ v }};{% end %}", d,
          "k1=1;k2=[2];");
    TT_EQ("{% for k in o %}{{ k }};{% end %}", d, "k1;k2;");
    TT_EQ("{% for i, x in xs %}{{ i }}{{ x }}{% end %}", d, "0a1b2c");
    /* loop is the innermost loop's. */
    TT_EQ("{% for x in xs %}{% for y in [1, 2] %}{{ loop.index }}{% end %}"
          "{{ loop.index }} {% end %}", d, "121 122 123 ");
    TT_EQ("{% for x in xs %}{% if loop.first %}[{% end %}{{ x }}"
          "{% if not loop.last %},{% else %}]{% end %}{% end %}", d,
          "[a,b,c]");
    TT_EQ("{% for x in [1] %}{{ loop }}{% end %}", NULL,
          "{&quot;index&quot;:1,&quot;index0&quot;:0,&quot;first&quot;:"
          "true,&quot;last&quot;:true,&quot;length&quot;:1}");
    TT_EQ("{% for x in [1] %}[{{ loop.nope }}]{% end %}[{{ x }}]", NULL,
          "[][]");
}
END_TEST


START_TEST(set_and_scopes)
{
    TT_EQ("{% set a = 1 %}{{ a }}{% set a = \"two\" %}{{ a }}", NULL,
          "1two");
    TT_EQ("{% set n = xs | length %}{{ n }}", "{\"xs\": [1, 2]}", "2");
    /* A loop's body has its own scope; an if has none. */
    TT_EQ("{% set a = 1 %}{% for x in [5, 6] %}{% set a = x %}{{ a }}"
          "{% end %}{{ a }}", NULL, "561");
    TT_EQ("{% if true %}{% set b = 2 %}{% end %}{{ b }}", NULL, "2");
    /* A set shadows the data of the same name. */
    TT_EQ("{{ v }}{% set v = \"mine\" %}{{ v }}", "{\"v\": \"data\"}",
          "datamine");
    /* A loop variable does not outlive its loop. */
    TT_EQ("{% for x in [1] %}{% end %}[{{ x }}]", "{\"x\": \"d\"}", "[d]");
}
END_TEST


START_TEST(include_and_extends)
{
    static const char *const  files[] = {
        "part.tpl", "<{{ who }}{% set who = \"inner\" %}/{{ who }}>",
        "base.tpl", "[{% block head %}H{% end %}|{% block body %}B{% end %}]",
        "mid.tpl", "{% extends \"base.tpl\" %}{% block body %}mid"
                   "{% block inner %}I{% end %}{% end %}",
        "leaf.tpl", "{% extends \"mid.tpl\" %}{% block inner %}leaf:{{ t }}"
                    "{% end %}ignored text{% set t = \"T\" %}",
        "loop.tpl", "{% include \"loop.tpl\" %}",
        "broken.tpl", "ok\n  {{ x | nope }}",
        "blk.tpl", "{% block head %}own{% end %}",
        NULL
    };

    tt_files = files;

    TT_EQ("{% set who = \"me\" %}{% include \"part.tpl\" %}{{ who }}", NULL,
          "<me/inner>me");
    TT_EQ("{% extends \"base.tpl\" %}", NULL, "[H|B]");
    TT_EQ("{% extends \"base.tpl\" %}{% block head %}h2{% endblock %}", NULL,
          "[h2|B]");
    TT_EQ("{% extends \"leaf.tpl\" %}", NULL, "[H|midleaf:T]");
    TT_EQ("{% extends \"mid.tpl\" %}{% block head %}x{% end %}", NULL,
          "[x|midI]");
    /* An include's blocks are its own, not the includer's. */
    TT_EQ("{% extends \"base.tpl\" %}{% block head %}{% include \"blk.tpl\" %}"
          "{% end %}", NULL, "[own|B]");
    TT_EQ("{% for i in [1, 2] %}{% include \"part.tpl\" %}{% end %}",
          "{\"who\": \"d\"}", "<d/inner><d/inner>");
    TT_EQ("a{% include \"none.tpl\" %}", NULL,
          "ERROR t.tpl:1:2: cannot load \"none.tpl\"");
    TT_EQ("\n{% extends \"none.tpl\" %}", NULL,
          "ERROR t.tpl:2:1: cannot load \"none.tpl\"");
    TT_EQ("{% include \"broken.tpl\" %}", NULL,
          "ERROR broken.tpl:2:10: unknown filter 'nope'");
    TT_EQ("{% include \"loop.tpl\" %}", NULL,
          "ERROR loop.tpl:1:1: include nested deeper than 16 "
          "(TemplateMaxDepth)");

    /* Without a loader. */
    tt_env.load = NULL;
    TT_EQ("{% include \"part.tpl\" %}", NULL,
          "ERROR t.tpl:1:1: cannot load \"part.tpl\": no loader");
}
END_TEST


START_TEST(comments_and_whitespace)
{
    TT_EQ("a{# comment #}b", NULL, "ab");
    TT_EQ("a{# {{ not parsed }} {% if %} #}b", NULL, "ab");
    TT_EQ("a {#- x -#} b", NULL, "ab");
    TT_EQ("a \n {{- 1 -}} \n b", NULL, "a1b");
    TT_EQ("a \n {%- if true -%} \n b \n {%- end -%} \n c", NULL, "abc");
    TT_EQ("<ul>\n{% for x in [1, 2] -%}\n  <li>{{ x }}</li>\n{% end -%}\n"
          "</ul>", NULL, "<ul>\n<li>1</li>\n<li>2</li>\n</ul>");
    TT_EQ("{{ 1 }} {{ 2 }}", NULL, "1 2");
    /* A '-' that is part of a number is not a trim. */
    TT_EQ("{{ -1 }}", NULL, "-1");
    TT_EQ("{%- if true %}x{% end -%}", NULL, "x");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Filters                                                             */
/* ------------------------------------------------------------------ */

START_TEST(filters_case)
{
    TT_EQ("{{ \"Hello, World\" | upper }}", NULL, "HELLO, WORLD");
    TT_EQ("{{ \"Hello, World\" | lower }}", NULL, "hello, world");
    TT_EQ("{{ \"hELLO wORLD-x o'neil\" | title }}", NULL,
          "Hello World-X O&#39;neil");
    TT_EQ("{{ \"zo\xc3\xab\" | upper }}", NULL, "ZO\xc3\xab");
    TT_EQ("{{ 12 | upper }} {{ missing | upper }}|", NULL, "12 |");
    /* Case changes keep raw-ness. */
    TT_EQ("{{ \"<b>\" | raw | upper }}", NULL, "<B>");
}
END_TEST


START_TEST(filters_default_length_join)
{
    TT_EQ("{{ x | default(\"d\") }} {{ y | default(\"d\") }} "
          "{{ z | default(\"d\") }} {{ f | default(\"d\") }}",
          "{\"y\": null, \"z\": \"\", \"f\": false}", "d d  false");
    TT_EQ("{{ x | default(\"<\") }}", NULL, "&lt;");
    TT_EQ("{{ \"zo\xc3\xab\" | length }} {{ [1, 2] | length }} "
          "{{ o | length }} {{ 5 | length }} {{ x | length }}",
          "{\"o\": {\"a\": 1}}", "3 2 1 0 0");
    TT_EQ("{{ xs | join(\", \") }}|{{ xs | join }}|{{ [] | join(\",\") }}|"
          "{{ \"s\" | join(\",\") }}", "{\"xs\": [\"a\", 1, null, "
          "false, 1.5, [2]]}", "a, 1, , false, 1.5, [2]|a1false1.5[2]||s");
    TT_EQ("{{ xs | join(\"<br>\") }}", "{\"xs\": [\"<\", \">\"]}",
          "&lt;&lt;br&gt;&gt;");
}
END_TEST


START_TEST(filters_json_urlencode_raw)
{
    TT_EQ("{{ v | json }}", "{\"v\": {\"a\": \"</script><!--\", "
          "\"b\": \"&'\\u2028\\u2029\\\"\", \"c\": [1, 2.5, null]}}",
          "{\"a\":\"\\u003c/script\\u003e\\u003c!--\",\"b\":\"\\u0026"
          "\\u0027\\u2028\\u2029\\\"\",\"c\":[1,2.5,null]}");
    TT_EQ("{{ \"x\" | json }} {{ 1 | json }} {{ missing | json }}", NULL,
          "\"x\" 1 null");
    TT_EQ("{{ \"a b&c=d/?#%+\xc3\xa9~._-\" | urlencode }}", NULL,
          "a%20b%26c%3Dd%2F%3F%23%25%2B%C3%A9~._-");
    TT_EQ("{{ 3 | urlencode }}", NULL, "3");
    TT_EQ("{{ \"<i>\" | raw }} {{ \"<i>\" }}", NULL, "<i> &lt;i&gt;");
    /* A filter after raw that builds a new string escapes again. */
    TT_EQ("{{ \"<i>\" | raw | truncate(2) }}", NULL, "&lt;i...");
}
END_TEST


START_TEST(filters_date)
{
    TT_EQ("{{ \"2024-02-29\" | date }}", NULL, "2024-02-29");
    TT_EQ("{{ \"2024-05-01T12:34:56Z\" | date(\"%Y/%m/%d %H:%M:%S\") }}",
          NULL, "2024/05/01 12:34:56");
    TT_EQ("{{ \"2024-05-01T12:34:56.789+02:00\" | date(\"%H:%M\") }}", NULL,
          "10:34");
    TT_EQ("{{ \"2024-05-01 00:30-0130\" | date(\"%d %H:%M\") }}", NULL,
          "01 02:00");
    TT_EQ("{{ \"2024-01-01T00:00:00+01\" | date(\"%Y %H\") }}", NULL,
          "2023 23");
    TT_EQ("{{ 1700000000 | date(\"%Y-%m-%d %H:%M:%S\") }}", NULL,
          "2023-11-14 22:13:20");
    TT_EQ("{{ 86399.9 | date(\"%H:%M:%S\") }}", NULL, "23:59:59");
    TT_EQ("{{ -86400 | date }}", NULL, "1969-12-31");
    TT_EQ("{{ \"2023-02-29\" | date }}|{{ \"2024-13-01\" | date }}|"
          "{{ \"2024-01-01T25:00\" | date }}|{{ \"2024-1-1\" | date }}|"
          "{{ \"2024-01-01x\" | date }}|{{ 1e300 | date }}|{{ x | date }}|",
          NULL, "2023-02-29|2024-13-01|2024-01-01T25:00|2024-1-1|"
          "2024-01-01x|1e+300||");
    TT_EQ("{{ 0 | date(\"<%Y>\") }}", NULL, "&lt;1970&gt;");
}
END_TEST


START_TEST(filters_truncate_chain)
{
    TT_EQ("{{ \"abcdef\" | truncate(3) }}", NULL, "abc...");
    TT_EQ("{{ \"abc\" | truncate(3) }}", NULL, "abc");
    TT_EQ("{{ \"\xc3\xa9\xc3\xa9\xc3\xa9\" | truncate(1) }}", NULL,
          "\xc3\xa9...");
    TT_EQ("{{ \"abc\" | truncate(0) }} {{ \"abc\" | truncate(-4) }}", NULL,
          "... ...");
    TT_EQ("{{ 12345 | truncate(2) }}", NULL, "12...");
    TT_EQ("{{ xs | join(\"-\") | upper | truncate(4) }}",
          "{\"xs\": [\"ab\", \"cd\"]}", "AB-C...");
    TT_EQ("{{ name | default(\"anon\") | title }}", NULL, "Anon");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Escaping in HTML text, attributes and URLs                         */
/* ------------------------------------------------------------------ */

START_TEST(escaping)
{
    const char  *d = "{\"s\": \"<a href='x'>\\\"&amp;\\\"</a>\"}";

    TT_EQ("<p>{{ s }}</p>", d,
          "<p>&lt;a href=&#39;x&#39;&gt;&quot;&amp;amp;&quot;&lt;/a&gt;</p>");
    TT_EQ("<input value=\"{{ s }}\">", d,
          "<input value=\"&lt;a href=&#39;x&#39;&gt;&quot;&amp;amp;&quot;"
          "&lt;/a&gt;\">");
    TT_EQ("<input value='{{ s }}'>", d,
          "<input value='&lt;a href=&#39;x&#39;&gt;&quot;&amp;amp;&quot;"
          "&lt;/a&gt;'>");
    TT_EQ("<a href=\"/q?s={{ s | urlencode }}\">", d,
          "<a href=\"/q?s=%3Ca%20href%3D%27x%27%3E%22%26amp%3B%22%3C%2Fa"
          "%3E\">");
    TT_EQ("<script>var s = {{ s | json }};</script>", d,
          "<script>var s = \"\\u003ca href=\\u0027x\\u0027\\u003e\\\""
          "\\u0026amp;\\\"\\u003c/a\\u003e\";</script>");
    /* Template text is never escaped; only values are. */
    TT_EQ("<b>&amp;</b>", NULL, "<b>&amp;</b>");
    TT_EQ("{{ s | raw }}", d, "<a href='x'>\"&amp;\"</a>");
}
END_TEST


/* ------------------------------------------------------------------ */
/* Errors: name:line:column                                            */
/* ------------------------------------------------------------------ */

START_TEST(syntax_errors)
{
    static const char *const  bad[][2] = {
        { "{{ x", "t.tpl:1:1: unclosed '{{'" },
        { "ab\n  {% if x", "t.tpl:2:3: unclosed '{%'" },
        { "{% if x %}", "t.tpl:1:1: '{% if %}' is never closed" },
        { "a\n{% for x in y %}\n{% if x %}{% end %}",
          "t.tpl:2:1: '{% for %}' is never closed" },
        { "{% block b %}", "t.tpl:1:1: '{% block %}' is never closed" },
        { "text\n  {% end %}",
          "t.tpl:2:3: '{% end %}' without an open statement" },
        { "{% else %}", "t.tpl:1:1: '{% else %}' without an open statement" },
        { "{% if a %}\n{% endfor %}",
          "t.tpl:2:1: '{% endfor %}' where the '{% if %}' at 1:1 needs "
          "'{% end %}'" },
        { "{% for x in y %}{% elif z %}{% end %}",
          "t.tpl:1:17: '{% elif %}' where the '{% for %}' at 1:1 needs "
          "'{% end %}'" },
        { "{% if a %}{% else %}{% else %}{% end %}",
          "t.tpl:1:21: '{% else %}' after the '{% else %}' at 1:11" },
        { "{{ x | nope }}", "t.tpl:1:8: unknown filter 'nope'" },
        { "{{ x | truncate }}",
          "t.tpl:1:8: filter 'truncate' needs 1 argument" },
        { "{{ x | join(1, 2) }}",
          "t.tpl:1:14: filter 'join' takes at most 1 argument" },
        { "{{ \"abc }}", "t.tpl:1:4: unterminated string" },
        { "{{ \"a\\qb\" }}", "t.tpl:1:6: unknown escape in a string" },
        { "{{ x %}", "t.tpl:1:6: '%}' closes a '{{'" },
        { "{% if x }}{% end %}", "t.tpl:1:9: '}}' closes a '{%'" },
        { "{{ }}", "t.tpl:1:4: expected an expression, found '}}'" },
        { "{% %}", "t.tpl:1:4: expected a statement, found '%}'" },
        { "{% frobnicate %}", "t.tpl:1:4: unknown statement 'frobnicate'" },
        { "{{ a.b. }}", "t.tpl:1:9: expected a name after '.', found '}}'" },
        { "{{ (a }}", "t.tpl:1:7: expected ')', found '}}'" },
        { "{{ a[1 }}", "t.tpl:1:8: expected ']', found '}}'" },
        { "{{ a b }}", "t.tpl:1:6: expected '}}', found 'b'" },
        { "{{ a ! b }}", "t.tpl:1:6: unexpected '!'" },
        { "{{ a ; }}", "t.tpl:1:6: unexpected ';'" },
        { "\xc3\xa9\xc3\xa9 {{ \x01 }}", "t.tpl:1:7: unexpected byte 0x01" },
        { "ok\n\xc3\xa9\xff", "t.tpl:2:2: invalid UTF-8 (byte 0xff)" },
        { "{# never closed", "t.tpl:1:1: unclosed comment '{#'" },
        { "{% for in xs %}{% end %}", "t.tpl:1:8: expected a name, found "
          "'in'" },
        { "{% for x of xs %}{% end %}",
          "t.tpl:1:10: expected 'in', found 'of'" },
        { "{% for x, x in xs %}{% end %}", "t.tpl:1:11: 'x' named twice" },
        { "{% set = 1 %}", "t.tpl:1:8: expected a name, found '='" },
        { "{% set a 1 %}", "t.tpl:1:10: expected '=', found a number" },
        { "{% set loop = 1 %}", "t.tpl:1:8: 'loop' is a reserved name" },
        { "{% include x %}",
          "t.tpl:1:12: expected a quoted template name, found 'x'" },
        { "{% include \"\" %}",
          "t.tpl:1:12: an empty template name or one with a NUL byte" },
        { "{% if a %}{% extends \"b\" %}{% end %}",
          "t.tpl:1:11: '{% extends %}' inside a statement" },
        { "{% extends \"a\" %}\n{% extends \"b\" %}",
          "t.tpl:2:1: a second '{% extends %}' (the first is at 1:1)" },
        { "{% block a %}{% end %}\n{% block a %}{% end %}",
          "t.tpl:2:10: block 'a' is already defined at 1:1" },
        { "{% block a %}{% endblock b %}",
          "t.tpl:1:26: '{% endblock b %}' closes block 'a'" },
        { "{{ [a] }}", "t.tpl:1:5: expected a literal (a list holds "
          "literals only), found 'a'" },
        { "{{ [1 2] }}", "t.tpl:1:7: expected ',' or ']', found a number" },
        { "{{ 99999999999999999999 }}", "t.tpl:1:4: integer out of range" },
        { "{{ 1e999 }}", "t.tpl:1:4: number out of range" },
        { "{{ a and }}", "t.tpl:1:10: expected an expression, found '}}'" },
        { "{{ not }}", "t.tpl:1:8: expected an expression, found '}}'" },
        { "{{ x | }}", "t.tpl:1:8: expected a filter name, found '}}'" },
        { "{{ in }}", "t.tpl:1:4: expected an expression, found 'in'" },
        { "\t\xe2\x82\xac{{ a = b }}", "t.tpl:1:8: expected '}}', found '='" },
    };
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tpl_status_t   st;
        char           want[600];
        const char    *got;

        snprintf(want, sizeof(want), "ERROR %s", bad[i][1]);
        got = tt_render_st(bad[i][0], NULL, &st);
        ck_assert_msg(strcmp(got, want) == 0, "template %zu: %s\n  got  %s"
                      "\n  want %s", i, bad[i][0], got, want);
        ck_assert_int_eq(st, TPL_ERR_SYNTAX);
    }
}
END_TEST


START_TEST(error_fields)
{
    tpl_error_t  err;
    tpl_t       *t;

    t = tpl_compile("dir/page.tpl", "line one\nline {{ two", 20, 0, &err);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(err.status, TPL_ERR_SYNTAX);
    ck_assert_uint_eq(err.line, 2);
    ck_assert_uint_eq(err.column, 6);
    ck_assert_str_eq(err.message, "dir/page.tpl:2:6: unclosed '{{'");

    /* Bytes after len are not read; NUL bytes are text. */
    t = tpl_compile("n.tpl", "a\0b{{ 1 }}xyz", 10, 0, &err);
    ck_assert_ptr_nonnull(t);
    tpl_unref(t);
}
END_TEST


/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

START_TEST(limit_output)
{
    tpl_status_t  st;

    tt_env.max_output = 10;
    TT_EQ("0123456789", NULL, "0123456789");
    ck_assert_str_eq(tt_render_st("01234{{ \"56789\" }}", NULL, &st),
                     "0123456789");
    ck_assert_int_eq(st, TPL_OK);
    ck_assert_str_eq(tt_render_st("0123456789{{ \"x\" }}", NULL, &st),
                     "ERROR t.tpl:1:11: output larger than 10 bytes "
                     "(TemplateMaxOutput)");
    ck_assert_int_eq(st, TPL_ERR_OUTPUT);
    /* Escaping counts. */
    ck_assert_str_eq(tt_render_st("{% for x in [1, 2, 3] %}\n{{ \"&&\" }}"
                                  "{% end %}", NULL, &st),
                     "ERROR t.tpl:2:1: output larger than 10 bytes "
                     "(TemplateMaxOutput)");
    ck_assert_int_eq(st, TPL_ERR_OUTPUT);
    /* A filter cannot build a string larger than the limit either. */
    ck_assert_str_eq(tt_render_st("{{ xs | join(\"---\") | length }}",
                                  "{\"xs\": [\"aaaa\", \"bbbb\"]}", &st),
                     "ERROR t.tpl:1:9: the result of filter 'join' is "
                     "larger than 10 bytes (TemplateMaxOutput)");
    ck_assert_int_eq(st, TPL_ERR_OUTPUT);
    ck_assert_str_eq(tt_render_st("{% set a = \"<<<<\" | json %}", NULL,
                                  &st),
                     "ERROR t.tpl:1:21: the result of filter 'json' is "
                     "larger than 10 bytes (TemplateMaxOutput)");
    ck_assert_str_eq(tt_render_st("{% set a = \"<<<<\" | urlencode %}",
                                  NULL, &st),
                     "ERROR t.tpl:1:21: the result of filter 'urlencode' "
                     "is larger than 10 bytes (TemplateMaxOutput)");
}
END_TEST


START_TEST(limit_depth)
{
    static const char *const  files[] = {
        "a.tpl", "{% include \"b.tpl\" %}",
        "b.tpl", "{% include \"c.tpl\" %}",
        "c.tpl", "{% if true %}c{% end %}",
        "e1.tpl", "{% extends \"e2.tpl\" %}",
        "e2.tpl", "{% extends \"e3.tpl\" %}",
        "e3.tpl", "e3",
        NULL
    };
    tpl_status_t  st;

    tt_files = files;

    /* include a, b, c and c's if: four levels. */
    tt_env.max_depth = 4;
    TT_EQ("{% include \"a.tpl\" %}", NULL, "c");
    TT_EQ("{% extends \"e1.tpl\" %}", NULL, "e3");
    tt_env.max_depth = 3;
    ck_assert_str_eq(tt_render_st("{% include \"a.tpl\" %}", NULL, &st),
                     "ERROR c.tpl:1:1: nested deeper than 3 "
                     "(TemplateMaxDepth)");
    ck_assert_int_eq(st, TPL_ERR_DEPTH);
    tt_env.max_depth = 2;
    ck_assert_str_eq(tt_render_st("{% extends \"e1.tpl\" %}", NULL, &st),
                     "ERROR e2.tpl:1:1: extends nested deeper than 2 "
                     "(TemplateMaxDepth)");
    ck_assert_int_eq(st, TPL_ERR_DEPTH);

    /* Nesting in one template: refused when compiling. */
    tt_env.max_depth = 2;
    TT_EQ("{% if 1 %}{% for x in [1] %}{{ x }}{% end %}{% end %}", NULL,
          "1");
    ck_assert_str_eq(tt_render_st("{% if 1 %}{% if 1 %}\n {% if 1 %}"
                                  "{% end %}{% end %}{% end %}", NULL, &st),
                     "ERROR t.tpl:2:2: statements nested deeper than 2");
    ck_assert_int_eq(st, TPL_ERR_SYNTAX);

    /* Expressions: bounded whatever the limit. */
    tt_env.max_depth = 0;
    {
        char    src[1024];
        size_t  i, n = 0;

        n += snprintf(src + n, sizeof(src) - n, "{{ ");
        for (i = 0; i < 70; i++) {
            src[n++] = '(';
        }
        n += snprintf(src + n, sizeof(src) - n, "1");
        for (i = 0; i < 70; i++) {
            src[n++] = ')';
        }
        snprintf(src + n, sizeof(src) - n, " }}");
        ck_assert_str_eq(tt_render(src, NULL),
                         "ERROR t.tpl:1:68: expression nested deeper "
                         "than 64");
    }
}
END_TEST


START_TEST(limit_iterations)
{
    static const char *const  files[] = {
        "p.tpl", "p",
        NULL
    };
    tpl_status_t  st;

    tt_files = files;

    tt_env.max_iterations = 6;
    TT_EQ("{% for x in [1, 2] %}{% for y in [1, 2] %}.{% end %}{% end %}",
          NULL, "....");
    tt_env.max_iterations = 7;
    ck_assert_str_eq(tt_render_st("{% for x in [1, 2, 3] %}\n{% for y in "
                                  "[1, 2] %}.{% end %}{% end %}", NULL, &st),
                     "ERROR t.tpl:2:1: more than 7 iterations "
                     "(TemplateMaxIterations)");
    ck_assert_int_eq(st, TPL_ERR_ITERATIONS);

    /* Includes count. */
    tt_env.max_iterations = 3;
    TT_EQ("{% for x in [1, 2] %}{% end %}{% include \"p.tpl\" %}", NULL,
          "p");
    ck_assert_str_eq(tt_render_st("{% for x in [1, 2] %}"
                                  "{% include \"p.tpl\" %}{% end %}", NULL,
                                  &st),
                     "ERROR t.tpl:1:22: more than 3 iterations "
                     "(TemplateMaxIterations)");
    ck_assert_int_eq(st, TPL_ERR_ITERATIONS);
}
END_TEST


/*
 * The date filter computes the calendar itself and writes the common
 * conversions by hand: the same as gmtime_r and strftime for 20,000
 * instants spread over years 1 to 9999, and the edges.
 */
START_TEST(filters_date_vs_libc)
{
    static const char  *fmts[] = {
        "%Y-%m-%d %H:%M:%S", "%F %T", "%d/%m/%Y %%", "%j %a %b %u %w %Y"
    };
    const long long     edges[] = {
        -62135596800LL, -62135596799LL, -1, 0, 1, 86399, 86400,
        951782400LL, 951868800LL, 4107542399LL, 253402300799LL
    };
    char                src[128], want[128], data[64];
    const char         *got;
    unsigned long long  x = 88172645463325252ULL;
    long long           e;
    struct tm           tm;
    time_t              t;
    size_t              i, f;

    for (i = 0; i < 20000 + sizeof(edges) / sizeof(edges[0]); i++) {
        if (i < sizeof(edges) / sizeof(edges[0])) {
            e = edges[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            e = -62135596800LL
                + (long long) (x % (253402300799ULL + 62135596800ULL));
        }
        f = i % (sizeof(fmts) / sizeof(fmts[0]));
        t = (time_t) e;
        ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        ck_assert_uint_gt(strftime(want, sizeof(want), fmts[f], &tm), 0);
#pragma GCC diagnostic pop
        snprintf(src, sizeof(src), "{{ t | date(\"%s\") | raw }}", fmts[f]);
        snprintf(data, sizeof(data), "{\"t\": %lld}", e);
        got = tt_render(src, data);
        ck_assert_msg(strcmp(got, want) == 0, "epoch %lld, \"%s\": got "
                      "\"%s\", libc \"%s\"", e, fmts[f], got, want);
    }
}
END_TEST


/*
 * Values are borrowed from the data and the variables while a page
 * renders: rebinding a name to itself or to its own member, in a loop
 * and out of it, must neither free what is still in use nor leak
 * (valgrind and ASan run this suite).
 */
START_TEST(borrowed_values)
{
    const char  *data = "{\"u\": {\"a\": {\"b\": [1, 2, {\"c\": \"x\"}]}},"
                        " \"xs\": [[1, 2], [3]], \"s\": \"str\"}";

    TT_EQ("{% set u = u %}{% set u = u.a %}{% set u = u.b %}"
          "{{ u[2].c }}{{ u | length }}", data, "x3");
    TT_EQ("{% for x in xs %}{% set x = x[0] %}{{ x }}{% set xs = 0 %}"
          "{% end %}{{ xs | length }}", data, "132");
    TT_EQ("{% set s = s | upper %}{% set s = s %}{{ s }}{{ s | lower }}",
          data, "STRstr");
    TT_EQ("{{ (u.a.b | default(0))[2].c }}{{ ([1, 2] | join(\"-\")) }}",
          data, "x1-2");
    TT_EQ("{% for k, v in u.a %}{% set v = v[2] %}{{ k }}={{ v.c }}"
          "{% end %}", data, "b=x");
}
END_TEST


START_TEST(refcounts)
{
    tpl_error_t  err;
    tpl_t       *t;

    t = tpl_compile("r.tpl", "x", 1, 0, &err);
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_eq(tpl_ref(t), t);
    ck_assert_str_eq(tpl_name(t), "r.tpl");
    tpl_unref(t);
    tpl_unref(t);
    tpl_unref(NULL);
}
END_TEST


/* ------------------------------------------------------------------ */
/* The corpus                                                          */
/* ------------------------------------------------------------------ */

START_TEST(corpus)
{
    DIR            *dir;
    struct dirent  *de;
    char            path[1024], base[256], *src, *want, *got;
    size_t          len, wlen, n, cases = 0;
    json_error_t    jerr;
    json_t         *data;
    tpl_error_t     err;
    tpl_buf_t       out;
    tpl_t          *t;

    tt_env.load = tt_load_dir;
    tt_env.load_ctx = TT_DATA;

    dir = opendir(TT_DATA);
    ck_assert_ptr_nonnull(dir);

    while ((de = readdir(dir)) != NULL) {
        n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".tpl") != 0
            || de->d_name[0] == '_')
        {
            continue;
        }
        snprintf(base, sizeof(base), "%.*s", (int) (n - 4), de->d_name);

        snprintf(path, sizeof(path), "%s/%s.out", TT_DATA, base);
        want = tt_read(path, &wlen);
        ck_assert_msg(want != NULL, "%s has no .out", de->d_name);

        snprintf(path, sizeof(path), "%s/%s.json", TT_DATA, base);
        data = json_load_file(path, 0, &jerr);
        ck_assert_msg(data != NULL, "%s: %s", path, jerr.text);

        snprintf(path, sizeof(path), "%s/%s", TT_DATA, de->d_name);
        src = tt_read(path, &len);
        t = tpl_compile(de->d_name, src, len, 0, &err);
        ck_assert_msg(t != NULL, "%s", err.message);

        memset(&out, 0, sizeof(out));
        ck_assert_msg(tpl_render(t, data, &tt_env, &out, &err) == 0, "%s",
                      err.message);
        got = out.len ? out.data : "";
        ck_assert_msg(out.len == wlen && memcmp(got, want, wlen) == 0,
                      "%s differs from %s.out:\n%s", de->d_name, base, got);

        tpl_buf_free(&out);
        tpl_unref(t);
        json_decref(data);
        free(src);
        free(want);
        cases++;
    }
    closedir(dir);

    ck_assert_uint_ge(cases, 6);
}
END_TEST


static Suite *
template_suite(void)
{
    const unit_case_t  cases[] = {
        { "output_values", output_values, 0 },
        { "operators", operators, 0 },
        { "if_elif_else", if_elif_else, 0 },
        { "for_loops", for_loops, 0 },
        { "set_and_scopes", set_and_scopes, 0 },
        { "include_and_extends", include_and_extends, 0 },
        { "comments_and_whitespace", comments_and_whitespace, 0 },
        { "filters_case", filters_case, 0 },
        { "filters_default_length_join", filters_default_length_join, 0 },
        { "filters_json_urlencode_raw", filters_json_urlencode_raw, 0 },
        { "filters_date", filters_date, 0 },
        { "filters_date_vs_libc", filters_date_vs_libc, 0 },
        { "borrowed_values", borrowed_values, 0 },
        { "filters_truncate_chain", filters_truncate_chain, 0 },
        { "escaping", escaping, 0 },
        { "syntax_errors", syntax_errors, 0 },
        { "error_fields", error_fields, 0 },
        { "limit_output", limit_output, 0 },
        { "limit_depth", limit_depth, 0 },
        { "limit_iterations", limit_iterations, 0 },
        { "refcounts", refcounts, 0 },
        { "corpus", corpus, 0 },
    };

    return unit_suite("template", cases, UNIT_NCASES(cases), tt_setup,
                      NULL);
}


int
main(void)
{
    return unit_run(template_suite());
}
