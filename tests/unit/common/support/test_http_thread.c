/* test_http_thread.c - see test_http_thread.h. */
#include "test_http_thread.h"

#include <time.h>

static void *client_main(void *arg)
{
    test_client_t *cl = arg;

    cl->scenario(cl);
    uv_async_send(&cl->async);
    return NULL;
}

int test_client_start(test_client_t *cl)
{
    cl->failed = NULL;
    return pthread_create(&cl->thread, NULL, client_main, cl);
}

uint64_t test_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
