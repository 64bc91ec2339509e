/* tr_test.h - tiny helpers shared by the traffic tests: checks that count
 * failures, file loading, and an independent Dijkstra (lazy binary heap, a
 * different method from the kernel's indexed heap) for gap recomputation. */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_traffic.h"

static int tr_failures;
#define CHECK(cond, ...) do { if (!(cond)) { tr_failures++; fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static char *tt_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        *len = (size_t)n;
    return b;
}

typedef struct { double d; int v; } tt_item;

/* SPTT at link costs `cost`, first-thru-node rule applied. */
__attribute__((unused)) static double tt_sptt(const sk_traffic_net *n, const sk_traffic_trips *t, const double *cost)
{
    int nn = n->nnodes, m = n->nlinks;
    double *dist = malloc(sizeof(double) * (size_t)nn);
    tt_item *heap = malloc(sizeof(tt_item) * (size_t)(m + 2));
    int *first = malloc(sizeof(int) * (size_t)nn), *next = malloc(sizeof(int) * (size_t)m);
    for (int i = 0; i < nn; i++)
        first[i] = -1;
    for (int a = m - 1; a >= 0; a--) {   /* linked adjacency lists */
        next[a] = first[n->from[a] - 1];
        first[n->from[a] - 1] = a;
    }
    double total = 0;
    int last = -1;
    for (size_t k = 0; k < t->nod; k++) {
        int o = t->orig[k];
        if (o != last) {
            last = o;
            for (int i = 0; i < nn; i++)
                dist[i] = INFINITY;
            int hs = 0;
            dist[o - 1] = 0;
            heap[hs++] = (tt_item){0, o - 1};
            while (hs > 0) {
                tt_item top = heap[0];
                heap[0] = heap[--hs];
                for (int i = 0;;) {   /* sift down */
                    int c = 2 * i + 1;
                    if (c >= hs) break;
                    if (c + 1 < hs && heap[c + 1].d < heap[c].d) c++;
                    if (heap[c].d >= heap[i].d) break;
                    tt_item x = heap[i]; heap[i] = heap[c]; heap[c] = x; i = c;
                }
                if (top.d > dist[top.v])
                    continue;
                if (top.v + 1 < n->first_thru && top.v != o - 1)
                    continue;
                for (int a = first[top.v]; a >= 0; a = next[a]) {
                    int w = n->to[a] - 1;
                    double nd = top.d + cost[a];
                    if (nd < dist[w]) {
                        dist[w] = nd;
                        int i = hs++;
                        heap[i] = (tt_item){nd, w};
                        while (i > 0 && heap[(i - 1) / 2].d > heap[i].d) {
                            tt_item x = heap[i]; heap[i] = heap[(i - 1) / 2]; heap[(i - 1) / 2] = x;
                            i = (i - 1) / 2;
                        }
                    }
                }
            }
        }
        total += t->demand[k] * dist[t->dest[k] - 1];
    }
    free(dist);
    free(heap);
    free(first);
    free(next);
    return total;
}

#endif
