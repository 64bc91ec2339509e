/* solve.c - the solver stages: bus types, Jacobian pattern + KLU analysis,
 * Newton-Raphson in polar coordinates (MATPOWER's newtonpf), DC power flow
 * (MATPOWER's dcpf), Q-limit switching and pfsoln-style post-processing.
 *
 * Unknowns are ordered by bus: Va of every PV/PQ bus (in bus order), then Vm
 * of every PQ bus.  Rows match (P then Q).  The order differs from
 * MATPOWER's [pv; pq] but the Newton step, and so every iterate, is the same
 * up to rounding.  Each Jacobian nonzero remembers which Ybus entry and which
 * derivative it holds, so refilling it per iteration is one pass. */
#include <complex.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <klu.h>

#include "power_internal.h"

enum { JK_PVA = 0, JK_QVA = 1, JK_PVM = 2, JK_QVM = 3 };

/* A refactorisation keeps the old pivot order; if the condition estimate
 * falls this far below the one of the last full factorisation (or below the
 * absolute floor), we factor again with pivoting. */
#define RCOND_DROP 1e-3
#define RCOND_FLOOR 1e-14
#define QLIM_TOL 5e-6  /* MVAr, MATPOWER's opf.violation default */

struct sk_power_solver {
    const sk_power_net *net;
    const sk_power_case *c;
    sk_power_options o;
    size_t nb, ng;
    int *type_base;     /* bustypes result per island: 1,2,3 or 0 = off */
    int *type;          /* current (Q-limits may turn PV into PQ) */
    int pattern_dirty;  /* type changed since the last analysis */
    double *vm0, *va0;  /* start point (va in radians) */
    double *vm, *va;    /* current state */
    double *qg_fix;     /* per gen: Q used in Sbus (limit when limited) */
    unsigned char *limited;
    double *sp, *sq;    /* specified injections, pu */
    double *ire, *iim;  /* Ybus * V */
    double *vr, *vi;    /* V in rectangular form */
    double *pc, *qc;    /* computed injections V conj(I), pu */
    /* Jacobian (or the DC B matrix) */
    int *ja, *jm;       /* unknown index of Va / Vm per bus, -1 if none */
    int nj;
    int *Jp, *Ji;
    double *Jx;
    size_t *jy;         /* Ybus position of each nonzero */
    unsigned char *jk;  /* which derivative */
    size_t jcap;
    double *F, *dx;
    double *bdc;        /* DC: B values on the Ybus pattern */
    double *pbusinj;    /* DC: phase-shifter injections, pu */
    klu_common common;
    klu_symbolic *sym;
    klu_numeric *num;
    double rcond_factor;
    sk_power_stats st;
};

void sk_power_options_default(sk_power_options *o)
{
    memset(o, 0, sizeof *o);
    o->tol = 1e-8;
    o->max_iter = 10;
    o->max_q_rounds = 20;
}

const sk_power_case *sk_power_solver_case(const sk_power_solver *s)
{
    return s->c;
}

void sk_power_solver_stats(const sk_power_solver *s, sk_power_stats *st)
{
    *st = s->st;
}

static void free_pattern(sk_power_solver *s)
{
    if (s->num)
        klu_free_numeric(&s->num, &s->common);
    if (s->sym)
        klu_free_symbolic(&s->sym, &s->common);
    free(s->Jp); free(s->Ji); free(s->Jx); free(s->jy); free(s->jk);
    free(s->F); free(s->dx);
    s->Jp = s->Ji = NULL; s->Jx = NULL; s->jy = NULL; s->jk = NULL; s->F = s->dx = NULL;
    s->nj = 0;
}

void sk_power_solver_free(sk_power_solver *s)
{
    if (!s)
        return;
    free_pattern(s);
    free(s->type_base); free(s->type); free(s->vm0); free(s->va0); free(s->vm); free(s->va);
    free(s->qg_fix); free(s->limited); free(s->sp); free(s->sq); free(s->ire); free(s->iim);
    free(s->vr); free(s->vi); free(s->pc); free(s->qc);
    free(s->ja); free(s->jm); free(s->bdc); free(s->pbusinj);
    free(s);
}

/* Build the Jacobian (AC) or reduced B (DC) pattern for the current types
 * and run klu_analyze on it. */
