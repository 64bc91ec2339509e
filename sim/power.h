/* power.h - the sim.power service (MATPOWER case -> bus/branch/gen tables). */
#ifndef SK_SIM_POWER_H
#define SK_SIM_POWER_H

#include "sk_sim.h"

int sk_sim_power_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

#endif
