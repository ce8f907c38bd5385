/* test_client_redial.c - client_redial.h: drain notices, the backoff and its jitter, the choice
 * of the next comet from a node list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "client_redial.h"

static int kick(client_redial_t *r, const char *body, int64_t now)
{
    return client_redial_on_kick(r, (const uint8_t *)body, strlen(body), now);
}

static void test_notice_sets_the_time_to_leave(void **state)
{
    client_redial_t r;
    client_redial_init(&r, 0, 0, 1);
    assert_int_equal(client_redial_leave_at(&r), -1);
    assert_false(client_redial_leave_due(&r, 1000000));
    assert_int_equal(kick(&r, "{\"reason\":\"reconnect\",\"after_ms\":750}", 1000), 1);
    assert_int_equal(client_redial_leave_at(&r), 1750);
    assert_false(client_redial_leave_due(&r, 1749));
    assert_true(client_redial_leave_due(&r, 1750));
    /* the comet closed first: the dial still waits for the notice's time, then goes at once */
    assert_int_equal(client_redial_ended(&r, 1200), 550);
    assert_int_equal(client_redial_ended(&r, 1800), 0);
    client_redial_connected(&r);
    assert_int_equal(client_redial_leave_at(&r), -1);
    /* a notice is not a failure: the backoff after it starts from the base */
    int64_t d = client_redial_failed(&r);
    assert_true(d >= CLIENT_REDIAL_BASE_MS / 2 && d <= CLIENT_REDIAL_BASE_MS);
}

static void test_other_bodies_are_kicks(void **state)
{
    client_redial_t r;
    client_redial_init(&r, 0, 0, 1);
    assert_int_equal(kick(&r, "{\"reason\":\"kicked\"}", 0), 0);
    assert_int_equal(kick(&r, "{\"reason\":\"shutdown\"}", 0), 0);
    assert_int_equal(kick(&r, "not json", 0), 0);
    assert_int_equal(kick(&r, "", 0), 0);
    assert_int_equal(kick(&r, "{\"reason\":7,\"after_ms\":5}", 0), 0);
    assert_int_equal(client_redial_leave_at(&r), -1);
    /* bad or missing after_ms: leave now; a huge one is bounded */
    assert_int_equal(kick(&r, "{\"reason\":\"reconnect\"}", 10), 1);
    assert_int_equal(client_redial_leave_at(&r), 10);
    assert_int_equal(kick(&r, "{\"reason\":\"reconnect\",\"after_ms\":-5}", 10), 1);
    assert_int_equal(client_redial_leave_at(&r), 10);
    assert_int_equal(kick(&r, "{\"reason\":\"reconnect\",\"after_ms\":\"9\"}", 10), 1);
    assert_int_equal(client_redial_leave_at(&r), 10);
    assert_int_equal(kick(&r, "{\"reason\":\"reconnect\",\"after_ms\":99999999999}", 10), 1);
    assert_int_equal(client_redial_leave_at(&r), 10 + CLIENT_REDIAL_AFTER_MAX_MS);
}

static void test_backoff_doubles_to_the_bound_with_jitter(void **state)
{
    client_redial_t r;
    client_redial_init(&r, 100, 1000, 42);
    const int64_t bounds[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++) {
        /* an end without a notice counts like a failed dial */
        int64_t d = i == 0 ? client_redial_ended(&r, 0) : client_redial_failed(&r);
        assert_true(d >= bounds[i] / 2 && d <= bounds[i]);
    }
    client_redial_connected(&r);
    int64_t d = client_redial_failed(&r);
    assert_true(d >= 50 && d <= 100);
    /* defaults, and a max below the base is raised to it */
    client_redial_init(&r, 0, 0, 0);
    assert_int_equal(r.base_ms, CLIENT_REDIAL_BASE_MS);
    assert_int_equal(r.max_ms, CLIENT_REDIAL_MAX_MS);
    client_redial_init(&r, 500, 100, 7);
    assert_int_equal(r.max_ms, 500);
}

