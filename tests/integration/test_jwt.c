/* test_jwt.c - client authentication by JWT and protected rooms with real processes
 * (docs/security.md "Client authentication: tokens and JWT", "Protected rooms"). One cluster
 * (1 comet, 1 router) whose logic runs auth.mode = both with an HS256 secret and an RSA public
 * key file, and room.join = token:
 * - good HS256 and RS256 JWTs connect and receive a push to their sub; an opaque token still
 *   works (mode both);
 * - expired, wrongly signed, alg none, ES256 (no EC key configured) and HS256-signed-with-the-
 *   public-key JWTs are answered op 6 {"reason":"auth"} with code -1100 and closed, and their user
 * is not online (a push reaches nobody);
 * - a JWT's rooms claim and an opaque token's rooms= list the rooms a client may join: a listed
 *   room works (auth body and op 12) and gets room pushes; an unlisted one is refused (at auth:
 *   closed; with op 12: op 13 with the error body, the client stays put) and gets none of that
 *   room's pushes;
 * - herald-cli listen --token takes a JWT;
 * - logic refuses to start with auth.mode = jwt and no usable key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "herald_err.h"
#include "proc.h"
#include "test_jwt_sign.h"

#define SECRET "integration-jwt-secret"
#define OP_BIZ 1000
#define WAIT_MS 5000
#define ROOM_WAIT_MS 5000
#define SILENCE_MS 800

static cluster_t *g_c;
static test_jwt_key_t *g_hs, *g_rs;
static char g_pem_path[64];
static char *g_pem;

static int group_setup(void **state)
{
    (void)state;
    g_hs = test_jwt_key_hs256(SECRET);
    g_rs = test_jwt_key_rs256(2048);
    snprintf(g_pem_path, sizeof(g_pem_path), "/tmp/test_jwt_integ_%d.pem", (int)getpid());
    g_pem = test_jwt_key_public_pem(g_rs, g_pem_path);
    static char key_env[128];
    snprintf(key_env, sizeof(key_env), "HERALD_AUTH_JWT_PUBLIC_KEY=%s", g_pem_path);
    static const char *logic_env[] = {"HERALD_AUTH_MODE=both", "HERALD_AUTH_JWT_SECRET=" SECRET,
                                      key_env, "HERALD_ROOM_JOIN=token", NULL};
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = logic_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(g_pem_path);
    free(g_pem);
    test_jwt_key_free(g_hs);
    test_jwt_key_free(g_rs);
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* A JWT for mid, valid for exp_in seconds from now (negative: expired), with a rooms claim
 * (JSON array text, or NULL for none). Heap. */
static char *jwt_for(const test_jwt_key_t *key, long long mid, long exp_in, const char *rooms)
{
    char payload[512];
    snprintf(payload, sizeof(payload), "{\"sub\":\"%lld\",\"exp\":%lld%s%s}", mid,
             (long long)time(NULL) + exp_in, rooms ? ",\"rooms\":" : "", rooms ? rooms : "");
    return test_jwt_sign(key, test_jwt_header(key), payload);
}

/* Connects with token in room (may be NULL), accepting OP_BIZ; asserts the auth succeeded. */
static client_t *connect_ok(const char *token, const char *room, long long mid)
{
    int accepts[] = {OP_BIZ};
    char *auth = cluster_auth_body(token, room, accepts, 1);
    char err[512];
    json_t *reply = NULL;
    client_t *cl = cluster_connect(g_c, 0, CLIENT_TCP, auth, &reply, err, sizeof(err));
    free(auth);
    if (cl == NULL)
        fail_msg("mid %lld: %s", mid, err);
    assert_int_equal(json_integer_value(json_object_get(reply, "mid")), mid);
    json_decref(reply);
    return cl;
}

/* Connects with token in room and asserts the refusal: op 6 {"reason":"auth"} with code `code`,
 * then closed. */
static void connect_refused(const char *who, const char *token, const char *room, int code)
{
    int accepts[] = {OP_BIZ};
    char *auth = cluster_auth_body(token, room, accepts, 1);
    char err[256];
    client_t *cl = client_connect(CLIENT_TCP, "127.0.0.1", cluster_comet_port(g_c, 0, CLIENT_TCP),
                                  WAIT_MS, err, sizeof(err));
    if (cl == NULL)
        fail_msg("%s: %s", who, err);
    client_packet_t p = {0};
    int rc = client_auth(cl, auth, &p, WAIT_MS);
    free(auth);
    if (rc != HERALD_EAUTH)
        fail_msg("%s: client_auth gave %d, not a refusal", who, rc);
    json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    if (p.op != 6 || reason == NULL || strcmp(reason, "auth") != 0 ||
        json_integer_value(json_object_get(j, "code")) != code)
        fail_msg("%s: refused with op %u body %.*s, wanted code %d", who, p.op, (int)p.body_len,
                 (const char *)p.body, code);
    json_decref(j);
    client_packet_free(&p);
    cluster_expect_closed(cl, who, WAIT_MS);
    client_free(cl);
}

