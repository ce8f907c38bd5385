/* test_login.c - IM logins with a password and the chat abuse limits, with real processes
 * (docs/im.md "Passwords", "Abuse limits"; docs/security.md "IM logins and chat limits").
 *
 * Group "password" (login.mode = password, small limits): registration and login with the right
 * password, without one, with a wrong one; IM ids in their own range; the per-sender message
 * rate across two connections on two comets; failed logins limited per name and per address
 * (429 with Retry-After, also for the right password); registrations limited per address.
 * Group "off" (login.mode = off, a small inbox with a small per-sender share): registration and
 * login refused, business tokens work, and one sender flooding an inbox cannot push out another
 * sender's messages.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cluster.h"
#include "herald_err.h"
#include "proc.h"

#define OP_CHAT 1000
#define WAIT_MS 5000
#define SILENCE_MS 500
#define ID_BASE 1099511627776LL /* login.id_base's default, 2^40 */
#define NAME_BURST 3
#define ADDR_BURST 12
#define REGISTER_BURST 5
#define SENDER_BURST 4
#define INBOX_MAX 20
#define SHARE 5

static cluster_t *g_c;

static const char *const password_env[] = {"HERALD_LOGIN_NAME_BURST=3",
                                           "HERALD_LOGIN_NAME_REFILL=1h",
                                           "HERALD_LOGIN_ADDR_BURST=12",
                                           "HERALD_LOGIN_ADDR_REFILL=1h",
                                           "HERALD_LOGIN_REGISTER_BURST=5",
                                           "HERALD_LOGIN_REGISTER_REFILL=1h",
                                           "HERALD_CHAT_SENDER_RATE=1",
                                           "HERALD_CHAT_SENDER_BURST=4",
                                           NULL};
static const char *const off_env[] = {"HERALD_LOGIN_MODE=off", "HERALD_CHAT_SENDER_RATE=0",
                                      "HERALD_INBOX_MAX_COUNT=20", "HERALD_INBOX_SENDER_SHARE=5",
                                      NULL};
static const char *const off_comet_env[] = {"HERALD_PROTOCOL_UPSTREAM_RATE=1000", NULL};

static int setup_password(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = password_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int setup_off(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = off_env;
    o.env[CLUSTER_COMET] = off_comet_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = cluster_stop(g_c, false) == 0 ? 0 : -1;
    g_c = NULL;
    return rc;
}

/* ------------------------------------------------------------------------------ helpers */

/* Logs name in with password; asserts 200 and returns the token (heap) and *mid. */
static char *login_ok(const char *name, const char *password, int64_t *mid)
{
    json_t *j = NULL;
    int status = cluster_login(g_c, name, password, "test", &j);
    if (status != 200)
        fail_msg("login %s: status %d", name, status);
    json_t *data = json_object_get(j, "data");
    if (mid)
        *mid = json_integer_value(json_object_get(data, "mid"));
    char *token = strdup(json_string_value(json_object_get(data, "token")));
    assert_null(json_object_get(data, "password"));
    json_decref(j);
    return token;
}

/* Connects with token to comet `index`; asserts the auth reply names mid. */
static client_t *connect_token(const char *token, int index, int64_t mid)
{
    int accepts[] = {OP_CHAT};
    char *auth = cluster_auth_body(token, NULL, accepts, 1);
    json_t *reply = NULL;
    char err[256] = "";
    client_t *cl = cluster_connect(g_c, index, CLIENT_TCP, auth, &reply, err, sizeof(err));
    free(auth);
    if (cl == NULL)
        fail_msg("connect mid %lld: %s", (long long)mid, err);
    assert_int_equal(json_integer_value(json_object_get(reply, "mid")), mid);
    json_decref(reply);
    return cl;
}

/* One raw HTTP/1.1 POST to logic (for the headers, which the harness's client does not give);
 * returns the whole response (heap). */
static char *raw_post(const char *path_query, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)cluster_logic_http_port(g_c))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     path_query, strlen(body), body);
    assert_int_equal(write(fd, req, (size_t)n), n);
    char *out = calloc(1, 8192);
    size_t len = 0;
    ssize_t r;
    while (len < 8191 && (r = read(fd, out + len, 8191 - len)) > 0)
        len += (size_t)r;
    close(fd);
    return out;
}

/* Asserts a raw response is a 429 with a Retry-After of at least one second. */
static void expect_429(const char *resp)
{
    if (strncmp(resp, "HTTP/1.1 429", 12) != 0)
        fail_msg("want 429, got: %.200s", resp);
    const char *h = strcasestr(resp, "\r\nRetry-After: ");
    assert_non_null(h);
    assert_true(atoi(h + 15) >= 1);
}

static void login_status(const char *name, const char *password, int want)
{
    json_t *j = NULL;
    int status = cluster_login(g_c, name, password, NULL, &j);
    json_decref(j);
    if (status != want)
        fail_msg("login %s: status %d, want %d", name, status, want);
}

