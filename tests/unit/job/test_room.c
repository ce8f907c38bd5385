/* test_room.c - room batching: an idle room sends at once, a busy room queues, the reply releases
 * one batch with everything queued in order, bounded by batch_max and batch_bytes; rooms and
 * comets are independent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "job_room.h"

#include <stdio.h>

/* Items are small integers cast to pointers: the module never dereferences them. */
#define ITEM(i) ((void *)(uintptr_t)(i))
#define ID(p) ((uintptr_t)(p))

static void test_idle_sends_at_once(void **state)
{
    job_room_t *r = job_room_new(64, 1 << 20);
    job_room_batch_t *b = job_room_offer(r, "live://1", ITEM(1), 10);
    assert_non_null(b);
    assert_string_equal(b->room, "live://1");
    assert_int_equal(b->n, 1);
    assert_int_equal(ID(b->items[0]), 1);
    assert_int_equal(b->bytes, 10);
    assert_int_equal(job_room_active(r), 1);
    /* the call is over and nothing waits: idle again */
    assert_null(job_room_next(r, b));
    assert_int_equal(job_room_active(r), 0);
    /* and the next message goes at once as well */
    b = job_room_offer(r, "live://1", ITEM(2), 10);
    assert_non_null(b);
    assert_int_equal(ID(b->items[0]), 2);
    assert_null(job_room_next(r, b));
    job_room_free(r);
    job_room_free(NULL);
}

static void test_in_flight_queues_then_one_batch(void **state)
{
    job_room_t *r = job_room_new(64, 1 << 20);
    job_room_batch_t *b = job_room_offer(r, "room", ITEM(1), 5);
    assert_non_null(b);
    for (uintptr_t i = 2; i <= 6; i++)
        assert_null(job_room_offer(r, "room", ITEM(i), 5));
    assert_int_equal(job_room_queued(r), 5);
    assert_int_equal(job_room_active(r), 1);

    /* the reply: all five queued leave together, in arrival order */
    b = job_room_next(r, b);
    assert_non_null(b);
    assert_string_equal(b->room, "room");
    assert_int_equal(b->n, 5);
    assert_int_equal(b->bytes, 25);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ID(b->items[i]), i + 2);
    assert_int_equal(job_room_queued(r), 0);

    /* messages arriving during that second call make the third */
    assert_null(job_room_offer(r, "room", ITEM(7), 5));
    b = job_room_next(r, b);
    assert_int_equal(b->n, 1);
    assert_int_equal(ID(b->items[0]), 7);
    assert_null(job_room_next(r, b));
    assert_int_equal(job_room_active(r), 0);
    job_room_free(r);
}

static void test_batch_max(void **state)
{
    job_room_t *r = job_room_new(64, 1 << 20);
    job_room_batch_t *b = job_room_offer(r, "room", ITEM(0), 1);
    for (uintptr_t i = 1; i <= 150; i++)
        assert_null(job_room_offer(r, "room", ITEM(i), 1));
    size_t sizes[] = {64, 64, 22};
    uintptr_t next = 1;
    for (size_t k = 0; k < 3; k++) {
        b = job_room_next(r, b);
        assert_non_null(b);
        assert_int_equal(b->n, sizes[k]);
        for (size_t i = 0; i < b->n; i++)
            assert_int_equal(ID(b->items[i]), next++);
    }
    assert_null(job_room_next(r, b));
    assert_int_equal(next, 151);
    job_room_free(r);
}

