/* log.h - the one logger of every herald binary.
 *
 * Lines go to stderr as "2026-11-23T18:00:00.123Z comet[1234] INFO message". The level is
 * checked before the arguments are evaluated (redis serverLog). Thread-safe: one write(2) per line.
 * Per-client events must use the *_rl variants, which let at most `LOG_RL_BURST` lines per second
 * through per call site and report how many were suppressed.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdint.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

extern log_level_t log_level_current;

/* Sets the daemon name shown on every line and the minimum level. Call once at start-up. */
void log_init(const char *daemon_name, log_level_t level);

/* Parses "debug" | "info" | "warn" | "error". Returns 0, or HERALD_EINVAL. */
int log_level_parse(const char *s, log_level_t *out);

void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= log_level_current)                                                            \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

/* Rate-limited logging state of one call site. */
typedef struct log_rl_s {
    int64_t window_start_ms;
    uint32_t in_window;
    uint32_t suppressed;
} log_rl_t;

#define LOG_RL_BURST 10

/* Returns nonzero when the call site may log now (and logs a "suppressed N" line first if
 * lines were dropped in the previous window). Not for direct use: see log_warn_rl. */
int log_rl_allow(log_rl_t *rl, log_level_t level);

#define LOG_AT_RL(lvl, ...)                                                                        \
    do {                                                                                           \
        static __thread log_rl_t log_rl_site_;                                                     \
        if ((lvl) >= log_level_current && log_rl_allow(&log_rl_site_, (lvl)))                      \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)
#define log_info_rl(...) LOG_AT_RL(LOG_INFO, __VA_ARGS__)
#define log_warn_rl(...) LOG_AT_RL(LOG_WARN, __VA_ARGS__)

#endif
