/* test_im.c - IM on the push path with real processes (docs/im.md): users and login, private
 * and group messages sent upstream (op 4), upstream limits, duplicate-login policies, logout,
 * online users. One cluster (2 comets, 2 routers) for every test; each test registers its own
 * user names.
 *
 * Logic runs with login.duplicate_platforms = pc=kick-older,mobile=reject-newer (other
 * platforms: allow); comets with protocol.max_msg = 256 and protocol.upstream_rate = 5.
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

#define OP_CHAT 1000
#define WAIT_MS 5000
#define SILENCE_MS 500
#define ROOM_WAIT_MS 10000
#define MAX_MSG 256
#define RATE 5

static cluster_t *g_c;

static const char *const logic_env[] = {
    "HERALD_LOGIN_DUPLICATE_PLATFORMS=pc=kick-older,mobile=reject-newer",
    "HERALD_LOGIN_STRATEGY=round-robin", NULL};
static const char *const comet_env[] = {"HERALD_PROTOCOL_MAX_MSG=256",
                                        "HERALD_PROTOCOL_UPSTREAM_RATE=5", NULL};

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 2, .n_routers = 2, .comet_workers = 2};
    o.env[CLUSTER_LOGIC] = logic_env;
    o.env[CLUSTER_COMET] = comet_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------ helpers */

typedef struct login_s {
    int64_t mid;
    char token[64];
    int comet; /* index of the comet login chose */
} login_t;

static login_t login(const char *name, const char *platform)
{
    json_t *j = NULL;
    int status = cluster_login(g_c, name, CLUSTER_PASSWORD, platform, &j);
    if (status != 200)
        fail_msg("login %s: status %d", name, status);
    json_t *data = json_object_get(j, "data");
    login_t l = {.mid = json_integer_value(json_object_get(data, "mid")), .comet = -1};
    snprintf(l.token, sizeof(l.token), "%s", json_string_value(json_object_get(data, "token")));
    json_t *comet = json_object_get(data, "comet");
    const char *tcp = json_string_value(json_object_get(comet, "tcp"));
    const char *ws = json_string_value(json_object_get(comet, "ws"));
    assert_non_null(tcp);
    assert_non_null(ws);
    /* the cluster's comets have no TLS listener: the TLS addresses are there, empty */
    assert_string_equal(json_string_value(json_object_get(comet, "tls")), "");
    assert_string_equal(json_string_value(json_object_get(comet, "wss")), "");
    for (int i = 0; i < cluster_n_comets(g_c); i++) {
        char want[64], want_ws[80];
        snprintf(want, sizeof(want), "127.0.0.1:%d", cluster_comet_port(g_c, i, CLIENT_TCP));
        snprintf(want_ws, sizeof(want_ws), "ws://127.0.0.1:%d/sub",
                 cluster_comet_port(g_c, i, CLIENT_WS));
        if (strcmp(tcp, want) == 0 && strcmp(ws, want_ws) == 0)
            l.comet = i;
    }
    if (l.comet < 0)
        fail_msg("login %s: comet %s / %s is none of the cluster's", name, tcp, ws);
    json_decref(j);
    return l;
}

static char *auth_body(const login_t *l, const char *room, const char *platform)
{
    json_t *b = json_pack("{s:s,s:s,s:s,s:[i]}", "token", l->token, "room_id", room ? room : "",
                          "platform", platform, "accepts", OP_CHAT);
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

/* Connects a logged-in user to the comet login chose; asserts success. */
static client_t *connect_user(const login_t *l, const char *room, const char *platform)
{
    char *auth = auth_body(l, room, platform);
    char err[256] = "";
    client_t *cl = cluster_connect(g_c, l->comet, CLIENT_TCP, auth, NULL, err, sizeof(err));
    free(auth);
    if (cl == NULL)
        fail_msg("connect mid %lld: %s", (long long)l->mid, err);
    return cl;
}

static client_t *user(const char *name, const char *room, int64_t *mid)
{
    cluster_register_ok(g_c, name);
    login_t l = login(name, "test");
    if (mid)
        *mid = l.mid;
    return connect_user(&l, room, "test");
}

static int send_msg(client_t *cl, uint32_t seq, const char *body)
{
    return cluster_send_msg(cl, seq, body, WAIT_MS);
}

/* Asserts the next non-heartbeat packet is a chat message from `from` with msg text. */
static void expect_chat(client_t *cl, const char *who, int64_t from, const char *from_name,
                        const char *text)
{
    long long deadline = proc_now_ms() + WAIT_MS;
    client_packet_t p = {0};
    int rc;
    do {
        client_packet_free(&p);
        long long left = deadline - proc_now_ms();
        rc = client_recv(cl, &p, left > 0 ? (int)left : 0);
    } while (rc == 1 && p.op == 3);
    if (rc != 1)
        fail_msg("%s: no message \"%s\" (recv %d)", who, text, rc);
    json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
    if (p.op != OP_CHAT || j == NULL)
        fail_msg("%s: want op %d with JSON, got op %u body %.*s", who, OP_CHAT, p.op,
                 (int)p.body_len, (const char *)p.body);
    assert_int_equal(json_integer_value(json_object_get(j, "from")), from);
    assert_string_equal(json_string_value(json_object_get(j, "from_name")), from_name);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), text);
    json_decref(j);
    client_packet_free(&p);
}

