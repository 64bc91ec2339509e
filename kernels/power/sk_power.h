/* sk_power.h - AC/DC power flow on MATPOWER cases (public API of sk_power).
 *
 * A plain numerical library in stages, like SuiteSparse's analyse/factor/
 * solve or EPANET's open/solve:
 *
 *   sk_power_case_parse()   read a MATPOWER v2 case file (a buffer) into
 *                           a sk_power_case (structs of arrays);
 *   sk_power_net_new()      build Ybus, per-branch admittances and islands;
 *   sk_power_solver_new()   bus types, Jacobian pattern, KLU symbolic
 *                           analysis (once per network and bus-type set);
 *   sk_power_solve()        Newton-Raphson (or DC) for one load state, with
 *                           warm start from the previous solve; fills a
 *                           sk_power_solution (pfsoln-style post-processing);
 *   sk_power_run_profile()  the same network over many hours of load
 *                           multipliers read by sk_power_profile_parse().
 *
 * No globals, no I/O beyond the buffers handed in, no dependency on the bus.
 * Each solver owns its klu_common, so one solver per thread is safe.
 * Errors: negative codes (same values as sk_errcode in bus/sk_error.h) and a
 * one-line message "file:line: reason" where a line is known. */
#ifndef SK_POWER_H
#define SK_POWER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Codes: identical numbers to sk_errcode so adapters pass them straight on. */
enum {
    SK_POWER_OK = 0,
    SK_POWER_EINVAL = -1,   /* malformed input or bad argument */
    SK_POWER_ENOMEM = -2,
    SK_POWER_ETOOBIG = -5,  /* a size limit was exceeded */
    SK_POWER_ECANCELED = -6,
    SK_POWER_ENOCONV = -10, /* Newton-Raphson did not converge / singular */
};

typedef struct sk_power_error {
    int code;
    char msg[512];
} sk_power_error;

/* MATPOWER bus types. */
enum { SK_POWER_PQ = 1, SK_POWER_PV = 2, SK_POWER_REF = 3, SK_POWER_NONE = 4 };

/* ---- the case, as read (external numbering kept; rows in file order) ---- */
typedef struct sk_power_case {
    char *filename;     /* as given to the parser, for messages */
    double base_mva;

    size_t nbus;
    int64_t *bus_i;     /* external bus numbers (positive, unique) */
    int *bus_type;      /* 1 PQ, 2 PV, 3 ref, 4 isolated */
    double *pd, *qd, *gs, *bs;  /* MW, MVAr, MW at V=1, MVAr at V=1 */
    int *area, *zone;
    double *vm, *va;    /* pu, degrees (start point) */
    double *base_kv, *vmax, *vmin;
    int *bus_line;      /* source line of each row */

    size_t ngen;
    int64_t *gen_bus;   /* external number */
    size_t *gen_idx;    /* derived: row of gen_bus in the bus arrays */
    double *pg, *qg, *qmax, *qmin, *vg, *mbase, *pmax, *pmin;
    int *gen_status;    /* >0 in service */
    int *gen_line;

    size_t nbranch;
    int64_t *f_bus, *t_bus;
    size_t *f_idx, *t_idx;  /* derived rows */
    double *br_r, *br_x, *br_b, *rate_a, *rate_b, *rate_c, *tap, *shift;
    int *br_status;
    double *angmin, *angmax;
    int *br_line;

    /* mpc.gencost kept raw, row-major (ngencost x gencost_cols). */
    size_t ngencost, gencost_cols;
    double *gencost;

    /* Cell arrays kept when present (NULL otherwise); one string per row. */
    char **bus_name;    /* [nbus] */
    char **genfuel;     /* [ngen] */
    char **gentype;     /* [ngen] */

    /* Derived lookup: bus numbers sorted, with their rows (binary search). */
    int64_t *sorted_num;
    size_t *sorted_row;
} sk_power_case;

/* Parse a MATPOWER case (version 2) from buf[0..len) (need not be
 * NUL-terminated).  Numbers are read in the C locale whatever the process
 * locale.  Returns 0 and *out, or a negative code with err->msg
 * "filename:line: reason". */
int sk_power_case_parse(const char *buf, size_t len, const char *filename,
                        sk_power_case **out, sk_power_error *err);
void sk_power_case_free(sk_power_case *c);
/* Row of external bus number `num`, or -1. */
long sk_power_case_bus_index(const sk_power_case *c, int64_t num);

/* ---- the network: admittances and islands (depends on statuses only) ---- */
typedef struct sk_power_net {
    const sk_power_case *c;   /* borrowed; must outlive the net */
    size_t nbus;
    /* Ybus in compressed-column form, complex split in re/im.  The pattern
     * always holds every diagonal, and both (f,t) and (t,f) of each
     * in-service branch even when a value cancels to zero. */
    size_t *yp, *yi;          /* [nbus+1], [nnz] */
    double *yre, *yim;
    size_t nnz;
    /* Per-branch 2x2 admittances (0 for branches out of service). */
    double *yff_re, *yff_im, *yft_re, *yft_im, *ytf_re, *ytf_im, *ytt_re, *ytt_im;
    unsigned char *br_on;     /* in service and neither end isolated */
    /* Islands: connected components of in-service branches over non-type-4
     * buses; island[b] = -1 for type-4 buses. */
    int *island;
    int nislands;
} sk_power_net;

sk_power_net *sk_power_net_new(const sk_power_case *c, sk_power_error *err);
void sk_power_net_free(sk_power_net *n);

