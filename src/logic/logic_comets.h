/* logic_comets.h - logic's RPC clients to the comets, for the calls logic makes itself: Kick
 * (logout, duplicate login on another comet: logic_login_kick.h) and RoomMembers
 * (GET /herald/v1/rooms/members).
 *
 * A pool of clients (rpc_pool.h) whose addresses come from the online aggregate (ctx->online,
 * the registry): a comet's client is created when a call first needs it, re-created when the
 * comet's RPC address changes (it came back elsewhere) and closed when the comet leaves the
 * registry. A call to a comet whose client is not connected, or that is not in the registry yet,
 * waits: the registry and the client are looked at again every RPC_POOL_RETRY_MS until the
 * call's wait_ms have passed. Loop thread only.
 */
#ifndef LOGIC_COMETS_H
#define LOGIC_COMETS_H

#include "logic_ctx.h"
#include "rpc.h"

#include <stdint.h>

typedef struct logic_comets_s logic_comets_t;

/* ctx is borrowed and must outlive cs; its online aggregate is read at each call. Aborts on
 * OOM. */
logic_comets_t *logic_comets_new(const logic_ctx_t *ctx);

/* Ends every waiting call with UV_ECANCELED, closes every client (their calls in flight end with
 * UV_ECANCELED too), frees cs once all handles are closed and calls cb (may be NULL). */
void logic_comets_close(logic_comets_t *cs, void (*cb)(void *arg), void *arg);

/* Calls `method` on comet `id` (the registry's server id). req is borrowed (packed before
 * return); reply_desc and timeout_ms (the deadline once the call is sent) as rpc_client_call.
 * When the comet's client is not connected the call waits for it up to wait_ms (see above),
 * then ends with UV_ENOTCONN. Returns 0 and calls cb exactly once later, with rpc_client_call's
 * statuses (UV_ECANCELED when cs closes); or returns UV_ECANCELED (cs is closing) or UV_EMSGSIZE
 * (req too big for a frame) and never calls cb. */
int logic_comets_call(logic_comets_t *cs, const char *id, uint16_t method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_desc,
                      uint32_t wait_ms, uint32_t timeout_ms, rpc_reply_cb cb, void *arg);

#endif
