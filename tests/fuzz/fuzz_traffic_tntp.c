/* fuzz_traffic_tntp.c - libFuzzer target for the TNTP readers.  The first
 * byte picks the reader (net, trips, nodes); a net that parses is also
 * given a tiny trips file and a few solver iterations. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sk_traffic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sk_error err = SK_ERROR_INIT;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: {
        sk_traffic_net *net = sk_traffic_net_read(p, n, "fuzz_net", &err);
        if (net && net->nnodes <= 2000 && net->nlinks <= 5000 && net->nzones >= 2) {
            const char *tr = "<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 2 : 10;\nOrigin 2\n 1 : 3;\n";
            sk_traffic_trips *t = sk_traffic_trips_read(tr, strlen(tr), "fuzz_trips", &err);
            sk_traffic_options o;
            sk_traffic_options_init(&o);
            o.max_iters = 3;
            sk_traffic_solver *s = t ? sk_traffic_solver_new(net, t, &o, &err) : NULL;
            if (s)
                sk_traffic_solver_run(s, &err);
            sk_traffic_solver_free(s);
            sk_traffic_trips_free(t);
        }
        sk_traffic_net_free(net);
        break;
    }
    case 1:
        sk_traffic_trips_free(sk_traffic_trips_read(p, n, "fuzz_trips", &err));
        break;
    default:
        sk_traffic_nodes_free(sk_traffic_nodes_read(p, n, "fuzz_nodes", 0, &err));
        break;
    }
    return 0;
}
