/* test_two_comets.c - pushes across two comets: room pushes reach members on both, a user
 * connected to both gets user pushes on both, room counts are summed over both. One cluster
 * (2 comets, 1 router) shared by every test; each test has its own user ids and rooms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>

#include "cluster.h"

#define OP_BIZ 1000
#define PUSH_WAIT_MS 5000
#define SILENCE_MS 500
#define ROOM_WAIT_MS 10000

static cluster_t *g_c;

static int group_setup(void **state)
{
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1, .comet_workers = 2};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static void test_room_push_reaches_both_comets(void **state)
{
    client_t *a = cluster_user(g_c, 0, CLIENT_TCP, 1101, "live://t2", OP_BIZ, NULL);
    client_t *b = cluster_user(g_c, 1, CLIENT_WS, 1102, "live://t2", OP_BIZ, NULL);
    client_t *b2 = cluster_user(g_c, 1, CLIENT_TCP, 1103, "live://t2", OP_BIZ, NULL);
    client_t *other = cluster_user(g_c, 1, CLIENT_TCP, 1104, "live://t2-other", OP_BIZ, NULL);
    cluster_wait_room(g_c, "live://t2", 3, ROOM_WAIT_MS);
    cluster_wait_room(g_c, "live://t2-other", 1, ROOM_WAIT_MS);

    cluster_push_room(g_c, OP_BIZ, "live://t2", "room-both");
    cluster_expect_packet(a, "comet 0 member", OP_BIZ, 0, "room-both", PUSH_WAIT_MS);
    cluster_expect_packet(b, "comet 1 ws member", OP_BIZ, 0, "room-both", PUSH_WAIT_MS);
    cluster_expect_packet(b2, "comet 1 tcp member", OP_BIZ, 0, "room-both", PUSH_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://t2-other", "room-other");
    cluster_expect_packet(other, "other room", OP_BIZ, 0, "room-other", PUSH_WAIT_MS);

    /* Several room pushes in a row arrive once each and in order on both comets (job may batch
     * them into one op 9, which the client unpacks). */
    const char *msgs[] = {"m1", "m2", "m3", "m4"};
    for (int i = 0; i < 4; i++)
        cluster_push_room(g_c, OP_BIZ, "live://t2", msgs[i]);
    for (int i = 0; i < 4; i++) {
        cluster_expect_packet(a, "comet 0 member", OP_BIZ, 0, msgs[i], PUSH_WAIT_MS);
        cluster_expect_packet(b, "comet 1 ws member", OP_BIZ, 0, msgs[i], PUSH_WAIT_MS);
        cluster_expect_packet(b2, "comet 1 tcp member", OP_BIZ, 0, msgs[i], PUSH_WAIT_MS);
    }

    cluster_expect_silence(a, "comet 0 member", SILENCE_MS);
    cluster_expect_silence(b, "comet 1 ws member", 0);
    cluster_expect_silence(b2, "comet 1 tcp member", 0);
    cluster_expect_silence(other, "other room", 0);
    client_free(a);
    client_free(b);
    client_free(b2);
    client_free(other);
}

static void test_user_on_both_comets(void **state)
{
    client_t *on0 = cluster_user(g_c, 0, CLIENT_TCP, 1201, NULL, OP_BIZ, NULL);
    client_t *on1 = cluster_user(g_c, 1, CLIENT_WS, 1201, NULL, OP_BIZ, NULL);
    client_t *else1 = cluster_user(g_c, 1, CLIENT_TCP, 1202, NULL, OP_BIZ, NULL);
    int64_t mid = 1201, other = 1202;

    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "to-both");
    cluster_expect_packet(on0, "user on comet 0", OP_BIZ, 1, "to-both", PUSH_WAIT_MS);
    cluster_expect_packet(on1, "user on comet 1", OP_BIZ, 1, "to-both", PUSH_WAIT_MS);
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "again");
    cluster_expect_packet(on0, "user on comet 0", OP_BIZ, 2, "again", PUSH_WAIT_MS);
    cluster_expect_packet(on1, "user on comet 1", OP_BIZ, 2, "again", PUSH_WAIT_MS);
    cluster_push_mids(g_c, OP_BIZ, &other, 1, "for-other");
    cluster_expect_packet(else1, "other user", OP_BIZ, 1, "for-other", PUSH_WAIT_MS);

    cluster_expect_silence(on0, "user on comet 0", SILENCE_MS);
    cluster_expect_silence(on1, "user on comet 1", 0);
    cluster_expect_silence(else1, "other user", 0);
    client_free(on0);
    client_free(on1);
    client_free(else1);
}

static void test_key_push_and_broadcast_on_both(void **state)
{
    char *k1 = NULL;
    client_t *on0 = cluster_user(g_c, 0, CLIENT_TCP, 1301, NULL, OP_BIZ, NULL);
    client_t *on1 = cluster_user(g_c, 1, CLIENT_TCP, 1302, NULL, OP_BIZ, &k1);

    cluster_push_key(g_c, OP_BIZ, k1, "key-on-1");
    cluster_expect_packet(on1, "key on comet 1", OP_BIZ, CLUSTER_ANY_SEQ, "key-on-1", PUSH_WAIT_MS);
    cluster_push_all(g_c, OP_BIZ, "all");
    cluster_expect_packet(on0, "comet 0", OP_BIZ, 0, "all", PUSH_WAIT_MS);
    cluster_expect_packet(on1, "comet 1", OP_BIZ, 0, "all", PUSH_WAIT_MS);
    cluster_expect_silence(on0, "comet 0", SILENCE_MS);
    cluster_expect_silence(on1, "comet 1", 0);
    free(k1);
    client_free(on0);
    client_free(on1);
}

static void test_room_count_sums_comets(void **state)
{
    client_t *a = cluster_user(g_c, 0, CLIENT_TCP, 1401, "live://hb2", OP_BIZ, NULL);
    client_t *b = cluster_user(g_c, 1, CLIENT_TCP, 1402, "live://hb2", OP_BIZ, NULL);
    client_t *c = cluster_user(g_c, 1, CLIENT_WS, 1403, "live://hb2", OP_BIZ, NULL);

    cluster_expect_room_count(a, "comet 0", 3, 10000);
    cluster_expect_room_count(b, "comet 1 tcp", 3, 3000);
    cluster_expect_room_count(c, "comet 1 ws", 3, 3000);
    /* Both comets renewed with these clients: each has connections from 127.0.0.1 only, so each
     * reports one distinct address and logic sums them (goim's ip_count). */
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "GET", "/goim/online/total", NULL, &j), 200);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_integer_value(json_object_get(data, "ip_count")), 2);
    assert_true(json_integer_value(json_object_get(data, "conn_count")) >= 3);
    json_decref(j);
    client_free(a);
    client_free(b);
    client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_room_push_reaches_both_comets),
        cmocka_unit_test(test_user_on_both_comets),
        cmocka_unit_test(test_key_push_and_broadcast_on_both),
        cmocka_unit_test(test_room_count_sums_comets),
    };
    int failed = cmocka_run_group_tests_name("two_comets", tests, group_setup, NULL);
    if (cluster_stop(g_c, failed != 0) != 0)
        failed++;
    return failed ? 1 : 0;
}
