/* comet_tls.h - the TLS byte stream of a client connection: a second comet_stream_t, OpenSSL
 * over the connection's uv_tcp_t, for the TLS listener (goim packets) and the WSS listener
 * (WebSocket framing, comet_ws.c, over the decrypted bytes).
 *
 * OpenSSL never touches the socket: a BIO of ours hands it the ciphertext libuv read into the
 * loop's shared read buffer (no copy) and collects what it writes in the loop's tls_out buffer,
 * which goes to the socket through the TCP stream's write (comet_tcp_write) before the call
 * returns, so unsent ciphertext is counted in c->unsent and a stalled reader is kicked as a slow
 * consumer like a plain one. Decrypted input lands in the loop's tls_plain buffer and goes to the
 * connection's framing as plain TCP input does.
 *
 * Memory: per connection only the SSL (and its BIO) is added to comet_conn_t; the contexts are
 * SSL_MODE_RELEASE_BUFFERS (no record buffer while idle) and nothing else is kept per
 * connection. Handshake state: the handshake runs while the connection is pending, so a
 * handshake that never finishes is closed by the auth deadline like a client that never
 * authenticates; a ClientHello that is not one, or any record OpenSSL refuses, closes only that
 * connection (counted in tls_failed). A write before the handshake has finished (a kick while
 * it runs) fails, and the caller closes the connection. Loop thread only.
 */
#ifndef COMET_TLS_H
#define COMET_TLS_H

#include "comet_conn.h"
#include "tls_server.h"

#include <uv.h>

/* Accepts a pending connection of listener into c as comet_tcp_accept does, with a new SSL from
 * server's current context (borrowed; it must outlive the loop's connections). When the accept
 * fails c is closed, and ops->on_leave and ops->on_close still follow. */
void comet_tls_accept(comet_conns_t *t, comet_conn_t *c, uv_stream_t *listener, int ws,
                      const comet_conn_ops_t *ops, tls_server_t *server);

#endif
