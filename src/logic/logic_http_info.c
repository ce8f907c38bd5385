/* logic_http_info.c - read-only routes: online counts and comet nodes (goim's shapes, from the
 * in-memory aggregate), health and metrics. */
#include "buf.h"
#include "herald_err.h"
#include "logic_events.h"
#include "logic_http.h"
#include "logic_online.h"
#include "logic_params.h"
#include "logic_router.h"

#include <stdlib.h>

#define TOP_LIMIT_MAX 1000

static int type_param(logic_server_t *s, http_request_t *req, const char **type)
{
    *type = http_request_query(req, "type");
    if (*type == NULL || (*type)[0] == '\0') {
        logic_http_error(s, req, 400, "type is required");
        return HERALD_EINVAL;
    }
    return 0;
}

void logic_http_info_top(logic_server_t *s, http_request_t *req)
{
    const char *type;
    long long limit;
    char err[160];
    if (type_param(s, req, &type) != 0)
        return;
    if (logic_params_int(http_request_query(req, "limit"), "limit", 1, TOP_LIMIT_MAX, &limit, err,
                         sizeof(err)) != 0) {
        logic_http_error(s, req, 400, err);
        return;
    }
    logic_http_ok(s, req, logic_online_top(s->online, type, (size_t)limit));
}

void logic_http_info_room(logic_server_t *s, http_request_t *req)
{
    const char *type;
    if (type_param(s, req, &type) != 0)
        return;
    size_t n = http_request_query_all(req, "rooms", NULL, 0);
    if (n == 0 || n > LOGIC_PARAMS_MAX_TARGETS) {
        logic_http_error(s, req, 400, n ? "too many rooms" : "rooms is required");
        return;
    }
    const char **rooms = xcalloc(n, sizeof(*rooms));
    http_request_query_all(req, "rooms", rooms, n);
    logic_http_ok(s, req, logic_online_rooms(s->online, type, rooms, n));
    free(rooms);
}

void logic_http_info_total(logic_server_t *s, http_request_t *req)
{
    logic_http_ok(s, req, logic_online_total(s->online));
}

void logic_http_info_weighted(logic_server_t *s, http_request_t *req)
{
    logic_http_ok(s, req,
                  logic_online_weighted(s->online, http_request_query(req, "platform"),
                                        s->conf->heartbeat_ms));
}

void logic_http_info_instances(logic_server_t *s, http_request_t *req)
{
    logic_http_ok(s, req, logic_online_instances(s->online));
}

/* Liveness (always 200 while the process serves) plus the state of each backend, so a probe can
 * tell "logic is up" from "logic can push". */
void logic_http_info_health(logic_server_t *s, http_request_t *req)
{
    json_t *routers = json_array();
    for (size_t i = 0; i < logic_router_count(s->router); i++)
        json_array_append_new(routers,
                              json_pack("{s:s,s:b}", "addr", logic_router_addr(s->router, i), "up",
                                        logic_router_connected(s->router, i)));
    /* The Kafka producer reports no connection state; the last delivery report is the signal. */
    const char *kafka = s->kafka_state > 0 ? "up" : s->kafka_state < 0 ? "failing" : "unknown";
    logic_http_ok(s, req,
                  json_pack("{s:s,s:s,s:o,s:I}", "redis", redis_connected(s->redis) ? "up" : "down",
                            "kafka", kafka, "routers", routers, "comets",
                            (json_int_t)logic_online_comets(s->online)));
}

void logic_http_info_metrics(logic_server_t *s, http_request_t *req)
{
    const logic_metrics_t *m = &s->metrics;
    json_t *data = json_object();
#define COUNTER(name) json_object_set_new(data, #name, json_integer((json_int_t)m->name))
    COUNTER(http_requests);
    COUNTER(http_errors_4xx);
    COUNTER(http_errors_5xx);
    COUNTER(pushes_accepted);
    COUNTER(pushes_failed);
    COUNTER(kafka_produced);
    COUNTER(kafka_failed);
    COUNTER(connects);
    COUNTER(connect_failures);
    COUNTER(disconnects);
    COUNTER(heartbeats);
    COUNTER(renew_onlines);
    COUNTER(receives);
    COUNTER(receive_failures);
    COUNTER(acks);
    COUNTER(server_downs);
    COUNTER(fetches);
#undef COUNTER
    uint64_t posted, failed_posts, dropped;
    logic_events_callback_stats(s->events, &posted, &failed_posts, &dropped);
    json_object_set_new(data, "events_posted", json_integer((json_int_t)posted));
    json_object_set_new(data, "events_post_failures", json_integer((json_int_t)failed_posts));
    json_object_set_new(data, "events_dropped", json_integer((json_int_t)dropped));
    logic_http_ok(s, req, data);
}
