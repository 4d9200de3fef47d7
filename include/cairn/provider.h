/*
 * cairn/provider.h: services that modules offer each other.
 *
 * A module never calls another module's symbols.  Instead it registers a
 * provider, a pointer to a table of functions or an object, under a kind
 * and a name: mod_mysql registers ("db", "<pool name>"), mod_template
 * ("render", "template").  A user looks it up by the same pair, normally
 * in post_config so that a missing provider fails `cairnd -t` with a
 * clear message.  The layout of what a provider points to is the
 * contract between the two modules; it belongs in a public header of the
 * providing module, versioned like the ABI.
 *
 * Providers belong to a configuration generation: register them from a
 * directive setter or post_config, never later.
 */

#ifndef CAIRN_PROVIDER_H
#define CAIRN_PROVIDER_H

#include <cairn/defs.h>

/* Registers provider under (kind, name).  Returns CAIRN_OK, or
 * CAIRN_ERROR when the pair is already taken. */
CAIRN_API int cairn_provider_register(cairn_server_t *s, const char *kind,
                                      const char *name, const void *provider);

/* The provider registered under (kind, name), or NULL. */
CAIRN_API const void *cairn_provider_get(cairn_server_t *s, const char *kind,
                                         const char *name);

#endif /* CAIRN_PROVIDER_H */
