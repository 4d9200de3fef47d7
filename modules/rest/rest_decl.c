/*
 * rest_decl.c: <Resource> declarations: fields, methods, the checks
 * `cairnd -t` makes, and the SQL text built once per resource.
 *
 * Identifiers (table, columns) come only from the configuration and are
 * checked against ^[A-Za-z_][A-Za-z0-9_]*$ before they are quoted with
 * backticks into statements; every value travels as a parameter.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rest.h"


static const char *const  rest_decl_types[] = {
    "string", "text", "int", "bigint", "number", "bool", "email",
    "datetime", "json", "decimal", "date"
};

#define REST_NTYPES  (sizeof(rest_decl_types) / sizeof(rest_decl_types[0]))


static const char *rest_decl_sql_type(cairn_arena_t *a,
                                      const rest_field_t *f);
static int rest_decl_is_text(rest_type_t t);
static int rest_decl_is_numeric(rest_type_t t);
static char *rest_decl_join(cairn_arena_t *a, const char *prefix,
                            const char *item, const char *sep);
static void rest_decl_idem_sql(cairn_arena_t *a, rest_resource_t *res);


int
rest_ident_ok(const char *s)
{
    const char  *p;

    if (s == NULL || *s == '\0' || strlen(s) > 64) {
        return 0;
    }
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
          || *s == '_'))
    {
        return 0;
    }
    for (p = s + 1; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            return 0;
        }
    }

    return 1;
}


const char *
rest_type_name(rest_type_t t)
{
    return (size_t) t < REST_NTYPES ? rest_decl_types[t] : "?";
}


static int
rest_decl_is_text(rest_type_t t)
{
    return t == REST_T_STRING || t == REST_T_TEXT || t == REST_T_EMAIL;
}


static int
rest_decl_is_numeric(rest_type_t t)
{
    return t == REST_T_INT || t == REST_T_BIGINT || t == REST_T_NUMBER
           || t == REST_T_DECIMAL;
}


rest_field_t *
rest_field_find(const rest_resource_t *res, const char *name)
{
    size_t  i;

    for (i = 0; i < res->nfields; i++) {
        if (strcmp(res->fields[i].name, name) == 0) {
            return &res->fields[i];
        }
    }

    return NULL;
}


/* Field name type [required] [unique] [max=N] [min=N] [pattern=RE]
 * [readonly] [writeonly] */
