/* test_room_members.c - GET /herald/v1/rooms/members with real processes (docs/im.md): users on
 * two comets (two workers each) in one room, one of them with connections on both comets, a
 * business user id without an account, another room next door. The answer lists exactly the
 * room's distinct users, ascending, with names and connection counts; limit cuts and says so;
 * bad parameters are 400; a user who changes room (op 12) or disconnects leaves the list; a comet
 * that is stopped or killed (still in the registry) makes the answer incomplete, not an error.
 * The tests run in order on one cluster (2 comets, 1 router).
 */
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

#define ROOM "live://rm-lobby"
#define ROOM_Q "live%3A%2F%2Frm-lobby"
#define OTHER "live://rm-other"
#define OTHER_Q "live%3A%2F%2Frm-other"
#define BIZ_MID 900000001 /* a business id: below login.id_base, no account */
#define WAIT_MS 5000
#define RECOVER_WAIT_MS 15000

static cluster_t *g_c;
static int64_t g_alice, g_bob, g_carol;
/* alice: two connections on comet 0, one on comet 1; bob: comet 1; BIZ_MID: comet 0; all in
 * ROOM. carol: comet 0 in OTHER. */
static client_t *g_alice0a, *g_alice0b, *g_alice1, *g_bob1, *g_biz0, *g_carol0;

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1, .comet_workers = 2};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    client_t *all[] = {g_alice0a, g_alice0b, g_alice1, g_bob1, g_biz0, g_carol0};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        client_free(all[i]);
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* GET rooms/members with this query; returns the status and the reply's data (caller's). */
static int members(const char *query, json_t **data)
{
    char path[600];
    snprintf(path, sizeof(path), "/herald/v1/rooms/members?%s", query);
    json_t *j = NULL;
    int status = cluster_http(g_c, "GET", path, NULL, &j);
    *data = json_incref(json_object_get(j, "data"));
    if (status != 200 && status > 0) {
        assert_int_equal(json_integer_value(json_object_get(j, "code")), -400);
        assert_non_null(json_string_value(json_object_get(j, "message")));
    }
    json_decref(j);
    return status;
}

/* The answer in one line: "<mid>/<name or null>/<conns>,... conns=N complete=B truncated=B". */
static void render(const json_t *data, char *out, size_t cap)
{
    size_t len = 0, i;
    json_t *u;
    out[0] = '\0';
    json_array_foreach(json_object_get(data, "users"), i, u)
    {
        const char *name = json_string_value(json_object_get(u, "name"));
        len += (size_t)snprintf(out + len, cap - len, "%s%lld/%s/%lld", i ? "," : "",
                                (long long)json_integer_value(json_object_get(u, "mid")),
                                name ? name : "null",
                                (long long)json_integer_value(json_object_get(u, "conns")));
        assert_true(len < cap);
    }
    snprintf(out + len, cap - len, " conns=%lld complete=%d truncated=%d",
             (long long)json_integer_value(json_object_get(data, "conns")),
             json_is_true(json_object_get(data, "complete")),
             json_is_true(json_object_get(data, "truncated")));
}

/* Asks until the rendered answer is `want` (comets see a disconnect a moment after the client
 * closes); fails with the last answer after timeout_ms. */
static void expect_members(const char *query, const char *want, int timeout_ms)
{
    char got[1024] = "";
    long long deadline = proc_now_ms() + timeout_ms;
    for (;;) {
        json_t *data = NULL;
        int status = members(query, &data);
        if (status != 200)
            fail_msg("rooms/members?%s: status %d", query, status);
        render(data, got, sizeof(got));
        json_decref(data);
        if (strcmp(got, want) == 0)
            return;
        if (proc_now_ms() > deadline)
            fail_msg("rooms/members?%s:\n  want %s\n  got  %s", query, want, got);
        proc_sleep_ms(100);
    }
}

static void test_members_of_a_room(void **state)
{
    (void)state;
    g_alice = cluster_register_ok(g_c, "rm-alice");
    g_bob = cluster_register_ok(g_c, "rm-bob");
    g_carol = cluster_register_ok(g_c, "rm-carol");
    g_alice0a = cluster_user(g_c, 0, CLIENT_TCP, g_alice, ROOM, 0, NULL);
    g_alice0b = cluster_user(g_c, 0, CLIENT_WS, g_alice, ROOM, 0, NULL);
    g_alice1 = cluster_user(g_c, 1, CLIENT_TCP, g_alice, ROOM, 0, NULL);
    g_bob1 = cluster_user(g_c, 1, CLIENT_TCP, g_bob, ROOM, 0, NULL);
    g_biz0 = cluster_user(g_c, 0, CLIENT_TCP, BIZ_MID, ROOM, 0, NULL);
    g_carol0 = cluster_user(g_c, 0, CLIENT_TCP, g_carol, OTHER, 0, NULL);

    char want[512];
    snprintf(want, sizeof(want),
             "%d/null/1,%lld/rm-alice/3,%lld/rm-bob/1 conns=5 complete=1 truncated=0", BIZ_MID,
             (long long)g_alice, (long long)g_bob);
    expect_members("room=" ROOM_Q, want, 0);
    expect_members("room=" ROOM_Q "&limit=3", want, 0);
    snprintf(want, sizeof(want), "%lld/rm-carol/1 conns=1 complete=1 truncated=0",
             (long long)g_carol);
    expect_members("room=" OTHER_Q, want, 0);
    expect_members("room=live%3A%2F%2Frm-nobody", " conns=0 complete=1 truncated=0", 0);

    /* The reply's room is the room asked for, unencoded. */
    json_t *data = NULL;
    assert_int_equal(members("room=" ROOM_Q, &data), 200);
    assert_string_equal(json_string_value(json_object_get(data, "room")), ROOM);
    json_decref(data);
}

