/* Unit tests of the internal RPC over mutual TLS (rpc_configure_tls, rpc_tls.c, tls_pipe.c,
 * tls_client.c, tls_server.c's client_ca): a real server and client on 127.0.0.1 in one loop,
 * certificates made at run time (test_pki.h), and `openssl s_client` as a stranger. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc.h"
#include "rpc_methods.h"
#include "test_pki.h"
#include "test_support.h"

static uv_loop_t loop;

typedef struct fixture_s {
    rpc_server_t *server;
    rpc_client_t *client;
    int port;
    int handled;
} fixture_t;

static fixture_t fx;

/* ------------------------------------------------------------------------ configuration */

/* Configures the RPC of this process: the secret, a short handshake deadline, and TLS with
 * <cert>.pem / <cert>.key trusting <ca>.pem (cert NULL: clear). */
static void use_tls(const char *cert, const char *ca, const char *verify_name)
{
    char c[512], k[512], a[512], name[64], err[512];

    assert_int_equal(rpc_configure(&(rpc_settings_t){.secret = TEST_RPC_SECRET,
                                                     .secret_len = sizeof(TEST_RPC_SECRET) - 1,
                                                     .handshake_timeout_ms = 400}),
                     0);
    if (cert == NULL) {
        assert_int_equal(rpc_configure_tls(NULL, err, sizeof(err)), 0);
        return;
    }
    snprintf(name, sizeof(name), "%s.pem", cert);
    test_pki_path(c, sizeof(c), name);
    snprintf(name, sizeof(name), "%s.key", cert);
    test_pki_path(k, sizeof(k), name);
    snprintf(name, sizeof(name), "%s.pem", ca);
    test_pki_path(a, sizeof(a), name);
    int rc = rpc_configure_tls(
        &(rpc_tls_conf_t){.cert = c, .key = k, .ca = a, .verify_name = verify_name}, err,
        sizeof(err));
    if (rc != 0)
        fail_msg("rpc_configure_tls: %s", err);
}

/* ---------------------------------------------------------------------------- the server */

static void on_count(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    Herald__CountReply reply = HERALD__COUNT_REPLY__INIT;

    (void)msg, (void)arg;
    fx.handled++;
    reply.users = fx.handled;
    reply.conns = 42;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

/* Answers every mid asked with a placement whose key is long: a big request and a bigger reply,
 * each over many TLS records. */
static void on_get(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    const Herald__GetReq *req = (const Herald__GetReq *)msg;
    Herald__GetReply reply = HERALD__GET_REPLY__INIT;
    Herald__Placement *pl = calloc(req->n_mids + 1, sizeof(*pl));
    Herald__Placement **pp = calloc(req->n_mids + 1, sizeof(*pp));
    char key[40];

    (void)arg;
    fx.handled++;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    for (size_t i = 0; i < req->n_mids; i++) {
        herald__placement__init(&pl[i]);
        pl[i].mid = req->mids[i];
        pl[i].key = key;
        pl[i].server = "comet-1";
        pp[i] = &pl[i];
    }
    reply.n_placements = req->n_mids;
    reply.placements = pp;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
    free(pl);
    free(pp);
}

static const rpc_method_t methods[] = {
    {RPC_ROUTER_COUNT, &herald__count_req__descriptor, on_count},
    {RPC_ROUTER_GET, &herald__get_req__descriptor, on_get},
};

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int flag_set(void *arg)
{
    return *(int *)arg != 0;
}

static int connected(void *arg)
{
    return rpc_client_connected(arg);
}

static rpc_server_t *server_start(void)
{
    rpc_server_t *s = rpc_server_new(&loop, methods, 2, &fx);

    assert_int_equal(rpc_server_listen(s, "127.0.0.1", 0), 0);
    return s;
}

static void server_close(rpc_server_t *s)
{
    int closed = 0;

    rpc_server_close(s, on_closed, &closed);
    assert_true(test_run_until(&loop, flag_set, &closed, 2000));
}

static void client_close(rpc_client_t *c)
{
    int closed = 0;

    rpc_client_close(c, on_closed, &closed);
    assert_true(test_run_until(&loop, flag_set, &closed, 2000));
}

static rpc_server_stats_t stats(rpc_server_t *s)
{
    rpc_server_stats_t st;

    rpc_server_stats(s, &st);
    return st;
}

/* Both ends with the cluster's certificate (peer.pem, signed by ca.pem). */
static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    log_init("test_rpc_tls", LOG_INFO);
    assert_int_equal(uv_loop_init(&loop), 0);
    use_tls("peer", "ca", NULL);
    fx.server = server_start();
    fx.port = rpc_server_port(fx.server);
    fx.client = rpc_client_new(&loop, "tls 127.0.0.1", "127.0.0.1", fx.port);
    assert_true(test_run_until(&loop, connected, fx.client, 3000));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    client_close(fx.client);
    server_close(fx.server);
    test_finish_loop(&loop);
    return 0;
}

