/* test_client_tls.c - CLIENT_TLS of the client library (client.h, client_tls.c) against a real
 * TLS peer, `openssl s_server` (s_server.h), with the run-time test PKI (test_pki.h): bytes both
 * ways after a verified handshake, by name and by IP; refusal of an untrusted CA and of a
 * certificate for another host; SNI; a client certificate; the handshake bounded by the timeout
 * against a server that accepts and says nothing; WebSocket inside TLS; herald-cli's --tls, --ca
 * and --servername. */
#include "capture.h"
#include "loopback.h"
#include "packets.h"
#include "s_server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "client_net.h"
#include "ws.h"

#define TLS_TIMEOUT_MS 3000

static const char *pki(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    return test_pki_path(p, sizeof(paths[0]), name);
}

/* Connects over TLS to the server at port with CA ca_name (NULL: the system store) and server
 * name (NULL: host); returns the client or NULL with the reason in err. */
static client_t *tls_connect(const char *host, int port, const char *ca_name,
                             const char *server_name, char *err, size_t errlen)
{
    client_tls_t tls = {.ca_file = ca_name ? pki(ca_name) : NULL, .server_name = server_name};
    return client_connect_tls(CLIENT_TLS, host, port, &tls, TLS_TIMEOUT_MS, err, errlen);
}

/* One packet each way: the client's op 4 body shows up in s_server's output, and the op 5 the
 * test hands s_server arrives whole at the client. */
static void exchange(s_server_t *s, client_t *c, const char *tag)
{
    char up[64];
    snprintf(up, sizeof(up), "up-%s", tag);
    assert_int_equal(client_send(c, 4, 7, up, strlen(up)), 0);
    s_server_expect_output(s, up);

    char down[64];
    snprintf(down, sizeof(down), "down-%s", tag);
    bytes_t b = {.len = 0};
    bytes_str_packet(&b, 5, 7, down);
    s_server_send(s, b.data, b.len);
    client_packet_t p;
    assert_int_equal(client_recv(c, &p, TLS_TIMEOUT_MS), 1);
    assert_int_equal(p.op, 5);
    assert_int_equal(p.seq, 7);
    assert_string_equal((const char *)p.body, down);
    client_packet_free(&p);
}

/* Connects to s with the test CA (server_name NULL: host is the name checked) and exchanges a
 * packet each way; tag names the case in messages and payloads. */
static void expect_exchange(s_server_t *s, const char *host, const char *server_name,
                            const char *tag)
{
    char err[256] = "";
    client_t *c = tls_connect(host, s->port, "ca.pem", server_name, err, sizeof(err));
    if (c == NULL)
        fail_msg("%s: %s", tag, err);
    exchange(s, c, tag);
    client_free(c);
}

static void test_tls_verified_both_ways(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, (const char *[]){"-cert", "@server.chain.pem", "-key", "@server.key", NULL});
    /* By name (SNI + DNS check), then by address (IP SAN check). */
    expect_exchange(&s, "localhost", NULL, "by-name");
    expect_exchange(&s, "127.0.0.1", NULL, "by-ip");
    s_server_stop(&s);
}

static void test_tls_untrusted_ca(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, (const char *[]){"-cert", "@server.pem", "-key", "@server.key", NULL});
    char err[256] = "";
    assert_null(tls_connect("localhost", s.port, "other-ca.pem", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "certificate verify failed: unable to get local issuer"));
    /* The system store does not know the test CA either. */
    err[0] = '\0';
    assert_null(tls_connect("localhost", s.port, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "certificate verify failed"));
    /* A CA file that cannot be read is an error before anything is sent. */
    client_tls_t bad = {.ca_file = "/nonexistent/ca.pem"};
    err[0] = '\0';
    assert_null(client_connect_tls(CLIENT_TLS, "localhost", s.port, &bad, TLS_TIMEOUT_MS, err,
                                   sizeof(err)));
    assert_non_null(strstr(err, "cannot load the CA file /nonexistent/ca.pem: No such file"));
    s_server_stop(&s);
}

static void test_tls_wrong_host(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, (const char *[]){"-cert", "@wrong.pem", "-key", "@wrong.key", NULL});
    char err[256] = "";
    assert_null(tls_connect("localhost", s.port, "ca.pem", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "host name mismatch: the certificate is not for localhost"));
    err[0] = '\0';
    assert_null(tls_connect("127.0.0.1", s.port, "ca.pem", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "host name mismatch: the certificate is not for 127.0.0.1"));
    /* The certificate is fine for the name it carries: server_name replaces the host dialled. */
    expect_exchange(&s, "127.0.0.1", "wrong.test", "named");
    s_server_stop(&s);
}

