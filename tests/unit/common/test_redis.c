/* Unit tests of redis.c against a real redis-server started on a free loopback port in a
 * temporary directory: commands and reply accessors, a server killed under pending commands,
 * reconnection, AUTH + SELECT, ACL users (re-authenticated after the server drops them), close
 * with commands pending. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "herald_err.h"
#include "redis.h"
#include "redis_conf.h"
#include "test_support.h"

/* ---------------------------------------------------------------------------- conditions */

static int is_connected(void *ctx)
{
    return redis_connected(ctx);
}

static int flag_set(void *ctx)
{
    return *(int *)ctx;
}

/* ------------------------------------------------------------------------------- fixture */

typedef struct fixture_s {
    test_redis_t server;
    uv_loop_t loop;
    redis_t *r;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    test_redis_init(&f->server);
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    test_redis_deinit(&f->server);
    free(f);
    return 0;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Closes f->r and checks that the loop ends with nothing left open. */
static void close_all(fixture_t *f)
{
    int closed = 0;

    redis_close(f->r, on_closed, &closed);
    assert_true(test_run_until(&f->loop, flag_set, &closed, 2000));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ------------------------------------------------------------------------------- replies */

/* One command's outcome. The reply is checked inside the callback (it is borrowed). */
typedef struct result_s {
    int calls;
    int status;
    int type;
    long long integer;
    char str[128];
    size_t len;
    size_t count;
    int sent_after; /* what a command issued from inside the callback returned */
    redis_t *r;     /* set to issue that command */
} result_t;

static void on_reply(int status, const redis_reply_t *reply, void *arg)
{
    result_t *res = arg;

    res->calls++;
    res->status = status;
    res->type = reply ? redis_reply_type(reply) : 0;
    if (reply) {
        size_t len;
        const char *s = redis_reply_str(reply, &len);

        res->integer = redis_reply_integer(reply);
        res->count = redis_reply_count(reply);
        res->len = len;
        if (s) {
            assert_true(len < sizeof(res->str));
            memcpy(res->str, s, len);
            res->str[len] = '\0';
        }
    }
    if (res->r)
        res->sent_after = redis_command(res->r, NULL, NULL, "PING");
}

static int answered(void *ctx)
{
    return ((result_t *)ctx)->calls > 0;
}

/* Sends fmt and runs the loop until the answer (2 s at most). */
static result_t cmd(fixture_t *f, const char *fmt, ...)
{
    /* redis_command is variadic itself: build the argv here instead. */
    result_t res = {0};
    const char *argv[8];
    size_t argvlen[8];
    int argc = 0;
    va_list ap;

    va_start(ap, fmt);
    for (const char *a = fmt; a && argc < 8; a = va_arg(ap, const char *)) {
        argv[argc] = a;
        argvlen[argc] = strlen(a);
        argc++;
    }
    va_end(ap);
    assert_int_equal(redis_command_argv(f->r, on_reply, &res, argc, argv, argvlen), 0);
    assert_true(test_run_until(&f->loop, answered, &res, 2000));
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.status, 0);
    return res;
}

typedef struct hgetall_s {
    int calls;
    int ok;
} hgetall_t;

static void on_hgetall(int status, const redis_reply_t *reply, void *arg)
{
    hgetall_t *h = arg;
    const redis_reply_t *e;
    size_t len;
    const char *s;
    int seen_a = 0, seen_b = 0;

    h->calls++;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY ||
        redis_reply_count(reply) != 4)
        return;
    for (size_t i = 0; i < 4; i += 2) {
        const char *field = redis_reply_str(redis_reply_element(reply, i), NULL);

        e = redis_reply_element(reply, i + 1);
        s = redis_reply_str(e, &len);
        if (!strcmp(field, "a") && len == 1 && s[0] == '1')
            seen_a = 1;
        if (!strcmp(field, "b") && len == 1 && s[0] == '2')
            seen_b = 1;
    }
    h->ok = seen_a && seen_b && redis_reply_element(reply, 4) == NULL;
}

static int hgetall_done(void *ctx)
{
    return ((hgetall_t *)ctx)->calls > 0;
}

/* A binary value with a NUL byte, through %b and argv. */
typedef struct binary_s {
    int calls;
    int ok;
} binary_t;

static void on_binary(int status, const redis_reply_t *reply, void *arg)
{
    binary_t *b = arg;
    size_t len;
    const char *s = status == 0 ? redis_reply_str(reply, &len) : NULL;

    b->calls++;
    b->ok = s && redis_reply_type(reply) == REDIS_REPLY_T_STRING && len == 5 &&
            memcmp(s, "a\0b\0c", 5) == 0;
}

static int binary_done(void *ctx)
{
    return ((binary_t *)ctx)->calls > 0;
}

/* --------------------------------------------------------------------------------- tests */