static int analyse(sk_power_solver *s, sk_power_error *err)
{
    const sk_power_net *n = s->net;
    size_t nb = s->nb;
    free_pattern(s);
    int nv = 0;
    for (size_t i = 0; i < nb; i++) {
        s->ja[i] = s->jm[i] = -1;
        if (s->type[i] == SK_POWER_PV || s->type[i] == SK_POWER_PQ)
            s->ja[i] = nv++;
    }
    int npvpq = nv;
    if (!s->o.dc)
        for (size_t i = 0; i < nb; i++)
            if (s->type[i] == SK_POWER_PQ)
                s->jm[i] = nv++;
    (void)npvpq;
    s->nj = nv;
    size_t cap = (s->o.dc ? 1 : 4) * n->nnz + 1;
    s->Jp = malloc((size_t)(nv + 1) * sizeof *s->Jp);
    s->Ji = malloc(cap * sizeof *s->Ji);
    s->Jx = malloc(cap * sizeof *s->Jx);
    s->jy = malloc(cap * sizeof *s->jy);
    s->jk = malloc(cap);
    s->F = malloc((size_t)(nv + 1) * sizeof *s->F);
    s->dx = malloc((size_t)(nv + 1) * sizeof *s->dx);
    if (!s->Jp || !s->Ji || !s->Jx || !s->jy || !s->jk || !s->F || !s->dx)
        return pw_fail(err, SK_POWER_ENOMEM, "out of memory (Jacobian)");
    size_t nz = 0;
    /* Columns: Va of bus k (k in bus order), then Vm of bus k. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < nb; k++) {
            int col = pass == 0 ? s->ja[k] : s->jm[k];
            if (col < 0)
                continue;
            s->Jp[col] = (int)nz;
            /* P rows (all sorted before Q rows since Q indices are larger). */
            for (int rowpass = 0; rowpass < 2; rowpass++)
                for (size_t p = n->yp[k]; p < n->yp[k + 1]; p++) {
                    size_t i = n->yi[p];
                    int row = rowpass == 0 ? s->ja[i] : s->jm[i];
                    if (row < 0)
                        continue;
                    s->Ji[nz] = row;
                    s->jy[nz] = p;
                    s->jk[nz] = (unsigned char)((pass == 0 ? 0 : 2) + rowpass);
                    nz++;
                }
        }
    }
    s->Jp[nv] = (int)nz;
    if (nv == 0)
        return 0;
    s->sym = klu_analyze(nv, s->Jp, s->Ji, &s->common);
    if (!s->sym)
        return pw_fail(err, SK_POWER_EINVAL, "klu_analyze failed (status %d)", s->common.status);
    s->st.analyses++;
    s->pattern_dirty = 0;
    return 0;
}

/* MATPOWER's bustypes, per island: ref = type 3 with a generator on, PV =
 * type 2 with a generator on, everything else PQ; an island without a ref
 * takes its first PV bus as ref; an island with neither is de-energised. */
static int bus_types(sk_power_solver *s, sk_power_error *err)
{
    const sk_power_case *c = s->c;
    const sk_power_net *n = s->net;
    size_t nb = s->nb;
    unsigned char *genon = calloc(nb, 1);
    int *isl_ref = calloc((size_t)n->nislands + 1, sizeof *isl_ref);
    long *isl_pv = malloc(((size_t)n->nislands + 1) * sizeof *isl_pv);
    if (!genon || !isl_ref || !isl_pv) {
        free(genon); free(isl_ref); free(isl_pv);
        return pw_fail(err, SK_POWER_ENOMEM, "out of memory");
    }
    for (int k = 0; k < n->nislands; k++)
        isl_pv[k] = -1;
    for (size_t g = 0; g < s->ng; g++)
        if (c->gen_status[g])
            genon[c->gen_idx[g]] = 1;
    for (size_t i = 0; i < nb; i++) {
        int t = c->bus_type[i], isl = n->island[i];
        if (isl < 0) { s->type_base[i] = 0; continue; }
        if (t == SK_POWER_REF && genon[i]) { s->type_base[i] = SK_POWER_REF; isl_ref[isl] = 1; }
        else if (t == SK_POWER_PV && genon[i]) {
            s->type_base[i] = SK_POWER_PV;
            if (isl_pv[isl] < 0) isl_pv[isl] = (long)i;
        } else s->type_base[i] = SK_POWER_PQ;
    }
    int any = 0;
    for (int k = 0; k < n->nislands; k++) {
        if (!isl_ref[k] && isl_pv[k] >= 0) {
            s->type_base[isl_pv[k]] = SK_POWER_REF;
            isl_ref[k] = 1;
        }
        any |= isl_ref[k];
    }
    for (size_t i = 0; i < nb; i++)
        if (s->type_base[i] && !isl_ref[n->island[i]])
            s->type_base[i] = 0;
    free(genon); free(isl_ref); free(isl_pv);
    if (!any)
        return pw_fail(err, SK_POWER_EINVAL,
                       "%s: no reference bus: no island has a type-3 bus or a PV bus with a generator in service",
                       c->filename);
    return 0;
}

/* Start point: case (or flat) voltages, VG at PV/ref buses keeping the angle. */
static void start_point(sk_power_solver *s)
{
    const sk_power_case *c = s->c;
    for (size_t i = 0; i < s->nb; i++) {
        if (!s->type_base[i]) { s->vm0[i] = s->va0[i] = 0; continue; }
        s->vm0[i] = s->o.flat_start ? 1.0 : c->vm[i];
        /* Flat start keeps the ref buses' angles: the angle reference is the
         * case's (case118 holds 30 deg at bus 69), so both starts reach the
         * same solution. */
        s->va0[i] = s->o.flat_start && s->type_base[i] != SK_POWER_REF ? 0.0 : c->va[i] * PW_PI / 180.0;
    }
    for (size_t g = 0; g < s->ng; g++) {
        size_t b = c->gen_idx[g];
        if (c->gen_status[g] && (s->type_base[b] == SK_POWER_PV || s->type_base[b] == SK_POWER_REF))
            s->vm0[b] = c->vg[g];
    }
    if (s->o.dc)
        for (size_t i = 0; i < s->nb; i++)
            if (s->type_base[i])
                s->vm0[i] = 1.0;
}

