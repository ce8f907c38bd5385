/* tls_client.h - the OpenSSL client context of the internal RPC's TLS ([rpc] tls_*): the CA that
 * signs the servers' certificates, this daemon's own certificate for mutual TLS, and the name
 * checked in the server's certificate. The server side is tls_server.h; both share its TLS 1.2
 * suites (TLS_CIPHERS_12).
 *
 * What a handshake on this context checks: the server's chain leads to a CA of `ca` (nothing
 * else is trusted, not the system store: the cluster's CA is private), and when verify_name is
 * set the certificate names it (DNS subjectAltName). Without verify_name the CA's signature is
 * the whole check, which is what a private CA that signs only the cluster's daemons is for.
 * TLS 1.2 or newer; no session resumption (connections between daemons live long).
 */
#ifndef HERALD_TLS_CLIENT_H
#define HERALD_TLS_CLIENT_H

#include <stddef.h>

typedef struct ssl_ctx_st SSL_CTX;

typedef struct tls_client_conf_s {
    const char *cert;        /* PEM chain presented to servers that ask; NULL or "": none */
    const char *key;         /* its PEM private key */
    const char *ca;          /* PEM file of the CAs trusted to sign servers' certificates */
    const char *verify_name; /* NULL or "": the chain only */
    int min_version;         /* 12 or 13 */
} tls_client_conf_t;

/* Builds the context (the caller owns it: SSL_CTX_free; SSL_new makes connections from it, on any
 * thread). Returns it, or NULL with the reason (which file, what failed) in err. */
SSL_CTX *tls_client_ctx_new(const tls_client_conf_t *conf, char *err, size_t errlen);

#endif
