/* test_support.h - helpers shared by the unit tests (linked into every one of them): a real
 * redis-server on a free loopback port in a temporary directory, and loop drivers whose waits are
 * bounded by time. Failures are cmocka assertions. */
#ifndef HERALD_TEST_SUPPORT_H
#define HERALD_TEST_SUPPORT_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

/* The cluster secret of the RPC servers and clients a unit test runs in its own process. The
 * macro needs rpc.h where it is used; call it before the test creates any of them. */
#define TEST_RPC_SECRET "unit-test-cluster-secret"
#define test_rpc_configure()                                                                       \
    assert_int_equal(rpc_configure(&(rpc_settings_t){.secret = TEST_RPC_SECRET,                    \
                                                     .secret_len = sizeof(TEST_RPC_SECRET) - 1}),  \
                     0)

/* A free TCP port on 127.0.0.1 (bound, read back, closed). */
int test_free_port(void);

/* Nonzero when something accepts on 127.0.0.1:port. */
int test_port_open(int port);

typedef struct test_redis_s {
    char dir[64]; /* temporary working directory */
    int port;
    pid_t pid; /* 0 when not running */
} test_redis_t;

/* Makes a temporary directory and picks a free port; starts nothing. */
void test_redis_init(test_redis_t *s);

/* Starts redis-server on s->port in s->dir (no persistence; `password` may be NULL) and waits up
 * to 5 s for its port. The server dies with the test process (PR_SET_PDEATHSIG). */
void test_redis_start(test_redis_t *s, const char *password);

/* test_redis_start with extra redis-server arguments (NULL-terminated, or NULL). */
void test_redis_start_args(test_redis_t *s, const char *password, const char *const *extra);

/* SIGKILLs the server and reaps it (a no-op when not running). */
void test_redis_kill(test_redis_t *s);

/* Kills the server and removes its directory. */
void test_redis_deinit(test_redis_t *s);

/* Runs the loop until cond(ctx) holds or ms pass; returns cond(ctx). */
int test_run_until(uv_loop_t *loop, int (*cond)(void *), void *ctx, uint64_t ms);

/* A condition that never holds: test_run_until(loop, test_never, NULL, ms) runs for ms. */
int test_never(void *ctx);

/* Runs the loop until every handle is closed, then asserts it closes. A handle still open after
 * FINISH_LOOP_MS (or open but inactive) fails the test: it is closed first, so a test that failed
 * half-way fails at once instead of hanging until ctest's timeout. */
#define FINISH_LOOP_MS 5000
void test_finish_loop(uv_loop_t *loop);

/* The value of the sample `series` (name and labels as written, e.g.
 * herald_comet_connections{transport="tcp"}) in a Prometheus text exposition, or -1 when no line
 * holds it. */
double test_prom_sample(const char *text, const char *series);

#endif
