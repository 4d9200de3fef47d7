/*
 * tests/unit/test_router.c: core/router.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "arena_int.h"
#include "router_int.h"

#define GET     CAIRN_M(CAIRN_METHOD_GET)
#define HEAD    CAIRN_M(CAIRN_METHOD_HEAD)
#define POST    CAIRN_M(CAIRN_METHOD_POST)
#define PUT     CAIRN_M(CAIRN_METHOD_PUT)
#define DELETE  CAIRN_M(CAIRN_METHOD_DELETE)


static cairn_arena_t         *arena;
static cairn__router_t       *rt;
static cairn__route_match_t   match;

static cairn_module_t         mod_one = { .name = "one" };
static cairn_module_t         mod_two = { .name = "two" };


static void
setup(void)
{
    arena = cairn_arena_create(0);
    rt = cairn__router_create(arena);
    memset(&match, 0, sizeof(match));
}


static void
teardown(void)
{
    cairn_arena_destroy(arena);
}


static void
add(const char *pattern, unsigned methods)
{
    const char  *msg;

    msg = cairn__router_add(rt, pattern, methods, &mod_one,
                            (void *) pattern);
    ck_assert_msg(msg == NULL, "adding %s: %s", pattern, msg);
}


/* The pattern of the route matched for method and path, or NULL. */
static const char *
route_for(cairn_method_t method, const char *path)
{
    if (!cairn__router_match(rt, arena, path, method, &match)) {
        ck_assert_ptr_null(match.route);
        return NULL;
    }

    ck_assert_ptr_nonnull(match.route);

    return match.route->pattern;
}


static const char *
get(const char *path)
{
    return route_for(CAIRN_METHOD_GET, path);
}


static const char *
param(const char *name)
{
    size_t  i;

    for (i = 0; i < match.nparams; i++) {
        if (strcmp(match.names[i], name) == 0) {
            return match.values[i];
        }
    }

    return NULL;
}


static void
count_route(const cairn__route_t *route, void *data)
{
    char  *buf = data;

    strcat(buf, route->pattern);
    strcat(buf, " ");
}


START_TEST(static_segments)
{
    add("/", GET);
    add("/a", GET);
    add("/a/b", GET);
    add("/about", GET);
    add("/a/b/c", GET);

    ck_assert_str_eq(get("/"), "/");
    ck_assert_str_eq(get("/a"), "/a");
    ck_assert_str_eq(get("/a/b"), "/a/b");
    ck_assert_str_eq(get("/about"), "/about");
    ck_assert_str_eq(get("/a/b/c"), "/a/b/c");
    ck_assert_uint_eq(match.nparams, 0);

    ck_assert_ptr_null(get("/ab"));
    ck_assert_uint_eq(match.allowed, 0);
    ck_assert_ptr_null(get("/a/c"));
    ck_assert_ptr_null(get("/a/b/c/d"));
    ck_assert_ptr_null(get("/abo"));
    ck_assert_ptr_null(get("/A"));
    ck_assert_uint_eq(match.allowed, 0);

    ck_assert_uint_eq(cairn__router_count(rt), 5);
}
END_TEST


START_TEST(params)
{
    const char  *path = "/users/42/posts/hello-world";

    add("/users/:id", GET);
    add("/users/:id/posts/:slug", GET);

    ck_assert_str_eq(get("/users/42"), "/users/:id");
    ck_assert_uint_eq(match.nparams, 1);
    ck_assert_str_eq(match.names[0], "id");
    ck_assert_str_eq(match.values[0], "42");

    /* Values are strings of their own: "42", not "42/posts/...". */
    ck_assert_str_eq(get(path), "/users/:id/posts/:slug");
    ck_assert_uint_eq(match.nparams, 2);
    ck_assert_str_eq(param("id"), "42");
    ck_assert_str_eq(param("slug"), "hello-world");

    /* A parameter never matches an empty segment. */
    ck_assert_ptr_null(get("/users/"));
    ck_assert_ptr_null(get("/users"));
    ck_assert_ptr_null(get("/users/42/posts/"));
    ck_assert_ptr_null(get("/users/42/x"));
}
END_TEST


START_TEST(param_names_per_route)
{
    add("/u/:id", GET);
    add("/u/:name/profile", GET);

    ck_assert_str_eq(get("/u/7"), "/u/:id");
    ck_assert_str_eq(param("id"), "7");
    ck_assert_ptr_null(param("name"));

    ck_assert_str_eq(get("/u/bob/profile"), "/u/:name/profile");
    ck_assert_str_eq(param("name"), "bob");
    ck_assert_ptr_null(param("id"));
}
END_TEST


