/* test_https.c - logic's API and the admin ports over HTTPS with real processes
 * (docs/security.md, "HTTPS for logic's API and the admin ports"): logic with [http]
 * tls_cert/tls_key (the test PKI's chain) and a bearer key; comet and router with [admin]
 * tls_cert/tls_key. An HTTPS push through `curl --cacert` answers 200 and reaches a connected
 * client; without the key it is 401; plain HTTP to the HTTPS port is not served; `openssl
 * s_client` shows TLS 1.3 on each HTTPS port; the admin pages answer over HTTPS; a bad
 * certificate or key is a start-up error naming the key and the file, and -t reads the files.
 *
 * Everything the harness sends to logic (token issue, readiness) goes over HTTPS too
 * (cluster_opts_t.logic_https_pki). job's admin port stays plain: the harness reads its
 * /metrics to know when the cluster is ready.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cluster.h"
#include "test_pki.h"

#define KEY "https-bearer-key-0123456789"
#define OP_BIZ 1000
#define WAIT_MS 5000

static cluster_t *g_c;
static char g_admin_env[2][600];

static int group_setup(void **state)
{
    (void)state;
    const char *pki = test_pki_dir();
    snprintf(g_admin_env[0], sizeof(g_admin_env[0]), "HERALD_ADMIN_TLS_CERT=%s/server.chain.pem",
             pki);
    snprintf(g_admin_env[1], sizeof(g_admin_env[1]), "HERALD_ADMIN_TLS_KEY=%s/server.key", pki);
    static const char *admin_env[3];
    admin_env[0] = g_admin_env[0];
    admin_env[1] = g_admin_env[1];
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1, .bearer_key = KEY, .logic_https_pki = pki};
    o.env[CLUSTER_COMET] = admin_env;
    o.env[CLUSTER_ROUTER] = admin_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = cluster_stop(g_c, false);
    test_pki_cleanup();
    return rc == 0 ? 0 : -1;
}

/* Runs a shell command; returns its exit status and its output (stdout and stderr) in out. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
    va_end(ap);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, " 2>&1");
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t got = fread(out, 1, cap - 1, f);
    out[got] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* curl --cacert <pki>/ca.pem against https://127.0.0.1:port<path>; out gets the body and then
 * " status=<code>". Returns curl's exit status. */
static int curl_https(int port, const char *method, const char *path, const char *auth,
                      const char *body, char *out, size_t cap)
{
    char ca[256];
    return run(out, cap,
               "curl -sS --max-time 5 --cacert %s %s%s%s -X %s -w ' status=%%{http_code}' "
               "%s%s%s 'https://127.0.0.1:%d%s'",
               test_pki_path(ca, sizeof(ca), "ca.pem"), auth ? "-H 'Authorization: Bearer " : "",
               auth ? auth : "", auth ? "'" : "", method, body ? "--data-binary '" : "",
               body ? body : "", body ? "'" : "", port, path);
}

/* An HTTPS push with the bearer key through curl reaches the client; without it, 401. */
static void test_https_push(void **state)
{
    (void)state;
    char out[4096];
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 8801, NULL, OP_BIZ, NULL);
    int port = cluster_logic_http_port(g_c);

    assert_int_equal(curl_https(port, "POST", "/goim/push/mids?operation=1000&mids=8801", KEY,
                                "hello over https", out, sizeof(out)),
                     0);
    if (strstr(out, "status=200") == NULL || strstr(out, "\"code\":0") == NULL)
        fail_msg("push over https: %s", out);
    cluster_expect_packet(cl, "https client", OP_BIZ, CLUSTER_ANY_SEQ, "hello over https", WAIT_MS);

    assert_int_equal(curl_https(port, "POST", "/goim/push/mids?operation=1000&mids=8801", NULL,
                                "no key", out, sizeof(out)),
                     0);
    if (strstr(out, "status=401") == NULL)
        fail_msg("push without the key: %s", out);
    cluster_expect_silence(cl, "https client", 300);
    client_free(cl);
}

