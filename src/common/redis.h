/* redis.h - Redis adapter: hiredis async on a libuv loop (the only file that sees hiredis).
 *
 * A redis_t talks to one Redis (redis_new: one connection) or to a Redis Cluster
 * (redis_new_cluster: one connection per master, each command sent to the master of its key's slot,
 * redirects and failovers followed; docs/internals.md "Redis Cluster client"). Every connection
 * reconnects forever with backoff (100 ms doubling to 5 s), logging the first failure and the
 * recovery once each. Commands are pipelined. Replies are read through the redis_reply_* accessors
 * and are valid only inside the callback (hiredis rule).
 */
#ifndef HERALD_REDIS_H
#define HERALD_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct redis_s redis_t;
typedef struct redis_reply_s redis_reply_t; /* opaque view of a hiredis reply */

enum redis_reply_type {
    REDIS_REPLY_T_STRING = 1,
    REDIS_REPLY_T_ARRAY = 2,
    REDIS_REPLY_T_INTEGER = 3,
    REDIS_REPLY_T_NIL = 4,
    REDIS_REPLY_T_STATUS = 5,
    REDIS_REPLY_T_ERROR = 6,
};

/* reply is NULL when the command failed without an answer (connection lost: status UV_ECONNRESET,
 * or client closed: UV_ECANCELED); otherwise status is 0 and reply is borrowed for the call. A
 * Redis error reply arrives as status 0 with type REDIS_REPLY_T_ERROR. */
typedef void (*redis_reply_cb)(int status, const redis_reply_t *reply, void *arg);

/* Connects to host:port at once (and keeps reconnecting; every connection authenticates and
 * selects db again). password NULL or "": no AUTH; with user (NULL or "" = none) AUTH <user>
 * <password> (Redis 6 ACL), else AUTH <password>. A refused AUTH is logged once per outage with
 * Redis's reason (never the password) and the client stays not connected, retrying. */
redis_t *redis_new(uv_loop_t *loop, const char *host, int port, const char *user,
                   const char *password, int db);

/* Sends a command given as argv (binary-safe). Returns 0 and calls cb exactly once later (cb may
 * be NULL to ignore the reply); or UV_ENOTCONN when disconnected (also while the connection's
 * AUTH/SELECT handshake is still running), HERALD_EINVAL for argc < 1, and then never calls cb.
 * Not for SUBSCRIBE / MONITOR (one reply per command is assumed). */
int redis_command_argv(redis_t *r, redis_reply_cb cb, void *arg, int argc, const char **argv,
                       const size_t *argvlen);

/* printf-like convenience with hiredis's format (%s, %b with pointer+length, %lld ...).
 * Returns as redis_command_argv; HERALD_EINVAL for a format hiredis rejects. */
int redis_command(redis_t *r, redis_reply_cb cb, void *arg, const char *fmt, ...);

/* WAIT replicas timeout_ms on the connection that serves key (a cluster: the master of key's
 * slot; one Redis: its connection): the integer reply is how many replicas acknowledged every
 * write sent on that connection before it. Returns as redis_command_argv. */
int redis_wait(redis_t *r, const char *key, size_t key_len, int replicas, int timeout_ms,
               redis_reply_cb cb, void *arg);

/* A Redis Cluster client, seeded with n host:port pairs (copied): it loads the slot map (CLUSTER
 * SLOTS) from the first seed that answers and connects to every master in it. No SELECT (a
 * cluster has db 0 only). Routing: the slot of a command's first key (for EVAL / EVALSHA the
 * first key after numkeys; redis_route.h); a keyless command goes to any ready master; a MULTI
 * goes with its transaction's first keyed command, and the rest of it to that node (so every key
 * of a transaction must share a slot, as Redis Cluster requires anyway). A multi-key command
 * whose keys are in different slots gets Redis's -CROSSSLOT error. A command whose master is not
 * connected (its slot's failover under way) is refused with UV_ENOTCONN; one lost with a master
 * fails with UV_ECONNRESET; later ones go to the promoted replica once the cluster and the
 * refreshed map name it. */
redis_t *redis_new_cluster(uv_loop_t *loop, const char *const *hosts, const int *ports, size_t n,
                           const char *user, const char *password);

/* One Redis: its connection is ready. Cluster: a slot map is loaded and some master is ready
 * (a command may still be refused when its own master is down). */
int redis_connected(const redis_t *r);

/* Nonzero for a cluster client: callers keep each multi-key command to one hash tag. */
int redis_is_cluster(const redis_t *r);

/* Fails pending commands with UV_ECANCELED, disconnects, frees; cb (may be NULL) when done. */
void redis_close(redis_t *r, void (*cb)(void *arg), void *arg);

int redis_reply_type(const redis_reply_t *reply);
long long redis_reply_integer(const redis_reply_t *reply);
/* String/status/error text and its length; NULL for other types. */
const char *redis_reply_str(const redis_reply_t *reply, size_t *len);
size_t redis_reply_count(const redis_reply_t *reply); /* array elements, 0 otherwise */
const redis_reply_t *redis_reply_element(const redis_reply_t *reply, size_t i);

#endif
