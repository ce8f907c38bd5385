/* tls_pipe.h - one TLS connection driven through memory: OpenSSL reads the ciphertext the
 * caller received (tls_pipe_feed) and writes its own into a buffer the caller sends
 * (tls_pipe_out_take), so it never touches a socket and the caller's loop (libuv) keeps doing
 * all I/O. Used by the internal RPC (rpc_tls.h); comet's client connections have their own BIO
 * over the loop's shared read buffer (comet_tls.h), which this module does not replace.
 *
 * Owned by its user; the SSL is taken over at init and freed at deinit. Both memory BIOs grow as
 * needed: the caller bounds what it feeds (one socket read at a time) and drains the output after
 * every call. One thread at a time (the loop thread of the connection).
 */
#ifndef HERALD_TLS_PIPE_H
#define HERALD_TLS_PIPE_H

#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

typedef struct tls_pipe_s {
    SSL *ssl;
    BIO *in, *out; /* owned by ssl */
} tls_pipe_t;

enum { TLS_PIPE_MORE = 0, TLS_PIPE_DONE = 1 };

/* Takes ssl (from tls_server_ssl or tls_client_ssl) and puts it in server (accept) or client
 * (connect) state. Returns 0, or -1 when OpenSSL cannot make the BIOs (ssl is then freed). */
int tls_pipe_init(tls_pipe_t *p, SSL *ssl, int server);
/* Frees the SSL and its BIOs, wiping the keys (OpenSSL does). Safe on a zeroed pipe. */
void tls_pipe_deinit(tls_pipe_t *p);

/* Hands n bytes of ciphertext from the peer to OpenSSL. Returns 0, or -1 (out of memory). */
int tls_pipe_feed(tls_pipe_t *p, const void *data, size_t n);

/* Advances the handshake with what was fed. Returns TLS_PIPE_DONE once it is over (also on
 * every later call), TLS_PIPE_MORE while it waits for the peer, or -1 when it failed: `why`
 * (whylen bytes) then says why, from OpenSSL's reason and the certificate check's result
 * ("certificate verify failed: unable to get local issuer certificate", "peer did not return
 * a certificate"). Output to send may be waiting in every case. */
int tls_pipe_handshake(tls_pipe_t *p, char *why, size_t whylen);

/* Nonzero once the handshake is over. */
int tls_pipe_ready(const tls_pipe_t *p);

/* Decrypts into buf (cap bytes): returns the bytes written (> 0), 0 when it needs more input,
 * TLS_PIPE_EOF when the peer sent close_notify, or -1 with why set (a record that does not
 * authenticate, an alert from the peer, e.g. its refusal of our certificate). */
#define TLS_PIPE_EOF (-2)
long tls_pipe_read(tls_pipe_t *p, void *buf, size_t cap, char *why, size_t whylen);

/* Encrypts len bytes into the output. Returns 0, or -1 (the handshake is not over, or OpenSSL
 * failed). */
int tls_pipe_write(tls_pipe_t *p, const void *data, size_t len);

/* Ciphertext waiting to be sent, in bytes. */
size_t tls_pipe_out_pending(const tls_pipe_t *p);
/* Moves up to cap bytes of that ciphertext into dst; returns how many. */
size_t tls_pipe_out_take(tls_pipe_t *p, void *dst, size_t cap);

/* OpenSSL's reason for the last error of this thread into why (or `fallback` when it has none),
 * then clears the thread's error queue. */
void tls_pipe_reason(char *why, size_t whylen, const char *fallback);

#endif
