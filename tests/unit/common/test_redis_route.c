/* Unit tests of redis_route.c: the key a Redis Cluster client routes a command by, on the RESP
 * bytes of a command (an array of bulk strings, as hiredis sends it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "redis_route.h"

/* Routes the command given as its words (a NULL-terminated list), sent as RESP. */
static redis_route_t route_words(const char *const *words)
{
    static char wire[512];
    int argc = 0, at;
    while (words[argc])
        argc++;
    at = snprintf(wire, sizeof(wire), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        at += snprintf(wire + at, sizeof(wire) - (size_t)at, "$%zu\r\n%s\r\n", strlen(words[i]),
                       words[i]);
    assert_true((size_t)at < sizeof(wire));
    redis_route_t rt;
    assert_int_equal(redis_route(wire, (size_t)at, &rt), 0);
    return rt;
}

#define route(...) route_words((const char *const[]){__VA_ARGS__, NULL})

/* The routing key as a string (it points into the wire, which stays until the next route). */
static const char *key_of(redis_route_t rt)
{
    static char key[64];
    if (rt.key == NULL)
        return NULL;
    assert_true(rt.key_len < sizeof(key));
    memcpy(key, rt.key, rt.key_len);
    key[rt.key_len] = '\0';
    return key;
}

static void test_first_key(void **state)
{
    (void)state;
    redis_route_t rt = route("SET", "seq:{42}", "1");
    assert_int_equal(rt.kind, REDIS_ROUTE_OTHER);
    assert_string_equal(key_of(rt), "seq:{42}");
    assert_string_equal(key_of(route("HSET", "comets:{registry}", "f", "v")), "comets:{registry}");
}

static void test_eval_keys(void **state)
{
    (void)state;
    assert_string_equal(key_of(route("EVAL", "return 1", "2", "inbox:{7}", "k2")), "inbox:{7}");
    assert_string_equal(key_of(route("evalsha", "abc", "1", "ack:{9}")), "ack:{9}");
    /* numkeys 0: the next argument is an ARGV, not a key */
    assert_null(route("EVAL", "return 1", "0", "notakey").key);
}

static void test_keyless_and_transactions(void **state)
{
    (void)state;
    assert_null(route("PING").key);
    assert_null(route("CLUSTER", "SLOTS").key);
    assert_null(route("WAIT", "1", "1000").key);
    redis_route_t rt = route("MULTI");
    assert_int_equal(rt.kind, REDIS_ROUTE_MULTI);
    assert_null(rt.key);
    assert_int_equal(route("EXEC").kind, REDIS_ROUTE_END_TXN);
    assert_int_equal(route("discard").kind, REDIS_ROUTE_END_TXN);
}

static void test_not_resp(void **state)
{
    (void)state;
    redis_route_t rt;
    assert_int_equal(redis_route("PING\r\n", 6, &rt), -1);
    assert_int_equal(redis_route("*1\r\n$9\r\nPING\r\n", 14, &rt), -1); /* bulk longer than data */
    assert_int_equal(redis_route("*0\r\n", 4, &rt), -1);
    assert_int_equal(redis_route("", 0, &rt), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_key),
        cmocka_unit_test(test_eval_keys),
        cmocka_unit_test(test_keyless_and_transactions),
        cmocka_unit_test(test_not_resp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