const char *
rest_field_add(cairn_arena_t *a, rest_resource_t *res, int argc, char **argv)
{
    rest_field_t  *f, *grown;
    const char    *opt, *err;
    char          *end;
    double         num;
    size_t         i;

    if (argc < 2) {
        return "Field takes a name, a type and options: Field name string "
               "required";
    }
    if (!rest_ident_ok(argv[0])) {
        return cairn_arena_printf(a, "Field name '%s' is not an identifier "
                                  "(letters, digits and _, not starting "
                                  "with a digit)", argv[0]);
    }
    if (rest_field_find(res, argv[0]) != NULL) {
        return cairn_arena_printf(a, "Field '%s' is declared twice",
                                  argv[0]);
    }

    if (res->nfields == res->cap) {
        res->cap = res->cap ? res->cap * 2 : 8;
        grown = cairn_arena_calloc(a, res->cap * sizeof(rest_field_t));
        if (res->nfields > 0) {
            memcpy(grown, res->fields, res->nfields * sizeof(rest_field_t));
        }
        res->fields = grown;
    }
    f = &res->fields[res->nfields];
    memset(f, 0, sizeof(*f));
    f->name = cairn_arena_strdup(a, argv[0]);

    for (i = 0; i < REST_NTYPES; i++) {
        if (strcmp(argv[1], rest_decl_types[i]) == 0) {
            break;
        }
    }
    if (i == REST_NTYPES && strncmp(argv[1], "decimal(", 8) == 0) {
        /* decimal(P,S), as in SQL. */
        int   pr, sc, n = 0;

        if (sscanf(argv[1], "decimal(%d,%d)%n", &pr, &sc, &n) != 2
            || argv[1][n] != '\0' || pr < 1 || pr > 65 || sc < 0
            || sc > 38 || sc > pr)
        {
            return cairn_arena_printf(a, "Field %s: '%s' is not a valid "
                                      "decimal(P,S): 1 <= P <= 65, "
                                      "0 <= S <= 38, S <= P", argv[0],
                                      argv[1]);
        }
        i = REST_T_DECIMAL;
        f->precision = pr;
        f->scale = sc;
        f->declared_ps = 1;
    }
    if (i == REST_NTYPES) {
        return cairn_arena_printf(a, "Field %s: unknown type '%s' (string, "
                                  "text, int, bigint, number, decimal, "
                                  "decimal(P,S), bool, email, date, "
                                  "datetime or json)", argv[0], argv[1]);
    }
    f->type = (rest_type_t) i;
    if (f->type == REST_T_DECIMAL && !f->declared_ps) {
        f->precision = REST_DECIMAL_PRECISION;
        f->scale = REST_DECIMAL_SCALE;
    }

    for (i = 2; i < (size_t) argc; i++) {
        opt = argv[i];
        if (strcmp(opt, "required") == 0) {
            f->flags |= REST_F_REQUIRED;
        } else if (strcmp(opt, "unique") == 0) {
            if (f->type == REST_T_TEXT || f->type == REST_T_JSON) {
                return cairn_arena_printf(a, "Field %s: a %s field cannot "
                                          "be unique", f->name,
                                          rest_type_name(f->type));
            }
            f->flags |= REST_F_UNIQUE;
        } else if (strcmp(opt, "readonly") == 0) {
            f->flags |= REST_F_READONLY;
        } else if (strcmp(opt, "writeonly") == 0) {
            f->flags |= REST_F_WRITEONLY;
        } else if (strcmp(opt, "as=string") == 0) {
            if (f->type != REST_T_DECIMAL) {
                return cairn_arena_printf(a, "Field %s: as=string applies "
                                          "only to decimal fields", f->name);
            }
            f->flags |= REST_F_AS_STRING;
        } else if (strncmp(opt, "max=", 4) == 0
                   || strncmp(opt, "min=", 4) == 0)
        {
            if (!rest_decl_is_text(f->type) && !rest_decl_is_numeric(f->type))
            {
                return cairn_arena_printf(a, "Field %s: %.3s= does not apply "
                                          "to a %s field", f->name, opt,
                                          rest_type_name(f->type));
            }
            num = strtod(opt + 4, &end);
            if (opt[4] == '\0' || *end != '\0' || !isfinite(num)
                || (rest_decl_is_text(f->type)
                    && (num < 0 || num != floor(num))))
            {
                return cairn_arena_printf(a, "Field %s: '%s' is not a valid "
                                          "number for %.3s=", f->name,
                                          opt + 4, opt);
            }
            if (opt[1] == 'a') {
                f->max = num;
                f->flags |= REST_F_MAX;
            } else {
                f->min = num;
                f->flags |= REST_F_MIN;
            }
        } else if (strncmp(opt, "pattern=", 8) == 0) {
            if (!rest_decl_is_text(f->type)) {
                return cairn_arena_printf(a, "Field %s: pattern= applies "
                                          "only to string, text and email "
                                          "fields", f->name);
            }
            f->pattern = cairn_arena_strdup(a, opt + 8);
            f->re = cairn_arena_calloc(a, sizeof(regex_t));
            err = cairn_regex_compile(a, f->re, f->pattern, REG_NOSUB);
            if (err != NULL) {
                return cairn_arena_printf(a, "Field %s: bad pattern '%s': "
                                          "%s", f->name, f->pattern, err);
            }
        } else {
            return cairn_arena_printf(a, "Field %s: unknown option '%s' "
                                      "(required, unique, max=N, min=N, "
                                      "pattern=RE, readonly, writeonly or, "
                                      "for decimal, as=string)",
                                      f->name, opt);
        }
    }

    if ((f->flags & REST_F_READONLY) && (f->flags & REST_F_WRITEONLY)) {
        return cairn_arena_printf(a, "Field %s cannot be both readonly and "
                                  "writeonly", f->name);
    }
    if ((f->flags & REST_F_MIN) && (f->flags & REST_F_MAX)
        && f->min > f->max)
    {
        return cairn_arena_printf(a, "Field %s: min= is larger than max=",
                                  f->name);
    }
    if (f->type == REST_T_STRING && (f->flags & REST_F_MAX)
        && f->max > REST_VARCHAR_LIMIT)
    {
        return cairn_arena_printf(a, "Field %s: a string holds at most %d "
                                  "characters; use text for longer values",
                                  f->name, REST_VARCHAR_LIMIT);
    }
    if (f->type == REST_T_INT
        && (((f->flags & REST_F_MAX) && fabs(f->max) > 2147483647.0)
            || ((f->flags & REST_F_MIN) && fabs(f->min) > 2147483648.0)))
    {
        return cairn_arena_printf(a, "Field %s: an int limit must fit in "
                                  "32 bits (use bigint)", f->name);
    }

    res->nfields++;

    return NULL;
}


