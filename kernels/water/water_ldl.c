/* water_ldl.c - up-looking sparse LDL' with an AMD ordering.
 *
 * Why not CHOLMOD: the head system of a water network is small, very
 * sparse and tree-like; a plain up-looking LDL' (the algorithm of Davis's
 * LDL package) with a fill-reducing AMD ordering does the symbolic work
 * once and the numeric work with no supernodes, no BLAS and no threads, so
 * there is nothing to oversubscribe and nothing to tune.  The matrix is
 * stored as a full symmetric CSC pattern of the permuted matrix; each
 * entry remembers where its value comes from (a diagonal or a link
 * coefficient), so refactoring is a gather plus the numeric sweep. */
#include <stdlib.h>
#include <string.h>

#include <amd.h>

#include "water_ldl.h"

struct w_ldl {
    int n;
    int *P, *Pinv;         /* permutation: new k <- old P[k] */
    int *Ap, *Ai, *src;    /* permuted upper pattern by column; src >= 0 coefficient, < 0 -(row+1) diagonal */
    int *Lp, *Li, *Parent, *Lnz, *Flag, *Pattern;
    int *Rp, *Ri, *Rpos;   /* row k of L: columns Ri[Rp[k]..], ascending, and where L(k,i) lives */
    double *Lx, *D, *Y, *X;
};

void w_ldl_free(w_ldl *f)
{
    if (!f) return;
    free(f->P); free(f->Pinv); free(f->Ap); free(f->Ai); free(f->src);
    free(f->Rp); free(f->Ri); free(f->Rpos);
    free(f->Lp); free(f->Li); free(f->Parent); free(f->Lnz); free(f->Flag); free(f->Pattern);
    free(f->Lx); free(f->D); free(f->Y); free(f->X);
    free(f);
}

long w_ldl_nnz(const w_ldl *f) { return f->Lp[f->n]; }

w_ldl *w_ldl_new(int n, int ncoef, const int *ci, const int *cj)
{
    w_ldl *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    size_t N = (size_t)n + 1;
    f->n = n;
    int *cnt = calloc(N, sizeof *cnt), *ap = calloc(N, sizeof *ap);
    int *ai = malloc(((size_t)2 * (size_t)ncoef + 1) * sizeof *ai);
    f->P = malloc(N * sizeof *f->P);
    f->Pinv = malloc(N * sizeof *f->Pinv);
    if (!cnt || !ap || !ai || !f->P || !f->Pinv) goto fail;
    /* full symmetric pattern without diagonal, for AMD */
    for (int c = 0; c < ncoef; c++) { cnt[ci[c]]++; cnt[cj[c]]++; }
    ap[0] = 0;
    for (int i = 0; i < n; i++) ap[i + 1] = ap[i] + cnt[i];
    memcpy(cnt, ap, (size_t)n * sizeof *cnt);
    for (int c = 0; c < ncoef; c++) { ai[cnt[ci[c]]++] = cj[c]; ai[cnt[cj[c]]++] = ci[c]; }
    double control[AMD_CONTROL], info[AMD_INFO];
    amd_defaults(control);
    /* amd_order wants sorted, duplicate-free columns: amd_order handles
     * unsorted input (it calls amd_preprocess) and returns AMD_OK_BUT_JUMBLED */
    int st = n > 0 ? amd_order(n, ap, ai, f->P, control, info) : AMD_OK;
    if (st != AMD_OK && st != AMD_OK_BUT_JUMBLED) goto fail;
    for (int k = 0; k < n; k++) f->Pinv[f->P[k]] = k;
    /* permuted upper-triangular pattern (row < col) plus diagonal, by column */
    f->Ap = calloc(N, sizeof *f->Ap);
    f->Ai = malloc(((size_t)ncoef + N) * sizeof *f->Ai);
    f->src = malloc(((size_t)ncoef + N) * sizeof *f->src);
    if (!f->Ap || !f->Ai || !f->src) goto fail;
    memset(cnt, 0, N * sizeof *cnt);
    for (int c = 0; c < ncoef; c++) {
        int a = f->Pinv[ci[c]], b = f->Pinv[cj[c]];
        cnt[a > b ? a : b]++;
    }
    for (int k = 0; k < n; k++) cnt[k]++; /* diagonal */
    f->Ap[0] = 0;
    for (int k = 0; k < n; k++) f->Ap[k + 1] = f->Ap[k] + cnt[k];
    memcpy(cnt, f->Ap, (size_t)n * sizeof *cnt);
    for (int c = 0; c < ncoef; c++) {
        int a = f->Pinv[ci[c]], b = f->Pinv[cj[c]];
        int col = a > b ? a : b, row = a > b ? b : a;
        f->Ai[cnt[col]] = row;
        f->src[cnt[col]++] = c;
    }
    for (int k = 0; k < n; k++) { f->Ai[cnt[k]] = k; f->src[cnt[k]++] = -(f->P[k] + 1); }
    /* symbolic: elimination tree and column counts (LDL's ldl_symbolic) */
    f->Lp = malloc(N * sizeof *f->Lp);
    f->Parent = malloc(N * sizeof *f->Parent);
    f->Lnz = malloc(N * sizeof *f->Lnz);
    f->Flag = malloc(N * sizeof *f->Flag);
    f->Pattern = malloc(N * sizeof *f->Pattern);
    f->D = malloc(N * sizeof *f->D);
    f->Y = calloc(N, sizeof *f->Y);
    f->X = malloc(N * sizeof *f->X);
    if (!f->Lp || !f->Parent || !f->Lnz || !f->Flag || !f->Pattern || !f->D || !f->Y || !f->X) goto fail;
    for (int k = 0; k < n; k++) {
        f->Parent[k] = -1;
        f->Flag[k] = k;
        f->Lnz[k] = 0;
        for (int p = f->Ap[k]; p < f->Ap[k + 1]; p++) {
            int i = f->Ai[p];
            for (; i < k && f->Flag[i] != k; i = f->Parent[i]) {
                if (f->Parent[i] == -1) f->Parent[i] = k;
                f->Lnz[i]++;
                f->Flag[i] = k;
            }
        }
    }
    f->Lp[0] = 0;
    for (int k = 0; k < n; k++) f->Lp[k + 1] = f->Lp[k] + f->Lnz[k];
    f->Li = malloc(((size_t)f->Lp[n] + 1) * sizeof *f->Li);
    f->Lx = malloc(((size_t)f->Lp[n] + 1) * sizeof *f->Lx);
    if (!f->Li || !f->Lx) goto fail;
    /* Row patterns of L, once: the numeric sweep then needs no etree walks.
     * Ascending column order is a topological order of the etree. */
    f->Rp = malloc(N * sizeof *f->Rp);
    f->Ri = malloc(((size_t)f->Lp[n] + 1) * sizeof *f->Ri);
    f->Rpos = malloc(((size_t)f->Lp[n] + 1) * sizeof *f->Rpos);
    if (!f->Rp || !f->Ri || !f->Rpos) goto fail;
    memset(f->Lnz, 0, (size_t)n * sizeof *f->Lnz);
    int nr = 0;
    for (int k = 0; k < n; k++) {
        f->Rp[k] = nr;
        f->Flag[k] = k;
        int len = 0;
        for (int p = f->Ap[k]; p < f->Ap[k + 1]; p++)
            for (int i = f->Ai[p]; f->Flag[i] != k; i = f->Parent[i]) {
                f->Pattern[len++] = i;
                f->Flag[i] = k;
            }
        /* insertion sort: rows of L are short */
        for (int a = 1; a < len; a++) {
            int v = f->Pattern[a], b = a - 1;
            while (b >= 0 && f->Pattern[b] > v) { f->Pattern[b + 1] = f->Pattern[b]; b--; }
            f->Pattern[b + 1] = v;
        }
        for (int a = 0; a < len; a++) {
            int i = f->Pattern[a], pk = f->Lp[i] + f->Lnz[i]++;
            f->Li[pk] = k;
            f->Ri[nr] = i;
            f->Rpos[nr] = pk;
            nr++;
        }
    }
    f->Rp[n] = nr;
    free(cnt); free(ap); free(ai);
    return f;
fail:
    free(cnt); free(ap); free(ai);
    w_ldl_free(f);
    return NULL;
}