START_TEST(wildcard)
{
    add("/files/*rest", GET);
    add("/*all", GET);

    ck_assert_str_eq(get("/files/a/b/c.txt"), "/files/*rest");
    ck_assert_str_eq(param("rest"), "a/b/c.txt");

    ck_assert_str_eq(get("/files/x"), "/files/*rest");
    ck_assert_str_eq(param("rest"), "x");

    /* The rest may be empty, and keeps a trailing slash. */
    ck_assert_str_eq(get("/files/"), "/files/*rest");
    ck_assert_str_eq(param("rest"), "");
    ck_assert_str_eq(get("/files/d/"), "/files/*rest");
    ck_assert_str_eq(param("rest"), "d/");

    /* "/files" has no slash for the wildcard to follow. */
    ck_assert_str_eq(get("/files"), "/*all");
    ck_assert_str_eq(param("all"), "files");

    ck_assert_str_eq(get("/"), "/*all");
    ck_assert_str_eq(param("all"), "");
    ck_assert_str_eq(get("/x/y/z"), "/*all");
    ck_assert_str_eq(param("all"), "x/y/z");
}
END_TEST


START_TEST(precedence)
{
    static const char *const  patterns[] = {
        "/p/*rest", "/p/:id", "/p/new", "/p/:id/edit", "/p/new/edit"
    };
    size_t  order, i;

    /* The same answers whatever order the routes were added in. */
    for (order = 0; order < 2; order++) {
        cairn__arena_reset(arena);
        rt = cairn__router_create(arena);
        for (i = 0; i < 5; i++) {
            add(patterns[order == 0 ? i : 4 - i], GET);
        }

        ck_assert_str_eq(get("/p/new"), "/p/new");
        ck_assert_str_eq(get("/p/old"), "/p/:id");
        ck_assert_str_eq(param("id"), "old");
        ck_assert_str_eq(get("/p/new/edit"), "/p/new/edit");
        ck_assert_str_eq(get("/p/old/edit"), "/p/:id/edit");
        ck_assert_str_eq(get("/p/new/other"), "/p/*rest");
        ck_assert_str_eq(param("rest"), "new/other");
        ck_assert_str_eq(get("/p/"), "/p/*rest");
    }
}
END_TEST


START_TEST(backtracking)
{
    add("/a/:x/c", GET);
    add("/a/b/d", GET);
    add("/a/*rest", POST);

    ck_assert_str_eq(get("/a/b/d"), "/a/b/d");

    /* The static "b" branch has no "c": back up and take ":x". */
    ck_assert_str_eq(get("/a/b/c"), "/a/:x/c");
    ck_assert_str_eq(param("x"), "b");
    ck_assert_uint_eq(match.nparams, 1);

    /* Neither branch: down to the wildcard, with no stale parameter. */
    ck_assert_ptr_null(get("/a/b/e"));
    ck_assert_uint_eq(match.allowed, POST);
    ck_assert_int_eq(cairn__router_match(rt, arena, "/a/b/e",
                                         CAIRN_METHOD_POST, &match), 1);
    ck_assert_str_eq(match.route->pattern, "/a/*rest");
    ck_assert_uint_eq(match.nparams, 1);
    ck_assert_str_eq(match.names[0], "rest");
    ck_assert_str_eq(match.values[0], "b/e");
}
END_TEST


START_TEST(backtracking_by_method)
{
    add("/x/new", POST);
    add("/x/:id", GET);

    /* The static route does not take GET; the parameter route does. */
    ck_assert_str_eq(get("/x/new"), "/x/:id");
    ck_assert_str_eq(param("id"), "new");

    ck_assert_str_eq(route_for(CAIRN_METHOD_POST, "/x/new"), "/x/new");

    ck_assert_ptr_null(route_for(CAIRN_METHOD_PUT, "/x/new"));
    ck_assert_uint_eq(match.allowed, POST | GET | HEAD);
}
END_TEST


START_TEST(trailing_slash)
{
    add("/dir/", GET);
    add("/file", GET);

    ck_assert_str_eq(get("/dir/"), "/dir/");
    ck_assert_ptr_null(get("/dir"));
    ck_assert_str_eq(get("/file"), "/file");
    ck_assert_ptr_null(get("/file/"));

    add("/dir", POST);
    ck_assert_ptr_null(get("/dir"));
    ck_assert_uint_eq(match.allowed, POST);
    ck_assert_str_eq(route_for(CAIRN_METHOD_POST, "/dir"), "/dir");
}
END_TEST


