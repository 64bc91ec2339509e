/* sk_time.h - the monotonic clock, for timeouts and durations (never for
 * dates: it does not jump when the wall clock is set). */
#ifndef SK_TIME_H
#define SK_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sk_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t sk_mono_ms(void)
{
    return sk_mono_us() / 1000;
}

#endif
