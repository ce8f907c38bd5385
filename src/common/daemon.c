/* daemon.c - command line, configuration loading and signal handling shared by every daemon. */
#include "daemon.h"
#include "cluster.h"
#include "cmdline.h"
#include "http_tls.h"
#include "log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Usage of herald-<name>, a format with the name for each %s (a macro: -Wformat-nonliteral). */
#define DAEMON_USAGE_FMT                                                                           \
    "usage: herald-%s [-c FILE] [-t] [-V] [-h]\n"                                                  \
    "  -c, --config FILE  configuration file (default conf/%s.ini if it exists)\n"                 \
    "  -t, --test         check the configuration and exit (0: ok, 1: the error)\n"                \
    "  -V, --version      print the version and exit\n"                                            \
    "  -h, --help         show this help\n"                                                        \
    "Every key can be overridden by HERALD_<SECTION>_<KEY> in the environment.\n"

void daemon_setup(int argc, char **argv, const daemon_spec_t *spec)
{
    const char *name = spec->name;
    const conf_item_t *items = spec->conf_items;
    void *conf = spec->conf;
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"test", no_argument, NULL, 't'},
                                             {"version", no_argument, NULL, 'V'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    const char *path = NULL;
    int check = 0, opt;
    char prog[64], usage[sizeof(DAEMON_USAGE_FMT) + 64], def_path[256], err[1024];

    snprintf(prog, sizeof(prog), "herald-%s", name);
    snprintf(usage, sizeof(usage), DAEMON_USAGE_FMT, name, name);
    log_init(name, LOG_INFO);
    while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            check = 1;
            break;
        case 'V':
            cmdline_print_version(prog);
            exit(CMDLINE_EXIT_OK);
        case 'h':
            exit(cmdline_help(usage));
        default: /* getopt_long has named the option */
            exit(cmdline_bad_usage(prog, NULL, usage));
        }
    }
    if (optind < argc) {
        char why[320];
        snprintf(why, sizeof(why), "unexpected argument '%.256s'", argv[optind]);
        exit(cmdline_bad_usage(prog, why, usage));
    }
    if (path == NULL) {
        /* A missing default file is not an error: containers configure through the
         * environment alone. */
        snprintf(def_path, sizeof(def_path), "conf/%s.ini", name);
        if (access(def_path, F_OK) == 0)
            path = def_path;
    }

    int rc = conf_load(items, conf, path, err, sizeof(err));
    if (rc == 0)
        rc = cluster_apply((const cluster_conf_t *)((const char *)conf + spec->cluster_offset), err,
                           sizeof(err));
    if (rc == 0 && spec->http_tls_section != NULL) {
        http_tls_t pem;
        rc = http_tls_load((const http_tls_conf_t *)((const char *)conf + spec->http_tls_offset),
                           spec->http_tls_section, &pem, err, sizeof(err));
        http_tls_deinit(&pem);
    }
    if (check) {
        if (rc == 0)
            printf("%s: ok\n", path ? path : "defaults and environment");
        else
            fprintf(stderr, "%s\n", err);
        conf_free(items, conf);
        exit(rc == 0 ? 0 : 1);
    }
    if (rc != 0) {
        log_error("configuration: %s", err);
        conf_free(items, conf);
        exit(1);
    }
    log_info("%s %s, configuration: %s", prog, cmdline_version(),
             path ? path : "defaults and environment");
}

/* Process-wide: a process has one set of signal dispositions. */
static struct {
    uv_signal_t handles[2];
    void (*stop_cb)(void *arg);
    void *arg;
    int started;
    int stopping;
} daemon_sig;

static void on_signal(uv_signal_t *h, int signum)
{
    if (daemon_sig.stopping) {
        log_warn("signal %s again: exiting now", strsignal(signum));
        exit(1);
    }
    daemon_sig.stopping = 1;
    log_info("signal %s: stopping", strsignal(signum));
    daemon_sig.stop_cb(daemon_sig.arg);
}

void daemon_signals_start(uv_loop_t *loop, void (*stop_cb)(void *arg), void *arg)
{
    static const int signums[2] = {SIGINT, SIGTERM};

    /* A peer that closes while we write must cost an EPIPE on that socket, not the process. */
    signal(SIGPIPE, SIG_IGN);
    daemon_sig.stop_cb = stop_cb;
    daemon_sig.arg = arg;
    daemon_sig.stopping = 0;
    for (int i = 0; i < 2; i++) {
        uv_signal_t *h = &daemon_sig.handles[i];
        int rc = uv_signal_init(loop, h);
        if (rc == 0)
            rc = uv_signal_start(h, on_signal, signums[i]);
        if (rc != 0) {
            log_error("cannot watch signal %s: %s", strsignal(signums[i]), uv_strerror(rc));
            exit(1);
        }
        /* The watchers must not keep the loop alive once everything else has closed. */
        uv_unref((uv_handle_t *)h);
    }
    daemon_sig.started = 1;
}

void daemon_signals_close(void)
{
    if (!daemon_sig.started)
        return;
    daemon_sig.started = 0;
    for (int i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&daemon_sig.handles[i], NULL);
}

int daemon_run(int argc, char **argv, const daemon_spec_t *spec)
{
    daemon_setup(argc, argv, spec);
    log_init(spec->name, *(const int *)((const char *)spec->conf + spec->log_level_offset));
    uv_loop_t *loop = uv_default_loop();
    void *server = NULL;
    int rc = spec->start(loop, spec->conf, &server);
    if (rc == 0)
        daemon_signals_start(loop, spec->stop, server);
    /* The signal watchers do not keep the loop alive: it ends once the server has closed every
     * handle (or at once after a failed start, when what it opened has finished closing), and
     * until then a second signal still exits at once. */
    uv_run(loop, UV_RUN_DEFAULT);
    daemon_signals_close();
    uv_run(loop, UV_RUN_DEFAULT);
    if (rc == 0 && spec->free != NULL)
        spec->free(server);
    if (uv_loop_close(loop) != 0)
        log_warn("loop closed with handles left");
    conf_free(spec->conf_items, spec->conf);
    if (rc != 0)
        return 1;
    log_info("stopped");
    return 0;
}

uint64_t daemon_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

int64_t daemon_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
