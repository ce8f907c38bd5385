/* logic_server.h - one herald-logic instance: its backends, listeners and counters.
 *
 * Everything runs on one uv loop (single-threaded). The struct is shared by the logic_* modules,
 * which reach the backends only through logic_server_redis/_router/_kafka: these return NULL once
 * the server is stopping, so no module starts work on a backend that is closing.
 */
#ifndef LOGIC_SERVER_H
#define LOGIC_SERVER_H

#include "http.h"
#include "kafka.h"
#include "logic_conf.h"
#include "redis.h"
#include "rpc.h"

#include <stdint.h>
#include <uv.h>

struct logic_router_s;
struct logic_online_s;
struct logic_http_s;
struct logic_comets_s;
struct logic_events_s;

/* Counters served by GET /herald/v1/metrics. Monotonic since start. */
typedef struct logic_metrics_s {
    uint64_t http_requests;
    uint64_t http_errors_4xx;
    uint64_t http_errors_5xx;
    uint64_t pushes_accepted;  /* push requests (HTTP or upstream) fully acknowledged by Kafka */
    uint64_t pushes_failed;    /* push requests that got an error after validation */
    uint64_t kafka_produced;   /* envelopes whose delivery report said success */
    uint64_t kafka_failed;     /* envelopes refused at once or with a failed delivery report */
    uint64_t connects;         /* successful Connect calls */
    uint64_t connect_failures; /* refused or failed Connect calls */
    uint64_t disconnects;
    uint64_t heartbeats;
    uint64_t renew_onlines;
    uint64_t receives; /* upstream messages accepted */
    uint64_t receive_failures;
    uint64_t acks; /* ack entries stored */
    uint64_t server_downs;
    uint64_t fetches; /* comet Fetch calls (gaps in a connection's stream, backlog pages) */
} logic_metrics_t;

typedef struct logic_server_s logic_server_t;

/* Owned by main (or a test); everything it points to is owned by it and released by
 * logic_server_close. Fields are read by the logic_* modules; only logic_server.c assigns them. */
struct logic_server_s {
    uv_loop_t *loop;
    const logic_conf_t *conf; /* borrowed: outlives the server */
    redis_t *redis;
    kafka_producer_t *kafka;
    struct logic_router_s *router;
    struct logic_online_s *online;
    struct logic_http_s *http;
    rpc_server_t *rpc;
    struct logic_comets_s *comets; /* logic's own calls to comets (kicks, room members) */
    struct logic_events_s *events; /* business events topic; NULL when off */
    uint64_t login_rr;             /* round-robin position of POST /herald/v1/login */
    logic_metrics_t metrics;
    int kafka_state; /* 1 last delivery succeeded, -1 last failed, 0 nothing delivered yet */
    int stopping;
    int closing; /* backends still closing */
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* Creates the backends (Redis, Kafka producer, router clients: they connect in the background)
 * and binds the HTTP and RPC listeners. Returns the server, or NULL with a message in err when the
 * configuration is unusable (bad address, port in use, Kafka config refused). */
logic_server_t *logic_server_new(uv_loop_t *loop, const logic_conf_t *conf, char *err,
                                 size_t errlen);

/* Bound ports (for tests started with port 0). */
int logic_server_http_port(const logic_server_t *s);
int logic_server_rpc_port(const logic_server_t *s);

/* Graceful stop: stops the HTTP listener (requests in flight are dropped), refuses new RPC calls
 * with HERALD_EUNAVAIL, waits up to 5 s for Kafka deliveries in flight, closes the router clients
 * and Redis (work waiting on them fails), then the RPC server, frees the server and calls cb (may
 * be NULL). Call once. */
void logic_server_close(logic_server_t *s, void (*cb)(void *arg), void *arg);

/* Backends for new work, or NULL when stopping (callers answer HERALD_EUNAVAIL). */
redis_t *logic_server_redis(logic_server_t *s);
struct logic_router_s *logic_server_router(logic_server_t *s);
kafka_producer_t *logic_server_kafka(logic_server_t *s);

/* Redis key "<prefix><part>" into out; returns its length (truncated keys cannot happen with
 * the bounded parts callers pass: out is LOGIC_KEY_MAX bytes). */
#define LOGIC_KEY_MAX 512
int logic_server_key(const logic_server_t *s, char *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
