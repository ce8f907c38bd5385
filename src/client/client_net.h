/* client_net.h - blocking-style socket helpers of the client library (client.c,
 * herald-cli): connect, wait, read and write on a non-blocking fd with poll() and an absolute
 * deadline. Internal to src/client.
 *
 * Deadlines are absolute times on client_net_now_ms()'s monotonic clock, or -1 for "no deadline".
 * Errors are negative errno values (the same numbers as libuv's UV_E* on Unix); a deadline that
 * passes gives -ETIMEDOUT.
 */
#ifndef HERALD_CLIENT_NET_H
#define HERALD_CLIENT_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How long a send may wait for socket buffer space before it gives up with -ETIMEDOUT. */
#define CLIENT_NET_SEND_TIMEOUT_MS 10000

/* Monotonic milliseconds. */
int64_t client_net_now_ms(void);

/* Deadline timeout_ms from now; a negative timeout_ms gives -1 (no deadline). */
int64_t client_net_deadline(int timeout_ms);

/* Milliseconds left until deadline for poll(): -1 for no deadline, 0 once it has passed. */
int client_net_remaining(int64_t deadline);

/* Resolves host (name or address) and connects to the first address that answers before the
 * deadline. Returns a connected non-blocking fd (TCP_NODELAY, close-on-exec), or a negative code
 * with a message in err. */
int client_net_connect(const char *host, int port, int64_t deadline, char *err, size_t errlen);

/* Waits until fd is ready for `events` (POLLIN / POLLOUT). Returns 0, -ETIMEDOUT, or another
 * negative code. POLLHUP/POLLERR count as ready: the next read or write reports them. */
int client_net_wait(int fd, short events, int64_t deadline);

/* Reads up to cap bytes once some are available. Returns the count (> 0), 0 on EOF, -ETIMEDOUT,
 * or another negative code (-ECONNRESET, ...). */
ssize_t client_net_read(int fd, void *buf, size_t cap, int64_t deadline);

/* Writes all len bytes (MSG_NOSIGNAL: a closed peer gives -EPIPE, not SIGPIPE). Returns 0,
 * -ETIMEDOUT (some bytes may have been written), or another negative code. */
int client_net_write_all(int fd, const void *data, size_t len, int64_t deadline);

#endif
