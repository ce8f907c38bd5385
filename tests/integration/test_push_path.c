/* test_push_path.c - the whole push path with real processes: HTTP API -> logic -> Kafka -> job
 * -> comet -> TCP and WebSocket clients. One cluster (1 comet, 2 routers so users shard over
 * both) is shared by every test; each test uses its own user ids and rooms.
 *
 * "X does not get it" is proven by order where possible: after the message X must not get, X is
 * sent one it must get, and that has to be the first thing X receives; a short silence window
 * follows only as a second check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "herald_err.h"
#include "proc.h"

#define OP_BIZ 1000
#define OP_OTHER 2000
#define PUSH_WAIT_MS 5000
#define SILENCE_MS 500
#define ROOM_WAIT_MS 10000

static cluster_t *g_c;

static int group_setup(void **state)
{
    cluster_opts_t o = {.n_comets = 1, .n_routers = 2, .comet_workers = 2};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static void test_auth_tcp_and_ws(void **state)
{
    char *token = cluster_issue_token(g_c, 101);
    int accepts[] = {OP_BIZ};
    char *auth = cluster_auth_body(token, "live://auth", accepts, 1);
    char err[256] = "";
    json_t *reply = NULL;
    client_t *tcp = cluster_connect(g_c, 0, CLIENT_TCP, auth, &reply, err, sizeof(err));
    if (tcp == NULL)
        fail_msg("tcp auth: %s", err);
    assert_int_equal(json_integer_value(json_object_get(reply, "code")), 0);
    assert_int_equal(json_integer_value(json_object_get(reply, "mid")), 101);
    const char *key = json_string_value(json_object_get(reply, "key"));
    assert_non_null(key);
    assert_true(strlen(key) > 0);
    assert_string_equal(json_string_value(json_object_get(reply, "room_id")), "live://auth");
    assert_true(json_integer_value(json_object_get(reply, "heartbeat_ms")) > 0);
    char *tcp_key = strdup(key);
    json_decref(reply);

    client_t *ws = cluster_connect(g_c, 0, CLIENT_WS, auth, &reply, err, sizeof(err));
    if (ws == NULL)
        fail_msg("ws auth: %s", err);
    assert_int_equal(json_integer_value(json_object_get(reply, "code")), 0);
    assert_int_equal(json_integer_value(json_object_get(reply, "mid")), 101);
    key = json_string_value(json_object_get(reply, "key"));
    assert_non_null(key);
    assert_true(strlen(key) > 0);
    /* Two connections of one user are two placements: distinct keys. */
    assert_string_not_equal(key, tcp_key);
    json_decref(reply);

    free(tcp_key);
    free(auth);
    free(token);
    client_free(tcp);
    client_free(ws);
}

/* A refused auth: op 6 {"reason":"auth"} with a non-zero code, then the server closes the
 * connection. */
static void expect_refused(client_transport_t t, const char *auth)
{
    char err[256] = "";
    client_t *cl =
        client_connect(t, "127.0.0.1", cluster_comet_port(g_c, 0, t), 3000, err, sizeof(err));
    if (cl == NULL)
        fail_msg("connect: %s", err);
    client_packet_t p = {0};
    int rc = client_auth(cl, auth, &p, 5000);
    if (rc != HERALD_EAUTH || p.op != 6)
        fail_msg("auth %s over %s: want op 6 with an error code, got rc %d op %u body %.*s", auth,
                 cluster_transport_name(t), rc, p.op, (int)p.body_len,
                 p.body ? (const char *)p.body : "");
    json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
    json_t *code = json_object_get(j, "code");
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "auth");
    assert_true(json_is_integer(code));
    assert_int_not_equal(json_integer_value(code), 0);
    json_decref(j);
    client_packet_free(&p);
    cluster_expect_closed(cl, "refused client", 3000);
    client_free(cl);
}

