/* sk_metrics.h - a small Prometheus registry: counters, gauges, histograms.
 *
 * A daemon registers each metric family once at start (name, help, label
 * names) and updates series by label values; sk_metrics_render writes the
 * text exposition format 0.0.4 that /metrics serves: one HELP and one TYPE
 * line per family, families in registration order, series in the order
 * they first appeared, label values escaped (\\, \", \n), histogram series
 * as cumulative _bucket{le="..."} lines ending in le="+Inf", then _sum and
 * _count.
 *
 * Threads: every call locks the registry's mutex, so worker threads may
 * update metrics directly (a node's kernel-time histogram is observed where
 * the kernel ran).  Updates are O(labels) with a hash lookup; the lock is
 * held for microseconds, and rendering holds it while formatting.  Collect
 * hooks (sk_metrics_on_collect) run at render time without the lock held,
 * on the thread that renders (the loop thread), so a daemon can refresh
 * gauges such as queue depth from its own state just before a scrape.
 *
 * Family and label names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*
 * for families, no ':' and no leading "__" for labels, "le" reserved in
 * histograms); registering a bad or duplicate name is an error. */
#ifndef SK_METRICS_H
#define SK_METRICS_H

#include <stddef.h>

#include "sk_buf.h"
#include "sk_error.h"

typedef struct sk_metrics sk_metrics;
typedef struct sk_metric sk_metric;     /* one family */

typedef enum { SK_METRIC_COUNTER, SK_METRIC_GAUGE, SK_METRIC_HISTOGRAM } sk_metric_type;

/* Label values (or names) as an array literal: SK_LABELS("done", "sim.water", "1504"). */
#define SK_LABELS(...) ((const char *const[]){__VA_ARGS__})

/* Bounds shared by latency histograms, in seconds (Prometheus' defaults). */
extern const double sk_metrics_default_buckets[11];

sk_metrics *sk_metrics_new(void);
void sk_metrics_free(sk_metrics *m);

/* Register a family.  labels: nlabels label names (NULL when 0).  The
 * returned pointer belongs to the registry and lives as long as it.
 * Histograms take nbounds strictly increasing finite upper bounds; +Inf is
 * added.  NULL with err set on a bad name, duplicate or out of memory. */
sk_metric *sk_metrics_counter(sk_metrics *m, const char *name, const char *help, const char *const *labels,
                              size_t nlabels, sk_error *err);
sk_metric *sk_metrics_gauge(sk_metrics *m, const char *name, const char *help, const char *const *labels,
                            size_t nlabels, sk_error *err);
sk_metric *sk_metrics_histogram(sk_metrics *m, const char *name, const char *help, const char *const *labels,
                                size_t nlabels, const double *bounds, size_t nbounds, sk_error *err);

/* Series updates.  values: one label value per label name (NULL when the
 * family has none).  Return 0, SK_EINVAL (negative counter increment, NaN,
 * wrong family type, NULL value) or SK_ENOMEM. */
int sk_metric_inc(sk_metric *f, const char *const *values);                 /* counter or gauge, +1 */
int sk_metric_add(sk_metric *f, const char *const *values, double v);       /* counter: v >= 0; gauge: any */
int sk_metric_set(sk_metric *f, const char *const *values, double v);       /* gauge */
int sk_metric_observe(sk_metric *f, const char *const *values, double v);   /* histogram */
/* Current value of a counter or gauge series (0 when absent), for tests and
 * status output. */
double sk_metric_value(sk_metric *f, const char *const *values);
/* Drop every series of a family (a gauge recomputed at each collect, such
 * as jobs per service, loses services that went away). */
void sk_metric_clear(sk_metric *f);

/* Run cb(m, data) at the start of every render (at most 16 hooks). */
int sk_metrics_on_collect(sk_metrics *m, void (*cb)(sk_metrics *m, void *data), void *data);

/* Append the exposition text to out; 0 or SK_ENOMEM. */
int sk_metrics_render(sk_metrics *m, sk_buf *out);

/* The Content-Type of that text. */
#define SK_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