void sk_power_solver_reset(sk_power_solver *s)
{
    memcpy(s->vm, s->vm0, s->nb * sizeof *s->vm);
    memcpy(s->va, s->va0, s->nb * sizeof *s->va);
}

static int setup_dc(sk_power_solver *s, sk_power_error *err)
{
    const sk_power_net *n = s->net;
    const sk_power_case *c = s->c;
    s->bdc = calloc(n->nnz + 1, sizeof *s->bdc);
    s->pbusinj = calloc(s->nb, sizeof *s->pbusinj);
    if (!s->bdc || !s->pbusinj)
        return pw_fail(err, SK_POWER_ENOMEM, "out of memory");
    for (size_t l = 0; l < c->nbranch; l++) {
        if (!n->br_on[l])
            continue;
        if (c->br_x[l] == 0)
            return pw_fail(err, SK_POWER_EINVAL, "%s:%d: branch %zu: x = 0, no DC power flow possible",
                           c->filename, c->br_line[l], l + 1);
        double b = 1.0 / c->br_x[l] / (c->tap[l] != 0 ? c->tap[l] : 1.0);
        size_t f = c->f_idx[l], t = c->t_idx[l];
        size_t ends[4][2] = {{f, f}, {t, f}, {f, t}, {t, t}}; /* (row, col) */
        double val[4] = {b, -b, -b, b};
        for (int k = 0; k < 4; k++) {
            size_t col = ends[k][1], row = ends[k][0];
            for (size_t p = n->yp[col]; p < n->yp[col + 1]; p++)
                if (n->yi[p] == row) { s->bdc[p] += val[k]; break; }
        }
        double pfinj = b * (-c->shift[l] * PW_PI / 180.0);
        s->pbusinj[f] += pfinj;
        s->pbusinj[t] -= pfinj;
    }
    return 0;
}

sk_power_solver *sk_power_solver_new(const sk_power_net *net, const sk_power_options *o,
                                     sk_power_error *err)
{
    sk_power_solver *s = calloc(1, sizeof *s);
    if (!s) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory");
        return NULL;
    }
    s->net = net;
    s->c = net->c;
    if (o) s->o = *o;
    else sk_power_options_default(&s->o);
    if (!(s->o.tol > 0)) s->o.tol = 1e-8;
    if (s->o.max_iter <= 0) s->o.max_iter = 10;
    if (s->o.max_q_rounds <= 0) s->o.max_q_rounds = 20;
    size_t nb = s->nb = net->nbus, ng = s->ng = s->c->ngen;
    size_t G = ng ? ng : 1;
    s->type_base = calloc(nb, sizeof(int)); s->type = calloc(nb, sizeof(int));
    s->vm0 = calloc(nb, sizeof(double)); s->va0 = calloc(nb, sizeof(double));
    s->vm = calloc(nb, sizeof(double)); s->va = calloc(nb, sizeof(double));
    s->sp = calloc(nb, sizeof(double)); s->sq = calloc(nb, sizeof(double));
    s->ire = calloc(nb, sizeof(double)); s->iim = calloc(nb, sizeof(double));
    s->vr = calloc(nb, sizeof(double)); s->vi = calloc(nb, sizeof(double));
    s->pc = calloc(nb, sizeof(double)); s->qc = calloc(nb, sizeof(double));
    s->ja = calloc(nb, sizeof(int)); s->jm = calloc(nb, sizeof(int));
    s->qg_fix = calloc(G, sizeof(double)); s->limited = calloc(G, 1);
    if (!s->type_base || !s->type || !s->vm0 || !s->va0 || !s->vm || !s->va || !s->sp || !s->sq ||
        !s->ire || !s->iim || !s->vr || !s->vi || !s->pc || !s->qc || !s->ja || !s->jm || !s->qg_fix || !s->limited) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory");
        goto fail;
    }
    if (!klu_defaults(&s->common)) {
        pw_fail(err, SK_POWER_EINVAL, "klu_defaults failed");
        goto fail;
    }
    if (bus_types(s, err))
        goto fail;
    memcpy(s->type, s->type_base, nb * sizeof(int));
    if (s->o.dc && setup_dc(s, err))
        goto fail;
    if (analyse(s, err))
        goto fail;
    start_point(s);
    sk_power_solver_reset(s);
    return s;
fail:
    sk_power_solver_free(s);
    return NULL;
}

