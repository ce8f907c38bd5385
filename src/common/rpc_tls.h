/* rpc_tls.h - internal to the RPC module (rpc_server.c, rpc_client.c): the TLS layer of one RPC
 * connection when [rpc] tls_* is set (docs/security.md "TLS between daemons"). It sits between
 * libuv and the connection's plain readers: ciphertext read from the socket goes into a
 * tls_pipe_t, and the decrypted bytes are handed to the connection's own alloc and read
 * callbacks exactly as plain input would be, so the cluster-secret handshake (rpc_auth.h) and
 * the frames (rpc_frame.h) run unchanged on top of TLS. Output goes through the connection's
 * frame writer, which encrypts it (rpc_frame_writer_set_tls).
 *
 * Order on a connection: TCP, then the TLS handshake (with client certificates both ways), then
 * the cluster-secret handshake inside TLS, then frames. The server queues its CHALLENGE at
 * accept; the writer holds it until TLS is up. Loop thread only.
 */
#ifndef HERALD_RPC_TLS_H
#define HERALD_RPC_TLS_H

#include "rpc_frame.h"
#include "tls_pipe.h"

#include <uv.h>

/* TLS refused the peer or its bytes (handshake failure, a bad record, an alert). `why` is
 * OpenSSL's reason (never key material); the owner closes the connection. */
typedef void (*rpc_tls_fail_cb)(uv_stream_t *stream, const char *why);

typedef struct rpc_tls_s {
    tls_pipe_t pipe;
    uv_stream_t *stream;
    rpc_frame_writer_t *writer;
    uv_alloc_cb plain_alloc; /* where decrypted bytes go, and who takes them */
    uv_read_cb plain_read;
    rpc_tls_fail_cb on_fail;
} rpc_tls_t;

/* TLS over stream for a connection whose writer (initialised, borrowed) and plain callbacks are
 * given; takes ssl. A client (server 0) sends its ClientHello at once. Returns the layer, or NULL
 * when ssl is NULL or OpenSSL cannot make its BIOs (ssl freed): the caller closes. Aborts on OOM.
 * The caller reads the stream with rpc_tls_alloc / rpc_tls_read. */
rpc_tls_t *rpc_tls_new(SSL *ssl, int server, uv_stream_t *stream, rpc_frame_writer_t *writer,
                       uv_alloc_cb plain_alloc, uv_read_cb plain_read, rpc_tls_fail_cb on_fail);

/* The bodies of the stream's uv_alloc_cb and uv_read_cb. Ciphertext is read into one buffer per
 * thread (OpenSSL copies it at once); a read error or EOF is passed to plain_read as is. */
void rpc_tls_alloc(rpc_tls_t *t, uv_buf_t *buf);
void rpc_tls_read(rpc_tls_t *t, ssize_t nread, const uv_buf_t *buf);

/* Frees t (NULL is a no-op). Call from the stream's close callback, after the writer's deinit. */
void rpc_tls_free(rpc_tls_t *t);

#endif
