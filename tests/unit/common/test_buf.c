/* Unit tests of buf.c: shared buffers referenced from several threads, growable buffers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

#define THREADS 4
#define ROUNDS 100000

/* cmocka's asserts may not run off the main thread: count mismatches and return them. */
static void *hammer(void *arg)
{
    buf_shared_t *b = arg;
    uintptr_t bad = 0;
    for (int i = 0; i < ROUNDS; i++) {
        buf_shared_t *r = buf_shared_ref(b);
        bad += r != b || r->data[0] != 0x5a;
        buf_shared_unref(r);
    }
    /* Each thread was handed one reference of its own. */
    buf_shared_unref(b);
    return (void *)bad;
}

static void test_shared_threads(void **state)
{
    buf_shared_t *b = buf_shared_new(16);
    assert_int_equal(b->len, 16);
    memset(b->data, 0x5a, 16);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        buf_shared_ref(b);
        assert_int_equal(pthread_create(&t[i], NULL, hammer, b), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *bad;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_null(bad);
    }
    /* Every ref was matched by an unref: only ours is left. */
    assert_int_equal(__atomic_load_n(&b->refs, __ATOMIC_ACQUIRE), 1);
    buf_shared_unref(b); /* frees; ASan/valgrind would report a leak or a double free */
    buf_shared_unref(NULL);
}

static void test_shared_empty(void **state)
{
    buf_shared_t *b = buf_shared_new(0);
    assert_int_equal(b->len, 0);
    assert_int_equal(b->refs, 1);
    buf_shared_unref(b);
}

static void test_append_growth(void **state)
{
    buf_t b;
    buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    buf_append(&b, "", 0);
    assert_int_equal(b.len, 0);
    size_t total = 0;
    for (int i = 0; i < 1000; i++) {
        char chunk[37];
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        buf_append(&b, chunk, sizeof(chunk));
        total += sizeof(chunk);
        assert_int_equal(b.len, total);
        assert_true(b.cap >= b.len);
    }
    for (size_t i = 0; i < total; i++)
        assert_int_equal(b.data[i], 'a' + (i / 37) % 26);
    /* Doubling: far fewer reallocations than appends, and never more than twice the need. */
    assert_true(b.cap < 2 * total);

    uint8_t *p = buf_reserve(&b, 5000);
    assert_ptr_equal(p, b.data + b.len);
    assert_true(b.cap >= b.len + 5000);
    memset(p, 'z', 5000);
    b.len += 5000;
    assert_int_equal(b.data[total + 4999], 'z');
    buf_deinit(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
}

static void test_x_allocators(void **state)
{
    char *s = xstrdup("herald");
    assert_string_equal(s, "herald");
    free(s);
    s = xstrndup("herald", 3);
    assert_string_equal(s, "her");
    free(s);
    s = xstrndup("ab", 10);
    assert_string_equal(s, "ab");
    free(s);
    int *z = xcalloc(8, sizeof(int));
    for (int i = 0; i < 8; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 1024 * sizeof(int));
    z[1023] = 7;
    free(z);
    free(xmalloc(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_threads),
        cmocka_unit_test(test_shared_empty),
        cmocka_unit_test(test_append_growth),
        cmocka_unit_test(test_x_allocators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
