/* comet_auth.c - see comet_auth.h. */
#include "comet_auth.h"

#include "buf.h"
#include "comet_channel.h"
#include "comet_keys.h"
#include "comet_push.h"
#include "comet_room.h"
#include "comet_server.h"
#include "comet_sync.h"
#include "comet_worker.h"
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

/* One Connect in flight. Holds a reference on the connection; c->auth points here until the
 * reply (or the failure) arrives. */
struct comet_auth_s {
    comet_conn_t *conn;
    uint32_t seq;                             /* the OpAuth packet's seq, echoed in op 8 */
    buf_t deferred;                           /* whole packets received after OpAuth, in order */
    uint32_t misses[COMET_KEYS_MISS_BUCKETS]; /* comet_keys_misses before Connect was sent */
};

const char *comet_auth_device(const comet_conn_t *c)
{
    return c->key + strlen(c->key) + 1;
}

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

static void disconnect_notify(comet_worker_t *w, int64_t mid, const char *key)
{
    Herald__DisconnectReq req = HERALD__DISCONNECT_REQ__INIT;
    req.mid = mid;
    req.key = (char *)key;
    req.server = w->conf->server_id;
    comet_logic_notify(&w->logic, RPC_LOGIC_DISCONNECT, &req.base,
                       &herald__disconnect_reply__descriptor);
}

static void auth_fail(comet_conn_t *c, uint32_t seq, int code, const char *message)
{
    comet_worker_t *w = comet_conn_worker(c);
    COMET_STAT_ADD(&w->stats, auth_failed, 1);
    json_t *j = json_pack("{s:i,s:s}", "code", code, "message", message ? message : "");
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (body)
        comet_conn_send_packet(c, PROTO_OP_AUTH_REPLY, seq, body, strlen(body));
    free(body);
    json_decref(j);
    comet_conn_finish(c);
}

static int reply_valid(const Herald__ConnectReply *r)
{
    size_t klen = r->key ? strlen(r->key) : 0;
    size_t dlen = r->device ? strlen(r->device) : 0;
    return klen > 0 && klen <= AUTH_KEY_MAX && dlen <= AUTH_KEY_MAX;
}

static void auth_accept(comet_auth_t *a, const Herald__ConnectReply *r)
{
    comet_conn_t *c = a->conn;
    comet_worker_t *w = comet_conn_worker(c);
    COMET_STAT_ADD(&w->stats, auth_ok, 1);
    c->mid = r->mid;
    c->key = key_device_dup(r->key, r->device);
    for (size_t i = 0; i < r->n_accepts; i++)
        comet_accepts_add(&c->accepts, r->accepts[i]);
    size_t room_len = r->room_id ? strlen(r->room_id) : 0;
    if (room_len > 0 && !proto_room_id_valid(r->room_id, room_len)) {
        log_warn_rl("key=%s: logic gave an invalid room id, joining none", c->key);
        room_len = 0;
    }
    comet_channel_set_room(c, r->room_id, room_len);
    c->last_renew = comet_worker_now(w);
    c->state = COMET_CONN_AUTHED;
    /* A connection that still holds this key (a goim client's own key, reconnecting) took the
     * user pushes routed to the key until now: this one may lack some of them. */
    int holder;
    comet_keys_route(comet_server_keys(w->server), &c->key, 1, &holder);
    comet_channel_register(c);
    for (size_t i = 0; i < r->n_kick_keys; i++)
        if (r->kick_keys[i] && strcmp(r->kick_keys[i], c->key) != 0)
            comet_push_kick_key(w, r->kick_keys[i], "kicked");

    uint32_t heartbeat_ms = r->heartbeat_ms;
    if (heartbeat_ms == 0)
        heartbeat_ms = (uint32_t)(w->conf->heartbeat_timeout / 3);
    json_t *j = json_pack("{s:i,s:I,s:s,s:s,s:I,s:I,s:b}", "code", 0, "mid", (json_int_t)c->mid,
                          "key", c->key, "room_id", c->room ? c->room->id : "", "heartbeat_ms",
                          (json_int_t)heartbeat_ms, "last_seq", (json_int_t)r->last_seq,
                          "recovered", (int)r->recovered);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body == NULL) {
        /* jansson fails only on OOM or invalid UTF-8 in the key or room from logic */
        log_warn_rl("key=%s: cannot encode the auth reply", c->key);
        free(body);
        comet_conn_close(c);
        return;
    }
    buf_t *out = &w->out;
    out->len = 0;
    comet_conn_append_packet(c, out, PROTO_OP_AUTH_REPLY, a->seq, body, strlen(body));
    free(body);
    uint32_t packets = 1 + comet_sync_append(c, out, r->backlog, r->n_backlog);
    /* Forced past max_pending_bytes: a backlog page is bounded by logic's inbox.page_bytes, and
     * the cap then applies to whatever follows it. */
    uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
    comet_conn_send(c, &b, 1, NULL, packets, 1);
    if (c->state != COMET_CONN_AUTHED)
        return;
    /* Registered before the reply was written: user pushes that come from now on are written
     * after the backlog. One that came before the registration was dropped (or went to the
     * key's previous holder); the miss counters tell whether that may have happened, and a
     * Fetch then covers it. */
    comet_sync_begin(c, r->last_seq,
                     holder >= 0 ||
                         comet_keys_missed(comet_server_keys(w->server), c->key, a->misses));
    if (c->state != COMET_CONN_AUTHED)
        return;
    if (a->deferred.len > 0) {
        proto_reader_t reader;
        proto_reader_init(&reader);
        proto_reader_feed(&reader, a->deferred.data, a->deferred.len, (uint32_t)w->conf->max_body,
                          comet_channel_on_packet, c);
        proto_reader_deinit(&reader);
    }
    comet_conn_resume(c);
}

