/* http.h - HTTP server adapter: libmicrohttpd driven by a libuv loop (the only file that sees
 * libmicrohttpd). Used by logic's API and every daemon's admin endpoint.
 *
 * MHD runs without threads of its own (MHD_USE_EPOLL, its epoll fd watched by a uv_poll_t, its
 * timeout by a uv_timer_t), so handlers run on the loop thread and may use the loop's Redis, Kafka
 * and RPC clients. A handler that cannot answer at once returns and answers later: the request is
 * suspended (MHD_suspend_connection) until http_respond() is called.
 */
#ifndef HERALD_HTTP_H
#define HERALD_HTTP_H

#include "http_tls.h"

#include <jansson.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

typedef struct http_server_s http_server_t;
typedef struct http_request_s http_request_t;

/* Called once per request after the whole body arrived. The handler (or code it hands the request
 * to) must call http_respond* exactly once. `req` stays valid until then. A request over one of
 * the size limits below is answered by the adapter without calling the handler. */
typedef void (*http_handler_cb)(http_request_t *req, void *arg);

/* What one server accepts (docs/security.md, "Business and admin HTTP"). Every request over a
 * size limit gets an answer in goim's shape, never silence:
 *   max_body          bytes of a request body; more: 413 (a declared Content-Length at once)
 *   max_head          bytes of the request target (414 when longer) and of the request line and
 *                     headers together (431). It is also the memory each open connection may
 *                     hold: libmicrohttpd gives every connection a pool of max_head +
 *                     HTTP_POOL_SLACK and zeroes all of it between requests
 *   request_timeout_ms  a request must have arrived whole (head and body) this long after its
 *                     connection was accepted or its previous answer was sent, or the connection
 *                     is closed: a client dribbling bytes (slowloris) cannot hold a slot, and a
 *                     keep-alive connection idle that long is closed too. The time a handler
 *                     takes to answer does not count
 *   max_connections   open connections in all; more are closed as they are accepted
 *   max_per_addr      open connections from one client IP address; more are closed at accept */
typedef struct http_limits_s {
    size_t max_body;
    size_t max_head;
    unsigned request_timeout_ms;
    unsigned max_connections;
    unsigned max_per_addr;
} http_limits_t;

/* Pool bytes beyond max_head: room for MHD's header records and the answer's header. */
#define HTTP_POOL_SLACK (16 * 1024)

/* Limits for an admin endpoint (admin.h): small requests, few callers. */
#define HTTP_LIMITS_ADMIN                                                                          \
    ((http_limits_t){.max_body = 1024,                                                             \
                     .max_head = 16 * 1024,                                                        \
                     .request_timeout_ms = 10000,                                                  \
                     .max_connections = 256,                                                       \
                     .max_per_addr = 64})

/* Returns a server, not yet listening; limits is copied (every field must be > 0). Aborts on
 * OOM. */
http_server_t *http_server_new(uv_loop_t *loop, http_handler_cb handler, void *arg,
                               const http_limits_t *limits);

/* Makes s serve HTTPS (call it before http_server_listen): s takes over the PEM texts of *tls
 * (left empty) and wipes them when it is freed. TLS 1.2 and 1.3 only, AEAD ciphers only
 * (HTTP_TLS_PRIORITIES); every limit above holds over TLS too, and the request deadline starts
 * at accept, so a client that never finishes its handshake is closed by it. A tls without a
 * certificate (plain HTTP) leaves s as it is. */
void http_server_set_tls(http_server_t *s, http_tls_t *tls);

/* GnuTLS priorities of an HTTPS server: TLS 1.3 and 1.2, forward-secret key exchange (ECDHE),
 * AES-GCM and ChaCha20-Poly1305; no CBC, no RSA key transport, no TLS 1.0/1.1. */
#define HTTP_TLS_PRIORITIES                                                                        \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"            \
    "+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

/* Listens on host:port (port 0 = ephemeral). host is a numeric IPv4 or IPv6 address; anything
 * else is UV_EINVAL. Returns 0 or a UV_E* / HERALD_E* error; for an HTTPS server HERALD_ECONF
 * when the TLS library refused the certificate or the key (one that does not match the
 * certificate, a PEM it cannot parse; its reason is logged) or libmicrohttpd has no TLS. */
int http_server_listen(http_server_t *s, const char *host, int port);

/* Starts s as configured: loads conf (may be NULL: plain HTTP) with http_tls_load, hands the PEM
 * texts to s (http_server_set_tls) and listens on host:port. Returns 0, or a negative error with
 * a message in err: http_tls_load's for a file; "[section] tls_cert PATH / tls_key PATH: refused
 * by the TLS library ..." when GnuTLS cannot use them (a key of another certificate); or
 * "LISTEN_NAME HOST:PORT: why" when it cannot listen. */
int http_server_listen_conf(http_server_t *s, const http_tls_conf_t *conf, const char *section,
                            const char *listen_name, const char *host, int port, char *err,
                            size_t errlen);
int http_server_port(const http_server_t *s);

/* Stops listening, answers nothing more, frees everything; cb (may be NULL) runs when done.
 * Requests still suspended are dropped (their connection closed); such a request stays valid
 * for its handler, whose http_respond* call (still due, exactly once) then only frees it. */
void http_server_close(http_server_t *s, void (*cb)(void *arg), void *arg);

/* Request accessors; returned strings are borrowed, valid until the request is answered. */
const char *http_request_method(const http_request_t *req); /* "GET", "POST", ... */
const char *http_request_path(const http_request_t *req);   /* without query string */
/* First value of query parameter `name`, or NULL. */
const char *http_request_query(const http_request_t *req, const char *name);
/* All values of a repeatable query parameter, in order: fills up to max into out, returns the
 * total count (may exceed max). */
size_t http_request_query_all(const http_request_t *req, const char *name, const char **out,
                              size_t max);
/* Header value (case-insensitive name), or NULL. */
const char *http_request_header(const http_request_t *req, const char *name);
/* Body bytes (not NUL-terminated) and length; NULL/0 when empty. */
const char *http_request_body(const http_request_t *req, size_t *len);

/* Adds a header to the answer req will get (name and value copied, in order); call it before
 * http_respond*. Aborts on OOM. */
void http_request_answer_header(http_request_t *req, const char *name, const char *value);

/* Answers with status and body (copied). Resumes the request if it was suspended. */
void http_respond(http_request_t *req, int status, const char *content_type, const char *body,
                  size_t len);
/* Answers with a JSON value (serialised compactly, reals with 15 significant digits; the
 * reference to `json` is stolen). */
void http_respond_json(http_request_t *req, int status, json_t *json);

/* Answers in goim's reply shape {"code":code,"message":message,"data":data}, which every herald
 * HTTP endpoint uses; "data" is left out when data is NULL (the reference is stolen). */
void http_respond_reply(http_request_t *req, int status, int code, const char *message,
                        json_t *data);

/* The client's address (IPv4, or IPv6 with v4-mapped ones given as IPv4) into *out. Valid while
 * the handler runs (before the request is suspended or answered). Returns 0, or HERALD_EINVAL
 * when the connection is gone or its address is of another family. */
int http_request_peer(const http_request_t *req, struct sockaddr_storage *out);

/* http_respond_reply with one extra response header (name and value are copied; e.g.
 * "Retry-After" with a 429). */
void http_respond_reply_header(http_request_t *req, int status, int code, const char *message,
                               json_t *data, const char *name, const char *value);

#endif
