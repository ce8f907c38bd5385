/* job_room.h - room batching for one comet (DESIGN.md §2, §9). Pure logic: no loop, no RPC.
 *
 * Per (comet, room) at most one BroadcastRoom call is in flight. A message offered to an idle
 * room becomes a batch of one at once (no added delay); messages offered while that call is in
 * flight queue up, and when it finishes they leave together as the next call (the comet writes
 * them as one op 9 batch), at most batch_max messages and batch_bytes bytes per call. So an idle
 * room sends at once and a busy room batches by itself. "The call is over" is the caller's to
 * say: herald-job hands a batch back only once room.linger has passed since it was sent
 * (job_deliver.c), which keeps the room busy a little longer. Order within a room is kept:
 * batches go out one after another, each in arrival order.
 *
 * Items are the caller's opaque pointers (herald-job passes its message records); this module
 * never looks inside them. Single-threaded.
 */
#ifndef JOB_ROOM_H
#define JOB_ROOM_H

#include <stddef.h>

typedef struct job_room_s job_room_t;

/* The messages of one call, for one room. Owned by the job_room_t: valid until it is handed back
 * to job_room_next(). */
typedef struct job_room_batch_s {
    const char *room; /* borrowed from the job_room_t */
    void **items;     /* in arrival order */
    size_t n;         /* >= 1 */
    size_t bytes;     /* sum of the items' sizes */
} job_room_batch_t;

/* One comet's batching state. batch_max >= 1 messages and batch_bytes per call (a single message
 * larger than batch_bytes still goes, alone). Aborts on OOM. */
job_room_t *job_room_new(size_t batch_max, size_t batch_bytes);

/* Frees the state. Every batch must have been handed back first (job_room_active() == 0);
 * NULL is a no-op. */
void job_room_free(job_room_t *r);

/* Offers one message of `bytes` bytes for `room`. When the room has no call in flight, returns a
 * batch holding just this item: the caller sends it now and hands it back to job_room_next()
 * when the call is over. Otherwise queues the item behind the call in flight and returns NULL. */
job_room_batch_t *job_room_offer(job_room_t *r, const char *room, void *item, size_t bytes);

/* Ends the call of batch b (the caller is done with b's items). Returns the next batch for the
 * same room — the oldest queued items in order, bounded by batch_max / batch_bytes, at least one —
 * which the caller must send the same way; or NULL when nothing is queued: the room is idle again.
 * b is invalid afterwards (the returned batch may reuse its storage). */
job_room_batch_t *job_room_next(job_room_t *r, job_room_batch_t *b);

/* Rooms with a call in flight, and items queued behind them. */
size_t job_room_active(const job_room_t *r);
size_t job_room_queued(const job_room_t *r);

#endif
