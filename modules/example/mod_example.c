/*
 * mod_example: answers with a configured greeting; the module to copy
 * when writing one of your own (see README.md and docs/module-guide.md).
 *
 *     ExampleRoute /hello/:name
 *     GET /hello/alice   ->  200 text/plain "hello, alice\n"
 *
 *     <Location /greet>
 *         ExampleEnabled on
 *     </Location>
 *     GET /greet/x       ->  200 text/plain "hello\n"
 *
 * Any method but GET and HEAD gets 405 with "Allow: GET, HEAD".
 *
 * Directives: ExampleGreeting "text"  server, location  default "hello"
 *             ExampleEnabled on|off   location          default off
 *             ExampleRoute PATTERN    server, vhost     adds a route; the
 *                                     ":name" parameter, if the pattern
 *                                     has one, is greeted by name
 * Hooks:      handler (MIDDLE)
 */

#include <string.h>

#include <cairn/cairn.h>


typedef struct {
    const char  *greeting;
    int          enabled;
    const char  *route;         /* the last ExampleRoute, for -T */
} mod_example_conf_t;


static int mod_example_handler(cairn_request_t *r);
static void *mod_example_create_conf(cairn_arena_t *a);
static const char *mod_example_set_route(cairn_cmd_t *cmd, void *conf,
                                         int argc, char **argv);
static int mod_example_not_allowed(cairn_request_t *r);


static const cairn_directive_t  mod_example_directives[] = {
    CAIRN_DIRECTIVE_ONE("ExampleGreeting", mod_example_conf_t, greeting,
                        CAIRN_SCOPE_SERVER | CAIRN_SCOPE_LOCATION,
                        CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_FLAG("ExampleEnabled", mod_example_conf_t, enabled,
                         CAIRN_SCOPE_LOCATION, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_CUSTOM("ExampleRoute", CAIRN_ARGS_ONE,
                           mod_example_conf_t, route,
                           CAIRN_SCOPE_SERVER | CAIRN_SCOPE_VHOST,
                           CAIRN_MERGE_NONE, mod_example_set_route),
    CAIRN_DIRECTIVE_END
};


/* The defaults -T --explain shows for directives it cannot read, in
 * the order of the table above (ABI 1.1). */
static const char *const  mod_example_defaults[] = {
    NULL,
    NULL,
    "(none)",
};


/* The hooks, declared (ABI 1.2); a module whose hooks depend on its
 * configuration registers them from register_hooks instead. */
static const cairn_hook_decl_t  mod_example_hooks[] = {
    CAIRN_HOOK_HANDLER(mod_example_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(example) = {
    CAIRN_MODULE_HEADER,            /* magic, ABI major/minor, size */
    .name           = "example",
    .version        = "1.0.0",
    .description    = "answers with a configured greeting",
    .directives     = mod_example_directives,
    .create_conf    = mod_example_create_conf,  /* no merge: declared above */
    .directive_defaults = mod_example_defaults,
    .hooks          = mod_example_hooks,
};


/*
 * Answers when one of our routes matched, or anywhere ExampleEnabled is
 * on; declines everything else so other handlers (or the core's 404) get
 * their turn.
 */
static int
mod_example_handler(cairn_request_t *r)
{
    const mod_example_conf_t  *conf;
    const char                *name, *body;
    cairn_method_t             method;

    conf = cairn_request_conf(r, &mod_example_module);

    if (cairn_request_route(r, &mod_example_module) == NULL
        && !conf->enabled)
    {
        return CAIRN_DECLINED;
    }

    method = cairn_request_method(r);
    if (method != CAIRN_METHOD_GET && method != CAIRN_METHOD_HEAD) {
        return mod_example_not_allowed(r);
    }

    name = cairn_request_param(r, "name");

    if (name != NULL && name[0] != '\0') {
        body = cairn_arena_printf(cairn_request_arena(r), "%s, %s\n",
                                  conf->greeting, name);
    } else {
        body = cairn_arena_printf(cairn_request_arena(r), "%s\n",
                                  conf->greeting);
    }

    return cairn_respond(r, 200, "text/plain", body, strlen(body));
}


static void *
mod_example_create_conf(cairn_arena_t *a)
{
    mod_example_conf_t  *conf;

    conf = cairn_arena_calloc(a, sizeof(mod_example_conf_t));
    conf->greeting = "hello";
    conf->enabled = 0;
    conf->route = NULL;

    return conf;
}


/*
 * ExampleRoute PATTERN: the route takes every method, so the handler
 * answers 405 itself, the same way under a route as in a location.  The
 * pattern (owned by the config arena) doubles as the route's data, which
 * is how the handler recognises its own routes.
 */
static const char *
mod_example_set_route(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_example_conf_t  *c = conf;

    c->route = argv[0];

    return cairn_route_add(cmd, argv[0], CAIRN_M_ANY, &mod_example_module,
                           argv[0]);
}


static int
mod_example_not_allowed(cairn_request_t *r)
{
    return cairn_respond_not_allowed(r, CAIRN_M(CAIRN_METHOD_GET));
}
