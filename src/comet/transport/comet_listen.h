/* comet_listen.h - listening sockets of comet's workers: address resolution and SO_REUSEPORT. */
#ifndef COMET_LISTEN_H
#define COMET_LISTEN_H

#include <sys/socket.h>
#include <uv.h>

/* Resolves "host:port" (numeric IPv4/IPv6 or a name, looked up once at start) into out.
 * Returns 0, HERALD_EINVAL for a malformed address, or a UV_EAI_* error. Blocking: start-up only.
 */
int comet_listen_resolve(const char *hostport, struct sockaddr_storage *out);

/* Creates a TCP socket for addr's family on loop, sets SO_REUSEPORT (so every worker binds the
 * same port and the kernel spreads connections), binds and listens. Returns 0 or a UV_E* error;
 * on error the handle, if it was initialised, is being closed (no callback). */
int comet_listen_tcp(uv_loop_t *loop, uv_tcp_t *h, const struct sockaddr *addr,
                     uv_connection_cb cb);

/* The port h is bound to, or -1. */
int comet_listen_port(const uv_tcp_t *h);

/* Sets the port of a sockaddr_in / sockaddr_in6. */
void comet_listen_set_port(struct sockaddr_storage *addr, int port);

#endif