/* Specified injections Sbus = (Cg Sg - Sd) / baseMVA. */
static void make_sbus(sk_power_solver *s, const double *pd, const double *qd)
{
    const sk_power_case *c = s->c;
    double base = c->base_mva;
    for (size_t i = 0; i < s->nb; i++) {
        s->sp[i] = -pd[i] / base;
        s->sq[i] = -qd[i] / base;
    }
    for (size_t g = 0; g < s->ng; g++) {
        if (!c->gen_status[g])
            continue;
        size_t b = c->gen_idx[g];
        s->sp[b] += c->pg[g] / base;
        s->sq[b] += (s->limited[g] ? s->qg_fix[g] : c->qg[g]) / base;
    }
}

/* V = Vm e^(jVa) and I = Ybus V, over energised buses (others hold V = 0),
 * and the computed injections S = V conj(I). */
static void compute_injections(sk_power_solver *s)
{
    const sk_power_net *n = s->net;
    for (size_t k = 0; k < s->nb; k++) {
        s->vr[k] = s->type[k] ? s->vm[k] * cos(s->va[k]) : 0;
        s->vi[k] = s->type[k] ? s->vm[k] * sin(s->va[k]) : 0;
    }
    memset(s->ire, 0, s->nb * sizeof(double));
    memset(s->iim, 0, s->nb * sizeof(double));
    for (size_t k = 0; k < s->nb; k++) {
        if (!s->type[k])
            continue;
        double vr = s->vr[k], vi = s->vi[k];
        for (size_t p = n->yp[k]; p < n->yp[k + 1]; p++) {
            size_t i = n->yi[p];
            s->ire[i] += n->yre[p] * vr - n->yim[p] * vi;
            s->iim[i] += n->yre[p] * vi + n->yim[p] * vr;
        }
    }
    for (size_t i = 0; i < s->nb; i++) {
        s->pc[i] = s->vr[i] * s->ire[i] + s->vi[i] * s->iim[i];
        s->qc[i] = s->vi[i] * s->ire[i] - s->vr[i] * s->iim[i];
    }
}

/* F = mismatch at the unknowns; returns its infinity norm (NaN-propagating). */
static double mismatch(sk_power_solver *s)
{
    compute_injections(s);
    double nrm = 0;
    for (size_t i = 0; i < s->nb; i++) {
        if (s->ja[i] < 0)
            continue;
        double fp = s->pc[i] - s->sp[i];
        s->F[s->ja[i]] = fp;
        if (!(fabs(fp) <= nrm)) nrm = fabs(fp);
        if (s->jm[i] >= 0) {
            double fq = s->qc[i] - s->sq[i];
            s->F[s->jm[i]] = fq;
            if (!(fabs(fq) <= nrm)) nrm = fabs(fq);
        }
    }
    return nrm;
}

/* Jacobian values from the current V and I: newtonpf's dS/dVa, dS/dVm.
 * With W = Y_ik V_k and V_i conj(W) = a + jb:
 *   off-diagonal  dP/dVa = b, dQ/dVa = -a, dP/dVm = a/|V_k|, dQ/dVm = b/|V_k|
 *   diagonal      dP/dVa = b - Q_i, dQ/dVa = P_i - a,
 *                 dP/dVm = (a + P_i)/|V_i|, dQ/dVm = (b + Q_i)/|V_i|. */
static void fill_jacobian(sk_power_solver *s)
{
    const sk_power_net *n = s->net;
    for (size_t k = 0; k < s->nb; k++) {
        for (int pass = 0; pass < 2; pass++) {
            int col = pass == 0 ? s->ja[k] : s->jm[k];
            if (col < 0)
                continue;
            double vrk = s->vr[k], vik = s->vi[k], vmk = s->vm[k];
            for (int q = s->Jp[col]; q < s->Jp[col + 1]; q++) {
                size_t p = s->jy[q], i = n->yi[p];
                double wr = n->yre[p] * vrk - n->yim[p] * vik;
                double wi = n->yre[p] * vik + n->yim[p] * vrk;
                double a = s->vr[i] * wr + s->vi[i] * wi;
                double b = s->vi[i] * wr - s->vr[i] * wi;
                double v;
                if (i != k) {
                    switch (s->jk[q]) {
                    case JK_PVA: v = b; break;
                    case JK_QVA: v = -a; break;
                    case JK_PVM: v = a / vmk; break;
                    default: v = b / vmk; break;
                    }
                } else {
                    switch (s->jk[q]) {
                    case JK_PVA: v = b - s->qc[i]; break;
                    case JK_QVA: v = s->pc[i] - a; break;
                    case JK_PVM: v = (a + s->pc[i]) / vmk; break;
                    default: v = (b + s->qc[i]) / vmk; break;
                    }
                }
                s->Jx[q] = v;
            }
        }
    }
}

/* Numeric factorisation: refactor with the old pivots when possible, watch
 * the condition estimate, fall back to a full factorisation with pivoting. */
