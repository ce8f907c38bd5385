/* test_metrics.c - every daemon's Prometheus exposition and readiness, on a real cluster
 * (docs/operations.md, "Metrics and health").
 *
 * - GET /metrics?format=prometheus on comet, router and job's admin ports and on logic's API
 *   port is checked by Prometheus's own parser and linter, `promtool check metrics` (Debian's
 *   prometheus package, installed by scripts/install-deps.sh); an Accept: text/plain scrape
 *   gets the same format, a plain one keeps the JSON.
 * - A push to a connected user moves the comet's push latency histogram, logic's HTTP route and
 *   Kafka produce histograms and the RPC client histograms of job (PushKeys) and comet
 *   (Connect); job reports a consumer lag per partition.
 * - /ready of logic and job answers 503 naming "redis" while redis-server is stopped, 200 again
 *   once it is back; /health stays 200 meanwhile, and comet and router stay ready.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "http_client.h"
#include "test_support.h"

#define OP_BIZ 1000
#define WAIT_MS 15000

static cluster_t *g_c;

static int group_setup(void **state)
{
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1, .comet_workers = 2};
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

/* GET path on 127.0.0.1:port with an optional header line; returns the status and the body
 * (heap, caller frees) in *body. */
static int get(int port, const char *path, const char *header, char **body)
{
    char url[512];
    assert_int_equal(http_client_url(url, sizeof url, "http", "127.0.0.1", port, path), 0);
    const char *headers[] = {header, NULL};
    http_client_req_t req = {
        .method = "GET", .url = url, .headers = header ? headers : NULL, .timeout_ms = 5000};
    http_client_resp_t resp;
    if (http_client_request(NULL, &req, &resp) != 0)
        fail_msg("GET %s on %d: %s", path, port, resp.error);
    *body = resp.body;
    return resp.status;
}

