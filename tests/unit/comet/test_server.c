/* comet_server_new's contract: a start that fails returns NULL with the reason, and leaves
 * nothing open: the loop it was given holds nothing of it, the process no descriptor of it.
 * Failures are caused from outside: worker threads that cannot get their stacks (address space
 * limit), and descriptors running out at each point of the start in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet_conf.h"
#include "comet_server.h"
#include "log.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define T_FILL_LIMIT 1024   /* descriptor limit while exhausting: far above what the test holds */
#define T_STACK (64u << 20) /* a worker thread's stack while the address space is limited */
#define T_AS_MARGIN (16u << 20) /* room left in the address space: less than one stack */

static void t_conf_set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

static void t_conf(comet_conf_t *conf)
{
    char err[256];
    assert_int_equal(conf_load(comet_conf_items, conf, NULL, err, sizeof err), 0);
    t_conf_set(&conf->tcp_listen, "127.0.0.1:0");
    t_conf_set(&conf->ws_listen, "127.0.0.1:0");
    t_conf_set(&conf->rpc_listen, "127.0.0.1:0");
    t_conf_set(&conf->admin_listen, "127.0.0.1:0");
    t_conf_set(&conf->logic_addrs, "127.0.0.1:1"); /* nothing listens: clients keep retrying */
    conf->workers = 2;
}

/* Descriptors the process holds. */
static int t_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* What makes the start fail, set up right before comet_server_new and undone right after. */
typedef struct t_limit_s {
    void (*set)(struct t_limit_s *l);
    void (*unset)(struct t_limit_s *l);
    int spare; /* descriptors left */
    struct rlimit saved[2];
    int fds[T_FILL_LIMIT];
    int n;
} t_limit_t;

static void t_on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Starts a comet on a fresh loop under limit l (may be NULL) and closes it if it started.
 * Returns whether it started; on failure asserts the error and that the loop is left empty. */
static int t_start(const comet_conf_t *conf, t_limit_t *l, char *err, size_t errlen)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    err[0] = '\0';
    if (l)
        l->set(l);
    comet_server_t *s = comet_server_new(&loop, conf, err, errlen);
    if (l)
        l->unset(l);
    if (s == NULL) {
        assert_true(err[0] != '\0');
    } else {
        int closed = 0;
        comet_server_close(s, t_on_closed, &closed);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_true(closed);
    }
    /* Nothing of the server is left on the loop. */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    return s != NULL;
}

/* --------------------------------------------------------------- threads without stacks */

static void t_no_stack_set(t_limit_t *l)
{
    assert_int_equal(getrlimit(RLIMIT_STACK, &l->saved[0]), 0);
    assert_int_equal(getrlimit(RLIMIT_AS, &l->saved[1]), 0);
    struct rlimit stack = l->saved[0];
    stack.rlim_cur = T_STACK; /* libuv sizes thread stacks by it */
    assert_int_equal(setrlimit(RLIMIT_STACK, &stack), 0);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pages), 1);
    fclose(f);
    struct rlimit as = l->saved[1];
    as.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + T_AS_MARGIN;
    assert_int_equal(setrlimit(RLIMIT_AS, &as), 0);
}

static void t_no_stack_unset(t_limit_t *l)
{
    assert_int_equal(setrlimit(RLIMIT_AS, &l->saved[1]), 0);
    assert_int_equal(setrlimit(RLIMIT_STACK, &l->saved[0]), 0);
}

/* Everything opens, but no worker thread starts: the server closes what it opened, workers
 * included, and says why. */
static void test_thread_start_failure_is_returned(void **state)
{
    comet_conf_t conf;
    t_conf(&conf);
    char err[512];
    /* Process-wide lazy descriptors (libuv's signal pipe, ...) open on the first start. */
    assert_true(t_start(&conf, NULL, err, sizeof err));
    int before = t_open_fds();
    t_limit_t *l = calloc(1, sizeof *l);
    l->set = t_no_stack_set;
    l->unset = t_no_stack_unset;
    assert_false(t_start(&conf, l, err, sizeof err));
    assert_non_null(strstr(err, "cannot start its thread"));
    assert_int_equal(t_open_fds(), before);
    free(l);
    conf_free(comet_conf_items, &conf);
}

/* ---------------------------------------------------------------- descriptors run out */

static void t_fill_set(t_limit_t *l)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &l->saved[0]), 0);
    struct rlimit lim = l->saved[0];
    lim.rlim_cur = T_FILL_LIMIT;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    l->n = 0;
    int fd;
    while (l->n < T_FILL_LIMIT && (fd = dup(0)) >= 0)
        l->fds[l->n++] = fd;
    for (int i = 0; i < l->spare && l->n > 0; i++)
        close(l->fds[--l->n]);
}

static void t_fill_unset(t_limit_t *l)
{
    while (l->n > 0)
        close(l->fds[--l->n]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &l->saved[0]), 0);
}

/* With 0, 1, 2, ... descriptors to spare the start fails at each point that opens one (worker
 * loops, listeners, the RPC and admin listeners), until it succeeds. Descriptors are not counted
 * here: libuv 1.44 leaks its epoll descriptor when uv_loop_init fails past creating it, and
 * libmicrohttpd its listening socket when MHD_start_daemon fails past binding. */
static void test_each_failed_start_leaves_the_loop_empty(void **state)
{
    comet_conf_t conf;
    t_conf(&conf);
    char err[512];
    t_limit_t *l = calloc(1, sizeof *l);
    l->set = t_fill_set;
    l->unset = t_fill_unset;
    int failures = 0;
    while (!t_start(&conf, l, err, sizeof err)) {
        failures++;
        assert_true(++l->spare < 200);
    }
    assert_true(failures > 0);
    free(l);
    conf_free(comet_conf_items, &conf);
}

int main(void)
{
    log_init("comet-test", LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_start_failure_is_returned),
        cmocka_unit_test(test_each_failed_start_leaves_the_loop_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
