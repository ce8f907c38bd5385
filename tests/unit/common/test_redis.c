/* Unit tests of redis.c against a real redis-server started on a free loopback port in a
 * temporary directory: commands and reply accessors, a server killed under pending commands,
 * reconnection, AUTH + SELECT, an ACL user (AUTH user password) with a right and a wrong
 * password, re-authentication after the server drops the connection, the [redis] section's
 * password_file, close with commands pending. */
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

/* ------------------------------------------------------------------------ ACL users */

#define ADMIN_PW "admin-pw-1x"
#define HERALD_PW "herald-pw-7q"
#define WRONG_PW "wrong-pw-Zx81"

static int is_down(void *ctx)
{
    return !redis_connected(ctx);
}

/* Starts a server whose default user has a password and that has the ACL user "herald";
 * returns the default user's client (left in f->r). */
static redis_t *acl_start(fixture_t *f)
{
    result_t res;

    test_redis_start(&f->server, ADMIN_PW);
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, NULL, ADMIN_PW, 0);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));
    res = cmd(f, "ACL", "SETUSER", "herald", "on", ">" HERALD_PW, "~*", "+@all", NULL);
    assert_string_equal(res.str, "OK");
    return f->r;
}

static void close_quietly(redis_t *r)
{
    redis_close(r, NULL, NULL);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_acl_user(void **state)
{
    fixture_t *f = *state;
    redis_t *admin = acl_start(f), *herald;
    result_t res;

    herald = f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, "herald", HERALD_PW, 0);
    assert_true(test_run_until(&f->loop, is_connected, herald, 5000));
    res = cmd(f, "ACL", "WHOAMI", NULL);
    assert_string_equal(res.str, "herald");
    res = cmd(f, "SET", "k", "v", NULL);
    assert_string_equal(res.str, "OK");

    /* The server drops herald's connection: the client reconnects as herald again. */
    f->r = admin;
    res = cmd(f, "CLIENT", "KILL", "USER", "herald", NULL);
    assert_int_equal(res.integer, 1);
    assert_true(test_run_until(&f->loop, is_down, herald, 2000));
    assert_true(test_run_until(&f->loop, is_connected, herald, 8000));
    f->r = herald;
    res = cmd(f, "ACL", "WHOAMI", NULL);
    assert_string_equal(res.str, "herald");
    res = cmd(f, "GET", "k", NULL);
    assert_string_equal(res.str, "v");
    close_quietly(admin);
    close_all(f);
}

/* A wrong password: never connected, refused once in the log (not at every retry), and the
 * password is in no log line. */
static void test_acl_wrong_password(void **state)
{
    fixture_t *f = *state;
    redis_t *admin = acl_start(f);
    char *log;

    test_stderr_begin();
    f->r = redis_new(&f->loop, "127.0.0.1", f->server.port, "herald", WRONG_PW, 0);
    test_run_until(&f->loop, test_never, NULL, 1000); /* refused, dropped, retried */
    assert_false(redis_connected(f->r));
    log = test_stderr_end();
    if (count(log, "WRONGPASS") != 1 || strstr(log, WRONG_PW) != NULL)
        fail_msg("want one WRONGPASS line and no password, got:\n%s", log);
    free(log);
    close_quietly(admin);
    close_all(f);
}

/* The [redis] section: user with password_file connects; bad combinations are refused with a
 * message that names no password. */
static void test_conf_password_file(void **state)
{
    fixture_t *f = *state;
    redis_t *admin = acl_start(f);
    char addr[64], file[160], err[256];
    FILE *fp;
    result_t res;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->server.port);
    snprintf(file, sizeof(file), "%s/redis-password", f->server.dir);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fputs(HERALD_PW "\n", fp);
    fclose(fp);
    assert_int_equal(chmod(file, 0600), 0);
    redis_conf_t c = {addr, "herald", "", file, 0, "herald:"};

    f->r = redis_conf_open(&f->loop, &c, err, sizeof(err));
    if (f->r == NULL)
        fail_msg("%s", err);
    assert_true(test_run_until(&f->loop, is_connected, f->r, 5000));
    res = cmd(f, "ACL", "WHOAMI", NULL);
    assert_string_equal(res.str, "herald");

    c.password = HERALD_PW;
    assert_null(redis_conf_open(&f->loop, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "not both"));
    c.password_file = "";
    c.password = "";
    assert_null(redis_conf_open(&f->loop, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "[redis] user herald: set its password or password_file"));
    c.password_file = "/nonexistent/redis-password";
    assert_null(redis_conf_open(&f->loop, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "[redis] password_file /nonexistent/redis-password: cannot open"));
    c.password_file = "";
    c.password = HERALD_PW;
    c.addr = "no-port";
    assert_null(redis_conf_open(&f->loop, &c, err, sizeof(err)));
    assert_non_null(strstr(err, "[redis] addr"));
    assert_null(strstr(err, HERALD_PW));
    close_quietly(admin);
    close_all(f);
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
        cmocka_unit_test_setup_teardown(test_acl_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conf_password_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_down, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
