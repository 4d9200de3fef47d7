/*
 * modules/auth/auth_require.c: Require rules and their evaluation.
 *
 * A location's rules form a tree: groups (<RequireAny>, <RequireAll>,
 * and the implicit "any" of several Require lines) over leaves (one
 * Require line each).  A leaf that depends on the user says NO_USER
 * while nobody is authenticated, so that the caller can tell "ask for
 * credentials" (401) from "no" (403).
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"


static int mod_auth_req_leaf(const mod_auth_req_t *n,
                             const mod_auth_who_t *who);
static int mod_auth_claim_match(const json_t *claims, const char *name,
                                const char *value);


mod_auth_req_t *
mod_auth_req_group(cairn_arena_t *a, mod_auth_req_kind_t kind,
                   const char *file, int line)
{
    mod_auth_req_t  *g;

    g = cairn_arena_calloc(a, sizeof(*g));
    g->kind = kind;
    g->file = file;
    g->line = line;

    return g;
}


void
mod_auth_req_add(cairn_arena_t *a, mod_auth_req_t *g, mod_auth_req_t *child)
{
    mod_auth_req_t  **v;

    v = cairn_arena_alloc(a, (g->nchild + 1) * sizeof(*v));
    if (g->nchild > 0) {
        memcpy(v, g->child, g->nchild * sizeof(*v));
    }
    v[g->nchild++] = child;
    g->child = v;
}


int
mod_auth_cidr_parse(const char *s, mod_auth_cidr_t *c)
{
    char           buf[INET6_ADDRSTRLEN + 8];
    const char    *slash;
    char          *end;
    size_t         len, i;
    unsigned long  bits;
    unsigned       maxbits, full, rest;

    slash = strchr(s, '/');
    len = slash != NULL ? (size_t) (slash - s) : strlen(s);
    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';

    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        maxbits = 128;
    } else {
        return -1;
    }

    bits = maxbits;
    if (slash != NULL) {
        if (slash[1] < '0' || slash[1] > '9') {
            return -1;
        }
        bits = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || bits > maxbits) {
            return -1;
        }
    }
    c->bits = (unsigned) bits;

    /* A mapped IPv6 rule (::ffff:10.0.0.0/104) is an IPv4 rule. */
    if (c->family == AF_INET6 && c->bits >= 96
        && IN6_IS_ADDR_V4MAPPED((struct in6_addr *) c->addr))
    {
        memmove(c->addr, c->addr + 12, 4);
        memset(c->addr + 4, 0, 12);
        c->family = AF_INET;
        c->bits -= 96;
    }

    /* Host bits are cleared: 10.1.2.3/8 means 10.0.0.0/8. */
    full = c->bits / 8;
    rest = c->bits % 8;
    for (i = full; i < 16; i++) {
        if (i == full && rest != 0) {
            c->addr[i] &= (unsigned char) (0xff << (8 - rest));
        } else {
            c->addr[i] = 0;
        }
    }

    return 0;
}


int
mod_auth_cidr_match(const mod_auth_cidr_t *c, const struct sockaddr *addr)
{
    const unsigned char  *a;
    unsigned              full, rest;
    int                   family;

    if (addr == NULL) {
        return 0;
    }

    if (addr->sa_family == AF_INET) {
        a = (const unsigned char *)
            &((const struct sockaddr_in *) (const void *) addr)->sin_addr;
        family = AF_INET;
    } else if (addr->sa_family == AF_INET6) {
        a = (const unsigned char *)
            &((const struct sockaddr_in6 *) (const void *) addr)->sin6_addr;
        family = AF_INET6;
        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *) (const void *) a)) {
            a += 12;
            family = AF_INET;
        }
    } else {
        return 0;
    }

    if (family != c->family) {
        return 0;
    }

    full = c->bits / 8;
    rest = c->bits % 8;
    if (memcmp(a, c->addr, full) != 0) {
        return 0;
    }
    if (rest != 0
        && (a[full] & (unsigned char) (0xff << (8 - rest))) != c->addr[full])
    {
        return 0;
    }

    return 1;
}


