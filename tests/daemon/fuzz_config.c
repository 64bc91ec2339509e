/* fuzz_config.c - libFuzzer target: sk_config on arbitrary bytes.  Whatever
 * it accepts must (1) read the same in Lua 5.4 (config_vs_lua.h), and (2)
 * when applied to an option table, print with sk_config_render to text that
 * parses and applies back to the same values. */
#include <stdint.h>
#include <stdlib.h>

#include "config_vs_lua.h"

typedef struct {
    const char *s1, *s2;
    int64_t i1, i2;
    int f1;
} targets;

#define OPTS(t)                                                               \
    {                                                                         \
        {"s1", SK_OPT_STR, &(t).s1, 0, 0, "a string"},                        \
        {"s-2", SK_OPT_STR, &(t).s2, 0, 0, "a list"},                         \
        {"i1", SK_OPT_INT, &(t).i1, INT64_MIN, INT64_MAX, "any integer"},     \
        {"i2", SK_OPT_INT, &(t).i2, -5, 5, "a small integer"},                \
        {"f1", SK_OPT_FLAG, &(t).f1, 0, 0, "a switch"},                       \
        {NULL, 0, NULL, 0, 0, NULL},                                          \
    }

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (config_vs_lua((const char *)data, size, why, sizeof why) != 0) {
        fprintf(stderr, "differs from Lua: %s\n", why);
        __builtin_trap();
    }
    sk_config *c = NULL, *c2 = NULL;
    sk_error err = SK_ERROR_INIT;
    targets t = {0}, back = {0};
    sk_opt opts[] = OPTS(t);
    sk_opt bopts[] = OPTS(back);
    if (sk_config_parse((const char *)data, size, "f.lua", &c, &err) < 0)
        return 0;
    if (sk_config_apply(c, opts, &err) == 0) {
        sk_buf out = SK_BUF_INIT;
        if (sk_config_render(opts, "fuzz", &out) == 0) {
            if (sk_config_parse(out.data, out.len, "printed.lua", &c2, &err) != 0 ||
                sk_config_apply(c2, bopts, &err) != 0 || !same_str(t.s1, back.s1) || !same_str(t.s2, back.s2) ||
                t.i1 != back.i1 || t.i2 != back.i2 || t.f1 != back.f1) {
                fprintf(stderr, "print-config does not read back: %s\n%s\n", err.msg, out.data);
                __builtin_trap();
            }
            sk_config_free(c2);
        }
        sk_buf_free(&out);
    }
    sk_config_free(c);
    return 0;
}
