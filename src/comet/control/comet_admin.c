/* comet_admin.c - see comet_admin.h. */
#include "comet_admin.h"

#include "admin.h"

#include <stddef.h>

/* Sum over the workers of the counter at offset in comet_stats_t. */
static json_int_t stat_sum(const comet_worker_t *workers, int n, size_t offset)
{
    json_int_t total = 0;
    for (int i = 0; i < n; i++) {
        const _Atomic uint64_t *f =
            (const _Atomic uint64_t *)((const char *)&workers[i].stats + offset);
        total += (json_int_t)atomic_load_explicit(f, memory_order_relaxed);
    }
    return total;
}

#define SUM(field) stat_sum(workers, n, offsetof(comet_stats_t, field))

json_t *comet_admin_metrics(const char *server_id, const comet_worker_t *workers, int n,
                            const comet_renew_t *renew)
{
    return json_pack(
        "{s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
        "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "server", server_id, "workers", n, "conns", SUM(conns), "sockets", SUM(sockets), "ws_conns",
        SUM(ws), "rooms", (json_int_t)renew->rooms, "accepted", SUM(accepted), "auth_ok",
        SUM(auth_ok), "auth_failed", SUM(auth_failed), "packets_in", SUM(packets_in), "packets_out",
        SUM(packets_out), "bytes_in", SUM(bytes_in), "bytes_out", SUM(bytes_out), "kicks",
        SUM(kicks), "pushes", SUM(pushes), "protocol_errors", SUM(protocol_errors), "timeouts",
        SUM(timeouts), "slow_consumers", SUM(slow_consumers), "renewals",
        (json_int_t)renew->renewals, "duplicates", SUM(duplicates), "fetches", SUM(fetches),
        "fanouts_merged", SUM(fanouts_merged), "rooms_refused", SUM(rooms_refused),
        "room_announces", SUM(room_announces), "room_announce_failures",
        SUM(room_announce_failures), "tls_conns", SUM(tls), "tls_handshakes", SUM(tls_handshakes),
        "tls_resumed", SUM(tls_resumed), "tls_detached", SUM(tls_detached), "tls_failed",
        SUM(tls_failed), "replayed", SUM(replayed), "replay_catchups", SUM(replay_catchups));
}

json_t *comet_admin_health(const char *server_id, const comet_worker_t *workers, int n,
                           int logic_connected, int stopping)
{
    return json_pack("{s:s,s:i,s:I,s:b,s:b}", "server", server_id, "workers", n, "conns",
                     SUM(conns), "logic_connected", logic_connected, "stopping", stopping);
}

/* Gauges of the JSON; every other integer member is a counter. */
static const char *const json_gauges[] = {"workers", "conns",     "sockets", "ws_conns",
                                          "rooms",   "tls_conns", NULL};

static double clamp0(int64_t v)
{
    return v < 0 ? 0 : (double)v;
}

void comet_admin_prometheus(buf_t *out, const char *server_id, const comet_worker_t *workers, int n,
                            const comet_renew_t *renew, const rpc_server_t *rpc,
                            const comet_logic_t *main_logic)
{
    json_t *m = comet_admin_metrics(server_id, workers, n, renew);
    admin_prom_json(out, "comet", m, json_gauges, NULL);
    json_decref(m);

    /* Each gauge is read on its own while the workers run: a socket moving between two of them
     * meanwhile could make a difference negative for a moment. */
    int64_t sockets = SUM(sockets), ws = SUM(ws), tls = SUM(tls), wss = SUM(wss);
    const struct {
        const char *transport;
        double value;
    } by_transport[] = {
        {"tcp", clamp0(sockets - ws - tls + wss)},
        {"ws", clamp0(ws - wss)},
        {"tls", clamp0(tls - wss)},
        {"wss", clamp0(wss)},
    };
    metrics_family(out, "herald_comet_connections", METRICS_GAUGE,
                   "Open client sockets by transport (authenticated or not)");
    for (size_t i = 0; i < sizeof by_transport / sizeof by_transport[0]; i++) {
        metrics_label_t label = {"transport", by_transport[i].transport};
        metrics_sample(out, "herald_comet_connections", &label, 1, by_transport[i].value);
    }
    metrics_gauge(out, "herald_comet_queued_bytes",
                  "Bytes queued on client sockets and not yet written", (double)SUM(unsent_bytes));
    uint64_t calls = comet_logic_in_flight(main_logic);
    for (int i = 0; i < n; i++)
        calls += comet_logic_in_flight(&workers[i].session.logic);
    metrics_gauge(out, "herald_comet_logic_calls_in_flight",
                  "RPC calls to logic started and not yet answered", (double)calls);

    metrics_hist_t push = {0}, fanout = {0};
    for (int i = 0; i < n; i++) {
        metrics_hist_merge(&push, &workers[i].stats.push_latency);
        metrics_hist_merge(&fanout, &workers[i].stats.fanout_time);
    }
    metrics_family(out, "herald_comet_push_latency_seconds", METRICS_HISTOGRAM,
                   "From logic accepting a push to its write to the last socket on a worker");
    metrics_hist(out, "herald_comet_push_latency_seconds", NULL, 0, &push);
    metrics_family(out, "herald_comet_fanout_duration_seconds", METRICS_HISTOGRAM,
                   "A room or broadcast fan-out on a worker, from queued to its last write");
    metrics_hist(out, "herald_comet_fanout_duration_seconds", NULL, 0, &fanout);
    admin_prom_rpc_server(out, "comet", rpc);
    admin_prom_rpc_client(out, "comet");
}
