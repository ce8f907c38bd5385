/* test_cli.c - herald-cli's subcommands (cli_*_main, part of herald_client) run in-process
 * against in-test comet and logic servers on loopback: the auth body they send, what they
 * print, heartbeats, exit codes. */
#include "loopback.h"
#include "capture.h"
#include "packets.h"

#include <jansson.h>
#include <stdio.h>

#include "cli.h"

/* -------------------------------------------------------------------------- comet servers */

/* Reads the auth packet and returns its JSON (caller decrefs), or NULL. */
static json_t *read_auth(int fd)
{
    uint32_t op = 0, seq = 0;
    char body[1024];
    size_t len = 0;
    if (read_packet(fd, &op, &seq, body, sizeof(body), &len) < 0 || op != 7)
        return NULL;
    return json_loads(body, 0, NULL);
}

/* The string member `name` of obj equals want. */
static int str_is(const json_t *obj, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(obj, name));
    return v != NULL && strcmp(v, want) == 0;
}

static int write_str_packet(int fd, uint32_t op, uint32_t seq, const char *body)
{
    bytes_t b = {.len = 0};
    bytes_str_packet(&b, op, seq, body);
    return loopback_write(fd, b.data, b.len);
}

/* Token auth with room and accepts; heartbeat_ms 100, so the CLI must heartbeat during the
 * test; four pushes, one of them in a batch, a heartbeat reply in between. */
static void serve_listen(loopback_t *lb, int fd)
{
    json_t *auth = read_auth(fd);
    LOOPBACK_CHECK(lb, auth != NULL);
    LOOPBACK_CHECK(lb, str_is(auth, "token", "tk") && str_is(auth, "platform", "cli"));
    LOOPBACK_CHECK(lb, str_is(auth, "room_id", "live://9"));
    json_t *acc = json_object_get(auth, "accepts");
    LOOPBACK_CHECK(lb,
                   json_array_size(acc) == 2 && json_integer_value(json_array_get(acc, 1)) == 1001);
    LOOPBACK_CHECK(lb, json_object_get(auth, "mid") == NULL);
    json_decref(auth);

    LOOPBACK_CHECK(lb, write_str_packet(fd, 8, 0, "{\"code\":0,\"heartbeat_ms\":100}") == 0);
    LOOPBACK_CHECK(lb, write_str_packet(fd, 1000, 1, "hello\nworld") == 0);
    uint32_t op = 0, seq = 0;
    char body[64];
    size_t len = 0;
    LOOPBACK_CHECK(lb, read_packet(fd, &op, &seq, body, sizeof(body), &len) == 0 && op == 2);
    bytes_t out = {.len = 0}, inner = {.len = 0};
    uint8_t online[4];
    put32(online, 5);
    bytes_packet(&out, 3, 0, online, 4);
    bytes_str_packet(&inner, 1001, 2, "{\"a\":1}");
    bytes_str_packet(&inner, 1002, 3,
                     "\x01"
                     "bin");
    bytes_packet(&out, 9, 0, inner.data, inner.len);
    bytes_str_packet(&out, 1003, 0, "\xff");
    LOOPBACK_CHECK(lb, loopback_write(fd, out.data, out.len) == 0);
    loopback_wait_close(fd);
}

