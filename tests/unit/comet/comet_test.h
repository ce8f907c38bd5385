/* comet_test.h - harness for comet's end-to-end unit tests (test_tcp.c, test_ws.c).
 *
 * Runs a real comet (comet_server_start, real worker threads, real sockets on 127.0.0.1 with
 * ephemeral ports) on a loop thread, next to a test-only logic RPC server on the same loop. The
 * test logic answers Connect from instructions in the client's auth body
 * ({"mid","key","room_id","accepts","code","backlog","kick","device","delay_ms"}), serves Fetch
 * from a made-up inbox (seq s: op 1000, body "inbox-<s>", up to inbox_newest, inbox_page entries
 * a page; 0 = no limit), counts every call, and answers
 * RenewOnline with each room's count + 1000 so tests can tell logic's totals from comet's own.
 * The test thread talks to comet through blocking client sockets and calls comet's RPC service
 * (as job does) through harness_call.
 */
#ifndef COMET_TEST_H
#define COMET_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "comet_conf.h"
#include "comet_conn.h"
#include "comet_server.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "proto.h"
#include "rpc.h"
#include "rpc_methods.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_TIMEOUT_MS 3000

typedef struct harness_s {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_sem_t done;
    uv_mutex_t lock;
    rpc_server_t *logic;
    int logic_port;
    rpc_client_t *push;
    comet_conf_t conf;
    comet_server_t *comet;
    /* what the test logic saw (under lock) */
    int connects, disconnects, heartbeats, receives, renewals, server_downs;
    int ack_entries;
    uint64_t last_ack_seq;
    int64_t last_renew_conns;
    int last_renew_rooms;
    char last_receive[512];
    char last_disconnect_key[64];
    char last_disconnect_device[64];
    uint64_t last_disconnect_seq;
    char last_ack_device[64];
    int fetches;
    uint64_t inbox_newest; /* set by the test before the Fetch it causes */
    int inbox_page;
    /* one cross-thread call at a time (harness_call) */
    uint16_t call_method;
    const ProtobufCMessage *call_req;
    const ProtobufCMessageDescriptor *call_desc;
    int call_status;
    uint8_t *call_reply;
    size_t call_reply_len;
    /* several calls sent back to back (harness_call_burst) */
    const ProtobufCMessage *const *burst_reqs;
    size_t burst_n, burst_replies;
    int burst_status;
} harness_t;

/* ------------------------------------------------------------------------- test logic */

/* Answers a Connect as the auth body j says; takes j over. */
static inline void t_logic_connect_reply(rpc_call_t *call, json_t *j)
{
    Herald__ConnectReply r = HERALD__CONNECT_REPLY__INIT;
    r.device = (char *)(json_string_value(json_object_get(j, "device")) ?: "");
    r.code = (int32_t)json_integer_value(json_object_get(j, "code"));
    if (r.code != 0)
        r.message = "denied by test logic";
    r.mid = json_integer_value(json_object_get(j, "mid"));
    r.key = (char *)(json_string_value(json_object_get(j, "key")) ?: "");
    r.room_id = (char *)(json_string_value(json_object_get(j, "room_id")) ?: "");
    json_t *acc = json_object_get(j, "accepts");
    int32_t accepts[16];
    for (size_t i = 0; i < json_array_size(acc) && i < 16; i++)
        accepts[r.n_accepts++] = (int32_t)json_integer_value(json_array_get(acc, i));
    r.accepts = accepts;
    json_t *kick = json_object_get(j, "kick");
    char *kicks[8];
    for (size_t i = 0; i < json_array_size(kick) && i < 8; i++)
        kicks[r.n_kick_keys++] = (char *)json_string_value(json_array_get(kick, i));
    r.kick_keys = kicks;
    int backlog = (int)json_integer_value(json_object_get(j, "backlog"));
    Herald__Proto protos[8];
    Herald__Proto *pp[8];
    char bodies[8][16];
    for (int i = 0; i < backlog && i < 8; i++) {
        herald__proto__init(&protos[i]);
        protos[i].ver = 1;
        protos[i].op = 1000;
        protos[i].seq = (uint32_t)(i + 1);
        snprintf(bodies[i], sizeof bodies[i], "backlog-%d", i + 1);
        protos[i].body.data = (uint8_t *)bodies[i];
        protos[i].body.len = strlen(bodies[i]);
        pp[i] = &protos[i];
        r.n_backlog++;
    }
    r.backlog = pp;
    r.heartbeat_ms = 30000;
    r.last_seq = (uint64_t)backlog;
    r.recovered = 1;
    rpc_reply(call, &r.base);
    json_decref(j);
}

