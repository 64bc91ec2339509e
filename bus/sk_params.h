/* sk_params.h - a job's parameters: an ordered list of key -> value.
 *
 * Values keep the type they came with (string from the command line, or a
 * msgpack number/bool from a pipeline); the getters convert and check, so a
 * service reads `accuracy` the same way whichever way it arrived.  Numbers in
 * strings are parsed in the C locale. */
#ifndef SK_PARAMS_H
#define SK_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

typedef enum { SK_PARAM_STR, SK_PARAM_INT, SK_PARAM_F64, SK_PARAM_BOOL } sk_param_type;

typedef struct sk_param {
    char *key;
    sk_param_type type;
    char *s;        /* SK_PARAM_STR */
    int64_t i;      /* SK_PARAM_INT, SK_PARAM_BOOL */
    double d;       /* SK_PARAM_F64 */
} sk_param;

typedef struct sk_params {
    size_t n, cap;
    sk_param *items;
} sk_params;

sk_params *sk_params_new(void);
void sk_params_free(sk_params *p);
/* Setting an existing key replaces it. */
int sk_params_set_str(sk_params *p, const char *key, const char *val);
int sk_params_set_int(sk_params *p, const char *key, int64_t val);
int sk_params_set_f64(sk_params *p, const char *key, double val);
int sk_params_set_bool(sk_params *p, const char *key, bool val);
/* "key=value" from a command line; value stays a string. */
int sk_params_parse_kv(sk_params *p, const char *kv, sk_error *err);

const sk_param *sk_params_find(const sk_params *p, const char *key);
/* Getters: absent key -> *out = def, return 0.  Present but not convertible
 * or out of [min,max] -> SK_EINVAL with "param 'key': reason". */
int sk_params_get_f64(const sk_params *p, const char *key, double def,
                      double min, double max, double *out, sk_error *err);
int sk_params_get_int(const sk_params *p, const char *key, int64_t def,
                      int64_t min, int64_t max, int64_t *out, sk_error *err);
int sk_params_get_bool(const sk_params *p, const char *key, bool def,
                       bool *out, sk_error *err);
/* Returned string is owned by p (or is def). */
const char *sk_params_get_str(const sk_params *p, const char *key, const char *def);
/* Keys not in `known` (NULL-terminated) -> SK_EINVAL naming the first one. */
int sk_params_check_known(const sk_params *p, const char *const *known, sk_error *err);

#endif
