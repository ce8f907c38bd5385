/* test_room_join.c - no window after a join (docs/delivery.md "Rooms: no window after a join"),
 * with real processes: 2 comets of 2 workers, 1 router, logic, job, redis-server and
 * herald-kafka-dev. A push to a room that logic accepts after a client got op 8 (auth into the
 * room) or op 13 (change to the room) reaches that client, with no sleep between the two:
 *
 *   - 1,000 times over fresh rooms, alternating comets and the two ways in (a new connection's
 *     op 8, a long-lived connection's op 12 -> op 13): one push each, received by exactly that
 *     connection, in order (each connection's next packet must be its push, and the long-lived
 *     ones get nothing else);
 *   - a crowd of 200 connections authenticating into one fresh room at once, then one push:
 *     every one of them gets it;
 *   - job restarted just before the join (it gets its partitions back only seconds later);
 *   - a comet started just before the join, which job has dropped and not yet seen again;
 *   - a comet killed and started again at its address, which job still has, its client in a
 *     long reconnect backoff.
 *
 * The first argument, when given, is job's room.refresh (default: the daemon's own, 1s). ctest
 * runs it twice: with the default, and with 10m so that the room census cannot be what makes a
 * push arrive (tests/CMakeLists.txt).
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
#include "proc.h"

#define OP 1000
#define ROUNDS 1000
#define CROWD 200
#define RECV_MS 5000
#define RESTART_RECV_MS 40000 /* a restarted job rejoins its group in 5 to 10 s on the mock */

static cluster_t *g_c;
static const char *g_refresh = "1s";
static char g_refresh_env[64];
static int g_run; /* this process's id: rooms of a run are new to the cluster */
static int64_t g_next_mid = 7000;
/* One long-lived connection per comet that changes room (op 12) every round it is used. */
static client_t *g_mover[2];
static long long g_mover_got[2], g_mover_want[2];

static int group_setup(void **state)
{
    (void)state;
    g_run = (int)getpid();
    snprintf(g_refresh_env, sizeof g_refresh_env, "HERALD_ROOM_REFRESH=%s", g_refresh);
    static const char *job_env[2];
    job_env[0] = g_refresh_env;
    job_env[1] = NULL;
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1, .comet_workers = 2};
    o.env[CLUSTER_JOB] = job_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        client_free(g_mover[i]);
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

static void room_name(char *out, size_t cap, const char *what, int i)
{
    snprintf(out, cap, "live://rj-%d-%s-%d", g_run, what, i);
}

/* Waits for the next packet other than a heartbeat reply; asserts it is op with body. */
static void expect_next(client_t *cl, const char *who, uint32_t op, const char *body, int ms)
{
    cluster_expect_packet(cl, who, op, CLUSTER_ANY_SEQ, body, ms);
}

/* Changes cl's room with op 12 and waits for op 13 (nothing else may come first). */
static void change_room(client_t *cl, const char *who, const char *room, uint32_t seq)
{
    assert_int_equal(client_send(cl, 12, seq, room, strlen(room)), 0);
    expect_next(cl, who, 13, room, RECV_MS);
}

static client_t *auth_into(int comet, const char *room)
{
    return cluster_user(g_c, comet, CLIENT_TCP, g_next_mid++, room, 0, NULL);
}

/* One round: a client gets into a fresh room (op 8 or op 13), and at once one push goes to it. */
static void join_then_push(int i, int comet, int by_change, int recv_ms)
{
    char room[128], body[64], who[160];
    room_name(room, sizeof room, by_change ? "change" : "auth", i);
    snprintf(body, sizeof body, "{\"round\":%d}", i);
    snprintf(who, sizeof who, "round %d (%s on comet %d)", i, by_change ? "op 13" : "op 8", comet);
    client_t *cl;
    if (by_change) {
        cl = g_mover[comet];
        change_room(cl, who, room, (uint32_t)i + 1);
    } else {
        cl = auth_into(comet, room);
    }
    cluster_push_room(g_c, OP, room, body);
    expect_next(cl, who, OP, body, recv_ms);
    if (by_change)
        g_mover_got[comet]++;
    else
        client_free(cl);
}

static void test_rounds(void **state)
{
    (void)state;
    for (int c = 0; c < 2; c++)
        g_mover[c] = auth_into(c, NULL);
    long long t0 = proc_now_ms();
    for (int i = 0; i < ROUNDS; i++) {
        int comet = i % 2, by_change = (i / 2) % 2;
        if (by_change)
            g_mover_want[comet]++;
        join_then_push(i, comet, by_change, RECV_MS);
    }
    /* The long-lived connections got their pushes and nothing else. */
    for (int c = 0; c < 2; c++) {
        assert_int_equal(g_mover_got[c], g_mover_want[c]);
        cluster_expect_silence(g_mover[c], "mover", 300);
    }
    printf("# %d rounds (op 8 and op 13, 2 comets), every push received: %lld ms\n", ROUNDS,
           proc_now_ms() - t0);
}

