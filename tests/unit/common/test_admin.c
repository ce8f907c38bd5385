/* test_admin.c - the admin endpoint every daemon serves (src/common/admin.h): /health, /ready
 * (200/503), /metrics, 404 and 405, over a real loopback socket; over HTTPS with [admin]
 * tls_cert/tls_key (the test PKI), and the errors of bad files; and admin_route with a prefix
 * inside another server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "admin.h"
#include "http_client.h"
#include "log.h"
#include "metrics.h"
#include "test_pki.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct get_s {
    int port;
    char request[256];
    char response[4096];
    int done;
    pthread_t thread;
} get_t;

/* Blocking HTTP/1.0 exchange on its own thread, so the loop thread can serve it. */
static void *get_main(void *arg)
{
    get_t *g = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        write(fd, g->request, strlen(g->request)) == (ssize_t)strlen(g->request)) {
        size_t n = 0;
        ssize_t r;
        while (n < sizeof(g->response) - 1 &&
               (r = read(fd, g->response + n, sizeof(g->response) - 1 - n)) > 0)
            n += (size_t)r;
        g->response[n] = '\0';
    }
    if (fd >= 0)
        close(fd);
    __atomic_store_n(&g->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int get_done(void *arg)
{
    return __atomic_load_n(&((get_t *)arg)->done, __ATOMIC_SEQ_CST);
}

/* Sends the raw request to port while running loop; the raw response lands in out. */
static void exchange_raw(uv_loop_t *loop, int port, const char *request, char *out, size_t len)
{
    get_t g = {.port = port};
    snprintf(g.request, sizeof(g.request), "%s", request);
    assert_int_equal(pthread_create(&g.thread, NULL, get_main, &g), 0);
    assert_true(test_run_until(loop, get_done, &g, 5000));
    pthread_join(g.thread, NULL);
    snprintf(out, len, "%s", g.response);
}

/* Sends "METHOD path" to port while running loop; the raw response lands in out. */
static void exchange(uv_loop_t *loop, int port, const char *method, const char *path, char *out,
                     size_t len)
{
    char request[256];
    snprintf(request, sizeof(request), "%s %s HTTP/1.0\r\nHost: t\r\n\r\n", method, path);
    exchange_raw(loop, port, request, out, len);
}

typedef struct state_s {
    int ready;
    int health_calls;
} state_t;

static json_t *health(void *arg)
{
    state_t *st = arg;
    st->health_calls++;
    return json_pack("{s:i}", "conns", 7);
}

static json_t *metrics(void *arg)
{
    return json_pack("{s:i}", "pushes", 42);
}

static int ready(void *arg, json_t **data)
{
    state_t *st = arg;
    *data = json_pack("{s:b}", "redis", st->ready);
    return st->ready;
}

static const admin_ops_t ops = {.health = health, .metrics = metrics, .ready = ready};

/* The status line is "HTTP/1.x <status> ..." (the server may answer 1.1 to a 1.0 request). */
static void expect(const char *resp, int status, const char *body_part)
{
    char code[8];
    snprintf(code, sizeof(code), " %d ", status);
    if (strncmp(resp, "HTTP/1.", 7) != 0 || strncmp(resp + 8, code, strlen(code)) != 0)
        fail_msg("expected status %d, got \"%.60s\"", status, resp);
    if (body_part != NULL && strstr(resp, body_part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", body_part, resp);
}

static void test_own_listener(void **unused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t st = {.ready = 0};
    char err[256];
    admin_t *a = admin_new(&loop, &ops, &st, "127.0.0.1", 0, NULL, err, sizeof(err));
    assert_non_null(a);
    int port = admin_port(a);
    assert_true(port > 0);
    char r[4096];

    exchange(&loop, port, "GET", "/health", r, sizeof(r));
    expect(r, 200, "\"conns\":7");
    assert_int_equal(st.health_calls, 1);
    exchange(&loop, port, "GET", "/ready", r, sizeof(r));
    expect(r, 503, "\"redis\":false");
    expect(r, 503, "not ready");
    st.ready = 1;
    exchange(&loop, port, "GET", "/ready", r, sizeof(r));
    expect(r, 200, "\"redis\":true");
    exchange(&loop, port, "GET", "/metrics", r, sizeof(r));
    expect(r, 200, "{\"code\":0,\"message\":\"ok\",\"data\":{\"pushes\":42}}");
    exchange(&loop, port, "GET", "/nope", r, sizeof(r));
    expect(r, 404, "\"code\":-404");
    exchange(&loop, port, "POST", "/metrics", r, sizeof(r));
    expect(r, 405, "\"code\":-405");
    /* The aliases belong to servers that ask for them (admin_route's prefix), not to this one. */
    exchange(&loop, port, "GET", "/herald/v1/health", r, sizeof(r));
    expect(r, 404, NULL);

    /* the log level: shown by /health and /log/level, changed by POST /log/level */
    log_set_level(LOG_INFO);
    exchange(&loop, port, "GET", "/health", r, sizeof(r));
    expect(r, 200, "\"log_level\":\"info\"");
    exchange(&loop, port, "POST", "/log/level?level=debug", r, sizeof(r));
    expect(r, 200, "{\"code\":0,\"message\":\"ok\",\"data\":{\"log_level\":\"debug\"}}");
    assert_int_equal(LOG_LEVEL_NOW(), LOG_DEBUG);
    exchange(&loop, port, "GET", "/health", r, sizeof(r));
    expect(r, 200, "\"log_level\":\"debug\"");
    exchange(&loop, port, "POST", "/log/level?level=loud", r, sizeof(r));
    expect(r, 400, "\"code\":-400");
    exchange(&loop, port, "POST", "/log/level", r, sizeof(r));
    expect(r, 400, NULL);
    exchange(&loop, port, "DELETE", "/log/level", r, sizeof(r));
    expect(r, 405, NULL);
    exchange(&loop, port, "GET", "/log/level", r, sizeof(r));
    expect(r, 200, "\"log_level\":\"debug\"");
    log_set_level(LOG_INFO);

    admin_close(a, NULL, NULL);
    test_finish_loop(&loop);
}

static void prometheus(void *arg, buf_t *out)
{
    metrics_counter(out, "herald_test_pushes_total", "Pushes", 42);
}

/* /metrics answers the Prometheus text format when asked (?format=prometheus, or an Accept
 * naming text/plain or OpenMetrics, as Prometheus sends), JSON otherwise; ?format=json wins
 * over the Accept header; /ready's common body names what is missing. */
static void test_metrics_formats(void **unused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t st = {0};
    admin_ops_t prom_ops = ops;
    prom_ops.prometheus = prometheus;
    char err[256];
    admin_t *a = admin_new(&loop, &prom_ops, &st, "127.0.0.1", 0, NULL, err, sizeof(err));
    assert_non_null(a);
    int port = admin_port(a);
    char r[4096];
    const char *text = "# TYPE herald_test_pushes_total counter\nherald_test_pushes_total 42\n";

    exchange(&loop, port, "GET", "/metrics?format=prometheus", r, sizeof(r));
    expect(r, 200, text);
    expect(r, 200, "Content-Type: text/plain; version=0.0.4");
    exchange_raw(&loop, port,
                 "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0,"
                 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n",
                 r, sizeof(r));
    expect(r, 200, text);
    exchange_raw(&loop, port, "GET /metrics?format=json HTTP/1.0\r\nAccept: text/plain\r\n\r\n", r,
                 sizeof(r));
    expect(r, 200, "\"data\":{\"pushes\":42}");
    exchange_raw(&loop, port, "GET /metrics HTTP/1.0\r\nAccept: */*\r\n\r\n", r, sizeof(r));
    expect(r, 200, "\"data\":{\"pushes\":42}");
    admin_close(a, NULL, NULL);
    test_finish_loop(&loop);

    json_t *data = NULL;
    json_t *missing = json_array();
    json_array_append_new(missing, json_string("redis"));
    assert_int_equal(admin_ready_result(&data, missing, 0), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(data, "missing"), 0)),
                        "redis");
    assert_true(json_is_false(json_object_get(data, "ready")));
    json_decref(data);
    assert_int_equal(admin_ready_result(&data, json_array(), 1), 0);
    assert_true(json_is_true(json_object_get(data, "draining")));
    json_decref(data);
    assert_int_equal(admin_ready_result(&data, json_array(), 0), 1);
    json_decref(data);
}

static void test_listen_error(void **unused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256];
    assert_null(admin_new(&loop, &ops, NULL, "not-numeric", 0, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "admin.listen not-numeric:0: "));
    assert_non_null(strstr(err, uv_strerror(UV_EINVAL)));
    /* A port in use: the error comes back and nothing is left open. */
    state_t st = {0};
    admin_t *a = admin_new(&loop, &ops, &st, "127.0.0.1", 0, NULL, err, sizeof(err));
    assert_non_null(a);
    assert_null(admin_new(&loop, &ops, &st, "127.0.0.1", admin_port(a), NULL, err, sizeof(err)));
    assert_non_null(strstr(err, uv_strerror(UV_EADDRINUSE)));
    admin_close(a, NULL, NULL);
    test_finish_loop(&loop);
}

