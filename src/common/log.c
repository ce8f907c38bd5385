/* log.c - timestamped lines on stderr (text or JSON), one write(2) each, the log file and its
 * reopen, and per-call-site rate limiting. */
#include "log.h"
#include "herald_err.h"

#include <errno.h>
#include <fcntl.h>
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
static log_format_t log_format = LOG_FORMAT_TEXT;

static char log_name[32] = "herald";
static long log_pid;
/* A copy of the stderr the process was started with, made before the first log file replaced
 * it (-1: none yet), so that file = "" on a reload gives it back. */
static int log_stderr_saved = -1;

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const log_level_words[] = {"debug", "info", "warn", "error"};

void log_init(const char *daemon_name, log_level_t level)
{
    snprintf(log_name, sizeof(log_name), "%s", daemon_name);
    log_pid = (long)getpid();
    log_set_level(level);
}

void log_set_level(log_level_t level)
{
    __atomic_store_n(&log_level_current, level, __ATOMIC_RELAXED);
}

void log_set_format(log_format_t format)
{
    __atomic_store_n(&log_format, format, __ATOMIC_RELAXED);
}

const char *log_level_name(log_level_t level)
{
    return level >= LOG_DEBUG && level <= LOG_ERROR ? log_level_words[level] : "error";
}

/* Puts path (opened for appending) on fd 2. dup2 replaces the descriptor atomically: a line
 * another thread writes meanwhile goes whole to the old file or whole to the new one. */
static int log_open_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "[log] file %s: %s", path, strerror(errno));
        return HERALD_ECONF;
    }
    if (log_stderr_saved < 0)
        log_stderr_saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    int rc = dup2(fd, STDERR_FILENO) < 0 ? errno : 0;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "[log] file %s: dup2: %s", path, strerror(rc));
        return HERALD_ECONF;
    }
    return 0;
}

int log_apply(const log_conf_t *c, char *err, size_t errlen)
{
    log_set_level((log_level_t)c->level);
    log_set_format((log_format_t)c->format);
    if (c->file != NULL && c->file[0] != '\0')
        return log_open_file(c->file, err, errlen);
    if (log_stderr_saved >= 0 && dup2(log_stderr_saved, STDERR_FILENO) < 0) {
        snprintf(err, errlen, "[log] file: back to stderr: %s", strerror(errno));
        return HERALD_ECONF;
    }
    return 0;
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

/* The length of the well-formed UTF-8 sequence that starts at s[0] (n bytes left), or 0 when
 * there is none (overlong forms, surrogates and values past U+10FFFF are not well-formed). */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    if (s[0] < 0xc2 || s[0] > 0xf4 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* Writes msg (len bytes) as the body of a JSON string into out (cap bytes), cutting it where
 * the next escape would not fit. Returns the bytes written. */
static size_t log_json_escape(char *out, size_t cap, const char *msg, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)msg[i];
        char esc[8];
        size_t n = 0, take = 1;
        if (ch == '"' || ch == '\\') {
            esc[n++] = '\\';
            esc[n++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        } else if (ch < 0x80) {
            esc[n++] = (char)ch;
        } else if ((take = log_utf8_len((const unsigned char *)msg + i, len - i)) > 0) {
            memcpy(esc, msg + i, take);
            n = take;
        } else {
            memcpy(esc, "\\ufffd", 6); /* not UTF-8: JSON text must be */
            n = 6;
            take = 1;
        }
        if (o + n > cap)
            break;
        memcpy(out + o, esc, n);
        o += n;
        i += take;
    }
    return o;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX], ts_text[64];
    struct timespec ts;
    struct tm tm;

    if (level < LOG_DEBUG || level > LOG_ERROR)
        level = LOG_ERROR;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(ts_text, sizeof(ts_text), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    long pid = log_pid ? log_pid : (long)getpid();

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;

    size_t len;
    if (__atomic_load_n(&log_format, __ATOMIC_RELAXED) == LOG_FORMAT_JSON) {
        int n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"daemon\":\"%s\",\"pid\":%ld,\"level\":\"%s\",\"msg\":\"",
                         ts_text, log_name, pid, log_level_words[level]);
        len = (size_t)n;
        /* room for the closing quote, brace and newline */
        len += log_json_escape(line + len, sizeof(line) - len - 3, msg, mlen);
        line[len++] = '"';
        line[len++] = '}';
    } else {
        int n = snprintf(line, sizeof(line), "%s %s[%ld] %s ", ts_text, log_name, pid,
                         log_level_names[level]);
        size_t head = (size_t)n;
        len = head + (mlen < sizeof(line) - head - 1 ? mlen : sizeof(line) - head - 2);
        memcpy(line + head, msg, len - head);
        /* Messages carry client-supplied text (room ids, user agents): a newline inside one
         * must not forge a second log line, nor an escape sequence reach a terminal. */
        for (size_t i = head; i < len; i++) {
            if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
                line[i] = ' ';
        }
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
