/* test_rpc.c - the Router service's handlers behind a real rpc server on loopback, called by a
 * real rpc client: Put (with an eviction), a batched Get, Count, List, Renew, Del, DelServer,
 * PutBatch (a comet's replay) and Info (the epoch), and rejected requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "herald.pb-c.h"
#include "herald_err.h"
#include "router_rpc.h"
#include "rpc.h"
#include "test_support.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fake_now;

static uint64_t test_now_ms(void)
{
    return fake_now;
}

typedef struct fixture_s {
    uv_loop_t loop;
    router_table_t *table;
    router_rpc_t rpc;
    rpc_server_t *server;
    rpc_client_t *client;
} fixture_t;

/* The outcome of one call: the reply re-unpacked into owned memory. */
typedef struct result_s {
    int done;
    int status;
    ProtobufCMessage *reply;
    const ProtobufCMessageDescriptor *desc;
} result_t;

static void on_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    result_t *r = arg;
    r->done = 1;
    r->status = status;
    if (status == 0) {
        size_t len = protobuf_c_message_get_packed_size(reply);
        uint8_t *buf = malloc(len ? len : 1);
        protobuf_c_message_pack(reply, buf);
        r->reply = protobuf_c_message_unpack(r->desc, NULL, len, buf);
        free(buf);
    }
}

