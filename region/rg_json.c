/* rg_json.c - bounded recursive-descent JSON reader (RFC 8259) for GeoJSON.
 * Values land in one growable array and strings in one arena, so a
 * document is freed in two calls and a hostile one cannot exhaust memory
 * past the limits. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rg_internal.h"
#include "rg_json.h"

typedef struct parser {
    const char *s;
    size_t len, pos;
    const char *name;
    const rg_json_limits *lim;
    rg_json *j;
    locale_t c;
    sk_region_error *err;
} parser;

void rg_json_limits_default(rg_json_limits *lim)
{
    lim->max_bytes = (size_t)256 << 20;
    lim->max_values = 20000000;
    lim->max_string = (size_t)1 << 20;
    lim->max_depth = 64;
}

void rg_json_where(const char *text, size_t len, size_t off, long *line, long *col)
{
    long l = 1, c = 1;
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;   /* editors do not show a byte order mark */
    for (; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80)
            c++;
    }
    *line = l;
    *col = c;
}

static int fail_at(parser *p, size_t off, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(parser *p, size_t off, int code, const char *fmt, ...)
{
    long line, col;
    rg_json_where(p->s, p->len, off, &line, &col);
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rg_fail(p->err, code, "%s:%ld:%ld: %s", p->name, line, col, msg);
}

static const char *what(parser *p)
{
    static const char *const names[] = {"end of input", "a control character", "an invalid byte"};
    if (p->pos >= p->len)
        return names[0];
    unsigned char ch = (unsigned char)p->s[p->pos];
    return ch < 0x20 ? names[1] : ch >= 0x80 ? names[2] : NULL;
}

static int unexpected(parser *p, const char *expected)
{
    const char *w = what(p);
    if (w)
        return fail_at(p, p->pos, SK_REGION_EINVAL, "expected %s, found %s", expected, w);
    return fail_at(p, p->pos, SK_REGION_EINVAL, "expected %s, found '%c'", expected, p->s[p->pos]);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char ch = p->s[p->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        p->pos++;
    }
}

static long new_value(parser *p, int type, size_t off)
{
    rg_json *j = p->j;
    if (j->n >= p->lim->max_values) {
        fail_at(p, off, SK_REGION_EINVAL, "more than %zu values", p->lim->max_values);
        return -1;
    }
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        rg_jval *nv = realloc(j->v, cap * sizeof *nv);
        if (!nv) {
            rg_fail(p->err, SK_REGION_ENOMEM, "%s: out of memory", p->name);
            return -1;
        }
        j->v = nv;
        j->cap = cap;
    }
    rg_jval *v = &j->v[j->n];
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    v->off = (uint32_t)off;
    v->next = RG_JNONE;
    return (long)j->n++;
}

static int str_put(parser *p, const char *b, size_t n)
{
    rg_json *j = p->j;
    if (j->slen + n + 1 > j->scap) {
        size_t cap = j->scap ? j->scap : 4096;
        while (cap < j->slen + n + 1)
            cap *= 2;
        char *ns = realloc(j->str, cap);
        if (!ns)
            return rg_fail(p->err, SK_REGION_ENOMEM, "%s: out of memory", p->name);
        j->str = ns;
        j->scap = cap;
    }
    memcpy(j->str + j->slen, b, n);
    j->slen += n;
    return 0;
}

static int hex4(parser *p, size_t at, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        if (at + (size_t)k >= p->len)
            return -1;
        char ch = p->s[at + (size_t)k];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2; min = 0x80; cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3; min = 0x800; cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4; min = 0x10000; cp = c & 0x07;
    } else
        return 0;
    if (avail < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static void utf8_put(unsigned cp, char *out, size_t *n)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        *n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        *n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        *n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        *n = 4;
    }
}

