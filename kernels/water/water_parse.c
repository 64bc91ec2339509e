/* water_parse.c - EPANET .inp reader: text -> sk_water_net (internal units).
 *
 * Two passes like EPANET: the first splits lines into tokens and registers
 * every node, link, pattern and curve id (so sections may refer forward);
 * the second reads OPTIONS first (units decide every conversion) and then
 * the data sections.  Numbers are read in the C locale whatever LANG says.
 * Errors name file:line, the section and the reason; hydraulic features the
 * solver lacks are refused, sections without hydraulic effect are skipped. */
#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "water_net.h"

enum { S_NONE = -1, S_TITLE, S_JUNCTIONS, S_RESERVOIRS, S_TANKS, S_PIPES, S_PUMPS, S_VALVES,
       S_TAGS, S_DEMANDS, S_STATUS, S_PATTERNS, S_CURVES, S_CONTROLS, S_RULES, S_ENERGY,
       S_EMITTERS, S_QUALITY, S_SOURCES, S_REACTIONS, S_MIXING, S_TIMES, S_REPORT, S_OPTIONS,
       S_COORDINATES, S_VERTICES, S_LABELS, S_BACKDROP, S_END, S_LEAKAGE, S_COUNT };
static const char *const section_names[S_COUNT] = {
    "TITLE", "JUNCTIONS", "RESERVOIRS", "TANKS", "PIPES", "PUMPS", "VALVES", "TAGS", "DEMANDS",
    "STATUS", "PATTERNS", "CURVES", "CONTROLS", "RULES", "ENERGY", "EMITTERS", "QUALITY",
    "SOURCES", "REACTIONS", "MIXING", "TIMES", "REPORT", "OPTIONS", "COORDINATES", "VERTICES",
    "LABELS", "BACKDROP", "END", "LEAKAGE"};

/* Flow units with EPANET's factors (file units per cfs). */
static const struct { const char *name; double f; int si; } flow_units[] = {
    {"CFS", 1.0, 0}, {"GPM", 448.831, 0}, {"MGD", 0.64632, 0}, {"IMGD", 0.5382, 0},
    {"AFD", 1.9837, 0}, {"LPS", 28.317, 1}, {"LPM", 1699.0, 1}, {"MLD", 2.4466, 1},
    {"CMH", 101.94, 1}, {"CMD", 2446.6, 1}, {"CMS", 0.028317, 1}};
#define N_FLOW_UNITS ((int)(sizeof flow_units / sizeof flow_units[0]))

#define MAXTOK 64

typedef struct line {
    int sect, lineno, ntok;
    size_t tok0;      /* index of the first token in parser.toks */
    char **tok;
} line;

typedef struct idmap {
    char **keys;
    int *vals;
    unsigned long *hashes;
    size_t cap, n;
} idmap;

typedef struct parser {
    const char *file;
    sk_water_net *net;
    sk_water_error *err;
    locale_t cloc;
    line *lines;
    size_t nlines, caplines;
    char *text;       /* owned copy of the input with NULs between tokens */
    char **toks;      /* all token pointers */
    size_t ntoks, captoks;
    idmap nodes, links, pats, curves;
    int cur_line;
    int cur_sect;
    int demcap;
} parser;

/* ---------- small helpers ---------- */

static int perr(parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, int code, const char *fmt, ...)
{
    if (p->err) {
        int n = 0;
        if (p->cur_line > 0 && p->cur_sect >= 0)
            n = snprintf(p->err->msg, sizeof p->err->msg, "%s:%d: [%s] ", p->file, p->cur_line,
                         section_names[p->cur_sect]);
        else if (p->cur_line > 0)
            n = snprintf(p->err->msg, sizeof p->err->msg, "%s:%d: ", p->file, p->cur_line);
        else
            n = snprintf(p->err->msg, sizeof p->err->msg, "%s: ", p->file);
        if (n < 0) n = 0;
        if ((size_t)n < sizeof p->err->msg) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err->msg + n, sizeof p->err->msg - (size_t)n, fmt, ap);
            va_end(ap);
        }
        p->err->code = code;
    }
    return code;
}

int w_add_warning(char **buf, size_t *len, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return SK_WATER_EINVAL;
    if ((size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1;
    if (*len > 64 * 1024) return 0; /* enough said; keep memory bounded */
    char *nb = realloc(*buf, *len + (size_t)n + 2);
    if (!nb) return SK_WATER_ENOMEM;
    memcpy(nb + *len, tmp, (size_t)n);
    nb[*len + (size_t)n] = '\n';
    nb[*len + (size_t)n + 1] = '\0';
    *len += (size_t)n + 1;
    *buf = nb;
    return 0;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static unsigned long hash_str(const char *s)
{
    /* FNV-1a over ASCII-folded bytes (ids are case-insensitive), then a
     * final mix so that the low bits used for the slot are well spread */
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
        h = (h ^ c) * 1099511628211UL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9UL;
    h ^= h >> 32;
    return h;
}

static int map_find(const idmap *m, const char *key)
{
    if (m->cap == 0) return -1;
    unsigned long h = hash_str(key);
    size_t i = h & (m->cap - 1);
    while (m->keys[i]) {
        if (m->hashes[i] == h && strcasecmp(m->keys[i], key) == 0) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* Insert; returns 1 if added, 0 if present, negative on OOM. key is borrowed. */
static int map_put(idmap *m, char *key, int val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        char **nk = calloc(nc, sizeof *nk);
        int *nv = calloc(nc, sizeof *nv);
        unsigned long *nh = calloc(nc, sizeof *nh);
        if (!nk || !nv || !nh) { free(nk); free(nv); free(nh); return SK_WATER_ENOMEM; }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i]) continue;
            size_t j = m->hashes[i] & (nc - 1);
            while (nk[j]) j = (j + 1) & (nc - 1);
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
            nh[j] = m->hashes[i];
        }
        free(m->keys);
        free(m->vals);
        free(m->hashes);
        m->keys = nk;
        m->vals = nv;
        m->hashes = nh;
        m->cap = nc;
    }
    unsigned long h = hash_str(key);
    size_t i = h & (m->cap - 1);
    while (m->keys[i]) {
        if (m->hashes[i] == h && strcasecmp(m->keys[i], key) == 0) return 0;
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->hashes[i] = h;
    m->n++;
    return 1;
}

static void map_free(idmap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->hashes);
}

static int match(const char *tok, const char *kw)
{
    /* EPANET matches keywords by prefix of the keyword (case-insensitive):
     * the token must start with kw. */
    size_t n = strlen(kw);
    return strncasecmp(tok, kw, n) == 0;
}

static int get_num(parser *p, const char *tok, double *out)
{
    char *end;
    double v = strtod_l(tok, &end, p->cloc);
    if (end == tok || *end != '\0' || !isfinite(v))
        return perr(p, SK_WATER_EINVAL, "bad number '%s'", tok);
    *out = v;
    return 0;
}

/* Time: "h", "h:mm", "h:mm:ss", or a number with unit SEC/MIN/HOUR/DAY, or
 * a clock time with AM/PM.  units_default: hours. */
static int get_time(parser *p, const char *t1, const char *t2, long *out)
{
    double v = 0;
    if (strchr(t1, ':')) {
        double part[3] = {0, 0, 0};
        int np = 0;
        const char *s = t1;
        while (np < 3) {
            char *end;
            part[np++] = strtod_l(s, &end, p->cloc);
            if (end == s) return perr(p, SK_WATER_EINVAL, "bad time '%s'", t1);
            if (*end == ':') s = end + 1;
            else if (*end == '\0') break;
            else return perr(p, SK_WATER_EINVAL, "bad time '%s'", t1);
        }
        v = part[0] + part[1] / 60.0 + part[2] / 3600.0;
    } else {
        if (get_num(p, t1, &v)) return SK_WATER_EINVAL;
    }
    if (v < 0) return perr(p, SK_WATER_EINVAL, "negative time '%s'", t1);
    double secs = v * 3600.0;
    if (t2) {
        if (match(t2, "SEC")) secs = v;
        else if (match(t2, "MIN")) secs = v * 60.0;
        else if (match(t2, "HOUR")) secs = v * 3600.0;
        else if (match(t2, "DAY")) secs = v * 86400.0;
        else if (strcasecmp(t2, "AM") == 0) {
            if (v >= 13) return perr(p, SK_WATER_EINVAL, "bad clock time '%s AM'", t1);
            if (v >= 12) v -= 12;
            secs = v * 3600.0;
        } else if (strcasecmp(t2, "PM") == 0) {
            if (v >= 13) return perr(p, SK_WATER_EINVAL, "bad clock time '%s PM'", t1);
            if (v < 12) v += 12;
            secs = v * 3600.0;
        } else return perr(p, SK_WATER_EINVAL, "bad time unit '%s'", t2);
    }
    if (secs > 1e12) return perr(p, SK_WATER_EINVAL, "time '%s' too large", t1);
    *out = (long)floor(secs + 0.5);
    return 0;
}

/* ---------- pass 1: lines and tokens ---------- */

static int push_tok(parser *p, char *t)
{
    if (p->ntoks == p->captoks) {
        size_t nc = p->captoks ? p->captoks * 2 : 1024;
        char **n = realloc(p->toks, nc * sizeof *n);
        if (!n) return SK_WATER_ENOMEM;
        p->toks = n;
        p->captoks = nc;
    }
    p->toks[p->ntoks++] = t;
    return 0;
}

static int split_lines(parser *p, const char *buf, size_t len)
{
    p->text = malloc(len + 1);
    if (!p->text) return perr(p, SK_WATER_ENOMEM, "out of memory");
    memcpy(p->text, buf, len);
    p->text[len] = '\0';
    int sect = S_NONE;
    int lineno = 0;
    char *s = p->text, *end = p->text + len;
    while (s < end) {
        lineno++;
        char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e) e = end;
        *e = '\0';
        p->cur_line = lineno;
        p->cur_sect = sect;
        /* strip comment */
        char *c = s;
        int inq = 0;
        for (; *c; c++) {
            if (*c == '"') inq = !inq;
            else if (*c == ';' && !inq) { *c = '\0'; break; }
        }
        size_t first = p->ntoks;
        char *q = s;
        int ntok = 0;
        while (*q) {
            while (*q && (isspace((unsigned char)*q) || *q == '\r')) q++;
            if (!*q) break;
            char *t;
            if (*q == '"') {
                t = ++q;
                while (*q && *q != '"') q++;
            } else {
                t = q;
                while (*q && !isspace((unsigned char)*q)) q++;
            }
            if (*q) *q++ = '\0';
            if (ntok >= MAXTOK) return perr(p, SK_WATER_EINVAL, "too many items on a line");
            if (push_tok(p, t)) return perr(p, SK_WATER_ENOMEM, "out of memory");
            ntok++;
        }
        s = e + 1;
        if (ntok == 0) continue;
        char *t0 = p->toks[first];
        if (t0[0] == '[') {
            char *rb = strchr(t0, ']');
            if (rb) *rb = '\0';
            const char *name = t0 + 1;
            sect = S_NONE;
            for (int i = 0; i < S_COUNT; i++)
                if (strcasecmp(name, section_names[i]) == 0) sect = i;
            p->cur_sect = S_NONE;
            if (sect == S_NONE) return perr(p, SK_WATER_EINVAL, "unknown section [%s]", name);
            p->ntoks = first;
            if (sect == S_END) break;
            continue;
        }
        if (sect == S_NONE) return perr(p, SK_WATER_EINVAL, "data before any [SECTION]");
        if (sect == S_TITLE || sect == S_TAGS || sect == S_LABELS || sect == S_BACKDROP ||
            sect == S_VERTICES || sect == S_QUALITY || sect == S_SOURCES ||
            sect == S_REACTIONS || sect == S_MIXING || sect == S_REPORT) {
            p->ntoks = first;   /* no hydraulic effect: skipped */
            continue;
        }
        if (p->nlines == p->caplines) {
            size_t nc = p->caplines ? p->caplines * 2 : 256;
            line *nl = realloc(p->lines, nc * sizeof *nl);
            if (!nl) return perr(p, SK_WATER_ENOMEM, "out of memory");
            p->lines = nl;
            p->caplines = nc;
        }
        /* tok pointers are fixed up after all lines are read (toks may move) */
        p->lines[p->nlines++] = (line){sect, lineno, ntok, first, NULL};
    }
    for (size_t i = 0; i < p->nlines; i++)
        p->lines[i].tok = p->toks + p->lines[i].tok0;
    p->cur_line = 0;
    return 0;
}

