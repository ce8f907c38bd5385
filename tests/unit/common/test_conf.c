/* Unit tests of conf.c: table-driven INI loading, environment overrides, list and address
 * helpers. Each test writes its own INI file under a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "herald_err.h"

typedef struct tconf_s {
    int64_t workers;
    bool reuse;
    char *id;
    char *bearer;
    int64_t timeout_ms;
    int64_t max_body;
    int mode;
    int64_t neg;
} tconf_t;

static const conf_item_t items[] = {
    {"server", "workers", CONF_INT, offsetof(tconf_t, workers), "4", 0, 64, NULL},
    {"server", "reuse-port", CONF_BOOL, offsetof(tconf_t, reuse), "yes", 0, 0, NULL},
    {"server", "id", CONF_STR, offsetof(tconf_t, id), "comet-1", 0, 0, NULL},
    {"auth", "bearer_key", CONF_STR, offsetof(tconf_t, bearer), NULL, 0, 0, NULL},
    {"protocol", "auth.timeout", CONF_MS, offsetof(tconf_t, timeout_ms), "5s", 1, 3600000, NULL},
    {"protocol", "max_body", CONF_SIZE, offsetof(tconf_t, max_body), "4k", 16, 1 << 20, NULL},
    {"auth", "mode", CONF_ENUM, offsetof(tconf_t, mode), "token", 0, 0, "token|insecure-mid"},
    {"server", "neg", CONF_INT, offsetof(tconf_t, neg), "-3", -10, 10, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};

static char tmpdir[] = "/tmp/herald-test-conf-XXXXXX";
static char path[256];

static int setup(void **state)
{
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/t.ini", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    return rmdir(tmpdir);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads text; returns conf_load's result with the error in err. */
static int load_text(const char *text, tconf_t *c, char *err, size_t errlen)
{
    write_file(text);
    memset(c, 0xab, sizeof(*c)); /* string fields must not be taken as initialised */
    err[0] = '\0';
    return conf_load(items, c, path, err, errlen);
}

/* Expects text to fail at `line` with a message containing `needle`. */
static void expect_file_error(const char *text, int line, const char *needle)
{
    tconf_t c;
    char err[512], where[300];
    assert_int_equal(load_text(text, &c, err, sizeof(err)), HERALD_ECONF);
    snprintf(where, sizeof(where), "%s:%d: ", path, line);
    if (strncmp(err, where, strlen(where)) != 0 || strstr(err, needle) == NULL)
        fail_msg("got \"%s\", want \"%s...%s\"", err, where, needle);
    conf_free(items, &c);
}

static void test_defaults(void **state)
{
    tconf_t c;
    char err[256] = "";
    memset(&c, 0xab, sizeof(c));
    assert_int_equal(conf_load(items, &c, NULL, err, sizeof(err)), 0);
    assert_int_equal(c.workers, 4);
    assert_true(c.reuse);
    assert_string_equal(c.id, "comet-1");
    assert_null(c.bearer);
    assert_int_equal(c.timeout_ms, 5000);
    assert_int_equal(c.max_body, 4096);
    assert_int_equal(c.mode, 0);
    assert_int_equal(c.neg, -3);
    conf_free(items, &c);
    assert_null(c.id);
}

static void test_each_type(void **state)
{
    tconf_t c;
    char err[512];
    int rc = load_text("; comment\n"
                       "# another\n"
                       "[server]\n"
                       "workers = 64\n"
                       "  reuse-port = off   ; indented, inline comment\n"
                       "ID = comet-7\n"
                       "id = comet-9\n"
                       "\n"
                       "[protocol]\n"
                       "auth.timeout = 2m\n"
                       "max_body = 1M\n"
                       "[AUTH]\n"
                       "mode = Insecure-Mid\n"
                       "bearer_key = s3cret\n",
                       &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(c.workers, 64);
    assert_false(c.reuse);
    assert_string_equal(c.id, "comet-9"); /* the last one wins, the first is freed */
    assert_string_equal(c.bearer, "s3cret");
    assert_int_equal(c.timeout_ms, 120000);
    assert_int_equal(c.max_body, 1 << 20);
    assert_int_equal(c.mode, 1);
    conf_free(items, &c);
    assert_null(c.id);
    assert_null(c.bearer);
}

static void test_units(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } ms[] = {{"250", 250}, {"250ms", 250}, {"3 s", 3000}, {"1h", 3600000}, {"1H", 3600000}};
    static const struct {
        const char *text;
        int64_t bytes;
    } sizes[] = {{"100", 100}, {"2k", 2048}, {"2KB", 2048}, {"1m", 1 << 20}};
    char text[128], err[512];
    tconf_t c;
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        snprintf(text, sizeof(text), "[protocol]\nauth.timeout = %s\n", ms[i].text);
        assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
        assert_int_equal(c.timeout_ms, ms[i].ms);
        conf_free(items, &c);
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snprintf(text, sizeof(text), "[protocol]\nmax_body = %s\n", sizes[i].text);
        assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
        assert_int_equal(c.max_body, sizes[i].bytes);
        conf_free(items, &c);
    }
}

