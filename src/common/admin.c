/* admin.c - see admin.h. */
#include "admin.h"

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "rpc_methods.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

struct admin_s {
    http_server_t *http;
    const admin_ops_t *ops;
    void *arg;
    admin_route_cb route; /* admin_set_route, may be NULL */
    void *route_arg;
    int port;
    void (*close_cb)(void *arg);
    void *close_arg;
};

typedef void (*admin_page_cb)(const admin_ops_t *ops, void *arg, http_request_t *req);

static json_t *or_empty(json_t *data)
{
    return data != NULL ? data : json_object();
}

/* Every daemon's /health also says the level it logs at now (a SIGHUP may have changed it). */
static void page_health(const admin_ops_t *ops, void *arg, http_request_t *req)
{
    json_t *data = or_empty(ops->health ? ops->health(arg) : NULL);
    json_object_set_new(data, "log_level", json_string(log_level_name(LOG_LEVEL_NOW())));
    http_respond_reply(req, 200, 0, "ok", data);
}

static void page_ready(const admin_ops_t *ops, void *arg, http_request_t *req)
{
    json_t *data = NULL;
    int ready = ops->ready ? ops->ready(arg, &data) : 1;
    if (ready)
        http_respond_reply(req, 200, 0, "ok", or_empty(data));
    else
        http_respond_reply(req, 503, -503, "not ready", or_empty(data));
}

int admin_wants_prometheus(const http_request_t *req)
{
    const char *format = http_request_query(req, "format");
    if (format != NULL)
        return strcmp(format, "prometheus") == 0;
    const char *accept = http_request_header(req, "Accept");
    return accept != NULL &&
           (strstr(accept, "text/plain") != NULL || strstr(accept, "openmetrics-text") != NULL);
}

static void page_metrics(const admin_ops_t *ops, void *arg, http_request_t *req)
{
    if (ops->prometheus != NULL && admin_wants_prometheus(req)) {
        buf_t out;
        buf_init(&out);
        ops->prometheus(arg, &out);
        http_respond(req, 200, METRICS_CONTENT_TYPE, (const char *)out.data, out.len);
        buf_deinit(&out);
        return;
    }
    http_respond_reply(req, 200, 0, "ok", or_empty(ops->metrics ? ops->metrics(arg) : NULL));
}

static const struct {
    const char *path;
    admin_page_cb page;
} admin_pages[] = {
    {"/health", page_health},
    {"/ready", page_ready},
    {"/metrics", page_metrics},
};

int admin_route(const admin_ops_t *ops, void *arg, http_request_t *req, const char *prefix)
{
    const char *path = http_request_path(req);
    size_t plen = prefix != NULL ? strlen(prefix) : 0;
    const char *rest = path;
    if (plen > 0 && strncmp(path, prefix, plen) == 0)
        rest = path + plen;
    for (size_t i = 0; i < sizeof(admin_pages) / sizeof(admin_pages[0]); i++) {
        if (strcmp(rest, admin_pages[i].path) != 0)
            continue;
        const char *method = http_request_method(req);
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            http_respond_reply(req, 405, -405, "method not allowed", NULL);
        else
            admin_pages[i].page(ops, arg, req);
        return 1;
    }
    return 0;
}

/* /log/level on an admin listener of its own (see admin.h). Returns 0 for another path. */
static int page_log_level(http_request_t *req)
{
    if (strcmp(http_request_path(req), ADMIN_LOG_LEVEL_PATH) != 0)
        return 0;
    const char *method = http_request_method(req);
    const char *word = http_request_query(req, "level");
    log_level_t level;
    if (strcmp(method, "POST") == 0) {
        if (word == NULL || log_level_parse(word, &level) != 0) {
            http_respond_reply(req, 400, -400, "level must be debug, info, warn or error", NULL);
            return 1;
        }
        log_set_level(level);
        log_warn("admin: log level %s until the next SIGHUP or restart", log_level_name(level));
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_respond_reply(req, 405, -405, "method not allowed", NULL);
        return 1;
    }
    http_respond_reply(req, 200, 0, "ok",
                       json_pack("{s:s}", "log_level", log_level_name(LOG_LEVEL_NOW())));
    return 1;
}

static void on_request(http_request_t *req, void *arg)
{
    admin_t *a = arg;
    if (!admin_route(a->ops, a->arg, req, NULL) && !page_log_level(req) &&
        (a->route == NULL || !a->route(a->route_arg, req)))
        http_respond_reply(req, 404, -404, "not found", NULL);
}

admin_t *admin_new(uv_loop_t *loop, const admin_ops_t *ops, void *arg, const char *host, int port,
                   const http_tls_conf_t *tls, char *err, size_t errlen)
{
    admin_t *a = xcalloc(1, sizeof(*a));
    a->ops = ops;
    a->arg = arg;
    /* The admin body is never read: a request carrying more is refused by the adapter. */
    http_limits_t limits = HTTP_LIMITS_ADMIN;
    a->http = http_server_new(loop, on_request, a, &limits);
    if (http_server_listen_conf(a->http, tls, "admin", "admin.listen", host, port, err, errlen) !=
        0) {
        /* Nothing listens and no request can arrive: closing frees the server at once or on
         * its next loop turn, with no callback of ours left to run. */
        http_server_close(a->http, NULL, NULL);
        free(a);
        return NULL;
    }
    a->port = http_server_port(a->http);
    return a;
}

void admin_set_route(admin_t *a, admin_route_cb route, void *arg)
{
    a->route = route;
    a->route_arg = arg;
}

int admin_port(const admin_t *a)
{
    return a->port;
}