typedef struct t_delayed_s {
    uv_timer_t timer;
    rpc_call_t *call;
    json_t *body;
} t_delayed_t;

static inline void t_on_delayed_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static inline void t_on_delay(uv_timer_t *timer)
{
    t_delayed_t *d = timer->data;
    t_logic_connect_reply(d->call, d->body);
    uv_close((uv_handle_t *)&d->timer, t_on_delayed_closed);
}

static inline void t_logic_connect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__ConnectReq *req = (const Herald__ConnectReq *)msg;
    uv_mutex_lock(&h->lock);
    h->connects++;
    uv_mutex_unlock(&h->lock);
    json_t *j = json_loadb((const char *)req->body.data, req->body.len, 0, NULL);
    if (j == NULL) {
        Herald__ConnectReply r = HERALD__CONNECT_REPLY__INIT;
        r.code = HERALD_EAUTH;
        r.message = "bad auth body";
        rpc_reply(call, &r.base);
        return;
    }
    json_int_t delay = json_integer_value(json_object_get(j, "delay_ms"));
    if (delay <= 0) {
        t_logic_connect_reply(call, j);
        return;
    }
    t_delayed_t *d = calloc(1, sizeof *d);
    d->call = call;
    d->body = j;
    uv_timer_init(&h->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, t_on_delay, (uint64_t)delay, 0);
}

static inline void t_logic_fetch(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__FetchReq *req = (const Herald__FetchReq *)msg;
    uv_mutex_lock(&h->lock);
    h->fetches++;
    uint64_t newest = h->inbox_newest;
    int page = h->inbox_page;
    uv_mutex_unlock(&h->lock);
    Herald__FetchReply r = HERALD__FETCH_REPLY__INIT;
    Herald__Proto protos[64], *pp[64];
    char bodies[64][24];
    uint64_t s = req->after_seq + 1;
    for (; s <= newest && r.n_protos < 64 && (page == 0 || (int)r.n_protos < page); s++) {
        Herald__Proto *p = &protos[r.n_protos];
        herald__proto__init(p);
        p->ver = 1;
        p->op = 1000;
        p->seq = (uint32_t)s;
        snprintf(bodies[r.n_protos], sizeof bodies[0], "inbox-%llu", (unsigned long long)s);
        p->body.data = (uint8_t *)bodies[r.n_protos];
        p->body.len = strlen(bodies[r.n_protos]);
        pp[r.n_protos++] = p;
    }
    r.protos = pp;
    r.recovered = 1;
    r.last_seq = s - 1 > req->after_seq ? s - 1 : req->after_seq;
    r.newest_seq = newest;
    rpc_reply(call, &r.base);
}

static inline void t_logic_disconnect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__DisconnectReq *req = (const Herald__DisconnectReq *)msg;
    uv_mutex_lock(&h->lock);
    h->disconnects++;
    snprintf(h->last_disconnect_key, sizeof h->last_disconnect_key, "%s", req->key);
    snprintf(h->last_disconnect_device, sizeof h->last_disconnect_device, "%s", req->device);
    h->last_disconnect_seq = req->last_seq;
    uv_mutex_unlock(&h->lock);
    Herald__DisconnectReply r = HERALD__DISCONNECT_REPLY__INIT;
    r.has = 1;
    rpc_reply(call, &r.base);
}

static inline void t_logic_heartbeat(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    uv_mutex_lock(&h->lock);
    h->heartbeats++;
    uv_mutex_unlock(&h->lock);
    Herald__HeartbeatReply r = HERALD__HEARTBEAT_REPLY__INIT;
    rpc_reply(call, &r.base);
}

