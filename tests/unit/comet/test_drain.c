/* test_drain.c - comet_drain.h: the spread schedule of the slots, the notice body, and a drain
 * of a real comet (two workers, real sockets, the test logic): weight 0 to logic, /ready 503,
 * the listeners closed, every client told {"reason":"reconnect","after_ms":N} with N spread over
 * the drain time and then closed, each with its Disconnect, and the stop after. */
#include "comet_test.h"

#include "comet_drain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define DRAIN_MS 600
#define DRAIN_CLIENTS 8

/* Every slot of every worker, merged: in [0, T), each worker's in order, and the merged
 * sequence steps by T / (n * W) (rounded either way): nowhere more than one step's share. */
static void check_schedule(uint64_t n, int workers, uint64_t t)
{
    uint64_t slots = n * (uint64_t)workers;
    uint64_t prev = 0;
    for (uint64_t k = 0; k < slots; k++) {
        uint64_t i = k / (uint64_t)workers;
        int w = (int)(k % (uint64_t)workers);
        uint64_t at = comet_drain_slot_ms(i, n, w, workers, t);
        assert_true(at < t);
        if (i > 0)
            assert_true(at >= comet_drain_slot_ms(i - 1, n, w, workers, t));
        if (k > 0) {
            assert_true(at >= prev);
            assert_true(at - prev <= t / slots + 1);
        }
        prev = at;
    }
    /* the last slot leaves at most one step before the end */
    assert_true(t - prev <= t / slots + 1);
}

static void test_slots_spread_over_the_drain(void **state)
{
    const uint64_t ns[] = {1, 2, 3, 7, 100, 1001};
    const int ws[] = {1, 2, 3, 4};
    const uint64_t ts[] = {1, 999, 2000, 10000};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ws / sizeof *ws; b++)
            for (size_t c = 0; c < sizeof ts / sizeof *ts; c++)
                check_schedule(ns[a], ws[b], ts[c]);
    /* one connection on one worker goes at once; without a drain time, everyone does */
    assert_int_equal(comet_drain_slot_ms(0, 1, 0, 1, 10000), 0);
    assert_int_equal(comet_drain_slot_ms(5, 10, 1, 2, 0), 0);
    assert_int_equal(comet_drain_slot_ms(0, 0, 0, 1, 10000), 0);
    /* 1000 connections over 10 s: 10 per 100 ms, never more */
    int per_window[100] = {0};
    for (uint64_t i = 0; i < 1000; i++)
        per_window[comet_drain_slot_ms(i, 1000, 0, 1, 10000) / 100]++;
    for (int i = 0; i < 100; i++)
        assert_int_equal(per_window[i], 10);
    /* the bounds of the configuration do not overflow: 256 workers, 10^6 connections each, 1 h */
    uint64_t last = comet_drain_slot_ms(999999, 1000000, 255, 256, 3600000);
    assert_true(last < 3600000 && last >= 3600000 - 1);
}

static void test_notice_body(void **state)
{
    char body[64];
    size_t len = comet_drain_notice_body(body, sizeof body, 1234);
    assert_string_equal(body, "{\"reason\":\"reconnect\",\"after_ms\":1234}");
    assert_int_equal(len, strlen(body));
    json_t *j = json_loads(body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), COMET_DRAIN_REASON);
    json_decref(j);
}

static void tweak_drain(comet_conf_t *conf)
{
    conf->drain_time = DRAIN_MS;
}

static int64_t renew_weight(harness_t *h)
{
    uv_mutex_lock(&h->lock);
    int64_t w = h->last_renew_weight;
    uv_mutex_unlock(&h->lock);
    return w;
}

/* 1 when a TCP connect to 127.0.0.1:port is refused. */
static int connect_refused(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    int refused = rc != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static void test_drain_moves_every_client_then_stops(void **state)
{
    harness_t *h = harness_start_with(2, 1, tweak_drain);
    int fds[DRAIN_CLIENTS];
    t_packet_t p;
    for (int i = 0; i < DRAIN_CLIENTS; i++) {
        fds[i] = t_connect(h->comet->tcp_port);
        char auth[128];
        snprintf(auth, sizeof auth, "{\"mid\":%d,\"key\":\"drain-%d\",\"accepts\":[1000]}", 300 + i,
                 i);
        assert_int_equal(t_auth(fds[i], auth, &p), 1);
        assert_int_equal(t_json_int(&p, "code"), 0);
    }
    assert_true(harness_wait(h, &h->connects, DRAIN_CLIENTS));
    assert_true(harness_wait(h, &h->renewals, 1));
    assert_int_equal(renew_weight(h), 1);
    int port = h->comet->tcp_port, admin = h->comet->admin_port;
    int renewals = harness_get(h, &h->renewals);

    harness_request_drain(h);
    int64_t lo = DRAIN_MS, hi = -1;
    for (int i = 0; i < DRAIN_CLIENTS; i++) {
        assert_int_equal(t_recv_op(fds[i], PROTO_OP_DISCONNECT_REPLY, &p, T_TIMEOUT_MS), 1);
        json_t *j = json_loadb((const char *)p.body, p.len, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "reason")), "reconnect");
        json_int_t after = json_integer_value(json_object_get(j, "after_ms"));
        json_decref(j);
        assert_true(after >= 0 && after < DRAIN_MS);
        lo = after < lo ? after : lo;
        hi = after > hi ? after : hi;
    }
    /* 4 slots per worker, 75 ms apart: the notices spread over most of the drain */
    assert_true(hi - lo >= DRAIN_MS / 2);
    /* while draining: not ready, no new client, logic told weight 0 */
    char body[512];
    assert_int_equal(t_http_get(admin, "/ready", body, sizeof body), 503);
    assert_non_null(strstr(body, "\"draining\":true"));
    /* every worker closes its listener as its drain begins: soon all of them have */
    int refused = 0;
    for (int i = 0; i < 100 && !(refused = connect_refused(port)); i++)
        usleep(10 * 1000);
    assert_true(refused);
    assert_true(harness_wait(h, &h->renewals, renewals + 1));
    assert_int_equal(renew_weight(h), 0);
    /* then every connection is closed (after its slot) and says Disconnect: not ServerDown's
     * silent close, since the comet is still running */
    for (int i = 0; i < DRAIN_CLIENTS; i++) {
        assert_int_equal(t_wait_closed(fds[i], T_TIMEOUT_MS + DRAIN_MS), 1);
        close(fds[i]);
    }
    assert_true(harness_wait(h, &h->disconnects, DRAIN_CLIENTS));
    assert_true(harness_wait(h, &h->server_downs, 1));
    harness_join(h);
    harness_free(h);
}

static void tweak_no_drain(comet_conf_t *conf)
{
    conf->drain_time = 0;
}

/* drain_time 0: the drain is the stop at once (kicks with "shutdown"). */
static void test_no_drain_time_stops_at_once(void **state)
{
    harness_t *h = harness_start_with(1, 1, tweak_no_drain);
    int fd = t_connect(h->comet->tcp_port);
    t_packet_t p;
    assert_int_equal(t_auth(fd, "{\"mid\":9,\"key\":\"nodrain\"}", &p), 1);
    harness_request_drain(h);
    assert_int_equal(t_recv_op(fd, PROTO_OP_DISCONNECT_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "{\"reason\":\"shutdown\"}");
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    harness_join(h);
    assert_int_equal(harness_get(h, &h->server_downs), 1);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_spread_over_the_drain),
        cmocka_unit_test(test_notice_body),
        cmocka_unit_test(test_drain_moves_every_client_then_stops),
        cmocka_unit_test(test_no_drain_time_stops_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
