/* sk_metrics.c - Prometheus registry and text exposition (see sk_metrics.h).
 *
 * Each family keeps its series in an array (render order = first-seen
 * order) plus an open-addressing index keyed by the label values joined
 * with NUL bytes, so an update is one hash and one memcmp. */
#include "sk_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sk_num.h"

#define MAX_HOOKS 16
#define MAX_LABELS 16
#define MAX_BOUNDS 64

const double sk_metrics_default_buckets[11] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

typedef struct series {
    char *key;          /* values joined, each ended by NUL */
    size_t keylen;
    uint64_t hash;
    double value;       /* counter or gauge */
    double sum;         /* histogram */
    uint64_t count;
    uint64_t *buckets;  /* histogram: nbounds + 1 (the last is +Inf), not cumulative */
} series;

struct sk_metric {
    sk_metrics *reg;
    sk_metric_type type;
    char *name, *help;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    series *s;
    size_t ns, cap;
    uint32_t *index;    /* slot -> series number + 1, 0 = empty */
    size_t index_cap;   /* power of two, > 2 * ns */
};

struct sk_metrics {
    pthread_mutex_t lock;
    sk_metric **fam;
    size_t nfam, cap;
    struct {
        void (*cb)(sk_metrics *, void *);
        void *data;
    } hooks[MAX_HOOKS];
    size_t nhooks;
};

sk_metrics *sk_metrics_new(void)
{
    sk_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void family_free(sk_metric *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->ns; i++) {
        free(f->s[i].key);
        free(f->s[i].buckets);
    }
    free(f->s);
    free(f->index);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->labels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void sk_metrics_free(sk_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nfam; i++)
        family_free(m->fam[i]);
    free(m->fam);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bool valid_name(const char *s, bool colon)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                  (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static sk_metric *family_new(sk_metrics *m, sk_metric_type type, const char *name, const char *help,
                             const char *const *labels, size_t nlabels, const double *bounds, size_t nbounds,
                             sk_error *err)
{
    if (m == NULL)
        return sk_fail(err, SK_EINVAL, "metrics: no registry"), NULL;
    if (!valid_name(name, true))
        return sk_fail(err, SK_EINVAL, "metrics: bad metric name '%s'", name ? name : "(null)"), NULL;
    if (nlabels > MAX_LABELS)
        return sk_fail(err, SK_EINVAL, "metrics: %s: %zu labels, at most %d", name, nlabels, MAX_LABELS), NULL;
    for (size_t i = 0; i < nlabels; i++) {
        const char *l = labels[i];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 || (type == SK_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return sk_fail(err, SK_EINVAL, "metrics: %s: bad label name '%s'", name, l ? l : "(null)"), NULL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[j], l) == 0)
                return sk_fail(err, SK_EINVAL, "metrics: %s: label '%s' given twice", name, l), NULL;
    }
    if (type == SK_METRIC_HISTOGRAM) {
        if (nbounds == 0 || nbounds > MAX_BOUNDS || bounds == NULL)
            return sk_fail(err, SK_EINVAL, "metrics: %s: a histogram needs 1..%d bucket bounds", name, MAX_BOUNDS),
                   NULL;
        for (size_t i = 0; i < nbounds; i++)
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
                return sk_fail(err, SK_EINVAL, "metrics: %s: bucket bounds must be finite and increasing", name),
                       NULL;
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfam; i++)
        if (strcmp(m->fam[i]->name, name) == 0) {
            pthread_mutex_unlock(&m->lock);
            return sk_fail(err, SK_EINVAL, "metrics: %s registered twice", name), NULL;
        }
    sk_metric *f = calloc(1, sizeof *f);
    if (f == NULL)
        goto oom;
    f->reg = m;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help != NULL ? help : "");
    f->labels = nlabels ? calloc(nlabels, sizeof *f->labels) : NULL;
    if (f->name == NULL || f->help == NULL || (nlabels && f->labels == NULL))
        goto oom;
    for (; f->nlabels < nlabels; f->nlabels++)
        if ((f->labels[f->nlabels] = strdup(labels[f->nlabels])) == NULL)
            goto oom;
    if (type == SK_METRIC_HISTOGRAM) {
        if ((f->bounds = malloc(nbounds * sizeof *bounds)) == NULL)
            goto oom;
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
        f->nbounds = nbounds;
    }
    if (m->nfam == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        sk_metric **fam = realloc(m->fam, cap * sizeof *fam);
        if (fam == NULL)
            goto oom;
        m->fam = fam;
        m->cap = cap;
    }
    m->fam[m->nfam++] = f;
    pthread_mutex_unlock(&m->lock);
    return f;
oom:
    pthread_mutex_unlock(&m->lock);
    family_free(f);
    sk_fail(err, SK_ENOMEM, "metrics: out of memory registering %s", name);
    return NULL;
}

