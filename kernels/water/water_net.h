/* water_net.h - the parsed network shared by parser and solver (internal).
 *
 * Everything here is in EPANET's internal units (ft, cfs, s) once the parser
 * is done; Ucf[] converts back to the file's units.  Arrays are 0-based;
 * junctions come first among nodes (the unknowns of the head system), then
 * reservoirs and tanks in order of appearance, as in EPANET. */
#ifndef WATER_NET_H
#define WATER_NET_H

#include "sk_water.h"

#define W_MISSING (-1.0e10)
#define W_PI 3.141592653589793

/* Link status codes, ordered as in EPANET so that "<= W_CLOSED" means shut. */
enum { W_XHEAD = 0, W_TEMPCLOSED = 1, W_CLOSED = 2, W_OPEN = 3, W_ACTIVE = 4,
       W_XFLOW = 5, W_XFCV = 6, W_XPRESSURE = 7 };
enum { W_HW = 0, W_DW = 1, W_CM = 2 };
enum { W_PUMP_CONST_HP = 0, W_PUMP_POWER = 1, W_PUMP_CUSTOM = 2, W_PUMP_NOCURVE = 3 };
enum { W_CTL_LOW = 0, W_CTL_HI = 1, W_CTL_TIMER = 2, W_CTL_TOD = 3 };
/* Conversion factor slots: value_in_file_units = internal * Ucf[slot]. */
enum { U_ELEV = 0, U_DIAM, U_FLOW, U_PRESSURE, U_VELOCITY, U_VOLUME, U_POWER, U_NUCF };

typedef struct w_pattern { char *id; double *f; int n; } w_pattern;
typedef struct w_curve { char *id; double *x, *y; int n, cap; } w_curve;
typedef struct w_demand { double base; int pat; } w_demand; /* pat -1: default */

typedef struct w_node {
    char *id;
    int type;            /* sk_water_node_type */
    double el;
    double x, y;
    int has_xy;
    int dem0, ndem;      /* slice of net->dem */
    int dem_from_junc;   /* the JUNCTIONS demand is still the only one */
    double ke;           /* emitter: h = ke * q^qexp (internal units) */
    double cfa, cva;     /* FAVAD leakage: h = cfa qfa^2, h = cva qva^(2/3) */
    int pat;             /* reservoir head pattern, -1 none */
    /* tanks */
    double h0, hmin, hmax, area, vmin, vmax, v0;
    int vcurve;          /* -1 none */
} w_node;

typedef struct w_link {
    char *id;
    int type;            /* sk_water_link_type */
    int n1, n2;
    double len, diam;
    double kc;           /* roughness (pipes), setting (valves, W_MISSING if fixed), speed (pumps) */
    double km;           /* minor loss coefficient, internal: h = km q^2 */
    double r;            /* resistance */
    int status;          /* initial status */
    /* pumps */
    int ptype, hcurve, upat, ecurve;
    double h0, rp, np, q0, qmax, hmax, power;
    /* PCV */
    int vcurve;
    double km_user;      /* the file's K, for output */
    double leak_area, leak_expan; /* [LEAKAGE], file units */
} w_link;

typedef struct w_control {
    int link, node, type;
    double grade;        /* head (ft) for level controls */
    long time;
    int status;
    double setting;
} w_control;

/* Rule-based controls ([RULES]). */
enum { W_R_NODE = 0, W_R_LINK = 1, W_R_SYSTEM = 2 };
enum { W_RV_DEMAND, W_RV_HEAD, W_RV_PRESSURE, W_RV_LEVEL, W_RV_FILLTIME, W_RV_DRAINTIME,
       W_RV_FLOW, W_RV_STATUS, W_RV_SETTING, W_RV_TIME, W_RV_CLOCKTIME };
enum { W_OP_EQ, W_OP_NE, W_OP_LT, W_OP_LE, W_OP_GT, W_OP_GE };
enum { W_RS_OPEN = 1, W_RS_CLOSED = 2, W_RS_ACTIVE = 3 };
typedef struct w_premise {
    int logop_or;        /* 0: IF/AND, 1: OR */
    int obj, index, var, relop, status;
    double value;        /* internal units (time in s) */
} w_premise;
typedef struct w_action {
    int link, status;    /* status 0: setting action */
    double setting;      /* file units, W_MISSING for status actions */
} w_action;
typedef struct w_rule {
    char *id;
    int p0, np, a0, na, e0, ne;
    double priority;
} w_rule;

struct sk_water_net {
    char *filename;
    int nnodes, njuncs, nlinks, npats, ncurves, nctrls, ndems;
    w_node *node;
    w_link *link;
    w_pattern *pat;
    w_curve *curve;
    w_control *ctrl;
    w_demand *dem;
    int nrules, npremises, nactions;
    w_rule *rule;
    w_premise *prem;
    w_action *act;
    long rulestep;
    /* options */
    int flow_units;      /* index into the unit table */
    int si;
    int formflag;
    int pressure_units;  /* 0 psi, 1 kPa, 2 m, 3 bar */
    double hexp, qexp, hacc, dmult, viscos, spgrav, damplimit, headerrlim, flowchglim;
    int maxiter, extraiter, checkfreq, maxcheck, pda, emit_backflow;
    double pmin, preq, pexp;
    int defpat;
    double epump;        /* global pump efficiency, % */
    int has_leakage;
    double ucf[U_NUCF];
    long dur, hstep, pstep, pstart, rstep, rstart, tstart;
    char *warnings;
    size_t warnlen;
};

/* water_parse.c */
int w_add_warning(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* water_hyd.c helpers shared with the parser */
double w_tank_volume(const sk_water_net *net, int n, double h);
double w_tank_grade(const sk_water_net *net, int n, double v);
double w_interp(int n, const double *x, const double *y, double xx);
long w_rule_timestep(sk_water_sim *s, long tstep);  /* water_rules.c */
void w_tank_levels(sk_water_sim *s, long tstep);    /* water_eps.c */
void w_set_link_status(sk_water_sim *s, int k, int open);
void w_set_link_setting(sk_water_sim *s, int k, double v);

#endif