static void test_commands(void **state)
{
    fixture_t *f = *state;
    result_t res;

    test_redis_start(&f->server, NULL);
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, NULL, 0);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));

    res = cmd(f, "SET", "k", "v", NULL);
    assert_int_equal(res.type, REDIS_REPLY_T_STATUS);
    assert_string_equal(res.str, "OK");
    res = cmd(f, "GET", "k", NULL);
    assert_int_equal(res.type, REDIS_REPLY_T_STRING);
    assert_string_equal(res.str, "v");
    assert_int_equal(res.integer, 0); /* not an integer reply */
    assert_int_equal(res.count, 0);   /* not an array */
    res = cmd(f, "GET", "missing", NULL);
    assert_int_equal(res.type, REDIS_REPLY_T_NIL);
    assert_int_equal(res.len, 0);
    for (int i = 1; i <= 3; i++) {
        res = cmd(f, "INCR", "counter", NULL);
        assert_int_equal(res.type, REDIS_REPLY_T_INTEGER);
        assert_int_equal(res.integer, i);
    }
    res = cmd(f, "INCR", "k", NULL); /* "v" is no integer: an error reply, status 0 */
    assert_int_equal(res.type, REDIS_REPLY_T_ERROR);
    assert_non_null(strstr(res.str, "not an integer"));
    res = cmd(f, "NOSUCHCOMMAND", NULL);
    assert_int_equal(res.type, REDIS_REPLY_T_ERROR);
    res = cmd(f, "HSET", "h", "a", "1", "b", "2", NULL);
    assert_int_equal(res.integer, 2);

    hgetall_t h = {0};
    assert_int_equal(redis_command(f->r, on_hgetall, &h, "HGETALL %s", "h"), 0);
    assert_true(test_run_until(&f->loop, hgetall_done, &h, 2000));
    assert_true(h.ok);

    binary_t b = {0};
    assert_int_equal(redis_command(f->r, NULL, NULL, "SET bin %b", "a\0b\0c", (size_t)5), 0);
    const char *argv[] = {"GET", "bin"};
    assert_int_equal(redis_command_argv(f->r, on_binary, &b, 2, argv, NULL), 0);
    assert_true(test_run_until(&f->loop, binary_done, &b, 2000));
    assert_true(b.ok);

    /* Pipelined: replies come back in order, each callback once. */
    result_t many[50] = {{0}};
    for (int i = 0; i < 50; i++)
        assert_int_equal(redis_command(f->r, on_reply, &many[i], "INCR pipelined"), 0);
    assert_true(test_run_until(&f->loop, answered, &many[49], 2000));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(many[i].calls, 1);
        assert_int_equal(many[i].integer, i + 1);
    }

    assert_int_equal(redis_command_argv(f->r, on_reply, &res, 0, argv, NULL), HERALD_EINVAL);
    close_all(f);
}

static void test_server_killed(void **state)
{
    fixture_t *f = *state;
    result_t blocked = {0}, queued[3] = {{0}};
    result_t res;

    test_redis_start(&f->server, NULL);
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, NULL, 0);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));

    /* BLPOP on an empty list waits forever; the GETs queue behind it on the connection. */
    blocked.r = f->r;
    assert_int_equal(redis_command(f->r, on_reply, &blocked, "BLPOP nolist 0"), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(redis_command(f->r, on_reply, &queued[i], "GET k"), 0);
    test_run_until(&f->loop, test_never, NULL, 200);
    assert_int_equal(blocked.calls, 0);

    test_redis_kill(&f->server);
    assert_true(test_run_until(&f->loop, answered, &queued[2], 3000));
    assert_int_equal(blocked.calls, 1);
    assert_int_equal(blocked.status, UV_ECONNRESET);
    assert_int_equal(blocked.type, 0); /* NULL reply */
    assert_int_equal(blocked.sent_after, UV_ENOTCONN);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(queued[i].calls, 1);
        assert_int_equal(queued[i].status, UV_ECONNRESET);
    }

    /* Down: refused at once, several reconnect attempts fail meanwhile. */
    assert_false(redis_connected(f->r));
    assert_int_equal(redis_command(f->r, on_reply, &res, "PING"), UV_ENOTCONN);
    test_run_until(&f->loop, test_never, NULL, 700);
    assert_false(redis_connected(f->r));
    assert_int_equal(redis_command(f->r, on_reply, &res, "PING"), UV_ENOTCONN);
    for (int i = 0; i < 3; i++)
        assert_int_equal(queued[i].calls, 1); /* still exactly once */

    test_redis_start(&f->server, NULL);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 8000));
    res = cmd(f, "SET", "after", "restart", NULL);
    assert_string_equal(res.str, "OK");
    res = cmd(f, "GET", "after", NULL);
    assert_string_equal(res.str, "restart");
    close_all(f);
}

