/* job_comets.h - herald-job's view of the live comets: the registry in Redis (registry.h), a
 * pool of RPC clients to them (rpc_pool.h), and each comet's set of rooms.
 *
 * Every comet.refresh the registry hash <prefix>comets is read (HGETALL). Entries older than
 * comet.ttl, or whose rpc address is not a usable host:port, are ignored. A comet seen for the
 * first time (or whose rpc address changed: it is a new comet then, with no rooms known) is put
 * into the pool; one that vanished or went stale is removed and its client closed. When Redis
 * cannot be read the current set is kept.
 *
 * Room sets. Room pushes go only to comets whose set holds the room. A comet announces a room
 * the moment it gets the room's first member (a JOIN envelope in the room's own Kafka stream,
 * job_comets_join): the room enters the set before job reads any push of that room produced
 * after it, so a push never overtakes a join (docs/delivery.md "Rooms: no window after a join").
 * A JOIN from a comet that the registry does not list yet (it just started) adds it
 * provisionally at the rpc address the JOIN carries, kept for comet.ttl unless the registry
 * confirms it. The census repairs and removes: every room.refresh each connected comet is asked
 * for its rooms (Comet Rooms RPC), and the set becomes the answer, except that a room announced
 * after that census was sent stays (each Rooms call and each JOIN take the next epoch, and a
 * room keeps the epoch of its last JOIN), so a stale answer cannot undo a join. A new comet is
 * asked as soon as it is connected.
 *
 * Ready: once the registry was read and every comet in it answered Rooms (or comet.rpc_timeout
 * passed since the read), the ready callback runs, once: herald-job holds the Kafka consumer
 * until then, so messages redelivered after a restart are not dropped for want of comets.
 *
 * A job_comet_t is the pool peer's data and lives as long as the peer: the pool holds one
 * reference while the comet is live, and each call in flight to it holds one (job_comet_ref /
 * unref), so a comet that vanishes mid-call stays valid, gone, until its last call is over.
 * Everything runs on one loop thread.
 */
#ifndef JOB_COMETS_H
#define JOB_COMETS_H

#include "job_conf.h"
#include "job_room.h"
#include "redis.h"
#include "redis_keys.h"
#include "registry.h"
#include "rpc.h"
#include "rpc_pool.h"
#include "strmap.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

typedef struct job_comets_s job_comets_t;

/* One comet: job's state beside its pool peer. Freed with the peer's last reference. */
typedef struct job_comet_s {
    rpc_peer_t *peer;    /* id, client, references */
    strmap_t *rooms;     /* rooms with members (items owned, private to job_comets.c), from the
                          * last Rooms answer and later JOINs; NULL before either */
    job_room_t *batches; /* room batching toward this comet (job_room.h) */
    int rooms_polling;   /* a Rooms call is in flight */
    uint64_t rooms_due;  /* uv_now() ms of the next Rooms poll; 0: as soon as connected */
    uint64_t seen;       /* registry generation that last listed it */
    uint64_t rooms_sent; /* epoch of the Rooms call in flight or last answered */
    uint64_t provisional_until; /* uv_now() ms: kept until then without a registry entry (added
                                 * by a JOIN); 0 once the registry listed it */
    int was_connected;          /* its client was seen connected at least once */
    job_comets_t *owner;
} job_comet_t;

/* Caller's storage; valid until the loop has ended. Fields are private to job_comets.c. */
struct job_comets_s {
    uv_loop_t *loop;
    redis_t *redis;         /* borrowed */
    const job_conf_t *conf; /* borrowed */
    char registry_key[REDIS_KEY_MAX];
    rpc_pool_t *pool; /* the live comets; each peer's data is its job_comet_t */
    uv_timer_t refresh_timer, rooms_timer;
    uint64_t generation;
    uint64_t epoch;         /* orders Rooms calls and JOINs (see "Room sets") */
    int registry_read;      /* the registry was read at least once */
    uint64_t first_read_ms; /* uv_now() of that first read */
    int refreshing;         /* an HGETALL is in flight */
    int ready;
    void (*ready_cb)(void *arg);
    void *ready_arg;
    int closing;
    int open; /* timers and the pool not yet closed */
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* Prepares the registry; `redis` and `conf` must outlive it (conf->redis.prefix at most
 * REDIS_KEY_PREFIX_MAX bytes). Call job_comets_start to begin. */
void job_comets_init(job_comets_t *cs, uv_loop_t *loop, redis_t *redis, const job_conf_t *conf);

/* Reads the registry now and then every comet.refresh; polls rooms every room.refresh. ready_cb
 * (may be NULL) runs once, when the comets are known (see above). */
void job_comets_start(job_comets_t *cs, void (*ready_cb)(void *arg), void *arg);

/* 1 once the comets are known (the ready callback has run). */
int job_comets_ready(const job_comets_t *cs);

/* Live comets, in no particular order. The order changes on refresh: do not keep indexes. */
size_t job_comets_count(const job_comets_t *cs);
job_comet_t *job_comets_at(const job_comets_t *cs, size_t i);
/* The live comet with this id, or NULL. */
job_comet_t *job_comets_find(const job_comets_t *cs, const char *id);

/* "comets" (live) and "comets_connected" (RPC connection up) into the JSON object out. */
void job_comets_health(const job_comets_t *cs, json_t *out);

/* The comets known and connected, as Prometheus gauges (metrics.h). */
void job_comets_prometheus(const job_comets_t *cs, buf_t *out);

/* Nonzero when the comet's last Rooms answer listed `room`. */
int job_comet_has_room(const job_comet_t *c, const char *room);

/* A JOIN envelope: comet id (at rpc_addr, may be NULL or "") has members of room. Adds the room
 * to its set at once, and the comet provisionally when job does not know it (see above).
 * Returns 0; HERALD_ENOTFOUND when the comet is unknown and rpc_addr is not a host:port;
 * UV_ECANCELED while closing. */
int job_comets_join(job_comets_t *cs, const char *id, const char *rpc_addr, const char *room);

/* 1 while job has never seen its client connected (just added): a call that finds it not
 * connected is retried rather than dropped. */
int job_comet_connecting(job_comet_t *c);

const char *job_comet_id(const job_comet_t *c);
/* 1 once removed from the registry: start no new call. */
int job_comet_gone(const job_comet_t *c);
void job_comet_ref(job_comet_t *c);
void job_comet_unref(job_comet_t *c);

/* Whether a registry entry names a comet job can deliver to, at now_wall_ms (unix ms): 0;
 * HERALD_EINVAL when its rpc address is not a host:port with a port above 0; HERALD_ENOTFOUND
 * when it is older than ttl_ms (registry_entry_stale). */
int job_comets_entry_check(const registry_entry_t *e, int64_t now_wall_ms, int64_t ttl_ms);

/* Stops the timers and removes every comet (their calls in flight fail with UV_ECANCELED). cb
 * (may be NULL) runs when every handle and client is closed and every comet freed. Call once. */
void job_comets_close(job_comets_t *cs, void (*cb)(void *arg), void *arg);

#endif
