/* test_body.c - the auth body (OpAuth) and upstream message (OpSendMsg) parsers: what they
 * accept, and that garbage, wrong types, oversize input and every truncation are refused. */
#include "herald_err.h"
#include "logic_body.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int auth(const char *json, logic_body_auth_t *a, char *err)
{
    return logic_body_auth(json, strlen(json), a, err, 200);
}

static void test_auth_token_body(void **state)
{
    (void)state;
    logic_body_auth_t a;
    char err[200];
    assert_int_equal(auth("{\"token\":\"abc\",\"room_id\":\"live://1000\",\"platform\":\"web\","
                          "\"accepts\":[1000,1001],\"last_seq\":42,\"device\":\"phone-1.a:b_c\","
                          "\"extra\":{\"x\":1}}",
                          &a, err),
                     0);
    assert_string_equal(a.token, "abc");
    assert_string_equal(a.room_id, "live://1000");
    assert_string_equal(a.platform, "web");
    assert_int_equal(a.naccepts, 2);
    assert_int_equal(a.accepts[0], 1000);
    assert_int_equal(a.accepts[1], 1001);
    assert_int_equal(a.last_seq, 42);
    assert_true(a.has_last_seq);
    assert_string_equal(a.device, "phone-1.a:b_c");
    assert_false(a.has_mid);
    assert_null(a.key);
    logic_body_auth_deinit(&a);
    assert_null(a.token);
}

static void test_auth_goim_body(void **state)
{
    (void)state;
    logic_body_auth_t a;
    char err[200];
    assert_int_equal(auth("{\"mid\":123,\"key\":\"\",\"room_id\":\"live://1\",\"platform\":null,"
                          "\"accepts\":[1000]}",
                          &a, err),
                     0);
    assert_true(a.has_mid);
    assert_true(a.mid == 123);
    assert_false(a.has_last_seq); /* absent is not 0: no backlog for goim clients */
    assert_null(a.device);
    assert_null(a.key); /* "" is no key: logic makes one */
    assert_null(a.token);
    assert_null(a.platform);
    logic_body_auth_deinit(&a);
    assert_int_equal(auth("{\"mid\":0,\"key\":\"my-own-key\"}", &a, err), 0);
    assert_true(a.has_mid);
    assert_string_equal(a.key, "my-own-key");
    logic_body_auth_deinit(&a);
    assert_int_equal(auth("{\"last_seq\":0,\"device\":\"\"}", &a, err), 0);
    assert_true(a.has_last_seq);
    assert_null(a.device); /* "" is no device */
    logic_body_auth_deinit(&a);
    assert_int_equal(auth("{}", &a, err), 0);
    assert_false(a.has_mid);
    assert_null(a.token);
    assert_null(a.room_id);
    logic_body_auth_deinit(&a);
}

static void test_auth_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "null",
        "[]",
        "\"token\"",
        "{",
        "{\"token\":}",
        "{\"token\":5}",
        "{\"token\":\"a\",\"token\":\"b\"}", /* duplicate keys */
        "{\"mid\":\"123\"}",                 /* goim sends a number */
        "{\"mid\":-1}",
        "{\"mid\":1.5}",
        "{\"mid\":99999999999999999999}",
        "{\"key\":\"has space\"}",
        "{\"key\":7}",
        "{\"room_id\":[]}",
        "{\"accepts\":5}",
        "{\"accepts\":[\"1000\"]}",
        "{\"accepts\":[-1]}",
        "{\"accepts\":[2147483648]}",
        "{\"last_seq\":-3}",
        "{\"device\":\"has space\"}",
        "{\"device\":\"a/b\"}",
        "{\"device\":7}",
        "{\"device\":\"0123456789012345678901234567890123456789012345678901234567890123x\"}",
        "{\"token\":\"a\\u0000b\"}", /* NUL inside a string */
        "{\"token\":\"abc\"} trailing",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        logic_body_auth_t a;
        char err[200] = "";
        if (auth(bad[i], &a, err) != HERALD_EINVAL)
            fail_msg("auth body %s was accepted", bad[i]);
        assert_true(err[0] != '\0');
        assert_null(a.token);
        assert_null(a.accepts);
    }
}