const char *
rest_methods_parse(const char *name, unsigned *mask)
{
    static const struct {
        const char      *name;
        cairn_method_t   m;
    } known[] = {
        { "GET", CAIRN_METHOD_GET }, { "POST", CAIRN_METHOD_POST },
        { "PUT", CAIRN_METHOD_PUT }, { "PATCH", CAIRN_METHOD_PATCH },
        { "DELETE", CAIRN_METHOD_DELETE }
    };
    size_t  i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcasecmp(name, known[i].name) == 0) {
            *mask |= CAIRN_M(known[i].m);
            return NULL;
        }
    }

    return "Methods takes GET, POST, PUT, PATCH and DELETE (HEAD comes "
           "with GET, OPTIONS is always answered)";
}


const char *
rest_allow_header(cairn_arena_t *a, const rest_resource_t *res, int item)
{
    char      buf[96];
    unsigned  m = res->methods;

    buf[0] = '\0';
    if (m & CAIRN_M(CAIRN_METHOD_GET)) {
        strcat(buf, "GET, HEAD, ");
    }
    if (!item && (m & CAIRN_M(CAIRN_METHOD_POST))) {
        strcat(buf, "POST, ");
    }
    if (item && (m & CAIRN_M(CAIRN_METHOD_PUT))) {
        strcat(buf, "PUT, ");
    }
    if (item && (m & CAIRN_M(CAIRN_METHOD_PATCH))) {
        strcat(buf, "PATCH, ");
    }
    if (item && (m & CAIRN_M(CAIRN_METHOD_DELETE))) {
        strcat(buf, "DELETE, ");
    }
    strcat(buf, "OPTIONS");

    return cairn_arena_strdup(a, buf);
}


static const char *
rest_decl_sql_type(cairn_arena_t *a, const rest_field_t *f)
{
    switch (f->type) {
    case REST_T_STRING:
        return cairn_arena_printf(a, "VARCHAR(%d)", (f->flags & REST_F_MAX)
                                  ? (int) f->max : REST_STRING_MAX);
    case REST_T_EMAIL:
        return "VARCHAR(254)";
    case REST_T_TEXT:
        return "MEDIUMTEXT";
    case REST_T_INT:
        return "INT";
    case REST_T_BIGINT:
        return "BIGINT";
    case REST_T_NUMBER:
        return "DOUBLE";
    case REST_T_BOOL:
        return "TINYINT(1)";
    case REST_T_DATETIME:
        return "DATETIME";
    case REST_T_JSON:
        return "LONGTEXT";
    case REST_T_DECIMAL:
        return cairn_arena_printf(a, "DECIMAL(%d,%d)", f->precision,
                                  f->scale);
    case REST_T_DATE:
        return "DATE";
    }

    return "TEXT";
}


/* prefix + sep + item, or prefix + item when prefix is empty. */
static char *
rest_decl_join(cairn_arena_t *a, const char *prefix, const char *item,
               const char *sep)
{
    if (prefix == NULL || *prefix == '\0') {
        return cairn_arena_strdup(a, item);
    }

    return cairn_arena_printf(a, "%s%s%s", prefix, sep, item);
}


/*
 * The checks made when the section ends, and the statements.  Returns
 * NULL or a message.
 */