START_TEST(method_masks)
{
    const char  *msg;

    add("/r", GET | POST);
    msg = cairn__router_add(rt, "/r", DELETE, &mod_two, (void *) "del");
    ck_assert_ptr_null(msg);
    add("/any", CAIRN_M_ANY);

    ck_assert_str_eq(route_for(CAIRN_METHOD_GET, "/r"), "/r");
    ck_assert_ptr_eq(match.route->module, &mod_one);
    ck_assert_uint_eq(match.route->methods, GET | POST);
    ck_assert_str_eq(route_for(CAIRN_METHOD_POST, "/r"), "/r");

    /* HEAD is served by a GET route. */
    ck_assert_str_eq(route_for(CAIRN_METHOD_HEAD, "/r"), "/r");
    ck_assert_ptr_eq(match.route->module, &mod_one);

    ck_assert_str_eq(route_for(CAIRN_METHOD_DELETE, "/r"), "/r");
    ck_assert_ptr_eq(match.route->module, &mod_two);
    ck_assert_str_eq(match.route->data, "del");

    ck_assert_str_eq(route_for(CAIRN_METHOD_PATCH, "/any"), "/any");
    ck_assert_str_eq(route_for(CAIRN_METHOD_OTHER, "/any"), "/any");
    ck_assert_str_eq(route_for(CAIRN_METHOD_GET, "/any"), "/any");
    ck_assert_uint_ne(match.allowed, 0);
}
END_TEST


START_TEST(explicit_head)
{
    const char  *msg;

    add("/h", GET);
    msg = cairn__router_add(rt, "/h", HEAD, &mod_two, NULL);
    ck_assert_ptr_null(msg);

    ck_assert_str_eq(route_for(CAIRN_METHOD_HEAD, "/h"), "/h");
    ck_assert_ptr_eq(match.route->module, &mod_two);
    ck_assert_str_eq(route_for(CAIRN_METHOD_GET, "/h"), "/h");
    ck_assert_ptr_eq(match.route->module, &mod_one);
}
END_TEST


START_TEST(allowed_405)
{
    add("/thing", GET);
    add("/thing", DELETE);
    add("/thing/:id", PUT);
    add("/*rest", POST);

    /* The path is routed, the method is not: 0 and the union. */
    ck_assert_int_eq(cairn__router_match(rt, arena, "/thing",
                                         CAIRN_METHOD_PATCH, &match), 0);
    ck_assert_ptr_null(match.route);
    ck_assert_uint_eq(match.allowed, GET | HEAD | DELETE | POST);
    ck_assert_uint_eq(match.nparams, 0);

    ck_assert_int_eq(cairn__router_match(rt, arena, "/thing/1",
                                         CAIRN_METHOD_GET, &match), 0);
    ck_assert_uint_eq(match.allowed, PUT | POST);

    /* A match reports the methods of its own path. */
    ck_assert_int_eq(cairn__router_match(rt, arena, "/thing",
                                         CAIRN_METHOD_GET, &match), 1);
    ck_assert_uint_eq(match.allowed, GET | HEAD | DELETE);
}
END_TEST


START_TEST(duplicates)
{
    const char  *msg;

    add("/d", GET | POST);
    add("/d/:id", GET);
    add("/w/*rest", GET);
    add("/any", CAIRN_M_ANY);

    msg = cairn__router_add(rt, "/d", POST, &mod_two, NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "duplicate route '/d'"));

    /* Parameter names do not make a different path. */
    msg = cairn__router_add(rt, "/d/:other", GET | PUT, &mod_two, NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "/d/:id"));

    msg = cairn__router_add(rt, "/w/*tail", GET, &mod_two, NULL);
    ck_assert_ptr_nonnull(msg);

    msg = cairn__router_add(rt, "/any", DELETE, &mod_two, NULL);
    ck_assert_ptr_nonnull(msg);
    msg = cairn__router_add(rt, "/d", CAIRN_M_ANY, &mod_two, NULL);
    ck_assert_ptr_nonnull(msg);

    /* Disjoint methods on one path are fine. */
    msg = cairn__router_add(rt, "/d", DELETE, &mod_two, NULL);
    ck_assert_ptr_null(msg);
    msg = cairn__router_add(rt, "/d/:other", PUT, &mod_two, NULL);
    ck_assert_ptr_null(msg);

    ck_assert_uint_eq(cairn__router_count(rt), 6);
    ck_assert_str_eq(route_for(CAIRN_METHOD_PUT, "/d/9"), "/d/:other");
    ck_assert_str_eq(param("other"), "9");
}
END_TEST


