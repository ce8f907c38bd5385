/* comet_channel.c - see comet_channel.h. */
#include "comet_channel.h"

#include "comet_allowed.h"
#include "comet_join.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include "herald_assert.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

comet_channel_t *comet_channel_find(comet_session_t *s, const char *key)
{
    comet_key_t *e = strmap_get(&s->local, key, strlen(key));
    return e ? list_entry(e, comet_channel_t, id) : NULL;
}

const char *comet_channel_device(const comet_channel_t *ch)
{
    return ch->id.key + strlen(ch->id.key) + 1;
}

static void channel_free(comet_channel_t *ch)
{
    free(ch->id.key);
    free(ch->allowed_rooms);
    comet_accepts_deinit(&ch->accepts);
    free(ch);
}

void comet_channel_ref(comet_channel_t *ch)
{
    ch->refs++;
}

void comet_channel_unref(comet_channel_t *ch)
{
    if (--ch->refs == 0 && (ch->flags & COMET_CHANNEL_F_CLOSED))
        channel_free(ch);
}

void comet_channel_closed(comet_channel_t *ch)
{
    ch->flags |= COMET_CHANNEL_F_CLOSED;
    if (ch->refs == 0)
        channel_free(ch);
}

/* ------------------------------------------------------------------------------- registry */

void comet_channel_register(comet_channel_t *ch)
{
    comet_session_t *s = comet_channel_session(ch);
    ch->id.worker = s->index;
    int old_worker = comet_keys_register(s->keys, &ch->id);
    comet_channel_t *old = comet_channel_find(s, ch->id.key);
    if (old != NULL && old != ch) {
        old->flags |= COMET_CHANNEL_F_REPLACED;
        comet_conn_kick_reason(&old->conn, "duplicate key"); /* leaves s->local */
    } else if (old_worker >= 0 && old_worker != s->index) {
        comet_channel_kick_on(s, old_worker, ch->id.key, ch->id.reg_seq, "duplicate key");
    }
    strmap_put(&s->local, &ch->id);
    comet_conn_establish(&ch->conn);
    list_append(&s->all, &ch->all_link);
    ch->flags |= COMET_CHANNEL_F_REGISTERED;
    COMET_STAT_ADD(s->stats, conns, 1);
    struct sockaddr_storage peer;
    int len = sizeof peer;
    ch->ip_hash = 0;
    if (uv_tcp_getpeername(&ch->conn.tcp, (struct sockaddr *)&peer, &len) == 0)
        ch->ip_hash = comet_ips_hash((const struct sockaddr *)&peer);
    if (ch->ip_hash != 0)
        comet_ips_add(s->ips, ch->ip_hash);
}

static void channel_unregister(comet_channel_t *ch)
{
    comet_session_t *s = comet_channel_session(ch);
    ch->flags &= ~COMET_CHANNEL_F_REGISTERED;
    comet_keys_unregister(s->keys, &ch->id);
    strmap_del(&s->local, &ch->id);
    comet_channel_set_room(ch, NULL, 0);
    s->ops->on_unlink(s->ops_arg, &ch->all_link);
    list_unlink(&ch->all_link);
    COMET_STAT_SUB(s->stats, conns, 1);
    if (ch->ip_hash != 0)
        comet_ips_remove(s->ips, ch->ip_hash);
    ch->ip_hash = 0;
    /* A replaced connection's key lives on in the newer connection: telling logic the key is
     * gone would drop the newer one's placement. At shutdown ServerDown covers everything. */
    if (s->stopping || (ch->flags & COMET_CHANNEL_F_REPLACED))
        return;
    Herald__DisconnectReq req = HERALD__DISCONNECT_REQ__INIT;
    req.mid = ch->mid;
    req.key = ch->id.key;
    req.server = s->conf->server_id;
    /* Where the client got to, for the device's next connection if it never acks. */
    req.device = (char *)comet_channel_device(ch);
    req.last_seq = ch->last_seq;
    comet_logic_notify(&s->logic, RPC_LOGIC_DISCONNECT, &req.base,
                       &herald__disconnect_reply__descriptor);
}

