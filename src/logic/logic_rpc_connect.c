/* logic_rpc_connect.c - Connect: auth body -> user id -> connection key -> router Put -> reply.
 *
 * Stages (each a callback): resolve the token in Redis (skipped for an insecure-mid body without
 * token), Put the placement on the router that owns the user, read the user's sequence number.
 * The sequence number is read after the Put on purpose: from the Put on, every push to the user
 * reaches this connection, and everything before it is at or below that number (the offline
 * backlog will be read at the same point, see the hook below). */
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_body.h"
#include "logic_params.h"
#include "logic_registry.h"
#include "logic_router.h"
#include "logic_rpc.h"
#include "logic_token.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct connect_s {
    rpc_call_t *call;
    logic_server_t *s;
    logic_body_auth_t auth;
    char *server;
    char key[LOGIC_PARAMS_MAX_KEY + 1];
    int64_t mid;
    char **kick_keys; /* evicted by the router's overflow policy */
    size_t nkick;
} connect_t;

static void connect_free(connect_t *c)
{
    logic_body_auth_deinit(&c->auth);
    free(c->server);
    for (size_t i = 0; i < c->nkick; i++)
        free(c->kick_keys[i]);
    free(c->kick_keys);
    free(c);
}

/* Answers a refusal in the reply's code (the comet writes it to the client and closes). */
static void refuse(rpc_call_t *call, logic_server_t *s, int code, const char *message)
{
    s->metrics.connect_failures++;
    log_debug("connect refused (%s): %s", rpc_call_peer(call), message);
    Herald__ConnectReply out = HERALD__CONNECT_REPLY__INIT;
    out.code = code;
    out.message = (char *)message;
    rpc_reply(call, (const ProtobufCMessage *)&out);
}

static void connect_refuse(connect_t *c, int code, const char *message)
{
    refuse(c->call, c->s, code, message);
    connect_free(c);
}

static void reply_ok(connect_t *c, uint64_t last_seq)
{
    Herald__ConnectReply out = HERALD__CONNECT_REPLY__INIT;
    out.mid = c->mid;
    out.key = c->key;
    out.room_id = c->auth.room_id ? c->auth.room_id : "";
    out.n_accepts = c->auth.naccepts;
    out.accepts = c->auth.accepts;
    out.heartbeat_ms = (uint32_t)c->s->conf->heartbeat_ms;
    out.n_kick_keys = c->nkick;
    out.kick_keys = c->kick_keys;
    out.last_seq = last_seq;
    /* No offline backlog yet: nothing can be missing from an empty one. */
    out.recovered = 1;
    rpc_reply(c->call, (const ProtobufCMessage *)&out);
    c->s->metrics.connects++;
    connect_free(c);
}

static void on_undo_put(int status, const ProtobufCMessage *reply, void *arg)
{
    (void)reply;
    (void)arg;
    if (status != 0)
        log_warn_rl("connect: removing a placement after a failure failed: %s",
                    herald_strerror(status));
}

/* The connection will not exist: take its placement back so pushes do not go to it. */
static void undo_put(connect_t *c)
{
    logic_router_t *r = logic_server_router(c->s);
    if (r == NULL)
        return;
    Herald__Placement pl = HERALD__PLACEMENT__INIT;
    pl.mid = c->mid;
    pl.key = c->key;
    pl.server = c->server;
    Herald__DelReq del = HERALD__DEL_REQ__INIT;
    del.placement = &pl;
    logic_router_call(r, c->mid, RPC_ROUTER_DEL, (const ProtobufCMessage *)&del,
                      &herald__del_reply__descriptor, on_undo_put, NULL);
}

static void on_last_seq(int status, const redis_reply_t *reply, void *arg)
{
    connect_t *c = arg;
    int type = status == 0 ? redis_reply_type(reply) : 0;
    long long seq = 0;
    if (type == REDIS_REPLY_T_STRING) {
        size_t len;
        const char *v = redis_reply_str(reply, &len);
        char digits[24];
        int64_t parsed;
        if (len < sizeof(digits)) {
            memcpy(digits, v, len);
            digits[len] = '\0';
            if (logic_params_mid(digits, &parsed) == 0)
                seq = parsed;
        }
    }
    if (type != REDIS_REPLY_T_STRING && type != REDIS_REPLY_T_NIL) {
        undo_put(c);
        connect_refuse(c, HERALD_EUNAVAIL, "redis unavailable");
        return;
    }
    /* Hook: the offline inbox (DESIGN.md §2 "Offline") reads the user's messages after
     * c->auth.last_seq here, puts them into the reply's backlog and sets recovered to whether
     * the inbox still held all of them. Until it lands there is no backlog to send. */
    reply_ok(c, (uint64_t)seq);
}