static void test_auth_bounds(void **state)
{
    (void)state;
    char err[200];
    logic_body_auth_t a;
    /* Over the byte bound: refused before parsing. */
    size_t big = LOGIC_BODY_MAX + 10;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    memcpy(body, "{\"token\":\"x\"}", 13);
    body[big] = '\0';
    assert_int_equal(logic_body_auth(body, big, &a, err, sizeof(err)), HERALD_EINVAL);
    free(body);
    /* Too many accepts. */
    size_t n = LOGIC_BODY_MAX_ACCEPTS + 1;
    body = malloc(32 + n * 6);
    size_t len = (size_t)sprintf(body, "{\"accepts\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(body + len, "%s1000", i ? "," : "");
    len += (size_t)sprintf(body + len, "]}");
    assert_int_equal(logic_body_auth(body, len, &a, err, sizeof(err)), HERALD_EINVAL);
    free(body);
    /* Every truncation of a valid body is refused (never read past len). */
    const char *good = "{\"token\":\"abc\",\"room_id\":\"live://1\",\"accepts\":[1000,1001]}";
    for (size_t cut = 0; cut < strlen(good); cut++) {
        char *part = malloc(cut + 1);
        memcpy(part, good, cut);
        assert_int_equal(logic_body_auth(part, cut, &a, err, sizeof(err)), HERALD_EINVAL);
        free(part);
    }
    assert_int_equal(logic_body_auth(good, strlen(good), &a, err, sizeof(err)), 0);
    logic_body_auth_deinit(&a);
}

static int upstream(const char *json, const char *room, logic_push_req_t *r, char *err)
{
    return logic_body_upstream(json, strlen(json), 77, room, r, err, 200);
}

static void test_upstream_private(void **state)
{
    (void)state;
    logic_push_req_t r;
    char err[200];
    assert_int_equal(upstream("{\"to_mid\":5,\"op\":1000,\"msg\":{\"text\":\"hi\", \"n\": [1, 2]}}",
                              "", &r, err),
                     0);
    assert_int_equal(r.kind, LOGIC_PUSH_MIDS);
    assert_int_equal(r.nmids, 1);
    assert_true(r.mids[0] == 5);
    assert_int_equal(r.operation, 1000);
    assert_true(r.from_mid == 77);
    /* re-serialised compactly */
    assert_int_equal(r.msg_len, strlen("{\"text\":\"hi\",\"n\":[1,2]}"));
    assert_memory_equal(r.msg, "{\"text\":\"hi\",\"n\":[1,2]}", r.msg_len);
    logic_push_req_deinit(&r);

    assert_int_equal(upstream("{\"to_mid\":5,\"op\":1001,\"msg\":\"plain\"}", NULL, &r, err), 0);
    assert_memory_equal(r.msg, "\"plain\"", r.msg_len);
    logic_push_req_deinit(&r);
}

static void test_upstream_room(void **state)
{
    (void)state;
    logic_push_req_t r;
    char err[200];
    assert_int_equal(
        upstream("{\"to_room\":\"live://1000\",\"op\":1000,\"msg\":1}", "live://1000", &r, err), 0);
    assert_int_equal(r.kind, LOGIC_PUSH_ROOM);
    assert_string_equal(r.room, "live://1000");
    assert_memory_equal(r.msg, "1", 1);
    logic_push_req_deinit(&r);
    /* Not in that room (or in none): forbidden, not malformed. */
    assert_int_equal(
        upstream("{\"to_room\":\"live://1000\",\"op\":1000,\"msg\":1}", "live://2", &r, err),
        HERALD_EFORBIDDEN);
    assert_non_null(strstr(err, "not in room"));
    assert_int_equal(upstream("{\"to_room\":\"live://1000\",\"op\":1000,\"msg\":1}", "", &r, err),
                     HERALD_EFORBIDDEN);
    assert_null(r.room);
}

static void test_upstream_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "{}",
        "[1]",
        "{\"to_mid\":5,\"msg\":1}",            /* no op */
        "{\"to_mid\":5,\"op\":999,\"msg\":1}", /* not a business op */
        "{\"to_mid\":5,\"op\":6,\"msg\":1}",   /* would be a kick */
        "{\"to_mid\":5,\"op\":2147483648,\"msg\":1}",
        "{\"to_mid\":5,\"op\":\"1000\",\"msg\":1}",
        "{\"to_mid\":5,\"op\":1000}",                                    /* no msg */
        "{\"op\":1000,\"msg\":1}",                                       /* no target */
        "{\"to_mid\":5,\"to_room\":\"live://1\",\"op\":1000,\"msg\":1}", /* two targets */
        "{\"to_mid\":-5,\"op\":1000,\"msg\":1}",
        "{\"to_mid\":\"5\",\"op\":1000,\"msg\":1}",
        "{\"to_room\":\"\",\"op\":1000,\"msg\":1}",
        "{\"to_room\":3,\"op\":1000,\"msg\":1}",
        "{\"to_mid\":5,\"op\":1000,\"msg\":1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        logic_push_req_t r;
        char err[200] = "";
        if (upstream(bad[i], "live://1", &r, err) != HERALD_EINVAL)
            fail_msg("upstream body %s was accepted", bad[i]);
        assert_true(err[0] != '\0');
        assert_null(r.msg);
        assert_null(r.mids);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_token_body),  cmocka_unit_test(test_auth_goim_body),
        cmocka_unit_test(test_auth_refused),     cmocka_unit_test(test_auth_bounds),
        cmocka_unit_test(test_upstream_private), cmocka_unit_test(test_upstream_room),
        cmocka_unit_test(test_upstream_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