/* ---------- pass 1b: ids ---------- */

static int register_ids(parser *p)
{
    sk_water_net *net = p->net;
    int nj = 0, nt = 0, nl = 0;
    for (size_t i = 0; i < p->nlines; i++) {
        line *l = &p->lines[i];
        if (l->sect == S_JUNCTIONS) nj++;
        else if (l->sect == S_RESERVOIRS || l->sect == S_TANKS) nt++;
        else if (l->sect == S_PIPES || l->sect == S_PUMPS || l->sect == S_VALVES) nl++;
    }
    net->node = calloc((size_t)(nj + nt) + 1, sizeof *net->node);
    net->link = calloc((size_t)nl + 1, sizeof *net->link);
    if (!net->node || !net->link) return perr(p, SK_WATER_ENOMEM, "out of memory");
    /* counts first, so that sk_water_net_free releases ids on any error */
    net->njuncs = nj;
    net->nnodes = nj + nt;
    net->nlinks = nl;
    int ij = 0, it = nj, il = 0;
    for (size_t i = 0; i < p->nlines; i++) {
        line *l = &p->lines[i];
        p->cur_line = l->lineno;
        p->cur_sect = l->sect;
        int idx;
        idmap *m;
        if (l->sect == S_JUNCTIONS) { idx = ij++; m = &p->nodes; }
        else if (l->sect == S_RESERVOIRS || l->sect == S_TANKS) { idx = it++; m = &p->nodes; }
        else if (l->sect == S_PIPES || l->sect == S_PUMPS || l->sect == S_VALVES) { idx = il++; m = &p->links; }
        else if (l->sect == S_PATTERNS || l->sect == S_CURVES) {
            m = l->sect == S_PATTERNS ? &p->pats : &p->curves;
            int *cnt = l->sect == S_PATTERNS ? &net->npats : &net->ncurves;
            int r = map_put(m, l->tok[0], *cnt);
            if (r < 0) return perr(p, SK_WATER_ENOMEM, "out of memory");
            if (r == 1) (*cnt)++;
            continue;
        } else continue;
        if (strlen(l->tok[0]) > 31) return perr(p, SK_WATER_EINVAL, "id '%s' longer than 31 characters", l->tok[0]);
        int r = map_put(m, l->tok[0], idx);
        if (r < 0) return perr(p, SK_WATER_ENOMEM, "out of memory");
        if (r == 0) return perr(p, SK_WATER_EINVAL, "duplicate id '%s'", l->tok[0]);
        if (m == &p->nodes) {
            net->node[idx].id = xstrdup(l->tok[0]);
            if (!net->node[idx].id) return perr(p, SK_WATER_ENOMEM, "out of memory");
            net->node[idx].type = l->sect == S_JUNCTIONS ? SK_WATER_JUNCTION
                                  : l->sect == S_TANKS ? SK_WATER_TANK : SK_WATER_RESERVOIR;
            net->node[idx].pat = -1;
            net->node[idx].vcurve = -1;
        } else {
            net->link[idx].id = xstrdup(l->tok[0]);
            if (!net->link[idx].id) return perr(p, SK_WATER_ENOMEM, "out of memory");
        }
    }
    net->njuncs = nj;
    net->nnodes = nj + nt;
    net->nlinks = nl;
    net->pat = calloc((size_t)net->npats + 1, sizeof *net->pat);
    net->curve = calloc((size_t)net->ncurves + 1, sizeof *net->curve);
    if (!net->pat || !net->curve) return perr(p, SK_WATER_ENOMEM, "out of memory");
    for (size_t k = 0; k < p->pats.cap; k++)
        if (p->pats.keys[k] && !(net->pat[p->pats.vals[k]].id = xstrdup(p->pats.keys[k])))
            return perr(p, SK_WATER_ENOMEM, "out of memory");
    for (size_t k = 0; k < p->curves.cap; k++)
        if (p->curves.keys[k] && !(net->curve[p->curves.vals[k]].id = xstrdup(p->curves.keys[k])))
            return perr(p, SK_WATER_ENOMEM, "out of memory");
    return 0;
}

/* ---------- options and times ---------- */

static int need(parser *p, line *l, int n)
{
    if (l->ntok < n) return perr(p, SK_WATER_EINVAL, "too few items (need %d)", n);
    return 0;
}

