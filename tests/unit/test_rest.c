/*
 * tests/unit/test_rest.c: the pure logic of mod_rest (modules/rest):
 * declarations, validation of bodies, JSON merge patch (RFC 7396),
 * list query parameters, cursors, Accept, ETags and the OpenAPI
 * document.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "unit.h"

#include "rest/rest.h"


static cairn_arena_t    *arena;
static rest_resource_t  *res;


/* Adds one Field line split on spaces; returns the error or NULL. */
static const char *
field(rest_resource_t *rs, const char *line)
{
    char   *copy, *argv[16], *save, *tok;
    int     argc = 0;

    copy = cairn_arena_strdup(arena, line);
    for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 16;
         tok = strtok_r(NULL, " ", &save))
    {
        argv[argc++] = tok;
    }

    return rest_field_add(arena, rs, argc, argv);
}


static rest_resource_t *
new_resource(void)
{
    rest_resource_t  *rs;

    rs = cairn_arena_calloc(arena, sizeof(*rs));
    rs->path = "/users";
    rs->name = "users";
    rs->db_name = "main";
    rs->table = "users";
    rs->key = "id";
    rs->version_col = "row_version";
    rs->page_size = 2;
    rs->max_page_size = 5;
    rs->max_body = 1024;
    rs->methods = REST_METHODS_ALL;

    return rs;
}


static void
setup(void)
{
    static const char  *sortable[] = { "name", "age" };
    static const char  *filterable[] = { "name", "active", "age", "born" };

    arena = cairn_arena_create(0);
    res = new_resource();
    ck_assert_ptr_null(field(res, "id int"));
    ck_assert_ptr_null(field(res, "name string required max=10 min=2 "
                                  "pattern=^[a-z]+$"));
    ck_assert_ptr_null(field(res, "email email unique"));
    ck_assert_ptr_null(field(res, "age int min=0 max=150"));
    ck_assert_ptr_null(field(res, "score number min=-1.5 max=10"));
    ck_assert_ptr_null(field(res, "active bool"));
    ck_assert_ptr_null(field(res, "bio text max=5"));
    ck_assert_ptr_null(field(res, "big bigint"));
    ck_assert_ptr_null(field(res, "born datetime"));
    ck_assert_ptr_null(field(res, "prefs json"));
    ck_assert_ptr_null(field(res, "secret string writeonly"));
    ck_assert_ptr_null(field(res, "created datetime readonly"));
    res->sortable.n = 2;
    res->sortable.v = sortable;
    res->filterable.n = 4;
    res->filterable.v = filterable;
    ck_assert_ptr_null(rest_resource_finish(arena, res));
}


static void
teardown(void)
{
    cairn_arena_destroy(arena);
    arena = NULL;
}