static void heartbeat_ok(client_t *cl, const char *who)
{
    assert_int_equal(client_heartbeat(cl), 0);
    client_packet_t p = {0};
    int rc;
    do {
        client_packet_free(&p);
        rc = client_recv(cl, &p, WAIT_MS);
    } while (rc == 1 && p.op != 3);
    if (rc != 1)
        fail_msg("%s: connection not open after the error (recv %d)", who, rc);
    client_packet_free(&p);
}

/* ------------------------------------------------------------------------------- tests */

static void test_register_and_login(void **state)
{
    (void)state;
    int64_t a = cluster_register_ok(g_c, "im-alice"), b = cluster_register_ok(g_c, "im-bob");
    assert_int_not_equal(a, b);
    json_t *j = NULL;
    assert_int_equal(cluster_register(g_c, "im-alice", "another-password", NULL), 409);
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/users?name=12345", NULL, &j), 400);
    json_decref(j);
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/users?name=a%20b", NULL, &j), 400);
    json_decref(j);
    assert_int_equal(cluster_login(g_c, "im-nobody", CLUSTER_PASSWORD, NULL, &j), 401);
    json_decref(j);

    assert_int_equal(cluster_http(g_c, "GET", "/herald/v1/users?name=im-bob", NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "mid")), b);
    json_decref(j);
    char path[64];
    snprintf(path, sizeof(path), "/herald/v1/users?mid=%lld", (long long)a);
    assert_int_equal(cluster_http(g_c, "GET", path, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "name")),
                        "im-alice");
    json_decref(j);

    /* Round robin over two comets: two logins in a row get both. */
    login_t l1 = login("im-alice", "test"), l2 = login("im-alice", "test");
    assert_int_equal(l1.mid, a);
    assert_int_not_equal(l1.comet, l2.comet);
    assert_string_not_equal(l1.token, l2.token);
    client_t *cl = connect_user(&l1, NULL, "test");
    heartbeat_ok(cl, "alice");
    client_free(cl);
}

static void test_private_message(void **state)
{
    (void)state;
    int64_t amid, bmid, cmid;
    client_t *a = user("pm-alice", NULL, &amid);
    client_t *b = user("pm-bob", NULL, &bmid);
    client_t *c = user("pm-carol", NULL, &cmid);
    char body[128];
    snprintf(body, sizeof(body), "{\"to_mid\":%lld,\"op\":%d,\"msg\":\"hi bob\"}", (long long)bmid,
             OP_CHAT);
    assert_int_equal(send_msg(a, 7, body), 0);
    expect_chat(b, "bob", amid, "pm-alice", "hi bob");
    /* The sender is the connection's user, whatever the body claims. */
    snprintf(body, sizeof(body), "{\"to_mid\":%lld,\"from\":%lld,\"op\":%d,\"msg\":\"hi carol\"}",
             (long long)cmid, (long long)bmid, OP_CHAT);
    assert_int_equal(send_msg(a, 8, body), 0);
    expect_chat(c, "carol", amid, "pm-alice", "hi carol");
    cluster_expect_silence(b, "bob", SILENCE_MS);
    cluster_expect_silence(a, "alice", 0);
    client_free(a);
    client_free(b);
    client_free(c);
}

