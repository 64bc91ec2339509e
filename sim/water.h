/* water.h - the sim.water service: an EPANET .inp body through the water
 * kernel into an sk_result (tables "nodes" and "links", summary as meta). */
#ifndef SK_SIM_WATER_H
#define SK_SIM_WATER_H

#include "sk_sim.h"

int sk_sim_water_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

#endif