/* The error messages (field: message) of validating text. */
static char *
validate(const char *text, int creating)
{
    json_t  *body, *errors, *e;
    char    *out;
    size_t   i;

    body = json_loads(text, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(body);
    errors = json_array();
    rest_validate(res, body, creating, NULL, errors);
    out = cairn_arena_strdup(arena, "");
    json_array_foreach(errors, i, e) {
        out = cairn_arena_printf(arena, "%s%s%s", out, i ? "," : "",
                                 json_string_value(json_object_get(e,
                                                                   "field")));
    }
    json_decref(errors);
    json_decref(body);

    return out;
}


START_TEST(identifiers)
{
    ck_assert(rest_ident_ok("users"));
    ck_assert(rest_ident_ok("_x9"));
    ck_assert(!rest_ident_ok("9x"));
    ck_assert(!rest_ident_ok(""));
    ck_assert(!rest_ident_ok("a-b"));
    ck_assert(!rest_ident_ok("a`b"));
    ck_assert(!rest_ident_ok("users; DROP TABLE x"));
    ck_assert(rest_ident_ok("a123456789012345678901234567890123456789"
                            "012345678901234567890123"));
    ck_assert(!rest_ident_ok("a123456789012345678901234567890123456789"
                             "0123456789012345678901234"));
}
END_TEST


START_TEST(field_errors)
{
    rest_resource_t  *rs = new_resource();
    const char       *err;

    err = field(rs, "x strng");
    ck_assert_ptr_nonnull(strstr(err, "unknown type 'strng'"));
    err = field(rs, "x string requird");
    ck_assert_ptr_nonnull(strstr(err, "unknown option 'requird'"));
    err = field(rs, "x string pattern=([");
    ck_assert_ptr_nonnull(strstr(err, "bad pattern"));
    /* Refused before regcomp(), like <LocationMatch> (cairn_regex_compile). */
    err = field(rs, "x string pattern=^[a-z]+*$");
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err, "Field x: bad pattern '^[a-z]+*$': a repetition "
                     "('*' at offset 7) follows another one; POSIX leaves "
                     "that undefined, and long runs of them make the "
                     "expression take minutes to compile");
    err = field(rs, "x bool max=1");
    ck_assert_ptr_nonnull(strstr(err, "does not apply"));
    err = field(rs, "x string max=-1");
    ck_assert_ptr_nonnull(strstr(err, "not a valid number"));
    err = field(rs, "x json unique");
    ck_assert_ptr_nonnull(strstr(err, "cannot be unique"));
    err = field(rs, "x string readonly writeonly");
    ck_assert_ptr_nonnull(strstr(err, "both"));
    err = field(rs, "x string min=5 max=2");
    ck_assert_ptr_nonnull(strstr(err, "larger"));
    err = field(rs, "x int max=99999999999");
    ck_assert_ptr_nonnull(strstr(err, "32 bits"));
    err = field(rs, "x-y string");
    ck_assert_ptr_nonnull(strstr(err, "not an identifier"));
    err = field(rs, "x");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(field(rs, "x string"));
    err = field(rs, "x string");
    ck_assert_ptr_nonnull(strstr(err, "twice"));
}
END_TEST


START_TEST(finish_errors)
{
    static const char  *bad[] = { "nope" };
    rest_resource_t    *rs;
    const char         *err;

    rs = new_resource();
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "no Field"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "name string"));
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "Key id is not a declared Field"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    rs->sortable.n = 1;
    rs->sortable.v = bad;
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "Sortable names 'nope'"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    rs->filterable.n = 1;
    rs->filterable.v = bad;
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "Filterable names 'nope'"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    ck_assert_ptr_null(field(rs, "nope string writeonly"));
    rs->filterable.n = 1;
    rs->filterable.v = bad;
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "writeonly"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    rs->db_name = NULL;
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "needs a Database"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id bool"));
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "must be an int"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    rs->page_size = 10;
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "larger than MaxPageSize"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    rs->from_user = "owner";
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "FieldFromUser"));

    rs = new_resource();
    ck_assert_ptr_null(field(rs, "id int"));
    ck_assert_ptr_null(field(rs, "row_version int"));
    err = rest_resource_finish(arena, rs);
    ck_assert_ptr_nonnull(strstr(err, "version column"));
}
END_TEST


START_TEST(statements)
{
    ck_assert_str_eq(res->sql_one, "SELECT `id`, `name`, `email`, `age`, "
                     "`score`, `active`, `bio`, `big`, `born`, `prefs`, "
                     "`secret`, `created`, `row_version` FROM `users` "
                     "WHERE `id` = ?");
    ck_assert_str_eq(res->sql_insert, "INSERT INTO `users` (`name`, "
                     "`email`, `age`, `score`, `active`, `bio`, `big`, "
                     "`born`, `prefs`, `secret`, `row_version`) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)");
    ck_assert_ptr_nonnull(strstr(res->sql_update_if, "`row_version` = "
                                 "`row_version` + 1 WHERE `id` = ? AND "
                                 "`row_version` = ?"));
    ck_assert_ptr_nonnull(strstr(res->sql_create,
                                 "`id` INT NOT NULL AUTO_INCREMENT"));
    ck_assert_ptr_nonnull(strstr(res->sql_create,
                                 "`name` VARCHAR(10) NOT NULL"));
    ck_assert_ptr_nonnull(strstr(res->sql_create,
                                 "UNIQUE KEY `uq_email` (`email`)"));
    ck_assert_ptr_nonnull(strstr(res->sql_create,
                                 "`created` DATETIME DEFAULT "
                                 "CURRENT_TIMESTAMP"));
    ck_assert_ptr_nonnull(strstr(res->sql_create,
                                 "`row_version` BIGINT NOT NULL DEFAULT 1"));
    ck_assert_str_eq(rest_allow_header(arena, res, 0),
                     "GET, HEAD, POST, OPTIONS");
    ck_assert_str_eq(rest_allow_header(arena, res, 1),
                     "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
}
END_TEST


START_TEST(methods)
{
    unsigned  m = 0;

    ck_assert_ptr_null(rest_methods_parse("get", &m));
    ck_assert_ptr_null(rest_methods_parse("DELETE", &m));
    ck_assert_ptr_nonnull(rest_methods_parse("FETCH", &m));
    ck_assert_uint_eq(m, CAIRN_M(CAIRN_METHOD_GET)
                         | CAIRN_M(CAIRN_METHOD_DELETE));
}
END_TEST


START_TEST(validation_ok)
{
    ck_assert_str_eq(validate("{\"name\": \"ann\"}", 1), "");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"email\": \"a@b.io\", "
                              "\"age\": 0, \"score\": -1.5, \"active\": "
                              "false, \"bio\": \"ééééé\", \"big\": "
                              "9007199254740993, \"born\": "
                              "\"2024-02-29T23:59:59.5+01:00\", \"prefs\": "
                              "[1, {\"a\": null}], \"secret\": \"s\", "
                              "\"id\": 7, \"created\": \"junk\"}", 1), "");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"email\": null, "
                              "\"age\": null}", 0), "");
}
END_TEST


