/* logic_server.c - builds logic's context (backends, services, listeners) and takes it down in
 * order. */
#include "logic_server.h"

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "herald_err.h"
#include "log.h"
#include "logic_admin.h"
#include "logic_comets.h"
#include "logic_ctx.h"
#include "logic_events.h"
#include "logic_http.h"
#include "logic_jwt.h"
#include "logic_login.h"
#include "logic_password.h"
#include "logic_online.h"
#include "logic_push.h"
#include "logic_registry.h"
#include "logic_replay.h"
#include "logic_routers.h"
#include "logic_router.h"
#include "logic_rpc.h"
#include "redis_conf.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_FLUSH_MS 5000

/* Owned by main (or a test); everything it points to is owned by it and released by
 * logic_server_close. */
struct logic_server_s {
    logic_ctx_t ctx; /* assigned here only; the modules read it */
    logic_admin_t admin;
    logic_http_t *http;
    logic_rpc_t *rpc;
    logic_jwt_keys_t *jwt;    /* ctx.jwt, owned here */
    logic_routers_t *routers; /* the ring follows the router registry */
    int stopping;
    int closing; /* closes still to finish in the current stage */
    void (*close_cb)(void *arg);
    void *close_arg;
};

static int make_router(logic_server_t *s, char *err, size_t errlen)
{
    size_t n;
    char **addrs = conf_list_split(s->ctx.conf->router_addrs, &n);
    s->ctx.router = logic_router_new(s->ctx.loop, (const char *const *)addrs, n,
                                     (uint32_t)s->ctx.conf->rpc_timeout_ms, err, errlen);
    conf_list_free(addrs);
    return s->ctx.router ? 0 : HERALD_ECONF;
}

/* The JWT keys, when auth.mode takes JWTs: a mode that does with no key is a start-up error. */
static int make_jwt_keys(logic_server_t *s, char *err, size_t errlen)
{
    const logic_conf_t *c = s->ctx.conf;
    if (c->auth_mode != LOGIC_AUTH_JWT && c->auth_mode != LOGIC_AUTH_BOTH)
        return 0;
    s->jwt = logic_jwt_keys_new(c->auth_jwt_secret, c->auth_jwt_public_key, err, errlen);
    s->ctx.jwt = s->jwt;
    return s->jwt ? 0 : HERALD_ECONF;
}

static int make_backends(logic_server_t *s, char *err, size_t errlen)
{
    logic_ctx_t *ctx = &s->ctx;
    const logic_conf_t *c = ctx->conf;
    if (redis_conf_check(&c->redis, err, errlen) != 0)
        return HERALD_ECONF;
    char kerr[256] = "";
    ctx->kafka = kafka_producer_new(ctx->loop, c->kafka_brokers, &c->kafka_props, c->kafka_topic,
                                    kerr, sizeof(kerr));
    if (ctx->kafka == NULL) {
        snprintf(err, errlen, "kafka: %s", kerr);
        return HERALD_ECONF;
    }
    if (make_router(s, err, errlen) != 0 || logic_login_conf_check(c, err, errlen) != 0)
        return HERALD_ECONF;
    if (make_jwt_keys(s, err, errlen) != 0)
        return HERALD_ECONF;
    ctx->events = logic_events_new(ctx, err, errlen);
    if (ctx->events == NULL && err[0] != '\0')
        return HERALD_ECONF;
    /* Redis last: every check that can fail is done, and it connects in the background. */
    ctx->redis = redis_conf_connect(ctx->loop, &c->redis, err, errlen);
    return ctx->redis != NULL ? 0 : HERALD_ECONF;
}

/* The services over the backends, then the listeners. */
static int make_services(logic_server_t *s, char *err, size_t errlen)
{
    logic_ctx_t *ctx = &s->ctx;
    ctx->online = logic_online_new();
    ctx->registry = logic_registry_new(ctx);
    ctx->comets = logic_comets_new(ctx);
    ctx->replay = logic_replay_new(ctx);
    s->routers = logic_routers_new(ctx);
    ctx->push = logic_push_new(ctx);
    ctx->login = logic_login_new(ctx);
    ctx->password = logic_password_new(ctx->loop, ctx->conf);
    if (ctx->password == NULL) {
        snprintf(err, errlen,
                 "libsodium cannot start, or cannot hash with login.password_ops and "
                 "login.password_mem (too much memory?)");
        return HERALD_EINTERNAL;
    }
    s->admin.ctx = ctx;
    s->http = logic_http_new(ctx, &logic_admin_ops, &s->admin, err, errlen);
    if (s->http == NULL)
        return HERALD_ECONF;
    s->admin.http = s->http;
    s->rpc = logic_rpc_new(ctx, err, errlen);
    if (s->rpc == NULL)
        return HERALD_ECONF;
    s->admin.rpc = s->rpc;
    return 0;
}

