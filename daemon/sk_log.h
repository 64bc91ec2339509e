/* sk_log.h - one line per event to stderr, logfmt style:
 *   2026-11-26T15:28:13.123Z level=info comp=broker msg="node joined" node=n1 */
#ifndef SK_LOG_H
#define SK_LOG_H

enum { SK_LOG_DEBUG = 0, SK_LOG_INFO = 1, SK_LOG_WARN = 2, SK_LOG_ERROR = 3 };

void sk_log_init(const char *component, int min_level);
void sk_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sk_log_enabled(int level);

#define sk_debug(...) do { if (sk_log_enabled(SK_LOG_DEBUG)) sk_log(SK_LOG_DEBUG, __VA_ARGS__); } while (0)
#define sk_info(...) sk_log(SK_LOG_INFO, __VA_ARGS__)
#define sk_warn(...) sk_log(SK_LOG_WARN, __VA_ARGS__)
#define sk_error_log(...) sk_log(SK_LOG_ERROR, __VA_ARGS__)

#endif
