/* comet_renew.h - RenewOnline: registering this comet with logic and reporting room counts.
 *
 * Every server.renew_online_interval (and right at start, as soon as a logic is connected: the
 * timer polls every COMET_RENEW_RETRY_MS until then) the main thread takes a census of the
 * workers' rooms, sends RenewOnlineReq{server, rpc/tcp/ws/tls/wss addresses, weight, conn_count,
 * rooms} and hands the reply's room counts (summed over all comets) to every worker as an immutable
 * comet_online_t, for the op 3 heartbeat replies; the reply's router epochs go to
 * comet_replay_request (a router this comet has not replayed to yet). Main thread only.
 */
#ifndef COMET_RENEW_H
#define COMET_RENEW_H

#include "comet_conf.h"
#include "comet_logic.h"
#include "comet_queue.h"
#include "comet_replay.h"
#include "comet_worker.h"

#include <stdint.h>
#include <uv.h>

#define COMET_RENEW_RETRY_MS 100
#define COMET_RENEW_ERROR_RETRY_MS 1000

typedef struct comet_renew_s {
    uv_timer_t timer;
    const comet_conf_t *conf; /* borrowed, as everything below */
    comet_logic_t *logic;     /* the main thread's logic clients */
    comet_worker_t *workers;
    int nworkers;
    comet_ips_t *ips; /* distinct client addresses, reported as ip_count */
    comet_queue_t *main;
    comet_replay_t *replay;                          /* the reply's router epochs go there */
    char rpc_addr[300], tcp_addr[300], ws_addr[300]; /* advertised (comet_renew_advertise) */
    char tls_addr[300], wss_addr[300];               /* "" when that listener is off */
    void (*on_closed)(void *arg);                    /* comet_renew_close */
    void *closed_arg;
    int in_flight; /* a census or call is under way */
    int stopped;
    int failing;    /* the last attempt failed (logged once per failure streak) */
    int draining;   /* comet_renew_drain: weight 0 from now on */
    int again;      /* renew again as soon as the call in flight ends */
    uint64_t rooms; /* rooms at the last census, for /metrics */
    uint64_t renewals;
} comet_renew_t;

/* Sets r up on loop for workers[0..n) (census, online counts) and ips, calling logic from the main
 * thread, whose queue is main. Everything is borrowed. Cannot fail (a timer). */
void comet_renew_init(comet_renew_t *r, uv_loop_t *loop, const comet_conf_t *conf,
                      comet_logic_t *logic, comet_worker_t *workers, int n, comet_ips_t *ips,
                      comet_queue_t *main, comet_replay_t *replay);
/* Sets the addresses the comet registers: server.advertise_host with these bound ports. Before
 * the workers start: their room announcements carry r->rpc_addr (comet_join.h). */
void comet_renew_advertise(comet_renew_t *r, int rpc_port, int tcp_port, int ws_port, int tls_port,
                           int wss_port);
/* Schedules the first renewal at once. */
void comet_renew_start(comet_renew_t *r);
/* The comet is draining: from now on every RenewOnline says weight 0 (logic then offers it to no
 * new client), and one is sent at once (after the call in flight, if any). */
void comet_renew_drain(comet_renew_t *r);
/* Stops renewing; a call in flight is ignored when it ends. */
void comet_renew_stop(comet_renew_t *r);
/* Stops and closes the timer; cb (may be NULL) runs when it is closed. */
void comet_renew_close(comet_renew_t *r, void (*cb)(void *arg), void *arg);

#endif
