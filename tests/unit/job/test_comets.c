/* test_comets.c - comet registry entries as herald-job reads them (registry_entry_decode, then
 * job_comets_entry_check), including hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "herald_err.h"
#include "job_comets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL
#define TTL 30000

/* Decodes len bytes of an entry and checks it; *rpc gets the rpc address (heap) when usable. */
static int parse_len(const char *json, size_t len, char **rpc)
{
    registry_entry_t e;
    *rpc = NULL;
    int rc = registry_entry_decode(json, len, &e);
    if (rc == 0)
        rc = job_comets_entry_check(&e, NOW, TTL);
    if (rc == 0)
        *rpc = strdup(e.rpc);
    return rc;
}

static int parse(const char *json, char **rpc)
{
    return parse_len(json, strlen(json), rpc);
}

static void test_good_entry(void **state)
{
    char *rpc;
    assert_int_equal(
        parse("{\"id\":\"comet-1\",\"rpc\":\"127.0.0.1:3109\",\"tcp\":\"127.0.0.1:3101\","
              "\"ws\":\"127.0.0.1:3102\",\"weight\":1,\"conns\":12,"
              "\"updated_ms\":1699999990000}",
              &rpc),
        0);
    assert_string_equal(rpc, "127.0.0.1:3109");
    free(rpc);
    /* exactly ttl old is still alive; the other fields are optional */
    assert_int_equal(parse("{\"rpc\":\"h:1\",\"updated_ms\":1699999970000}", &rpc), 0);
    assert_string_equal(rpc, "h:1");
    free(rpc);
}

static void test_stale_entry(void **state)
{
    char *rpc;
    assert_int_equal(parse("{\"rpc\":\"127.0.0.1:3109\",\"updated_ms\":1699999969999}", &rpc),
                     HERALD_ENOTFOUND);
    assert_null(rpc);
    assert_int_equal(parse("{\"rpc\":\"127.0.0.1:3109\"}", &rpc), HERALD_ENOTFOUND);
    assert_int_equal(parse("{\"rpc\":\"127.0.0.1:3109\",\"updated_ms\":\"now\"}", &rpc),
                     HERALD_ENOTFOUND);
    assert_null(rpc);
}

static void test_malformed_entry(void **state)
{
    static const char *bad[] = {
        "",
        "{",
        "null",
        "[\"rpc\"]",
        "\"127.0.0.1:3109\"",
        "{\"rpc\":3109,\"updated_ms\":1699999990000}",
        "{\"rpc\":\"no-port\",\"updated_ms\":1699999990000}",
        "{\"rpc\":\"\",\"updated_ms\":1699999990000}",
        "{\"rpc\":\"h:notaport\",\"updated_ms\":1699999990000}",
        "{\"rpc\":\"h:99999999\",\"updated_ms\":1699999990000}",
        "{\"rpc\":\"h:0\",\"updated_ms\":1699999990000}",
        "{\"rpc\":\"h:1\\u0000x\",\"updated_ms\":1699999990000}",
        "{\"tcp\":\"127.0.0.1:3101\",\"updated_ms\":1699999990000}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *rpc;
        assert_int_equal(parse(bad[i], &rpc), HERALD_EINVAL);
        assert_null(rpc);
    }
    /* bytes that are not NUL-terminated, with an embedded NUL */
    char raw[] = "{\"rpc\":\"h:1\",\"updated_ms\":1699999990000}\0garbage";
    char *rpc = NULL;
    assert_int_equal(parse_len(raw, sizeof(raw) - 1, &rpc), HERALD_EINVAL);
    assert_null(rpc);
    assert_int_equal(parse_len(raw, 10, &rpc), HERALD_EINVAL);
    assert_null(rpc);
}

/* What logic writes (registry_entry_init, registry_entry_encode) is what job reads back; an
 * entry that could not be encoded (a string jansson refuses, out of bounds) is refused before. */
