/* Unit tests of redis_slot.c (Redis Cluster key slots) and of the hash tags of redis_keys.c:
 * known vectors from the Redis Cluster specification, the tag rules, and every key of one user
 * (and every account key, every registry key) in one slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis_keys.h"
#include "redis_slot.h"

static unsigned slot_of(const char *key)
{
    return redis_slot(key, strlen(key));
}

static void test_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("123456789"), 0x31C3); /* the CRC16/XMODEM check value */
    assert_int_equal(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    assert_int_equal(slot_of("{user1000}.following"), slot_of("user1000"));
}

static void test_tag_rules(void **state)
{
    (void)state;
    /* An empty tag: the whole key is hashed, not the later "{bar}". */
    assert_int_not_equal(slot_of("foo{}{bar}"), slot_of("bar"));
    /* Only the length given counts: "foo" inside a longer buffer. */
    assert_int_equal(redis_slot("foobar", 3), 12182);
    /* The first '{' and the next '}': "foo{{bar}}zap" hashes "{bar". */
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    assert_int_equal(redis_slot("", 0), 0);
}

static void test_keys_of_one_user_share_a_slot(void **state)
{
    (void)state;
    char k[REDIS_KEY_MAX];
    const char *prefix = "herald:";
    int n = redis_key_seq(k, prefix, 1001);
    unsigned s = redis_slot(k, (size_t)n);
    assert_int_equal(slot_of("1001"), s);
    n = redis_key_inbox(k, prefix, 1001);
    assert_int_equal(redis_slot(k, (size_t)n), s);
    n = redis_key_ack(k, prefix, 1001);
    assert_int_equal(redis_slot(k, (size_t)n), s);
    n = redis_key_sent(k, prefix, 1001);
    assert_int_equal(redis_slot(k, (size_t)n), s);
    n = redis_key_inbox_from(k, prefix, 1001, 77);
    assert_int_equal(redis_slot(k, (size_t)n), s);
    n = redis_key_conn(k, prefix, 1001);
    assert_int_equal(redis_slot(k, (size_t)n), s);
    n = redis_key_seq(k, prefix, 1002);
    assert_int_not_equal(redis_slot(k, (size_t)n), s);
}

static void test_shared_tags(void **state)
{
    (void)state;
    char k[REDIS_KEY_MAX];
    const char *prefix = "herald:";
    int n = redis_key_user_next(k, prefix);
    unsigned users = redis_slot(k, (size_t)n);
    n = redis_key_user(k, prefix, 5);
    assert_int_equal(redis_slot(k, (size_t)n), users);
    n = redis_key_user_stem(k, prefix);
    assert_int_equal(redis_slot(k, (size_t)n), users);
    n = redis_key_username(k, prefix, "alice");
    assert_int_equal(redis_slot(k, (size_t)n), users);
    n = redis_key_comets(k, prefix);
    unsigned registry = redis_slot(k, (size_t)n);
    n = redis_key_online(k, prefix, "comet-7");
    assert_int_equal(redis_slot(k, (size_t)n), registry);
    n = redis_key_routers(k, prefix);
    assert_int_equal(redis_slot(k, (size_t)n), registry);
    n = redis_key_limit(k, prefix, "login:name:alice");
    unsigned limit = redis_slot(k, (size_t)n);
    n = redis_key_limit(k, prefix, "login:addr:10.0.0.1");
    assert_int_equal(redis_slot(k, (size_t)n), limit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_tag_rules),
        cmocka_unit_test(test_keys_of_one_user_share_a_slot),
        cmocka_unit_test(test_shared_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
