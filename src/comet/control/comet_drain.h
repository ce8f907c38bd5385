/* comet_drain.h - the drain that SIGTERM starts before the stop (docs/operations.md, "Rolling
 * restart"): the clients of a comet that is going away move to the other comets spread over
 * server.drain_time, instead of all reconnecting in the same second.
 *
 * Sequence (comet_drain_start, main thread):
 *   1. /ready turns 503 and RenewOnline reports weight 0 from now on (sent at once), so logic's
 *      /goim/nodes/weighted and its IM login stop offering this comet;
 *   2. every worker closes its listeners and takes its authenticated connections in
 *      registration order; the i-th of them gets op 6 {"reason":"reconnect","after_ms":N} with
 *      N its slot (comet_drain_slot_ms), and is closed (finished: queued bytes go out, then FIN)
 *      when N has passed, unless it left first. Pushes keep flowing to it until then: the RPC
 *      service and the placements stay;
 *   3. once every worker has closed its last slot, comet_server_close runs the regular stop
 *      (what is still connected, e.g. a client whose auth was in flight, is kicked with
 *      {"reason":"shutdown"}; ServerDown removes the registry entry and the placements).
 * With drain_time 0, or nothing started, step 3 runs at once.
 *
 * Notices go out in batches of server.fanout_batch per worker loop iteration (a big comet is
 * not blocked while it writes them); a late notice carries what is left of its slot.
 */
#ifndef COMET_DRAIN_H
#define COMET_DRAIN_H

#include "comet_server.h"

#include <stdint.h>

/* The op 6 reason of a drain notice. */
#define COMET_DRAIN_REASON "reconnect"

/* Begins the drain of s (above), then the stop: comet_server_close(s, cb, arg), which frees s
 * and calls cb(arg) (cb may be NULL). Call once, on the main thread, instead of
 * comet_server_close. */
void comet_drain_start(comet_server_t *s, void (*cb)(void *arg), void *arg);

/* Pure: the ms after the drain began at which connection i (0 <= i < n) of worker w (0 <= w <
 * nworkers) is told to go and closed. The n * nworkers slots split [0, drain_ms) evenly and the
 * workers interleave: slot (i * nworkers + w) of n * nworkers, rounded down. 0 when n or
 * drain_ms is 0. */
uint64_t comet_drain_slot_ms(uint64_t i, uint64_t n, int w, int nworkers, uint64_t drain_ms);

/* Writes the notice body {"reason":"reconnect","after_ms":N} into out (cap >= 64). Returns its
 * length. */
size_t comet_drain_notice_body(char *out, size_t cap, uint64_t after_ms);

#endif
