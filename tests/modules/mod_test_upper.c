/*
 * mod_test_upper: an output filter that upper-cases text bodies, to prove
 * the filter chain on every kind of body: memory (an error page, a JSON
 * answer), files (mod_static) and streams (mod_test_async's /stream).
 *
 * Directives: TestUpper off|on|double|hold   any scope   default off
 *             on:     upper-case ASCII letters of text/... and
 *                     application/json bodies, buffer by buffer (the
 *                     length is kept)
 *             double: the same, each byte twice (the length changes: the
 *                     filter clears it and the body leaves chunked)
 *             hold:   like on, but every buffer is held back until the
 *                     last one and all are passed on at once
 *             Every response the filter takes part in says
 *             "X-Upper: <mode>"; others say "X-Upper: skipped" when the
 *             directive is on but the type is not text.
 * Handler:    GET /test-upper.json answers {"name": "value", "n": 1}
 *             (application/json, from memory, Accept-Ranges: bytes) where
 *             TestUpper is not off.
 *             /test-upper-error answers 416 with "Content-Range: bytes *"
 *             "/7" and the message "no <such> range" (the error page API),
 *             /test-upper-405 answers 405 allowing GET and POST.
 * Hooks:      handler (MIDDLE), header_filter, body_filter
 */

#include <string.h>
#include <strings.h>

#include <cairn/cairn.h>


typedef enum {
    MOD_TEST_UPPER_OFF = 0,
    MOD_TEST_UPPER_ON,
    MOD_TEST_UPPER_DOUBLE,
    MOD_TEST_UPPER_HOLD
} mod_test_upper_mode_t;

typedef struct {
    const char  *mode;                  /* NULL: off */
} mod_test_upper_conf_t;

/* A held-back body (hold). */
typedef struct {
    cairn_buf_t *head;
    cairn_buf_t *tail;
} mod_test_upper_ctx_t;


static void *mod_test_upper_create_conf(cairn_arena_t *a);
static int mod_test_upper_handler(cairn_request_t *r);
static int mod_test_upper_header(cairn_request_t *r);
static int mod_test_upper_body(cairn_request_t *r, cairn_filter_t *f,
                               cairn_buf_t *in);
static int mod_test_upper_mode(cairn_request_t *r);


static const cairn_directive_t  mod_test_upper_directives[] = {
    CAIRN_DIRECTIVE_ONE("TestUpper", mod_test_upper_conf_t, mode,
                        CAIRN_SCOPE_ANY, CAIRN_MERGE_REPLACE),
    CAIRN_DIRECTIVE_END
};