static inline void t_logic_renew(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__RenewOnlineReq *req = (const Herald__RenewOnlineReq *)msg;
    uv_mutex_lock(&h->lock);
    h->renewals++;
    h->last_renew_conns = req->conn_count;
    h->last_renew_rooms = (int)req->n_rooms;
    uv_mutex_unlock(&h->lock);
    Herald__RenewOnlineReply r = HERALD__RENEW_ONLINE_REPLY__INIT;
    Herald__RoomCount *counts = calloc(req->n_rooms + 1, sizeof *counts);
    Herald__RoomCount **ptrs = calloc(req->n_rooms + 1, sizeof *ptrs);
    for (size_t i = 0; i < req->n_rooms; i++) {
        herald__room_count__init(&counts[i]);
        counts[i].room_id = req->rooms[i]->room_id;
        counts[i].count = req->rooms[i]->count + 1000;
        ptrs[i] = &counts[i];
    }
    r.n_rooms = req->n_rooms;
    r.rooms = ptrs;
    rpc_reply(call, &r.base);
    free(counts);
    free(ptrs);
}

static inline void t_logic_receive(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__ReceiveReq *req = (const Herald__ReceiveReq *)msg;
    uv_mutex_lock(&h->lock);
    h->receives++;
    snprintf(h->last_receive, sizeof h->last_receive, "mid=%lld key=%s room=%s op=%d body=%.*s",
             (long long)req->mid, req->key, req->room_id, req->proto ? req->proto->op : -1,
             req->proto ? (int)req->proto->body.len : 0,
             req->proto ? (const char *)req->proto->body.data : "");
    uv_mutex_unlock(&h->lock);
    Herald__ReceiveReply r = HERALD__RECEIVE_REPLY__INIT;
    r.code = 0;
    r.message = "ok";
    rpc_reply(call, &r.base);
}

static inline void t_logic_ack(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__AckReq *req = (const Herald__AckReq *)msg;
    uv_mutex_lock(&h->lock);
    h->ack_entries += (int)req->n_acks;
    if (req->n_acks) {
        h->last_ack_seq = req->acks[req->n_acks - 1]->seq;
        snprintf(h->last_ack_device, sizeof h->last_ack_device, "%s",
                 req->acks[req->n_acks - 1]->device);
    }
    uv_mutex_unlock(&h->lock);
    Herald__AckReply r = HERALD__ACK_REPLY__INIT;
    rpc_reply(call, &r.base);
}

static inline void t_logic_server_down(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    uv_mutex_lock(&h->lock);
    h->server_downs++;
    uv_mutex_unlock(&h->lock);
    Herald__ServerDownReply r = HERALD__SERVER_DOWN_REPLY__INIT;
    rpc_reply(call, &r.base);
}

static const rpc_method_t t_logic_methods[] = {
    {RPC_LOGIC_CONNECT, &herald__connect_req__descriptor, t_logic_connect},
    {RPC_LOGIC_DISCONNECT, &herald__disconnect_req__descriptor, t_logic_disconnect},
    {RPC_LOGIC_HEARTBEAT, &herald__heartbeat_req__descriptor, t_logic_heartbeat},
    {RPC_LOGIC_RENEW_ONLINE, &herald__renew_online_req__descriptor, t_logic_renew},
    {RPC_LOGIC_RECEIVE, &herald__receive_req__descriptor, t_logic_receive},
    {RPC_LOGIC_ACK, &herald__ack_req__descriptor, t_logic_ack},
    {RPC_LOGIC_SERVER_DOWN, &herald__server_down_req__descriptor, t_logic_server_down},
    {RPC_LOGIC_FETCH, &herald__fetch_req__descriptor, t_logic_fetch},
};

static inline int harness_get(harness_t *h, const int *field)
{
    uv_mutex_lock(&h->lock);
    int v = *field;
    uv_mutex_unlock(&h->lock);
    return v;
}

