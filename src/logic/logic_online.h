/* logic_online.h - the online aggregate: which comets are alive, their room member counts and
 * the sums over all of them, in memory.
 *
 * Fed by logic_registry.c (each comet's RenewOnline at once; a full reload from Redis every
 * registry.refresh). All queries answer from memory and never wait. Pure data structure: no
 * loop, no I/O. Loop thread only (not locked).
 */
#ifndef LOGIC_ONLINE_H
#define LOGIC_ONLINE_H

#include "registry.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One comet of the aggregate. Heap, owned by the aggregate once put (logic_online_comet_free). */
typedef struct logic_online_comet_s {
    registry_entry_t e; /* id, addresses, weight, conns, updated_ms: its registry entry */
    json_t *rooms;      /* object: room id -> integer member count (> 0) */
    uint64_t renew_gen; /* generation of its last local renew (logic_online_renew); 0 if loaded */
} logic_online_comet_t;

typedef struct logic_online_s logic_online_t;

/* An empty aggregate / frees it and every comet (NULL is a no-op). Aborts on OOM. */
logic_online_t *logic_online_new(void);
void logic_online_free(logic_online_t *o);

/* A comet for entry e with no rooms yet (heap; rooms is an empty object). */
logic_online_comet_t *logic_online_comet_new(const registry_entry_t *e);
void logic_online_comet_free(logic_online_comet_t *c);

/* Updates. renew takes ownership of c (a comet renewed through this logic: it gets the next
 * generation) and replaces the comet with the same id; drop forgets comet id; replace swaps in
 * a reloaded list (takes loaded[0..n-1] and the array), keeping the comets renewed locally after
 * generation since_gen (logic_online_gen() when the reload started). */
void logic_online_renew(logic_online_t *o, logic_online_comet_t *c);
void logic_online_drop(logic_online_t *o, const char *id);
void logic_online_replace(logic_online_t *o, logic_online_comet_t **loaded, size_t n,
                          uint64_t since_gen);
uint64_t logic_online_gen(const logic_online_t *o);

/* The live comets, in no particular order (updates change it: do not keep indexes). */
size_t logic_online_count(const logic_online_t *o);
const logic_online_comet_t *logic_online_at(const logic_online_t *o, size_t i);
/* Comet id, or NULL. */
const logic_online_comet_t *logic_online_find(const logic_online_t *o, const char *id);

/* Members of room_id summed over every live comet (0 when unknown). */
int64_t logic_online_room_count(const logic_online_t *o, const char *room_id);

/* JSON for the HTTP API (new references, goim's shapes):
 *   top:       [{"room_id":"1000","count":3},...] rooms "type://..." by count, descending, <= limit
 *   rooms:     {"1000":3,"1001":0} for type://<room> of each room asked
 *   total:     {"conn_count":N,"ip_count":0}
 *   instances: [{"id","rpc","tcp","ws","weight","conns","updated_ms"},...]
 *   weighted:  goim's NodesReply (see logic_online.c), nodes best first */
json_t *logic_online_top(const logic_online_t *o, const char *type, size_t limit);
json_t *logic_online_rooms(const logic_online_t *o, const char *type, const char *const *rooms,
                           size_t n);
json_t *logic_online_total(const logic_online_t *o);
json_t *logic_online_instances(const logic_online_t *o);
json_t *logic_online_weighted(const logic_online_t *o, const char *platform, int64_t heartbeat_ms);

#endif