static int factor(sk_power_solver *s, sk_power_error *err)
{
    if (s->num) {
        s->st.refactors++;
        int ok = klu_refactor(s->Jp, s->Ji, s->Jx, s->sym, s->num, &s->common);
        if (ok && klu_rcond(s->sym, s->num, &s->common) &&
            s->common.rcond >= RCOND_FLOOR && s->common.rcond >= RCOND_DROP * s->rcond_factor)
            return 0;
        s->st.fallbacks++;
        klu_free_numeric(&s->num, &s->common);
    }
    s->st.factors++;
    s->num = klu_factor(s->Jp, s->Ji, s->Jx, s->sym, &s->common);
    if (!s->num || s->common.status != KLU_OK) {
        if (s->num)
            klu_free_numeric(&s->num, &s->common);
        return pw_fail(err, SK_POWER_ENOCONV, "singular Jacobian (KLU status %d)", s->common.status);
    }
    if (!klu_rcond(s->sym, s->num, &s->common)) {
        klu_free_numeric(&s->num, &s->common);
        return pw_fail(err, SK_POWER_ENOCONV, "klu_rcond failed (status %d)", s->common.status);
    }
    s->rcond_factor = s->common.rcond;
    if (!(s->common.rcond >= RCOND_FLOOR)) {
        klu_free_numeric(&s->num, &s->common);
        return pw_fail(err, SK_POWER_ENOCONV, "singular Jacobian (rcond %.3g)", s->common.rcond);
    }
    return 0;
}

/* One Newton-Raphson run from the current state. */
static int newton(sk_power_solver *s, sk_power_solution *sol, sk_power_error *err)
{
    double nrm = mismatch(s);
    sol->nhist = 0;
    if (sol->nhist < sol->hist_cap)
        sol->mismatch_hist[sol->nhist++] = nrm;
    int it = 0;
    while (!(nrm < s->o.tol)) {
        if (!isfinite(nrm)) {
            snprintf(sol->reason, sizeof sol->reason, "mismatch not finite after %d iterations", it);
            sol->iterations = it;
            sol->max_mismatch = nrm;
            return pw_fail(err, SK_POWER_ENOCONV, "%s: Newton-Raphson diverged: %s", s->c->filename, sol->reason);
        }
        if (it >= s->o.max_iter) {
            snprintf(sol->reason, sizeof sol->reason,
                     "no convergence in %d iterations (mismatch %.3g pu > tol %.3g)", it, nrm, s->o.tol);
            sol->iterations = it;
            sol->max_mismatch = nrm;
            return pw_fail(err, SK_POWER_ENOCONV, "%s: Newton-Raphson: %s", s->c->filename, sol->reason);
        }
        it++;
        fill_jacobian(s);
        int rc = factor(s, err);
        if (rc) {
            snprintf(sol->reason, sizeof sol->reason, "singular Jacobian at iteration %d", it);
            sol->iterations = it;
            sol->max_mismatch = nrm;
            return rc;
        }
        for (int k = 0; k < s->nj; k++)
            s->dx[k] = -s->F[k];
        if (!klu_solve(s->sym, s->num, s->nj, 1, s->dx, &s->common)) {
            snprintf(sol->reason, sizeof sol->reason, "klu_solve failed at iteration %d", it);
            sol->iterations = it;
            return pw_fail(err, SK_POWER_ENOCONV, "%s: %s (status %d)", s->c->filename, sol->reason,
                           s->common.status);
        }
        for (size_t i = 0; i < s->nb; i++) {
            if (s->ja[i] < 0)
                continue;
            double va = s->va[i] + s->dx[s->ja[i]];
            double vm = s->vm[i] + (s->jm[i] >= 0 ? s->dx[s->jm[i]] : 0);
            /* Like newtonpf: V = Vm e^(jVa), then Vm = |V|, Va = arg V. */
            if (vm < 0) {
                vm = -vm;
                va += PW_PI;
            }
            if (va > PW_PI || va <= -PW_PI)
                va = atan2(sin(va), cos(va));
            s->vm[i] = vm;
            s->va[i] = va;
        }
        nrm = mismatch(s);
        if (sol->nhist < sol->hist_cap)
            sol->mismatch_hist[sol->nhist++] = nrm;
    }
    sol->iterations = it;
    sol->max_mismatch = nrm;
    return 0;
}

/* DC power flow: B(pvpq,pvpq) Va = P - Pbusinj - Gs - B(pvpq,ref) Va_ref. */
static int solve_dc(sk_power_solver *s, sk_power_solution *sol, sk_power_error *err)
{
    const sk_power_net *n = s->net;
    const sk_power_case *c = s->c;
    for (size_t i = 0; i < s->nb; i++) {
        if (s->ja[i] < 0)
            continue;
        s->dx[s->ja[i]] = s->sp[i] - s->pbusinj[i] - c->gs[i] / c->base_mva;
    }
    for (size_t k = 0; k < s->nb; k++) {
        if (s->type[k] != SK_POWER_REF)
            continue;
        for (size_t p = n->yp[k]; p < n->yp[k + 1]; p++) {
            int row = s->ja[n->yi[p]];
            if (row >= 0)
                s->dx[row] -= s->bdc[p] * s->va[k];
        }
    }
    for (int q = 0; q < s->Jp[s->nj]; q++)
        s->Jx[q] = s->bdc[s->jy[q]];
    if (s->nj > 0) {
        int rc = factor(s, err);
        if (rc) {
            snprintf(sol->reason, sizeof sol->reason, "singular B matrix");
            return rc;
        }
        if (!klu_solve(s->sym, s->num, s->nj, 1, s->dx, &s->common))
            return pw_fail(err, SK_POWER_ENOCONV, "klu_solve failed (status %d)", s->common.status);
    }
    for (size_t i = 0; i < s->nb; i++)
        if (s->ja[i] >= 0)
            s->va[i] = s->dx[s->ja[i]];
    sol->iterations = 1;
    sol->nhist = 0;
    sol->max_mismatch = 0;
    return 0;
}