/* Runs the loop until flag is set or 5 s passed. */
static void run_until(uv_loop_t *loop, const int *flag)
{
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + 5000;
    while (!*flag && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static result_t call(fixture_t *f, uint16_t method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *reply_desc)
{
    result_t r = {0, 0, NULL, reply_desc};
    assert_int_equal(rpc_client_call(f->client, method, req, reply_desc, 3000, on_reply, &r), 0);
    run_until(&f->loop, &r.done);
    return r;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    size_t n;
    const rpc_method_t *methods = router_rpc_methods(&n);
    fake_now = 1000;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->table = router_table_new(2, ROUTER_OVERFLOW_KICK_OLDEST, 60000);
    f->rpc.table = f->table;
    f->rpc.now_ms = test_now_ms;
    f->server = rpc_server_new(&f->loop, methods, n, &f->rpc);
    assert_int_equal(rpc_server_listen(f->server, "127.0.0.1", 0), 0);
    int port = rpc_server_port(f->server);
    assert_true(port > 0);
    f->client = rpc_client_new(&f->loop, "router test", "127.0.0.1", port);

    /* the client's connect and retry handles keep the loop turning until it is up */
    uv_update_time(&f->loop);
    uint64_t deadline = uv_now(&f->loop) + 5000;
    while (!rpc_client_connected(f->client) && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(rpc_client_connected(f->client));
    *state = f;
    return 0;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    int closed = 0;
    rpc_client_close(f->client, on_closed, &closed);
    rpc_server_close(f->server, on_closed, &closed);
    uv_update_time(&f->loop);
    uint64_t deadline = uv_now(&f->loop) + 5000;
    while (closed < 2 && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(closed, 2);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    router_table_free(f->table);
    free(f);
    return 0;
}

static result_t put(fixture_t *f, int64_t mid, const char *key, const char *server)
{
    Herald__Placement p = HERALD__PLACEMENT__INIT;
    Herald__PutReq req = HERALD__PUT_REQ__INIT;
    p.mid = mid;
    p.key = (char *)key;
    p.server = (char *)server;
    req.placement = &p;
    return call(f, RPC_ROUTER_PUT, (const ProtobufCMessage *)&req, &herald__put_reply__descriptor);
}

static Herald__PutReply *put_ok(fixture_t *f, int64_t mid, const char *key, const char *server)
{
    result_t r = put(f, mid, key, server);
    assert_int_equal(r.status, 0);
    assert_non_null(r.reply);
    return (Herald__PutReply *)r.reply;
}

static void test_put_then_get_batched(void **state)
{
    fixture_t *f = *state;
    Herald__PutReply *pr;
    pr = put_ok(f, 1, "k1", "comet-a");
    assert_int_equal(pr->code, 0);
    assert_int_equal(pr->n_evicted, 0);
    herald__put_reply__free_unpacked(pr, NULL);
    fake_now++;
    herald__put_reply__free_unpacked(put_ok(f, 1, "k2", "comet-b"), NULL);
    herald__put_reply__free_unpacked(put_ok(f, 2, "k3", "comet-a"), NULL);
    herald__put_reply__free_unpacked(put_ok(f, 3, "k4", "comet-b"), NULL);
    /* a third connection for mid 1 (limit 2, kick-oldest): k1 comes back to be kicked */
    pr = put_ok(f, 1, "k5", "comet-c");
    assert_int_equal(pr->code, 0);
    assert_int_equal(pr->n_evicted, 1);
    assert_int_equal(pr->evicted[0]->mid, 1);
    assert_string_equal(pr->evicted[0]->key, "k1");
    assert_string_equal(pr->evicted[0]->server, "comet-a");
    herald__put_reply__free_unpacked(pr, NULL);

    /* one Get for several users, one of them unknown */
    int64_t mids[] = {3, 99, 1, 2};
    Herald__GetReq greq = HERALD__GET_REQ__INIT;
    greq.mids = mids;
    greq.n_mids = 4;
    result_t r =
        call(f, RPC_ROUTER_GET, (const ProtobufCMessage *)&greq, &herald__get_reply__descriptor);
    assert_int_equal(r.status, 0);
    Herald__GetReply *gr = (Herald__GetReply *)r.reply;
    assert_int_equal(gr->n_placements, 4);
    const struct {
        int64_t mid;
        const char *key, *server;
    } want[] = {
        {3, "k4", "comet-b"}, {1, "k2", "comet-b"}, {1, "k5", "comet-c"}, {2, "k3", "comet-a"}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(gr->placements[i]->mid, want[i].mid);
        assert_string_equal(gr->placements[i]->key, want[i].key);
        assert_string_equal(gr->placements[i]->server, want[i].server);
    }
    herald__get_reply__free_unpacked(gr, NULL);

    Herald__CountReq creq = HERALD__COUNT_REQ__INIT;
    r = call(f, RPC_ROUTER_COUNT, (const ProtobufCMessage *)&creq,
             &herald__count_reply__descriptor);
    assert_int_equal(r.status, 0);
    assert_int_equal(((Herald__CountReply *)r.reply)->users, 3);
    assert_int_equal(((Herald__CountReply *)r.reply)->conns, 4);
    herald__count_reply__free_unpacked((Herald__CountReply *)r.reply, NULL);
    assert_int_equal(f->rpc.stats.puts, 5);
    assert_int_equal(f->rpc.stats.evicted, 1);
    assert_int_equal(f->rpc.stats.gets, 1);
}

static void test_list_renew_del(void **state)
{
    fixture_t *f = *state;
    for (int64_t mid = 1; mid <= 5; mid++)
        herald__put_reply__free_unpacked(put_ok(f, mid * 10, "k", "c1"), NULL);

    Herald__ListReq lreq = HERALD__LIST_REQ__INIT;
    lreq.limit = 3;
    result_t r =
        call(f, RPC_ROUTER_LIST, (const ProtobufCMessage *)&lreq, &herald__list_reply__descriptor);
    Herald__ListReply *lr = (Herald__ListReply *)r.reply;
    assert_int_equal(r.status, 0);
    assert_int_equal(lr->n_mids, 3);
    assert_int_equal(lr->mids[0], 10);
    assert_int_equal(lr->mids[2], 30);
    assert_int_equal(lr->next_cursor, 30);
    lreq.cursor = lr->next_cursor;
    herald__list_reply__free_unpacked(lr, NULL);
    r = call(f, RPC_ROUTER_LIST, (const ProtobufCMessage *)&lreq, &herald__list_reply__descriptor);
    lr = (Herald__ListReply *)r.reply;
    assert_int_equal(lr->n_mids, 2);
    assert_int_equal(lr->mids[1], 50);
    assert_int_equal(lr->next_cursor, 0);
    herald__list_reply__free_unpacked(lr, NULL);

    Herald__Placement p = HERALD__PLACEMENT__INIT;
    p.mid = 20;
    p.key = "k";
    p.server = "c1";
    Herald__RenewReq rreq = HERALD__RENEW_REQ__INIT;
    rreq.placement = &p;
    r = call(f, RPC_ROUTER_RENEW, (const ProtobufCMessage *)&rreq,
             &herald__renew_reply__descriptor);
    assert_int_equal(((Herald__RenewReply *)r.reply)->has, 1);
    herald__renew_reply__free_unpacked((Herald__RenewReply *)r.reply, NULL);

    Herald__DelReq dreq = HERALD__DEL_REQ__INIT;
    dreq.placement = &p;
    r = call(f, RPC_ROUTER_DEL, (const ProtobufCMessage *)&dreq, &herald__del_reply__descriptor);
    assert_int_equal(((Herald__DelReply *)r.reply)->has, 1);
    herald__del_reply__free_unpacked((Herald__DelReply *)r.reply, NULL);
    r = call(f, RPC_ROUTER_RENEW, (const ProtobufCMessage *)&rreq,
             &herald__renew_reply__descriptor);
    assert_int_equal(((Herald__RenewReply *)r.reply)->has, 0);
    herald__renew_reply__free_unpacked((Herald__RenewReply *)r.reply, NULL);

    Herald__DelServerReq sreq = HERALD__DEL_SERVER_REQ__INIT;
    sreq.server = "c1";
    r = call(f, RPC_ROUTER_DEL_SERVER, (const ProtobufCMessage *)&sreq,
             &herald__del_server_reply__descriptor);
    assert_int_equal(((Herald__DelServerReply *)r.reply)->removed, 4);
    herald__del_server_reply__free_unpacked((Herald__DelServerReply *)r.reply, NULL);
    assert_int_equal(router_table_users(f->table), 0);
}

static void test_rejected(void **state)
{
    fixture_t *f = *state;
    /* no placement at all */
    Herald__PutReq req = HERALD__PUT_REQ__INIT;
    result_t r =
        call(f, RPC_ROUTER_PUT, (const ProtobufCMessage *)&req, &herald__put_reply__descriptor);
    assert_int_equal(r.status, HERALD_EINVAL);
    /* empty server, over-long key */
    r = put(f, 1, "k", "");
    assert_int_equal(r.status, HERALD_EINVAL);
    char long_key[ROUTER_KEY_MAX + 2];
    memset(long_key, 'x', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    r = put(f, 1, long_key, "c");
    assert_int_equal(r.status, HERALD_EINVAL);
    Herald__DelServerReq sreq = HERALD__DEL_SERVER_REQ__INIT;
    r = call(f, RPC_ROUTER_DEL_SERVER, (const ProtobufCMessage *)&sreq,
             &herald__del_server_reply__descriptor);
    assert_int_equal(r.status, HERALD_EINVAL);
    assert_int_equal(router_table_users(f->table), 0);

    /* reject-new answers with a code in the reply, not an RPC error */
    router_table_t *strict = router_table_new(1, ROUTER_OVERFLOW_REJECT_NEW, 60000);
    f->rpc.table = strict;
    herald__put_reply__free_unpacked(put_ok(f, 7, "a", "c"), NULL);
    Herald__PutReply *pr = put_ok(f, 7, "b", "c");
    assert_int_equal(pr->code, HERALD_EOVERFLOW);
    assert_int_equal(pr->n_evicted, 0);
    herald__put_reply__free_unpacked(pr, NULL);
    assert_int_equal(f->rpc.stats.rejected, 1);
    f->rpc.table = f->table;
    router_table_free(strict);
}

/* PutBatch puts every placement (a key already held moves, evictions are not returned) and
 * answers the router's epoch, which Info answers too; a batch with one invalid placement or
 * over RPC_REPLAY_BATCH_MAX puts nothing. */
static void test_put_batch_and_info(void **state)
{
    fixture_t *f = *state;
    f->rpc.epoch = 0x1234abcd5678ef90ULL;
    Herald__RouterInfoReq ireq = HERALD__ROUTER_INFO_REQ__INIT;
    result_t r = call(f, RPC_ROUTER_INFO, (const ProtobufCMessage *)&ireq,
                      &herald__router_info_reply__descriptor);
    assert_int_equal(r.status, 0);
    assert_true(((Herald__RouterInfoReply *)r.reply)->epoch == 0x1234abcd5678ef90ULL);
    protobuf_c_message_free_unpacked(r.reply, NULL);

    herald__put_reply__free_unpacked(put_ok(f, 5, "k5a", "comet-old"), NULL);
    Herald__Placement items[4];
    Herald__Placement *ptrs[4];
    static const struct {
        int64_t mid;
        const char *key;
    } want[4] = {{5, "k5a"}, {5, "k5b"}, {6, "k6"}, {7, "k7"}};
    for (int i = 0; i < 4; i++) {
        herald__placement__init(&items[i]);
        items[i].mid = want[i].mid;
        items[i].key = (char *)want[i].key;
        items[i].server = "comet-1";
        ptrs[i] = &items[i];
    }
    Herald__PutBatchReq req = HERALD__PUT_BATCH_REQ__INIT;
    req.placements = ptrs;
    req.n_placements = 4;
    r = call(f, RPC_ROUTER_PUT_BATCH, (const ProtobufCMessage *)&req,
             &herald__put_batch_reply__descriptor);
    assert_int_equal(r.status, 0);
    Herald__PutBatchReply *br = (Herald__PutBatchReply *)r.reply;
    assert_int_equal(br->put, 4);
    assert_true(br->epoch == 0x1234abcd5678ef90ULL);
    protobuf_c_message_free_unpacked(r.reply, NULL);
    assert_int_equal(router_table_users(f->table), 3);
    assert_int_equal(router_table_conns(f->table), 4);
    assert_int_equal(f->rpc.stats.put_batches, 1);
    assert_int_equal(f->rpc.stats.batch_puts, 4);

    /* k5a moved to comet-1: a Del naming its old comet leaves it */
    Herald__Placement old = HERALD__PLACEMENT__INIT;
    old.mid = 5;
    old.key = "k5a";
    old.server = "comet-old";
    Herald__DelReq dreq = HERALD__DEL_REQ__INIT;
    dreq.placement = &old;
    r = call(f, RPC_ROUTER_DEL, (const ProtobufCMessage *)&dreq, &herald__del_reply__descriptor);
    assert_int_equal(r.status, 0);
    assert_false(((Herald__DelReply *)r.reply)->has);
    protobuf_c_message_free_unpacked(r.reply, NULL);

    /* one placement without a server: nothing of the batch is put */
    items[3].mid = 8;
    items[3].key = "k8";
    items[3].server = "";
    r = call(f, RPC_ROUTER_PUT_BATCH, (const ProtobufCMessage *)&req,
             &herald__put_batch_reply__descriptor);
    assert_int_equal(r.status, HERALD_EINVAL);
    assert_int_equal(router_table_users(f->table), 3);

    /* over the bound */
    Herald__Placement **many = calloc(RPC_REPLAY_BATCH_MAX + 1, sizeof(*many));
    for (size_t i = 0; i <= RPC_REPLAY_BATCH_MAX; i++)
        many[i] = &items[0];
    req.placements = many;
    req.n_placements = RPC_REPLAY_BATCH_MAX + 1;
    r = call(f, RPC_ROUTER_PUT_BATCH, (const ProtobufCMessage *)&req,
             &herald__put_batch_reply__descriptor);
    assert_int_equal(r.status, HERALD_EINVAL);
    free(many);
    assert_int_equal(f->rpc.stats.put_batches, 1);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_then_get_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_renew_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_batch_and_info, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
