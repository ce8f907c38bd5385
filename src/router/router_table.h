/* router_table.h - herald-router's placement table: user id (mid) -> the user's connections
 * (key, comet server id, expiry), held in memory.
 *
 * A pure data structure: no loop and no clock of its own. Every call that depends on time takes
 * `now_ms` (any monotonic millisecond clock), so tests inject the time. Single-threaded: the
 * router's loop thread owns the table.
 *
 * Entries expire `ttl_ms` after their last put or renew. Expired entries are invisible at once
 * (get, list and renew skip them); router_table_sweep() reclaims their memory a little at a time,
 * and until then they still count in router_table_users()/router_table_conns().
 */
#ifndef ROUTER_TABLE_H
#define ROUTER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define ROUTER_KEY_MAX 128    /* longest connection key accepted */
#define ROUTER_SERVER_MAX 128 /* longest comet server id accepted */
#define ROUTER_CONNS_MAX                                                                           \
    1024 /* upper bound of max_conns (the per-user array is 16-bit counted)                        \
          */

typedef enum {
    ROUTER_OVERFLOW_KICK_OLDEST = 0, /* a user at the limit loses its oldest connection */
    ROUTER_OVERFLOW_REJECT_NEW = 1,  /* a user at the limit cannot add one more */
} router_overflow_t;

typedef struct router_table_s router_table_t;

/* A connection evicted by a put (kick-oldest policy): copied out, because its storage is gone. */
typedef struct router_evicted_s {
    int has; /* nonzero when key/server below are set */
    char key[ROUTER_KEY_MAX + 1];
    char server[ROUTER_SERVER_MAX + 1];
} router_evicted_t;

/* Visits one live connection. Strings are borrowed from the table: valid until the table changes.
 */
typedef void (*router_table_visit_cb)(int64_t mid, const char *key, const char *server, void *arg);

/* Creates an empty table. max_conns in [1, ROUTER_CONNS_MAX]. Aborts on OOM. */
router_table_t *router_table_new(uint32_t max_conns, router_overflow_t overflow, uint64_t ttl_ms);
/* Frees the table and every entry. NULL is a no-op. */
void router_table_free(router_table_t *t);

/* Places connection `key` of user `mid` on comet `server` (both copied), expiring at
 * now_ms + ttl. A put with a key the user already has replaces that connection (new server,
 * new expiry, and it becomes the newest). Otherwise, when the user already has max_conns live
 * connections, the overflow policy applies: kick-oldest removes the least recently put one and
 * copies it into *evicted (evicted->has = 1); reject-new changes nothing.
 * Returns 0, HERALD_EOVERFLOW (reject-new at the limit) or HERALD_EINVAL (key or server empty
 * or longer than ROUTER_KEY_MAX / ROUTER_SERVER_MAX). `evicted` may not be NULL. */
int router_table_put(router_table_t *t, int64_t mid, const char *key, const char *server,
                     uint64_t now_ms, router_evicted_t *evicted);

/* Removes connection `key` of `mid`. When `server` is neither NULL nor "", only a connection
 * placed on that server is removed (a stale comet cannot remove a key that moved elsewhere).
 * Returns 1 when removed, 0 when there was no such connection. */
int router_table_del(router_table_t *t, int64_t mid, const char *key, const char *server);

/* Pushes the expiry of live connection `key` of `mid` to now_ms + ttl. Returns 1 when the key is
 * live, 0 when absent or expired (the caller should put it again). When `server` is given and the
 * key is placed on another server (a later put moved it), nothing changes and the answer is still
 * 1: the stale connection must not re-put the key over the newer placement. */
int router_table_renew(router_table_t *t, int64_t mid, const char *key, const char *server,
                       uint64_t now_ms);

/* Calls cb for every live connection of `mid`, oldest first. Returns how many. */
size_t router_table_get(const router_table_t *t, int64_t mid, uint64_t now_ms,
                        router_table_visit_cb cb, void *arg);

/* Removes every connection placed on `server`. Returns how many. Cost: one pass over the table
 * (stopping early once the server has no connection left); meant for the rare comet restart. */
size_t router_table_del_server(router_table_t *t, const char *server);

/* Writes into out[] up to `limit` ids, ascending, of the users with a live connection whose id is
 * greater than `cursor`; sets *more to 1 when further ids follow the last one written, else 0.
 * Returns how many were written. Cost: one pass over the table plus a heap of `limit` entries,
 * O(users * log(limit)), and no memory besides out[]: simple and always current, at the price
 * that paging through every user costs users / limit passes. Ids <= 0 are never listed. */
size_t router_table_list(const router_table_t *t, int64_t cursor, uint64_t now_ms, int64_t *out,
                         size_t limit, int *more);

/* Examines up to `budget` slots of the table, continuing where the previous call stopped and
 * wrapping around, and frees the connections expired at now_ms (and users left with none).
 * Returns how many connections were freed. Bounded work per call: the caller runs it from a
 * timer so a huge table never stalls the loop. */
size_t router_table_sweep(router_table_t *t, uint64_t now_ms, size_t budget);

/* Users and connections held, including expired ones not yet swept. */
uint64_t router_table_users(const router_table_t *t);
uint64_t router_table_conns(const router_table_t *t);
/* Slots of the hash table (how much one full sweep must examine). */
size_t router_table_capacity(const router_table_t *t);

#endif
