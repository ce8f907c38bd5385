/* test_tls.c - comet's TLS ports end to end, with real processes: a cluster whose comet also
 * listens with TLS (cluster_opts_t.comet_tls_pki: TCP inside TLS and WebSocket inside TLS, the test
 * PKI's server.chain.pem), reached by the client library's CLIENT_TLS and CLIENT_WSS trusting
 * the test CA. Clients authenticate and get pushes by user, key, room and broadcast; a client
 * that checks another host name, or trusts another CA, refuses the comet; `openssl s_client`
 * negotiates TLS 1.3 on both ports and verifies the chain; `herald-cli listen --tls` (and
 * `--tls --ws`) receives a room push; `herald-cli chat --tls` reaches the login reply's TLS
 * address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "test_pki.h"

#define OP_BIZ 1000
#define PUSH_WAIT_MS 5000
#define SILENCE_MS 500
#define ROOM_WAIT_MS 10000

static cluster_t *g_c;

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1, .comet_tls_pki = test_pki_dir()};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static void test_auth_and_pushes(void **state)
{
    (void)state;
    char *k_tls = NULL, *k_wss = NULL;
    client_t *tls = cluster_user(g_c, 0, CLIENT_TLS, 701, "live://tls", OP_BIZ, &k_tls);
    client_t *wss = cluster_user(g_c, 0, CLIENT_WSS, 701, "live://tls", OP_BIZ, &k_wss);
    client_t *other = cluster_user(g_c, 0, CLIENT_TLS, 702, NULL, OP_BIZ, NULL);
    /* Two connections of one user are two placements: distinct keys. */
    assert_string_not_equal(k_tls, k_wss);

    int64_t mid = 701;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "to-user");
    cluster_expect_packet(tls, "tls", OP_BIZ, 1, "to-user", PUSH_WAIT_MS);
    cluster_expect_packet(wss, "wss", OP_BIZ, 1, "to-user", PUSH_WAIT_MS);

    cluster_push_key(g_c, OP_BIZ, k_wss, "to-wss-key");
    cluster_expect_packet(wss, "wss", OP_BIZ, CLUSTER_ANY_SEQ, "to-wss-key", PUSH_WAIT_MS);
    cluster_push_key(g_c, OP_BIZ, k_tls, "to-tls-key");
    /* The first thing tls gets after the user push is its own key's: wss's never reached it. */
    cluster_expect_packet(tls, "tls", OP_BIZ, CLUSTER_ANY_SEQ, "to-tls-key", PUSH_WAIT_MS);

    cluster_wait_room(g_c, "live://tls", 2, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://tls", "to-room");
    cluster_expect_packet(tls, "tls", OP_BIZ, 0, "to-room", PUSH_WAIT_MS);
    cluster_expect_packet(wss, "wss", OP_BIZ, 0, "to-room", PUSH_WAIT_MS);

    cluster_push_all(g_c, OP_BIZ, "to-all");
    cluster_expect_packet(tls, "tls", OP_BIZ, 0, "to-all", PUSH_WAIT_MS);
    cluster_expect_packet(wss, "wss", OP_BIZ, 0, "to-all", PUSH_WAIT_MS);
    /* other is in no room and is not user 701: the broadcast is the first thing it gets. */
    cluster_expect_packet(other, "other", OP_BIZ, 0, "to-all", PUSH_WAIT_MS);

    cluster_expect_silence(tls, "tls", SILENCE_MS);
    cluster_expect_silence(wss, "wss", 0);
    cluster_expect_silence(other, "other", 0);
    free(k_tls);
    free(k_wss);
    client_free(tls);
    client_free(wss);
    client_free(other);
}

/* Connecting to the comet's TLS port t with these options fails with want in the message. */
static void expect_refused(client_transport_t t, const char *ca_name, const char *server_name,
                           const char *want)
{
    char ca[512];
    client_tls_t opts = {.ca_file = test_pki_path(ca, sizeof(ca), ca_name),
                         .server_name = server_name};
    char err[512] = "";
    client_t *cl = client_connect_tls(t, "127.0.0.1", cluster_comet_port(g_c, 0, t), &opts, 3000,
                                      err, sizeof(err));
    if (cl != NULL || strstr(err, want) == NULL)
        fail_msg("%s with CA %s, name %s: want \"%s\", got %s \"%s\"", cluster_transport_name(t),
                 ca_name, server_name ? server_name : "(host)", want, cl ? "a connection" : "",
                 err);
}

