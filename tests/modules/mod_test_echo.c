/*
 * mod_test_echo: answers requests under /echo with what it received, so
 * the integration tests can see how the core parsed a request: the
 * method, the normalised path, the raw query and the body (de-chunked by
 * the core) come back verbatim.
 *
 *     POST /echo/a?x=1 with body "hi"  ->  200 text/plain
 *                                          "POST /echo/a\nquery=x=1\nhi"
 *
 * /echo/alloc?N allocates N MiB from the connection's arena (held until
 * the connection closes) in 64 KiB pieces, each written to, and answers
 * "allocated N MiB": the out-of-memory tests use it to make the worker
 * spend its reserve.
 *
 * Anything outside /echo is declined, so another handler (or the core's
 * 404) answers.  Built against the public API only, like a third-party
 * module.
 *
 * Directives: none
 * Hooks:      handler (FIRST + 5), so `cairnd -H` shows it sorted ahead
 *             of MIDDLE handlers loaded before it
 * Methods:    any under /echo, none elsewhere (handler_methods, so a
 *             handler after it can refuse a method before the body)
 */

#include <stdlib.h>
#include <string.h>

#include <cairn/cairn.h>


static int mod_test_echo_register(cairn_module_t *m);
static int mod_test_echo_handler(cairn_request_t *r);
static unsigned mod_test_echo_methods(cairn_request_t *r);
static int mod_test_echo_is_mine(const char *path);


CAIRN_MODULE(test_echo) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_echo",
    .version        = "1.0.0",
    .description    = "echoes the request under /echo (tests only)",
    .register_hooks = mod_test_echo_register,
    .handler_methods = mod_test_echo_methods,
};


static int
mod_test_echo_register(cairn_module_t *m)
{
    return cairn_hook_handler(m, mod_test_echo_handler, CAIRN_ORDER_FIRST, 5,
                              NULL, NULL);
}


static int
mod_test_echo_handler(cairn_request_t *r)
{
    cairn_arena_t  *a;
    const char     *path, *query, *body;
    char           *head, *out;
    size_t          head_len, body_len;

    path = cairn_request_path(r);

    if (path == NULL || !mod_test_echo_is_mine(path)) {
        return CAIRN_DECLINED;
    }

    a = cairn_request_arena(r);
    query = cairn_request_query(r);
    body = cairn_request_body(r, &body_len);

    if (strcmp(path, "/echo/alloc") == 0 && query != NULL) {
        cairn_arena_t  *ca = cairn_conn_arena(cairn_request_conn(r));
        long            mb = strtol(query, NULL, 10), i;

        for (i = 0; i < mb * 16; i++) {
            memset(cairn_arena_alloc(ca, 65536), 'x', 65536);
        }
        out = cairn_arena_printf(a, "allocated %ld MiB\n", mb);
        return cairn_respond(r, 200, "text/plain", out, strlen(out));
    }

    head = cairn_arena_printf(a, "%s %s\nquery=%s\n",
                              cairn_request_method_name(r), path,
                              query != NULL ? query : "");
    head_len = strlen(head);

    out = cairn_arena_alloc(a, head_len + body_len + 1);
    memcpy(out, head, head_len);
    if (body_len > 0) {
        memcpy(out + head_len, body, body_len);
    }
    out[head_len + body_len] = '\0';

    return cairn_respond(r, 200, "text/plain", out, head_len + body_len);
}


static unsigned
mod_test_echo_methods(cairn_request_t *r)
{
    const char  *path = cairn_request_path(r);

    if (path == NULL || !mod_test_echo_is_mine(path)) {
        return 0;
    }

    return ~0u;
}


/* "/echo" itself and everything below it, but not "/echoes". */
static int
mod_test_echo_is_mine(const char *path)
{
    if (strncmp(path, "/echo", 5) != 0) {
        return 0;
    }

    return path[5] == '\0' || path[5] == '/';
}