/* A daemon's own server (logic's API) that hands admin paths to admin_route. */
static void on_api(http_request_t *req, void *arg)
{
    if (!admin_route(&ops, arg, req, "/herald/v1"))
        http_respond_reply(req, 404, -404, "api route", NULL);
}

static int closed_flag;
static void on_closed(void *arg)
{
    closed_flag = 1;
}

static void test_route_with_prefix(void **unused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t st = {.ready = 1};
    http_limits_t limits = HTTP_LIMITS_ADMIN;
    http_server_t *s = http_server_new(&loop, on_api, &st, &limits);
    assert_int_equal(http_server_listen(s, "127.0.0.1", 0), 0);
    int port = http_server_port(s);
    char r[4096];
    exchange(&loop, port, "GET", "/herald/v1/health", r, sizeof(r));
    expect(r, 200, "\"conns\":7");
    exchange(&loop, port, "GET", "/health", r, sizeof(r));
    expect(r, 200, "\"conns\":7");
    exchange(&loop, port, "GET", "/herald/v1/ready", r, sizeof(r));
    expect(r, 200, NULL);
    exchange(&loop, port, "GET", "/herald/v1/metricsx", r, sizeof(r));
    expect(r, 404, "api route");
    exchange(&loop, port, "GET", "/herald/v2/metrics", r, sizeof(r));
    expect(r, 404, "api route");
    /* /log/level is an admin listener's own: a server that carries the admin routes (logic's
     * API port, behind its bearer key or not) does not get it */
    exchange(&loop, port, "POST", "/log/level?level=debug", r, sizeof(r));
    expect(r, 404, "api route");
    closed_flag = 0;
    http_server_close(s, on_closed, NULL);
    test_finish_loop(&loop);
    assert_int_equal(closed_flag, 1);
}