const char *
rest_resource_finish(cairn_arena_t *a, rest_resource_t *res)
{
    rest_field_t  *f, *key;
    rest_stmts_t  *v, *h;
    const char    *p;
    char          *cols = NULL, *icols = NULL, *ivals = NULL, *sets = NULL;
    char          *create = NULL, *col, *k;
    size_t         i;

    if (res->db_name == NULL) {
        return "<Resource> needs a Database (the name of a <Database> "
               "section)";
    }
    if (res->table == NULL) {
        return "<Resource> needs a Table";
    }
    if (res->key == NULL) {
        return "<Resource> needs a Key (the primary key column, declared "
               "with Field)";
    }
    if (res->nfields == 0) {
        return "<Resource> declares no Field";
    }
    key = rest_field_find(res, res->key);
    if (key == NULL) {
        return cairn_arena_printf(a, "Key %s is not a declared Field",
                                  res->key);
    }
    if (key->type != REST_T_INT && key->type != REST_T_BIGINT
        && key->type != REST_T_STRING && key->type != REST_T_EMAIL)
    {
        return cairn_arena_printf(a, "Key %s must be an int, bigint, string "
                                  "or email field", res->key);
    }
    if (key->flags & REST_F_WRITEONLY) {
        return cairn_arena_printf(a, "Key %s cannot be writeonly", res->key);
    }
    key->flags |= REST_F_KEY;
    if (key->type == REST_T_INT || key->type == REST_T_BIGINT) {
        key->flags |= REST_F_AUTO | REST_F_READONLY;
    } else {
        key->flags |= REST_F_REQUIRED;
    }
    res->key_index = (size_t) (key - res->fields);

    if (rest_field_find(res, res->version_col) != NULL) {
        return cairn_arena_printf(a, "Field %s clashes with the version "
                                  "column (change VersionColumn)",
                                  res->version_col);
    }

    for (i = 0; i < res->sortable.n; i++) {
        f = rest_field_find(res, res->sortable.v[i]);
        if (f == NULL) {
            return cairn_arena_printf(a, "Sortable names '%s', which is not "
                                      "a declared Field",
                                      res->sortable.v[i]);
        }
        if (f->flags & REST_F_WRITEONLY) {
            return cairn_arena_printf(a, "Sortable: %s is writeonly (its "
                                      "order would reveal it)", f->name);
        }
    }
    for (i = 0; i < res->filterable.n; i++) {
        f = rest_field_find(res, res->filterable.v[i]);
        if (f == NULL) {
            return cairn_arena_printf(a, "Filterable names '%s', which is "
                                      "not a declared Field",
                                      res->filterable.v[i]);
        }
        if (f->type == REST_T_JSON) {
            return cairn_arena_printf(a, "Filterable: %s is a json field",
                                      f->name);
        }
        if (f->flags & REST_F_WRITEONLY) {
            return cairn_arena_printf(a, "Filterable: %s is writeonly (a "
                                      "filter would reveal it)", f->name);
        }
    }
    if (res->from_user != NULL) {
        f = rest_field_find(res, res->from_user);
        if (f == NULL) {
            return cairn_arena_printf(a, "FieldFromUser names '%s', which "
                                      "is not a declared Field",
                                      res->from_user);
        }
        if (f->type != REST_T_STRING || (f->flags & REST_F_KEY)) {
            return cairn_arena_printf(a, "FieldFromUser %s must be a string "
                                      "field other than the Key", f->name);
        }
        f->flags |= REST_F_USER | REST_F_READONLY;
    }
    if (res->page_size < 1 || res->max_page_size < 1) {
        return "PageSize and MaxPageSize must be at least 1";
    }
    if (res->page_size > res->max_page_size) {
        return cairn_arena_printf(a, "PageSize %d is larger than "
                                  "MaxPageSize %d", res->page_size,
                                  res->max_page_size);
    }

    /* The statements. */
    for (i = 0; i < res->nfields; i++) {
        f = &res->fields[i];
        col = cairn_arena_printf(a, "`%s`", f->name);
        cols = rest_decl_join(a, cols, col, ", ");

        if (!(f->flags & REST_F_AUTO)
            && (!(f->flags & REST_F_READONLY)
                || (f->flags & (REST_F_USER | REST_F_KEY))))
        {
            icols = rest_decl_join(a, icols, col, ", ");
            ivals = rest_decl_join(a, ivals, "?", ", ");
            if (!(f->flags & REST_F_KEY)) {
                sets = rest_decl_join(a, sets,
                                      cairn_arena_printf(a, "%s = ?", col),
                                      ", ");
            }
        }

        create = rest_decl_join(a, create, cairn_arena_printf(
            a, "%s %s%s%s", col, rest_decl_sql_type(a, f),
            (f->flags & (REST_F_KEY | REST_F_REQUIRED))
            && !((f->flags & REST_F_READONLY) && !(f->flags & REST_F_KEY))
            ? " NOT NULL" : "",
            (f->flags & REST_F_AUTO) ? " AUTO_INCREMENT"
            : (f->type == REST_T_DATETIME && (f->flags & REST_F_READONLY))
            ? " DEFAULT CURRENT_TIMESTAMP" : ""), ",\n  ");
    }

    k = cairn_arena_printf(a, "`%s`", res->key);
    p = res->version_col;

    /* A string key is compared byte for byte: with the column's usual
     * case-insensitive, space-padding collation "/tags/ONE" and
     * "/tags/one%20" would name the row "one".  The first condition can
     * use the primary key's index; the key is bound twice. */
    if (key->type == REST_T_INT || key->type == REST_T_BIGINT) {
        res->sql_key_where = cairn_arena_printf(a, "%s = ?", k);
        res->nkey = 1;
    } else {
        res->sql_key_where = cairn_arena_printf(a, "%s = ? AND BINARY %s = ?",
                                                k, k);
        res->nkey = 2;
    }
    k = (char *) res->sql_key_where;

    /* With the version column: the ETag is the version, and the
     * If-Match check is part of the write's WHERE. */
    v = &res->by_version;
    v->columns = cairn_arena_printf(a, "%s, `%s`", cols, p);
    v->one = cairn_arena_printf(a, "SELECT %s FROM `%s` WHERE %s",
                                v->columns, res->table, k);
    v->lock = cairn_arena_printf(a, "%s FOR UPDATE", v->one);
    v->exists = cairn_arena_printf(a, "SELECT `%s` FROM `%s` WHERE %s", p,
                                   res->table, k);
    v->insert = cairn_arena_printf(a, "INSERT INTO `%s` (%s%s`%s`) "
                                   "VALUES (%s%s1)", res->table,
                                   icols ? icols : "", icols ? ", " : "", p,
                                   ivals ? ivals : "", ivals ? ", " : "");
    /* MariaDB (10.5 and later) answers an INSERT with the row it made:
     * one round trip instead of two. */
    v->insert_ret = cairn_arena_printf(a, "%s RETURNING %s", v->insert,
                                       v->columns);
    v->update = cairn_arena_printf(a, "UPDATE `%s` SET %s%s`%s` = `%s` + 1 "
                                   "WHERE %s", res->table, sets ? sets : "",
                                   sets ? ", " : "", p, p, k);
    v->update_if = cairn_arena_printf(a, "%s AND `%s` = ?", v->update, p);
    v->del = cairn_arena_printf(a, "DELETE FROM `%s` WHERE %s", res->table,
                                k);
    v->del_if = cairn_arena_printf(a, "%s AND `%s` = ?", v->del, p);

    /* Without it: the ETag is a hash of the row's fields, and a write
     * with If-Match reads the row FOR UPDATE in its transaction first.
     * An UPDATE with nothing to set still names the row (and locks it). */
    h = &res->by_hash;
    h->columns = cols;
    h->one = cairn_arena_printf(a, "SELECT %s FROM `%s` WHERE %s", cols,
                                res->table, k);
    h->lock = cairn_arena_printf(a, "%s FOR UPDATE", h->one);
    h->exists = cairn_arena_printf(a, "SELECT `%s` FROM `%s` WHERE %s",
                                   res->key, res->table, k);
    h->insert = cairn_arena_printf(a, "INSERT INTO `%s` (%s) VALUES (%s)",
                                   res->table, icols ? icols : "",
                                   ivals ? ivals : "");
    h->insert_ret = cairn_arena_printf(a, "%s RETURNING %s", h->insert,
                                       cols);
    h->update = sets != NULL
                ? cairn_arena_printf(a, "UPDATE `%s` SET %s WHERE %s",
                                     res->table, sets, k)
                : cairn_arena_printf(a, "UPDATE `%s` SET `%s` = `%s` WHERE "
                                     "%s", res->table, res->key, res->key,
                                     k);
    h->update_if = h->update;
    h->del = v->del;
    h->del_if = v->del;

    rest_etag_mode_set(res, REST_ETAG_VERSION);

    create = cairn_arena_printf(a, "CREATE TABLE IF NOT EXISTS `%s` (\n  "
                                "%s,\n  `%s` BIGINT NOT NULL DEFAULT 1,\n  "
                                "PRIMARY KEY (`%s`)", res->table, create, p,
                                res->key);
    for (i = 0; i < res->nfields; i++) {
        f = &res->fields[i];
        if ((f->flags & REST_F_UNIQUE) && !(f->flags & REST_F_KEY)) {
            create = cairn_arena_printf(a, "%s,\n  UNIQUE KEY `uq_%s` (`%s`)",
                                        create, f->name, f->name);
        }
    }
    res->sql_create = cairn_arena_printf(a, "%s\n) ENGINE=InnoDB DEFAULT "
                                         "CHARSET=utf8mb4", create);

    if (res->idem) {
        rest_decl_idem_sql(a, res);
    }

    return NULL;
}