static void test_listen_text_and_json(void **state)
{
    for (int json = 0; json < 2; json++) {
        loopback_t lb;
        loopback_start(&lb, serve_listen, NULL);
        char comet[32];
        snprintf(comet, sizeof(comet), "127.0.0.1:%d", lb.port);
        char *argv[] = {"listen",    "--comet",
                        comet,       "--token",
                        "tk",        "--room",
                        "live://9",  "--accepts",
                        "1000,1001", "--count",
                        "4",         "--timeout-ms",
                        "5000",      json ? "--json" : "--verbose"};
        char *out, *err;
        assert_int_equal(run(cli_listen_main, ARGC(argv), argv, &out, &err), CLI_EXIT_OK);
        if (json) {
            assert_string_equal(out, "{\"op\":1000,\"seq\":1,\"body\":\"hello\\nworld\"}\n"
                                     "{\"op\":1001,\"seq\":2,\"body\":\"{\\\"a\\\":1}\"}\n"
                                     "{\"op\":1002,\"seq\":3,\"body\":\"\\u0001bin\"}\n"
                                     "{\"op\":1003,\"seq\":0,\"body_hex\":\"ff\"}\n");
        } else {
            assert_string_equal(out, "op=1000 seq=1 body=hello\\nworld\n"
                                     "op=1001 seq=2 body={\"a\":1}\n"
                                     "op=1002 seq=3 body=\\x01bin\n"
                                     "op=1003 seq=0 body=\xff\n");
            assert_non_null(strstr(err, "heartbeat reply, online=5"));
        }
        free(out);
        free(err);
        loopback_join(&lb);
    }
}

/* Goim-style auth; answers op 8 and one push (lb->arg NULL), or refuses with op 6 and the body
 * lb->arg; then closes the connection. */
static void serve_short(loopback_t *lb, int fd)
{
    json_t *auth = read_auth(fd);
    LOOPBACK_CHECK(lb, auth != NULL && json_integer_value(json_object_get(auth, "mid")) == 5);
    LOOPBACK_CHECK(lb, str_is(auth, "key", "k1"));
    LOOPBACK_CHECK(lb, json_object_get(auth, "token") == NULL);
    json_decref(auth);
    const char *reply = lb->arg != NULL ? lb->arg : "{\"code\":0}";
    LOOPBACK_CHECK(lb, write_str_packet(fd, lb->arg != NULL ? 6 : 8, 0, reply) == 0);
    if (lb->arg == NULL)
        LOOPBACK_CHECK(lb, write_str_packet(fd, 1000, 1, "only") == 0);
}

/* Accepts any auth, then stays silent until the client hangs up. */
static void serve_quiet(loopback_t *lb, int fd)
{
    json_t *auth = read_auth(fd);
    LOOPBACK_CHECK(lb, auth != NULL);
    json_decref(auth);
    LOOPBACK_CHECK(lb, write_str_packet(fd, 8, 0, "{\"code\":0}") == 0);
    loopback_wait_close(fd);
}