static void test_bad_token_refused(void **state)
{
    int accepts[] = {OP_BIZ};
    char *auth = cluster_auth_body("no-such-token", "live://auth", accepts, 1);
    expect_refused(CLIENT_TCP, auth);
    expect_refused(CLIENT_WS, auth);
    free(auth);
    /* goim's token-less body is for auth.mode = insecure-mid only, which is off by default. */
    expect_refused(CLIENT_TCP, "{\"mid\":102,\"key\":\"\",\"room_id\":\"live://auth\","
                               "\"accepts\":[1000]}");
}

static void test_push_mids(void **state)
{
    client_t *a_tcp = cluster_user(g_c, 0, CLIENT_TCP, 301, NULL, OP_BIZ, NULL);
    client_t *a_ws = cluster_user(g_c, 0, CLIENT_WS, 301, NULL, OP_BIZ, NULL);
    client_t *b = cluster_user(g_c, 0, CLIENT_TCP, 302, NULL, OP_BIZ, NULL);
    int64_t a = 301, bmid = 302, both[] = {301, 302};

    cluster_push_mids(g_c, OP_BIZ, &a, 1, "hello");
    cluster_expect_packet(a_tcp, "a tcp", OP_BIZ, 1, "hello", PUSH_WAIT_MS);
    cluster_expect_packet(a_ws, "a ws", OP_BIZ, 1, "hello", PUSH_WAIT_MS);
    cluster_push_mids(g_c, OP_BIZ, &a, 1, "world");
    cluster_expect_packet(a_tcp, "a tcp", OP_BIZ, 2, "world", PUSH_WAIT_MS);
    cluster_expect_packet(a_ws, "a ws", OP_BIZ, 2, "world", PUSH_WAIT_MS);

    /* b's first packet must be its own: a's two pushes never reached it. */
    cluster_push_mids(g_c, OP_BIZ, &bmid, 1, "for-b");
    cluster_expect_packet(b, "b", OP_BIZ, 1, "for-b", PUSH_WAIT_MS);

    /* One request for two users: each gets it with its own sequence number. */
    cluster_push_mids(g_c, OP_BIZ, both, 2, "both");
    cluster_expect_packet(a_tcp, "a tcp", OP_BIZ, 3, "both", PUSH_WAIT_MS);
    cluster_expect_packet(a_ws, "a ws", OP_BIZ, 3, "both", PUSH_WAIT_MS);
    cluster_expect_packet(b, "b", OP_BIZ, 2, "both", PUSH_WAIT_MS);

    /* A push with an op the user does not accept is not delivered (goim's rule). */
    cluster_push_mids(g_c, OP_OTHER, &a, 1, "not-accepted");
    cluster_push_mids(g_c, OP_BIZ, &a, 1, "after");
    /* The refused push still took sequence number 4 (it is in the inbox); "after" is 5. */
    cluster_expect_packet(a_tcp, "a tcp", OP_BIZ, 5, "after", PUSH_WAIT_MS);
    cluster_expect_packet(a_ws, "a ws", OP_BIZ, 5, "after", PUSH_WAIT_MS);

    cluster_expect_silence(a_tcp, "a tcp", SILENCE_MS);
    cluster_expect_silence(a_ws, "a ws", 0);
    cluster_expect_silence(b, "b", 0);
    client_free(a_tcp);
    client_free(a_ws);
    client_free(b);
}

static void test_push_keys(void **state)
{
    char *k1 = NULL, *k2 = NULL, *k3 = NULL;
    client_t *c1 = cluster_user(g_c, 0, CLIENT_TCP, 401, NULL, OP_BIZ, &k1);
    client_t *c2 = cluster_user(g_c, 0, CLIENT_WS, 401, NULL, OP_BIZ, &k2);
    client_t *c3 = cluster_user(g_c, 0, CLIENT_TCP, 402, NULL, OP_BIZ, &k3);

    cluster_push_key(g_c, OP_BIZ, k1, "to-k1");
    cluster_expect_packet(c1, "key 1", OP_BIZ, CLUSTER_ANY_SEQ, "to-k1", PUSH_WAIT_MS);
    cluster_push_key(g_c, OP_BIZ, k2, "to-k2");
    cluster_expect_packet(c2, "key 2", OP_BIZ, CLUSTER_ANY_SEQ, "to-k2", PUSH_WAIT_MS);
    cluster_push_key(g_c, OP_BIZ, k3, "to-k3");
    cluster_expect_packet(c3, "key 3", OP_BIZ, CLUSTER_ANY_SEQ, "to-k3", PUSH_WAIT_MS);

    cluster_expect_silence(c1, "key 1", SILENCE_MS);
    cluster_expect_silence(c2, "key 2", 0);
    cluster_expect_silence(c3, "key 3", 0);
    free(k1);
    free(k2);
    free(k3);
    client_free(c1);
    client_free(c2);
    client_free(c3);
}

