/* test_http_client.c - http_client_request against an in-test HTTP server on loopback: the
 * request it writes, Content-Length / chunked / close-delimited responses written byte by byte,
 * malformed responses, timeouts, refused connections. */
#include "loopback.h"

#include <stdio.h>

#include "client_net.h"
#include "herald_err.h"
#include "http_client.h"

/* What the in-test server answers, and what it saw. */
typedef struct exchange_s {
    const char *response; /* written after the request, byte by byte */
    int hang;             /* write nothing; wait for the client to give up */
    loopback_http_request_t req;
} exchange_t;

static void serve_http(loopback_t *lb, int fd)
{
    exchange_t *ex = lb->arg;
    LOOPBACK_CHECK(lb, loopback_read_http_request(fd, &ex->req) == 0);
    if (ex->hang)
        loopback_wait_close(fd);
    else
        LOOPBACK_CHECK(lb, loopback_write_bytewise(fd, ex->response, strlen(ex->response)) == 0);
}

/* One request to a fresh server answering `response`; returns http_client_request's result. */
static int roundtrip(exchange_t *ex, const char *method, const char *path, const char *body,
                     int timeout_ms, int *status, char **resp)
{
    loopback_t lb;
    loopback_start(&lb, serve_http, ex);
    const char *headers[] = {"Authorization: Bearer sekrit", "X-Test: 1", NULL};
    int rc = http_client_request("127.0.0.1", lb.port, method, path, headers, body,
                                 body != NULL ? strlen(body) : 0, timeout_ms, status, resp);
    loopback_join(&lb);
    return rc;
}

static void test_content_length(void **state)
{
    exchange_t ex = {.response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "content-length:  17 \r\n\r\n{\"code\":0,\"x\":1}\n"};
    int status = 0;
    char *resp = NULL;
    assert_int_equal(
        roundtrip(&ex, "POST", "/herald/v1/tokens?mid=7&ttl=60", "abc", 5000, &status, &resp), 0);
    assert_int_equal(status, 200);
    assert_string_equal(resp, "{\"code\":0,\"x\":1}\n");
    free(resp);
    /* the request line, the headers we add and the caller's, the body */
    assert_non_null(strstr(ex.req.data, "POST /herald/v1/tokens?mid=7&ttl=60 HTTP/1.1\r\n"));
    assert_true(strncmp(ex.req.data, "POST ", 5) == 0);
    assert_non_null(strstr(ex.req.data, "\r\nHost: 127.0.0.1:"));
    assert_non_null(strstr(ex.req.data, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\nAuthorization: Bearer sekrit\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\nX-Test: 1\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\nContent-Length: 3\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\n\r\nabc"));
}

static void test_post_without_body_sends_length(void **state)
{
    exchange_t ex = {.response = "HTTP/1.1 204 No Content\r\n\r\n"};
    int status = 0;
    char *resp = NULL;
    assert_int_equal(roundtrip(&ex, "POST", "/x", NULL, 5000, &status, &resp), 0);
    assert_int_equal(status, 204);
    assert_string_equal(resp, "");
    free(resp);
    assert_non_null(strstr(ex.req.data, "\r\nContent-Length: 0\r\n"));

    exchange_t get = {.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
    assert_int_equal(roundtrip(&get, "GET", "/goim/online/total", NULL, 5000, &status, &resp), 0);
    assert_string_equal(resp, "ok");
    free(resp);
    assert_null(strstr(get.req.data, "Content-Length"));
}

static void test_chunked(void **state)
{
    exchange_t ex = {.response = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "5;name=val\r\nhello\r\n"
                                 "6\r\n world\r\n"
                                 "A\r\n0123456789\r\n"
                                 "0\r\nX-Trailer: y\r\n\r\n"};
    int status = 0;
    char *resp = NULL;
    assert_int_equal(roundtrip(&ex, "GET", "/", NULL, 5000, &status, &resp), 0);
    assert_int_equal(status, 201);
    assert_string_equal(resp, "hello world0123456789");
    free(resp);

    exchange_t empty = {.response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "0\r\n\r\n"};
    assert_int_equal(roundtrip(&empty, "GET", "/", NULL, 5000, &status, &resp), 0);
    assert_string_equal(resp, "");
    free(resp);
}

static void test_close_delimited(void **state)
{
    exchange_t ex = {.response = "HTTP/1.0 404 Not Found\r\n\r\nnope"};
    int status = 0;
    char *resp = NULL;
    assert_int_equal(roundtrip(&ex, "GET", "/missing", NULL, 5000, &status, &resp), 0);
    assert_int_equal(status, 404);
    assert_string_equal(resp, "nope");
    free(resp);
}

static void test_malformed(void **state)
{
    static const struct {
        const char *response;
        int rc;
    } cases[] = {
        {"garbage\r\n\r\n", HERALD_EPROTO},
        {"HTTP/1.1 2x0 OK\r\n\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n1", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", HERALD_ETOOBIG},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n", HERALD_ETOOBIG},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Le", HERALD_EPROTO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        exchange_t ex = {.response = cases[i].response};
        int status = 0;
        char *resp = (char *)"untouched";
        int rc = roundtrip(&ex, "GET", "/", NULL, 5000, &status, &resp);
        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d, want %d", i, rc, cases[i].rc);
        assert_null(resp);
    }
}

static void test_timeout_and_refused(void **state)
{
    exchange_t ex = {.hang = 1};
    int status = 0;
    char *resp = NULL;
    int64_t t0 = client_net_now_ms();
    assert_int_equal(roundtrip(&ex, "GET", "/slow", NULL, 150, &status, &resp), -ETIMEDOUT);
    int64_t took = client_net_now_ms() - t0;
    assert_true(took >= 145 && took < 3000);
    assert_null(resp);

    int holder = -1;
    int port = loopback_dead_port(&holder);
    assert_int_equal(
        http_client_request("127.0.0.1", port, "GET", "/", NULL, NULL, 0, 1000, &status, &resp),
        -ECONNREFUSED);
    assert_null(resp);
    close(holder);
}

static void test_bad_arguments(void **state)
{
    int status = 0;
    char *resp = NULL;
    const char *injected[] = {"X: a\r\nY: b", NULL};
    /* rejected before any connection is attempted: port 1 is never dialled */
    assert_int_equal(http_client_request("127.0.0.1", 1, "GET", "/a\r\nX: y", NULL, NULL, 0, 1000,
                                         &status, &resp),
                     HERALD_EINVAL);
    assert_int_equal(
        http_client_request("127.0.0.1", 1, "GET", "/a b", NULL, NULL, 0, 1000, &status, &resp),
        HERALD_EINVAL);
    assert_int_equal(
        http_client_request("127.0.0.1", 1, "GET", "/", injected, NULL, 0, 1000, &status, &resp),
        HERALD_EINVAL);
    assert_null(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_post_without_body_sends_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_timeout_and_refused),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
