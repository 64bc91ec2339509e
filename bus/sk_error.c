/* sk_error.c - filling sk_error values. */
#include "sk_error.h"

#include <stdio.h>

int sk_failv(sk_error *err, int code, const char *fmt, va_list ap)
{
    if (err != NULL) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

int sk_fail(sk_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sk_failv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

const char *sk_strerror(int code)
{
    switch (code) {
    case SK_OK: return "ok";
    case SK_EINVAL: return "invalid input";
    case SK_ENOMEM: return "out of memory";
    case SK_EIO: return "i/o error";
    case SK_EPROTO: return "protocol error";
    case SK_ETOOBIG: return "limit exceeded";
    case SK_ECANCELED: return "cancelled";
    case SK_ETIMEDOUT: return "timed out";
    case SK_ENOTFOUND: return "not found";
    case SK_EUNSUPPORTED: return "unsupported";
    case SK_ENOCONV: return "did not converge";
    case SK_EREFUSED: return "refused";
    default: return "unknown error";
    }
}
