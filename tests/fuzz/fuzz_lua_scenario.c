/* fuzz_lua_scenario.c - the plugin host's text inputs, by the first byte
 * mod 3: the areas sidecar parser (0); plugin loading + metadata validation
 * in the sandbox (1); a scenario file evaluated in the sandbox (2), whose
 * data text must then be accepted by the data-only reader (sk_config) -
 * an oracle, not just a crash check.  None may crash, leak or hang
 * whatever the bytes (tight deadline and memory cap). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_config.h"
#include "sk_lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] % 3 == 2) {
        sk_lua_limits lim = {.deadline_s = 0.05, .close_s = 0.05, .mem_bytes = 16u << 20};
        sk_buf out = SK_BUF_INIT;
        sk_lua_error le;
        if (sk_lua_eval_data("fuzz.lua", text, len, &lim, &out, &le) == 0) {
            sk_config *conf = NULL;
            sk_error err = SK_ERROR_INIT;
            if (sk_config_parse(out.data, out.len, "fuzz.lua", &conf, &err) != 0)
                __builtin_trap(); /* the evaluator wrote text the reader refuses */
            sk_config_free(conf);
        }
        sk_buf_free(&out);
        return 0;
    }
    if (data[0] % 3 == 0) {
        sk_error err = SK_ERROR_INIT;
        sk_result *r = sk_lua_areas_parse(text, len, "fuzz.csv", &err);
        sk_result_free(r);
        return 0;
    }
    sk_lua_limits lim = {0};
    lim.deadline_s = 0.05;
    lim.close_s = 0.05;
    lim.mem_bytes = 16u << 20;
    sk_lua_plugin_info *pi = NULL;
    sk_lua_error le;
    if (sk_lua_plugin_check("fuzz.lua", text, len, &lim, &pi, &le) == 0)
        sk_lua_plugin_info_free(pi);
    return 0;
}