/* Nothing listens at first: every connect is refused until the server appears. */
static void test_server_late(void **state)
{
    fixture_t *f = *state;
    result_t res;

    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, NULL, 0);
    test_run_until(&f->loop, test_never, NULL, 500);
    assert_false(redis_connected(f->r));
    assert_int_equal(redis_command(f->r, on_reply, &res, "PING"), UV_ENOTCONN);
    test_redis_start(&f->server, NULL);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 8000));
    res = cmd(f, "PING", NULL);
    assert_string_equal(res.str, "PONG");
    close_all(f);
}

static void test_auth_select(void **state)
{
    fixture_t *f = *state;
    result_t res;

    test_redis_start(&f->server, "s3cret");
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, "s3cret", 2);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));
    cmd(f, "SET", "where", "db2", NULL);
    res = cmd(f, "SELECT", "0", NULL);
    assert_string_equal(res.str, "OK");
    res = cmd(f, "GET", "where", NULL);
    assert_int_equal(res.type, REDIS_REPLY_T_NIL);
    res = cmd(f, "SELECT", "2", NULL);
    res = cmd(f, "GET", "where", NULL);
    assert_string_equal(res.str, "db2");
    close_all(f);
}

static void test_auth_wrong(void **state)
{
    fixture_t *f = *state;

    test_redis_start(&f->server, "s3cret");
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, "wrong", 0);
    test_run_until(&f->loop, test_never, NULL, 800); /* refused, dropped and retried a few times */
    assert_false(redis_connected(f->r));
    close_all(f);
}

/* Runs the loop for ms with stderr (where log lines go) sent to a file; returns what was
 * written (heap). */
static char *run_capturing_log(uv_loop_t *loop, int ms)
{
    char path[] = "/tmp/herald-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    test_run_until(loop, test_never, NULL, (uint64_t)ms);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(fd, text, (size_t)n, 0), n);
    close(fd);
    unlink(path);
    return text;
}

/* Redis 6 ACL users through [redis] user + password_file: the right pair connects as that
 * user; a wrong password does not connect, and the log says why without the password. */
static void test_acl_user(void **state)
{
    fixture_t *f = *state;
    result_t res;
    char addr[32], pwfile[64];

    test_redis_start(&f->server, "default-s3cret");
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, "default-s3cret", 0);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));
    res = cmd(f, "ACL", "SETUSER", "herald", "on", ">herald-pw-4711", "~*", "+@all", NULL);
    assert_string_equal(res.str, "OK");

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->server.port);
    snprintf(pwfile, sizeof(pwfile), "%s/redis-password", f->server.dir);
    FILE *pf = fopen(pwfile, "w");
    assert_non_null(pf);
    fputs("herald-pw-4711\n", pf); /* as `echo` writes it: the newline is not part of it */
    fclose(pf);
    chmod(pwfile, 0600);
    redis_conf_t c = {.addr = addr,
                      .user = "herald",
                      .password = "",
                      .password_file = pwfile,
                      .db = 0,
                      .prefix = "herald:"};
    char err[256] = "";
    assert_int_equal(redis_conf_check(&c, err, sizeof(err)), 0);
    redis_t *admin = f->r;
    f->r = redis_conf_connect(&f->loop, &c, err, sizeof(err));
    assert_non_null(f->r);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));
    res = cmd(f, "ACL", "WHOAMI", NULL);
    assert_string_equal(res.str, "herald");
    redis_close(f->r, NULL, NULL);

    /* A wrong password: refused, logged with Redis's reason, never with the password. */
    redis_conf_t wrong = c;
    wrong.password = "wrong-pw-0815";
    wrong.password_file = "";
    f->r = redis_conf_connect(&f->loop, &wrong, err, sizeof(err));
    assert_non_null(f->r);
    char *log = run_capturing_log(&f->loop, 800);
    assert_false(redis_connected(f->r));
    /* Once per outage, although the client retried several times meanwhile. */
    const char *first = strstr(log, "WRONGPASS");
    if (first == NULL || strstr(first + 1, "WRONGPASS") != NULL)
        fail_msg("want the refusal logged once: %s", log);
    assert_null(strstr(log, "wrong-pw-0815"));
    assert_null(strstr(log, "herald-pw-4711"));
    free(log);
    redis_close(f->r, NULL, NULL);
    f->r = admin;
    close_all(f);
}

static int is_down(void *ctx)
{
    return !redis_connected(ctx);
}

/* The server drops an ACL user's connection: the client reconnects and authenticates again as
 * that user before any command is accepted. */
