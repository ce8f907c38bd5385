/* The accepts set of a connection (goim's filter for pushes by key, user and broadcast) and the
 * op 14/16 body parser, adversarial inputs included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet_accepts.h"
#include "herald_err.h"

#include <string.h>

static void test_small_and_business_ops(void **state)
{
    comet_accepts_t a;
    comet_accepts_init(&a);
    assert_false(comet_accepts_has(&a, 1000));
    assert_int_equal(comet_accepts_add(&a, 5), 0);
    assert_int_equal(comet_accepts_add(&a, 63), 0);
    assert_int_equal(comet_accepts_add(&a, 1000), 0);
    assert_int_equal(comet_accepts_add(&a, 1000), 0); /* no duplicate */
    assert_int_equal(comet_accepts_add(&a, 64), 0);
    assert_int_equal(comet_accepts_add(&a, -3), 0); /* ignored */
    assert_true(comet_accepts_has(&a, 5));
    assert_true(comet_accepts_has(&a, 63));
    assert_true(comet_accepts_has(&a, 64));
    assert_true(comet_accepts_has(&a, 1000));
    assert_false(comet_accepts_has(&a, 6));
    assert_false(comet_accepts_has(&a, 1001));
    assert_false(comet_accepts_has(&a, -3));
    assert_int_equal(a.ext[0], 2);
    comet_accepts_remove(&a, 1000);
    assert_false(comet_accepts_has(&a, 1000));
    assert_true(comet_accepts_has(&a, 64));
    comet_accepts_remove(&a, 64);
    assert_null(a.ext); /* freed when the last business op goes */
    comet_accepts_remove(&a, 5);
    assert_false(comet_accepts_has(&a, 5));
    comet_accepts_remove(&a, 4242); /* absent: no-op */
    comet_accepts_deinit(&a);
}

static void test_bounded(void **state)
{
    comet_accepts_t a;
    comet_accepts_init(&a);
    for (int i = 0; i < COMET_ACCEPTS_MAX; i++)
        assert_int_equal(comet_accepts_add(&a, 2000 + i), 0);
    assert_int_equal(comet_accepts_add(&a, 9999), HERALD_EOVERFLOW);
    assert_false(comet_accepts_has(&a, 9999));
    assert_int_equal(comet_accepts_add(&a, 7), 0); /* small ops always fit */
    comet_accepts_deinit(&a);
}

static void test_parse(void **state)
{
    int32_t ops[4];
    assert_int_equal(comet_accepts_parse("1000,1001", 9, ops, 4), 2);
    assert_int_equal(ops[0], 1000);
    assert_int_equal(ops[1], 1001);
    assert_int_equal(comet_accepts_parse(" 7 , 8 ,,", 9, ops, 4), 2);
    assert_int_equal(ops[0], 7);
    assert_int_equal(ops[1], 8);
    assert_int_equal(comet_accepts_parse("", 0, ops, 4), 0);
    assert_int_equal(comet_accepts_parse("-5", 2, ops, 4), 1);
    assert_int_equal(ops[0], -5);
    /* "12" given with length 1 reads only "1" */
    assert_int_equal(comet_accepts_parse("12", 1, ops, 4), 1);
    assert_int_equal(ops[0], 1);
}

static void test_parse_rejects(void **state)
{
    int32_t ops[4];
    const char *bad[] = {"abc",       "1,x", "1 2", "2147483648", "99999999999999999999",
                         "1,2,3,4,5", "-",   "+",   "1;2",        "1\0002"};
    size_t lens[] = {3, 3, 3, 10, 20, 9, 1, 1, 3, 3};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(comet_accepts_parse(bad[i], lens[i], ops, 4), HERALD_EINVAL);
    assert_int_equal(comet_accepts_parse("2147483647", 10, ops, 4), 1);
    assert_int_equal(ops[0], 2147483647);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_and_business_ops),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
