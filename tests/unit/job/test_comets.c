/* test_comets.c - parsing of comet registry entries, including hostile ones. */
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

static int parse(const char *json, char **rpc)
{
    *rpc = NULL;
    return job_comets_parse_entry(json, strlen(json), NOW, TTL, rpc);
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
    assert_int_equal(job_comets_parse_entry(raw, sizeof(raw) - 1, NOW, TTL, &rpc), HERALD_EINVAL);
    assert_null(rpc);
    assert_int_equal(job_comets_parse_entry(raw, 10, NOW, TTL, &rpc), HERALD_EINVAL);
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
