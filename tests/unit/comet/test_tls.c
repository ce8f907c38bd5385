/* comet's TLS and WSS listeners end to end: a real comet (real worker threads, real sockets) with
 * certificates from test_pki.h, the test logic of comet_test.h, and OpenSSL clients on blocking
 * sockets in the test thread: TLS 1.3 and 1.2, SNI, host-name checks, resumption, goim packets
 * and WebSocket frames over TLS, garbage, a stalled handshake, a slow reader, certificate reload
 * (admin call and SIGHUP) and start-up errors. */
#include "comet_test.h"
#include "test_pki.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#define AUTH_T "{\"mid\":7,\"key\":\"key-t\",\"room_id\":\"live://t\",\"accepts\":[1000]}"

/* ------------------------------------------------------------------ the comet's configuration */

static char cert_list[1024], key_list[1024];

static void set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

static void tls_on(comet_conf_t *conf)
{
    set(&conf->tls_listen, "127.0.0.1:0");
    set(&conf->wss_listen, "127.0.0.1:0");
    set(&conf->tls_cert, cert_list);
    set(&conf->tls_key, key_list);
}

/* server.pem (the default) and alt.pem (SNI alt.test). */
static void tls_default(comet_conf_t *conf)
{
    char a[512], b[512], c[512], d[512];
    snprintf(cert_list, sizeof cert_list, "%s, %s", test_pki_path(a, sizeof a, "server.pem"),
             test_pki_path(b, sizeof b, "alt.pem"));
    snprintf(key_list, sizeof key_list, "%s,%s", test_pki_path(c, sizeof c, "server.key"),
             test_pki_path(d, sizeof d, "alt.key"));
    tls_on(conf);
}

static void tls_short_auth(comet_conf_t *conf)
{
    tls_default(conf);
    conf->auth_timeout = 300;
}

static void tls_small_pending(comet_conf_t *conf)
{
    tls_default(conf);
    conf->max_pending_bytes = 4096;
}

/* ------------------------------------------------------------------------ a blocking TLS client */

typedef struct tc_s {
    int fd;
    SSL *ssl;
} tc_t;

typedef struct tc_opts_s {
    const char *sni;      /* server name sent, NULL: none */
    int verify;           /* trust ca.pem and check the host name "localhost" */
    int max_version;      /* 0 or TLS1_2_VERSION */
    SSL_SESSION *session; /* to resume, or NULL */
    int rcvbuf;           /* SO_RCVBUF set before connecting, 0: the default */
} tc_opts_t;

/* A TCP connection to 127.0.0.1:port with a receive buffer of rcvbuf bytes. */
static int connect_small(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Connects and runs the handshake: 1 when it succeeded, 0 when it failed (c is still closed
 * with tc_close). */
static int tc_open(tc_t *c, int port, const tc_opts_t *o)
{
    c->fd = o->rcvbuf ? connect_small(port, o->rcvbuf) : t_connect(port);
    struct timeval tv = {0, 50 * 1000}; /* reads return to our deadline loops */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->max_version)
        SSL_CTX_set_max_proto_version(ctx, o->max_version);
    char ca[512];
    if (o->verify) {
        assert_int_equal(
            SSL_CTX_load_verify_locations(ctx, test_pki_path(ca, sizeof ca, "ca.pem"), NULL), 1);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    if (o->verify)
        SSL_set1_host(c->ssl, "localhost");
    if (o->sni)
        SSL_set_tlsext_host_name(c->ssl, o->sni);
    if (o->session)
        SSL_set_session(c->ssl, o->session);
    SSL_set_fd(c->ssl, c->fd);
    uint64_t deadline = uv_hrtime() + (uint64_t)T_TIMEOUT_MS * 1000000;
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 1;
        if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ || uv_hrtime() > deadline)
            return 0;
    }
}

/* close_notify first: a session closed without it is marked not resumable. */
static void tc_close(tc_t *c)
{
    if (SSL_is_init_finished(c->ssl))
        SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd);
}

static void tc_write(tc_t *c, const void *data, size_t len)
{
    assert_int_equal(SSL_write(c->ssl, data, (int)len), (int)len);
}

/* Reads exactly len bytes: 1, 0 on timeout, -1 when the connection ended. */
static int tc_read_full(tc_t *c, void *buf, size_t len, int timeout_ms)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000;
    size_t got = 0;
    while (got < len) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, (char *)buf + got, (int)(len - got));
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
            return -1;
        if (uv_hrtime() > deadline)
            return 0;
    }
    return 1;
}

