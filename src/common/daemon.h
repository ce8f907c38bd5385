/* daemon.h - what every herald daemon's main() shares: command line, config loading, signals.
 *
 * Signals (docs/operations.md, "Signals"), watched on the default loop once the daemon started:
 *   SIGINT, SIGTERM  the first one begins a graceful stop (spec->stop); a second exits at once
 *                    with status 1
 *   SIGHUP           reload: the log file is reopened, the configuration file is read again and
 *                    the keys the daemon declares reloadable are applied (daemon_reload.h), then
 *                    spec->reload runs; a file that does not load changes nothing (logged with
 *                    file:line). Never stops the daemon. Ignored once a stop began.
 *   SIGPIPE          ignored
 *
 *   herald-<name> [-c FILE] [-t] [-V] [-h]   (long options: --config, --test, --version, --help)
 *     -c FILE  config file (default conf/<name>.ini if it exists, else defaults + environment)
 *     -t       check the configuration (with the cluster secret and the HTTPS certificate and key
 *              files it names), print "FILE: ok" or the error, exit 0 / 1 (nginx -t)
 *     -V       print "herald-<name> <version> (<git describe at configure time, or unknown>)"
 *              on stdout and exit 0
 *     -h       usage on stdout, exit 0; an unknown option or argument: usage on stderr, exit 2
 * (cmdline.h, the conventions every herald binary shares).
 */
#ifndef HERALD_DAEMON_H
#define HERALD_DAEMON_H

#include "conf.h"
#include <uv.h>

/* What daemon_run needs to know of a daemon. */
typedef struct daemon_spec_s {
    const char *name;              /* "comet": log prefix and default config conf/<name>.ini */
    const conf_item_t *conf_items; /* the daemon's config table */
    void *conf;                    /* the daemon's config struct, filled by daemon_run */
    size_t conf_size;              /* sizeof the config struct (a reload loads a second one) */
    size_t log_offset;             /* offsetof(conf struct, log): its log_conf_t */
    size_t cluster_offset;         /* offsetof(conf struct, cluster): its cluster_conf_t */
    /* Starts every listener and client on loop; on success stores the server in *server and
     * returns 0, else logs why and returns nonzero (handles it opened must be closing). */
    int (*start)(uv_loop_t *loop, const void *conf, void **server);
    /* Begins a graceful stop (first SIGINT/SIGTERM): stop accepting, finish what is in flight,
     * close every handle, so that the loop ends. */
    void (*stop)(void *server);
    /* Frees what the server holds once its loop has ended; may be NULL. */
    void (*free)(void *server);
    /* The section ("http" for logic, "admin" for the others) and offsetof(conf struct, its
     * http_tls_conf_t) of the daemon's HTTPS files, which -t and the start check are readable
     * PEM (http_tls_load); NULL section: none. */
    const char *http_tls_section;
    size_t http_tls_offset;
    /* The keys besides [log] that a SIGHUP applies at run time, "section.key", NULL-terminated
     * (NULL: only [log]). Each must be read by the daemon where it is used, on the main loop
     * thread, or be handed on by reload: the running config struct takes the new values. */
    const char *const *reloadable;
    /* After a SIGHUP reload that loaded (main loop thread): applies what the daemon does not
     * read from its config struct at use (comet: certificates, the workers' limits). May be
     * NULL. */
    void (*reload)(void *server);
} daemon_spec_t;

/* The members of a daemon_spec_t that follow from its config struct `var` of type `type`, whose
 * [log] and [cluster] sections are the members `log` and `cluster`. */
#define DAEMON_SPEC_CONF(type, var)                                                                \
    .conf = &(var), .conf_size = sizeof(var), .log_offset = offsetof(type, log),                   \
    .cluster_offset = offsetof(type, cluster)

/* Parses argv, loads the config into spec->conf (via conf_load), applies its [cluster] section
 * (cluster_apply: the secret and the RPC limits), reads its HTTPS files (http_tls_load; whether
 * the key matches the certificate is known only when the server starts) and handles -t, -V and -h
 * (all exit). On a config error (a missing or bad cluster secret included) prints it and exits 1.
 * Returns only when the daemon should run. */
void daemon_setup(int argc, char **argv, const daemon_spec_t *spec);

/* The whole main() of a daemon: daemon_setup, logging ([log], log_apply: a log file that cannot
 * be opened is an error like a bad key), the default loop, start, signals, run
 * until the server has closed everything, free, config release. Returns the process exit
 * status: 0 after a graceful stop, 1 when start failed. */
int daemon_run(int argc, char **argv, const daemon_spec_t *spec);

/* Milliseconds of a monotonic clock (uv_hrtime based) and of the wall clock (unix epoch). */
uint64_t daemon_now_ms(void);
int64_t daemon_wall_ms(void);

#endif
