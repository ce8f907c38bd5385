/* comet_admin.c - see comet_admin.h. */
#include "comet_admin.h"

#include "comet_server.h"
#include "herald_err.h"

#include <stddef.h>
#include <string.h>

#define ADMIN_MAX_BODY 1024

/* Sum over the workers of the counter at offset in comet_stats_t. */
static json_int_t stat_sum(const comet_server_t *s, size_t offset)
{
    json_int_t total = 0;
    for (int i = 0; i < s->nworkers; i++) {
        const _Atomic uint64_t *f =
            (const _Atomic uint64_t *)((const char *)&s->workers[i].stats + offset);
        total += (json_int_t)atomic_load_explicit(f, memory_order_relaxed);
    }
    return total;
}

#define SUM(field) stat_sum(s, offsetof(comet_stats_t, field))

static json_t *admin_metrics(const comet_server_t *s)
{
    return json_pack(
        "{s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
        "s:I,s:I,s:I,s:I}",
        "server", s->conf->server_id, "workers", s->nworkers, "conns", SUM(conns), "sockets",
        SUM(sockets), "ws_conns", SUM(ws), "rooms", (json_int_t)s->renew.rooms, "accepted",
        SUM(accepted), "auth_ok", SUM(auth_ok), "auth_failed", SUM(auth_failed), "packets_in",
        SUM(packets_in), "packets_out", SUM(packets_out), "bytes_in", SUM(bytes_in), "bytes_out",
        SUM(bytes_out), "kicks", SUM(kicks), "pushes", SUM(pushes), "protocol_errors",
        SUM(protocol_errors), "timeouts", SUM(timeouts), "slow_consumers", SUM(slow_consumers),
        "renewals", (json_int_t)s->renew.renewals, "duplicates", SUM(duplicates), "fetches",
        SUM(fetches), "fanouts_merged", SUM(fanouts_merged));
}

static json_t *admin_health(const comet_server_t *s)
{
    json_int_t conns = SUM(conns);
    return json_pack("{s:i,s:s,s:{s:s,s:i,s:I,s:b,s:b}}", "code", 0, "message", "ok", "data",
                     "server", s->conf->server_id, "workers", s->nworkers, "conns", conns,
                     "logic_connected", comet_logic_connected(&s->logic), "stopping", s->stopping);
}

static void on_request(http_request_t *req, void *arg)
{
    const comet_server_t *s = arg;
    const char *method = http_request_method(req);
    const char *path = http_request_path(req);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_respond_json(req, 405,
                          json_pack("{s:i,s:s}", "code", HERALD_EINVAL, "message", "GET only"));
    } else if (strcmp(path, "/health") == 0) {
        http_respond_json(req, 200, admin_health(s));
    } else if (strcmp(path, "/metrics") == 0) {
        http_respond_json(req, 200, admin_metrics(s));
    } else {
        http_respond_json(req, 404,
                          json_pack("{s:i,s:s}", "code", HERALD_ENOTFOUND, "message", "not found"));
    }
}

int comet_admin_start(comet_server_t *s, const char *host, int port)
{
    s->admin = http_server_new(s->loop, on_request, s, ADMIN_MAX_BODY);
    int rc = http_server_listen(s->admin, host, port);
    if (rc == 0)
        s->admin_port = http_server_port(s->admin);
    return rc;
}
