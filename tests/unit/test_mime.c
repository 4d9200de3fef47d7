/*
 * tests/unit/test_mime.c: modules/static/mime.c.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "unit.h"

#include "static/mime.h"

#define DEF     MOD_STATIC_MIME_DEFAULT


static mod_static_mime_t  *table;
static char                fixture[64];


static void
setup(void)
{
    table = mod_static_mime_create();
    ck_assert_ptr_nonnull(table);
    fixture[0] = '\0';
}


static void
teardown(void)
{
    mod_static_mime_destroy(table);
    table = NULL;
    if (fixture[0] != '\0') {
        unlink(fixture);
    }
}


/* Writes text to a fresh file under /tmp, removed by teardown(). */
static const char *
write_fixture(const char *text)
{
    int      fd;
    size_t   len;
    ssize_t  n;

    strcpy(fixture, "/tmp/cairn-test-mime.XXXXXX");
    fd = mkstemp(fixture);
    ck_assert_int_ge(fd, 0);

    len = strlen(text);
    n = write(fd, text, len);
    ck_assert_int_eq(n, (ssize_t) len);
    ck_assert_int_eq(close(fd), 0);

    return fixture;
}


static void
check_type(const mod_static_mime_t *t, const char *path, const char *want)
{
    const char  *got;

    got = mod_static_mime_lookup(t, path);
    ck_assert_msg(strcmp(got, want) == 0, "\"%s\" is \"%s\", want \"%s\"",
                  path, got, want);
}


static const struct {
    const char  *ext;
    const char  *type;
} required[] = {
    { "html", "text/html" },
    { "htm", "text/html" },
    { "css", "text/css" },
    { "js", "text/javascript" },
    { "mjs", "text/javascript" },
    { "json", "application/json" },
    { "txt", "text/plain" },
    { "xml", "application/xml" },
    { "svg", "image/svg+xml" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "ico", "image/vnd.microsoft.icon" },
    { "pdf", "application/pdf" },
    { "wasm", "application/wasm" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "tar", "application/x-tar" },
};

#define NREQUIRED   (sizeof(required) / sizeof(required[0]))


START_TEST(builtin)
{
    char    name[64];
    size_t  i;

    for (i = 0; i < NREQUIRED; i++) {
        snprintf(name, sizeof(name), "/x/file.%s", required[i].ext);
        check_type(table, name, required[i].type);
        /* Without a table the sorted built-in array answers the same. */
        check_type(NULL, name, required[i].type);
    }

    ck_assert_uint_ge(mod_static_mime_count(NULL), NREQUIRED);
    ck_assert_uint_eq(mod_static_mime_count(table),
                      mod_static_mime_count(NULL));
}
END_TEST


START_TEST(case_insensitive)
{
    check_type(table, "INDEX.HTML", "text/html");
    check_type(table, "/a/b.Png", "image/png");
    check_type(table, "x.JpG", "image/jpeg");
    check_type(table, "x.WOFF2", "font/woff2");
    check_type(NULL, "/A/B/C.CSS", "text/css");
    check_type(NULL, "a.Json", "application/json");
}
END_TEST


START_TEST(multi_dot)
{
    check_type(table, "archive.tar.gz", "application/gzip");
    check_type(table, "/js/jquery.min.js", "text/javascript");
    check_type(table, "/a.b.c.d.txt", "text/plain");
    check_type(table, "report.pdf.unknownext", DEF);
    check_type(table, "page.html.bak", DEF);
    check_type(table, "..png", "image/png");
    check_type(table, "/dir/.hidden.css", "text/css");
    check_type(NULL, "archive.tar.gz", "application/gzip");
}
END_TEST


START_TEST(no_extension)
{
    check_type(table, "", DEF);
    check_type(table, "/", DEF);
    check_type(table, "Makefile", DEF);
    check_type(table, "/a/b/README", DEF);
    check_type(table, "/dir.html/file", DEF);
    check_type(table, "/dir.d/", DEF);
    check_type(table, "file.", DEF);
    check_type(table, "/x/file.", DEF);
    check_type(table, ".html", DEF);
    check_type(table, "/a/.css", DEF);
    check_type(table, "/a/.profile", DEF);
    check_type(NULL, ".json", DEF);
    check_type(NULL, "noext", DEF);
}
END_TEST