static int send_private(client_t *cl, uint32_t seq, int64_t to, const char *text)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"to_mid\":%lld,\"op\":%d,\"msg\":\"%s\"}", (long long)to,
             OP_CHAT, text);
    return cluster_send_msg(cl, seq, body, WAIT_MS);
}

/* --------------------------------------------------------------------- group: password */

static int g_registered; /* registrations from this address so far */

static void test_register_and_login(void **state)
{
    (void)state;
    int64_t mid = 0;
    assert_int_equal(cluster_register(g_c, "pw-alice", "correct horse", &mid), 200);
    g_registered++;
    /* IM ids start at login.id_base: never a business user's id. */
    assert_true(mid >= ID_BASE);

    /* Bad registrations are refused before they count. */
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/users?name=pw-x", NULL, &j), 400);
    json_decref(j);
    assert_int_equal(cluster_register(g_c, "pw-x", "short", NULL), 400);
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/users?name=pw-x&password=longenough1",
                                  "{\"password\":\"longenough1\"}", &j),
                     400);
    json_decref(j);
    assert_int_equal(cluster_register(g_c, "pw-alice", "another one", NULL), 409);
    g_registered++; /* a taken name still took its registration */

    /* The right password logs in, and its token connects as the account. */
    int64_t lmid;
    char *token = login_ok("pw-alice", "correct horse", &lmid);
    assert_int_equal(lmid, mid);
    client_t *cl = connect_token(token, 0, mid);
    client_free(cl);
    free(token);

    /* No password, a wrong one, an unknown name: refused. */
    assert_int_equal(cluster_http(g_c, "POST", "/herald/v1/login?name=pw-alice", NULL, &j), 400);
    json_decref(j);
    login_status("pw-alice", "wrong horse!", 401);
    login_status("pw-nobody", "correct horse", 401);
    /* The failure was not a lockout: the right password still works. */
    token = login_ok("pw-alice", "correct horse", NULL);
    free(token);

    /* The lookup never shows the password or its hash. */
    char path[64];
    snprintf(path, sizeof(path), "/herald/v1/users?mid=%lld", (long long)mid);
    assert_int_equal(cluster_http(g_c, "GET", path, NULL, &j), 200);
    char *dump = json_dumps(j, JSON_COMPACT);
    assert_null(strstr(dump, "argon2"));
    assert_null(strstr(dump, "pass"));
    free(dump);
    json_decref(j);
}

/* chat.sender_rate is per sender over all its connections: two connections of one user on two
 * comets draw from one bucket of SENDER_BURST; another sender is not affected. */
static void test_sender_rate_across_connections(void **state)
{
    (void)state;
    int64_t carol = 0, alice = 0;
    assert_int_equal(cluster_register(g_c, "pw-carol", "carol's password", &carol), 200);
    g_registered++;
    char *ta = login_ok("pw-alice", "correct horse", &alice);
    char *tc = login_ok("pw-carol", "carol's password", NULL);
    client_t *a0 = connect_token(ta, 0, alice), *a1 = connect_token(ta, 1, alice);
    client_t *c0 = connect_token(tc, 0, carol);
    long long t0 = proc_now_ms();
    for (uint32_t i = 0; i < SENDER_BURST; i++)
        assert_int_equal(send_private(i % 2 ? a1 : a0, 10 + i, carol, "hi"), 0);
    /* Each connection has sent SENDER_BURST / 2, far below the comets' own per-connection rate;
     * the sender's bucket is empty but for what refilled meanwhile (one a second: a slow run,
     * under a sanitizer, may see one or two pass). */
    const int more = 6;
    int refused = 0;
    for (int i = 0; i < more; i++) {
        int code = send_private(i % 2 ? a1 : a0, 20 + (uint32_t)i, carol, "one too many");
        assert_true(code == 0 || code == HERALD_ERATE);
        refused += code == HERALD_ERATE;
    }
    long long refilled = (proc_now_ms() - t0) / 1000 + 1;
    print_message("sender limit: %d of %d refused in %lld ms\n", refused, more, proc_now_ms() - t0);
    assert_true(refused >= 1 && refused >= more - refilled);
    assert_int_equal(send_private(c0, 30, alice, "carol is not alice"), 0);
    client_free(a0);
    client_free(a1);
    client_free(c0);
    free(ta);
    free(tc);
}

/* Failed logins per name: NAME_BURST, then 429 with Retry-After, even for the right password;
 * other names are not affected. Per address: ADDR_BURST failures over any names. */