/* Writes data as records that reach comet a few bytes at a time (each TCP write on its own), so
 * that records straddle reads. */
static void tc_write_dribble(tc_t *c, const void *data, size_t len)
{
    BIO *sock = SSL_get_wbio(c->ssl), *mem = BIO_new(BIO_s_mem());
    BIO_up_ref(sock); /* SSL_set0_wbio drops the write side's reference */
    SSL_set0_wbio(c->ssl, mem);
    assert_int_equal(SSL_write(c->ssl, data, (int)len), (int)len);
    char out[8192];
    int n = BIO_read(mem, out, sizeof out);
    assert_true(n > 0);
    SSL_set0_wbio(c->ssl, sock); /* frees mem, takes our reference */
    for (int off = 0; off < n; off += 3) {
        t_write(c->fd, out + off, (size_t)(n - off < 3 ? n - off : 3));
        usleep(300);
    }
}

static void tc_send(tc_t *c, uint32_t op, uint32_t seq, const char *body)
{
    uint8_t pkt[8192];
    tc_write(c, pkt, t_packet_build(pkt, op, seq, body, body ? strlen(body) : 0));
}

static int tc_recv(tc_t *c, t_packet_t *p, int timeout_ms)
{
    uint8_t pkt[PROTO_HEADER_LEN + sizeof p->body];
    int r = tc_read_full(c, pkt, PROTO_HEADER_LEN, timeout_ms);
    if (r != 1)
        return r;
    uint32_t len = (uint32_t)pkt[0] << 24 | (uint32_t)pkt[1] << 16 | (uint32_t)pkt[2] << 8 | pkt[3];
    assert_true(len >= PROTO_HEADER_LEN && len <= sizeof pkt);
    if (len > PROTO_HEADER_LEN &&
        (r = tc_read_full(c, pkt + PROTO_HEADER_LEN, len - PROTO_HEADER_LEN, timeout_ms)) != 1)
        return r;
    assert_int_equal(t_packet_parse(pkt, len, p), len);
    return 1;
}

static int tc_recv_op(tc_t *c, uint32_t op, t_packet_t *p, int timeout_ms)
{
    int r;
    while ((r = tc_recv(c, p, timeout_ms)) == 1 && p->op != op)
        ;
    return r;
}

/* Authenticates and expects the op 8 reply with code 0. */
static void tc_auth(tc_t *c, const char *auth)
{
    t_packet_t p;
    tc_send(c, PROTO_OP_AUTH, 1, auth);
    assert_int_equal(tc_recv(c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(t_json_int(&p, "code"), 0);
}

/* Heartbeat and its reply: the connection is alive and established. */
static void tc_heartbeat(tc_t *c, uint32_t seq)
{
    t_packet_t p;
    tc_send(c, PROTO_OP_HEARTBEAT, seq, NULL);
    assert_int_equal(tc_recv_op(c, PROTO_OP_HEARTBEAT_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.seq, seq);
}

/* The CN of the certificate the server showed. */
static void tc_peer_cn(tc_t *c, char *out, size_t cap)
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    assert_non_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)cap);
    X509_free(x);
}

static const tc_opts_t verified = {.verify = 1};

/* ------------------------------------------------------------------------------------ tests */

