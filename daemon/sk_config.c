/* sk_config.c - data-only Lua table config files (see sk_config.h).
 *
 * A hand-written recursive-descent parser over a tiny lexer: the grammar is
 *   chunk  := 'return' table [';'] | { Name '=' value [';'] }
 *   value  := nil | true | false | ['-'] Number | String | table
 *   table  := '{' [ field { (','|';') field } [','|';'] ] '}'
 *   field  := Name '=' value | '[' String ']' '=' value | value
 * Numbers go through sk_num (C locale), never strtod in the user's locale. */
#include "sk_config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_csv.h"
#include "sk_num.h"

#define MAX_DEPTH 32
#define MAX_CONFIG_BYTES (1u << 20)

struct sk_config {
    char *filename;
    sk_cval root;
    char **joined;          /* strings made by joining lists, owned here */
    size_t njoined;
};

typedef enum { T_EOF, T_NAME, T_STR, T_NUM, T_PUNCT } tok_type;

typedef struct {
    const char *p, *end, *file;
    int line;
    sk_error *err;
    /* the current token */
    tok_type t;
    int tline;
    char punct;
    const char *name;
    size_t name_len;
    sk_buf str;             /* T_STR contents */
    char numtxt[64];
} lexer;

static int lex_fail(lexer *lx, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int lex_fail(lexer *lx, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sk_fail(lx->err, SK_EINVAL, "%s:%d: %s", lx->file, line, msg);
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || is_digit(c);
}

static bool is_newline(char c)
{
    return c == '\n' || c == '\r';
}

/* At '\n' or '\r': consume one line break ("\n", "\r", "\r\n" or "\n\r",
 * as Lua counts them) and count the line. */
static void skip_newline(lexer *lx)
{
    char first = *lx->p++;
    if (lx->p < lx->end && is_newline(*lx->p) && *lx->p != first)
        lx->p++;
    lx->line++;
}

/* At "[" with optional '=' run and "[": the level, or -1 when not a long bracket. */
static int long_bracket_level(const char *p, const char *end)
{
    if (p >= end || *p != '[')
        return -1;
    int level = 0;
    p++;
    while (p < end && *p == '=') {
        level++;
        p++;
    }
    return (p < end && *p == '[') ? level : -1;
}

/* Read a long string/comment body after its opening bracket of the given
 * level; into out when not NULL. */
static int read_long(lexer *lx, int level, sk_buf *out, const char *what)
{
    int start = lx->line;
    lx->p += level + 2;
    /* A line break right after the opening bracket is skipped, and every
     * line break inside reads as "\n", as in Lua. */
    if (lx->p < lx->end && is_newline(*lx->p))
        skip_newline(lx);
    while (lx->p < lx->end) {
        if (*lx->p == ']') {
            const char *q = lx->p + 1;
            int l = 0;
            while (q < lx->end && *q == '=') {
                l++;
                q++;
            }
            if (l == level && q < lx->end && *q == ']') {
                lx->p = q + 1;
                return 0;
            }
        }
        if (is_newline(*lx->p)) {
            skip_newline(lx);
            if (out != NULL)
                sk_buf_append(out, "\n", 1);
            continue;
        }
        if (out != NULL)
            sk_buf_append(out, lx->p, 1);
        lx->p++;
    }
    return lex_fail(lx, start, "unfinished long %s", what);
}

static void put_utf8(sk_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sk_buf_append(b, u, n);
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_quoted(lexer *lx)
{
    char q = *lx->p++;
    int start = lx->line;
    while (1) {
        if (lx->p >= lx->end || is_newline(*lx->p))
            return lex_fail(lx, start, "unfinished string");
        char c = *lx->p++;
        if (c == q)
            return 0;
        if (c == '\0')
            return lex_fail(lx, lx->line, "strings may not contain NUL bytes");
        if (c != '\\') {
            sk_buf_append(&lx->str, &c, 1);
            continue;
        }
        if (lx->p >= lx->end)
            return lex_fail(lx, start, "unfinished string");
        c = *lx->p++;
        switch (c) {
        case 'a': sk_buf_append(&lx->str, "\a", 1); break;
        case 'b': sk_buf_append(&lx->str, "\b", 1); break;
        case 'f': sk_buf_append(&lx->str, "\f", 1); break;
        case 'n': sk_buf_append(&lx->str, "\n", 1); break;
        case 'r': sk_buf_append(&lx->str, "\r", 1); break;
        case 't': sk_buf_append(&lx->str, "\t", 1); break;
        case 'v': sk_buf_append(&lx->str, "\v", 1); break;
        case '\\': sk_buf_append(&lx->str, "\\", 1); break;
        case '"': sk_buf_append(&lx->str, "\"", 1); break;
        case '\'': sk_buf_append(&lx->str, "'", 1); break;
        case '\n':
        case '\r':
            lx->p--;
            skip_newline(lx);
            sk_buf_append(&lx->str, "\n", 1);
            break;
        case 'z':
            while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\f' || *lx->p == '\v' ||
                                       is_newline(*lx->p))) {
                if (is_newline(*lx->p))
                    skip_newline(lx);
                else
                    lx->p++;
            }
            break;
        case 'x': {
            int h1 = lx->p < lx->end ? hexval(lx->p[0]) : -1;
            int h2 = lx->p + 1 < lx->end ? hexval(lx->p[1]) : -1;
            if (h1 < 0 || h2 < 0)
                return lex_fail(lx, lx->line, "\\x needs two hex digits");
            char b = (char)(h1 * 16 + h2);
            if (b == 0)
                return lex_fail(lx, lx->line, "strings may not contain NUL bytes");
            sk_buf_append(&lx->str, &b, 1);
            lx->p += 2;
            break;
        }
        case 'u': {
            uint32_t cp = 0;
            int digits = 0;
            if (lx->p >= lx->end || *lx->p != '{')
                return lex_fail(lx, lx->line, "\\u needs {hex digits}");
            lx->p++;
            while (lx->p < lx->end && hexval(*lx->p) >= 0 && digits < 8) {
                cp = cp * 16 + (uint32_t)hexval(*lx->p++);
                digits++;
            }
            if (digits == 0 || lx->p >= lx->end || *lx->p != '}' || cp > 0x10FFFF || cp == 0)
                return lex_fail(lx, lx->line, "bad \\u{...} escape");
            lx->p++;
            put_utf8(&lx->str, cp);
            break;
        }
        default:
            if (is_digit(c)) {
                int v = c - '0', k = 1;
                while (k < 3 && lx->p < lx->end && is_digit(*lx->p)) {
                    v = v * 10 + (*lx->p++ - '0');
                    k++;
                }
                if (v > 255)
                    return lex_fail(lx, lx->line, "decimal escape \\%d is larger than 255", v);
                if (v == 0)
                    return lex_fail(lx, lx->line, "strings may not contain NUL bytes");
                char b = (char)v;
                sk_buf_append(&lx->str, &b, 1);
                break;
            }
            return lex_fail(lx, lx->line, "invalid escape '\\%c' in string", c);
        }
    }
}

