/* comet_online.h - online counts per room summed over all comets, as last returned by logic's
 * RenewOnline; the op 3 heartbeat reply reads them.
 *
 * Immutable once built, reference-counted (atomic), shared read-only by every worker: the main
 * thread builds a new table on each RenewOnline reply and hands each worker a reference through
 * its queue; a worker drops its old table when it takes the new one.
 */
#ifndef COMET_ONLINE_H
#define COMET_ONLINE_H

#include "herald.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef struct comet_online_s comet_online_t;

/* Builds a table from a RenewOnlineReply's rooms (copied), with one reference. Entries with an
 * empty id are skipped; a repeated id keeps the last count. Aborts on OOM. */
comet_online_t *comet_online_new(Herald__RoomCount *const *rooms, size_t n);
comet_online_t *comet_online_ref(comet_online_t *o);
/* NULL is a no-op. */
void comet_online_unref(comet_online_t *o);

/* Count of room id (len bytes), 0 when unknown or when o is NULL. Any thread. */
int32_t comet_online_get(const comet_online_t *o, const char *id, size_t len);

#endif
