/*
 * cairn/module.h: the module descriptor.
 *
 * A module is one shared object that exports one symbol,
 * mod_<name>_module, a cairn_module_t filled with designated
 * initialisers:
 *
 *     CAIRN_MODULE(hello) = {
 *         CAIRN_MODULE_HEADER,
 *         .version        = "1.0.0",
 *         .directives     = mod_hello_directives,
 *         .create_conf    = mod_hello_create_conf,
 *         .register_hooks = mod_hello_register,
 *     };
 *
 * `LoadModule hello` opens ModuleDir/mod_hello.so and looks up
 * mod_hello_module.  The loader checks the magic and the ABI stamp before
 * touching anything else, so a module built for another cairn is refused
 * with a sentence that says how to rebuild it.
 */

#ifndef CAIRN_MODULE_H
#define CAIRN_MODULE_H

#include <cairn/defs.h>
#include <cairn/arena.h>
#include <cairn/version.h>

#define CAIRN_MODULE_MAGIC  0x4e524143u     /* "CARN" little-endian */

struct cairn_module_s {
    /* Stamped by CAIRN_MODULE_HEADER; checked first by the loader. */
    uint32_t                  magic;
    uint16_t                  abi_major;
    uint16_t                  abi_minor;
    uint32_t                  size;         /* sizeof(cairn_module_t) */

    /* Owned by the core: the module's slot in per-scope config and
     * per-request context.  Never set or read it. */
    int32_t                   index;

    /* The module's short name ("static").  NULL: taken from LoadModule. */
    const char               *name;
    const char               *version;
    const char               *description;

    /* NULL-terminated names of modules that must be loaded first. */
    const char *const        *requires;

    /* Directive table ending with CAIRN_DIRECTIVE_END (config.h). */
    const cairn_directive_t  *directives;

    /*
     * Returns a new configuration with defaults, allocated from a.
     * Called for the server scope and for every virtual host and location,
     * before any directive of that scope is applied.  NULL when the module
     * has no configuration.
     */
    void                   *(*create_conf)(cairn_arena_t *a);

    /*
     * Optional.  The core merges every directive of the table by its
     * declared merge mode into `merged` (a fresh create_conf() result);
     * this callback then merges whatever state the table does not
     * describe.  parent is the enclosing scope, child the inner one.
     * Returns NULL or an error message.
     */
    const char             *(*merge_conf)(cairn_arena_t *a, const void *parent,
                                          const void *child, void *merged);

    /* Registers the module's hooks (hooks.h).  Returns CAIRN_OK or
     * CAIRN_ERROR. */
    int                     (*register_hooks)(cairn_module_t *m);

    /*
     * ABI 1.1, optional: each directive's default as it would be written
     * ("index.html", "inside", "none"), at the same index as in
     * `directives`.  Needed only for CAIRN_TYPE_CUSTOM directives (and
     * sections), whose fields only the module can read; the core shows
     * the built-in types itself.  NULL entries: not described.  `cairnd
     * -T --explain` shows them for directives that are not set.
     */
    const char *const        *directive_defaults;

    /*
     * ABI 1.2, optional: the module's hooks as a table ending with
     * CAIRN_HOOK_END (hooks.h), registered by the loader before
     * register_hooks is called.  A module may use either or both.
     */
    const struct cairn_hook_decl_s  *hooks;

    /*
     * ABI 1.3, optional: the methods the module's handler would serve
     * for r, as a mask of CAIRN_M() bits (request.h), or 0 when it would
     * decline r whatever its method.  The core asks before it reads a
     * request body for the handlers (after FIXUPS): going through the
     * handlers in their order, the first module that gives a mask
     * decides, and if r's method is not in it, r is answered 405 with
     * that mask in Allow at once, without reading the body or sending
     * 100 Continue.  A handler ahead of it without this field means the
     * core cannot know: the body is read as usual.  Called on the loop
     * with r's headers, path, location and route known; it must not
     * answer r, block, or change anything.
     */
    unsigned                (*handler_methods)(cairn_request_t *r);
};

#define CAIRN_MODULE_HEADER                                                  \
    .magic = CAIRN_MODULE_MAGIC,                                             \
    .abi_major = CAIRN_ABI_MAJOR,                                            \
    .abi_minor = CAIRN_ABI_MINOR,                                            \
    .size = sizeof(cairn_module_t),                                          \
    .index = -1

#define CAIRN_MODULE(name)                                                   \
    CAIRN_EXPORT cairn_module_t mod_##name##_module;                         \
    cairn_module_t mod_##name##_module

/*
 * Returns the loaded module called name ("static"), or NULL.  Prefer
 * providers (provider.h) for using another module's services.
 */
CAIRN_API const cairn_module_t *cairn_module_find(const char *name);

/* The cairn version string of the running core. */
CAIRN_API const char *cairn_version(void);

#endif /* CAIRN_MODULE_H */