static void on_http_closed(void *arg)
{
    admin_t *a = arg;
    void (*cb)(void *) = a->close_cb;
    void *cb_arg = a->close_arg;
    free(a);
    if (cb != NULL)
        cb(cb_arg);
}

void admin_close(admin_t *a, void (*cb)(void *arg), void *arg)
{
    if (a == NULL) {
        if (cb != NULL)
            cb(arg);
        return;
    }
    a->close_cb = cb;
    a->close_arg = arg;
    http_server_close(a->http, on_http_closed, a);
}

void admin_put_rpc_server(json_t *metrics, const rpc_server_t *s)
{
    rpc_server_stats_t st;
    const struct {
        const char *name;
        const uint64_t *value;
    } rows[] = {
        {"rpc_accepted", &st.accepted},       {"rpc_refused", &st.refused},
        {"rpc_auth_failed", &st.auth_failed}, {"rpc_auth_timeout", &st.auth_timeout},
        {"rpc_idle_closed", &st.idle_closed}, {"rpc_conns", &st.conns},
        {"rpc_handshaking", &st.handshaking}, {"rpc_read_buf_bytes", &st.read_buf_bytes},
        {"rpc_tls_failed", &st.tls_failed},
    };

    if (s == NULL)
        return;
    rpc_server_stats(s, &st);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        json_object_set_new(metrics, rows[i].name, json_integer((json_int_t)*rows[i].value));
}

int admin_ready_result(json_t **data, json_t *missing, int draining)
{
    int ready = json_array_size(missing) == 0 && !draining;
    *data = json_pack("{s:b,s:b,s:o}", "ready", ready, "draining", draining, "missing", missing);
    return ready;
}

void admin_prom_rpc_server(buf_t *out, const char *daemon, const rpc_server_t *s)
{
    rpc_server_stats_t st;
    const struct {
        const char *suffix;
        metrics_type_t type;
        const uint64_t *value;
        const char *help;
    } rows[] = {
        {"connections_accepted_total", METRICS_COUNTER, &st.accepted,
         "RPC connections accepted into the handshake"},
        {"connections_refused_total", METRICS_COUNTER, &st.refused,
         "RPC connections closed at accept: the connection cap was reached"},
        {"auth_failures_total", METRICS_COUNTER, &st.auth_failed,
         "RPC handshakes failed (wrong cluster secret, garbage, closed early)"},
        {"auth_timeouts_total", METRICS_COUNTER, &st.auth_timeout,
         "RPC handshakes not finished in time"},
        {"idle_closed_total", METRICS_COUNTER, &st.idle_closed,
         "RPC connections closed after the idle timeout"},
        {"connections", METRICS_GAUGE, &st.conns, "Open RPC connections"},
        {"handshaking_connections", METRICS_GAUGE, &st.handshaking,
         "RPC connections still in the handshake"},
        {"read_buffer_bytes", METRICS_GAUGE, &st.read_buf_bytes,
         "Bytes of the read buffers of the open RPC connections"},
        {"server_calls_in_flight", METRICS_GAUGE, &st.calls,
         "RPC requests read and not yet answered"},
        {"tls_failures_total", METRICS_COUNTER, &st.tls_failed,
         "RPC connections whose TLS was refused (no or a foreign client certificate, not TLS)"},
    };
    char name[128];

    if (s == NULL)
        return;
    rpc_server_stats(s, &st);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(name, sizeof(name), "herald_%s_rpc_%s", daemon, rows[i].suffix);
        metrics_family(out, name, rows[i].type, rows[i].help);
        metrics_sample(out, name, NULL, 0, (double)*rows[i].value);
    }
    snprintf(name, sizeof(name), "herald_%s_rpc_server_duration_seconds", daemon);
    metrics_family(out, name, METRICS_HISTOGRAM,
                   "Time from reading an RPC request to sending its answer, per method");
    for (size_t i = 0; i < rpc_server_methods(s); i++) {
        uint16_t method;
        const metrics_hist_t *h = rpc_server_latency(s, i, &method);
        metrics_label_t label = {"method", rpc_method_name(method)};
        metrics_hist(out, name, &label, 1, h);
    }
}

void admin_prom_rpc_client(buf_t *out, const char *daemon)
{
    char name[128];
    snprintf(name, sizeof(name), "herald_%s_rpc_client_duration_seconds", daemon);
    metrics_family(out, name, METRICS_HISTOGRAM,
                   "Time from starting an RPC call to its end (reply, error or timeout), per "
                   "method this daemon calls");
    for (size_t i = 0; i < RPC_METHODS; i++) {
        const metrics_hist_t *h = rpc_client_latency(i);
        if (metrics_hist_count(h) == 0)
            continue; /* a method this daemon never calls */
        metrics_label_t label = {"method", rpc_method_name(rpc_method_at(i))};
        metrics_hist(out, name, &label, 1, h);
    }
}

static int listed(const char *name, const char *const *names)
{
    for (size_t i = 0; names != NULL && names[i] != NULL; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

void admin_prom_json(buf_t *out, const char *daemon, json_t *metrics, const char *const *gauges,
                     const char *const *skip)
{
    const char *key;
    json_t *value;
    char name[160], help[200];

    json_object_foreach(metrics, key, value)
    {
        if (!json_is_integer(value) || listed(key, skip))
            continue;
        int gauge = listed(key, gauges);
        snprintf(name, sizeof(name), "herald_%s_%s%s", daemon, key, gauge ? "" : "_total");
        snprintf(help, sizeof(help), "%s \"%s\" of the JSON /metrics (docs/operations.md)",
                 gauge ? "The gauge" : "The counter", key);
        metrics_family(out, name, gauge ? METRICS_GAUGE : METRICS_COUNTER, help);
        metrics_sample(out, name, NULL, 0, (double)json_integer_value(value));
    }
}
