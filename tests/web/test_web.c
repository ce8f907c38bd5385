/* test_web.c - the web console (web/, served by logic at /web/) on a real cluster:
 *   - logic serves the console's files and nothing else under /web/;
 *   - in Debian's headless Chromium (browser_test.mjs, driven with playwright-core), the page
 *     logs in, receives a push sent with curl, and sends a private and a room message that a
 *     `herald-cli listen` process receives.
 * Exits 77 (ctest: skipped) when /usr/bin/chromium, node >= 18 (Debian 12's own nodejs) or
 * tests/web/node_modules/playwright-core is missing: scripts/install-web-deps.sh installs them.
 * Under CI=true a missing dependency is a failure (exit 1), never a skip: CI must run every test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "test_pki.h"
#include "http_client.h"
#include "proc.h"

#define SKIP_CODE 77
#define CHROMIUM "/usr/bin/chromium"
#define ROOM "live://web"
#define WAIT_MS 10000
#define BROWSER_READY_MS 60000 /* Chromium's first start on a loaded 2-core machine is slow */
#define BROWSER_DONE_MS 60000

extern char **environ;

static cluster_t *g_c;

static const char *const logic_env[] = {"HERALD_HTTP_WEB_ROOT=" HERALD_SOURCE_DIR "/web", NULL};

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = logic_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------ helpers */

/* GET (or another method) on logic's port; returns the status, body in *body (heap). */
static int fetch(const char *method, const char *path, char **body)
{
    char url[1024];
    assert_int_equal(
        http_client_url(url, sizeof(url), "http", "127.0.0.1", cluster_logic_http_port(g_c), path),
        0);
    http_client_req_t req = {.method = method, .url = url, .timeout_ms = WAIT_MS};
    http_client_resp_t resp;
    int rc = http_client_request(NULL, &req, &resp);
    if (rc != 0)
        fail_msg("%s %s: %d (%s)", method, path, rc, resp.error);
    *body = resp.body;
    return resp.status;
}

static void expect_status(const char *method, const char *path, int want, const char *contains)
{
    char *body = NULL;
    int status = fetch(method, path, &body);
    if (status != want || (contains != NULL && strstr(body, contains) == NULL))
        fail_msg("%s %s: status %d, want %d with \"%s\"; body %.200s", method, path, status, want,
                 contains ? contains : "", body);
    free(body);
}

/* The whole file as a heap string ("" when it does not exist yet). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 1 << 16, len = 0, n;
    char *out = calloc(1, cap);
    assert_non_null(out);
    if (f == NULL)
        return out;
    while ((n = fread(out + len, 1, cap - 1 - len, f)) > 0)
        len += n;
    fclose(f);
    return out;
}

static void dump(const char *title, const char *path)
{
    proc_print_tail(title, path, 60);
}

/* Registers name and logs it in: its mid, token and comet TCP address. */
static int64_t login(const char *name, char *token, size_t token_len, char *tcp, size_t tcp_len)
{
    cluster_register_ok(g_c, name);
    json_t *j = NULL;
    assert_int_equal(cluster_login(g_c, name, CLUSTER_PASSWORD, "cli", &j), 200);
    json_t *data = json_object_get(j, "data");
    snprintf(token, token_len, "%s", json_string_value(json_object_get(data, "token")));
    snprintf(tcp, tcp_len, "%s",
             json_string_value(json_object_get(json_object_get(data, "comet"), "tcp")));
    int64_t mid = json_integer_value(json_object_get(data, "mid"));
    json_decref(j);
    assert_true(mid > 0);
    return mid;
}

/* Waits for a line "ready mid=N" in the browser's stdout; returns N. */
static long long wait_ready(proc_t *browser, const char *out_path, const char *err_path)
{
    long long deadline = proc_now_ms() + BROWSER_READY_MS;
    for (;;) {
        char *out = slurp(out_path);
        const char *ready = strstr(out, "ready mid=");
        long long mid = ready ? atoll(ready + strlen("ready mid=")) : 0;
        int failed = strstr(out, "FAIL:") != NULL;
        free(out);
        if (mid > 0)
            return mid;
        if (failed || proc_poll(browser) || proc_now_ms() >= deadline) {
            dump("browser stdout", out_path);
            dump("browser stderr", err_path);
            fail_msg("the page did not log in and connect");
        }
        proc_sleep_ms(100);
    }
}