/* Pushes to mid and asserts logic found no connection of that user anywhere. */
static void expect_offline(long long mid)
{
    char path[128];
    snprintf(path, sizeof(path), "/goim/push/mids?operation=%d&mids=%lld", OP_BIZ, mid);
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "POST", path, "nobody", &j), 200);
    json_t *entry = json_array_get(json_object_get(j, "data"), 0);
    assert_int_equal(json_integer_value(json_object_get(entry, "mid")), mid);
    assert_false(json_is_true(json_object_get(entry, "online")));
    json_decref(j);
}

static void test_good_jwts_receive_pushes(void **state)
{
    (void)state;
    char *hs = jwt_for(g_hs, 7001, 600, NULL), *rs = jwt_for(g_rs, 7002, 600, NULL);
    client_t *a = connect_ok(hs, NULL, 7001), *b = connect_ok(rs, NULL, 7002);
    int64_t mids[] = {7001, 7002};
    cluster_push_mids(g_c, OP_BIZ, &mids[0], 1, "to-hs");
    cluster_push_mids(g_c, OP_BIZ, &mids[1], 1, "to-rs");
    cluster_expect_packet(a, "hs256 client", OP_BIZ, CLUSTER_ANY_SEQ, "to-hs", WAIT_MS);
    cluster_expect_packet(b, "rs256 client", OP_BIZ, CLUSTER_ANY_SEQ, "to-rs", WAIT_MS);
    cluster_expect_silence(a, "hs256 client", 300);
    /* mode both: an opaque token from POST /herald/v1/tokens works beside them */
    char *opaque = cluster_issue_token(g_c, 7003);
    client_t *c = connect_ok(opaque, NULL, 7003);
    int64_t m3 = 7003;
    cluster_push_mids(g_c, OP_BIZ, &m3, 1, "to-opaque");
    cluster_expect_packet(c, "opaque client", OP_BIZ, CLUSTER_ANY_SEQ, "to-opaque", WAIT_MS);
    client_free(a);
    client_free(b);
    client_free(c);
    free(hs);
    free(rs);
    free(opaque);
}

static void test_bad_jwts_refused(void **state)
{
    (void)state;
    char *expired = jwt_for(g_hs, 7101, -60, NULL);
    connect_refused("expired", expired, NULL, HERALD_EAUTH);
    test_jwt_key_t *other = test_jwt_key_hs256("not-the-secret");
    char *wrong = jwt_for(other, 7102, 600, NULL);
    connect_refused("wrong signature", wrong, NULL, HERALD_EAUTH);
    /* alg none, with and without a signature part */
    char payload[128];
    snprintf(payload, sizeof(payload), "{\"sub\":\"7103\",\"exp\":%lld}",
             (long long)time(NULL) + 600);
    char *none = test_jwt_sign(g_hs, "{\"alg\":\"none\"}", payload);
    connect_refused("alg none", none, NULL, HERALD_EAUTH);
    *(strrchr(none, '.') + 1) = '\0';
    connect_refused("alg none unsigned", none, NULL, HERALD_EAUTH);
    /* wrong key type: an ES256 token where only an HS256 secret and an RSA key are configured;
     * and the RSA public key used as an HS256 secret (the key-confusion attack; with only an RSA
     * key configured it is refused for its alg alone: unit/logic/test_jwt) */
    test_jwt_key_t *ec = test_jwt_key_es256(NULL);
    char *es = jwt_for(ec, 7105, 600, NULL);
    connect_refused("es256 without an EC key", es, NULL, HERALD_EAUTH);
    test_jwt_key_t *pem_key = test_jwt_key_hs256(g_pem);
    char *confused = jwt_for(pem_key, 7104, 600, NULL);
    connect_refused("hs256 keyed with the public key", confused, NULL, HERALD_EAUTH);
    char *garbage = strdup("eyJ.eyJ.AAA");
    connect_refused("garbage", garbage, NULL, HERALD_EAUTH);
    for (long long mid = 7101; mid <= 7105; mid++)
        expect_offline(mid);
    test_jwt_key_free(other);
    test_jwt_key_free(pem_key);
    test_jwt_key_free(ec);
    free(es);
    free(expired);
    free(wrong);
    free(none);
    free(confused);
    free(garbage);
}