static int next(lexer *lx)
{
    sk_buf_reset(&lx->str);
    lx->str.oom = false;
    for (;;) {
        if (lx->p >= lx->end) {
            lx->t = T_EOF;
            lx->tline = lx->line;
            return 0;
        }
        char c = *lx->p;
        if (is_newline(c)) {
            skip_newline(lx);
        } else if (c == ' ' || c == '\t' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '-' && lx->p + 1 < lx->end && lx->p[1] == '-') {
            lx->p += 2;
            int level = long_bracket_level(lx->p, lx->end);
            if (level >= 0) {
                int rc = read_long(lx, level, NULL, "comment");
                if (rc < 0)
                    return rc;
            } else {
                while (lx->p < lx->end && !is_newline(*lx->p))
                    lx->p++;
            }
        } else {
            break;
        }
    }
    char c = *lx->p;
    lx->tline = lx->line;
    if (is_name_start(c)) {
        lx->name = lx->p;
        while (lx->p < lx->end && is_name_char(*lx->p))
            lx->p++;
        lx->name_len = (size_t)(lx->p - lx->name);
        lx->t = T_NAME;
        return 0;
    }
    if (c == '"' || c == '\'') {
        int rc = read_quoted(lx);
        if (rc < 0)
            return rc;
        lx->t = T_STR;
        return lx->str.oom ? sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file) : 0;
    }
    int level = long_bracket_level(lx->p, lx->end);
    if (level >= 0) {
        int rc = read_long(lx, level, &lx->str, "string");
        if (rc < 0)
            return rc;
        if (lx->str.len > 0 && memchr(lx->str.data, '\0', lx->str.len) != NULL)
            return lex_fail(lx, lx->tline, "strings may not contain NUL bytes");
        lx->t = T_STR;
        return lx->str.oom ? sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file) : 0;
    }
    if (is_digit(c) || (c == '.' && lx->p + 1 < lx->end && is_digit(lx->p[1]))) {
        const char *s = lx->p;
        bool hex = c == '0' && lx->p + 1 < lx->end && (lx->p[1] == 'x' || lx->p[1] == 'X');
        if (hex)
            lx->p += 2;
        while (lx->p < lx->end) {
            char d = *lx->p;
            bool expo = hex ? (d == 'p' || d == 'P') : (d == 'e' || d == 'E');
            if (expo && lx->p + 1 < lx->end && (lx->p[1] == '+' || lx->p[1] == '-'))
                lx->p += 2;
            else if (is_name_char(d) || d == '.')
                lx->p++;
            else
                break;
        }
        size_t n = (size_t)(lx->p - s);
        if (n >= sizeof lx->numtxt)
            return lex_fail(lx, lx->tline, "number too long");
        memcpy(lx->numtxt, s, n);
        lx->numtxt[n] = '\0';
        lx->t = T_NUM;
        return 0;
    }
    if (strchr("{}[]=,;-", c) != NULL) {
        lx->punct = c;
        lx->p++;
        lx->t = T_PUNCT;
        return 0;
    }
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
        return lex_fail(lx, lx->tline, "unexpected '%c' (config files hold data only, no expressions)", c);
    return lex_fail(lx, lx->tline, "unexpected byte 0x%02x", (unsigned char)c);
}

