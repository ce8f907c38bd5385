/* test_support.c - see test_support.h. */
#define _GNU_SOURCE
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

int test_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

int test_port_open(int port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

    close(fd);
    return ok;
}

void test_redis_init(test_redis_t *s)
{
    snprintf(s->dir, sizeof(s->dir), "/tmp/herald-unit-redis-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    s->port = test_free_port();
    s->pid = 0;
}

void test_redis_start_args(test_redis_t *s, const char *password, const char *const *extra)
{
    char port[16];
    const char *argv[48] = {"redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no",     "--dir", s->dir};
    int argc = 11;

    snprintf(port, sizeof(port), "%d", s->port);
    if (password) {
        argv[argc++] = "--requirepass";
        argv[argc++] = password;
    }
    for (; extra && *extra; extra++) {
        assert_true(argc < 47);
        argv[argc++] = *extra;
    }
    argv[argc] = NULL;
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 250 && !test_port_open(s->port); i++)
        usleep(20 * 1000);
    assert_true(test_port_open(s->port));
}

void test_redis_start(test_redis_t *s, const char *password)
{
    test_redis_start_args(s, password, NULL);
}

void test_redis_kill(test_redis_t *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void test_redis_deinit(test_redis_t *s)
{
    char cmd[96];

    test_redis_kill(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

int test_run_until(uv_loop_t *loop, int (*cond)(void *), void *ctx, uint64_t ms)
{
    uv_timer_t tick;

    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + ms;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10); /* so that UV_RUN_ONCE returns */
    while (!cond(ctx) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return cond(ctx);
}

int test_never(void *ctx)
{
    (void)ctx;
    return 0;
}

typedef struct leftovers_s {
    const uv_handle_t *guard;
    int n;
} leftovers_t;

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void close_leftover(uv_handle_t *h, void *arg)
{
    leftovers_t *l = arg;
    if (h == l->guard || uv_is_closing(h))
        return;
    l->n++;
    uv_close(h, NULL);
}

void test_finish_loop(uv_loop_t *loop)
{
    uv_timer_t guard;
    leftovers_t left = {.guard = (const uv_handle_t *)&guard, .n = 0};

    /* The guard does not keep the loop alive; it only ends a run that something keeps going. */
    uv_timer_init(loop, &guard);
    uv_unref((uv_handle_t *)&guard);
    uv_timer_start(&guard, stop_loop, FINISH_LOOP_MS, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    /* Whatever is still open now was left behind, most often by an assertion that failed before
     * its close: it is closed (so the loop ends) and counted (so the test fails, not hangs). */
    uv_walk(loop, close_leftover, &left);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(left.n, 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

double test_prom_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}