int w_ldl_factor_solve(w_ldl *f, const double *aii, const double *aij, double *b)
{
    int n = f->n;
    const int *Ap = f->Ap, *Ai = f->Ai, *Lp = f->Lp, *Li = f->Li, *Rp = f->Rp, *Ri = f->Ri, *Rpos = f->Rpos;
    const int *src = f->src;
    double *Lx = f->Lx, *D = f->D, *Y = f->Y;
    for (int k = 0; k < n; k++) {
        /* column k of the permuted upper triangle, gathered straight from
         * the link coefficients; its last entry is the diagonal */
        int pe = Ap[k + 1] - 1;
        for (int p = Ap[k]; p < pe; p++) Y[Ai[p]] += aij[src[p]];
        double dk = Y[k] + aii[-src[pe] - 1];
        Y[k] = 0.0;
        for (int r = Rp[k]; r < Rp[k + 1]; r++) {
            int i = Ri[r], pk = Rpos[r];
            double yi = Y[i];
            Y[i] = 0.0;
            for (int p = Lp[i]; p < pk; p++) Y[Li[p]] -= Lx[p] * yi;
            double lki = yi / D[i];
            dk -= lki * yi;
            Lx[pk] = lki;
        }
        if (!(dk > 0.0)) {
            /* leave Y clean for the next call */
            for (int j = 0; j < n; j++) Y[j] = 0.0;
            return f->P[k];
        }
        D[k] = dk;
    }
    double *x = f->X;
    for (int k = 0; k < n; k++) x[k] = b[f->P[k]];
    for (int j = 0; j < n; j++) {
        double xj = x[j];
        if (xj != 0.0)
            for (int p = Lp[j]; p < Lp[j + 1]; p++) x[Li[p]] -= Lx[p] * xj;
    }
    for (int j = 0; j < n; j++) x[j] /= D[j];
    for (int j = n - 1; j >= 0; j--) {
        double xj = x[j];
        for (int p = Lp[j]; p < Lp[j + 1]; p++) xj -= Lx[p] * x[Li[p]];
        x[j] = xj;
    }
    for (int k = 0; k < n; k++) b[f->P[k]] = x[k];
    return -1;
}
