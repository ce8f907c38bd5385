/* test_http_thread.h - the client side of the HTTP adapter's tests (test_http.c, test_https.c):
 * a scenario runs on a thread of its own with blocking sockets while the test's loop serves it.
 * cmocka asserts only work on the test thread, so a scenario records its first failed check
 * (TEST_CHECK) and the test asserts it after joining the thread. */
#ifndef HERALD_TEST_HTTP_THREAD_H
#define HERALD_TEST_HTTP_THREAD_H

#include <pthread.h>
#include <stdint.h>
#include <uv.h>

typedef struct test_client_s test_client_t;
typedef void (*test_scenario_fn)(test_client_t *cl);

/* Owned by the test; async is initialised on the test's loop by the test. */
struct test_client_s {
    int port;
    test_scenario_fn scenario;
    const char *failed; /* first failed check */
    uv_async_t async;   /* sent when the scenario is over */
    pthread_t thread;
};

/* Records the first failed condition of a scenario. */
#define CHECK(cl, cond)                                                                            \
    do {                                                                                           \
        if (!(cond) && (cl)->failed == NULL)                                                       \
            (cl)->failed = #cond;                                                                  \
    } while (0)

/* Starts cl->scenario on a new thread (cl->port, cl->scenario set); it sends cl->async when it
 * is over. Returns pthread_create's result. */
int test_client_start(test_client_t *cl);

/* A monotonic clock in ms. */
uint64_t test_now_ms(void);

#endif