void comet_channel_leave(comet_channel_t *ch)
{
    if (ch->flags & COMET_CHANNEL_F_REGISTERED)
        channel_unregister(ch);
    ch->state = COMET_CHANNEL_GONE;
}

void comet_channel_set_room(comet_channel_t *ch, const char *id, size_t len)
{
    comet_session_t *s = comet_channel_session(ch);
    if (ch->room != NULL) {
        if (len == strlen(ch->room->id) && memcmp(ch->room->id, id, len) == 0)
            return;
        s->ops->on_unlink(s->ops_arg, &ch->room_link);
        comet_room_leave(&s->rooms, ch->room, &ch->room_link);
        ch->room = NULL;
    }
    if (len > 0)
        ch->room = comet_room_join(&s->rooms, id, len, &ch->room_link);
}

uint32_t comet_channel_append_protos(comet_channel_t *ch, buf_t *out, Herald__Proto *const *protos,
                                     size_t n)
{
    uint32_t packets = 0;
    for (size_t i = 0; i < n; i++) {
        const Herald__Proto *p = protos[i];
        if (p == NULL || p->seq <= ch->last_seq)
            continue; /* held already (a live push, or an overlapping page) */
        ch->last_seq = p->seq;
        if (!comet_accepts_has(&ch->accepts, p->op))
            continue;
        comet_conn_append_packet(&ch->conn, out, (uint32_t)p->op, p->seq, p->body.data,
                                 p->body.len);
        packets++;
    }
    return packets;
}

/* ---------------------------------------------------------------------------------- kicks */

int comet_channel_kick_key(comet_session_t *s, const char *key, uint32_t before_seq,
                           const char *body, size_t len)
{
    comet_channel_t *ch = comet_channel_find(s, key);
    if (ch == NULL || ch->state != COMET_CHANNEL_AUTHED)
        return 0;
    if (before_seq != 0) {
        if (!comet_keys_before(ch->id.reg_seq, before_seq))
            return 0;
        ch->flags |= COMET_CHANNEL_F_REPLACED; /* a duplicate: the key lives on elsewhere */
    }
    comet_conn_kick(&ch->conn, body, len);
    return 1;
}

/* A kick handed to another worker. */
typedef struct kick_task_s {
    comet_task_t task;
    uint32_t before_seq;
    const char *reason; /* a string literal */
    char key[];
} kick_task_t;

static void kick_here(comet_session_t *s, const char *key, uint32_t before_seq, const char *reason)
{
    char body[128];
    comet_channel_kick_key(s, key, before_seq, body,
                           comet_conn_reason_body(body, sizeof body, reason));
}

static void on_kick_task(comet_task_t *t, void *owner)
{
    comet_session_t *s = owner;
    kick_task_t *k = (kick_task_t *)t;
    if (!s->stopping)
        kick_here(s, k->key, k->before_seq, k->reason);
    free(k);
}

void comet_channel_kick_on(comet_session_t *s, int worker, const char *key, uint32_t before_seq,
                           const char *reason)
{
    if (worker == s->index) {
        kick_here(s, key, before_seq, reason);
        return;
    }
    size_t len = strlen(key) + 1;
    kick_task_t *k = xmalloc(sizeof *k + len);
    k->task.run = on_kick_task;
    k->before_seq = before_seq;
    k->reason = reason;
    memcpy(k->key, key, len);
    comet_queue_push(s->peers[worker], &k->task);
}

/* ---------------------------------------------------------------------------- packet ops */

