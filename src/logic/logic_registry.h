/* logic_registry.h - the comet registry's Redis side in logic (the contract: registry.h), which
 * feeds the in-memory aggregate of logic_online.h (ctx->online).
 *
 * Each comet calls RenewOnline every few seconds: logic writes its registry entry and room counts
 * to Redis, so every logic and job sees them, and puts them into the aggregate at once. Every
 * registry.refresh the aggregate is reloaded from Redis (entries written through other logic
 * instances included); entries whose updated_ms is older than registry.ttl are dead: logic
 * deletes them, and unreadable ones too. Loop thread only.
 */
#ifndef LOGIC_REGISTRY_H
#define LOGIC_REGISTRY_H

#include "herald.pb-c.h"
#include "logic_ctx.h"

typedef struct logic_registry_s logic_registry_t;

/* Starts the periodic reload of ctx->online (the first one at once). ctx is borrowed and must
 * outlive the registry. Aborts on OOM. */
logic_registry_t *logic_registry_new(const logic_ctx_t *ctx);

/* Stops the reload (one waiting on Redis is abandoned: its replies are ignored) and frees r once
 * its timer is closed; then cb (may be NULL) runs. */
void logic_registry_close(logic_registry_t *r, void (*cb)(void *arg), void *arg);

/* One RenewOnline. Validates req (the entry as registry_entry_init, room ids proto_room_id_valid
 * and valid UTF-8, counts >= 0): HERALD_EINVAL otherwise, and nothing changes. Puts the comet
 * into the aggregate, then writes its entry and room counts in one MULTI/EXEC (the room hash
 * expires after registry.ttl). Returns 0 and calls cb(status) once Redis answered (0 or
 * HERALD_EUNAVAIL); or HERALD_EINVAL, or HERALD_EUNAVAIL (Redis not connected or stopping: the
 * aggregate is still updated) and never calls cb. */
int logic_registry_renew(logic_registry_t *r, const Herald__RenewOnlineReq *req,
                         void (*cb)(int status, void *arg), void *arg);

/* Forgets comet `server` (ServerDown): drops it from the aggregate and deletes its entry and
 * room counts from Redis (best effort: if Redis is down, the TTL and the reload remove them). */
void logic_registry_remove(logic_registry_t *r, const char *server);

#endif