START_TEST(validation_errors)
{
    ck_assert_str_eq(validate("{}", 1), "name");
    ck_assert_str_eq(validate("{\"name\": null}", 1), "name");
    ck_assert_str_eq(validate("[1]", 1), "");
    ck_assert_str_eq(validate("{\"name\": \"a\"}", 1), "name");
    ck_assert_str_eq(validate("{\"name\": \"abcdefghijk\"}", 1), "name");
    ck_assert_str_eq(validate("{\"name\": \"AB\"}", 1), "name");
    ck_assert_str_eq(validate("{\"name\": 5}", 1), "name");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"x\": 1}", 1), "x");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"email\": \"nope\"}", 1),
                     "email");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"email\": \"a b@c.io\"}",
                              1), "email");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"age\": 151}", 1),
                     "age");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"age\": -1}", 1), "age");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"age\": 1.5}", 1),
                     "age");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"age\": \"1\"}", 1),
                     "age");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"score\": 10.01}", 1),
                     "score");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"score\": true}", 1),
                     "score");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"active\": 1}", 1),
                     "active");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"bio\": \"123456\"}", 1),
                     "bio");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"big\": 1.0}", 1), "big");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"born\": "
                              "\"2023-02-29T00:00:00Z\"}", 1), "born");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"born\": "
                              "\"2023-01-01\"}", 1), "born");
    ck_assert_str_eq(validate("{\"name\": \"ann\", \"born\": "
                              "\"2023-01-01T10:00:00+25:00\"}", 1), "born");
    ck_assert_str_eq(validate("{\"age\": 999, \"active\": \"no\"}", 1),
                     "name,age,active");
}
END_TEST


START_TEST(params)
{
    cairn_db_param_t  p;
    json_t           *v;

    v = json_string("2024-05-01T10:20:30+02:00");
    ck_assert_int_eq(rest_value_param(arena, rest_field_find(res, "born"),
                                      v, &p), 0);
    ck_assert_int_eq(p.type, CAIRN_DB_STRING);
    ck_assert_str_eq(p.v.s.p, "2024-05-01 08:20:30");
    json_decref(v);

    v = json_true();
    ck_assert_int_eq(rest_value_param(arena, rest_field_find(res, "active"),
                                      v, &p), 0);
    ck_assert_int_eq(p.type, CAIRN_DB_INT);
    ck_assert_int_eq(p.v.i, 1);

    v = json_pack("{s:[i, s]}", "a", 1, "b");
    ck_assert_int_eq(rest_value_param(arena, rest_field_find(res, "prefs"),
                                      v, &p), 0);
    ck_assert_str_eq(p.v.s.p, "{\"a\":[1,\"b\"]}");
    json_decref(v);

    v = json_integer(3);
    ck_assert_int_eq(rest_value_param(arena, rest_field_find(res, "score"),
                                      v, &p), 0);
    ck_assert_int_eq(p.type, CAIRN_DB_DOUBLE);
    ck_assert(p.v.d == 3.0);
    json_decref(v);

    ck_assert_int_eq(rest_value_param(arena, rest_field_find(res, "name"),
                                      json_null(), &p), 0);
    ck_assert_int_eq(p.type, CAIRN_DB_NULL);
}
END_TEST