static void test_bool_words(void **state)
{
    const char *yes[] = {"true", "YES", "on", "1"}, *no[] = {"false", "No", "OFF", "0"};
    char text[128], err[512];
    tconf_t c;
    for (size_t i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), "[server]\nreuse-port=%s\n", yes[i]);
        assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
        assert_true(c.reuse);
        conf_free(items, &c);
        snprintf(text, sizeof(text), "[server]\nreuse-port=%s\n", no[i]);
        assert_int_equal(load_text(text, &c, err, sizeof(err)), 0);
        assert_false(c.reuse);
        conf_free(items, &c);
    }
}

static void test_errors(void **state)
{
    expect_file_error("[server]\nworkers = 2\n\nbogus = 1\n", 4, "unknown key 'bogus' in [server]");
    expect_file_error("[server]\nid = x\n[nope]\nkey = 1\n", 4, "unknown section [nope]");
    expect_file_error("workers = 1\n", 1, "outside any [section]");
    expect_file_error("[server]\nworkers = two\n", 2, "'two' is not an integer");
    expect_file_error("[server]\nworkers = 3x\n", 2, "is not an integer");
    expect_file_error("[server]\nworkers = 65\n", 2, "out of range [0, 64]");
    expect_file_error("[server]\nworkers = -1\n", 2, "out of range");
    expect_file_error("[server]\nworkers = 99999999999999999999\n", 2, "out of range");
    expect_file_error("[server]\nneg = -11\n", 2, "out of range [-10, 10]");
    expect_file_error("[server]\nreuse-port = maybe\n", 2, "is not a boolean");
    expect_file_error("[protocol]\nauth.timeout = 5 days\n", 2, "is not a duration");
    expect_file_error("[protocol]\nauth.timeout = 0\n", 2, "out of range [1, 3600000] ms");
    expect_file_error("[protocol]\nauth.timeout = 9999999999999999h\n", 2, "out of range");
    expect_file_error("[protocol]\nmax_body = 2t\n", 2, "is not a size");
    expect_file_error("[protocol]\nmax_body = 2g\n", 2, "out of range");
    expect_file_error("[auth]\nmode = open\n", 2, "'open' is not one of token|insecure-mid");
    expect_file_error("[server]\nworkers\n", 2, "syntax error");
    expect_file_error("[server\nworkers=1\n", 1, "syntax error");
    /* The first error is reported, also when a syntax error comes before a bad value. */
    expect_file_error("[server]\nbad line\nworkers = x\n", 2, "syntax error");
    expect_file_error("[server]\nworkers = x\nbad line\n", 2, "not an integer");

    char long_line[600];
    memset(long_line, 'a', sizeof(long_line));
    memcpy(long_line, "[server]\nid = ", 14);
    memcpy(long_line + sizeof(long_line) - 2, "\n", 2);
    expect_file_error(long_line, 2, "line longer than");
}

static void test_missing_file(void **state)
{
    tconf_t c;
    char err[512];
    assert_int_equal(conf_load(items, &c, "/nonexistent/herald.ini", err, sizeof(err)),
                     HERALD_ECONF);
    assert_non_null(strstr(err, "/nonexistent/herald.ini: cannot open"));
    conf_free(items, &c);
}

