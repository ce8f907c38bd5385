/* logic_admin.c - /health, /ready and /metrics of herald-logic (logic_admin.h). */
#include "logic_admin.h"

#include "logic_events.h"
#include "logic_online.h"
#include "logic_push.h"
#include "logic_replay.h"

#include <stdio.h>
#include "logic_router.h"

static json_t *on_health(void *arg)
{
    const logic_admin_t *a = arg;
    const logic_ctx_t *ctx = a->ctx;
    json_t *routers = json_array();
    for (size_t i = 0; i < logic_router_count(ctx->router); i++) {
        char epoch[17];
        snprintf(epoch, sizeof(epoch), "%016llx",
                 (unsigned long long)logic_replay_epoch(ctx->replay, i));
        json_array_append_new(
            routers, json_pack("{s:s,s:b,s:s}", "addr", logic_router_addr(ctx->router, i), "up",
                               logic_router_connected(ctx->router, i), "epoch", epoch));
    }
    /* The Kafka producer reports no connection state; the last delivery report is the signal. */
    int kafka = logic_push_kafka_state(ctx->push);
    return json_pack("{s:s,s:s,s:o,s:I}", "redis", redis_connected(ctx->redis) ? "up" : "down",
                     "kafka",
                     kafka > 0   ? "up"
                     : kafka < 0 ? "failing"
                                 : "unknown",
                     "routers", routers, "comets", (json_int_t)logic_online_count(ctx->online));
}

static int on_ready(void *arg, json_t **data)
{
    const logic_admin_t *a = arg;
    *data = on_health(arg);
    return redis_connected(a->ctx->redis) && logic_push_kafka_state(a->ctx->push) >= 0;
}

static json_t *on_metrics(void *arg)
{
    const logic_admin_t *a = arg;
    json_t *m = json_object();
    logic_http_metrics(a->http, m);
    logic_push_metrics(a->ctx->push, m);
    logic_rpc_metrics(a->rpc, m);
    logic_replay_metrics(a->ctx->replay, m);
    logic_events_metrics(a->ctx->events, m); /* after push: it adds to kafka_failed */
    return m;
}

const admin_ops_t logic_admin_ops = {on_health, on_metrics, on_ready};
