/* test_http_web.c - the console's path resolution (logic_http_web_resolve) on a real folder:
 * only regular files of the served kinds under the root, whatever the request path tries. */
#include "herald_err.h"
#include "logic_http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <limits.h>

/* <tmp>/root holds the console; <tmp>/secret.js lies outside it. */
static char g_tmp[64], g_root[128];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", g_tmp, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void in_tmp(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", g_tmp, rel);
}

static int setup(void **state)
{
    (void)state;
    char path[256], target[256];
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/herald-web-XXXXXX");
    if (mkdtemp(g_tmp) == NULL)
        return -1;
    snprintf(g_root, sizeof(g_root), "%s/root", g_tmp);
    in_tmp(path, sizeof(path), "root");
    mkdir(path, 0755);
    in_tmp(path, sizeof(path), "root/sub");
    mkdir(path, 0755);
    in_tmp(path, sizeof(path), "root/dir.js");
    mkdir(path, 0755);
    put("root/index.html", "<html></html>");
    put("root/app.js", "1;");
    put("root/.hidden.js", "2;");
    put("root/sub/style.css", "a{}");
    put("root/notes.txt", "text");
    put("secret.js", "3;");
    /* A link out of the root, and one that stays inside it. */
    in_tmp(target, sizeof(target), "secret.js");
    in_tmp(path, sizeof(path), "root/out.js");
    if (symlink(target, path) != 0)
        return -1;
    in_tmp(path, sizeof(path), "root/alias.js");
    if (symlink("app.js", path) != 0)
        return -1;
    in_tmp(path, sizeof(path), "root/fifo.js");
    return mkfifo(path, 0644);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Resolves url and asserts it names root/<want_rel> with content type want_type. */
static void expect_file(const char *url, const char *want_rel, const char *want_type)
{
    char out[PATH_MAX], want[PATH_MAX + 64], real_root[PATH_MAX];
    const char *type = NULL;
    int rc = logic_http_web_resolve(g_root, url, out, sizeof(out), &type);
    if (rc != 0)
        fail_msg("%s: %d", url, rc);
    assert_non_null(realpath(g_root, real_root));
    snprintf(want, sizeof(want), "%s/%s", real_root, want_rel);
    assert_string_equal(out, want);
    assert_string_equal(type, want_type);
}

static void expect_rc(const char *root, const char *url, int want)
{
    char out[PATH_MAX];
    const char *type = NULL;
    int rc = logic_http_web_resolve(root, url, out, sizeof(out), &type);
    if (rc != want)
        fail_msg("%s: got %d, want %d", url, rc, want);
}

static void test_serves_files(void **state)
{
    (void)state;
    expect_file("/web", "index.html", "text/html; charset=utf-8");
    expect_file("/web/", "index.html", "text/html; charset=utf-8");
    expect_file("/web/index.html", "index.html", "text/html; charset=utf-8");
    expect_file("/web/app.js", "app.js", "text/javascript; charset=utf-8");
    expect_file("/web/sub/style.css", "sub/style.css", "text/css; charset=utf-8");
    expect_file("/web/alias.js", "app.js", "text/javascript; charset=utf-8"); /* link inside */
}

static void test_refuses_escapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "/web/../secret.js", "/web/sub/../../secret.js",
        "/web/./app.js",     "/web//app.js",
        "/web/.hidden.js",   "/web/out.js",
        "/web/dir.js",       "/web/fifo.js",
        "/web/sub/",         "/web/missing.js",
        "/web/notes.txt",    "/web/app",
        "/web/%2e%2e/x.js",  "/web/sub\\style.css",
        "/web/app.js\n",     "/web/a b.js",
        "/web/..",           "/web/sub/.",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rc(g_root, bad[i], HERALD_ENOTFOUND);

    /* Longer than LOGIC_HTTP_WEB_PATH_MAX. */
    char longp[LOGIC_HTTP_WEB_PATH_MAX + 16] = "/web/";
    memset(longp + 5, 'a', LOGIC_HTTP_WEB_PATH_MAX + 1);
    memcpy(longp + 5 + LOGIC_HTTP_WEB_PATH_MAX + 1 - 3, ".js", 4);
    expect_rc(g_root, longp, HERALD_ENOTFOUND);

    /* A root that does not exist serves nothing. */
    expect_rc("/nonexistent-herald-web", "/web/app.js", HERALD_ENOTFOUND);
}

static void test_other_paths_are_not_the_consoles(void **state)
{
    (void)state;
    expect_rc(g_root, "/webapp.js", HERALD_EINVAL);
    expect_rc(g_root, "/goim/push/mids", HERALD_EINVAL);
    expect_rc(g_root, "/", HERALD_EINVAL);
    expect_rc(g_root, "/we", HERALD_EINVAL);
}

static void test_small_out_buffer(void **state)
{
    (void)state;
    char out[4];
    const char *type = NULL;
    assert_int_equal(logic_http_web_resolve(g_root, "/web/app.js", out, sizeof(out), &type),
                     HERALD_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_files),
        cmocka_unit_test(test_refuses_escapes),
        cmocka_unit_test(test_other_paths_are_not_the_consoles),
        cmocka_unit_test(test_small_out_buffer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