/* Polls cond every 50 ms for up to ms; returns 1 once it holds, 0 when time ran out. */
static int wait_for(int (*cond)(void *), void *arg, int ms)
{
    for (int waited = 0;; waited += 50) {
        if (cond(arg))
            return 1;
        if (waited >= ms)
            return 0;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static char *scrape(int port)
{
    char *body;
    assert_int_equal(get(port, "/metrics?format=prometheus", NULL, &body), 200);
    return body;
}

/* Runs `promtool check metrics` on text; fails the test with promtool's words unless it exits
 * 0 with nothing to say. */
static void promtool_check(const char *who, const char *text)
{
    char in[512], out[512], cmd[1400];
    snprintf(in, sizeof in, "%s/metrics-%s.txt", cluster_dir(g_c), who);
    snprintf(out, sizeof out, "%s/promtool-%s.txt", cluster_dir(g_c), who);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s' 2>&1", in, out);
    int rc = system(cmd);
    char said[4096] = "";
    f = fopen(out, "r");
    if (f != NULL) {
        size_t n = fread(said, 1, sizeof said - 1, f);
        said[n] = '\0';
        fclose(f);
    }
    if (rc != 0 || said[0] != '\0')
        fail_msg("%s: promtool check metrics (status %d; is Debian's prometheus package "
                 "installed? scripts/install-deps.sh): %s",
                 who, rc, said);
}

static void test_every_daemon_passes_promtool(void **state)
{
    const struct {
        const char *who;
        int port;
        const char *family; /* one metric it must have */
    } daemons[] = {
        {"comet", cluster_comet_admin_port(g_c, 0), "# TYPE herald_comet_push_latency_seconds"},
        {"router", cluster_router_admin_port(g_c, 0), "# TYPE herald_router_puts_total counter"},
        {"job", cluster_job_admin_port(g_c), "# TYPE herald_job_kafka_consumer_lag_messages"},
        {"logic", cluster_logic_http_port(g_c),
         "# TYPE herald_logic_http_request_duration_seconds"},
    };
    for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++) {
        char *text = scrape(daemons[i].port);
        if (strstr(text, daemons[i].family) == NULL)
            fail_msg("%s: no \"%s\" in:\n%s", daemons[i].who, daemons[i].family, text);
        promtool_check(daemons[i].who, text);
        free(text);

        /* What Prometheus sends gets the same; curl's default keeps the JSON. */
        char *body;
        assert_int_equal(get(daemons[i].port, "/metrics",
                             "Accept: application/openmetrics-text;version=1.0.0;q=0.5,"
                             "text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
                             &body),
                         200);
        assert_non_null(strstr(body, daemons[i].family));
        free(body);
        assert_int_equal(get(daemons[i].port, "/metrics", "Accept: */*", &body), 200);
        assert_true(strncmp(body, "{\"code\":0", 9) == 0);
        free(body);
    }
}

static int comet_push_count(void *arg)
{
    const double *before = arg;
    char *text = scrape(cluster_comet_admin_port(g_c, 0));
    double now = test_prom_sample(text, "herald_comet_push_latency_seconds_count");
    free(text);
    return now > *before;
}

static int job_reports_lag(void *arg)
{
    (void)arg;
    char *text = scrape(cluster_job_admin_port(g_c));
    int found = strstr(text, "herald_job_kafka_consumer_lag_messages{partition=\"") != NULL;
    free(text);
    return found;
}

/* A push to a connected user: the comet's push latency histogram counts it, and logic's route
 * and Kafka histograms moved; job reports the lag of its partitions. */
static void test_push_moves_latency(void **state)
{
    char *text = scrape(cluster_comet_admin_port(g_c, 0));
    double before = test_prom_sample(text, "herald_comet_push_latency_seconds_count");
    free(text);
    assert_true(before >= 0);

    int64_t mid = 7001;
    client_t *cl = cluster_user(g_c, 0, CLIENT_TCP, mid, NULL, OP_BIZ, NULL);
    cluster_push_mids(g_c, OP_BIZ, &mid, 1, "measured");
    cluster_expect_packet(cl, "user", OP_BIZ, CLUSTER_ANY_SEQ, "measured", WAIT_MS);
    /* The count moves right after the write the client just read. */
    assert_true(wait_for(comet_push_count, &before, WAIT_MS));

    text = scrape(cluster_comet_admin_port(g_c, 0));
    double count = test_prom_sample(text, "herald_comet_push_latency_seconds_count");
    double inf = test_prom_sample(text, "herald_comet_push_latency_seconds_bucket{le=\"+Inf\"}");
    assert_true(count == inf);
    assert_true(test_prom_sample(text, "herald_comet_connections{transport=\"tcp\"}") >= 1);
    free(text);

    text = scrape(cluster_logic_http_port(g_c));
    assert_true(test_prom_sample(text,
                                 "herald_logic_http_request_duration_seconds_count{method=\"POST\","
                                 "route=\"/goim/push/mids\"}") >= 1);
    assert_true(test_prom_sample(text, "herald_logic_kafka_produce_duration_seconds_count") >= 1);
    assert_true(test_prom_sample(text, "herald_logic_pushes_accepted_total") >= 1);
    free(text);

    /* The same calls as their callers see them. */
    text = scrape(cluster_job_admin_port(g_c));
    assert_true(
        test_prom_sample(text,
                         "herald_job_rpc_client_duration_seconds_count{method=\"PushKeys\"}") >= 1);
    free(text);
    text = scrape(cluster_comet_admin_port(g_c, 0));
    assert_true(test_prom_sample(
                    text, "herald_comet_rpc_client_duration_seconds_count{method=\"Connect\"}") >=
                1);
    free(text);
    assert_true(wait_for(job_reports_lag, NULL, WAIT_MS));
    client_free(cl);
}

typedef struct ready_s {
    int port;
    int want; /* status */
} ready_t;

static int ready_is(void *arg)
{
    const ready_t *r = arg;
    char *body;
    int status = get(r->port, "/ready", NULL, &body);
    free(body);
    return status == r->want;
}

/* /ready of the daemons that need Redis follows it; the others stay ready. */
static void test_ready_follows_redis(void **state)
{
    ready_t logic = {cluster_logic_http_port(g_c), 200}, job = {cluster_job_admin_port(g_c), 200};
    ready_t comet = {cluster_comet_admin_port(g_c, 0), 200};
    ready_t router = {cluster_router_admin_port(g_c, 0), 200};
    assert_true(wait_for(ready_is, &logic, WAIT_MS));
    assert_true(wait_for(ready_is, &job, WAIT_MS));

    assert_int_equal(cluster_kill(g_c, CLUSTER_REDIS, 0, SIGTERM), 0);
    char status[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_REDIS, 0, WAIT_MS, status, sizeof status));
    logic.want = job.want = 503;
    assert_true(wait_for(ready_is, &logic, WAIT_MS));
    assert_true(wait_for(ready_is, &job, WAIT_MS));
    char *body;
    assert_int_equal(get(logic.port, "/ready", NULL, &body), 503);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *missing = json_object_get(json_object_get(j, "data"), "missing");
    assert_string_equal(json_string_value(json_array_get(missing, 0)), "redis");
    json_decref(j);
    assert_int_equal(get(job.port, "/ready", NULL, &body), 503);
    assert_non_null(strstr(body, "\"missing\":[\"redis\""));
    free(body);
    /* Liveness is not readiness: the process still serves. */
    assert_int_equal(get(logic.port, "/health", NULL, &body), 200);
    free(body);
    assert_true(ready_is(&comet));
    assert_true(ready_is(&router));

    assert_int_equal(cluster_restart(g_c, CLUSTER_REDIS, 0, false), 0);
    logic.want = job.want = 200;
    assert_true(wait_for(ready_is, &logic, WAIT_MS));
    assert_true(wait_for(ready_is, &job, WAIT_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_daemon_passes_promtool),
        cmocka_unit_test(test_push_moves_latency),
        cmocka_unit_test(test_ready_follows_redis),
    };
    int failed = cmocka_run_group_tests_name("metrics", tests, group_setup, NULL);
    if (cluster_stop(g_c, failed != 0) != 0)
        failed++;
    return failed ? 1 : 0;
}
