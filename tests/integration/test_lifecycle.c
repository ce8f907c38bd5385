/* test_lifecycle.c - daemons stopping, dying and coming back: job killed and restarted, a comet
 * shutting down (its clients are kicked with reason "shutdown"), logic started while Redis is
 * down, and finally SIGTERM to every daemon, each of which must exit 0 promptly. The tests run
 * in order on one cluster (2 comets, 1 router) and each leaves it whole for the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "proc.h"

#define OP_BIZ 1000
#define PUSH_WAIT_MS 5000
#define EXIT_WAIT_MS 5000
/* A restarted job must rejoin the consumer group; a killed member's partitions are reassigned
 * only after the coordinator gives up on it, so allow more than for a plain push. */
#define REJOIN_WAIT_MS 60000
#define RECOVER_WAIT_MS 15000

static cluster_t *g_c;

static int group_setup(void **state)
{
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1, .comet_workers = 2};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static void expect_exit_ok(cluster_kind_t kind, int index, const char *name, int timeout_ms)
{
    char st[64];
    long long t0 = proc_now_ms();
    if (!cluster_wait_exit(g_c, kind, index, timeout_ms, st, sizeof(st)))
        fail_msg("%s still running %d ms after SIGTERM", name, timeout_ms);
    if (!cluster_exited_ok(g_c, kind, index))
        fail_msg("%s: %s after SIGTERM, want exit 0", name, st);
    print_message("%s exited 0 in %lld ms\n", name, proc_now_ms() - t0);
}

static void test_job_killed_and_restarted(void **state)
{
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 2101, NULL, OP_BIZ, NULL);
    int64_t mid = 2101;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "before");
    cluster_expect_packet(cl, "client", OP_BIZ, 1, "before", PUSH_WAIT_MS);

    assert_int_equal(cluster_kill(g_c, CLUSTER_JOB, 0, SIGKILL), 0);
    char st[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_JOB, 0, EXIT_WAIT_MS, st, sizeof(st)));
    /* Accepted by logic while job is down: it waits in Kafka and is delivered after restart. */
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "while-down");
    assert_int_equal(cluster_restart(g_c, CLUSTER_JOB, 0, true), 0);
    long long t0 = proc_now_ms();
    cluster_expect_packet(cl, "client", OP_BIZ, 2, "while-down", REJOIN_WAIT_MS);
    print_message("job restart: queued push delivered %lld ms after restart\n", proc_now_ms() - t0);
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "after");
    cluster_expect_packet(cl, "client", OP_BIZ, 3, "after", PUSH_WAIT_MS);
    cluster_expect_silence(cl, "client", 500);
    client_free(cl);
}

/* Expects op 6 with {"reason":"shutdown"} and then the end of the connection. */
static void expect_shutdown_kick(client_t *cl, const char *who)
{
    client_packet_t p = {0};
    int rc;
    do {
        client_packet_free(&p);
        rc = client_recv(cl, &p, EXIT_WAIT_MS);
    } while (rc == 1 && p.op == 3);
    if (rc != 1)
        fail_msg("%s: no kick packet (%d)", who, rc);
    json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    if (p.op != 6 || reason == NULL || strcmp(reason, "shutdown") != 0)
        fail_msg("%s: want op 6 {\"reason\":\"shutdown\"}, got op %u body %.*s", who, p.op,
                 (int)p.body_len, p.body ? (const char *)p.body : "");
    json_decref(j);
    client_packet_free(&p);
    cluster_expect_closed(cl, who, EXIT_WAIT_MS);
}

static void test_comet_shutdown_kicks_clients(void **state)
{
    client_t *tcp = cluster_user(g_c, 1, CLIENT_TCP, 2201, "live://l2", OP_BIZ, NULL);
    client_t *ws = cluster_user(g_c, 1, CLIENT_WS, 2202, "live://l2", OP_BIZ, NULL);
    client_t *survivor = cluster_user(g_c, 0, CLIENT_TCP, 2203, "live://l2", OP_BIZ, NULL);

    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGTERM), 0);
    expect_shutdown_kick(tcp, "tcp client of comet 1");
    expect_shutdown_kick(ws, "ws client of comet 1");
    expect_exit_ok(CLUSTER_COMET, 1, "comet-1", EXIT_WAIT_MS);
    client_free(tcp);
    client_free(ws);

    int64_t mid = 2203;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "comet-0-lives");
    cluster_expect_packet(survivor, "client of comet 0", OP_BIZ, 1, "comet-0-lives", PUSH_WAIT_MS);

    /* Bring comet 1 back: it registers again and gets pushes. */
    assert_int_equal(cluster_restart(g_c, CLUSTER_COMET, 1, false), 0);
    assert_int_equal(cluster_wait_ready(g_c), 0);
    client_t *back = cluster_user(g_c, 1, CLIENT_TCP, 2204, NULL, OP_BIZ, NULL);
    mid = 2204;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "comet-1-back");
    cluster_expect_packet(back, "client of restarted comet 1", OP_BIZ, 1, "comet-1-back",
                          PUSH_WAIT_MS);
    client_free(back);
    client_free(survivor);
}