static void test_push_room(void **state)
{
    char *k_none = NULL;
    client_t *a1 = cluster_user(g_c, 0, CLIENT_TCP, 501, "live://r5a", OP_BIZ, NULL);
    client_t *a2 = cluster_user(g_c, 0, CLIENT_WS, 502, "live://r5a", OP_BIZ, NULL);
    client_t *b = cluster_user(g_c, 0, CLIENT_TCP, 503, "live://r5b", OP_BIZ, NULL);
    client_t *none = cluster_user(g_c, 0, CLIENT_TCP, 504, NULL, OP_BIZ, &k_none);
    cluster_wait_room(g_c, "live://r5a", 2, ROOM_WAIT_MS);
    cluster_wait_room(g_c, "live://r5b", 1, ROOM_WAIT_MS);

    cluster_push_room(g_c, OP_BIZ, "live://r5a", "ra");
    cluster_expect_packet(a1, "r5a tcp", OP_BIZ, 0, "ra", PUSH_WAIT_MS);
    cluster_expect_packet(a2, "r5a ws", OP_BIZ, 0, "ra", PUSH_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://r5b", "rb");
    cluster_expect_packet(b, "r5b", OP_BIZ, 0, "rb", PUSH_WAIT_MS);
    cluster_push_key(g_c, OP_BIZ, k_none, "marker");
    cluster_expect_packet(none, "no room", OP_BIZ, CLUSTER_ANY_SEQ, "marker", PUSH_WAIT_MS);

    /* Room pushes ignore accepts (goim's rule). */
    cluster_push_room(g_c, OP_OTHER, "live://r5b", "rb-other");
    cluster_expect_packet(b, "r5b", OP_OTHER, 0, "rb-other", PUSH_WAIT_MS);

    cluster_expect_silence(a1, "r5a tcp", SILENCE_MS);
    cluster_expect_silence(a2, "r5a ws", 0);
    cluster_expect_silence(b, "r5b", 0);
    cluster_expect_silence(none, "no room", 0);
    free(k_none);
    client_free(a1);
    client_free(a2);
    client_free(b);
    client_free(none);
}

static void test_push_all(void **state)
{
    client_t *x = cluster_user(g_c, 0, CLIENT_TCP, 601, NULL, OP_BIZ, NULL);
    client_t *y = cluster_user(g_c, 0, CLIENT_WS, 602, NULL, OP_OTHER, NULL);
    client_t *z = cluster_user(g_c, 0, CLIENT_TCP, 603, "live://r6", OP_BIZ, NULL);

    cluster_push_all(g_c, OP_BIZ, "all-1000");
    cluster_expect_packet(x, "x accepts 1000", OP_BIZ, 0, "all-1000", PUSH_WAIT_MS);
    cluster_expect_packet(z, "z accepts 1000", OP_BIZ, 0, "all-1000", PUSH_WAIT_MS);
    cluster_push_all(g_c, OP_OTHER, "all-2000");
    cluster_expect_packet(y, "y accepts 2000", OP_OTHER, 0, "all-2000", PUSH_WAIT_MS);

    cluster_expect_silence(x, "x accepts 1000", SILENCE_MS);
    cluster_expect_silence(y, "y accepts 2000", 0);
    cluster_expect_silence(z, "z accepts 1000", 0);
    client_free(x);
    client_free(y);
    client_free(z);
}

static void test_heartbeat_room_count(void **state)
{
    client_t *a = cluster_user(g_c, 0, CLIENT_TCP, 701, "live://hb7", OP_BIZ, NULL);
    client_t *b = cluster_user(g_c, 0, CLIENT_WS, 702, "live://hb7", OP_BIZ, NULL);
    client_t *c = cluster_user(g_c, 0, CLIENT_TCP, 703, "live://hb7", OP_BIZ, NULL);
    client_t *d = cluster_user(g_c, 0, CLIENT_TCP, 704, "live://hb7b", OP_BIZ, NULL);

    cluster_expect_room_count(a, "hb7 tcp", 3, 10000);
    cluster_expect_room_count(b, "hb7 ws", 3, 3000);
    cluster_expect_room_count(d, "hb7b", 1, 3000);

    /* A member leaves: the count follows. */
    client_free(c);
    cluster_expect_room_count(a, "hb7 tcp", 2, 10000);
    client_free(a);
    client_free(b);
    client_free(d);
}

static void test_change_room(void **state)
{
    client_t *mover = cluster_user(g_c, 0, CLIENT_TCP, 801, "live://c8a", OP_BIZ, NULL);
    client_t *stay = cluster_user(g_c, 0, CLIENT_WS, 802, "live://c8a", OP_BIZ, NULL);
    cluster_wait_room(g_c, "live://c8a", 2, ROOM_WAIT_MS);

    const char *room = "live://c8b";
    assert_int_equal(client_send(mover, 12, 7, room, strlen(room)), 0);
    cluster_expect_packet(mover, "mover", 13, CLUSTER_ANY_SEQ, room, PUSH_WAIT_MS);
    cluster_wait_room(g_c, "live://c8b", 1, ROOM_WAIT_MS);
    cluster_wait_room(g_c, "live://c8a", 1, ROOM_WAIT_MS);

    cluster_push_room(g_c, OP_BIZ, "live://c8a", "old");
    cluster_expect_packet(stay, "stayer", OP_BIZ, 0, "old", PUSH_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://c8b", "new");
    cluster_expect_packet(mover, "mover", OP_BIZ, 0, "new", PUSH_WAIT_MS);
    cluster_expect_silence(mover, "mover", SILENCE_MS);
    cluster_expect_silence(stay, "stayer", 0);
    client_free(mover);
    client_free(stay);
}

/* Sub / unsub (op 14 / 16) change which ops reach the connection by user id (goim's rule). */
static void test_sub_unsub_ops(void **state)
{
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 851, NULL, OP_BIZ, NULL);
    int64_t mid = 851;
    assert_int_equal(client_send(cl, 14, 1, "2000", 4), 0);
    cluster_expect_packet(cl, "subscriber", 15, CLUSTER_ANY_SEQ, "2000", PUSH_WAIT_MS);
    cluster_push_mids(g_c, OP_OTHER, &mid, 1, "op-2000");
    cluster_expect_packet(cl, "subscriber", OP_OTHER, 1, "op-2000", PUSH_WAIT_MS);

    assert_int_equal(client_send(cl, 16, 2, "2000", 4), 0);
    cluster_expect_packet(cl, "subscriber", 17, CLUSTER_ANY_SEQ, "2000", PUSH_WAIT_MS);
    cluster_push_mids(g_c, OP_OTHER, &mid, 1, "op-2000-again");
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "op-1000");
    /* Same user, same Kafka key: in order, so op 1000 (seq 3) arriving first proves the op 2000
     * push (seq 2) was filtered out. */
    cluster_expect_packet(cl, "subscriber", OP_BIZ, 3, "op-1000", PUSH_WAIT_MS);
    cluster_expect_silence(cl, "subscriber", SILENCE_MS);
    client_free(cl);
}