/* ---- solving ---- */
typedef struct sk_power_options {
    int dc;                /* DC power flow instead of AC */
    double tol;            /* inf-norm of mismatch in pu; default 1e-8 */
    int max_iter;          /* default 10 */
    int flat_start;        /* Vm = 1, Va = 0 before the VG replacement */
    int enforce_q_limits;  /* PV -> PQ at violated generator Q limits */
    int max_q_rounds;      /* outer rounds of Q-limit switching; default 20 */
} sk_power_options;

void sk_power_options_default(sk_power_options *o);

typedef struct sk_power_solution {
    size_t nbus, ngen, nbranch;
    int converged;
    int status;            /* 0, SK_POWER_ENOCONV, ... */
    int iterations;        /* NR iterations of the last inner solve (sum over Q-limit rounds in iterations_total) */
    int iterations_total;
    int q_rounds;          /* Q-limit switching rounds done */
    double max_mismatch;   /* inf-norm at the end, pu */
    size_t nhist;          /* mismatch history of the last NR run: [0] at start */
    double *mismatch_hist; /* [hist_cap]; entries beyond hist_cap are not kept */
    size_t hist_cap;
    char reason[160];      /* why it failed, "" when converged */
    /* Buses (file order).  De-energised buses: vm = va = 0, energised = 0. */
    double *vm, *va;       /* pu, degrees */
    unsigned char *energised;
    int *type_used;        /* effective type after bustypes / Q-limits (4 off) */
    double *pd, *qd;       /* the loads solved for (after multipliers) */
    /* Generators: Pg/Qg after pfsoln; 0 when out of service or de-energised. */
    double *pg, *qg;
    unsigned char *q_limited; /* gen held at a Q limit by enforcement */
    /* Branches: MW/MVAr injected at each end; 0 out of service. */
    double *pf, *qf, *pt, *qt;
    /* Totals. */
    double loss_p, loss_q; /* MW, MVAr */
    double vm_min, vm_max; /* over energised buses */
    double total_pg, total_pd;
    int n_energised;
    int n_overloaded;      /* branches with max(|Sf|,|St|) > rate_a > 0 */
    double max_loading_pct;
} sk_power_solution;

sk_power_solution *sk_power_solution_new(const sk_power_case *c, const sk_power_options *o);
void sk_power_solution_free(sk_power_solution *s);

typedef struct sk_power_solver sk_power_solver;

/* Analyse: effective bus types, Jacobian pattern and klu_analyze.  The net
 * (and its case) must outlive the solver.  Fails with SK_POWER_ENOCONV
 * when no island has a reference bus. */
sk_power_solver *sk_power_solver_new(const sk_power_net *net, const sk_power_options *o,
                                     sk_power_error *err);
void sk_power_solver_free(sk_power_solver *s);
const sk_power_case *sk_power_solver_case(const sk_power_solver *s);
/* Back to the start point (case or flat); the next solve starts there. */
void sk_power_solver_reset(sk_power_solver *s);

/* Solve for loads pd/qd (MW/MVAr per bus; NULL = the case's).  Starts from
 * the solver's current voltages (the start point, or the previous converged
 * solution: warm start).  Returns 0 when converged; SK_POWER_ENOCONV with
 * sol->converged = 0, sol->reason and the mismatch history otherwise (the
 * voltages are then reset to the start point and sol's voltages are NaN). */
int sk_power_solve(sk_power_solver *s, const double *pd, const double *qd,
                   sk_power_solution *sol, sk_power_error *err);

/* Counters for tests and benchmarks. */
typedef struct sk_power_stats {
    long analyses;   /* klu_analyze calls */
    long factors;    /* klu_factor calls */
    long refactors;  /* klu_refactor calls */
    long fallbacks;  /* refactor rejected (rcond/pivot) -> klu_factor */
} sk_power_stats;
void sk_power_solver_stats(const sk_power_solver *s, sk_power_stats *st);

/* ---- time series ---- */
typedef struct sk_power_profile {
    size_t nhours;
    int64_t *period_s;     /* seconds from the first row */
    int has_timestamps;    /* first column was ISO timestamps */
    double *global;        /* [nhours] global multiplier (1 when absent) */
    size_t nbuscols;
    int64_t *bus_num;      /* [nbuscols] external bus numbers */
    double *bus_mult;      /* [nhours * nbuscols] row-major */
} sk_power_profile;

/* CSV: header; first column an hour index or ISO-8601 timestamp (with
 * 'Z' or +hh:mm offsets the period axis is real UTC seconds, so DST days have
 * 23 or 25 rows; without offsets rows are taken as consecutive hours);
 * further columns are a global multiplier (any non-numeric name) or one per
 * bus (the name is the bus number). */
int sk_power_profile_parse(const char *buf, size_t len, const char *filename,
                           sk_power_profile **out, sk_power_error *err);
void sk_power_profile_free(sk_power_profile *p);

typedef struct sk_power_hour {
    int converged, iterations;
    double loss_p, loss_q, vm_min, vm_max, total_pd, total_pg, max_loading_pct;
    int n_overloaded;
} sk_power_hour;

/* Called after each hour; return nonzero to stop (like cancellation). */
typedef int (*sk_power_hour_fn)(void *ud, size_t hour, size_t nhours,
                                const sk_power_solution *sol);

/* Run every hour of the profile: loads = case loads x global x per-bus
 * multiplier (P and Q alike, constant power factor).  Warm start from the
 * previous hour; a failed hour is recorded (converged = 0, NaN figures) and
 * the next hour starts from the case start.  hours[nhours] is filled.
 * cancel (may be NULL) is polled before each hour.  Returns 0, or
 * SK_POWER_ECANCELED, or another negative code on bad input. */
int sk_power_run_profile(sk_power_solver *s, const sk_power_profile *p,
                         sk_power_hour *hours, sk_power_solution *sol,
                         sk_power_hour_fn cb, void *ud, atomic_int *cancel,
                         sk_power_error *err);

#endif
