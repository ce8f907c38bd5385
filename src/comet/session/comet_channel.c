/* comet_channel.c - see comet_channel.h. */
#include "comet_channel.h"

#include "comet_auth.h"
#include "comet_keys.h"
#include "comet_push.h"
#include "comet_room.h"
#include "comet_server.h"
#include "comet_worker.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------- registry */

void comet_channel_register(comet_conn_t *c)
{
    comet_worker_t *w = comet_conn_worker(c);
    int old_worker = comet_keys_register(comet_server_keys(w->server), c);
    comet_conn_t *old = strmap_get(&w->keys, c->key, strlen(c->key));
    if (old != NULL && old != c) {
        old->flags |= COMET_CONN_F_REPLACED;
        comet_conn_kick_reason(old, "duplicate key"); /* leaves w->keys */
    } else if (old_worker >= 0 && old_worker != w->index)
        comet_push_kick_remote(w->server, old_worker, c->key, c->reg_seq, "duplicate key");
    strmap_put(&w->keys, c);
    c->t = comet_worker_now(w);
    list_unlink(&c->link);
    list_append(&w->active, &c->link);
    list_append(&w->all, &c->all_link);
    c->flags |= COMET_CONN_F_REGISTERED;
    COMET_STAT_ADD(&w->stats, conns, 1);
}

void comet_channel_unregister(comet_conn_t *c)
{
    comet_worker_t *w = comet_conn_worker(c);
    c->flags &= ~COMET_CONN_F_REGISTERED;
    comet_keys_unregister(comet_server_keys(w->server), c);
    strmap_del(&w->keys, c);
    comet_channel_set_room(c, NULL, 0);
    comet_fanout_unlink(&w->fanout, &c->all_link);
    list_unlink(&c->all_link);
    COMET_STAT_SUB(&w->stats, conns, 1);
    /* A replaced connection's key lives on in the newer connection: telling logic the key is
     * gone would drop the newer one's placement. At shutdown ServerDown covers everything. */
    if (w->stopping || (c->flags & COMET_CONN_F_REPLACED))
        return;
    Herald__DisconnectReq req = HERALD__DISCONNECT_REQ__INIT;
    req.mid = c->mid;
    req.key = c->key;
    req.server = w->conf->server_id;
    /* Where the client got to, for the device's next connection if it never acks. */
    req.device = (char *)comet_auth_device(c);
    req.last_seq = c->last_seq;
    comet_logic_notify(&w->logic, RPC_LOGIC_DISCONNECT, &req.base,
                       &herald__disconnect_reply__descriptor);
}

void comet_channel_set_room(comet_conn_t *c, const char *id, size_t len)
{
    comet_worker_t *w = comet_conn_worker(c);
    if (c->room != NULL) {
        if (len == strlen(c->room->id) && memcmp(c->room->id, id, len) == 0)
            return;
        comet_fanout_unlink(&w->fanout, &c->room_link);
        comet_room_leave(&w->rooms, c->room, &c->room_link);
        c->room = NULL;
    }
    if (len > 0)
        c->room = comet_room_join(&w->rooms, id, len, &c->room_link);
}

/* ---------------------------------------------------------------------------- packet ops */

static void on_heartbeat(comet_conn_t *c, const proto_header_t *h)
{
    comet_worker_t *w = comet_conn_worker(c);
    int32_t online = c->room ? comet_online_get(w->online, c->room->id, strlen(c->room->id)) : 0;
    uint8_t body[4] = {(uint8_t)((uint32_t)online >> 24), (uint8_t)((uint32_t)online >> 16),
                       (uint8_t)((uint32_t)online >> 8), (uint8_t)online};
    comet_conn_send_packet(c, PROTO_OP_HEARTBEAT_REPLY, h->seq, body, sizeof body);
    uint32_t now = comet_worker_now(w);
    if ((uint32_t)(now - c->last_renew) < (uint64_t)w->conf->renew_interval)
        return;
    c->last_renew = now;
    Herald__HeartbeatReq req = HERALD__HEARTBEAT_REQ__INIT;
    req.mid = c->mid;
    req.key = c->key;
    req.server = w->conf->server_id;
    comet_logic_notify(&w->logic, RPC_LOGIC_HEARTBEAT, &req.base,
                       &herald__heartbeat_reply__descriptor);
}

/* Writes op 5 with {"code":code,"message":message}. */
static void send_reply_code(comet_conn_t *c, uint32_t seq, int code, const char *message)
{
    json_t *j = json_pack("{s:i,s:s}", "code", code, "message", message ? message : "");
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    const char *text = body ? body : "{\"code\":-1302}";
    comet_conn_send_packet(c, PROTO_OP_SEND_MSG_REPLY, seq, text, strlen(text));
    free(body);
    json_decref(j);
}

typedef struct receive_ctx_s {
    comet_conn_t *conn;
    uint32_t seq;
} receive_ctx_t;

static void on_receive_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    receive_ctx_t *ctx = arg;
    comet_conn_t *c = ctx->conn;
    if (c->state == COMET_CONN_AUTHED) {
        const Herald__ReceiveReply *r = (const Herald__ReceiveReply *)msg;
        int code = status ? comet_logic_code(status) : r->code;
        const char *message = status ? herald_strerror(code) : r->message;
        send_reply_code(c, ctx->seq, code, message);
    }
    comet_conn_unref(c);
    free(ctx);
}

/* Token bucket as GCRA: rate_tat is the time at which the bucket is full again; each message
 * moves it one interval later, and a message that would move it more than a second (the burst)
 * ahead of now is refused. One uint32 per connection; a tat that looks further ahead than any
 * legitimate one (uv_now wrapped, or the connection idled for weeks) counts as a full bucket. */
