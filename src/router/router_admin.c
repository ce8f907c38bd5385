/* router_admin.c - /health, /ready and /metrics data of herald-router (see router_admin.h). */
#include "router_admin.h"

#include <stdio.h>

static json_t *router_admin_health(void *arg)
{
    const router_admin_t *a = arg;
    char epoch[17];
    snprintf(epoch, sizeof(epoch), "%016llx", (unsigned long long)a->rpc->epoch);
    return json_pack("{s:I, s:I, s:s}", "users", (json_int_t)router_table_users(a->rpc->table),
                     "conns", (json_int_t)router_table_conns(a->rpc->table), "epoch", epoch);
}

static json_t *router_admin_metrics(void *arg)
{
    const router_admin_t *a = arg;
    const router_stats_t *s = &a->rpc->stats;
    json_t *j = router_admin_health(arg);
    json_object_del(j, "epoch"); /* a name, not a counter: /health only */
    json_t *counters = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "puts", (json_int_t)s->puts, "gets",
        (json_int_t)s->gets, "dels", (json_int_t)s->dels, "renews", (json_int_t)s->renews, "lists",
        (json_int_t)s->lists, "evicted", (json_int_t)s->evicted, "rejected",
        (json_int_t)s->rejected, "expired", (json_int_t)s->expired, "put_batches",
        (json_int_t)s->put_batches, "batch_puts", (json_int_t)s->batch_puts);
    json_object_update(j, counters);
    json_decref(counters);
    admin_put_rpc_server(j, a->rpc_server);
    return j;
}

/* A router needs no peer: it is ready while it is not stopping. */
static int router_admin_ready(void *arg, json_t **data)
{
    const router_admin_t *a = arg;
    return admin_ready_result(data, json_array(), a->stopping);
}

static void router_admin_prometheus(void *arg, buf_t *out)
{
    const router_admin_t *a = arg;
    const router_stats_t *s = &a->rpc->stats;
#define C(n, v, h) METRICS_COUNTER_ROW("herald_router_" n, v, h)
    const metrics_row_t rows[] = {
        C("puts", s->puts, "Put calls (placements registered)"),
        C("gets", s->gets, "Get calls (placements looked up)"),
        C("dels", s->dels, "Del calls (placements removed)"),
        C("renews", s->renews, "Renew calls (heartbeats of placements)"),
        C("lists", s->lists, "List calls (pages of online users)"),
        C("evicted", s->evicted, "Placements evicted by the overflow policy"),
        C("rejected", s->rejected, "Placements refused by the overflow policy"),
        C("expired", s->expired, "Placements expired without a heartbeat"),
        C("put_batches", s->put_batches, "PutBatch calls (a comet's replay)"),
        C("batch_puts", s->batch_puts, "Placements registered by PutBatch calls"),
        {"herald_router_users", METRICS_GAUGE, (double)router_table_users(a->rpc->table),
         "Users with at least one placement"},
        {"herald_router_placements", METRICS_GAUGE, (double)router_table_conns(a->rpc->table),
         "Placements (connections) held"},
    };
#undef C
    metrics_rows(out, rows, sizeof rows / sizeof rows[0]);
    admin_prom_rpc_server(out, "router", a->rpc_server);
}

const admin_ops_t router_admin_ops = {
    .health = router_admin_health,
    .metrics = router_admin_metrics,
    .ready = router_admin_ready,
    .prometheus = router_admin_prometheus,
};
