/* comet_members.h - the members of one room over every worker, gathered for the RoomMembers RPC
 * (logic's GET /herald/v1/rooms/members, docs/im.md).
 *
 * The main thread hands each worker a task; each worker looks the room up in its own rooms (one
 * strmap lookup) and walks only that room's member list, keeping the `limit` smallest user ids
 * with their connection counts in a bounded mid_top (mid_top.h); the last worker posts the
 * completion back to the main thread, which merges the workers' parts and calls cb. Memory is
 * 2 x limit entries per worker whatever the room's size; time is linear in the room's members on
 * each worker.
 */
#ifndef COMET_MEMBERS_H
#define COMET_MEMBERS_H

#include "comet_queue.h"
#include "comet_worker.h"
#include "mid_top.h"

#include <stddef.h>
#include <stdint.h>

/* Largest limit a RoomMembers call may ask for. */
#define COMET_MEMBERS_MAX 1000

/* Runs on the main thread once every worker took its part. top is finished (mid_top_finish): the
 * limit smallest user ids of the room's authenticated connections, ascending, with their
 * connection counts, and top->more when there are other users; conns counts every
 * authenticated connection in the room. top is borrowed: freed when cb returns. */
typedef void (*comet_members_cb)(const mid_top_t *top, int64_t conns, void *arg);

/* Main thread: asks workers[0..n) for the members of room (len bytes, valid per
 * proto_room_id_valid; copied); limit is 1..COMET_MEMBERS_MAX. cb is called exactly once, later,
 * from main (the main thread's queue). Aborts on OOM. */
void comet_members_start(comet_worker_t *workers, int n, comet_queue_t *main, const char *room,
                         size_t len, size_t limit, comet_members_cb cb, void *arg);

#endif
