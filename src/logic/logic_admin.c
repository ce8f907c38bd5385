/* logic_admin.c - /health, /ready and /metrics of herald-logic (logic_admin.h). */
#include "logic_admin.h"

#include "logic_events.h"
#include "logic_online.h"
#include "logic_push.h"
#include "logic_replay.h"

#include <stdio.h>
#include "logic_router.h"
#include "metrics.h"

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

/* Every router is required: each holds the placements of its share of the users. */
static int routers_up(const logic_ctx_t *ctx)
{
    for (size_t i = 0; i < logic_router_count(ctx->router); i++)
        if (!logic_router_connected(ctx->router, i))
            return 0;
    return 1;
}

static int on_ready(void *arg, json_t **data)
{
    const logic_admin_t *a = arg;
    const logic_ctx_t *ctx = a->ctx;
    json_t *missing = json_array();
    if (!redis_connected(ctx->redis))
        json_array_append_new(missing, json_string("redis"));
    if (logic_push_kafka_state(ctx->push) < 0)
        json_array_append_new(missing, json_string("kafka"));
    if (!routers_up(ctx))
        json_array_append_new(missing, json_string("routers"));
    return admin_ready_result(data, missing, logic_ctx_stopping(ctx));
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

/* admin_prom_rpc_server writes these members of the JSON under its own names. */
static const char *const rpc_server_members[] = {
    "rpc_accepted",     "rpc_refused",        "rpc_auth_failed",
    "rpc_auth_timeout", "rpc_idle_closed",    "rpc_conns",
    "rpc_handshaking",  "rpc_read_buf_bytes", NULL,
};

static void on_prometheus(void *arg, buf_t *out)
{
    const logic_admin_t *a = arg;
    const logic_ctx_t *ctx = a->ctx;
    json_t *m = on_metrics(arg);
    admin_prom_json(out, "logic", m, NULL, rpc_server_members);
    json_decref(m);
    admin_prom_rpc_server(out, "logic", logic_rpc_server(a->rpc));
    admin_prom_rpc_client(out, "logic");
    logic_http_prometheus(a->http, out);

    metrics_family(out, "herald_logic_kafka_produce_duration_seconds", METRICS_HISTOGRAM,
                   "Time from producing a push envelope to Kafka's acknowledgement");
    if (ctx->kafka != NULL)
        metrics_hist(out, "herald_logic_kafka_produce_duration_seconds", NULL, 0,
                     kafka_producer_latency(ctx->kafka));
    metrics_gauge(out, "herald_logic_redis_up", "1 while the Redis connection is up",
                  redis_connected(ctx->redis) ? 1 : 0);
    metrics_gauge(out, "herald_logic_kafka_up",
                  "1 after a delivered envelope, -1 after a failed one, 0 before any",
                  logic_push_kafka_state(ctx->push));
    metrics_gauge(out, "herald_logic_comets", "Comets registered",
                  (double)logic_online_count(ctx->online));
    metrics_family(out, "herald_logic_router_up", METRICS_GAUGE,
                   "1 while the RPC connection to the router is up");
    for (size_t i = 0; i < logic_router_count(ctx->router); i++) {
        metrics_label_t label = {"router", logic_router_addr(ctx->router, i)};
        metrics_sample(out, "herald_logic_router_up", &label, 1,
                       logic_router_connected(ctx->router, i));
    }
    metrics_family(out, "herald_logic_router_calls_in_flight", METRICS_GAUGE,
                   "RPC calls to the router started and not yet answered");
    for (size_t i = 0; i < logic_router_count(ctx->router); i++) {
        metrics_label_t label = {"router", logic_router_addr(ctx->router, i)};
        metrics_sample(out, "herald_logic_router_calls_in_flight", &label, 1,
                       (double)logic_router_in_flight(ctx->router, i));
    }
}

const admin_ops_t logic_admin_ops = {on_health, on_metrics, on_ready, on_prometheus};
