/* comet_service.h - the Comet RPC service (called by job and logic, DESIGN.md §5): PushKeys,
 * BroadcastRoom, Broadcast, Rooms, Kick, RoomMembers, ReplayRouter (comet_replay.h).
 *
 * Handlers run on the main thread. They route keys to workers through comet_keys, encode shared
 * payloads once (a buf_shared_t for TCP and one for WebSocket), and hand each worker its part
 * (comet_push.h); the reply is sent once every worker has taken its part. Rooms answers from a
 * census (comet_census.h), RoomMembers from comet_members.h.
 */
#ifndef COMET_SERVICE_H
#define COMET_SERVICE_H

#include "comet_keys.h"
#include "comet_queue.h"
#include "comet_replay.h"
#include "comet_worker.h"
#include "rpc.h"
#include "ws.h"

#include <uv.h>

typedef struct comet_service_s {
    comet_keys_t *keys;      /* borrowed, as the workers and main */
    comet_worker_t *workers; /* where the parts go */
    int nworkers;
    comet_queue_t *main;    /* the main thread's queue: the workers' parts come back here */
    ws_codec_t *ws;         /* encodes broadcast frames on the main thread */
    rpc_server_t *rpc;      /* NULL until comet_service_listen */
    comet_replay_t *replay; /* borrowed: ReplayRouter requests go there */
} comet_service_t;

/* Main thread, as everything here. */
void comet_service_init(comet_service_t *svc, comet_keys_t *keys, comet_worker_t *workers, int n,
                        comet_queue_t *main, comet_replay_t *replay);

/* Serves the methods on loop at host:port (numeric host; port 0 = ephemeral). Returns 0 or an
 * error (UV_E*); then the server is kept for comet_service_close to close. */
int comet_service_listen(comet_service_t *svc, uv_loop_t *loop, const char *host, int port);

/* The bound port, or -1. */
int comet_service_port(const comet_service_t *svc);

/* Stops serving (calls in flight are answered into the void); cb runs once, when the RPC server
 * is closed (at once when it never listened). */
void comet_service_close(comet_service_t *svc, void (*cb)(void *arg), void *arg);

/* After comet_service_close's cb: frees the codec. */
void comet_service_deinit(comet_service_t *svc);

#endif