/*
 * Where the resource's ETags come from (REST_ETAG_VERSION or
 * REST_ETAG_HASH): the statements of that mode become the resource's.
 */
void
rest_etag_mode_set(rest_resource_t *res, int mode)
{
    const rest_stmts_t  *st = mode == REST_ETAG_HASH ? &res->by_hash
                                                     : &res->by_version;

    res->etag_mode = mode;
    res->sql_columns = st->columns;
    res->sql_one = st->one;
    res->sql_lock = st->lock;
    res->sql_exists = st->exists;
    res->sql_insert = st->insert;
    res->sql_insert_ret = st->insert_ret;
    res->sql_update = st->update;
    res->sql_update_if = st->update_if;
    res->sql_delete = st->del;
    res->sql_delete_if = st->del_if;
}


/* The mode as the logs and the OpenAPI document say it. */
const char *
rest_etag_mode_text(const rest_resource_t *res)
{
    return res->etag_mode == REST_ETAG_HASH
           ? "a SHA-256 hash of the row's fields (the table has no version "
             "column)"
           : "the version column";
}


/*
 * The statements of Idempotency-Key (RestIdempotency on).  Keys are
 * scoped by resource and by the authenticated user, so one client never
 * sees another's answer; the fingerprint is SHA-256 of the method, the
 * target and the body, made by the server.  No statement on the table
 * waits for a row lock (innodb_lock_wait_timeout = 0, MariaDB 10.3 and
 * later): a key whose first request is still running is a 409 at once.
 */
