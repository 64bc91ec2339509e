/* power_internal.h - helpers shared by the sk_power sources (not installed). */
#ifndef SK_POWER_INTERNAL_H
#define SK_POWER_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "sk_power.h"

/* Set err (may be NULL) and return code: `return pw_fail(err, code, ...)`. */
static inline int pw_fail(sk_power_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int pw_fail(sk_power_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

#define PW_PI 3.14159265358979323846

#endif