static void on_put(int status, const ProtobufCMessage *msg, void *arg)
{
    connect_t *c = arg;
    if (status != 0) {
        connect_refuse(c, status, "router unavailable");
        return;
    }
    const Herald__PutReply *reply = (const Herald__PutReply *)msg;
    if (reply->code != 0) {
        connect_refuse(c, reply->code,
                       reply->code == HERALD_EOVERFLOW ? "too many connections for this user"
                                                       : "router refused the connection");
        return;
    }
    c->kick_keys = xcalloc(reply->n_evicted + 1, sizeof(*c->kick_keys));
    for (size_t i = 0; i < reply->n_evicted; i++)
        if (reply->evicted[i] != NULL && reply->evicted[i]->key != NULL)
            c->kick_keys[c->nkick++] = xstrdup(reply->evicted[i]->key);
    redis_t *redis = logic_server_redis(c->s);
    char key[LOGIC_KEY_MAX];
    logic_server_key(c->s, key, "seq:%lld", (long long)c->mid);
    if (redis == NULL || redis_command(redis, on_last_seq, c, "GET %s", key) != 0) {
        undo_put(c);
        connect_refuse(c, HERALD_EUNAVAIL, "redis unavailable");
    }
}

static void put_placement(connect_t *c)
{
    if (c->s->conf->auth_mode == LOGIC_AUTH_INSECURE_MID && c->auth.key != NULL)
        snprintf(c->key, sizeof(c->key), "%s", c->auth.key); /* a goim client's own key */
    else
        logic_token_conn_key(c->mid, c->key, sizeof(c->key));
    Herald__Placement pl = HERALD__PLACEMENT__INIT;
    pl.mid = c->mid;
    pl.key = c->key;
    pl.server = c->server;
    Herald__PutReq put = HERALD__PUT_REQ__INIT;
    put.placement = &pl;
    logic_router_t *r = logic_server_router(c->s);
    int rc = r ? logic_router_call(r, c->mid, RPC_ROUTER_PUT, (const ProtobufCMessage *)&put,
                                   &herald__put_reply__descriptor, on_put, c)
               : HERALD_EUNAVAIL;
    if (rc != 0)
        connect_refuse(c, rc, "router unavailable");
}

static void on_token(int status, int64_t mid, void *arg)
{
    connect_t *c = arg;
    if (status != 0) {
        connect_refuse(c, status,
                       status == HERALD_EAUTH ? "unknown or expired token" : "redis unavailable");
        return;
    }
    c->mid = mid;
    put_placement(c);
}

void logic_rpc_connect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_server_t *s = arg;
    const Herald__ConnectReq *req = (const Herald__ConnectReq *)msg;
    char err[200];
    if (logic_registry_id_ok(req->server) != 0) {
        refuse(call, s, HERALD_EINVAL, "bad server id");
        return;
    }
    connect_t *c = xcalloc(1, sizeof(*c));
    c->call = call;
    c->s = s;
    if (logic_body_auth(req->body.data, req->body.len, &c->auth, err, sizeof(err)) != 0) {
        connect_refuse(c, HERALD_EINVAL, err);
        return;
    }
    c->server = xstrdup(req->server);
    if (c->auth.token != NULL) { /* a token is checked in every mode */
        int rc = logic_token_resolve(s, c->auth.token, on_token, c);
        if (rc != 0)
            connect_refuse(c, rc, "redis unavailable");
        return;
    }
    if (s->conf->auth_mode != LOGIC_AUTH_INSECURE_MID || !c->auth.has_mid) {
        connect_refuse(c, HERALD_EAUTH, "token required");
        return;
    }
    c->mid = c->auth.mid;
    put_placement(c);
}
