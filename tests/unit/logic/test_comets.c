/* logic_comets.c, logic's clients to the comets, on one loop against real RPC servers standing
 * in for comets on 127.0.0.1: a call waits for a client that is still connecting and goes out
 * once it is up; a comet that never comes up (or is not in the registry) ends the call with
 * UV_ENOTCONN after its wait; a comet whose registry address changed is dialled at the new one;
 * closing ends waiting calls with UV_ECANCELED and refuses new ones. The registry is an
 * online aggregate filled by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "herald.pb-c.h"
#include "logic_comets.h"
#include "logic_online.h"
#include "rpc_methods.h"
#include "rpc.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000

typedef struct call_s {
    int done;
    int status;
    int64_t first_mid; /* from the reply: which stand-in answered */
    uint64_t at;       /* uv_now when it ended */
} call_t;

static uv_loop_t loop;

/* A stand-in comet answering RoomMembers with one member whose mid is the server's tag. */
static void on_members(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    (void)msg;
    Herald__RoomMember m = HERALD__ROOM_MEMBER__INIT;
    m.mid = (int64_t)(intptr_t)arg;
    m.conns = 1;
    Herald__RoomMember *members[1] = {&m};
    Herald__RoomMembersReply r = HERALD__ROOM_MEMBERS_REPLY__INIT;
    r.members = members;
    r.n_members = 1;
    r.count = 1;
    rpc_reply(call, &r.base);
}

static const rpc_method_t methods[] = {
    {RPC_COMET_ROOM_MEMBERS, &herald__room_members_req__descriptor, on_members},
};

static rpc_server_t *stand_in(int port, intptr_t tag)
{
    rpc_server_t *srv = rpc_server_new(&loop, methods, 1, (void *)tag);
    assert_int_equal(rpc_server_listen(srv, "127.0.0.1", port), 0);
    return srv;
}

static void on_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    call_t *c = arg;
    c->done++;
    c->status = status;
    c->at = uv_now(&loop);
    if (status == 0) {
        const Herald__RoomMembersReply *r = (const Herald__RoomMembersReply *)reply;
        assert_int_equal(r->n_members, 1);
        c->first_mid = r->members[0]->mid;
    }
}

static int call_done(void *arg)
{
    return ((call_t *)arg)->done != 0;
}

static int start_call(logic_comets_t *cs, const char *id, uint32_t wait_ms, call_t *c)
{
    memset(c, 0, sizeof(*c));
    Herald__RoomMembersReq req = HERALD__ROOM_MEMBERS_REQ__INIT;
    req.room = "live://1";
    req.limit = 10;
    return logic_comets_call(cs, id, RPC_COMET_ROOM_MEMBERS, (const ProtobufCMessage *)&req,
                             &herald__room_members_reply__descriptor, wait_ms, 1000, on_reply, c);
}

/* Comet "comet-a" renewed with its RPC address at port (as a RenewOnline would). */
static void set_addr(logic_online_t *online, int port)
{
    char addr[32];
    registry_entry_t e;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(registry_entry_init(&e, "comet-a", addr, "", "", 1, 0, 1), 0);
    logic_online_renew(online, logic_online_comet_new(&e));
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int is_set(void *arg)
{
    return *(int *)arg != 0;
}

static void test_calls(void **state)
{
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    logic_online_t *online = logic_online_new();
    logic_ctx_t ctx = {.loop = &loop, .online = online};
    int port1 = test_free_port(), port2 = test_free_port();
    set_addr(online, port1);
    logic_comets_t *cs = logic_comets_new(&ctx);
    call_t c;

    /* Nothing listens: the call waits its 300 ms, then UV_ENOTCONN. */
    uint64_t t0 = uv_now(&loop);
    assert_int_equal(start_call(cs, "comet-a", 300, &c), 0);
    assert_true(test_run_until(&loop, call_done, &c, WAIT_MS));
    assert_int_equal(c.status, UV_ENOTCONN);
    assert_true(c.at - t0 >= 300 && c.at - t0 < 1000);

    /* Not in the registry: the same. */
    assert_int_equal(start_call(cs, "comet-z", 100, &c), 0);
    assert_true(test_run_until(&loop, call_done, &c, WAIT_MS));
    assert_int_equal(c.status, UV_ENOTCONN);

    /* The comet comes up while a call waits: the call goes out once the client reconnects. */
    rpc_server_t *srv1 = stand_in(port1, 1);
    assert_int_equal(start_call(cs, "comet-a", WAIT_MS, &c), 0);
    assert_true(test_run_until(&loop, call_done, &c, WAIT_MS));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.first_mid, 1);
    assert_int_equal(c.done, 1);

    /* Connected: the next call goes out at once. */
    assert_int_equal(start_call(cs, "comet-a", 0, &c), 0);
    assert_true(test_run_until(&loop, call_done, &c, WAIT_MS));
    assert_int_equal(c.status, 0);

    /* The comet moved: the registry's new address is dialled. */
    rpc_server_t *srv2 = stand_in(port2, 2);
    set_addr(online, port2);
    assert_int_equal(start_call(cs, "comet-a", WAIT_MS, &c), 0);
    assert_true(test_run_until(&loop, call_done, &c, WAIT_MS));
    assert_int_equal(c.status, 0);
    assert_int_equal(c.first_mid, 2);

    /* Close: a waiting call ends with UV_ECANCELED, and no new call is taken. */
    assert_int_equal(start_call(cs, "comet-z", WAIT_MS, &c), 0);
    int closed = 0;
    logic_comets_close(cs, on_closed, &closed);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.status, UV_ECANCELED);
    assert_int_equal(start_call(cs, "comet-a", WAIT_MS, &c), UV_ECANCELED);
    assert_true(test_run_until(&loop, is_set, &closed, WAIT_MS));
    rpc_server_close(srv1, NULL, NULL);
    rpc_server_close(srv2, NULL, NULL);
    test_finish_loop(&loop);
    logic_online_free(online);
}

static void test_close_unused(void **state)
{
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    logic_online_t *online = logic_online_new();
    logic_ctx_t ctx = {.loop = &loop, .online = online};
    logic_comets_t *cs = logic_comets_new(&ctx);
    int closed = 0;
    logic_comets_close(cs, on_closed, &closed);
    test_finish_loop(&loop);
    assert_int_equal(closed, 1);
    logic_online_free(online);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_close_unused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
