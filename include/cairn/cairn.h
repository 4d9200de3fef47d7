/*
 * cairn/cairn.h: the module API of the cairn HTTP server, every header
 * of it but the provider contracts that need jansson.
 *
 * A module includes this one header and nothing from the core; a module
 * that uses a database or a template engine adds <cairn/db.h> or
 * <cairn/render.h> (and jansson's flags).  docs/module-guide.md walks
 * through writing one, and modules/example/ is a complete module to copy.
 *
 *   defs.h      status codes, return values, the opaque handles
 *   version.h   the version and the module ABI stamp
 *   arena.h     per-request and per-configuration memory, cleanups
 *   module.h    the module descriptor (cairn_module_t)
 *   config.h    directives, scopes, merging, value parsers
 *   hooks.h     request phases, server and connection hooks
 *   filter.h    output filters and body buffers
 *   request.h   the request and the response
 *   async.h     suspend and resume, cancellation, timers, the task pool,
 *               the event loop
 *   router.h    routes with parameters
 *   provider.h  named services between modules
 *   log.h       the error log
 *   metrics.h   the shared metrics registry
 *   encode.h    base64, JSON strings, UTF-8
 */

#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include <cairn/defs.h>
#include <cairn/version.h>
#include <cairn/arena.h>
#include <cairn/module.h>
#include <cairn/config.h>
#include <cairn/hooks.h>
#include <cairn/filter.h>
#include <cairn/request.h>
#include <cairn/async.h>
#include <cairn/router.h>
#include <cairn/provider.h>
#include <cairn/log.h>
#include <cairn/metrics.h>
#include <cairn/encode.h>

#endif /* CAIRN_CAIRN_H */