/* Declared in the descriptor (ABI 1.2): no register_hooks needed. */
static const cairn_hook_decl_t  mod_test_upper_hooks[] = {
    CAIRN_HOOK_HANDLER(mod_test_upper_handler, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_HEADER_FILTER(mod_test_upper_header, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_BODY_FILTER(mod_test_upper_body, CAIRN_ORDER_MIDDLE),
    CAIRN_HOOK_END
};


CAIRN_MODULE(test_upper) = {
    CAIRN_MODULE_HEADER,
    .name           = "test_upper",
    .version        = "1.0.0",
    .description    = "upper-cases text bodies in an output filter (tests)",
    .directives     = mod_test_upper_directives,
    .create_conf    = mod_test_upper_create_conf,
    .hooks          = mod_test_upper_hooks,
};


static void *
mod_test_upper_create_conf(cairn_arena_t *a)
{
    return cairn_arena_calloc(a, sizeof(mod_test_upper_conf_t));
}


static int
mod_test_upper_mode(cairn_request_t *r)
{
    const mod_test_upper_conf_t  *conf;

    conf = cairn_request_conf(r, &mod_test_upper_module);
    if (conf == NULL || conf->mode == NULL) {
        return MOD_TEST_UPPER_OFF;
    }
    if (strcasecmp(conf->mode, "on") == 0) {
        return MOD_TEST_UPPER_ON;
    }
    if (strcasecmp(conf->mode, "double") == 0) {
        return MOD_TEST_UPPER_DOUBLE;
    }
    if (strcasecmp(conf->mode, "hold") == 0) {
        return MOD_TEST_UPPER_HOLD;
    }

    return MOD_TEST_UPPER_OFF;
}


static int
mod_test_upper_handler(cairn_request_t *r)
{
    static const char  doc[] = "{\"name\": \"value\", \"n\": 1}\n";
    const char        *path = cairn_request_path(r);

    if (strcmp(path, "/test-upper-error") == 0) {
        /* The three-argument form keeps the caller's headers. */
        cairn_response_header_set(r, "Content-Range", "bytes */7");
        return cairn_respond_error(r, 416, "no <such> range");
    }
    if (strcmp(path, "/test-upper-405") == 0) {
        return cairn_respond_not_allowed(r, CAIRN_M(CAIRN_METHOD_GET)
                                            | CAIRN_M(CAIRN_METHOD_POST));
    }

    if (mod_test_upper_mode(r) == MOD_TEST_UPPER_OFF
        || strcmp(path, "/test-upper.json") != 0)
    {
        return CAIRN_DECLINED;
    }

    /* The core answers Range requests against the final body. */
    cairn_response_header_set(r, "Accept-Ranges", "bytes");

    return cairn_respond(r, 200, "application/json", doc, sizeof(doc) - 1);
}


static int
mod_test_upper_header(cairn_request_t *r)
{
    static const char *const  names[] = { "off", "on", "double", "hold" };
    const char               *type;
    int                       mode = mod_test_upper_mode(r);

    if (mode == MOD_TEST_UPPER_OFF) {
        return CAIRN_DECLINED;
    }

    type = cairn_response_header(r, "Content-Type");
    if (type == NULL || (strncasecmp(type, "text/", 5) != 0
                         && strncasecmp(type, "application/json", 16) != 0))
    {
        cairn_response_header_set(r, "X-Upper", "skipped");
        return CAIRN_DECLINED;
    }

    cairn_response_header_set(r, "X-Upper", names[mode]);
    cairn_response_header_unset(r, "ETag");
    if (mode == MOD_TEST_UPPER_DOUBLE) {
        cairn_response_clear_length(r);
        cairn_response_header_unset(r, "Accept-Ranges");
    }

    return CAIRN_OK;
}


static int
mod_test_upper_body(cairn_request_t *r, cairn_filter_t *f, cairn_buf_t *in)
{
    mod_test_upper_ctx_t  *ctx;
    cairn_buf_t           *b, *out, **tail;
    const unsigned char   *s;
    unsigned char         *d;
    size_t                 i, k;
    int                    mode = mod_test_upper_mode(r);

    out = NULL;
    tail = &out;

    for (b = in; b != NULL; b = b->next) {
        /* A file range is read a piece at a time; the rest of it follows
         * b in the list. */
        if (cairn_buf_read(r, b, 65536) != CAIRN_OK) {
            return CAIRN_ERROR;
        }

        k = mode == MOD_TEST_UPPER_DOUBLE ? 2 : 1;
        d = cairn_arena_alloc(cairn_request_arena(r), b->len * k + 1);
        s = b->data;
        for (i = 0; i < b->len; i++) {
            unsigned char  ch = s[i];

            if (ch >= 'a' && ch <= 'z') {
                ch = (unsigned char) (ch - 'a' + 'A');
            }
            d[i * k] = ch;
            if (k == 2) {
                d[i * k + 1] = ch;
            }
        }

        *tail = cairn_buf_memory(r, d, b->len * k);
        (*tail)->flags = b->flags;
        tail = &(*tail)->next;
    }

    if (mode != MOD_TEST_UPPER_HOLD) {
        return cairn_filter_next(r, f, out);
    }

    ctx = cairn_request_ctx(r, &mod_test_upper_module);
    if (ctx == NULL) {
        ctx = cairn_arena_calloc(cairn_request_arena(r), sizeof(*ctx));
        cairn_request_set_ctx(r, &mod_test_upper_module, ctx);
    }
    for (b = out; b != NULL; b = b->next) {
        if (ctx->tail != NULL) {
            ctx->tail->next = b;
        } else {
            ctx->head = b;
        }
        ctx->tail = b;
        if (b->flags & CAIRN_BUF_LAST) {
            b->next = NULL;
            return cairn_filter_next(r, f, ctx->head);
        }
    }

    return CAIRN_OK;
}
