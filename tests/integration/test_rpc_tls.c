/* test_rpc_tls.c - mutual TLS between daemons with real processes: a cluster (router, logic,
 * comet, job) whose every daemon has [rpc] tls_cert / tls_key / tls_ca (cluster_opts_t
 * .rpc_tls_pki, the test PKI's peer certificate). Pushes by user and by room reach a client,
 * which needs comet -> logic (Connect), logic -> router (placements), job -> comet (delivery);
 * rooms/members needs logic -> comet. On each RPC port, `openssl s_client` sees TLS 1.3 and a
 * certificate request; without a certificate, or with one from another CA, it is refused and
 * counted in the daemon's /metrics (rpc_tls_failed), and a plain RPC frame gets no CHALLENGE.
 * The refusal is logged once per address and the cluster secret never appears in a log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "test_pki.h"

#define OP_BIZ 1000
#define PUSH_WAIT_MS 5000
#define ROOM_WAIT_MS 10000

static cluster_t *g_c;

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1, .rpc_tls_pki = test_pki_dir()};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = g_c ? cluster_stop(g_c, false) : 0;
    test_pki_cleanup();
    return rc;
}

/* Every RPC port of the cluster, with the port and path of the same daemon's /metrics. */
typedef struct rpc_door_s {
    const char *who;
    int rpc, metrics;
} rpc_door_t;

static int doors(rpc_door_t out[3])
{
    out[0] = (rpc_door_t){"comet", cluster_rpc_port(g_c, CLUSTER_COMET, 0),
                          cluster_comet_admin_port(g_c, 0)};
    out[1] = (rpc_door_t){"logic", cluster_rpc_port(g_c, CLUSTER_LOGIC, 0),
                          cluster_logic_http_port(g_c)};
    out[2] = (rpc_door_t){"router", cluster_rpc_port(g_c, CLUSTER_ROUTER, 0),
                          cluster_router_admin_port(g_c, 0)};
    return 3;
}

static long long metric(int port, const char *name)
{
    long long v = -1;
    assert_true(cluster_metric(port, "/metrics", name, &v));
    return v;
}

/* Runs `openssl s_client` against port with extra options; out gets what it printed. It reads
 * until the daemon closes (-ign_eof): at the TLS refusal, or at the cluster-secret deadline. */
static void s_client(int port, const char *extra, char *out, size_t cap)
{
    char ca[512], cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "timeout 20 openssl s_client -connect 127.0.0.1:%d -CAfile %s -ign_eof %s "
             "</dev/null 2>&1",
             port, test_pki_path(ca, sizeof(ca), "ca.pem"), extra);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t len = 0, n;
    while (len + 1 < cap && (n = fread(out + len, 1, cap - 1 - len, f)) > 0)
        len += n;
    out[len] = '\0';
    pclose(f);
}

/* Pushes by user and by room reach a client: every RPC link of the push path runs over TLS. */
static void test_pushes_over_mtls(void **state)
{
    (void)state;
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 801, "live://mtls", OP_BIZ, NULL);
    int64_t mid = 801;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "to-user");
    cluster_expect_packet(cl, "tcp", OP_BIZ, 1, "to-user", PUSH_WAIT_MS);
    cluster_wait_room(g_c, "live://mtls", 1, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://mtls", "to-room");
    cluster_expect_packet(cl, "tcp", OP_BIZ, 0, "to-room", PUSH_WAIT_MS);

    /* logic -> comet: rooms/members asks the comet over RPC. */
    json_t *j = NULL;
    assert_int_equal(
        cluster_http(g_c, "GET", "/herald/v1/rooms/members?room=live://mtls", NULL, &j), 200);
    json_t *data = json_object_get(j, "data");
    assert_true(json_is_true(json_object_get(data, "complete")));
    json_t *users = json_object_get(data, "users");
    assert_int_equal(json_array_size(users), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(users, 0), "mid")), 801);
    json_decref(j);
    client_free(cl);

    rpc_door_t d[3];
    for (int i = 0, n = doors(d); i < n; i++)
        assert_int_equal(metric(d[i].metrics, "rpc_tls_failed"), 0);
}

/* The cluster's certificate: TLS 1.3, a certificate request naming the test CA, and the
 * cluster-secret CHALLENGE inside TLS. */
