/* client_io.h - a client connection's byte stream: the connected socket, read and written either
 * as it is (CLIENT_TCP, CLIENT_WS) or through TLS (CLIENT_TLS, CLIENT_WSS, client_tls.c). The
 * goim and WebSocket layers above (client.c, client_ws.c) see only this. Internal to
 * src/client; one thread.
 *
 * Deadlines and error codes are client_net.h's: absolute times on client_net_now_ms()'s clock
 * (-1: none), negative errno values, -ETIMEDOUT when the deadline passes.
 */
#ifndef HERALD_CLIENT_IO_H
#define HERALD_CLIENT_IO_H

#include <stddef.h>
#include <sys/types.h>

struct ssl_st; /* OpenSSL's SSL */

typedef struct client_io_s {
    int fd;             /* owned: the connected non-blocking socket, -1 when closed */
    struct ssl_st *ssl; /* owned: the TLS session over fd, NULL for a plain stream */
} client_io_t;

/* Reads up to cap bytes once some are available. Returns the count (> 0), 0 on EOF (a TLS
 * close_notify, or the peer closing a plain stream), -ETIMEDOUT, -ECONNRESET (also a TLS peer
 * that closed without close_notify), -EPROTO (a bad TLS record) or another negative code. Bytes
 * TLS has already decrypted are returned without waiting: draining with a zero timeout until
 * -ETIMEDOUT empties both the socket and the TLS buffer, so poll() on fd tells the truth again. */
ssize_t client_io_read(client_io_t *io, void *buf, size_t cap, int64_t deadline);

/* Writes all len bytes. Returns 0, -ETIMEDOUT (some bytes may have been written: the stream is
 * then unusable), -EPIPE when the peer has gone (never SIGPIPE), or another negative code. */
int client_io_write_all(client_io_t *io, const void *data, size_t len, int64_t deadline);

/* Sends a TLS close_notify when it can without waiting, then frees the session and closes fd. */
void client_io_close(client_io_t *io);

#endif
