/* test_signals.c - SIGHUP on every process of a running cluster (docs/operations.md, "Signals"):
 * nothing dies, a connected client stays connected and keeps getting pushes, a changed [log]
 * level shows in every daemon's /health, a changed reloadable key is applied and a changed
 * restart-only key is named, a configuration file that does not load keeps the daemon running
 * on the old one (the log names file:line), comet's log file is reopened after it was renamed
 * (logrotate), [log] format = json takes effect, and comet's TLS certificates are read again.
 *
 * Every daemon runs with -c FILE (a file of this test's: the harness's environment still sets
 * ports and addresses, which win over the file). The tests run in order on one cluster. */
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
#include "proc.h"
#include "test_pki.h"

#define OP_BIZ 1000
#define WAIT_MS 5000
#define MID 3301

static cluster_t *g_c;
static client_t *g_cl;
static char g_dir[] = "/tmp/herald-signals-XXXXXX";
static char g_comet_log[600];
static uint32_t g_seq; /* the client's last user seq */

/* The daemons SIGHUP goes to, and the name of their -c file. */
static const struct {
    cluster_kind_t kind;
    const char *name;
} daemons[] = {
    {CLUSTER_ROUTER, "router"},
    {CLUSTER_LOGIC, "logic"},
    {CLUSTER_COMET, "comet"},
    {CLUSTER_JOB, "job"},
};
#define N_DAEMONS (sizeof(daemons) / sizeof(daemons[0]))

static char g_conf[N_DAEMONS][600];
static const char *g_args[N_DAEMONS][3];
/* The harness sets HERALD_LOG_LEVEL, which would win over the files' [log] level. */
static const char *const g_env[] = {"HERALD_LOG_LEVEL", NULL};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

/* Writes daemon i's configuration: [log] at `level`, and `extra` (may be ""). Comet logs to
 * g_comet_log. */
static void write_conf(size_t i, const char *level, const char *extra)
{
    char text[2048];
    if (daemons[i].kind == CLUSTER_COMET)
        snprintf(text, sizeof text, "[log]\nlevel = %s\nfile = %s\n%s", level, g_comet_log, extra);
    else
        snprintf(text, sizeof text, "[log]\nlevel = %s\n%s", level, extra);
    write_file(g_conf[i], text);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap)
            s = realloc(s, cap *= 2);
    }
    s[len] = '\0';
    fclose(f);
    return s;
}

/* Waits until the file at path holds `want`. */
static bool file_has(const char *path, const char *want, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    do {
        char *s = read_file(path);
        bool found = s != NULL && strstr(s, want) != NULL;
        free(s);
        if (found)
            return true;
        usleep(50 * 1000);
    } while (proc_now_ms() < end);
    return false;
}

static void expect_in_file(const char *path, const char *want)
{
    if (!file_has(path, want, WAIT_MS))
        fail_msg("%s: no '%s' within %d ms", path, want, WAIT_MS);
}

static int setup(void **state)
{
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_comet_log, sizeof g_comet_log, "%s/comet.log", g_dir);
    cluster_opts_t o = {
        .n_comets = 1, .n_routers = 1, .comet_workers = 2, .comet_tls_pki = test_pki_dir()};
    for (size_t i = 0; i < N_DAEMONS; i++) {
        snprintf(g_conf[i], sizeof g_conf[i], "%s/%s.ini", g_dir, daemons[i].name);
        write_conf(i, "info", "");
        g_args[i][0] = "-c";
        g_args[i][1] = g_conf[i];
        g_args[i][2] = NULL;
        o.args[daemons[i].kind] = g_args[i];
        o.env[daemons[i].kind] = g_env;
    }
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int teardown(void **state)
{
    client_free(g_cl);
    int rc = cluster_stop(g_c, false);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        rc = -1;
    test_pki_cleanup();
    return rc;
}

/* SIGHUP to every process of the cluster, herald-kafka-dev included. */
static void hup_all(void)
{
    for (size_t i = 0; i < N_DAEMONS; i++)
        assert_int_equal(cluster_kill(g_c, daemons[i].kind, 0, SIGHUP), 0);
    assert_int_equal(cluster_kill(g_c, CLUSTER_KAFKA, 0, SIGHUP), 0);
}

/* Every process still runs a while after the signals (SIGHUP's default action would end them at
 * once), and the client still gets a user push. */
static void expect_all_alive_and_pushing(const char *body)
{
    char st[64];
    for (size_t i = 0; i < N_DAEMONS; i++)
        if (cluster_wait_exit(g_c, daemons[i].kind, 0, 300, st, sizeof st))
            fail_msg("%s ended after SIGHUP: %s", daemons[i].name, st);
    if (cluster_wait_exit(g_c, CLUSTER_KAFKA, 0, 10, st, sizeof st))
        fail_msg("herald-kafka-dev ended after SIGHUP: %s", st);
    int64_t mid = MID;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, body);
    cluster_expect_packet(g_cl, "client", OP_BIZ, ++g_seq, body, WAIT_MS);
}

/* The admin /health port of daemon i (logic: its API port). */
static int health_port(size_t i)
{
    switch (daemons[i].kind) {
    case CLUSTER_ROUTER:
        return cluster_router_admin_port(g_c, 0);
    case CLUSTER_COMET:
        return cluster_comet_admin_port(g_c, 0);
    case CLUSTER_JOB:
        return cluster_job_admin_port(g_c);
    default:
        return cluster_logic_http_port(g_c);
    }
}