mod_auth_req_t *
mod_auth_req_parse(cairn_arena_t *a, int argc, char **argv, const char **err)
{
    mod_auth_req_t  *n;
    int              i;

    if (argc < 1) {
        *err = "Require needs a rule: valid-user, user, ip, all or claim";
        return NULL;
    }

    n = cairn_arena_calloc(a, sizeof(*n));

    if (strcasecmp(argv[0], "valid-user") == 0) {
        if (argc != 1) {
            *err = "Require valid-user takes no further arguments";
            return NULL;
        }
        n->kind = MOD_AUTH_REQ_VALID_USER;
        return n;
    }

    if (strcasecmp(argv[0], "all") == 0) {
        if (argc != 2 || (strcasecmp(argv[1], "granted") != 0
                          && strcasecmp(argv[1], "denied") != 0))
        {
            *err = "Require all takes one argument: granted or denied";
            return NULL;
        }
        n->kind = strcasecmp(argv[1], "granted") == 0 ? MOD_AUTH_REQ_GRANTED
                                                       : MOD_AUTH_REQ_DENIED;
        return n;
    }

    if (strcasecmp(argv[0], "user") == 0) {
        if (argc < 2) {
            *err = "Require user needs at least one user name";
            return NULL;
        }
        n->kind = MOD_AUTH_REQ_USER;
        n->nnames = (size_t) (argc - 1);
        n->names = cairn_arena_alloc(a, n->nnames * sizeof(char *));
        for (i = 1; i < argc; i++) {
            n->names[i - 1] = cairn_arena_strdup(a, argv[i]);
        }
        return n;
    }

    if (strcasecmp(argv[0], "claim") == 0) {
        if (argc != 3 || argv[1][0] == '\0') {
            *err = "Require claim takes two arguments: NAME VALUE";
            return NULL;
        }
        n->kind = MOD_AUTH_REQ_CLAIM;
        n->nnames = 2;
        n->names = cairn_arena_alloc(a, 2 * sizeof(char *));
        n->names[0] = cairn_arena_strdup(a, argv[1]);
        n->names[1] = cairn_arena_strdup(a, argv[2]);
        return n;
    }

    if (strcasecmp(argv[0], "ip") == 0) {
        if (argc < 2) {
            *err = "Require ip needs at least one address or network";
            return NULL;
        }
        n->kind = MOD_AUTH_REQ_IP;
        n->ncidr = (size_t) (argc - 1);
        n->cidr = cairn_arena_alloc(a, n->ncidr * sizeof(mod_auth_cidr_t));
        for (i = 1; i < argc; i++) {
            if (mod_auth_cidr_parse(argv[i], &n->cidr[i - 1]) != 0) {
                *err = cairn_arena_printf(a, "Require ip: '%s' is not an "
                                          "IPv4 or IPv6 address or network "
                                          "(ADDRESS or ADDRESS/BITS)",
                                          argv[i]);
                return NULL;
            }
        }
        return n;
    }

    *err = cairn_arena_printf(a, "unknown Require rule '%s' (want "
                              "valid-user, user, ip, all or claim)", argv[0]);

    return NULL;
}


static int
mod_auth_claim_match(const json_t *claims, const char *name,
                     const char *value)
{
    const json_t  *v, *item;
    size_t         i;

    v = json_object_get(claims, name);
    if (json_is_string(v)) {
        return strcmp(json_string_value(v), value) == 0;
    }

    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            if (json_is_string(item)
                && strcmp(json_string_value(item), value) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


static int
mod_auth_req_leaf(const mod_auth_req_t *n, const mod_auth_who_t *who)
{
    size_t  i;

    switch (n->kind) {
    case MOD_AUTH_REQ_GRANTED:
        return MOD_AUTH_GRANTED;

    case MOD_AUTH_REQ_DENIED:
        return MOD_AUTH_DENIED;

    case MOD_AUTH_REQ_IP:
        for (i = 0; i < n->ncidr; i++) {
            if (mod_auth_cidr_match(&n->cidr[i], who->addr)) {
                return MOD_AUTH_GRANTED;
            }
        }
        return MOD_AUTH_DENIED;

    default:
        break;
    }

    if (!who->authenticated) {
        return MOD_AUTH_NO_USER;
    }

    switch (n->kind) {
    case MOD_AUTH_REQ_VALID_USER:
        return MOD_AUTH_GRANTED;

    case MOD_AUTH_REQ_USER:
        for (i = 0; who->user != NULL && i < n->nnames; i++) {
            if (strcmp(who->user, n->names[i]) == 0) {
                return MOD_AUTH_GRANTED;
            }
        }
        return MOD_AUTH_DENIED;

    case MOD_AUTH_REQ_CLAIM:
        return who->claims != NULL
               && mod_auth_claim_match(who->claims, n->names[0], n->names[1])
               ? MOD_AUTH_GRANTED : MOD_AUTH_DENIED;

    default:
        return MOD_AUTH_DENIED;
    }
}


int
mod_auth_req_eval(const mod_auth_req_t *n, const mod_auth_who_t *who)
{
    size_t  i;
    int     rc, no_user;

    if (n->kind != MOD_AUTH_REQ_ANY && n->kind != MOD_AUTH_REQ_ALL) {
        return mod_auth_req_leaf(n, who);
    }

    no_user = 0;
    for (i = 0; i < n->nchild; i++) {
        rc = mod_auth_req_eval(n->child[i], who);
        if (n->kind == MOD_AUTH_REQ_ANY && rc == MOD_AUTH_GRANTED) {
            return MOD_AUTH_GRANTED;
        }
        if (n->kind == MOD_AUTH_REQ_ALL && rc == MOD_AUTH_DENIED) {
            return MOD_AUTH_DENIED;
        }
        no_user |= rc == MOD_AUTH_NO_USER;
    }

    if (no_user) {
        return MOD_AUTH_NO_USER;
    }

    if (n->kind == MOD_AUTH_REQ_ALL) {
        return n->nchild > 0 ? MOD_AUTH_GRANTED : MOD_AUTH_DENIED;
    }

    return MOD_AUTH_DENIED;
}


const char *
mod_auth_req_check(cairn_arena_t *a, const mod_auth_req_t *n, int *uses_user)
{
    const char  *err;
    size_t       i;

    switch (n->kind) {
    case MOD_AUTH_REQ_ANY:
    case MOD_AUTH_REQ_ALL:
        if (n->nchild == 0) {
            return cairn_arena_printf(a, "%s:%d: <%s> holds no Require rule",
                                      n->file ? n->file : "?", n->line,
                                      n->kind == MOD_AUTH_REQ_ANY
                                      ? "RequireAny" : "RequireAll");
        }
        for (i = 0; i < n->nchild; i++) {
            err = mod_auth_req_check(a, n->child[i], uses_user);
            if (err != NULL) {
                return err;
            }
        }
        return NULL;

    case MOD_AUTH_REQ_VALID_USER:
    case MOD_AUTH_REQ_USER:
    case MOD_AUTH_REQ_CLAIM:
        *uses_user = 1;
        return NULL;

    default:
        return NULL;
    }
}
