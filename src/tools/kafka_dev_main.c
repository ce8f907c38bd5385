/* kafka_dev_main.c - herald-kafka-dev: a Kafka-protocol cluster for one machine, built on
 * librdkafka's mock cluster (docs/internals.md, "Processes").
 *
 *   herald-kafka-dev [-b BROKERS] [-p PARTITIONS] [-r REPLICATION] [-t TOPIC[,TOPIC...]] [-V] [-h]
 *
 * Prints one line "bootstrap=host:port,..." on stdout, then serves until SIGINT or SIGTERM.
 * SIGUSR1 takes every broker down, SIGUSR2 brings them back (failure tests). SIGHUP changes
 * nothing (it has no configuration file and logs to stderr) and does not stop it, as in the
 * daemons (docs/operations.md, "Signals"). When stdin is a pipe, a FIFO or a terminal, it reads
 * one command a line there: "down ID" takes broker ID down and moves the leadership of every
 * partition it led to a live broker (what a real cluster's controller does), "up ID" brings it
 * back (kafka_dev_control.c). The brokers live in librdkafka's own threads; the loop here only
 * waits for signals and commands.
 */
#include "cmdline.h"
#include "kafka_dev_control.h"
#include "log.h"

#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static const int kafka_dev_signums[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP};
#define KAFKA_DEV_NSIGNALS (sizeof(kafka_dev_signums) / sizeof(kafka_dev_signums[0]))

typedef struct kafka_dev_s {
    rd_kafka_mock_cluster_t *cluster;
    kafka_dev_control_t control;
    uv_signal_t signals[KAFKA_DEV_NSIGNALS];
} kafka_dev_t;

/* The limits above as strings, for the usage text. */
#define KAFKA_DEV_STR(x) #x
#define KAFKA_DEV_XSTR(x) KAFKA_DEV_STR(x)
#define KAFKA_DEV_MAX_BROKERS_S KAFKA_DEV_XSTR(KAFKA_DEV_MAX_BROKERS)
#define KAFKA_DEV_MAX_PARTITIONS_S KAFKA_DEV_XSTR(KAFKA_DEV_MAX_PARTITIONS)

static const char kafka_dev_usage[] =
    "usage: herald-kafka-dev [-b BROKERS] [-p PARTITIONS] [-r REPLICATION] [-t TOPIC[,TOPIC...]]\n"
    "                        [-V] [-h]\n"
    "  -b, --brokers BROKERS        mock brokers (default 1, at most " KAFKA_DEV_MAX_BROKERS_S ")\n"
    "  -p, --partitions PARTITIONS  partitions per topic (default 4, at "
    "most " KAFKA_DEV_MAX_PARTITIONS_S ")\n"
    "  -r, --replication N          replicas of each partition (default 1, at most BROKERS)\n"
    "  -t, --topics TOPICS          comma-separated topics (default herald-push,herald-events)\n"
    "  -V, --version                print the version and exit\n"
    "  -h, --help                   show this help\n"
    "Prints \"bootstrap=host:port,...\" on stdout, then serves until SIGINT or SIGTERM.\n"
    "SIGUSR1/SIGUSR2 take every broker down/up. When stdin is a pipe or a terminal, the lines\n"
    "\"down ID\" / \"up ID\" take broker ID (1..BROKERS) down (moving its partitions' leaders to "
    "a\n"
    "live broker) / up.\n";

static int kafka_dev_parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* librdkafka logs from its own threads; log_write is thread-safe. */
static void kafka_dev_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level <= 4)
        log_warn("rdkafka %s: %s", fac, buf);
    else
        log_debug("rdkafka %s: %s", fac, buf);
}

static void kafka_dev_on_closed(uv_handle_t *handle) {}

static void kafka_dev_on_signal(uv_signal_t *handle, int signum)
{
    kafka_dev_t *dev = handle->data;
    rd_kafka_resp_err_t err;

    if (signum == SIGUSR1 || signum == SIGUSR2) {
        err = signum == SIGUSR1 ? rd_kafka_mock_broker_set_down(dev->cluster, -1)
                                : rd_kafka_mock_broker_set_up(dev->cluster, -1);
        if (err)
            log_error("brokers %s: %s", signum == SIGUSR1 ? "down" : "up", rd_kafka_err2str(err));
        else
            log_info("brokers %s", signum == SIGUSR1 ? "down" : "up");
        return;
    }
    if (signum == SIGHUP) {
        log_info("signal SIGHUP: nothing to reload");
        return;
    }
    log_info("signal %d: stopping", signum);
    for (size_t i = 0; i < KAFKA_DEV_NSIGNALS; i++)
        uv_close((uv_handle_t *)&dev->signals[i], kafka_dev_on_closed);
    kafka_dev_control_close(&dev->control);
}

