/* test_lua_data.c - scenario files evaluated in the sandbox (sk_lua_eval_data):
 * computed tables come out as data text that the data-only reader accepts,
 * with sorted keys; values that are not data, runaway code and sandbox
 * escapes are refused with the key path or the limit that stopped them. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_config.h"
#include "sk_lua.h"

static int failures;

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static int eval(const char *src, sk_buf *out, sk_lua_error *le)
{
    sk_lua_limits lim = {.deadline_s = 0.3, .mem_bytes = (size_t)16 << 20};
    sk_buf_reset(out);
    return sk_lua_eval_data("scenario.lua", src, strlen(src), &lim, out, le);
}

static void test_computed_scenario(void)
{
    const char *src =
        "local base = { water = { network = 'water.inp', params = { periods = 'all' } } }\n"
        "local variants = {}\n"
        "for i, cap in ipairs { 1800, 2400 } do\n"
        "  variants[#variants + 1] = { name = 'road_' .. cap, simulations = { traffic = { params = { cap = cap, f = cap / 1000 } } } }\n"
        "end\n"
        "return { region = '1507', simulations = base, variants = variants, zeta = true, alpha = -0.5,\n"
        "         text = 'Ålesund \"q\"\\n\\1', indicators = { 'water_a', 'water_b' } }\n";
    sk_buf out = SK_BUF_INIT;
    sk_lua_error le;
    CHECK(eval(src, &out, &le) == 0);
    /* sorted keys: alpha before indicators before region ... before zeta */
    const char *a = strstr(out.data, "[\"alpha\"]=-0.5"), *z = strstr(out.data, "[\"zeta\"]=true");
    CHECK(a != NULL && z != NULL && a < z);
    CHECK(strstr(out.data, "[\"f\"]=1.8") != NULL && strstr(out.data, "[\"cap\"]=2400") != NULL);
    sk_config *conf = NULL;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_config_parse(out.data, out.len, "scenario.lua", &conf, &err) == 0);
    if (conf != NULL) {
        const sk_cval *root = sk_config_root(conf);
        const sk_cval *vs = sk_cval_get(root, "variants"), *text = sk_cval_get(root, "text");
        CHECK(vs != NULL && vs->type == SK_CVAL_TABLE && vs->n == 2);
        CHECK(vs && vs->n == 2 && strcmp(sk_cval_get(&vs->items[1].val, "name")->s, "road_2400") == 0);
        CHECK(text != NULL && strcmp(text->s, "Ålesund \"q\"\n\1") == 0);
        const sk_cval *ind = sk_cval_get(root, "indicators");
        CHECK(ind && ind->n == 2 && strcmp(ind->items[0].val.s, "water_a") == 0);
        const sk_cval *f = sk_cval_get(&sk_cval_get(&vs->items[0].val, "simulations")->items[0].val, "params");
        CHECK(f && sk_cval_get(f, "f") && sk_cval_get(f, "f")->type == SK_CVAL_NUM && sk_cval_get(f, "f")->d == 1.8);
    }
    sk_config_free(conf);
    /* The same file gives the same text. */
    sk_buf again = SK_BUF_INIT;
    CHECK(eval(src, &again, &le) == 0 && again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
    sk_buf_free(&again);
    sk_buf_free(&out);
}

typedef struct bad {
    const char *src, *kind, *msg;
} bad;

static void test_refused(void)
{
    static const bad cases[] = {
        {"return 42", "output", "must return a table (it returned number)"},
        {"return { simulations = { water = { params = { f = function() end } } } }", "output",
         "simulations.water.params.f: a function is not data"},
        {"return { variants = { 'a', x = 1 } }", "output", "variants: a table is either a list or a record"},
        {"local t = {} t.self = t return t", "output", "nest deeper"},
        {"return { x = 1/0 }", "output", "x: inf is not a finite number"},
        {"return { x = 0/0 }", "output", "x: nan is not a finite number"},
        {"return { [true] = 1 }", "output", "a key must be a string or a list index"},
        {"return { list = { [1] = 'a', [3] = 'c' } }", "output", "list: a key must be a string or a list index"},
        {"return { s = 'a\\0b' }", "output", "s: strings may not contain NUL bytes"},
        {"return { region = os.getenv('HOME') }", "runtime", "getenv"},
        {"local f = io.open('/etc/passwd') return {}", "runtime", "io"},
        {"while true do end", "timeout", ""},
        {"return { s = ('x'):rep(64 * 1024 * 1024) }", "memory", ""},
        {"return {", "load", "unexpected symbol near <eof>"},
        {"error('no region for you')", "runtime", "no region for you"},
    };
    sk_buf out = SK_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sk_lua_error le;
        int rc = eval(cases[i].src, &out, &le);
        bool ok = rc != 0 && strcmp(le.kind, cases[i].kind) == 0 && strstr(le.message, cases[i].msg) != NULL;
        if (!ok) {
            fprintf(stderr, "case %zu (%s): rc %d kind '%s' message '%s'\n", i, cases[i].src, rc, le.kind,
                    le.message);
            failures++;
        }
    }
    sk_buf_free(&out);
}

int main(void)
{
    /* Numbers in the output stay in the C locale whatever the process's. */
    if (setlocale(LC_ALL, "nb_NO.UTF-8") == NULL)
        fprintf(stderr, "note: nb_NO.UTF-8 locale not installed; testing in the C locale only\n");
    test_computed_scenario();
    test_refused();
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
