/* comet_test_logic.c - the test logic of the harness (comet_test.h). */
#include "comet_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers a Connect as the auth body j says; takes j over. */
static void t_logic_connect_reply(rpc_call_t *call, json_t *j)
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

static void t_on_delayed_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void t_on_delay(uv_timer_t *timer)
{
    t_delayed_t *d = timer->data;
    t_logic_connect_reply(d->call, d->body);
    uv_close((uv_handle_t *)&d->timer, t_on_delayed_closed);
}

static void t_logic_connect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
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

static void t_logic_fetch(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
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

static void t_logic_disconnect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
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

static void t_logic_heartbeat(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    uv_mutex_lock(&h->lock);
    h->heartbeats++;
    uv_mutex_unlock(&h->lock);
    Herald__HeartbeatReply r = HERALD__HEARTBEAT_REPLY__INIT;
    rpc_reply(call, &r.base);
}

static void t_logic_renew(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__RenewOnlineReq *req = (const Herald__RenewOnlineReq *)msg;
    uv_mutex_lock(&h->lock);
    h->renewals++;
    h->last_renew_conns = req->conn_count;
    h->last_renew_weight = req->weight;
    h->last_renew_rooms = (int)req->n_rooms;
    snprintf(h->last_renew_tls, sizeof h->last_renew_tls, "%s", req->tls_addr);
    snprintf(h->last_renew_wss, sizeof h->last_renew_wss, "%s", req->wss_addr);
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

static void t_logic_receive(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
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

static void t_logic_ack(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
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

static void t_logic_server_down(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    uv_mutex_lock(&h->lock);
    h->server_downs++;
    uv_mutex_unlock(&h->lock);
    Herald__ServerDownReply r = HERALD__SERVER_DOWN_REPLY__INIT;
    rpc_reply(call, &r.base);
}

/* A JoinRoom answered after the harness's join_delay_ms, as logic answers once Kafka took the
 * announcement. */
typedef struct t_join_s {
    uv_timer_t timer;
    rpc_call_t *call;
} t_join_t;

static void on_join_timer_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void on_join_timer(uv_timer_t *t)
{
    t_join_t *j = t->data;
    Herald__JoinRoomReply r = HERALD__JOIN_ROOM_REPLY__INIT;
    rpc_reply(j->call, &r.base);
    uv_close((uv_handle_t *)&j->timer, on_join_timer_closed);
}

static void t_logic_join_room(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    harness_t *h = arg;
    const Herald__JoinRoomReq *req = (const Herald__JoinRoomReq *)msg;
    uv_mutex_lock(&h->lock);
    h->joins++;
    snprintf(h->last_join, sizeof h->last_join, "%s %s %s", req->room, req->server, req->rpc_addr);
    int delay = h->join_delay_ms;
    uv_mutex_unlock(&h->lock);
    t_join_t *j = calloc(1, sizeof *j);
    j->call = call;
    j->timer.data = j;
    uv_timer_init(&h->loop, &j->timer);
    uv_timer_start(&j->timer, on_join_timer, (uint64_t)delay, 0);
}

const rpc_method_t t_logic_methods[] = {
    {RPC_LOGIC_CONNECT, &herald__connect_req__descriptor, t_logic_connect},
    {RPC_LOGIC_DISCONNECT, &herald__disconnect_req__descriptor, t_logic_disconnect},
    {RPC_LOGIC_HEARTBEAT, &herald__heartbeat_req__descriptor, t_logic_heartbeat},
    {RPC_LOGIC_RENEW_ONLINE, &herald__renew_online_req__descriptor, t_logic_renew},
    {RPC_LOGIC_RECEIVE, &herald__receive_req__descriptor, t_logic_receive},
    {RPC_LOGIC_ACK, &herald__ack_req__descriptor, t_logic_ack},
    {RPC_LOGIC_SERVER_DOWN, &herald__server_down_req__descriptor, t_logic_server_down},
    {RPC_LOGIC_FETCH, &herald__fetch_req__descriptor, t_logic_fetch},
    {RPC_LOGIC_JOIN_ROOM, &herald__join_room_req__descriptor, t_logic_join_room},
};
const size_t t_logic_methods_count = sizeof t_logic_methods / sizeof t_logic_methods[0];
