/* comet_tcp.h - the plain TCP byte stream of a client connection: comet_stream_t over the
 * connection's uv_tcp_t, and accepting a connection on it.
 *
 * Reads land in the loop's shared read buffer and go to the connection's framing (packets, or
 * WebSocket for a connection accepted with ws). Writes go out with uv_try_write; only what the
 * socket does not take at once is copied into a write request, or referenced when it lies in
 * the caller's shared buffer. Loop thread only.
 */
#ifndef COMET_TCP_H
#define COMET_TCP_H

#include "comet_conn.h"

#include <uv.h>

/* Accepts a pending connection of listener (a listening uv_tcp_t on t's loop) into c: zeroed
 * caller storage that stays valid until ops->on_close. ws selects WebSocket framing (the HTTP
 * upgrade first). When the accept fails c is closed, and ops->on_leave and ops->on_close still
 * follow, as for any connection: the owner frees c there. */
void comet_tcp_accept(comet_conns_t *t, comet_conn_t *c, uv_stream_t *listener, int ws,
                      const comet_conn_ops_t *ops);

#endif