int main(int argc, char **argv)
{
    static const struct option kafka_dev_longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"replication", required_argument, NULL, 'r'},
        {"topics", required_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0}};
    static const char prog[] = "herald-kafka-dev";
    const char *topics = "herald-push,herald-events";
    int brokers = 1, partitions = 4, replication = 1, opt;
    const char *level_env = getenv("HERALD_LOG_LEVEL");
    log_level_t level = LOG_INFO;
    char err[256];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    kafka_dev_t dev;
    uv_loop_t loop;

    while ((opt = getopt_long(argc, argv, "b:p:r:t:Vh", kafka_dev_longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (kafka_dev_parse_int(optarg, 1, KAFKA_DEV_MAX_BROKERS, &brokers) < 0)
                return cmdline_bad_usage(prog, "-b, --brokers: not 1.." KAFKA_DEV_MAX_BROKERS_S,
                                         kafka_dev_usage);
            break;
        case 'p':
            if (kafka_dev_parse_int(optarg, 1, KAFKA_DEV_MAX_PARTITIONS, &partitions) < 0)
                return cmdline_bad_usage(
                    prog, "-p, --partitions: not 1.." KAFKA_DEV_MAX_PARTITIONS_S, kafka_dev_usage);
            break;
        case 'r':
            if (kafka_dev_parse_int(optarg, 1, KAFKA_DEV_MAX_BROKERS, &replication) < 0)
                return cmdline_bad_usage(prog, "-r, --replication: not 1.." KAFKA_DEV_MAX_BROKERS_S,
                                         kafka_dev_usage);
            break;
        case 't':
            topics = optarg;
            break;
        case 'V':
            cmdline_print_version(prog);
            return CMDLINE_EXIT_OK;
        case 'h':
            return cmdline_help(kafka_dev_usage);
        default: /* getopt_long has named the option */
            return cmdline_bad_usage(prog, NULL, kafka_dev_usage);
        }
    }
    if (optind != argc)
        return cmdline_bad_usage(prog, "unexpected argument", kafka_dev_usage);
    if (replication > brokers)
        return cmdline_bad_usage(prog, "-r, --replication: more than the brokers", kafka_dev_usage);
    if (level_env && log_level_parse(level_env, &level) != 0) {
        fprintf(stderr, "HERALD_LOG_LEVEL: unknown level %s\n", level_env);
        return 2;
    }
    log_init("kafka-dev", level);

    /* The mock cluster hangs off a client handle with no brokers of its own. */
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_dev_on_log);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        log_error("rd_kafka_new: %s", err);
        return 1;
    }
    dev.cluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (!dev.cluster) {
        log_error("cannot create the mock cluster");
        rd_kafka_destroy(rk);
        return 1;
    }
    if (kafka_dev_control_create(&dev.control, dev.cluster, brokers, topics, partitions,
                                 replication) < 0) {
        kafka_dev_control_close(&dev.control);
        rd_kafka_mock_cluster_destroy(dev.cluster);
        rd_kafka_destroy(rk);
        return 1;
    }

    uv_loop_init(&loop);
    for (size_t i = 0; i < KAFKA_DEV_NSIGNALS; i++) {
        uv_signal_init(&loop, &dev.signals[i]);
        dev.signals[i].data = &dev;
        uv_signal_start(&dev.signals[i], kafka_dev_on_signal, kafka_dev_signums[i]);
    }
    kafka_dev_control_read_stdin(&dev.control, &loop);

    printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(dev.cluster));
    fflush(stdout);
    log_info("ready: %d broker(s), topics %s with %d partition(s) of %d replica(s) each", brokers,
             topics, partitions, replication);

    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    rd_kafka_mock_cluster_destroy(dev.cluster);
    rd_kafka_destroy(rk);
    return 0;
}
