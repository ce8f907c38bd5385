/* test_callback.c - the events callback (logic_callback.h) against a real HTTP receiver on
 * loopback: batches arrive as JSON arrays in order, failures are retried, a full queue drops and
 * counts, a dead receiver loses nothing until shutdown; an HTTPS receiver (herald's own HTTP
 * server with the test PKI) is reached with callback_ca and refused with a wrong CA; URL parsing
 * with hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "herald_err.h"
#include "http.h"
#include "http_tls.h"
#include "log.h"
#include "logic_callback.h"
#include "test_http_sink.h"
#include "test_pki.h"
#include "test_support.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int at_least(json_t *items, void *arg)
{
    return json_array_size(items) >= *(size_t *)arg;
}

/* Waits up to ms for n events to have arrived. */
static int wait_received(test_http_sink_t *sink, size_t n, int ms)
{
    return test_http_sink_wait(sink, at_least, &n, ms);
}

/* The thread counts a batch after the receiver answered it: waits up to ms for `posted`. */
static logic_callback_stats_t wait_posted(logic_callback_t *cb, uint64_t posted, int ms)
{
    logic_callback_stats_t st;
    for (int waited = 0;; waited += 10) {
        logic_callback_stats(cb, &st);
        if (st.posted >= posted || waited >= ms)
            return st;
        usleep(10 * 1000);
    }
}

static void post_event(logic_callback_t *cb, int i)
{
    char json[64];
    int n = snprintf(json, sizeof(json), "{\"type\":\"message\",\"i\":%d}", i);
    logic_callback_post(cb, json, (size_t)n);
}

/* -------------------------------------------------------------------------------- tests */

static void test_events_arrive_in_order(void **state)
{
    (void)state;
    test_http_sink_t *sink = test_http_sink_start(0);
    char url[128], err[256] = "", ct[64];
    logic_callback_t *cb = logic_callback_new(test_http_sink_url(sink, url, sizeof(url)), NULL,
                                              2000, 1000, err, sizeof(err));
    assert_non_null(cb);
    for (int i = 0; i < 300; i++)
        post_event(cb, i);
    assert_true(wait_received(sink, 300, 10000));
    json_t *all = test_http_sink_items(sink);
    for (size_t i = 0; i < 300; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(all, i), "i")),
                         (json_int_t)i);
    json_decref(all);
    /* batched: at least two POSTs (300 > LOGIC_CALLBACK_BATCH_MAX), and far fewer than 300 */
    int posts = test_http_sink_posts(sink);
    assert_true(posts >= 2 && posts < 300);
    test_http_sink_content_type(sink, ct, sizeof(ct));
    assert_string_equal(ct, "application/json");
    logic_callback_stats_t st = wait_posted(cb, 300, 5000);
    assert_int_equal(st.posted, 300);
    assert_int_equal(st.dropped, 0);
    logic_callback_free(cb);
    test_http_sink_stop(sink);
}

static void test_failures_are_retried(void **state)
{
    (void)state;
    test_http_sink_t *sink = test_http_sink_start(2); /* 503, 503, then 200 */
    char url[128], err[256] = "";
    logic_callback_t *cb = logic_callback_new(test_http_sink_url(sink, url, sizeof(url)), NULL,
                                              2000, 1000, err, sizeof(err));
    assert_non_null(cb);
    post_event(cb, 1);
    post_event(cb, 2);
    /* retries after 0.5 s and 1 s */
    assert_true(wait_received(sink, 2, 10000));
    json_t *all = test_http_sink_items(sink);
    assert_int_equal(json_array_size(all), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 0), "i")), 1);
    json_decref(all);
    logic_callback_stats_t st = wait_posted(cb, 2, 5000);
    assert_int_equal(st.failed_posts, 2);
    assert_int_equal(st.posted, 2);
    logic_callback_free(cb);
    test_http_sink_stop(sink);
}

static void test_dead_receiver_queue_bound(void **state)
{
    (void)state;
    /* a port nobody listens on: bind one, note it, close it */
    test_http_sink_t *sink = test_http_sink_start(0);
    char url[128], err[256] = "";
    test_http_sink_url(sink, url, sizeof(url));
    test_http_sink_stop(sink);
    logic_callback_t *cb = logic_callback_new(url, NULL, 500, 3, err, sizeof(err));
    assert_non_null(cb);
    for (int i = 0; i < 10; i++)
        post_event(cb, i);
    logic_callback_stats_t st;
    logic_callback_stats(cb, &st);
    /* 3 wait in the queue; the batch the thread holds out of it while it tries is 0 to 3 of
     * the first events, depending on when it woke: 4 to 7 were refused */
    assert_true(st.dropped >= 4 && st.dropped <= 7);
    assert_int_equal(st.posted, 0);
    /* shutdown: one more try fails, what is left is dropped, counted, and nothing hangs */
    logic_callback_free(cb);
}

