/* test_comets.c - comet registry entries as herald-job reads them (registry_entry_decode, then
 * job_comets_entry_check), including hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "herald_err.h"
#include "job_comets.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_entry),
        cmocka_unit_test(test_stale_entry),
        cmocka_unit_test(test_malformed_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
