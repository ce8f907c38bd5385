/* test_addr.c - the one address parser and the sockaddr helpers (src/common/addr.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "addr.h"
#include "herald_err.h"

#include <netinet/in.h>
#include <string.h>
#include <uv.h>

static void test_split(void **state)
{
    char host[ADDR_HOST_MAX];
    int port;
    assert_int_equal(addr_split("127.0.0.1:3101", host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 3101);
    assert_int_equal(addr_split("localhost:0", host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 0);
    assert_int_equal(addr_split("[::1]:80", host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    assert_int_equal(addr_split("h:65535", host, &port), 0);
    const char *bad[] = {"h:65536", "h",    "h:",    ":80",      "h:8x", "h:-1",  "::1:80",
                         "[::1]80", "[::1", "[]:80", "h:123456", "",     "h:80 ", "h: 80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (addr_split(bad[i], host, &port) != HERALD_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(addr_split(NULL, host, &port), HERALD_EINVAL);
    /* A host that does not fit is refused, never cut short. */
    char longer[ADDR_HOST_MAX + 8];
    memset(longer, 'a', ADDR_HOST_MAX);
    strcpy(longer + ADDR_HOST_MAX, ":80");
    assert_int_equal(addr_split(longer, host, &port), HERALD_EINVAL);
    memset(longer, 'a', ADDR_HOST_MAX - 1);
    strcpy(longer + ADDR_HOST_MAX - 1, ":80");
    assert_int_equal(addr_split(longer, host, &port), 0);
    assert_int_equal(strlen(host), ADDR_HOST_MAX - 1);
}

static void test_port_of(void **state)
{
    assert_int_equal(addr_port_of("10.0.0.1:3101"), 3101);
    assert_int_equal(addr_port_of("[::1]:3102"), 3102);
    assert_int_equal(addr_port_of("nohost"), -1);
    assert_int_equal(addr_port_of(""), -1);
}

static void test_numeric_and_format(void **state)
{
    struct sockaddr_storage ss;
    char out[64];
    assert_int_equal(addr_numeric("127.0.0.1", 3101, &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(addr_get_port((struct sockaddr *)&ss), 3101);
    assert_int_equal(addr_len((struct sockaddr *)&ss), sizeof(struct sockaddr_in));
    assert_string_equal(addr_format((struct sockaddr *)&ss, out, sizeof(out)), "127.0.0.1:3101");
    addr_set_port(&ss, 9);
    assert_string_equal(addr_format((struct sockaddr *)&ss, out, sizeof(out)), "127.0.0.1:9");
    assert_int_equal(addr_numeric("::1", 80, &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(addr_len((struct sockaddr *)&ss), sizeof(struct sockaddr_in6));
    assert_string_equal(addr_format((struct sockaddr *)&ss, out, sizeof(out)), "[::1]:80");
    assert_int_equal(addr_numeric("localhost", 80, &ss), UV_EINVAL);
    assert_int_equal(addr_numeric("127.0.0.1", 65536, &ss), UV_EINVAL);
    assert_int_equal(addr_numeric("127.0.0.1", -1, &ss), UV_EINVAL);
}

static void test_resolve(void **state)
{
    struct sockaddr_storage ss;
    /* Numeric addresses never touch the resolver (a test must not depend on name lookup). */
    assert_int_equal(addr_resolve("127.0.0.2:4000", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(addr_get_port((struct sockaddr *)&ss), 4000);
    assert_int_equal(addr_resolve("[::1]:4001", &ss), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(addr_resolve("not an address", &ss), HERALD_EINVAL);
}

static void test_loopback(void **state)
{
    struct sockaddr_storage ss;
    const char *yes[] = {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"};
    const char *no[] = {"0.0.0.0", "10.0.0.1", "::", "::ffff:10.0.0.1", "128.0.0.1", "fe80::1"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_int_equal(addr_numeric(yes[i], 1, &ss), 0);
        if (!addr_is_loopback((struct sockaddr *)&ss))
            fail_msg("%s is loopback", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_int_equal(addr_numeric(no[i], 1, &ss), 0);
        if (addr_is_loopback((struct sockaddr *)&ss))
            fail_msg("%s is not loopback", no[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_port_of),
        cmocka_unit_test(test_numeric_and_format),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