static void test_tls13_auth_push_room(void **state)
{
    harness_t *h = harness_start_with(2, 1, tls_default);
    assert_true(h->comet->tls_port > 0);
    tc_t c;
    assert_int_equal(tc_open(&c, h->comet->tls_port, &verified), 1);
    assert_int_equal(SSL_version(c.ssl), TLS1_3_VERSION);
    char cn[128];
    tc_peer_cn(&c, cn, sizeof cn);
    assert_string_equal(cn, "localhost");
    tc_auth(&c, AUTH_T);
    assert_true(harness_wait(h, &h->connects, 1));
    tc_heartbeat(&c, 5);
    t_packet_t p;
    assert_int_equal(t_push_keys(h, "key-t", NULL, 1000, "over tls"), 1);
    assert_int_equal(tc_recv_op(&c, 1000, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "over tls");
    assert_int_equal(t_push_room(h, "live://t", 2, 1000, "room"), 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tc_recv_op(&c, 1000, &p, T_TIMEOUT_MS), 1);
        assert_string_equal((const char *)p.body, "room");
    }
    /* a plain client on the plain port beside it */
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, "{\"mid\":8,\"key\":\"key-p\",\"accepts\":[1000]}", &p), 1);
    assert_int_equal(t_json_int(&p, "code"), 0);
    assert_int_equal(t_metric(h, "tls_conns"), 1);
    assert_int_equal(t_metric(h, "tls_handshakes"), 1);
    assert_int_equal(t_metric(h, "tls_detached"), 1); /* TLS 1.3: OpenSSL's state is gone */
    assert_int_equal(t_metric(h, "conns"), 2);
    /* RenewOnline advertises both TLS listeners (server.advertise_host + bound port) */
    assert_true(harness_wait(h, &h->renewals, 1));
    char want[64];
    uv_mutex_lock(&h->lock);
    snprintf(want, sizeof want, "127.0.0.1:%d", h->comet->tls_port);
    assert_string_equal(h->last_renew_tls, want);
    snprintf(want, sizeof want, "127.0.0.1:%d", h->comet->wss_port);
    assert_string_equal(h->last_renew_wss, want);
    uv_mutex_unlock(&h->lock);
    close(fd);
    tc_close(&c);
    assert_true(harness_wait(h, &h->disconnects, 2));
    harness_stop(h);
}

