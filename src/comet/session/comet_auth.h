/* comet_auth.h - the auth handshake of a channel: OpAuth -> logic Connect -> OpAuthReply.
 *
 * comet_auth_start sends Connect{server, body, remote_addr} and pauses reading; packets that
 * arrived behind the OpAuth in the same read are deferred (copied) and handled in order once the
 * channel is authenticated. On a reply with code 0 the channel joins its room and is registered,
 * the user's other keys listed in kick_keys are kicked, op 8 {"code":0,"mid",...} and the first
 * backlog page are written, and the layer above is told (comet_session_ops_t.on_authed: the
 * channel takes its place in the user's stream). On an error code, or when logic is unavailable
 * (HERALD_EUNAVAIL) or too slow (HERALD_ETIMEDOUT), op 6 {"reason":"auth","code":<code>,
 * "message":"..."} (with the OpAuth's seq) is written and the connection is closed after the
 * write (docs/protocol.md). Worker thread only.
 */
#ifndef COMET_AUTH_H
#define COMET_AUTH_H

#include "comet_channel.h"
#include "proto.h"

#include <stdint.h>

/* ch is in COMET_CHANNEL_WAIT_AUTH and h is its OpAuth packet (body borrowed). */
void comet_auth_start(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body);

/* ch is in COMET_CHANNEL_AUTHING: keeps a copy of the packet for after the auth. */
void comet_auth_defer(comet_channel_t *ch, const proto_header_t *h, const uint8_t *body);

#endif