/* Clients that lost the same comet at the same moment do not all dial at the same moment. */
static void test_jitter_spreads_clients(void **state)
{
    int64_t first[200];
    int distinct = 0;
    for (int i = 0; i < 200; i++) {
        client_redial_t r;
        client_redial_init(&r, 0, 2000, (uint64_t)i * 2654435761u + 1);
        for (int k = 0; k < 4; k++) /* the 5th dial: d = 2000 ms */
            client_redial_failed(&r);
        first[i] = client_redial_failed(&r);
        assert_true(first[i] >= 1000 && first[i] <= 2000);
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= first[j] == first[i];
        distinct += !seen;
    }
    assert_true(distinct > 100);
}

/* A nodes/weighted data object whose comets have these tcp addresses (ws: the port + 1). */
static json_t *weighted(int n, const char *const *tcp)
{
    json_t *comets = json_array();
    for (int i = 0; i < n; i++) {
        char ws[96] = "";
        char h[64];
        int p;
        if (sscanf(tcp[i], "%63[^:]:%d", h, &p) == 2)
            snprintf(ws, sizeof ws, "%s:%d", h, p + 1);
        json_array_append_new(comets, json_pack("{s:s,s:s,s:s,s:s}", "id", "c", "tcp", tcp[i], "ws",
                                                ws, "tls", "", "wss", ""));
    }
    return json_pack("{s:[s],s:o}", "nodes", "ignored", "comets", comets);
}

static void test_pick_skips_the_comet_left(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    json_t *d = weighted(3, (const char *[]){"10.0.0.1:3101", "10.0.0.2:3101", "10.0.0.3:3101"});
    assert_int_equal(client_redial_pick(d, "tcp", "10.0.0.1:3101", host, sizeof host, &port), 0);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 3101);
    assert_int_equal(client_redial_pick(d, "tcp", NULL, host, sizeof host, &port), 0);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(client_redial_pick(d, "tcp", "10.0.0.9:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "10.0.0.1");
    /* the transport picks the field: ws addresses, the one left compared as a ws address */
    assert_int_equal(client_redial_pick(d, "ws", "10.0.0.1:3102", host, sizeof host, &port), 0);
    assert_string_equal(host, "10.0.0.2");
    assert_int_equal(port, 3102);
    /* no comet has a TLS listener */
    assert_int_equal(client_redial_pick(d, "tls", NULL, host, sizeof host, &port), -1);
    json_decref(d);
    /* the comet left when it is the only one (it came back) */
    d = weighted(1, (const char *[]){"127.0.0.1:4000"});
    assert_int_equal(client_redial_pick(d, "tcp", "127.0.0.1:4000", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 4000);
    json_decref(d);
    /* unusable entries are skipped; nothing usable is an error */
    d = weighted(3, (const char *[]){"no-port", "h:0", "good:77"});
    assert_int_equal(client_redial_pick(d, "tcp", NULL, host, sizeof host, &port), 0);
    assert_string_equal(host, "good");
    assert_int_equal(port, 77);
    assert_int_equal(client_redial_pick(d, "tcp", NULL, host, 3, &port), -1); /* does not fit */
    json_decref(d);
    json_t *empty = json_object();
    assert_int_equal(client_redial_pick(empty, "tcp", NULL, host, sizeof host, &port), -1);
    json_decref(empty);
    assert_int_equal(client_redial_pick(NULL, "tcp", NULL, host, sizeof host, &port), -1);
}

static void test_fetch_failure_is_reported(void **state)
{
    char host[64], err[256];
    int port = 0;
    /* port 1 on loopback: nothing listens */
    assert_int_equal(client_redial_fetch("http://127.0.0.1:1/goim/nodes/weighted", NULL, 1000,
                                         "tcp", NULL, host, sizeof host, &port, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "nodes:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notice_sets_the_time_to_leave),
        cmocka_unit_test(test_other_bodies_are_kicks),
        cmocka_unit_test(test_backoff_doubles_to_the_bound_with_jitter),
        cmocka_unit_test(test_jitter_spreads_clients),
        cmocka_unit_test(test_pick_skips_the_comet_left),
        cmocka_unit_test(test_fetch_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
