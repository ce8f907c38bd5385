/* test_rpc_trust.c - internal RPC refuses strangers (docs/security.md "Internal RPC"), with real
 * daemons: a Broadcast to comet's RPC port from a peer with no secret, a wrong secret or no
 * handshake at all reaches no client, while the same Broadcast with the cluster's secret does; a
 * forged RenewOnline does not register a fake comet with logic; router answers only the right
 * secret; each daemon counts the refusals in /metrics. The tests run in order on one cluster
 * (1 comet, 1 router).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cluster.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "rpc.h"
#include "rpc_auth.h"
#include "rpc_frame.h"
#include "rpc_methods.h"

#define OP 1000
#define WRONG_SECRET "not-the-cluster-secret-at-all"

static cluster_t *g_c;

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ one call, as a peer */

typedef struct call_s {
    int done;
    int status;
} call_t;

static void on_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    call_t *c = arg;
    (void)reply;
    c->status = status;
    c->done = 1;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Calls `method` on 127.0.0.1:port from an rpc_client that knows `secret` (NULL: none). Returns
 * the call's status, or UV_ENOTCONN when the client never got through the handshake (1.5 s). */
static int rpc_call_as(const char *secret, int port, uint16_t method, const ProtobufCMessage *req,
                       const ProtobufCMessageDescriptor *reply_desc)
{
    uv_loop_t loop;
    call_t call = {0};
    int closed = 0;
    rpc_settings_t set = {.secret = secret, .secret_len = secret ? strlen(secret) : 0};

    assert_int_equal(rpc_configure(&set), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    rpc_client_t *cl = rpc_client_new(&loop, "test peer", "127.0.0.1", port);
    for (int i = 0; i < 150 && !rpc_client_connected(cl); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10 * 1000);
    }
    call.status = UV_ENOTCONN;
    if (rpc_client_connected(cl) &&
        rpc_client_call(cl, method, req, reply_desc, 3000, on_reply, &call) == 0) {
        while (!call.done)
            uv_run(&loop, UV_RUN_ONCE);
    }
    rpc_client_close(cl, on_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(uv_loop_close(&loop), 0);
    return call.status;
}

/* Sends `req` as an RPC request frame right after connecting, without the handshake, on a
 * blocking socket. Returns 1 when the daemon hung up without answering (all it sent first is
 * its 36-byte challenge), 0 otherwise. */
static int raw_forge(int port, uint16_t method, const ProtobufCMessage *req)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 3};
    uint8_t in[256];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    rpc_frame_out_t *f = rpc_frame_out_new(method, RPC_FLAG_REQUEST, 1, req);
    assert_int_equal(send(fd, f->data, f->size, MSG_NOSIGNAL), (ssize_t)f->size);
    free(f);
    while ((n = recv(fd, in + got, sizeof(in) - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    return n == 0 && got == RPC_AUTH_CHALLENGE_LEN && memcmp(in, "HRA1", 4) == 0;
}

static long long metric(int port, const char *path, const char *name)
{
    long long v = -1;
    assert_true(cluster_metric(port, path, name, &v));
    return v;
}

/* ------------------------------------------------------------------------------- tests */

static void test_comet_refuses_forged_broadcast(void **state)
{
    (void)state;
    int port = cluster_rpc_port(g_c, CLUSTER_COMET, 0);
    int admin = cluster_comet_admin_port(g_c, 0);
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 4242, "live://trust", OP, NULL);
    Herald__Proto p = HERALD__PROTO__INIT;
    Herald__BroadcastReq req = HERALD__BROADCAST_REQ__INIT;
    long long failed0 = metric(admin, "/metrics", "rpc_auth_failed");

    p.ver = 1;
    p.op = OP;
    p.body = (ProtobufCBinaryData){9, (uint8_t *)"forged!!!"};
    req.proto = &p;
    assert_int_equal(rpc_call_as(WRONG_SECRET, port, RPC_COMET_BROADCAST,
                                 (const ProtobufCMessage *)&req,
                                 &herald__broadcast_reply__descriptor),
                     UV_ENOTCONN);
    assert_int_equal(rpc_call_as(NULL, port, RPC_COMET_BROADCAST, (const ProtobufCMessage *)&req,
                                 &herald__broadcast_reply__descriptor),
                     UV_ENOTCONN);
    assert_true(raw_forge(port, RPC_COMET_BROADCAST, (const ProtobufCMessage *)&req));
    cluster_expect_silence(cl, "forged broadcasts", 500);
    /* The wrong secret (at least once) and the raw frame; the secret-less client never dials. */
    assert_true(metric(admin, "/metrics", "rpc_auth_failed") >= failed0 + 2);

    /* The same call with the cluster's secret is delivered: the refusals above were the
     * secret's doing. */
    p.body = (ProtobufCBinaryData){7, (uint8_t *)"genuine"};
    assert_int_equal(rpc_call_as(cluster_secret(g_c), port, RPC_COMET_BROADCAST,
                                 (const ProtobufCMessage *)&req,
                                 &herald__broadcast_reply__descriptor),
                     0);
    cluster_expect_packet(cl, "genuine broadcast", OP, CLUSTER_ANY_SEQ, "genuine", 3000);
    client_free(cl);
}

/* Whether logic lists a comet named id in GET /goim/nodes/instances. */
static int logic_lists(const char *id)
{
    json_t *j = NULL;
    int st = cluster_http(g_c, "GET", "/goim/nodes/instances", NULL, &j);
    char *text = json_dumps(j, 0);
    int found = text != NULL && strstr(text, id) != NULL;

    assert_int_equal(st, 200);
    free(text);
    json_decref(j);
    return found;
}

static void test_logic_refuses_forged_renew_online(void **state)
{
    (void)state;
    int port = cluster_rpc_port(g_c, CLUSTER_LOGIC, 0);
    int http = cluster_logic_http_port(g_c);
    Herald__RenewOnlineReq req = HERALD__RENEW_ONLINE_REQ__INIT;
    long long failed0 = metric(http, "/metrics", "rpc_auth_failed");

    req.server = "fake-comet";
    req.rpc_addr = "127.0.0.1:1";
    req.tcp_addr = "127.0.0.1:2";
    req.ws_addr = "127.0.0.1:3";
    req.weight = 1000000;
    assert_int_equal(rpc_call_as(WRONG_SECRET, port, RPC_LOGIC_RENEW_ONLINE,
                                 (const ProtobufCMessage *)&req,
                                 &herald__renew_online_reply__descriptor),
                     UV_ENOTCONN);
    assert_true(raw_forge(port, RPC_LOGIC_RENEW_ONLINE, (const ProtobufCMessage *)&req));
    /* The registry reload runs every 500 ms here: give it two rounds. */
    usleep(1200 * 1000);
    assert_false(logic_lists("fake-comet"));
    assert_true(logic_lists("comet-0"));
    assert_true(metric(http, "/metrics", "rpc_auth_failed") >= failed0 + 2);
}

static void test_router_answers_only_the_secret(void **state)
{
    (void)state;
    int port = cluster_rpc_port(g_c, CLUSTER_ROUTER, 0);
    int admin = cluster_router_admin_port(g_c, 0);
    Herald__GetReq req = HERALD__GET_REQ__INIT;
    int64_t mid = 4242;
    long long failed0 = metric(admin, "/metrics", "rpc_auth_failed");

    req.n_mids = 1;
    req.mids = &mid;
    assert_int_equal(rpc_call_as(WRONG_SECRET, port, RPC_ROUTER_GET, (const ProtobufCMessage *)&req,
                                 &herald__get_reply__descriptor),
                     UV_ENOTCONN);
    assert_true(raw_forge(port, RPC_ROUTER_GET, (const ProtobufCMessage *)&req));
    assert_true(metric(admin, "/metrics", "rpc_auth_failed") >= failed0 + 2);
    assert_int_equal(rpc_call_as(cluster_secret(g_c), port, RPC_ROUTER_GET,
                                 (const ProtobufCMessage *)&req, &herald__get_reply__descriptor),
                     0);
    /* Every daemon of the cluster got through to the others: nothing else was refused. */
    assert_int_equal(metric(admin, "/metrics", "rpc_auth_timeout"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comet_refuses_forged_broadcast),
        cmocka_unit_test(test_logic_refuses_forged_renew_online),
        cmocka_unit_test(test_router_answers_only_the_secret),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
