/* router_rpc.h - the Router RPC service (rpc_methods.h RPC_ROUTER_*) over a router_table_t.
 *
 * The handlers answer at once (the table is in memory), on the loop thread that owns the rpc
 * server and the table. Requests are validated: a missing placement, an empty or over-long key or
 * server id, a Get over ROUTER_RPC_GET_MAX mids or a PutBatch over RPC_REPLAY_BATCH_MAX
 * placements is answered with HERALD_EINVAL. A PutBatch with an invalid placement puts none.
 */
#ifndef ROUTER_RPC_H
#define ROUTER_RPC_H

#include "router_table.h"
#include "rpc.h"

#include <stdint.h>

#define ROUTER_RPC_GET_MAX 100000    /* mids in one Get */
#define ROUTER_RPC_LIST_DEFAULT 1000 /* List limit when the request gives none */
#define ROUTER_RPC_LIST_MAX 10000    /* larger List limits are cut to this */

/* Counters shown by the admin endpoint. */
typedef struct router_stats_s {
    uint64_t puts, dels, renews, gets, lists, evicted, rejected, expired;
    uint64_t put_batches, batch_puts; /* PutBatch calls, and the placements they put */
} router_stats_t;

/* The argument of every handler. Owned by the caller (router_server_t); `table` is borrowed and
 * must outlive the rpc server. now_ms is the clock given to the table (daemon_now_ms in the
 * daemon). epoch identifies this instance of the router (router_rpc_epoch_new at start): logic
 * asks for it (Info) whenever its connection comes up, and a new one means an empty table that
 * the comets must fill again (docs/internals.md "Routers: epoch and replay"). */
typedef struct router_rpc_s {
    router_table_t *table;
    uint64_t (*now_ms)(void);
    uint64_t epoch;
    router_stats_t stats;
} router_rpc_t;

/* A random nonzero epoch (libsodium's generator). */
uint64_t router_rpc_epoch_new(void);

/* The method table to pass to rpc_server_new() with a router_rpc_t * as arg. Static storage. */
const rpc_method_t *router_rpc_methods(size_t *n);

#endif
