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

/* ------------------------------------------- for streams layered on the TCP socket (TLS) */

/* The part of an accept every stream over TCP shares: c joins t with stream, ops and (ws)
 * WebSocket framing and takes listener's pending socket (TCP_NODELAY). Returns 0 (the caller
 * then calls comet_conn_start), or the UV_E* error after closing c (on_leave and on_close
 * follow, as for any connection). */
int comet_tcp_take(comet_conns_t *t, comet_conn_t *c, uv_stream_t *listener,
                   const comet_stream_t *stream, int ws, const comet_conn_ops_t *ops);

/* uv_alloc_cb lending the loop's read buffer (comet_conns_t.read_buf; h->data is the
 * comet_conns_t). */
void comet_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* The TCP stream's write and shutdown on c's socket (comet_stream_t's contracts): bytes the
 * socket does not take at once are copied (or referenced in shared) and counted in c->unsent. */
int comet_tcp_write(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared);
int comet_tcp_shutdown(comet_conn_t *c);

#endif
