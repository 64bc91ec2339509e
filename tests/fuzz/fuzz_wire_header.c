/* fuzz_wire_header.c - libFuzzer target: the header frame decoder, the
 * batch header decoder and the signature check, on arbitrary bytes.  Input
 * layout: byte 0 selects the check (odd: signature; bit 1 set: batch;
 * else one header); the rest is the frame.  The decoder's fast path (flat
 * headers) must agree with the general decoder on every frame, and each
 * header read from a batch must be what the general decoder reads from
 * the same bytes alone. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sk_proto.h"

/* Same fields: the encodings of two decodes are the same bytes. */
static void trap_unless_same(const sk_header *x, const sk_header *y)
{
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    int ra = sk_header_encode(x, &a, &al, NULL), rb = sk_header_encode(y, &b, &bl, NULL);
    if (ra == 0 && rb == 0 && (al != bl || memcmp(a, b, al) != 0))
        __builtin_trap();
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_header h;
    sk_error err = SK_ERROR_INIT;
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        (void)sk_sig_check(data + 1, size - 1, &err);
        return 0;
    }
    if (data[0] & 2) {
        size_t count, off;
        if (sk_header_batch_open(data + 1, size - 1, &count, &off, &err) < 0)
            return 0;
        if (count == 0 || count > SK_BATCH_MAX)
            __builtin_trap();
        for (size_t i = 0; i < count; i++) {
            size_t start = off;
            if (sk_header_batch_next(data + 1, size - 1, &off, &h, &err) < 0)
                break;
            if (off <= start || off > size - 1)
                __builtin_trap();
            sk_header g;
            sk_error gerr = SK_ERROR_INIT;
            if (sk_header_decode_general(data + 1 + start, off - start, &g, &gerr) != 0)
                __builtin_trap();
            trap_unless_same(&h, &g);
            sk_header_clear(&g);
            sk_header_clear(&h);
        }
        return 0;
    }
    sk_header g;
    sk_error gerr = SK_ERROR_INIT;
    int grc = sk_header_decode_general(data + 1, size - 1, &g, &gerr);
    int rc = sk_header_decode(data + 1, size - 1, &h, &err);
    if ((rc == 0) != (grc == 0))
        __builtin_trap();
    if (rc == 0) {
        trap_unless_same(&h, &g);
        sk_header_clear(&g);
    }
    if (rc == 0) {
        /* Whatever decodes must encode again and decode to the same type. */
        char *buf;
        size_t len;
        if (sk_header_encode(&h, &buf, &len, &err) == 0) {
            sk_header back;
            if (sk_header_decode(buf, len, &back, &err) != 0 || back.type != h.type)
                __builtin_trap();
            sk_header_clear(&back);
            free(buf);
        }
        sk_header_clear(&h);
    }
    return 0;
}
