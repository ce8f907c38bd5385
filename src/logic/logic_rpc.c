/* logic_rpc.c - method table and the small Logic handlers: Disconnect, Heartbeat, RenewOnline,
 * ServerDown, Replay. */
#include "logic_rpc.h"

#include "addr.h"
#include "admin.h"
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_inbox.h"
#include "logic_login.h"
#include "logic_online.h"
#include "logic_params.h"
#include "logic_registry.h"
#include "logic_replay.h"
#include "logic_router.h"
#include "registry.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Owned by logic_server; freed by logic_rpc_close. */
struct logic_rpc_s {
    const logic_ctx_t *ctx;
    rpc_server_t *srv;
    uint64_t counters[LOGIC_RPC_COUNTERS];
    void (*close_cb)(void *arg);
    void *close_arg;
};

static const char *const counter_names[LOGIC_RPC_COUNTERS] = {
    "connects",   "connect_failures",   "disconnects", "heartbeats",   "renew_onlines",
    "receives",   "receive_failures",   "acks",        "server_downs", "fetches",
    "room_joins", "room_join_failures", "replays",
};

const logic_ctx_t *logic_rpc_ctx(const logic_rpc_t *r)
{
    return r->ctx;
}

void logic_rpc_count(logic_rpc_t *r, logic_rpc_counter_t which)
{
    r->counters[which]++;
}

void logic_rpc_metrics(const logic_rpc_t *r, json_t *out)
{
    for (size_t i = 0; i < LOGIC_RPC_COUNTERS; i++)
        json_object_set_new(out, counter_names[i], json_integer((json_int_t)r->counters[i]));
    admin_put_rpc_server(out, r->srv);
}

const rpc_server_t *logic_rpc_server(const logic_rpc_t *r)
{
    return r->srv;
}

typedef struct call_ctx_s {
    rpc_call_t *call;
    const logic_ctx_t *ctx;
    Herald__Placement placement; /* Heartbeat: strings are heap copies */
    char **rooms;                /* RenewOnline: the rooms the comet asked about */
    size_t nrooms;
    size_t nseqs; /* Replay: the placements of the call, the seqs of its reply */
} call_ctx_t;

static call_ctx_t *ctx_new(rpc_call_t *call, const logic_ctx_t *ctx)
{
    call_ctx_t *c = xcalloc(1, sizeof(*c));
    c->call = call;
    c->ctx = ctx;
    return c;
}

static void ctx_free(call_ctx_t *c)
{
    free(c->placement.key);
    free(c->placement.server);
    for (size_t i = 0; i < c->nrooms; i++)
        free(c->rooms[i]);
    free(c->rooms);
    free(c);
}

/* A connection as comet names it; bounded and printable, since it goes into router state. */
static int placement_ok(int64_t mid, const char *key, const char *server)
{
    return mid >= 0 && key != NULL && logic_params_key_ok(key, strlen(key)) == 0 &&
           registry_id_ok(server) == 0;
}

/* Sends `method` for (mid, key, server) to its router; reply_cb gets ctx. Answers the call with
 * an error itself when the router is unavailable. */
static void placement_call(call_ctx_t *c, uint16_t method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *desc, int64_t mid,
                           logic_router_reply_cb cb)
{
    logic_router_t *r = logic_ctx_router(c->ctx);
    int rc = r ? logic_router_call(r, mid, method, req, desc, cb, c) : HERALD_EUNAVAIL;
    if (rc != 0) {
        rpc_reply_error(c->call, rc, "router unavailable");
        ctx_free(c);
    }
}

/* ---------------------------------------------------------------------------- Disconnect */

static void on_del(int status, const ProtobufCMessage *reply, void *arg)
{
    call_ctx_t *c = arg;
    if (status != 0) {
        rpc_reply_error(c->call, status, "router Del failed");
    } else {
        Herald__DisconnectReply out = HERALD__DISCONNECT_REPLY__INIT;
        out.has = ((const Herald__DelReply *)reply)->has;
        rpc_reply(c->call, (const ProtobufCMessage *)&out);
    }
    ctx_free(c);
}

