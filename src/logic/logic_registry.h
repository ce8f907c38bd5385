/* logic_registry.h - the comet registry in Redis (docs/internals.md: keys `comets` and
 * `online:<server>`), feeding the in-memory aggregate of logic_online.h.
 *
 * Each comet calls RenewOnline every few seconds: logic writes its registry entry and room counts
 * to Redis, so every logic and job sees them, and puts them into the aggregate at once. Every
 * registry.refresh the aggregate is reloaded from Redis (entries written through other logic
 * instances included); entries whose updated_ms is older than registry.ttl are dead: logic
 * deletes them. Loop thread only.
 */
#ifndef LOGIC_REGISTRY_H
#define LOGIC_REGISTRY_H

#include "herald.pb-c.h"
#include "logic_online.h"

#define LOGIC_REGISTRY_MAX_ID 128   /* bytes of a comet server id */
#define LOGIC_REGISTRY_MAX_ADDR 256 /* bytes of an advertised address */

/* Starts the periodic reload on o->timer (the first one at once) / stops it and abandons a
 * reload waiting on Redis. Called by logic_online_new / logic_online_close. */
void logic_registry_start(logic_online_t *o);
void logic_registry_stop(logic_online_t *o);

/* Checks a server id: 1..LOGIC_REGISTRY_MAX_ID printable ASCII bytes without space. 0 or
 * HERALD_EINVAL. */
int logic_registry_id_ok(const char *id);

/* One RenewOnline. Validates req (server id, addresses bounded, weight and counts >= 0, room ids
 * 1..LOGIC_PARAMS_MAX_ROOM bytes): HERALD_EINVAL otherwise, and nothing changes. Puts the comet
 * into the aggregate, then writes its entry and room counts in one MULTI/EXEC (the room hash
 * expires after registry.ttl). Returns 0 and calls cb(status) once Redis answered (0 or
 * HERALD_EUNAVAIL); or HERALD_EINVAL, or HERALD_EUNAVAIL (Redis not connected: the aggregate is
 * still updated) and never calls cb. */
int logic_registry_renew(logic_online_t *o, const Herald__RenewOnlineReq *req,
                         void (*cb)(int status, void *arg), void *arg);

/* Forgets comet `server` (ServerDown): drops it from the aggregate and deletes its entry and
 * room counts from Redis (best effort: if Redis is down, the TTL and the reload remove them). */
void logic_registry_remove(logic_online_t *o, const char *server);

#endif