static void test_entry_round_trip(void **state)
{
    registry_entry_t e, back;
    assert_int_equal(registry_entry_init(&e, "comet-1", "127.0.0.1:3109", "127.0.0.1:3101",
                                         "[::1]:3102", 3, 12, NOW),
                     0);
    assert_int_equal(registry_entry_set_tls(&e, "127.0.0.1:3103", "example.com:3104"), 0);
    char *json;
    assert_int_equal(registry_entry_encode(&e, &json), 0);
    assert_int_equal(registry_entry_decode(json, strlen(json), &back), 0);
    free(json);
    assert_string_equal(back.id, ""); /* the hash field is the id */
    assert_string_equal(back.rpc, "127.0.0.1:3109");
    assert_string_equal(back.ws, "[::1]:3102");
    assert_string_equal(back.tls, "127.0.0.1:3103");
    assert_string_equal(back.wss, "example.com:3104");
    assert_int_equal(back.weight, 3);
    assert_int_equal(back.conns, 12);
    assert_int_equal(back.updated_ms, NOW);
    assert_int_equal(job_comets_entry_check(&back, NOW + TTL, TTL), 0);
    assert_int_equal(job_comets_entry_check(&back, NOW + TTL + 1, TTL), HERALD_ENOTFOUND);

    char long_addr[REGISTRY_ADDR_MAX + 2];
    memset(long_addr, 'h', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    const char *bad_addrs[] = {"h:\xff", "h:\xc3\x28", "h 1:2", "h:1\n", long_addr};
    for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
        assert_int_equal(registry_entry_init(&e, "comet-1", "h:1", bad_addrs[i], "", 0, 0, NOW),
                         HERALD_EINVAL);
        assert_int_equal(registry_entry_init(&e, "comet-1", "h:1", "", "", 0, 0, NOW), 0);
        assert_int_equal(registry_entry_set_tls(&e, bad_addrs[i], ""), HERALD_EINVAL);
        assert_int_equal(registry_entry_set_tls(&e, "", bad_addrs[i]), HERALD_EINVAL);
        assert_string_equal(e.tls, "");
    }
    /* an entry written before tls and wss existed reads them as "" */
    const char *old = "{\"rpc\":\"h:1\",\"tcp\":\"h:2\",\"ws\":\"h:3\",\"weight\":1,\"conns\":0,"
                      "\"updated_ms\":1}";
    assert_int_equal(registry_entry_decode(old, strlen(old), &back), 0);
    assert_string_equal(back.tls, "");
    assert_string_equal(back.wss, "");
    assert_int_equal(registry_entry_init(&e, "comet\xff", "h:1", "", "", 0, 0, NOW), HERALD_EINVAL);
    assert_int_equal(registry_entry_init(&e, "", "h:1", "", "", 0, 0, NOW), HERALD_EINVAL);
    assert_int_equal(registry_entry_init(&e, "comet-1", "h:1", "", "", -1, 0, NOW), HERALD_EINVAL);
    /* an entry filled by hand is checked again before it is encoded */
    assert_int_equal(registry_entry_init(&e, "comet-1", "h:1", "", "", 0, 0, NOW), 0);
    snprintf(e.ws, sizeof(e.ws), "%s", "\xff:1");
    assert_null(registry_entry_json(&e));
    assert_int_equal(registry_entry_encode(&e, &json), HERALD_EINVAL);
    assert_null(json);
    /* and one read from Redis too */
    assert_int_equal(
        parse("{\"rpc\":\"h:1\",\"ws\":\"h:\\u00e9\",\"updated_ms\":1699999990000}", &json),
        HERALD_EINVAL);
    assert_int_equal(parse("{\"rpc\":\"h:1\",\"conns\":-1,\"updated_ms\":1699999990000}", &json),
                     HERALD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_round_trip),
        cmocka_unit_test(test_good_entry),
        cmocka_unit_test(test_stale_entry),
        cmocka_unit_test(test_malformed_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
