/* test_params.c - validation of the HTTP push API's query parameters, and key format parsing.
 * Every bad input must be refused with a message before anything reaches a backend. */
#include "herald_err.h"
#include "logic_params.h"
#include "logic_push_req.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A query string as name/value pairs: the same accessor shape the HTTP adapter provides. */
typedef struct fake_query_s {
    const char *const *pairs; /* name, value, name, value, ..., NULL */
} query_t;

static const char *q_get(void *ctx, const char *name)
{
    const query_t *q = ctx;
    for (size_t i = 0; q->pairs[i] != NULL; i += 2)
        if (strcmp(q->pairs[i], name) == 0)
            return q->pairs[i + 1];
    return NULL;
}

static size_t q_get_all(void *ctx, const char *name, const char **out, size_t max)
{
    const query_t *q = ctx;
    size_t n = 0;
    for (size_t i = 0; q->pairs[i] != NULL; i += 2)
        if (strcmp(q->pairs[i], name) == 0) {
            if (n < max)
                out[n] = q->pairs[i + 1];
            n++;
        }
    return n;
}

static int parse(const char *const *pairs, logic_push_kind_t kind, logic_push_req_t *out, char *err)
{
    query_t q = {pairs};
    logic_query_t lq = {q_get, q_get_all, &q};
    err[0] = '\0';
    return logic_params_push(&lq, kind, "hello", 5, out, err, 200);
}

