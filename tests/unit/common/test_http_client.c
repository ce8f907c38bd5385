/* test_http_client.c - http_client_request against an in-test HTTP server on loopback (a real
 * socket served by a thread): the request it writes, Content-Length / chunked / close-delimited
 * responses written byte by byte, a non-2xx status, malformed and oversized responses, timeouts,
 * refused connections, keep-alive on a handle, https (a server that speaks no TLS, certificate
 * and host name verification against a real TLS server) and requests refused before any
 * connection. */
#include "../client/loopback.h"

#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <uv.h>

#include "herald_err.h"
#include "http_client.h"
#include "test_support.h"

/* What the in-test server answers, and what it saw. */
typedef struct exchange_s {
    const char *response; /* written after the request, byte by byte */
    int hang;             /* write nothing; wait for the client to give up */
    int refused;          /* the client may hang up before it has read the whole response */
    loopback_http_request_t req;
} exchange_t;

static void serve_http(loopback_t *lb, int fd)
{
    exchange_t *ex = lb->arg;
    LOOPBACK_CHECK(lb, loopback_read_http_request(fd, &ex->req) == 0);
    if (ex->hang)
        loopback_wait_close(fd);
    else if (loopback_write_bytewise(fd, ex->response, strlen(ex->response)) != 0)
        LOOPBACK_CHECK(lb, ex->refused);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int64_t now_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

/* req (its url left out) to a fresh server answering ex->response at `path`; returns
 * http_client_request's result. */
static int exchange(exchange_t *ex, http_client_req_t req, const char *path,
                    http_client_resp_t *resp)
{
    loopback_t lb;
    loopback_start(&lb, serve_http, ex);
    char url[256];
    assert_int_equal(http_client_url(url, sizeof(url), "http", "127.0.0.1", lb.port, path), 0);
    req.url = url;
    int rc = http_client_request(NULL, &req, resp);
    loopback_join(&lb);
    return rc;
}

/* One request with the caller's headers to a fresh server. */
static int roundtrip(exchange_t *ex, const char *method, const char *path, const char *body,
                     int timeout_ms, http_client_resp_t *resp)
{
    static const char *const headers[] = {"Authorization: Bearer sekrit", "X-Test: 1", NULL};
    http_client_req_t req = {.method = method,
                             .headers = headers,
                             .body = body,
                             .body_len = body != NULL ? strlen(body) : 0,
                             .timeout_ms = timeout_ms};
    return exchange(ex, req, path, resp);
}

static void test_content_length(void **state)
{
    exchange_t ex = {.response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "content-length:  17 \r\n\r\n{\"code\":0,\"x\":1}\n"};
    http_client_resp_t resp;
    assert_int_equal(roundtrip(&ex, "POST", "/herald/v1/tokens?mid=7&ttl=60", "abc", 5000, &resp),
                     0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "{\"code\":0,\"x\":1}\n");
    assert_int_equal(resp.body_len, 17);
    assert_string_equal(resp.error, "");
    free(resp.body);
    /* the request line, the headers we add and the caller's, the body */
    assert_non_null(strstr(ex.req.data, "POST /herald/v1/tokens?mid=7&ttl=60 HTTP/1.1\r\n"));
    assert_true(strncmp(ex.req.data, "POST ", 5) == 0);
    assert_non_null(strstr(ex.req.data, "\r\nHost: 127.0.0.1:"));
    assert_non_null(strstr(ex.req.data, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\nAuthorization: Bearer sekrit\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\nX-Test: 1\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\nContent-Length: 3\r\n"));
    assert_non_null(strstr(ex.req.data, "\r\n\r\nabc"));
    /* nothing of libcurl's own: no form content type, no 100-continue */
    assert_null(strstr(ex.req.data, "Content-Type"));
    assert_null(strstr(ex.req.data, "Expect"));
}

static void test_post_without_body_sends_length(void **state)
{
    exchange_t ex = {.response = "HTTP/1.1 204 No Content\r\n\r\n"};
    http_client_resp_t resp;
    assert_int_equal(roundtrip(&ex, "POST", "/x", NULL, 5000, &resp), 0);
    assert_int_equal(resp.status, 204);
    assert_string_equal(resp.body, "");
    free(resp.body);
    assert_non_null(strstr(ex.req.data, "\r\nContent-Length: 0\r\n"));

    exchange_t get = {.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"};
    assert_int_equal(roundtrip(&get, "GET", "/goim/online/total", NULL, 5000, &resp), 0);
    assert_string_equal(resp.body, "ok");
    free(resp.body);
    assert_true(starts_with(get.req.data, "GET /goim/online/total HTTP/1.1\r\n"));
    assert_null(strstr(get.req.data, "Content-Length"));

    exchange_t del = {.response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
    assert_int_equal(roundtrip(&del, "DELETE", "/herald/v1/tokens?t=1", NULL, 5000, &resp), 0);
    free(resp.body);
    assert_true(starts_with(del.req.data, "DELETE /herald/v1/tokens?t=1 HTTP/1.1\r\n"));
    assert_null(strstr(del.req.data, "Content-Length"));
}

static void test_chunked(void **state)
{
    exchange_t ex = {.response = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "5;name=val\r\nhello\r\n"
                                 "6\r\n world\r\n"
                                 "A\r\n0123456789\r\n"
                                 "0\r\nX-Trailer: y\r\n\r\n"};
    http_client_resp_t resp;
    assert_int_equal(roundtrip(&ex, "GET", "/", NULL, 5000, &resp), 0);
    assert_int_equal(resp.status, 201);
    assert_string_equal(resp.body, "hello world0123456789");
    free(resp.body);

    exchange_t empty = {.response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "0\r\n\r\n"};
    assert_int_equal(roundtrip(&empty, "GET", "/", NULL, 5000, &resp), 0);
    assert_string_equal(resp.body, "");
    free(resp.body);
}

/* A non-2xx status is an answer like any other, with its body. */
static void test_close_delimited(void **state)
{
    exchange_t ex = {.response = "HTTP/1.0 404 Not Found\r\n\r\nnope"};
    http_client_resp_t resp;
    assert_int_equal(roundtrip(&ex, "GET", "/missing", NULL, 5000, &resp), 0);
    assert_int_equal(resp.status, 404);
    assert_string_equal(resp.body, "nope");
    free(resp.body);
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
        /* a chunk announced far over the bound and cut short: libcurl streams a chunk and does
         * not show its size, so nothing is allocated for it and the bound applies to the bytes
         * that arrive (test_oversized); here the answer ends first */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HERALD_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Le", HERALD_EPROTO},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        exchange_t ex = {.response = cases[i].response, .refused = 1};
        http_client_resp_t resp;
        int rc = roundtrip(&ex, "GET", "/", NULL, 5000, &resp);
        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d (%s), want %d", i, rc, resp.error, cases[i].rc);
        assert_null(resp.body);
        assert_true(resp.error[0] != '\0');
    }
}

/* A body over the bound fails whether its Content-Length says so up front or it just keeps
 * coming (chunked, close-delimited). */
static void test_oversized(void **state)
{
    static const char *const responses[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        "chunked\r\n\r\n6\r\n012345\r\n5\r\n6789a\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n0123456789a",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\n0123456789a",
    };
    http_client_req_t req = {.method = "GET", .timeout_ms = 5000, .max_body = 10};
    http_client_resp_t resp;
    for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
        exchange_t ex = {.response = responses[i], .refused = 1};
        int rc = exchange(&ex, req, "/big", &resp);
        if (rc != HERALD_ETOOBIG)
            fail_msg("response %zu: got %d (%s), want HERALD_ETOOBIG", i, rc, resp.error);
        assert_null(resp.body);
    }
    /* exactly at the bound is fine */
    exchange_t ex = {.response = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"};
    assert_int_equal(exchange(&ex, req, "/big", &resp), 0);
    assert_string_equal(resp.body, "0123456789");
    free(resp.body);
}

static void test_timeout_and_refused(void **state)
{
    exchange_t ex = {.hang = 1};
    http_client_resp_t resp;
    int64_t t0 = now_ms();
    assert_int_equal(roundtrip(&ex, "GET", "/slow", NULL, 150, &resp), -ETIMEDOUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 145 && took < 3000);
    assert_null(resp.body);

    int holder = -1;
    int port = loopback_dead_port(&holder);
    char url[64];
    assert_int_equal(http_client_url(url, sizeof(url), "http", "127.0.0.1", port, "/"), 0);
    http_client_req_t req = {.method = "GET", .url = url, .timeout_ms = 1000};
    assert_int_equal(http_client_request(NULL, &req, &resp), -ECONNREFUSED);
    assert_null(resp.body);
    assert_true(resp.error[0] != '\0');
    close(holder);
}

/* Two requests on a handle: the server accepts one connection and answers both on it. */
static void serve_two(loopback_t *lb, int fd)
{
    loopback_http_request_t *reqs = lb->arg;
    for (int i = 0; i < 2; i++) {
        LOOPBACK_CHECK(lb, loopback_read_http_request(fd, &reqs[i]) == 0);
        char answer[64];
        int n =
            snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr%d", i);
        LOOPBACK_CHECK(lb, loopback_write(fd, answer, (size_t)n) == 0);
    }
}

static void test_keep_alive(void **state)
{
    loopback_http_request_t reqs[2];
    memset(reqs, 0, sizeof(reqs));
    loopback_t lb;
    loopback_start(&lb, serve_two, reqs);
    char url[64];
    assert_int_equal(http_client_url(url, sizeof(url), "http", "127.0.0.1", lb.port, "/hook"), 0);
    http_client_t *c = http_client_new(NULL);
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < 2; i++) {
        http_client_req_t req = {.method = "POST",
                                 .url = url,
                                 .headers = headers,
                                 .body = "[1]",
                                 .body_len = 3,
                                 .timeout_ms = 5000};
        http_client_resp_t resp;
        int rc = http_client_request(c, &req, &resp);
        if (rc != 0)
            fail_msg("request %d: %d (%s)", i, rc, resp.error);
        assert_int_equal(resp.status, 200);
        char want[8];
        snprintf(want, sizeof(want), "r%d", i);
        assert_string_equal(resp.body, want);
        free(resp.body);
    }
    http_client_free(c);
    loopback_join(&lb);
    for (int i = 0; i < 2; i++) {
        assert_non_null(strstr(reqs[i].data, "POST /hook HTTP/1.1\r\n"));
        assert_null(strstr(reqs[i].data, "Connection: close"));
        assert_non_null(strstr(reqs[i].data, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(reqs[i].data, "\r\n\r\n[1]"));
    }
    http_client_free(NULL);
}

/* https to a server that answers in plain HTTP: the handshake fails, nothing is accepted. */
static void serve_plain(loopback_t *lb, int fd)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    LOOPBACK_CHECK(lb, loopback_write(fd, answer, sizeof(answer) - 1) == 0);
    loopback_wait_close(fd);
}

static void test_https_needs_tls(void **state)
{
    loopback_t lb;
    loopback_start(&lb, serve_plain, NULL);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", lb.port);
    http_client_t *c = http_client_new(NULL);
    http_client_req_t req = {.method = "GET", .url = url, .timeout_ms = 5000};
    http_client_resp_t resp;
    assert_int_equal(http_client_request(c, &req, &resp), HERALD_EPROTO);
    assert_null(resp.body);
    http_client_free(c);
    loopback_join(&lb);
}

/* A real TLS server (openssl s_server with a certificate for "localhost" only, made here): the
 * CA file makes it trusted, the system store does not, and a URL naming another host fails the
 * host name check. Skipped when the openssl tool is not installed. */
static pid_t tls_server_start(const char *dir, int *port)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout key.pem -out cert.pem -days 1 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0)
        return -1;
    *port = test_free_port();
    char accept_on[32], cert[512], key[512];
    snprintf(accept_on, sizeof(accept_on), "127.0.0.1:%d", *port);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion must not leave it running */
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execlp("openssl", "openssl", "s_server", "-accept", accept_on, "-cert", cert, "-key", key,
               "-www", "-quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* until it listens: 5 s at most */
        if (test_port_open(*port))
            return pid;
        usleep(10000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    fail_msg("openssl s_server did not listen on %s", accept_on);
    return -1;
}

static int tls_get(const char *ca_file, const char *host, int port, http_client_resp_t *resp)
{
    char url[128];
    snprintf(url, sizeof(url), "https://%s:%d/", host, port);
    http_client_t *c = http_client_new(ca_file);
    http_client_req_t req = {.method = "GET", .url = url, .timeout_ms = 5000};
    int rc = http_client_request(c, &req, resp);
    http_client_free(c);
    return rc;
}

static void test_https_verifies(void **state)
{
    char dir[] = "/tmp/herald-http-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int port = 0;
    pid_t server = tls_server_start(dir, &port);
    if (server < 0) {
        rmdir(dir);
        fail_msg("openssl s_server did not start (scripts/install-deps.sh installs openssl)");
    }
    char ca[512], cmd[600];
    snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
    http_client_resp_t resp;
    int rc = tls_get(ca, "localhost", port, &resp);
    if (rc != 0)
        fail_msg("trusted server: %d (%s)", rc, resp.error);
    assert_int_equal(resp.status, 200);
    free(resp.body);
    assert_int_equal(tls_get(ca, "127.0.0.1", port, &resp), HERALD_EPROTO); /* not its name */
    assert_non_null(strstr(resp.error, "name"));
    assert_int_equal(tls_get(NULL, "localhost", port, &resp), HERALD_EPROTO); /* self-signed */
    snprintf(ca, sizeof(ca), "%s/missing.pem", dir);
    assert_int_equal(tls_get(ca, "localhost", port, &resp), HERALD_ECONF);
    assert_null(resp.body);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_arguments(void **state)
{
    http_client_resp_t resp;
    const char *injected[] = {"X: a\r\nY: b", NULL};
    /* rejected before any connection is attempted: port 1 is never dialled */
    static const char *const bad_urls[] = {
        "http://127.0.0.1:1/a\r\nX: y",
        "http://127.0.0.1:1/a\nX: y",
        "http://127.0.0.1:1/a b",
        "ftp://127.0.0.1:1/",
        "127.0.0.1:1/",
        "http://",
        "",
    };
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        http_client_req_t req = {.method = "GET", .url = bad_urls[i], .timeout_ms = 1000};
        if (http_client_request(NULL, &req, &resp) != HERALD_EINVAL)
            fail_msg("url %zu accepted", i);
        assert_null(resp.body);
    }
    /* a NUL inside the URL's length: the rest would be cut off */
    static const char with_nul[] = "http://127.0.0.1:1/a\0/admin";
    http_client_req_t req = {
        .method = "GET", .url = with_nul, .url_len = sizeof(with_nul) - 1, .timeout_ms = 1000};
    assert_int_equal(http_client_request(NULL, &req, &resp), HERALD_EINVAL);
    req = (http_client_req_t){.method = "GET", .url = "http://127.0.0.1:1/", .headers = injected};
    assert_int_equal(http_client_request(NULL, &req, &resp), HERALD_EINVAL);
    req = (http_client_req_t){.method = "GE T", .url = "http://127.0.0.1:1/"};
    assert_int_equal(http_client_request(NULL, &req, &resp), HERALD_EINVAL);
    req = (http_client_req_t){
        .method = "HEAD", .url = "http://127.0.0.1:1/", .body = "x", .body_len = 1};
    assert_int_equal(http_client_request(NULL, &req, &resp), HERALD_EINVAL);
    assert_null(resp.body);

    char url[32];
    assert_int_equal(http_client_url(url, sizeof(url), "http", "::1", 80, "/x"), 0);
    assert_string_equal(url, "http://[::1]:80/x");
    assert_int_equal(http_client_url(url, 10, "http", "127.0.0.1", 80, "/x"), HERALD_EINVAL);
    assert_int_equal(http_client_url(url, sizeof(url), "https", "logic.example", 443, "/x"), 0);
    assert_string_equal(url, "https://logic.example:443/x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_post_without_body_sends_length),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_close_delimited),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_timeout_and_refused),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_https_needs_tls),
        cmocka_unit_test(test_https_verifies),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
