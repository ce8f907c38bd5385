/* Unit tests of proto.c: header codec and proto_reader_t under every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "herald_err.h"
#include "proto.h"

#define MAX_PACKETS 16

typedef struct got_s {
    int n;
    proto_header_t h[MAX_PACKETS];
    uint8_t body[MAX_PACKETS][256];
    int stop_after; /* return 7 from the callback after this many packets (0 = never) */
} got_t;

static int on_packet(void *arg, const proto_header_t *h, const uint8_t *body)
{
    got_t *g = arg;
    assert_true(g->n < MAX_PACKETS);
    size_t blen = h->pack_len - PROTO_HEADER_LEN;
    assert_true(blen <= sizeof(g->body[0]));
    g->h[g->n] = *h;
    memcpy(g->body[g->n], body, blen);
    g->n++;
    return g->stop_after && g->n == g->stop_after ? 7 : 0;
}

/* Appends one packet with body "body" to out; returns its length. */
static size_t put_packet(uint8_t *out, uint32_t op, uint32_t seq, const char *body)
{
    size_t blen = strlen(body);
    proto_header_write(out, op, seq, (uint32_t)blen);
    memcpy(out + PROTO_HEADER_LEN, body, blen);
    return PROTO_HEADER_LEN + blen;
}

static void check_three(const got_t *g)
{
    assert_int_equal(g->n, 3);
    assert_int_equal(g->h[0].op, PROTO_OP_AUTH);
    assert_int_equal(g->h[0].seq, 1);
    assert_int_equal(g->h[0].pack_len, PROTO_HEADER_LEN + 15);
    assert_memory_equal(g->body[0], "{\"token\":\"abc\"}", 15);
    assert_int_equal(g->h[1].op, PROTO_OP_HEARTBEAT);
    assert_int_equal(g->h[1].pack_len, PROTO_HEADER_LEN);
    assert_int_equal(g->h[2].op, 1001);
    assert_int_equal(g->h[2].seq, 0xfffffffeu);
    assert_memory_equal(g->body[2], "hello", 5);
}

static size_t three_packets(uint8_t *buf)
{
    size_t n = put_packet(buf, PROTO_OP_AUTH, 1, "{\"token\":\"abc\"}");
    n += put_packet(buf + n, PROTO_OP_HEARTBEAT, 2, "");
    n += put_packet(buf + n, 1001, 0xfffffffeu, "hello");
    return n;
}

static void test_header_round_trip(void **state)
{
    uint8_t hdr[PROTO_HEADER_LEN];
    proto_header_t h;
    proto_header_write(hdr, PROTO_OP_SEND_MSG, 0x01020304, 100);
    const uint8_t want[PROTO_HEADER_LEN] = {0, 0, 0, 116, 0, 16, 0, 1, 0, 0, 0, 4, 1, 2, 3, 4};
    assert_memory_equal(hdr, want, sizeof(want));
    assert_int_equal(proto_header_read(hdr, sizeof(hdr), 4096, &h), 0);
    assert_int_equal(h.pack_len, 116);
    assert_int_equal(h.header_len, 16);
    assert_int_equal(h.ver, 1);
    assert_int_equal(h.op, PROTO_OP_SEND_MSG);
    assert_int_equal(h.seq, 0x01020304);
    assert_int_equal(proto_header_read(hdr, 15, 4096, &h), 1);
    assert_int_equal(proto_header_read(hdr, sizeof(hdr), 99, &h), HERALD_ETOOBIG);
    assert_int_equal(proto_header_read(hdr, sizeof(hdr), 100, &h), 0);
}

static void test_several_in_one_feed(void **state)
{
    uint8_t buf[256];
    size_t n = three_packets(buf);
    got_t g = {0};
    proto_reader_t r;
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, buf, n, 4096, on_packet, &g), 0);
    check_three(&g);
    assert_null(r.pending);
    proto_reader_deinit(&r);
}

static void test_one_byte_at_a_time(void **state)
{
    uint8_t buf[256];
    size_t n = three_packets(buf);
    got_t g = {0};
    proto_reader_t r;
    proto_reader_init(&r);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(proto_reader_feed(&r, buf + i, 1, 4096, on_packet, &g), 0);
        /* A partial header never holds more than the header itself. */
        if (r.pending != NULL && r.pending_len < PROTO_HEADER_LEN)
            assert_int_equal(r.pending_cap, PROTO_HEADER_LEN);
    }
    check_three(&g);
    assert_null(r.pending);
    proto_reader_deinit(&r);
}

/* Every pair of split points (three feeds), which covers each split inside headers and bodies
 * and across packet boundaries. */
static void test_every_split(void **state)
{
    uint8_t buf[256];
    size_t n = three_packets(buf);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            got_t g = {0};
            proto_reader_t r;
            proto_reader_init(&r);
            assert_int_equal(proto_reader_feed(&r, buf, a, 4096, on_packet, &g), 0);
            assert_int_equal(proto_reader_feed(&r, buf + a, b - a, 4096, on_packet, &g), 0);
            assert_int_equal(proto_reader_feed(&r, buf + b, n - b, 4096, on_packet, &g), 0);
            check_three(&g);
            assert_null(r.pending);
            proto_reader_deinit(&r);
        }
    }
}