START_TEST(unknown)
{
    char  name[128];

    check_type(table, "x.unknownext", DEF);
    check_type(table, "x.h", DEF);
    check_type(NULL, "x.nothing", DEF);

    /* An extension longer than any in a table. */
    memset(name, 'a', sizeof(name) - 1);
    name[0] = 'x';
    name[1] = '.';
    name[sizeof(name) - 1] = '\0';
    check_type(table, name, DEF);
    check_type(NULL, name, DEF);
}
END_TEST


START_TEST(load_fixture)
{
    const char  *file;
    int          n;

    file = write_fixture(
        "# a comment line\n"
        "\n"
        "   \t  \n"
        "text/x-cairn\t\tcairn CRN .dotted\n"
        "application/x-first    dup\n"
        "application/x-second   dup other\n"
        "text/x-html-override   html  # trailing comment names htm\n"
        "image/x-commented      # only a comment: no extensions\n"
        "application/no-extensions\n"
        "notatype               bad1\n"
        "a/b/c                  bad2\n"
        "text/x-quoted\"        bad3\n"
        "  image/x-indented     ind\n"
        "video/x-last           last");

    n = mod_static_mime_load(table, file);

    /* cairn crn dotted dup dup other html ind last */
    ck_assert_int_eq(n, 9);

    check_type(table, "a.cairn", "text/x-cairn");
    check_type(table, "a.CRN", "text/x-cairn");
    check_type(table, "a.crn", "text/x-cairn");
    check_type(table, "a.dotted", "text/x-cairn");
    check_type(table, "a.dup", "application/x-first");
    check_type(table, "a.other", "application/x-second");
    check_type(table, "a.ind", "image/x-indented");
    check_type(table, "a.last", "video/x-last");

    /* The file replaces a built-in type; the comment did not count. */
    check_type(table, "a.html", "text/x-html-override");
    check_type(table, "a.htm", "text/html");

    check_type(table, "a.bad1", DEF);
    check_type(table, "a.bad2", DEF);
    check_type(table, "a.bad3", DEF);
    check_type(table, "a.comment", DEF);

    /* Built-in types the file does not mention stay. */
    check_type(table, "a.png", "image/png");
}
END_TEST


START_TEST(load_twice)
{
    const char  *file;

    /* A later load replaces what an earlier one said. */
    file = write_fixture("text/x-one one\n");
    ck_assert_int_eq(mod_static_mime_load(table, file), 1);
    check_type(table, "a.one", "text/x-one");
    unlink(fixture);

    file = write_fixture("text/x-two one\n");
    ck_assert_int_eq(mod_static_mime_load(table, file), 1);
    check_type(table, "a.one", "text/x-two");
}
END_TEST


START_TEST(load_long_line)
{
    char    *text;
    size_t   i, len;
    char     name[32];

    /* One line naming 2000 extensions: the table grows as it fills. */
    text = malloc(2000 * 16 + 64);
    ck_assert_ptr_nonnull(text);
    len = (size_t) sprintf(text, "application/x-many");
    for (i = 0; i < 2000; i++) {
        len += (size_t) sprintf(text + len, " e%zu", i);
    }
    text[len++] = '\n';
    text[len] = '\0';

    ck_assert_int_eq(mod_static_mime_load(table, write_fixture(text)), 2000);
    free(text);

    for (i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "f.E%zu", i);
        check_type(table, name, "application/x-many");
    }
    check_type(table, "f.e2000", DEF);
    check_type(table, "f.html", "text/html");
}
END_TEST


START_TEST(load_missing)
{
    int  n;

    errno = 0;
    n = mod_static_mime_load(table, "/nonexistent/cairn/mime.types");
    ck_assert_int_eq(n, -1);
    ck_assert_int_eq(errno, ENOENT);

    /* The table still answers with its built-in types. */
    check_type(table, "a.css", "text/css");
}
END_TEST