static void test_wrong_host_or_ca_refused(void **state)
{
    (void)state;
    const client_transport_t ts[] = {CLIENT_TLS, CLIENT_WSS};
    for (int i = 0; i < 2; i++) {
        expect_refused(ts[i], "ca.pem", "wrong.test",
                       "host name mismatch: the certificate is not for wrong.test");
        expect_refused(ts[i], "other-ca.pem", NULL, "certificate verify failed");
    }
    /* The comet's certificate also names localhost. */
    char ca[512], err[512] = "";
    client_tls_t opts = {.ca_file = test_pki_path(ca, sizeof(ca), "ca.pem")};
    client_t *cl =
        client_connect_tls(CLIENT_TLS, "localhost", cluster_comet_port(g_c, 0, CLIENT_TLS), &opts,
                           3000, err, sizeof(err));
    if (cl == NULL)
        fail_msg("localhost: %s", err);
    client_free(cl);
}

/* Runs cmd in a shell; returns its exit status and what it printed (stdout), NUL-terminated. */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t len = 0, n;
    while (len + 1 < cap && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
        len += n;
    out[len] = '\0';
    return pclose(f);
}

/* Runs `openssl s_client` against port; out gets what it printed. */
static void s_client(int port, char *out, size_t cap)
{
    char ca[512], cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile %s -verify_ip 127.0.0.1 "
             "-verify_return_error -brief </dev/null 2>&1",
             port, test_pki_path(ca, sizeof(ca), "ca.pem"));
    run_cmd(cmd, out, cap);
}

static void test_s_client_tls13(void **state)
{
    (void)state;
    const client_transport_t ts[] = {CLIENT_TLS, CLIENT_WSS};
    for (int i = 0; i < 2; i++) {
        char out[16384];
        s_client(cluster_comet_port(g_c, 0, ts[i]), out, sizeof(out));
        if (strstr(out, "Protocol version: TLSv1.3") == NULL ||
            strstr(out, "Verification: OK") == NULL)
            fail_msg("s_client on the %s port: %s", cluster_transport_name(ts[i]), out);
    }
}

/* herald-cli listen --tls (and --ws --tls) as a subprocess: each prints the room push. */
static void test_cli_listen_tls(void **state)
{
    (void)state;
    char ca[512];
    test_pki_path(ca, sizeof(ca), "ca.pem");
    const char *modes[] = {"--tls", "--tls --ws"};
    const client_transport_t ts[] = {CLIENT_TLS, CLIENT_WSS};
    FILE *cli[2];
    for (int i = 0; i < 2; i++) {
        char *token = cluster_issue_token(g_c, 710 + i);
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                 "%s/herald-cli listen %s --ca %s --servername localhost --comet "
                 "127.0.0.1:%d "
                 "--token %s --room live://tls-cli --count 1 --timeout-ms 20000 2>&1",
                 HERALD_BIN_DIR, modes[i], ca, cluster_comet_port(g_c, 0, ts[i]), token);
        free(token);
        cli[i] = popen(cmd, "r");
        assert_non_null(cli[i]);
    }
    cluster_wait_room(g_c, "live://tls-cli", 2, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://tls-cli", "cli-push");
    for (int i = 0; i < 2; i++) {
        char line[512] = "";
        char *got = fgets(line, sizeof(line), cli[i]);
        int status = pclose(cli[i]);
        if (got == NULL || strcmp(line, "op=1000 seq=0 body=cli-push\n") != 0 || status != 0)
            fail_msg("herald-cli listen %s: status %d, printed \"%s\"", modes[i], status, line);
    }
}

/* herald-cli chat --tls: logs in, dials the "tls" address of the login reply's comet (the
 * certificate checked for 127.0.0.1) and quits on ":q". */
static void test_chat_tls(void **state)
{
    (void)state;
    char ca[512], cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "printf ':q\\n' | HERALD_PASSWORD=%s timeout 20 %s/herald-cli chat --tls --ca %s "
             "--logic 127.0.0.1:%d --name tlschat 2>&1",
             CLUSTER_PASSWORD, HERALD_BIN_DIR, test_pki_path(ca, sizeof(ca), "ca.pem"),
             cluster_logic_http_port(g_c));
    char out[4096];
    int status = run_cmd(cmd, out, sizeof(out));
    char want[128];
    snprintf(want, sizeof(want), "connected to 127.0.0.1:%d",
             cluster_comet_port(g_c, 0, CLIENT_TLS));
    if (status != 0 || strstr(out, want) == NULL)
        fail_msg("chat --tls: status %d, want \"%s\", printed: %s", status, want, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_and_pushes), cmocka_unit_test(test_wrong_host_or_ca_refused),
        cmocka_unit_test(test_s_client_tls13),  cmocka_unit_test(test_cli_listen_tls),
        cmocka_unit_test(test_chat_tls),
    };
    int failed = cmocka_run_group_tests_name("tls", tests, group_setup, NULL);
    if (cluster_stop(g_c, failed != 0) != 0)
        failed++;
    test_pki_cleanup();
    return failed ? 1 : 0;
}
