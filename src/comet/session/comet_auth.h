/* comet_auth.h - the auth handshake of a connection: OpAuth -> logic Connect -> OpAuthReply.
 *
 * comet_auth_start sends Connect{server, body, remote_addr} and pauses reading; packets that
 * arrived behind the OpAuth in the same read are deferred (copied) and handled in order once the
 * connection is authenticated. On a reply with code 0 the connection is registered, the user's
 * other keys listed in kick_keys are kicked, op 8 {"code":0,"mid",...} and the backlog are
 * written, and the connection takes its place in the user's stream (comet_sync.h). On an error
 * code, or when logic is unavailable (HERALD_EUNAVAIL) or too slow (HERALD_ETIMEDOUT), op 8
 * {"code":<code>,"message":"..."} is written and the connection is closed after the write. Worker
 * thread only.
 */
#ifndef COMET_AUTH_H
#define COMET_AUTH_H

#include "comet_conn.h"
#include "proto.h"

/* c is in COMET_CONN_WAIT_AUTH and h is its OpAuth packet (body borrowed). */
void comet_auth_start(comet_conn_t *c, const proto_header_t *h, const uint8_t *body);

/* c is in COMET_CONN_AUTHING: keeps a copy of the packet for after the auth. */
void comet_auth_defer(comet_conn_t *c, const proto_header_t *h, const uint8_t *body);

/* The name of an authenticated connection's delivery position (ConnectReply.device: the
 * client's device, "" when none), for acks and Disconnect. Stored behind c->key. */
const char *comet_auth_device(const comet_conn_t *c);

#endif