static void test_tls12_and_resumption(void **state)
{
    harness_t *h = harness_start_with(2, 1, tls_default);
    tc_opts_t o12 = {.verify = 1, .max_version = TLS1_2_VERSION};
    tc_t c;
    assert_int_equal(tc_open(&c, h->comet->tls_port, &o12), 1);
    assert_int_equal(SSL_version(c.ssl), TLS1_2_VERSION);
    const char *cipher = SSL_get_cipher_name(c.ssl);
    assert_non_null(strstr(cipher, "ECDHE"));
    assert_true(strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA20") != NULL);
    tc_auth(&c, AUTH_T);
    tc_close(&c);

    /* TLS 1.3 tickets arrive after the handshake: read something first, then resume (on
     * whichever worker the kernel picks: they share the context and its ticket keys). */
    assert_int_equal(tc_open(&c, h->comet->tls_port, &verified), 1);
    tc_auth(&c, "{\"mid\":7,\"key\":\"key-r\",\"accepts\":[1000]}");
    SSL_SESSION *sess = SSL_get1_session(c.ssl);
    assert_non_null(sess);
    assert_true(SSL_SESSION_is_resumable(sess));
    tc_close(&c);
    for (int i = 0; i < 4; i++) {
        tc_opts_t again = {.verify = 1, .session = sess};
        assert_int_equal(tc_open(&c, h->comet->tls_port, &again), 1);
        assert_int_equal(SSL_session_reused(c.ssl), 1);
        tc_auth(&c, "{\"mid\":7,\"key\":\"key-r\",\"accepts\":[1000]}");
        tc_close(&c);
    }
    SSL_SESSION_free(sess);
    assert_int_equal(t_metric(h, "tls_resumed"), 4);
    assert_int_equal(t_metric(h, "tls_handshakes"), 6);
    assert_int_equal(t_metric(h, "tls_detached"), 5); /* the TLS 1.2 one keeps OpenSSL */
    harness_stop(h);
}

/* After the handshake comet holds only the record keys: big writes split into records, records
 * that straddle reads, KeyUpdate both ways, close_notify. */
static void test_detached_records(void **state)
{
    harness_t *h = harness_start_with(1, 1, tls_default);
    tc_t c;
    assert_int_equal(tc_open(&c, h->comet->tls_port, &verified), 1);
    uint8_t pkt[512];
    size_t n = t_packet_build(pkt, PROTO_OP_AUTH, 1, AUTH_T, strlen(AUTH_T));
    tc_write_dribble(&c, pkt, n);
    t_packet_t p;
    assert_int_equal(tc_recv(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(t_json_int(&p, "code"), 0);
    /* 8 packets of 3000 bytes in one write: more than one record */
    static char body[3001];
    memset(body, 'b', sizeof body - 1);
    assert_int_equal(t_push_room(h, "live://t", 8, 1000, body), 1);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tc_recv_op(&c, 1000, &p, T_TIMEOUT_MS), 1);
        assert_int_equal(p.len, 3000);
    }
    /* the client rolls its keys and asks comet to roll its own */
    assert_int_equal(SSL_key_update(c.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    tc_heartbeat(&c, 41);
    assert_int_equal(t_push_keys(h, "key-t", NULL, 1000, "after update"), 1);
    assert_int_equal(tc_recv_op(&c, 1000, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "after update");
    assert_int_equal(SSL_key_update(c.ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
    tc_heartbeat(&c, 42);
    assert_int_equal(t_metric(h, "tls_detached"), 1);
    assert_int_equal(t_metric(h, "tls_failed"), 0);
    /* close_notify: comet closes the connection (a Disconnect to logic) */
    assert_int_equal(SSL_shutdown(c.ssl), 0);
    assert_true(harness_wait(h, &h->disconnects, 1));
    tc_close(&c);
    harness_stop(h);
}

static void test_sni_and_host_check(void **state)
{
    harness_t *h = harness_start_with(1, 1, tls_default);
    char cn[128];
    tc_t c;
    tc_opts_t alt = {.sni = "alt.test"};
    assert_int_equal(tc_open(&c, h->comet->tls_port, &alt), 1);
    tc_peer_cn(&c, cn, sizeof cn);
    assert_string_equal(cn, "alt.test");
    tc_close(&c);
    tc_opts_t none = {.sni = NULL};
    assert_int_equal(tc_open(&c, h->comet->tls_port, &none), 1);
    tc_peer_cn(&c, cn, sizeof cn);
    assert_string_equal(cn, "localhost");
    tc_close(&c);
    tc_opts_t other = {.sni = "unknown.test"};
    assert_int_equal(tc_open(&c, h->comet->tls_port, &other), 1);
    tc_peer_cn(&c, cn, sizeof cn);
    assert_string_equal(cn, "localhost");
    tc_close(&c);
    /* a client that checks "localhost" refuses alt.pem */
    tc_opts_t alt_checked = {.sni = "alt.test", .verify = 1};
    assert_int_equal(tc_open(&c, h->comet->tls_port, &alt_checked), 0);
    assert_int_equal(SSL_get_verify_result(c.ssl), X509_V_ERR_HOSTNAME_MISMATCH);
    tc_close(&c);
    harness_stop(h);
}

static void tls_wrong(comet_conf_t *conf)
{
    char a[512], b[512];
    snprintf(cert_list, sizeof cert_list, "%s", test_pki_path(a, sizeof a, "wrong.pem"));
    snprintf(key_list, sizeof key_list, "%s", test_pki_path(b, sizeof b, "wrong.key"));
    tls_on(conf);
}

static void test_wrong_host_refused(void **state)
{
    harness_t *h = harness_start_with(1, 1, tls_wrong);
    tc_t c;
    assert_int_equal(tc_open(&c, h->comet->tls_port, &verified), 0);
    assert_int_equal(SSL_get_verify_result(c.ssl), X509_V_ERR_HOSTNAME_MISMATCH);
    tc_close(&c);
    harness_stop(h);
}

/* WebSocket over TLS: upgrade, one binary frame per packet (client frames masked). */
static void wss_open(tc_t *c, int port)
{
    assert_int_equal(tc_open(c, port, &verified), 1);
    const char *req = "GET /sub HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    tc_write(c, req, strlen(req));
    char head[1024];
    size_t n = 0;
    while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
        assert_true(n < sizeof head - 1);
        assert_int_equal(tc_read_full(c, head + n, 1, T_TIMEOUT_MS), 1);
        n++;
    }
    head[n] = 0;
    assert_non_null(strstr(head, " 101 "));
    assert_non_null(strstr(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

static void wss_send(tc_t *c, uint32_t op, uint32_t seq, const char *body)
{
    uint8_t pkt[4096], frame[4200];
    size_t n = t_packet_build(pkt, op, seq, body, body ? strlen(body) : 0);
    ws_codec_t *codec = ws_codec_new(0);
    size_t fn = ws_codec_encode(codec, WS_OP_BINARY, pkt, n, frame);
    ws_codec_free(codec);
    tc_write(c, frame, fn);
}

static int wss_recv(tc_t *c, t_packet_t *p)
{
    uint8_t hdr[4];
    int r = tc_read_full(c, hdr, 2, T_TIMEOUT_MS);
    if (r != 1)
        return r;
    assert_int_equal(hdr[0], 0x80 | WS_OP_BINARY);
    size_t len = hdr[1] & 0x7f;
    if (len == 126) {
        assert_int_equal(tc_read_full(c, hdr + 2, 2, T_TIMEOUT_MS), 1);
        len = (size_t)hdr[2] << 8 | hdr[3];
    }
    static uint8_t payload[70000];
    assert_true(len <= sizeof payload);
    assert_int_equal(tc_read_full(c, payload, len, T_TIMEOUT_MS), 1);
    assert_int_equal(t_packet_parse(payload, len, p), len);
    return 1;
}

static void test_wss_auth_push(void **state)
{
    harness_t *h = harness_start_with(2, 1, tls_default);
    assert_true(h->comet->wss_port > 0);
    tc_t c;
    wss_open(&c, h->comet->wss_port);
    t_packet_t p;
    wss_send(&c, PROTO_OP_AUTH, 1, AUTH_T);
    assert_int_equal(wss_recv(&c, &p), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(t_json_int(&p, "code"), 0);
    assert_int_equal(t_push_keys(h, "key-t", NULL, 1000, "over wss"), 1);
    assert_int_equal(wss_recv(&c, &p), 1);
    assert_int_equal(p.op, 1000);
    assert_string_equal((const char *)p.body, "over wss");
    wss_send(&c, PROTO_OP_HEARTBEAT, 9, NULL);
    assert_int_equal(wss_recv(&c, &p), 1);
    assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
    assert_int_equal(t_metric(h, "ws_conns"), 1);
    assert_int_equal(t_metric(h, "tls_conns"), 1);
    tc_close(&c);
    assert_true(harness_wait(h, &h->disconnects, 1));
    harness_stop(h);
}

static void test_garbage_closes_only_that_connection(void **state)
{
    harness_t *h = harness_start_with(1, 1, tls_default);
    tc_t good;
    assert_int_equal(tc_open(&good, h->comet->tls_port, &verified), 1);
    tc_auth(&good, AUTH_T);
    /* an HTTP request, a plain goim packet and random bytes instead of a ClientHello */
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd = t_connect(h->comet->tls_port);
    t_write(fd, http, strlen(http));
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    fd = t_connect(h->comet->tls_port);
    t_send(fd, PROTO_OP_AUTH, 1, AUTH_T);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    uint8_t junk[3000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7919 + 13);
    junk[0] = 0x16; /* a handshake record header whose body is not one */
    junk[1] = 0x03;
    junk[2] = 0x01;
    fd = t_connect(h->comet->tls_port);
    t_write(fd, junk, sizeof junk);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    /* garbage after a good handshake: a record that does not decrypt */
    tc_t bad;
    assert_int_equal(tc_open(&bad, h->comet->tls_port, &verified), 1);
    uint8_t rec[64] = {0x17, 0x03, 0x03, 0x00, 59};
    memset(rec + 5, 0xab, sizeof rec - 5);
    t_write(bad.fd, rec, sizeof rec);
    assert_int_equal(t_wait_closed(bad.fd, T_TIMEOUT_MS), 1);
    tc_close(&bad);
    /* a record header announcing more than a record may hold, then a plaintext handshake */
    const uint8_t huge[] = {0x17, 0x03, 0x03, 0x41, 0x01}, plain[] = {0x16, 0x03, 0x03, 0, 4};
    const uint8_t *heads[] = {huge, plain};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tc_open(&bad, h->comet->tls_port, &verified), 1);
        t_write(bad.fd, heads[i], 5);
        assert_int_equal(t_wait_closed(bad.fd, T_TIMEOUT_MS), 1);
        tc_close(&bad);
    }
    assert_int_equal(t_metric(h, "tls_failed"), 6);
    tc_heartbeat(&good, 77); /* untouched */
    tc_close(&good);
    harness_stop(h);
}

static void test_stalled_handshake_cut_by_auth_deadline(void **state)
{
    harness_t *h = harness_start_with(1, 1, tls_short_auth);
    /* nothing at all, then half a ClientHello record */
    int silent = t_connect(h->comet->tls_port);
    int half = t_connect(h->comet->tls_port);
    const uint8_t partial[] = {0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03};
    t_write(half, partial, sizeof partial);
    uint64_t start = uv_hrtime();
    assert_int_equal(t_wait_closed(silent, T_TIMEOUT_MS), 1);
    assert_int_equal(t_wait_closed(half, T_TIMEOUT_MS), 1);
    uint64_t ms = (uv_hrtime() - start) / 1000000;
    assert_true(ms >= 200 && ms < 5000); /* auth_timeout 300 ms, swept every second */
    close(silent);
    close(half);
    assert_int_equal(t_metric(h, "timeouts"), 2);
    /* the count drops in the close callback, a loop turn after the peer saw the FIN */
    long long sockets = -1;
    for (int i = 0; i < 100 && (sockets = t_metric(h, "sockets")) != 0; i++)
        usleep(10 * 1000);
    assert_int_equal(sockets, 0);
    harness_stop(h);
}

static void test_slow_reader_kicked(void **state)
{
    harness_t *h = harness_start_with(1, 1, tls_small_pending);
    tc_t c;
    tc_opts_t small = {.verify = 1, .rcvbuf = 4096};
    assert_int_equal(tc_open(&c, h->comet->tls_port, &small), 1);
    tc_auth(&c, "{\"mid\":3,\"key\":\"slow\",\"accepts\":[1000]}");
    static char big[8000];
    memset(big, 'z', sizeof big - 1);
    int pushes = 0;
    while (pushes < 2000 && t_push_keys(h, "slow", NULL, 1000, big) == 1)
        pushes++;
    assert_true(pushes < 2000);
    /* the records stay well-formed and end with the kick */
    t_packet_t p;
    assert_int_equal(tc_recv_op(&c, PROTO_OP_DISCONNECT_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "{\"reason\":\"slow consumer\"}");
    tc_close(&c);
    assert_int_equal(t_metric(h, "slow_consumers"), 1);
    harness_stop(h);
}

/* ------------------------------------------------------------------------------- reloading */

static char live_cert[512], live_key[512];

static void copy_file(const char *from_name, const char *to)
{
    char from[512];
    FILE *in = fopen(test_pki_path(from, sizeof from, from_name), "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void tls_live(comet_conf_t *conf)
{
    test_pki_path(live_cert, sizeof live_cert, "live.pem");
    test_pki_path(live_key, sizeof live_key, "live.key");
    copy_file("server.pem", live_cert);
    copy_file("server.key", live_key);
    snprintf(cert_list, sizeof cert_list, "%s", live_cert);
    snprintf(key_list, sizeof key_list, "%s", live_key);
    tls_on(conf);
}

/* The CN a new connection (no SNI, no checks) is shown. */
static void new_conn_cn(harness_t *h, char *cn, size_t cap)
{
    tc_t c;
    tc_opts_t none = {.sni = NULL};
    assert_int_equal(tc_open(&c, h->comet->tls_port, &none), 1);
    tc_peer_cn(&c, cn, cap);
    tc_close(&c);
}

/* POST /tls/reload answers status with want in its body; then a new connection is shown cn. */
static void reload_expect(harness_t *h, int status, const char *want, const char *cn)
{
    char body[2048], got[128];
    assert_int_equal(t_http(h->comet->admin_port, "POST", "/tls/reload", body, sizeof body),
                     status);
    if (strstr(body, want) == NULL)
        fail_msg("reload answered '%s', without '%s'", body, want);
    new_conn_cn(h, got, sizeof got);
    assert_string_equal(got, cn);
}

static void no_change(comet_conf_t *conf)
{
    (void)conf;
}

/* A SIGHUP whose file names other certificate files: alt.pem / alt.key. */
static void renamed_files(comet_conf_t *conf)
{
    char cert[512], key[512];
    set(&conf->tls_cert, test_pki_path(cert, sizeof cert, "alt.pem"));
    set(&conf->tls_key, test_pki_path(key, sizeof key, "alt.key"));
}

static void test_reload_keeps_connections(void **state)
{
    harness_t *h = harness_start_with(2, 1, tls_live);
    char cn[128], body[2048];
    tc_t old;
    assert_int_equal(tc_open(&old, h->comet->tls_port, &verified), 1);
    tc_auth(&old, AUTH_T);

    /* the admin call: new handshakes get the new files, the open connection stays */
    copy_file("alt.pem", live_cert);
    copy_file("alt.key", live_key);
    reload_expect(h, 200, "\"generation\":2", "alt.test");
    tc_heartbeat(&old, 1);
    assert_int_equal(t_push_keys(h, "key-t", NULL, 1000, "still here"), 1);
    t_packet_t p;
    assert_int_equal(tc_recv_op(&old, 1000, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "still here");

    /* a bad file: the reason comes back and the certificates stay */
    FILE *f = fopen(live_cert, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    reload_expect(h, 500, "\"code\":-500", "alt.test");
    reload_expect(h, 500, "live.pem", "alt.test");
    /* a key that does not match the certificate */
    copy_file("server.pem", live_cert);
    copy_file("alt.key", live_key);
    reload_expect(h, 500, "mismatch", "alt.test");
    assert_int_equal(t_http(h->comet->admin_port, "GET", "/tls/reload", body, sizeof body), 405);

    /* the SIGHUP reload does the same (herald-comet's hook; integration/test_signals sends the
     * signal itself) */
    copy_file("server.key", live_key);
    harness_reload(h, no_change);
    for (int i = 0; i < 100; i++) {
        new_conn_cn(h, cn, sizeof cn);
        if (strcmp(cn, "localhost") == 0)
            break;
        usleep(20 * 1000);
    }
    assert_string_equal(cn, "localhost");
    /* the reload takes the file names of the running configuration, which it may change */
    harness_reload(h, renamed_files);
    new_conn_cn(h, cn, sizeof cn);
    assert_string_equal(cn, "alt.test");
    reload_expect(h, 200, "\"generation\":5", "alt.test");
    tc_heartbeat(&old, 2);
    tc_close(&old);
    harness_stop(h);
}

static void test_reload_without_tls(void **state)
{
    harness_t *h = harness_start(1, 1);
    char body[1024];
    assert_int_equal(t_http(h->comet->admin_port, "POST", "/tls/reload", body, sizeof body), 409);
    assert_int_equal(t_http(h->comet->admin_port, "GET", "/nothing", body, sizeof body), 404);
    assert_int_equal(h->comet->tls_port, 0);
    assert_true(harness_wait(h, &h->renewals, 1));
    uv_mutex_lock(&h->lock);
    assert_string_equal(h->last_renew_tls, "");
    assert_string_equal(h->last_renew_wss, "");
    uv_mutex_unlock(&h->lock);
    harness_stop(h);
}

/* ----------------------------------------------------------------------- start-up errors */

/* comet_server_new with [tls] changed by tweak must fail naming `want`. */
static void expect_start_error(void (*tweak)(comet_conf_t *), const char *want)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    comet_conf_t conf;
    char err[512];
    assert_int_equal(conf_load(comet_conf_items, &conf, NULL, err, sizeof err), 0);
    set(&conf.tcp_listen, "127.0.0.1:0");
    set(&conf.ws_listen, "127.0.0.1:0");
    set(&conf.rpc_listen, "127.0.0.1:0");
    set(&conf.admin_listen, "127.0.0.1:0");
    set(&conf.logic_addrs, "127.0.0.1:1");
    conf.workers = 1;
    tweak(&conf);
    err[0] = 0;
    assert_null(comet_server_new(&loop, &conf, err, sizeof err));
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' does not name '%s'", err, want);
    conf_free(comet_conf_items, &conf);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void no_cert(comet_conf_t *conf)
{
    set(&conf->wss_listen, "127.0.0.1:0");
}

static void missing_file(comet_conf_t *conf)
{
    snprintf(cert_list, sizeof cert_list, "/nonexistent/herald.pem");
    snprintf(key_list, sizeof key_list, "/nonexistent/herald.key");
    tls_on(conf);
}

static void unequal_lists(comet_conf_t *conf)
{
    tls_default(conf);
    char b[512];
    set(&conf->tls_key, test_pki_path(b, sizeof b, "server.key"));
}

static void test_start_errors(void **state)
{
    expect_start_error(no_cert, "tls.cert: required");
    expect_start_error(missing_file, "/nonexistent/herald.pem");
    expect_start_error(unequal_lists, "tls.cert lists 2 files but tls.key 1");
}

int main(void)
{
    test_pki_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls13_auth_push_room),
        cmocka_unit_test(test_tls12_and_resumption),
        cmocka_unit_test(test_detached_records),
        cmocka_unit_test(test_sni_and_host_check),
        cmocka_unit_test(test_wrong_host_refused),
        cmocka_unit_test(test_wss_auth_push),
        cmocka_unit_test(test_garbage_closes_only_that_connection),
        cmocka_unit_test(test_stalled_handshake_cut_by_auth_deadline),
        cmocka_unit_test(test_slow_reader_kicked),
        cmocka_unit_test(test_reload_keeps_connections),
        cmocka_unit_test(test_reload_without_tls),
        cmocka_unit_test(test_start_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_pki_cleanup();
    return rc;
}
