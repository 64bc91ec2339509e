/* tr_graph.c - compact forward/backward star graph, BPR cost tables and
 * Dijkstra (binary heap with a position index) with the first-thru-node
 * rule: a zone other than the origin is reached but never expanded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

int tr_costfn_init(tr_costfn *c, const sk_traffic_net *n, double tf, double df)
{
    int32_t m = n->nlinks;
    memset(c, 0, sizeof *c);
    c->m = m;
    c->fft = malloc((size_t)m * sizeof(double));
    c->b = malloc((size_t)m * sizeof(double));
    c->capinv = malloc((size_t)m * sizeof(double));
    c->power = malloc((size_t)m * sizeof(double));
    c->fixed = malloc((size_t)m * sizeof(double));
    c->ipow = malloc((size_t)m);
    if (!c->fft || !c->b || !c->capinv || !c->power || !c->fixed || !c->ipow) {
        tr_costfn_free(c);
        return SK_ENOMEM;
    }
    for (int32_t a = 0; a < m; a++) {
        double p = n->power[a];
        c->fft[a] = n->fft[a];
        c->power[a] = p;
        /* b*(x/cap)^0 is b whatever x: fold power 0 into a constant. */
        c->b[a] = n->b[a];
        c->capinv[a] = n->capacity[a] > 0 ? 1.0 / n->capacity[a] : 0.0;
        c->ipow[a] = (p == floor(p) && p >= 0 && p <= 8) ? (int8_t)p : -1;
        c->fixed[a] = tf * n->toll[a] + df * n->length[a];
    }
    return 0;
}

void tr_costfn_free(tr_costfn *c)
{
    free(c->fft); free(c->b); free(c->capinv); free(c->power); free(c->fixed); free(c->ipow);
    memset(c, 0, sizeof *c);
}

int tr_graph_init(tr_graph *g, const sk_traffic_net *net)
{
    int32_t n = net->nnodes, m = net->nlinks;
    memset(g, 0, sizeof *g);
    g->n = n;
    g->m = m;
    g->nzones = net->nzones;
    g->ftn0 = net->first_thru - 1;
    g->from = malloc((size_t)m * sizeof(int32_t));
    g->to = malloc((size_t)m * sizeof(int32_t));
    g->out_start = calloc((size_t)n + 1, sizeof(int32_t));
    g->in_start = calloc((size_t)n + 1, sizeof(int32_t));
    g->out_link = malloc((size_t)m * sizeof(int32_t));
    g->in_link = malloc((size_t)m * sizeof(int32_t));
    if (!g->from || !g->to || !g->out_start || !g->in_start || !g->out_link || !g->in_link) {
        tr_graph_free(g);
        return SK_ENOMEM;
    }
    for (int32_t a = 0; a < m; a++) {
        g->from[a] = net->from[a] - 1;
        g->to[a] = net->to[a] - 1;
        g->out_start[g->from[a] + 1]++;
        g->in_start[g->to[a] + 1]++;
    }
    for (int32_t i = 0; i < n; i++) {
        g->out_start[i + 1] += g->out_start[i];
        g->in_start[i + 1] += g->in_start[i];
    }
    /* Stable fill keeps file order within a node: deterministic ties. */
    int32_t *fo = malloc((size_t)n * sizeof(int32_t)), *fi = malloc((size_t)n * sizeof(int32_t));
    if (!fo || !fi) {
        free(fo);
        free(fi);
        tr_graph_free(g);
        return SK_ENOMEM;
    }
    memcpy(fo, g->out_start, (size_t)n * sizeof(int32_t));
    memcpy(fi, g->in_start, (size_t)n * sizeof(int32_t));
    for (int32_t a = 0; a < m; a++) {
        g->out_link[fo[g->from[a]]++] = a;
        g->in_link[fi[g->to[a]]++] = a;
    }
    free(fo);
    free(fi);
    return 0;
}

