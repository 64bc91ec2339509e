/* fuzz_graph.c - the job-graph decoder (bus/sk_graph.c): whatever the
 * bytes, no crash, no leak, and a graph that decodes re-encodes and
 * decodes again to the same number of jobs. */
#include <stdint.h>
#include <stdlib.h>

#include "sk_graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_header *nodes = NULL;
    size_t n = 0;
    sk_error err = SK_ERROR_INIT;
    if (sk_graph_decode(data, size, &nodes, &n, &err) == 0) {
        char *buf = NULL;
        size_t len = 0;
        sk_header *again = NULL;
        size_t m = 0;
        if (sk_graph_encode(nodes, n, &buf, &len, &err) != 0 || sk_graph_decode(buf, len, &again, &m, &err) != 0 ||
            m != n)
            __builtin_trap();
        sk_graph_free(again, m);
        free(buf);
        sk_graph_free(nodes, n);
    }
    return 0;
}