static void test_s_client_sees_tls13_and_certificate_request(void **state)
{
    (void)state;
    char cert[512], key[512], extra[1200];
    snprintf(extra, sizeof(extra), "-cert %s -key %s",
             test_pki_path(cert, sizeof(cert), "peer.pem"),
             test_pki_path(key, sizeof(key), "peer.key"));
    rpc_door_t d[3];
    for (int i = 0, n = doors(d); i < n; i++) {
        static char out[32768];
        s_client(d[i].rpc, extra, out, sizeof(out));
        if (strstr(out, "TLSv1.3") == NULL ||
            strstr(out, "Acceptable client certificate CA names") == NULL ||
            strstr(out, "herald test CA") == NULL ||
            strstr(out, "Verify return code: 0 (ok)") == NULL || strstr(out, "HRA1") == NULL)
            fail_msg("s_client with the cluster's certificate on %s's RPC port:\n%s", d[i].who,
                     out);
    }
}

/* No client certificate, or one from another CA: the handshake fails, the daemon counts it. */
static void test_peer_without_or_with_foreign_cert_refused(void **state)
{
    (void)state;
    char cert[512], key[512], foreign[1200];
    snprintf(foreign, sizeof(foreign), "-cert %s -key %s",
             test_pki_path(cert, sizeof(cert), "other-peer.pem"),
             test_pki_path(key, sizeof(key), "other-peer.key"));
    rpc_door_t d[3];
    for (int i = 0, n = doors(d); i < n; i++) {
        static char out[32768];
        long long failed0 = metric(d[i].metrics, "rpc_tls_failed");
        s_client(d[i].rpc, "", out, sizeof(out));
        if (strstr(out, "certificate required") == NULL || strstr(out, "HRA1") != NULL)
            fail_msg("s_client without a certificate on %s's RPC port:\n%s", d[i].who, out);
        s_client(d[i].rpc, foreign, out, sizeof(out));
        if (strstr(out, "unknown ca") == NULL || strstr(out, "HRA1") != NULL)
            fail_msg("s_client with another CA's certificate on %s's RPC port:\n%s", d[i].who, out);
        assert_true(metric(d[i].metrics, "rpc_tls_failed") >= failed0 + 2);
    }
}

/* A plain RPC peer (a HELLO-less frame, as a daemon without [rpc] tls_* would speak after the
 * CHALLENGE it never gets) is closed without a byte in clear. */
static void test_plain_peer_refused(void **state)
{
    (void)state;
    rpc_door_t d[3];
    for (int i = 0, n = doors(d); i < n; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d[i].rpc)};
        struct timeval tv = {.tv_sec = 10};
        char in[256];
        ssize_t got;
        long long failed0 = metric(d[i].metrics, "rpc_tls_failed");
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        static const char frame[] = "\x00\x00\x00\x08\x01\x30\x00\x00\x00\x00\x00\x01";
        assert_int_equal(send(fd, frame, 12, MSG_NOSIGNAL), 12);
        got = recv(fd, in, sizeof(in), 0);
        close(fd);
        /* At most a TLS alert record, never the CHALLENGE in clear. */
        assert_true(got <= 0 || (in[0] == 0x15 && memcmp(in, "HRA1", 4) != 0));
        assert_true(metric(d[i].metrics, "rpc_tls_failed") >= failed0 + 1);
    }
}

/* Counts the lines of path that match the extended regular expression re. */
static int grep_count(const char *path, const char *re)
{
    char cmd[1400], out[64] = "";
    snprintf(cmd, sizeof(cmd), "grep -c -E -e '%s' '%s'", re, path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    pclose(f);
    return atoi(out);
}

/* Each RPC server logged its refusals from 127.0.0.1 once at warn level (the harness's port
 * probes come first), the rest at debug level with OpenSSL's reason; no log line holds the
 * cluster secret. */
static void test_logs(void **state)
{
    (void)state;
    static const char *const names[] = {"comet-0", "logic", "router-0", "job"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s.log", cluster_dir(g_c), names[i]);
        if (grep_count(path, cluster_secret(g_c)) != 0)
            fail_msg("%s's log holds the cluster secret", names[i]);
        if (i == 3)
            continue; /* job serves no RPC */
        int warned = grep_count(path, "WARN +rpc: 127\\.0\\.0\\.1:[0-9]+: refused");
        int tls = grep_count(path, "rpc: 127\\.0\\.0\\.1:[0-9]+: refused: tls: ");
        if (warned != 1 || tls < 3)
            fail_msg("%s: %d warn-level refusals (want 1), %d TLS refusals (want >= 3)", names[i],
                     warned, tls);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pushes_over_mtls),
        cmocka_unit_test(test_s_client_sees_tls13_and_certificate_request),
        cmocka_unit_test(test_peer_without_or_with_foreign_cert_refused),
        cmocka_unit_test(test_plain_peer_refused),
        cmocka_unit_test(test_logs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
