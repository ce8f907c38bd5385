/* logic_online.h - the online aggregate: which comets are alive, their room member counts and
 * the sums over all of them, in memory.
 *
 * Fed by logic_registry.c (each comet's RenewOnline at once; a full reload from Redis every
 * registry.refresh). All queries answer from memory and never wait on Redis. Loop thread only.
 */
#ifndef LOGIC_ONLINE_H
#define LOGIC_ONLINE_H

#include "herald.pb-c.h"
#include "logic_server.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One comet of the aggregate. Heap, owned by the aggregate (logic_online_comet_free). */
typedef struct logic_online_comet_s {
    char *id, *rpc, *tcp, *ws; /* never NULL ("" when unknown) */
    int64_t weight;
    int64_t conns;
    int64_t updated_ms; /* wall clock of its last RenewOnline, as written in the registry */
    json_t *rooms;      /* object: room id -> integer member count (> 0) */
    uint64_t renew_gen; /* logic_online_t.gen when renewed through this logic; 0 if loaded */
} logic_online_comet_t;

struct logic_registry_load_s;

/* Owned by logic_server; freed by logic_online_close. The Redis half (logic_registry.c) shares
 * these fields; nothing else touches them. */
typedef struct logic_online_s {
    logic_server_t *s;
    logic_online_comet_t **comets;
    size_t n, cap;
    json_t *totals;                     /* room id -> sum over comets */
    uint64_t gen;                       /* counts local renews, to order them against reloads */
    uv_timer_t timer;                   /* reload period */
    struct logic_registry_load_s *load; /* reload waiting on Redis, or NULL */
    void (*close_cb)(void *arg);
    void *close_arg;
} logic_online_t;

/* Creates the aggregate and starts the periodic reload (first one at once). Aborts on OOM. */
logic_online_t *logic_online_new(logic_server_t *s);

/* Stops the reload (a reload waiting on Redis is abandoned: its replies are ignored), frees o
 * once the timer is closed, then calls cb (may be NULL). */
void logic_online_close(logic_online_t *o, void (*cb)(void *arg), void *arg);

/* Aggregate updates. put takes ownership of c and replaces the comet with the same id; drop
 * forgets comet id; replace swaps in a reloaded list (takes loaded[0..n-1] and the array),
 * keeping comets renewed locally after generation since_gen. */
void logic_online_put(logic_online_t *o, logic_online_comet_t *c);
void logic_online_drop(logic_online_t *o, const char *id);
void logic_online_replace(logic_online_t *o, logic_online_comet_t **loaded, size_t n,
                          uint64_t since_gen);
void logic_online_comet_free(logic_online_comet_t *c);

/* Members of room_id summed over every live comet (0 when unknown). */
int64_t logic_online_room_count(const logic_online_t *o, const char *room_id);

/* Number of live comets known. */
size_t logic_online_comets(const logic_online_t *o);

/* A registry entry as JSON {"id","rpc","tcp","ws","weight","conns","updated_ms"} (new ref). */
json_t *logic_online_comet_json(const logic_online_comet_t *c);

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
