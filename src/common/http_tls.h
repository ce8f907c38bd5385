/* http_tls.h - the certificate configuration of an HTTPS server (http.h): two keys of a section,
 * read from PEM files at start.
 *
 *   [http] tls_cert = PATH    logic's API port     ([admin] tls_cert: every admin port)
 *   [http] tls_key  = PATH
 *
 * tls_cert is a PEM chain: the server's certificate first, then the intermediates (a file as
 * operators write them for nginx). tls_key is the PEM private key of the first certificate.
 * Both empty (the default) means plain HTTP; one without the other is a start-up error. The
 * files are read once, at start: a new certificate takes a restart of the daemon.
 *
 * Why libmicrohttpd's own TLS (GnuTLS) and not OpenSSL, which comet and the RPC use: MHD reads
 * and writes its sockets itself and has no hook for another TLS stream, so serving HTTPS with
 * OpenSSL would mean a TLS proxy inside the daemon (a second copy of every byte, a second set
 * of connection bounds). One TLS library per role keeps each adapter whole: OpenSSL where herald
 * drives the socket over libuv, GnuTLS inside the HTTP adapter.
 */
#ifndef HERALD_HTTP_TLS_H
#define HERALD_HTTP_TLS_H

#include "conf.h"

#include <stddef.h>

/* Largest certificate chain or key file accepted. */
#define HTTP_TLS_FILE_MAX (1u << 20)

/* The two keys as the conf layer stores them (NULL or "" = unset). */
typedef struct http_tls_conf_s {
    char *cert;
    char *key;
} http_tls_conf_t;

/* The conf items "tls_cert" and "tls_key" of `section` for a daemon config struct `type` with an
 * http_tls_conf_t member `member`; put them in the daemon's conf_item_t table. */
#define HTTP_TLS_CONF_ITEMS(type, section, member)                                                 \
    {section, "tls_cert", CONF_STR, offsetof(type, member.cert), "", 0, 0, NULL},                  \
    {                                                                                              \
        section, "tls_key", CONF_STR, offsetof(type, member.key), "", 0, 0, NULL                   \
    }

/* The files' contents, NUL-terminated; both NULL for plain HTTP. Owned by whoever holds it:
 * http_tls_deinit, or http_server_set_tls which takes it over. */
typedef struct http_tls_s {
    char *cert_pem;
    char *key_pem;
} http_tls_t;

/* Reads the files named by conf into out. Returns 0 (out empty when neither key is set), or
 * HERALD_ECONF with a message in err naming [section], the key and the file: only one of the
 * two set, a file that cannot be read, is empty or over HTTP_TLS_FILE_MAX, or holds no PEM
 * certificate (tls_cert) or no PEM private key (tls_key). Whether the key matches the
 * certificate is checked when the server starts (http_server_listen). No byte of the key ever
 * reaches err or a log; a key file that others may read is accepted with a warning. */
int http_tls_load(const http_tls_conf_t *conf, const char *section, http_tls_t *out, char *err,
                  size_t errlen);

/* Wipes the key's bytes and frees both texts; leaves t empty. */
void http_tls_deinit(http_tls_t *t);

#endif
