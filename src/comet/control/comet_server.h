/* comet_server.h - the herald-comet process: workers, the main thread's services (Comet RPC for
 * job, the admin endpoint, RenewOnline toward logic) and the graceful stop.
 *
 * The main thread owns the server and runs `loop`; workers run their own loops (comet_worker.h)
 * and talk to the main thread only through queues.
 *
 * Stop sequence (comet_server_close): /ready turns 503, the RenewOnline timer and the RPC service
 * stop; every worker stops accepting, kicks its connections with {"reason":"shutdown"} and waits
 * for them to close (at most COMET_CONN_LINGER_MS); logic is told ServerDown (waiting up to
 * COMET_SERVER_DOWN_TIMEOUT_MS); the workers close their handles and their threads end; the main
 * thread's handles close; the server is freed and the callback runs. The loop then has nothing
 * left of the server.
 */
#ifndef COMET_SERVER_H
#define COMET_SERVER_H

#include "admin.h"
#include "comet_conf.h"
#include "comet_keys.h"
#include "comet_logic.h"
#include "comet_queue.h"
#include "comet_reload.h"
#include "comet_renew.h"
#include "comet_replay.h"
#include "comet_service.h"
#include "comet_worker.h"

#include <stddef.h>
#include <uv.h>

#define COMET_SERVER_DOWN_TIMEOUT_MS 2000

typedef struct comet_server_s {
    uv_loop_t *loop;          /* the main thread's, borrowed */
    const comet_conf_t *conf; /* borrowed: must outlive the server */
    comet_worker_t *workers;
    int nworkers;
    int ninit;              /* workers[0..ninit) are initialised */
    int nstarted;           /* workers[0..nstarted) have a thread (until joined) */
    comet_queue_t **queues; /* &workers[i].queue, what each worker knows of its peers */
    comet_keys_t keys;
    comet_ips_t ips;     /* distinct client addresses (goim ip_count), comet-wide */
    comet_queue_t queue; /* tasks for the main thread (owner: the server) */
    comet_logic_t logic; /* the main thread's clients: RenewOnline, ServerDown */
    comet_renew_t renew;
    comet_replay_t replay; /* router epochs replayed to */
    comet_service_t service;
    admin_t *admin;
    tls_server_t *tls;     /* the TLS and WSS listeners' context; NULL when both are off */
    comet_reload_t reload; /* SIGHUP (main.c's reload hook) and POST /tls/reload */
    int tcp_port, ws_port, rpc_port, admin_port; /* bound ports */
    int tls_port, wss_port;                      /* bound ports, 0 when off */
    int ready;                                   /* comet_server_new completed */
    int stopping;                                /* comet_server_close began */
    int waiting;                                 /* workers the current stop phase waits for */
    int closes;                                  /* main-thread closes in flight */
    int last; /* the main thread's handles are closing: the end comes with closes == 0 */
    void (*on_closed)(void *arg);
    void *closed_arg;
    int draining; /* comet_drain_start began (comet_drain.h): not ready, stop to follow */
} comet_server_t;

/* Binds every listener (port 0 = ephemeral, shared by all workers), starts the workers, the RPC
 * service, the admin endpoint and RenewOnline on loop (main thread). Returns the server, or NULL
 * with the reason in err (errlen bytes) and nothing left open: whatever was opened is closed
 * before this returns (the loop is run for it). */
comet_server_t *comet_server_new(uv_loop_t *loop, const comet_conf_t *conf, char *err,
                                 size_t errlen);

/* Begins the stop sequence (above); cb (may be NULL) runs on the main thread once everything is
 * closed, the worker threads are joined and s is freed. Call once, on the main thread. */
void comet_server_close(comet_server_t *s, void (*cb)(void *arg), void *arg);

#endif
