/* Unit tests of HTTPS in http.c and of http_tls.c: a real libmicrohttpd server with the test
 * PKI's certificate on 127.0.0.1, driven by the test's loop; clients on a thread: libcurl
 * (http_client.h) trusting the test CA, `openssl s_client` as a subprocess, and raw sockets that
 * speak plain HTTP or stall in the handshake. The client thread records failures; the test
 * asserts them after joining it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "herald_err.h"
#include "http.h"
#include "http_client.h"
#include "http_tls.h"
#include "log.h"
#include "test_http_thread.h"
#include "test_pki.h"
#include "test_support.h"

#define MAX_BODY 1024
#define MAX_HEAD (16 * 1024)
#define REQUEST_TIMEOUT_MS 800
#define MAX_PER_ADDR 3

static const http_limits_t limits = {.max_body = MAX_BODY,
                                     .max_head = MAX_HEAD,
                                     .request_timeout_ms = REQUEST_TIMEOUT_MS,
                                     .max_connections = 64,
                                     .max_per_addr = MAX_PER_ADDR};

/* ------------------------------------------------------------------------ server fixture */

static uv_loop_t loop;
static http_server_t *server;
static int port, closed, client_done, handled;
static test_client_t client;

static void on_request(http_request_t *req, void *arg)
{
    size_t len;
    const char *body = http_request_body(req, &len);

    handled++;
    if (body != NULL)
        http_respond(req, 200, "text/plain", body, len);
    else
        http_respond(req, 200, "text/plain", "secure", 6);
}

