/* admin.h - the admin endpoint every herald daemon serves: GET /health (liveness), GET /ready
 * (readiness) and GET /metrics, routed by one table, answered in goim's reply shape
 * {"code","message","data"}.
 *
 * A daemon describes itself with an admin_ops_t and either lets admin_new run a listener of its
 * own (comet, router, job: their admin port) or routes requests of an HTTP server it already has
 * through admin_route (logic: its API port also answers /health, /ready, /metrics and their
 * /herald/v1/ aliases). Loop thread only; the callbacks run on the loop thread.
 *
 * Answers:
 *   /health   200, data = ops->health(arg) (or {} when NULL) with "log_level" (debug, info,
 *             warn or error: the level logged at now) added: the process is up and serving.
 *   /ready    200 when ops->ready(arg, &data) returns 1, 503 when it returns 0 (message
 *             "not ready"); data is what ready stored (may stay NULL). Without ops->ready it is
 *             ready whenever it is alive.
 *   /metrics  200, data = ops->metrics(arg) (or {} when NULL); or, when the request asks for
 *             it (admin_wants_prometheus) and ops->prometheus is set, the Prometheus text
 *             exposition ops->prometheus writes (metrics.h), Content-Type METRICS_CONTENT_TYPE.
 *   /log/level  on an admin listener of its own (admin_new) only, not through admin_route: GET
 *             answers {"log_level":"info"}; POST ?level=debug|info|warn|error sets the level of
 *             the process until the next SIGHUP (which applies [log] level from the file) or
 *             restart, and answers the same; 400 for another level, 405 for another method.
 *   another path: the answer of the route set with admin_set_route when it has one, else 404
 * {"code":-404,"message":"not found"}; a method other than GET or HEAD on a known path: 405
 * {"code":-405,"message":"method not allowed"}.
 */
#ifndef HERALD_ADMIN_H
#define HERALD_ADMIN_H

#include "buf.h"
#include "http.h"
#include "rpc.h"

#include <jansson.h>
#include <uv.h>

#define ADMIN_LOG_LEVEL_PATH "/log/level"

typedef struct admin_ops_s {
    /* Each returns a new JSON object (the reference is stolen), or NULL for {}. */
    json_t *(*health)(void *arg);
    json_t *(*metrics)(void *arg);
    /* 1 ready, 0 not; *data (starts NULL) may receive a new JSON object saying why
     * (admin_ready_result builds the common one). */
    int (*ready)(void *arg, json_t **data);
    /* Appends the daemon's metrics in the Prometheus text format (metrics.h) to out. */
    void (*prometheus)(void *arg, buf_t *out);
} admin_ops_t;

typedef struct admin_s admin_t;

/* An admin endpoint of its own on host:port (port 0 = ephemeral; host numeric, as
 * http_server_listen), over HTTPS when tls (may be NULL) names a certificate and key: the
 * [admin] tls_cert / tls_key files (HTTP_TLS_CONF_ITEMS(type, "admin", admin_tls) in each
 * daemon's table), read now. ops and arg are borrowed and must outlive it.
 * Returns the endpoint, or NULL with a message in err: "admin.listen HOST:PORT: why" when it
 * cannot listen, "[admin] tls_...: why" when the certificate or key cannot be used (never a
 * byte of the key). Aborts on OOM. */
admin_t *admin_new(uv_loop_t *loop, const admin_ops_t *ops, void *arg, const char *host, int port,
                   const http_tls_conf_t *tls, char *err, size_t errlen);

/* A daemon's own admin routes (comet's POST /tls/reload): route(arg, req) is asked for every
 * request whose path is none of the above, answers req and returns 1, or returns 0 (then 404)
 * leaving req alone. arg is borrowed and must outlive a. */
typedef int (*admin_route_cb)(void *arg, http_request_t *req);
void admin_set_route(admin_t *a, admin_route_cb route, void *arg);

/* Bound port. */
int admin_port(const admin_t *a);

/* Stops listening and frees a; cb (may be NULL) runs once everything is closed. a may be NULL
 * (then cb runs at once). */
void admin_close(admin_t *a, void (*cb)(void *arg), void *arg);

/* Adds an RPC server's counters (rpc_server_stats) to a /metrics object as "rpc_accepted",
 * "rpc_refused" (connection cap), "rpc_auth_failed", "rpc_auth_timeout", "rpc_idle_closed",
 * "rpc_conns", "rpc_handshaking" and "rpc_read_buf_bytes". s may be NULL (nothing added). */
void admin_put_rpc_server(json_t *metrics, const rpc_server_t *s);

/* Writes an RPC server's counters in the Prometheus format, every name starting
 * herald_<daemon>_rpc_: connections accepted, refused, auth failures and timeouts, idle closes
 * (counters); open and handshaking connections, read buffer bytes, calls in flight (gauges);
 * herald_<daemon>_rpc_server_duration_seconds{method} per method (histogram). s may be NULL
 * (nothing written). */
void admin_prom_rpc_server(buf_t *out, const char *daemon, const rpc_server_t *s);

/* The integer members of a /metrics JSON object in the Prometheus format, so that both formats
 * show the same counters under one name each: a member named in gauges (NULL-terminated, may be
 * NULL) as the gauge herald_<daemon>_<name>, one named in skip (idem: written otherwise by the
 * caller) not at all, every other as the counter herald_<daemon>_<name>_total. Other members
 * (strings, objects) are left out. metrics is borrowed. */
void admin_prom_json(buf_t *out, const char *daemon, json_t *metrics, const char *const *gauges,
                     const char *const *skip);

/* herald_<daemon>_rpc_client_duration_seconds{method}: the process's RPC calls
 * (rpc_client_latency), for each method called at least once. */
void admin_prom_rpc_client(buf_t *out, const char *daemon);

/* Nonzero when GET /metrics should answer in the Prometheus text format: ?format=prometheus,
 * or, without ?format=json, an Accept header naming text/plain or
 * application/openmetrics-text (what Prometheus sends). Anything else keeps the JSON (curl's
 * and browsers' default Accept, the web console, the tests). */
int admin_wants_prometheus(const http_request_t *req);

/* /ready's common answer: sets *data to {"ready":bool,"draining":bool,"missing":[...]} (missing:
 * an array of the names of what is not reachable, e.g. "redis", "kafka", "logic"; the reference
 * is stolen) and returns 1 when nothing is missing and the daemon is not draining, else 0. */
int admin_ready_result(json_t **data, json_t *missing, int draining);

/* For a daemon whose own HTTP server also carries the admin routes: answers req and returns 1
 * when `path` is an admin path (/health, /ready, /metrics, or one of them under `prefix`, which
 * may be NULL: "/herald/v1" gives /herald/v1/health, ...); returns 0 and leaves req alone
 * otherwise. */
int admin_route(const admin_ops_t *ops, void *arg, http_request_t *req, const char *prefix);

#endif
