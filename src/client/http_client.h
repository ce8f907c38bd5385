/* http_client.h - a tiny blocking HTTP/1.1 client: one request per connection ("Connection:
 * close"), for herald-cli (tokens from logic) and the integration tests (logic's API). Not for
 * production traffic: no TLS, no keep-alive, no redirects. Thread-safe (no shared state).
 */
#ifndef HERALD_HTTP_CLIENT_H
#define HERALD_HTTP_CLIENT_H

#include <stddef.h>

/* Largest response body accepted; a larger one fails with HERALD_ETOOBIG. */
#define HTTP_CLIENT_MAX_BODY (8u << 20)
/* Largest status line + headers accepted. */
#define HTTP_CLIENT_MAX_HEAD 16384

/* Sends `method path_and_query` to host:port and reads the whole response.
 *   headers: NULL, or a NULL-terminated array of extra header lines without CRLF, e.g.
 *            {"Authorization: Bearer k", NULL}. Host, Connection and Content-Length are added.
 *   body/len: request body (body may be NULL when len is 0). Content-Length is sent whenever
 *            len > 0 or the method is not GET, HEAD or DELETE.
 *   timeout_ms: bounds everything (connect, send, response); negative waits forever.
 * On success returns 0 with *status = the HTTP status (any status, 4xx/5xx included) and
 * *resp_body = the body, heap-allocated and NUL-terminated (the caller frees it; "" when empty).
 * The response body may be framed by Content-Length, chunked transfer coding, or the end of the
 * connection. On failure returns a negative code and sets *resp_body = NULL: -ETIMEDOUT,
 * connection errors (-ECONNREFUSED, ...), HERALD_EPROTO for a malformed response (also a
 * connection closed before the response was complete), HERALD_ETOOBIG over the bounds above,
 * HERALD_EINVAL for a bad argument. */
int http_client_request(const char *host, int port, const char *method, const char *path_and_query,
                        const char *const *headers, const void *body, size_t len, int timeout_ms,
                        int *status, char **resp_body);

#endif