/* The server answers SNI "alt.test" with alt.pem (which names only alt.test) and anything else
 * with server.pem: a handshake checking alt.test succeeds only if the client sent SNI. */
static void test_tls_sni(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s,
                   (const char *[]){"-cert", "@server.pem", "-key", "@server.key", "-servername",
                                    "alt.test", "-cert2", "@alt.pem", "-key2", "@alt.key", NULL});
    expect_exchange(&s, "127.0.0.1", "alt.test", "alt");
    expect_exchange(&s, "localhost", NULL, "default");
    s_server_stop(&s);
}

/* A server that requires a client certificate from the test CA (mutual TLS). */
static void test_tls_client_certificate(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, (const char *[]){"-cert", "@server.pem", "-key", "@server.key", "-Verify",
                                        "1", "-verify_return_error", "-CAfile", "@ca.pem", NULL});
    char err[256] = "";
    client_tls_t tls = {
        .ca_file = pki("ca.pem"), .cert_file = pki("client.pem"), .key_file = pki("client.key")};
    client_t *c =
        client_connect_tls(CLIENT_TLS, "localhost", s.port, &tls, TLS_TIMEOUT_MS, err, sizeof(err));
    if (c == NULL)
        fail_msg("with a client certificate: %s", err);
    exchange(&s, c, "mutual");
    client_free(c);

    /* Without one, TLS 1.3 finishes the client's side of the handshake and the server's alert
     * comes with the first read: the connection fails, it does not carry data. */
    c = tls_connect("localhost", s.port, "ca.pem", NULL, err, sizeof(err));
    if (c != NULL) {
        client_packet_t p;
        assert_true(client_recv(c, &p, TLS_TIMEOUT_MS) < 0);
        client_free(c);
    }
    /* A certificate without its key is refused before anything is sent. */
    client_tls_t half = {.ca_file = pki("ca.pem"), .cert_file = pki("client.pem")};
    err[0] = '\0';
    assert_null(client_connect_tls(CLIENT_TLS, "localhost", s.port, &half, TLS_TIMEOUT_MS, err,
                                   sizeof(err)));
    assert_non_null(strstr(err, "needs both a certificate and a key"));
    s_server_stop(&s);
}

/* Accepts, reads the ClientHello and never answers. */
static void serve_silent(loopback_t *lb, int fd)
{
    (void)lb;
    loopback_wait_close(fd);
}

static void test_tls_handshake_timeout(void **state)
{
    (void)state;
    loopback_t lb;
    loopback_start(&lb, serve_silent, NULL);
    client_tls_t tls = {.ca_file = pki("ca.pem")};
    char err[256] = "";
    int64_t t0 = client_net_now_ms();
    assert_null(client_connect_tls(CLIENT_TLS, "127.0.0.1", lb.port, &tls, 300, err, sizeof(err)));
    int64_t took = client_net_now_ms() - t0;
    assert_true(took >= 295 && took < 2000);
    assert_non_null(strstr(err, "TLS handshake with 127.0.0.1:"));
    assert_non_null(strstr(err, "timed out"));
    loopback_join(&lb);
}

/* The server side of a WebSocket upgrade through s_server: waits for the client's request in
 * its output, answers 101 with the right accept key and one binary message holding an op 5
 * packet. On a thread, since the client's connect blocks until then. */
typedef struct wss_peer_s {
    s_server_t *s;
    const char *failed; /* NULL when it answered */
} wss_peer_t;

static void *wss_peer_main(void *arg)
{
    wss_peer_t *w = arg;
    static char out[1 << 16];
    const char *key = NULL;
    for (int waited = 0; key == NULL && waited < S_SERVER_TIMEOUT_MS; waited += 20) {
        key = s_server_find(w->s, "Sec-WebSocket-Key: ", out, sizeof(out));
        if (key == NULL)
            s_server_sleep_ms(20);
    }
    if (key == NULL) {
        w->failed = "no upgrade request";
        return NULL;
    }
    char accept[WS_ACCEPT_LEN + 1];
    ws_accept_key(key + strlen("Sec-WebSocket-Key: "), WS_KEY_LEN, accept);
    char resp[512];
    size_t n = ws_handshake_response(resp, sizeof(resp), accept);
    bytes_t pkt = {.len = 0};
    bytes_str_packet(&pkt, 5, 9, "down-wss");
    uint8_t frame[2] = {0x82, (uint8_t)pkt.len}; /* FIN + binary, unmasked, len < 126 */
    if (n == 0 || write(w->s->in_fd, resp, n) != (ssize_t)n || write(w->s->in_fd, frame, 2) != 2 ||
        write(w->s->in_fd, pkt.data, pkt.len) != (ssize_t)pkt.len)
        w->failed = "cannot answer through s_server";
    return NULL;
}