static void on_heartbeat(comet_channel_t *ch, const proto_header_t *h)
{
    comet_session_t *s = comet_channel_session(ch);
    int32_t online = ch->room ? comet_online_get(s->online, ch->room->id, strlen(ch->room->id)) : 0;
    uint8_t body[4] = {(uint8_t)((uint32_t)online >> 24), (uint8_t)((uint32_t)online >> 16),
                       (uint8_t)((uint32_t)online >> 8), (uint8_t)online};
    comet_conn_send_packet(&ch->conn, PROTO_OP_HEARTBEAT_REPLY, h->seq, body, sizeof body);
    uint32_t now = comet_conns_now(&s->conns);
    if ((uint32_t)(now - ch->last_renew) < s->limits.renew_interval)
        return;
    ch->last_renew = now;
    Herald__HeartbeatReq req = HERALD__HEARTBEAT_REQ__INIT;
    req.mid = ch->mid;
    req.key = ch->id.key;
    req.server = s->conf->server_id;
    comet_logic_notify(&s->logic, RPC_LOGIC_HEARTBEAT, &req.base,
                       &herald__heartbeat_reply__descriptor);
}

/* Writes op 5 with {"code":code,"message":message}. */
static void send_reply_code(comet_channel_t *ch, uint32_t seq, int code, const char *message)
{
    json_t *j = json_pack("{s:i,s:s}", "code", code, "message", message ? message : "");
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    const char *text = body ? body : "{\"code\":-1302}";
    comet_conn_send_packet(&ch->conn, PROTO_OP_SEND_MSG_REPLY, seq, text, strlen(text));
    free(body);
    json_decref(j);
}

typedef struct receive_ctx_s {
    comet_channel_t *ch;
    uint32_t seq;
} receive_ctx_t;

static void on_receive_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    receive_ctx_t *ctx = arg;
    comet_channel_t *ch = ctx->ch;
    if (ch->state == COMET_CHANNEL_AUTHED) {
        const Herald__ReceiveReply *r = (const Herald__ReceiveReply *)msg;
        int code = status ? comet_logic_code(status) : r->code;
        const char *message = status ? herald_strerror(code) : r->message;
        send_reply_code(ch, ctx->seq, code, message);
    }
    comet_channel_unref(ch);
    free(ctx);
}

/* Token bucket as GCRA: rate_tat is the time at which the bucket is full again; each message
 * moves it one interval later, and a message that would move it more than a second (the burst)
 * ahead of now is refused. One uint32 per connection; a tat that looks further ahead than any
 * legitimate one (uv_now wrapped, or the connection idled for weeks) counts as a full bucket. */
static int rate_ok(comet_channel_t *ch, uint32_t now, int64_t rate)
{
    if (rate <= 0)
        return 1;
    int32_t interval = (int32_t)(1000 / rate), burst = 1000 - interval;
    int32_t ahead = (int32_t)(ch->rate_tat - now);
    if (ahead < 0 || ahead > burst + interval)
        ahead = 0;
    if (ahead > burst)
        return 0;
    ch->rate_tat = now + (uint32_t)(ahead + interval);
    return 1;
}

static void on_send_msg(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body,
                        size_t len)
{
    comet_session_t *s = comet_channel_session(ch);
    if (len > s->limits.max_msg) {
        send_reply_code(ch, h->seq, HERALD_ETOOBIG, "message too big");
        return;
    }
    if (!rate_ok(ch, comet_conns_now(&s->conns), (int64_t)s->limits.upstream_rate)) {
        send_reply_code(ch, h->seq, HERALD_ERATE, "too many messages per second");
        return;
    }
    if (ch->refs >= COMET_CHANNEL_MAX_CALLS) {
        send_reply_code(ch, h->seq, HERALD_ERATE, "too many messages in flight");
        return;
    }
    Herald__Proto p = HERALD__PROTO__INIT;
    p.ver = PROTO_VERSION;
    p.op = (int32_t)h->op;
    p.seq = h->seq;
    p.body.data = (uint8_t *)body;
    p.body.len = len;
    Herald__ReceiveReq req = HERALD__RECEIVE_REQ__INIT;
    req.mid = ch->mid;
    req.key = ch->id.key;
    req.server = s->conf->server_id;
    req.proto = &p;
    req.room_id = ch->room ? ch->room->id : "";
    receive_ctx_t *ctx = xmalloc(sizeof *ctx);
    ctx->ch = ch;
    ctx->seq = h->seq;
    comet_channel_ref(ch);
    int rc = comet_logic_call(&s->logic, RPC_LOGIC_RECEIVE, &req.base,
                              &herald__receive_reply__descriptor, 0, on_receive_reply, ctx);
    if (rc != 0) {
        comet_channel_unref(ch);
        free(ctx);
        send_reply_code(ch, h->seq, HERALD_EUNAVAIL, "logic unavailable");
    }
}