/* The push the page must show, sent with curl as an operator would (over https, trusting the
 * test CA, when logic serves HTTPS). */
static void curl_push(long long mid, const char *text)
{
    char cmd[1024], cacert[400] = "";
    const char *pki = cluster_logic_https_pki(g_c);
    if (pki != NULL)
        snprintf(cacert, sizeof(cacert), "--cacert '%s/ca.pem' ", pki);
    snprintf(cmd, sizeof(cmd),
             "curl -sS %s-X POST '%s://127.0.0.1:%d/goim/push/mids?operation=1000&mids=%lld' "
             "--data-binary '%s'",
             cacert, pki ? "https" : "http", cluster_logic_http_port(g_c), mid, text);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char reply[512] = "";
    size_t n = fread(reply, 1, sizeof(reply) - 1, f);
    reply[n] = '\0';
    int rc = pclose(f);
    if (rc != 0 || strstr(reply, "\"code\":0") == NULL)
        fail_msg("%s: exit %d, reply %s", cmd, rc, reply);
}

/* Asserts that the listener printed an op 1000 message from `from` with msg, private to
 * `to_mid` (> 0) or to ROOM (to_mid 0). */
static void expect_heard(const char *lines, int64_t from, int64_t to_mid, const char *msg)
{
    char *copy = strdup(lines), *save = NULL;
    int found = 0;
    for (char *line = strtok_r(copy, "\n", &save); line != NULL && !found;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *pkt = json_loads(line, 0, NULL);
        const char *body = json_string_value(json_object_get(pkt, "body"));
        json_t *env = body ? json_loads(body, 0, NULL) : NULL;
        json_t *tm = json_object_get(env, "to_mid");
        const char *tr = json_string_value(json_object_get(env, "to_room"));
        found = json_integer_value(json_object_get(pkt, "op")) == 1000 &&
                json_integer_value(json_object_get(env, "from")) == from &&
                json_is_string(json_object_get(env, "from_name")) &&
                strcmp(json_string_value(json_object_get(env, "from_name")), "web-alice") == 0 &&
                json_is_string(json_object_get(env, "msg")) &&
                strcmp(json_string_value(json_object_get(env, "msg")), msg) == 0 &&
                (to_mid > 0 ? json_integer_value(tm) == to_mid : tr && !strcmp(tr, ROOM));
        json_decref(env);
        json_decref(pkt);
    }
    free(copy);
    if (!found)
        fail_msg("herald-cli listen never printed \"%s\" from mid %lld; it printed:\n%s", msg,
                 (long long)from, lines);
}

/* ------------------------------------------------------------------------------ tests */

static void test_static_files(void **state)
{
    (void)state;
    expect_status("GET", "/web/", 200, "<title>herald console</title>");
    expect_status("GET", "/web", 200, "<title>herald console</title>");
    expect_status("GET", "/web/app.js", 200, "OP_CHAT");
    expect_status("GET", "/web/style.css", 200, "#log");
    expect_status("HEAD", "/web/app.js", 200, NULL);
    /* Raw paths, as a hostile client sends them (a browser would normalise them first). */
    expect_status("GET", "/web/../CMakeLists.txt", 404, NULL);
    expect_status("GET", "/web/%2e%2e/CMakeLists.txt", 404, NULL);
    expect_status("GET", "/web/..%2fCMakeLists.txt", 404, NULL);
    expect_status("GET", "/web/missing.js", 404, NULL);
    expect_status("GET", "/web/index.txt", 404, NULL);
    expect_status("POST", "/web/app.js", 405, NULL);
    /* The API is untouched. */
    expect_status("GET", "/webx", 404, "no such route");
    expect_status("GET", "/herald/v1/online/count", 200, "\"code\":0");
}

