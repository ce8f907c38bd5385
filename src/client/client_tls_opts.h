/* client_tls_opts.h - client_tls_t, the TLS options of client_connect_tls (client.h). Its own
 * header so that the TLS layer below client.c (client_tls.h) can take it without including
 * client.h. Include client.h, not this. */
#ifndef HERALD_CLIENT_TLS_OPTS_H
#define HERALD_CLIENT_TLS_OPTS_H

/* TLS options (borrowed for the client_connect_tls call). Verification is always on: the chain
 * must lead to a trusted CA and the certificate must name the server; TLS 1.2 or newer. */
typedef struct client_tls_s {
    const char *ca_file;     /* PEM file of trusted CAs; NULL: the system store */
    const char *server_name; /* sent as SNI and checked against the certificate; NULL: the host
                              * dialled (an IP literal is checked as an IP and sends no SNI) */
    const char *cert_file;   /* client certificate chain (PEM) for mutual TLS; NULL: none */
    const char *key_file;    /* its key (PEM); set with cert_file or not at all */
} client_tls_t;

#endif
