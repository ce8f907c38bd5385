/* job_comets.h - herald-job's view of the live comets: the registry in Redis, one RPC client per
 * comet, and each comet's set of rooms.
 *
 * Every comet.refresh the registry hash <prefix>comets is read (HGETALL); a value is JSON
 * {"id","rpc","tcp","ws","weight","conns","updated_ms"} written by logic on each comet
 * RenewOnline. Entries whose updated_ms is older than comet.ttl are ignored. A comet seen for the
 * first time (or whose rpc address changed) gets a new rpc_client_t; one that vanished or went
 * stale is removed and its client closed. When Redis cannot be read the current set is kept.
 *
 * Every room.refresh each connected comet is asked for its rooms (Comet Rooms RPC) and the set is
 * replaced by the answer; a new comet is asked as soon as it is connected. Room pushes go only to
 * comets whose set holds the room, so the first member of a room on a comet can miss room pushes
 * sent before the next poll (at most room.refresh plus one RPC round trip); until a comet's first
 * answer, it gets no room pushes.
 *
 * Ready: once the registry was read and every comet in it answered Rooms (or comet.rpc_timeout
 * passed since the read), the ready callback runs, once: herald-job holds the Kafka consumer
 * until then, so messages redelivered after a restart are not dropped for want of comets.
 *
 * Comets are reference counted: the registry holds one reference while the comet is live, and
 * each call in flight to it holds one (job_comet_ref/unref), so a comet that vanishes mid-call
 * stays valid, marked `gone`, until its last call is over. Everything runs on one loop thread.
 */
#ifndef JOB_COMETS_H
#define JOB_COMETS_H

#include "job_conf.h"
#include "job_room.h"
#include "strmap.h"
#include "redis.h"
#include "rpc.h"

#include <stdint.h>
#include <uv.h>

typedef struct job_comets_s job_comets_t;

/* One comet. Freed when the last reference is dropped. */
typedef struct job_comet_s {
    char *id;
    char *rpc_addr;       /* host:port */
    rpc_client_t *client; /* NULL once gone */
    strmap_t *rooms;      /* rooms with members (items: owned strings), from the last Rooms
                           * answer; NULL before it */
    job_room_t *batches;  /* room batching toward this comet (job_room.h) */
    int gone;             /* removed from the registry: start no new call */
    int refs;
    int rooms_polling;  /* a Rooms call is in flight */
    uint64_t rooms_due; /* uv_now() ms of the next Rooms poll; 0: as soon as connected */
    uint64_t seen;      /* registry generation that last listed it */
    job_comets_t *owner;
} job_comet_t;

/* Caller's storage; valid until the loop has ended. Fields are private to job_comets.c. */
struct job_comets_s {
    uv_loop_t *loop;
    redis_t *redis;         /* borrowed */
    const job_conf_t *conf; /* borrowed */
    char *registry_key;     /* <prefix>comets */
    job_comet_t **live;
    size_t n, cap;
    uv_timer_t refresh_timer, rooms_timer;
    uint64_t generation;
    int registry_read;      /* the registry was read at least once */
    uint64_t first_read_ms; /* uv_now() of that first read */
    int refreshing;         /* an HGETALL is in flight */
    int ready;
    void (*ready_cb)(void *arg);
    void *ready_arg;
    int closing;
    int open; /* timers and clients not yet closed */
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* Prepares the registry; `redis` and `conf` must outlive it. Call job_comets_start to begin. */
void job_comets_init(job_comets_t *cs, uv_loop_t *loop, redis_t *redis, const job_conf_t *conf);

/* Reads the registry now and then every comet.refresh; polls rooms every room.refresh. ready_cb
 * (may be NULL) runs once, when the comets are known (see above). */
void job_comets_start(job_comets_t *cs, void (*ready_cb)(void *arg), void *arg);

/* Live comets, in no particular order. The array changes on refresh: do not keep indexes. */
size_t job_comets_count(const job_comets_t *cs);
job_comet_t *job_comets_at(const job_comets_t *cs, size_t i);
/* The live comet with this id, or NULL. */
job_comet_t *job_comets_find(const job_comets_t *cs, const char *id);

/* Nonzero when the comet's last Rooms answer listed `room`. */
int job_comet_has_room(const job_comet_t *c, const char *room);

void job_comet_ref(job_comet_t *c);
void job_comet_unref(job_comet_t *c);

/* Parses one registry value. Returns 0 and sets *rpc_addr (heap, host:port) for a usable entry;
 * HERALD_EINVAL when the JSON or its "rpc" address is malformed; HERALD_ENOTFOUND when
 * "updated_ms" is missing or older than ttl_ms at now_wall_ms (unix ms). */
int job_comets_parse_entry(const char *json, size_t len, int64_t now_wall_ms, int64_t ttl_ms,
                           char **rpc_addr);

/* Stops the timers and removes every comet (their calls in flight fail with UV_ECANCELED). cb
 * (may be NULL) runs when every handle and client is closed. Call once. */
void job_comets_close(job_comets_t *cs, void (*cb)(void *arg), void *arg);

#endif