/* Plain HTTP to logic's HTTPS port gets no HTTP answer; the port keeps serving HTTPS. */
static void test_plain_http_refused(void **state)
{
    (void)state;
    char out[4096];
    int port = cluster_logic_http_port(g_c);

    int rc =
        run(out, sizeof(out),
            "curl -sS --max-time 5 -w ' status=%%{http_code}' 'http://127.0.0.1:%d/health'", port);
    assert_int_not_equal(rc, 0);
    assert_null(strstr(out, "\"code\""));
    assert_int_equal(curl_https(port, "GET", "/health", NULL, NULL, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "status=200"));
}

/* openssl s_client negotiates TLS 1.3 on logic's API port and on the comet and router admin
 * ports, verifying the chain against the test CA. */
static void test_tls13_everywhere(void **state)
{
    (void)state;
    char out[8192], ca[256];
    const struct {
        const char *what;
        int port;
    } ports[] = {
        {"logic http", cluster_logic_http_port(g_c)},
        {"comet admin", cluster_comet_admin_port(g_c, 0)},
        {"router admin", cluster_router_admin_port(g_c, 0)},
    };

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        int rc = run(out, sizeof(out),
                     "openssl s_client -connect 127.0.0.1:%d -brief -CAfile %s "
                     "-verify_return_error </dev/null",
                     ports[i].port, test_pki_path(ca, sizeof(ca), "ca.pem"));
        if (rc != 0 || strstr(out, "Protocol version: TLSv1.3") == NULL)
            fail_msg("%s: s_client exit %d: %s", ports[i].what, rc, out);
    }
}

/* The admin pages answer over HTTPS. */
static void test_admin_https(void **state)
{
    (void)state;
    char out[8192];

    assert_int_equal(curl_https(cluster_comet_admin_port(g_c, 0), "GET", "/health", NULL, NULL, out,
                                sizeof(out)),
                     0);
    if (strstr(out, "status=200") == NULL || strstr(out, "\"code\":0") == NULL)
        fail_msg("comet /health over https: %s", out);
    assert_int_equal(curl_https(cluster_router_admin_port(g_c, 0), "GET", "/metrics", NULL, NULL,
                                out, sizeof(out)),
                     0);
    if (strstr(out, "status=200") == NULL || strstr(out, "rpc_accepted") == NULL)
        fail_msg("router /metrics over https: %s", out);
}

/* A certificate or key that cannot be used stops the daemon at start, naming key and file,
 * never printing the key. */
/* herald-cli token against the https:// API: with --ca it gets a token that authenticates a
 * client; without --ca (the system store does not know the test CA) it fails, and says why. */
static void test_cli_token_https(void **state)
{
    (void)state;
    char logic[64], ca[400], cmd[1200], token[128] = "";
    snprintf(logic, sizeof(logic), "https://127.0.0.1:%d", cluster_logic_http_port(g_c));
    snprintf(ca, sizeof(ca), "%s/ca.pem", test_pki_dir());
    snprintf(cmd, sizeof(cmd), "%s/herald-cli token --logic %s --ca '%s' --bearer %s --mid 8802",
             HERALD_BIN_DIR, logic, ca, KEY);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    if (fgets(token, sizeof(token), f) == NULL)
        token[0] = '\0';
    assert_int_equal(pclose(f), 0);
    token[strcspn(token, "\n")] = '\0';
    assert_int_equal(strlen(token), 32);
    int accepts[] = {OP_BIZ};
    char *auth = cluster_auth_body(token, NULL, accepts, 1);
    char err[256] = "";
    json_t *reply = NULL;
    client_t *cl = cluster_connect(g_c, 0, CLIENT_TCP, auth, &reply, err, sizeof(err));
    if (cl == NULL)
        fail_msg("the CLI's token did not authenticate: %s", err);
    assert_int_equal(json_integer_value(json_object_get(reply, "mid")), 8802);
    json_decref(reply);
    client_free(cl);
    free(auth);

    snprintf(cmd, sizeof(cmd), "%s/herald-cli token --logic %s --bearer %s --mid 8802 2>&1",
             HERALD_BIN_DIR, logic, KEY);
    f = popen(cmd, "r");
    assert_non_null(f);
    char out[1024] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    assert_int_not_equal(pclose(f), 0);
    if (strstr(out, "certificate") == NULL && strstr(out, "SSL") == NULL)
        fail_msg("no certificate error: %s", out);
}