/* Writes a raw 16-byte header (and no body) on an authenticated connection: the comet must
 * close that connection. */
static void malformed_victim(client_transport_t t, int64_t mid, uint32_t pack_len,
                             uint16_t header_len, const char *what)
{
    client_t *v = cluster_user(g_c, 0, t, mid, "live://r9", OP_BIZ, NULL);
    uint8_t h[16] = {0};
    h[0] = (uint8_t)(pack_len >> 24);
    h[1] = (uint8_t)(pack_len >> 16);
    h[2] = (uint8_t)(pack_len >> 8);
    h[3] = (uint8_t)pack_len;
    h[4] = (uint8_t)(header_len >> 8);
    h[5] = (uint8_t)header_len;
    h[7] = 1;  /* ver */
    h[11] = 2; /* op heartbeat */
    int rc = client_send_raw(v, h, sizeof(h));
    if (rc != 0)
        fail_msg("%s: send failed %d", what, rc);
    cluster_expect_closed(v, what, 3000);
    client_free(v);
}

static void test_malformed_packets(void **state)
{
    client_t *bystander = cluster_user(g_c, 0, CLIENT_TCP, 909, "live://r9", OP_BIZ, NULL);
    malformed_victim(CLIENT_TCP, 901, 16, 17, "tcp headerLen 17");
    malformed_victim(CLIENT_TCP, 902, 15, 16, "tcp packLen 15");
    malformed_victim(CLIENT_TCP, 903, 0xFFFFFFFFu, 16, "tcp packLen 4G");
    malformed_victim(CLIENT_TCP, 904, 16 + 4097, 16, "tcp body over max");
    malformed_victim(CLIENT_WS, 905, 16, 17, "ws headerLen 17");
    malformed_victim(CLIENT_WS, 906, 0x7FFFFFFFu, 16, "ws packLen 2G");

    /* Garbage before any auth. */
    char err[256];
    client_t *g = client_connect(CLIENT_TCP, "127.0.0.1", cluster_comet_port(g_c, 0, CLIENT_TCP),
                                 3000, err, sizeof(err));
    assert_non_null(g);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(client_send_raw(g, junk, sizeof(junk) - 1), 0);
    cluster_expect_closed(g, "garbage before auth", 3000);
    client_free(g);

    int64_t mid = 909;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "still-here");
    cluster_expect_packet(bystander, "bystander", OP_BIZ, 1, "still-here", PUSH_WAIT_MS);
    cluster_wait_room(g_c, "live://r9", 1, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://r9", "room-still-here");
    cluster_expect_packet(bystander, "bystander", OP_BIZ, 0, "room-still-here", PUSH_WAIT_MS);
    client_free(bystander);
}

