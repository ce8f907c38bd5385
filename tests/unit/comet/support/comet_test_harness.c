/* comet_test_harness.c - the harness's loop thread, comet's RPC service called from the test
 * thread, start and stop (comet_test.h). */
#include "comet_test.h"

#include "comet_drain.h"
#include "metrics.h"
#include "test_support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int harness_get(harness_t *h, const int *field)
{
    uv_mutex_lock(&h->lock);
    int v = *field;
    uv_mutex_unlock(&h->lock);
    return v;
}

int harness_wait(harness_t *h, const int *field, int want)
{
    for (int i = 0; i < T_TIMEOUT_MS / 10; i++) {
        if (harness_get(h, field) >= want)
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* ----------------------------------------------------------------- loop thread plumbing */

static void on_call_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    harness_t *h = arg;
    h->call_status = status;
    h->call_reply = NULL;
    h->call_reply_len = 0;
    if (status == 0) {
        h->call_reply_len = protobuf_c_message_get_packed_size(reply);
        h->call_reply = malloc(h->call_reply_len + 1);
        protobuf_c_message_pack(reply, h->call_reply);
    }
    uv_sem_post(&h->done);
}

static void on_comet_closed(void *arg)
{
    harness_t *h = arg;
    h->comet = NULL; /* freed */
    rpc_client_close(h->push, NULL, NULL);
    if (h->logic)
        rpc_server_close(h->logic, NULL, NULL);
    uv_close((uv_handle_t *)&h->wake, NULL);
}

static void on_burst_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    harness_t *h = arg;
    (void)reply;
    if (status != 0 && h->burst_status == 0)
        h->burst_status = status;
    if (++h->burst_replies == h->burst_n)
        uv_sem_post(&h->done);
}

static void on_wake(uv_async_t *a)
{
    harness_t *h = a->data;
    uv_mutex_lock(&h->lock);
    const ProtobufCMessage *req = h->call_req;
    const ProtobufCMessage *const *burst = h->burst_reqs;
    int stop = h->stop_requested;
    int drain = h->drain_requested;
    harness_tweak_cb reload = h->reload_tweak;
    h->reload_tweak = NULL;
    h->call_req = NULL;
    h->burst_reqs = NULL;
    h->stop_requested = 0;
    h->drain_requested = 0;
    uv_mutex_unlock(&h->lock);
    if (drain) {
        comet_drain_start(h->comet, on_comet_closed, h);
        return;
    }
    if (stop) {
        comet_server_close(h->comet, on_comet_closed, h);
        return;
    }
    if (reload != NULL) {
        reload(&h->conf);
        comet_reload_apply(&h->comet->reload);
        uv_sem_post(&h->done);
        return;
    }
    if (burst != NULL) {
        /* all issued before the loop turns: the client's writer sends them in one write */
        for (size_t i = 0; i < h->burst_n; i++) {
            int rc = rpc_client_call(h->push, h->call_method, burst[i], h->call_desc, T_TIMEOUT_MS,
                                     on_burst_reply, h);
            if (rc != 0)
                on_burst_reply(rc, NULL, h);
        }
        return;
    }
    if (req == NULL)
        return;
    int rc =
        rpc_client_call(h->push, h->call_method, req, h->call_desc, T_TIMEOUT_MS, on_call_reply, h);
    if (rc != 0) {
        h->call_status = rc;
        uv_sem_post(&h->done);
    }
}

static void harness_loop(void *arg)
{
    harness_t *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
}

int harness_call(harness_t *h, uint16_t method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply)
{
    for (int tries = 0; tries < 300; tries++) {
        uv_mutex_lock(&h->lock);
        h->call_method = method;
        h->call_desc = reply_desc;
        h->call_req = req;
        uv_mutex_unlock(&h->lock);
        uv_async_send(&h->wake);
        uv_sem_wait(&h->done);
        if (h->call_status != UV_ENOTCONN)
            break;
        usleep(10 * 1000);
    }
    if (h->call_status == 0) {
        *reply = protobuf_c_message_unpack(reply_desc, NULL, h->call_reply_len, h->call_reply);
        free(h->call_reply);
        h->call_reply = NULL;
    }
    return h->call_status;
}

void harness_reload(harness_t *h, harness_tweak_cb tweak)
{
    uv_mutex_lock(&h->lock);
    h->reload_tweak = tweak;
    uv_mutex_unlock(&h->lock);
    uv_async_send(&h->wake);
    uv_sem_wait(&h->done);
}

int harness_call_burst(harness_t *h, uint16_t method, const ProtobufCMessage *const *reqs, size_t n,
                       const ProtobufCMessageDescriptor *reply_desc)
{
    uv_mutex_lock(&h->lock);
    h->call_method = method;
    h->call_desc = reply_desc;
    h->burst_reqs = reqs;
    h->burst_n = n;
    h->burst_replies = 0;
    h->burst_status = 0;
    uv_mutex_unlock(&h->lock);
    uv_async_send(&h->wake);
    uv_sem_wait(&h->done);
    return h->burst_status;
}

static int logic_clients_in(void *arg)
{
    harness_t *h = arg;
    rpc_server_stats_t st;

    rpc_server_stats(h->logic, &st);
    return st.conns - st.handshaking >= (uint64_t)h->comet->nworkers + 1;
}

static void conf_set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