sk_power_solution *sk_power_solution_new(const sk_power_case *c, const sk_power_options *o)
{
    sk_power_solution *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t nb = c->nbus, ng = c->ngen ? c->ngen : 1, nl = c->nbranch ? c->nbranch : 1;
    int mi = o && o->max_iter > 0 ? o->max_iter : 10;
    s->nbus = c->nbus; s->ngen = c->ngen; s->nbranch = c->nbranch;
    s->hist_cap = (size_t)mi + 2;
    s->mismatch_hist = calloc(s->hist_cap, sizeof(double));
    s->vm = calloc(nb, sizeof(double)); s->va = calloc(nb, sizeof(double));
    s->energised = calloc(nb, 1); s->type_used = calloc(nb, sizeof(int));
    s->pd = calloc(nb, sizeof(double)); s->qd = calloc(nb, sizeof(double));
    s->pg = calloc(ng, sizeof(double)); s->qg = calloc(ng, sizeof(double)); s->q_limited = calloc(ng, 1);
    s->pf = calloc(nl, sizeof(double)); s->qf = calloc(nl, sizeof(double));
    s->pt = calloc(nl, sizeof(double)); s->qt = calloc(nl, sizeof(double));
    if (!s->mismatch_hist || !s->vm || !s->va || !s->energised || !s->type_used || !s->pd || !s->qd ||
        !s->pg || !s->qg || !s->q_limited || !s->pf || !s->qf || !s->pt || !s->qt) {
        sk_power_solution_free(s);
        return NULL;
    }
    return s;
}

void sk_power_solution_free(sk_power_solution *s)
{
    if (!s)
        return;
    free(s->mismatch_hist); free(s->vm); free(s->va); free(s->energised); free(s->type_used);
    free(s->pd); free(s->qd); free(s->pg); free(s->qg); free(s->q_limited);
    free(s->pf); free(s->qf); free(s->pt); free(s->qt);
    free(s);
}

/* pfsoln: Qg at PV/ref generators (split among generators at a bus), Pg at
 * the ref generators, branch flows at both ends, totals. */
