/* water_ldl.h - sparse LDL' factorisation of the junction head system (internal).
 *
 * The pattern (junction-junction links) is fixed per network: AMD orders it
 * and the elimination tree and column counts are computed once
 * (w_ldl_new); every GGA iteration then only refactors numerically and
 * solves (w_ldl_factor_solve). */
#ifndef WATER_LDL_H
#define WATER_LDL_H

typedef struct w_ldl w_ldl;

/* n unknowns; ncoef off-diagonal coefficients, coefficient c joins rows
 * ci[c] and cj[c] (ci != cj; parallel links share one coefficient). */
w_ldl *w_ldl_new(int n, int ncoef, const int *ci, const int *cj);
void w_ldl_free(w_ldl *f);
/* Factor A (diag aii[n], off-diagonals aij[ncoef]) and solve A x = b in
 * place of b.  Returns -1 on success or the row whose pivot was not
 * positive (the system is singular there). */
int w_ldl_factor_solve(w_ldl *f, const double *aii, const double *aij, double *b);
/* Nonzeros in L (for the docs and the bench). */
long w_ldl_nnz(const w_ldl *f);

#endif