static void test_login_rate_limit(void **state)
{
    (void)state;
    assert_int_equal(cluster_register(g_c, "pw-bob", "bob's password", NULL), 200);
    g_registered++;
    for (int i = 0; i < NAME_BURST; i++)
        login_status("pw-bob", "not bob's password", 401);
    char *resp = raw_post("/herald/v1/login?name=pw-bob", "{\"password\":\"not bob's password\"}");
    expect_429(resp);
    free(resp);
    /* Locked: the right password is refused too (else the lock would not slow a guesser). */
    resp = raw_post("/herald/v1/login?name=pw-bob", "{\"password\":\"bob's password\"}");
    expect_429(resp);
    free(resp);
    char *token = login_ok("pw-alice", "correct horse", NULL);
    free(token);

    /* This address has failed 2 (first test) + NAME_BURST times; unknown names fill the rest of
     * its bucket, each charged once (a name of its own, so the per-name limit never hits). */
    for (int i = 2 + NAME_BURST; i < ADDR_BURST; i++) {
        char name[32];
        snprintf(name, sizeof(name), "pw-ghost-%d", i);
        login_status(name, "whatever it is", 401);
    }
    resp = raw_post("/herald/v1/login?name=pw-alice", "{\"password\":\"correct horse\"}");
    expect_429(resp);
    free(resp);
}

/* Registrations per address: REGISTER_BURST, then 429 with Retry-After. */
static void test_register_rate_limit(void **state)
{
    (void)state;
    for (; g_registered < REGISTER_BURST; g_registered++) {
        char name[32];
        snprintf(name, sizeof(name), "pw-reg-%d", g_registered);
        assert_int_equal(cluster_register(g_c, name, "a fine password", NULL), 200);
    }
    char *resp =
        raw_post("/herald/v1/users?name=pw-reg-late", "{\"password\":\"a fine password\"}");
    expect_429(resp);
    free(resp);
    json_t *j = NULL;
    assert_int_equal(cluster_http(g_c, "GET", "/herald/v1/users?name=pw-reg-late", NULL, &j), 404);
    json_decref(j);
}

/* -------------------------------------------------------------------------- group: off */

static void test_mode_off(void **state)
{
    (void)state;
    assert_int_equal(cluster_register(g_c, "off-alice", "correct horse", NULL), 403);
    json_t *j = NULL;
    assert_int_equal(cluster_login(g_c, "off-alice", "correct horse", NULL, &j), 403);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "login.mode"));
    json_decref(j);
    /* The business system's tokens are the way in. */
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, 42, NULL, OP_CHAT, NULL);
    client_free(cl);
}

/* T sends 3 private messages to U (offline), then S floods U with far more than the inbox
 * holds. U comes online and finds T's 3 and S's SHARE newest: S only pushed out its own. */
static void test_inbox_flood(void **state)
{
    (void)state;
    const int64_t T = 7001, S = 7002, U = 7003;
    const int flood = 3 * INBOX_MAX;
    client_t *t = cluster_user(g_c, 0, CLIENT_TCP, T, NULL, 0, NULL);
    client_t *s = cluster_user(g_c, 0, CLIENT_TCP, S, NULL, 0, NULL);
    char text[32];
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof(text), "t%d", i);
        assert_int_equal(send_private(t, 1 + i, U, text), 0);
    }
    for (int i = 0; i < flood; i++) {
        snprintf(text, sizeof(text), "s%d", i);
        assert_int_equal(send_private(s, 10 + i, U, text), 0);
    }
    client_t *u = cluster_user(g_c, 0, CLIENT_TCP, U, NULL, OP_CHAT, NULL);
    int from_t = 0, from_s = 0;
    long long deadline = proc_now_ms() + WAIT_MS;
    for (;;) {
        client_packet_t p = {0};
        long long left = deadline - proc_now_ms();
        int rc = client_recv(u, &p, left < SILENCE_MS ? (int)(left > 0 ? left : 0) : SILENCE_MS);
        if (rc != 1)
            break;
        if (p.op != OP_CHAT) {
            client_packet_free(&p);
            continue;
        }
        json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
        assert_non_null(j);
        int64_t from = json_integer_value(json_object_get(j, "from"));
        const char *msg = json_string_value(json_object_get(j, "msg"));
        if (from == T) {
            snprintf(text, sizeof(text), "t%d", from_t++);
        } else {
            assert_int_equal(from, S);
            snprintf(text, sizeof(text), "s%d", flood - SHARE + from_s++);
        }
        assert_string_equal(msg, text);
        json_decref(j);
        client_packet_free(&p);
    }
    assert_int_equal(from_t, 3);
    assert_int_equal(from_s, SHARE);
    client_free(t);
    client_free(s);
    client_free(u);
}

int main(void)
{
    const struct CMUnitTest password_tests[] = {
        cmocka_unit_test(test_register_and_login),
        cmocka_unit_test(test_sender_rate_across_connections),
        cmocka_unit_test(test_login_rate_limit),
        cmocka_unit_test(test_register_rate_limit),
    };
    const struct CMUnitTest off_tests[] = {
        cmocka_unit_test(test_mode_off),
        cmocka_unit_test(test_inbox_flood),
    };
    int failed = cmocka_run_group_tests_name("password", password_tests, setup_password, teardown);
    failed += cmocka_run_group_tests_name("off", off_tests, setup_off, teardown);
    return failed;
}