/* ---------------------------------------------------------------------------- the calls */

typedef struct result_s {
    int calls;
    int status;
    size_t n;
    int64_t conns;
} result_t;

static void on_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    result_t *r = arg;

    r->calls++;
    r->status = status;
    if (status == 0 && msg->descriptor == &herald__count_reply__descriptor)
        r->conns = ((const Herald__CountReply *)msg)->conns;
    if (status == 0 && msg->descriptor == &herald__get_reply__descriptor)
        r->n = ((const Herald__GetReply *)msg)->n_placements;
}

static int called(void *arg)
{
    return ((result_t *)arg)->calls != 0;
}

/* A Count call on c; asserts that it is answered. */
static void count_works(rpc_client_t *c)
{
    Herald__CountReq req = HERALD__COUNT_REQ__INIT;
    result_t r = {0};

    assert_int_equal(rpc_client_call(c, RPC_ROUTER_COUNT, (const ProtobufCMessage *)&req,
                                     &herald__count_reply__descriptor, 2000, on_reply, &r),
                     0);
    assert_true(test_run_until(&loop, called, &r, 3000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.conns, 42);
}

/* A client configured now (the current rpc_configure_tls) tries for ms and must not connect. */
static void client_refused(int port, uint64_t ms)
{
    rpc_client_t *c = rpc_client_new(&loop, "refused", "127.0.0.1", port);

    assert_false(test_run_until(&loop, connected, c, ms));
    client_close(c);
}

/* ---------------------------------------------------------------- openssl s_client, raw */

static void on_exit_proc(uv_process_t *p, int64_t status, int sig)
{
    (void)status, (void)sig;
    *(int *)p->data = 1;
}

/* Runs `openssl s_client` with extra arguments against port until it exits (the server closes
 * the connection: -ign_eof keeps it reading until then) and returns its output (free it). */
static char *s_client(int port, const char *const *extra)
{
    char addr[32], ca[512], out_path[] = "/tmp/herald-sclient-XXXXXX";
    const char *args[24] = {"openssl", "s_client", "-connect", addr, "-CAfile", ca, "-ign_eof"};
    int n = 7, exited = 0, fd = mkstemp(out_path);
    uv_process_t proc;
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE}};

    assert_true(fd >= 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    test_pki_path(ca, sizeof(ca), "ca.pem");
    for (; extra != NULL && *extra != NULL && n < 23; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
    stdio[1].data.fd = stdio[2].data.fd = fd;
    uv_process_options_t opts = {.file = "openssl",
                                 .args = (char **)args,
                                 .stdio = stdio,
                                 .stdio_count = 3,
                                 .exit_cb = on_exit_proc};
    proc.data = &exited;
    assert_int_equal(uv_spawn(&loop, &proc, &opts), 0);
    assert_true(test_run_until(&loop, flag_set, &exited, 10000));
    uv_close((uv_handle_t *)&proc, NULL);
    uv_run(&loop, UV_RUN_NOWAIT); /* proc is on this stack: its close must finish here */
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    unlink(out_path);
    return text;
}

/* A raw TCP connection that sends bytes and records whether the server closed it. */
typedef struct raw_s {
    uv_tcp_t tcp;
    uv_connect_t req;
    uv_write_t wreq;
    uv_buf_t out;
    char in[4096];
    size_t nin;
    int eof;
} raw_t;

static void raw_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    raw_t *r = h->data;

    (void)n;
    *b = uv_buf_init(r->in + r->nin % sizeof(r->in),
                     (unsigned)(sizeof(r->in) - r->nin % sizeof(r->in)));
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    raw_t *r = s->data;

    (void)b;
    if (n < 0)
        r->eof = 1;
    else
        r->nin += (size_t)n;
}

