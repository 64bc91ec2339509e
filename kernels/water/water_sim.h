/* water_sim.h - solver state shared by the GGA solver and the time stepper (internal). */
#ifndef WATER_SIM_H
#define WATER_SIM_H

#include <stddef.h>

#include "water_ldl.h"
#include "water_net.h"

#define W_CBIG 1.0e8
#define W_CSMALL 1.0e-6
#define W_QZERO 1.0e-6
#define W_HTOL 0.0005
#define W_QTOL 0.0001
#define W_RQTOL 1.0e-7
#define W_TINY 1.0e-6
/* relative rounding margin for "flow change exceeds flow" (constant-power pumps) */
#define W_HP_QREL 1.0e-9

struct sk_water_sim {
    const sk_water_net *net;
    w_ldl *ldl;
    int ncoef;
    int *ndx;            /* per link: coefficient index, -1 if an end is fixed-grade */
    double *aii, *aij, *F;
    double *H, *Q, *P, *Y, *X, *E;
    double *dfull;       /* required consumer demand (junctions) */
    double *dflow;       /* delivered consumer demand (junctions) */
    double *D;           /* net inflow at fixed-grade nodes */
    double *V;           /* tank volumes */
    int *S;              /* link status */
    double *K;           /* link setting */
    double *kw, *kwh;    /* pump power (kW), energy (kWh) */
    double *qfa, *qva;   /* leakage flows: fixed and variable area */
    double *R;           /* link resistance (PCV varies with setting) */
    int *dmark;          /* scratch for connectivity */
    int *queue;
    int *adjp, *adjl;    /* node -> incident links (CSR), for connectivity */
    int *cvalves, ncvalves; /* PRV, PSV and FCV links, in input order */
    int *rpost;          /* rule actions posted in one evaluation */
    double *rprio;
    long htime, rtime;
    int haltflag, iter, initialised, solved;
    double relerr, relax;
    char *warnings;
    size_t warnlen;
};

int w_hydsolve(sk_water_sim *s, int *iter, double *relerr);
void w_resistance(sk_water_sim *s, int k);
double w_pcv_loss(const sk_water_net *net, int k, double setting);
void w_pump_energy(sk_water_sim *s, long dt);

#endif
