/* logic_rpc_connect.c - Connect: auth body -> user id -> connection key -> router Put -> reply.
 *
 * Stages (each a callback): resolve the token (an opaque one in Redis, a JWT here at once with no
 * I/O; none for an insecure-mid body without token), check the room against the token's rooms
 * when room.join = token, Put the placement on the router that owns the user, read the backlog from
 * the user's inbox. The backlog is read after the Put on purpose: a push stores its message before
 * it looks the user's placements up, so a push whose lookup missed this placement stored its
 * message before the Put, hence before the backlog read, and the backlog has it. Pushes stored
 * after the read reach the connection live; comet drops what it gets twice (docs/delivery.md). */
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_body.h"
#include "logic_inbox.h"
#include "logic_jwt.h"
#include "logic_login.h"
#include "logic_params.h"
#include "logic_router.h"
#include "logic_rpc.h"
#include "logic_token.h"
#include "registry.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct connect_s {
    rpc_call_t *call;
    logic_rpc_t *r;
    const logic_ctx_t *ctx;
    logic_body_auth_t auth;
    char *server;
    char key[LOGIC_PARAMS_MAX_KEY + 1];
    int64_t mid;
    char **kick_keys; /* evicted by the router's overflow policy */
    size_t nkick;
    logic_login_dup_t *dup; /* duplicate-login check, NULL when the policy is allow */
    logic_rooms_t rooms;    /* what the token lists; sent to comet when room.join = token */
    int by_jwt;             /* authenticated by a JWT: nothing in Redis to revoke */
} connect_t;

static void connect_free(connect_t *c)
{
    logic_body_auth_deinit(&c->auth);
    free(c->server);
    for (size_t i = 0; i < c->nkick; i++)
        free(c->kick_keys[i]);
    free(c->kick_keys);
    logic_login_dup_free(c->dup);
    logic_rooms_deinit(&c->rooms);
    free(c);
}

/* Answers a refusal in the reply's code (the comet writes it to the client and closes). */
static void refuse(rpc_call_t *call, logic_rpc_t *r, int code, const char *message)
{
    logic_rpc_count(r, LOGIC_RPC_CONNECT_FAILURES);
    log_debug("connect refused (%s): %s", rpc_call_peer(call), message);
    Herald__ConnectReply out = HERALD__CONNECT_REPLY__INIT;
    out.code = code;
    out.message = (char *)message;
    rpc_reply(call, (const ProtobufCMessage *)&out);
}

static void connect_refuse(connect_t *c, int code, const char *message)
{
    refuse(c->call, c->r, code, message);
    connect_free(c);
}

/* The name of the connection's delivery position: its device, or a goim client's own key (kept
 * across its reconnects), else none. */
static const char *position_name(const connect_t *c)
{
    if (c->auth.device != NULL)
        return c->auth.device;
    if (c->ctx->conf->auth_mode == LOGIC_AUTH_INSECURE_MID && c->auth.key != NULL)
        return c->auth.key;
    return "";
}

