/* http_client.h - a blocking HTTP/1.1 client (libcurl's easy interface behind one adapter) for
 * the callers that may block: logic's events callback (its own sender thread), herald-cli's
 * token and chat commands, and the tests. Never call it on a loop thread.
 *
 * http:// and https:// only. https verifies the server's certificate against the system CA store
 * (or the CA file given to http_client_new) and its host name. No proxies (the environment's
 * http_proxy & co. are ignored), no redirects, no cookies.
 *
 * Two ways to send:
 *   - http_client_request(NULL, ...): one request on a connection of its own, sent with
 *     "Connection: close" and closed afterwards. Thread-safe (no shared state).
 *   - a handle from http_client_new(): keep-alive; the connection to a server stays open after
 *     a request and the next request to the same scheme://host:port reuses it (a connection the
 *     server has closed meanwhile is replaced transparently). A handle is used by one thread at a
 *     time.
 *
 * Errors (every negative result of http_client_request):
 *   HERALD_EINVAL    a bad request: method not a token, URL not http(s)://, URL or a header
 *                    holding a control character, a space or NUL; rejected before any
 *                    connection is made
 *   UV_ETIMEDOUT     timeout_ms passed (connect, send and answer together)
 *   UV_ECONNREFUSED  and the other UV_E* codes the connection's system call failed with
 *                    (UV_ECONNRESET, UV_ENETUNREACH, ...)
 *   UV_EAI_NONAME    the host name did not resolve
 *   HERALD_ETOOBIG   the response body is over the bound (its Content-Length or what arrived)
 *   HERALD_EPROTO    the server's answer is not acceptable HTTP (bad status line or framing,
 *                    cut short, nothing at all), or TLS failed (handshake, certificate not
 *                    trusted, host name mismatch)
 *   HERALD_ECONF     the CA file given to http_client_new cannot be used
 *   HERALD_EINTERNAL anything else libcurl reports
 * resp->error then says what happened in words (libcurl's message), for the caller's log.
 */
#ifndef HERALD_HTTP_CLIENT_H
#define HERALD_HTTP_CLIENT_H

#include <stddef.h>

/* Largest response body accepted unless the request names another bound. */
#define HTTP_CLIENT_MAX_BODY (8u << 20)
#define HTTP_CLIENT_ERROR_MAX 256

typedef struct http_client_s http_client_t;

/* What to send; every pointer is borrowed for the duration of the call. */
typedef struct http_client_req_s {
    const char *method; /* "GET", "HEAD", "POST", "PUT", "DELETE", ... */
    /* "http[s]://host[:port][/path][?query]", the host a name, an IPv4 address or a bracketed
     * IPv6 one. url_len 0 means strlen(url); otherwise exactly url_len bytes are the URL, and a
     * NUL among them is refused (a value cut short by a NUL never reaches the server). */
    const char *url;
    size_t url_len;
    /* NULL, or a NULL-terminated array of header lines without CRLF, e.g.
     * {"Authorization: Bearer k", NULL}. Host (and for a one-shot request Connection) is added;
     * Content-Length is sent whenever body_len > 0 or the method is not GET, HEAD or DELETE. */
    const char *const *headers;
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    int timeout_ms;  /* bounds the whole exchange; 0 or negative waits forever */
    size_t max_body; /* bound of the response body; 0 means HTTP_CLIENT_MAX_BODY */
} http_client_req_t;

/* What came back. body is NULL unless the request succeeded. */
typedef struct http_client_resp_s {
    int status; /* the HTTP status, any (4xx and 5xx are answers, not errors) */
    char *body; /* heap, NUL-terminated ("" when empty); the caller frees it with free() */
    size_t body_len;
    char error[HTTP_CLIENT_ERROR_MAX]; /* on failure: why, in words; "" on success */
} http_client_resp_t;

/* A keep-alive handle. ca_file: NULL for the system CA store, else a PEM file of the CAs to
 * trust for https (copied; read at the first https request). Aborts on OOM. */
http_client_t *http_client_new(const char *ca_file);

/* Closes the handle's connection and frees it. NULL is a no-op. */
void http_client_free(http_client_t *c);

/* Sends req and reads the whole response. c: a handle (keep-alive) or NULL (one-shot, see
 * above). Returns 0 with resp filled, or a negative code from the list above (resp->body NULL,
 * resp->error set). */
int http_client_request(http_client_t *c, const http_client_req_t *req, http_client_resp_t *resp);

/* Writes "<scheme>://host:port" + path into out (an IPv6 host bracketed); scheme is "http" or
 * "https", path starts with '/'. Returns 0, or HERALD_EINVAL when it does not fit in cap bytes. */
int http_client_url(char *out, size_t cap, const char *scheme, const char *host, int port,
                    const char *path);

#endif