typedef struct https_get_s {
    char url[128];
    char ca[256];
    int status; /* or the http_client error */
    char body[1024];
    int done;
    pthread_t thread;
} https_get_t;

static void *https_get_main(void *arg)
{
    https_get_t *g = arg;
    http_client_t *c = http_client_new(g->ca);
    http_client_req_t req = {.method = "GET", .url = g->url, .timeout_ms = 5000};
    http_client_resp_t resp;
    int rc = http_client_request(c, &req, &resp);
    g->status = rc == 0 ? resp.status : rc;
    if (rc == 0)
        snprintf(g->body, sizeof(g->body), "%s", resp.body);
    free(resp.body);
    http_client_free(c);
    __atomic_store_n(&g->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int https_get_done(void *arg)
{
    return __atomic_load_n(&((https_get_t *)arg)->done, __ATOMIC_SEQ_CST);
}

/* [admin] tls_cert and tls_key: the same pages over HTTPS, verified against the test CA. */
static void test_https_listener(void **unused)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    state_t st = {.ready = 1};
    char cert[256], key[256], err[512];
    http_tls_conf_t tls = {test_pki_path(cert, sizeof(cert), "server.chain.pem"),
                           test_pki_path(key, sizeof(key), "server.key")};
    admin_t *a = admin_new(&loop, &ops, &st, "127.0.0.1", 0, &tls, err, sizeof(err));
    if (a == NULL)
        fail_msg("admin_new: %s", err);
    https_get_t g = {0};
    snprintf(g.url, sizeof(g.url), "https://127.0.0.1:%d/health", admin_port(a));
    test_pki_path(g.ca, sizeof(g.ca), "ca.pem");
    assert_int_equal(pthread_create(&g.thread, NULL, https_get_main, &g), 0);
    assert_true(test_run_until(&loop, https_get_done, &g, 5000));
    pthread_join(g.thread, NULL);
    assert_int_equal(g.status, 200);
    assert_non_null(strstr(g.body, "\"conns\":7"));
    /* Plain HTTP to the HTTPS port: no answer in HTTP. */
    char r[4096];
    exchange(&loop, admin_port(a), "GET", "/health", r, sizeof(r));
    assert_null(strstr(r, "HTTP/1."));
    admin_close(a, NULL, NULL);

    /* A key without a certificate, and a key of another certificate: no endpoint, the keys
     * named. */
    tls.cert = "";
    assert_null(admin_new(&loop, &ops, &st, "127.0.0.1", 0, &tls, err, sizeof(err)));
    assert_non_null(strstr(err, "[admin] tls_key is set without tls_cert"));
    tls.cert = cert;
    tls.key = test_pki_path(key, sizeof(key), "alt.key");
    assert_null(admin_new(&loop, &ops, &st, "127.0.0.1", 0, &tls, err, sizeof(err)));
    assert_non_null(strstr(err, "[admin] tls_cert"));
    assert_non_null(strstr(err, "refused by the TLS library"));
    test_finish_loop(&loop);
    test_pki_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_listener),      cmocka_unit_test(test_metrics_formats),
        cmocka_unit_test(test_listen_error),      cmocka_unit_test(test_https_listener),
        cmocka_unit_test(test_route_with_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
