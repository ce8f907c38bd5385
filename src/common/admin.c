/* admin.c - see admin.h. */
#include "admin.h"

#include "buf.h"
#include "log.h"

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

static void page_metrics(const admin_ops_t *ops, void *arg, http_request_t *req)
{
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
    };

    if (s == NULL)
        return;
    rpc_server_stats(s, &st);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        json_object_set_new(metrics, rows[i].name, json_integer((json_int_t)*rows[i].value));
}
