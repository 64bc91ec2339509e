/* sk_sim.c - the registry of built-in services and the job-context helpers
 * they share.  Kernel services are compiled in when their kernel is part of
 * the build (SK_HAVE_WATER, ...); the diagnostic services always are. */
#include "sk_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"
#ifdef SK_HAVE_WATER
#include "water.h"
#endif
#ifdef SK_HAVE_POWER
#include "power.h"
#endif
#ifdef SK_HAVE_TRAFFIC
#include "traffic.h"
#endif

const sk_input *sk_job_input(const sk_job_ctx *ctx, const char *name)
{
    if (name != NULL)
        for (size_t i = 0; i < ctx->ninputs; i++)
            if (ctx->inputs[i].name != NULL && strcmp(ctx->inputs[i].name, name) == 0)
                return &ctx->inputs[i];
    if (ctx->ninputs == 1 && (name == NULL || ctx->inputs[0].name == NULL || ctx->inputs[0].name[0] == '\0'))
        return &ctx->inputs[0];
    return NULL;
}

int sk_job_cancelled(const sk_job_ctx *ctx)
{
    return ctx->cancel != NULL && atomic_load_explicit(ctx->cancel, memory_order_relaxed) != 0;
}

void sk_job_progress(const sk_job_ctx *ctx, double fraction, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (ctx->progress == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->progress(ctx->progress_ud, fraction, msg);
}

static const sk_service_def diag_echo = {"diag.echo", "returns its params (diagnostic)", sk_diag_echo};
static const sk_service_def diag_sleep = {"diag.sleep", "sleeps `ms` milliseconds with progress (diagnostic)",
                                          sk_diag_sleep};
#ifdef SK_HAVE_WATER
static const sk_service_def sim_water = {"sim.water", "EPANET-compatible hydraulics on an .inp network",
                                         sk_sim_water_run};
#endif
#ifdef SK_HAVE_POWER
static const sk_service_def sim_power = {"sim.power", "AC/DC power flow on a MATPOWER case", sk_sim_power_run};
#endif
#ifdef SK_HAVE_TRAFFIC
static const sk_service_def sim_traffic = {"sim.traffic", "user-equilibrium assignment on TNTP networks",
                                           sk_sim_traffic_run};
#endif

const sk_service_def *const sk_sim_services[] = {
    &diag_echo,
    &diag_sleep,
#ifdef SK_HAVE_WATER
    &sim_water,
#endif
#ifdef SK_HAVE_POWER
    &sim_power,
#endif
#ifdef SK_HAVE_TRAFFIC
    &sim_traffic,
#endif
    NULL,
};

const sk_service_def *sk_sim_find(const char *name)
{
    for (const sk_service_def *const *s = sk_sim_services; *s != NULL; s++)
        if (strcmp((*s)->name, name) == 0)
            return *s;
    return NULL;
}
