/* comet_listen.h - listening sockets of comet's workers: SO_REUSEPORT, so that every worker binds
 * the same port and the kernel spreads connections. Addresses are resolved with addr.h. */
#ifndef COMET_LISTEN_H
#define COMET_LISTEN_H

#include <sys/socket.h>
#include <uv.h>

/* Creates a TCP socket for addr's family on loop, sets SO_REUSEPORT, binds and listens. Returns 0
 * or a UV_E* error; on error the handle, if it was initialised, is being closed (no callback). */
int comet_listen_tcp(uv_loop_t *loop, uv_tcp_t *h, const struct sockaddr *addr,
                     uv_connection_cb cb);

/* The port h is bound to, or -1. */
int comet_listen_port(const uv_tcp_t *h);

#endif
