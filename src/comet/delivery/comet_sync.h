/* comet_sync.h - a connection's place in its user's stream of sequence numbers (docs/delivery.md):
 * every user push reaches it once, in order, with no gap.
 *
 * ch->last_seq is the user's number the channel is at: everything up to it was written (or
 * skipped because its op is not in the accepts). A user push with seq <= last_seq is a duplicate
 * (Kafka redelivery, job retry, a push that was also in the backlog) and is dropped; seq ==
 * last_seq + 1 is written; a higher seq means pushes are missing (reordered or lost on the way),
 * and the connection fetches its user's inbox from logic after last_seq (RPC Fetch) and writes
 * the range in order, the live one included. While a Fetch is in flight (ch->upper set) live user
 * pushes are not written: the Fetch, or the next one it chains, covers them. A Fetch that keeps
 * failing, or that finds logic's counter behind the connection (Redis lost its data), kicks the
 * connection with {"reason":"resync"}: the client reconnects with its last_seq.
 *
 * Worker thread only.
 */
#ifndef COMET_SYNC_H
#define COMET_SYNC_H

#include "comet_channel.h"

#include <stddef.h>
#include <stdint.h>

/* Called once the auth reply and the first backlog page are written. newest is the user's
 * newest seq in the reply (ConnectReply.last_seq): an empty backlog means the channel starts
 * there; a backlog that stopped short of it continues with Fetches. `missed` (a user push may
 * have been sent to ch's key before it registered: comet_keys_missed) fetches up to the newest.
 * The Fetch in flight is kept in ch->upper. */
void comet_sync_begin(comet_channel_t *ch, uint64_t newest, int missed);

/* The user's newest seq is at least newest (logic's answer to a replay, comet_replay.h): when
 * ch (AUTHED) is behind it, it fetches up to there now, as for a gap (a Fetch in flight is told
 * to go that far). Returns 1 when ch was behind, else 0. */
int comet_sync_catch_up(comet_channel_t *ch, uint64_t newest);

/* A live user push with sequence number seq (> 0) for ch (AUTHED). Returns 1 when the caller
 * writes it (ch->last_seq is then seq), 0 when it must not (duplicate, or a Fetch covers it). */
int comet_sync_push(comet_channel_t *ch, uint64_t seq);

#endif