/* At the opening quote; decodes into the arena. */
static int parse_string(parser *p, uint32_t *off, uint32_t *len)
{
    size_t start = p->pos++;
    if (p->j->slen > UINT32_MAX - p->lim->max_string - 8)
        return fail_at(p, start, SK_REGION_EINVAL, "too much string data");
    size_t base = p->j->slen;
    for (;;) {
        if (p->pos >= p->len)
            return fail_at(p, start, SK_REGION_EINVAL, "unterminated string");
        if (p->j->slen - base > p->lim->max_string)
            return fail_at(p, start, SK_REGION_EINVAL, "string longer than %zu bytes", p->lim->max_string);
        /* Copy a run of plain characters at once. */
        size_t run = p->pos;
        while (run < p->len) {
            unsigned char ch = (unsigned char)p->s[run];
            if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80)
                break;
            run++;
        }
        if (run > p->pos) {
            if (str_put(p, p->s + p->pos, run - p->pos) < 0)
                return SK_REGION_ENOMEM;
            p->pos = run;
            continue;
        }
        unsigned char ch = (unsigned char)p->s[p->pos];
        if (ch == '"') {
            p->pos++;
            break;
        }
        if (ch < 0x20)
            return fail_at(p, p->pos, SK_REGION_EINVAL, "control character 0x%02x in a string (escape it)", ch);
        if (ch >= 0x80) {
            size_t n = utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
            if (!n)
                return fail_at(p, p->pos, SK_REGION_EINVAL, "invalid UTF-8 in a string");
            if (str_put(p, p->s + p->pos, n) < 0)
                return SK_REGION_ENOMEM;
            p->pos += n;
            continue;
        }
        /* Escape. */
        size_t esc = p->pos;
        if (esc + 1 >= p->len)
            return fail_at(p, start, SK_REGION_EINVAL, "unterminated string");
        char e = p->s[esc + 1], out[4];
        size_t n = 1;
        p->pos += 2;
        switch (e) {
        case '"': out[0] = '"'; break;
        case '\\': out[0] = '\\'; break;
        case '/': out[0] = '/'; break;
        case 'b': out[0] = '\b'; break;
        case 'f': out[0] = '\f'; break;
        case 'n': out[0] = '\n'; break;
        case 'r': out[0] = '\r'; break;
        case 't': out[0] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, p->pos, &cp) < 0)
                return fail_at(p, esc, SK_REGION_EINVAL, "\\u needs four hex digits");
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail_at(p, esc, SK_REGION_EINVAL, "lone low surrogate \\u%04X", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p, p->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return fail_at(p, esc, SK_REGION_EINVAL, "high surrogate \\u%04X without its low half", cp);
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            utf8_put(cp, out, &n);
            break;
        }
        default:
            return fail_at(p, esc, SK_REGION_EINVAL, "invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
        }
        if (str_put(p, out, n) < 0)
            return SK_REGION_ENOMEM;
    }
    *off = (uint32_t)base;
    *len = (uint32_t)(p->j->slen - base);
    if (str_put(p, "", 1) < 0)
        return SK_REGION_ENOMEM;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(parser *p, double *out)
{
    size_t start = p->pos, i = p->pos;
    if (i < p->len && p->s[i] == '-')
        i++;
    if (i >= p->len || !is_digit(p->s[i]))
        return fail_at(p, start, SK_REGION_EINVAL, "invalid number (a digit must follow '-')");
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->s[i]))
            return fail_at(p, start, SK_REGION_EINVAL, "invalid number (no leading zeros)");
    } else
        while (i < p->len && is_digit(p->s[i]))
            i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return fail_at(p, start, SK_REGION_EINVAL, "invalid number (a digit must follow '.')");
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return fail_at(p, start, SK_REGION_EINVAL, "invalid number (a digit must follow the exponent)");
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    char buf[128];
    if (i - start >= sizeof buf)
        return fail_at(p, start, SK_REGION_EINVAL, "number longer than %zu characters", sizeof buf - 1);
    memcpy(buf, p->s + start, i - start);
    buf[i - start] = 0;
    /* The grammar is checked above; strtod_l only converts, in the C locale,
     * and rounds correctly. */
    char *end;
    double v = strtod_l(buf, &end, p->c);
    if (*end || v > 1.79769313486231570e308 || v < -1.79769313486231570e308)
        return fail_at(p, start, SK_REGION_EINVAL, "number %s is out of range", buf);
    *out = v;
    p->pos = i;
    return 0;
}

static int parse_value(parser *p, int depth, long *idx);

static int parse_container(parser *p, int depth, long self, char close)
{
    int is_obj = close == '}';
    p->pos++;
    skip_ws(p);
    uint32_t n = 0;
    long last = -1;
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        uint32_t koff = 0, klen = 0;
        if (is_obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return unexpected(p, "a member name in quotes");
            int rc = parse_string(p, &koff, &klen);
            if (rc < 0)
                return rc;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return unexpected(p, "':' after the member name");
            p->pos++;
            skip_ws(p);
        }
        long child;
        int rc = parse_value(p, depth + 1, &child);
        if (rc < 0)
            return rc;
        rg_jval *cv = &p->j->v[child];
        cv->key = koff;
        cv->keylen = klen;
        if (last < 0)
            p->j->v[self].u.kids.first = (uint32_t)child;
        else
            p->j->v[last].next = (uint32_t)child;
        last = child;
        n++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return unexpected(p, is_obj ? "',' or '}'" : "',' or ']'");
    }
    p->j->v[self].u.kids.n = n;
    return 0;
}

static int match_word(parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0)
        return 0;
    p->pos += n;
    return 1;
}