static void test_acl_reauth(void **state)
{
    fixture_t *f = *state;
    result_t res;

    test_redis_start(&f->server, "default-s3cret");
    redis_t *admin = f->r =
        redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, "default-s3cret", 0);
    assert_true(test_run_until(&f->loop, is_connected, admin, 5000));
    res = cmd(f, "ACL", "SETUSER", "herald", "on", ">herald-pw-4711", "~*", "+@all", NULL);
    assert_string_equal(res.str, "OK");
    redis_t *herald =
        redis_new(&f->loop, "127.0.0.1", f->server.port, "herald", "herald-pw-4711", 0);
    assert_true(test_run_until(&f->loop, is_connected, herald, 5000));

    res = cmd(f, "CLIENT", "KILL", "USER", "herald", NULL);
    assert_int_equal(res.integer, 1);
    assert_true(test_run_until(&f->loop, is_down, herald, 2000));
    assert_true(test_run_until(&f->loop, is_connected, herald, 8000));
    f->r = herald;
    res = cmd(f, "ACL", "WHOAMI", NULL);
    assert_string_equal(res.str, "herald");
    redis_close(admin, NULL, NULL);
    close_all(f);
}

/* What redis_conf_check refuses, each named, none with the password. */
static void test_conf_errors(void **state)
{
    (void)state;
    char err[256];
    redis_conf_t both = {.addr = "127.0.0.1:6379",
                         .user = "",
                         .password = "pw-in-both",
                         .password_file = "/etc/passwd-no",
                         .prefix = "herald:"};
    assert_int_equal(redis_conf_check(&both, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "not both"));
    assert_null(strstr(err, "pw-in-both"));
    redis_conf_t user_only = {.addr = "127.0.0.1:6379",
                              .user = "u",
                              .password = "",
                              .password_file = "",
                              .prefix = "herald:"};
    assert_int_equal(redis_conf_check(&user_only, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "user"));
    redis_conf_t missing = {.addr = "127.0.0.1:6379",
                            .user = "",
                            .password = "",
                            .password_file = "/nonexistent/pw",
                            .prefix = "herald:"};
    assert_int_equal(redis_conf_check(&missing, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "/nonexistent/pw"));
    redis_conf_t bad_addr = {
        .addr = "nowhere", .user = "", .password = "", .password_file = "", .prefix = "herald:"};
    assert_int_equal(redis_conf_check(&bad_addr, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "[redis] addr"));
    /* A brace in the prefix would become the keys' hash tag (redis_keys.h). */
    redis_conf_t braced = {.addr = "127.0.0.1:6379",
                           .user = "",
                           .password = "",
                           .password_file = "",
                           .prefix = "h{x}:"};
    assert_int_equal(redis_conf_check(&braced, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "[redis] prefix"));
    /* cluster = on: addr is a seed list, db 0 only. */
    redis_conf_t seeds = {.addr = "127.0.0.1:7000, 127.0.0.1:7001",
                          .cluster = true,
                          .user = "",
                          .password = "",
                          .password_file = "",
                          .prefix = "herald:"};
    assert_int_equal(redis_conf_check(&seeds, err, sizeof(err)), 0);
    seeds.addr = "127.0.0.1:7000,";
    assert_int_equal(redis_conf_check(&seeds, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "[redis] addr"));
    seeds.addr = "127.0.0.1:7000,nowhere";
    assert_int_equal(redis_conf_check(&seeds, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "\"nowhere\""));
    seeds.addr = "127.0.0.1:7000";
    seeds.db = 2;
    assert_int_equal(redis_conf_check(&seeds, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "[redis] db"));
}

static void test_close_pending(void **state)
{
    fixture_t *f = *state;
    result_t blocked = {0}, queued = {0};
    int closed = 0;

    test_redis_start(&f->server, NULL);
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, NULL, 0);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));
    assert_int_equal(redis_command(f->r, on_reply, &blocked, "BLPOP nolist 0"), 0);
    assert_int_equal(redis_command(f->r, on_reply, &queued, "GET k"), 0);
    test_run_until(&f->loop, test_never, NULL, 100);

    redis_close(f->r, on_closed, &closed);
    assert_int_equal(redis_command(f->r, on_reply, &queued, "GET k"), UV_ENOTCONN);
    assert_true(test_run_until(&f->loop, flag_set, &closed, 2000));
    assert_int_equal(blocked.calls, 1);
    assert_int_equal(blocked.status, UV_ECANCELED);
    assert_int_equal(queued.calls, 1);
    assert_int_equal(queued.status, UV_ECANCELED);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Closing while down (waiting out the backoff) and while connecting. */
static void test_close_while_down(void **state)
{
    fixture_t *f = *state;

    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, NULL, 0);
    test_run_until(&f->loop, test_never, NULL, 150);
    close_all(f);

    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, NULL, 0);
    close_all(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_wrong, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acl_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acl_reauth, setup, teardown),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test_setup_teardown(test_close_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_down, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