static void post_process(sk_power_solver *s, sk_power_solution *sol)
{
    const sk_power_case *c = s->c;
    const sk_power_net *n = s->net;
    double base = c->base_mva;
    size_t nb = s->nb;
    compute_injections(s);
    sol->vm_min = INFINITY;
    sol->vm_max = -INFINITY;
    sol->n_energised = 0;
    sol->total_pd = 0;
    for (size_t i = 0; i < nb; i++) {
        sol->type_used[i] = s->type[i] ? s->type[i] : SK_POWER_NONE;
        sol->energised[i] = s->type[i] != 0;
        if (s->type[i]) {
            sol->vm[i] = s->vm[i];
            sol->va[i] = s->va[i] * 180.0 / PW_PI;
            sol->n_energised++;
            if (s->vm[i] < sol->vm_min) sol->vm_min = s->vm[i];
            if (s->vm[i] > sol->vm_max) sol->vm_max = s->vm[i];
            sol->total_pd += sol->pd[i];
        } else {
            sol->vm[i] = sol->va[i] = 0;
        }
    }
    /* Generators. cnt/qmin/qmax sums per bus over "on" generators, i.e. in
     * service at an energised PV or ref bus. */
    double *qtot = calloc(nb, sizeof(double)), *qmn = calloc(nb, sizeof(double)),
           *qmx = calloc(nb, sizeof(double));
    int *cnt = calloc(nb, sizeof(int));
    int oom = !qtot || !qmn || !qmx || !cnt;
    for (size_t g = 0; g < s->ng; g++) {
        size_t b = c->gen_idx[g];
        sol->q_limited[g] = s->limited[g];
        if (!c->gen_status[g] || !s->type[b]) {
            sol->pg[g] = sol->qg[g] = 0;
            continue;
        }
        sol->pg[g] = c->pg[g];
        if (s->type[b] == SK_POWER_PQ) {
            sol->qg[g] = s->o.dc ? c->qg[g] : (s->limited[g] ? s->qg_fix[g] : c->qg[g]);
            continue;
        }
        if (s->o.dc) { sol->qg[g] = c->qg[g]; continue; }
        if (!oom) {
            cnt[b]++;
            qmn[b] += c->qmin[g];
            qmx[b] += c->qmax[g];
        }
    }
    if (!s->o.dc && !oom) {
        for (size_t g = 0; g < s->ng; g++) {
            size_t b = c->gen_idx[g];
            if (!c->gen_status[g] || !s->type[b] || s->type[b] == SK_POWER_PQ)
                continue;
            double qbus = s->qc[b] * base + sol->qd[b];
            if (cnt[b] == 1) {
                sol->qg[g] = qbus;
            } else if (isfinite(qmn[b]) && isfinite(qmx[b]) && qmn[b] != qmx[b]) {
                /* in proportion to the reactive range (pfsoln) */
                sol->qg[g] = c->qmin[g] + (qbus - qmn[b]) / (qmx[b] - qmn[b] + DBL_EPSILON) *
                                              (c->qmax[g] - c->qmin[g]);
            } else if (isfinite(qmn[b]) && qmn[b] == qmx[b]) {
                sol->qg[g] = c->qmin[g] + (qbus - qmn[b]) / cnt[b];
            } else {
                sol->qg[g] = qbus / cnt[b];  /* unbounded range: equal shares */
            }
        }
    }
    /* Ref generators: the first takes the bus's injection minus the others. */
    for (size_t b = 0; b < nb; b++) {
        if (s->type[b] != SK_POWER_REF)
            continue;
        double pinj;
        if (s->o.dc) {
            pinj = s->pbusinj[b] + c->gs[b] / base;
            for (size_t p = n->yp[b]; p < n->yp[b + 1]; p++)
                pinj += s->bdc[p] * s->va[n->yi[p]]; /* B symmetric: row b = column b */
        } else {
            pinj = s->pc[b];
        }
        long first = -1;
        double others = 0;
        for (size_t g = 0; g < s->ng; g++) {
            if (c->gen_idx[g] != b || !c->gen_status[g])
                continue;
            if (first < 0) first = (long)g;
            else others += sol->pg[g];
        }
        if (first >= 0)
            sol->pg[first] = pinj * base + sol->pd[b] - others;
    }
    sol->total_pg = 0;
    for (size_t g = 0; g < s->ng; g++)
        sol->total_pg += sol->pg[g];
    /* Branch flows. */
    sol->loss_p = sol->loss_q = 0;
    sol->n_overloaded = 0;
    sol->max_loading_pct = 0;
    for (size_t l = 0; l < c->nbranch; l++) {
        size_t f = c->f_idx[l], t = c->t_idx[l];
        if (!n->br_on[l] || !s->type[f] || !s->type[t]) {
            sol->pf[l] = sol->qf[l] = sol->pt[l] = sol->qt[l] = 0;
            continue;
        }
        if (s->o.dc) {
            double b = 1.0 / c->br_x[l] / (c->tap[l] != 0 ? c->tap[l] : 1.0);
            double pf = (b * (s->va[f] - s->va[t]) + b * (-c->shift[l] * PW_PI / 180.0)) * base;
            sol->pf[l] = pf; sol->pt[l] = -pf; sol->qf[l] = sol->qt[l] = 0;
        } else {
            double vfr = s->vr[f], vfi = s->vi[f], vtr = s->vr[t], vti = s->vi[t];
            double ifr = n->yff_re[l] * vfr - n->yff_im[l] * vfi + n->yft_re[l] * vtr - n->yft_im[l] * vti;
            double ifi = n->yff_re[l] * vfi + n->yff_im[l] * vfr + n->yft_re[l] * vti + n->yft_im[l] * vtr;
            double itr = n->ytf_re[l] * vfr - n->ytf_im[l] * vfi + n->ytt_re[l] * vtr - n->ytt_im[l] * vti;
            double iti = n->ytf_re[l] * vfi + n->ytf_im[l] * vfr + n->ytt_re[l] * vti + n->ytt_im[l] * vtr;
            sol->pf[l] = (vfr * ifr + vfi * ifi) * base;
            sol->qf[l] = (vfi * ifr - vfr * ifi) * base;
            sol->pt[l] = (vtr * itr + vti * iti) * base;
            sol->qt[l] = (vti * itr - vtr * iti) * base;
        }
        sol->loss_p += sol->pf[l] + sol->pt[l];
        sol->loss_q += sol->qf[l] + sol->qt[l];
        if (c->rate_a[l] > 0) {
            double sf = hypot(sol->pf[l], sol->qf[l]), st = hypot(sol->pt[l], sol->qt[l]);
            double pct = (sf > st ? sf : st) / c->rate_a[l] * 100.0;
            if (pct > sol->max_loading_pct) sol->max_loading_pct = pct;
            if (pct > 100.0) sol->n_overloaded++;
        }
    }
    free(qtot); free(qmn); free(qmx); free(cnt);
}

static void fail_solution(sk_power_solver *s, sk_power_solution *sol, int code)
{
    sol->converged = 0;
    sol->status = code;
    for (size_t i = 0; i < s->nb; i++) {
        sol->vm[i] = sol->va[i] = NAN;
        sol->energised[i] = s->type[i] != 0;
        sol->type_used[i] = s->type[i] ? s->type[i] : SK_POWER_NONE;
    }
    for (size_t g = 0; g < s->ng; g++)
        sol->pg[g] = sol->qg[g] = NAN;
    for (size_t l = 0; l < s->c->nbranch; l++)
        sol->pf[l] = sol->qf[l] = sol->pt[l] = sol->qt[l] = NAN;
    sol->loss_p = sol->loss_q = sol->vm_min = sol->vm_max = sol->total_pg = sol->max_loading_pct = NAN;
    sol->n_overloaded = 0;
    /* Next solve starts afresh from the start point, not from garbage. */
    sk_power_solver_reset(s);
}