static bool is_punct(const lexer *lx, char c)
{
    return lx->t == T_PUNCT && lx->punct == c;
}

static bool name_is(const lexer *lx, const char *s)
{
    return lx->t == T_NAME && lx->name_len == strlen(s) && memcmp(lx->name, s, lx->name_len) == 0;
}

static const char *const lua_keywords[] = {"and", "break", "do", "else", "elseif", "end", "false", "for",
                                           "function", "goto", "if", "in", "local", "nil", "not", "or",
                                           "repeat", "return", "then", "true", "until", "while", NULL};

static bool is_keyword(const lexer *lx)
{
    for (const char *const *k = lua_keywords; *k != NULL; k++)
        if (name_is(lx, *k))
            return true;
    return false;
}

static void describe(const lexer *lx, char *buf, size_t n)
{
    switch (lx->t) {
    case T_EOF: snprintf(buf, n, "end of file"); break;
    case T_NAME: snprintf(buf, n, "'%.*s'", (int)(lx->name_len > 40 ? 40 : lx->name_len), lx->name); break;
    case T_STR: snprintf(buf, n, "a string"); break;
    case T_NUM: snprintf(buf, n, "'%.40s'", lx->numtxt); break;
    case T_PUNCT: snprintf(buf, n, "'%c'", lx->punct); break;
    }
}

static int expected(lexer *lx, const char *what)
{
    char got[64];
    describe(lx, got, sizeof got);
    return lex_fail(lx, lx->tline, "expected %s, got %s", what, got);
}

static void cval_free(sk_cval *v)
{
    free(v->s);
    for (size_t i = 0; i < v->n; i++) {
        free(v->items[i].key);
        cval_free(&v->items[i].val);
    }
    free(v->items);
    memset(v, 0, sizeof *v);
}

