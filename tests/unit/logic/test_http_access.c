/* Unit tests of logic_http_access.c: the public routes and the bearer key check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "logic_http_access.h"

static void test_public_routes(void **state)
{
    (void)state;
    assert_true(logic_http_access_public("GET", "/health"));
    assert_true(logic_http_access_public("HEAD", "/herald/v1/ready"));
    assert_true(logic_http_access_public("GET", "/web"));
    assert_true(logic_http_access_public("GET", "/web/"));
    assert_true(logic_http_access_public("GET", "/web/app.js"));
    assert_true(logic_http_access_public("GET", "/goim/nodes/weighted"));
    assert_true(logic_http_access_public("POST", "/herald/v1/login"));
    assert_true(logic_http_access_public("POST", "/herald/v1/users"));
    /* Everything that pushes, mints, or reveals users, rooms, nodes or counters. */
    assert_false(logic_http_access_public("POST", "/goim/push/all"));
    assert_false(logic_http_access_public("POST", "/herald/v1/tokens"));
    assert_false(logic_http_access_public("GET", "/herald/v1/users"));
    assert_false(logic_http_access_public("GET", "/herald/v1/online/users"));
    assert_false(logic_http_access_public("GET", "/herald/v1/rooms/members"));
    assert_false(logic_http_access_public("GET", "/goim/nodes/instances"));
    assert_false(logic_http_access_public("GET", "/goim/online/top"));
    assert_false(logic_http_access_public("GET", "/metrics"));
    assert_false(logic_http_access_public("GET", "/herald/v1/metrics"));
    /* No prefix tricks, and unknown paths are not public. */
    assert_false(logic_http_access_public("GET", "/webx"));
    assert_false(logic_http_access_public("GET", "/health/x"));
    assert_false(logic_http_access_public("GET", "/nope"));
    assert_false(logic_http_access_public("POST", "/goim/nodes/weighted"));
}

static void test_bearer(void **state)
{
    (void)state;
    const char *key = "s3cret";
    assert_true(logic_http_access_bearer_ok("Bearer s3cret", key));
    assert_true(logic_http_access_bearer_ok("bearer s3cret", key));
    assert_true(logic_http_access_bearer_ok("BEARER   s3cret", key));
    assert_false(logic_http_access_bearer_ok(NULL, key));
    assert_false(logic_http_access_bearer_ok("", key));
    assert_false(logic_http_access_bearer_ok("s3cret", key));
    assert_false(logic_http_access_bearer_ok("Bearers3cret", key));
    assert_false(logic_http_access_bearer_ok("Basic s3cret", key));
    assert_false(logic_http_access_bearer_ok("Bearer s3cre", key));
    assert_false(logic_http_access_bearer_ok("Bearer s3cretx", key));
    assert_false(logic_http_access_bearer_ok("Bearer S3CRET", key)); /* the key is exact */
    assert_false(logic_http_access_bearer_ok("Bearer ", key));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_routes),
        cmocka_unit_test(test_bearer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
