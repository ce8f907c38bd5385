/* comet_auth.c - see comet_auth.h. */
#include "comet_auth.h"

#include "comet_allowed.h"
#include "buf.h"
#include "comet_join.h"
#include "herald_assert.h"
#include "comet_keys.h"
#include "comet_session.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Longest connection key and device name accepted from logic (logic's keys are
 * "<mid>-<24 hex>", device names at most 64 characters). */
#define AUTH_KEY_MAX 128

/* One Connect in flight. Holds a reference on the channel; ch->auth points here until the reply
 * (or the failure) arrives. */
struct comet_auth_s {
    comet_channel_t *ch;
    uint32_t seq;                             /* the OpAuth packet's seq, echoed in op 8 */
    buf_t deferred;                           /* whole packets received after OpAuth, in order */
    uint32_t misses[COMET_KEYS_MISS_BUCKETS]; /* comet_keys_misses before Connect was sent */
    comet_join_wait_t join;      /* waiting on the room's announcement (comet_join.h) */
    Herald__ConnectReply *reply; /* meanwhile: logic's reply, a copy we own */
    size_t room_len;             /* of reply->room_id: the room it enters, 0 = none */
};

/* The key and the device name in one allocation (one pointer per connection). */
static char *key_device_dup(const char *key, const char *device)
{
    size_t k = strlen(key), d = device ? strlen(device) : 0;
    char *s = xmalloc(k + d + 2);
    memcpy(s, key, k + 1);
    if (d)
        memcpy(s + k + 1, device, d);
    s[k + 1 + d] = '\0';
    return s;
}

static void disconnect_notify(comet_session_t *s, int64_t mid, const char *key)
{
    Herald__DisconnectReq req = HERALD__DISCONNECT_REQ__INIT;
    req.mid = mid;
    req.key = (char *)key;
    req.server = s->conf->server_id;
    comet_logic_notify(&s->logic, RPC_LOGIC_DISCONNECT, &req.base,
                       &herald__disconnect_reply__descriptor);
}

/* A refused auth is a kick (op 6), never an op 8: goim clients take any op 8 for success. */
static void auth_fail(comet_channel_t *ch, uint32_t seq, int code, const char *message)
{
    COMET_STAT_ADD(comet_channel_session(ch)->stats, auth_failed, 1);
    json_t *j = json_pack("{s:s,s:i,s:s}", "reason", "auth", "code", code, "message",
                          message ? message : "");
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (body)
        comet_conn_send_packet(&ch->conn, PROTO_OP_DISCONNECT_REPLY, seq, body, strlen(body));
    free(body);
    json_decref(j);
    comet_conn_finish(&ch->conn);
}

static int reply_valid(const Herald__ConnectReply *r)
{
    size_t klen = r->key ? strlen(r->key) : 0;
    size_t dlen = r->device ? strlen(r->device) : 0;
    return klen > 0 && klen <= AUTH_KEY_MAX && dlen <= AUTH_KEY_MAX;
}