static int parse_value(parser *p, int depth, long *idx)
{
    if (depth > p->lim->max_depth)
        return fail_at(p, p->pos, SK_REGION_EINVAL, "nested deeper than %d levels", p->lim->max_depth);
    if (p->pos >= p->len)
        return unexpected(p, "a value");
    size_t off = p->pos;
    char ch = p->s[p->pos];
    long v;
    switch (ch) {
    case '{':
    case '[':
        if ((v = new_value(p, ch == '{' ? RG_JOBJ : RG_JARR, off)) < 0)
            return p->err ? p->err->code : SK_REGION_EINVAL;
        p->j->v[v].u.kids.first = RG_JNONE;
        *idx = v;
        return parse_container(p, depth, v, ch == '{' ? '}' : ']');
    case '"': {
        if ((v = new_value(p, RG_JSTR, off)) < 0)
            return p->err ? p->err->code : SK_REGION_EINVAL;
        uint32_t so, sl;
        int rc = parse_string(p, &so, &sl);
        if (rc < 0)
            return rc;
        p->j->v[v].u.str.off = so;
        p->j->v[v].u.str.len = sl;
        *idx = v;
        return 0;
    }
    case 't':
    case 'f':
    case 'n': {
        int type = match_word(p, "true") ? RG_JTRUE : match_word(p, "false") ? RG_JFALSE
                 : match_word(p, "null") ? RG_JNULL : -1;
        if (type < 0)
            return fail_at(p, off, SK_REGION_EINVAL, "invalid literal (true, false or null)");
        if ((v = new_value(p, type, off)) < 0)
            return p->err ? p->err->code : SK_REGION_EINVAL;
        *idx = v;
        return 0;
    }
    default:
        if (ch == '-' || is_digit(ch)) {
            double d = 0;
            int rc = parse_number(p, &d);
            if (rc < 0)
                return rc;
            if ((v = new_value(p, RG_JNUM, off)) < 0)
                return p->err ? p->err->code : SK_REGION_EINVAL;
            p->j->v[v].u.num = d;
            *idx = v;
            return 0;
        }
        return unexpected(p, "a value");
    }
}

int rg_json_parse(const char *text, size_t len, const char *name, const rg_json_limits *lim, rg_json *out,
                  sk_region_error *err)
{
    rg_json_limits def;
    if (!lim) {
        rg_json_limits_default(&def);
        lim = &def;
    }
    memset(out, 0, sizeof *out);
    name = name ? name : "(json)";
    if (!text)
        return rg_fail(err, SK_REGION_EINVAL, "%s: no input", name);
    if (len > lim->max_bytes || len >= UINT32_MAX)
        return rg_fail(err, SK_REGION_EINVAL, "%s: %zu bytes, more than the limit of %zu", name, len, lim->max_bytes);
    sk_region_error local;
    parser p = {.s = text, .len = len, .name = name, .lim = lim, .j = out, .err = err ? err : &local};
    p.c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (p.c == (locale_t)0)
        return rg_fail(err, SK_REGION_ENOMEM, "cannot create the C locale");
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    skip_ws(&p);
    long root;
    int rc = parse_value(&p, 1, &root);
    if (rc == 0) {
        skip_ws(&p);
        if (p.pos < p.len)
            rc = unexpected(&p, "the end of the document");
    }
    freelocale(p.c);
    if (rc < 0)
        rg_json_free(out);
    return rc;
}

void rg_json_free(rg_json *j)
{
    free(j->v);
    free(j->str);
    memset(j, 0, sizeof *j);
}

const rg_jval *rg_json_first(const rg_json *j, const rg_jval *v)
{
    if (!v || (v->type != RG_JARR && v->type != RG_JOBJ) || v->u.kids.first == RG_JNONE)
        return NULL;
    return &j->v[v->u.kids.first];
}

const rg_jval *rg_json_next(const rg_json *j, const rg_jval *v)
{
    return v && v->next != RG_JNONE ? &j->v[v->next] : NULL;
}

const rg_jval *rg_json_get(const rg_json *j, const rg_jval *obj, const char *key)
{
    if (!obj || obj->type != RG_JOBJ)
        return NULL;
    size_t n = strlen(key);
    for (const rg_jval *c = rg_json_first(j, obj); c; c = rg_json_next(j, c))
        if (c->keylen == n && memcmp(j->str + c->key, key, n) == 0)
            return c;
    return NULL;
}

const char *rg_json_str(const rg_json *j, const rg_jval *v, size_t *len)
{
    if (!v || v->type != RG_JSTR)
        return NULL;
    if (len)
        *len = v->u.str.len;
    return j->str + v->u.str.off;
}

int rg_json_is(const rg_json *j, const rg_jval *v, const char *s)
{
    size_t n;
    const char *t = rg_json_str(j, v, &n);
    return t && n == strlen(s) && memcmp(t, s, n) == 0;
}

const char *rg_json_type_name(int type)
{
    static const char *const names[] = {"null", "false", "true", "a number", "a string", "an array", "an object"};
    return type >= 0 && type <= RG_JOBJ ? names[type] : "?";
}
