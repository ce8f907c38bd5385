/* s_server.h - `openssl s_server` as a real TLS peer for the client library's tests: started on
 * a free 127.0.0.1 port with the caller's certificate options (paths under test_pki_dir()),
 * it prints what clients send on its stdout (kept in a file the test searches) and sends them
 * what the test writes to its stdin. It serves one connection at a time, the next after the
 * previous one closes. Every wait is bounded (S_SERVER_TIMEOUT_MS); the server dies with the
 * test process (PR_SET_PDEATHSIG). */
#ifndef HERALD_TEST_S_SERVER_H
#define HERALD_TEST_S_SERVER_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_pki.h"
#include "test_support.h"

#define S_SERVER_TIMEOUT_MS 5000
#define S_SERVER_MAX_ARGS 24

typedef struct s_server_s {
    pid_t pid;
    int in_fd; /* write end of its stdin */
    int port;
    char out_path[512]; /* its stdout and stderr */
} s_server_t;

static inline void s_server_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Copies the server's output so far into buf (at most cap - 1 bytes, NUL-terminated; the output
 * may hold NULs of its own); returns its length. */
static inline size_t s_server_output(const s_server_t *s, char *buf, size_t cap)
{
    FILE *f = fopen(s->out_path, "rb");
    size_t n = f != NULL ? fread(buf, 1, cap - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return n;
}

/* Where needle starts in the server's output (binary-safe), copied into buf; NULL if it is not
 * there yet. */
static inline const char *s_server_find(const s_server_t *s, const char *needle, char *buf,
                                        size_t cap)
{
    size_t n = s_server_output(s, buf, cap);
    size_t len = strlen(needle);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(buf + i, needle, len) == 0)
            return buf + i;
    return NULL;
}

/* Nonzero once the server's output holds needle. */
static inline int s_server_output_has(const s_server_t *s, const char *needle)
{
    static char buf[1 << 16];
    return s_server_find(s, needle, buf, sizeof(buf)) != NULL;
}

/* Waits up to S_SERVER_TIMEOUT_MS for needle in the output; asserts. */
static inline void s_server_expect_output(const s_server_t *s, const char *needle)
{
    for (int waited = 0; !s_server_output_has(s, needle); waited += 20) {
        if (waited >= S_SERVER_TIMEOUT_MS)
            fail_msg("openssl s_server never printed \"%s\" (output in %s)", needle, s->out_path);
        s_server_sleep_ms(20);
    }
}

/* Starts `openssl s_server -accept 127.0.0.1:<free port> <args...>` (args NULL-terminated; a
 * "@name" argument becomes test_pki_path(name)) and waits until it listens. */
static inline void s_server_start(s_server_t *s, const char *const *args)
{
    memset(s, 0, sizeof(*s));
    s->port = test_free_port();
    snprintf(s->out_path, sizeof(s->out_path), "%s/s_server.%d.out", test_pki_dir(), s->port);
    char accept[32];
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", s->port);
    static char paths[S_SERVER_MAX_ARGS][512];
    const char *argv[S_SERVER_MAX_ARGS + 5] = {"openssl", "s_server", "-accept", accept};
    int argc = 4;
    for (int i = 0; args[i] != NULL; i++) {
        assert_true(i < S_SERVER_MAX_ARGS);
        argv[argc++] =
            args[i][0] == '@' ? test_pki_path(paths[i], sizeof(paths[i]), args[i] + 1) : args[i];
    }
    argv[argc] = NULL;
    int in[2];
    assert_int_equal(pipe(in), 0);
    int out = open(s->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(out >= 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out, 1);
        dup2(out, 2);
        close(in[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out);
    s->in_fd = in[1];
    s_server_expect_output(s, "ACCEPT");
}

/* Writes bytes for the server to send to the connected client (or to the next one). */
static inline void s_server_send(s_server_t *s, const void *data, size_t len)
{
    assert_int_equal(write(s->in_fd, data, len), (ssize_t)len);
}

static inline void s_server_stop(s_server_t *s)
{
    if (s->pid <= 0)
        return;
    close(s->in_fd);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    unlink(s->out_path);
    s->pid = 0;
}

#endif
