/* test_password.c - logic_password on a real loop and libuv's thread pool: a hash verifies with
 * its password and no other, is argon2id with the configured cost, the loop keeps turning while
 * hashes run, the decoy refuses every password at a real check's cost, bad lengths are refused, the
 * in-flight bound holds, and close waits for the work in flight. */
#include "conf.h"
#include "herald_err.h"
#include "logic_conf.h"
#include "logic_password.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static uv_loop_t loop;
static logic_conf_t conf;

typedef struct result_s {
    int done;
    int status;
    char hash[LOGIC_PASSWORD_HASH_MAX];
} result_t;

static void on_hashed(int status, const char *hash, void *arg)
{
    result_t *r = arg;
    r->status = status;
    if (hash != NULL)
        snprintf(r->hash, sizeof(r->hash), "%s", hash);
    r->done++;
}

static void on_verified(int status, void *arg)
{
    result_t *r = arg;
    r->status = status;
    r->done++;
}

static int ticks;
static void on_tick(uv_timer_t *t)
{
    (void)t;
    ticks++;
}

static void run_until(const int *done, int want)
{
    while (*done < want)
        uv_run(&loop, UV_RUN_ONCE);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(conf_load(logic_conf_items, &conf, NULL, err, sizeof(err)), 0);
    return uv_loop_init(&loop);
}

static int teardown(void **state)
{
    (void)state;
    conf_free(logic_conf_items, &conf);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static void close_password(logic_password_t *p)
{
    int closed = 0;
    logic_password_close(p, on_closed, &closed);
    run_until(&closed, 1);
}

static void test_hash_and_verify(void **state)
{
    (void)state;
    logic_password_t *p = logic_password_new(&loop, &conf);
    assert_non_null(p);
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    ticks = 0;
    result_t h = {0};
    assert_int_equal(logic_password_hash(p, "correct horse", 13, on_hashed, &h), 0);
    assert_int_equal(h.done, 0); /* never called before it returns */
    run_until(&h.done, 1);
    /* The defaults take tens of ms: the loop's 1 ms timer kept firing meanwhile. */
    assert_true(ticks >= 3);
    assert_int_equal(h.status, 0);
    assert_non_null(strstr(h.hash, "$argon2id$v=19$m=32768,t=2,p=1$"));

    result_t v = {0};
    assert_int_equal(logic_password_verify(p, h.hash, "correct horse", 13, on_verified, &v), 0);
    run_until(&v.done, 1);
    assert_int_equal(v.status, 0);
    v.done = 0;
    assert_int_equal(logic_password_verify(p, h.hash, "correct horsf", 13, on_verified, &v), 0);
    run_until(&v.done, 1);
    assert_int_equal(v.status, HERALD_EAUTH);
    v.done = 0;
    assert_int_equal(logic_password_verify(p, "not a hash", "correct horse", 13, on_verified, &v),
                     0);
    run_until(&v.done, 1);
    assert_int_equal(v.status, HERALD_EAUTH);

    /* Lengths: 8..128 bytes, no NUL; refused without a callback. */
    char long_pw[LOGIC_PASSWORD_MAX + 1];
    memset(long_pw, 'x', sizeof(long_pw));
    assert_int_equal(logic_password_hash(p, "short", 5, on_hashed, &h), HERALD_EINVAL);
    assert_int_equal(logic_password_hash(p, long_pw, sizeof(long_pw), on_hashed, &h),
                     HERALD_EINVAL);
    assert_int_equal(logic_password_hash(p, "nul\0inside", 10, on_hashed, &h), HERALD_EINVAL);
    assert_int_equal(logic_password_ok(long_pw, LOGIC_PASSWORD_MAX), 0);
    assert_int_equal(h.done, 1);

    uv_close((uv_handle_t *)&tick, NULL);
    close_password(p);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* The decoy (unknown names): every password is refused, on the pool like a real check, and the
 * decoy is argon2id with the configured cost, so it costs what a real check costs. */
static void test_decoy(void **state)
{
    (void)state;
    logic_password_t *p = logic_password_new(&loop, &conf);
    assert_non_null(p);
    static const char *const guesses[] = {"correct horse", "password", "", "x"};
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 1, 1);
    for (size_t i = 0; i < sizeof(guesses) / sizeof(guesses[0]); i++) {
        result_t v = {0};
        size_t len = strlen(guesses[i]);
        int rc = logic_password_verify_decoy(p, guesses[i], len, on_verified, &v);
        if (logic_password_ok(guesses[i], len) != 0) {
            assert_int_equal(rc, HERALD_EINVAL); /* as for a real account */
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(v.done, 0);
        ticks = 0;
        run_until(&v.done, 1);
        assert_true(ticks >= 3); /* it did run a 32 MiB argon2id, on the pool */
        assert_int_equal(v.status, HERALD_EAUTH);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    close_password(p);
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* LOGIC_PASSWORD_INFLIGHT at most; close waits for them, and refuses new work. */
static void test_inflight_bound_and_close(void **state)
{
    (void)state;
    conf.login_password_mem = 1 << 20; /* cheap: this is about counting */
    conf.login_password_ops = 1;
    logic_password_t *p = logic_password_new(&loop, &conf);
    result_t r = {0};
    for (int i = 0; i < LOGIC_PASSWORD_INFLIGHT; i++)
        assert_int_equal(logic_password_hash(p, "password", 8, on_hashed, &r), 0);
    assert_int_equal(logic_password_hash(p, "password", 8, on_hashed, &r), HERALD_ERATE);
    int closed = 0;
    logic_password_close(p, on_closed, &closed);
    /* p is closing: it refuses new work and lives until the work in flight is done. */
    assert_int_equal(logic_password_hash(p, "password", 8, on_hashed, &r), HERALD_EUNAVAIL);
    run_until(&closed, 1);
    assert_int_equal(r.done, LOGIC_PASSWORD_INFLIGHT);
    assert_int_equal(r.status, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    conf.login_password_mem = 32 << 20;
    conf.login_password_ops = 2;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_decoy),
        cmocka_unit_test(test_inflight_bound_and_close),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