static void test_limit_truncates(void **state)
{
    (void)state;
    char want[512];
    snprintf(want, sizeof(want), "%d/null/1,%lld/rm-alice/3 conns=5 complete=1 truncated=1",
             BIZ_MID, (long long)g_alice);
    expect_members("room=" ROOM_Q "&limit=2", want, 0);
    snprintf(want, sizeof(want), "%d/null/1 conns=5 complete=1 truncated=1", BIZ_MID);
    expect_members("room=" ROOM_Q "&limit=1", want, 0);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    char long_room[300 + 8] = "room=";
    memset(long_room + 5, 'x', 256);
    long_room[5 + 256] = '\0';
    const char *bad[] = {
        "",                        /* no room */
        "room=",                   /* empty room */
        "room=a%01b",              /* control character */
        "room=a%7Fb",              /* DEL */
        long_room,                 /* 256 bytes */
        "room=" ROOM_Q "&limit=0", /* limit out of range */
        "room=" ROOM_Q "&limit=1001",
        "room=" ROOM_Q "&limit=-1",
        "room=" ROOM_Q "&limit=ten",
        "room=" ROOM_Q "&limit=5x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *data = NULL;
        int status = members(bad[i], &data);
        json_decref(data);
        if (status != 400)
            fail_msg("rooms/members?%.40s: status %d, want 400", bad[i], status);
    }
    /* 255 bytes is still a room id (an empty one here). */
    long_room[5 + 255] = '\0';
    json_t *data = NULL;
    assert_int_equal(members(long_room, &data), 200);
    json_decref(data);
}

static void test_change_room_and_disconnect(void **state)
{
    (void)state;
    /* bob moves to the other room (op 12, answered with op 13). */
    assert_int_equal(client_send(g_bob1, 12, 5, OTHER, strlen(OTHER)), 0);
    cluster_expect_packet(g_bob1, "bob", 13, 5, OTHER, WAIT_MS);
    char want[512];
    snprintf(want, sizeof(want), "%d/null/1,%lld/rm-alice/3 conns=4 complete=1 truncated=0",
             BIZ_MID, (long long)g_alice);
    expect_members("room=" ROOM_Q, want, 0);
    snprintf(want, sizeof(want), "%lld/rm-bob/1,%lld/rm-carol/1 conns=2 complete=1 truncated=0",
             (long long)g_bob, (long long)g_carol);
    expect_members("room=" OTHER_Q, want, 0);

    /* alice's connections go one by one: her count drops, then she is gone. */
    client_free(g_alice1);
    g_alice1 = NULL;
    snprintf(want, sizeof(want), "%d/null/1,%lld/rm-alice/2 conns=3 complete=1 truncated=0",
             BIZ_MID, (long long)g_alice);
    expect_members("room=" ROOM_Q, want, WAIT_MS);
    client_free(g_alice0a);
    client_free(g_alice0b);
    g_alice0a = g_alice0b = NULL;
    snprintf(want, sizeof(want), "%d/null/1 conns=1 complete=1 truncated=0", BIZ_MID);
    expect_members("room=" ROOM_Q, want, WAIT_MS);
}

static void test_comet_not_answering(void **state)
{
    (void)state;
    char want[512];
    /* A stopped comet keeps its connections but answers nothing: the call times out. */
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGSTOP), 0);
    snprintf(want, sizeof(want), "%lld/rm-carol/1 conns=1 complete=0 truncated=0",
             (long long)g_carol);
    long long t0 = proc_now_ms();
    expect_members("room=" OTHER_Q, want, 0);
    print_message("stopped comet: answered in %lld ms\n", proc_now_ms() - t0);
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGCONT), 0);
    snprintf(want, sizeof(want), "%lld/rm-bob/1,%lld/rm-carol/1 conns=2 complete=1 truncated=0",
             (long long)g_bob, (long long)g_carol);
    expect_members("room=" OTHER_Q, want, WAIT_MS);

    /* A killed comet stays in the registry until its entry expires; logic cannot reach it. */
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGKILL), 0);
    char st[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_COMET, 1, WAIT_MS, st, sizeof(st)));
    client_free(g_bob1);
    g_bob1 = NULL;
    snprintf(want, sizeof(want), "%lld/rm-carol/1 conns=1 complete=0 truncated=0",
             (long long)g_carol);
    expect_members("room=" OTHER_Q, want, 0);
    snprintf(want, sizeof(want), "%d/null/1 conns=1 complete=0 truncated=0", BIZ_MID);
    expect_members("room=" ROOM_Q, want, 0);

    /* Back again (same id and address): the answer is complete once logic reconnects. */
    assert_int_equal(cluster_restart(g_c, CLUSTER_COMET, 1, true), 0);
    snprintf(want, sizeof(want), "%lld/rm-carol/1 conns=1 complete=1 truncated=0",
             (long long)g_carol);
    expect_members("room=" OTHER_Q, want, RECOVER_WAIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_of_a_room),
        cmocka_unit_test(test_limit_truncates),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_change_room_and_disconnect),
        cmocka_unit_test(test_comet_not_answering),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
