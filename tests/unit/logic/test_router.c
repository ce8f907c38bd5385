/* test_router.c - logic's router set as the ring changes (logic_router_set): routers that stay
 * keep their client, a router that joins takes only mids from the others (and gives them back
 * when it leaves), the ring's identity depends on the set only, an empty ring fails calls, and a
 * bad set changes nothing. The clients point at loopback ports nobody listens on. */
#include "logic_router.h"

#include "herald_err.h"
#include "rpc.h"
#include "rpc_methods.h"
#include "test_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NMIDS 20000

static const char *const two[] = {"127.0.0.1:1", "127.0.0.1:2"};
static const char *const two_reversed[] = {"127.0.0.1:2", "127.0.0.1:1"};
static const char *const three[] = {"127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"};

/* The owner's name of every mid in 1..NMIDS. */
static const char **owners(const logic_router_t *r)
{
    const char **o = calloc(NMIDS + 1, sizeof(*o));
    for (int64_t mid = 1; mid <= NMIDS; mid++)
        o[mid] = logic_router_addr(r, logic_router_owner(r, mid));
    return o;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

static int is_set(void *arg)
{
    return *(int *)arg;
}

static void test_ring_changes(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char err[128];
    logic_router_t *r = logic_router_new(&loop, two, 2, 1000, err, sizeof(err));
    assert_non_null(r);
    uint64_t id2 = logic_router_ring_id(r);

    /* The same set in another order is the same ring. */
    assert_int_equal(logic_router_set(r, two_reversed, 2), 0);
    assert_true(logic_router_ring_id(r) == id2);
    assert_string_equal(logic_router_addr(r, 0), "127.0.0.1:1");
    const char **before = owners(r);

    /* A router joins: it takes about a third, and no mid moves between the two others. */
    assert_int_equal(logic_router_set(r, three, 3), 1);
    assert_true(logic_router_ring_id(r) != id2);
    assert_int_equal(logic_router_count(r), 3);
    assert_int_equal(logic_router_find(r, "127.0.0.1:3"), 1);
    assert_int_equal(logic_router_find(r, "127.0.0.1:9"), -1);
    size_t moved = 0;
    for (int64_t mid = 1; mid <= NMIDS; mid++) {
        const char *now = logic_router_addr(r, logic_router_owner(r, mid));
        if (strcmp(now, before[mid]) != 0) {
            assert_string_equal(now, "127.0.0.1:3");
            moved++;
        }
    }
    assert_true(moved > NMIDS / 4 && moved < NMIDS * 5 / 12);

    /* A bad set (a router twice, a name that is not host:port) changes nothing. */
    static const char *const dup[] = {"127.0.0.1:1", "127.0.0.1:1"};
    static const char *const bad[] = {"nohost"};
    assert_int_equal(logic_router_set(r, dup, 2), HERALD_EINVAL);
    assert_int_equal(logic_router_set(r, bad, 1), HERALD_EINVAL);
    assert_int_equal(logic_router_count(r), 3);

    /* It leaves: every mid is back on its owner of before. */
    assert_int_equal(logic_router_set(r, two, 2), 1);
    assert_true(logic_router_ring_id(r) == id2);
    for (int64_t mid = 1; mid <= NMIDS; mid++)
        assert_string_equal(logic_router_addr(r, logic_router_owner(r, mid)), before[mid]);
    free(before);

    /* No router at all: calls fail at once, without a callback. */
    assert_int_equal(logic_router_set(r, NULL, 0), 1);
    assert_int_equal(logic_router_count(r), 0);
    int64_t mid = 7;
    assert_int_equal(logic_router_get(r, &mid, 1, NULL, NULL), HERALD_EUNAVAIL);
    Herald__RouterInfoReq req = HERALD__ROUTER_INFO_REQ__INIT;
    assert_int_equal(logic_router_call(r, 7, RPC_ROUTER_INFO, (const ProtobufCMessage *)&req,
                                       &herald__router_info_reply__descriptor, NULL, NULL),
                     HERALD_EUNAVAIL);

    int closed = 0;
    logic_router_close(r, on_closed, &closed);
    assert_true(test_run_until(&loop, is_set, &closed, 5000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
