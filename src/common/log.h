/* log.h - the one logger of every herald binary.
 *
 * Lines go to stderr, as text "2026-11-23T18:00:00.123Z comet[1234] INFO message" or, with
 * [log] format = json, as one JSON object per line:
 *   {"ts":"2026-11-23T18:00:00.123Z","daemon":"comet","pid":1234,"level":"info","msg":"..."}
 * (msg escaped; bytes that are not UTF-8 become U+FFFD). With [log] file set, stderr itself is
 * that file (opened with O_APPEND, dup2'd over fd 2, so that what libraries print lands there
 * too), and log_apply reopens it: SIGHUP after logrotate renamed it.
 *
 * The level is checked before the arguments are evaluated (redis serverLog). Thread-safe: one
 * write(2) per line; the level and the format may change at run time (atomics) while other
 * threads log. Per-client events must use the *_rl variants, which let at most `LOG_RL_BURST`
 * lines per second through per call site and report how many were suppressed.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;
typedef enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 } log_format_t;

/* Read only through LOG_LEVEL_NOW (relaxed atomic: written by log_set_level on any thread). */
extern log_level_t log_level_current;
#define LOG_LEVEL_NOW() ((log_level_t)__atomic_load_n(&log_level_current, __ATOMIC_RELAXED))

/* The [log] section every daemon's configuration carries. */
typedef struct log_conf_s {
    int level;  /* log_level_t */
    int format; /* log_format_t */
    char *file; /* "" = stderr as the daemon was given it */
} log_conf_t;

/* The items of [log] for a daemon config struct `type` with a log_conf_t member named `log`:
 *   level = info     debug | info | warn | error
 *   format = text    text | json
 *   file = ""        a path: lines are appended there (and reopened on SIGHUP) */
#define LOG_CONF_ITEMS(type)                                                                       \
    {"log", "level", CONF_ENUM, offsetof(type, log.level), "info", 0, 0, "debug|info|warn|error"}, \
        {"log", "format", CONF_ENUM, offsetof(type, log.format), "text", 0, 0, "text|json"},       \
    {                                                                                              \
        "log", "file", CONF_STR, offsetof(type, log.file), "", 0, 0, NULL                          \
    }

/* Sets the daemon name shown on every line and the minimum level. Call once at start-up. */
void log_init(const char *daemon_name, log_level_t level);

/* Any thread, at any time. */
void log_set_level(log_level_t level);
void log_set_format(log_format_t format);

/* "debug" | "info" | "warn" | "error" of a level. */
const char *log_level_name(log_level_t level);

/* Applies c: level, format, and the file (c->file "" = back to the stderr the process was
 * started with). The file is (re)opened every call, also when its name did not change: that is
 * the reopen after a log rotation. Returns 0, or HERALD_ECONF with "[log] file PATH: why" in err;
 * then the level and the format are applied and lines keep going where they went. Main thread
 * (one caller at a time). */
int log_apply(const log_conf_t *c, char *err, size_t errlen);

/* Parses "debug" | "info" | "warn" | "error". Returns 0, or HERALD_EINVAL. */
int log_level_parse(const char *s, log_level_t *out);

void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) >= LOG_LEVEL_NOW())                                                              \
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
        if ((lvl) >= LOG_LEVEL_NOW() && log_rl_allow(&log_rl_site_, (lvl)))                        \
            log_write((lvl), __VA_ARGS__);                                                         \
    } while (0)
#define log_info_rl(...) LOG_AT_RL(LOG_INFO, __VA_ARGS__)
#define log_warn_rl(...) LOG_AT_RL(LOG_WARN, __VA_ARGS__)

#endif
