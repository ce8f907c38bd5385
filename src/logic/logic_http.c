/* logic_http.c - the request path (CORS, access, admin routes, route table, web console), reply
 * helpers and requests waiting on backends. */
#include "logic_http.h"

#include "addr.h"
#include "buf.h"
#include "herald_err.h"
#include "list.h"
#include "log.h"
#include "logic_http_access.h"
#include "logic_http_cors.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

/* Owned by logic_server; freed in logic_http_close once the HTTP server is closed. */
struct logic_http_s {
    const logic_ctx_t *ctx;
    const admin_ops_t *admin;
    void *admin_arg;
    http_server_t *srv;
    logic_http_cors_t *cors;
    list_link_t pending; /* suspended requests */
    uint64_t requests, errors_4xx, errors_5xx;
    /* The request on_request is running a route for (loop thread: one at a time), so that
     * logic_http_suspend can hand its route and start to the pending request. */
    size_t current_route;
    uint64_t current_start_ns;
    int current_suspended;
    metrics_hist_t *latency; /* parallel to routes: request to answer */
    void (*close_cb)(void *arg);
    void *close_arg;
};

struct logic_http_pending_s {
    logic_http_t *h;     /* NULL once the server closed: the answer goes nowhere */
    http_request_t *req; /* NULL with h */
    list_link_t link;    /* in h->pending */
    size_t route;        /* in routes, for the latency */
    uint64_t start_ns;   /* uv_hrtime() when the request arrived */
};

typedef struct route_s {
    const char *method;
    const char *path;
    logic_http_handler_cb handler;
} route_t;

/* goim's routes keep goim's paths; herald's own live under /herald/v1/. /health, /ready and
 * /metrics are the admin endpoints every herald daemon answers (admin.h, docs/internals.md),
 * routed before this table. Which of them need the bearer key is logic_http_access.c's
 * table, not this one's. */
static const route_t routes[] = {
    {"POST", "/goim/push/keys", logic_http_push_keys},
    {"POST", "/goim/push/mids", logic_http_push_mids},
    {"POST", "/goim/push/room", logic_http_push_room},
    {"POST", "/goim/push/all", logic_http_push_all},
    {"GET", "/goim/online/top", logic_http_info_top},
    {"GET", "/goim/online/room", logic_http_info_room},
    {"GET", "/goim/online/total", logic_http_info_total},
    {"GET", "/goim/nodes/weighted", logic_http_info_weighted},
    {"GET", "/goim/nodes/instances", logic_http_info_instances},
    {"POST", "/herald/v1/tokens", logic_http_token_issue},
    {"DELETE", "/herald/v1/tokens", logic_http_token_revoke},
    {"POST", "/herald/v1/users", logic_http_user_create},
    {"GET", "/herald/v1/users", logic_http_user_get},
    {"POST", "/herald/v1/login", logic_http_user_login},
    {"POST", "/herald/v1/logout", logic_http_user_logout},
    {"GET", "/herald/v1/online/users", logic_http_user_online_users},
    {"GET", "/herald/v1/online/count", logic_http_user_online_count},
    {"GET", "/herald/v1/rooms/members", logic_http_room_members},
};

#define ROUTES (sizeof(routes) / sizeof(routes[0]))

int logic_http_status(int herald_err)
{
    switch (herald_err) {
    case HERALD_EINVAL:
        return 400;
    case HERALD_EAUTH:
        return 401;
    case HERALD_EFORBIDDEN:
        return 403;
    case HERALD_ENOTFOUND:
        return 404;
    case HERALD_EEXIST:
        return 409;
    case HERALD_EUNAVAIL:
    case HERALD_ETIMEDOUT:
        return 503;
    default:
        return 500;
    }
}

void logic_http_ok(logic_http_t *h, http_request_t *req, json_t *data)
{
    (void)h;
    http_respond_reply(req, 200, 0, "ok", data);
}

void logic_http_error(logic_http_t *h, http_request_t *req, int status, const char *message)
{
    if (status >= 500)
        h->errors_5xx++;
    else
        h->errors_4xx++;
    http_respond_reply(req, status, status >= 500 ? -500 : -400, message, NULL);
}