static int read_option(parser *p, line *l)
{
    sk_water_net *net = p->net;
    char **t = l->tok;
    int n = l->ntok;
    double v;
    /* value is the last token for most numeric options */
    if (match(t[0], "UNITS")) {
        if (need(p, l, 2)) return SK_WATER_EINVAL;
        for (int i = 0; i < N_FLOW_UNITS; i++)
            if (strcasecmp(t[1], flow_units[i].name) == 0) { net->flow_units = i; return 0; }
        return perr(p, SK_WATER_EINVAL, "unknown flow units '%s'", t[1]);
    }
    if (match(t[0], "HEADLOSS")) {
        if (need(p, l, 2)) return SK_WATER_EINVAL;
        if (strcasecmp(t[1], "H-W") == 0) net->formflag = W_HW;
        else if (strcasecmp(t[1], "D-W") == 0) net->formflag = W_DW;
        else if (strcasecmp(t[1], "C-M") == 0) net->formflag = W_CM;
        else return perr(p, SK_WATER_EINVAL, "unknown headloss formula '%s'", t[1]);
        return 0;
    }
    if (match(t[0], "HYDRAULICS")) return perr(p, SK_WATER_EUNSUPPORTED, "HYDRAULICS USE/SAVE files are not supported");
    if (match(t[0], "QUALITY") || match(t[0], "DIFFUSIVITY") || match(t[0], "TOLERANCE") ||
        match(t[0], "MAP") || match(t[0], "VERIFY") || match(t[0], "SEGMENTS") ||
        match(t[0], "BULK") || match(t[0], "WALL") || match(t[0], "STATUS"))
        return 0; /* water quality / reporting only */
    if (match(t[0], "PRESSURE") && n >= 2 && !match(t[1], "EXP")) {
        if (match(t[1], "PSI")) net->pressure_units = 0;
        else if (match(t[1], "KPA")) net->pressure_units = 1;
        else if (match(t[1], "METER")) net->pressure_units = 2;
        else if (match(t[1], "BAR")) net->pressure_units = 3;
        else return perr(p, SK_WATER_EINVAL, "unknown pressure units '%s'", t[1]);
        return 0;
    }
    if (match(t[0], "PATTERN")) {
        if (need(p, l, 2)) return SK_WATER_EINVAL;
        int k = map_find(&p->pats, t[1]);
        if (k < 0) return perr(p, SK_WATER_EINVAL, "undefined pattern '%s'", t[1]);
        net->defpat = k;
        return 0;
    }
    if (match(t[0], "UNBALANCED")) {
        if (need(p, l, 2)) return SK_WATER_EINVAL;
        if (match(t[1], "STOP")) net->extraiter = -1;
        else if (match(t[1], "CONTINUE")) {
            net->extraiter = 0;
            if (n >= 3) {
                if (get_num(p, t[2], &v)) return SK_WATER_EINVAL;
                if (v < 0 || v > 1e6) return perr(p, SK_WATER_EINVAL, "bad UNBALANCED trials");
                net->extraiter = (int)v;
            }
        } else return perr(p, SK_WATER_EINVAL, "bad UNBALANCED option '%s'", t[1]);
        return 0;
    }
    if (match(t[0], "DEMAND") && n >= 2 && match(t[1], "MODEL")) {
        if (need(p, l, 3)) return SK_WATER_EINVAL;
        if (match(t[2], "DDA")) net->pda = 0;
        else if (match(t[2], "PDA")) net->pda = 1;
        else return perr(p, SK_WATER_EINVAL, "unknown demand model '%s'", t[2]);
        return 0;
    }
    if (match(t[0], "EMITTER") && n >= 2 && match(t[1], "BACKFLOW")) {
        if (need(p, l, 3)) return SK_WATER_EINVAL;
        net->emit_backflow = match(t[2], "YES") || match(t[2], "TRUE");
        return 0;
    }
    if (match(t[0], "BACKFLOW")) {
        if (need(p, l, 2)) return SK_WATER_EINVAL;
        net->emit_backflow = match(t[1], "YES") || match(t[1], "TRUE");
        return 0;
    }
    /* numeric options: keyword(s) then value */
    if (n < 2) return perr(p, SK_WATER_EINVAL, "option '%s' has no value", t[0]);
    if (get_num(p, t[n - 1], &v)) return SK_WATER_EINVAL;
    if (match(t[0], "TRIALS")) { if (v < 1 || v > 1e7) goto bad; net->maxiter = (int)v; }
    else if (match(t[0], "ACCURACY")) { if (v < 1e-8 || v > 1e-1) goto bad; net->hacc = v; }
    else if (match(t[0], "HEADERROR")) { if (v < 0) goto bad; net->headerrlim = v; }
    else if (match(t[0], "FLOWCHANGE")) { if (v < 0) goto bad; net->flowchglim = v; }
    else if (match(t[0], "SPECIFIC")) { if (v <= 0) goto bad; net->spgrav = v; }
    else if (match(t[0], "VISCOSITY")) { if (v <= 0) goto bad; net->viscos = v; }
    else if (match(t[0], "CHECKFREQ")) { if (v < 1) goto bad; net->checkfreq = (int)v; }
    else if (match(t[0], "MAXCHECK")) { if (v < 1) goto bad; net->maxcheck = (int)v; }
    else if (match(t[0], "DAMPLIMIT")) { if (v < 0) goto bad; net->damplimit = v; }
    else if (match(t[0], "DEMAND") && n >= 3 && match(t[1], "MULT")) { if (v < 0) goto bad; net->dmult = v; }
    else if (match(t[0], "EMITTER") && n >= 3 && match(t[1], "EXP")) { if (v <= 0) goto bad; net->qexp = 1.0 / v; }
    else if (match(t[0], "MINIMUM") && n >= 3 && match(t[1], "PRESSURE")) { if (v < 0) goto bad; net->pmin = v; }
    else if (match(t[0], "REQUIRED") && n >= 3 && match(t[1], "PRESSURE")) { if (v < 0) goto bad; net->preq = v; }
    else if (match(t[0], "PRESSURE") && n >= 3 && match(t[1], "EXP")) { if (v <= 0) goto bad; net->pexp = v; }
    else return perr(p, SK_WATER_EINVAL, "unknown option '%s'", t[0]);
    return 0;
bad:
    return perr(p, SK_WATER_EINVAL, "illegal value '%s' for option %s", t[n - 1], t[0]);
}

static int read_time_opt(parser *p, line *l)
{
    sk_water_net *net = p->net;
    char **t = l->tok;
    int n = l->ntok;
    if (match(t[0], "STATISTIC")) return 0;
    int kw = 1;
    long *dst = NULL;
    if (match(t[0], "DURATION")) dst = &net->dur;
    else if (match(t[0], "HYDRAULIC")) { dst = &net->hstep; kw = 2; }
    else if (match(t[0], "QUALITY")) return 0;
    else if (match(t[0], "RULE")) { dst = &net->rulestep; kw = 2; }
    else if (match(t[0], "PATTERN")) {
        kw = 2;
        if (n >= 2 && match(t[1], "TIME")) dst = &net->pstep;
        else if (n >= 2 && match(t[1], "START")) dst = &net->pstart;
    } else if (match(t[0], "REPORT")) {
        kw = 2;
        if (n >= 2 && match(t[1], "TIME")) dst = &net->rstep;
        else if (n >= 2 && match(t[1], "START")) dst = &net->rstart;
    } else if (match(t[0], "START")) { dst = &net->tstart; kw = 2; }
    if (!dst) return perr(p, SK_WATER_EINVAL, "unknown time option '%s'", t[0]);
    if (n <= kw) return perr(p, SK_WATER_EINVAL, "missing time value");
    if (get_time(p, t[kw], n > kw + 1 ? t[kw + 1] : NULL, dst)) return SK_WATER_EINVAL;
    return 0;
}

static void set_units(sk_water_net *net)
{
    double *u = net->ucf;
    double q = flow_units[net->flow_units].f;
    net->si = flow_units[net->flow_units].si;
    if (net->si) {
        u[U_ELEV] = 0.3048;
        u[U_DIAM] = 304.8;
        u[U_VELOCITY] = 0.3048;
        u[U_VOLUME] = 0.3048 * 0.3048 * 0.3048;
        u[U_POWER] = 0.7457;
        if (net->pressure_units == 0) net->pressure_units = 2; /* SI default: metres */
    } else {
        u[U_ELEV] = 1.0;
        u[U_DIAM] = 12.0;
        u[U_VELOCITY] = 1.0;
        u[U_VOLUME] = 1.0;
        u[U_POWER] = 1.0;
    }
    u[U_FLOW] = q;
    switch (net->pressure_units) {
    case 1: u[U_PRESSURE] = 0.4333 * 6.894757 * net->spgrav; break;
    case 2: u[U_PRESSURE] = 0.3048 * net->spgrav; break;
    case 3: u[U_PRESSURE] = 0.4333 * 0.06894757 * net->spgrav; break;
    default: u[U_PRESSURE] = 0.4333 * net->spgrav; break;
    }
    net->hexp = net->formflag == W_HW ? 1.852 : 2.0;
}

/* ---------- data sections ---------- */

static int find_node(parser *p, const char *id, int *out)
{
    int i = map_find(&p->nodes, id);
    if (i < 0) return perr(p, SK_WATER_EINVAL, "undefined node '%s'", id);
    *out = i;
    return 0;
}

static int find_link(parser *p, const char *id, int *out)
{
    int i = map_find(&p->links, id);
    if (i < 0) return perr(p, SK_WATER_EINVAL, "undefined link '%s'", id);
    *out = i;
    return 0;
}

static int find_pat(parser *p, const char *id, int *out)
{
    int i = map_find(&p->pats, id);
    if (i < 0) return perr(p, SK_WATER_EINVAL, "undefined pattern '%s'", id);
    *out = i;
    return 0;
}

static int find_curve(parser *p, const char *id, int *out)
{
    int i = map_find(&p->curves, id);
    if (i < 0) return perr(p, SK_WATER_EINVAL, "undefined curve '%s'", id);
    *out = i;
    return 0;
}

static int dem_reserve(parser *p, int extra)
{
    sk_water_net *net = p->net;
    if (net->ndems + extra <= p->demcap) return 0;
    int nc = p->demcap ? p->demcap * 2 : 256;
    while (nc < net->ndems + extra) nc *= 2;
    w_demand *nd = realloc(net->dem, (size_t)nc * sizeof *nd);
    if (!nd) return perr(p, SK_WATER_ENOMEM, "out of memory");
    net->dem = nd;
    p->demcap = nc;
    return 0;
}

static int add_demand(parser *p, int node, double base, int pat, int replace_junc)
{
    sk_water_net *net = p->net;
    w_node *nd = &net->node[node];
    if (replace_junc && nd->dem_from_junc) { nd->ndem = 0; nd->dem_from_junc = 0; }
    /* a node's demands are one contiguous slice: move it to the end of the
     * array when another node's demands follow it */
    if (nd->ndem > 0 && nd->dem0 + nd->ndem != net->ndems) {
        if (dem_reserve(p, nd->ndem + 1)) return SK_WATER_ENOMEM;
        memmove(net->dem + net->ndems, net->dem + nd->dem0, (size_t)nd->ndem * sizeof *net->dem);
        nd->dem0 = net->ndems;
        net->ndems += nd->ndem;
    }
    if (dem_reserve(p, 1)) return SK_WATER_ENOMEM;
    if (nd->ndem == 0) nd->dem0 = net->ndems;
    net->dem[net->ndems++] = (w_demand){base, pat};
    nd->ndem++;
    return 0;
}