static void on_disconnect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__DisconnectReq *req = (const Herald__DisconnectReq *)msg;
    if (!placement_ok(req->mid, req->key, req->server)) {
        rpc_reply_error(call, HERALD_EINVAL, "bad placement");
        return;
    }
    logic_rpc_count(r, LOGIC_RPC_DISCONNECTS);
    /* A client that never acks resumes from what its last connection was written: the position
     * of its device (the acked one wins when both exist, see logic_inbox.h). */
    if (req->last_seq > 0 && req->last_seq <= INT64_MAX && req->device != NULL &&
        req->device[0] != '\0' && logic_params_key_ok(req->device, strlen(req->device)) == 0)
        logic_inbox_position(r->ctx, LOGIC_INBOX_SENT, req->mid, req->device, req->last_seq, NULL,
                             NULL);
    logic_login_disconnected(r->ctx->login, req->mid, req->key, req->server);
    Herald__Placement pl = HERALD__PLACEMENT__INIT;
    pl.mid = req->mid;
    pl.key = req->key;
    pl.server = req->server;
    Herald__DelReq del = HERALD__DEL_REQ__INIT;
    del.placement = &pl;
    placement_call(ctx_new(call, r->ctx), RPC_ROUTER_DEL, (const ProtobufCMessage *)&del,
                   &herald__del_reply__descriptor, req->mid, on_del);
}

/* ----------------------------------------------------------------------------- Heartbeat */

static void on_reput(int status, const ProtobufCMessage *reply, void *arg)
{
    (void)reply;
    (void)arg;
    if (status != 0)
        log_warn_rl("heartbeat: re-registering a lost placement failed: %s",
                    herald_strerror(status));
}

static void on_renew(int status, const ProtobufCMessage *reply, void *arg)
{
    call_ctx_t *c = arg;
    if (status != 0) {
        rpc_reply_error(c->call, status, "router Renew failed");
        ctx_free(c);
        return;
    }
    /* A router that restarted has lost its placements; the heartbeat of a live connection puts
     * it back, so pushes reach it again within one heartbeat interval. */
    logic_router_t *r = logic_ctx_router(c->ctx);
    if (!((const Herald__RenewReply *)reply)->has && r != NULL) {
        Herald__PutReq put = HERALD__PUT_REQ__INIT;
        put.placement = &c->placement;
        logic_router_call(r, c->placement.mid, RPC_ROUTER_PUT, (const ProtobufCMessage *)&put,
                          &herald__put_reply__descriptor, on_reput, NULL);
    }
    Herald__HeartbeatReply out = HERALD__HEARTBEAT_REPLY__INIT;
    rpc_reply(c->call, (const ProtobufCMessage *)&out);
    ctx_free(c);
}

static void on_heartbeat(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__HeartbeatReq *req = (const Herald__HeartbeatReq *)msg;
    if (!placement_ok(req->mid, req->key, req->server)) {
        rpc_reply_error(call, HERALD_EINVAL, "bad placement");
        return;
    }
    logic_rpc_count(r, LOGIC_RPC_HEARTBEATS);
    call_ctx_t *c = ctx_new(call, r->ctx);
    Herald__Placement init = HERALD__PLACEMENT__INIT;
    c->placement = init;
    c->placement.mid = req->mid;
    c->placement.key = xstrdup(req->key);
    c->placement.server = xstrdup(req->server);
    Herald__RenewReq renew = HERALD__RENEW_REQ__INIT;
    renew.placement = &c->placement;
    placement_call(c, RPC_ROUTER_RENEW, (const ProtobufCMessage *)&renew,
                   &herald__renew_reply__descriptor, req->mid, on_renew);
}

/* --------------------------------------------------------------------------- RenewOnline */

static void on_renewed(int status, void *arg)
{
    call_ctx_t *c = arg;
    if (status != 0) {
        rpc_reply_error(c->call, status, "registry write failed");
        ctx_free(c);
        return;
    }
    /* Counts summed over every live comet, for the rooms this comet has members in. */
    Herald__RoomCount *counts = xcalloc(c->nrooms + 1, sizeof(*counts));
    Herald__RoomCount **ptrs = xcalloc(c->nrooms + 1, sizeof(*ptrs));
    for (size_t i = 0; i < c->nrooms; i++) {
        Herald__RoomCount init = HERALD__ROOM_COUNT__INIT;
        counts[i] = init;
        counts[i].room_id = c->rooms[i];
        int64_t n = logic_online_room_count(c->ctx->online, c->rooms[i]);
        counts[i].count = n > INT32_MAX ? INT32_MAX : (int32_t)n;
        ptrs[i] = &counts[i];
    }
    Herald__RenewOnlineReply out = HERALD__RENEW_ONLINE_REPLY__INIT;
    out.n_rooms = c->nrooms;
    out.rooms = ptrs;
    /* The router epochs this logic knows: the comet replays to any it has not (logic_replay.h). */
    logic_router_t *router = logic_ctx_router(c->ctx);
    size_t nr = router ? logic_router_count(router) : 0;
    Herald__RouterEpoch *epochs = xcalloc(nr + 1, sizeof(*epochs));
    Herald__RouterEpoch **eptrs = xcalloc(nr + 1, sizeof(*eptrs));
    for (size_t i = 0; i < nr; i++) {
        uint64_t epoch = logic_replay_epoch(c->ctx->replay, i);
        if (epoch == 0)
            continue;
        herald__router_epoch__init(&epochs[out.n_routers]);
        epochs[out.n_routers].router = (char *)logic_router_addr(router, i);
        epochs[out.n_routers].epoch = epoch;
        eptrs[out.n_routers] = &epochs[out.n_routers];
        out.n_routers++;
    }
    out.routers = eptrs;
    rpc_reply(c->call, (const ProtobufCMessage *)&out);
    free(eptrs);
    free(epochs);
    free(ptrs);
    free(counts);
    ctx_free(c);
}