static void on_connect_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    comet_auth_t *a = arg;
    comet_conn_t *c = a->conn;
    comet_worker_t *w = comet_conn_worker(c);
    const Herald__ConnectReply *r = (const Herald__ConnectReply *)msg;
    c->auth = NULL;
    if (c->state != COMET_CONN_AUTHING) {
        /* Closed meanwhile (deadline, peer gone, shutdown): logic placed it, so take it back,
         * unless a newer connection registered that key here in the meantime. */
        if (status == 0 && r->code == 0 && reply_valid(r)) {
            int holder;
            comet_keys_route(comet_server_keys(w->server), &r->key, 1, &holder);
            if (holder < 0)
                disconnect_notify(w, r->mid, r->key);
        }
    } else if (status != 0) {
        int code = comet_logic_code(status);
        auth_fail(c, a->seq, code, herald_strerror(code));
    } else if (r->code != 0) {
        auth_fail(c, a->seq, r->code, r->message);
    } else if (!reply_valid(r)) {
        log_warn_rl("logic replied to Connect without a valid key");
        auth_fail(c, a->seq, HERALD_EINTERNAL, herald_strerror(HERALD_EINTERNAL));
    } else {
        auth_accept(a, r);
    }
    buf_deinit(&a->deferred);
    free(a);
    comet_conn_unref(c);
}

void comet_auth_start(comet_conn_t *c, const proto_header_t *h, const uint8_t *body)
{
    comet_worker_t *w = comet_conn_worker(c);
    char peer[80];
    comet_conn_peer(c, peer, sizeof peer);
    Herald__ConnectReq req = HERALD__CONNECT_REQ__INIT;
    req.server = w->conf->server_id;
    req.body.data = (uint8_t *)body;
    req.body.len = h->pack_len - PROTO_HEADER_LEN;
    req.remote_addr = peer;
    comet_auth_t *a = xcalloc(1, sizeof *a);
    a->conn = c;
    a->seq = h->seq;
    buf_init(&a->deferred);
    comet_keys_misses(comet_server_keys(w->server), a->misses);
    int rc = comet_logic_call(&w->logic, RPC_LOGIC_CONNECT, &req.base,
                              &herald__connect_reply__descriptor, 0, on_connect_reply, a);
    if (rc != 0) {
        free(a);
        auth_fail(c, h->seq, HERALD_EUNAVAIL, "logic unavailable");
        return;
    }
    comet_conn_ref(c);
    c->auth = a;
    c->state = COMET_CONN_AUTHING;
    comet_conn_pause(c);
}

void comet_auth_defer(comet_conn_t *c, const proto_header_t *h, const uint8_t *body)
{
    /* Bounded by one read (reading is paused while the auth is in flight). */
    uint32_t len = h->pack_len - PROTO_HEADER_LEN;
    uint8_t *p = buf_reserve(&c->auth->deferred, h->pack_len);
    proto_header_write(p, h->op, h->seq, len);
    if (len)
        memcpy(p + PROTO_HEADER_LEN, body, len);
    c->auth->deferred.len += h->pack_len;
}