START_TEST(load_system)
{
    int  n;

    if (access("/etc/mime.types", R_OK) != 0) {
        return;
    }

    n = mod_static_mime_load(table, "/etc/mime.types");
    ck_assert_int_gt(n, 100);
    ck_assert_uint_gt(mod_static_mime_count(table), 100);
    check_type(table, "index.html", "text/html");
    check_type(table, "a.png", "image/png");
    check_type(table, "a.tar.gz", "application/gzip");
}
END_TEST


START_TEST(add)
{
    char  long_type[MOD_STATIC_MIME_TYPE_MAX + 2];

    ck_assert_int_eq(mod_static_mime_add(table, "Foo", "text/x-foo"), 0);
    check_type(table, "a.foo", "text/x-foo");
    check_type(table, "a.FOO", "text/x-foo");

    ck_assert_int_eq(mod_static_mime_add(table, ".bar", "text/x-bar"), 0);
    check_type(table, "a.bar", "text/x-bar");

    /* A later add replaces. */
    ck_assert_int_eq(mod_static_mime_add(table, "foo", "text/x-foo2"), 0);
    check_type(table, "a.foo", "text/x-foo2");
    ck_assert_int_eq(mod_static_mime_add(table, "png", "image/x-png"), 0);
    check_type(table, "a.png", "image/x-png");

    ck_assert_int_eq(mod_static_mime_add(table, "", "text/plain"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "a/b", "text/plain"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "a b", "text/plain"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "ok", "noslash"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "ok", "/text"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "ok", "text/"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "ok", "text/a;b"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "ok", "text/a\r\nX: y"), -1);
    ck_assert_int_eq(mod_static_mime_add(table, "ok",
                                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/b"),
                     0);

    memset(long_type, 'a', sizeof(long_type) - 1);
    long_type[1] = '/';
    long_type[sizeof(long_type) - 1] = '\0';
    ck_assert_int_eq(mod_static_mime_add(table, "long", long_type), -1);
    ck_assert_int_eq(mod_static_mime_add(table,
                                         "abcdefghijklmnopqrstuvwxyz0123456",
                                         "text/plain"), -1);
}
END_TEST


START_TEST(is_text)
{
    ck_assert(mod_static_mime_is_text("text/html"));
    ck_assert(mod_static_mime_is_text("text/plain"));
    ck_assert(mod_static_mime_is_text("TEXT/CSS"));
    ck_assert(mod_static_mime_is_text("application/javascript"));
    ck_assert(mod_static_mime_is_text("Application/JSON"));
    ck_assert(mod_static_mime_is_text("application/json; x=y"));
    ck_assert(!mod_static_mime_is_text("application/jsonx"));
    ck_assert(!mod_static_mime_is_text("application/json+x"));
    ck_assert(!mod_static_mime_is_text("application/javascrip"));
    ck_assert(!mod_static_mime_is_text("application/octet-stream"));
    ck_assert(!mod_static_mime_is_text("image/png"));
    ck_assert(!mod_static_mime_is_text("texts/x"));
    ck_assert(!mod_static_mime_is_text(""));
}
END_TEST


static Suite *
mime_suite(void)
{
    const unit_case_t  cases[] = {
        { "builtin", builtin, 0 },
        { "case_insensitive", case_insensitive, 0 },
        { "multi_dot", multi_dot, 0 },
        { "no_extension", no_extension, 0 },
        { "unknown", unknown, 0 },
        { "load_fixture", load_fixture, 0 },
        { "load_twice", load_twice, 0 },
        { "load_long_line", load_long_line, 0 },
        { "load_missing", load_missing, 0 },
        { "load_system", load_system, 0 },
        { "add", add, 0 },
        { "is_text", is_text, 0 },
    };

    return unit_suite("mime", cases, UNIT_NCASES(cases), setup, teardown);
}


int
main(void)
{
    return unit_run(mime_suite());
}
