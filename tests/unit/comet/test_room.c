/* Rooms of a worker: join, leave, move, counts, member iteration, holds, id validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet_room.h"

#include <stdio.h>
#include <string.h>

typedef struct member_s {
    int id;
    list_link_t link;
} member_t;

static void init_members(member_t *m, int n)
{
    for (int i = 0; i < n; i++) {
        m[i].id = i;
        m[i].link.next = m[i].link.prev = NULL;
    }
}

static int member_ids(const comet_room_t *room, int *out, int max)
{
    int n = 0;
    for (list_link_t *l = room->members.next; l != &room->members && n < max; l = l->next)
        out[n++] = list_entry(l, member_t, link)->id;
    return n;
}

static void test_join_creates_and_interns(void **state)
{
    comet_rooms_t rs;
    member_t m[3];
    init_members(m, 3);
    comet_rooms_init(&rs);
    comet_room_t *a = comet_room_join(&rs, "live://1", 8, &m[0].link);
    comet_room_t *b = comet_room_join(&rs, "live://1xyz", 8, &m[1].link); /* same 8 bytes */
    comet_room_t *c = comet_room_join(&rs, "live://2", 8, &m[2].link);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_string_equal(a->id, "live://1");
    assert_int_equal(a->count, 2);
    assert_int_equal(c->count, 1);
    assert_int_equal(comet_rooms_count(&rs), 2);
    assert_ptr_equal(comet_rooms_find(&rs, "live://1", 8), a);
    assert_null(comet_rooms_find(&rs, "live://", 7));
    assert_null(comet_rooms_find(&rs, "live://3", 8));
    int ids[4];
    assert_int_equal(member_ids(a, ids, 4), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    comet_room_leave(&rs, a, &m[0].link);
    comet_room_leave(&rs, a, &m[1].link);
    comet_room_leave(&rs, c, &m[2].link);
    assert_int_equal(comet_rooms_count(&rs), 0);
    comet_rooms_deinit(&rs);
}

static void test_leave_frees_empty_room(void **state)
{
    comet_rooms_t rs;
    member_t m[2];
    init_members(m, 2);
    comet_rooms_init(&rs);
    comet_room_t *r = comet_room_join(&rs, "r", 1, &m[0].link);
    comet_room_join(&rs, "r", 1, &m[1].link);
    comet_room_leave(&rs, r, &m[0].link);
    assert_null(m[0].link.next); /* unlinked links are NULL (list.h) */
    assert_int_equal(r->count, 1);
    assert_ptr_equal(comet_rooms_find(&rs, "r", 1), r);
    comet_room_leave(&rs, r, &m[1].link);
    assert_null(comet_rooms_find(&rs, "r", 1));
    assert_int_equal(comet_rooms_count(&rs), 0);
    comet_rooms_deinit(&rs);
}

static void test_move_between_rooms(void **state)
{
    comet_rooms_t rs;
    member_t m[3];
    init_members(m, 3);
    comet_rooms_init(&rs);
    comet_room_t *a = comet_room_join(&rs, "a", 1, &m[0].link);
    comet_room_join(&rs, "a", 1, &m[1].link);
    comet_room_join(&rs, "a", 1, &m[2].link);
    /* move the middle member to b: a keeps order 0, 2 */
    comet_room_leave(&rs, a, &m[1].link);
    comet_room_t *b = comet_room_join(&rs, "b", 1, &m[1].link);
    int ids[4];
    assert_int_equal(member_ids(a, ids, 4), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 2);
    assert_int_equal(member_ids(b, ids, 4), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(a->count, 2);
    assert_int_equal(b->count, 1);
    /* iteration over rooms sees both, once each */
    uint32_t pos = 0;
    int seen_a = 0, seen_b = 0;
    comet_room_t *room;
    while ((room = comet_rooms_next(&rs, &pos)) != NULL) {
        seen_a += room == a;
        seen_b += room == b;
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    comet_room_leave(&rs, a, &m[0].link);
    comet_room_leave(&rs, a, &m[2].link);
    comet_room_leave(&rs, b, &m[1].link);
    comet_rooms_deinit(&rs);
}

static void test_hold_keeps_empty_room(void **state)
{
    comet_rooms_t rs;
    member_t m[1];
    init_members(m, 1);
    comet_rooms_init(&rs);
    comet_room_t *r = comet_room_join(&rs, "held", 4, &m[0].link);
    comet_room_hold(r);
    comet_room_leave(&rs, r, &m[0].link);
    assert_ptr_equal(comet_rooms_find(&rs, "held", 4), r);
    assert_int_equal(r->count, 0);
    /* rejoining while held reuses the same room */
    assert_ptr_equal(comet_room_join(&rs, "held", 4, &m[0].link), r);
    comet_room_leave(&rs, r, &m[0].link);
    comet_room_release(&rs, r);
    assert_null(comet_rooms_find(&rs, "held", 4));
    comet_rooms_deinit(&rs);
}

static void test_many_rooms(void **state)
{
    enum { N = 5000 };
    static member_t m[N];
    comet_rooms_t rs;
    init_members(m, N);
    comet_rooms_init(&rs);
    char id[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(id, sizeof id, "room-%d", i % 1000);
        comet_room_join(&rs, id, (size_t)len, &m[i].link);
    }
    assert_int_equal(comet_rooms_count(&rs), 1000);
    for (int r = 0; r < 1000; r++) {
        int len = snprintf(id, sizeof id, "room-%d", r);
        comet_room_t *room = comet_rooms_find(&rs, id, (size_t)len);
        assert_non_null(room);
        assert_int_equal(room->count, 5);
    }
    for (int i = 0; i < N; i++) {
        int len = snprintf(id, sizeof id, "room-%d", i % 1000);
        comet_room_leave(&rs, comet_rooms_find(&rs, id, (size_t)len), &m[i].link);
    }
    assert_int_equal(comet_rooms_count(&rs), 0);
    comet_rooms_deinit(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_creates_and_interns),
        cmocka_unit_test(test_leave_frees_empty_room),
        cmocka_unit_test(test_move_between_rooms),
        cmocka_unit_test(test_hold_keeps_empty_room),
        cmocka_unit_test(test_many_rooms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
