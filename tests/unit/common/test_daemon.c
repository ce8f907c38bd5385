/* -V / --version of every daemon (daemon_setup): one line "herald-<name> <version> (<rev>)" on
 * stdout and exit 0, before any configuration is read. The expected version and revision are
 * the ones CMake wrote into herald_version.h (passed to this test as definitions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *const daemons[] = {"comet", "logic", "router", "job"};

/* Runs `bin/herald-<name> <args>` with stderr discarded; stores stdout (NUL-terminated) in out
 * and returns the exit status, or -1 when the process did not exit normally. */
static int run_daemon(const char *name, const char *args, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/herald-%s %s 2>/dev/null", HERALD_BIN_DIR, name, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_version(const char *args)
{
    for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
        char out[256], want[256];
        snprintf(want, sizeof(want), "herald-%s %s (%s)\n", daemons[i], HERALD_TEST_VERSION,
                 HERALD_TEST_GIT_REV);
        assert_int_equal(run_daemon(daemons[i], args, out, sizeof(out)), 0);
        assert_string_equal(out, want);
    }
}

static void test_short_option(void **state)
{
    check_version("-V");
}

static void test_long_option(void **state)
{
    check_version("--version");
}

/* The version is printed while parsing the options, so a missing config file does not stop it. */
static void test_before_configuration(void **state)
{
    check_version("-c /nonexistent/herald.ini -V");
}

/* The revision is git describe's output or "unknown"; neither is ever empty. */
static void test_revision_not_empty(void **state)
{
    assert_true(strlen(HERALD_TEST_VERSION) > 0);
    assert_true(strlen(HERALD_TEST_GIT_REV) > 0);
}

static void test_usage_mentions_version(void **state)
{
    char out[1024];
    assert_int_equal(run_daemon("comet", "-h", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "-V, --version"));
    /* an unknown long option is still refused */
    assert_int_equal(run_daemon("comet", "--no-such-option", out, sizeof(out)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_option),           cmocka_unit_test(test_long_option),
        cmocka_unit_test(test_before_configuration),   cmocka_unit_test(test_revision_not_empty),
        cmocka_unit_test(test_usage_mentions_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