const logic_ctx_t *logic_http_ctx(const logic_http_t *h)
{
    return h->ctx;
}

void logic_http_metrics(const logic_http_t *h, json_t *out)
{
    json_object_set_new(out, "http_requests", json_integer((json_int_t)h->requests));
    json_object_set_new(out, "http_errors_4xx", json_integer((json_int_t)h->errors_4xx));
    json_object_set_new(out, "http_errors_5xx", json_integer((json_int_t)h->errors_5xx));
}

static void on_request(http_request_t *req, void *arg)
{
    logic_http_t *h = arg;
    h->requests++;
    if (logic_http_cors_apply(h->cors, req))
        return;
    const char *key = h->ctx->conf->auth_bearer_key;
    if (key[0] != '\0' &&
        !logic_http_access_public(http_request_method(req), http_request_path(req)) &&
        !logic_http_access_bearer_ok(http_request_header(req, "Authorization"), key)) {
        http_request_answer_header(req, "WWW-Authenticate", "Bearer");
        logic_http_error(h, req, 401, "missing or wrong bearer key");
        return;
    }
    if (admin_route(h->admin, h->admin_arg, req, "/herald/v1"))
        return;
    const char *method = http_request_method(req), *path = http_request_path(req);
    const route_t *found = NULL;
    int path_known = 0;
    for (size_t i = 0; i < ROUTES && found == NULL; i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        path_known = 1;
        if (strcmp(routes[i].method, method) == 0)
            found = &routes[i];
    }
    if (found == NULL && !path_known && logic_http_web(h, req))
        return;
    if (found == NULL) {
        logic_http_error(h, req, path_known ? 405 : 404,
                         path_known ? "method not allowed" : "no such route");
        return;
    }
    h->current_route = (size_t)(found - routes);
    h->current_start_ns = uv_hrtime();
    h->current_suspended = 0;
    found->handler(h, req);
    /* Answered in the handler, unless it suspended the request (then logic_http_finish_*). */
    if (!h->current_suspended)
        metrics_hist_observe_since(&h->latency[h->current_route], h->current_start_ns);
    h->current_suspended = 1; /* a later suspend outside a handler carries no route time */
    h->current_start_ns = 0;
}

void logic_http_prometheus(const logic_http_t *h, buf_t *out)
{
    metrics_family(out, "herald_logic_http_request_duration_seconds", METRICS_HISTOGRAM,
                   "Time from a request to its answer, per API route (admin routes and the web "
                   "console excluded)");
    for (size_t i = 0; i < ROUTES; i++) {
        metrics_label_t labels[2] = {{"method", routes[i].method}, {"route", routes[i].path}};
        metrics_hist(out, "herald_logic_http_request_duration_seconds", labels, 2, &h->latency[i]);
    }
    size_t waiting = 0;
    LIST_FOREACH(l, &h->pending)
    {
        waiting++;
    }
    metrics_gauge(out, "herald_logic_http_requests_waiting",
                  "Requests waiting on a backend (Redis, routers, Kafka) for their answer",
                  (double)waiting);
}

/* An explicit non-loopback listener without a key is allowed (a private network, a proxy in
 * front that checks callers) but never silently. */
static void warn_if_open(const logic_conf_t *conf, const char *host, int port)
{
    struct sockaddr_storage ss;
    if (conf->auth_bearer_key[0] != '\0' || addr_numeric(host, port, &ss) != 0 ||
        addr_is_loopback((const struct sockaddr *)&ss))
        return;
    log_warn("http.listen %s is not a loopback address and auth.bearer_key is empty: anyone who "
             "reaches it can push to every client and issue tokens for any user "
             "(docs/security.md)",
             conf->http_listen);
}

