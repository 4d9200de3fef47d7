/*
 * modules/template/tpl_lex.c: the template source as tokens.
 *
 * Outside tags the source is text; "{{" and "{%" open a tag whose inside
 * is read as expression tokens up to the matching "}}" or "%}", and "{#"
 * opens a comment that is dropped.  A '-' just inside an opener or a
 * closer trims the whitespace (newlines included) of the text before or
 * after it.  The source must be valid UTF-8, so that every string the
 * renderer hands to jansson is; columns count characters.
 *
 * Also here: the pool that holds a compiled template, and its errors.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_int.h"

#define TPL_CHUNK_SIZE      4096

/* A number literal longer than this is refused before strtod(). */
#define TPL_NUMBER_MAX      64


typedef struct {
    tpl_t          *t;
    const char     *p;
    const char     *end;
    unsigned        line;
    unsigned        col;
    int             trim_next;
    tpl_toks_t     *out;
    tpl_error_t    *err;
} tpl_lexer_t;


static int tpl_lex_tag(tpl_lexer_t *lx, tpl_tok_type_t open,
                       unsigned line, unsigned col);
static int tpl_lex_number(tpl_lexer_t *lx, tpl_tok_t *tok, int index);
static int tpl_lex_string(tpl_lexer_t *lx, tpl_tok_t *tok);
static void tpl_lex_text(tpl_lexer_t *lx, const char *s, size_t len,
                         unsigned line, unsigned col);
static tpl_tok_t *tpl_lex_push(tpl_lexer_t *lx, tpl_tok_type_t type,
                               unsigned line, unsigned col);
static void tpl_lex_advance(tpl_lexer_t *lx, size_t n);
static size_t tpl_utf8_invalid(const unsigned char *s, size_t len);


/* ------------------------------------------------------------------ */
/* Pool and errors                                                     */
/* ------------------------------------------------------------------ */

void *
tpl_pool_alloc(tpl_pool_t *p, size_t size)
{
    tpl_chunk_t  *c = p->head;
    size_t        need, have;
    void         *m;

    need = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (need < size) {
        return NULL;
    }

    if (c == NULL || c->size - c->used < need) {
        have = need > TPL_CHUNK_SIZE ? need : TPL_CHUNK_SIZE;
        c = malloc(sizeof(tpl_chunk_t) + have);
        if (c == NULL) {
            return NULL;
        }
        c->size = have;
        c->used = 0;
        c->next = p->head;
        p->head = c;
    }

    m = (char *) c->data + c->used;
    c->used += need;
    memset(m, 0, size);

    return m;
}


char *
tpl_pool_strndup(tpl_pool_t *p, const char *s, size_t len)
{
    char  *d;

    if (len == SIZE_MAX) {
        return NULL;
    }
    d = tpl_pool_alloc(p, len + 1);
    if (d != NULL) {
        if (len > 0) {
            memcpy(d, s, len);
        }
        d[len] = '\0';
    }

    return d;
}


void
tpl_pool_free(tpl_pool_t *p)
{
    tpl_chunk_t  *c, *next;

    for (c = p->head; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    p->head = NULL;
}


void
tpl_set_error(tpl_error_t *err, tpl_status_t status, const char *name,
              unsigned line, unsigned col, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    err->status = status;
    err->line = line;
    err->column = col;

    n = snprintf(err->message, sizeof(err->message), "%s:%u:%u: ",
                 name, line, col);
    if (n < 0 || (size_t) n >= sizeof(err->message)) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof(err->message) - n, fmt, ap);
    va_end(ap);
}


/* ------------------------------------------------------------------ */
/* The lexer                                                           */
/* ------------------------------------------------------------------ */

