/* sk_sim.c - the registry of built-in services and the job-context helpers
 * they share.  Kernel services are compiled in when their kernel is part of
 * the build (SK_HAVE_WATER, ...); the diagnostic services always are. */
#include "sk_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "diag.h"
#include "sk_hash.h"
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

void sk_inputs_hash(const sk_input *inputs, size_t n, char *buf, size_t len)
{
    sk_sha256_state st;
    unsigned char digest[32];
    sk_sha256_init(&st);
    for (size_t i = 0; i < n; i++) {
        const char *name = inputs[i].name ? inputs[i].name : "";
        unsigned char lenbuf[8];
        uint64_t l = inputs[i].len;
        for (int k = 0; k < 8; k++)
            lenbuf[k] = (unsigned char)(l >> (8 * k));
        sk_sha256_update(&st, (const unsigned char *)name, strlen(name) + 1);
        sk_sha256_update(&st, lenbuf, sizeof lenbuf);
        sk_sha256_update(&st, (const unsigned char *)inputs[i].data, inputs[i].len);
    }
    sk_sha256_final(&st, digest);
    if (len < SK_HASH_NAME_LEN) {
        if (len > 0)
            buf[0] = '\0';
        return;
    }
    sk_sha256_format(digest, buf);
}

int sk_sim_run(const sk_service_def *svc, const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    *out = NULL;
    sk_job_ctx local = *ctx;
    local.service_data = svc->data;
    ctx = &local;
    int rc = svc->run(ctx, out, err);
    if (rc < 0) {
        sk_result_free(*out);
        *out = NULL;
        return rc;
    }
    if (*out == NULL)
        return sk_fail(err, SK_EINVAL, "service %s returned no result", svc->name);
    sk_result *r = *out;
    if (r->input_hash == NULL || r->input_hash[0] == '\0') {
        char hash[80];
        sk_inputs_hash(ctx->inputs, ctx->ninputs, hash, sizeof hash);
        if (sk_result_set_input_hash(r, hash) < 0)
            goto oom;
    }
    if (sk_result_meta_str(r, "service", svc->name) < 0)
        goto oom;
    for (size_t i = 0; ctx->params != NULL && i < ctx->params->n; i++) {
        const sk_param *p = &ctx->params->items[i];
        char key[160];
        int mrc = 0;
        snprintf(key, sizeof key, "param.%s", p->key);
        switch (p->type) {
        case SK_PARAM_STR: mrc = sk_result_meta_str(r, key, p->s); break;
        case SK_PARAM_INT: mrc = sk_result_meta_int(r, key, p->i); break;
        case SK_PARAM_F64: mrc = sk_result_meta_f64(r, key, p->d); break;
        case SK_PARAM_BOOL: mrc = sk_result_meta_bool(r, key, p->i != 0); break;
        }
        if (mrc < 0)
            goto oom;
    }
    return 0;
oom:
    sk_result_free(r);
    *out = NULL;
    return sk_fail(err, SK_ENOMEM, "out of memory");
}

static const sk_service_def diag_echo = {"diag.echo", "returns its params (diagnostic)", sk_diag_echo, NULL, NULL};
static const sk_service_def diag_digest = {"diag.digest", "returns the size and SHA-256 of each input (diagnostic)",
                                           sk_diag_digest, NULL, NULL};
static const sk_service_def diag_sleep = {"diag.sleep", "sleeps `ms` milliseconds with progress (diagnostic)",
                                          sk_diag_sleep, NULL, NULL};
#ifdef SK_HAVE_WATER
static const sk_service_def sim_water = {"sim.water", "EPANET-compatible hydraulics on an .inp network",
                                         sk_sim_water_run, NULL, NULL};
#endif
#ifdef SK_HAVE_POWER
static const sk_service_def sim_power = {"sim.power", "AC/DC power flow on a MATPOWER case", sk_sim_power_run, NULL, NULL};
#endif
#ifdef SK_HAVE_TRAFFIC
static const sk_service_def sim_traffic = {"sim.traffic", "user-equilibrium assignment on TNTP networks",
                                           sk_sim_traffic_run, NULL, NULL};
#endif

const sk_service_def *const sk_sim_services[] = {
    &diag_echo,
    &diag_sleep,
    &diag_digest,
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