/* The page logs in, chats and gets a push, in headless Chromium, against g_c: over http:// and
 * ws://, or over https:// and wss:// when g_c serves TLS. */
static void browser_chat(void)
{
    char token[128], tcp[64], out[512], err[512], listen_out[512], listen_err[512], url[96];
    int64_t bob = login("web-bob", token, sizeof(token), tcp, sizeof(tcp));
    const char *dir = cluster_dir(g_c);

    /* bob listens as herald-cli does: two messages from the page are expected. */
    snprintf(listen_out, sizeof(listen_out), "%s/listen.out", dir);
    snprintf(listen_err, sizeof(listen_err), "%s/listen.err", dir);
    char *const listen_argv[] = {HERALD_BIN_DIR "/herald-cli",
                                 "listen",
                                 "--comet",
                                 tcp,
                                 "--token",
                                 token,
                                 "--room",
                                 ROOM,
                                 "--count",
                                 "2",
                                 "--json",
                                 "--timeout-ms",
                                 "120000",
                                 NULL};
    proc_t listener = {0};
    assert_int_equal(
        proc_start(&listener, "listener", listen_argv, environ, dir, listen_out, listen_err), 0);
    cluster_wait_room(g_c, ROOM, 1, WAIT_MS);

    const char *pki = cluster_logic_https_pki(g_c);
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d/web/", pki ? "https" : "http",
             cluster_logic_http_port(g_c));
    snprintf(out, sizeof(out), "%s/browser.out", dir);
    snprintf(err, sizeof(err), "%s/browser.err", dir);
    char *const browser_argv[] = {"/usr/bin/env",
                                  "node",
                                  HERALD_WEB_TEST_DIR "/browser_test.mjs",
                                  url,
                                  "web-alice",
                                  ROOM,
                                  "web-bob",
                                  "push-from-curl-7",
                                  "psst bob",
                                  "hello room",
                                  NULL};
    char shot[512];
    snprintf(shot, sizeof(shot), "%s/page.png", dir);
    setenv("HERALD_WEB_SCREENSHOT", shot, 1);
    proc_t browser = {0};
    assert_int_equal(
        proc_start(&browser, "browser", browser_argv, environ, HERALD_WEB_TEST_DIR, out, err), 0);

    long long alice = wait_ready(&browser, out, err);
    curl_push(alice, "push-from-curl-7");

    if (!proc_wait(&browser, BROWSER_DONE_MS) || !proc_exited_ok(&browser)) {
        proc_stop(&browser, 2000);
        dump("browser stdout", out);
        dump("browser stderr", err);
        fail_msg("the page's steps failed");
    }
    if (!proc_wait(&listener, WAIT_MS) || !proc_exited_ok(&listener)) {
        proc_stop(&listener, 2000);
        dump("listener stdout", listen_out);
        dump("listener stderr", listen_err);
        fail_msg("herald-cli listen did not get both messages");
    }
    char *heard = slurp(listen_out);
    expect_heard(heard, alice, bob, "psst bob");
    expect_heard(heard, alice, 0, "hello room");
    free(heard);
}

static void test_browser_chat(void **state)
{
    (void)state;
    browser_chat();
}

/* The base64 SHA-256 of server.pem's public key, for Chromium's
 * --ignore-certificate-errors-spki-list: the test's own certificate is accepted, no other. */
static void spki_of_test_certificate(char *out, size_t len)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in '%s/server.pem' -pubkey -noout | openssl pkey -pubin -outform der "
             "| openssl dgst -sha256 -binary | base64",
             test_pki_dir());
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_true(strlen(out) == 44);
}

/* The same page served over https by logic, connecting to the comet's wss:// port, as a browser
 * on an https page must (it may not open ws:// from there). */
static void test_browser_chat_https(void **state)
{
    (void)state;
    cluster_t *plain = g_c;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = logic_env;
    o.logic_https_pki = test_pki_dir();
    o.comet_tls_pki = test_pki_dir();
    g_c = cluster_start(&o);
    assert_non_null(g_c);
    char spki[64];
    spki_of_test_certificate(spki, sizeof(spki));
    setenv("HERALD_WEB_SPKI", spki, 1);
    browser_chat();
    unsetenv("HERALD_WEB_SPKI");
    assert_int_equal(cluster_stop(g_c, false), 0);
    g_c = plain;
}

