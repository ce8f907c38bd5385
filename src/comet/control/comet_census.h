/* comet_census.h - room member counts summed over every worker, gathered for RenewOnline and the
 * Rooms RPC.
 *
 * The main thread hands each worker a task; each worker adds its rooms to the census under the
 * census's lock; the last one posts the completion back to the main thread, which calls cb.
 */
#ifndef COMET_CENSUS_H
#define COMET_CENSUS_H

#include "comet_queue.h"
#include "comet_worker.h"

#include <stddef.h>
#include <stdint.h>

typedef struct comet_census_s comet_census_t;

/* Runs on the main thread with the finished census, which is freed when cb returns. */
typedef void (*comet_census_cb)(const comet_census_t *c, void *arg);

/* Main thread: asks workers[0..n) for their rooms; cb runs from main (the main thread's queue)
 * once every worker answered. Returns 0 (cb will run exactly once), or UV_E* when the census's
 * lock cannot be created (cb never runs). Aborts on OOM. */
int comet_census_start(comet_worker_t *workers, int n, comet_queue_t *main, comet_census_cb cb,
                       void *arg);

/* Rooms with at least one member on some worker. */
size_t comet_census_count(const comet_census_t *c);

/* Iteration: *pos = 0 first; returns the next room id and its member count, NULL at the end. */
const char *comet_census_next(const comet_census_t *c, uint32_t *pos, int64_t *count);

#endif