logic_server_t *logic_server_new(uv_loop_t *loop, const logic_conf_t *conf, char *err,
                                 size_t errlen)
{
    logic_server_t *s = xcalloc(1, sizeof(*s));
    s->ctx.loop = loop;
    s->ctx.conf = conf;
    s->ctx.stopping = &s->stopping;
    if (make_backends(s, err, errlen) != 0 || make_services(s, err, errlen) != 0) {
        logic_server_close(s, NULL, NULL);
        return NULL;
    }
    if (conf->auth_mode == LOGIC_AUTH_INSECURE_MID)
        log_warn("auth.mode = insecure-mid: clients may claim any user id without a token "
                 "(for goim clients and benchmarks only)");
    log_info("ready: http port %d, rpc port %d, %zu router(s), kafka %s topic %s",
             logic_http_port(s->http), logic_rpc_port(s->rpc), logic_router_count(s->ctx.router),
             conf->kafka_brokers, conf->kafka_topic);
    return s;
}

int logic_server_http_port(const logic_server_t *s)
{
    return logic_http_port(s->http);
}

int logic_server_rpc_port(const logic_server_t *s)
{
    return logic_rpc_port(s->rpc);
}

/* Last: what is left is memory nothing refers to any more. */
static void finish(logic_server_t *s)
{
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;
    logic_login_free(s->ctx.login);
    logic_push_free(s->ctx.push);
    logic_replay_free(s->ctx.replay);
    logic_online_free(s->ctx.online);
    logic_jwt_keys_free(s->jwt);
    free(s);
    if (cb != NULL)
        cb(arg);
}

/* Second stage: the services that may still have had work on the backends. */
static void on_last_closed(void *arg)
{
    logic_server_t *s = arg;
    if (--s->closing == 0)
        finish(s);
}

/* First stage done: every backend is closed, so every piece of work has had its last callback
 * and answered its caller (with an error if its backend went away). */
static void on_backend_closed(void *arg)
{
    logic_server_t *s = arg;
    if (--s->closing > 0)
        return;
    logic_ctx_t *ctx = &s->ctx;
    s->closing = 1; /* hold, as below */
    if (s->routers != NULL) {
        s->closing++;
        logic_routers_close(s->routers, on_last_closed, s);
        s->routers = NULL;
    }
    if (ctx->registry != NULL) {
        s->closing++;
        logic_registry_close(ctx->registry, on_last_closed, s);
        ctx->registry = NULL;
    }
    if (ctx->comets != NULL) {
        s->closing++;
        logic_comets_close(ctx->comets, on_last_closed, s);
        ctx->comets = NULL;
    }
    if (s->rpc != NULL) {
        s->closing++;
        logic_rpc_close(s->rpc, on_last_closed, s);
        s->rpc = NULL;
    }
    on_last_closed(s);
}

void logic_server_close(logic_server_t *s, void (*cb)(void *arg), void *arg)
{
    logic_ctx_t *ctx = &s->ctx;
    s->stopping = 1; /* from now on no module starts backend work; RPC calls are refused */
    s->close_cb = cb;
    s->close_arg = arg;
    s->closing = 1; /* hold until every close below has been started */
    if (s->http != NULL) {
        s->closing++;
        logic_http_close(s->http, on_backend_closed, s);
        s->http = NULL;
    }
    /* Deliveries in flight end here (their pushes answer their callers); pushes still waiting
     * on Redis or a router then find no Kafka and fail as "stopping". */
    if (ctx->kafka != NULL) {
        kafka_producer_free(ctx->kafka, KAFKA_FLUSH_MS);
        ctx->kafka = NULL;
    }
    logic_events_free(ctx->events, KAFKA_FLUSH_MS);
    ctx->events = NULL;
    /* Hashes in flight end here: their callbacks then find every backend stopping. */
    if (ctx->password != NULL) {
        s->closing++;
        logic_password_close(ctx->password, on_backend_closed, s);
        ctx->password = NULL;
    }
    if (ctx->router != NULL) {
        s->closing++;
        logic_router_close(ctx->router, on_backend_closed, s);
        ctx->router = NULL;
    }
    if (ctx->redis != NULL) {
        s->closing++;
        redis_close(ctx->redis, on_backend_closed, s);
        ctx->redis = NULL;
    }
    on_backend_closed(s);
}
