/* sk_params.c - a job's typed key/value parameters (see sk_params.h). */
#include "sk_params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sk_num.h"

sk_params *sk_params_new(void)
{
    return calloc(1, sizeof(sk_params));
}

static void param_clear(sk_param *p)
{
    free(p->key);
    free(p->s);
    memset(p, 0, sizeof *p);
}

void sk_params_free(sk_params *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        param_clear(&p->items[i]);
    free(p->items);
    free(p);
}

const sk_param *sk_params_find(const sk_params *p, const char *key)
{
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return &p->items[i];
    return NULL;
}

/* Slot for key: the existing one (cleared of its value) or a new one. */
static sk_param *param_slot(sk_params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->items[i].key, key) == 0) {
            free(p->items[i].s);
            p->items[i].s = NULL;
            return &p->items[i];
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        sk_param *items = realloc(p->items, cap * sizeof *items);
        if (items == NULL)
            return NULL;
        p->items = items;
        p->cap = cap;
    }
    sk_param *slot = &p->items[p->n];
    memset(slot, 0, sizeof *slot);
    slot->key = strdup(key);
    if (slot->key == NULL)
        return NULL;
    p->n++;
    return slot;
}

int sk_params_set_str(sk_params *p, const char *key, const char *val)
{
    char *copy = strdup(val);
    if (copy == NULL)
        return SK_ENOMEM;
    sk_param *slot = param_slot(p, key);
    if (slot == NULL) {
        free(copy);
        return SK_ENOMEM;
    }
    slot->type = SK_PARAM_STR;
    slot->s = copy;
    return 0;
}

int sk_params_set_int(sk_params *p, const char *key, int64_t val)
{
    sk_param *slot = param_slot(p, key);
    if (slot == NULL)
        return SK_ENOMEM;
    slot->type = SK_PARAM_INT;
    slot->i = val;
    return 0;
}

int sk_params_set_f64(sk_params *p, const char *key, double val)
{
    sk_param *slot = param_slot(p, key);
    if (slot == NULL)
        return SK_ENOMEM;
    slot->type = SK_PARAM_F64;
    slot->d = val;
    return 0;
}

int sk_params_set_bool(sk_params *p, const char *key, bool val)
{
    sk_param *slot = param_slot(p, key);
    if (slot == NULL)
        return SK_ENOMEM;
    slot->type = SK_PARAM_BOOL;
    slot->i = val;
    return 0;
}

int sk_params_parse_kv(sk_params *p, const char *kv, sk_error *err)
{
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv)
        return sk_fail(err, SK_EINVAL, "param '%s': expected key=value", kv);
    size_t klen = (size_t)(eq - kv);
    if (klen > 128)
        return sk_fail(err, SK_EINVAL, "param key longer than 128 bytes");
    char key[129];
    memcpy(key, kv, klen);
    key[klen] = '\0';
    if (sk_params_set_str(p, key, eq + 1) < 0)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    return 0;
}

int sk_params_get_f64(const sk_params *p, const char *key, double def,
                      double min, double max, double *out, sk_error *err)
{
    const sk_param *it = sk_params_find(p, key);
    double v;
    if (it == NULL) {
        *out = def;
        return 0;
    }
    switch (it->type) {
    case SK_PARAM_F64: v = it->d; break;
    case SK_PARAM_INT: v = (double)it->i; break;
    case SK_PARAM_STR:
        if (sk_parse_f64(it->s, &v) < 0)
            return sk_fail(err, SK_EINVAL, "param '%s': '%s' is not a number", key, it->s);
        break;
    default:
        return sk_fail(err, SK_EINVAL, "param '%s': expected a number, got a boolean", key);
    }
    if (isnan(v) || v < min || v > max)
        return sk_fail(err, SK_EINVAL, "param '%s': %g is outside [%g, %g]", key, v, min, max);
    *out = v;
    return 0;
}

int sk_params_get_int(const sk_params *p, const char *key, int64_t def,
                      int64_t min, int64_t max, int64_t *out, sk_error *err)
{
    const sk_param *it = sk_params_find(p, key);
    int64_t v;
    if (it == NULL) {
        *out = def;
        return 0;
    }
    switch (it->type) {
    case SK_PARAM_INT: v = it->i; break;
    case SK_PARAM_F64:
        if (it->d != floor(it->d) || fabs(it->d) > 9e15)
            return sk_fail(err, SK_EINVAL, "param '%s': %g is not an integer", key, it->d);
        v = (int64_t)it->d;
        break;
    case SK_PARAM_STR:
        if (sk_parse_i64(it->s, &v) < 0)
            return sk_fail(err, SK_EINVAL, "param '%s': '%s' is not an integer", key, it->s);
        break;
    default:
        return sk_fail(err, SK_EINVAL, "param '%s': expected an integer, got a boolean", key);
    }
    if (v < min || v > max)
        return sk_fail(err, SK_EINVAL, "param '%s': %lld is outside [%lld, %lld]", key,
                       (long long)v, (long long)min, (long long)max);
    *out = v;
    return 0;
}

int sk_params_get_bool(const sk_params *p, const char *key, bool def, bool *out, sk_error *err)
{
    const sk_param *it = sk_params_find(p, key);
    if (it == NULL) {
        *out = def;
        return 0;
    }
    switch (it->type) {
    case SK_PARAM_BOOL:
    case SK_PARAM_INT:
        *out = it->i != 0;
        return 0;
    case SK_PARAM_STR:
        if (strcasecmp(it->s, "true") == 0 || strcmp(it->s, "1") == 0 ||
            strcasecmp(it->s, "yes") == 0 || strcasecmp(it->s, "on") == 0 || it->s[0] == '\0') {
            *out = true;
            return 0;
        }
        if (strcasecmp(it->s, "false") == 0 || strcmp(it->s, "0") == 0 ||
            strcasecmp(it->s, "no") == 0 || strcasecmp(it->s, "off") == 0) {
            *out = false;
            return 0;
        }
        return sk_fail(err, SK_EINVAL, "param '%s': '%s' is not a boolean (true/false)", key, it->s);
    default:
        return sk_fail(err, SK_EINVAL, "param '%s': expected a boolean", key);
    }
}

const char *sk_params_get_str(const sk_params *p, const char *key, const char *def)
{
    const sk_param *it = sk_params_find(p, key);
    if (it == NULL || it->type != SK_PARAM_STR)
        return def;
    return it->s;
}

int sk_params_check_known(const sk_params *p, const char *const *known, sk_error *err)
{
    if (p == NULL)
        return 0;
    for (size_t i = 0; i < p->n; i++) {
        bool found = false;
        for (const char *const *k = known; *k != NULL; k++)
            if (strcmp(*k, p->items[i].key) == 0)
                found = true;
        if (!found) {
            char list[256] = "";
            for (const char *const *k = known; *k != NULL; k++) {
                strncat(list, *k, sizeof list - strlen(list) - 3);
                if (k[1] != NULL)
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return sk_fail(err, SK_EINVAL, "unknown param '%s' (known: %s)", p->items[i].key, list);
        }
    }
    return 0;
}
