/* logic_comets.h - logic's RPC clients to the comets, for the calls logic makes itself: Kick
 * (logout, duplicate login on another comet: logic_login_kick.h) and RoomMembers
 * (GET /herald/v1/rooms/members).
 *
 * One client per comet, created when a call first needs that comet and dialled at the comet's
 * RPC address in the online aggregate (the registry, logic_online.h); re-created when that
 * address changes (the comet came back elsewhere). A call to a comet whose client is not
 * connected, or that is not in the registry yet, waits: the registry and the client are tried
 * again every 100 ms until the call's wait_ms have passed. Loop thread only.
 */
#ifndef LOGIC_COMETS_H
#define LOGIC_COMETS_H

#include "logic_server.h"
#include "rpc.h"

#include <stdint.h>

typedef struct logic_comets_s logic_comets_t;

/* Owned by logic_server; freed by logic_comets_close. Aborts on OOM. */
logic_comets_t *logic_comets_new(logic_server_t *s);

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
