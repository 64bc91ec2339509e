/* fuzz_result.c - libFuzzer target: the msgpack result decoder.  Whatever
 * decodes must encode and decode again to the same shape. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sk_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_error err = SK_ERROR_INIT;
    sk_result *r = sk_result_decode(data, size, &err);
    if (r == NULL)
        return 0;
    char *buf;
    size_t len;
    if (sk_result_encode(r, &buf, &len, &err) == 0) {
        sk_result *back = sk_result_decode(buf, len, &err);
        if (back == NULL || back->ntables != r->ntables || back->nmeta != r->nmeta)
            __builtin_trap();
        sk_result_free(back);
        free(buf);
    }
    sk_result_free(r);
    return 0;
}
