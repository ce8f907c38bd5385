/* test_idempotency.c - idempotency keys on the push routes, with real daemons: a push retried
 * with the same idempotency_key answers the first call's data and is neither stored nor
 * delivered again; another key, or the same key on another route, pushes anew; a bad key is
 * refused before anything runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define OP_BIZ 1000
#define PUSH_WAIT_MS 5000
#define SILENCE_MS 500
#define ROOM_WAIT_MS 10000

static cluster_t *g_c;

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1, .comet_workers = 2};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* POSTs path_query with body; asserts `status`; returns the reply (caller owns it). */
static json_t *post(const char *path_query, const char *body, int status)
{
    json_t *j = NULL;
    int got = cluster_http(g_c, "POST", path_query, body, &j);
    if (got != status)
        fail_msg("POST %s: status %d, wanted %d", path_query, got, status);
    assert_non_null(j);
    return j;
}

/* data[0].seq of a /goim/push/mids reply. */
static long long first_seq(const json_t *reply)
{
    json_t *data = json_object_get(reply, "data");
    assert_true(json_is_array(data));
    return json_integer_value(json_object_get(json_array_get(data, 0), "seq"));
}

static void test_mids_retry_delivered_once(void **state)
{
    (void)state;
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 701, NULL, OP_BIZ, NULL);
    const char *q = "/goim/push/mids?operation=1000&mids=701&idempotency_key=order-42";
    json_t *first = post(q, "once", 200);
    assert_int_equal(first_seq(first), 1);
    cluster_expect_packet(cl, "first push", OP_BIZ, 1, "once", PUSH_WAIT_MS);
    /* The retry answers what the first call answered: same seq, same online flag. */
    for (int i = 0; i < 3; i++) {
        json_t *again = post(q, "once", 200);
        assert_true(json_equal(json_object_get(first, "data"), json_object_get(again, "data")));
        json_decref(again);
    }
    /* Nothing was delivered or stored again: the next push is seq 2 and the first thing seen. */
    json_t *next =
        post("/goim/push/mids?operation=1000&mids=701&idempotency_key=order-43", "next", 200);
    assert_int_equal(first_seq(next), 2);
    cluster_expect_packet(cl, "next push", OP_BIZ, 2, "next", PUSH_WAIT_MS);
    cluster_expect_silence(cl, "after the retries", SILENCE_MS);
    /* A user who connects now finds two messages in the inbox, not four. */
    client_free(cl);
    char *token = cluster_issue_token(g_c, 701);
    int accepts[] = {OP_BIZ};
    char *auth = cluster_auth_body(token, NULL, accepts, 1);
    char err[256] = "";
    client_t *late = cluster_connect(g_c, 0, CLIENT_TCP, auth, NULL, err, sizeof(err));
    if (late == NULL)
        fail_msg("reconnect: %s", err);
    cluster_expect_packet(late, "backlog 1", OP_BIZ, 1, "once", PUSH_WAIT_MS);
    cluster_expect_packet(late, "backlog 2", OP_BIZ, 2, "next", PUSH_WAIT_MS);
    cluster_expect_silence(late, "backlog", SILENCE_MS);
    client_free(late);
    free(auth);
    free(token);
    json_decref(first);
    json_decref(next);
}

static void test_room_and_all_retry_delivered_once(void **state)
{
    (void)state;
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 702, "live://idem", OP_BIZ, NULL);
    cluster_wait_room(g_c, "live://idem", 1, ROOM_WAIT_MS);
    const char *rq = "/goim/push/room?operation=1000&type=live&room=idem&idempotency_key=r-1";
    for (int i = 0; i < 3; i++)
        json_decref(post(rq, "room once", 200));
    cluster_expect_packet(cl, "room push", OP_BIZ, CLUSTER_ANY_SEQ, "room once", PUSH_WAIT_MS);
    /* The same key on another route is another push. */
    const char *aq = "/goim/push/all?operation=1000&idempotency_key=r-1";
    for (int i = 0; i < 3; i++)
        json_decref(post(aq, "all once", 200));
    cluster_expect_packet(cl, "broadcast", OP_BIZ, CLUSTER_ANY_SEQ, "all once", PUSH_WAIT_MS);
    cluster_expect_silence(cl, "after the retries", SILENCE_MS);
    client_free(cl);
}

static void test_bad_keys_refused(void **state)
{
    (void)state;
    char long_key[200];
    memset(long_key, 'k', 129);
    long_key[129] = '\0';
    char q[400];
    const char *bad[] = {"", "with%20space", "tab%09", long_key};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(q, sizeof(q), "/goim/push/all?operation=1000&idempotency_key=%s", bad[i]);
        json_t *j = post(q, "never", 400);
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (msg == NULL || strstr(msg, "idempotency_key") == NULL)
            fail_msg("key %zu: message %s", i, msg ? msg : "(none)");
        json_decref(j);
    }
    /* 128 bytes is the longest accepted. */
    long_key[128] = '\0';
    snprintf(q, sizeof(q), "/goim/push/all?operation=1000&idempotency_key=%s", long_key);
    json_decref(post(q, "longest key", 200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mids_retry_delivered_once),
        cmocka_unit_test(test_room_and_all_retry_delivered_once),
        cmocka_unit_test(test_bad_keys_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
