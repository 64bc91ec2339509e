/* ybus.c - the network stage: bus admittance matrix and islands.
 *
 * Ybus follows MATPOWER's makeYbus exactly: series admittance 1/(r+jx),
 * half the line charging b at each end, the complex ratio t = tap*e^(j*shift)
 * on the from side (tap 0 read as 1), bus shunts (Gs + jBs)/baseMVA.
 * Branches out of service or touching an isolated (type 4) bus are left out.
 * The matrix is assembled column-compressed from triplets; duplicates (parallel
 * branches) are summed but every structural entry is kept, including those
 * whose value cancels, so the Jacobian pattern derived from it never changes
 * with the numbers. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "power_internal.h"

void sk_power_net_free(sk_power_net *n)
{
    if (!n)
        return;
    free(n->yp); free(n->yi); free(n->yre); free(n->yim);
    free(n->yff_re); free(n->yff_im); free(n->yft_re); free(n->yft_im);
    free(n->ytf_re); free(n->ytf_im); free(n->ytt_re); free(n->ytt_im);
    free(n->br_on); free(n->island);
    free(n);
}

static size_t uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

sk_power_net *sk_power_net_new(const sk_power_case *c, sk_power_error *err)
{
    size_t nb = c->nbus, nl = c->nbranch;
    sk_power_net *n = calloc(1, sizeof *n);
    if (!n) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory");
        return NULL;
    }
    n->c = c;
    n->nbus = nb;
    size_t L = nl ? nl : 1;
    n->yff_re = calloc(L, sizeof(double)); n->yff_im = calloc(L, sizeof(double));
    n->yft_re = calloc(L, sizeof(double)); n->yft_im = calloc(L, sizeof(double));
    n->ytf_re = calloc(L, sizeof(double)); n->ytf_im = calloc(L, sizeof(double));
    n->ytt_re = calloc(L, sizeof(double)); n->ytt_im = calloc(L, sizeof(double));
    n->br_on = calloc(L, 1);
    n->island = calloc(nb, sizeof(int));
    n->yp = calloc(nb + 1, sizeof(size_t));
    size_t maxnz = nb + 4 * nl;
    size_t *ti = malloc(maxnz * sizeof *ti), *tj = malloc(maxnz * sizeof *tj);
    double complex *tv = malloc(maxnz * sizeof *tv);
    size_t *parent = malloc(nb * sizeof *parent);
    size_t *cnt = calloc(nb + 1, sizeof *cnt), *ord = malloc(maxnz * sizeof *ord);
    if (!n->yff_re || !n->yff_im || !n->yft_re || !n->yft_im || !n->ytf_re || !n->ytf_im ||
        !n->ytt_re || !n->ytt_im || !n->br_on || !n->island || !n->yp || !ti || !tj || !tv ||
        !parent || !cnt || !ord) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory building Ybus");
        goto fail;
    }

    size_t nt = 0;
    for (size_t i = 0; i < nb; i++) {
        ti[nt] = tj[nt] = i;
        tv[nt++] = (c->gs[i] + I * c->bs[i]) / c->base_mva;
        parent[i] = i;
    }
    for (size_t l = 0; l < nl; l++) {
        size_t f = c->f_idx[l], t = c->t_idx[l];
        if (!c->br_status[l] || c->bus_type[f] == SK_POWER_NONE || c->bus_type[t] == SK_POWER_NONE)
            continue;
        double complex z = c->br_r[l] + I * c->br_x[l];
        if (c->br_r[l] == 0 && c->br_x[l] == 0) {
            pw_fail(err, SK_POWER_EINVAL, "%s:%d: branch %zu (%lld-%lld): zero impedance (r = x = 0)",
                    c->filename, c->br_line[l], l + 1, (long long)c->f_bus[l], (long long)c->t_bus[l]);
            goto fail;
        }
        double ratio = c->tap[l] != 0 ? c->tap[l] : 1.0;
        double ang = c->shift[l] * PW_PI / 180.0;
        double complex tap = ratio * (cos(ang) + I * sin(ang));
        double complex ys = 1.0 / z;
        double complex ytt = ys + I * (c->br_b[l] / 2);
        double complex yff = ytt / (tap * conj(tap));
        double complex yft = -ys / conj(tap);
        double complex ytf = -ys / tap;
        if (!isfinite(creal(yff)) || !isfinite(cimag(yff)) || !isfinite(creal(ys)) || !isfinite(cimag(ys))) {
            pw_fail(err, SK_POWER_EINVAL, "%s:%d: branch %zu: admittance is not finite",
                    c->filename, c->br_line[l], l + 1);
            goto fail;
        }
        n->br_on[l] = 1;
        n->yff_re[l] = creal(yff); n->yff_im[l] = cimag(yff);
        n->yft_re[l] = creal(yft); n->yft_im[l] = cimag(yft);
        n->ytf_re[l] = creal(ytf); n->ytf_im[l] = cimag(ytf);
        n->ytt_re[l] = creal(ytt); n->ytt_im[l] = cimag(ytt);
        ti[nt] = f; tj[nt] = f; tv[nt++] = yff;
        ti[nt] = f; tj[nt] = t; tv[nt++] = yft;
        ti[nt] = t; tj[nt] = f; tv[nt++] = ytf;
        ti[nt] = t; tj[nt] = t; tv[nt++] = ytt;
        size_t a = uf_find(parent, f), b = uf_find(parent, t);
        if (a != b)
            parent[a] = b;
    }

    /* Bucket triplets by column, then insertion-sort each column by row and
     * merge duplicates (columns are short: degree + 1). */
    for (size_t k = 0; k < nt; k++)
        cnt[tj[k] + 1]++;
    for (size_t j = 0; j < nb; j++)
        cnt[j + 1] += cnt[j];
    size_t *pos = malloc((nb + 1) * sizeof *pos);
    if (!pos) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory building Ybus");
        goto fail;
    }
    memcpy(pos, cnt, (nb + 1) * sizeof *pos);
    for (size_t k = 0; k < nt; k++)
        ord[pos[tj[k]]++] = k;
    free(pos);
    n->yi = malloc((nt ? nt : 1) * sizeof *n->yi);
    n->yre = malloc((nt ? nt : 1) * sizeof *n->yre);
    n->yim = malloc((nt ? nt : 1) * sizeof *n->yim);
    if (!n->yi || !n->yre || !n->yim) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory building Ybus");
        goto fail;
    }
    size_t nz = 0;
    for (size_t j = 0; j < nb; j++) {
        size_t a = cnt[j], b = cnt[j + 1];
        for (size_t p = a + 1; p < b; p++) {
            size_t key = ord[p], q = p;
            while (q > a && ti[ord[q - 1]] > ti[key]) {
                ord[q] = ord[q - 1];
                q--;
            }
            ord[q] = key;
        }
        n->yp[j] = nz;
        for (size_t p = a; p < b; p++) {
            size_t k = ord[p];
            if (nz > n->yp[j] && n->yi[nz - 1] == ti[k]) {
                n->yre[nz - 1] += creal(tv[k]);
                n->yim[nz - 1] += cimag(tv[k]);
            } else {
                n->yi[nz] = ti[k];
                n->yre[nz] = creal(tv[k]);
                n->yim[nz] = cimag(tv[k]);
                nz++;
            }
        }
    }
    n->yp[nb] = nz;
    n->nnz = nz;

    /* Islands: number the union-find roots in bus order. */
    for (size_t i = 0; i < nb; i++)
        n->island[i] = -1;
    int *root_id = malloc(nb * sizeof *root_id);
    if (!root_id) {
        pw_fail(err, SK_POWER_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nb; i++)
        root_id[i] = -1;
    int nis = 0;
    for (size_t i = 0; i < nb; i++) {
        if (c->bus_type[i] == SK_POWER_NONE)
            continue;
        size_t r = uf_find(parent, i);
        if (root_id[r] < 0)
            root_id[r] = nis++;
        n->island[i] = root_id[r];
    }
    n->nislands = nis;
    free(root_id);
    free(ti); free(tj); free(tv); free(parent); free(cnt); free(ord);
    return n;

fail:
    free(ti); free(tj); free(tv); free(parent); free(cnt); free(ord);
    sk_power_net_free(n);
    return NULL;
}
