/* tls_server.h - the OpenSSL server context of a TLS listener (comet's [tls], the internal RPC's
 * [rpc] tls_*): certificate chains and keys from PEM files, SNI between them, the protocol floor,
 * session tickets, client certificates (mutual TLS), and a reload that swaps the context for new
 * handshakes.
 *
 * Several chain/key pairs may be given (comma-separated lists in the same order). The first is
 * the default; a ClientHello whose server name matches one of another certificate's
 * subjectAltName DNS names (exact, or "*.example.com" for one label) is served that certificate.
 *
 * Settings every context gets: TLS 1.2 and 1.3 only (min_version 1.2 or 1.3), OpenSSL's TLS 1.3
 * suites and ECDHE with AEAD ciphers for 1.2 (no RSA key exchange, CBC, RC4, 3DES or export
 * suites), the server's cipher order, compression and renegotiation off, stateless session
 * tickets (when tickets is on; no server-side session cache either way, which would cost memory
 * per session), and SSL_MODE_RELEASE_BUFFERS so an idle connection holds no record buffers.
 *
 * Threads: tls_server_new, tls_server_reload and tls_server_free run on one thread (comet's main
 * thread); tls_server_ssl may be called from any thread at the same time as a reload. An SSL made
 * from the old context keeps it (SSL_CTX is reference counted): reload never disturbs existing
 * connections.
 */
#ifndef HERALD_TLS_SERVER_H
#define HERALD_TLS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct tls_server_s tls_server_t;

/* What a context is built from; strings are copied by tls_server_new. */
typedef struct tls_server_conf_s {
    const char *cert; /* PEM chain file(s), comma separated; the first is the default */
    const char *key;  /* PEM key file(s), comma separated, in the same order */
    int min_version;  /* 12 (TLS 1.2) or 13 (TLS 1.3) */
    bool tickets;     /* session tickets (resumption) */
    /* Mutual TLS (the internal RPC): when set, a PEM file of the CAs whose certificates a client
     * must present; a handshake without one, or with one they did not sign, fails. NULL or "":
     * no client certificate is asked for (comet's client ports). */
    const char *client_ca;
    /* With client_ca: when set, the client's certificate must also name this DNS name (its
     * subjectAltName). NULL or "": the CA's signature is enough. */
    const char *client_name;
} tls_server_conf_t;

/* TLS 1.2 suites of every herald context, server or client: forward secrecy and AEAD only (TLS 1.3
 * keeps OpenSSL's defaults, all AEAD). */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

/* Builds the context from conf's files. Returns it, or NULL with the reason (file, what failed)
 * in err (errlen bytes). Aborts on OOM. */
tls_server_t *tls_server_new(const tls_server_conf_t *conf, char *err, size_t errlen);

/* Reads the files into a new context: the lists cert and key (same form as tls_server_conf_t's;
 * copied), or, when both are NULL, the files s was last built from. On success new handshakes use
 * it from now on, s keeps those lists for the next reload, and 0 is returned; on failure the
 * current context and lists stay and HERALD_ECONF is returned with the reason in err. */
int tls_server_reload(tls_server_t *s, const char *cert, const char *key, char *err, size_t errlen);

/* A new server-side SSL on the current context (any thread), or NULL when OpenSSL cannot make one
 * (out of memory). The caller owns it (SSL_free). */
SSL *tls_server_ssl(tls_server_t *s);

/* The current context with a reference for the caller (SSL_CTX_free it), for a user that makes
 * its SSLs itself and never reloads (the internal RPC). */
SSL_CTX *tls_server_ctx(tls_server_t *s);

/* The application traffic secrets of a TLS 1.3 handshake (for tls_record.h), as OpenSSL derives
 * them. Never logged. */
typedef struct tls_secrets_s {
    unsigned char client[48], server[48];
    unsigned char len;  /* bytes of each */
    unsigned char have; /* bit 0: client, bit 1: server */
} tls_secrets_t;

/* From now on the handshake of ssl (made by tls_server_ssl) stores its traffic secrets in *out,
 * which must stay valid until tls_server_capture(ssl, NULL) or SSL_free. */
void tls_server_capture(SSL *ssl, tls_secrets_t *out);

/* How many times the context was built: 1 after tls_server_new, +1 per successful reload. */
unsigned tls_server_generation(const tls_server_t *s);

/* "<what> '<file>': <OpenSSL's last reason>" into err (errlen bytes); clears OpenSSL's error
 * queue. For the other context builders (tls_client.c). */
void tls_server_error(char *err, size_t errlen, const char *what, const char *file);

/* Frees s (NULL is a no-op); SSLs made from it keep their contexts until they are freed. */
void tls_server_free(tls_server_t *s);

#endif