static void raw_connected(uv_connect_t *req, int status)
{
    raw_t *r = req->data;

    assert_int_equal(status, 0);
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
    assert_int_equal(uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &r->out, 1, NULL), 0);
}

/* Connects to port, sends len bytes of data (kept by the caller) and waits for the close. */
static void raw_send_until_closed(int port, const void *data, size_t len)
{
    raw_t r;
    struct sockaddr_in sa;

    memset(&r, 0, sizeof(r));
    r.out = uv_buf_init((char *)data, (unsigned)len);
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(&loop, &r.tcp);
    r.tcp.data = &r;
    r.req.data = &r;
    assert_int_equal(uv_tcp_connect(&r.req, &r.tcp, (struct sockaddr *)&sa, raw_connected), 0);
    assert_true(test_run_until(&loop, flag_set, &r.eof, 3000));
    uv_close((uv_handle_t *)&r.tcp, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* ---------------------------------------------------------------------------------- tests */

/* Calls work both ways over mutual TLS, also a request and a reply of many records. */
static void test_call_over_mtls(void **state)
{
    Herald__GetReq req = HERALD__GET_REQ__INIT;
    result_t r = {0};
    size_t n = 20000;
    int64_t *mids = calloc(n, sizeof(*mids));

    (void)state;
    count_works(fx.client);
    for (size_t i = 0; i < n; i++)
        mids[i] = (int64_t)(1000000000000 + i);
    req.n_mids = n;
    req.mids = mids;
    assert_int_equal(rpc_client_call(fx.client, RPC_ROUTER_GET, (const ProtobufCMessage *)&req,
                                     &herald__get_reply__descriptor, 5000, on_reply, &r),
                     0);
    free(mids);
    assert_true(test_run_until(&loop, called, &r, 5000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n, n);
    rpc_server_stats_t st = stats(fx.server);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.tls_failed, 0);
    assert_int_equal(st.auth_failed, 0);
}

static int all_called(void *arg)
{
    result_t *r = arg;

    for (int i = 0; i < 500; i++)
        if (r[i].calls == 0)
            return 0;
    return 1;
}

/* 500 calls started in one go: the writer encrypts its queue as one stream (frames share
 * records) and every call gets its own reply. */
static void test_pipelined_over_mtls(void **state)
{
    static result_t r[500];
    Herald__CountReq req = HERALD__COUNT_REQ__INIT;

    (void)state;
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 500; i++)
        assert_int_equal(rpc_client_call(fx.client, RPC_ROUTER_COUNT,
                                         (const ProtobufCMessage *)&req,
                                         &herald__count_reply__descriptor, 5000, on_reply, &r[i]),
                         0);
    assert_true(test_run_until(&loop, all_called, r, 5000));
    for (int i = 0; i < 500; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, 0);
        assert_int_equal(r[i].conns, 42);
    }
    assert_int_equal(fx.handled, 500);
}

/* The server goes away and comes back on the same port: the client's next connection is a new
 * TLS session (its old TLS state was freed with the socket) and calls work again. */
static void test_reconnect_over_mtls(void **state)
{
    (void)state;
    count_works(fx.client);
    server_close(fx.server);
    assert_false(test_run_until(&loop, connected, fx.client, 300));
    fx.server = rpc_server_new(&loop, methods, 2, &fx);
    assert_int_equal(rpc_server_listen(fx.server, "127.0.0.1", fx.port), 0);
    assert_true(test_run_until(&loop, connected, fx.client, 6000));
    count_works(fx.client);
    assert_int_equal(stats(fx.server).accepted, 1);
    assert_int_equal(stats(fx.server).tls_failed, 0);
}