static void test_parse_url(void **state)
{
    (void)state;
    char host[64], path[64];
    int port;
    assert_int_equal(logic_callback_parse_url("http://127.0.0.1:8080/hook?a=1", host, sizeof(host),
                                              &port, path, sizeof(path)),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_string_equal(path, "/hook?a=1");
    assert_int_equal(logic_callback_parse_url("http://example.org", host, sizeof(host), &port, path,
                                              sizeof(path)),
                     0);
    assert_string_equal(host, "example.org");
    assert_int_equal(port, 80);
    assert_string_equal(path, "/");
    assert_int_equal(logic_callback_parse_url("http://[::1]:9000/x", host, sizeof(host), &port,
                                              path, sizeof(path)),
                     0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9000);
    assert_int_equal(logic_callback_parse_url("https://hooks.example.org/in", host, sizeof(host),
                                              &port, path, sizeof(path)),
                     0);
    assert_string_equal(host, "hooks.example.org");
    assert_int_equal(port, 443);
    assert_string_equal(path, "/in");
    static const char *const bad[] = {
        "",
        "https:/example.org/",
        "https://",
        "https://user@host/",
        "HTTP://host/",
        "http://",
        "http:///path",
        "http://:80/",
        "http://host:0/",
        "http://host:65536/",
        "http://host:123456/",
        "http://host:8x/",
        "http://host:/",
        "http://user@host/",
        "http://host/a b",
        "http://host/\r\nX: y",
        "http://[::1/",
        "http://[::1]x/",
        "ftp://host/",
        "http://a-very-long-host-name-that-does-not-fit-in-sixty-four-bytes.example.org/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (logic_callback_parse_url(bad[i], host, sizeof(host), &port, path, sizeof(path)) == 0)
            fail_msg("accepted bad url '%s'", bad[i]);
    }
    char err[256] = "";
    assert_null(logic_callback_new("ftp://x/", NULL, 1000, 10, err, sizeof(err)));
    assert_non_null(strstr(err, "callback_url"));
    assert_null(
        logic_callback_new("https://x/", "/nonexistent/ca.pem", 1000, 10, err, sizeof(err)));
    assert_non_null(strstr(err, "callback_ca /nonexistent/ca.pem: cannot read"));
}

/* ------------------------------------------------------------------ an HTTPS receiver */

static int hook_posts;

static void on_hook(http_request_t *req, void *arg)
{
    size_t len;
    const char *body = http_request_body(req, &len);

    (void)arg;
    if (strcmp(http_request_method(req), "POST") == 0 && body != NULL && body[0] == '[')
        hook_posts++;
    http_respond(req, 200, "application/json", "{}", 2);
}

typedef struct wait_s {
    logic_callback_t *cb;
    int want_posted; /* else: wait for a failed post */
} wait_t;

static int callback_progress(void *arg)
{
    wait_t *w = arg;
    logic_callback_stats_t st;

    logic_callback_stats(w->cb, &st);
    return w->want_posted ? st.posted >= 3 : st.failed_posts >= 1;
}

static void on_hook_closed(void *arg)
{
    *(int *)arg = 1;
}

static int flag_set(void *arg)
{
    return *(int *)arg;
}

/* ca: the PKI file the callback trusts; trusted: whether that CA signed the receiver's. */
static void run_https_receiver(const char *ca, int trusted)
{
    char cert[256], key[256], ca_path[256], url[128], err[512];
    uv_loop_t loop;
    http_limits_t limits = {.max_body = 1 << 20,
                            .max_head = 16384,
                            .request_timeout_ms = 5000,
                            .max_connections = 16,
                            .max_per_addr = 16};
    http_tls_conf_t tls = {.cert = test_pki_path(cert, sizeof(cert), "server.chain.pem"),
                           .key = test_pki_path(key, sizeof(key), "server.key")};
    int closed = 0;

    hook_posts = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    http_server_t *srv = http_server_new(&loop, on_hook, NULL, &limits);
    assert_int_equal(
        http_server_listen_conf(srv, &tls, "test", "listen", "127.0.0.1", 0, err, sizeof(err)), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hooks/herald", http_server_port(srv));
    logic_callback_t *cb = logic_callback_new(url, test_pki_path(ca_path, sizeof(ca_path), ca),
                                              1000, 100, err, sizeof(err));
    assert_non_null(cb);
    for (int i = 0; i < 3; i++)
        post_event(cb, i);
    wait_t w = {cb, trusted};
    assert_true(test_run_until(&loop, callback_progress, &w, 10000));
    logic_callback_stats_t st;
    logic_callback_stats(cb, &st);
    if (trusted) {
        assert_int_equal(st.posted, 3);
        assert_true(hook_posts >= 1);
    } else {
        assert_int_equal(st.posted, 0);
        assert_int_equal(hook_posts, 0); /* nothing sent to a server it could not verify */
    }
    /* Free joins the sender thread, which may be in a POST to this loop: close the server
     * first, so that the POST fails at once instead of waiting for its timeout. */
    http_server_close(srv, on_hook_closed, &closed);
    assert_true(test_run_until(&loop, flag_set, &closed, 2000));
    logic_callback_free(cb);
    test_finish_loop(&loop);
}

static void test_https_receiver(void **state)
{
    (void)state;
    log_init("test_callback", LOG_WARN);
    run_https_receiver("ca.pem", 1);
    run_https_receiver("other-ca.pem", 0);
    test_pki_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_https_receiver),
        cmocka_unit_test(test_events_arrive_in_order),
        cmocka_unit_test(test_failures_are_retried),
        cmocka_unit_test(test_dead_receiver_queue_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
