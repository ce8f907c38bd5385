/* logic_push.h - the one push path (DESIGN.md §2): a validated request becomes PushMsg envelopes
 * on Kafka. Shared by the HTTP API (/goim/push/...) and upstream messages (RPC Receive).
 *
 *   keys  -> router Get of each key's mid -> one PUSH envelope per comet owning a key; keys
 *            without a "<mid>-" prefix (goim clients' own keys) go in one envelope with server ""
 *            (job delivers it to every comet)
 *   mids  -> the message is stored in each user's inbox under the user's next sequence number
 *            (logic_inbox.h) -> router Get (batched per shard) -> one PUSH envelope per comet,
 *            with each key's user sequence number
 *   room  -> one ROOM envelope, Kafka key = room id (order per room)
 *   join  -> one JOIN envelope (a comet has members of the room), with the room's Kafka key:
 *            it travels in the room's ordered stream, ahead of every push accepted after it
 *   all   -> one BROADCAST envelope
 * The callback runs once every envelope got its Kafka delivery report (or something failed).
 * The module counts pushes and deliveries, and remembers whether the last delivery failed.
 * Runs on the loop thread only.
 */
#ifndef LOGIC_PUSH_H
#define LOGIC_PUSH_H

#include "logic_ctx.h"
#include "logic_push_req.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct logic_push_s logic_push_t;

/* ctx is borrowed and must outlive p; free once no push is in flight (after the backends closed).
 * Aborts on OOM; free(NULL) is a no-op. */
logic_push_t *logic_push_new(const logic_ctx_t *ctx);
void logic_push_free(logic_push_t *p);

/* Outcome of a push. status 0: every envelope was acknowledged by Kafka; `data` is the reply data
 * for the HTTP API (MIDS: [{"mid","seq","online"}]; NULL for the other kinds), a reference the
 * callback owns (json_decref it or hand it on). status < 0: HERALD_EUNAVAIL (Redis, a router or
 * Kafka unavailable or failing) or HERALD_EINTERNAL; `message` says what failed (borrowed,
 * valid during the call) and data is NULL, except for a MIDS push that failed after the inbox
 * store: it stays stored (the message says so; its users get it on their next connect or the
 * next push's gap), and data is the MIDS data with every "online" false, which the callback owns
 * as well (logic_http_push keeps it as the answer to a retry with the same idempotency key). */
typedef void (*logic_push_cb)(int status, const char *message, json_t *data, void *arg);

/* Starts a push; takes over req's contents (also on failure). Returns 0 and calls cb exactly once
 * later; or returns HERALD_EUNAVAIL (stopping, or the first backend is unavailable right now:
 * Redis for mids, a router for keys, Kafka's local queue for room and all) with a message in err,
 * and never calls cb. */
int logic_push_start(logic_push_t *p, logic_push_req_t *req, logic_push_cb cb, void *arg, char *err,
                     size_t errlen);

/* Announces that comet `server` (RPC address rpc_addr) has members of `room` (all validated by
 * the caller; borrowed): one JOIN envelope, keyed exactly as the room's pushes. cb (status and
 * message as for logic_push_start, data NULL) runs once Kafka acknowledged it or it failed.
 * Returns as logic_push_start. Not counted in pushes_accepted / pushes_failed. */
int logic_push_join(logic_push_t *p, const char *room, const char *server, const char *rpc_addr,
                    logic_push_cb cb, void *arg, char *err, size_t errlen);

/* 1 when the last Kafka delivery succeeded, -1 when it failed, 0 before the first one. */
int logic_push_kafka_state(const logic_push_t *p);

/* Its counters into the metrics object out: pushes_accepted (fully acknowledged by Kafka),
 * pushes_failed (an error after validation), kafka_produced (envelopes whose delivery report
 * said success), kafka_failed (envelopes refused at once or with a failed delivery report). */
void logic_push_metrics(const logic_push_t *p, json_t *out);

#endif
