/* log.c - timestamped lines on stderr, one write(2) each, and per-call-site rate limiting. */
#include "log.h"
#include "herald_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A line fits one pipe write (PIPE_BUF), so lines of concurrent threads and processes sharing
 * stderr never interleave; longer messages are cut. */
#define LOG_LINE_MAX 4096

log_level_t log_level_current = LOG_INFO;

static char log_name[32] = "herald";
static long log_pid;

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(const char *daemon_name, log_level_t level)
{
    snprintf(log_name, sizeof(log_name), "%s", daemon_name);
    log_pid = (long)getpid();
    log_level_current = level;
}

int log_level_parse(const char *s, log_level_t *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcasecmp(s, log_level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return HERALD_EINVAL;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;

    if (level < LOG_DEBUG || level > LOG_ERROR)
        level = LOG_ERROR;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_name, log_pid ? log_pid : (long)getpid(),
                     log_level_names[level]);
    size_t head = (size_t)n;

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + head, sizeof(line) - head - 1, fmt, ap);
    va_end(ap);
    size_t len = head;
    if (m > 0)
        len += (size_t)m < sizeof(line) - head - 1 ? (size_t)m : sizeof(line) - head - 2;
    /* Messages carry client-supplied text (room ids, user agents): a newline inside one must
     * not forge a second log line. */
    for (size_t i = head; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[len++] = '\n';

    ssize_t w;
    do {
        w = write(STDERR_FILENO, line, len);
    } while (w < 0 && errno == EINTR);
}

static int64_t log_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int log_rl_allow(log_rl_t *rl, log_level_t level)
{
    int64_t now = log_mono_ms();
    if (rl->window_start_ms == 0 || now - rl->window_start_ms >= 1000) {
        if (rl->suppressed > 0)
            log_write(level, "(%u similar lines suppressed by the rate limit)", rl->suppressed);
        rl->window_start_ms = now;
        rl->in_window = 0;
        rl->suppressed = 0;
    }
    if (rl->in_window < LOG_RL_BURST) {
        rl->in_window++;
        return 1;
    }
    rl->suppressed++;
    return 0;
}
