/* Unit tests of daemon_reload.c (what SIGHUP does to a daemon's configuration) and of the parts
 * of log.c a reload uses: [log] file (reopened on every log_apply) and format = json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "conf.h"
#include "daemon_reload.h"
#include "herald_err.h"
#include "log.h"

typedef struct tconf_s {
    int64_t max_msg;
    char *listen;
    char *greeting;
    conf_props_t props;
    log_conf_t log;
} tconf_t;

static const conf_item_t items[] = {
    {"protocol", "max_msg", CONF_SIZE, offsetof(tconf_t, max_msg), "2k", 1, 1 << 20, NULL},
    {"tcp", "listen", CONF_STR, offsetof(tconf_t, listen), "127.0.0.1:1", 0, 0, NULL},
    {"server", "greeting", CONF_STR, offsetof(tconf_t, greeting), "hi", 0, 0, NULL},
    {"kafka", "property.", CONF_PROPS, offsetof(tconf_t, props), NULL, 0, 0, NULL},
    LOG_CONF_ITEMS(tconf_t),
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
static const char *const reloadable[] = {"protocol.max_msg", "server.greeting", NULL};
static const daemon_reload_spec_t spec = {items, sizeof(tconf_t), reloadable};

static char tmpdir[] = "/tmp/herald-test-reload-XXXXXX";
static char path[256], log_path[256], rotated[256];

static int setup(void **state)
{
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/t.ini", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/t.log", tmpdir);
    snprintf(rotated, sizeof(rotated), "%s/t.log.1", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    unlink(log_path);
    unlink(rotated);
    return rmdir(tmpdir);
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void load(tconf_t *c, const char *text)
{
    char err[512];
    write_file(path, text);
    memset(c, 0, sizeof *c);
    assert_int_equal(conf_load(items, c, path, err, sizeof err), 0);
}

static void test_reloadable_keys_applied_others_kept(void **state)
{
    tconf_t c;
    load(&c, "[protocol]\nmax_msg = 1k\n[tcp]\nlisten = 127.0.0.1:2\n");
    char *greeting_before = c.greeting;
    daemon_reload_report_t r;
    char err[512];

    /* nothing changed */
    assert_int_equal(daemon_reload_conf(&spec, &c, path, &r, err, sizeof err), 0);
    assert_int_equal(r.applied, 0);
    assert_int_equal(r.restart, 0);
    assert_ptr_equal(c.greeting, greeting_before);

    write_file(path, "[protocol]\nmax_msg = 64\n[tcp]\nlisten = 0.0.0.0:9\n[server]\n"
                     "greeting = hello\n[kafka]\nproperty.acks = all\n[log]\nlevel = debug\n");
    assert_int_equal(daemon_reload_conf(&spec, &c, path, &r, err, sizeof err), 0);
    /* max_msg, greeting and [log] level taken; listen and the property need a restart */
    assert_int_equal(r.applied, 3);
    assert_int_equal(r.restart, 2);
    assert_int_equal(c.max_msg, 64);
    assert_string_equal(c.greeting, "hello");
    assert_int_equal(c.log.level, LOG_DEBUG);
    assert_string_equal(c.listen, "127.0.0.1:2");
    assert_int_equal(c.props.n, 0);
    conf_free(items, &c);
}

static void test_bad_file_changes_nothing(void **state)
{
    tconf_t c;
    load(&c, "[protocol]\nmax_msg = 1k\n");
    daemon_reload_report_t r;
    char err[512];
    write_file(path, "[protocol]\nmax_msg = 64\n[server]\ngreeting = x\nwho = me\n");
    assert_int_equal(daemon_reload_conf(&spec, &c, path, &r, err, sizeof err), HERALD_ECONF);
    char want[300];
    snprintf(want, sizeof want, "%s:5: unknown key 'who' in [server]", path);
    assert_string_equal(err, want);
    assert_int_equal(c.max_msg, 1024);
    assert_string_equal(c.greeting, "hi");
    /* a file that is gone */
    unlink(path);
    assert_int_equal(daemon_reload_conf(&spec, &c, path, &r, err, sizeof err), HERALD_ECONF);
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(c.max_msg, 1024);
    conf_free(items, &c);
}

static void test_is_reloadable(void **state)
{
    assert_true(daemon_reload_is_reloadable(&spec, &items[0]));  /* protocol.max_msg */
    assert_false(daemon_reload_is_reloadable(&spec, &items[1])); /* tcp.listen */
    assert_true(daemon_reload_is_reloadable(&spec, &items[4]));  /* log.level: always */
    const daemon_reload_spec_t none = {items, sizeof(tconf_t), NULL};
    assert_false(daemon_reload_is_reloadable(&none, &items[0]));
    assert_true(daemon_reload_is_reloadable(&none, &items[5]));
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    if (f == NULL)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* log_apply puts the file on stderr, reopens it on every call (after a rename: a new file),
 * writes JSON lines with format = json (every line valid JSON, whatever the message holds), and
 * gives the process's stderr back with file = "". */
static void test_log_file_reopen_and_json(void **state)
{
    log_init("test", LOG_INFO);
    char err[512];
    log_conf_t lc = {LOG_INFO, LOG_FORMAT_TEXT, log_path};
    assert_int_equal(log_apply(&lc, err, sizeof err), 0);
    log_info("first line");
    log_debug("not at info");
    assert_int_equal(rename(log_path, rotated), 0);
    log_info("second line, still in the renamed file");
    lc.format = LOG_FORMAT_JSON;
    lc.level = LOG_DEBUG;
    assert_int_equal(log_apply(&lc, err, sizeof err), 0);
    log_debug("quote \" backslash \\ newline \n tab \t bad utf-8 \xff\xc3 ok \xc3\xa9 end");
    lc.file = "";
    assert_int_equal(log_apply(&lc, err, sizeof err), 0);
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_TEXT);

    const char *old = slurp(rotated);
    assert_non_null(old);
    assert_non_null(strstr(old, "INFO first line\n"));
    assert_non_null(strstr(old, "INFO second line, still in the renamed file\n"));
    assert_null(strstr(old, "not at info"));

    const char *now = slurp(log_path);
    assert_non_null(now);
    assert_ptr_equal(strchr(now, '\n'), now + strlen(now) - 1); /* one line */
    json_error_t jerr;
    json_t *j = json_loads(now, 0, &jerr);
    if (j == NULL)
        fail_msg("not JSON: %s: %s", jerr.text, now);
    assert_string_equal(json_string_value(json_object_get(j, "daemon")), "test");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "debug");
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "quote \" backslash \\ newline \n tab \t bad utf-8 \xef\xbf\xbd\xef\xbf\xbd"
                        " ok \xc3\xa9 end");
    const char *ts = json_string_value(json_object_get(j, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), strlen("2026-11-23T18:00:00.123Z"));
    json_decref(j);

    /* a file that cannot be opened: an error naming it, the level still applied */
    log_conf_t bad = {LOG_WARN, LOG_FORMAT_TEXT, "/nonexistent-dir/x.log"};
    assert_int_equal(log_apply(&bad, err, sizeof err), HERALD_ECONF);
    assert_non_null(strstr(err, "[log] file /nonexistent-dir/x.log: "));
    assert_int_equal(LOG_LEVEL_NOW(), LOG_WARN);
    log_set_level(LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reloadable_keys_applied_others_kept),
        cmocka_unit_test(test_bad_file_changes_nothing),
        cmocka_unit_test(test_is_reloadable),
        cmocka_unit_test(test_log_file_reopen_and_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