int
tpl_lex(tpl_t *t, const char *src, size_t len, tpl_toks_t *out,
        tpl_error_t *err)
{
    tpl_lexer_t      lx;
    tpl_tok_type_t   open;
    const char      *q, *close;
    size_t           bad;
    unsigned         line, col;
    int              trim;

    memset(&lx, 0, sizeof(lx));
    lx.t = t;
    lx.p = src;
    lx.end = src + len;
    lx.line = 1;
    lx.col = 1;
    lx.out = out;
    lx.err = err;

    bad = tpl_utf8_invalid((const unsigned char *) src, len);
    if (bad < len) {
        tpl_lex_advance(&lx, bad);
        tpl_set_error(err, TPL_ERR_SYNTAX, t->name, lx.line, lx.col,
                      "invalid UTF-8 (byte 0x%02x)",
                      (unsigned char) src[bad]);
        return -1;
    }

    while (lx.p < lx.end) {
        /* The next opener, or the end. */
        for (q = lx.p; q + 1 < lx.end; q++) {
            if (q[0] == '{' && (q[1] == '{' || q[1] == '%' || q[1] == '#')) {
                break;
            }
        }
        if (q + 1 >= lx.end) {
            q = lx.end;
        }

        line = lx.line;
        col = lx.col;
        trim = q + 2 < lx.end && q[2] == '-';
        if (trim) {
            /* "{%-": the text before loses its trailing whitespace. */
            close = q;
            while (close > lx.p && (close[-1] == ' ' || close[-1] == '\t'
                                    || close[-1] == '\r'
                                    || close[-1] == '\n'))
            {
                close--;
            }
            tpl_lex_text(&lx, lx.p, close - lx.p, line, col);
        } else {
            tpl_lex_text(&lx, lx.p, q - lx.p, line, col);
        }
        if (lx.err->status != TPL_OK) {
            return -1;
        }
        tpl_lex_advance(&lx, q - lx.p);
        if (lx.p >= lx.end) {
            break;
        }

        line = lx.line;
        col = lx.col;

        if (q[1] == '#') {
            /* A comment: from "{#" to the first "#}". */
            for (close = q + 2 + trim; close + 1 < lx.end; close++) {
                if (close[0] == '#' && close[1] == '}') {
                    break;
                }
            }
            if (close + 1 >= lx.end) {
                tpl_set_error(err, TPL_ERR_SYNTAX, t->name, line, col,
                              "unclosed comment '{#'");
                return -1;
            }
            lx.trim_next = close > q + 2 + trim && close[-1] == '-';
            tpl_lex_advance(&lx, close + 2 - lx.p);
            continue;
        }

        open = q[1] == '{' ? TPL_T_OPEN_VAR : TPL_T_OPEN_STMT;
        if (tpl_lex_push(&lx, open, line, col) == NULL) {
            return -1;
        }
        tpl_lex_advance(&lx, 2 + trim);
        if (tpl_lex_tag(&lx, open, line, col) != 0) {
            return -1;
        }
    }

    if (tpl_lex_push(&lx, TPL_T_EOF, lx.line, lx.col) == NULL) {
        return -1;
    }

    return 0;
}


/*
 * The tokens of one tag, up to and including its closer.  line and col
 * are those of the opener, for an unclosed tag.
 */