/* Waits up to T_TIMEOUT_MS for *field >= want. */
static inline int harness_wait(harness_t *h, const int *field, int want)
{
    for (int i = 0; i < T_TIMEOUT_MS / 10; i++) {
        if (harness_get(h, field) >= want)
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* ----------------------------------------------------------------- loop thread plumbing */

static inline void on_call_reply(int status, const ProtobufCMessage *reply, void *arg)
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

static inline void on_comet_stopped(void *arg)
{
    harness_t *h = arg;
    rpc_client_close(h->push, NULL, NULL);
    if (h->logic)
        rpc_server_close(h->logic, NULL, NULL);
    uv_close((uv_handle_t *)&h->wake, NULL);
}

static inline void on_burst_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    harness_t *h = arg;
    (void)reply;
    if (status != 0 && h->burst_status == 0)
        h->burst_status = status;
    if (++h->burst_replies == h->burst_n)
        uv_sem_post(&h->done);
}

static inline void on_wake(uv_async_t *a)
{
    harness_t *h = a->data;
    uv_mutex_lock(&h->lock);
    const ProtobufCMessage *req = h->call_req;
    const ProtobufCMessage *const *burst = h->burst_reqs;
    h->call_req = NULL;
    h->burst_reqs = NULL;
    uv_mutex_unlock(&h->lock);
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

static inline void harness_loop(void *arg)
{
    harness_t *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
}

/* Calls comet's RPC service from the test thread. Returns the status; on 0 the reply is unpacked
 * into *reply (free with protobuf_c_message_free_unpacked). Retries while not yet connected. */
static inline int harness_call(harness_t *h, uint16_t method, const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *reply_desc,
                               ProtobufCMessage **reply)
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

/* Sends n calls back to back (the client must be connected: make a harness_call first) and
 * waits for every reply. Returns 0 or the first failure; replies are not kept. */
static inline int harness_call_burst(harness_t *h, uint16_t method,
                                     const ProtobufCMessage *const *reqs, size_t n,
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

static inline void conf_set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

/* Starts the test logic and a comet with `workers` workers. logic_up = 0 points comet at a
 * port where nothing listens. */
typedef void (*harness_tweak_cb)(comet_conf_t *conf);

static harness_t *harness_start_with(int workers, int logic_up, harness_tweak_cb tweak)
{
    harness_t *h = calloc(1, sizeof *h);
    signal(SIGPIPE, SIG_IGN); /* writes to connections comet closed on purpose */
    log_init("comet-test", LOG_WARN);
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
        h->logic = rpc_server_new(&h->loop, t_logic_methods,
                                  sizeof t_logic_methods / sizeof t_logic_methods[0], h);
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
    assert_int_equal(comet_server_start(&h->loop, &h->conf, &h->comet), 0);
    h->push = rpc_client_new(&h->loop, "test push", "127.0.0.1", h->comet->rpc_port);
    assert_int_equal(uv_thread_create(&h->thread, harness_loop, h), 0);
    return h;
}

static harness_t *harness_start(int workers, int logic_up)
{
    return harness_start_with(workers, logic_up, NULL);
}

/* Begins comet's graceful stop (then the test logic and the loop stop). */
static inline void harness_request_stop(harness_t *h)
{
    comet_server_request_stop(h->comet, on_comet_stopped, h);
}

/* Waits for the loop thread to end and checks the loop is empty. */
static inline void harness_join(harness_t *h)
{
    uv_thread_join(&h->thread);
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

static inline void harness_free(harness_t *h)
{
    comet_server_free(h->comet);
    conf_free(comet_conf_items, &h->conf);
    uv_sem_destroy(&h->done);
    uv_mutex_destroy(&h->lock);
    free(h);
}

/* Stops everything and frees. Close client sockets first, or their connections linger up to
 * COMET_CONN_LINGER_MS. */
static inline void harness_stop(harness_t *h)
{
    harness_request_stop(h);
    harness_join(h);
    harness_free(h);
}

/* --------------------------------------------------------------------- blocking client */

typedef struct t_packet_s {
    uint32_t op;
    uint32_t seq;
    uint32_t len;
    uint8_t body[8192];
} t_packet_t;

static inline int t_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
}

static inline void t_write(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Reads exactly len bytes. Returns 1, 0 on timeout, -1 when the peer closed (or reset). */
static inline int t_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    uint8_t *p = buf;
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r == 0)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static inline size_t t_packet_build(uint8_t *out, uint32_t op, uint32_t seq, const void *body,
                                    size_t len)
{
    proto_header_write(out, op, seq, (uint32_t)len);
    if (len)
        memcpy(out + PROTO_HEADER_LEN, body, len);
    return PROTO_HEADER_LEN + len;
}

static inline void t_send(int fd, uint32_t op, uint32_t seq, const char *body)
{
    uint8_t buf[8192];
    size_t n = t_packet_build(buf, op, seq, body, body ? strlen(body) : 0);
    t_write(fd, buf, n);
}

/* Parses one packet from a byte string (a WebSocket message or part of one). */
static inline size_t t_packet_parse(const uint8_t *in, size_t len, t_packet_t *p)
{
    proto_header_t h;
    assert_int_equal(proto_header_read(in, len, 1 << 20, &h), 0);
    assert_true(h.pack_len <= len);
    p->op = h.op;
    p->seq = h.seq;
    p->len = h.pack_len - PROTO_HEADER_LEN;
    assert_true(p->len < sizeof p->body);
    memcpy(p->body, in + PROTO_HEADER_LEN, p->len);
    p->body[p->len] = 0;
    return h.pack_len;
}

/* Receives one TCP packet: 1, 0 on timeout, -1 when closed. */
static inline int t_recv(int fd, t_packet_t *p, int timeout_ms)
{
    uint8_t hdr[PROTO_HEADER_LEN];
    int r = t_read_full(fd, hdr, sizeof hdr, timeout_ms);
    if (r != 1)
        return r;
    proto_header_t h;
    assert_int_equal(proto_header_read(hdr, sizeof hdr, 1 << 20, &h), 0);
    p->op = h.op;
    p->seq = h.seq;
    p->len = h.pack_len - PROTO_HEADER_LEN;
    assert_true(p->len < sizeof p->body);
    if (p->len) {
        r = t_read_full(fd, p->body, p->len, timeout_ms);
        if (r != 1)
            return r;
    }
    p->body[p->len] = 0;
    return 1;
}

/* Receives packets until one with op arrives (others are skipped). */
static inline int t_recv_op(int fd, uint32_t op, t_packet_t *p, int timeout_ms)
{
    for (int i = 0; i < 100000; i++) {
        int r = t_recv(fd, p, timeout_ms);
        if (r != 1 || p->op == op)
            return r;
    }
    return 0;
}

/* Nothing arrives within ms, or the connection is closed: returns 1 if nothing, -1 if closed. */
static inline int t_quiet(int fd, int ms)
{
    uint8_t b;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) == 0)
        return 1;
    return read(fd, &b, 1) <= 0 ? -1 : 0;
}

/* Waits for the peer to close: 1 when EOF/reset arrives (after discarding data), 0 on timeout. */
static inline int t_wait_closed(int fd, int timeout_ms)
{
    uint8_t buf[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r == 0)
            return 0;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return 1;
    }
}

