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
 *   all   -> one BROADCAST envelope
 * The callback runs once every envelope got its Kafka delivery report (or something failed).
 * Runs on the loop thread only.
 */
#ifndef LOGIC_PUSH_H
#define LOGIC_PUSH_H

#include "logic_push_req.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct logic_server_s;

/* Outcome of a push. status 0: every envelope was acknowledged by Kafka; `data` is the reply data
 * for the HTTP API (MIDS: [{"mid","seq","online"}]; NULL for the other kinds), a reference the
 * callback owns (json_decref it or hand it on). status < 0: HERALD_EUNAVAIL (Redis, a router or
 * Kafka unavailable or failing) or HERALD_EINTERNAL; `message` says what failed (borrowed,
 * valid during the call) and data is NULL. A MIDS push that fails after the inbox store stays
 * stored (the message says so): its users get it on their next connect. */
typedef void (*logic_push_cb)(int status, const char *message, json_t *data, void *arg);

/* Starts a push; takes over req's contents (also on failure). Returns 0 and calls cb exactly once
 * later; or returns HERALD_EUNAVAIL (stopping, or the first backend is unavailable right now:
 * Redis for mids, a router for keys, Kafka's local queue for room and all) with a message in err,
 * and never calls cb. */
int logic_push_start(struct logic_server_s *s, logic_push_req_t *req, logic_push_cb cb, void *arg,
                     char *err, size_t errlen);

#endif
