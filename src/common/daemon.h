/* daemon.h - what every herald daemon's main() shares: command line, config loading, signals.
 *
 *   herald-<name> [-c FILE] [-t] [-h]
 *     -c FILE  config file (default conf/<name>.ini if it exists, else defaults + environment)
 *     -t       check the configuration, print "FILE: ok" or the error, exit 0 / 1 (nginx -t)
 */
#ifndef HERALD_DAEMON_H
#define HERALD_DAEMON_H

#include "conf.h"
#include <uv.h>

/* Parses argv, loads the config into `conf` (via conf_load) and handles -t and -h (both exit).
 * On a config error prints it to stderr and exits 1. Returns only when the daemon should run. */
void daemon_setup(int argc, char **argv, const char *name, const conf_item_t *items, void *conf);

/* Watches SIGINT and SIGTERM on `loop`: the first one calls stop_cb(arg) (begin a graceful stop:
 * stop accepting, finish what is in flight, close handles so the loop ends); a second one exits
 * at once with status 1. SIGPIPE is ignored. The signal handles are closed by daemon_signals_close. */
void daemon_signals_start(uv_loop_t *loop, void (*stop_cb)(void *arg), void *arg);
void daemon_signals_close(void);

/* Milliseconds of a monotonic clock (uv_hrtime based) and of the wall clock (unix epoch). */
uint64_t daemon_now_ms(void);
int64_t daemon_wall_ms(void);

#endif
