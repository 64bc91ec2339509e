/* plugins.c - loading indicator plugins as node services (see plugins.h),
 * and the service that runs one on a worker thread in an isolated process. */
#include "plugins.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sk_log.h"
#include "sk_lua.h"
#include "sk_proto.h"

/* indicator.<name>: inputs are results (msgpack, named after their kernel:
 * "water", "power", "traffic", or anything else) and an optional "areas"
 * sidecar (CSV); params go to the plugin, except plugin_hash (pin the code)
 * and allow_nonconverged. */
static int run_indicator(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    const sk_lua_plugin_info *info = ctx->service_data;
    sk_result *results[SK_MAX_BODIES];
    size_t nres = 0;
    sk_result *areas = NULL;
    sk_params *params = sk_params_new();
    int rc = 0;
    if (params == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    const char *pin = sk_params_get_str(ctx->params, "plugin_hash", NULL);
    if (pin != NULL && strcmp(pin, info->hash) != 0) {
        rc = sk_fail(err, SK_EREFUSED, "plugin %s here is %s, the job asks for %s", info->name, info->hash, pin);
        goto out;
    }
    bool allow_nc = false;
    if (sk_params_get_bool(ctx->params, "allow_nonconverged", false, &allow_nc, err) < 0) {
        rc = err->code;
        goto out;
    }
    for (size_t i = 0; ctx->params != NULL && i < ctx->params->n; i++) {
        const sk_param *p = &ctx->params->items[i];
        if (strcmp(p->key, "plugin_hash") == 0 || strcmp(p->key, "allow_nonconverged") == 0)
            continue;
        int prc = 0;
        switch (p->type) {
        case SK_PARAM_STR: prc = sk_params_set_str(params, p->key, p->s); break;
        case SK_PARAM_INT: prc = sk_params_set_int(params, p->key, p->i); break;
        case SK_PARAM_F64: prc = sk_params_set_f64(params, p->key, p->d); break;
        case SK_PARAM_BOOL: prc = sk_params_set_bool(params, p->key, p->i != 0); break;
        }
        if (prc < 0) {
            rc = sk_fail(err, SK_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < ctx->ninputs; i++) {
        const sk_input *in = &ctx->inputs[i];
        if (in->name != NULL && strcmp(in->name, "areas") == 0) {
            sk_result_free(areas);
            areas = sk_lua_areas_parse(in->data, in->len, "areas", err);
            if (areas == NULL) {
                rc = err->code ? err->code : SK_EINVAL;
                goto out;
            }
            continue;
        }
        if (nres == SK_MAX_BODIES)
            break;
        sk_error derr = SK_ERROR_INIT;
        results[nres] = sk_result_decode(in->data, in->len, &derr);
        if (results[nres] == NULL) {
            rc = sk_fail(err, SK_EINVAL, "input '%s' is not a samskap result: %s", in->name ? in->name : "", derr.msg);
            goto out;
        }
        nres++;
    }
    sk_lua_job job = {
        .plugin = info,
        .results = (const sk_result *const *)results,
        .nresults = nres,
        .params = params,
        .areas = areas,
        .allow_nonconverged = allow_nc,
    };
    sk_lua_error lerr;
    memset(&lerr, 0, sizeof lerr);
    sk_job_progress(ctx, 0.0, "indicator %s: running", info->name);
    if (sk_lua_run_isolated(&job, out, &lerr) < 0) {
        sk_lua_error_to_sk(&lerr, err);
        rc = err->code ? err->code : SK_EINVAL;
    }
out:
    for (size_t i = 0; i < nres; i++)
        sk_result_free(results[i]);
    sk_result_free(areas);
    sk_params_free(params);
    return rc;
}

void plugin_dir_signature(const char *dir, char *out, size_t n)
{
    /* FNV over (name, size, mtime) of the *.lua files, in readdir order
     * folded order-independently (sum of per-file hashes). */
    unsigned long long sum = 0, count = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".lua") != 0)
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0)
            continue;
        unsigned long long h = 1469598103934665603ULL;
        for (size_t i = 0; i < l; i++)
            h = (h ^ (unsigned char)e->d_name[i]) * 1099511628211ULL;
        h = (h ^ (unsigned long long)st.st_size) * 1099511628211ULL;
        h = (h ^ (unsigned long long)st.st_mtim.tv_sec) * 1099511628211ULL;
        h = (h ^ (unsigned long long)st.st_mtim.tv_nsec) * 1099511628211ULL;
        sum += h;
        count++;
    }
    if (d != NULL)
        closedir(d);
    snprintf(out, n, "%llx-%llu", sum, count);
}

plugin_set *plugin_set_load(const char *dir, sk_error *err)
{
    plugin_set *s = calloc(1, sizeof *s);
    sk_lua_plugin_dir *d = NULL;
    if (s == NULL) {
        sk_fail(err, SK_ENOMEM, "out of memory");
        return NULL;
    }
    plugin_dir_signature(dir, s->signature, sizeof s->signature);
    if (sk_lua_plugin_dir_load(dir, NULL, &d, err) < 0) {
        free(s);
        return NULL;
    }
    s->dir = d;
    s->refs = 1;
    s->defs = calloc(d->n ? d->n : 1, sizeof *s->defs);
    s->names = calloc(d->n ? d->n : 1, sizeof *s->names);
    if (s->defs == NULL || s->names == NULL) {
        plugin_set_unref(s);
        sk_fail(err, SK_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < d->n; i++) {
        const sk_lua_plugin_entry *e = &d->items[i];
        if (e->info == NULL) {
            sk_error le;
            sk_lua_error_to_sk(&e->error, &le);
            sk_warn("msg=\"plugin skipped\" file=%s error=\"%s\"", e->file, le.msg);
            continue;
        }
        if (strlen(e->info->name) + 10 >= sizeof s->names[0]) {
            sk_warn("msg=\"plugin skipped: name too long\" file=%s", e->file);
            continue;
        }
        snprintf(s->names[s->n], sizeof s->names[0], "indicator.%s", e->info->name);
        s->defs[s->n] = (sk_service_def){s->names[s->n], e->info->title ? e->info->title : "indicator plugin",
                                         run_indicator, e->info, e->info->hash};
        s->n++;
    }
    sk_info("msg=\"plugins loaded\" dir=%s plugins=%zu files=%zu", dir, s->n, d->n);
    return s;
}

void plugin_set_ref(plugin_set *s)
{
    if (s != NULL)
        s->refs++;
}

void plugin_set_unref(plugin_set *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    sk_lua_plugin_dir_free(s->dir);
    free(s->defs);
    free(s->names);
    free(s);
}