sk_metric *sk_metrics_counter(sk_metrics *m, const char *name, const char *help, const char *const *labels,
                              size_t nlabels, sk_error *err)
{
    return family_new(m, SK_METRIC_COUNTER, name, help, labels, nlabels, NULL, 0, err);
}

sk_metric *sk_metrics_gauge(sk_metrics *m, const char *name, const char *help, const char *const *labels,
                            size_t nlabels, sk_error *err)
{
    return family_new(m, SK_METRIC_GAUGE, name, help, labels, nlabels, NULL, 0, err);
}

sk_metric *sk_metrics_histogram(sk_metrics *m, const char *name, const char *help, const char *const *labels,
                                size_t nlabels, const double *bounds, size_t nbounds, sk_error *err)
{
    return family_new(m, SK_METRIC_HISTOGRAM, name, help, labels, nlabels, bounds, nbounds, err);
}

/* Build the lookup key into buf (or a malloc'd block when large). */
static char *make_key(const sk_metric *f, const char *const *values, char *buf, size_t bufsz, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (values == NULL || values[i] == NULL)
            return NULL;
        n += strlen(values[i]) + 1;
    }
    char *k = n <= bufsz ? buf : malloc(n);
    if (k == NULL)
        return NULL;
    size_t off = 0;
    for (size_t i = 0; i < f->nlabels; i++) {
        size_t l = strlen(values[i]) + 1;
        memcpy(k + off, values[i], l);
        off += l;
    }
    *len = n;
    return k;
}

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int reindex(sk_metric *f, size_t cap)
{
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (idx == NULL)
        return SK_ENOMEM;
    for (size_t i = 0; i < f->ns; i++) {
        size_t slot = (size_t)f->s[i].hash & (cap - 1);
        while (idx[slot] != 0)
            slot = (slot + 1) & (cap - 1);
        idx[slot] = (uint32_t)(i + 1);
    }
    free(f->index);
    f->index = idx;
    f->index_cap = cap;
    return 0;
}

/* The series for values, created when missing; NULL on bad values or OOM.
 * Called with the lock held. */
