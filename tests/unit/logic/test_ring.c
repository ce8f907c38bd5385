/* test_ring.c - consistent hashing of mids over routers: balance, stability, determinism. */
#include "logic_ring.h"

#include "herald_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define NMIDS 100000

static const char *const three[] = {"127.0.0.1:3129", "127.0.0.1:3130", "127.0.0.1:3131"};

static void count_shares(const logic_ring_t *r, int64_t first, int64_t step, size_t *counts)
{
    for (int64_t i = 0; i < NMIDS; i++) {
        size_t node = logic_ring_node(r, first + i * step);
        assert_true(node < r->nnodes);
        counts[node]++;
    }
}

static void assert_balanced(const size_t *counts, size_t n)
{
    double fair = (double)NMIDS / (double)n;
    for (size_t i = 0; i < n; i++) {
        assert_true((double)counts[i] > fair * 0.8);
        assert_true((double)counts[i] < fair * 1.2);
    }
}

static void test_balance_sequential_mids(void **state)
{
    (void)state;
    logic_ring_t r;
    assert_int_equal(logic_ring_init(&r, three, 3, LOGIC_RING_VNODES), 0);
    assert_int_equal(r.npoints, 3 * LOGIC_RING_VNODES);
    size_t counts[3] = {0};
    count_shares(&r, 1, 1, counts);
    assert_balanced(counts, 3);
    logic_ring_deinit(&r);
}

static void test_balance_sparse_mids(void **state)
{
    (void)state;
    /* Ids with a common stride (e.g. an id generator that reserves the low bits) must spread too.
     */
    logic_ring_t r;
    assert_int_equal(logic_ring_init(&r, three, 3, LOGIC_RING_VNODES), 0);
    size_t counts[3] = {0};
    count_shares(&r, 1000000007LL, 4096, counts);
    assert_balanced(counts, 3);
    logic_ring_deinit(&r);
}

static void test_remove_one_moves_only_its_share(void **state)
{
    (void)state;
    logic_ring_t full, less;
    const char *const two[] = {three[0], three[2]};
    assert_int_equal(logic_ring_init(&full, three, 3, LOGIC_RING_VNODES), 0);
    assert_int_equal(logic_ring_init(&less, two, 2, LOGIC_RING_VNODES), 0);
    size_t moved = 0, owned_by_removed = 0;
    for (int64_t mid = 1; mid <= NMIDS; mid++) {
        const char *before = three[logic_ring_node(&full, mid)];
        const char *after = two[logic_ring_node(&less, mid)];
        if (strcmp(before, three[1]) == 0) {
            owned_by_removed++;
            continue; /* these must move somewhere: any survivor will do */
        }
        if (strcmp(before, after) != 0)
            moved++;
    }
    assert_int_equal(moved, 0);
    assert_true(owned_by_removed > 0);
    logic_ring_deinit(&full);
    logic_ring_deinit(&less);
}

static void test_owner_independent_of_list_order(void **state)
{
    (void)state;
    const char *const reversed[] = {three[2], three[1], three[0]};
    logic_ring_t a, b;
    assert_int_equal(logic_ring_init(&a, three, 3, LOGIC_RING_VNODES), 0);
    assert_int_equal(logic_ring_init(&b, reversed, 3, LOGIC_RING_VNODES), 0);
    for (int64_t mid = 0; mid < 20000; mid++)
        assert_string_equal(three[logic_ring_node(&a, mid)], reversed[logic_ring_node(&b, mid)]);
    logic_ring_deinit(&a);
    logic_ring_deinit(&b);
}

static void test_extreme_mids_and_single_node(void **state)
{
    (void)state;
    logic_ring_t r;
    assert_int_equal(logic_ring_init(&r, three, 1, LOGIC_RING_VNODES), 0);
    assert_int_equal(logic_ring_node(&r, 0), 0);
    assert_int_equal(logic_ring_node(&r, INT64_MAX), 0);
    assert_int_equal(logic_ring_node(&r, INT64_MIN), 0);
    logic_ring_deinit(&r);
    assert_int_equal(logic_ring_init(&r, three, 3, 1), 0); /* one point each still covers all */
    assert_true(logic_ring_node(&r, INT64_MAX) < 3);
    assert_true(logic_ring_node(&r, -1) < 3);
    logic_ring_deinit(&r);
}

static void test_bad_input(void **state)
{
    (void)state;
    logic_ring_t r;
    const char *const dup[] = {"a:1", "b:2", "a:1"};
    assert_int_equal(logic_ring_init(&r, dup, 3, LOGIC_RING_VNODES), HERALD_EINVAL);
    assert_null(r.points);
    assert_int_equal(logic_ring_init(&r, three, 0, LOGIC_RING_VNODES), HERALD_EINVAL);
    assert_int_equal(logic_ring_init(&r, three, 3, 0), HERALD_EINVAL);
    char longname[600];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *const toolong[] = {"a:1", longname};
    assert_int_equal(logic_ring_init(&r, toolong, 2, 4), HERALD_EINVAL);
    assert_null(r.points);
}

static void test_hash_is_deterministic_and_mixed(void **state)
{
    (void)state;
    /* Wire-level agreement between logic instances depends on these exact functions. */
    assert_true(logic_ring_hash_mid(1) == logic_ring_hash_mid(1));
    assert_true(logic_ring_hash_mid(1) != logic_ring_hash_mid(2));
    assert_true(logic_ring_hash_str("a", 1) != logic_ring_hash_str("b", 1));
    /* Neighbouring mids differ in about half of the 64 bits. */
    int total = 0;
    for (int64_t mid = 0; mid < 1000; mid++)
        total += __builtin_popcountll(logic_ring_hash_mid(mid) ^ logic_ring_hash_mid(mid + 1));
    assert_true(total > 1000 * 28 && total < 1000 * 36);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balance_sequential_mids),
        cmocka_unit_test(test_balance_sparse_mids),
        cmocka_unit_test(test_remove_one_moves_only_its_share),
        cmocka_unit_test(test_owner_independent_of_list_order),
        cmocka_unit_test(test_extreme_mids_and_single_node),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_hash_is_deterministic_and_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