static void test_pending_sized_to_packet(void **state)
{
    uint8_t buf[256];
    size_t n = put_packet(buf, 1000, 9, "0123456789abcdefghij");
    got_t g = {0};
    proto_reader_t r;
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, buf, 20, 4096, on_packet, &g), 0);
    assert_non_null(r.pending);
    assert_int_equal(r.pending_cap, n);
    assert_int_equal(r.pending_len, 20);
    assert_int_equal(proto_reader_feed(&r, buf + 20, n - 20, 4096, on_packet, &g), 0);
    assert_int_equal(g.n, 1);
    assert_null(r.pending);
    assert_int_equal(r.pending_len, 0);
    assert_int_equal(r.pending_cap, 0);
    proto_reader_deinit(&r);
}

static void expect_error(const uint8_t *buf, size_t n, uint32_t max_body, int want)
{
    /* Whole, and one byte at a time: both must fail the same way and deliver nothing. */
    got_t g = {0};
    proto_reader_t r;
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, buf, n, max_body, on_packet, &g), want);
    proto_reader_deinit(&r);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = proto_reader_feed(&r, buf + i, 1, max_body, on_packet, &g);
    assert_int_equal(rc, want);
    assert_int_equal(g.n, 0);
    proto_reader_deinit(&r);
    assert_null(r.pending);
}

static void test_bad_headers(void **state)
{
    uint8_t buf[64];
    proto_header_write(buf, 7, 1, 0);
    buf[3] = 15; /* packLen < 16 */
    expect_error(buf, PROTO_HEADER_LEN, 4096, HERALD_EPROTO);
    proto_header_write(buf, 7, 1, 0);
    buf[3] = 0;
    expect_error(buf, PROTO_HEADER_LEN, 4096, HERALD_EPROTO);
    proto_header_write(buf, 7, 1, 0);
    buf[5] = 17; /* headerLen != 16 */
    expect_error(buf, PROTO_HEADER_LEN, 4096, HERALD_EPROTO);
    proto_header_write(buf, 7, 1, 0);
    buf[4] = 1;
    buf[5] = 16;
    expect_error(buf, PROTO_HEADER_LEN, 4096, HERALD_EPROTO);
    proto_header_write(buf, 7, 1, 4097); /* body > max, body bytes never sent */
    expect_error(buf, PROTO_HEADER_LEN, 4096, HERALD_ETOOBIG);
    proto_header_write(buf, 7, 1, 0xffffffffu - 16); /* packLen 0xffffffff */
    expect_error(buf, PROTO_HEADER_LEN, 4096, HERALD_ETOOBIG);
    proto_header_write(buf, 7, 1, 30);
    expect_error(buf, PROTO_HEADER_LEN, 29, HERALD_ETOOBIG);

    /* A bad packet after a good one: the good one is delivered first. */
    uint8_t two[64];
    size_t n = put_packet(two, 2, 0, "");
    proto_header_write(two + n, 2, 0, 0);
    two[n + 5] = 8;
    got_t g = {0};
    proto_reader_t r;
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, two, n + 16, 4096, on_packet, &g), HERALD_EPROTO);
    assert_int_equal(g.n, 1);
    proto_reader_deinit(&r);
}

static void test_callback_stop(void **state)
{
    uint8_t buf[256];
    size_t n = three_packets(buf);
    got_t g = {.stop_after = 2};
    proto_reader_t r;
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, buf, n, 4096, on_packet, &g), 7);
    assert_int_equal(g.n, 2);
    proto_reader_deinit(&r);

    /* Stop on a packet completed from the pending buffer: the buffer is released too. */
    got_t g2 = {.stop_after = 1};
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, buf, 10, 4096, on_packet, &g2), 0);
    assert_int_equal(proto_reader_feed(&r, buf + 10, n - 10, 4096, on_packet, &g2), 7);
    assert_int_equal(g2.n, 1);
    assert_null(r.pending);
    proto_reader_deinit(&r);
}

static void test_empty_feed(void **state)
{
    got_t g = {0};
    proto_reader_t r;
    proto_reader_init(&r);
    assert_int_equal(proto_reader_feed(&r, NULL, 0, 4096, on_packet, &g), 0);
    assert_null(r.pending);
    assert_int_equal(g.n, 0);
    proto_reader_deinit(&r);
}

static void test_room_id_valid(void **state)
{
    (void)state;
    char big[PROTO_ROOM_ID_MAX + 2];
    memset(big, 'x', sizeof big);
    assert_true(proto_room_id_valid("live://1000", 11));
    assert_true(proto_room_id_valid("\xe4\xb8\xad", 3)); /* UTF-8 bytes are fine */
    assert_true(proto_room_id_valid(big, PROTO_ROOM_ID_MAX));
    assert_false(proto_room_id_valid(big, PROTO_ROOM_ID_MAX + 1));
    assert_false(proto_room_id_valid("", 0));
    assert_false(proto_room_id_valid("a\0b", 3));
    assert_false(proto_room_id_valid("a\nb", 3));
    assert_false(proto_room_id_valid("a\x7f", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),       cmocka_unit_test(test_several_in_one_feed),
        cmocka_unit_test(test_one_byte_at_a_time),      cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_pending_sized_to_packet), cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_callback_stop),           cmocka_unit_test(test_empty_feed),
        cmocka_unit_test(test_room_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