/* Sends op 12 to room and returns the op 13 reply's body (heap). */
static char *change_room(client_t *cl, const char *room, uint32_t seq)
{
    assert_int_equal(client_send(cl, 12, seq, room, strlen(room)), 0);
    for (;;) {
        client_packet_t p = {0};
        int rc = client_recv(cl, &p, WAIT_MS);
        if (rc != 1)
            fail_msg("op 12 to %s: no reply (%d)", room, rc);
        if (p.op == 13) {
            assert_int_equal(p.seq, seq);
            char *body = strndup((const char *)p.body, p.body_len);
            client_packet_free(&p);
            return body;
        }
        client_packet_free(&p);
    }
}

static void test_protected_rooms_jwt(void **state)
{
    (void)state;
    char *t = jwt_for(g_rs, 7201, 600, "[\"live://jwt-a\",\"live://jwt-b\"]");
    client_t *cl = connect_ok(t, "live://jwt-a", 7201);
    cluster_wait_room(g_c, "live://jwt-a", 1, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://jwt-a", "in-a");
    cluster_expect_packet(cl, "listed room", OP_BIZ, 0, "in-a", WAIT_MS);

    /* op 12 to a room not listed: refused, stays in jwt-a, gets nothing of jwt-c */
    char *body = change_room(cl, "live://jwt-c", 21);
    assert_string_equal(body, "{\"code\":-1102,\"message\":\"room not allowed\"}");
    free(body);
    cluster_push_room(g_c, OP_BIZ, "live://jwt-c", "in-c");
    cluster_push_room(g_c, OP_BIZ, "live://jwt-a", "still-a");
    cluster_expect_packet(cl, "still in a", OP_BIZ, 0, "still-a", WAIT_MS);

    /* op 12 to the other listed room: granted */
    body = change_room(cl, "live://jwt-b", 22);
    assert_string_equal(body, "live://jwt-b");
    free(body);
    cluster_wait_room(g_c, "live://jwt-b", 1, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://jwt-b", "in-b");
    cluster_expect_packet(cl, "moved to b", OP_BIZ, 0, "in-b", WAIT_MS);
    cluster_expect_silence(cl, "moved to b", SILENCE_MS);

    long long refused = 0;
    assert_true(
        cluster_metric(cluster_comet_admin_port(g_c, 0), "/metrics", "rooms_refused", &refused));
    assert_int_equal(refused, 1);

    /* an unlisted room in the auth body: the connection is refused; no rooms claim: none */
    connect_refused("unlisted room at auth", t, "live://jwt-c", HERALD_EFORBIDDEN);
    char *plain = jwt_for(g_hs, 7202, 600, NULL);
    connect_refused("no rooms claim", plain, "live://jwt-a", HERALD_EFORBIDDEN);
    client_t *roomless = connect_ok(plain, NULL, 7202);
    body = change_room(roomless, "live://jwt-a", 23);
    assert_string_equal(body, "{\"code\":-1102,\"message\":\"room not allowed\"}");
    free(body);
    cluster_push_room(g_c, OP_BIZ, "live://jwt-a", "in-a-again");
    cluster_expect_silence(roomless, "roomless", SILENCE_MS);
    client_free(roomless);
    client_free(cl);
    free(plain);
    free(t);
}

static void test_protected_rooms_opaque(void **state)
{
    (void)state;
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "POST",
                                  "/herald/v1/tokens?mid=7301&rooms=live%3A%2F%2Fop-a"
                                  "&rooms=chat%3A%2F%2Fop%20b",
                                  NULL, &j),
                     200);
    char *token = strdup(json_string_value(json_object_get(json_object_get(j, "data"), "token")));
    json_decref(j);
    client_t *cl = connect_ok(token, "chat://op b", 7301);
    char *body = change_room(cl, "live://op-a", 31);
    assert_string_equal(body, "live://op-a");
    free(body);
    body = change_room(cl, "live://op-z", 32);
    assert_string_equal(body, "{\"code\":-1102,\"message\":\"room not allowed\"}");
    free(body);
    cluster_wait_room(g_c, "live://op-a", 1, ROOM_WAIT_MS);
    cluster_push_room(g_c, OP_BIZ, "live://op-z", "in-z");
    cluster_push_room(g_c, OP_BIZ, "live://op-a", "in-op-a");
    cluster_expect_packet(cl, "opaque listed room", OP_BIZ, 0, "in-op-a", WAIT_MS);
    connect_refused("opaque, unlisted room", token, "live://op-z", HERALD_EFORBIDDEN);
    /* bad rooms= values are 400 */
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/tokens?mid=7302&rooms=", NULL, NULL),
                     400);
    assert_int_equal(
        cluster_http(g_c, "POST", "/herald/v1/tokens?mid=7302&rooms=a%0Ab", NULL, NULL), 400);
    client_free(cl);
    free(token);
}

