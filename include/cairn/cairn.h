/*
 * cairn/cairn.h: everything a module includes.
 *
 * The module API of the cairn HTTP server.  A module includes this one
 * header and nothing from the core; docs/module-guide.md walks through
 * writing one, and modules/example/ is a complete module to copy.
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
