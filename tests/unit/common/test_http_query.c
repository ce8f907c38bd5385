/* Unit tests of http_query.c: splitting and decoding a query string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http_query.h"

/* Parses q and checks the names and values against want (name, value, name, value, ...). */
static void expect_parse(const char *q, long n, const char *const *want)
{
    size_t len = strlen(q), count = http_query_count(q, len);
    http_kv_t kv[16];
    char str[256];

    assert_true(count <= 16 && len + 2 * count <= sizeof(str));
    assert_int_equal(http_query_parse(q, len, kv, str), n);
    for (long i = 0; i < n; i++) {
        assert_string_equal(kv[i].name, want[2 * i]);
        assert_string_equal(kv[i].value, want[2 * i + 1]);
    }
}

static void test_split_and_decode(void **state)
{
    (void)state;
    expect_parse("", 0, NULL);
    expect_parse("a=1&b=2", 2, (const char *[]){"a", "1", "b", "2"});
    expect_parse("flag&k=&=v", 3, (const char *[]){"flag", "", "k", "", "", "v"});
    expect_parse("&&a=1&&", 1, (const char *[]){"a", "1"});
    expect_parse("a=x=y", 1, (const char *[]){"a", "x=y"});
    expect_parse("r=live%3A%2F%2F1&s=a+b", 2, (const char *[]){"r", "live://1", "s", "a b"});
    /* A '%' without two hex digits stays as it is. */
    expect_parse("p=100%&q=%zz&t=%4", 3, (const char *[]){"p", "100%", "q", "%zz", "t", "%4"});
    expect_parse("%41%62=%7e", 1, (const char *[]){"Ab", "~"});
}

static void test_nul_refused(void **state)
{
    (void)state;
    expect_parse("a=x%00y", -1, NULL);
    expect_parse("a%00=1", -1, NULL);
    assert_int_equal(http_query_count("a&b&&c", 6), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_and_decode),
        cmocka_unit_test(test_nul_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