static int rate_ok(comet_conn_t *c, uint32_t now, int64_t rate)
{
    if (rate <= 0)
        return 1;
    int32_t interval = (int32_t)(1000 / rate), burst = 1000 - interval;
    int32_t ahead = (int32_t)(c->rate_tat - now);
    if (ahead < 0 || ahead > burst + interval)
        ahead = 0;
    if (ahead > burst)
        return 0;
    c->rate_tat = now + (uint32_t)(ahead + interval);
    return 1;
}

static void on_send_msg(comet_conn_t *c, const proto_header_t *h, const uint8_t *body, size_t len)
{
    comet_worker_t *w = comet_conn_worker(c);
    if (len > (uint64_t)w->conf->max_msg) {
        send_reply_code(c, h->seq, HERALD_ETOOBIG, "message too big");
        return;
    }
    if (!rate_ok(c, comet_worker_now(w), w->conf->upstream_rate)) {
        send_reply_code(c, h->seq, HERALD_ERATE, "too many messages per second");
        return;
    }
    if (c->refs >= COMET_CONN_MAX_CALLS) {
        send_reply_code(c, h->seq, HERALD_ERATE, "too many messages in flight");
        return;
    }
    Herald__Proto p = HERALD__PROTO__INIT;
    p.ver = PROTO_VERSION;
    p.op = (int32_t)h->op;
    p.seq = h->seq;
    p.body.data = (uint8_t *)body;
    p.body.len = len;
    Herald__ReceiveReq req = HERALD__RECEIVE_REQ__INIT;
    req.mid = c->mid;
    req.key = c->key;
    req.server = w->conf->server_id;
    req.proto = &p;
    req.room_id = c->room ? c->room->id : "";
    receive_ctx_t *ctx = xmalloc(sizeof *ctx);
    ctx->conn = c;
    ctx->seq = h->seq;
    comet_conn_ref(c);
    int rc = comet_logic_call(&w->logic, RPC_LOGIC_RECEIVE, &req.base,
                              &herald__receive_reply__descriptor, 0, on_receive_reply, ctx);
    if (rc != 0) {
        comet_conn_unref(c);
        free(ctx);
        send_reply_code(c, h->seq, HERALD_EUNAVAIL, "logic unavailable");
    }
}

static int on_change_room(comet_conn_t *c, const proto_header_t *h, const uint8_t *body, size_t len)
{
    if (len > 0 && !proto_room_id_valid((const char *)body, len))
        return HERALD_EINVAL;
    comet_channel_set_room(c, (const char *)body, len);
    comet_conn_send_packet(c, PROTO_OP_CHANGE_ROOM_REPLY, h->seq, body, len);
    return 0;
}

/* Op 14 / 16: add or remove the listed ops. A body that is not a list of ops changes nothing
 * and is still answered, as goim does. */
static void on_sub(comet_conn_t *c, const proto_header_t *h, const uint8_t *body, size_t len)
{
    int32_t ops[COMET_ACCEPTS_MAX];
    int n = comet_accepts_parse((const char *)body, len, ops, COMET_ACCEPTS_MAX);
    for (int i = 0; i < n; i++) {
        if (h->op == PROTO_OP_UNSUB)
            comet_accepts_remove(&c->accepts, ops[i]);
        else if (comet_accepts_add(&c->accepts, ops[i]) != 0)
            log_info_rl("key=%s: accepts full, op %d ignored", c->key, ops[i]);
    }
    comet_conn_send_packet(c, h->op + 1, h->seq, body, len);
}

static int channel_dispatch(comet_conn_t *c, const proto_header_t *h, const uint8_t *body)
{
    comet_worker_t *w = comet_conn_worker(c);
    size_t len = h->pack_len - PROTO_HEADER_LEN;
    switch (h->op) {
    case PROTO_OP_HEARTBEAT:
        on_heartbeat(c, h);
        return 0;
    case PROTO_OP_SEND_MSG:
        on_send_msg(c, h, body, len);
        return 0;
    case PROTO_OP_CHANGE_ROOM:
        return on_change_room(c, h, body, len);
    case PROTO_OP_SUB:
    case PROTO_OP_UNSUB:
        on_sub(c, h, body, len);
        return 0;
    case PROTO_OP_ACK:
        comet_ack_add(&w->acks, c->mid, c->key, comet_auth_device(c), h->seq);
        return 0;
    default:
        log_debug("key=%s: op %u ignored", c->key, h->op);
        return 0;
    }
}

int comet_channel_on_packet(void *arg, const proto_header_t *h, const uint8_t *body)
{
    comet_conn_t *c = arg;
    comet_worker_t *w = comet_conn_worker(c);
    switch (c->state) {
    case COMET_CONN_WAIT_AUTH:
        COMET_STAT_ADD(&w->stats, packets_in, 1);
        if (h->op != PROTO_OP_AUTH) {
            comet_conn_protocol_error(c, HERALD_EPROTO, "first packet is not auth");
            return 1;
        }
        comet_auth_start(c, h, body);
        break;
    case COMET_CONN_AUTHING:
        comet_auth_defer(c, h, body);
        break;
    case COMET_CONN_AUTHED: {
        COMET_STAT_ADD(&w->stats, packets_in, 1);
        int rc = channel_dispatch(c, h, body);
        if (rc != 0 && c->state < COMET_CONN_CLOSED)
            comet_conn_protocol_error(c, rc, "bad packet");
        break;
    }
    default:
        break;
    }
    return c->state >= COMET_CONN_CLOSING;
}
