/* comet_server.h - the herald-comet process: workers, the main thread's services (Comet RPC for
 * job, admin HTTP, RenewOnline toward logic) and the graceful stop.
 *
 * The main thread owns the server and runs `loop`; workers run their own loops (comet_worker.h)
 * and talk to the main thread only through queues (comet_server_post, comet_worker_post).
 *
 * Stop sequence (comet_server_stop): the RenewOnline timer and the RPC listener stop; every
 * worker stops accepting, kicks its connections with {"reason":"shutdown"} and waits for them
 * to close (at most COMET_CONN_LINGER_MS); logic is told ServerDown (waiting up to
 * COMET_SERVER_DOWN_TIMEOUT_MS); the workers close their handles and end; the main thread's
 * handles close; then on_stopped runs and the loop has nothing left of the server.
 */
#ifndef COMET_SERVER_H
#define COMET_SERVER_H

#include "comet_conf.h"
#include "comet_keys.h"
#include "comet_logic.h"
#include "comet_queue.h"
#include "comet_renew.h"
#include "comet_worker.h"
#include "http.h"
#include "rpc.h"
#include "ws.h"

#include <uv.h>

#define COMET_SERVER_DOWN_TIMEOUT_MS 2000

struct comet_server_s {
    uv_loop_t *loop;          /* the main thread's, borrowed */
    const comet_conf_t *conf; /* borrowed: must outlive the server */
    comet_worker_t *workers;
    int nworkers;
    comet_keys_t keys;
    comet_queue_t queue; /* tasks for the main thread */
    comet_logic_t logic; /* the main thread's clients: RenewOnline, ServerDown */
    comet_renew_t renew;
    rpc_server_t *rpc;
    http_server_t *admin;
    ws_codec_t *ws;                              /* encodes broadcast frames on the main thread */
    int tcp_port, ws_port, rpc_port, admin_port; /* bound ports */
    int stopping;
    int waiting; /* workers or handles the current stop phase waits for */
    void (*on_stopped)(void *arg);
    void *stopped_arg;
};

typedef struct comet_server_s comet_server_t;

/* Binds every listener (port 0 = ephemeral, shared by all workers), starts the workers, the RPC
 * service, the admin HTTP and RenewOnline. Returns 0 and *out, or an error (logged) with nothing
 * left open. Main thread. */
int comet_server_start(uv_loop_t *loop, const comet_conf_t *conf, comet_server_t **out);

/* Begins the stop sequence (above); on_stopped (may be NULL) runs on the main thread at its end.
 * A second call does nothing. Main thread. */
void comet_server_stop(comet_server_t *s, void (*on_stopped)(void *arg), void *arg);

/* Same, from any thread (posted to the main thread). */
void comet_server_request_stop(comet_server_t *s, void (*on_stopped)(void *arg), void *arg);

/* After the stop completed and the loop ended: joins the worker threads and frees everything. */
void comet_server_free(comet_server_t *s);

/* Any thread: runs task on the main thread. */
void comet_server_post(comet_server_t *s, comet_task_t *task);

static inline comet_keys_t *comet_server_keys(comet_server_t *s)
{
    return &s->keys;
}

/* Worker thread: every socket of w is closed after a drain (posts to the main thread). */
void comet_server_worker_drained(comet_worker_t *w);
/* Worker thread, after its loop ended: w is done (posts to the main thread). */
void comet_server_worker_stopped(comet_worker_t *w);

#endif
