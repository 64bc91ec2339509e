/* sk_water.h - public API of the water hydraulics kernel (EPANET-compatible).
 *
 * Stages follow EPANET's toolkit: parse an .inp buffer into a network
 * (sk_water_parse), create a solver for it (sk_water_sim_new: symbolic
 * factorisation once), then per hydraulic step sk_water_solve (one period,
 * like EN_runH) and sk_water_next (advance time and tanks, like EN_nextH).
 * sk_water_run drives the whole extended period with a progress callback and
 * a cancellation flag.  No globals, no I/O: the caller supplies the bytes.
 * Values handed out are in the network's own units (see docs/kernels/water.md). */
#ifndef SK_WATER_H
#define SK_WATER_H

#include <stdatomic.h>
#include <stddef.h>

enum {
    SK_WATER_OK = 0,
    SK_WATER_EINVAL = -1,       /* malformed input or bad argument */
    SK_WATER_ENOMEM = -2,
    SK_WATER_EUNSUPPORTED = -9, /* a hydraulic feature this kernel lacks */
    SK_WATER_ECANCELED = -6,
    SK_WATER_ENOCONV = -10,     /* unbalanced with UNBALANCED STOP, or singular system */
};

typedef struct sk_water_error {
    int code;
    char msg[512];
} sk_water_error;

typedef struct sk_water_net sk_water_net;
typedef struct sk_water_sim sk_water_sim;

typedef enum { SK_WATER_JUNCTION = 0, SK_WATER_RESERVOIR = 1, SK_WATER_TANK = 2 } sk_water_node_type;
typedef enum {
    SK_WATER_CVPIPE = 0, SK_WATER_PIPE = 1, SK_WATER_PUMP = 2, SK_WATER_PRV = 3, SK_WATER_PSV = 4,
    SK_WATER_PBV = 5, SK_WATER_FCV = 6, SK_WATER_TCV = 7, SK_WATER_GPV = 8, SK_WATER_PCV = 9
} sk_water_link_type;

/* Parse an .inp body (need not be NUL-terminated).  filename is used in
 * messages ("Net1.inp:12: [PIPES] ...").  On error *out is NULL. */
int sk_water_parse(const char *buf, size_t len, const char *filename, sk_water_net **out,
                   sk_water_error *err);
void sk_water_net_free(sk_water_net *net);

/* Counts, ids and static facts. */
int sk_water_nnodes(const sk_water_net *net);
int sk_water_nlinks(const sk_water_net *net);
int sk_water_njuncs(const sk_water_net *net);
const char *sk_water_node_id(const sk_water_net *net, int i);
const char *sk_water_link_id(const sk_water_net *net, int k);
sk_water_node_type sk_water_node_kind(const sk_water_net *net, int i);
sk_water_link_type sk_water_link_kind(const sk_water_net *net, int k);
/* Start and end node indexes of link k. */
void sk_water_link_nodes(const sk_water_net *net, int k, int *n1, int *n2);
const char *sk_water_node_type_name(sk_water_node_type t);  /* "JUNCTION" ... */
const char *sk_water_link_type_name(sk_water_link_type t);  /* "PIPE", "CVPIPE", ... */
const char *sk_water_flow_units(const sk_water_net *net);   /* "GPM", "LPS", ... */
const char *sk_water_headloss_formula(const sk_water_net *net); /* "H-W", "D-W", "C-M" */
int sk_water_is_si(const sk_water_net *net);
/* Coordinates; returns 0 and fills x,y when the node has them, else -1. */
int sk_water_node_xy(const sk_water_net *net, int i, double *x, double *y);
/* Parser warnings (one per line), "" if none. */
const char *sk_water_net_warnings(const sk_water_net *net);
long sk_water_duration(const sk_water_net *net);
long sk_water_report_step(const sk_water_net *net);
long sk_water_report_start(const sk_water_net *net);
/* Override ACCURACY (> 0) and TRIALS (> 0; 0 keeps the file's). */
void sk_water_set_accuracy(sk_water_net *net, double accuracy, int trials);
/* The ACCURACY in effect (the file's, or the one set above). */
double sk_water_accuracy(const sk_water_net *net);

/* Solver. */
int sk_water_sim_new(const sk_water_net *net, sk_water_sim **out, sk_water_error *err);
void sk_water_sim_free(sk_water_sim *sim);
/* Reset to t = 0 (initial tank levels, statuses, flows). */
int sk_water_init(sk_water_sim *sim, sk_water_error *err);
/* Solve the current period (EN_runH); *t gets the current time in s. */
int sk_water_solve(sk_water_sim *sim, long *t, sk_water_error *err);
/* Advance (EN_nextH): *tstep 0 means the run is over. */
int sk_water_next(sk_water_sim *sim, long *tstep, sk_water_error *err);

typedef enum {
    SK_WATER_HEAD, SK_WATER_PRESSURE, SK_WATER_DEMAND, SK_WATER_ELEVATION,
    SK_WATER_DEMAND_REQUIRED, SK_WATER_DEMAND_DELIVERED, SK_WATER_EMITTER_FLOW,
    SK_WATER_LEAKAGE_FLOW, SK_WATER_TANK_LEVEL, SK_WATER_TANK_VOLUME
} sk_water_node_var;
typedef enum {
    SK_WATER_FLOW, SK_WATER_VELOCITY, SK_WATER_HEADLOSS, SK_WATER_STATUS, SK_WATER_LENGTH,
    SK_WATER_DIAMETER, SK_WATER_SETTING, SK_WATER_PUMP_POWER, SK_WATER_PUMP_ENERGY
} sk_water_link_var;
/* All nodes' (links') values of one variable, in the network's units.
 * STATUS is 0 closed, 1 open, 2 active.  Unit strings via *_unit. */
void sk_water_node_values(const sk_water_sim *sim, sk_water_node_var v, double *out);
void sk_water_link_values(const sk_water_sim *sim, sk_water_link_var v, double *out);
const char *sk_water_node_unit(const sk_water_net *net, sk_water_node_var v);
const char *sk_water_link_unit(const sk_water_net *net, sk_water_link_var v);

/* Convergence facts of the last solve. */
int sk_water_iterations(const sk_water_sim *sim);
double sk_water_relerr(const sk_water_sim *sim);
/* Run-time warnings so far (unbalanced, negative pressures, pump cannot
 * deliver, disconnected nodes), one per line; "" if none. */
const char *sk_water_sim_warnings(const sk_water_sim *sim);

/* Whole run.  report() is called at every reporting time with the solved
 * state (sim readable inside); progress() after every hydraulic step with
 * fraction of duration; *cancel != 0 stops between steps (SK_WATER_ECANCELED).
 * first_only: solve t = 0 only. */
typedef struct sk_water_run_opts {
    int first_only;
    int (*report)(void *ud, const sk_water_sim *sim, long t);
    void (*progress)(void *ud, double fraction, long t);
    void *ud;
    atomic_int *cancel;
} sk_water_run_opts;
int sk_water_run(sk_water_sim *sim, const sk_water_run_opts *opts, sk_water_error *err);

#endif