static int
tpl_lex_tag(tpl_lexer_t *lx, tpl_tok_type_t open, unsigned line,
            unsigned col)
{
    tpl_tok_t       *tok;
    tpl_tok_type_t   type;
    const char      *p;
    size_t           n;
    int              c, trim;

    for ( ;; ) {
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'
                                   || *lx->p == '\r' || *lx->p == '\n'))
        {
            tpl_lex_advance(lx, 1);
        }
        if (lx->p >= lx->end) {
            tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, line, col,
                          "unclosed '%s'",
                          open == TPL_T_OPEN_VAR ? "{{" : "{%");
            return -1;
        }

        p = lx->p;
        n = lx->end - p;
        c = (unsigned char) *p;

        /* A closer, with or without '-'. */
        trim = c == '-' && n >= 3 && p[2] == '}'
               && (p[1] == '}' || p[1] == '%');
        if (trim || (n >= 2 && p[1] == '}' && (c == '}' || c == '%'))) {
            type = p[trim] == '}' ? TPL_T_CLOSE_VAR : TPL_T_CLOSE_STMT;
            if (type != (open == TPL_T_OPEN_VAR ? TPL_T_CLOSE_VAR
                                                : TPL_T_CLOSE_STMT))
            {
                tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name,
                              lx->line, lx->col, "'%s' closes a '%s'",
                              type == TPL_T_CLOSE_VAR ? "}}" : "%}",
                              open == TPL_T_OPEN_VAR ? "{{" : "{%");
                return -1;
            }
            if (tpl_lex_push(lx, type, lx->line, lx->col) == NULL) {
                return -1;
            }
            tpl_lex_advance(lx, 2 + trim);
            lx->trim_next = trim;
            return 0;
        }

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            tok = tpl_lex_push(lx, TPL_T_NAME, lx->line, lx->col);
            if (tok == NULL) {
                return -1;
            }
            for (n = 1; p + n < lx->end; n++) {
                c = (unsigned char) p[n];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                      || (c >= '0' && c <= '9') || c == '_'))
                {
                    break;
                }
            }
            tok->s = p;
            tok->len = n;
            tpl_lex_advance(lx, n);
            continue;
        }

        if ((c >= '0' && c <= '9')
            || (c == '-' && n >= 2 && p[1] >= '0' && p[1] <= '9'))
        {
            /* After a '.', digits are an index: grid.1.0 */
            trim = lx->out->n > 0
                   && lx->out->toks[lx->out->n - 1].type == TPL_T_DOT;
            tok = tpl_lex_push(lx, TPL_T_INT, lx->line, lx->col);
            if (tok == NULL || tpl_lex_number(lx, tok, trim) != 0) {
                return -1;
            }
            continue;
        }

        if (c == '"' || c == '\'') {
            tok = tpl_lex_push(lx, TPL_T_STRING, lx->line, lx->col);
            if (tok == NULL || tpl_lex_string(lx, tok) != 0) {
                return -1;
            }
            continue;
        }

        n = 1;
        switch (c) {
        case '.': type = TPL_T_DOT; break;
        case ',': type = TPL_T_COMMA; break;
        case '|': type = TPL_T_PIPE; break;
        case '(': type = TPL_T_LPAREN; break;
        case ')': type = TPL_T_RPAREN; break;
        case '[': type = TPL_T_LBRACKET; break;
        case ']': type = TPL_T_RBRACKET; break;
        case '=':
            if (p + 1 < lx->end && p[1] == '=') {
                type = TPL_T_EQ;
                n = 2;
            } else {
                type = TPL_T_ASSIGN;
            }
            break;
        case '!':
            if (p + 1 < lx->end && p[1] == '=') {
                type = TPL_T_NE;
                n = 2;
                break;
            }
            goto unexpected;
        case '<':
        case '>':
            if (p + 1 < lx->end && p[1] == '=') {
                type = c == '<' ? TPL_T_LE : TPL_T_GE;
                n = 2;
            } else {
                type = c == '<' ? TPL_T_LT : TPL_T_GT;
            }
            break;
        default:
            goto unexpected;
        }
        if (tpl_lex_push(lx, type, lx->line, lx->col) == NULL) {
            return -1;
        }
        tpl_lex_advance(lx, n);
    }

unexpected:

    if (c > 0x20 && c < 0x7f) {
        tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, lx->line,
                      lx->col, "unexpected '%c'", c);
    } else {
        tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, lx->line,
                      lx->col, "unexpected byte 0x%02x", (unsigned) c);
    }

    return -1;
}


static int
tpl_lex_number(tpl_lexer_t *lx, tpl_tok_t *tok, int index)
{
    const char  *p = lx->p, *end = lx->end;
    char         buf[TPL_NUMBER_MAX + 1], *e;
    size_t       n = 0;
    int          real = 0;

    if (p[n] == '-') {
        n++;
    }
    while (p + n < end && p[n] >= '0' && p[n] <= '9') {
        n++;
    }
    if (!index && p + n + 1 < end && p[n] == '.'
        && p[n + 1] >= '0' && p[n + 1] <= '9')
    {
        real = 1;
        n++;
        while (p + n < end && p[n] >= '0' && p[n] <= '9') {
            n++;
        }
    }
    if (!index && p + n < end && (p[n] == 'e' || p[n] == 'E')) {
        size_t  m = n + 1;

        if (p + m < end && (p[m] == '+' || p[m] == '-')) {
            m++;
        }
        if (p + m < end && p[m] >= '0' && p[m] <= '9') {
            real = 1;
            n = m;
            while (p + n < end && p[n] >= '0' && p[n] <= '9') {
                n++;
            }
        }
    }

    if (n > TPL_NUMBER_MAX) {
        tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, tok->line,
                      tok->col, "number too long");
        return -1;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';

    errno = 0;
    if (real) {
        tok->type = TPL_T_REAL;
        tok->d = strtod(buf, &e);
        if (errno == ERANGE && (tok->d > 1.0 || tok->d < -1.0)) {
            tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, tok->line,
                          tok->col, "number out of range");
            return -1;
        }
    } else {
        tok->i = strtoll(buf, &e, 10);
        if (errno == ERANGE) {
            tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, tok->line,
                          tok->col, "integer out of range");
            return -1;
        }
    }

    tpl_lex_advance(lx, n);

    return 0;
}


