/* comet_push.c - see comet_push.h. */
#include "comet_push.h"

#include "buf.h"
#include "comet_census.h"
#include "comet_conn.h"
#include "comet_keys.h"
#include "comet_members.h"
#include "comet_server.h"
#include "comet_sync.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PUSH_KEYS, PUSH_KICK, PUSH_ROOM, PUSH_ALL } push_kind_t;

/* One RPC call split over workers. The last worker part posts `done` to the main thread, which
 * replies and frees the op. */
typedef struct push_op_s {
    comet_task_t done;
    rpc_call_t *call;
    push_kind_t kind;
    atomic_int pending;
    atomic_int delivered;
} push_op_t;

/* One worker's part. Owns its copies of keys and seqs and a reference on each buffer. */
typedef struct push_task_s {
    comet_task_t task;
    push_op_t *op; /* NULL when nobody waits (kicks between workers) */
    push_kind_t kind;
    char **keys;    /* KEYS, KICK */
    uint64_t *seqs; /* KEYS: parallel to keys, or NULL */
    size_t n;
    uint32_t before_seq;    /* KICK */
    int32_t opcode;         /* KEYS, ALL: the packet's op */
    uint32_t seq;           /* KEYS without seqs */
    buf_shared_t *body;     /* KEYS: packet body; KICK: op 6 body */
    char *room;             /* ROOM */
    buf_shared_t *tcp, *ws; /* ROOM, ALL: encoded once for each transport */
    uint32_t packets;
    uint32_t rate; /* ALL: connections per second, 0 = no limit */
} push_task_t;

/* ------------------------------------------------------------------------ worker side */

static int deliver_key(comet_worker_t *w, push_task_t *t, size_t i)
{
    comet_conn_t *c = strmap_get(&w->keys, t->keys[i], strlen(t->keys[i]));
    if (c == NULL || c->state != COMET_CONN_AUTHED)
        return 0;
    if (t->kind == PUSH_KICK) {
        if (t->before_seq != 0) {
            if (!comet_keys_before(c->reg_seq, t->before_seq))
                return 0;
            c->flags |= COMET_CONN_F_REPLACED; /* a duplicate: the key lives on elsewhere */
        }
        comet_conn_kick(c, (const char *)t->body->data, t->body->len);
        return 1;
    }
    uint64_t seq = t->seqs ? t->seqs[i] : t->seq;
    /* A user push takes its place in the user's stream first, accepted op or not: a duplicate
     * or one a Fetch covers counts as taken (comet_sync.h). */
    if (t->seqs && seq != 0 && !comet_sync_push(c, seq))
        return 1;
    if (!comet_accepts_has(&c->accepts, t->opcode))
        return 0;
    comet_conn_send_packet_shared(c, (uint32_t)t->opcode, (uint32_t)seq, t->body);
    return 1;
}

static void push_task_free(push_task_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->seqs);
    free(t->room);
    buf_shared_unref(t->body);
    buf_shared_unref(t->tcp);
    buf_shared_unref(t->ws);
    free(t);
}

static void on_push_task(comet_task_t *task, void *owner)
{
    comet_worker_t *w = owner;
    push_task_t *t = (push_task_t *)task;
    int delivered = 0;
    if (!w->stopping) {
        switch (t->kind) {
        case PUSH_KEYS:
        case PUSH_KICK:
            for (size_t i = 0; i < t->n; i++)
                delivered += deliver_key(w, t, i);
            break;
        case PUSH_ROOM: {
            comet_room_t *room = comet_rooms_find(&w->rooms, t->room, strlen(t->room));
            if (room)
                delivered = (int)comet_fanout_room(&w->fanout, room, t->tcp, t->ws, t->packets);
            break;
        }
        case PUSH_ALL:
            delivered = (int)comet_fanout_all(&w->fanout, &w->all,
                                              (uint32_t)COMET_STAT_GET(&w->stats, conns), t->opcode,
                                              t->tcp, t->ws, t->rate);
            break;
        }
        if (t->kind != PUSH_KICK)
            COMET_STAT_ADD(&w->stats, pushes, 1);
    }
    push_op_t *op = t->op;
    if (op) {
        atomic_fetch_add(&op->delivered, delivered);
        if (atomic_fetch_sub(&op->pending, 1) == 1)
            comet_server_post(w->server, &op->done);
    }
    push_task_free(t);
}

