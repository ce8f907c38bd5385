/* logic_replay.h - putting back the placements of a router that restarted (docs/internals.md
 * "Routers: epoch and replay").
 *
 * A router holds its placements in memory only and draws a random epoch at start. Each time
 * logic's connection to router i comes up, logic asks for its epoch (RouterInfo). An epoch it
 * has not seen for that router means a table that lost (or never had) what the comets hold:
 * logic asks every live comet of the registry to replay (Comet ReplayRouter{router, epoch}).
 * Each comet then sends its placements in Replay calls (logic_replay_apply), once per epoch
 * however many logics ask it. The epochs this logic knows also go to every comet in its
 * RenewOnline reply, so a comet that could not be reached (or was not in the registry yet) when
 * the router came back still replays, within one renew_online_interval.
 *
 * Loop thread only.
 */
#ifndef LOGIC_REPLAY_H
#define LOGIC_REPLAY_H

#include "herald.pb-c.h"
#include "logic_ctx.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* How long a ReplayRouter call waits for a comet's client to connect (logic_comets_call). */
#define LOGIC_REPLAY_ASK_WAIT_MS 1000

typedef struct logic_replay_s logic_replay_t;

/* Watches ctx->router (logic_router_watch); ctx is borrowed and must outlive rp. Free rp only
 * after the router clients and the comet pool have closed (their calls in flight refer to it).
 * Aborts on OOM. */
logic_replay_t *logic_replay_new(const logic_ctx_t *ctx);
void logic_replay_free(logic_replay_t *rp);

/* What comets replay router i (an index of the current ring) to: its own epoch (RouterInfo)
 * mixed with the ring's identity, so that a restart and a change of the ring (a router added or
 * removed: users move) both make a new one. 0 while its epoch is not known. */
uint64_t logic_replay_epoch(const logic_replay_t *rp, size_t i);

/* The ring changed (logic_router_set answered 1): every comet replays to every router whose
 * epoch is known, so the users that moved are placed on their new owner (a new router's own
 * request follows its RouterInfo). */
void logic_replay_ring_changed(logic_replay_t *rp);

/* newest is parallel to the placements of the apply (0 for one it did not put), borrowed during
 * the callback; status 0, or the first error (HERALD_EUNAVAIL, HERALD_ETIMEDOUT, a router's code),
 * newest then NULL. */
typedef void (*logic_replay_cb)(int status, const uint64_t *newest, void *arg);

/* One Replay call of a comet: placements[0..n) (n <= RPC_REPLAY_BATCH_MAX, validated by the
 * caller, borrowed until return). Puts those that router `router` (a ring name; "" = whichever
 * router owns each) owns with one PutBatch per owner, and once every router answered reads the
 * users' newest seqs: a push that found no placement had stored its message before that read
 * (docs/delivery.md "A router restarts"). Returns 0 and calls cb once later; 1 when router owns
 * none of them (nothing to do, cb not called); HERALD_EINVAL (router not in the ring) or
 * HERALD_EUNAVAIL (an owner not connected, stopping, or epoch not 0 and not
 * logic_replay_epoch of that router: the comet replays for another ring), cb not called. */
int logic_replay_apply(logic_replay_t *rp, const char *router, uint64_t epoch,
                       const Herald__Placement *const *placements, size_t n, logic_replay_cb cb,
                       void *arg);

/* Counters into out: router_epochs (new epochs seen), replays_asked (ReplayRouter calls made),
 * replayed (placements put back). */
void logic_replay_metrics(const logic_replay_t *rp, json_t *out);

#endif