static int parse_number(lexer *lx, bool neg, sk_cval *v)
{
    const char *t = lx->numtxt;
    bool hex = t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
    bool flt = hex ? strpbrk(t, ".pP") != NULL : strpbrk(t, ".eE") != NULL;
    v->line = lx->tline;
    if (!flt) {
        char *end;
        /* strtoull would also take a second "0x", a sign or blanks. */
        for (const char *q = hex ? t + 2 : t; *q; q++)
            if (hex ? hexval(*q) < 0 : !is_digit(*q))
                return lex_fail(lx, lx->tline, "malformed number '%s'", t);
        errno = 0;
        unsigned long long u = strtoull(hex ? t + 2 : t, &end, hex ? 16 : 10);
        if (*end != '\0' || end == (hex ? t + 2 : t))
            return lex_fail(lx, lx->tline, "malformed number '%s'", t);
        if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (neg ? 1u : 0u))
            return lex_fail(lx, lx->tline, "integer '%s%s' does not fit in 64 bits", neg ? "-" : "", t);
        v->type = SK_CVAL_INT;
        v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
        v->d = (double)v->i;
        return 0;
    }
    double d;
    if (sk_parse_f64(t, &d) < 0 || !isfinite(d))
        return lex_fail(lx, lx->tline, "malformed number '%s'", t);
    v->type = SK_CVAL_NUM;
    v->d = neg ? -d : d;
    return 0;
}

static int parse_table(lexer *lx, sk_cval *v, int depth);

static int steal_str(lexer *lx, sk_cval *v)
{
    v->type = SK_CVAL_STR;
    v->line = lx->tline;
    v->slen = lx->str.len;
    v->s = sk_buf_steal(&lx->str, NULL);
    if (v->s == NULL)
        return sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file);
    return 0;
}

/* value at the current token; leaves the token after it current. */
static int parse_value(lexer *lx, sk_cval *v, int depth)
{
    int rc;
    v->line = lx->tline;
    if (lx->t == T_STR) {
        if ((rc = steal_str(lx, v)) < 0)
            return rc;
    } else if (lx->t == T_NUM) {
        if ((rc = parse_number(lx, false, v)) < 0)
            return rc;
    } else if (is_punct(lx, '-')) {
        if ((rc = next(lx)) < 0)
            return rc;
        if (lx->t != T_NUM)
            return expected(lx, "a number after '-'");
        if ((rc = parse_number(lx, true, v)) < 0)
            return rc;
    } else if (is_punct(lx, '{')) {
        return parse_table(lx, v, depth + 1);
    } else if (name_is(lx, "true") || name_is(lx, "false")) {
        v->type = SK_CVAL_BOOL;
        v->b = name_is(lx, "true");
    } else if (name_is(lx, "nil")) {
        v->type = SK_CVAL_NIL;
    } else if (lx->t == T_NAME && !is_keyword(lx)) {
        return lex_fail(lx, lx->tline, "'%.*s' is a variable: values must be literals (no code runs in config files)",
                        (int)(lx->name_len > 40 ? 40 : lx->name_len), lx->name);
    } else {
        return expected(lx, "a value (string, number, true, false, nil or {...})");
    }
    return next(lx);
}

static int add_entry(lexer *lx, sk_cval *t, char *key, int line, sk_centry **out)
{
    if (key != NULL)
        for (size_t i = 0; i < t->n; i++)
            if (t->items[i].key != NULL && strcmp(t->items[i].key, key) == 0) {
                int rc = lex_fail(lx, line, "key '%s' given twice (first on line %d)", key, t->items[i].line);
                free(key);
                return rc;
            }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        sk_centry *it = realloc(t->items, cap * sizeof *it);
        if (it == NULL) {
            free(key);
            return sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file);
        }
        t->items = it;
        t->cap = cap;
    }
    sk_centry *e = &t->items[t->n++];
    memset(e, 0, sizeof *e);
    e->key = key;
    e->line = line;
    *out = e;
    return 0;
}

static char *dup_name(lexer *lx)
{
    char *k = malloc(lx->name_len + 1);
    if (k != NULL) {
        memcpy(k, lx->name, lx->name_len);
        k[lx->name_len] = '\0';
    }
    return k;
}

/* After a field's key (or for a list element) the value; keys are
 * Name '=' or '[' String ']' '='. */