/* The comet the page is on drains (SIGTERM, drain_time 2 s): the page moves to the other comet
 * and misses no push, neither one sent during the drain nor one sent after the comet exited. */
static const char *const drain_env[] = {"HERALD_SERVER_DRAIN_TIME=2s", NULL};

static void test_browser_moves_off_a_draining_comet(void **state)
{
    (void)state;
    cluster_t *plain = g_c;
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = logic_env;
    o.env[CLUSTER_COMET] = drain_env;
    g_c = cluster_start(&o);
    assert_non_null(g_c);
    const char *dir = cluster_dir(g_c);
    char url[96], out[512], err[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/web/", cluster_logic_http_port(g_c));
    snprintf(out, sizeof(out), "%s/browser.out", dir);
    snprintf(err, sizeof(err), "%s/browser.err", dir);
    char *const argv[] = {"/usr/bin/env",
                          "node",
                          HERALD_WEB_TEST_DIR "/browser_test.mjs",
                          url,
                          "web-mover",
                          ROOM,
                          "nobody",
                          "push-during-drain",
                          "push-after-move",
                          "unused",
                          NULL};
    setenv("HERALD_WEB_MODE", "drain", 1);
    proc_t browser = {0};
    assert_int_equal(proc_start(&browser, "browser", argv, environ, HERALD_WEB_TEST_DIR, out, err),
                     0);
    unsetenv("HERALD_WEB_MODE");
    long long mid = wait_ready(&browser, out, err);
    /* the comet that holds the page's connection */
    int on = -1;
    for (int i = 0; i < 2 && on < 0; i++) {
        long long conns = 0;
        if (cluster_metric(cluster_comet_admin_port(g_c, i), "/metrics", "conns", &conns) &&
            conns == 1)
            on = i;
    }
    assert_true(on >= 0);
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, on, SIGTERM), 0);
    curl_push(mid, "push-during-drain");
    char status[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_COMET, on, WAIT_MS, status, sizeof(status)));
    assert_string_equal(status, "exit 0");
    curl_push(mid, "push-after-move");
    if (!proc_wait(&browser, BROWSER_DONE_MS) || !proc_exited_ok(&browser)) {
        proc_stop(&browser, 2000);
        dump("browser stdout", out);
        dump("browser stderr", err);
        fail_msg("the page did not move off the draining comet");
    }
    assert_int_equal(cluster_stop(g_c, false), 0);
    g_c = plain;
}

/* ------------------------------------------------------------------------------ main */

/* The reason the browser test cannot run here, or NULL. */
static const char *missing_dependency(void)
{
    if (access(CHROMIUM, X_OK) != 0)
        return CHROMIUM " is not installed";
    /* playwright-core is pinned to 1.61, the last release that runs on Debian 12's Node 18. */
    if (system("node -e 'process.exit(parseInt(process.versions.node) >= 18 ? 0 : 1)' "
               ">/dev/null 2>&1") != 0)
        return "node 18 or newer is not installed";
    if (access(HERALD_WEB_TEST_DIR "/node_modules/playwright-core/package.json", R_OK) != 0)
        return "tests/web/node_modules/playwright-core is missing (npm ci in tests/web)";
    return NULL;
}

int main(void)
{
    const char *missing = missing_dependency();
    if (missing != NULL) {
        const char *ci = getenv("CI");
        int in_ci = ci != NULL && strcmp(ci, "true") == 0;
        printf("%s: %s; scripts/install-web-deps.sh installs it\n", in_ci ? "FAIL" : "SKIP",
               missing);
        return in_ci ? 1 : SKIP_CODE;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_browser_chat),
        cmocka_unit_test(test_browser_chat_https),
        cmocka_unit_test(test_browser_moves_off_a_draining_comet),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    test_pki_cleanup();
    return failed;
}