/* Whether logic sees mid online (a push to it answers online:true; the push is then stored and
 * delivered like any other). */
static bool online(long long mid, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/goim/push/mids?operation=%d&mids=%lld", OP_BIZ, mid);
    json_t *j = NULL;
    bool on =
        cluster_http(g_c, "POST", path, body, &j) == 200 &&
        json_is_true(json_object_get(json_array_get(json_object_get(j, "data"), 0), "online"));
    json_decref(j);
    return on;
}

/* herald-cli listen --token takes a JWT as it is. */
static void test_cli_listen_with_jwt(void **state)
{
    (void)state;
    char *t = jwt_for(g_hs, 7401, 600, "[\"live://jwt-cli\"]");
    char comet[32], out[512], bin[512];
    snprintf(comet, sizeof(comet), "127.0.0.1:%d", cluster_comet_port(g_c, 0, CLIENT_TCP));
    snprintf(out, sizeof(out), "%s/cli-jwt.log", cluster_dir(g_c));
    snprintf(bin, sizeof(bin), "%s/herald-cli", HERALD_BIN_DIR);
    char *argv[] = {bin, "listen", "--comet",        comet, "--token",
                    t,   "--room", "live://jwt-cli", NULL};
    char *envp[] = {NULL};
    proc_t cli;
    assert_int_equal(proc_start(&cli, "cli", argv, envp, cluster_dir(g_c), out, out), 0);
    long long deadline = proc_now_ms() + WAIT_MS;
    while (!online(7401, "cli-probe") && proc_now_ms() < deadline)
        proc_sleep_ms(50);
    assert_true(online(7401, "cli-hello"));
    bool seen = false;
    while (!seen && proc_now_ms() < deadline + WAIT_MS) {
        FILE *f = fopen(out, "r");
        char line[512];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            seen = seen || strstr(line, "body=cli-hello") != NULL;
        if (f != NULL)
            fclose(f);
        if (!seen)
            proc_sleep_ms(50);
    }
    proc_stop(&cli, 2000);
    if (!seen)
        proc_print_tail("herald-cli listen", out, 20);
    assert_true(seen);
    free(t);
}

/* Runs herald-logic with env and asserts it exits with an error whose output holds `want`. */
static void expect_start_refused(const char *const *env, const char *want)
{
    cluster_expect_start_refused(g_c, "herald-logic", env, want, SECRET, WAIT_MS);
}

/* auth.mode = jwt with no usable key is a start-up error, and no secret is ever printed. */
static void test_logic_refuses_jwt_without_key(void **state)
{
    (void)state;
    const char *no_key[] = {"HERALD_AUTH_MODE=jwt", "HERALD_HTTP_LISTEN=127.0.0.1:0",
                            "HERALD_RPC_LISTEN=127.0.0.1:0", NULL};
    expect_start_refused(no_key, "neither auth.jwt_secret nor auth.jwt_public_key");
    const char *bad_file[] = {"HERALD_AUTH_MODE=both",
                              "HERALD_AUTH_JWT_SECRET=" SECRET,
                              "HERALD_AUTH_JWT_PUBLIC_KEY=/nonexistent.pem",
                              "HERALD_HTTP_LISTEN=127.0.0.1:0",
                              "HERALD_RPC_LISTEN=127.0.0.1:0",
                              NULL};
    expect_start_refused(bad_file, "cannot open /nonexistent.pem");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_jwts_receive_pushes),
        cmocka_unit_test(test_bad_jwts_refused),
        cmocka_unit_test(test_protected_rooms_jwt),
        cmocka_unit_test(test_protected_rooms_opaque),
        cmocka_unit_test(test_cli_listen_with_jwt),
        cmocka_unit_test(test_logic_refuses_jwt_without_key),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
