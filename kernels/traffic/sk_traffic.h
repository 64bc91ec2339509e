/* sk_traffic.h - static user-equilibrium traffic assignment (public API).
 *
 * Three stages, each usable alone:
 *   1. readers: TNTP net / trips / node files from a buffer into plain
 *      structs of arrays (sk_traffic_net, sk_traffic_trips, sk_traffic_nodes);
 *   2. a solver object built from a net and trips (CSR graph, bushes);
 *   3. sk_traffic_solver_run: Algorithm B (Dial 2006) until a target relative
 *      gap, an iteration limit, a time limit or cancellation.
 * Results (link flows, costs, TSTT, gap history, skims, select-link flows)
 * are read back from the solver.  No globals, no I/O beyond the buffers;
 * errors are negative sk_errcode values with "file:line: reason". */
#ifndef SK_TRAFFIC_H
#define SK_TRAFFIC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

#define SK_TRAFFIC_VERSION "0.1.0"

/* ---- readers ---------------------------------------------------------- */

/* A TNTP network.  Node ids are 1..nnodes; links keep file order (duplicate
 * links are kept as separate links). */
typedef struct sk_traffic_net {
    int32_t nzones, nnodes, first_thru, nlinks;
    double toll_factor, distance_factor;   /* 0 when absent */
    int32_t *from, *to;                    /* [nlinks], 1-based node ids */
    double *capacity, *length, *fft, *b, *power, *speed, *toll;
    int32_t *type;
} sk_traffic_net;

/* OD demand with demand > 0 and o != d, in file order (repeated pairs are
 * kept; the solver adds them up). */
typedef struct sk_traffic_trips {
    int32_t nzones;
    double total_declared;     /* <TOTAL OD FLOW>, NaN when absent */
    double total;              /* sum of kept demand */
    double intrazonal;         /* o == d demand, ignored by assignment */
    size_t nod, capod;
    int32_t *orig, *dest;      /* 1-based zone ids */
    double *demand;
} sk_traffic_trips;

/* Node coordinates: x[i], y[i] for node id i+1; has[i] 0 when not given. */
typedef struct sk_traffic_nodes {
    int32_t nnodes;
    double *x, *y;
    uint8_t *has;
} sk_traffic_nodes;

/* fname is only used in error messages ("file:line: reason"). */
sk_traffic_net *sk_traffic_net_read(const char *data, size_t len, const char *fname, sk_error *err);
void sk_traffic_net_free(sk_traffic_net *n);
sk_traffic_trips *sk_traffic_trips_read(const char *data, size_t len, const char *fname, sk_error *err);
void sk_traffic_trips_free(sk_traffic_trips *t);
/* nnodes > 0 bounds the ids; 0 sizes the arrays by the largest id seen. */
sk_traffic_nodes *sk_traffic_nodes_read(const char *data, size_t len, const char *fname,
                                        int32_t nnodes, sk_error *err);
void sk_traffic_nodes_free(sk_traffic_nodes *nd);

/* Link cost at flow x: fft*(1 + b*(x/cap)^power) + toll_factor*toll +
 * distance_factor*length (toll/distance factors from opts when set there). */
double sk_traffic_link_cost(const sk_traffic_net *n, int32_t link, double x,
                            double toll_factor, double distance_factor);

/* ---- solver ----------------------------------------------------------- */

typedef enum {
    SK_TRAFFIC_RUNNING = 0,
    SK_TRAFFIC_CONVERGED = 1,   /* relative gap <= target */
    SK_TRAFFIC_MAX_ITERS = 2,
    SK_TRAFFIC_TIME_LIMIT = 3,
    SK_TRAFFIC_CANCELLED = 4,
} sk_traffic_stop;

typedef struct sk_traffic_options {
    double target_gap;        /* relative gap to stop at (default 1e-6) */
    int max_iters;            /* outer iterations (default 1000) */
    double time_limit_s;      /* <= 0: none */
    int threads;              /* >= 1; used for the shortest-path (gap) phase */
    /* NaN: use the net file's <TOLL FACTOR> / <DISTANCE FACTOR>. */
    double toll_factor, distance_factor;
    int inner_sweeps;         /* extra flow-shift sweeps per iteration (default 10) */
    /* Called once per outer iteration from the calling thread; returning
     * nonzero cancels like *cancel. */
    int (*progress)(void *ud, int iter, double rel_gap, double elapsed_s);
    void *progress_ud;
    atomic_int *cancel;       /* may be NULL; nonzero stops between steps */
} sk_traffic_options;

/* Defaults as above (threads 1, factors NaN). */
void sk_traffic_options_init(sk_traffic_options *o);

typedef struct sk_traffic_stats {
    int iterations;
    sk_traffic_stop stop;
    double rel_gap;           /* (TSTT - SPTT) / TSTT */
    double aec;               /* (TSTT - SPTT) / total demand */
    double tstt, sptt, beckmann;
    double total_demand;
    double solve_s;           /* wall time inside sk_traffic_solver_run */
    size_t bytes;             /* solver's own allocations */
} sk_traffic_stats;

typedef struct sk_traffic_solver sk_traffic_solver;

/* Builds the CSR graph, checks every OD pair has a path (SK_EINVAL naming
 * the pair otherwise) and loads the all-or-nothing start (iteration 0).
 * net and trips must outlive the solver. */
sk_traffic_solver *sk_traffic_solver_new(const sk_traffic_net *net, const sk_traffic_trips *trips,
                                         const sk_traffic_options *opts, sk_error *err);
void sk_traffic_solver_free(sk_traffic_solver *s);

/* Iterates until a stop condition; may be called again (e.g. with a tighter
 * target via sk_traffic_solver_set_target) to continue.  Returns 0 (also on
 * iteration/time limits, see stats.stop), SK_ECANCELED, or an error. */
int sk_traffic_solver_run(sk_traffic_solver *s, sk_error *err);
void sk_traffic_solver_set_target(sk_traffic_solver *s, double target_gap, int max_iters);

void sk_traffic_solver_stats(const sk_traffic_solver *s, sk_traffic_stats *out);
const double *sk_traffic_solver_flows(const sk_traffic_solver *s);   /* [nlinks] */
const double *sk_traffic_solver_costs(const sk_traffic_solver *s);   /* [nlinks] */
/* Gap after iteration k is gaps[k], k = 0 (all-or-nothing start) .. n-1. */
const double *sk_traffic_solver_gaps(const sk_traffic_solver *s, size_t *n);

/* OD skim: shortest-path cost at the current flows, skim[(o-1)*nzones + d-1]
 * for every zone pair (INFINITY when unreachable).  skim holds nzones^2. */
int sk_traffic_solver_skim(sk_traffic_solver *s, double *skim, sk_error *err);
/* Select-link analysis: out[a] = flow on link a of the traffic that also
 * uses link `link` (0-based, net-file order).  out holds nlinks. */
int sk_traffic_solver_select_link(const sk_traffic_solver *s, int32_t link, double *out, sk_error *err);

/* Independent figures for a given flow vector (used by tests): TSTT,
 * Beckmann and SPTT (full shortest-path search, first-thru-node rule). */
int sk_traffic_evaluate(const sk_traffic_net *net, const sk_traffic_trips *trips,
                        double toll_factor, double distance_factor, const double *flows,
                        double *tstt, double *sptt, double *beckmann, sk_error *err);

#endif