/* Back to the base bus types (after Q-limit switching). */
static int restore_types(sk_power_solver *s, sk_power_error *err)
{
    int changed = 0;
    for (size_t i = 0; i < s->nb; i++)
        if (s->type[i] != s->type_base[i]) { s->type[i] = s->type_base[i]; changed = 1; }
    memset(s->limited, 0, s->ng ? s->ng : 1);
    if (changed || s->pattern_dirty)
        return analyse(s, err);
    return 0;
}

int sk_power_solve(sk_power_solver *s, const double *pd, const double *qd,
                   sk_power_solution *sol, sk_power_error *err)
{
    const sk_power_case *c = s->c;
    if (sol->nbus != s->nb || sol->ngen != s->ng || sol->nbranch != c->nbranch)
        return pw_fail(err, SK_POWER_EINVAL, "solution sized for another case");
    sol->converged = 0;
    sol->status = 0;
    sol->reason[0] = 0;
    sol->q_rounds = 0;
    sol->iterations_total = 0;
    sol->nhist = 0;
    int rc = restore_types(s, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->nb; i++) {
        sol->pd[i] = pd ? pd[i] : c->pd[i];
        sol->qd[i] = qd ? qd[i] : c->qd[i];
        if (!isfinite(sol->pd[i]) || !isfinite(sol->qd[i]))
            return pw_fail(err, SK_POWER_EINVAL, "load at bus %lld is not finite", (long long)c->bus_i[i]);
    }
    /* PV/ref magnitudes are fixed at VG whatever the warm start says. */
    for (size_t g = 0; g < s->ng; g++) {
        size_t b = c->gen_idx[g];
        if (c->gen_status[g] && (s->type[b] == SK_POWER_PV || s->type[b] == SK_POWER_REF))
            s->vm[b] = s->o.dc ? 1.0 : c->vg[g];
    }
    make_sbus(s, sol->pd, sol->qd);
    if (s->o.dc) {
        rc = solve_dc(s, sol, err);
        if (rc) {
            fail_solution(s, sol, rc);
            return rc;
        }
        post_process(s, sol);
        sol->converged = 1;
        sol->iterations_total = 1;
        return 0;
    }
    for (;;) {
        rc = newton(s, sol, err);
        sol->iterations_total += sol->iterations;
        if (rc) {
            fail_solution(s, sol, rc);
            return rc;
        }
        post_process(s, sol);
        if (!s->o.enforce_q_limits)
            break;
        /* Generators at PV buses outside [Qmin, Qmax]: fix them at the
         * limit, turn their bus into PQ and solve again (MATPOWER's
         * enforce_q_lims = 1, all violations at once). */
        int nviol = 0;
        for (size_t g = 0; g < s->ng; g++) {
            size_t b = c->gen_idx[g];
            if (!c->gen_status[g] || s->type[b] != SK_POWER_PV)
                continue;
            if (sol->qg[g] > c->qmax[g] + QLIM_TOL || sol->qg[g] < c->qmin[g] - QLIM_TOL)
                nviol++;
        }
        if (!nviol)
            break;
        if (sol->q_rounds >= s->o.max_q_rounds) {
            snprintf(sol->reason, sizeof sol->reason, "Q-limit switching did not settle in %d rounds",
                     sol->q_rounds);
            fail_solution(s, sol, SK_POWER_ENOCONV);
            return pw_fail(err, SK_POWER_ENOCONV, "%s: %s", c->filename, sol->reason);
        }
        sol->q_rounds++;
        for (size_t g = 0; g < s->ng; g++) {
            size_t b = c->gen_idx[g];
            if (!c->gen_status[g] || s->type[b] != SK_POWER_PV)
                continue;
            int hi = sol->qg[g] > c->qmax[g] + QLIM_TOL, lo = sol->qg[g] < c->qmin[g] - QLIM_TOL;
            if (!hi && !lo)
                continue;
            /* Every generator at the bus keeps its present Q; violators take the limit. */
            for (size_t h = 0; h < s->ng; h++) {
                if (c->gen_idx[h] != b || !c->gen_status[h])
                    continue;
                s->limited[h] = 1;
                s->qg_fix[h] = sol->qg[h];
                if (sol->qg[h] > c->qmax[h] + QLIM_TOL) s->qg_fix[h] = c->qmax[h];
                if (sol->qg[h] < c->qmin[h] - QLIM_TOL) s->qg_fix[h] = c->qmin[h];
            }
            s->type[b] = SK_POWER_PQ;
        }
        if ((rc = analyse(s, err))) {
            fail_solution(s, sol, rc);
            return rc;
        }
        make_sbus(s, sol->pd, sol->qd);
    }
    sol->converged = 1;
    return 0;
}
