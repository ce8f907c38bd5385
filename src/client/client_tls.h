/* client_tls.h - TLS under a client connection (CLIENT_TLS, CLIENT_WSS), with OpenSSL 3: the
 * handshake with its checks, then reads and writes for client_io.c. Internal to src/client.
 *
 * Verification is always on: the server's chain must lead to a trusted CA (client_tls_t.ca_file,
 * or the system store) and its certificate must name the server (client_tls_t.server_name, else
 * the host dialled; an IP address literal is checked against the certificate's IP addresses, a
 * name against its DNS names, no partial wildcards). TLS 1.2 is the oldest version offered.
 */
#ifndef HERALD_CLIENT_TLS_H
#define HERALD_CLIENT_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client_tls_opts.h"

struct ssl_st; /* OpenSSL's SSL */

/* Runs the TLS handshake over fd (connected, non-blocking) before deadline, with opts (NULL: the
 * system store, no client certificate, host as the server name). host:port is what was dialled,
 * for the check and for messages. Returns 0 with the session in *ssl (the caller frees it with
 * client_tls_close), or a negative code with *ssl NULL and the reason in err: "certificate verify
 * failed: <reason>", "host name mismatch: ...", "timed out", the server's alert, or a CA /
 * certificate file that cannot be loaded (HERALD_EINVAL). */
int client_tls_start(int fd, const client_tls_t *opts, const char *host, int port, int64_t deadline,
                     struct ssl_st **ssl, char *err, size_t errlen);

/* client_io_read / client_io_write_all (client_io.h) for session ssl over fd. */
ssize_t client_tls_read(struct ssl_st *ssl, int fd, void *buf, size_t cap, int64_t deadline);
int client_tls_write_all(struct ssl_st *ssl, int fd, const void *data, size_t len,
                         int64_t deadline);

/* Sends close_notify if the session is up (without waiting) and frees ssl. The fd stays open. */
void client_tls_close(struct ssl_st *ssl);

#endif