static int parse_field(lexer *lx, sk_cval *t, int depth)
{
    int rc, line = lx->tline;
    char *key = NULL;
    if (lx->t == T_NAME && !is_keyword(lx)) {
        /* A Name is a key only when '=' (not '==') follows: look at the
         * next significant byte instead of lexing ahead. */
        const char *q = lx->p;
        while (q < lx->end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
            q++;
        if (!(q < lx->end && *q == '=' && !(q + 1 < lx->end && q[1] == '='))) {
            sk_cval dummy;
            memset(&dummy, 0, sizeof dummy);
            return parse_value(lx, &dummy, depth); /* reports the variable */
        }
        if ((key = dup_name(lx)) == NULL)
            return sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file);
        if ((rc = next(lx)) < 0 || (rc = next(lx)) < 0) {
            free(key);
            return rc;
        }
    } else if (is_punct(lx, '[')) {
        if ((rc = next(lx)) < 0)
            return rc;
        if (lx->t != T_STR)
            return expected(lx, "a string key inside [ ]");
        if (memchr(lx->str.data ? lx->str.data : "", '\0', lx->str.len) != NULL || lx->str.len == 0)
            return lex_fail(lx, lx->tline, "empty key");
        key = sk_buf_steal(&lx->str, NULL);
        if (key == NULL)
            return sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file);
        if ((rc = next(lx)) < 0 || (!is_punct(lx, ']') && (rc = expected(lx, "']'")) < 0) || (rc = next(lx)) < 0 ||
            (!is_punct(lx, '=') && (rc = expected(lx, "'=' after [key]")) < 0) || (rc = next(lx)) < 0) {
            free(key);
            return rc;
        }
    }
    sk_centry *e;
    if ((rc = add_entry(lx, t, key, line, &e)) < 0)
        return rc;
    return parse_value(lx, &e->val, depth);
}

static int parse_table(lexer *lx, sk_cval *v, int depth)
{
    int rc;
    v->type = SK_CVAL_TABLE;
    v->line = lx->tline;
    if (depth > MAX_DEPTH)
        return lex_fail(lx, lx->tline, "tables nested more than %d deep", MAX_DEPTH);
    if ((rc = next(lx)) < 0)
        return rc;
    while (!is_punct(lx, '}')) {
        if ((rc = parse_field(lx, v, depth)) < 0)
            return rc;
        if (is_punct(lx, ',') || is_punct(lx, ';')) {
            if ((rc = next(lx)) < 0)
                return rc;
        } else if (!is_punct(lx, '}')) {
            return expected(lx, "',' or '}'");
        }
    }
    return next(lx);
}

static int parse_chunk(lexer *lx, sk_cval *root)
{
    int rc;
    root->type = SK_CVAL_TABLE;
    root->line = 1;
    if ((rc = next(lx)) < 0)
        return rc;
    if (name_is(lx, "return")) {
        if ((rc = next(lx)) < 0)
            return rc;
        if (!is_punct(lx, '{'))
            return expected(lx, "'{' after return");
        if ((rc = parse_table(lx, root, 1)) < 0)
            return rc;
        if (is_punct(lx, ';') && (rc = next(lx)) < 0)
            return rc;
        return lx->t == T_EOF ? 0 : expected(lx, "end of file after the returned table");
    }
    while (lx->t != T_EOF) {
        if (is_punct(lx, ';')) {
            if ((rc = next(lx)) < 0)
                return rc;
            continue;
        }
        if (lx->t != T_NAME || is_keyword(lx)) {
            if (name_is(lx, "local"))
                return lex_fail(lx, lx->tline, "'local' is not allowed: write key = value");
            if (is_keyword(lx))
                return lex_fail(lx, lx->tline, "'%.*s' is not allowed: config files hold data only",
                                (int)lx->name_len, lx->name);
            return expected(lx, "a key (name = value)");
        }
        int line = lx->tline;
        char *key = dup_name(lx);
        if (key == NULL)
            return sk_fail(lx->err, SK_ENOMEM, "%s: out of memory", lx->file);
        if ((rc = next(lx)) < 0) {
            free(key);
            return rc;
        }
        if (!is_punct(lx, '=')) {
            rc = lex_fail(lx, lx->tline, "expected '=' after '%s' (config files hold data only: no calls or fields)",
                          key);
            free(key);
            return rc;
        }
        if ((rc = next(lx)) < 0) {
            free(key);
            return rc;
        }
        sk_centry *e;
        if ((rc = add_entry(lx, root, key, line, &e)) < 0)
            return rc;
        if ((rc = parse_value(lx, &e->val, 1)) < 0)
            return rc;
    }
    return 0;
}

