/* daemon.c - command line, configuration loading and signal handling shared by every daemon. */
#include "daemon.h"
#include "buf.h"
#include "cluster.h"
#include "cmdline.h"
#include "daemon_reload.h"
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

/* The configuration file the daemon loaded (NULL: defaults and environment), read again on
 * SIGHUP. Process-wide, like the signals. */
static char *daemon_conf_path;

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
    free(daemon_conf_path);
    daemon_conf_path = path != NULL ? xstrdup(path) : NULL;
    log_info("%s %s, configuration: %s", prog, cmdline_version(),
             path ? path : "defaults and environment");
}

#define DAEMON_NSIGNALS 3

/* Process-wide: a process has one set of signal dispositions. */
static struct {
    uv_signal_t handles[DAEMON_NSIGNALS];
    const daemon_spec_t *spec;
    void *server;
    int started;
    int stopping;
} daemon_sig;

static log_conf_t *daemon_log_conf(const daemon_spec_t *spec)
{
    return (log_conf_t *)((char *)spec->conf + spec->log_offset);
}

static void daemon_reload(void)
{
    const daemon_spec_t *spec = daemon_sig.spec;
    const daemon_reload_spec_t rs = {spec->conf_items, spec->conf_size, spec->reloadable};
    daemon_reload_report_t report;
    char err[1024];
    log_info("signal SIGHUP: reloading %s",
             daemon_conf_path ? daemon_conf_path : "defaults and environment");
    int rc = daemon_reload_conf(&rs, spec->conf, daemon_conf_path, &report, err, sizeof err);
    if (rc != 0)
        log_error("reload: %s; keeping the running configuration", err);
    /* The log file is reopened in any case: after logrotate renamed it, a bad edit of the
     * configuration must not keep the daemon writing into the renamed file. */
    char log_err[512];
    const log_conf_t *lc = daemon_log_conf(spec);
    if (log_apply(lc, log_err, sizeof log_err) != 0)
        log_error("reload: %s; lines go where they went", log_err);
    else
        log_info("reload: logging at %s as %s to %s", log_level_name((log_level_t)lc->level),
                 lc->format == LOG_FORMAT_JSON ? "json" : "text",
                 lc->file && lc->file[0] ? lc->file : "stderr");
    if (rc == 0 && spec->reload != NULL)
        spec->reload(daemon_sig.server);
}

static void on_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGHUP) {
        if (daemon_sig.stopping)
            log_info("signal SIGHUP: stopping, nothing reloaded");
        else
            daemon_reload();
        return;
    }
    if (daemon_sig.stopping) {
        log_warn("signal %s again: exiting now", strsignal(signum));
        exit(1);
    }
    daemon_sig.stopping = 1;
    log_info("signal %s: stopping", strsignal(signum));
    daemon_sig.spec->stop(daemon_sig.server);
}

/* Watches SIGINT, SIGTERM and SIGHUP on loop for the running server (daemon.h, "Signals"). */
static void daemon_signals_start(uv_loop_t *loop, const daemon_spec_t *spec, void *server)
{
    static const int signums[DAEMON_NSIGNALS] = {SIGINT, SIGTERM, SIGHUP};

    /* A peer that closes while we write must cost an EPIPE on that socket, not the process. */
    signal(SIGPIPE, SIG_IGN);
    daemon_sig.spec = spec;
    daemon_sig.server = server;
    daemon_sig.stopping = 0;
    for (int i = 0; i < DAEMON_NSIGNALS; i++) {
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

static void daemon_signals_close(void)
{
    if (!daemon_sig.started)
        return;
    daemon_sig.started = 0;
    for (int i = 0; i < DAEMON_NSIGNALS; i++)
        uv_close((uv_handle_t *)&daemon_sig.handles[i], NULL);
}

int daemon_run(int argc, char **argv, const daemon_spec_t *spec)
{
    daemon_setup(argc, argv, spec);
    char err[512];
    if (log_apply(daemon_log_conf(spec), err, sizeof err) != 0) {
        log_error("configuration: %s", err);
        conf_free(spec->conf_items, spec->conf);
        return 1;
    }
    /* Until the watcher runs, a SIGHUP (a log rotation at the wrong moment) must not end the
     * daemon while it starts; the watcher replaces this disposition. */
    signal(SIGHUP, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    void *server = NULL;
    int rc = spec->start(loop, spec->conf, &server);
    if (rc == 0)
        daemon_signals_start(loop, spec, server);
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
    free(daemon_conf_path);
    daemon_conf_path = NULL;
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