static void test_group_message(void **state)
{
    (void)state;
    int64_t amid;
    client_t *a = user("gm-alice", "live://im-g1", &amid);
    client_t *b = user("gm-bob", "live://im-g1", NULL);
    client_t *c = user("gm-carol", "live://im-g2", NULL);
    cluster_wait_room(g_c, "live://im-g1", 2, ROOM_WAIT_MS);
    cluster_wait_room(g_c, "live://im-g2", 1, ROOM_WAIT_MS);
    char body[128];
    snprintf(body, sizeof(body), "{\"to_room\":\"live://im-g1\",\"op\":%d,\"msg\":\"hello g1\"}",
             OP_CHAT);
    assert_int_equal(client_send(a, 4, 9, body, strlen(body)), 0);
    expect_chat(b, "bob", amid, "gm-alice", "hello g1");
    /* The sender is a member too: it gets its own message and the reply, in any order. */
    int got_reply = 0, got_own = 0;
    long long deadline = proc_now_ms() + WAIT_MS;
    while ((!got_reply || !got_own) && proc_now_ms() < deadline) {
        client_packet_t p = {0};
        if (client_recv(a, &p, 200) != 1)
            continue;
        if (p.op == 5 && p.seq == 9) {
            assert_non_null(strstr((const char *)p.body, "\"code\":0"));
            got_reply = 1;
        }
        got_own |= p.op == OP_CHAT && strstr((const char *)p.body, "hello g1") != NULL;
        client_packet_free(&p);
    }
    assert_true(got_reply && got_own);

    /* Not a member of g2: refused, and the connection stays open. */
    snprintf(body, sizeof(body), "{\"to_room\":\"live://im-g2\",\"op\":%d,\"msg\":\"intrude\"}",
             OP_CHAT);
    assert_int_equal(send_msg(a, 10, body), HERALD_EFORBIDDEN);
    heartbeat_ok(a, "alice");
    cluster_expect_silence(c, "carol", SILENCE_MS);
    client_free(a);
    client_free(b);
    client_free(c);
}

static void test_limits(void **state)
{
    (void)state;
    int64_t bmid;
    client_t *a = user("lim-alice", NULL, NULL);
    client_t *b = user("lim-bob", NULL, &bmid);
    char big[MAX_MSG + 64], text[MAX_MSG];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    snprintf(big, sizeof(big), "{\"to_mid\":%lld,\"op\":%d,\"msg\":\"%s\"}", (long long)bmid,
             OP_CHAT, text);
    assert_true(strlen(big) > MAX_MSG);
    assert_int_equal(send_msg(a, 1, big), HERALD_ETOOBIG);
    heartbeat_ok(a, "alice after too big");

    /* A burst over the rate: the first RATE pass, then HERALD_ERATE; the connection stays. */
    char body[128];
    snprintf(body, sizeof(body), "{\"to_mid\":%lld,\"op\":%d,\"msg\":\"r\"}", (long long)bmid,
             OP_CHAT);
    for (uint32_t i = 0; i < RATE + 3; i++)
        assert_int_equal(client_send(a, 4, 100 + i, body, strlen(body)), 0);
    /* Refusals are answered at once by the comet, so replies come back out of order. */
    int ok = 0, limited = 0, replies = 0;
    long long deadline = proc_now_ms() + WAIT_MS;
    while (replies < RATE + 3 && proc_now_ms() < deadline) {
        client_packet_t p = {0};
        if (client_recv(a, &p, 200) != 1)
            continue;
        if (p.op == 5 && p.seq >= 100 && p.seq < 100 + RATE + 3) {
            replies++;
            ok += strstr((const char *)p.body, "\"code\":0") != NULL;
            limited += strstr((const char *)p.body, "\"code\":-1103") != NULL;
        }
        client_packet_free(&p);
    }
    assert_int_equal(replies, RATE + 3);
    assert_true(ok >= 1 && ok <= RATE + 1);
    assert_true(limited >= 2);
    heartbeat_ok(a, "alice after the rate limit");
    client_free(a);
    client_free(b);
}