static void auth_accept(comet_auth_t *a, const Herald__ConnectReply *r)
{
    comet_channel_t *ch = a->ch;
    comet_session_t *s = comet_channel_session(ch);
    COMET_STAT_ADD(s->stats, auth_ok, 1);
    ch->mid = r->mid;
    ch->id.key = key_device_dup(r->key, r->device);
    for (size_t i = 0; i < r->n_accepts; i++)
        comet_accepts_add(&ch->accepts, r->accepts[i]);
    comet_channel_set_room(ch, r->room_id, a->room_len);
    ch->last_renew = comet_conns_now(&s->conns);
    ch->state = COMET_CHANNEL_AUTHED;
    /* A connection that still holds this key (a goim client's own key, reconnecting) took the
     * user pushes routed to the key until now: this one may lack some of them. */
    int holder;
    comet_keys_route(s->keys, &ch->id.key, 1, &holder);
    comet_channel_register(ch);
    for (size_t i = 0; i < r->n_kick_keys; i++) {
        if (r->kick_keys[i] == NULL || strcmp(r->kick_keys[i], ch->id.key) == 0)
            continue;
        int worker;
        comet_keys_route(s->keys, &r->kick_keys[i], 1, &worker);
        if (worker >= 0)
            comet_channel_kick_on(s, worker, r->kick_keys[i], 0, "kicked");
    }

    uint32_t heartbeat_ms = r->heartbeat_ms;
    if (heartbeat_ms == 0)
        heartbeat_ms = s->limits.conns.idle_timeout_ms / 3;
    json_t *j = json_pack("{s:i,s:I,s:s,s:s,s:I,s:I,s:b}", "code", 0, "mid", (json_int_t)ch->mid,
                          "key", ch->id.key, "room_id", ch->room ? ch->room->id : "",
                          "heartbeat_ms", (json_int_t)heartbeat_ms, "last_seq",
                          (json_int_t)r->last_seq, "recovered", (int)r->recovered);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body == NULL) {
        /* jansson fails only on OOM or invalid UTF-8 in the key or room from logic */
        log_warn_rl("key=%s: cannot encode the auth reply", ch->id.key);
        comet_conn_close(&ch->conn);
        return;
    }
    buf_t *out = &s->out;
    out->len = 0;
    comet_conn_append_packet(&ch->conn, out, PROTO_OP_AUTH_REPLY, a->seq, body, strlen(body));
    free(body);
    uint32_t packets = 1 + comet_channel_append_protos(ch, out, r->backlog, r->n_backlog);
    /* Forced past max_pending_bytes: a backlog page is bounded by logic's inbox.page_bytes, and
     * the cap then applies to whatever follows it. */
    uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
    comet_conn_send(&ch->conn, &b, 1, NULL, packets, 1);
    if (ch->state != COMET_CHANNEL_AUTHED)
        return;
    /* Registered before the reply was written: user pushes that come from now on are written
     * after the backlog. One that came before the registration was dropped (or went to the
     * key's previous holder); the miss counters tell whether that may have happened, and a
     * Fetch then covers it. */
    int missed = holder >= 0 || comet_keys_missed(s->keys, ch->id.key, a->misses);
    s->ops->on_authed(s->ops_arg, ch, r->last_seq, missed);
    if (ch->state != COMET_CHANNEL_AUTHED)
        return;
    comet_channel_replay(ch, &a->deferred);
}

/* A Connect that logic accepted for a connection that closed meanwhile (deadline, peer gone,
 * shutdown): logic placed it, so take it back, unless a newer connection registered that key
 * here in the meantime. */
static void auth_abandoned(comet_session_t *s, const Herald__ConnectReply *r)
{
    int holder;
    comet_keys_route(s->keys, &r->key, 1, &holder);
    if (holder < 0)
        disconnect_notify(s, r->mid, r->key);
}

static void auth_free(comet_auth_t *a)
{
    comet_channel_t *ch = a->ch;
    if (a->reply != NULL)
        herald__connect_reply__free_unpacked(a->reply, NULL);
    buf_deinit(&a->deferred);
    free(a);
    comet_channel_unref(ch);
}

static void on_room_announced(comet_join_wait_t *w, comet_room_t *room, int status)
{
    (void)room;
    (void)status; /* a failed announcement lets the channel in all the same (comet_join.h) */
    comet_auth_t *a = list_entry(w, comet_auth_t, join);
    comet_channel_t *ch = a->ch;
    ch->auth = NULL;
    if (ch->state == COMET_CHANNEL_AUTHING)
        auth_accept(a, a->reply);
    else
        auth_abandoned(comet_channel_session(ch), a->reply);
    auth_free(a);
}

