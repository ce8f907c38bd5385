/* comet_worker.h - one worker thread: its own uv loop holding a share of the client connections.
 *
 * Each worker binds its own TCP and WebSocket listeners on the same ports (SO_REUSEPORT), so the
 * kernel spreads connections; it owns its connections, rooms, key table, logic RPC clients and
 * fan-outs, and nothing of it is touched from another thread: other threads hand it tasks through
 * its queue (comet_worker_post). Only the stats are read from outside.
 *
 * Lifecycle (main thread): comet_worker_init, comet_worker_listen, comet_worker_start; at stop:
 * comet_worker_post_drain, comet_worker_post_stop, then comet_worker_join and
 * comet_worker_deinit. A worker that was never started is released with comet_worker_deinit.
 */
#ifndef COMET_WORKER_H
#define COMET_WORKER_H

#include "buf.h"
#include "comet_ack.h"
#include "comet_conf.h"
#include "comet_fanout.h"
#include "comet_logic.h"
#include "comet_online.h"
#include "comet_queue.h"
#include "comet_room.h"
#include "comet_stats.h"
#include "list.h"
#include "strmap.h"
#include "ws.h"

#include <sys/socket.h>
#include <uv.h>

typedef struct comet_server_s comet_server_t;
typedef struct comet_worker_s comet_worker_t;

#define COMET_READ_BUF_SIZE (64 * 1024)

struct comet_worker_s {
    comet_server_t *server;
    const comet_conf_t *conf;
    int index;
    uv_loop_t loop; /* loop.data = this worker */
    int loop_ready; /* loop initialised (comet_worker_deinit has work to do) */
    uv_thread_t thread;
    int started;
    comet_queue_t queue;
    uv_tcp_t tcp_listener;
    uv_tcp_t ws_listener;
    int listeners; /* listener handles open */
    uv_timer_t sweep;
    uint8_t *read_buf; /* lent to every read of this worker (alloc callback) */
    ws_codec_t *ws;
    buf_t out;           /* building multi-packet writes (auth reply + backlog) */
    buf_t scratch;       /* a packet before it is framed for WebSocket */
    list_link_t pending; /* not yet authenticated, by accept time */
    list_link_t active;  /* authenticated, by last activity */
    list_link_t closing; /* finishing, by close time */
    list_link_t all;     /* authenticated, by registration (broadcast order) */
    comet_rooms_t rooms;
    strmap_t keys; /* key -> comet_conn_t of this worker */
    comet_logic_t logic;
    comet_ack_t acks;
    comet_fanout_t fanout;
    comet_online_t *online; /* room counts over all comets; NULL until the first RenewOnline */
    comet_stats_t stats;
    int stopping; /* draining: no new connection, no Disconnect calls */
    int drained;
    comet_task_t drain_task;   /* main -> worker (comet_worker_post_drain) */
    comet_task_t stop_task;    /* main -> worker (comet_worker_post_stop) */
    comet_task_t drained_task; /* worker -> main (comet_server_worker_drained) */
    comet_task_t stopped_task; /* worker -> main (comet_server_worker_stopped) */
};

/* Creates the loop, queue, timers and codec (main thread, before start). Returns 0 or UV_E*. */
int comet_worker_init(comet_worker_t *w, comet_server_t *s, const comet_conf_t *conf, int index);

/* Binds and listens on tcp_addr and ws_addr with SO_REUSEPORT (main thread, before start).
 * Returns 0 or a UV_E* error. */
int comet_worker_listen(comet_worker_t *w, const struct sockaddr *tcp_addr,
                        const struct sockaddr *ws_addr);

/* Creates the logic clients and starts the thread. Returns 0 or UV_E*. */
int comet_worker_start(comet_worker_t *w);

/* Any thread: hands task to the worker. */
void comet_worker_post(comet_worker_t *w, comet_task_t *task);

/* Any thread: the worker stops accepting, kicks every connection with {"reason":"shutdown"},
 * drops fan-outs, flushes acks, and calls comet_server_worker_drained once no socket is left. */
void comet_worker_post_drain(comet_worker_t *w);

/* Any thread, after the drain: the worker closes every remaining handle, so its loop and thread
 * end (then comet_server_worker_stopped is called from the thread). */
void comet_worker_post_stop(comet_worker_t *w);

/* Main thread: waits for the thread to end (after comet_worker_post_stop). */
void comet_worker_join(comet_worker_t *w);

/* Main thread: frees what init created; the loop must have no handle left (thread ended, or
 * never started: then the handles are closed here). */
void comet_worker_deinit(comet_worker_t *w);

/* Called by comet_conn when a socket closes: posts drained_task when draining and none is left. */
void comet_worker_on_socket_closed(comet_worker_t *w);

/* Loop time in ms, truncated to 32 bits (compare with (uint32_t)(a - b)). */
static inline uint32_t comet_worker_now(const comet_worker_t *w)
{
    return (uint32_t)uv_now(&w->loop);
}

#endif