static void
rest_decl_idem_sql(cairn_arena_t *a, rest_resource_t *res)
{
    const char  *t = res->idem_table;
    const char  *who = "`resource` = ? AND `owner` = ? AND `idem_key` = ?";

    res->sql_idem_create = cairn_arena_printf(a,
        "CREATE TABLE IF NOT EXISTS `%s` (\n"
        "  `resource` VARCHAR(255) NOT NULL,\n"
        "  `owner` VARCHAR(255) NOT NULL,\n"
        "  `idem_key` VARCHAR(255) NOT NULL,\n"
        "  `fingerprint` CHAR(64) NOT NULL,\n"
        "  `status` SMALLINT NOT NULL,\n"
        "  `location` VARCHAR(2048) NULL,\n"
        "  `etag` VARCHAR(100) NULL,\n"
        "  `body` MEDIUMTEXT NULL,\n"
        "  `expires` DATETIME NOT NULL,\n"
        "  PRIMARY KEY (`resource`, `owner`, `idem_key`),\n"
        "  KEY `expires` (`expires`)\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE utf8mb4_bin", t);
    res->sql_idem_clean = cairn_arena_printf(a,
        "SET STATEMENT innodb_lock_wait_timeout = 0 FOR "
        "DELETE FROM `%s` WHERE %s AND `expires` <= UTC_TIMESTAMP()", t, who);
    res->sql_idem_claim = cairn_arena_printf(a,
        "SET STATEMENT innodb_lock_wait_timeout = 0 FOR "
        "INSERT INTO `%s` (`resource`, `owner`, `idem_key`, `fingerprint`, "
        "`status`, `expires`) VALUES (?, ?, ?, SHA2(?, 256), 0, "
        "UTC_TIMESTAMP() + INTERVAL ? SECOND)", t);
    res->sql_idem_record = cairn_arena_printf(a,
        "UPDATE `%s` SET `status` = ?, `location` = ?, `etag` = ?, "
        "`body` = ? WHERE %s", t, who);
    res->sql_idem_lookup = cairn_arena_printf(a,
        "SELECT `status`, `location`, `etag`, `body`, "
        "`fingerprint` = SHA2(?, 256) AS `same` FROM `%s` WHERE %s "
        "AND `expires` > UTC_TIMESTAMP()", t, who);
    res->sql_idem_gc = cairn_arena_printf(a,
        "SET STATEMENT innodb_lock_wait_timeout = 0 FOR "
        "DELETE FROM `%s` WHERE `expires` <= UTC_TIMESTAMP() LIMIT 1000", t);
}


