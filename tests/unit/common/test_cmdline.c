/* The command-line conventions of every herald binary (cmdline.h), checked on the built binaries:
 * -V / --version print one line "<prog> <version> (<rev>)" on stdout and exit 0, before any
 * configuration is read; -h / --help print the usage on stdout and exit 0; an unknown option
 * prints the usage on stderr, nothing on stdout, and exits 2. The expected version and revision
 * are the ones CMake wrote into herald_version.h (passed to this test as definitions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *const binaries[] = {"herald-comet", "herald-logic",     "herald-router",
                                       "herald-job",   "herald-kafka-dev", "herald-cli",
                                       "herald-bench"};
#define NBINARIES (sizeof(binaries) / sizeof(binaries[0]))

typedef struct run_s {
    int status; /* exit status, -1 when the process did not exit normally */
    char out[4096];
    char err[4096];
} run_t;

static void read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs `bin/<prog> <args>` with stdout and stderr captured apart, in files under the test's
 * working directory (ctest runs it in the build tree). */
static void run(const char *prog, const char *args, run_t *r)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s/%s %s >cmdline.out 2>cmdline.err </dev/null", HERALD_BIN_DIR,
             prog, args);
    int status = system(cmd);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    read_file("cmdline.out", r->out, sizeof(r->out));
    read_file("cmdline.err", r->err, sizeof(r->err));
    remove("cmdline.out");
    remove("cmdline.err");
}

static void check_version(const char *args)
{
    for (size_t i = 0; i < NBINARIES; i++) {
        char want[256];
        run_t r;
        snprintf(want, sizeof(want), "%s %s (%s)\n", binaries[i], HERALD_TEST_VERSION,
                 HERALD_TEST_GIT_REV);
        run(binaries[i], args, &r);
        if (r.status != 0 || strcmp(r.out, want) != 0 || r.err[0] != '\0')
            fail_msg("%s %s: status %d, out '%s', err '%s'", binaries[i], args, r.status, r.out,
                     r.err);
    }
}

static void test_short_version(void **state)
{
    check_version("-V");
}

static void test_long_version(void **state)
{
    check_version("--version");
}

/* The version is printed while parsing the options, so a missing config file does not stop it. */
static void test_version_before_configuration(void **state)
{
    const char *const daemons[] = {"herald-comet", "herald-logic", "herald-router", "herald-job"};
    for (size_t i = 0; i < 4; i++) {
        run_t r;
        run(daemons[i], "--config /nonexistent/herald.ini --version", &r);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, HERALD_TEST_VERSION));
    }
}

/* The revision is git describe's output or "unknown"; neither is ever empty. */
static void test_revision_not_empty(void **state)
{
    assert_true(strlen(HERALD_TEST_VERSION) > 0);
    assert_true(strlen(HERALD_TEST_GIT_REV) > 0);
}

static void check_help(const char *args)
{
    for (size_t i = 0; i < NBINARIES; i++) {
        run_t r;
        char want[64];
        snprintf(want, sizeof(want), "usage: %s ", binaries[i]);
        run(binaries[i], args, &r);
        if (r.status != 0 || strncmp(r.out, want, strlen(want)) != 0 || r.err[0] != '\0')
            fail_msg("%s %s: status %d, out '%s', err '%s'", binaries[i], args, r.status, r.out,
                     r.err);
        /* every usage text names the version option */
        assert_non_null(strstr(r.out, "--version"));
    }
}

static void test_short_help(void **state)
{
    check_help("-h");
}

static void test_long_help(void **state)
{
    check_help("--help");
}

/* The daemons' long options are the short ones spelled out. */
static void test_daemon_long_options(void **state)
{
    run_t r;
    run("herald-router", "--help", &r);
    assert_non_null(strstr(r.out, "--config FILE"));
    assert_non_null(strstr(r.out, "--test"));
    /* --test with --config: the check runs and names the file (no secret: exit 1) */
    run("herald-router", "--config /dev/null --test", &r);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "no cluster secret"));
    run("herald-kafka-dev", "--brokers 0", &r);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "usage: herald-kafka-dev"));
    /* more replicas than brokers */
    run("herald-kafka-dev", "--brokers 2 --replication 3", &r);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--replication: more than the brokers"));
}

/* An unknown option, and an argument where none is taken: usage on stderr, nothing on stdout,
 * exit 2, and the bad word named. */
static void test_unknown_option(void **state)
{
    for (size_t i = 0; i < NBINARIES; i++) {
        run_t r;
        char want[64];
        snprintf(want, sizeof(want), "usage: %s ", binaries[i]);
        run(binaries[i], "--no-such-option", &r);
        if (r.status != 2 || r.out[0] != '\0' || strstr(r.err, want) == NULL ||
            strstr(r.err, "no-such-option") == NULL)
            fail_msg("%s --no-such-option: status %d, out '%s', err '%s'", binaries[i], r.status,
                     r.out, r.err);
    }
    run_t r;
    run("herald-comet", "stray-argument", &r);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unexpected argument 'stray-argument'"));
    assert_non_null(strstr(r.err, "usage: herald-comet "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_version),
        cmocka_unit_test(test_long_version),
        cmocka_unit_test(test_version_before_configuration),
        cmocka_unit_test(test_revision_not_empty),
        cmocka_unit_test(test_short_help),
        cmocka_unit_test(test_long_help),
        cmocka_unit_test(test_daemon_long_options),
        cmocka_unit_test(test_unknown_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