static void on_renew_online(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__RenewOnlineReq *req = (const Herald__RenewOnlineReq *)msg;
    call_ctx_t *c = ctx_new(call, r->ctx);
    int rc = logic_registry_renew(r->ctx->registry, req, on_renewed, c);
    if (rc != 0) {
        rpc_reply_error(call, rc, rc == HERALD_EINVAL ? "bad RenewOnline" : "redis unavailable");
        ctx_free(c);
        return;
    }
    logic_rpc_count(r, LOGIC_RPC_RENEW_ONLINES);
    c->rooms = xcalloc(req->n_rooms + 1, sizeof(*c->rooms));
    for (size_t i = 0; i < req->n_rooms; i++)
        c->rooms[c->nrooms++] = xstrdup(req->rooms[i]->room_id);
}

/* ---------------------------------------------------------------------------- ServerDown */

static void on_servers_cleared(int status, int64_t removed, void *arg)
{
    call_ctx_t *c = arg;
    if (status != 0) {
        rpc_reply_error(c->call, status, "a router missed DelServer");
    } else {
        Herald__ServerDownReply out = HERALD__SERVER_DOWN_REPLY__INIT;
        out.removed = removed;
        rpc_reply(c->call, (const ProtobufCMessage *)&out);
    }
    ctx_free(c);
}

static void on_server_down(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__ServerDownReq *req = (const Herald__ServerDownReq *)msg;
    if (registry_id_ok(req->server) != 0) {
        rpc_reply_error(call, HERALD_EINVAL, "bad server id");
        return;
    }
    logic_rpc_count(r, LOGIC_RPC_SERVER_DOWNS);
    log_info("comet %s is down: clearing its placements and registry entry", req->server);
    logic_registry_remove(r->ctx->registry, req->server);
    logic_router_t *router = logic_ctx_router(r->ctx);
    call_ctx_t *c = ctx_new(call, r->ctx);
    int rc = router ? logic_router_del_server(router, req->server, on_servers_cleared, c)
                    : HERALD_EUNAVAIL;
    if (rc != 0) {
        rpc_reply_error(call, rc, "routers unavailable");
        ctx_free(c);
    }
}

/* -------------------------------------------------------------------------------- Replay */

static void on_replayed(int status, const uint64_t *newest, void *arg)
{
    call_ctx_t *c = arg;
    if (status != 0) {
        rpc_reply_error(c->call, status, "replay: a router or redis failed");
    } else {
        Herald__ReplayReply out = HERALD__REPLAY_REPLY__INIT;
        out.newest_seqs = (uint64_t *)newest;
        out.n_newest_seqs = c->nseqs;
        rpc_reply(c->call, (const ProtobufCMessage *)&out);
    }
    ctx_free(c);
}

