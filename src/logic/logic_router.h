/* logic_router.h - logic's clients of the routers (DESIGN.md §5 Router service).
 *
 * One rpc_client_t per router address; a user id's router is chosen by the consistent hash ring
 * (logic_ring.h) over the addresses, so every logic with the same list agrees. Calls to a router
 * that is down fail at once with HERALD_EUNAVAIL (the RPC client reconnects by itself).
 * Loop thread only.
 */
#ifndef LOGIC_ROUTER_H
#define LOGIC_ROUTER_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "herald.pb-c.h"

typedef struct logic_router_s logic_router_t;

/* Creates clients for addrs[0..n-1] ("host:port", borrowed; n may be 0: the routers then come
 * from the registry, logic_routers.h). Returns NULL and writes a message into err when an
 * address is malformed or repeated. */
logic_router_t *logic_router_new(uv_loop_t *loop, const char *const *addrs, size_t n,
                                 uint32_t timeout_ms, char *err, size_t errlen);

/* Result of a single call: as rpc_reply_cb, with status translated: 0, HERALD_EUNAVAIL (router
 * unreachable, connection lost, closing), HERALD_ETIMEDOUT, or the router's own error code. */
typedef void (*logic_router_reply_cb)(int status, const ProtobufCMessage *reply, void *arg);

/* Calls `method` on the router that owns `mid`. req is borrowed. Returns 0 and calls cb exactly
 * once later, or HERALD_EUNAVAIL (router not connected) and never calls cb. */
int logic_router_call(logic_router_t *r, int64_t mid, uint16_t method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *reply_desc, logic_router_reply_cb cb,
                      void *arg);

/* Calls `method` on router i (0 <= i < logic_router_count: the shard in the order of
 * router.addrs), for calls every shard answers (Count, List). As logic_router_call otherwise. */
int logic_router_call_at(logic_router_t *r, size_t i, uint16_t method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *reply_desc, logic_router_reply_cb cb,
                         void *arg);

/* Placements found by logic_router_get: every placement (mid, key, server) of the asked mids.
 * Strings are owned by the result, which is valid only during the callback. */
typedef struct logic_placement_s {
    int64_t mid;
    const char *key;
    const char *server;
} logic_placement_t;

/* status 0 when every shard answered (a mid with no placement is simply absent), else the first
 * error (HERALD_EUNAVAIL / HERALD_ETIMEDOUT): a partial answer would push to some devices and
 * silently skip others, so there is none. */
typedef void (*logic_router_get_cb)(int status, const logic_placement_t *placements, size_t n,
                                    void *arg);

/* Looks up mids[0..n-1] (borrowed), one batched Get per router shard, in parallel. Returns 0 and
 * calls cb exactly once later; or HERALD_EUNAVAIL (a shard's router is not connected: nothing was
 * sent) or HERALD_EINVAL (n is 0), and never calls cb. */
int logic_router_get(logic_router_t *r, const int64_t *mids, size_t n, logic_router_get_cb cb,
                     void *arg);

/* Sends DelServer{server} to every router. cb(status, removed total) once all answered; status
 * is the first error. A router that is down counts as an error, but the others are still asked.
 * Returns 0, or HERALD_EUNAVAIL when no router is connected (cb never called). */
typedef void (*logic_router_del_server_cb)(int status, int64_t removed, void *arg);
int logic_router_del_server(logic_router_t *r, const char *server, logic_router_del_server_cb cb,
                            void *arg);

/* on_up(i, arg) runs each time router i's connection comes up (the first time included), so the
 * caller can ask for its epoch (RouterInfo) before anything else. NULL removes it. The clients
 * reconnect within LOGIC_ROUTER_BACKOFF_MAX_MS of a restarted router listening again. */
#define LOGIC_ROUTER_BACKOFF_MAX_MS 200
typedef void (*logic_router_up_cb)(size_t i, void *arg);
void logic_router_watch(logic_router_t *r, logic_router_up_cb on_up, void *arg);

/* The index of the router that owns mid, and the index of the router named `name` (its
 * address as given to logic_router_new), or -1. */
size_t logic_router_owner(const logic_router_t *r, int64_t mid);
long logic_router_find(const logic_router_t *r, const char *name);

/* Replaces the ring by names[0..n) (borrowed): clients of routers that stay are kept (and their
 * indexes may change), new ones get a client, the others are closed (their calls in flight fail
 * with HERALD_EUNAVAIL). With n 0 every call fails with HERALD_EUNAVAIL. Returns 1 when the set
 * changed, 0 when it is the same, HERALD_EINVAL (a bad or repeated name: nothing changed). */
int logic_router_set(logic_router_t *r, const char *const *names, size_t n);

/* The ring's identity: a hash of its set of names, the same in every logic with that set. */
uint64_t logic_router_ring_id(const logic_router_t *r);

size_t logic_router_count(const logic_router_t *r);
const char *logic_router_addr(const logic_router_t *r, size_t i);
int logic_router_connected(const logic_router_t *r, size_t i);
/* Calls to router i started and not yet ended. */
size_t logic_router_in_flight(const logic_router_t *r, size_t i);

/* Closes every client (calls in flight fail with HERALD_EUNAVAIL), then frees and calls cb (may
 * be NULL). The caller makes no call after this one (logic_server's `stopping` guards that). */
void logic_router_close(logic_router_t *r, void (*cb)(void *arg), void *arg);

#endif