static push_task_t *push_task_new(push_op_t *op, push_kind_t kind)
{
    push_task_t *t = xcalloc(1, sizeof *t);
    t->task.run = on_push_task;
    t->op = op;
    t->kind = kind;
    return t;
}

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

void comet_push_kick_remote(comet_server_t *s, int worker, const char *key, uint32_t before_seq,
                            const char *reason)
{
    push_task_t *t = push_task_new(NULL, PUSH_KICK);
    t->keys = xmalloc(sizeof *t->keys);
    t->keys[0] = xstrdup(key);
    t->n = 1;
    t->before_seq = before_seq;
    t->body = kick_body(reason);
    comet_worker_post(&s->workers[worker], &t->task);
}

void comet_push_kick_key(comet_worker_t *w, const char *key, const char *reason)
{
    int worker = -1;
    char *k = (char *)key;
    comet_keys_route(comet_server_keys(w->server), &k, 1, &worker);
    if (worker < 0)
        return;
    if (worker != w->index) {
        comet_push_kick_remote(w->server, worker, key, 0, reason);
        return;
    }
    comet_conn_t *c = strmap_get(&w->keys, key, strlen(key));
    if (c)
        comet_conn_kick_reason(c, reason);
}

/* -------------------------------------------------------------------------- main side */

