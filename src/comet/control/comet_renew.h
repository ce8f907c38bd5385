/* comet_renew.h - RenewOnline: registering this comet with logic and reporting room counts.
 *
 * Every server.renew_online_interval (and right at start, as soon as a logic is connected: the
 * timer polls every COMET_RENEW_RETRY_MS until then) the main thread takes a census of the
 * workers' rooms, sends RenewOnlineReq{server, rpc/tcp/ws addresses, weight, conn_count, rooms}
 * and hands the reply's room counts (summed over all comets) to every worker as an immutable
 * comet_online_t, for the op 3 heartbeat replies. Main thread only.
 */
#ifndef COMET_RENEW_H
#define COMET_RENEW_H

#include <stdint.h>
#include <uv.h>

#define COMET_RENEW_RETRY_MS 100
#define COMET_RENEW_ERROR_RETRY_MS 1000

typedef struct comet_server_s comet_server_t;

typedef struct comet_renew_s {
    uv_timer_t timer;
    comet_server_t *server;
    int in_flight; /* a census or call is under way */
    int stopped;
    int failing;    /* the last attempt failed (logged once per failure streak) */
    uint64_t rooms; /* rooms at the last census, for /metrics */
    uint64_t renewals;
} comet_renew_t;

/* Returns 0 or UV_E*. */
int comet_renew_init(comet_renew_t *r, comet_server_t *s);
/* Schedules the first renewal at once. */
void comet_renew_start(comet_renew_t *r);
/* Stops renewing; a call in flight is ignored when it ends. */
void comet_renew_stop(comet_renew_t *r);
/* Closes the timer; cb (may be NULL) runs when it is closed. */
void comet_renew_close(comet_renew_t *r, uv_close_cb cb);

#endif