/* A protobuf-c copy of r that outlives the reply callback. Aborts on OOM. */
static Herald__ConnectReply *reply_copy(const Herald__ConnectReply *r)
{
    size_t len = herald__connect_reply__get_packed_size(r);
    uint8_t *buf = xmalloc(len ? len : 1);
    herald__connect_reply__pack(r, buf);
    Herald__ConnectReply *copy = herald__connect_reply__unpack(NULL, len, buf);
    free(buf);
    HERALD_ASSERT(copy != NULL);
    return copy;
}

/* Logic accepted ch: its room is checked, and when ch is the room's first member on this worker
 * the rest waits for the room's announcement (comet_join.h), still AUTHING (reading paused,
 * packets deferred). Returns 1 when it waits (a is kept), 0 when ch was answered. */
static int auth_admit(comet_auth_t *a, const Herald__ConnectReply *r)
{
    comet_channel_t *ch = a->ch;
    comet_session_t *s = comet_channel_session(ch);
    if (r->rooms_restricted)
        ch->allowed_rooms = comet_allowed_new(r->rooms, r->n_rooms);
    size_t room_len = r->room_id ? strlen(r->room_id) : 0;
    if (room_len > 0 && (!proto_room_id_valid(r->room_id, room_len) ||
                         !comet_allowed_has(ch->allowed_rooms, r->room_id, room_len))) {
        log_warn_rl("mid=%lld: logic gave an invalid or disallowed room id, joining none",
                    (long long)r->mid);
        room_len = 0;
    }
    a->room_len = room_len;
    a->join.cb = on_room_announced;
    if (room_len > 0 && comet_join_enter(s, r->room_id, room_len, &a->join)) {
        a->reply = reply_copy(r);
        ch->auth = a;
        return 1;
    }
    auth_accept(a, r);
    return 0;
}

static void on_connect_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    comet_auth_t *a = arg;
    comet_channel_t *ch = a->ch;
    comet_session_t *s = comet_channel_session(ch);
    const Herald__ConnectReply *r = (const Herald__ConnectReply *)msg;
    ch->auth = NULL;
    if (ch->state != COMET_CHANNEL_AUTHING) {
        if (status == 0 && r->code == 0 && reply_valid(r))
            auth_abandoned(s, r);
    } else if (status != 0) {
        int code = comet_logic_code(status);
        auth_fail(ch, a->seq, code, herald_strerror(code));
    } else if (r->code != 0) {
        auth_fail(ch, a->seq, r->code, r->message);
    } else if (!reply_valid(r)) {
        log_warn_rl("logic replied to Connect without a valid key");
        auth_fail(ch, a->seq, HERALD_EINTERNAL, herald_strerror(HERALD_EINTERNAL));
    } else if (auth_admit(a, r)) {
        return; /* waits on the room's announcement: a lives on */
    }
    auth_free(a);
}

void comet_auth_start(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body)
{
    comet_session_t *s = comet_channel_session(ch);
    char peer[80];
    comet_conn_peer(&ch->conn, peer, sizeof peer);
    Herald__ConnectReq req = HERALD__CONNECT_REQ__INIT;
    req.server = s->conf->server_id;
    req.body.data = (uint8_t *)body;
    req.body.len = h->pack_len - PROTO_HEADER_LEN;
    req.remote_addr = peer;
    comet_auth_t *a = xcalloc(1, sizeof *a);
    a->ch = ch;
    a->seq = h->seq;
    buf_init(&a->deferred);
    comet_keys_misses(s->keys, a->misses);
    int rc = comet_logic_call(&s->logic, RPC_LOGIC_CONNECT, &req.base,
                              &herald__connect_reply__descriptor, 0, on_connect_reply, a);
    if (rc != 0) {
        free(a);
        auth_fail(ch, h->seq, HERALD_EUNAVAIL, "logic unavailable");
        return;
    }
    comet_channel_ref(ch);
    ch->auth = a;
    ch->state = COMET_CHANNEL_AUTHING;
    comet_conn_pause(&ch->conn);
}

void comet_auth_defer(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body)
{
    /* Bounded by one read (reading is paused while the auth is in flight). */
    comet_channel_keep_packet(&ch->auth->deferred, h, body);
}