void tr_graph_free(tr_graph *g)
{
    free(g->from); free(g->to); free(g->out_start); free(g->out_link);
    free(g->in_start); free(g->in_link);
    memset(g, 0, sizeof *g);
}

int tr_sp_init(tr_sp *sp, int32_t n)
{
    memset(sp, 0, sizeof *sp);
    sp->n = n;
    sp->dist = malloc((size_t)n * sizeof(double));
    sp->pred = malloc((size_t)n * sizeof(int32_t));
    sp->order = malloc((size_t)n * sizeof(int32_t));
    sp->heap = malloc((size_t)n * sizeof(int32_t));
    sp->pos = malloc((size_t)n * sizeof(int32_t));
    sp->mark = calloc((size_t)n ? (size_t)n : 1, 1);
    if (!sp->dist || !sp->pred || !sp->order || !sp->heap || !sp->pos || !sp->mark) {
        tr_sp_free(sp);
        return SK_ENOMEM;
    }
    return 0;
}

void tr_sp_free(tr_sp *sp)
{
    free(sp->dist); free(sp->pred); free(sp->order); free(sp->heap); free(sp->pos); free(sp->mark);
    memset(sp, 0, sizeof *sp);
}

/* pos[v]: -1 never queued, -2 settled, else index in heap. */
static inline void heap_up(int32_t *heap, int32_t *pos, const double *key, int32_t i)
{
    int32_t v = heap[i];
    double kv = key[v];
    while (i > 0) {
        int32_t p = (i - 1) >> 1;
        int32_t u = heap[p];
        if (key[u] <= kv)
            break;
        heap[i] = u;
        pos[u] = i;
        i = p;
    }
    heap[i] = v;
    pos[v] = i;
}

static inline void heap_down(int32_t *heap, int32_t *pos, const double *key, int32_t size, int32_t i)
{
    int32_t v = heap[i];
    double kv = key[v];
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= size)
            break;
        if (c + 1 < size && key[heap[c + 1]] < key[heap[c]])
            c++;
        if (key[heap[c]] >= kv)
            break;
        heap[i] = heap[c];
        pos[heap[i]] = i;
        i = c;
    }
    heap[i] = v;
    pos[v] = i;
}

void tr_sp_run(tr_sp *sp, const tr_graph *g, const double *cost, int32_t origin)
{
    tr_sp_run_to(sp, g, cost, origin, -1);
}

void tr_sp_run_to(tr_sp *sp, const tr_graph *g, const double *cost, int32_t origin, int32_t ntarget)
{
    int32_t n = g->n, size = 0;
    double *dist = sp->dist;
    int32_t *pred = sp->pred, *heap = sp->heap, *pos = sp->pos;
    for (int32_t i = 0; i < n; i++) {
        dist[i] = INFINITY;
        pred[i] = -1;
        pos[i] = -1;
    }
    sp->nsettled = 0;
    dist[origin] = 0;
    heap[size++] = origin;
    pos[origin] = 0;
    while (size > 0) {
        int32_t u = heap[0];
        pos[u] = -2;
        size--;
        if (size > 0) {
            heap[0] = heap[size];
            pos[heap[0]] = 0;
            heap_down(heap, pos, dist, size, 0);
        }
        sp->order[sp->nsettled++] = u;
        if (ntarget >= 0 && sp->mark[u] && --ntarget == 0)
            break;
        if (u < g->ftn0 && u != origin)
            continue;   /* zones are destinations, not through nodes */
        double du = dist[u];
        for (int32_t k = g->out_start[u], ke = g->out_start[u + 1]; k < ke; k++) {
            int32_t a = g->out_link[k];
            int32_t v = g->to[a];
            double nd = du + cost[a];
            if (nd < dist[v]) {
                if (pos[v] == -2)
                    continue;   /* only with negative costs, which cannot occur */
                dist[v] = nd;
                pred[v] = a;
                if (pos[v] == -1) {
                    heap[size] = v;
                    pos[v] = size;
                    size++;
                }
                heap_up(heap, pos, dist, pos[v]);
            }
        }
    }
}