static void test_batch_bytes(void **state)
{
    job_room_t *r = job_room_new(64, 1000);
    job_room_batch_t *b = job_room_offer(r, "room", ITEM(0), 1);
    for (uintptr_t i = 1; i <= 7; i++)
        assert_null(job_room_offer(r, "room", ITEM(i), 300));
    assert_null(job_room_offer(r, "room", ITEM(8), 5000)); /* larger than a whole batch */
    assert_null(job_room_offer(r, "room", ITEM(9), 300));
    size_t sizes[] = {3, 3, 1, 1, 1}; /* 900, 900, 300 (5000 would overflow), 5000 alone, 300 */
    uintptr_t next = 1;
    for (size_t k = 0; k < 5; k++) {
        b = job_room_next(r, b);
        assert_non_null(b);
        assert_int_equal(b->n, sizes[k]);
        assert_true(b->n == 1 || b->bytes <= 1000);
        for (size_t i = 0; i < b->n; i++)
            assert_int_equal(ID(b->items[i]), next++);
    }
    assert_null(job_room_next(r, b));
    job_room_free(r);
}

static void test_rooms_and_comets_independent(void **state)
{
    job_room_t *comet_a = job_room_new(64, 1 << 20);
    job_room_t *comet_b = job_room_new(64, 1 << 20);
    /* the same room on two comets: both send at once */
    job_room_batch_t *a1 = job_room_offer(comet_a, "room", ITEM(1), 1);
    job_room_batch_t *b1 = job_room_offer(comet_b, "room", ITEM(1), 1);
    assert_non_null(a1);
    assert_non_null(b1);
    /* another room on a busy comet: at once too */
    job_room_batch_t *a2 = job_room_offer(comet_a, "other", ITEM(2), 1);
    assert_non_null(a2);
    assert_string_equal(a2->room, "other");
    /* queueing on comet a's "room" leaves comet b's "room" alone */
    assert_null(job_room_offer(comet_a, "room", ITEM(3), 1));
    assert_null(job_room_next(comet_b, b1));
    assert_int_equal(job_room_active(comet_b), 0);
    assert_int_equal(job_room_queued(comet_a), 1);
    /* "other" finishing does not release "room"'s queue */
    assert_null(job_room_next(comet_a, a2));
    assert_int_equal(job_room_queued(comet_a), 1);
    a1 = job_room_next(comet_a, a1);
    assert_non_null(a1);
    assert_int_equal(ID(a1->items[0]), 3);
    assert_null(job_room_next(comet_a, a1));
    job_room_free(comet_a);
    job_room_free(comet_b);
}

static void test_many_rooms(void **state)
{
    enum { ROOMS = 2000 };
    static job_room_batch_t *out[ROOMS];
    job_room_t *r = job_room_new(4, 1 << 20);
    char name[32];
    for (int i = 0; i < ROOMS; i++) {
        snprintf(name, sizeof(name), "live://%d", i);
        out[i] = job_room_offer(r, name, ITEM(i), 1);
        assert_non_null(out[i]);
        for (int k = 0; k < 6; k++)
            assert_null(job_room_offer(r, name, ITEM(i * 100 + k), 1));
    }
    assert_int_equal(job_room_active(r), ROOMS);
    assert_int_equal(job_room_queued(r), ROOMS * 6);
    /* finish in reverse order: each room drains as 1, 4, 2 on its own */
    for (int i = ROOMS - 1; i >= 0; i--) {
        snprintf(name, sizeof(name), "live://%d", i);
        job_room_batch_t *b = job_room_next(r, out[i]);
        assert_int_equal(b->n, 4);
        assert_string_equal(b->room, name);
        assert_int_equal(ID(b->items[0]), i * 100);
        b = job_room_next(r, b);
        assert_int_equal(b->n, 2);
        assert_int_equal(ID(b->items[1]), i * 100 + 5);
        assert_null(job_room_next(r, b));
    }
    assert_int_equal(job_room_active(r), 0);
    assert_int_equal(job_room_queued(r), 0);
    job_room_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_sends_at_once),
        cmocka_unit_test(test_in_flight_queues_then_one_batch),
        cmocka_unit_test(test_batch_max),
        cmocka_unit_test(test_batch_bytes),
        cmocka_unit_test(test_rooms_and_comets_independent),
        cmocka_unit_test(test_many_rooms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