/* Authenticates over TCP with the given auth JSON; returns the op 8 reply's body in p. */
static inline int t_auth(int fd, const char *auth_json, t_packet_t *p)
{
    t_send(fd, PROTO_OP_AUTH, 1, auth_json);
    return t_recv(fd, p, T_TIMEOUT_MS);
}

static inline int t_json_int(const t_packet_t *p, const char *field)
{
    json_t *j = json_loadb((const char *)p->body, p->len, 0, NULL);
    assert_non_null(j);
    int v = (int)json_integer_value(json_object_get(j, field));
    json_decref(j);
    return v;
}

/* HTTP GET on 127.0.0.1:port; returns the status and the body (NUL-terminated) in out. */
static inline int t_http_get(int port, const char *path, char *out, size_t cap)
{
    int fd = t_connect(port);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    t_write(fd, req, (size_t)n);
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, T_TIMEOUT_MS) <= 0)
            break;
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    out[len] = 0;
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    char *body = strstr(out, "\r\n\r\n");
    if (body)
        memmove(out, body + 4, strlen(body + 4) + 1);
    return status;
}

/* --------------------------------------------------------------------- comet RPC helpers */

static inline int t_push_keys(harness_t *h, const char *key, const uint64_t *seq, int32_t op,
                              const char *body)
{
    Herald__Proto p = HERALD__PROTO__INIT;
    p.ver = 1;
    p.op = op;
    p.body.data = (uint8_t *)body;
    p.body.len = strlen(body);
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

static inline int t_push_room(harness_t *h, const char *room, int n, int32_t op, const char *body)
{
    Herald__Proto protos[8];
    Herald__Proto *pp[8];
    for (int i = 0; i < n; i++) {
        herald__proto__init(&protos[i]);
        protos[i].ver = 1;
        protos[i].op = op;
        protos[i].body.data = (uint8_t *)body;
        protos[i].body.len = strlen(body);
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

#endif
