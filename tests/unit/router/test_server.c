/* test_server.c - router_server_new/close on a real loop: both listeners bound on ephemeral
 * loopback ports, /health /ready /metrics answered through src/common/admin (queried by the
 * blocking HTTP client from another thread while the loop serves), a graceful close that calls
 * back once everything is freed, and a listen failure that returns NULL with nothing left open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_client.h"
#include "router_admin.h"
#include "router_server.h"
#include "router_table.h"
#include "rpc.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static router_conf_t test_conf(char *rpc_listen, char *admin_listen)
{
    router_conf_t c = {.rpc_listen = rpc_listen,
                       .admin_listen = admin_listen,
                       .max_conns = 4,
                       .overflow = ROUTER_OVERFLOW_KICK_OLDEST,
                       .ttl_ms = 60000,
                       .sweep_ms = 1000,
                       .sweep_slots = 1024};
    return c;
}

/* The admin pages fetched from a thread of their own (the client blocks). */
typedef struct pages_s {
    int port;
    int status[3];
    json_t *json[3];
    uv_async_t done;
    int finished;
} pages_t;

static const char *const page_paths[3] = {"/health", "/ready", "/metrics"};

static void fetch_pages(void *arg)
{
    pages_t *p = arg;
    for (int i = 0; i < 3; i++) {
        char url[64];
        http_client_url(url, sizeof(url), "http", "127.0.0.1", p->port, page_paths[i]);
        http_client_req_t req = {.method = "GET", .url = url, .timeout_ms = 5000};
        http_client_resp_t resp;
        if (http_client_request(NULL, &req, &resp) == 0) {
            p->status[i] = resp.status;
            p->json[i] = json_loads(resp.body, 0, NULL);
            free(resp.body);
        }
    }
    uv_async_send(&p->done);
}

static void on_pages_done(uv_async_t *a)
{
    pages_t *p = a->data;
    p->finished = 1;
    uv_close((uv_handle_t *)a, NULL);
}

static int pages_finished(void *arg)
{
    return ((pages_t *)arg)->finished;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int is_set(void *arg)
{
    return *(int *)arg != 0;
}

static void test_lifecycle_and_admin(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char rpc[] = "127.0.0.1:0", admin[] = "127.0.0.1:0", err[256] = "";
    router_conf_t conf = test_conf(rpc, admin);
    router_server_t *s = router_server_new(&loop, &conf, err, sizeof(err));
    assert_non_null(s);
    assert_true(router_server_rpc_port(s) > 0);
    assert_true(test_port_open(router_server_rpc_port(s)));

    pages_t p = {.port = router_server_admin_port(s)};
    assert_true(p.port > 0);
    assert_int_equal(uv_async_init(&loop, &p.done, on_pages_done), 0);
    p.done.data = &p;
    uv_thread_t thread;
    assert_int_equal(uv_thread_create(&thread, fetch_pages, &p), 0);
    assert_true(test_run_until(&loop, pages_finished, &p, 10000));
    uv_thread_join(&thread);

    for (int i = 0; i < 3; i++) {
        if (p.status[i] != 200)
            fail_msg("%s: status %d", page_paths[i], p.status[i]);
        assert_int_equal(json_integer_value(json_object_get(p.json[i], "code")), 0);
    }
    json_t *health = json_object_get(p.json[0], "data");
    assert_int_equal(json_object_size(health), 4);
    assert_string_equal(json_string_value(json_object_get(health, "log_level")), "info");
    assert_true(json_is_integer(json_object_get(health, "users")));
    assert_true(json_is_integer(json_object_get(health, "conns")));
    const char *epoch = json_string_value(json_object_get(health, "epoch"));
    assert_non_null(epoch);
    assert_int_equal(strlen(epoch), 16);
    assert_string_not_equal(epoch, "0000000000000000");
    static const char *const metrics[] = {"users",    "conns",   "puts",        "gets",
                                          "dels",     "renews",  "lists",       "evicted",
                                          "rejected", "expired", "put_batches", "batch_puts"};
    /* The RPC server's counters (admin_metrics_rpc): test_port_open's connection was accepted
     * and refused mid-handshake, so they are present but not all 0. */
    static const char *const rpc_metrics[] = {
        "rpc_accepted",     "rpc_refused",        "rpc_auth_failed",
        "rpc_auth_timeout", "rpc_idle_closed",    "rpc_conns",
        "rpc_handshaking",  "rpc_read_buf_bytes", "rpc_tls_failed"};
    json_t *m = json_object_get(p.json[2], "data");
    assert_int_equal(json_object_size(m), sizeof(metrics) / sizeof(metrics[0]) +
                                              sizeof(rpc_metrics) / sizeof(rpc_metrics[0]));
    for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
        if (json_integer_value(json_object_get(m, metrics[i])) != 0 ||
            !json_is_integer(json_object_get(m, metrics[i])))
            fail_msg("metric %s missing or not 0", metrics[i]);
    for (size_t i = 0; i < sizeof(rpc_metrics) / sizeof(rpc_metrics[0]); i++)
        if (!json_is_integer(json_object_get(m, rpc_metrics[i])))
            fail_msg("metric %s missing", rpc_metrics[i]);
    assert_true(json_integer_value(json_object_get(m, "rpc_accepted")) >= 1);
    for (int i = 0; i < 3; i++)
        json_decref(p.json[i]);

    int closed = 0;
    router_server_close(s, on_closed, &closed);
    assert_true(test_run_until(&loop, is_set, &closed, 5000));
    assert_int_equal(closed, 1);
    test_finish_loop(&loop);
}

/* /ready is 503 once the server is stopping, while /health still answers. */
static void test_ready_follows_stopping(void **state)
{
    router_table_t *table = router_table_new(4, ROUTER_OVERFLOW_KICK_OLDEST, 60000);
    router_rpc_t rpc = {.table = table};
    router_admin_t view = {.rpc = &rpc};
    json_t *data = NULL;
    assert_int_equal(router_admin_ops.ready(&view, &data), 1);
    assert_true(json_is_true(json_object_get(data, "ready")));
    json_decref(data);
    data = NULL;
    view.stopping = 1;
    assert_int_equal(router_admin_ops.ready(&view, &data), 0);
    assert_true(json_is_true(json_object_get(data, "draining")));
    assert_int_equal(json_array_size(json_object_get(data, "missing")), 0);
    json_decref(data);
    json_t *h = router_admin_ops.health(&view);
    assert_int_equal(json_integer_value(json_object_get(h, "users")), 0);
    json_decref(h);
    router_table_free(table);
}

/* A port already taken: NULL with the listener named, and the loop closes with nothing open. */
static void test_listen_failure(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char taken[32];
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", ntohs(sa.sin_port));

    for (int which = 0; which < 2; which++) {
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        char free_addr[] = "127.0.0.1:0", err[256] = "";
        router_conf_t conf = which == 0 ? test_conf(taken, free_addr) : test_conf(free_addr, taken);
        assert_null(router_server_new(&loop, &conf, err, sizeof(err)));
        assert_non_null(strstr(err, which == 0 ? "rpc.listen" : "admin.listen"));
        assert_non_null(strstr(err, taken));
        test_finish_loop(&loop);
    }
    close(fd);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_and_admin),
        cmocka_unit_test(test_ready_follows_stopping),
        cmocka_unit_test(test_listen_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