/* An op 12 whose op 13 waits on the room's announcement. Holds a reference on the channel. */
typedef struct room_change_s {
    comet_join_wait_t join;
    list_link_t link; /* in the session's room_changes */
    comet_channel_t *ch;
    uint32_t seq;   /* the op 12's, echoed in op 13 */
    buf_t deferred; /* whole packets that came behind the op 12, in order */
} room_change_t;

static room_change_t *room_change_of(comet_channel_t *ch)
{
    LIST_FOREACH(l, &comet_channel_session(ch)->room_changes)
    {
        room_change_t *c = list_entry(l, room_change_t, link);
        if (c->ch == ch)
            return c;
    }
    return NULL;
}

/* Keeps a copy of a packet that came while ch's op 13 waits. Bounded: reading is paused, so at
 * most the rest of one read. */
static void room_change_defer(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body)
{
    room_change_t *c = room_change_of(ch);
    HERALD_ASSERT(c != NULL);
    comet_channel_keep_packet(&c->deferred, h, body);
}

void comet_channel_keep_packet(buf_t *out, const proto_header_t *h, const uint8_t *body)
{
    uint32_t len = h->pack_len - PROTO_HEADER_LEN;
    uint8_t *p = buf_reserve(out, h->pack_len);
    proto_header_write(p, h->op, h->seq, len);
    if (len)
        memcpy(p + PROTO_HEADER_LEN, body, len);
    out->len += h->pack_len;
}

static void on_room_announced(comet_join_wait_t *w, comet_room_t *room, int status)
{
    (void)status; /* a failed announcement lets the channel in all the same (comet_join.h) */
    room_change_t *c = list_entry(w, room_change_t, join);
    comet_channel_t *ch = c->ch;
    list_unlink(&c->link);
    ch->flags &= ~COMET_CHANNEL_F_JOINING;
    if (ch->state == COMET_CHANNEL_AUTHED) {
        size_t len = strlen(room->id);
        comet_channel_set_room(ch, room->id, len);
        comet_conn_send_packet(&ch->conn, PROTO_OP_CHANGE_ROOM_REPLY, c->seq, room->id, len);
        comet_channel_replay(ch, &c->deferred);
    }
    buf_deinit(&c->deferred);
    free(c);
    comet_channel_unref(ch);
}

void comet_channel_replay(comet_channel_t *ch, const buf_t *packets)
{
    if (packets->len > 0) {
        proto_reader_t reader;
        proto_reader_init(&reader);
        int rc = proto_reader_feed(&reader, packets->data, packets->len,
                                   comet_channel_session(ch)->conns.limits.max_body,
                                   comet_channel_on_packet, ch);
        proto_reader_deinit(&reader);
        /* Held packets were read under the limits of their arrival; a reload may have lowered
         * max_body since. Dropping them would leave the client waiting for replies: close. */
        if (rc < 0 && ch->state == COMET_CHANNEL_AUTHED) {
            comet_conn_protocol_error(&ch->conn, rc, "held packets");
            return;
        }
    }
    if (ch->state == COMET_CHANNEL_AUTHED && !(ch->flags & COMET_CHANNEL_F_JOINING))
        comet_conn_resume(&ch->conn);
}

/* Starts waiting for room id's announcement when this worker has not made it: returns 1 then
 * (op 13 follows from on_room_announced), 0 when ch may enter at once. */