static void test_bad_files_refused(void **state)
{
    (void)state;
    char cert[300], key[300], wrong_key[300], missing[300];
    const char *pki = test_pki_dir();
    snprintf(cert, sizeof(cert), "HERALD_HTTP_TLS_CERT=%s/server.pem", pki);
    snprintf(key, sizeof(key), "HERALD_HTTP_TLS_KEY=%s/server.key", pki);
    snprintf(wrong_key, sizeof(wrong_key), "HERALD_HTTP_TLS_KEY=%s/alt.key", pki);
    snprintf(missing, sizeof(missing), "HERALD_HTTP_TLS_CERT=%s/missing.pem", pki);

    const char *no_key[] = {cert, "HERALD_HTTP_LISTEN=127.0.0.1:0", "HERALD_RPC_LISTEN=127.0.0.1:0",
                            NULL};
    cluster_expect_start_refused(g_c, "herald-logic", no_key,
                                 "[http] tls_cert is set without tls_key", NULL, WAIT_MS);
    const char *no_file[] = {missing, key, "HERALD_HTTP_LISTEN=127.0.0.1:0",
                             "HERALD_RPC_LISTEN=127.0.0.1:0", NULL};
    cluster_expect_start_refused(g_c, "herald-logic", no_file, "missing.pem: cannot open",
                                 "PRIVATE KEY", WAIT_MS);
    const char *mismatch[] = {cert, wrong_key, "HERALD_HTTP_LISTEN=127.0.0.1:0",
                              "HERALD_RPC_LISTEN=127.0.0.1:0", NULL};
    cluster_expect_start_refused(g_c, "herald-logic", mismatch, "refused by the TLS library",
                                 "PRIVATE KEY", WAIT_MS);
    /* The same keys of [admin] on comet. */
    char admin_cert[300];
    snprintf(admin_cert, sizeof(admin_cert), "HERALD_ADMIN_TLS_CERT=%s/server.pem", pki);
    const char *comet_no_key[] = {admin_cert,
                                  "HERALD_ADMIN_LISTEN=127.0.0.1:0",
                                  "HERALD_TCP_LISTEN=127.0.0.1:0",
                                  "HERALD_WEBSOCKET_LISTEN=127.0.0.1:0",
                                  "HERALD_RPC_LISTEN=127.0.0.1:0",
                                  NULL};
    cluster_expect_start_refused(g_c, "herald-comet", comet_no_key,
                                 "[admin] tls_cert is set without tls_key", NULL, WAIT_MS);

    /* -t reads the files too (nginx -t): a good pair is ok, a missing file is the error. */
    char out[4096];
    int rc = run(out, sizeof(out),
                 "cd %s && env -i HERALD_CLUSTER_SECRET_FILE=%s/secret %s %s %s/herald-logic -t",
                 cluster_dir(g_c), cluster_dir(g_c), cert, key, HERALD_BIN_DIR);
    if (rc != 0 || strstr(out, ": ok") == NULL)
        fail_msg("-t with a good pair: exit %d: %s", rc, out);
    rc = run(out, sizeof(out),
             "cd %s && env -i HERALD_CLUSTER_SECRET_FILE=%s/secret %s %s %s/herald-router -t",
             cluster_dir(g_c), cluster_dir(g_c), admin_cert,
             "HERALD_ADMIN_TLS_KEY=/nonexistent.key", HERALD_BIN_DIR);
    if (rc != 1 || strstr(out, "[admin] tls_key /nonexistent.key: cannot open") == NULL)
        fail_msg("-t with a missing key: exit %d: %s", rc, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_push),        cmocka_unit_test(test_plain_http_refused),
        cmocka_unit_test(test_tls13_everywhere),  cmocka_unit_test(test_admin_https),
        cmocka_unit_test(test_bad_files_refused), cmocka_unit_test(test_cli_token_https),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