static series *find_series(sk_metric *f, const char *const *values, int *rc)
{
    char buf[256];
    size_t len = 0;
    char *key = make_key(f, values, buf, sizeof buf, &len);
    if (key == NULL) {
        *rc = (values == NULL && f->nlabels > 0) ? SK_EINVAL : SK_ENOMEM;
        for (size_t i = 0; values != NULL && i < f->nlabels; i++)
            if (values[i] == NULL)
                *rc = SK_EINVAL;
        return NULL;
    }
    uint64_t h = hash_key(key, len);
    series *found = NULL;
    if (f->index_cap > 0) {
        for (size_t slot = (size_t)h & (f->index_cap - 1); f->index[slot] != 0; slot = (slot + 1) & (f->index_cap - 1)) {
            series *s = &f->s[f->index[slot] - 1];
            if (s->hash == h && s->keylen == len && memcmp(s->key, key, len) == 0) {
                found = s;
                break;
            }
        }
    }
    if (found != NULL) {
        if (key != buf)
            free(key);
        return found;
    }
    *rc = SK_ENOMEM;
    if ((f->ns + 1) * 2 >= f->index_cap && reindex(f, f->index_cap ? f->index_cap * 2 : 16) < 0)
        goto fail;
    if (f->ns == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        series *s = realloc(f->s, cap * sizeof *s);
        if (s == NULL)
            goto fail;
        f->s = s;
        f->cap = cap;
    }
    series *s = &f->s[f->ns];
    memset(s, 0, sizeof *s);
    if (key == buf) {
        if ((s->key = malloc(len ? len : 1)) == NULL)
            goto fail;
        memcpy(s->key, buf, len);
    } else {
        s->key = key;
    }
    key = NULL;
    s->keylen = len;
    s->hash = h;
    if (f->type == SK_METRIC_HISTOGRAM && (s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets)) == NULL) {
        free(s->key);
        goto fail;
    }
    f->ns++;
    size_t slot = (size_t)h & (f->index_cap - 1);
    while (f->index[slot] != 0)
        slot = (slot + 1) & (f->index_cap - 1);
    f->index[slot] = (uint32_t)f->ns;
    *rc = 0;
    return s;
fail:
    if (key != NULL && key != buf)
        free(key);
    return NULL;
}

static int update(sk_metric *f, const char *const *values, double v, int op)
{
    enum { ADD, SET, OBSERVE };
    int rc = 0;
    if (f == NULL || isnan(v))
        return SK_EINVAL;
    if ((op == SET && f->type != SK_METRIC_GAUGE) || (op == OBSERVE && f->type != SK_METRIC_HISTOGRAM) ||
        (op == ADD && f->type == SK_METRIC_HISTOGRAM) || (op == ADD && f->type == SK_METRIC_COUNTER && v < 0))
        return SK_EINVAL;
    pthread_mutex_lock(&f->reg->lock);
    series *s = find_series(f, values, &rc);
    if (s != NULL) {
        if (op == ADD)
            s->value += v;
        else if (op == SET)
            s->value = v;
        else {
            size_t b = 0;
            while (b < f->nbounds && v > f->bounds[b])
                b++;
            s->buckets[b]++;
            s->sum += v;
            s->count++;
        }
    }
    pthread_mutex_unlock(&f->reg->lock);
    return rc;
}

int sk_metric_inc(sk_metric *f, const char *const *values)
{
    return update(f, values, 1, 0);
}

int sk_metric_add(sk_metric *f, const char *const *values, double v)
{
    return update(f, values, v, 0);
}

int sk_metric_set(sk_metric *f, const char *const *values, double v)
{
    return update(f, values, v, 1);
}

int sk_metric_observe(sk_metric *f, const char *const *values, double v)
{
    return update(f, values, v, 2);
}

double sk_metric_value(sk_metric *f, const char *const *values)
{
    char buf[256];
    size_t len = 0;
    double v = 0;
    if (f == NULL)
        return 0;
    pthread_mutex_lock(&f->reg->lock);
    char *key = make_key(f, values, buf, sizeof buf, &len);
    if (key != NULL && f->index_cap > 0) {
        uint64_t h = hash_key(key, len);
        for (size_t slot = (size_t)h & (f->index_cap - 1); f->index[slot] != 0; slot = (slot + 1) & (f->index_cap - 1)) {
            series *s = &f->s[f->index[slot] - 1];
            if (s->hash == h && s->keylen == len && memcmp(s->key, key, len) == 0) {
                v = f->type == SK_METRIC_HISTOGRAM ? (double)s->count : s->value;
                break;
            }
        }
    }
    pthread_mutex_unlock(&f->reg->lock);
    if (key != NULL && key != buf)
        free(key);
    return v;
}

void sk_metric_clear(sk_metric *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->reg->lock);
    for (size_t i = 0; i < f->ns; i++) {
        free(f->s[i].key);
        free(f->s[i].buckets);
    }
    f->ns = 0;
    if (f->index != NULL)
        memset(f->index, 0, f->index_cap * sizeof *f->index);
    pthread_mutex_unlock(&f->reg->lock);
}