/* ------------------------------------------------------------------ */
/* The schema check: each Field against its column                    */
/* ------------------------------------------------------------------ */

typedef struct {
    const char  *name;
    double       min, max;          /* signed */
    double       umax;              /* unsigned */
} rest_decl_int_t;

static const rest_decl_int_t  rest_decl_ints[] = {
    { "tinyint", -128.0, 127.0, 255.0 },
    { "smallint", -32768.0, 32767.0, 65535.0 },
    { "mediumint", -8388608.0, 8388607.0, 16777215.0 },
    { "int", -2147483648.0, 2147483647.0, 4294967295.0 },
    { "bigint", -9223372036854775808.0, 9223372036854775807.0,
      18446744073709551615.0 },
};


static int
rest_decl_in(const char *t, const char *const *set)
{
    for (; *set != NULL; set++) {
        if (strcasecmp(t, *set) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Checks f against its column, a row of information_schema.COLUMNS as
 * {"t": DATA_TYPE, "ct": COLUMN_TYPE, "p": NUMERIC_PRECISION,
 * "s": NUMERIC_SCALE, "l": CHARACTER_MAXIMUM_LENGTH, "n": IS_NULLABLE,
 * "x": EXTRA}, and records what the requests need to know of it (an
 * integer column's range, a decimal's digits, TIMESTAMP).  Returns NULL,
 * or what is wrong and what to declare instead.
 */
const char *
rest_schema_check(cairn_arena_t *a, const rest_resource_t *res,
                  rest_field_t *f, json_t *col)
{
    static const char *const  texts[] = { "char", "varchar", "tinytext",
        "text", "mediumtext", "longtext", NULL };
    static const char *const  reals[] = { "float", "double", "real", NULL };
    const rest_decl_int_t    *ints = NULL;
    const char               *t, *ct, *extra;
    double                    want;
    json_int_t                len, p, s;
    size_t                    i;
    int                       is_text, is_var, uns, nullable;

    t = json_string_value(json_object_get(col, "t"));
    ct = json_string_value(json_object_get(col, "ct"));
    extra = json_string_value(json_object_get(col, "x"));
    if (t == NULL) {
        return cairn_arena_printf(a, "column %s: no type in "
                                  "information_schema", f->name);
    }
    if (ct == NULL) {
        ct = t;
    }
    len = json_integer_value(json_object_get(col, "l"));
    p = json_integer_value(json_object_get(col, "p"));
    s = json_integer_value(json_object_get(col, "s"));
    nullable = json_string_value(json_object_get(col, "n")) != NULL
               && strcasecmp(json_string_value(json_object_get(col, "n")),
                             "YES") == 0;
    uns = strstr(ct, "unsigned") != NULL;
    is_text = rest_decl_in(t, texts);
    is_var = strcasecmp(t, "char") == 0 || strcasecmp(t, "varchar") == 0;
    for (i = 0; i < sizeof(rest_decl_ints) / sizeof(rest_decl_ints[0]); i++) {
        if (strcasecmp(t, rest_decl_ints[i].name) == 0) {
            ints = &rest_decl_ints[i];
        }
    }

    f->col_kind = REST_COL_OTHER;
    f->col_int = 0;

#define REST_MISMATCH(what)                                                  \
    cairn_arena_printf(a, "Field %s %s does not match column %s %s: %s",     \
                       f->name, rest_type_name(f->type), f->name, ct, what)

    switch (f->type) {
    case REST_T_STRING:
    case REST_T_EMAIL:
    case REST_T_TEXT:
        if (!is_text) {
            return REST_MISMATCH("declare a type that fits it");
        }
        want = (f->flags & REST_F_MAX) ? f->max
               : f->type == REST_T_STRING ? REST_STRING_MAX
               : f->type == REST_T_EMAIL ? REST_EMAIL_MAX : REST_TEXT_MAX;
        if (is_var && (double) len < want) {
            return REST_MISMATCH(cairn_arena_printf(
                a, "it holds %lld characters; declare max=%lld (or widen "
                "the column)", (long long) len, (long long) len));
        }
        break;

    case REST_T_INT:
    case REST_T_BIGINT:
        if (ints == NULL) {
            return REST_MISMATCH("declare a type that fits it");
        }
        f->col_int = 1;
        f->col_min = uns ? 0.0 : ints->min;
        f->col_max = uns ? ints->umax : ints->max;
        if ((f->flags & REST_F_AUTO) && (extra == NULL
                                         || strstr(extra, "auto_increment")
                                            == NULL))
        {
            return REST_MISMATCH("the key is generated by the database, so "
                                 "its column needs AUTO_INCREMENT");
        }
        break;

    case REST_T_NUMBER:
        if (strcasecmp(t, "decimal") == 0) {
            return REST_MISMATCH(cairn_arena_printf(
                a, "declare Field %s decimal (a number would pass through "
                "a double and lose digits)", f->name));
        }
        if (ints != NULL) {
            return REST_MISMATCH(cairn_arena_printf(
                a, "declare Field %s %s (a number would be rounded into "
                "it)", f->name, strcasecmp(t, "bigint") == 0
                ? "bigint" : "int"));
        }
        if (!rest_decl_in(t, reals)) {
            return REST_MISMATCH("declare a type that fits it");
        }
        break;

    case REST_T_DECIMAL:
        if (strcasecmp(t, "decimal") != 0) {
            return REST_MISMATCH(rest_decl_in(t, reals)
                                 ? "declare number for a FLOAT or DOUBLE"
                                 : "declare a type that fits it");
        }
        if (f->declared_ps && (f->precision != (int) p
                               || f->scale != (int) s))
        {
            return REST_MISMATCH(cairn_arena_printf(
                a, "declare decimal(%lld,%lld), or plain decimal",
                (long long) p, (long long) s));
        }
        f->precision = (int) p;
        f->scale = (int) s;
        break;

    case REST_T_BOOL:
        if (strcasecmp(t, "tinyint") != 0 && strcasecmp(t, "bit") != 0) {
            return REST_MISMATCH("a bool needs TINYINT(1) or BIT(1)");
        }
        break;

    case REST_T_DATETIME:
        if (strcasecmp(t, "date") == 0) {
            return REST_MISMATCH(cairn_arena_printf(
                a, "declare Field %s date", f->name));
        }
        if (strcasecmp(t, "datetime") == 0) {
            f->col_kind = REST_COL_DATETIME;
        } else if (strcasecmp(t, "timestamp") == 0) {
            f->col_kind = REST_COL_TIMESTAMP;
        } else {
            return REST_MISMATCH("a datetime needs DATETIME or TIMESTAMP");
        }
        break;

    case REST_T_DATE:
        if (strcasecmp(t, "date") != 0) {
            return REST_MISMATCH("a date needs DATE");
        }
        break;

    case REST_T_JSON:
        if (!is_text && strcasecmp(t, "json") != 0) {
            return REST_MISMATCH("json needs a text column (LONGTEXT or "
                                 "JSON)");
        }
        break;
    }

    /* A field the module writes as NULL when it is left out. */
    if (!nullable && REST_INSERTS(f) && !(f->flags & REST_F_REQUIRED)
        && !(f->flags & (REST_F_KEY | REST_F_USER)))
    {
        return REST_MISMATCH(cairn_arena_printf(
            a, "the column is NOT NULL; declare Field %s ... required (or "
            "allow NULL in the column)", f->name));
    }

#undef REST_MISMATCH

    (void) res;

    return NULL;
}