static int read_junction(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 2)) return SK_WATER_EINVAL;
    int i = map_find(&p->nodes, l->tok[0]);
    w_node *nd = &net->node[i];
    double el, d = 0;
    int pat = -1;
    if (get_num(p, l->tok[1], &el)) return SK_WATER_EINVAL;
    if (l->ntok >= 3 && get_num(p, l->tok[2], &d)) return SK_WATER_EINVAL;
    if (l->ntok >= 4 && find_pat(p, l->tok[3], &pat)) return SK_WATER_EINVAL;
    nd->el = el / net->ucf[U_ELEV];
    if (add_demand(p, i, d / net->ucf[U_FLOW], pat, 0)) return SK_WATER_ENOMEM;
    nd->dem_from_junc = 1;
    return 0;
}

static int read_reservoir(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 2)) return SK_WATER_EINVAL;
    w_node *nd = &net->node[map_find(&p->nodes, l->tok[0])];
    double h;
    if (get_num(p, l->tok[1], &h)) return SK_WATER_EINVAL;
    if (l->ntok >= 3 && find_pat(p, l->tok[2], &nd->pat)) return SK_WATER_EINVAL;
    nd->el = h / net->ucf[U_ELEV];
    return 0;
}

static int read_tank(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 6)) return SK_WATER_EINVAL;
    w_node *nd = &net->node[map_find(&p->nodes, l->tok[0])];
    double v[6] = {0};
    for (int k = 1; k < 7 && k < l->ntok; k++)
        if (get_num(p, l->tok[k], &v[k - 1])) return SK_WATER_EINVAL;
    double el = v[0], init = v[1], lo = v[2], hi = v[3], diam = v[4], minvol = v[5];
    if (l->ntok >= 8 && strcmp(l->tok[7], "*") != 0 && find_curve(p, l->tok[7], &nd->vcurve))
        return SK_WATER_EINVAL;
    if (l->ntok >= 9 && (match(l->tok[8], "YES") || match(l->tok[8], "TRUE")))
        return perr(p, SK_WATER_EUNSUPPORTED, "tank overflow is not supported");
    if (hi < lo || init < lo || init > hi)
        return perr(p, SK_WATER_EINVAL, "tank levels out of order (min %g, init %g, max %g)", lo, init, hi);
    if (diam < 0 || minvol < 0) return perr(p, SK_WATER_EINVAL, "negative tank diameter or volume");
    double ue = net->ucf[U_ELEV];
    nd->el = el / ue;
    nd->h0 = (el + init) / ue;
    nd->hmin = (el + lo) / ue;
    nd->hmax = (el + hi) / ue;
    nd->area = W_PI * (diam / ue) * (diam / ue) / 4.0;
    nd->vmin = minvol / net->ucf[U_VOLUME];
    if (nd->vmin == 0 && nd->vcurve < 0) nd->vmin = nd->area * (nd->hmin - nd->el);
    return 0;
}

static int read_pipe(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 6)) return SK_WATER_EINVAL;
    w_link *lk = &net->link[map_find(&p->links, l->tok[0])];
    if (find_node(p, l->tok[1], &lk->n1) || find_node(p, l->tok[2], &lk->n2)) return SK_WATER_EINVAL;
    if (lk->n1 == lk->n2) return perr(p, SK_WATER_EINVAL, "link '%s' connects node '%s' to itself", lk->id, l->tok[1]);
    double len, d, rough, ml = 0;
    if (get_num(p, l->tok[3], &len) || get_num(p, l->tok[4], &d) || get_num(p, l->tok[5], &rough))
        return SK_WATER_EINVAL;
    lk->type = SK_WATER_PIPE;
    lk->status = W_OPEN;
    if (l->ntok >= 7) {
        char *t6 = l->tok[6];
        if (match(t6, "CV")) lk->type = SK_WATER_CVPIPE;
        else if (match(t6, "CLOSED")) lk->status = W_CLOSED;
        else if (match(t6, "OPEN")) ;
        else if (get_num(p, t6, &ml)) return SK_WATER_EINVAL;
    }
    if (l->ntok >= 8) {
        char *t7 = l->tok[7];
        if (match(t7, "CV")) lk->type = SK_WATER_CVPIPE;
        else if (match(t7, "CLOSED")) lk->status = W_CLOSED;
        else if (match(t7, "OPEN")) ;
        else return perr(p, SK_WATER_EINVAL, "bad pipe status '%s'", t7);
    }
    if (len <= 0 || d <= 0 || rough <= 0 || ml < 0)
        return perr(p, SK_WATER_EINVAL, "pipe '%s' needs positive length, diameter and roughness", lk->id);
    lk->len = len / net->ucf[U_ELEV];
    lk->diam = d / net->ucf[U_DIAM];
    lk->kc = rough;
    if (net->formflag == W_DW) lk->kc = rough / (1000.0 * net->ucf[U_ELEV]);
    lk->km_user = ml;
    lk->km = 0.02517 * ml / pow(lk->diam, 4);
    return 0;
}

static int read_pump(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 4)) return SK_WATER_EINVAL;
    w_link *lk = &net->link[map_find(&p->links, l->tok[0])];
    if (find_node(p, l->tok[1], &lk->n1) || find_node(p, l->tok[2], &lk->n2)) return SK_WATER_EINVAL;
    if (lk->n1 == lk->n2) return perr(p, SK_WATER_EINVAL, "pump '%s' connects a node to itself", lk->id);
    lk->type = SK_WATER_PUMP;
    lk->status = W_OPEN;
    lk->kc = 1.0;
    lk->hcurve = lk->upat = lk->ecurve = -1;
    lk->ptype = W_PUMP_NOCURVE;
    lk->diam = 0;
    for (int k = 3; k < l->ntok; k += 2) {
        if (k + 1 >= l->ntok) return perr(p, SK_WATER_EINVAL, "pump keyword '%s' has no value", l->tok[k]);
        const char *kw = l->tok[k], *val = l->tok[k + 1];
        double v;
        if (match(kw, "HEAD")) {
            if (find_curve(p, val, &lk->hcurve)) return SK_WATER_EINVAL;
            lk->ptype = W_PUMP_CUSTOM; /* refined after curves are read */
        } else if (match(kw, "POWER")) {
            if (get_num(p, val, &v)) return SK_WATER_EINVAL;
            if (v <= 0) return perr(p, SK_WATER_EINVAL, "pump power must be positive");
            lk->ptype = W_PUMP_CONST_HP;
            lk->power = v;
        } else if (match(kw, "SPEED")) {
            if (get_num(p, val, &v)) return SK_WATER_EINVAL;
            if (v < 0) return perr(p, SK_WATER_EINVAL, "negative pump speed");
            lk->kc = v;
        } else if (match(kw, "PATTERN")) {
            if (find_pat(p, val, &lk->upat)) return SK_WATER_EINVAL;
        } else return perr(p, SK_WATER_EINVAL, "unknown pump keyword '%s'", kw);
    }
    if (lk->ptype == W_PUMP_NOCURVE)
        return perr(p, SK_WATER_EINVAL, "pump '%s' has neither HEAD curve nor POWER", lk->id);
    return 0;
}

static int read_valve(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 6)) return SK_WATER_EINVAL;
    w_link *lk = &net->link[map_find(&p->links, l->tok[0])];
    if (find_node(p, l->tok[1], &lk->n1) || find_node(p, l->tok[2], &lk->n2)) return SK_WATER_EINVAL;
    if (lk->n1 == lk->n2) return perr(p, SK_WATER_EINVAL, "valve '%s' connects a node to itself", lk->id);
    double d, set = 0, ml = 0;
    if (get_num(p, l->tok[3], &d)) return SK_WATER_EINVAL;
    const char *ty = l->tok[4];
    if (strcasecmp(ty, "PRV") == 0) lk->type = SK_WATER_PRV;
    else if (strcasecmp(ty, "PSV") == 0) lk->type = SK_WATER_PSV;
    else if (strcasecmp(ty, "PBV") == 0) lk->type = SK_WATER_PBV;
    else if (strcasecmp(ty, "FCV") == 0) lk->type = SK_WATER_FCV;
    else if (strcasecmp(ty, "TCV") == 0) lk->type = SK_WATER_TCV;
    else if (strcasecmp(ty, "GPV") == 0) lk->type = SK_WATER_GPV;
    else if (strcasecmp(ty, "PCV") == 0) lk->type = SK_WATER_PCV;
    else return perr(p, SK_WATER_EINVAL, "unknown valve type '%s'", ty);
    lk->vcurve = -1;
    if (lk->type == SK_WATER_GPV) {
        int c = 0;
        if (find_curve(p, l->tok[5], &c)) return SK_WATER_EINVAL;
        set = c;
    } else if (get_num(p, l->tok[5], &set)) return SK_WATER_EINVAL;
    if (l->ntok >= 7 && get_num(p, l->tok[6], &ml)) return SK_WATER_EINVAL;
    if (l->ntok >= 8 && lk->type == SK_WATER_PCV && find_curve(p, l->tok[7], &lk->vcurve)) return SK_WATER_EINVAL;
    if (d <= 0 || ml < 0) return perr(p, SK_WATER_EINVAL, "valve '%s' needs a positive diameter", lk->id);
    int t1 = net->node[lk->n1].type, t2 = net->node[lk->n2].type;
    if ((lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV || lk->type == SK_WATER_FCV) &&
        (t1 != SK_WATER_JUNCTION || t2 != SK_WATER_JUNCTION))
        return perr(p, SK_WATER_EINVAL, "%s '%s' may not connect to a tank or reservoir", ty, lk->id);
    lk->diam = d / net->ucf[U_DIAM];
    lk->km_user = ml;
    lk->km = 0.02517 * ml / pow(lk->diam, 4);
    lk->status = W_ACTIVE;
    switch (lk->type) {
    case SK_WATER_PRV: case SK_WATER_PSV: case SK_WATER_PBV:
        lk->kc = set / net->ucf[U_PRESSURE]; break;
    case SK_WATER_FCV: lk->kc = set / net->ucf[U_FLOW]; break;
    default: lk->kc = set; break;
    }
    return 0;
}