/* RFC 7396, appendix A: target, patch, result. */
START_TEST(merge_patch)
{
    static const char  *cases[][3] = {
        { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
        { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
        { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
        { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
          "{\"a\":{\"b\":\"d\"}}" },
        { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
        { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
        { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
        { "{\"a\":\"foo\"}", "null", "null" },
        { "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
        { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
        { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
        { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
    };
    json_t  *t, *p, *want, *got;
    size_t   i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = json_loads(cases[i][0], JSON_DECODE_ANY, NULL);
        p = json_loads(cases[i][1], JSON_DECODE_ANY, NULL);
        want = json_loads(cases[i][2], JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(t);
        got = rest_merge_patch(t, p);
        ck_assert_msg(json_equal(got, want), "case %zu", i);
        json_decref(t);
        json_decref(p);
        json_decref(want);
        json_decref(got);
    }
}
END_TEST


START_TEST(query_ok)
{
    rest_query_t  q;

    ck_assert_ptr_null(rest_query_parse(arena, res, NULL, &q));
    ck_assert_int_eq(q.limit, 2);
    ck_assert_int_eq(q.offset, 0);

    ck_assert_ptr_null(rest_query_parse(arena, res, "limit=4&offset=10&"
                                        "sort=-name,age&name=a%20b+c&"
                                        "active=true&age=3&born=2024-01-01"
                                        "T00:00:00Z", &q));
    ck_assert_int_eq(q.limit, 4);
    ck_assert_int_eq(q.offset, 10);
    ck_assert_uint_eq(q.nsort, 2);
    ck_assert_str_eq(q.sort[0]->name, "name");
    ck_assert_int_eq(q.desc[0], 1);
    ck_assert_str_eq(q.sort[1]->name, "age");
    ck_assert_int_eq(q.desc[1], 0);
    ck_assert_uint_eq(q.nfilter, 4);
    ck_assert_str_eq(q.value[0], "a b c");

    ck_assert_ptr_null(rest_query_parse(arena, res, "limit=500", &q));
    ck_assert_int_eq(q.limit, 5);
}
END_TEST


START_TEST(query_errors)
{
    static const char  *bad[] = {
        "limit=abc", "limit=0", "limit=-1", "limit=", "offset=-3",
        "offset=1x", "sort=bio", "sort=name,nope", "sort=", "email=x",
        "unknown=1", "age=old", "active=maybe", "born=yesterday",
        "name=%zz", "name=%00", "cursor=", "cursor=abc&offset=1",
        "sort=name`;DROP", "limit=99999999999999999"
    };
    rest_query_t  q;
    size_t        i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(rest_query_parse(arena, res, bad[i], &q) != NULL,
                      "%s was accepted", bad[i]);
    }
}
END_TEST


/* Messages that quote a query are valid UTF-8 whatever it holds. */
START_TEST(query_errors_quoted)
{
    static const char  *bad[] = {
        "%ff=1", "age=%ff", "sort=%ff", "name=%c3", "%e2%82=1",
        "sort=%ed%a0%80", "age=0x10", "age=1e3", "age=+5", "age=%205",
        "age=99999999999", "score=inf", "score=nan", "score=1.",
        "born=9999-12-31T23:59:59-23:59"
    };
    const char    *msg;
    char           q[700];
    rest_query_t   qq;
    size_t         i, k;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg = rest_query_parse(arena, res, bad[i], &qq);
        ck_assert_msg(msg != NULL, "%s was accepted", bad[i]);
        ck_assert_msg(rest_utf8_valid(msg, strlen(msg)),
                      "the message for %s is not UTF-8: %s", bad[i], msg);
    }

    /* A long parameter of two-byte characters: cut between them. */
    strcpy(q, "sort=");
    for (k = 0; k < 100; k++) {
        strcat(q, "%C3%A9");
    }
    msg = rest_query_parse(arena, res, q, &qq);
    ck_assert_ptr_nonnull(msg);
    ck_assert(rest_utf8_valid(msg, strlen(msg)));
    ck_assert_ptr_nonnull(strstr(msg, "..."));
}
END_TEST


START_TEST(text_quote)
{
    char  out[64];

    ck_assert_str_eq(rest_text_quote("abc", 3, 10, out, sizeof(out)), "abc");
    ck_assert_str_eq(rest_text_quote("a\xff" "b", 3, 10, out, sizeof(out)),
                     "a\\xffb");
    ck_assert_str_eq(rest_text_quote("a\0b", 3, 10, out, sizeof(out)),
                     "a\\x00b");
    /* A character cut at the end of the input. */
    ck_assert_str_eq(rest_text_quote("\xc3\xa9\xc3", 3, 10, out,
                                     sizeof(out)), "\xc3\xa9\\xc3");
    /* The limit counts characters, and never cuts one. */
    ck_assert_str_eq(rest_text_quote("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 2, out,
                                     sizeof(out)), "\xc3\xa9\xc3\xa9...");
    /* Surrogates and overlong forms are not UTF-8. */
    ck_assert_str_eq(rest_text_quote("\xed\xa0\x80", 3, 10, out,
                                     sizeof(out)), "\\xed\\xa0\\x80");
    ck_assert_str_eq(rest_text_quote("\xc0\xaf", 2, 10, out, sizeof(out)),
                     "\\xc0\\xaf");
    /* A small buffer: cut, still terminated and valid. */
    rest_text_quote("abcdefghijklmnopqrstuvwxyz", 26, 100, out, 10);
    ck_assert_str_eq(out, "abcdef...");
}
END_TEST


START_TEST(number_syntax)
{
    static const char  *good[] = { "0", "-0", "12", "-12", "1.5", "0.25",
                                   "1e3", "1E+3", "-2.5e-7" };
    static const char  *bad[] = { "", "-", "+1", "01", "1.", ".5", "0x10",
                                  "1e", "inf", "nan", " 1", "1 ", "1,5",
                                  "--1", "1e+" };
    size_t  i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(rest_number_syntax_ok(good[i], strlen(good[i]), 0),
                      "%s refused", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!rest_number_syntax_ok(bad[i], strlen(bad[i]), 0),
                      "%s accepted", bad[i]);
    }
    ck_assert(rest_number_syntax_ok("-42", 3, 1));
    ck_assert(!rest_number_syntax_ok("4.2", 3, 1));
    ck_assert(!rest_number_syntax_ok("4e2", 3, 1));
}
END_TEST


START_TEST(decimal_canon)
{
    static const struct {
        const char  *in;
        int          p, s;
        const char  *out;       /* NULL: refused */
    } cases[] = {
        { "12.50", 10, 2, "12.5" }, { "12.5", 10, 2, "12.5" },
        { "0.05", 10, 2, "0.05" }, { "-0.05", 10, 2, "-0.05" },
        { "1.250e1", 10, 2, "12.5" }, { "1e3", 10, 2, "1000" },
        { "1E+3", 10, 2, "1000" }, { "25e-3", 10, 3, "0.025" },
        { "-0.00", 10, 2, "0" }, { "0", 10, 2, "0" },
        { "99999999.99", 10, 2, "99999999.99" },
        { "123456789.1", 10, 2, NULL }, { "1.234", 10, 2, NULL },
        { "1e10", 10, 2, NULL }, { "1e-3", 10, 2, NULL },
        { "12345678901234567890.0123456789", 30, 10,
          "12345678901234567890.0123456789" },
        { "1e999999", 65, 30, NULL }, { "1e-999999", 65, 30, NULL },
        { "0x10", 10, 2, NULL }, { "12.", 10, 2, NULL },
        { "", 10, 2, NULL }, { "5", 1, 0, "5" }, { "10", 1, 0, NULL },
    };
    const char  *out, *why;
    size_t       i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why = NULL;
        out = rest_decimal_canon(arena, cases[i].in, strlen(cases[i].in),
                                 cases[i].p, cases[i].s, &why);
        if (cases[i].out == NULL) {
            ck_assert_msg(out == NULL, "%s accepted as %s", cases[i].in,
                          out);
            ck_assert_ptr_nonnull(why);
        } else {
            ck_assert_msg(out != NULL, "%s refused: %s", cases[i].in, why);
            ck_assert_str_eq(out, cases[i].out);
        }
    }
}
END_TEST


/* The body's own digits reach decimal fields, wherever the text puts
 * them; other members are left alone. */
START_TEST(exact_numbers)
{
    rest_resource_t  *rs = new_resource();
    const char       *text;
    json_t           *body;
    size_t            len;
    char             *out;

    ck_assert_ptr_null(field(rs, "id int"));
    ck_assert_ptr_null(field(rs, "price decimal(30,10)"));
    ck_assert_ptr_null(field(rs, "qty int"));
    ck_assert_ptr_null(field(rs, "j json"));
    ck_assert_ptr_null(field(rs, "s decimal as=string"));
    ck_assert_ptr_null(rest_resource_finish(arena, rs));

    text = "{ \"j\" : {\"price\": 1.5, \"x\": [\"}\\\"{\", 2]},"
           "\"qty\":3,\n\t\"price\"\t:\t0.10000000000000000001 ,"
           " \"s\": 7}";
    body = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(rest_body_exact_numbers(rs, body, text, strlen(text)),
                     0);
    out = rest_json_dump(arena, body, &len);
    ck_assert_str_eq(out, "{\"j\":{\"price\":1.5,\"x\":[\"}\\\"{\",2]},"
                     "\"qty\":3,\"price\":0.10000000000000000001,"
                     "\"s\":7}");
    ck_assert_uint_eq(len, strlen(out));
    json_decref(body);
}
END_TEST


/* The writer agrees with jansson's compact output. */
START_TEST(json_dump)
{
    static const char  *docs[] = {
        "{\"a\":[1,-2,3.5,1e+300,0.1,-0.0,1e-07,100.0],\"b\":null,"
        "\"c\":true,\"d\":false}",
        "[\"\\u0001\\n\\t\\\"\\\\/é€𝄞\",{},[]]",
        "{\"k\\\"x\":\"v\\u0000w\",\"\\u007f\":12345678901234}",
    };
    json_t  *v;
    char    *mine, *theirs;
    size_t   i, len;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        v = json_loads(docs[i], JSON_ALLOW_NUL, NULL);
        ck_assert_ptr_nonnull(v);
        mine = rest_json_dump(arena, v, &len);
        theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        ck_assert_str_eq(mine, theirs);
        free(theirs);
        json_decref(v);
    }

    v = rest_exact("12.50", 5);
    mine = rest_json_dump(arena, v, &len);
    ck_assert_str_eq(mine, "12.50");
    json_decref(v);
}
END_TEST


START_TEST(schema_check)
{
    rest_resource_t  *rs = new_resource();
    rest_field_t     *f;
    const char       *err;
    json_t           *col;

    ck_assert_ptr_null(field(rs, "id int"));
    ck_assert_ptr_null(field(rs, "price number"));
    ck_assert_ptr_null(field(rs, "cost decimal"));
    ck_assert_ptr_null(field(rs, "n int"));
    ck_assert_ptr_null(field(rs, "name string"));
    ck_assert_ptr_null(rest_resource_finish(arena, rs));

    col = json_pack("{s:s, s:s, s:i, s:i, s:n, s:s, s:s}", "t", "decimal",
                    "ct", "decimal(10,2)", "p", 10, "s", 2, "l", "n", "YES",
                    "x", "");
    err = rest_schema_check(arena, rs, rest_field_find(rs, "price"), col);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "declare Field price decimal"));

    f = rest_field_find(rs, "cost");
    ck_assert_ptr_null(rest_schema_check(arena, rs, f, col));
    ck_assert_int_eq(f->precision, 10);
    ck_assert_int_eq(f->scale, 2);
    json_decref(col);

    col = json_pack("{s:s, s:s, s:n, s:n, s:n, s:s, s:s}", "t", "smallint",
                    "ct", "smallint(5) unsigned", "p", "s", "l", "n", "YES",
                    "x", "");
    f = rest_field_find(rs, "n");
    ck_assert_ptr_null(rest_schema_check(arena, rs, f, col));
    ck_assert(f->col_int);
    ck_assert(f->col_min == 0.0 && f->col_max == 65535.0);
    json_decref(col);

    col = json_pack("{s:s, s:s, s:n, s:n, s:i, s:s, s:s}", "t", "varchar",
                    "ct", "varchar(40)", "p", "s", "l", 40, "n", "NO",
                    "x", "");
    err = rest_schema_check(arena, rs, rest_field_find(rs, "name"), col);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "declare max=40"));
    json_decref(col);

    col = json_pack("{s:s, s:s, s:n, s:n, s:n, s:s, s:s}", "t", "int",
                    "ct", "int(11)", "p", "s", "l", "n", "NO", "x", "");
    err = rest_schema_check(arena, rs, rest_field_find(rs, "id"), col);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "AUTO_INCREMENT"));
    json_decref(col);
}
END_TEST