static void test_crowd(void **state)
{
    (void)state;
    char room[128];
    room_name(room, sizeof room, "crowd", 0);
    client_t *cl[CROWD];
    char *tokens[CROWD];
    for (int i = 0; i < CROWD; i++)
        tokens[i] = cluster_issue_token(g_c, g_next_mid++);
    long long joins_before = 0;
    assert_true(
        cluster_metric(cluster_logic_http_port(g_c), "/metrics", "room_joins", &joins_before));
    /* Every auth is sent before any reply is read: they cross in the comets, and most of them
     * find the room's announcement already in flight. */
    for (int i = 0; i < CROWD; i++) {
        char err[256] = "";
        int comet = i % 2;
        cl[i] = client_connect(CLIENT_TCP, "127.0.0.1", cluster_comet_port(g_c, comet, CLIENT_TCP),
                               RECV_MS, err, sizeof err);
        if (cl[i] == NULL)
            fail_msg("crowd %d: connect: %s", i, err);
        char *auth = cluster_auth_body(tokens[i], room, NULL, 0);
        assert_int_equal(client_send(cl[i], 7, 1, auth, strlen(auth)), 0);
        free(auth);
        free(tokens[i]);
    }
    for (int i = 0; i < CROWD; i++) {
        client_packet_t p = {0};
        int rc = client_recv(cl[i], &p, RECV_MS);
        if (rc != 1 || p.op != 8 || strstr((const char *)p.body, "\"code\":0") == NULL)
            fail_msg("crowd %d: no op 8 with code 0 (recv %d, op %u)", i, rc, p.op);
        client_packet_free(&p);
    }
    /* one announcement per room and comet worker, not one per client */
    long long joins_after = 0;
    assert_true(
        cluster_metric(cluster_logic_http_port(g_c), "/metrics", "room_joins", &joins_after));
    assert_true(joins_after - joins_before >= 2 && joins_after - joins_before <= 4);
    cluster_push_room(g_c, OP, room, "{\"crowd\":true}");
    for (int i = 0; i < CROWD; i++) {
        char who[32];
        snprintf(who, sizeof who, "crowd %d", i);
        expect_next(cl[i], who, OP, "{\"crowd\":true}", RECV_MS);
    }
    for (int i = 0; i < CROWD; i++)
        client_free(cl[i]);
    printf("# a crowd of %d joined one fresh room over 2 comets (%lld JoinRoom calls): all got "
           "the push\n",
           CROWD, joins_after - joins_before);
}

static void test_job_restarted(void **state)
{
    (void)state;
    assert_int_equal(cluster_kill(g_c, CLUSTER_JOB, 0, SIGTERM), 0);
    char status[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_JOB, 0, 20000, status, sizeof status));
    assert_int_equal(cluster_restart(g_c, CLUSTER_JOB, 0, false), 0);
    join_then_push(ROUNDS, 0, 0, RESTART_RECV_MS);
    join_then_push(ROUNDS + 1, 1, 1, RESTART_RECV_MS);
    printf("# job restarted just before the joins: both pushes received\n");
}

/* Job's count of comets (its /health). */
static long long job_comets(void)
{
    long long n = -1;
    if (!cluster_metric(cluster_job_admin_port(g_c), "/health", "comets", &n))
        return -1;
    return n;
}

/* A client of comet 1, just (re)started, auths into a fresh room and one push follows at once.
 * The comet may take a moment to reach logic: until then an auth is refused, and tried again. */
static void join_fresh_comet(const char *what)
{
    char room[128], who[64];
    room_name(room, sizeof room, what, 0);
    snprintf(who, sizeof who, "client of the %s comet", what);
    char *token = cluster_issue_token(g_c, g_next_mid++);
    char *auth = cluster_auth_body(token, room, NULL, 0);
    client_t *cl = NULL;
    long long deadline = proc_now_ms() + 10000;
    while (cl == NULL) {
        char err[256] = "";
        cl = cluster_connect(g_c, 1, CLIENT_TCP, auth, NULL, err, sizeof err);
        if (cl == NULL && proc_now_ms() > deadline)
            fail_msg("%s: the auth is refused: %s", who, err);
        if (cl == NULL)
            proc_sleep_ms(20);
    }
    free(auth);
    free(token);
    cluster_push_room(g_c, OP, room, "{\"fresh\":true}");
    expect_next(cl, who, OP, "{\"fresh\":true}", RECV_MS);
    client_free(cl);
}

static void test_comet_started(void **state)
{
    (void)state;
    /* Comet 1 stops (its ServerDown takes it out of the registry) and job drops it. */
    client_free(g_mover[1]);
    g_mover[1] = NULL;
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGTERM), 0);
    char status[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_COMET, 1, 20000, status, sizeof status));
    long long deadline = proc_now_ms() + 15000;
    while (job_comets() != 1) {
        if (proc_now_ms() > deadline)
            fail_msg("job still lists %lld comets", job_comets());
        proc_sleep_ms(50);
    }
    /* Started again: job has no client to it, and may not have read its registry entry. */
    assert_int_equal(cluster_restart(g_c, CLUSTER_COMET, 1, false), 0);
    join_fresh_comet("started");
    printf("# a comet started just before the join: the push arrived\n");
}

/* Comet 1 killed (no ServerDown: job keeps it, its client backing off longer and longer) and
 * started again at the same address: its announcement makes job dial it at once. */
static void test_comet_restarted(void **state)
{
    (void)state;
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGKILL), 0);
    char status[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_COMET, 1, 20000, status, sizeof status));
    /* job redials after 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s (rpc.h): started after 3.5 s, the comet
     * would wait for the last one, far beyond the retries of a push (0.7 s) */
    proc_sleep_ms(3500);
    assert_int_equal(cluster_restart(g_c, CLUSTER_COMET, 1, false), 0);
    join_fresh_comet("restarted");
    printf("# a comet killed and restarted at its address just before the join: the push "
           "arrived\n");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        g_refresh = argv[1];
    printf("# job room.refresh = %s\n", g_refresh);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds),          cmocka_unit_test(test_crowd),
        cmocka_unit_test(test_job_restarted),   cmocka_unit_test(test_comet_started),
        cmocka_unit_test(test_comet_restarted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
