/* comet_reload.h - certificate reload of comet's TLS listeners: on SIGHUP and on POST /tls/reload
 * at the admin port, the [tls] cert and key files are read again (tls_server_reload). New
 * handshakes on every worker use the new certificates; open connections keep their sessions; a
 * reload that fails (a missing or bad file, a key that does not match) keeps the old certificates
 * and says why (a log line; the admin call's reply).
 *
 * Main thread only (the signal is watched on the main loop, the admin endpoint runs there).
 */
#ifndef COMET_RELOAD_H
#define COMET_RELOAD_H

#include "http.h"
#include "tls_server.h"

#include <uv.h>

typedef struct comet_reload_s {
    uv_signal_t hup;
    tls_server_t *tls; /* borrowed; NULL when no TLS listener is configured */
    unsigned reloads;  /* successful reloads */
    unsigned failures; /* reloads that kept the old certificates */
    int watching;      /* hup is initialised (until comet_reload_close) */
    void (*close_cb)(void *arg);
    void *close_arg;
} comet_reload_t;

/* Watches SIGHUP on loop when tls is not NULL (without TLS there is nothing to reload and SIGHUP
 * keeps its default action). Returns 0 or UV_E*. */
int comet_reload_start(comet_reload_t *r, uv_loop_t *loop, tls_server_t *tls);

/* Reloads now. Returns 0, HERALD_ECONF with the reason in err (old certificates kept), or
 * HERALD_EINVAL when no TLS listener is configured. Logs the outcome. */
int comet_reload_now(comet_reload_t *r, char *err, size_t errlen);

/* admin_route_cb (arg: the comet_reload_t): POST /tls/reload answers {"code":0,"message":"ok",
 * "data":{"generation":N}} after a reload, 500 {"code":-500,"message":<reason>} when it failed,
 * 409 {"code":-409,...} without TLS, 405 for another method; any other path is not ours. */
int comet_reload_route(void *arg, http_request_t *req);

/* Stops watching; cb(arg) (may be NULL) runs once the signal handle is closed (at once, from
 * inside this call, when nothing was watched). */
void comet_reload_close(comet_reload_t *r, void (*cb)(void *arg), void *arg);

#endif
