/* fuzz_power_case.c - libFuzzer target for the MATPOWER case reader (and the
 * load-profile CSV reader on the same bytes) and, on
 * inputs that parse, the network build and a bounded AC and DC solve.  The
 * reader must never crash or leak whatever the bytes; the solver must fail
 * cleanly on nonsense numbers (zero impedance, NaN-producing voltages). */
#include <stddef.h>
#include <stdint.h>

#include "sk_power.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_power_case *c = NULL;
    sk_power_error err = {0, {0}};
    /* The same bytes as a load profile (CSV): the other text reader. */
    sk_power_profile *prof = NULL;
    if (sk_power_profile_parse((const char *)data, size, "fuzz.csv", &prof, &err) == 0)
        sk_power_profile_free(prof);
    if (sk_power_case_parse((const char *)data, size, "fuzz.m", &c, &err) != 0)
        return 0;
    /* Keep each run short: only small networks go on to the solver. */
    if (c->nbus <= 200 && c->nbranch <= 400) {
        sk_power_net *net = sk_power_net_new(c, &err);
        if (net) {
            for (int dc = 0; dc < 2; dc++) {
                sk_power_options o;
                sk_power_options_default(&o);
                o.max_iter = 6;
                o.dc = dc;
                o.enforce_q_limits = !dc;
                o.max_q_rounds = 3;
                sk_power_solver *s = sk_power_solver_new(net, &o, &err);
                sk_power_solution *sol = sk_power_solution_new(c, &o);
                if (s && sol)
                    (void)sk_power_solve(s, NULL, NULL, sol, &err);
                sk_power_solution_free(sol);
                sk_power_solver_free(s);
            }
            sk_power_net_free(net);
        }
    }
    sk_power_case_free(c);
    return 0;
}