static void test_listen_exit_codes(void **state)
{
    struct {
        loopback_serve_cb serve;
        void *arg;
        const char *count;
        int rc;
        const char *out;
        const char *err;
    } cases[] = {
        {serve_short, "{\"reason\":\"auth\",\"code\":-1100,\"message\":\"token expired\"}", "1",
         CLI_EXIT_FAIL, "", "auth refused: token expired (code -1100)"},
        {serve_short, NULL, "5", CLI_EXIT_FAIL, "op=1000 seq=1 body=only\n",
         "connection closed after 1 packets"},
        {serve_quiet, NULL, "2", CLI_EXIT_TIMEOUT, "", "timed out after 0 of 2 packets"},
        {serve_quiet, NULL, NULL, CLI_EXIT_OK, "", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        loopback_t lb;
        loopback_start(&lb, cases[i].serve, cases[i].arg);
        char comet[32];
        snprintf(comet, sizeof(comet), "127.0.0.1:%d", lb.port);
        char *argv[] = {"listen",
                        "--comet",
                        comet,
                        "--mid",
                        "5",
                        "--key",
                        "k1",
                        "--timeout-ms",
                        "200",
                        "--count",
                        (char *)cases[i].count};
        char *out, *err;
        int argc = ARGC(argv) - (cases[i].count == NULL ? 2 : 0);
        int rc = run(cli_listen_main, argc, argv, &out, &err);
        if (rc != cases[i].rc || strcmp(out, cases[i].out) != 0 ||
            strstr(err, cases[i].err) == NULL)
            fail_msg("case %zu: rc %d, out '%s', err '%s'", i, rc, out, err);
        free(out);
        free(err);
        loopback_join(&lb);
    }
}

static void test_usage_errors(void **state)
{
    char *a1[] = {"listen", "--token", "t"};                                 /* no --comet */
    char *a2[] = {"listen", "--comet", "h:1", "--token", "t", "--mid", "3"}; /* both */
    char *a3[] = {"listen", "--comet", "nocolon", "--token", "t"};
    char *a4[] = {"send", "--comet", "h:1", "--token", "t", "--to-mid", "3"}; /* no MESSAGE */
    char *a5[] = {"send", "--comet", "h:1", "--token", "t", "--to-mid", "3", "--to-room", "r", "m"};
    char *a6[] = {"token", "--logic", "h:1"}; /* no --mid */
    char *a7[] = {"listen", "--comet", "h:1", "--token", "t", "--count", "0"};
    char *a8[] = {"listen", "--comet", "h:1", "--token",
                  "t",      "--logic", "h:2"}; /* no --reconnect */
    char *a10[] = {"listen", "--comet", "h:1", "--token", "t", "--reconnect", "--logic", "h"};
    struct {
        int (*cmd)(int, char **);
        int argc;
        char **argv;
    } cases[] = {
        {cli_listen_main, ARGC(a1), a1},   {cli_listen_main, ARGC(a2), a2},
        {cli_listen_main, ARGC(a3), a3},   {cli_send_main, ARGC(a4), a4},
        {cli_send_main, ARGC(a5), a5},     {cli_token_main, ARGC(a6), a6},
        {cli_listen_main, ARGC(a7), a7},   {cli_listen_main, ARGC(a8), a8},
        {cli_listen_main, ARGC(a10), a10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out, *err;
        int rc = run(cases[i].cmd, cases[i].argc, cases[i].argv, &out, &err);
        if (rc != CLI_EXIT_USAGE || err[0] == '\0')
            fail_msg("case %zu: rc %d, err '%s'", i, rc, err);
        free(out);
        free(err);
    }
    char *help[] = {"send", "--help"};
    char *out, *err;
    assert_int_equal(run(cli_send_main, 2, help, &out, &err), CLI_EXIT_OK);
    assert_non_null(strstr(out, "--to-room"));
    free(out);
    free(err);
}

/* --comet and --logic are split by addr_split; a port of 0 is no server to dial; a host over
 * ADDR_HOST_MAX is refused, not cut. */
static void test_parse_addr(void **state)
{
    cli_conn_opts_t o;
    cli_conn_opts_init(&o, "listen");
    assert_int_equal(cli_conn_option(&o, CLI_OPT_COMET, "127.0.0.1:3101"), 1);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 3101);
    assert_int_equal(cli_conn_option(&o, CLI_OPT_COMET, "[::1]:80"), 1);
    assert_string_equal(o.host, "::1");
    assert_int_equal(o.port, 80);
    char long_host[ADDR_HOST_MAX + 8];
    memset(long_host, 'a', sizeof(long_host));
    strcpy(long_host + ADDR_HOST_MAX, ":1");
    char *bad[] = {"host", ":80",  "[]:80",   "h:0",      "h:65536",  "h:80x",
                   "h:",   "h:-1", long_host, "https://", "ftp://h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *comet[] = {"listen", "--comet", bad[i], "--token", "t"};
        char *logic[] = {"token", "--logic", bad[i], "--mid", "1"};
        char *out, *err;
        if (run(cli_listen_main, ARGC(comet), comet, &out, &err) != CLI_EXIT_USAGE)
            fail_msg("--comet accepted '%s'", bad[i]);
        free(out);
        free(err);
        if (run(cli_token_main, ARGC(logic), logic, &out, &err) != CLI_EXIT_USAGE)
            fail_msg("--logic accepted '%s'", bad[i]);
        free(out);
        free(err);
    }
}

/* Checks the op 4 body, pushes something unrelated, then answers with lb->arg. */
static void serve_send(loopback_t *lb, int fd)
{
    json_t *auth = read_auth(fd);
    LOOPBACK_CHECK(lb, auth != NULL);
    json_decref(auth);
    LOOPBACK_CHECK(lb, write_str_packet(fd, 8, 0, "{\"code\":0}") == 0);
    uint32_t op = 0, seq = 0;
    char body[512];
    size_t len = 0;
    LOOPBACK_CHECK(lb, read_packet(fd, &op, &seq, body, sizeof(body), &len) == 0);
    LOOPBACK_CHECK(lb, op == 4 && seq == 1);
    LOOPBACK_CHECK(
        lb, strcmp(body, "{\"to_room\":\"live://1\",\"op\":1001,\"msg\":\"hi there\"}") == 0);
    LOOPBACK_CHECK(lb, write_str_packet(fd, 1000, 0, "someone else's message") == 0);
    LOOPBACK_CHECK(lb, write_str_packet(fd, 5, 1, lb->arg) == 0);
    loopback_wait_close(fd);
}

static void test_send(void **state)
{
    const char *replies[] = {"{\"code\":0}", "{\"code\":-1102,\"message\":\"not in room\"}"};
    for (int i = 0; i < 2; i++) {
        loopback_t lb;
        loopback_start(&lb, serve_send, (void *)replies[i]);
        char comet[32];
        snprintf(comet, sizeof(comet), "127.0.0.1:%d", lb.port);
        char *argv[] = {"send",      "--comet",  comet,  "--token", "tk",
                        "--to-room", "live://1", "--op", "1001",    "hi there"};
        char *out, *err;
        int rc = run(cli_send_main, ARGC(argv), argv, &out, &err);
        assert_int_equal(rc, i == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL);
        char want[128];
        snprintf(want, sizeof(want), "%s\n", replies[i]);
        assert_string_equal(out, want);
        free(out);
        free(err);
        loopback_join(&lb);
    }
}

/* --------------------------------------------------------------------------- logic server */

static void serve_token(loopback_t *lb, int fd)
{
    loopback_http_request_t req;
    LOOPBACK_CHECK(lb, loopback_read_http_request(fd, &req) == 0);
    LOOPBACK_CHECK(lb,
                   strncmp(req.data, "POST /herald/v1/tokens?mid=5&ttl=60 HTTP/1.1\r\n", 46) == 0);
    LOOPBACK_CHECK(lb, strstr(req.data, "\r\nAuthorization: Bearer bk\r\n") != NULL);
    const char *body = lb->arg;
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "\r\n%s",
                     strstr(body, "\"code\":0") != NULL ? "200 OK" : "400 Bad Request",
                     strlen(body), body);
    LOOPBACK_CHECK(lb, loopback_write(fd, resp, (size_t)n) == 0);
}

static void test_token(void **state)
{
    const char *replies[] = {
        "{\"code\":0,\"message\":\"ok\",\"data\":{\"token\":\"abc123\",\"mid\":5}}",
        "{\"code\":-400,\"message\":\"bad mid\",\"data\":null}",
    };
    for (int i = 0; i < 2; i++) {
        loopback_t lb;
        loopback_start(&lb, serve_token, (void *)replies[i]);
        char logic[32];
        snprintf(logic, sizeof(logic), "127.0.0.1:%d", lb.port);
        char *argv[] = {"token", "--logic", logic, "--mid", "5", "--ttl", "60", "--bearer", "bk"};
        char *out, *err;
        int rc = run(cli_token_main, ARGC(argv), argv, &out, &err);
        if (i == 0) {
            assert_int_equal(rc, CLI_EXIT_OK);
            assert_string_equal(out, "abc123\n");
        } else {
            assert_int_equal(rc, CLI_EXIT_FAIL);
            assert_string_equal(out, "");
            assert_non_null(strstr(err, "logic answered 400: bad mid"));
        }
        free(out);
        free(err);
        loopback_join(&lb);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_text_and_json),
        cmocka_unit_test(test_listen_exit_codes),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
