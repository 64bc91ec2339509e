/* diag.c - the diagnostic services diag.echo, diag.sleep and diag.digest. */
#include "diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_hash.h"
#include "sk_num.h"

#define DIAG_VERSION "1.0.0"
/* diag.echo's `pad`: at most 1 GiB, enough to exercise results of any
 * size the bus carries by reference, bounded so a typo cannot eat a node. */
#define DIAG_PAD_MAX ((int64_t)1 << 30)

/* A table "pad" of about `bytes` bytes: row numbers and pseudo-random
 * 64-bit values (16 bytes a row, incompressible), for tests and
 * measurements of large results. */
static int add_pad(sk_result *r, int64_t bytes)
{
    size_t rows = (size_t)((bytes + 15) / 16);
    sk_table *t = sk_result_add_table(r, "pad", "row", "row", rows);
    int64_t *ids = calloc(rows ? rows : 1, sizeof *ids);
    int64_t *vals = t != NULL ? sk_table_add_i64(t, "value", "") : NULL;
    int rc = t == NULL || ids == NULL || vals == NULL ? SK_ENOMEM : 0;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (int64_t)i;
        vals[i] = (int64_t)(x ^ (x >> 29));
    }
    if (rc == 0)
        rc = sk_table_set_ids_int(t, ids);
    free(ids);
    return rc < 0 ? rc : sk_result_meta_int(r, "pad_bytes", bytes);
}

int sk_diag_echo(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    int64_t pad;
    if (sk_params_get_int(ctx->params, "pad", 0, 0, DIAG_PAD_MAX, &pad, err) < 0)
        return err ? err->code : SK_EINVAL;
    sk_result *r = sk_result_new("diag.echo", DIAG_VERSION);
    size_t np = ctx->params != NULL ? ctx->params->n : 0;
    if (r == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    sk_table *t = sk_result_add_table(r, "params", "param", "key", np);
    const char **keys = calloc(np + 1, sizeof *keys);
    char **vals = calloc(np + 1, sizeof *vals);
    int rc = (t == NULL || keys == NULL || vals == NULL) ? SK_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < np; i++) {
        const sk_param *p = &ctx->params->items[i];
        char tmp[64];
        keys[i] = p->key;
        switch (p->type) {
        case SK_PARAM_STR: vals[i] = strdup(p->s); break;
        case SK_PARAM_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)p->i); vals[i] = strdup(tmp); break;
        case SK_PARAM_F64: sk_fmt_f64(tmp, sizeof tmp, p->d); vals[i] = strdup(tmp); break;
        case SK_PARAM_BOOL: vals[i] = strdup(p->i ? "true" : "false"); break;
        }
        if (vals[i] == NULL)
            rc = SK_ENOMEM;
    }
    if (rc == 0)
        rc = sk_table_set_ids_str(t, keys);
    if (rc == 0)
        rc = sk_table_add_str(t, "value", false, (const char *const *)vals);
    sk_table *in = rc == 0 ? sk_result_add_table(r, "inputs", "input", "name", ctx->ninputs) : NULL;
    if (rc == 0 && in == NULL)
        rc = SK_ENOMEM;
    if (rc == 0) {
        const char **names = calloc(ctx->ninputs + 1, sizeof *names);
        int64_t *bytes = sk_table_add_i64(in, "bytes", "B");
        if (names == NULL || bytes == NULL) {
            rc = SK_ENOMEM;
        } else {
            for (size_t i = 0; i < ctx->ninputs; i++) {
                names[i] = ctx->inputs[i].name;
                bytes[i] = (int64_t)ctx->inputs[i].len;
            }
            rc = sk_table_set_ids_str(in, names);
        }
        free(names);
    }
    for (size_t i = 0; i < np; i++)
        free(vals[i]);
    free(vals);
    free(keys);
    if (rc == 0 && pad > 0)
        rc = add_pad(r, pad);
    if (rc < 0) {
        sk_result_free(r);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    r->converged = true;
    *out = r;
    return 0;
}

/* Sleep ms in small steps, reporting progress and giving up on cancel. */
static int sleep_ms(const sk_job_ctx *ctx, int64_t ms, sk_error *err)
{
    const int64_t step = 10;
    for (int64_t done = 0; done < ms; done += step) {
        if (sk_job_cancelled(ctx))
            return sk_fail(err, SK_ECANCELED, "cancelled after %lld of %lld ms", (long long)done,
                           (long long)ms);
        int64_t chunk = ms - done < step ? ms - done : step;
        struct timespec ts = {(time_t)(chunk / 1000), (long)(chunk % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        sk_job_progress(ctx, (double)(done + chunk) / (double)ms, "slept %lld of %lld ms",
                        (long long)(done + chunk), (long long)ms);
    }
    return 0;
}

int sk_diag_sleep(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    int64_t ms;
    bool fail;
    if (sk_params_get_int(ctx->params, "ms", 100, 0, 24LL * 3600 * 1000, &ms, err) < 0 ||
        sk_params_get_bool(ctx->params, "fail", false, &fail, err) < 0)
        return err ? err->code : SK_EINVAL;
    if (sleep_ms(ctx, ms, err) < 0)
        return err ? err->code : SK_ECANCELED;
    if (fail)
        return sk_fail(err, SK_EINVAL, "diag.sleep: failing as asked (param fail=true)");
    sk_result *r = sk_result_new("diag.sleep", DIAG_VERSION);
    if (r == NULL || sk_result_meta_int(r, "slept_ms", ms) < 0) {
        sk_result_free(r);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    r->converged = true;
    *out = r;
    return 0;
}

int sk_diag_digest(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    int64_t ms;
    if (sk_params_get_int(ctx->params, "ms", 0, 0, 24LL * 3600 * 1000, &ms, err) < 0)
        return err ? err->code : SK_EINVAL;
    if (sleep_ms(ctx, ms, err) < 0) /* tests: a digest still running when something breaks */
        return err ? err->code : SK_ECANCELED;
    sk_result *r = sk_result_new("diag.digest", DIAG_VERSION);
    sk_table *t = r != NULL ? sk_result_add_table(r, "inputs", "input", "name", ctx->ninputs) : NULL;
    const char **names = calloc(ctx->ninputs + 1, sizeof *names);
    char (*hashes)[SK_HASH_NAME_LEN] = calloc(ctx->ninputs + 1, SK_HASH_NAME_LEN);
    const char **hp = calloc(ctx->ninputs + 1, sizeof *hp);
    int64_t *bytes = t != NULL ? sk_table_add_i64(t, "bytes", "B") : NULL;
    int rc = t == NULL || names == NULL || hashes == NULL || hp == NULL || bytes == NULL ? SK_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < ctx->ninputs; i++) {
        names[i] = ctx->inputs[i].name;
        bytes[i] = (int64_t)ctx->inputs[i].len;
        sk_sha256_name(ctx->inputs[i].data, ctx->inputs[i].len, hashes[i]);
        hp[i] = hashes[i];
    }
    if (rc == 0)
        rc = sk_table_set_ids_str(t, names);
    if (rc == 0)
        rc = sk_table_add_str(t, "sha256", false, hp);
    free(names);
    free(hashes);
    free(hp);
    if (rc < 0) {
        sk_result_free(r);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    r->converged = true;
    *out = r;
    return 0;
}
