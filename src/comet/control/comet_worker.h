/* comet_worker.h - one worker thread: its own uv loop holding a share of the client
 * connections, with its layers (session, delivery) and its queue.
 *
 * Each worker binds its own TCP and WebSocket listeners on the same ports (SO_REUSEPORT), so the
 * kernel spreads connections; it owns its connections, rooms, key table, logic RPC clients and
 * fan-outs, and nothing of it is touched from another thread: other threads hand it tasks through
 * its queue, which run with owner = the worker's comet_session_t. What a worker sees of the rest
 * of comet is what it is given: the comet-wide key table, every worker's queue (kicks between
 * workers) and the main thread's queue (drained / stopped). Only the stats are read from outside.
 *
 * Lifecycle (main thread): comet_worker_init, comet_worker_listen, comet_worker_start; at stop:
 * comet_worker_post_drain, then (after on_drained) comet_worker_post_stop, comet_worker_join and
 * comet_worker_deinit. A worker that was never started is released with comet_worker_deinit.
 */
#ifndef COMET_WORKER_H
#define COMET_WORKER_H

#include "comet_conf.h"
#include "comet_keys.h"
#include "comet_push.h"
#include "comet_queue.h"
#include "comet_session.h"
#include "comet_stats.h"
#include "tls_server.h"

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

/* A worker's listeners: plain TCP and WebSocket always, TLS and WSS when configured. */
typedef enum {
    COMET_WORKER_TCP = 0,
    COMET_WORKER_WS,
    COMET_WORKER_TLS,
    COMET_WORKER_WSS,
    COMET_WORKER_LISTENERS
} comet_worker_listener_t;

/* Where a worker listens: addr[i] for listener i, NULL for a listener that is off (TLS, WSS).
 * tls (borrowed) is the context of the TLS and WSS listeners (NULL when both are off). */
typedef struct comet_worker_addrs_s {
    const struct sockaddr *addr[COMET_WORKER_LISTENERS];
    tls_server_t *tls;
} comet_worker_addrs_t;

typedef struct comet_worker_s {
    int index;
    uv_loop_t loop;
    uv_thread_t thread;
    int started;         /* the thread runs (until joined) */
    int stopped;         /* every handle closed (on_stop_task, or comet_worker_deinit) */
    comet_queue_t queue; /* tasks for this worker (owner: &session) */
    uv_tcp_t listeners[COMET_WORKER_LISTENERS]; /* by comet_worker_listener_t */
    unsigned listening;                         /* bit i: listeners[i] is open */
    tls_server_t *tls;                          /* borrowed: the TLS and WSS listeners' context */
    comet_stats_t stats;                        /* written by this worker only */
    comet_session_t session;
    comet_push_t push;
    comet_queue_t *main;       /* the main thread's queue, borrowed */
    comet_task_t drain_task;   /* main -> worker (comet_worker_post_drain) */
    comet_task_t stop_task;    /* main -> worker (comet_worker_post_stop) */
    comet_task_t drained_task; /* worker -> main: no socket left after the drain */
    comet_task_t stopped_task; /* worker -> main: the worker's loop has ended */
} comet_worker_t;

/* Creates the loop, queue and layers of worker `index` (main thread, before start). keys, ips,
 * peers (every worker's queue by index) and main are borrowed and must outlive the worker;
 * on_drained and on_stopped run on main's thread, with the worker's drained_task / stopped_task.
 * Returns 0, or an error with the reason in err (errlen bytes) and nothing left to release. */
int comet_worker_init(comet_worker_t *w, const comet_conf_t *conf, int index, comet_keys_t *keys,
                      comet_ips_t *ips, comet_queue_t *const *peers, comet_queue_t *main,
                      comet_task_cb on_drained, comet_task_cb on_stopped, char *err, size_t errlen);

/* Binds and listens on every address of a with SO_REUSEPORT (main thread, before start); a
 * (and its context) is borrowed for the worker's life. Returns 0, or a UV_E* error with the
 * failing listener in *failed. */
int comet_worker_listen(comet_worker_t *w, const comet_worker_addrs_t *a,
                        comet_worker_listener_t *failed);

/* The port listener i is bound to, or -1 when it is off. */
int comet_worker_port(const comet_worker_t *w, comet_worker_listener_t i);

/* Starts the thread. Returns 0 or UV_E*. */
int comet_worker_start(comet_worker_t *w);

/* Any thread: hands task to the worker. */
void comet_worker_post(comet_worker_t *w, comet_task_t *task);

/* Worker thread: closes the listeners (new clients are refused; the kernel spreads them over the
 * other workers' listeners until those close too). Closing again is a no-op. */
void comet_worker_stop_accepting(comet_worker_t *w);

/* Main thread, while the worker runs and before the drain: the worker takes l (copied) as its
 * limits on its own loop (comet_session_set_limits, the fan-out batch). */
void comet_worker_post_limits(comet_worker_t *w, const comet_limits_t *l);

/* Any thread: the worker stops accepting, drops fan-outs, flushes acks, kicks every connection
 * (comet_client_drain), and posts drained_task once no socket is left. */
void comet_worker_post_drain(comet_worker_t *w);

/* Any thread, after drained_task: the worker closes every remaining handle, so its loop and
 * thread end (posting stopped_task from the thread as its last act). */
void comet_worker_post_stop(comet_worker_t *w);

/* Main thread: waits for the thread to end (after stopped_task or a failed start). */
void comet_worker_join(comet_worker_t *w);

/* Main thread: frees what init created; the loop must have no handle left (thread ended, or
 * never started: then the handles are closed here). */
void comet_worker_deinit(comet_worker_t *w);

#endif
