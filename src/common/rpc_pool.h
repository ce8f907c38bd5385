/* rpc_pool.h - RPC clients to a set of peers named by id (the comets, for logic's Kick and
 * RoomMembers calls and for job's deliveries): one rpc_client_t per peer, at the peer's current
 * "host:port" address.
 *
 * A peer is created on first use (rpc_pool_put), its client re-created when its address changes
 * (the old client is closed: its calls in flight end with UV_ECANCELED), and closed when the
 * peer goes away (rpc_pool_remove). A pool may be given a resolver: then every rpc_pool_call
 * asks it for the peer's address first (at the call and at each retry of a waiting call), puts
 * the peer at that address, and removes it when the resolver no longer knows it.
 *
 * Peers are reference counted. The pool holds one reference while the peer is in it; whoever
 * keeps a peer across a callback (a call in flight, a batch waiting for its turn) holds its own
 * (rpc_peer_ref / rpc_peer_unref). A removed peer is `gone`: no client, no new call, but its id
 * and user data stay valid until its last reference is dropped; ops->peer_free(arg, data) then
 * releases the data. Loop thread only.
 */
#ifndef HERALD_RPC_POOL_H
#define HERALD_RPC_POOL_H

#include "rpc.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* How often waiting calls look at their peer again. */
#define RPC_POOL_RETRY_MS 100

typedef struct rpc_pool_s rpc_pool_t;
typedef struct rpc_peer_s rpc_peer_t;

typedef struct rpc_pool_ops_s {
    /* The current address of peer id ("host:port", borrowed until the pool returns), or NULL
     * when it is not known (any more). NULL: the owner puts and removes the peers itself. */
    const char *(*resolve)(void *arg, const char *id);
    /* Releases a peer's user data (rpc_peer_set_data) at its last reference; may be NULL. */
    void (*peer_free)(void *arg, void *data);
} rpc_pool_ops_t;

/* An empty pool. `kind` names the peers in the client logs ("comet" gives "rpc comet <id>"); ops
 * and arg are borrowed and must outlive the pool. Aborts on OOM. */
rpc_pool_t *rpc_pool_new(uv_loop_t *loop, const char *kind, const rpc_pool_ops_t *ops, void *arg);

/* Peer id (1..255 bytes) at addr: created (its client dials at once) when the pool does not hold
 * it, its client re-created when addr differs from its current address. Returns the peer
 * (borrowed: the pool's reference), or NULL when addr is not a "host:port" with a port above 0
 * (a peer already held is then removed) or the pool is closing. */
rpc_peer_t *rpc_pool_put(rpc_pool_t *p, const char *id, const char *addr);

/* Takes peer id out of the pool (nothing when it holds none) and closes its client. */
void rpc_pool_remove(rpc_pool_t *p, const char *id);

/* The peer id held by the pool, or NULL. A linear scan: tens to hundreds of peers, and each
 * lookup leads to an RPC that costs far more. */
rpc_peer_t *rpc_pool_find(const rpc_pool_t *p, const char *id);

/* The peers held, in no particular order; put and remove change the order, so do not keep
 * indexes across them. */
size_t rpc_pool_count(const rpc_pool_t *p);
rpc_peer_t *rpc_pool_at(const rpc_pool_t *p, size_t i);

/* Calls `method` on peer id, waiting for it: with a resolver the peer is put (or removed) first;
 * when it is not connected (or not known) the call waits for it up to wait_ms, looking again
 * every RPC_POOL_RETRY_MS, then ends with UV_ENOTCONN. req is borrowed (packed before return);
 * reply_desc and timeout_ms (the deadline once the call is sent) as rpc_client_call. Returns 0
 * and calls cb exactly once later, with rpc_client_call's statuses (UV_ECANCELED when the pool
 * closes); or returns UV_ECANCELED (the pool is closing) or UV_EMSGSIZE (req too big for a
 * frame) and never calls cb. */
int rpc_pool_call(rpc_pool_t *p, const char *id, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, uint32_t wait_ms,
                  uint32_t timeout_ms, rpc_reply_cb cb, void *arg);

/* Ends every waiting call with UV_ECANCELED and removes every peer (their calls in flight end
 * with UV_ECANCELED too). The pool is freed once every client and its timer are closed and
 * every peer's last reference is dropped; then cb (may be NULL) runs. Call once. */
void rpc_pool_close(rpc_pool_t *p, void (*cb)(void *arg), void *arg);

/* ------------------------------------------------------------------------------- peers */

const char *rpc_peer_id(const rpc_peer_t *peer);
/* Its current address ("" once gone). */
const char *rpc_peer_addr(const rpc_peer_t *peer);
/* 1 once removed from its pool. */
int rpc_peer_gone(const rpc_peer_t *peer);
/* 1 while its client's connection is up (0 once gone). */
int rpc_peer_connected(const rpc_peer_t *peer);
/* rpc_client_redial on its client (nothing once gone). */
void rpc_peer_redial(rpc_peer_t *peer);

/* The owner's data of the peer (NULL until set); freed through ops->peer_free. */
void *rpc_peer_data(const rpc_peer_t *peer);
void rpc_peer_set_data(rpc_peer_t *peer, void *data);

void rpc_peer_ref(rpc_peer_t *peer);
void rpc_peer_unref(rpc_peer_t *peer);

/* rpc_client_call on the peer's client now, without waiting: UV_ECANCELED when the peer is gone,
 * else rpc_client_call's result (UV_ENOTCONN when not connected). */
int rpc_peer_call(rpc_peer_t *peer, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, uint32_t timeout_ms,
                  rpc_reply_cb cb, void *arg);

#endif
