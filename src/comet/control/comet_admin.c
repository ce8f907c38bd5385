/* comet_admin.c - see comet_admin.h. */
#include "comet_admin.h"

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
        "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "server", server_id, "workers", n, "conns", SUM(conns), "sockets", SUM(sockets), "ws_conns",
        SUM(ws), "rooms", (json_int_t)renew->rooms, "accepted", SUM(accepted), "auth_ok",
        SUM(auth_ok), "auth_failed", SUM(auth_failed), "packets_in", SUM(packets_in), "packets_out",
        SUM(packets_out), "bytes_in", SUM(bytes_in), "bytes_out", SUM(bytes_out), "kicks",
        SUM(kicks), "pushes", SUM(pushes), "protocol_errors", SUM(protocol_errors), "timeouts",
        SUM(timeouts), "slow_consumers", SUM(slow_consumers), "renewals",
        (json_int_t)renew->renewals, "duplicates", SUM(duplicates), "fetches", SUM(fetches),
        "fanouts_merged", SUM(fanouts_merged), "rooms_refused", SUM(rooms_refused), "tls_conns",
        SUM(tls), "tls_handshakes", SUM(tls_handshakes), "tls_resumed", SUM(tls_resumed),
        "tls_detached", SUM(tls_detached), "tls_failed", SUM(tls_failed), "replayed", SUM(replayed),
        "replay_catchups", SUM(replay_catchups));
}

json_t *comet_admin_health(const char *server_id, const comet_worker_t *workers, int n,
                           int logic_connected, int stopping)
{
    return json_pack("{s:s,s:i,s:I,s:b,s:b}", "server", server_id, "workers", n, "conns",
                     SUM(conns), "logic_connected", logic_connected, "stopping", stopping);
}
