/* The string-keyed table behind rooms and key indexes: put/get/del, replacement, deletion
 * inside probe clusters, growth, iteration, length-delimited lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item_s {
    int value;
    char key[24];
} item_t;

static const char *item_key(const void *p)
{
    return ((const item_t *)p)->key;
}

static void test_put_get_replace_del(void **state)
{
    strmap_t m;
    strmap_init(&m, item_key);
    item_t a = {1, "alpha"}, b = {2, "beta"}, a2 = {3, "alpha"};
    assert_null(strmap_get(&m, "alpha", 5));
    assert_null(strmap_put(&m, &a));
    assert_null(strmap_put(&m, &b));
    assert_ptr_equal(strmap_get(&m, "alpha", 5), &a);
    assert_ptr_equal(strmap_get(&m, "alphabet", 5), &a); /* length-delimited */
    assert_null(strmap_get(&m, "alph", 4));
    assert_ptr_equal(strmap_put(&m, &a2), &a);
    assert_int_equal(m.count, 2);
    /* del removes only the very pointer stored */
    assert_int_equal(strmap_del(&m, &a), 0);
    assert_ptr_equal(strmap_get(&m, "alpha", 5), &a2);
    assert_int_equal(strmap_del(&m, &a2), 1);
    assert_null(strmap_get(&m, "alpha", 5));
    assert_int_equal(strmap_del(&m, &a2), 0);
    assert_int_equal(m.count, 1);
    strmap_deinit(&m);
}

static void test_many_with_deletes(void **state)
{
    enum { N = 20000 };
    item_t *items = calloc(N, sizeof *items);
    strmap_t m;
    strmap_init(&m, item_key);
    for (int i = 0; i < N; i++) {
        items[i].value = i;
        snprintf(items[i].key, sizeof items[i].key, "k%d", i);
        assert_null(strmap_put(&m, &items[i]));
    }
    assert_int_equal(m.count, N);
    /* delete every third: the backward shift must keep every other key reachable */
    for (int i = 0; i < N; i += 3)
        assert_int_equal(strmap_del(&m, &items[i]), 1);
    for (int i = 0; i < N; i++) {
        item_t *got = strmap_get(&m, items[i].key, strlen(items[i].key));
        if (i % 3 == 0)
            assert_null(got);
        else
            assert_ptr_equal(got, &items[i]);
    }
    uint32_t pos = 0;
    int seen = 0;
    item_t *it;
    while ((it = strmap_next(&m, &pos)) != NULL) {
        assert_true(it->value % 3 != 0);
        seen++;
    }
    assert_int_equal(seen, m.count);
    strmap_deinit(&m);
    free(items);
}

static void test_empty_key_and_empty_table(void **state)
{
    strmap_t m;
    strmap_init(&m, item_key);
    uint32_t pos = 0;
    assert_null(strmap_next(&m, &pos));
    item_t e = {7, ""};
    assert_int_equal(strmap_del(&m, &e), 0);
    strmap_put(&m, &e);
    assert_ptr_equal(strmap_get(&m, "", 0), &e);
    strmap_deinit(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace_del),
        cmocka_unit_test(test_many_with_deletes),
        cmocka_unit_test(test_empty_key_and_empty_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