static void test_logic_starts_without_redis(void **state)
{
    assert_int_equal(cluster_kill(g_c, CLUSTER_REDIS, 0, SIGTERM), 0);
    expect_exit_ok(CLUSTER_REDIS, 0, "redis", EXIT_WAIT_MS);
    assert_int_equal(cluster_kill(g_c, CLUSTER_LOGIC, 0, SIGTERM), 0);
    expect_exit_ok(CLUSTER_LOGIC, 0, "logic", EXIT_WAIT_MS);

    assert_int_equal(cluster_restart(g_c, CLUSTER_LOGIC, 0, false), 0);
    json_t *j = NULL;
    int st = cluster_http(g_c, "POST", "/herald/v1/tokens?mid=2301", NULL, &j);
    if (st != 503) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("token with Redis down: want 503, got %d (%s)", st, dump ? dump : "not JSON");
    }
    json_decref(j);
    /* Health is liveness: it answers, and names the backend that is down. */
    st = cluster_http(g_c, "GET", "/herald/v1/health", NULL, &j);
    const char *redis = json_string_value(json_object_get(json_object_get(j, "data"), "redis"));
    if (redis == NULL || strcmp(redis, "down") != 0)
        fail_msg("health with Redis down: status %d, data.redis %s", st, redis ? redis : "missing");
    json_decref(j);
    /* Still up a while later, still answering. */
    proc_sleep_ms(1000);
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/tokens?mid=2301", NULL, NULL), 503);

    assert_int_equal(cluster_restart(g_c, CLUSTER_REDIS, 0, false), 0);
    long long deadline = proc_now_ms() + RECOVER_WAIT_MS;
    while ((st = cluster_http(g_c, "POST", "/herald/v1/tokens?mid=2301", NULL, NULL)) != 200) {
        if (proc_now_ms() >= deadline)
            fail_msg("logic still answers %d %d ms after Redis came back", st, RECOVER_WAIT_MS);
        proc_sleep_ms(100);
    }
    /* The fresh Redis is empty: comets register again on their next RenewOnline. */
    assert_int_equal(cluster_wait_ready(g_c), 0);
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 2302, NULL, OP_BIZ, NULL);
    int64_t mid = 2302;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "redis-back");
    cluster_expect_packet(cl, "client", OP_BIZ, 1, "redis-back", PUSH_WAIT_MS);
    client_free(cl);
}

static bool g_job_restarted; /* set by the test below once job stopped as it should */

/* Kafka unreachable must not keep job from stopping: SIGTERM while every broker is down. */
static void test_job_stops_while_kafka_down(void **state)
{
    assert_int_equal(cluster_kill(g_c, CLUSTER_KAFKA, 0, SIGUSR1), 0);
    proc_sleep_ms(500); /* let job's consumer notice the brokers are gone */
    assert_int_equal(cluster_kill(g_c, CLUSTER_JOB, 0, SIGTERM), 0);
    expect_exit_ok(CLUSTER_JOB, 0, "job (Kafka down)", 10000);

    assert_int_equal(cluster_kill(g_c, CLUSTER_KAFKA, 0, SIGUSR2), 0);
    g_job_restarted = true;
    assert_int_equal(cluster_restart(g_c, CLUSTER_JOB, 0, true), 0);
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 2501, NULL, OP_BIZ, NULL);
    int64_t mid = 2501;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "kafka-back");
    cluster_expect_packet(cl, "client", OP_BIZ, 1, "kafka-back", REJOIN_WAIT_MS);
    client_free(cl);
}

/* Leaves the cluster whole for the next test even when the one above failed: brokers up, and a
 * job that hung on SIGTERM (or died) replaced. */
static int kafka_down_teardown(void **state)
{
    cluster_kill(g_c, CLUSTER_KAFKA, 0, SIGUSR2);
    if (g_job_restarted)
        return 0;
    char st[64];
    cluster_kill(g_c, CLUSTER_JOB, 0, SIGKILL);
    cluster_wait_exit(g_c, CLUSTER_JOB, 0, EXIT_WAIT_MS, st, sizeof(st));
    return cluster_restart(g_c, CLUSTER_JOB, 0, true);
}

static void test_sigterm_every_daemon(void **state)
{
    /* A connected client must not hold a comet up. */
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 2401, "live://l4", OP_BIZ, NULL);
    static const struct {
        cluster_kind_t kind;
        int index;
        const char *name;
    } order[] = {
        /* Kafka first: a whole stack stopped at once (compose down, the harness's parent death)
         * can take the broker away before job; job must still stop. The other files' cluster_stop
         * checks the friendly order (job first). */
        {CLUSTER_KAFKA, 0, "kafka"},   {CLUSTER_JOB, 0, "job"},     {CLUSTER_COMET, 0, "comet-0"},
        {CLUSTER_COMET, 1, "comet-1"}, {CLUSTER_LOGIC, 0, "logic"}, {CLUSTER_ROUTER, 0, "router-0"},
        {CLUSTER_REDIS, 0, "redis"},
    };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        assert_int_equal(cluster_kill(g_c, order[i].kind, order[i].index, SIGTERM), 0);
        expect_exit_ok(order[i].kind, order[i].index, order[i].name, 10000);
    }
    client_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_killed_and_restarted),
        cmocka_unit_test(test_comet_shutdown_kicks_clients),
        cmocka_unit_test(test_logic_starts_without_redis),
        cmocka_unit_test_teardown(test_job_stops_while_kafka_down, kafka_down_teardown),
        cmocka_unit_test(test_sigterm_every_daemon),
    };
    int failed = cmocka_run_group_tests_name("lifecycle", tests, group_setup, NULL);
    if (cluster_stop(g_c, failed != 0) != 0)
        failed++;
    return failed ? 1 : 0;
}