int sk_config_parse(const char *text, size_t len, const char *filename, sk_config **out, sk_error *err)
{
    *out = NULL;
    sk_config *c = calloc(1, sizeof *c);
    if (c == NULL || (c->filename = strdup(filename ? filename : "config")) == NULL) {
        free(c);
        return sk_fail(err, SK_ENOMEM, "config: out of memory");
    }
    lexer lx;
    memset(&lx, 0, sizeof lx);
    lx.p = text;
    lx.end = text + len;
    lx.file = c->filename;
    lx.line = 1;
    lx.err = err;
    /* Skip a UTF-8 byte-order mark and a "#!" first line, as lua does. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        lx.p += 3;
    if (lx.p < lx.end && *lx.p == '#')
        while (lx.p < lx.end && *lx.p != '\n')
            lx.p++;
    int rc = parse_chunk(&lx, &c->root);
    sk_buf_free(&lx.str);
    if (rc < 0) {
        sk_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sk_config_read(const char *path, sk_config **out, sk_error *err)
{
    size_t len = 0;
    *out = NULL;
    char *text = sk_read_file(path, &len, MAX_CONFIG_BYTES, err);
    if (text == NULL)
        return err != NULL && err->code < 0 ? err->code : SK_EIO;
    int rc = sk_config_parse(text, len, path, out, err);
    free(text);
    return rc;
}

void sk_config_free(sk_config *c)
{
    if (c == NULL)
        return;
    cval_free(&c->root);
    for (size_t i = 0; i < c->njoined; i++)
        free(c->joined[i]);
    free(c->joined);
    free(c->filename);
    free(c);
}

const char *sk_config_filename(const sk_config *c)
{
    return c != NULL ? c->filename : NULL;
}

const sk_cval *sk_config_root(const sk_config *c)
{
    return c != NULL ? &c->root : NULL;
}

const sk_cval *sk_cval_get(const sk_cval *t, const char *key)
{
    if (t == NULL || t->type != SK_CVAL_TABLE)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].key != NULL && strcmp(t->items[i].key, key) == 0)
            return &t->items[i].val;
    return NULL;
}

const char *sk_cval_type_name(sk_cval_type t)
{
    switch (t) {
    case SK_CVAL_NIL: return "nil";
    case SK_CVAL_BOOL: return "a boolean";
    case SK_CVAL_INT: return "an integer";
    case SK_CVAL_NUM: return "a number";
    case SK_CVAL_STR: return "a string";
    case SK_CVAL_TABLE: return "a table";
    }
    return "?";
}

/* Option names use '-', config keys '_': equal when they match that way. */
static bool key_matches(const char *opt, const char *key)
{
    for (; *opt && *key; opt++, key++) {
        char a = *opt == '-' ? '_' : *opt, b = *key == '-' ? '_' : *key;
        if (a != b)
            return false;
    }
    return *opt == '\0' && *key == '\0';
}

static int keep_joined(sk_config *c, char *s)
{
    char **j = realloc(c->joined, (c->njoined + 1) * sizeof *j);
    if (j == NULL) {
        free(s);
        return SK_ENOMEM;
    }
    c->joined = j;
    c->joined[c->njoined++] = s;
    return 0;
}

static int apply_one(sk_config *c, const sk_opt *o, const sk_centry *e, sk_error *err)
{
    const sk_cval *v = &e->val;
    const char *f = c->filename;
    if (v->type == SK_CVAL_NIL)
        return 0;
    switch (o->type) {
    case SK_OPT_INT: {
        int64_t x;
        if (v->type == SK_CVAL_INT)
            x = v->i;
        else if (v->type == SK_CVAL_NUM && v->d == floor(v->d) && fabs(v->d) < 9.2e18)
            x = (int64_t)v->d;
        else
            return sk_fail(err, SK_EINVAL, "%s:%d: key '%s': expected an integer, got %s", f, v->line, e->key,
                           sk_cval_type_name(v->type));
        if (x < o->min || x > o->max)
            return sk_fail(err, SK_EINVAL, "%s:%d: key '%s': %" PRId64 " is out of range %" PRId64 "..%" PRId64, f,
                           v->line, e->key, x, o->min, o->max);
        *(int64_t *)o->target = x;
        return 0;
    }
    case SK_OPT_FLAG:
        if (v->type != SK_CVAL_BOOL)
            return sk_fail(err, SK_EINVAL, "%s:%d: key '%s': expected true or false, got %s", f, v->line, e->key,
                           sk_cval_type_name(v->type));
        *(int *)o->target = v->b ? 1 : 0;
        return 0;
    case SK_OPT_STR:
        if (v->type == SK_CVAL_STR) {
            *(const char **)o->target = v->s;
            return 0;
        }
        if (v->type == SK_CVAL_TABLE) {
            sk_buf b = SK_BUF_INIT;
            for (size_t i = 0; i < v->n; i++) {
                const sk_centry *it = &v->items[i];
                if (it->key != NULL || it->val.type != SK_CVAL_STR) {
                    sk_buf_free(&b);
                    return sk_fail(err, SK_EINVAL, "%s:%d: key '%s': expected a string or a list of strings", f,
                                   it->val.line, e->key);
                }
                if (strchr(it->val.s, ',') != NULL) {
                    sk_buf_free(&b);
                    return sk_fail(err, SK_EINVAL, "%s:%d: key '%s': list items may not contain ','", f,
                                   it->val.line, e->key);
                }
                if (i > 0)
                    sk_buf_puts(&b, ",");
                sk_buf_puts(&b, it->val.s);
            }
            char *s = sk_buf_steal(&b, NULL);
            if (s == NULL || keep_joined(c, s) < 0)
                return sk_fail(err, SK_ENOMEM, "%s: out of memory", f);
            *(const char **)o->target = s;
            return 0;
        }
        return sk_fail(err, SK_EINVAL, "%s:%d: key '%s': expected a string, got %s", f, v->line, e->key,
                       sk_cval_type_name(v->type));
    default:
        return sk_fail(err, SK_EINVAL, "%s:%d: key '%s' can only be given on the command line", f, e->line, e->key);
    }
}

int sk_config_apply(sk_config *c, const sk_opt *opts, sk_error *err)
{
    if (c == NULL)
        return 0;
    for (size_t i = 0; i < c->root.n; i++) {
        const sk_centry *e = &c->root.items[i];
        if (e->key == NULL)
            return sk_fail(err, SK_EINVAL, "%s:%d: a value without a key (write key = value)", c->filename, e->line);
        const sk_opt *o = opts;
        for (; o->name != NULL; o++)
            if (key_matches(o->name, e->key))
                break;
        if (o->name == NULL)
            return sk_fail(err, SK_EINVAL, "%s:%d: unknown key '%s'", c->filename, e->line, e->key);
        int rc = apply_one(c, o, e, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sk_config_load_args(const sk_opt *opts, int argc, char **argv, sk_config **out, sk_error *err)
{
    const char *path = NULL;
    *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 0;
        if (strncmp(a, "--", 2) != 0)
            continue;
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const sk_opt *o = opts;
        for (; o->name != NULL; o++)
            if (strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0)
                break;
        if (o->name == NULL || SK_OPT_IS_FLAG(o))
            continue;   /* sk_opts_parse reports unknown options */
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (strcmp(o->name, "config") == 0)
            path = val;
    }
    if (path == NULL)
        return 0;
    sk_config *c;
    int rc = sk_config_read(path, &c, err);
    if (rc < 0)
        return rc;
    if ((rc = sk_config_apply(c, opts, err)) < 0) {
        sk_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void lua_string(sk_buf *b, const char *s)
{
    sk_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '"': sk_buf_puts(b, "\\\""); break;
        case '\\': sk_buf_puts(b, "\\\\"); break;
        case '\n': sk_buf_puts(b, "\\n"); break;
        case '\r': sk_buf_puts(b, "\\r"); break;
        case '\t': sk_buf_puts(b, "\\t"); break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                sk_buf_printf(b, "\\%03u", ch);
            else
                sk_buf_append(b, s, 1);
        }
    }
    sk_buf_puts(b, "\"");
}

static void config_key(sk_buf *b, const char *name)
{
    for (; *name; name++)
        sk_buf_append(b, *name == '-' ? "_" : name, 1);
}

int sk_config_render(const sk_opt *opts, const char *title, sk_buf *out)
{
    sk_buf_printf(out, "-- %s: effective configuration (defaults, then the config file, then flags)\nreturn {\n",
                  title ? title : "samskap");
    for (const sk_opt *o = opts; o->name != NULL; o++) {
        if (o->type == SK_OPT_CLI_STR || o->type == SK_OPT_CLI_FLAG)
            continue;
        sk_buf_puts(out, "  -- ");
        for (const char *h = o->help; h && *h; h++)
            sk_buf_append(out, *h == '\n' ? " " : h, 1);
        if (o->type == SK_OPT_INT)
            sk_buf_printf(out, " (%" PRId64 "..%" PRId64 ")", o->min, o->max);
        sk_buf_puts(out, "\n  ");
        config_key(out, o->name);
        sk_buf_puts(out, " = ");
        if (o->type == SK_OPT_INT)
            sk_buf_printf(out, "%" PRId64, *(int64_t *)o->target);
        else if (o->type == SK_OPT_FLAG)
            sk_buf_puts(out, *(int *)o->target ? "true" : "false");
        else if (*(const char **)o->target == NULL)
            sk_buf_puts(out, "nil");
        else
            lua_string(out, *(const char **)o->target);
        sk_buf_puts(out, ",\n");
    }
    sk_buf_puts(out, "}\n");
    return out->oom ? SK_ENOMEM : 0;
}

/* Markdown cell text: '|' would end the cell, a newline the row. */
static void md_cell(sk_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            sk_buf_puts(b, "\\|");
        else if (*s == '\n')
            sk_buf_puts(b, " ");
        else
            sk_buf_append(b, s, 1);
    }
}

int sk_config_markdown(const sk_opt *opts, sk_buf *out)
{
    sk_buf_puts(out, "| flag | config key | type | default | range | meaning |\n"
                     "| --- | --- | --- | --- | --- | --- |\n");
    for (const sk_opt *o = opts; o->name != NULL; o++) {
        bool cli = o->type == SK_OPT_CLI_STR || o->type == SK_OPT_CLI_FLAG;
        sk_buf_printf(out, "| `--%s", o->name);
        if (!SK_OPT_IS_FLAG(o))
            sk_buf_puts(out, o->type == SK_OPT_INT ? " N" : " VALUE");
        sk_buf_puts(out, "` | ");
        if (cli) {
            sk_buf_puts(out, "(command line only)");
        } else {
            sk_buf_puts(out, "`");
            config_key(out, o->name);
            sk_buf_puts(out, "`");
        }
        switch (o->type) {
        case SK_OPT_INT:
            sk_buf_printf(out, " | integer | %" PRId64 " | %" PRId64 "..%" PRId64 " | ", *(int64_t *)o->target,
                          o->min, o->max);
            break;
        case SK_OPT_FLAG:
        case SK_OPT_CLI_FLAG:
            sk_buf_printf(out, " | boolean | %s | | ", *(int *)o->target ? "true" : "false");
            break;
        default:
            sk_buf_puts(out, " | string | ");
            if (*(const char **)o->target != NULL) {
                sk_buf_puts(out, "`");
                md_cell(out, *(const char **)o->target);
                sk_buf_puts(out, "`");
            }
            sk_buf_puts(out, " | | ");
        }
        md_cell(out, o->help);
        sk_buf_puts(out, " |\n");
    }
    return out->oom ? SK_ENOMEM : 0;
}