static int read_status(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 2)) return SK_WATER_EINVAL;
    int k = 0;
    if (find_link(p, l->tok[0], &k)) return SK_WATER_EINVAL;
    w_link *lk = &net->link[k];
    const char *s = l->tok[1];
    if (match(s, "OPEN") || match(s, "CLOSED")) {
        int st = match(s, "OPEN") ? W_OPEN : W_CLOSED;
        if (lk->type == SK_WATER_CVPIPE && st == W_OPEN)
            return perr(p, SK_WATER_EINVAL, "check valve '%s' cannot be set OPEN", lk->id);
        if (lk->type == SK_WATER_PUMP) lk->kc = st == W_OPEN ? 1.0 : 0.0;
        else if (lk->type > SK_WATER_PUMP && lk->type != SK_WATER_GPV) lk->kc = W_MISSING;
        lk->status = st;
        return 0;
    }
    double v;
    if (get_num(p, s, &v)) return SK_WATER_EINVAL;
    if (lk->type <= SK_WATER_PIPE) return perr(p, SK_WATER_EINVAL, "pipe '%s' takes no setting", lk->id);
    if (lk->type == SK_WATER_PUMP) {
        if (v < 0) return perr(p, SK_WATER_EINVAL, "negative pump speed");
        lk->kc = v;
        lk->status = v > 0 ? W_OPEN : W_CLOSED;
    } else if (lk->type == SK_WATER_GPV) {
        return perr(p, SK_WATER_EINVAL, "GPV '%s' takes OPEN or CLOSED only", lk->id);
    } else {
        switch (lk->type) {
        case SK_WATER_PRV: case SK_WATER_PSV: case SK_WATER_PBV: v /= net->ucf[U_PRESSURE]; break;
        case SK_WATER_FCV: v /= net->ucf[U_FLOW]; break;
        default: break;
        }
        lk->kc = v;
        lk->status = W_ACTIVE;
    }
    return 0;
}

static int read_pattern(parser *p, line *l)
{
    w_pattern *pt = &p->net->pat[map_find(&p->pats, l->tok[0])];
    if (l->ntok < 2) return 0;
    double *nf = realloc(pt->f, (size_t)(pt->n + l->ntok - 1) * sizeof *nf);
    if (!nf) return perr(p, SK_WATER_ENOMEM, "out of memory");
    pt->f = nf;
    for (int k = 1; k < l->ntok; k++)
        if (get_num(p, l->tok[k], &pt->f[pt->n++])) return SK_WATER_EINVAL;
    return 0;
}

static int read_curve(parser *p, line *l)
{
    w_curve *c = &p->net->curve[map_find(&p->curves, l->tok[0])];
    if (l->ntok < 3 || (l->ntok - 1) % 2 != 0) return perr(p, SK_WATER_EINVAL, "curve '%s' needs x y pairs", c->id);
    for (int k = 1; k + 1 < l->ntok; k += 2) {
        if (c->n == c->cap) {
            int nc = c->cap ? c->cap * 2 : 8;
            double *nx = realloc(c->x, (size_t)nc * sizeof *nx);
            if (!nx) return perr(p, SK_WATER_ENOMEM, "out of memory");
            c->x = nx;
            double *ny = realloc(c->y, (size_t)nc * sizeof *ny);
            if (!ny) return perr(p, SK_WATER_ENOMEM, "out of memory");
            c->y = ny;
            c->cap = nc;
        }
        if (get_num(p, l->tok[k], &c->x[c->n]) || get_num(p, l->tok[k + 1], &c->y[c->n])) return SK_WATER_EINVAL;
        if (c->n > 0 && c->x[c->n] <= c->x[c->n - 1])
            return perr(p, SK_WATER_EINVAL, "curve '%s' x values must increase", c->id);
        c->n++;
    }
    return 0;
}

static int read_demand(parser *p, line *l)
{
    if (need(p, l, 2)) return SK_WATER_EINVAL;
    int i = 0, pat = -1;
    double d;
    if (find_node(p, l->tok[0], &i)) return SK_WATER_EINVAL;
    if (i >= p->net->njuncs) return perr(p, SK_WATER_EINVAL, "demand on non-junction '%s'", l->tok[0]);
    if (get_num(p, l->tok[1], &d)) return SK_WATER_EINVAL;
    if (l->ntok >= 3 && find_pat(p, l->tok[2], &pat)) return SK_WATER_EINVAL;
    return add_demand(p, i, d / p->net->ucf[U_FLOW], pat, 1);
}

static int read_emitter(parser *p, line *l)
{
    sk_water_net *net = p->net;
    if (need(p, l, 2)) return SK_WATER_EINVAL;
    int i = 0;
    double c;
    if (find_node(p, l->tok[0], &i) || get_num(p, l->tok[1], &c)) return SK_WATER_EINVAL;
    if (i >= net->njuncs) return perr(p, SK_WATER_EINVAL, "emitter on non-junction '%s'", l->tok[0]);
    if (c < 0) return perr(p, SK_WATER_EINVAL, "negative emitter coefficient");
    /* q_user = C p_user^(1/qexp)  =>  h_ft = (Uq/C)^qexp q^qexp / Up */
    net->node[i].ke = c > 0 ? pow(net->ucf[U_FLOW] / c, net->qexp) / net->ucf[U_PRESSURE] : 0.0;
    return 0;
}

static int read_control(parser *p, line *l)
{
    sk_water_net *net = p->net;
    char **t = l->tok;
    int n = l->ntok;
    if (n < 6 || !match(t[0], "LINK")) return perr(p, SK_WATER_EINVAL, "expected LINK id status IF|AT ...");
    w_control c = {0};
    if (find_link(p, t[1], &c.link)) return SK_WATER_EINVAL;
    w_link *lk = &net->link[c.link];
    c.node = -1;
    c.setting = W_MISSING;
    if (match(t[2], "OPEN") || match(t[2], "CLOSED")) {
        c.status = match(t[2], "OPEN") ? W_OPEN : W_CLOSED;
        if (lk->type == SK_WATER_PUMP) c.setting = c.status == W_OPEN ? 1.0 : 0.0;
        if (lk->type == SK_WATER_GPV) c.setting = lk->kc;
    } else {
        double v;
        if (get_num(p, t[2], &v)) return SK_WATER_EINVAL;
        if (lk->type <= SK_WATER_PIPE) return perr(p, SK_WATER_EINVAL, "a pipe takes no setting");
        if (lk->type == SK_WATER_GPV) return perr(p, SK_WATER_EINVAL, "a GPV takes OPEN/CLOSED only");
        if (lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV || lk->type == SK_WATER_PBV) v /= net->ucf[U_PRESSURE];
        if (lk->type == SK_WATER_FCV) v /= net->ucf[U_FLOW];
        if (lk->type == SK_WATER_PUMP) { if (v < 0) return perr(p, SK_WATER_EINVAL, "negative pump speed"); c.status = v > 0 ? W_OPEN : W_CLOSED; }
        else c.status = W_ACTIVE;
        c.setting = v;
    }
    if (lk->type == SK_WATER_CVPIPE) return perr(p, SK_WATER_EINVAL, "check valve '%s' cannot be controlled", lk->id);
    if (match(t[3], "IF")) {
        if (n < 7 || !match(t[4], "NODE")) return perr(p, SK_WATER_EINVAL, "expected IF NODE id ABOVE|BELOW value");
        if (find_node(p, t[5], &c.node)) return SK_WATER_EINVAL;
        if (match(t[6], "ABOVE")) c.type = W_CTL_HI;
        else if (match(t[6], "BELOW")) c.type = W_CTL_LOW;
        else return perr(p, SK_WATER_EINVAL, "expected ABOVE or BELOW, got '%s'", t[6]);
        if (n < 8) return perr(p, SK_WATER_EINVAL, "missing control level");
        double v;
        if (get_num(p, t[7], &v)) return SK_WATER_EINVAL;
        /* junction: pressure; tank: level above bottom */
        const w_node *nd = &net->node[c.node];
        if (nd->type == SK_WATER_JUNCTION) c.grade = nd->el + v / net->ucf[U_PRESSURE];
        else c.grade = nd->el + v / net->ucf[U_ELEV];
    } else if (match(t[3], "AT")) {
        if (match(t[4], "TIME")) c.type = W_CTL_TIMER;
        else if (match(t[4], "CLOCKTIME")) c.type = W_CTL_TOD;
        else return perr(p, SK_WATER_EINVAL, "expected TIME or CLOCKTIME, got '%s'", t[4]);
        if (get_time(p, t[5], n > 6 ? t[6] : NULL, &c.time)) return SK_WATER_EINVAL;
        if (c.type == W_CTL_TOD) c.time %= 86400;
    } else return perr(p, SK_WATER_EINVAL, "expected IF or AT, got '%s'", t[3]);
    w_control *nc = realloc(net->ctrl, (size_t)(net->nctrls + 1) * sizeof *nc);
    if (!nc) return perr(p, SK_WATER_ENOMEM, "out of memory");
    net->ctrl = nc;
    net->ctrl[net->nctrls++] = c;
    return 0;
}