/* openssl s_client with the cluster's certificate: TLS 1.3, the server asks for a certificate
 * naming the cluster's CA, and the cluster-secret CHALLENGE comes inside TLS; so with TLS 1.2,
 * not with 1.1. Without a certificate: refused in the handshake, counted, nothing handled. */
static void test_s_client_with_and_without_cert(void **state)
{
    char cert[512], key[512];
    const char *with[] = {"-cert", test_pki_path(cert, sizeof(cert), "peer.pem"), "-key",
                          test_pki_path(key, sizeof(key), "peer.key"), NULL};
    char *out;

    (void)state;
    out = s_client(fx.port, with);
    assert_non_null(strstr(out, "TLSv1.3"));
    assert_non_null(strstr(out, "Acceptable client certificate CA names"));
    assert_non_null(strstr(out, "herald test CA"));
    assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
    assert_non_null(strstr(out, "HRA1")); /* the CHALLENGE, decrypted by s_client */
    free(out);
    assert_int_equal(stats(fx.server).tls_failed, 0);

    /* TLS 1.2 (ECDHE, AEAD) works too; TLS 1.1 does not. */
    const char *with12[] = {"-tls1_2", with[0], with[1], with[2], with[3], NULL};
    out = s_client(fx.port, with12);
    assert_non_null(strstr(out, "TLSv1.2"));
    assert_non_null(strstr(out, "HRA1"));
    free(out);
    const char *with11[] = {"-tls1_1", with[0], with[1], with[2], with[3], NULL};
    out = s_client(fx.port, with11);
    assert_null(strstr(out, "HRA1"));
    free(out);

    out = s_client(fx.port, NULL);
    assert_non_null(strstr(out, "certificate required"));
    assert_null(strstr(out, "HRA1"));
    free(out);
    assert_int_equal(stats(fx.server).tls_failed, 2); /* TLS 1.1 and no certificate */
    assert_int_equal(fx.handled, 0);
    count_works(fx.client);
}

/* A certificate from another CA is refused by the server (as a client's) and by a client (as a
 * server's): neither connects, the server counts it. */
static void test_wrong_ca_refused(void **state)
{
    rpc_server_t *stranger;

    (void)state;
    use_tls("other-peer", "ca", NULL); /* a stranger's certificate, trusting our CA */
    client_refused(fx.port, 600);
    assert_true(stats(fx.server).tls_failed >= 1);

    stranger = server_start(); /* serves other-peer.pem */
    use_tls("peer", "ca", NULL);
    client_refused(rpc_server_port(stranger), 600);
    server_close(stranger);

    use_tls("peer", "other-ca", NULL); /* our certificate, trusting only the other CA */
    client_refused(fx.port, 600);
    use_tls("peer", "ca", NULL);
    assert_int_equal(fx.handled, 0);
    count_works(fx.client);
}

/* A plain client to a TLS server waits for a CHALLENGE that never comes and is closed by the
 * handshake deadline; a TLS client to a plain server fails on the CHALLENGE in clear. */
static void test_plain_and_tls_mismatch_refused(void **state)
{
    rpc_server_t *plain;

    (void)state;
    use_tls(NULL, NULL, NULL);
    client_refused(fx.port, 1000);
    /* Whichever deadline comes first: the client's (it closes) or the server's. */
    assert_true(stats(fx.server).auth_timeout + stats(fx.server).auth_failed >= 1);
    assert_int_equal(stats(fx.server).tls_failed, 0);

    plain = server_start();
    use_tls("peer", "ca", NULL);
    client_refused(rpc_server_port(plain), 600);
    assert_true(stats(plain).auth_failed >= 1);
    assert_int_equal(stats(plain).accepted, stats(plain).auth_failed);
    server_close(plain);
    assert_int_equal(fx.handled, 0);
}

/* Garbage instead of a ClientHello: that connection is closed and counted, the server keeps
 * serving the authenticated client and accepts new ones. */
