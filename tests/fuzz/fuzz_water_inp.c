/* fuzz_water_inp.c - libFuzzer target: any bytes through the .inp parser and,
 * when they parse, one short hydraulic solve.  Must never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "sk_water.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_water_net *net = NULL;
    sk_water_error err;
    if (sk_water_parse((const char *)data, size, "fuzz.inp", &net, &err) != 0) return 0;
    /* keep each run short: a few trials only */
    sk_water_set_accuracy(net, 0.01, 20);
    if (sk_water_nnodes(net) <= 2000) {
        sk_water_sim *sim = NULL;
        if (sk_water_sim_new(net, &sim, &err) == 0) {
            sk_water_run_opts o = {.first_only = 1};
            (void)sk_water_run(sim, &o, &err);
            sk_water_sim_free(sim);
        }
    }
    sk_water_net_free(net);
    return 0;
}