static void test_duplicate_login(void **state)
{
    (void)state;
    cluster_register_ok(g_c, "dup-pc");
    cluster_register_ok(g_c, "dup-mobile");
    cluster_register_ok(g_c, "dup-web");

    /* kick-older: the first pc connection is kicked when the second arrives, on any comet. */
    login_t l1 = login("dup-pc", "pc"), l2 = login("dup-pc", "pc");
    client_t *old = connect_user(&l1, NULL, "pc");
    client_t *newer = connect_user(&l2, NULL, "pc");
    client_packet_t p = {0};
    int rc;
    do {
        client_packet_free(&p);
        rc = client_recv(old, &p, WAIT_MS);
    } while (rc == 1 && p.op == 3);
    if (rc != 1 || p.op != 6)
        fail_msg("older pc connection: want op 6, got rc %d op %u", rc, p.op);
    client_packet_free(&p);
    cluster_expect_closed(old, "older pc", WAIT_MS);
    heartbeat_ok(newer, "newer pc");
    client_free(old);
    client_free(newer);

    /* reject-newer: the second mobile connection is refused; the first stays. */
    login_t m1 = login("dup-mobile", "mobile"), m2 = login("dup-mobile", "mobile");
    client_t *first = connect_user(&m1, NULL, "mobile");
    char *auth = auth_body(&m2, NULL, "mobile");
    char err[256] = "";
    json_t *reply = NULL;
    client_t *second = cluster_connect(g_c, m2.comet, CLIENT_TCP, auth, &reply, err, sizeof(err));
    free(auth);
    assert_null(second);
    assert_non_null(strstr(err, "-1101"));
    heartbeat_ok(first, "first mobile");
    /* Another platform of the same user is not a duplicate. */
    client_t *other = connect_user(&m2, NULL, "pc");
    heartbeat_ok(other, "pc next to mobile");
    client_free(other);
    client_free(first);

    /* allow (the default): both stay. */
    login_t w1 = login("dup-web", "web"), w2 = login("dup-web", "web");
    client_t *x = connect_user(&w1, NULL, "web"), *y = connect_user(&w2, NULL, "web");
    heartbeat_ok(x, "web 1");
    heartbeat_ok(y, "web 2");
    client_free(x);
    client_free(y);
}

static void test_logout(void **state)
{
    (void)state;
    cluster_register_ok(g_c, "lo-alice");
    login_t l1 = login("lo-alice", "test"), l2 = login("lo-alice", "test");
    client_t *a1 = connect_user(&l1, NULL, "test"), *a2 = connect_user(&l2, NULL, "test");
    char path[128];
    snprintf(path, sizeof(path), "/herald/v1/logout?token=%s", l1.token);
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "POST", path, NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "kicked")), 1);
    json_decref(j);
    client_packet_t p = {0};
    int rc;
    do {
        client_packet_free(&p);
        rc = client_recv(a1, &p, WAIT_MS);
    } while (rc == 1 && p.op == 3);
    if (rc != 1 || p.op != 6)
        fail_msg("logged out connection: want op 6, got rc %d op %u", rc, p.op);
    client_packet_free(&p);
    cluster_expect_closed(a1, "logged out", WAIT_MS);
    heartbeat_ok(a2, "the other token's connection");
    /* The token is gone: it cannot connect again, and a second logout is 401. */
    char *auth = auth_body(&l1, NULL, "test");
    char err[256];
    assert_null(cluster_connect(g_c, l1.comet, CLIENT_TCP, auth, NULL, err, sizeof(err)));
    free(auth);
    assert_int_equal(cluster_http(g_c, "POST", path, NULL, &j), 401);
    json_decref(j);
    client_free(a1);
    client_free(a2);
}

static void test_online_users(void **state)
{
    (void)state;
    int64_t m[3];
    client_t *cl[3];
    const char *names[3] = {"olu-a", "olu-b", "olu-c"};
    for (int i = 0; i < 3; i++)
        cl[i] = user(names[i], NULL, &m[i]);
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "GET", "/herald/v1/online/count", NULL, &j), 200);
    assert_true(json_integer_value(json_object_get(json_object_get(j, "data"), "users")) >= 3);
    json_decref(j);

    /* Page through everyone, two at a time: each of ours appears once, with its name. */
    int seen[3] = {0};
    long long cursor = 0;
    int pages = 0;
    do {
        char path[96];
        snprintf(path, sizeof(path), "/herald/v1/online/users?limit=2&cursor=%lld", cursor);
        assert_int_equal(cluster_http(g_c, "GET", path, NULL, &j), 200);
        json_t *data = json_object_get(j, "data"), *users = json_object_get(data, "users");
        assert_true(json_array_size(users) <= 2);
        size_t i;
        json_t *u;
        json_array_foreach(users, i, u)
        {
            int64_t mid = json_integer_value(json_object_get(u, "mid"));
            assert_true(mid > cursor);
            for (int k = 0; k < 3; k++)
                if (mid == m[k]) {
                    seen[k]++;
                    assert_string_equal(json_string_value(json_object_get(u, "name")), names[k]);
                }
        }
        cursor = json_integer_value(json_object_get(data, "next_cursor"));
        json_decref(j);
    } while (cursor != 0 && ++pages < 100);
    for (int k = 0; k < 3; k++)
        assert_int_equal(seen[k], 1);
    for (int i = 0; i < 3; i++)
        client_free(cl[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_login), cmocka_unit_test(test_private_message),
        cmocka_unit_test(test_group_message),      cmocka_unit_test(test_limits),
        cmocka_unit_test(test_duplicate_login),    cmocka_unit_test(test_logout),
        cmocka_unit_test(test_online_users),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