START_TEST(cursor)
{
    rest_query_t       q;
    cairn_db_param_t   p[16];
    const char        *w;
    json_t            *after;
    size_t             n;

    /* The module checks the cursor; the query keeps it as given. */
    ck_assert_ptr_null(rest_query_parse(arena, res, "cursor=abc.def", &q));
    ck_assert_str_eq(q.cursor, "abc.def");
    ck_assert_ptr_nonnull(rest_query_parse(arena, res, "cursor=", &q));
    ck_assert_ptr_nonnull(rest_query_parse(arena, res,
                                           "cursor=a&offset=1", &q));

    /* What a cursor is bound to: sort and filters. */
    ck_assert_ptr_null(rest_query_parse(arena, res,
                                        "sort=name,-age&name=al", &q));
    ck_assert_str_eq(rest_query_ident(arena, &q), "sort=name,-age;name=2:al;");

    /* Keyset: after ("bob", 30, id 7) sorted by name ASC, age DESC. */
    after = json_pack("[s, i, i]", "bob", 30, 7);
    w = rest_keyset_where(arena, res, &q, after, p, &n);
    ck_assert_str_eq(w, "((`name` > ?) OR (`name` = ? AND (`age` < ? OR "
                     "`age` IS NULL)) OR (`name` = ? AND `age` = ? AND "
                     "`id` > ?))");
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(p[5].type, CAIRN_DB_INT);
    ck_assert_int_eq(p[5].v.i, 7);
    json_decref(after);

    /* NULL ages: after a NULL nothing follows descending but NULLs. */
    after = json_pack("[s, n, i]", "bob", 7);
    w = rest_keyset_where(arena, res, &q, after, p, &n);
    ck_assert_str_eq(w, "((`name` > ?) OR (`name` = ? AND `age` IS NULL AND "
                     "`id` > ?))");
    ck_assert_uint_eq(n, 3);
    json_decref(after);

    /* A cursor of another shape. */
    after = json_pack("[i]", 7);
    ck_assert_ptr_null(rest_keyset_where(arena, res, &q, after, p, &n));
    json_decref(after);
    after = json_pack("[s, i, n]", "bob", 1);
    ck_assert_ptr_null(rest_keyset_where(arena, res, &q, after, p, &n));
    json_decref(after);
}
END_TEST


