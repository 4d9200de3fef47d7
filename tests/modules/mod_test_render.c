/*
 * mod_test_render: a ("render", "template") provider (cairn/render.h)
 * for the integration tests of content negotiation.
 *
 *     TestRender on
 *
 * render() answers with text/html: the template's name in <h1> and the
 * data as escaped JSON in <pre>.  A template called "missing" is
 * declined, "broken" fails with 500.
 *
 * Directives: TestRender on|off   server
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cairn/cairn.h>
#include <cairn/render.h>


typedef struct {
    int          on;
} mod_test_render_conf_t;


static void *mod_test_render_create_conf(cairn_arena_t *a);
static const char *mod_test_render_set(cairn_cmd_t *cmd, void *conf,
                                       int argc, char **argv);
static int mod_test_render_render(const cairn_render_t *rp,
                                  cairn_request_t *r,
                                  const char *template_name, int status,
                                  json_t *data);


static const cairn_render_t  mod_test_render_provider = {
    sizeof(cairn_render_t),
    CAIRN_RENDER_API_VERSION,
    "test_render",
    mod_test_render_render,
    NULL
};


static const cairn_directive_t  mod_test_render_directives[] = {
    CAIRN_DIRECTIVE_CUSTOM("TestRender", CAIRN_ARGS_FLAG,
                           mod_test_render_conf_t, on, CAIRN_SCOPE_SERVER,
                           CAIRN_MERGE_REPLACE, mod_test_render_set),
    CAIRN_DIRECTIVE_END
};


CAIRN_MODULE(test_render) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_render",
    .version        = "1.0.0",
    .description    = "a render provider (tests only)",
    .directives     = mod_test_render_directives,
    .create_conf    = mod_test_render_create_conf,
};


static void *
mod_test_render_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_test_render_conf_t));
}


static const char *
mod_test_render_set(cairn_cmd_t *cmd, void *conf, int argc, char **argv)
{
    mod_test_render_conf_t  *tc = conf;
    const char              *err;

    err = cairn_parse_flag(argv[0], &tc->on);
    if (err != NULL || !tc->on) {
        return err;
    }

    if (cairn_provider_register(cairn_cmd_server(cmd), CAIRN_RENDER_PROVIDER,
                                CAIRN_RENDER_TEMPLATE,
                                &mod_test_render_provider) != CAIRN_OK)
    {
        return "a render provider is already registered";
    }

    return NULL;
}


static int
mod_test_render_render(const cairn_render_t *rp, cairn_request_t *r,
                       const char *template_name, int status, json_t *data)
{
    cairn_arena_t  *a = cairn_request_arena(r);
    char           *json, *page;

    if (strcmp(template_name, "missing") == 0) {
        return CAIRN_DECLINED;
    }
    if (strcmp(template_name, "broken") == 0) {
        return 500;
    }

    json = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    if (json == NULL) {
        return 500;
    }
    page = cairn_arena_printf(a, "<!DOCTYPE html>\n<html><body><h1>%s</h1>"
                              "<pre>%s</pre></body></html>\n",
                              cairn_arena_html_escape(a, template_name),
                              cairn_arena_html_escape(a, json));
    free(json);

    return cairn_respond(r, status, "text/html; charset=utf-8", page,
                         strlen(page));
}