int sk_metrics_on_collect(sk_metrics *m, void (*cb)(sk_metrics *m, void *data), void *data)
{
    if (m == NULL || cb == NULL)
        return SK_EINVAL;
    pthread_mutex_lock(&m->lock);
    int rc = SK_ETOOBIG;
    if (m->nhooks < MAX_HOOKS) {
        m->hooks[m->nhooks].cb = cb;
        m->hooks[m->nhooks].data = data;
        m->nhooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void put_f64(sk_buf *out, double v)
{
    char tmp[40];
    if (isnan(v))
        sk_buf_puts(out, "NaN");
    else if (isinf(v))
        sk_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else {
        sk_fmt_f64(tmp, sizeof tmp, v);
        sk_buf_puts(out, tmp);
    }
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void put_escaped(sk_buf *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            sk_buf_puts(out, "\\\\");
        else if (*s == '\n')
            sk_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            sk_buf_puts(out, "\\\"");
        else
            sk_buf_append(out, s, 1);
    }
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels. */
static void put_labels(sk_buf *out, const sk_metric *f, const series *s, const char *le)
{
    if (f->nlabels == 0 && le == NULL)
        return;
    sk_buf_puts(out, "{");
    const char *v = s->key;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i > 0)
            sk_buf_puts(out, ",");
        sk_buf_puts(out, f->labels[i]);
        sk_buf_puts(out, "=\"");
        put_escaped(out, v, true);
        sk_buf_puts(out, "\"");
        v += strlen(v) + 1;
    }
    if (le != NULL) {
        if (f->nlabels > 0)
            sk_buf_puts(out, ",");
        sk_buf_puts(out, "le=\"");
        sk_buf_puts(out, le);
        sk_buf_puts(out, "\"");
    }
    sk_buf_puts(out, "}");
}

static void render_family(sk_buf *out, const sk_metric *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    sk_buf_printf(out, "# HELP %s ", f->name);
    put_escaped(out, f->help, false);
    sk_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (size_t i = 0; i < f->ns; i++) {
        const series *s = &f->s[i];
        if (f->type != SK_METRIC_HISTOGRAM) {
            sk_buf_puts(out, f->name);
            put_labels(out, f, s, NULL);
            sk_buf_puts(out, " ");
            put_f64(out, s->value);
            sk_buf_puts(out, "\n");
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= f->nbounds; b++) {
            char le[40];
            cum += s->buckets[b];
            if (b < f->nbounds)
                sk_fmt_f64(le, sizeof le, f->bounds[b]);
            else
                strcpy(le, "+Inf");
            sk_buf_printf(out, "%s_bucket", f->name);
            put_labels(out, f, s, le);
            sk_buf_printf(out, " %" PRIu64 "\n", cum);
        }
        sk_buf_printf(out, "%s_sum", f->name);
        put_labels(out, f, s, NULL);
        sk_buf_puts(out, " ");
        put_f64(out, s->sum);
        sk_buf_printf(out, "\n%s_count", f->name);
        put_labels(out, f, s, NULL);
        sk_buf_printf(out, " %" PRIu64 "\n", s->count);
    }
}

int sk_metrics_render(sk_metrics *m, sk_buf *out)
{
    size_t nhooks;
    if (m == NULL || out == NULL)
        return SK_EINVAL;
    pthread_mutex_lock(&m->lock);
    nhooks = m->nhooks;
    pthread_mutex_unlock(&m->lock);
    /* Hooks update metrics themselves, so they run unlocked. */
    for (size_t i = 0; i < nhooks; i++)
        m->hooks[i].cb(m, m->hooks[i].data);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfam; i++)
        render_family(out, m->fam[i]);
    pthread_mutex_unlock(&m->lock);
    return out->oom ? SK_ENOMEM : 0;
}
