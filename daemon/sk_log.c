/* sk_log.c - structured log lines on stderr (see sk_log.h). */
#include "sk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static const char *log_component = "samskap";
static int log_min = SK_LOG_INFO;

void sk_log_init(const char *component, int min_level)
{
    log_component = component;
    log_min = min_level;
}

int sk_log_enabled(int level)
{
    return level >= log_min;
}

void sk_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[1024], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    if (level < log_min)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines whole when threads log at once. */
    fprintf(stderr, "%s.%03ldZ level=%s comp=%s %s\n", ts, (long)(tv.tv_usec / 1000),
            names[level < 0 ? 0 : level > 3 ? 3 : level], log_component, line);
}
