/* comet_reload.h - what a reload changes in a running comet: the certificates of the TLS
 * listeners (the files [tls] cert and key name in the running configuration read again,
 * tls_server_reload; a SIGHUP may have changed the names) and the workers' limits (comet_limits.h,
 * posted to each worker's loop). SIGHUP does both, after the shared configuration reload (daemon.h,
 * "Signals"; the keys comet declares reloadable are in main.c); POST /tls/reload on the admin port
 * does the certificates only.
 *
 * Certificates: new handshakes on every worker use the new ones; open connections keep their
 * sessions; a reload that fails (a missing or bad file, a key that does not match) keeps the
 * old certificates and says why (a log line; the admin call's reply).
 *
 * Main thread only (the signal is watched on the main loop, the admin endpoint runs there).
 */
#ifndef COMET_RELOAD_H
#define COMET_RELOAD_H

#include "comet_conf.h"
#include "comet_worker.h"
#include "http.h"
#include "tls_server.h"

typedef struct comet_reload_s {
    const comet_conf_t *conf; /* borrowed: the running configuration */
    tls_server_t *tls;        /* borrowed; NULL when no TLS listener is configured */
    comet_worker_t *workers;  /* borrowed */
    const int *nstarted;      /* borrowed: workers[0..*nstarted) run */
} comet_reload_t;

/* Everything is borrowed and must outlive r. */
void comet_reload_init(comet_reload_t *r, const comet_conf_t *conf, tls_server_t *tls,
                       comet_worker_t *workers, const int *nstarted);

/* Reloads the certificates now, from the files r->conf names. Returns 0, HERALD_ECONF with the
 * reason in err (old certificates kept), or HERALD_EINVAL when no TLS listener is configured. Logs
 * the outcome. */
int comet_reload_now(comet_reload_t *r, char *err, size_t errlen);

/* After a configuration reload (SIGHUP): the certificates (when TLS is on), then the limits of
 * r->conf, posted to every started worker. Before the stop begins. */
void comet_reload_apply(comet_reload_t *r);

/* admin_route_cb (arg: the comet_reload_t): POST /tls/reload answers {"code":0,"message":"ok",
 * "data":{"generation":N}} after a reload, 500 {"code":-500,"message":<reason>} when it failed,
 * 409 {"code":-409,...} without TLS, 405 for another method; any other path is not ours. */
int comet_reload_route(void *arg, http_request_t *req);

#endif
