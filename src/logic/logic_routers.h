/* logic_routers.h - router discovery: the hash ring follows the router registry
 * (router_entry.h; docs/internals.md "Routers: discovery, epoch and replay").
 *
 * Every router.refresh logic reads <prefix>routers. The ring is router.addrs (the static list,
 * always in it) together with every entry written within router.ttl; entries older than that are
 * deleted. When the set changes, logic_router_set rebuilds the ring (clients of new routers are
 * opened, those of routers gone are closed) and logic_replay_ring_changed has the comets place
 * the users that moved on their new owners. A failed read keeps the ring as it is. Loop thread
 * only.
 */
#ifndef LOGIC_ROUTERS_H
#define LOGIC_ROUTERS_H

#include "logic_ctx.h"

typedef struct logic_routers_s logic_routers_t;

/* Starts the periodic read (the first at once). ctx is borrowed and must outlive rs. */
logic_routers_t *logic_routers_new(const logic_ctx_t *ctx);

/* Stops reading (a read waiting on Redis is abandoned), frees rs once its timer is closed, then
 * cb (may be NULL). */
void logic_routers_close(logic_routers_t *rs, void (*cb)(void *arg), void *arg);

#endif