static int
tpl_lex_string(tpl_lexer_t *lx, tpl_tok_t *tok)
{
    const char  *p = lx->p, *end = lx->end;
    char         quote = *p, *d;
    size_t       n, len = 0;

    for (n = 1; p + n < end && p[n] != quote; n++) {
        if (p[n] == '\\') {
            n++;
        }
    }
    if (p + n >= end) {
        tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, tok->line,
                      tok->col, "unterminated string");
        return -1;
    }

    d = tpl_pool_alloc(&lx->t->pool, n);
    if (d == NULL) {
        tpl_set_error(lx->err, TPL_ERR_MEMORY, lx->t->name, tok->line,
                      tok->col, "out of memory");
        return -1;
    }

    tpl_lex_advance(lx, 1);
    while (*lx->p != quote) {
        if (*lx->p != '\\') {
            d[len++] = *lx->p;
            tpl_lex_advance(lx, 1);
            continue;
        }
        switch (lx->p[1]) {
        case 'n': d[len++] = '\n'; break;
        case 't': d[len++] = '\t'; break;
        case 'r': d[len++] = '\r'; break;
        case '\\': d[len++] = '\\'; break;
        case '"': d[len++] = '"'; break;
        case '\'': d[len++] = '\''; break;
        default:
            tpl_set_error(lx->err, TPL_ERR_SYNTAX, lx->t->name, lx->line,
                          lx->col, "unknown escape in a string");
            return -1;
        }
        tpl_lex_advance(lx, 2);
    }
    tpl_lex_advance(lx, 1);

    tok->s = d;
    tok->len = len;

    return 0;
}


static void
tpl_lex_text(tpl_lexer_t *lx, const char *s, size_t len, unsigned line,
             unsigned col)
{
    tpl_tok_t  *tok;
    int         trim = lx->trim_next;

    lx->trim_next = 0;

    if (trim) {
        /* "-%}": the text after loses its leading whitespace; where the
         * text starts moves with it. */
        while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r'
                           || *s == '\n'))
        {
            if (*s == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
            s++;
            len--;
        }
    }
    if (len == 0) {
        return;
    }

    tok = tpl_lex_push(lx, TPL_T_TEXT, line, col);
    if (tok != NULL) {
        tok->s = s;
        tok->len = len;
    }
}


static tpl_tok_t *
tpl_lex_push(tpl_lexer_t *lx, tpl_tok_type_t type, unsigned line,
             unsigned col)
{
    tpl_toks_t  *o = lx->out;
    tpl_tok_t   *tok;
    size_t       cap;

    if (o->n == o->cap) {
        cap = o->cap ? o->cap * 2 : 64;
        tok = realloc(o->toks, cap * sizeof(tpl_tok_t));
        if (tok == NULL) {
            tpl_set_error(lx->err, TPL_ERR_MEMORY, lx->t->name, line, col,
                          "out of memory");
            return NULL;
        }
        o->toks = tok;
        o->cap = cap;
    }

    tok = &o->toks[o->n++];
    memset(tok, 0, sizeof(*tok));
    tok->type = type;
    tok->line = line;
    tok->col = col;

    return tok;
}


static void
tpl_lex_advance(tpl_lexer_t *lx, size_t n)
{
    const char  *stop = lx->p + n;

    for ( ; lx->p < stop; lx->p++) {
        if (*lx->p == '\n') {
            lx->line++;
            lx->col = 1;
        } else if ((*lx->p & 0xc0) != 0x80) {
            lx->col++;
        }
    }
}


/*
 * The offset of the first byte that is not part of valid UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF: what jansson
 * accepts), or len.
 */
static size_t
tpl_utf8_invalid(const unsigned char *s, size_t len)
{
    size_t    i = 0, n, k;
    uint32_t  cp;

    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xc2 && s[i] <= 0xdf) {
            n = 2;
            cp = s[i] & 0x1f;
        } else if (s[i] >= 0xe0 && s[i] <= 0xef) {
            n = 3;
            cp = s[i] & 0x0f;
        } else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
            n = 4;
            cp = s[i] & 0x07;
        } else {
            return i;
        }
        if (len - i < n) {
            return i;
        }
        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        {
            return i;
        }
        i += n;
    }

    return len;
}
