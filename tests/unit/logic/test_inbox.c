/* test_inbox.c - logic_inbox against a real redis-server on loopback: sequence numbers, order,
 * the count and age bounds with recovered, pages, positions (ack before sent), a client ahead of
 * the counter, entries that do not parse, the per-sender share, and Redis unavailable. */
#include "conf.h"
#include "daemon.h"
#include "herald_err.h"
#include "logic_conf.h"
#include "logic_ctx.h"
#include "logic_inbox.h"
#include "rpc_methods.h"
#include "redis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_support.h"

#define WAIT_MS 5000

static test_redis_t redis_server;
static uv_loop_t loop;
static uv_timer_t tick;
static logic_conf_t conf;
static int stopping;
static logic_ctx_t server = {.stopping = &stopping}; /* what logic_inbox uses: loop, conf, redis */

/* ------------------------------------------------------------------------------ plumbing */

static void on_tick(uv_timer_t *t)
{
    (void)t; /* wakes uv_run(UV_RUN_ONCE) so waits can check their deadline */
}

static void wait_for(const int *done)
{
    uint64_t deadline = uv_now(&loop) + WAIT_MS;
    uv_timer_start(&tick, on_tick, 10, 10);
    while (!*done && uv_now(&loop) < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    assert_true(*done);
}

static int setup(void **state)
{
    (void)state;
    test_redis_init(&redis_server);
    test_redis_start(&redis_server, NULL);
    char err[256];
    assert_int_equal(conf_load(logic_conf_items, &conf, NULL, err, sizeof(err)), 0);
    conf.inbox_max_count = 5;
    conf.inbox_page_bytes = 4096;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    server.loop = &loop;
    server.conf = &conf;
    server.redis = redis_new(&loop, "127.0.0.1", redis_server.port, NULL, NULL, 0);
    uint64_t deadline = uv_now(&loop) + WAIT_MS;
    uv_timer_start(&tick, on_tick, 10, 10);
    while (!redis_connected(server.redis) && uv_now(&loop) < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    assert_true(redis_connected(server.redis));
    return 0;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

static int teardown(void **state)
{
    (void)state;
    int closed = 0;
    redis_close(server.redis, on_closed, &closed);
    wait_for(&closed);
    uv_close((uv_handle_t *)&tick, NULL);
    test_finish_loop(&loop);
    conf_free(logic_conf_items, &conf);
    test_redis_deinit(&redis_server);
    return 0;
}

typedef struct cmd_res_s {
    int done;
    long long integer;
} cmd_res_t;

static void on_cmd(int status, const redis_reply_t *reply, void *arg)
{
    cmd_res_t *r = arg;
    assert_int_equal(status, 0);
    assert_int_not_equal(redis_reply_type(reply), REDIS_REPLY_T_ERROR);
    r->integer = redis_reply_type(reply) == REDIS_REPLY_T_INTEGER ? redis_reply_integer(reply) : 0;
    r->done = 1;
}

/* One Redis command from the test's side (hiredis format, up to two string arguments); returns
 * its integer reply (0 for other types). */
static long long cmd(const char *fmt, const char *a, const char *b)
{
    cmd_res_t r = {0};
    assert_int_equal(redis_command(server.redis, on_cmd, &r, fmt, a, b), 0);
    wait_for(&r.done);
    return r.integer;
}

/* ---------------------------------------------------------------------------- store, read */

typedef struct stored_s {
    int done, status;
    size_t n; /* users stored: seqs of the callback has exactly n entries */
    uint64_t seqs[4];
} stored_t;

static void on_stored(int status, const uint64_t *seqs, void *arg)
{
    stored_t *s = arg;
    s->status = status;
    for (size_t i = 0; status == 0 && i < s->n; i++)
        s->seqs[i] = seqs[i];
    s->done = 1;
}

/* Stores body from sender `from` (0 = a business push) to mids. */
static void store_from(const int64_t *mids, size_t n, int64_t from, const char *body,
                       uint64_t *seqs)
{
    assert_true(n <= 4);
    stored_t st = {.n = n};
    assert_int_equal(logic_inbox_store(&server, mids, n, from, 1000, (const uint8_t *)body,
                                       strlen(body), on_stored, &st),
                     0);
    wait_for(&st.done);
    assert_int_equal(st.status, 0);
    memcpy(seqs, st.seqs, n * sizeof(*seqs));
}

static void store(const int64_t *mids, size_t n, const char *body, uint64_t *seqs)
{
    store_from(mids, n, 0, body, seqs);
}

typedef struct page_copy_s {
    int done, status;
    uint64_t cur, after, last;
    int recovered;
    size_t n;
    uint32_t seqs[256];
    char bodies[16][1200]; /* of the first 16 */
} page_copy_t;

static void on_read(int status, const logic_inbox_page_t *page, void *arg)
{
    page_copy_t *c = arg;
    c->status = status;
    c->done = 1;
    if (status != 0)
        return;
    c->cur = page->cur;
    c->after = page->after;
    c->last = page->last;
    c->recovered = page->recovered;
    c->n = page->n;
    assert_true(page->n <= 256);
    for (size_t i = 0; i < page->n; i++) {
        assert_int_equal(page->protos[i]->op, 1000);
        assert_int_equal(page->protos[i]->ver, 1);
        c->seqs[i] = page->protos[i]->seq;
        if (i >= 16)
            continue;
        assert_true(page->protos[i]->body.len < sizeof(c->bodies[i]));
        memcpy(c->bodies[i], page->protos[i]->body.data, page->protos[i]->body.len);
        c->bodies[i][page->protos[i]->body.len] = '\0';
    }
}

static page_copy_t *read_page(int64_t mid, int has_after, uint64_t after, const char *name,
                              uint64_t upto)
{
    static page_copy_t c;
    memset(&c, 0, sizeof(c));
    logic_inbox_from_t from = {has_after, after, name, upto};
    assert_int_equal(logic_inbox_read(&server, mid, &from, on_read, &c), 0);
    wait_for(&c.done);
    assert_int_equal(c.status, 0);
    return &c;
}

static void expect_page(const page_copy_t *c, uint32_t first, size_t n, uint64_t last,
                        int recovered)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(c->seqs[i], first + i);
    assert_int_equal(c->last, last);
    assert_int_equal(c->recovered, recovered);
}

static void test_store_and_read_in_order(void **state)
{
    (void)state;
    int64_t mids[2] = {1, 2};
    uint64_t seqs[2];
    const char *bodies[] = {"one", "", "three:with:colons"};
    for (int i = 0; i < 3; i++) {
        store(mids, 2, bodies[i], seqs);
        assert_int_equal(seqs[0], i + 1);
        assert_int_equal(seqs[1], i + 1);
    }
    page_copy_t *c = read_page(1, 1, 0, NULL, 0);
    assert_int_equal(c->cur, 3);
    assert_int_equal(c->after, 0);
    expect_page(c, 1, 3, 3, 1);
    for (int i = 0; i < 3; i++)
        assert_string_equal(c->bodies[i], bodies[i]);
    c = read_page(2, 1, 1, NULL, 2); /* (1, 2] */
    expect_page(c, 2, 1, 2, 1);
    c = read_page(2, 1, 3, NULL, 0); /* nothing after the newest */
    expect_page(c, 0, 0, 3, 1);
    /* A client ahead of the counter (it was reset): nothing, and not recovered. */
    c = read_page(2, 1, 50, NULL, 0);
    assert_int_equal(c->after, 3);
    expect_page(c, 0, 0, 3, 0);
    /* A user nobody pushed to. */
    c = read_page(77, 1, 0, NULL, 0);
    assert_int_equal(c->cur, 0);
    expect_page(c, 0, 0, 0, 1);
}

typedef struct newest_copy_s {
    int done, status;
    uint64_t seqs[4];
} newest_copy_t;

static void on_newest(int status, const uint64_t *seqs, void *arg)
{
    newest_copy_t *c = arg;
    c->status = status;
    for (size_t i = 0; status == 0 && i < 4; i++)
        c->seqs[i] = seqs[i];
    c->done = 1;
}

/* What a replay reads after the router has the placements back: each user's newest seq, 0 for
 * a user nobody pushed to; the same mid twice answers twice; n out of range is refused. */
static void test_newest(void **state)
{
    (void)state;
    int64_t mids[4] = {31, 32, 33, 31};
    uint64_t seqs[2];
    store(mids, 2, "a", seqs);
    store(mids, 1, "b", seqs);
    newest_copy_t c = {0};
    assert_int_equal(logic_inbox_newest(&server, mids, 4, on_newest, &c), 0);
    wait_for(&c.done);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.seqs[0], 2);
    assert_int_equal(c.seqs[1], 1);
    assert_int_equal(c.seqs[2], 0);
    assert_int_equal(c.seqs[3], 2);
    assert_int_equal(logic_inbox_newest(&server, mids, 0, on_newest, &c), HERALD_EINVAL);
    assert_int_equal(logic_inbox_newest(&server, mids, RPC_REPLAY_BATCH_MAX + 1, on_newest, &c),
                     HERALD_EINVAL);
}

static void test_count_bound_and_pages(void **state)
{
    (void)state;
    int64_t mid = 3;
    uint64_t seq;
    for (int i = 1; i <= 8; i++) {
        store(&mid, 1, "m", &seq);
        assert_int_equal(seq, i);
    }
    assert_int_equal(cmd("ZCARD %s%s", "herald:inbox:", "{3}"), 5);
    page_copy_t *c = read_page(3, 1, 0, NULL, 0);
    expect_page(c, 4, 5, 8, 0); /* 1..3 were trimmed: the newest five */
    c = read_page(3, 1, 3, NULL, 0);
    expect_page(c, 4, 5, 8, 1);

    /* Pages of page_bytes (4096): entries of ~1.1 KB, three a page; the page says where it
     * ends. */
    char big[1101];
    memset(big, 'b', 1100);
    big[1100] = '\0';
    mid = 4;
    for (int i = 0; i < 5; i++)
        store(&mid, 1, big, &seq);
    c = read_page(4, 1, 0, NULL, 0);
    expect_page(c, 1, 3, 3, 1);
    assert_string_equal(c->bodies[0], big);
    c = read_page(4, 1, 3, NULL, 0);
    expect_page(c, 4, 2, 5, 1);
    /* One entry over the page is still returned alone. */
    conf.inbox_page_bytes = 10;
    c = read_page(4, 1, 0, NULL, 0);
    expect_page(c, 1, 1, 1, 1);
    conf.inbox_page_bytes = 4096;

    /* Many small entries: the page is read in chunks, and stops at max_count. */
    conf.inbox_max_count = 150;
    mid = 10;
    for (int i = 0; i < 140; i++)
        store(&mid, 1, "s", &seq);
    c = read_page(10, 1, 0, NULL, 0);
    expect_page(c, 1, 140, 140, 1);
    conf.inbox_max_count = 100;
    c = read_page(10, 1, 0, NULL, 0);
    expect_page(c, 1, 100, 100, 1);
    c = read_page(10, 1, 100, NULL, 0);
    expect_page(c, 101, 40, 140, 1);
    conf.inbox_max_count = 5;
}

/* inbox.sender_share: a flooding sender only ever replaces its own entries; a business push
 * and other senders keep theirs; the bookkeeping follows the entries the count bound trims. */
static void test_sender_share(void **state)
{
    (void)state;
    conf.inbox_max_count = 10;
    conf.inbox_sender_share = 3;
    int64_t mid = 20;
    uint64_t seq;
    store_from(&mid, 1, 0, "biz", &seq); /* seq 1 */
    store_from(&mid, 1, 7, "t1", &seq);  /* 2 */
    store_from(&mid, 1, 7, "t2", &seq);  /* 3 */
    for (int i = 0; i < 50; i++)
        store_from(&mid, 1, 9, "flood", &seq); /* 4..53: only 51..53 stay */
    assert_int_equal(seq, 53);
    page_copy_t *c = read_page(mid, 1, 0, NULL, 0);
    assert_int_equal(c->n, 6);
    uint32_t want[] = {1, 2, 3, 51, 52, 53};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(c->seqs[i], want[i]);
    assert_string_equal(c->bodies[0], "biz");
    assert_string_equal(c->bodies[1], "t1");
    assert_int_equal(cmd("ZCARD %s%s", "herald:inboxfrom:{20}:", "9"), 3);
    /* The count bound still trims from the head, and the sender's list follows it. */
    for (int i = 0; i < 8; i++)
        store_from(&mid, 1, 100 + i, "other", &seq); /* 54..61: 14 entries, 4 oldest go */
    c = read_page(mid, 1, 0, NULL, 0);
    assert_int_equal(c->n, 10);
    assert_int_equal(c->seqs[0], 52);
    /* Sender 7's entries are gone; its list is made exact at its next store. */
    store_from(&mid, 1, 7, "t3", &seq); /* 62 */
    assert_int_equal(cmd("ZCARD %s%s", "herald:inboxfrom:{20}:", "7"), 1);
    assert_true(cmd("PTTL %s%s", "herald:inboxfrom:{20}:", "7") > 0);
    conf.inbox_max_count = 5;
    conf.inbox_sender_share = 100;
}

static void on_position(int status, const redis_reply_t *reply, void *arg)
{
    assert_int_equal(status, 0);
    assert_int_equal(redis_reply_type(reply), REDIS_REPLY_T_INTEGER);
    *(int *)arg = 1;
}

static void position(logic_inbox_pos_t which, int64_t mid, const char *name, uint64_t seq)
{
    int done = 0;
    assert_int_equal(logic_inbox_position(&server, which, mid, name, seq, on_position, &done), 0);
    wait_for(&done);
}

static void test_positions(void **state)
{
    (void)state;
    int64_t mid = 5;
    uint64_t seq;
    for (int i = 0; i < 4; i++)
        store(&mid, 1, "p", &seq);
    /* No last_seq and no known position: start at the newest. */
    page_copy_t *c = read_page(5, 0, 0, "phone", 0);
    assert_int_equal(c->after, 4);
    expect_page(c, 0, 0, 4, 1);
    c = read_page(5, 0, 0, NULL, 0);
    expect_page(c, 0, 0, 4, 1);
    position(LOGIC_INBOX_SENT, 5, "phone", 3);
    c = read_page(5, 0, 0, "phone", 0);
    expect_page(c, 4, 1, 4, 1);
    /* An acked position wins over the written one, and moves forward only. */
    position(LOGIC_INBOX_ACK, 5, "phone", 1);
    position(LOGIC_INBOX_ACK, 5, "phone", 2);
    position(LOGIC_INBOX_ACK, 5, "phone", 1);
    c = read_page(5, 0, 0, "phone", 0);
    assert_int_equal(c->after, 2);
    expect_page(c, 3, 2, 4, 1);
    /* A given last_seq wins over both. */
    c = read_page(5, 1, 0, "phone", 0);
    expect_page(c, 1, 4, 4, 1);
    long long ttl = cmd("PTTL %s%s", "herald:ack:", "{5}");
    assert_true(ttl > 0 && ttl <= conf.inbox_max_age_ms);
}

static void test_age_and_malformed(void **state)
{
    (void)state;
    /* Written by hand: seq 1 is older than max_age, seq 2 does not parse, seq 3 is fresh. */
    char fresh[64];
    snprintf(fresh, sizeof(fresh), "3:%lld:1000:fresh", (long long)daemon_wall_ms());
    cmd("SET %s%s 3", "herald:seq:", "{6}");
    cmd("ZADD herald:inbox:{6} 1 %s", "1:1000:1000:old", NULL);
    cmd("ZADD herald:inbox:{6} 2 %s", "garbage", NULL);
    cmd("ZADD herald:inbox:{6} 3 %s", fresh, NULL);
    page_copy_t *c = read_page(6, 1, 0, NULL, 0);
    expect_page(c, 3, 1, 3, 0);
    assert_string_equal(c->bodies[0], "fresh");
    assert_int_equal(cmd("ZCARD %s%s", "herald:inbox:", "{6}"), 1); /* trimmed for good */
    /* A store trims too, and keeps the set alive for max_age. */
    int64_t mid = 6;
    uint64_t seq;
    store(&mid, 1, "next", &seq);
    assert_int_equal(seq, 4);
    long long ttl = cmd("PTTL %s%s", "herald:inbox:", "{6}");
    assert_true(ttl > 0 && ttl <= conf.inbox_max_age_ms);
}

static void noop_stored(int status, const uint64_t *seqs, void *arg)
{
    (void)status;
    (void)seqs;
    (void)arg;
    fail_msg("called back after a refusal");
}

static void test_unavailable(void **state)
{
    (void)state;
    int64_t mid = 8;
    stopping = 1;
    assert_int_equal(
        logic_inbox_store(&server, &mid, 1, 0, 1000, (const uint8_t *)"x", 1, noop_stored, NULL),
        HERALD_EUNAVAIL);
    logic_inbox_from_t from = {0};
    assert_int_equal(logic_inbox_read(&server, mid, &from, on_read, NULL), HERALD_EUNAVAIL);
    assert_int_equal(logic_inbox_position(&server, LOGIC_INBOX_ACK, mid, "x", 1, NULL, NULL),
                     HERALD_EUNAVAIL);
    stopping = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_and_read_in_order),
        cmocka_unit_test(test_newest),
        cmocka_unit_test(test_count_bound_and_pages),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_sender_share),
        cmocka_unit_test(test_age_and_malformed),
        cmocka_unit_test(test_unavailable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