/* Expects a refusal whose message contains `needle`. */
static void refused(const char *const *pairs, logic_push_kind_t kind, const char *needle)
{
    logic_push_req_t r;
    char err[200];
    assert_int_equal(parse(pairs, kind, &r, err), HERALD_EINVAL);
    if (strstr(err, needle) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
    assert_null(r.keys);
    assert_null(r.mids);
    assert_null(r.room);
    assert_null(r.msg);
}

static void test_operation(void **state)
{
    (void)state;
    refused((const char *[]){"keys", "1-a", NULL}, LOGIC_PUSH_KEYS, "operation is required");
    refused((const char *[]){"operation", "", "keys", "1-a", NULL}, LOGIC_PUSH_KEYS,
            "operation is required");
    const char *bad[] = {
        "abc", "12abc", " 12", "+12", "1.5", "-", "0x10", "1e3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused((const char *[]){"operation", bad[i], "keys", "1-a", NULL}, LOGIC_PUSH_KEYS,
                "operation must be an integer");
    refused((const char *[]){"operation", "-1", "keys", "1-a", NULL}, LOGIC_PUSH_KEYS,
            "operation must be between");
    refused((const char *[]){"operation", "2147483648", "keys", "1-a", NULL}, LOGIC_PUSH_KEYS,
            "operation must be between");
}

static void test_keys(void **state)
{
    (void)state;
    refused((const char *[]){"operation", "1000", NULL}, LOGIC_PUSH_KEYS, "keys is required");
    refused((const char *[]){"operation", "1000", "keys", "", NULL}, LOGIC_PUSH_KEYS, "bad key");
    refused((const char *[]){"operation", "1000", "keys", "a b", NULL}, LOGIC_PUSH_KEYS, "bad key");
    refused((const char *[]){"operation", "1000", "keys", "ok", "keys", "x\x01y", NULL},
            LOGIC_PUSH_KEYS, "bad key");
    char longkey[LOGIC_PARAMS_MAX_KEY + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    refused((const char *[]){"operation", "1000", "keys", longkey, NULL}, LOGIC_PUSH_KEYS,
            "bad key");

    logic_push_req_t r;
    char err[200];
    assert_int_equal(
        parse((const char *[]){"operation", "1000", "keys", "12-abc", "keys", "goim-key", NULL},
              LOGIC_PUSH_KEYS, &r, err),
        0);
    assert_int_equal(r.kind, LOGIC_PUSH_KEYS);
    assert_int_equal(r.operation, 1000);
    assert_int_equal(r.nkeys, 2);
    assert_string_equal(r.keys[0], "12-abc");
    assert_string_equal(r.keys[1], "goim-key");
    assert_int_equal(r.msg_len, 5);
    assert_memory_equal(r.msg, "hello", 5);
    logic_push_req_deinit(&r);
    assert_null(r.keys);
}

static void test_mids(void **state)
{
    (void)state;
    refused((const char *[]){"operation", "1000", NULL}, LOGIC_PUSH_MIDS, "mids is required");
    const char *bad[] = {"", "x", "-1", "1.0", " 1", "1 ", "9223372036854775808", "+3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused((const char *[]){"operation", "1000", "mids", "7", "mids", bad[i], NULL},
                LOGIC_PUSH_MIDS, "bad mid");

    logic_push_req_t r;
    char err[200];
    assert_int_equal(
        parse((const char *[]){"operation", "5", "mids", "3", "mids", "9223372036854775807", "mids",
                               "3", "mids", "0", "mids", "9", NULL},
              LOGIC_PUSH_MIDS, &r, err),
        0);
    /* duplicates removed, first occurrence kept, order preserved */
    assert_int_equal(r.nmids, 4);
    assert_true(r.mids[0] == 3);
    assert_true(r.mids[1] == INT64_MAX);
    assert_true(r.mids[2] == 0);
    assert_true(r.mids[3] == 9);
    logic_push_req_deinit(&r);
}

static void test_too_many_targets(void **state)
{
    (void)state;
    size_t n = LOGIC_PARAMS_MAX_TARGETS + 1;
    const char **pairs = calloc(2 * n + 3, sizeof(*pairs));
    pairs[0] = "operation";
    pairs[1] = "1000";
    for (size_t i = 0; i < n; i++) {
        pairs[2 + 2 * i] = "mids";
        pairs[3 + 2 * i] = "1";
    }
    refused(pairs, LOGIC_PUSH_MIDS, "too many mids");
    for (size_t i = 0; i < n; i++)
        pairs[2 + 2 * i] = "keys";
    refused(pairs, LOGIC_PUSH_KEYS, "too many keys");
    free(pairs);
}

static void test_room(void **state)
{
    (void)state;
    refused((const char *[]){"operation", "1000", "room", "1000", NULL}, LOGIC_PUSH_ROOM,
            "type is required");
    refused((const char *[]){"operation", "1000", "type", "live", NULL}, LOGIC_PUSH_ROOM,
            "room is required");
    refused((const char *[]){"operation", "1000", "type", "live", "room", "", NULL},
            LOGIC_PUSH_ROOM, "room is required");
    refused((const char *[]){"operation", "1000", "type", "li ve", "room", "1", NULL},
            LOGIC_PUSH_ROOM, "printable");
    char longroom[LOGIC_PARAMS_MAX_ROOM];
    memset(longroom, 'r', sizeof(longroom) - 1);
    longroom[sizeof(longroom) - 1] = '\0';
    refused((const char *[]){"operation", "1000", "type", "live", "room", longroom, NULL},
            LOGIC_PUSH_ROOM, "longer than");

    logic_push_req_t r;
    char err[200];
    assert_int_equal(
        parse((const char *[]){"operation", "1000", "type", "live", "room", "1000", NULL},
              LOGIC_PUSH_ROOM, &r, err),
        0);
    assert_string_equal(r.room, "live://1000");
    logic_push_req_deinit(&r);
}

static void test_all(void **state)
{
    (void)state;
    logic_push_req_t r;
    char err[200];
    assert_int_equal(parse((const char *[]){"operation", "1000", NULL}, LOGIC_PUSH_ALL, &r, err),
                     0);
    assert_int_equal(r.speed, 0);
    logic_push_req_deinit(&r);
    assert_int_equal(
        parse((const char *[]){"operation", "1000", "speed", "50", NULL}, LOGIC_PUSH_ALL, &r, err),
        0);
    assert_int_equal(r.speed, 50);
    logic_push_req_deinit(&r);
    refused((const char *[]){"operation", "1000", "speed", "fast", NULL}, LOGIC_PUSH_ALL,
            "speed must be an integer");
    refused((const char *[]){"operation", "1000", "tag", "ios", NULL}, LOGIC_PUSH_ALL,
            "tag is not supported");
    assert_int_equal(
        parse((const char *[]){"operation", "1000", "tag", "", NULL}, LOGIC_PUSH_ALL, &r, err), 0);
    logic_push_req_deinit(&r);
    refused((const char *[]){"operation", "1000", "speed", "-5", NULL}, LOGIC_PUSH_ALL,
            "speed must be between");
}

static void test_key_mid(void **state)
{
    (void)state;
    int64_t mid = -1;
    assert_int_equal(logic_params_key_mid("123-0123456789abcdef01234567", &mid), 0);
    assert_true(mid == 123);
    assert_int_equal(logic_params_key_mid("0-x", &mid), 0);
    assert_true(mid == 0);
    assert_int_equal(logic_params_key_mid("9223372036854775807-z", &mid), 0);
    assert_true(mid == INT64_MAX);
    const char *bad[] = {"",
                         "-",
                         "-abc",
                         "123",
                         "123-",
                         "abc-def",
                         "12a-x",
                         "+1-x",
                         " 1-x",
                         "9223372036854775808-x",
                         "12345678901234567890123-x",
                         "1 -x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (logic_params_key_mid(bad[i], &mid) != HERALD_EINVAL)
            fail_msg("key \"%s\" was accepted", bad[i]);
}

static void test_int_and_mid(void **state)
{
    (void)state;
    long long v;
    char err[100];
    assert_int_equal(logic_params_int("-7", "n", -10, 10, &v, err, sizeof(err)), 0);
    assert_int_equal(v, -7);
    assert_int_equal(logic_params_int(NULL, "n", 0, 1, &v, err, sizeof(err)), HERALD_EINVAL);
    assert_string_equal(err, "n is required");
    int64_t mid;
    assert_int_equal(logic_params_mid("0", &mid), 0);
    assert_int_equal(logic_params_mid(NULL, &mid), HERALD_EINVAL);
    assert_int_equal(logic_params_mid("-0", &mid), HERALD_EINVAL);
    assert_int_equal(logic_params_mid("1\n", &mid), HERALD_EINVAL);
    char room[LOGIC_PARAMS_MAX_ROOM + 1];
    assert_int_equal(logic_params_room_id("live", "9", room, sizeof(room), err, sizeof(err)), 0);
    assert_string_equal(room, "live://9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operation), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_mids),      cmocka_unit_test(test_too_many_targets),
        cmocka_unit_test(test_room),      cmocka_unit_test(test_all),
        cmocka_unit_test(test_key_mid),   cmocka_unit_test(test_int_and_mid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