/* logic shards users over the two routers: both hold some of them, together all of them, and
 * one push to every user finds each, whichever router holds it. */
static void test_users_shard_over_routers(void **state)
{
    enum { N = 20 };
    client_t *cl[N];
    int64_t mids[N];
    for (int i = 0; i < N; i++) {
        mids[i] = 1101 + i;
        cl[i] = cluster_user(g_c, 0, i % 2 ? CLIENT_WS : CLIENT_TCP, mids[i], NULL, OP_BIZ, NULL);
    }
    /* Clients of earlier tests are gone once their Disconnect reached the routers: wait for
     * exactly these N users, bounded. */
    long long u0 = -1, u1 = -1, deadline = proc_now_ms() + 5000;
    for (;;) {
        bool ok0 = cluster_metric(cluster_router_admin_port(g_c, 0), "/metrics", "users", &u0);
        bool ok1 = cluster_metric(cluster_router_admin_port(g_c, 1), "/metrics", "users", &u1);
        assert_true(ok0 && ok1);
        if (u0 + u1 == N)
            break;
        if (proc_now_ms() >= deadline)
            fail_msg("routers hold %lld + %lld users, want %d in all", u0, u1, N);
        proc_sleep_ms(100);
    }
    if (u0 == 0 || u1 == 0)
        fail_msg("all %d users on one router (%lld / %lld): no sharding", N, u0, u1);
    print_message("users per router: %lld / %lld\n", u0, u1);

    cluster_push_mids(g_c, OP_BIZ, mids, N, "everyone");
    for (int i = 0; i < N; i++) {
        char who[32];
        snprintf(who, sizeof(who), "mid %lld", (long long)mids[i]);
        cluster_expect_packet(cl[i], who, OP_BIZ, 1, "everyone", PUSH_WAIT_MS);
    }
    for (int i = 0; i < N; i++)
        client_free(cl[i]);
}