static void test_env_override(void **state)
{
    tconf_t c;
    char err[512];
    setenv("HERALD_SERVER_WORKERS", "8", 1);
    setenv("HERALD_SERVER_REUSE_PORT", "false", 1);
    setenv("HERALD_PROTOCOL_AUTH_TIMEOUT", "750", 1);
    setenv("HERALD_AUTH_BEARER_KEY", "from-env", 1);
    int rc =
        load_text("[server]\nworkers = 2\n[auth]\nbearer_key = from-file\n", &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(c.workers, 8);
    assert_false(c.reuse);
    assert_int_equal(c.timeout_ms, 750);
    assert_string_equal(c.bearer, "from-env");
    conf_free(items, &c);

    /* Also with no file at all. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(conf_load(items, &c, NULL, err, sizeof(err)), 0);
    assert_int_equal(c.workers, 8);
    conf_free(items, &c);

    setenv("HERALD_SERVER_WORKERS", "many", 1);
    assert_int_equal(load_text("[server]\nworkers = 2\n", &c, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "HERALD_SERVER_WORKERS: "));
    assert_non_null(strstr(err, "'many' is not an integer"));
    conf_free(items, &c);
    unsetenv("HERALD_SERVER_WORKERS");
    unsetenv("HERALD_SERVER_REUSE_PORT");
    unsetenv("HERALD_PROTOCOL_AUTH_TIMEOUT");
    unsetenv("HERALD_AUTH_BEARER_KEY");
}

static void test_bad_default(void **state)
{
    static const conf_item_t bad[] = {
        {"x", "n", CONF_INT, offsetof(tconf_t, workers), "100", 0, 10, NULL},
        {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
    };
    tconf_t c;
    char err[256];
    assert_int_equal(conf_load(bad, &c, NULL, err, sizeof(err)), HERALD_ECONF);
    assert_non_null(strstr(err, "default of [x] n"));
}

static void test_list_split(void **state)
{
    size_t n;
    char **l = conf_list_split(" a:1, b:2 ,,c:3 ,", &n);
    assert_int_equal(n, 3);
    assert_string_equal(l[0], "a:1");
    assert_string_equal(l[1], "b:2");
    assert_string_equal(l[2], "c:3");
    assert_null(l[3]);
    conf_list_free(l);
    l = conf_list_split("", &n);
    assert_int_equal(n, 0);
    assert_null(l[0]);
    conf_list_free(l);
    l = conf_list_split(NULL, &n);
    assert_int_equal(n, 0);
    conf_list_free(l);
    l = conf_list_split("solo", &n);
    assert_int_equal(n, 1);
    assert_string_equal(l[0], "solo");
    conf_list_free(l);
    conf_list_free(NULL);
}

/* ------------------------------------------------------------------ CONF_PROPS */

typedef struct pconf_s {
    char *brokers;
    conf_props_t props;
} pconf_t;

static const conf_item_t prop_items[] = {
    {"kafka", "brokers", CONF_STR, offsetof(pconf_t, brokers), "b:9092", 0, 0, NULL},
    {"kafka", "property.", CONF_PROPS, offsetof(pconf_t, props), NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};

static int load_props(const char *text, pconf_t *c, char *err, size_t errlen)
{
    write_file(text);
    memset(c, 0xab, sizeof(*c));
    err[0] = '\0';
    return conf_load(prop_items, c, path, err, errlen);
}

static const char *prop(const pconf_t *c, const char *name)
{
    for (size_t i = 0; i < c->props.n; i++)
        if (strcmp(c->props.v[i].name, name) == 0)
            return c->props.v[i].value;
    return NULL;
}

/* A family of keys: every property.<name> line, in file order, with where it was set; the
 * environment adds and replaces; errors name file and line and never hold a value. */
static void test_props(void **state)
{
    (void)state;
    pconf_t c;
    char err[512], where[300];
    int rc = load_props("[kafka]\nbrokers = x:1\nproperty.security.protocol = SASL_SSL\n"
                        "property.sasl.password = pw-secret-1\nproperty.log_level = 7\n",
                        &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(c.brokers, "x:1");
    assert_int_equal(c.props.n, 3);
    assert_string_equal(c.props.v[0].name, "security.protocol");
    assert_string_equal(c.props.v[0].value, "SASL_SSL");
    snprintf(where, sizeof(where), "%s:3", path);
    assert_string_equal(c.props.v[0].origin, where);
    assert_string_equal(prop(&c, "sasl.password"), "pw-secret-1");
    assert_string_equal(prop(&c, "log_level"), "7");
    conf_free(prop_items, &c);
    assert_null(c.props.v);

    /* none: an empty family */
    assert_int_equal(load_props("[kafka]\n", &c, err, sizeof(err)), 0);
    assert_int_equal(c.props.n, 0);
    conf_free(prop_items, &c);

    /* twice in the file: the second line is the error, without either value */
    assert_int_equal(load_props("[kafka]\nproperty.sasl.password = pw-a\n"
                                "property.sasl.password = pw-b\n",
                                &c, err, sizeof(err)),
                     HERALD_ECONF);
    snprintf(where, sizeof(where), "%s:3: ", path);
    if (strncmp(err, where, strlen(where)) != 0 || strstr(err, "set twice") == NULL)
        fail_msg("%s", err);
    assert_null(strstr(err, "pw-a"));
    assert_null(strstr(err, "pw-b"));
    conf_free(prop_items, &c);

    /* a bad name */
    assert_int_equal(load_props("[kafka]\nproperty.bad name = v\n", &c, err, sizeof(err)),
                     HERALD_ECONF);
    assert_non_null(strstr(err, ":2: "));
    assert_non_null(strstr(err, "bad name"));
    conf_free(prop_items, &c);
    assert_int_equal(load_props("[kafka]\nproperty. = v\n", &c, err, sizeof(err)), HERALD_ECONF);
    conf_free(prop_items, &c);

    /* the environment: '_' read as '.', names lower-cased; it replaces and adds */
    setenv("HERALD_KAFKA_PROPERTY_SASL_PASSWORD", "pw-from-env", 1);
    setenv("HERALD_KAFKA_PROPERTY_SASL_MECHANISM", "PLAIN", 1);
    rc = load_props("[kafka]\nproperty.sasl.password = pw-file\n", &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(c.props.n, 2);
    assert_string_equal(prop(&c, "sasl.password"), "pw-from-env");
    assert_string_equal(prop(&c, "sasl.mechanism"), "PLAIN");
    conf_free(prop_items, &c);
    unsetenv("HERALD_KAFKA_PROPERTY_SASL_PASSWORD");
    unsetenv("HERALD_KAFKA_PROPERTY_SASL_MECHANISM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_each_type),
        cmocka_unit_test(test_units),        cmocka_unit_test(test_bool_words),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_env_override), cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_list_split),   cmocka_unit_test(test_props),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
