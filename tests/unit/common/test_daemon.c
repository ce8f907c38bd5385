/* The cluster secret as every daemon's start (daemon_setup, cluster.h) checks it: without one, or
 * with a bad one, every daemon refuses to start, with non-loopback listeners too, and never
 * prints the secret. The command line itself is test_cmdline.c's. */
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

/* Runs `env <env> bin/herald-<name> <args>` (the caller's cluster secret removed) with stderr
 * discarded or, with `both`, merged into stdout; stores the output (NUL-terminated) in out and
 * returns the exit status, or -1 when the process did not exit normally. */
static int run_daemon_env(const char *env, const char *name, const char *args, int both, char *out,
                          size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "env -u HERALD_CLUSTER_SECRET -u HERALD_CLUSTER_SECRET_FILE %s %s/herald-%s %s %s",
             env, HERALD_BIN_DIR, name, args, both ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Listeners on every address and no secret: each daemon exits 1 before binding anything, at
 * start and under -t, naming what to set. */
static void test_secret_required(void **state)
{
    static const char open_env[] = "HERALD_RPC_LISTEN=0.0.0.0:0 HERALD_ADMIN_LISTEN=0.0.0.0:0 "
                                   "HERALD_HTTP_LISTEN=0.0.0.0:0";
    for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
        char out[2048];
        assert_int_equal(run_daemon_env(open_env, daemons[i], "-c /dev/null", 1, out, sizeof(out)),
                         1);
        assert_non_null(strstr(out, "no cluster secret"));
        assert_non_null(strstr(out, "HERALD_CLUSTER_SECRET"));
        assert_int_equal(
            run_daemon_env(open_env, daemons[i], "-c /dev/null -t", 1, out, sizeof(out)), 1);
        assert_non_null(strstr(out, "no cluster secret"));
    }
}

/* A secret that is too short, or a missing secret file, is refused without being echoed; a good
 * one passes -t, which does not print it either. */
static void test_secret_checked_never_printed(void **state)
{
    char out[2048];

    assert_int_equal(run_daemon_env("HERALD_CLUSTER_SECRET=tooshort-secre", "router",
                                    "-c /dev/null -t", 1, out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "16 to 4096 bytes"));
    assert_null(strstr(out, "tooshort"));
    assert_int_equal(run_daemon_env("HERALD_CLUSTER_SECRET_FILE=/nonexistent/secret", "job",
                                    "-c /dev/null -t", 1, out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "/nonexistent/secret: cannot open"));
    assert_int_equal(run_daemon_env("HERALD_CLUSTER_SECRET=a-long-enough-cluster-secret", "logic",
                                    "-c /dev/null -t", 1, out, sizeof(out)),
                     0);
    assert_null(strstr(out, "a-long-enough"));
    assert_int_equal(run_daemon_env("HERALD_CLUSTER_SECRET=a-long-enough-cluster-secret "
                                    "HERALD_CLUSTER_SECRET_FILE=/etc/hostname",
                                    "comet", "-c /dev/null -t", 1, out, sizeof(out)),
                     1);
    assert_non_null(strstr(out, "not both"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_required),
        cmocka_unit_test(test_secret_checked_never_printed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