START_TEST(accept)
{
    ck_assert(!rest_prefers_html(NULL));
    ck_assert(!rest_prefers_html("*/*"));
    ck_assert(!rest_prefers_html("application/json"));
    ck_assert(rest_prefers_html("text/html"));
    ck_assert(rest_prefers_html("text/html,application/xhtml+xml,"
                                "application/xml;q=0.9,*/*;q=0.8"));
    ck_assert(!rest_prefers_html("text/html;q=0.5, application/json"));
    ck_assert(!rest_prefers_html("text/html;q=0"));
    ck_assert(rest_prefers_html("text/*"));
}
END_TEST


START_TEST(etags)
{
    json_t  *v = json_integer(7);

    ck_assert_str_eq(rest_etag(arena, v), "\"v7\"");
    json_decref(v);
    ck_assert(rest_etag_match("\"v7\"", "\"v7\""));
    ck_assert(rest_etag_match("\"v1\", W/\"v7\"", "\"v7\""));
    ck_assert(rest_etag_match("*", "\"v7\""));
    ck_assert(!rest_etag_match("\"v70\"", "\"v7\""));
    ck_assert(!rest_etag_match("\"v6\"", "\"v7\""));
}
END_TEST


START_TEST(row_out)
{
    json_t  *row, *out;

    row = json_pack("{s:i, s:s, s:i, s:s, s:s, s:s, s:n}", "id", 1, "name",
                    "ann", "active", 1, "born", "2024-05-01 08:20:30",
                    "prefs", "{\"a\":1}", "secret", "x", "bio");
    out = rest_row_out(res, row, 0);
    ck_assert(json_is_true(json_object_get(out, "active")));
    ck_assert_str_eq(json_string_value(json_object_get(out, "born")),
                     "2024-05-01T08:20:30Z");
    ck_assert_int_eq(json_integer_value(json_object_get(
        json_object_get(out, "prefs"), "a")), 1);
    ck_assert_ptr_null(json_object_get(out, "secret"));
    ck_assert(json_is_null(json_object_get(out, "bio")));
    json_decref(out);
    out = rest_row_out(res, row, 1);
    ck_assert_str_eq(json_string_value(json_object_get(out, "secret")), "x");
    json_decref(out);
    json_decref(row);
}
END_TEST