static void test_garbage_refused_server_serves_on(void **state)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    static uint8_t junk[3000];
    rpc_client_t *c;

    (void)state;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    raw_send_until_closed(fx.port, http, sizeof(http) - 1);
    raw_send_until_closed(fx.port, junk, sizeof(junk));
    /* A TLS record header announcing a ClientHello, then nonsense. */
    raw_send_until_closed(fx.port, "\x16\x03\x01\x00\x10\x01\x00\x00\x0cxxxxxxxxxxxx", 21);
    assert_int_equal(stats(fx.server).tls_failed, 3);
    count_works(fx.client);
    c = rpc_client_new(&loop, "second", "127.0.0.1", fx.port);
    assert_true(test_run_until(&loop, connected, c, 3000));
    count_works(c);
    client_close(c);
}

/* tls_verify_name: a peer whose certificate names it connects; with a name the certificates do
 * not carry, both ends refuse. */
static void test_verify_name(void **state)
{
    rpc_server_t *named;
    rpc_client_t *c;

    (void)state;
    use_tls("peer", "ca", "herald-rpc");
    named = server_start();
    c = rpc_client_new(&loop, "named", "127.0.0.1", rpc_server_port(named));
    assert_true(test_run_until(&loop, connected, c, 3000));
    count_works(c);
    client_close(c);
    use_tls("peer", "ca", "someone-else.test");
    client_refused(rpc_server_port(named), 600); /* the client refuses the server's name */
    server_close(named);
    named = server_start(); /* wants clients named someone-else.test */
    use_tls("peer", "ca", NULL);
    client_refused(rpc_server_port(named), 600);
    assert_true(stats(named).tls_failed >= 1);
    server_close(named);
    use_tls("peer", "ca", NULL);
}

/* Configuration errors name the key or the file, and change nothing. */
static void test_config_errors(void **state)
{
    char cert[512], key[512], wrong_key[512], ca[512], err[512];

    (void)state;
    test_pki_path(cert, sizeof(cert), "peer.pem");
    test_pki_path(key, sizeof(key), "peer.key");
    test_pki_path(wrong_key, sizeof(wrong_key), "client.key");
    test_pki_path(ca, sizeof(ca), "ca.pem");
    assert_int_equal(
        rpc_configure_tls(&(rpc_tls_conf_t){.cert = cert, .key = key}, err, sizeof(err)),
        HERALD_ECONF);
    assert_non_null(strstr(err, "rpc.tls_ca"));
    assert_int_equal(rpc_configure_tls(&(rpc_tls_conf_t){.ca = ca}, err, sizeof(err)),
                     HERALD_ECONF);
    assert_non_null(strstr(err, "without rpc.tls_cert"));
    assert_int_equal(
        rpc_configure_tls(&(rpc_tls_conf_t){.cert = "/nonexistent/x.pem", .key = key, .ca = ca},
                          err, sizeof(err)),
        HERALD_ECONF);
    assert_non_null(strstr(err, "/nonexistent/x.pem"));
    assert_int_equal(rpc_configure_tls(&(rpc_tls_conf_t){.cert = cert, .key = wrong_key, .ca = ca},
                                       err, sizeof(err)),
                     HERALD_ECONF);
    assert_non_null(strstr(err, "client.key")); /* OpenSSL: "key values mismatch" */
    assert_non_null(strstr(err, "mismatch"));
    assert_int_equal(
        rpc_configure_tls(&(rpc_tls_conf_t){.cert = cert, .key = key, .ca = "/nonexistent/ca.pem"},
                          err, sizeof(err)),
        HERALD_ECONF);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    /* The TLS settings of before are still in force. */
    rpc_client_t *c = rpc_client_new(&loop, "after errors", "127.0.0.1", fx.port);
    assert_true(test_run_until(&loop, connected, c, 3000));
    client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_over_mtls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_over_mtls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_over_mtls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_s_client_with_and_without_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_ca_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_and_tls_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_refused_server_serves_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    test_pki_cleanup();
    return rc;
}
