/* The k smallest distinct mids with counts: exact against a brute-force reference on streams in
 * every order (ascending, descending, random, many repeats), bounded buffer, and merging partial
 * results (workers, then comets) gives the same answer as one top over everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mid_top.h"

#include <stdlib.h>
#include <string.h>

/* Reference: counts per mid over a small id space, read back in order. */
#define SPACE 5000

typedef struct ref_s {
    int64_t count[SPACE];
} ref_t;

static uint64_t g_rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Asserts t (finished) holds the k smallest distinct mids of ref with their counts, and that
 * more says whether ref has others. */
static void check(const mid_top_t *t, const ref_t *ref, size_t k)
{
    size_t i = 0, distinct = 0;
    for (int64_t mid = 0; mid < SPACE; mid++) {
        if (ref->count[mid] == 0)
            continue;
        distinct++;
        if (i < k) {
            assert_true(i < t->n);
            assert_int_equal(t->v[i].mid, mid);
            assert_int_equal(t->v[i].count, ref->count[mid]);
            i++;
        }
    }
    assert_int_equal(t->n, i);
    assert_int_equal(t->more, distinct > k);
}

static void feed(mid_top_t *t, ref_t *ref, int64_t mid, int64_t count)
{
    mid_top_add(t, mid, count);
    ref->count[mid] += count;
    assert_true(t->n <= 2 * t->k);
}

static void test_empty_and_exact_fit(void **state)
{
    (void)state;
    mid_top_t t;
    mid_top_init(&t, 3);
    assert_int_equal(mid_top_finish(&t), 0);
    assert_false(t.more);
    mid_top_add(&t, 9, 1);
    mid_top_add(&t, 2, 1);
    mid_top_add(&t, 9, 1);
    mid_top_add(&t, 5, 1);
    assert_int_equal(mid_top_finish(&t), 3);
    assert_false(t.more); /* exactly k distinct: nothing beyond */
    assert_int_equal(t.v[0].mid, 2);
    assert_int_equal(t.v[1].mid, 5);
    assert_int_equal(t.v[2].mid, 9);
    assert_int_equal(t.v[2].count, 2);
    mid_top_add(&t, 10, 1); /* above the bound: only "more" */
    assert_int_equal(mid_top_finish(&t), 3);
    assert_true(t.more);
    mid_top_deinit(&t);
}

static void test_orders(void **state)
{
    (void)state;
    static ref_t ref;
    const size_t ks[] = {1, 2, 7, 100, 1000, 4000};
    for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
        for (int order = 0; order < 4; order++) {
            memset(&ref, 0, sizeof(ref));
            mid_top_t t;
            mid_top_init(&t, ks[ki]);
            for (int i = 0; i < 20000; i++) {
                int64_t mid;
                switch (order) {
                case 0:
                    mid = i / 4; /* ascending, each mid 4 times in a row */
                    break;
                case 1:
                    mid = (SPACE - 1) - i / 4; /* descending: every entry is a new minimum */
                    break;
                case 2:
                    mid = (int64_t)(rnd() % SPACE);
                    break;
                default:
                    mid = (int64_t)(rnd() % 30); /* few users, many connections each */
                    break;
                }
                feed(&t, &ref, mid, 1);
            }
            mid_top_finish(&t);
            check(&t, &ref, ks[ki]);
            mid_top_deinit(&t);
        }
    }
}

/* Workers' tops merged into a comet's, comets' into logic's: the same as one top of it all. */
static void test_merge(void **state)
{
    (void)state;
    static ref_t ref;
    for (size_t k = 1; k <= 64; k *= 4) {
        for (int round = 0; round < 20; round++) {
            memset(&ref, 0, sizeof(ref));
            mid_top_t all;
            mid_top_init(&all, k);
            int parts = 1 + (int)(rnd() % 5);
            for (int p = 0; p < parts; p++) {
                mid_top_t part;
                mid_top_init(&part, k);
                int n = (int)(rnd() % 300); /* some parts are empty */
                int64_t space = 1 + (int64_t)(rnd() % 200);
                for (int i = 0; i < n; i++)
                    feed(&part, &ref, (int64_t)(rnd() % (uint64_t)space), 1);
                mid_top_finish(&part);
                for (size_t i = 0; i < part.n; i++)
                    mid_top_add(&all, part.v[i].mid, part.v[i].count);
                if (part.more)
                    mid_top_more(&all);
                mid_top_deinit(&part);
            }
            mid_top_finish(&all);
            check(&all, &ref, k);
            mid_top_deinit(&all);
        }
    }
}

static void test_negative_and_large_mids(void **state)
{
    (void)state;
    mid_top_t t;
    mid_top_init(&t, 2);
    mid_top_add(&t, INT64_MAX, 1);
    mid_top_add(&t, -5, 1);
    mid_top_add(&t, INT64_MAX, 3);
    assert_int_equal(mid_top_finish(&t), 2);
    assert_int_equal(t.v[0].mid, -5);
    assert_int_equal(t.v[1].mid, INT64_MAX);
    assert_int_equal(t.v[1].count, 4);
    assert_false(t.more);
    mid_top_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_exact_fit),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_negative_and_large_mids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
