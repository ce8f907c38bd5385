/* comet_service.c - see comet_service.h. */
#include "comet_service.h"

#include "buf.h"
#include "comet_census.h"
#include "comet_members.h"
#include "comet_push.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "proto.h"
#include "rpc_methods.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* One RPC call split over the workers (comet_push.h). */
typedef struct service_call_s {
    comet_push_call_t push; /* first member */
    rpc_call_t *call;
    comet_push_kind_t kind;
} service_call_t;

static buf_shared_t *kick_body(const char *reason)
{
    json_t *j = json_pack("{s:s}", "reason", reason && reason[0] ? reason : "kicked");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    const char *text = s ? s : "{\"reason\":\"kicked\"}";
    size_t len = strlen(text);
    buf_shared_t *b = buf_shared_new(len);
    memcpy(b->data, text, len);
    free(s);
    return b;
}

static void on_call_done(comet_task_t *task, void *owner)
{
    service_call_t *op = (service_call_t *)task;
    int32_t n = atomic_load(&op->push.delivered);
    switch (op->kind) {
    case COMET_PUSH_KEYS: {
        Herald__PushKeysReply r = HERALD__PUSH_KEYS_REPLY__INIT;
        r.delivered = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    case COMET_PUSH_KICK: {
        Herald__KickReply r = HERALD__KICK_REPLY__INIT;
        r.kicked = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    case COMET_PUSH_ROOM: {
        Herald__BroadcastRoomReply r = HERALD__BROADCAST_ROOM_REPLY__INIT;
        r.delivered = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    case COMET_PUSH_ALL: {
        Herald__BroadcastReply r = HERALD__BROADCAST_REPLY__INIT;
        r.delivered = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    }
    free(op);
}

static service_call_t *call_new(comet_service_t *svc, rpc_call_t *call, comet_push_kind_t kind,
                                int parts)
{
    service_call_t *op = xcalloc(1, sizeof *op);
    comet_push_call_init(&op->push, svc->main, parts, on_call_done);
    op->call = call;
    op->kind = kind;
    return op;
}

/* Posts a part to every worker with the same shared payload (ROOM, ALL). */
static void push_everywhere(comet_service_t *svc, rpc_call_t *call, comet_push_kind_t kind,
                            const char *room, int32_t opcode, buf_shared_t *tcp, buf_shared_t *ws,
                            uint32_t packets, uint32_t rate, uint64_t accepted_us)
{
    service_call_t *op = call_new(svc, call, kind, svc->nworkers);
    for (int i = 0; i < svc->nworkers; i++) {
        comet_push_part_t *t = comet_push_part_new(&op->push, kind);
        t->room = room ? xstrdup(room) : NULL;
        t->opcode = opcode;
        t->tcp = buf_shared_ref(tcp);
        t->ws = buf_shared_ref(ws);
        t->packets = packets;
        t->rate = rate;
        t->accepted_us = accepted_us;
        comet_worker_post(&svc->workers[i], &t->task);
    }
}

/* Splits keys by worker and posts one part per worker holding any (KEYS, KICK). Each part gets
 * the body by reference. Replies 0 at once when no key is on this comet. */
static void push_by_key(comet_service_t *svc, rpc_call_t *call, comet_push_kind_t kind, char **keys,
                        size_t n, const uint64_t *seqs, int32_t opcode, uint32_t seq,
                        buf_shared_t *body, uint64_t accepted_us)
{
    int *route = xmalloc((n ? n : 1) * sizeof *route);
    size_t *per = xcalloc((size_t)svc->nworkers, sizeof *per);
    comet_keys_route_push(svc->keys, keys, seqs, n, route);
    int parts = 0;
    for (size_t i = 0; i < n; i++)
        if (route[i] >= 0 && per[route[i]]++ == 0)
            parts++;
    service_call_t *op = call_new(svc, call, kind, parts);
    if (parts == 0)
        on_call_done(&op->push.done, svc); /* replies 0 and frees op */
    for (int w = 0; w < svc->nworkers && parts > 0; w++) {
        if (per[w] == 0)
            continue;
        comet_push_part_t *t = comet_push_part_new(&op->push, kind);
        t->keys = xmalloc(per[w] * sizeof *t->keys);
        t->seqs = seqs ? xmalloc(per[w] * sizeof *t->seqs) : NULL;
        for (size_t i = 0; i < n; i++) {
            if (route[i] != w)
                continue;
            if (seqs)
                t->seqs[t->n] = seqs[i];
            t->keys[t->n++] = xstrdup(keys[i]);
        }
        t->opcode = opcode;
        t->seq = seq;
        t->body = buf_shared_ref(body);
        t->accepted_us = accepted_us;
        comet_worker_post(&svc->workers[w], &t->task);
    }
    free(route);
    free(per);
}

/* Encodes protos once: for TCP the packets back to back; for WebSocket one binary frame holding
 * the single packet, or an op 9 packet wrapping them all (goim v2). */
static void encode_protos(comet_service_t *svc, Herald__Proto *const *protos, size_t n,
                          buf_shared_t **tcp_out, buf_shared_t **ws_out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += PROTO_HEADER_LEN + protos[i]->body.len;
    buf_shared_t *tcp = buf_shared_new(total);
    uint8_t *p = tcp->data;
    for (size_t i = 0; i < n; i++) {
        const Herald__Proto *pr = protos[i];
        proto_header_write(p, (uint32_t)pr->op, pr->seq, (uint32_t)pr->body.len);
        if (pr->body.len)
            memcpy(p + PROTO_HEADER_LEN, pr->body.data, pr->body.len);
        p += PROTO_HEADER_LEN + pr->body.len;
    }
    const uint8_t *payload = tcp->data;
    size_t plen = total;
    uint8_t *wrapped = NULL;
    if (n > 1) {
        plen = PROTO_HEADER_LEN + total;
        wrapped = xmalloc(plen);
        proto_header_write(wrapped, PROTO_OP_RAW, 0, (uint32_t)total);
        memcpy(wrapped + PROTO_HEADER_LEN, tcp->data, total);
        payload = wrapped;
    }
    buf_shared_t *ws = buf_shared_new(ws_frame_header_len(svc->ws, plen) + plen);
    ws_codec_encode(svc->ws, WS_OP_BINARY, payload, plen, ws->data);
    free(wrapped);
    *tcp_out = tcp;
    *ws_out = ws;
}

static buf_shared_t *shared_copy(const void *data, size_t len)
{
    buf_shared_t *b = buf_shared_new(len);
    if (len)
        memcpy(b->data, data, len);
    return b;
}

static void on_push_keys(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_service_t *svc = arg;
    const Herald__PushKeysReq *req = (const Herald__PushKeysReq *)msg;
    if (req->proto == NULL || req->proto->op < 0) {
        rpc_reply_error(call, HERALD_EINVAL, "proto missing or negative op");
        return;
    }
    if (req->n_seqs != 0 && req->n_seqs != req->n_keys) {
        rpc_reply_error(call, HERALD_EINVAL, "seqs must be parallel to keys");
        return;
    }
    buf_shared_t *body = shared_copy(req->proto->body.data, req->proto->body.len);
    push_by_key(svc, call, COMET_PUSH_KEYS, req->keys, req->n_keys, req->n_seqs ? req->seqs : NULL,
                req->proto->op, req->proto->seq, body, req->proto->accepted_us);
    buf_shared_unref(body);
}

static void on_broadcast_room(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_service_t *svc = arg;
    const Herald__BroadcastRoomReq *req = (const Herald__BroadcastRoomReq *)msg;
    size_t len = req->room_id ? strlen(req->room_id) : 0;
    if (!proto_room_id_valid(req->room_id, len)) {
        rpc_reply_error(call, HERALD_EINVAL, "bad room_id");
        return;
    }
    for (size_t i = 0; i < req->n_protos; i++) {
        if (req->protos[i] == NULL) {
            rpc_reply_error(call, HERALD_EINVAL, "empty proto");
            return;
        }
    }
    if (req->n_protos == 0) {
        Herald__BroadcastRoomReply r = HERALD__BROADCAST_ROOM_REPLY__INIT;
        rpc_reply(call, &r.base);
        return;
    }
    buf_shared_t *tcp, *ws;
    encode_protos(svc, req->protos, req->n_protos, &tcp, &ws);
    /* The batch's latency is its oldest message's. */
    uint64_t accepted_us = 0;
    for (size_t i = 0; i < req->n_protos; i++)
        if (req->protos[i]->accepted_us != 0 &&
            (accepted_us == 0 || req->protos[i]->accepted_us < accepted_us))
            accepted_us = req->protos[i]->accepted_us;
    push_everywhere(svc, call, COMET_PUSH_ROOM, req->room_id, -1, tcp, ws, (uint32_t)req->n_protos,
                    0, accepted_us);
    buf_shared_unref(tcp);
    buf_shared_unref(ws);
}

static void on_broadcast(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_service_t *svc = arg;
    const Herald__BroadcastReq *req = (const Herald__BroadcastReq *)msg;
    if (req->proto == NULL || req->proto->op < 0) {
        rpc_reply_error(call, HERALD_EINVAL, "proto missing or negative op");
        return;
    }
    buf_shared_t *tcp, *ws;
    Herald__Proto *const protos[1] = {req->proto};
    encode_protos(svc, protos, 1, &tcp, &ws);
    /* speed is this comet's budget: each worker takes its share. */
    uint32_t rate = 0;
    if (req->speed > 0) {
        rate = (uint32_t)req->speed / (uint32_t)svc->nworkers;
        if (rate == 0)
            rate = 1;
    }
    push_everywhere(svc, call, COMET_PUSH_ALL, NULL, req->proto->op, tcp, ws, 1, rate,
                    req->proto->accepted_us);
    buf_shared_unref(tcp);
    buf_shared_unref(ws);
}

static void on_rooms_census(const comet_census_t *c, void *arg)
{
    rpc_call_t *call = arg;
    size_t n = comet_census_count(c);
    char **ids = xcalloc(n ? n : 1, sizeof *ids);
    uint32_t pos = 0;
    int64_t count;
    const char *id;
    size_t i = 0;
    while (i < n && (id = comet_census_next(c, &pos, &count)) != NULL)
        ids[i++] = (char *)id;
    Herald__RoomsReply r = HERALD__ROOMS_REPLY__INIT;
    r.n_rooms = i;
    r.rooms = ids;
    rpc_reply(call, &r.base);
    free(ids);
}

static void on_rooms(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_service_t *svc = arg;
    int rc = comet_census_start(svc->workers, svc->nworkers, svc->main, on_rooms_census, call);
    if (rc != 0)
        rpc_reply_error(call, rc, "census failed");
}

static void on_members(const mid_top_t *top, int64_t conns, void *arg)
{
    rpc_call_t *call = arg;
    Herald__RoomMember *items = xcalloc(top->n ? top->n : 1, sizeof(*items));
    Herald__RoomMember **members = xcalloc(top->n ? top->n : 1, sizeof(*members));
    for (size_t i = 0; i < top->n; i++) {
        herald__room_member__init(&items[i]);
        items[i].mid = top->v[i].mid;
        items[i].conns = (int32_t)top->v[i].count;
        members[i] = &items[i];
    }
    Herald__RoomMembersReply r = HERALD__ROOM_MEMBERS_REPLY__INIT;
    r.n_members = top->n;
    r.members = members;
    r.count = (int32_t)conns;
    r.more = top->more;
    rpc_reply(call, &r.base);
    free(members);
    free(items);
}

static void on_room_members(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    const Herald__RoomMembersReq *req = (const Herald__RoomMembersReq *)msg;
    size_t len = req->room ? strlen(req->room) : 0;
    if (!proto_room_id_valid(req->room, len)) {
        rpc_reply_error(call, HERALD_EINVAL, "bad room");
        return;
    }
    if (req->limit < 1 || req->limit > COMET_MEMBERS_MAX) {
        rpc_reply_error(call, HERALD_EINVAL, "limit out of range");
        return;
    }
    comet_service_t *svc = arg;
    comet_members_start(svc->workers, svc->nworkers, svc->main, req->room, len, (size_t)req->limit,
                        on_members, call);
}

static void on_kick(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_service_t *svc = arg;
    const Herald__KickReq *req = (const Herald__KickReq *)msg;
    /* reason is the op 6 body: a JSON object as is, or a word to wrap as {"reason":...} */
    const char *reason = req->reason ? req->reason : "";
    buf_shared_t *body = reason[0] == '{' ? shared_copy(reason, strlen(reason)) : kick_body(reason);
    push_by_key(svc, call, COMET_PUSH_KICK, req->keys, req->n_keys, NULL, 0, 0, body, 0);
    buf_shared_unref(body);
}

static void on_replay_router(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_service_t *svc = arg;
    const Herald__ReplayRouterReq *req = (const Herald__ReplayRouterReq *)msg;
    int rc = comet_replay_request(svc->replay, req->router, req->epoch);
    if (rc < 0) {
        rpc_reply_error(call, rc, "bad router or epoch");
        return;
    }
    Herald__ReplayRouterReply r = HERALD__REPLAY_ROUTER_REPLY__INIT;
    r.started = rc == 1;
    rpc_reply(call, &r.base);
}

static const rpc_method_t service_methods[] = {
    {RPC_COMET_PUSH_KEYS, &herald__push_keys_req__descriptor, on_push_keys},
    {RPC_COMET_BROADCAST_ROOM, &herald__broadcast_room_req__descriptor, on_broadcast_room},
    {RPC_COMET_BROADCAST, &herald__broadcast_req__descriptor, on_broadcast},
    {RPC_COMET_ROOMS, &herald__rooms_req__descriptor, on_rooms},
    {RPC_COMET_KICK, &herald__kick_req__descriptor, on_kick},
    {RPC_COMET_ROOM_MEMBERS, &herald__room_members_req__descriptor, on_room_members},
    {RPC_COMET_REPLAY_ROUTER, &herald__replay_router_req__descriptor, on_replay_router},
};

void comet_service_init(comet_service_t *svc, comet_keys_t *keys, comet_worker_t *workers, int n,
                        comet_queue_t *main, comet_replay_t *replay)
{
    svc->replay = replay;
    svc->keys = keys;
    svc->workers = workers;
    svc->nworkers = n;
    svc->main = main;
    svc->ws = ws_codec_new(1);
    svc->rpc = NULL;
}

int comet_service_listen(comet_service_t *svc, uv_loop_t *loop, const char *host, int port)
{
    svc->rpc = rpc_server_new(loop, service_methods,
                              sizeof service_methods / sizeof service_methods[0], svc);
    return rpc_server_listen(svc->rpc, host, port);
}

int comet_service_port(const comet_service_t *svc)
{
    return svc->rpc ? rpc_server_port(svc->rpc) : -1;
}

void comet_service_close(comet_service_t *svc, void (*cb)(void *arg), void *arg)
{
    rpc_server_t *rpc = svc->rpc;
    svc->rpc = NULL;
    if (rpc == NULL) {
        cb(arg);
        return;
    }
    rpc_server_close(rpc, cb, arg);
}

void comet_service_deinit(comet_service_t *svc)
{
    ws_codec_free(svc->ws);
}