static void on_op_done(comet_task_t *task, void *owner)
{
    push_op_t *op = (push_op_t *)task;
    int32_t n = atomic_load(&op->delivered);
    switch (op->kind) {
    case PUSH_KEYS: {
        Herald__PushKeysReply r = HERALD__PUSH_KEYS_REPLY__INIT;
        r.delivered = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    case PUSH_KICK: {
        Herald__KickReply r = HERALD__KICK_REPLY__INIT;
        r.kicked = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    case PUSH_ROOM: {
        Herald__BroadcastRoomReply r = HERALD__BROADCAST_ROOM_REPLY__INIT;
        r.delivered = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    case PUSH_ALL: {
        Herald__BroadcastReply r = HERALD__BROADCAST_REPLY__INIT;
        r.delivered = n;
        rpc_reply(op->call, &r.base);
        break;
    }
    }
    free(op);
}

static push_op_t *push_op_new(rpc_call_t *call, push_kind_t kind, int parts)
{
    push_op_t *op = xcalloc(1, sizeof *op);
    op->done.run = on_op_done;
    op->call = call;
    op->kind = kind;
    atomic_init(&op->pending, parts);
    atomic_init(&op->delivered, 0);
    return op;
}

/* Posts a part to every worker with the same shared payload (ROOM, ALL). */
static void push_everywhere(comet_server_t *s, rpc_call_t *call, push_kind_t kind, const char *room,
                            int32_t opcode, buf_shared_t *tcp, buf_shared_t *ws, uint32_t packets,
                            uint32_t rate)
{
    push_op_t *op = push_op_new(call, kind, s->nworkers);
    for (int i = 0; i < s->nworkers; i++) {
        push_task_t *t = push_task_new(op, kind);
        t->room = room ? xstrdup(room) : NULL;
        t->opcode = opcode;
        t->tcp = buf_shared_ref(tcp);
        t->ws = buf_shared_ref(ws);
        t->packets = packets;
        t->rate = rate;
        comet_worker_post(&s->workers[i], &t->task);
    }
}

/* Splits keys by worker and posts one part per worker holding any (KEYS, KICK). Each part gets
 * the body by reference. Replies 0 at once when no key is on this comet. */
static void push_by_key(comet_server_t *s, rpc_call_t *call, push_kind_t kind, char **keys,
                        size_t n, const uint64_t *seqs, int32_t opcode, uint32_t seq,
                        buf_shared_t *body)
{
    int *route = xmalloc((n ? n : 1) * sizeof *route);
    size_t *per = xcalloc((size_t)s->nworkers, sizeof *per);
    comet_keys_route_push(&s->keys, keys, seqs, n, route);
    int parts = 0;
    for (size_t i = 0; i < n; i++)
        if (route[i] >= 0 && per[route[i]]++ == 0)
            parts++;
    push_op_t *op = push_op_new(call, kind, parts);
    if (parts == 0)
        on_op_done(&op->done, s); /* replies 0 and frees op */
    for (int w = 0; w < s->nworkers && parts > 0; w++) {
        if (per[w] == 0)
            continue;
        push_task_t *t = push_task_new(op, kind);
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
        comet_worker_post(&s->workers[w], &t->task);
    }
    free(route);
    free(per);
}

/* Encodes protos once: for TCP the packets back to back; for WebSocket one binary frame holding
 * the single packet, or an op 9 packet wrapping them all (goim v2). */
static void encode_protos(comet_server_t *s, Herald__Proto *const *protos, size_t n,
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
    buf_shared_t *ws = buf_shared_new(ws_frame_header_len(s->ws, plen) + plen);
    ws_codec_encode(s->ws, WS_OP_BINARY, payload, plen, ws->data);
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
    comet_server_t *s = arg;
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
    push_by_key(s, call, PUSH_KEYS, req->keys, req->n_keys, req->n_seqs ? req->seqs : NULL,
                req->proto->op, req->proto->seq, body);
    buf_shared_unref(body);
}

static void on_broadcast_room(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_server_t *s = arg;
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
    encode_protos(s, req->protos, req->n_protos, &tcp, &ws);
    push_everywhere(s, call, PUSH_ROOM, req->room_id, -1, tcp, ws, (uint32_t)req->n_protos, 0);
    buf_shared_unref(tcp);
    buf_shared_unref(ws);
}

static void on_broadcast(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_server_t *s = arg;
    const Herald__BroadcastReq *req = (const Herald__BroadcastReq *)msg;
    if (req->proto == NULL || req->proto->op < 0) {
        rpc_reply_error(call, HERALD_EINVAL, "proto missing or negative op");
        return;
    }
    buf_shared_t *tcp, *ws;
    Herald__Proto *const protos[1] = {req->proto};
    encode_protos(s, protos, 1, &tcp, &ws);
    /* speed is this comet's budget: each worker takes its share. */
    uint32_t rate = 0;
    if (req->speed > 0) {
        rate = (uint32_t)req->speed / (uint32_t)s->nworkers;
        if (rate == 0)
            rate = 1;
    }
    push_everywhere(s, call, PUSH_ALL, NULL, req->proto->op, tcp, ws, 1, rate);
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
    comet_census_start(arg, on_rooms_census, call);
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
    comet_members_start(arg, req->room, len, (size_t)req->limit, on_members, call);
}

static void on_kick(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    comet_server_t *s = arg;
    const Herald__KickReq *req = (const Herald__KickReq *)msg;
    /* reason is the op 6 body: a JSON object as is, or a word to wrap as {"reason":...} */
    const char *reason = req->reason ? req->reason : "";
    buf_shared_t *body = reason[0] == '{' ? shared_copy(reason, strlen(reason)) : kick_body(reason);
    push_by_key(s, call, PUSH_KICK, req->keys, req->n_keys, NULL, 0, 0, body);
    buf_shared_unref(body);
}

const rpc_method_t comet_push_methods[] = {
    {RPC_COMET_PUSH_KEYS, &herald__push_keys_req__descriptor, on_push_keys},
    {RPC_COMET_BROADCAST_ROOM, &herald__broadcast_room_req__descriptor, on_broadcast_room},
    {RPC_COMET_BROADCAST, &herald__broadcast_req__descriptor, on_broadcast},
    {RPC_COMET_ROOMS, &herald__rooms_req__descriptor, on_rooms},
    {RPC_COMET_KICK, &herald__kick_req__descriptor, on_kick},
    {RPC_COMET_ROOM_MEMBERS, &herald__room_members_req__descriptor, on_room_members},
};
const size_t comet_push_methods_count = sizeof comet_push_methods / sizeof comet_push_methods[0];