static int read_energy(parser *p, line *l)
{
    sk_water_net *net = p->net;
    char **t = l->tok;
    if (match(t[0], "GLOBAL") && l->ntok >= 3 && match(t[1], "EFFIC")) {
        double v;
        if (get_num(p, t[2], &v)) return SK_WATER_EINVAL;
        if (v <= 0 || v > 100) return perr(p, SK_WATER_EINVAL, "efficiency must be in (0,100]");
        net->epump = v;
    } else if (match(t[0], "PUMP") && l->ntok >= 4 && match(t[2], "EFFIC")) {
        int k = 0;
        if (find_link(p, t[1], &k)) return SK_WATER_EINVAL;
        if (net->link[k].type != SK_WATER_PUMP) return perr(p, SK_WATER_EINVAL, "'%s' is not a pump", t[1]);
        if (find_curve(p, t[3], &net->link[k].ecurve)) return SK_WATER_EINVAL;
    }
    return 0; /* prices and demand charges do not affect hydraulics */
}

static int read_coord(parser *p, line *l)
{
    if (need(p, l, 3)) return SK_WATER_EINVAL;
    int i = 0;
    if (find_node(p, l->tok[0], &i)) return SK_WATER_EINVAL;
    w_node *nd = &p->net->node[i];
    if (get_num(p, l->tok[1], &nd->x) || get_num(p, l->tok[2], &nd->y)) return SK_WATER_EINVAL;
    nd->has_xy = 1;
    return 0;
}

static int read_leakage(parser *p, line *l)
{
    if (need(p, l, 2)) return SK_WATER_EINVAL;
    int k = 0;
    double c1 = 0, c2 = 0;
    if (find_link(p, l->tok[0], &k) || get_num(p, l->tok[1], &c1)) return SK_WATER_EINVAL;
    if (l->ntok >= 3 && get_num(p, l->tok[2], &c2)) return SK_WATER_EINVAL;
    if (c1 < 0 || c2 < 0) return perr(p, SK_WATER_EINVAL, "negative leakage coefficient");
    w_link *lk = &p->net->link[k];
    if (lk->type > SK_WATER_PIPE) return perr(p, SK_WATER_EINVAL, "only pipes leak ('%s' is not a pipe)", lk->id);
    lk->leak_area = c1;
    lk->leak_expan = c2;
    if (c1 > 0 || c2 > 0) p->net->has_leakage = 1;
    return 0;
}


/* ---------- [RULES] ---------- */

static int push_premise(parser *p, w_premise *pr)
{
    sk_water_net *net = p->net;
    w_premise *n = realloc(net->prem, (size_t)(net->npremises + 1) * sizeof *n);
    if (!n) return perr(p, SK_WATER_ENOMEM, "out of memory");
    net->prem = n;
    net->prem[net->npremises++] = *pr;
    return 0;
}

static int push_action(parser *p, w_action *a)
{
    sk_water_net *net = p->net;
    w_action *n = realloc(net->act, (size_t)(net->nactions + 1) * sizeof *n);
    if (!n) return perr(p, SK_WATER_ENOMEM, "out of memory");
    net->act = n;
    net->act[net->nactions++] = *a;
    return 0;
}

static int rule_relop(parser *p, char **t, int n, int *i, int *op)
{
    if (*i >= n) return perr(p, SK_WATER_EINVAL, "missing relation");
    const char *r = t[*i];
    (*i)++;
    if (strcmp(r, "=") == 0 || strcasecmp(r, "IS") == 0) {
        *op = W_OP_EQ;
        if (*i < n && strcasecmp(t[*i], "NOT") == 0) { *op = W_OP_NE; (*i)++; }
    } else if (strcmp(r, "<>") == 0 || strcasecmp(r, "NOT") == 0) *op = W_OP_NE;
    else if (strcmp(r, "<") == 0 || strcasecmp(r, "BELOW") == 0) *op = W_OP_LT;
    else if (strcmp(r, "<=") == 0) *op = W_OP_LE;
    else if (strcmp(r, ">") == 0 || strcasecmp(r, "ABOVE") == 0) *op = W_OP_GT;
    else if (strcmp(r, ">=") == 0) *op = W_OP_GE;
    else return perr(p, SK_WATER_EINVAL, "unknown relation '%s'", r);
    return 0;
}

static int rule_status_word(const char *w)
{
    if (match(w, "OPEN")) return W_RS_OPEN;
    if (match(w, "CLOSED")) return W_RS_CLOSED;
    if (match(w, "ACTIVE")) return W_RS_ACTIVE;
    return 0;
}

static int read_premise(parser *p, line *l, int logop_or)
{
    sk_water_net *net = p->net;
    char **t = l->tok;
    int n = l->ntok, i = 1;
    w_premise pr = {logop_or, 0, -1, 0, 0, 0, 0};
    if (n < 4) return perr(p, SK_WATER_EINVAL, "incomplete rule condition");
    const char *obj = t[i++];
    if (match(obj, "SYSTEM")) pr.obj = W_R_SYSTEM;
    else if (match(obj, "NODE") || match(obj, "JUNC") || match(obj, "RESERV") || match(obj, "TANK")) {
        pr.obj = W_R_NODE;
        if (find_node(p, t[i++], &pr.index)) return SK_WATER_EINVAL;
    } else if (match(obj, "LINK") || match(obj, "PIPE") || match(obj, "PUMP") || match(obj, "VALVE")) {
        pr.obj = W_R_LINK;
        if (find_link(p, t[i++], &pr.index)) return SK_WATER_EINVAL;
    } else return perr(p, SK_WATER_EINVAL, "unknown rule object '%s'", obj);
    if (i >= n) return perr(p, SK_WATER_EINVAL, "missing rule attribute");
    const char *var = t[i++];
    if (pr.obj == W_R_SYSTEM) {
        if (match(var, "DEMAND")) pr.var = W_RV_DEMAND;
        else if (match(var, "CLOCKTIME")) pr.var = W_RV_CLOCKTIME;
        else if (match(var, "TIME")) pr.var = W_RV_TIME;
        else return perr(p, SK_WATER_EINVAL, "unknown SYSTEM attribute '%s'", var);
    } else if (pr.obj == W_R_NODE) {
        if (match(var, "DEMAND")) pr.var = W_RV_DEMAND;
        else if (match(var, "HEAD") || match(var, "GRADE")) pr.var = W_RV_HEAD;
        else if (match(var, "PRESSURE")) pr.var = W_RV_PRESSURE;
        else if (match(var, "LEVEL")) pr.var = W_RV_LEVEL;
        else if (match(var, "FILLTIME")) pr.var = W_RV_FILLTIME;
        else if (match(var, "DRAINTIME")) pr.var = W_RV_DRAINTIME;
        else return perr(p, SK_WATER_EINVAL, "unknown node attribute '%s'", var);
    } else {
        if (match(var, "FLOW")) pr.var = W_RV_FLOW;
        else if (match(var, "STATUS")) pr.var = W_RV_STATUS;
        else if (match(var, "SETTING")) pr.var = W_RV_SETTING;
        else return perr(p, SK_WATER_EINVAL, "unknown link attribute '%s'", var);
    }
    if (rule_relop(p, t, n, &i, &pr.relop)) return SK_WATER_EINVAL;
    if (i >= n) return perr(p, SK_WATER_EINVAL, "missing rule value");
    const double *u = net->ucf;
    if (pr.var == W_RV_STATUS) {
        if (!(pr.status = rule_status_word(t[i]))) return perr(p, SK_WATER_EINVAL, "bad status '%s'", t[i]);
    } else if (pr.var == W_RV_TIME || pr.var == W_RV_CLOCKTIME) {
        long secs;
        if (get_time(p, t[i], i + 1 < n ? t[i + 1] : NULL, &secs)) return SK_WATER_EINVAL;
        pr.value = (double)(pr.var == W_RV_CLOCKTIME ? secs % 86400 : secs);
    } else {
        double v;
        if (get_num(p, t[i], &v)) return SK_WATER_EINVAL;
        switch (pr.var) {
        case W_RV_DEMAND: case W_RV_FLOW: v /= u[U_FLOW]; break;
        case W_RV_HEAD: v /= u[U_ELEV]; break;
        case W_RV_LEVEL: v = net->node[pr.index].el + v / u[U_ELEV]; break;
        case W_RV_PRESSURE: v = net->node[pr.index].el + v / u[U_PRESSURE]; break;
        case W_RV_FILLTIME: case W_RV_DRAINTIME: v *= 3600.0; break;
        default: break; /* SETTING compared in file units */
        }
        pr.value = v;
    }
    return push_premise(p, &pr);
}

static int read_action(parser *p, line *l)
{
    char **t = l->tok;
    int n = l->ntok, i = 1;
    w_action a = {0, 0, W_MISSING};
    if (n < 6) return perr(p, SK_WATER_EINVAL, "incomplete rule action");
    const char *obj = t[i++];
    if (!(match(obj, "LINK") || match(obj, "PIPE") || match(obj, "PUMP") || match(obj, "VALVE")))
        return perr(p, SK_WATER_EINVAL, "rule action on '%s': only links can act", obj);
    if (find_link(p, t[i++], &a.link)) return SK_WATER_EINVAL;
    const char *var = t[i++];
    i++; /* "=" or "IS" */
    if (match(var, "STATUS")) {
        if (!(a.status = rule_status_word(t[i]))) return perr(p, SK_WATER_EINVAL, "bad status '%s'", t[i]);
        if (p->net->link[a.link].type == SK_WATER_CVPIPE) return perr(p, SK_WATER_EINVAL, "check valve cannot be controlled");
    } else if (match(var, "SETTING")) {
        if (get_num(p, t[i], &a.setting)) return SK_WATER_EINVAL;
        if (a.setting < 0) return perr(p, SK_WATER_EINVAL, "negative setting");
        if (p->net->link[a.link].type <= SK_WATER_PIPE) return perr(p, SK_WATER_EINVAL, "a pipe has no setting");
    } else return perr(p, SK_WATER_EINVAL, "rule action attribute '%s' (STATUS or SETTING)", var);
    return push_action(p, &a);
}

