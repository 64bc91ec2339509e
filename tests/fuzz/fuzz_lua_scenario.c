/* fuzz_lua_scenario.c - the plugin host's text inputs: the areas sidecar
 * parser (first byte even) and plugin loading + metadata validation in the
 * sandbox (first byte odd; tight deadline and memory cap).  Neither may
 * crash, leak or hang whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sk_lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if ((data[0] & 1) == 0) {
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