logic_http_t *logic_http_new(const logic_ctx_t *ctx, const admin_ops_t *admin, void *admin_arg,
                             char *err, size_t errlen)
{
    const logic_conf_t *conf = ctx->conf;
    char host[ADDR_HOST_MAX];
    int port;
    if (addr_split(conf->http_listen, host, &port) != 0) {
        snprintf(err, errlen, "http.listen: bad address \"%s\"", conf->http_listen);
        return NULL;
    }
    logic_http_cors_t *cors = logic_http_cors_new(conf->http_cors_origins, err, errlen);
    if (cors == NULL)
        return NULL;
    logic_http_t *h = xcalloc(1, sizeof(*h));
    h->ctx = ctx;
    h->admin = admin;
    h->admin_arg = admin_arg;
    h->cors = cors;
    h->latency = xcalloc(ROUTES, sizeof(*h->latency));
    list_init(&h->pending);
    http_limits_t limits = {
        .max_body = (size_t)conf->http_max_body,
        .max_head = (size_t)conf->http_max_head,
        .request_timeout_ms = (unsigned)conf->http_request_timeout_ms,
        .max_connections = (unsigned)conf->http_max_connections,
        .max_per_addr = (unsigned)conf->http_max_per_addr,
    };
    h->srv = http_server_new(ctx->loop, on_request, h, &limits);
    if (http_server_listen_conf(h->srv, &conf->http_tls, "http", "http.listen", host, port, err,
                                errlen) != 0) {
        logic_http_close(h, NULL, NULL);
        return NULL;
    }
    warn_if_open(conf, host, port);
    return h;
}

int logic_http_port(const logic_http_t *h)
{
    return http_server_port(h->srv);
}

static void on_server_closed(void *arg)
{
    logic_http_t *h = arg;
    void (*cb)(void *) = h->close_cb;
    void *cb_arg = h->close_arg;
    logic_http_cors_free(h->cors);
    free(h->latency);
    free(h);
    if (cb != NULL)
        cb(cb_arg);
}

void logic_http_close(logic_http_t *h, void (*cb)(void *arg), void *arg)
{
    /* Detach every suspended request before the server drops them: their backend work still
     * ends in logic_http_finish_*, which must not touch a request (or h) that no longer
     * exists. */
    LIST_FOREACH_SAFE(l, next, &h->pending)
    {
        logic_http_pending_t *p = list_entry(l, logic_http_pending_t, link);
        list_unlink(l);
        p->h = NULL;
        p->req = NULL;
    }
    h->close_cb = cb;
    h->close_arg = arg;
    http_server_close(h->srv, on_server_closed, h);
}

logic_http_pending_t *logic_http_suspend(logic_http_t *h, http_request_t *req)
{
    logic_http_pending_t *p = xcalloc(1, sizeof(*p));
    p->h = h;
    p->req = req;
    p->route = h->current_route;
    p->start_ns = h->current_start_ns;
    h->current_suspended = 1;
    list_append(&h->pending, &p->link);
    return p;
}

/* The end of a suspended request: its route's latency, then p's memory. */
static void pending_free(logic_http_pending_t *p)
{
    if (p->h != NULL)
        metrics_hist_observe_since(&p->h->latency[p->route], p->start_ns);
    list_unlink(&p->link);
    free(p);
}

void logic_http_finish_ok(logic_http_pending_t *p, json_t *data)
{
    if (p->req != NULL)
        logic_http_ok(p->h, p->req, data);
    else
        json_decref(data);
    pending_free(p);
}

void logic_http_finish_error(logic_http_pending_t *p, int status, const char *message)
{
    if (p->req != NULL)
        logic_http_error(p->h, p->req, status, message);
    pending_free(p);
}

static const char *query_get(void *ctx, const char *name)
{
    return http_request_query(ctx, name);
}

static size_t query_get_all(void *ctx, const char *name, const char **out, size_t max)
{
    return http_request_query_all(ctx, name, out, max);
}

void logic_http_query(http_request_t *req, logic_query_t *q)
{
    q->get = query_get;
    q->get_all = query_get_all;
    q->ctx = req;
}

void logic_http_finish_limited(logic_http_pending_t *p, int64_t retry_ms, const char *message)
{
    if (p->req != NULL) {
        char secs[24];
        snprintf(secs, sizeof(secs), "%lld", (long long)((retry_ms + 999) / 1000));
        p->h->errors_4xx++;
        http_respond_reply_header(p->req, 429, -400, message, NULL, "Retry-After", secs);
    }
    pending_free(p);
}
