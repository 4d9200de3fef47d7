/*
 * cairn/router.h: routes matched by the core router.
 *
 * A module adds routes while its directives are parsed (or from
 * post_config).  A pattern is a path made of segments:
 *
 *   /users            a static segment matches itself
 *   /users/:id        ":name" matches one non-empty segment
 *   *name             as the last segment, matches the rest of the path,
 *                     maybe empty ("/files/" then "*rest")
 *
 * On each request the core router runs in the ROUTE phase (before any
 * module's ROUTE hook) and picks the most specific match: at each
 * segment a static segment beats a parameter, and a parameter beats a
 * wildcard.  The winner's parameters are available through
 * cairn_request_param(), and its owner finds its data with
 * cairn_request_route().  A route restricted to some methods that
 * matches the path but not the method makes the core answer 405 with an
 * Allow header, unless another handler answers.
 */

#ifndef CAIRN_ROUTER_H
#define CAIRN_ROUTER_H

#include <cairn/defs.h>

/*
 * Adds a route in the virtual host being parsed.  methods is a mask of
 * CAIRN_M(CAIRN_METHOD_x) or CAIRN_M_ANY.  Returns NULL or an error
 * message (a malformed pattern, or the same pattern and method added
 * twice).
 */
CAIRN_API const char *cairn_route_add(cairn_cmd_t *cmd, const char *pattern,
                                      unsigned methods,
                                      const cairn_module_t *m, void *data);

#endif /* CAIRN_ROUTER_H */