/* A bad request: 4xx, a JSON reply with a non-zero code and a message. */
static void expect_bad_request(const char *method, const char *path, const char *body, int want)
{
    json_t *j = NULL;
    int st = cluster_http(g_c, method, path, body, &j);
    if (st != want) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("%s %s: want status %d, got %d (%s)", method, path, want, st,
                 dump ? dump : "not JSON");
    }
    json_t *code = json_object_get(j, "code");
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (!json_is_integer(code) || json_integer_value(code) == 0 || msg == NULL || !*msg)
        fail_msg("%s %s: status %d but no error code and message in the reply", method, path, st);
    json_decref(j);
}

static long long kafka_produced(void)
{
    long long v = -1;
    if (!cluster_metric(cluster_logic_http_port(g_c), "/herald/v1/metrics", "kafka_produced", &v))
        fail_msg("logic GET /herald/v1/metrics has no integer \"kafka_produced\"");
    return v;
}

static void test_bad_http_requests(void **state)
{
    long long before = kafka_produced();
    expect_bad_request("POST", "/goim/push/mids?mids=1001", "x", 400);
    expect_bad_request("POST", "/goim/push/mids?operation=abc&mids=1001", "x", 400);
    expect_bad_request("POST", "/goim/push/mids?operation=1000&mids=abc", "x", 400);
    expect_bad_request("POST", "/goim/push/mids?operation=1000&mids=12x", "x", 400);
    expect_bad_request("POST", "/goim/push/mids?operation=1000", "x", 400);
    expect_bad_request("POST", "/goim/push/keys?operation=1000", "x", 400);
    expect_bad_request("POST", "/goim/push/room?operation=1000&type=live&room=", "x", 400);
    expect_bad_request("POST", "/goim/push/room?operation=1000&type=live", "x", 400);
    expect_bad_request("POST", "/goim/push/all?speed=0", "x", 400);
    expect_bad_request("POST", "/herald/v1/tokens?mid=abc", NULL, 400);

    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "GET", "/goim/no/such/route", NULL, &j), 404);
    json_decref(j);
    assert_int_equal(cluster_http(g_c, "POST", "/nothing", "x", &j), 404);
    json_decref(j);

    assert_int_equal(kafka_produced(), before);
    /* And a good request does reach Kafka: the counter is live. (The user must be online: a
     * push to an offline user only goes to the inbox, and nothing to Kafka.) */
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 1001, NULL, OP_BIZ, NULL);
    int64_t mid = 1001;
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "counted");
    cluster_expect_packet(cl, "online user", OP_BIZ, 1, "counted", PUSH_WAIT_MS);
    assert_true(kafka_produced() > before);
    client_free(cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_tcp_and_ws),
        cmocka_unit_test(test_bad_token_refused),
        cmocka_unit_test(test_push_mids),
        cmocka_unit_test(test_push_keys),
        cmocka_unit_test(test_push_room),
        cmocka_unit_test(test_push_all),
        cmocka_unit_test(test_heartbeat_room_count),
        cmocka_unit_test(test_change_room),
        cmocka_unit_test(test_sub_unsub_ops),
        cmocka_unit_test(test_malformed_packets),
        cmocka_unit_test(test_users_shard_over_routers),
        cmocka_unit_test(test_bad_http_requests),
    };
    int failed = cmocka_run_group_tests_name("push_path", tests, group_setup, NULL);
    if (cluster_stop(g_c, failed != 0) != 0)
        failed++;
    return failed ? 1 : 0;
}
