/* comet_client.h - a client connection seen from the session layer, accept to close: the
 * comet_conn_ops_t the session hands the transport (packets go to the auth while it is under
 * way, to the channel afterwards), accepting, and the drain at shutdown.
 *
 * Worker thread only.
 */
#ifndef COMET_CLIENT_H
#define COMET_CLIENT_H

#include "comet_session.h"
#include "tls_server.h"

#include <uv.h>

/* Accepts a pending connection on listener (a listening socket on s's loop) as a new channel;
 * ws: a WebSocket listener; tls (borrowed, may be NULL): a TLS listener, whose handshakes use
 * that context (comet_tls.h). */
void comet_client_accept(comet_session_t *s, uv_stream_t *listener, int ws, tls_server_t *tls);

/* Shutdown: no new connection is kept, no Disconnect is sent any more (ServerDown covers them),
 * and every connection is kicked with {"reason":"shutdown"} (one whose Connect is in flight is
 * closed: logic forgets it with ServerDown). Each then closes when its peer does or after the
 * linger; comet_conns_when_empty(&s->conns, ...) tells when none is left. */
void comet_client_drain(comet_session_t *s);

#endif