static void on_replay(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__ReplayReq *req = (const Herald__ReplayReq *)msg;
    if (registry_id_ok(req->server) != 0 || req->router == NULL ||
        req->n_placements > RPC_REPLAY_BATCH_MAX) {
        rpc_reply_error(call, HERALD_EINVAL, "bad Replay");
        return;
    }
    for (size_t i = 0; i < req->n_placements; i++) {
        const Herald__Placement *p = req->placements[i];
        if (p == NULL || !placement_ok(p->mid, p->key, p->server) ||
            strcmp(p->server, req->server) != 0) {
            rpc_reply_error(call, HERALD_EINVAL, "bad placement");
            return;
        }
    }
    logic_rpc_count(r, LOGIC_RPC_REPLAYS);
    call_ctx_t *c = ctx_new(call, r->ctx);
    c->nseqs = req->n_placements;
    int rc = req->n_placements == 0
                 ? 1
                 : logic_replay_apply(r->ctx->replay, req->router, req->epoch,
                                      (const Herald__Placement *const *)req->placements,
                                      req->n_placements, on_replayed, c);
    if (rc == 1) { /* none of them is that router's: nothing to catch up */
        uint64_t *zeros = xcalloc(req->n_placements + 1, sizeof(*zeros));
        on_replayed(0, zeros, c);
        free(zeros);
    } else if (rc != 0) {
        rpc_reply_error(call, rc,
                        rc == HERALD_EINVAL ? "router not in this logic's ring"
                                            : "router unavailable");
        ctx_free(c);
    }
}

/* --------------------------------------------------------------------------------- table */

/* While stopping, every call is refused at once: the backends are closing. */
#define GUARDED(name, handler)                                                                     \
    static void name(rpc_call_t *call, const ProtobufCMessage *req, void *arg)                     \
    {                                                                                              \
        if (logic_ctx_stopping(((logic_rpc_t *)arg)->ctx))                                         \
            rpc_reply_error(call, HERALD_EUNAVAIL, "logic is stopping");                           \
        else                                                                                       \
            handler(call, req, arg);                                                               \
    }
GUARDED(guard_connect, logic_rpc_connect)
GUARDED(guard_disconnect, on_disconnect)
GUARDED(guard_heartbeat, on_heartbeat)
GUARDED(guard_renew_online, on_renew_online)
GUARDED(guard_receive, logic_rpc_im_receive)
GUARDED(guard_ack, logic_rpc_im_ack)
GUARDED(guard_server_down, on_server_down)
GUARDED(guard_fetch, logic_rpc_inbox_fetch)
GUARDED(guard_join_room, logic_rpc_room_join)
GUARDED(guard_replay, on_replay)

static const rpc_method_t methods[] = {
    {RPC_LOGIC_CONNECT, &herald__connect_req__descriptor, guard_connect},
    {RPC_LOGIC_DISCONNECT, &herald__disconnect_req__descriptor, guard_disconnect},
    {RPC_LOGIC_HEARTBEAT, &herald__heartbeat_req__descriptor, guard_heartbeat},
    {RPC_LOGIC_RENEW_ONLINE, &herald__renew_online_req__descriptor, guard_renew_online},
    {RPC_LOGIC_RECEIVE, &herald__receive_req__descriptor, guard_receive},
    {RPC_LOGIC_ACK, &herald__ack_req__descriptor, guard_ack},
    {RPC_LOGIC_SERVER_DOWN, &herald__server_down_req__descriptor, guard_server_down},
    {RPC_LOGIC_FETCH, &herald__fetch_req__descriptor, guard_fetch},
    {RPC_LOGIC_JOIN_ROOM, &herald__join_room_req__descriptor, guard_join_room},
    {RPC_LOGIC_REPLAY, &herald__replay_req__descriptor, guard_replay},
};

logic_rpc_t *logic_rpc_new(const logic_ctx_t *ctx, char *err, size_t errlen)
{
    const char *listen = ctx->conf->rpc_listen;
    char host[ADDR_HOST_MAX];
    int port;
    if (addr_split(listen, host, &port) != 0) {
        snprintf(err, errlen, "rpc.listen: bad address \"%s\"", listen);
        return NULL;
    }
    logic_rpc_t *r = xcalloc(1, sizeof(*r));
    r->ctx = ctx;
    r->srv = rpc_server_new(ctx->loop, methods, sizeof(methods) / sizeof(methods[0]), r);
    int rc = rpc_server_listen(r->srv, host, port);
    if (rc != 0) {
        snprintf(err, errlen, "rpc.listen %s: %s", listen, herald_strerror(rc));
        logic_rpc_close(r, NULL, NULL);
        return NULL;
    }
    return r;
}

int logic_rpc_port(const logic_rpc_t *r)
{
    return rpc_server_port(r->srv);
}

static void on_server_closed(void *arg)
{
    logic_rpc_t *r = arg;
    void (*cb)(void *) = r->close_cb;
    void *cb_arg = r->close_arg;
    free(r);
    if (cb != NULL)
        cb(cb_arg);
}

void logic_rpc_close(logic_rpc_t *r, void (*cb)(void *arg), void *arg)
{
    r->close_cb = cb;
    r->close_arg = arg;
    rpc_server_close(r->srv, on_server_closed, r);
}