START_TEST(envelope)
{
    json_t  *e;
    char    *s;

    e = rest_envelope(404, "no such resource", NULL);
    s = json_dumps(e, JSON_COMPACT);
    ck_assert_str_eq(s, "{\"code\":404,\"message\":\"no such resource\","
                     "\"data\":null}");
    free(s);
    json_decref(e);
}
END_TEST


START_TEST(openapi)
{
    const rest_resource_t  *list[1] = { res };
    json_t                 *doc, *schemas, *props, *paths;

    doc = rest_openapi(list, 1, "t");
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")),
                     "3.1.0");
    paths = json_object_get(doc, "paths");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(paths, "/users"),
                                          "post"));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(paths,
                                                          "/users/{id}"),
                                          "patch"));
    schemas = json_object_get(json_object_get(doc, "components"),
                              "schemas");
    props = json_object_get(json_object_get(schemas, "users"),
                            "properties");
    ck_assert_int_eq(json_integer_value(json_object_get(
        json_object_get(props, "name"), "maxLength")), 10);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(props, "name"), "pattern")), "^[a-z]+$");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(props, "email"), "format")), "email");
    ck_assert(json_is_true(json_object_get(json_object_get(props, "secret"),
                                           "writeOnly")));
    ck_assert(json_is_true(json_object_get(json_object_get(props, "created"),
                                           "readOnly")));
    ck_assert(json_is_true(json_object_get(json_object_get(props, "id"),
                                           "readOnly")));
    ck_assert_int_eq(json_integer_value(json_object_get(
        json_object_get(props, "age"), "maximum")), 150);
    ck_assert_ptr_nonnull(json_object_get(schemas, "users_page_envelope"));
    ck_assert_ptr_nonnull(json_object_get(schemas, "error_envelope"));
    json_decref(doc);
}
END_TEST


static Suite *
rest_suite(void)
{
    const unit_case_t  cases[] = {
        { "identifiers", identifiers, 0 },
        { "field_errors", field_errors, 0 },
        { "finish_errors", finish_errors, 0 },
        { "statements", statements, 0 },
        { "methods", methods, 0 },
        { "validation_ok", validation_ok, 0 },
        { "validation_errors", validation_errors, 0 },
        { "params", params, 0 },
        { "merge_patch", merge_patch, 0 },
        { "query_ok", query_ok, 0 },
        { "query_errors", query_errors, 0 },
        { "query_errors_quoted", query_errors_quoted, 0 },
        { "text_quote", text_quote, 0 },
        { "number_syntax", number_syntax, 0 },
        { "decimal_canon", decimal_canon, 0 },
        { "exact_numbers", exact_numbers, 0 },
        { "json_dump", json_dump, 0 },
        { "schema_check", schema_check, 0 },
        { "cursor", cursor, 0 },
        { "accept", accept, 0 },
        { "etags", etags, 0 },
        { "row_out", row_out, 0 },
        { "envelope", envelope, 0 },
        { "openapi", openapi, 0 },
    };

    return unit_suite("rest", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(rest_suite());
}
