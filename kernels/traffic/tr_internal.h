/* tr_internal.h - helpers shared by the traffic kernel's files (not public).
 *
 * The kernel uses bus/sk_error.h for its error type only; it formats
 * messages itself so that the library links against libc/libm alone. */
#ifndef TR_INTERNAL_H
#define TR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sk_traffic.h"

int tr_fail(sk_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Locale-independent number parsing over [p, end): returns the number of
 * bytes consumed, 0 when no number starts at p. */
typedef struct tr_numparser tr_numparser;
tr_numparser *tr_num_new(void);
void tr_num_free(tr_numparser *np);
size_t tr_parse_double(tr_numparser *np, const char *p, const char *end, double *out);
size_t tr_parse_int(const char *p, const char *end, int64_t *out);

/* Per-link BPR data with the factors folded in. */
typedef struct tr_costfn {
    int32_t m;
    double *fft, *b, *capinv, *power, *fixed;
    int8_t *ipow;   /* integer power 0..8, or -1 for pow() */
} tr_costfn;

int tr_costfn_init(tr_costfn *c, const sk_traffic_net *n, double toll_factor, double distance_factor);
void tr_costfn_free(tr_costfn *c);

/* x^k for small integer k (exact multiplications), else pow. */
static inline double tr_powi(double r, int k, double p)
{
    switch (k) {
    case 0: return 1.0;
    case 1: return r;
    case 2: return r * r;
    case 3: return r * r * r;
    case 4: { double r2 = r * r; return r2 * r2; }
    case 5: { double r2 = r * r; return r2 * r2 * r; }
    case 6: { double r3 = r * r * r; return r3 * r3; }
    case 7: { double r3 = r * r * r; return r3 * r3 * r; }
    case 8: { double r2 = r * r, r4 = r2 * r2; return r4 * r4; }
    default: return r > 0 ? __builtin_pow(r, p) : 0.0;
    }
}

static inline double tr_cost(const tr_costfn *c, int32_t a, double x)
{
    double bb = c->b[a];
    if (bb == 0.0 || c->ipow[a] == 0)
        return c->fixed[a] + c->fft[a] * (1.0 + bb);
    double r = x * c->capinv[a];
    return c->fixed[a] + c->fft[a] * (1.0 + bb * tr_powi(r, c->ipow[a], c->power[a]));
}

/* d cost / d x. */
static inline double tr_dcost(const tr_costfn *c, int32_t a, double x)
{
    double bb = c->b[a];
    if (bb == 0.0 || c->ipow[a] == 0)
        return 0.0;
    double r = x * c->capinv[a];
    int k = c->ipow[a];
    double rp1 = k > 0 ? tr_powi(r, k - 1, 0) : (r > 0 ? __builtin_pow(r, c->power[a] - 1.0) : 0.0);
    return c->fft[a] * bb * c->power[a] * rp1 * c->capinv[a];
}

/* Integral of cost from 0 to x. */
static inline double tr_cost_integral(const tr_costfn *c, int32_t a, double x)
{
    double bb = c->b[a];
    if (bb == 0.0 || c->ipow[a] == 0)
        return x * (c->fixed[a] + c->fft[a] * (1.0 + bb));
    double r = x * c->capinv[a];
    double p = c->power[a];
    return x * (c->fixed[a] + c->fft[a] * (1.0 + bb * tr_powi(r, c->ipow[a], p) / (p + 1.0)));
}

/* Compact forward star graph over 0-based nodes. */
typedef struct tr_graph {
    int32_t n, m, nzones;
    int32_t ftn0;          /* nodes < ftn0 (0-based) are never passed through */
    int32_t *from, *to;    /* [m] 0-based */
    int32_t *out_start;    /* [n+1] into out_link */
    int32_t *out_link;     /* [m] link ids grouped by tail */
    int32_t *in_start;     /* [n+1] */
    int32_t *in_link;      /* [m] link ids grouped by head */
} tr_graph;

int tr_graph_init(tr_graph *g, const sk_traffic_net *n);
void tr_graph_free(tr_graph *g);

/* Dijkstra workspace (binary heap with positions). */
typedef struct tr_sp {
    int32_t n;
    double *dist;
    int32_t *pred;     /* link into node on the tree, -1 at origin/unreached */
    int32_t *order;    /* settled nodes in order */
    int32_t nsettled;
    int32_t *heap, *pos;
    uint8_t *mark;     /* targets for tr_sp_run_to; all 0 between calls */
} tr_sp;

int tr_sp_init(tr_sp *sp, int32_t n);
void tr_sp_free(tr_sp *sp);
/* Shortest paths from origin (0-based) at link costs cost[]. */
void tr_sp_run(tr_sp *sp, const tr_graph *g, const double *cost, int32_t origin);
/* Same, but stops once ntarget nodes with mark[] set are settled: only
 * their dist[] is final then. */
void tr_sp_run_to(tr_sp *sp, const tr_graph *g, const double *cost, int32_t origin, int32_t ntarget);

#endif
