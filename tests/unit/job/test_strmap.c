/* test_strmap.c - job_strmap against a plain array model under random puts and deletes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "job_strmap.h"

#include <stdio.h>
#include <stdlib.h>

#define KEYS 500

static void test_basic(void **state)
{
    job_strmap_t *m = job_strmap_new();
    int a, b;
    assert_null(job_strmap_get(m, "x"));
    const char *k = job_strmap_put(m, "x", &a);
    assert_string_equal(k, "x");
    assert_ptr_equal(job_strmap_get(m, "x"), &a);
    assert_ptr_equal(job_strmap_put(m, "x", &b), k); /* replaced in place */
    assert_ptr_equal(job_strmap_get(m, "x"), &b);
    assert_int_equal(job_strmap_count(m), 1);
    job_strmap_put(m, "", &a); /* the empty string is a key like any other */
    assert_ptr_equal(job_strmap_get(m, ""), &a);
    assert_ptr_equal(job_strmap_del(m, "x"), &b);
    assert_null(job_strmap_del(m, "x"));
    assert_int_equal(job_strmap_count(m), 1);
    job_strmap_free(m);
    job_strmap_free(NULL);
}

static void test_random_vs_model(void **state)
{
    static int values[KEYS];
    static void *model[KEYS];
    job_strmap_t *m = job_strmap_new();
    char key[32];
    size_t count = 0;
    srand(7);
    for (int step = 0; step < 200000; step++) {
        int k = rand() % KEYS;
        snprintf(key, sizeof(key), "live://%d", k);
        if (rand() % 3 == 0) {
            assert_ptr_equal(job_strmap_del(m, key), model[k]);
            count -= model[k] != NULL;
            model[k] = NULL;
        } else {
            count += model[k] == NULL;
            job_strmap_put(m, key, &values[k]);
            model[k] = &values[k];
        }
        assert_int_equal(job_strmap_count(m), count);
        if (step % 1000 == 0) {
            for (int i = 0; i < KEYS; i++) {
                snprintf(key, sizeof(key), "live://%d", i);
                assert_ptr_equal(job_strmap_get(m, key), model[i]);
            }
        }
    }
    job_strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_random_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