/* CLIENT_WSS: the upgrade runs inside TLS (s_server sees it in clear, Host naming the checked
 * server name), and a message from the server arrives as a packet. */
static void test_wss(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, (const char *[]){"-cert", "@server.pem", "-key", "@server.key", NULL});
    wss_peer_t w = {.s = &s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wss_peer_main, &w), 0);
    client_tls_t tls = {.ca_file = pki("ca.pem"), .server_name = "localhost"};
    char err[256] = "";
    client_t *c =
        client_connect_tls(CLIENT_WSS, "127.0.0.1", s.port, &tls, TLS_TIMEOUT_MS, err, sizeof(err));
    assert_int_equal(pthread_join(t, NULL), 0);
    if (w.failed != NULL)
        fail_msg("server side: %s", w.failed);
    if (c == NULL)
        fail_msg("wss: %s", err);
    char host[64];
    snprintf(host, sizeof(host), "Host: localhost:%d\r\n", s.port);
    assert_true(s_server_output_has(&s, "GET /sub HTTP/1.1\r\n"));
    assert_true(s_server_output_has(&s, host));
    client_packet_t p;
    assert_int_equal(client_recv(c, &p, TLS_TIMEOUT_MS), 1);
    assert_int_equal(p.op, 5);
    assert_int_equal(p.seq, 9);
    assert_string_equal((const char *)p.body, "down-wss");
    client_packet_free(&p);
    client_free(c);
    s_server_stop(&s);
}

/* herald-cli listen --tls against s_server, which answers the auth and pushes one message; then
 * the same with the wrong trust anchor, and the TLS options without --tls. */
static void test_cli_tls(void **state)
{
    (void)state;
    s_server_t s;
    s_server_start(&s, (const char *[]){"-cert", "@server.pem", "-key", "@server.key", NULL});
    bytes_t b = {.len = 0};
    bytes_str_packet(&b, 8, 0, "{\"code\":0,\"mid\":3}");
    bytes_str_packet(&b, 1000, 1, "over-tls");
    s_server_send(&s, b.data, b.len);
    char port[16];
    snprintf(port, sizeof(port), "%d", s.port);
    char comet[64];
    snprintf(comet, sizeof(comet), "127.0.0.1:%s", port);
    char *ca = (char *)pki("ca.pem");
    char *ok[] = {"listen", "--comet",      comet,       "--mid",   "3", "--tls",        "--ca",
                  ca,       "--servername", "localhost", "--count", "1", "--timeout-ms", "3000"};
    char *out, *err;
    int rc = run(cli_listen_main, ARGC(ok), ok, &out, &err);
    if (rc != CLI_EXIT_OK)
        fail_msg("listen --tls: rc %d, stderr '%s'", rc, err);
    assert_string_equal(out, "op=1000 seq=1 body=over-tls\n");
    s_server_expect_output(&s, "\"mid\":3"); /* the auth body went up inside TLS */
    free(out);
    free(err);

    char *other = (char *)pki("other-ca.pem");
    char *bad[] = {"listen", "--comet", comet, "--mid", "3", "--tls", "--ca", other};
    assert_int_equal(run(cli_listen_main, ARGC(bad), bad, &out, &err), CLI_EXIT_FAIL);
    assert_non_null(strstr(err, "herald-cli listen: TLS handshake with 127.0.0.1:"));
    assert_non_null(strstr(err, "certificate verify failed"));
    free(out);
    free(err);

    char *notls[] = {"send", "--comet", comet, "--mid", "3", "--ca", ca, "--to-mid", "4", "m"};
    assert_int_equal(run(cli_send_main, ARGC(notls), notls, &out, &err), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "--ca and --servername go with --tls"));
    free(out);
    free(err);
    char *chat[] = {"chat", "--logic", comet, "--name", "n", "--password", "12345678", "--ca", ca};
    assert_int_equal(run(cli_chat_main, ARGC(chat), chat, &out, &err), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "--ca goes with --tls or an https:// --logic"));
    free(out);
    free(err);
    s_server_stop(&s);
}

static int teardown(void **state)
{
    (void)state;
    test_pki_cleanup();
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a dead s_server must fail a test, not kill the process */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_verified_both_ways),
        cmocka_unit_test(test_tls_untrusted_ca),
        cmocka_unit_test(test_tls_wrong_host),
        cmocka_unit_test(test_tls_sni),
        cmocka_unit_test(test_tls_client_certificate),
        cmocka_unit_test(test_tls_handshake_timeout),
        cmocka_unit_test(test_wss),
        cmocka_unit_test(test_cli_tls),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
