/* traffic.h - the sim.traffic service: TNTP net + trips through the traffic
 * kernel (user-equilibrium assignment) into an sk_result. */
#ifndef SK_SIM_TRAFFIC_H
#define SK_SIM_TRAFFIC_H

#include "sk_sim.h"

int sk_sim_traffic_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

#endif
