/*
 * cairn/render.h: the rendering provider, ("render", "template").
 *
 * A module that turns JSON data into a page (mod_template) registers a
 * cairn_render_t under kind CAIRN_RENDER_PROVIDER and the name
 * CAIRN_RENDER_TEMPLATE, from a directive setter or post_config
 * (provider.h).  A module that produces JSON (mod_rest) looks it up in
 * post_config and, when a client prefers text/html, hands it the same
 * document it would have sent as JSON:
 *
 *     const cairn_render_t  *rp;
 *
 *     rp = cairn_provider_get(s, CAIRN_RENDER_PROVIDER,
 *                             CAIRN_RENDER_TEMPLATE);
 *     ...
 *     rc = rp->render(rp, r, "users/list", 200, envelope);
 *     if (rc == CAIRN_DECLINED) { ...answer with the JSON... }
 *     return rc;
 *
 * Rules:
 *
 *   - render() runs on the worker's loop thread, in the HANDLER phase
 *     (or from a callback of a suspended handler, before it resumes).
 *   - It answers the request itself: on success it has called
 *     cairn_respond() with `status`, a text/html (or the template's own)
 *     Content-Type and the rendered body, and returns CAIRN_OK.  Headers
 *     the caller set before the call (ETag, Location, Allow) are kept.
 *   - CAIRN_DECLINED: it produced nothing (no template of that name);
 *     the caller answers as it would have without a renderer.
 *   - A status >= 400 (a broken template: 500): nothing was sent; the
 *     caller returns or resumes with it.
 *   - data is only borrowed: take a reference (json_incref) to keep it
 *     past the call; the caller releases its own.  The data is the
 *     caller's whole response document; for mod_rest that is the
 *     envelope {"code", "message", "data"}.
 *   - template_name is relative to the renderer's own template
 *     directory; the renderer refuses names that climb out of it.
 *
 * The table starts with its size and version so that it can grow: check
 * CAIRN_RENDER_HAS(rp, member) before using a member added after
 * version 1.
 */

#ifndef CAIRN_RENDER_H
#define CAIRN_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <cairn/defs.h>

#define CAIRN_RENDER_PROVIDER       "render"
#define CAIRN_RENDER_TEMPLATE       "template"
#define CAIRN_RENDER_API_VERSION    1

/* Whether the provider's table is large enough to hold member. */
#define CAIRN_RENDER_HAS(rp, member)                                         \
    ((rp)->size >= offsetof(cairn_render_t, member) + sizeof((rp)->member)  \
     && (rp)->member != NULL)

typedef struct cairn_render_s  cairn_render_t;

struct cairn_render_s {
    uint32_t     size;          /* sizeof(cairn_render_t) of the provider */
    uint32_t     version;       /* CAIRN_RENDER_API_VERSION */
    const char  *name;          /* the provider's name, for messages */

    /*
     * Renders template_name with data and answers r with status (see the
     * rules above).  Returns CAIRN_OK, CAIRN_DECLINED or a status >= 400.
     */
    int        (*render)(const cairn_render_t *rp, cairn_request_t *r,
                         const char *template_name, int status,
                         json_t *data);

    /*
     * Whether template_name exists, for checks at post_config (a
     * resource naming a missing template fails `cairnd -t`).  1 or 0.
     * May be NULL: then names are only checked when rendering.
     */
    int        (*exists)(const cairn_render_t *rp, cairn_server_t *s,
                         const char *template_name);
};

#endif /* CAIRN_RENDER_H */
