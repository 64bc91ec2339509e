/* diag.h - diagnostic services that exercise the bus without a kernel. */
#ifndef SK_SIM_DIAG_H
#define SK_SIM_DIAG_H

#include "sk_sim.h"

/* diag.echo: a result whose table "params" lists the job's params and whose
 * table "inputs" lists each input's name and size. */
int sk_diag_echo(const sk_job_ctx *ctx, sk_result **out, sk_error *err);
/* diag.sleep: sleeps param ms (default 100) in small steps, reporting
 * progress and honouring cancellation; param fail=true makes it fail. */
int sk_diag_sleep(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

/* diag.digest: a table "inputs" with each input's name, size and SHA-256
 * ("sha256:<hex>"), so a test can prove which bytes a node's job saw. */
int sk_diag_digest(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

#endif