static int read_rule_line(parser *p, line *l, int *clause)
{
    sk_water_net *net = p->net;
    const char *k = l->tok[0];
    w_rule *r = net->nrules ? &net->rule[net->nrules - 1] : NULL;
    if (match(k, "RULE")) {
        if (l->ntok < 2) return perr(p, SK_WATER_EINVAL, "RULE needs an id");
        w_rule *nr = realloc(net->rule, (size_t)(net->nrules + 1) * sizeof *nr);
        if (!nr) return perr(p, SK_WATER_ENOMEM, "out of memory");
        net->rule = nr;
        r = &net->rule[net->nrules++];
        memset(r, 0, sizeof *r);
        r->id = xstrdup(l->tok[1]);
        if (!r->id) return perr(p, SK_WATER_ENOMEM, "out of memory");
        r->p0 = net->npremises;
        *clause = 0;
        return 0;
    }
    if (!r) return perr(p, SK_WATER_EINVAL, "'%s' before any RULE", k);
    if (match(k, "IF")) {
        if (*clause != 0 || r->np) return perr(p, SK_WATER_EINVAL, "IF out of place");
        *clause = 1;
        r->np++;
        return read_premise(p, l, 0);
    }
    if (match(k, "AND") || match(k, "OR")) {
        int is_or = match(k, "OR");
        if (*clause == 1) { r->np++; return read_premise(p, l, is_or); }
        if (is_or) return perr(p, SK_WATER_EINVAL, "OR in an action list");
        if (*clause == 2) { r->na++; return read_action(p, l); }
        if (*clause == 3) { r->ne++; return read_action(p, l); }
        return perr(p, SK_WATER_EINVAL, "AND out of place");
    }
    if (match(k, "THEN")) {
        if (*clause != 1) return perr(p, SK_WATER_EINVAL, "THEN without IF");
        *clause = 2;
        r->a0 = net->nactions;
        r->na = 1;
        return read_action(p, l);
    }
    if (match(k, "ELSE")) {
        if (*clause != 2) return perr(p, SK_WATER_EINVAL, "ELSE without THEN");
        *clause = 3;
        r->e0 = net->nactions;
        r->ne = 1;
        return read_action(p, l);
    }
    if (match(k, "PRIORITY")) {
        if (l->ntok < 2 || get_num(p, l->tok[1], &r->priority)) return perr(p, SK_WATER_EINVAL, "PRIORITY needs a number");
        return 0;
    }
    return perr(p, SK_WATER_EINVAL, "unknown rule keyword '%s'", k);
}

/* ---------- finishing: pumps, tanks, checks ---------- */

static int power_curve(double h0, double h1, double h2, double q1, double q2, double *a, double *b, double *c)
{
    const double tiny = 1e-6;
    if (h0 < tiny || h0 - h1 < tiny || h1 - h2 < tiny || q1 < tiny || q2 - q1 < tiny) return 0;
    *a = h0;
    double h4 = h0 - h1, h5 = h0 - h2;
    *c = log(h5 / h4) / log(q2 / q1);
    if (*c <= 0.0 || *c > 20.0) return 0;
    *b = -h4 / pow(q1, *c);
    return *b < 0.0;
}

static int finish(parser *p)
{
    sk_water_net *net = p->net;
    p->cur_line = 0;
    p->cur_sect = S_NONE;
    for (int j = 0; j < net->npats; j++)
        if (net->pat[j].n == 0) {
            /* EPANET gives an empty pattern a single factor of 1 */
            net->pat[j].f = malloc(sizeof(double));
            if (!net->pat[j].f) return perr(p, SK_WATER_ENOMEM, "out of memory");
            net->pat[j].f[0] = 1.0;
            net->pat[j].n = 1;
        }
    for (int j = 0; j < net->ncurves; j++)
        if (net->curve[j].n == 0) return perr(p, SK_WATER_EINVAL, "curve '%s' has no points", net->curve[j].id);
    double uq = net->ucf[U_FLOW], uh = net->ucf[U_ELEV];
    for (int k = 0; k < net->nlinks; k++) {
        w_link *lk = &net->link[k];
        if (lk->type == SK_WATER_PUMP) {
            if (lk->ptype == W_PUMP_CONST_HP) {
                lk->h0 = 0;
                lk->rp = -8.814 * lk->power / net->ucf[U_POWER];
                lk->np = -1.0;
                lk->q0 = 1.0;
                lk->qmax = 1e10;
                lk->hmax = 1e10;
            } else {
                w_curve *c = &net->curve[lk->hcurve];
                double h0 = 0, h1 = 0, h2 = 0, q1 = 0, q2 = 0, a, b, cc;
                if (c->n == 1) {
                    lk->ptype = W_PUMP_POWER;
                    q1 = c->x[0]; h1 = c->y[0];
                    h0 = 1.33334 * h1; q2 = 2.0 * q1; h2 = 0.0;
                } else if (c->n == 3 && c->x[0] == 0.0) {
                    lk->ptype = W_PUMP_POWER;
                    h0 = c->y[0]; q1 = c->x[1]; h1 = c->y[1]; q2 = c->x[2]; h2 = c->y[2];
                } else lk->ptype = W_PUMP_CUSTOM;
                if (lk->ptype == W_PUMP_POWER) {
                    if (!power_curve(h0, h1, h2, q1, q2, &a, &b, &cc))
                        return perr(p, SK_WATER_EINVAL, "pump '%s': curve '%s' is not a valid pump curve", lk->id, c->id);
                    lk->h0 = -a / uh;
                    lk->rp = -b * pow(uq, cc) / uh;
                    lk->np = cc;
                    lk->q0 = q1 / uq;
                    lk->qmax = pow(-a / b, 1.0 / cc) / uq;
                    lk->hmax = h0 / uh;
                } else {
                    for (int m = 1; m < c->n; m++)
                        if (c->y[m] >= c->y[m - 1])
                            return perr(p, SK_WATER_EINVAL, "pump '%s': head curve '%s' must decrease", lk->id, c->id);
                    lk->qmax = c->x[c->n - 1] / uq;
                    lk->q0 = (c->x[0] + c->x[c->n - 1]) / 2.0 / uq;
                    lk->hmax = c->y[0] / uh;
                }
            }
        }
        if (lk->type == SK_WATER_GPV) {
            w_curve *c = &net->curve[(int)lk->kc];
            if (c->n < 2) return perr(p, SK_WATER_EINVAL, "GPV '%s': curve needs two points", lk->id);
        }
    }
    for (int i = net->njuncs; i < net->nnodes; i++) {
        w_node *nd = &net->node[i];
        if (nd->type != SK_WATER_TANK) continue;
        if (nd->vcurve >= 0) {
            w_curve *c = &net->curve[nd->vcurve];
            double lo = (nd->hmin - nd->el) * uh, hi = (nd->hmax - nd->el) * uh;
            if (c->n < 2 || lo < c->x[0] || hi > c->x[c->n - 1])
                return perr(p, SK_WATER_EINVAL, "tank '%s': volume curve '%s' does not span its levels", nd->id, c->id);
            nd->vmin = w_tank_volume(net, i, nd->hmin);
        }
        nd->v0 = w_tank_volume(net, i, nd->h0);
        nd->vmax = w_tank_volume(net, i, nd->hmax);
    }
    /* FAVAD leakage: each pipe's leaks go half to each junction end (all
     * to the junction when the other end is fixed grade), then become a
     * pair of emitter-like terms per node (EPANET 2.3's model) */
    if (net->has_leakage) {
        const double c_orif = 4.8149866e-6; /* 0.6 sqrt(2g), mm2 -> m2 */
        for (int k = 0; k < net->nlinks; k++) {
            const w_link *lk = &net->link[k];
            if (lk->type > SK_WATER_PIPE || (lk->leak_area == 0 && lk->leak_expan == 0)) continue;
            int j1 = lk->n1 < net->njuncs, j2 = lk->n2 < net->njuncs;
            if (!j1 && !j2) continue;
            double len = lk->len * uh / 100.0;
            if (j1 && j2) len *= 0.5;
            double ca = c_orif * lk->leak_area / (0.3048 * 0.3048) * len, ce = c_orif * lk->leak_expan * len;
            if (j1) { net->node[lk->n1].cfa += ca; net->node[lk->n1].cva += ce; }
            if (j2) { net->node[lk->n2].cfa += ca; net->node[lk->n2].cva += ce; }
        }
        for (int i = 0; i < net->njuncs; i++) {
            w_node *nd = &net->node[i];
            nd->cfa = nd->cfa > 0 ? 1.0 / (nd->cfa * nd->cfa) : 0.0;
            nd->cva = nd->cva > 0 ? 1.0 / pow(nd->cva, 2.0 / 3.0) : 0.0;
        }
    }
    /* a node with no links is an input error, as in EPANET (error 233) */
    char *deg = calloc((size_t)net->nnodes + 1, 1);
    if (!deg) return perr(p, SK_WATER_ENOMEM, "out of memory");
    int ntanks = 0;
    for (int k = 0; k < net->nlinks; k++) { deg[net->link[k].n1] = 1; deg[net->link[k].n2] = 1; }
    for (int i = 0; i < net->nnodes; i++) {
        if (i >= net->njuncs) ntanks++;
        if (!deg[i]) {
            free(deg);
            return perr(p, SK_WATER_EINVAL, "node '%s' is not connected to any link", net->node[i].id);
        }
    }
    free(deg);
    if (net->njuncs == 0 || ntanks == 0)
        return perr(p, SK_WATER_EINVAL, "network needs at least one junction and one tank or reservoir");
    if (net->hstep <= 0) net->hstep = 3600;
    if (net->pstep <= 0) net->pstep = 3600;
    if (net->rstep <= 0) net->rstep = 3600;
    if (net->hstep > net->pstep) net->hstep = net->pstep;
    if (net->hstep > net->rstep) net->hstep = net->rstep;
    if (net->rstart > net->dur) net->rstart = 0;
    if (net->rulestep <= 0) net->rulestep = net->hstep / 10 > 0 ? net->hstep / 10 : 1;
    if (net->rulestep > net->hstep) net->rulestep = net->hstep;
    for (int r = 0; r < net->nrules; r++)
        if (net->rule[r].np == 0 || net->rule[r].na == 0)
            return perr(p, SK_WATER_EINVAL, "rule '%s' needs IF and THEN clauses", net->rule[r].id);
    if (net->pda && net->preq - net->pmin < 0.1)
        return perr(p, SK_WATER_EINVAL, "REQUIRED PRESSURE must exceed MINIMUM PRESSURE by 0.1 or more");
    net->pmin /= net->ucf[U_PRESSURE];
    net->preq /= net->ucf[U_PRESSURE];
    net->viscos *= 1.1e-5;
    return 0;
}