harness_t *harness_start_with(int workers, int logic_up, harness_tweak_cb tweak)
{
    harness_t *h = calloc(1, sizeof *h);
    signal(SIGPIPE, SIG_IGN); /* writes to connections comet closed on purpose */
    log_init("comet-test", LOG_WARN);
    test_rpc_configure();
    assert_int_equal(uv_loop_init(&h->loop), 0);
    uv_mutex_init(&h->lock);
    uv_sem_init(&h->done, 0);
    uv_async_init(&h->loop, &h->wake, on_wake);
    h->wake.data = h;
    char err[256];
    assert_int_equal(conf_load(comet_conf_items, &h->conf, NULL, err, sizeof err), 0);
    conf_set(&h->conf.tcp_listen, "127.0.0.1:0");
    conf_set(&h->conf.ws_listen, "127.0.0.1:0");
    conf_set(&h->conf.rpc_listen, "127.0.0.1:0");
    conf_set(&h->conf.admin_listen, "127.0.0.1:0");
    conf_set(&h->conf.server_id, "comet-test");
    char addr[64];
    if (logic_up) {
        h->logic = rpc_server_new(&h->loop, t_logic_methods, t_logic_methods_count, h);
        assert_int_equal(rpc_server_listen(h->logic, "127.0.0.1", 0), 0);
        h->logic_port = rpc_server_port(h->logic);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", h->logic_port);
    } else {
        snprintf(addr, sizeof addr, "127.0.0.1:1");
    }
    conf_set(&h->conf.logic_addrs, addr);
    h->conf.workers = workers;
    h->conf.renew_online_interval = 200;
    if (tweak)
        tweak(&h->conf);
    h->comet = comet_server_new(&h->loop, &h->conf, err, sizeof err);
    if (h->comet == NULL)
        fail_msg("comet_server_new: %s", err);
    h->push = rpc_client_new(&h->loop, "test push", "127.0.0.1", h->comet->rpc_port);
    /* A client that authenticates before its worker's logic client has finished the RPC
     * handshake is refused ("logic unavailable"): tests start once every one of comet's logic
     * clients (the main thread's and each worker's) is through it. */
    if (logic_up)
        assert_true(test_run_until(&h->loop, logic_clients_in, h, T_TIMEOUT_MS));
    assert_int_equal(uv_thread_create(&h->thread, harness_loop, h), 0);
    return h;
}

harness_t *harness_start(int workers, int logic_up)
{
    return harness_start_with(workers, logic_up, NULL);
}

void harness_request_stop(harness_t *h)
{
    uv_mutex_lock(&h->lock);
    h->stop_requested = 1;
    uv_mutex_unlock(&h->lock);
    uv_async_send(&h->wake);
}

void harness_request_drain(harness_t *h)
{
    uv_mutex_lock(&h->lock);
    h->drain_requested = 1;
    uv_mutex_unlock(&h->lock);
    uv_async_send(&h->wake);
}

void harness_join(harness_t *h)
{
    uv_thread_join(&h->thread);
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

void harness_free(harness_t *h)
{
    conf_free(comet_conf_items, &h->conf);
    uv_sem_destroy(&h->done);
    uv_mutex_destroy(&h->lock);
    free(h);
}

void harness_stop(harness_t *h)
{
    harness_request_stop(h);
    harness_join(h);
    harness_free(h);
}

int t_push_keys(harness_t *h, const char *key, const uint64_t *seq, int32_t op, const char *body)
{
    Herald__Proto p = HERALD__PROTO__INIT;
    p.ver = 1;
    p.op = op;
    p.body.data = (uint8_t *)body;
    p.body.len = strlen(body);
    p.accepted_us = metrics_wall_us(); /* as job copies logic's accept time */
    Herald__PushKeysReq req = HERALD__PUSH_KEYS_REQ__INIT;
    char *keys[1] = {(char *)key};
    req.n_keys = 1;
    req.keys = keys;
    if (seq) {
        req.n_seqs = 1;
        req.seqs = (uint64_t *)seq;
    }
    req.proto = &p;
    ProtobufCMessage *reply = NULL;
    assert_int_equal(harness_call(h, RPC_COMET_PUSH_KEYS, &req.base,
                                  &herald__push_keys_reply__descriptor, &reply),
                     0);
    int delivered = ((Herald__PushKeysReply *)reply)->delivered;
    protobuf_c_message_free_unpacked(reply, NULL);
    return delivered;
}

int t_push_room(harness_t *h, const char *room, int n, int32_t op, const char *body)
{
    Herald__Proto protos[8];
    Herald__Proto *pp[8];
    for (int i = 0; i < n; i++) {
        herald__proto__init(&protos[i]);
        protos[i].ver = 1;
        protos[i].op = op;
        protos[i].body.data = (uint8_t *)body;
        protos[i].body.len = strlen(body);
        protos[i].accepted_us = metrics_wall_us();
        pp[i] = &protos[i];
    }
    Herald__BroadcastRoomReq req = HERALD__BROADCAST_ROOM_REQ__INIT;
    req.room_id = (char *)room;
    req.n_protos = (size_t)n;
    req.protos = pp;
    ProtobufCMessage *reply = NULL;
    assert_int_equal(harness_call(h, RPC_COMET_BROADCAST_ROOM, &req.base,
                                  &herald__broadcast_room_reply__descriptor, &reply),
                     0);
    int delivered = ((Herald__BroadcastRoomReply *)reply)->delivered;
    protobuf_c_message_free_unpacked(reply, NULL);
    return delivered;
}

long long t_metric(harness_t *h, const char *name)
{
    char body[4096];
    assert_int_equal(t_http_get(h->comet->admin_port, "/metrics", body, sizeof body), 200);
    json_t *m = json_loads(body, 0, NULL);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "code")), 0);
    long long v = json_integer_value(json_object_get(json_object_get(m, "data"), name));
    json_decref(m);
    return v;
}