static void reply_ok(connect_t *c, const logic_inbox_page_t *page)
{
    Herald__ConnectReply out = HERALD__CONNECT_REPLY__INIT;
    out.mid = c->mid;
    out.key = c->key;
    out.room_id = c->auth.room_id ? c->auth.room_id : "";
    out.n_accepts = c->auth.naccepts;
    out.accepts = c->auth.accepts;
    out.heartbeat_ms = (uint32_t)c->ctx->conf->heartbeat_ms;
    out.n_kick_keys = c->nkick;
    out.kick_keys = c->kick_keys;
    out.last_seq = page->cur;
    out.n_backlog = page->n;
    out.backlog = page->protos;
    out.recovered = page->recovered;
    out.device = (char *)position_name(c);
    out.rooms_restricted = c->ctx->conf->room_join == LOGIC_ROOM_JOIN_TOKEN;
    if (out.rooms_restricted) {
        out.n_rooms = c->rooms.n;
        out.rooms = c->rooms.ids;
    }
    rpc_reply(c->call, (const ProtobufCMessage *)&out);
    logic_rpc_count(c->r, LOGIC_RPC_CONNECTS);
    /* Only an opaque token is remembered (logout closes the connections that used it); a JWT
     * cannot be revoked, and storing up to 4 KiB of it per connection would buy nothing. */
    logic_login_connected(c->ctx->login, c->mid, c->key, c->server, c->auth.platform,
                          c->by_jwt ? NULL : c->auth.token, c->auth.room_id);
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
    logic_router_t *r = logic_ctx_router(c->ctx);
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

static void on_backlog(int status, const logic_inbox_page_t *page, void *arg)
{
    connect_t *c = arg;
    if (status != 0) {
        undo_put(c);
        connect_refuse(c, HERALD_EUNAVAIL, "redis unavailable");
        return;
    }
    reply_ok(c, page);
}

/* The backlog starts after the client's last_seq; without one, after its device's position (a
 * device that comes back gets what it missed); without either, at the newest message: a goim
 * client that says nothing is not flooded with the inbox (docs/delivery.md). */
static int read_backlog(connect_t *c)
{
    logic_inbox_from_t from = {0};
    from.has_after = c->auth.has_last_seq;
    from.after = c->auth.last_seq;
    from.name = position_name(c);
    return logic_inbox_read(c->ctx, c->mid, &from, on_backlog, c);
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
    if (c->dup != NULL) /* kick-older: the new connection is placed, the older ones go */
        logic_login_dup_kick(c->ctx->login, c->dup, c->server, &c->kick_keys, &c->nkick);
    if (read_backlog(c) != 0) {
        undo_put(c);
        connect_refuse(c, HERALD_EUNAVAIL, "redis unavailable");
    }
}

static void put_placement(connect_t *c)
{
    if (c->ctx->conf->auth_mode == LOGIC_AUTH_INSECURE_MID && c->auth.key != NULL)
        snprintf(c->key, sizeof(c->key), "%s", c->auth.key); /* a goim client's own key */
    else
        logic_token_conn_key(c->mid, c->key, sizeof(c->key));
    Herald__Placement pl = HERALD__PLACEMENT__INIT;
    pl.mid = c->mid;
    pl.key = c->key;
    pl.server = c->server;
    Herald__PutReq put = HERALD__PUT_REQ__INIT;
    put.placement = &pl;
    logic_router_t *r = logic_ctx_router(c->ctx);
    int rc = r ? logic_router_call(r, c->mid, RPC_ROUTER_PUT, (const ProtobufCMessage *)&put,
                                   &herald__put_reply__descriptor, on_put, c)
               : HERALD_EUNAVAIL;
    if (rc != 0)
        connect_refuse(c, rc, "router unavailable");
}

static void on_duplicate(int status, logic_login_dup_t *dup, void *arg)
{
    connect_t *c = arg;
    if (status != 0) {
        connect_refuse(c, status, "backend unavailable");
        return;
    }
    c->dup = dup;
    if (dup->refuse) {
        connect_refuse(c, HERALD_EOVERFLOW, "already connected on this platform");
        return;
    }
    put_placement(c);
}

/* The platform's duplicate-login policy (docs/im.md) is applied before the placement exists, so
 * a refused connection never becomes visible to pushes. */
static void check_duplicate(connect_t *c)
{
    int rc = logic_login_dup_check(c->ctx->login, c->mid, c->auth.platform, on_duplicate, c);
    if (rc == 1)
        put_placement(c);
    else if (rc != 0)
        connect_refuse(c, rc, "redis unavailable");
}

/* The user is known: with room.join = token, the room the client asks for must be one its token
 * lists (no room, absent or "", is always fine). */
static void authenticated(connect_t *c)
{
    const char *room = c->auth.room_id;
    if (c->ctx->conf->room_join == LOGIC_ROOM_JOIN_TOKEN && room != NULL && room[0] != '\0' &&
        !logic_rooms_has(&c->rooms, room)) {
        connect_refuse(c, HERALD_EFORBIDDEN, "room not allowed by the token");
        return;
    }
    check_duplicate(c);
}

static void on_token(int status, int64_t mid, logic_rooms_t *rooms, void *arg)
{
    connect_t *c = arg;
    if (status != 0) {
        connect_refuse(c, status,
                       status == HERALD_EAUTH ? "unknown or expired token" : "redis unavailable");
        return;
    }
    c->mid = mid;
    logic_rooms_move(&c->rooms, rooms);
    authenticated(c);
}

/* A JWT is checked here, with no I/O; its platform claim, when present, wins over the body's. */
static void verify_jwt(connect_t *c)
{
    char err[120];
    logic_jwt_claims_t claims;
    const logic_conf_t *conf = c->ctx->conf;
    const logic_jwt_policy_t policy = {
        .now_s = (int64_t)time(NULL),
        .leeway_s = conf->auth_jwt_leeway_ms / 1000,
        .audience = conf->auth_jwt_audience,
        .issuer = conf->auth_jwt_issuer,
    };
    if (logic_jwt_verify(c->ctx->jwt, c->auth.token, strlen(c->auth.token), &policy, &claims, err,
                         sizeof(err)) != 0) {
        connect_refuse(c, HERALD_EAUTH, err);
        return;
    }
    c->mid = claims.mid;
    c->by_jwt = 1;
    if (claims.platform != NULL) {
        free(c->auth.platform);
        c->auth.platform = claims.platform;
        claims.platform = NULL;
    }
    logic_rooms_move(&c->rooms, &claims.rooms);
    logic_jwt_claims_deinit(&claims);
    authenticated(c);
}

/* The token, by auth.mode: a JWT (two dots) when the mode takes JWTs, else an opaque token in
 * Redis when it takes those. */
static void check_token(connect_t *c)
{
    int mode = c->ctx->conf->auth_mode;
    int jwt = logic_jwt_is_jwt(c->auth.token);
    if (jwt && c->ctx->jwt != NULL) {
        verify_jwt(c);
        return;
    }
    if (jwt || mode == LOGIC_AUTH_JWT) {
        connect_refuse(c, HERALD_EAUTH,
                       jwt ? "jwt tokens are not accepted" : "opaque tokens are not accepted");
        return;
    }
    int rc = logic_token_resolve_rooms(c->ctx, c->auth.token, on_token, c);
    if (rc != 0)
        connect_refuse(c, rc, "redis unavailable");
}

void logic_rpc_connect(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const logic_ctx_t *ctx = logic_rpc_ctx(r);
    const Herald__ConnectReq *req = (const Herald__ConnectReq *)msg;
    char err[200];
    if (registry_id_ok(req->server) != 0) {
        refuse(call, r, HERALD_EINVAL, "bad server id");
        return;
    }
    connect_t *c = xcalloc(1, sizeof(*c));
    c->call = call;
    c->r = r;
    c->ctx = ctx;
    if (logic_body_auth(req->body.data, req->body.len, &c->auth, err, sizeof(err)) != 0) {
        connect_refuse(c, HERALD_EINVAL, err);
        return;
    }
    c->server = xstrdup(req->server);
    if (c->auth.token != NULL) { /* a token is checked in every mode */
        check_token(c);
        return;
    }
    if (ctx->conf->auth_mode != LOGIC_AUTH_INSECURE_MID || !c->auth.has_mid) {
        connect_refuse(c, HERALD_EAUTH, "token required");
        return;
    }
    c->mid = c->auth.mid;
    authenticated(c);
}