static void defaults(sk_water_net *net)
{
    net->flow_units = 1; /* GPM */
    net->formflag = W_HW;
    net->hacc = 0.001;
    net->maxiter = 200;
    net->extraiter = -1;
    net->dmult = 1.0;
    net->viscos = 1.0;
    net->spgrav = 1.0;
    net->checkfreq = 2;
    net->maxcheck = 10;
    net->qexp = 2.0;
    net->pmin = 0.0;
    net->preq = 0.1;
    net->pexp = 0.5;
    net->defpat = -1;
    net->epump = 75.0;
    net->dur = 0;
    net->hstep = 3600;
    net->pstep = 3600;
    net->rstep = 3600;
}

int sk_water_parse(const char *buf, size_t len, const char *filename, sk_water_net **out,
                   sk_water_error *err)
{
    *out = NULL;
    parser p;
    memset(&p, 0, sizeof p);
    p.file = filename ? filename : "<input>";
    p.err = err;
    p.cur_sect = S_NONE;
    if (err) { err->code = 0; err->msg[0] = '\0'; }
    sk_water_net *net = calloc(1, sizeof *net);
    if (!net) return perr(&p, SK_WATER_ENOMEM, "out of memory");
    p.net = net;
    defaults(net);
    int rc = 0;
    p.cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!p.cloc) { rc = perr(&p, SK_WATER_ENOMEM, "cannot create C locale"); goto done; }
    net->filename = xstrdup(p.file);
    if (!net->filename) { rc = perr(&p, SK_WATER_ENOMEM, "out of memory"); goto done; }
    if ((rc = split_lines(&p, buf, len))) goto done;
    if ((rc = register_ids(&p))) goto done;
    /* OPTIONS first: units and formula decide every conversion below. */
    for (size_t i = 0; i < p.nlines; i++) {
        line *l = &p.lines[i];
        if (l->sect != S_OPTIONS) continue;
        p.cur_line = l->lineno;
        p.cur_sect = l->sect;
        if ((rc = read_option(&p, l))) goto done;
    }
    set_units(net);
    /* links before STATUS/CONTROLS need types; nodes before DEMANDS: read
     * the element sections first, then the rest, each in file order. */
    int rule_clause = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (size_t i = 0; i < p.nlines; i++) {
            line *l = &p.lines[i];
            int elem = l->sect == S_JUNCTIONS || l->sect == S_RESERVOIRS || l->sect == S_TANKS ||
                       l->sect == S_PIPES || l->sect == S_PUMPS || l->sect == S_VALVES ||
                       l->sect == S_PATTERNS || l->sect == S_CURVES;
            if ((pass == 0) != elem) continue;
            p.cur_line = l->lineno;
            p.cur_sect = l->sect;
            switch (l->sect) {
            case S_JUNCTIONS: rc = read_junction(&p, l); break;
            case S_RESERVOIRS: rc = read_reservoir(&p, l); break;
            case S_TANKS: rc = read_tank(&p, l); break;
            case S_PIPES: rc = read_pipe(&p, l); break;
            case S_PUMPS: rc = read_pump(&p, l); break;
            case S_VALVES: rc = read_valve(&p, l); break;
            case S_PATTERNS: rc = read_pattern(&p, l); break;
            case S_CURVES: rc = read_curve(&p, l); break;
            case S_DEMANDS: rc = read_demand(&p, l); break;
            case S_STATUS: rc = read_status(&p, l); break;
            case S_EMITTERS: rc = read_emitter(&p, l); break;
            case S_CONTROLS: rc = read_control(&p, l); break;
            case S_ENERGY: rc = read_energy(&p, l); break;
            case S_COORDINATES: rc = read_coord(&p, l); break;
            case S_LEAKAGE: rc = read_leakage(&p, l); break;
            case S_TIMES: rc = read_time_opt(&p, l); break;
            case S_RULES: rc = read_rule_line(&p, l, &rule_clause); break;
            default: break;
            }
            if (rc) goto done;
        }
    }
    if (net->defpat < 0) {
        /* EPANET's default demand pattern is the one with id "1", if any */
        net->defpat = map_find(&p.pats, "1");
    }
    rc = finish(&p);
done:
    if (p.cloc) freelocale(p.cloc);
    map_free(&p.nodes);
    map_free(&p.links);
    map_free(&p.pats);
    map_free(&p.curves);
    free(p.lines);
    free(p.toks);
    free(p.text);
    if (rc) {
        sk_water_net_free(net);
        return rc;
    }
    *out = net;
    return 0;
}

void sk_water_net_free(sk_water_net *net)
{
    if (!net) return;
    if (net->node)
        for (int i = 0; i < net->nnodes; i++) free(net->node[i].id);
    if (net->link)
        for (int k = 0; k < net->nlinks; k++) free(net->link[k].id);
    if (net->pat)
        for (int j = 0; j < net->npats; j++) { free(net->pat[j].id); free(net->pat[j].f); }
    if (net->curve)
        for (int j = 0; j < net->ncurves; j++) { free(net->curve[j].id); free(net->curve[j].x); free(net->curve[j].y); }
    free(net->node);
    free(net->link);
    free(net->pat);
    free(net->curve);
    free(net->ctrl);
    free(net->dem);
    if (net->rule)
        for (int r = 0; r < net->nrules; r++) free(net->rule[r].id);
    free(net->rule);
    free(net->prem);
    free(net->act);
    free(net->filename);
    free(net->warnings);
    free(net);
}

/* ---------- accessors ---------- */

int sk_water_nnodes(const sk_water_net *net) { return net->nnodes; }
double sk_water_accuracy(const sk_water_net *net) { return net->hacc; }
int sk_water_nlinks(const sk_water_net *net) { return net->nlinks; }
int sk_water_njuncs(const sk_water_net *net) { return net->njuncs; }
const char *sk_water_node_id(const sk_water_net *net, int i) { return net->node[i].id; }
const char *sk_water_link_id(const sk_water_net *net, int k) { return net->link[k].id; }
sk_water_node_type sk_water_node_kind(const sk_water_net *net, int i) { return (sk_water_node_type)net->node[i].type; }
sk_water_link_type sk_water_link_kind(const sk_water_net *net, int k) { return (sk_water_link_type)net->link[k].type; }
void sk_water_link_nodes(const sk_water_net *net, int k, int *n1, int *n2)
{
    *n1 = net->link[k].n1;
    *n2 = net->link[k].n2;
}
const char *sk_water_node_type_name(sk_water_node_type t)
{
    static const char *const n[] = {"JUNCTION", "RESERVOIR", "TANK"};
    return (unsigned)t < 3 ? n[t] : "?";
}
const char *sk_water_link_type_name(sk_water_link_type t)
{
    static const char *const n[] = {"CVPIPE", "PIPE", "PUMP", "PRV", "PSV", "PBV", "FCV", "TCV", "GPV", "PCV"};
    return (unsigned)t < 10 ? n[t] : "?";
}
const char *sk_water_flow_units(const sk_water_net *net) { return flow_units[net->flow_units].name; }
const char *sk_water_headloss_formula(const sk_water_net *net)
{
    return net->formflag == W_HW ? "H-W" : net->formflag == W_DW ? "D-W" : "C-M";
}
int sk_water_is_si(const sk_water_net *net) { return net->si; }
int sk_water_node_xy(const sk_water_net *net, int i, double *x, double *y)
{
    if (!net->node[i].has_xy) return -1;
    *x = net->node[i].x;
    *y = net->node[i].y;
    return 0;
}
const char *sk_water_net_warnings(const sk_water_net *net) { return net->warnings ? net->warnings : ""; }
long sk_water_duration(const sk_water_net *net) { return net->dur; }
long sk_water_report_step(const sk_water_net *net) { return net->rstep; }
long sk_water_report_start(const sk_water_net *net) { return net->rstart; }
void sk_water_set_accuracy(sk_water_net *net, double accuracy, int trials)
{
    if (accuracy > 0) net->hacc = accuracy;
    if (trials > 0) net->maxiter = trials;
}
