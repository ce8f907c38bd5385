/* comet_fanout.h - writing one shared payload to many connections of a worker, cut into per-tick
 * batches (STYLE.md: "big fan-outs are cut into per-tick batches").
 *
 * A fan-out walks a list of connections (a room's members or the worker's authenticated list)
 * with a cursor and an end mark fixed at its start: connections that join later are not visited,
 * and connections that leave while it runs are skipped (comet_fanout_unlink moves the cursor and
 * end past them). Unpaced fan-outs run in FIFO order, `batch` connections per loop
 * iteration, the first batch at once, so messages to one room keep their order. Paced fan-outs
 * (Broadcast with a speed) run from a timer at their own rate, in a separate FIFO.
 *
 * The payload is a buf_shared_t per transport, encoded once by the caller; every socket that
 * cannot take it at once keeps a reference until its write completes.
 *
 * When the worker falls behind, a room message whose room already has a fan-out queued that has
 * not begun joins it instead of queueing its own: its payload is appended, and each member gets
 * both in one write, up to COMET_FANOUT_MERGE_MAX bytes. So a worker short of CPU writes fewer,
 * larger batches instead of building an ever longer queue (bench/RESULTS.md §2: a write costs
 * the same whatever it carries). Order is kept: the queued fan-out is the room's newest.
 *
 * accepted_us (the push's Proto.accepted_us, 0 unknown) and the fan-out's start feed the
 * worker's push_latency and fanout_time histograms when its last connection was written; a
 * merged fan-out keeps the oldest accept time; a cancelled one records nothing. Worker thread
 * only.
 */
#ifndef COMET_FANOUT_H
#define COMET_FANOUT_H

#include "buf.h"
#include "comet_room.h"
#include "comet_stats.h"
#include "list.h"

#include <stdint.h>
#include <uv.h>

/* Largest payload a merged fan-out grows to: each append copies it, and each member must take it
 * in one go, far below protocol.max_pending_bytes. */
#define COMET_FANOUT_MERGE_MAX (64u * 1024)
#define COMET_FANOUT_TICK_MS 100

typedef struct comet_fanout_job_s comet_fanout_job_t;

typedef struct comet_fanout_s {
    uint32_t batch;       /* connections visited per loop iteration */
    comet_rooms_t *rooms; /* the worker's (room holds), borrowed */
    comet_stats_t *stats; /* the worker's counters, borrowed */
    uv_idle_t idle;       /* runs unpaced batches while any is queued */
    uv_timer_t tick;      /* runs paced batches while any is queued */
    comet_fanout_job_t *now_head, *now_tail;
    comet_fanout_job_t *paced_head, *paced_tail;
} comet_fanout_t;

/* batch: connections visited per loop iteration (and per tick of a paced fan-out); rooms and
 * stats are the worker's, borrowed. Returns 0 or UV_E* (the worker's teardown closes what was
 * opened). */
int comet_fanout_init(comet_fanout_t *f, uv_loop_t *loop, uint32_t batch, comet_rooms_t *rooms,
                      comet_stats_t *stats);

/* A reload's new batch (at least 1), for the batches that run from now on. */
void comet_fanout_set_batch(comet_fanout_t *f, uint32_t batch);

/* Writes tcp to the TCP members and ws to the WebSocket members of room, ignoring accepts (room
 * pushes always reach). References are taken on both buffers and a hold on the room, or the
 * bytes are appended to a queued fan-out of the room (see above). Returns the number of members
 * targeted. */
uint32_t comet_fanout_room(comet_fanout_t *f, comet_room_t *room, buf_shared_t *tcp,
                           buf_shared_t *ws, uint32_t packets, uint64_t accepted_us);

/* Writes to every authenticated connection of the worker (list `all`, linked through
 * comet_channel_t.all_link) that accepts op; rate = connections written per second (0 = no limit).
 * Returns the number of connections targeted before the accepts filter. */
uint32_t comet_fanout_all(comet_fanout_t *f, list_link_t *all, uint32_t count, int32_t op,
                          buf_shared_t *tcp, buf_shared_t *ws, uint32_t rate, uint64_t accepted_us);

/* Records a push written to its last connection in stats->push_latency: the time since
 * accepted_us (logic's metrics_wall_us() at accept; 0 = unknown, nothing recorded). A clock
 * behind logic's counts as 0. */
void comet_fanout_push_latency(comet_stats_t *stats, uint64_t accepted_us);

/* Must be called before a room_link or all_link is unlinked from its list. */
void comet_fanout_unlink(comet_fanout_t *f, list_link_t *link);

/* Drops every fan-out in progress (references and room holds released). */
void comet_fanout_cancel(comet_fanout_t *f);

/* Cancels, then closes the handles. */
void comet_fanout_close(comet_fanout_t *f);

#endif