static int room_change_wait(comet_channel_t *ch, uint32_t seq, const char *id, size_t len)
{
    comet_session_t *s = comet_channel_session(ch);
    room_change_t *c = xcalloc(1, sizeof *c);
    c->join.cb = on_room_announced;
    if (!comet_join_enter(s, id, len, &c->join)) {
        free(c);
        return 0;
    }
    c->ch = ch;
    c->seq = seq;
    buf_init(&c->deferred);
    list_append(&s->room_changes, &c->link);
    comet_channel_ref(ch);
    comet_channel_set_room(ch, NULL, 0);
    ch->flags |= COMET_CHANNEL_F_JOINING;
    comet_conn_pause(&ch->conn);
    return 1;
}

static int on_change_room(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body,
                          size_t len)
{
    if (len > 0 && !proto_room_id_valid((const char *)body, len))
        return HERALD_EINVAL;
    if (len > 0 && !comet_allowed_has(ch->allowed_rooms, (const char *)body, len)) {
        COMET_STAT_ADD(comet_channel_session(ch)->stats, rooms_refused, 1);
        comet_conn_send_packet(&ch->conn, PROTO_OP_CHANGE_ROOM_REPLY, h->seq,
                               COMET_CHANNEL_ROOM_REFUSED, strlen(COMET_CHANNEL_ROOM_REFUSED));
        return 0;
    }
    int same =
        ch->room != NULL && len == strlen(ch->room->id) && memcmp(ch->room->id, body, len) == 0;
    if (len > 0 && !same && room_change_wait(ch, h->seq, (const char *)body, len))
        return 0;
    comet_channel_set_room(ch, (const char *)body, len);
    comet_conn_send_packet(&ch->conn, PROTO_OP_CHANGE_ROOM_REPLY, h->seq, body, len);
    return 0;
}

/* Op 14 / 16: add or remove the listed ops. A body that is not a list of ops changes nothing
 * and is still answered, as goim does. */
static void on_sub(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body, size_t len)
{
    int32_t ops[COMET_ACCEPTS_MAX];
    int n = comet_accepts_parse((const char *)body, len, ops, COMET_ACCEPTS_MAX);
    for (int i = 0; i < n; i++) {
        if (h->op == PROTO_OP_UNSUB)
            comet_accepts_remove(&ch->accepts, ops[i]);
        else if (comet_accepts_add(&ch->accepts, ops[i]) != 0)
            log_info_rl("key=%s: accepts full, op %d ignored", ch->id.key, ops[i]);
    }
    comet_conn_send_packet(&ch->conn, h->op + 1, h->seq, body, len);
}

static int channel_dispatch(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body)
{
    comet_session_t *s = comet_channel_session(ch);
    size_t len = h->pack_len - PROTO_HEADER_LEN;
    switch (h->op) {
    case PROTO_OP_HEARTBEAT:
        on_heartbeat(ch, h);
        return 0;
    case PROTO_OP_SEND_MSG:
        on_send_msg(ch, h, body, len);
        return 0;
    case PROTO_OP_CHANGE_ROOM:
        return on_change_room(ch, h, body, len);
    case PROTO_OP_SUB:
    case PROTO_OP_UNSUB:
        on_sub(ch, h, body, len);
        return 0;
    case PROTO_OP_ACK:
        s->ops->on_ack(s->ops_arg, ch, h->seq);
        return 0;
    default:
        log_debug("key=%s: op %u ignored", ch->id.key, h->op);
        return 0;
    }
}

int comet_channel_on_packet(void *arg, const proto_header_t *h, const uint8_t *body)
{
    comet_channel_t *ch = arg;
    if (ch->flags & COMET_CHANNEL_F_JOINING) {
        room_change_defer(ch, h, body);
        return 0;
    }
    COMET_STAT_ADD(comet_channel_session(ch)->stats, packets_in, 1);
    int rc = channel_dispatch(ch, h, body);
    if (rc != 0 && ch->conn.state < COMET_CONN_CLOSED)
        comet_conn_protocol_error(&ch->conn, rc, "bad packet");
    return ch->conn.state >= COMET_CONN_CLOSING;
}
