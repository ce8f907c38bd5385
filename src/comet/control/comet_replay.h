/* comet_replay.h - putting this comet's placements back on a router that lost them
 * (docs/internals.md "Routers: epoch and replay").
 *
 * The comets hold the truth of where each connection is; a router holds a copy in memory, and
 * draws a new random epoch when it starts (empty). Logic asks every comet to replay when it sees
 * a router's new epoch (Comet ReplayRouter{router, epoch}), and lists the epochs it knows in
 * every RenewOnline reply as a backstop. The main thread keeps the epoch it last replayed to,
 * per router: that epoch asked again (another logic, the next RenewOnline) does nothing. A new
 * one goes to every worker, which walks its registered channels and sends their placements to
 * logic in Replay calls of up to RPC_REPLAY_BATCH_MAX (its own logic clients, COMET_REPLAY_TRIES
 * attempts each). Logic answers each user's newest seq, and a channel behind it fetches the gap
 * at once (comet_sync_catch_up): the pushes accepted while the router had no placement for it.
 * A batch that failed every attempt makes the main thread forget the epoch, so the next request
 * (at the latest the next RenewOnline) replays again.
 */
#ifndef COMET_REPLAY_H
#define COMET_REPLAY_H

#include "comet_queue.h"
#include "comet_worker.h"

#include <stddef.h>
#include <stdint.h>

#define COMET_REPLAY_TRIES 3
#define COMET_REPLAY_ROUTER_MAX 300 /* bytes of a router's ring name (host:port) */

typedef struct comet_replay_router_s {
    char name[COMET_REPLAY_ROUTER_MAX + 1];
    uint64_t epoch; /* replayed (or replaying) to; 0 = forgotten */
} comet_replay_router_t;

/* Main thread's state; the workers get tasks. Owned by comet_server_t. */
typedef struct comet_replay_s {
    comet_worker_t *workers; /* borrowed */
    int nworkers;
    comet_queue_t *main; /* where a failed worker tells it to forget an epoch */
    comet_replay_router_t *routers;
    size_t n;
    uint64_t started; /* replays posted to the workers */
} comet_replay_t;

void comet_replay_init(comet_replay_t *rp, comet_worker_t *workers, int n, comet_queue_t *main);
void comet_replay_deinit(comet_replay_t *rp);

/* Main thread. Router `router` (1..COMET_REPLAY_ROUTER_MAX printable bytes) has epoch (nonzero).
 * Returns 1 when this comet now replays to it, 0 when it had already, HERALD_EINVAL for bad
 * input. */
int comet_replay_request(comet_replay_t *rp, const char *router, uint64_t epoch);

#endif