START_TEST(malformed)
{
    static const char *const  bad[] = {
        "", "a/b", "/a//b", "//", "/:", "/a/:", "/*", "/a/*/b",
        "/*rest/b", "/:a/:a", "/:a/*a", "/:a!b", "/x/:na me"
    };
    const char  *msg;
    size_t       i;

    msg = cairn__router_add(rt, NULL, GET, &mod_one, NULL);
    ck_assert_ptr_nonnull(msg);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg = cairn__router_add(rt, bad[i], GET, &mod_one, NULL);
        ck_assert_msg(msg != NULL, "'%s' was accepted", bad[i]);
        ck_assert_msg(strstr(msg, bad[i]) != NULL,
                      "the message for '%s' does not name it: %s", bad[i],
                      msg);
    }

    ck_assert_uint_eq(cairn__router_count(rt), 0);
    ck_assert_ptr_null(get("/a"));

    /* ':' and '*' inside a segment are plain text. */
    add("/x:y", GET);
    add("/a*b/c", GET);
    ck_assert_str_eq(get("/x:y"), "/x:y");
    ck_assert_str_eq(get("/a*b/c"), "/a*b/c");
}
END_TEST


START_TEST(max_params)
{
    char         pattern[256], path[256];
    const char  *msg;
    size_t       i, len, plen;
    char         name[8];

    len = 0;
    plen = 0;
    for (i = 0; i < CAIRN__ROUTE_MAX_PARAMS; i++) {
        len += (size_t) snprintf(pattern + len, sizeof(pattern) - len,
                                 "/:p%zu", i);
        plen += (size_t) snprintf(path + plen, sizeof(path) - plen, "/v%zu",
                                  i);
    }

    add(pattern, GET);
    ck_assert_str_eq(get(path), pattern);
    ck_assert_uint_eq(match.nparams, CAIRN__ROUTE_MAX_PARAMS);
    for (i = 0; i < CAIRN__ROUTE_MAX_PARAMS; i++) {
        snprintf(name, sizeof(name), "p%zu", i);
        ck_assert_str_eq(match.names[i], name);
        ck_assert_str_eq(param(name), match.values[i]);
        ck_assert_int_eq(match.values[i][0], 'v');
        ck_assert_int_eq(atoi(match.values[i] + 1), (int) i);
    }

    /* One more (a wildcard counts too) is refused. */
    snprintf(pattern + len, sizeof(pattern) - len, "/*rest");
    msg = cairn__router_add(rt, pattern, GET, &mod_one, NULL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "more than 16 parameters"));

    snprintf(pattern + len, sizeof(pattern) - len, "/:extra");
    msg = cairn__router_add(rt, pattern, GET, &mod_one, NULL);
    ck_assert_ptr_nonnull(msg);
}
END_TEST


START_TEST(listing)
{
    char  buf[256];

    add("/b", GET);
    add("/a/*rest", GET);
    add("/a/:id", GET);
    add("/a/x", GET);
    add("/", GET);
    add("/a", POST);
    add("/a", GET);

    buf[0] = '\0';
    cairn__router_each(rt, count_route, buf);
    ck_assert_str_eq(buf, "/ /a /a /a/x /a/:id /a/*rest /b ");
    ck_assert_uint_eq(cairn__router_count(rt), 7);
}
END_TEST


START_TEST(no_routes)
{
    ck_assert_int_eq(cairn__router_match(rt, arena, "/", CAIRN_METHOD_GET,
                                         &match), 0);
    ck_assert_uint_eq(match.allowed, 0);
    ck_assert_int_eq(cairn__router_match(NULL, arena, "/",
                                         CAIRN_METHOD_GET, &match), 0);
    ck_assert_uint_eq(cairn__router_count(NULL), 0);

    add("/*all", GET);
    ck_assert_int_eq(cairn__router_match(rt, arena, "relative",
                                         CAIRN_METHOD_GET, &match), 0);
    ck_assert_int_eq(cairn__router_match(rt, arena, "",
                                         CAIRN_METHOD_GET, &match), 0);
    ck_assert_uint_eq(match.allowed, 0);
}
END_TEST


static Suite *
router_suite(void)
{
    const unit_case_t  cases[] = {
        { "static_segments", static_segments, 0 },
        { "params", params, 0 },
        { "param_names_per_route", param_names_per_route, 0 },
        { "wildcard", wildcard, 0 },
        { "precedence", precedence, 0 },
        { "backtracking", backtracking, 0 },
        { "backtracking_by_method", backtracking_by_method, 0 },
        { "trailing_slash", trailing_slash, 0 },
        { "method_masks", method_masks, 0 },
        { "explicit_head", explicit_head, 0 },
        { "allowed_405", allowed_405, 0 },
        { "duplicates", duplicates, 0 },
        { "malformed", malformed, 0 },
        { "max_params", max_params, 0 },
        { "listing", listing, 0 },
        { "no_routes", no_routes, 0 },
    };

    return unit_suite("router", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(router_suite());
}