/* Waits until daemon i's /health says log_level `want`. */
static void expect_log_level(size_t i, const char *want)
{
    long long end = proc_now_ms() + WAIT_MS;
    char got[32] = "";
    do {
        json_t *j = NULL;
        if (cluster_http_port(health_port(i), "GET", "/health", NULL, &j) == 200) {
            const char *l =
                json_string_value(json_object_get(json_object_get(j, "data"), "log_level"));
            snprintf(got, sizeof got, "%s", l ? l : "(none)");
        }
        json_decref(j);
        if (strcmp(got, want) == 0)
            return;
        usleep(50 * 1000);
    } while (proc_now_ms() < end);
    fail_msg("%s: /health log_level '%s', want '%s'", daemons[i].name, got, want);
}

static void test_hup_keeps_everything_running(void **state)
{
    g_cl = cluster_user(g_c, 0, CLIENT_TCP, MID, "live://signals", OP_BIZ, NULL);
    int64_t mid = MID;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "before");
    cluster_expect_packet(g_cl, "client", OP_BIZ, ++g_seq, "before", WAIT_MS);
    for (size_t i = 0; i < N_DAEMONS; i++)
        expect_log_level(i, "info");

    hup_all();
    expect_all_alive_and_pushing("after the first SIGHUP");
    /* nothing changed: the file as at start */
    expect_in_file(g_comet_log, "0 changed keys applied, 0 need a restart");
    /* comet read its certificates again on the same signal */
    expect_in_file(g_comet_log, "certificates reloaded (generation 2)");
}

static void test_hup_applies_log_level_and_limits(void **state)
{
    for (size_t i = 0; i < N_DAEMONS; i++)
        write_conf(i, "debug", "");
    /* comet: a reloadable limit and a key that needs a restart; logic: a reloadable default */
    write_conf(2, "debug", "[protocol]\nmax_msg = 8\n[logic]\nrpc_timeout = 4s\n");
    write_conf(1, "debug", "[auth]\ntoken_ttl = 1h\n");
    hup_all();
    for (size_t i = 0; i < N_DAEMONS; i++)
        expect_log_level(i, "debug");
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/tokens?mid=3303", NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "expires_in")),
                     3600);
    json_decref(j);
    expect_in_file(g_comet_log, "reload: [protocol] max_msg: applied");
    expect_in_file(g_comet_log, "reload: [logic] rpc_timeout: changed, needs a restart");
    expect_all_alive_and_pushing("after the level change");
    /* the connection that was open before the reload is held to the new max_msg */
    int code =
        cluster_send_msg(g_cl, 1, "{\"to_mid\":3302,\"op\":1000,\"msg\":\"too long\"}", WAIT_MS);
    assert_int_not_equal(code, 0);
}

static void test_bad_config_keeps_running(void **state)
{
    write_file(g_conf[2], "[log]\nlevel = warn\n[protocol]\nmax_msg = lots\n");
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 0, SIGHUP), 0);
    char want[700];
    snprintf(want, sizeof want, "%s:4: [protocol] max_msg:", g_conf[2]);
    expect_in_file(g_comet_log, want);
    expect_in_file(g_comet_log, "keeping the running configuration");
    /* the level of the file that did not load was not taken */
    expect_log_level(2, "debug");
    expect_all_alive_and_pushing("after a bad file");
}

static void test_log_reopened_after_rename(void **state)
{
    char rotated[700];
    snprintf(rotated, sizeof rotated, "%s.1", g_comet_log);
    assert_int_equal(rename(g_comet_log, rotated), 0);
    write_conf(2, "info", "");
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 0, SIGHUP), 0);
    /* the lines up to the reopen go to the renamed file, the ones after to a new one */
    expect_in_file(g_comet_log, "reload: logging at info as text");
    expect_in_file(g_comet_log, "tls: certificates reloaded (generation 4)");
    expect_in_file(rotated, "reload: [log] level: applied");
    char *s = read_file(rotated);
    assert_non_null(s);
    assert_null(strstr(s, "generation 4"));
    free(s);
    expect_log_level(2, "info");
    expect_all_alive_and_pushing("after the rotation");
}

static void test_json_format(void **state)
{
    char text[256];
    snprintf(text, sizeof text, "[log]\nlevel = info\nformat = json\n");
    write_file(g_conf[0], text);
    assert_int_equal(cluster_kill(g_c, CLUSTER_ROUTER, 0, SIGHUP), 0);
    char log[700];
    snprintf(log, sizeof log, "%s/router-0.log", cluster_dir(g_c));
    /* the line that says how the daemon logs now comes in that format */
    expect_in_file(log, "\"daemon\":\"router\",\"pid\":");
    expect_in_file(log,
                   "\"level\":\"info\",\"msg\":\"reload: logging at info as json to stderr\"}");
    expect_all_alive_and_pushing("after json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hup_keeps_everything_running),
        cmocka_unit_test(test_hup_applies_log_level_and_limits),
        cmocka_unit_test(test_bad_config_keeps_running),
        cmocka_unit_test(test_log_reopened_after_rename),
        cmocka_unit_test(test_json_format),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