static void on_client_done(uv_async_t *a)
{
    client_done = 1;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

static int done(void *ctx)
{
    return *(int *)ctx;
}

/* The test PKI's files for [test] tls_cert / tls_key. */
static http_tls_conf_t pki_conf(char *cert, char *key, size_t cap, const char *cert_name,
                                const char *key_name)
{
    test_pki_path(cert, cap, cert_name);
    test_pki_path(key, cap, key_name);
    return (http_tls_conf_t){.cert = cert, .key = key};
}

static int setup(void **state)
{
    char cert[256], key[256], err[256];
    http_tls_conf_t conf = pki_conf(cert, key, sizeof(cert), "server.chain.pem", "server.key");
    http_tls_t tls;

    log_init("test_https", LOG_INFO);
    handled = closed = client_done = 0;
    memset(&client, 0, sizeof(client));
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_async_init(&loop, &client.async, on_client_done);
    assert_int_equal(http_tls_load(&conf, "test", &tls, err, sizeof(err)), 0);
    server = http_server_new(&loop, on_request, NULL, &limits);
    http_server_set_tls(server, &tls);
    assert_null(tls.cert_pem); /* taken over */
    assert_int_equal(http_server_listen(server, "127.0.0.1", 0), 0);
    port = http_server_port(server);
    assert_true(port > 0);
    return 0;
}

static int teardown(void **state)
{
    http_server_close(server, on_closed, &closed);
    assert_true(test_run_until(&loop, done, &closed, 2000));
    uv_close((uv_handle_t *)&client.async, NULL);
    test_finish_loop(&loop);
    return 0;
}

static void run_client(test_scenario_fn scenario)
{
    client.port = port;
    client.scenario = scenario;
    assert_int_equal(test_client_start(&client), 0);
    assert_true(test_run_until(&loop, done, &client_done, 30000));
    assert_int_equal(pthread_join(client.thread, NULL), 0);
    if (client.failed != NULL)
        fail_msg("client check failed: %s", client.failed);
}

/* ---------------------------------------------------------------------- client helpers */

/* One request through libcurl trusting ca (a test PKI file name); returns the status, or the
 * negative http_client error. Body (if any) is copied into out. */
static int curl_request(int p, const char *ca, const char *method, const char *body,
                        const char *const *headers, char *out, size_t cap)
{
    char ca_path[256], url[128];
    http_client_t *c = http_client_new(test_pki_path(ca_path, sizeof(ca_path), ca));
    http_client_resp_t resp;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", p);
    http_client_req_t req = {.method = method,
                             .url = url,
                             .headers = headers,
                             .body = body,
                             .body_len = body ? strlen(body) : 0,
                             .timeout_ms = 5000};
    int rc = http_client_request(c, &req, &resp);
    if (rc == 0 && out != NULL)
        snprintf(out, cap, "%s", resp.body);
    free(resp.body);
    http_client_free(c);
    return rc == 0 ? resp.status : rc;
}

/* Runs `openssl s_client -brief` with extra arguments against the server; returns its exit
 * status and its output in out. */
static int s_client(int p, const char *args, char *out, size_t cap)
{
    char cmd[1024], ca[256];
    snprintf(cmd, sizeof(cmd),
             "openssl s_client -connect 127.0.0.1:%d -brief -CAfile %s -verify_return_error %s "
             "</dev/null 2>&1",
             p, test_pki_path(ca, sizeof(ca), "ca.pem"), args);
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = '\0';
    return f ? pclose(f) : -1;
}

/* CPU time of the whole process (the server's loop and this thread), in ms. */
static uint64_t cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static int tcp_open(int p, const char *from)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    inet_pton(AF_INET, from, &src.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the server closes; returns the bytes read (in buf, NUL-terminated), or -1 when
 * the read timed out with the connection still open. */
static ssize_t read_to_close(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        if (n < 0)
            return -1;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* ---------------------------------------------------------------------------------- tests */

static void scenario_request(test_client_t *cl)
{
    char body[64] = "";
    char big[MAX_BODY + 2];

    CHECK(cl, curl_request(cl->port, "ca.pem", "GET", NULL, NULL, body, sizeof(body)) == 200);
    CHECK(cl, strcmp(body, "secure") == 0);
    CHECK(cl, curl_request(cl->port, "ca.pem", "POST", "ping", NULL, body, sizeof(body)) == 200);
    CHECK(cl, strcmp(body, "ping") == 0);
    /* A CA that did not sign the server's certificate: the client refuses it. */
    CHECK(cl, curl_request(cl->port, "other-ca.pem", "GET", NULL, NULL, NULL, 0) == HERALD_EPROTO);
    /* The size limits hold over TLS: 413 for a body, 431 for the head. */
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(cl, curl_request(cl->port, "ca.pem", "POST", big, NULL, NULL, 0) == 413);
    static char header[MAX_HEAD + 64];
    snprintf(header, sizeof(header), "X-Big: %0*d", MAX_HEAD, 0);
    const char *const headers[] = {header, NULL};
    CHECK(cl, curl_request(cl->port, "ca.pem", "GET", NULL, headers, NULL, 0) == 431);
}

/* libcurl with the test CA gets answers over HTTPS; the bounds of plain HTTP hold. */
static void test_https_request(void **state)
{
    run_client(scenario_request);
    assert_int_equal(handled, 2);
}

static void scenario_versions(test_client_t *cl)
{
    char out[8192];

    /* Default: TLS 1.3, the certificate verified against the test CA. */
    CHECK(cl, s_client(cl->port, "", out, sizeof(out)) == 0);
    CHECK(cl, strstr(out, "Protocol version: TLSv1.3") != NULL);
    /* TLS 1.2 with an AEAD cipher and ECDHE is served. */
    CHECK(cl, s_client(cl->port, "-tls1_2", out, sizeof(out)) == 0);
    CHECK(cl, strstr(out, "Protocol version: TLSv1.2") != NULL);
    CHECK(cl, strstr(out, "GCM") != NULL || strstr(out, "CHACHA20") != NULL);
    /* A CBC suite over TLS 1.2 is refused; so is TLS 1.1. */
    CHECK(cl, s_client(cl->port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA", out, sizeof(out)) != 0);
    CHECK(cl, strstr(out, "Protocol version") == NULL);
    CHECK(cl, s_client(cl->port, "-tls1_1 -cipher DEFAULT@SECLEVEL=0", out, sizeof(out)) != 0);
    CHECK(cl, strstr(out, "Protocol version") == NULL);
}

/* openssl s_client negotiates TLS 1.3 by default; 1.2 only with AEAD; nothing older. */
static void test_https_versions(void **state)
{
    run_client(scenario_versions);
}

static void scenario_plain(test_client_t *cl)
{
    static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";
    char buf[4096];
    int fd = tcp_open(cl->port, "127.0.0.1");

    CHECK(cl, fd >= 0);
    CHECK(cl, send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1);
    ssize_t n = read_to_close(fd, buf, sizeof(buf));
    CHECK(cl, n >= 0);                        /* closed, not left hanging */
    CHECK(cl, strstr(buf, "HTTP/") == NULL);  /* and not answered in plain text */
    CHECK(cl, strstr(buf, "secure") == NULL); /* the handler never ran */
    close(fd);
    /* The server still serves HTTPS. */
    CHECK(cl, curl_request(cl->port, "ca.pem", "GET", NULL, NULL, NULL, 0) == 200);
}

/* A plain-HTTP request on the HTTPS port is closed unanswered. */
static void test_plain_http_refused(void **state)
{
    run_client(scenario_plain);
    assert_int_equal(handled, 1);
}

static void scenario_stall(test_client_t *cl)
{
    /* The first bytes of a TLS record header (a ClientHello), then nothing. */
    static const char partial[] = "\x16\x03\x01\x02";
    char buf[256];
    int silent = tcp_open(cl->port, "127.0.0.1");
    int stalled = tcp_open(cl->port, "127.0.0.1");
    uint64_t t0 = test_now_ms();

    CHECK(cl, silent >= 0 && stalled >= 0);
    CHECK(cl, send(stalled, partial, sizeof(partial) - 1, MSG_NOSIGNAL) == 4);
    /* Meanwhile another client is served at once. */
    CHECK(cl, curl_request(cl->port, "ca.pem", "GET", NULL, NULL, NULL, 0) == 200);
    CHECK(cl, test_now_ms() - t0 < REQUEST_TIMEOUT_MS);
    /* Both stalled handshakes are cut by the request deadline, and waiting for them does not
     * spin the server's loop (MHD asks to be run at once while a handshake waits: http.c). */
    uint64_t cpu0 = cpu_ms(), t1 = test_now_ms();
    CHECK(cl, read_to_close(silent, buf, sizeof(buf)) >= 0);
    CHECK(cl, read_to_close(stalled, buf, sizeof(buf)) >= 0);
    uint64_t cut = test_now_ms() - t0;
    CHECK(cl, cut >= REQUEST_TIMEOUT_MS - 100 && cut <= 3 * REQUEST_TIMEOUT_MS);
    CHECK(cl, cpu_ms() - cpu0 <= (test_now_ms() - t1) / 5);
    close(silent);
    close(stalled);
}

/* A client that never finishes its handshake is closed by the deadline; others are served. */
static void test_handshake_deadline(void **state)
{
    run_client(scenario_stall);
    assert_int_equal(handled, 1);
}

static void scenario_per_addr(test_client_t *cl)
{
    int fds[MAX_PER_ADDR + 1];
    char buf[64];

    for (int i = 0; i < MAX_PER_ADDR; i++) {
        fds[i] = tcp_open(cl->port, "127.0.0.7");
        CHECK(cl, fds[i] >= 0);
    }
    usleep(100 * 1000); /* the server has accepted them */
    /* One over the cap from the same address is closed at accept, before any handshake. */
    fds[MAX_PER_ADDR] = tcp_open(cl->port, "127.0.0.7");
    uint64_t t0 = test_now_ms();
    CHECK(cl, read_to_close(fds[MAX_PER_ADDR], buf, sizeof(buf)) == 0);
    CHECK(cl, test_now_ms() - t0 < REQUEST_TIMEOUT_MS / 2);
    /* Another address is served. */
    CHECK(cl, curl_request(cl->port, "ca.pem", "GET", NULL, NULL, NULL, 0) == 200);
    for (int i = 0; i <= MAX_PER_ADDR; i++)
        close(fds[i]);
}

/* The per-address cap holds on an HTTPS port. */
static void test_per_addr(void **state)
{
    run_client(scenario_per_addr);
}

/* ------------------------------------------------------------ configuration errors */

static void expect_load_error(const char *cert_name, const char *key_name, const char *want)
{
    char cert[256], key[256], err[512] = "";
    http_tls_conf_t conf = pki_conf(cert, key, sizeof(cert), cert_name, key_name);
    http_tls_t tls = {0};

    if (cert_name[0] == '\0')
        conf.cert = "";
    if (key_name[0] == '\0')
        conf.key = "";
    assert_int_equal(http_tls_load(&conf, "http", &tls, err, sizeof(err)), HERALD_ECONF);
    assert_null(tls.cert_pem);
    assert_null(tls.key_pem);
    if (strstr(err, want) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
    assert_null(strstr(err, "BEGIN")); /* never a byte of a file */
}

static void test_load_errors(void **state)
{
    char cert[256], key[256], err[512];
    http_tls_t tls;

    /* Neither set: plain HTTP. */
    assert_int_equal(http_tls_load(&(http_tls_conf_t){NULL, ""}, "http", &tls, err, sizeof(err)),
                     0);
    assert_null(tls.cert_pem);
    expect_load_error("server.pem", "", "[http] tls_cert is set without tls_key");
    expect_load_error("", "server.key", "[http] tls_key is set without tls_cert");
    expect_load_error("missing.pem", "server.key", "[http] tls_cert");
    expect_load_error("missing.pem", "server.key", "missing.pem: cannot open");
    expect_load_error("server.pem", "missing.key", "[http] tls_key");
    /* The files swapped: the certificate file holds a key and the other way round. */
    expect_load_error("server.key", "server.pem", "server.key: no PEM certificate");
    expect_load_error("server.pem", "ca.pem", "ca.pem: no PEM private key");
    /* A directory is not a file. */
    char dir[256];
    snprintf(dir, sizeof(dir), "%s", test_pki_dir());
    http_tls_conf_t conf = {.cert = dir, .key = dir};
    assert_int_equal(http_tls_load(&conf, "admin", &tls, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "[admin] tls_cert"));

    /* A key that does not belong to the certificate: loaded (both are PEM), refused at listen. */
    conf = pki_conf(cert, key, sizeof(cert), "server.pem", "alt.key");
    assert_int_equal(http_tls_load(&conf, "http", &tls, err, sizeof(err)), 0);
    uv_loop_t l;
    int freed = 0;
    assert_int_equal(uv_loop_init(&l), 0);
    http_server_t *s = http_server_new(&l, on_request, NULL, &limits);
    http_server_set_tls(s, &tls);
    assert_int_equal(http_server_listen(s, "127.0.0.1", 0), HERALD_ECONF);
    http_server_close(s, on_closed, &freed);
    test_finish_loop(&l);
    assert_int_equal(freed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_https_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_addr, setup, teardown),
        cmocka_unit_test(test_load_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_pki_cleanup();
    return rc;
}
