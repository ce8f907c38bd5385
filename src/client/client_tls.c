/* client_tls.c - see client_tls.h. The socket is non-blocking: every OpenSSL call that wants to
 * read or write waits on the fd with client_net_wait against the caller's deadline, so a server
 * that accepts and says nothing cannot stall a handshake past its timeout. */
#include "client_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client_net.h"
#include "herald_err.h"

/* ------------------------------------------------------------------ socket BIO */

/* OpenSSL's socket BIO writes with write(): a peer that has gone would raise SIGPIPE in the
 * program using the library. This BIO sends with MSG_NOSIGNAL, as client_net.c does. Its data
 * is the fd. */
static BIO_METHOD *client_tls_bio_method;
static pthread_once_t client_tls_bio_once = PTHREAD_ONCE_INIT;

static int client_tls_bio_retry(BIO *b, ssize_t n, int write)
{
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (write)
            BIO_set_retry_write(b);
        else
            BIO_set_retry_read(b);
    }
    return (int)n;
}

static int client_tls_bio_write(BIO *b, const char *data, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), data, (size_t)len, MSG_NOSIGNAL);
    return client_tls_bio_retry(b, n, 1);
}

static int client_tls_bio_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);
    if (n == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* lets OpenSSL tell a bare EOF from an error */
    return client_tls_bio_retry(b, n, 0);
}

static long client_tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    if (cmd == BIO_CTRL_FLUSH)
        return 1; /* nothing is buffered here */
    if (cmd == BIO_CTRL_EOF)
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    return 0;
}

static int client_tls_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void client_tls_bio_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "herald client");
    if (m != NULL &&
        (!BIO_meth_set_write(m, client_tls_bio_write) ||
         !BIO_meth_set_read(m, client_tls_bio_read) || !BIO_meth_set_ctrl(m, client_tls_bio_ctrl) ||
         !BIO_meth_set_create(m, client_tls_bio_create))) {
        BIO_meth_free(m);
        m = NULL;
    }
    client_tls_bio_method = m;
}

static BIO *client_tls_bio_new(int fd)
{
    pthread_once(&client_tls_bio_once, client_tls_bio_make);
    BIO *b = client_tls_bio_method != NULL ? BIO_new(client_tls_bio_method) : NULL;
    if (b != NULL)
        BIO_set_data(b, (void *)(intptr_t)fd);
    return b;
}

/* ------------------------------------------------------------------ context and checks */

/* The newest OpenSSL error's text, for messages ("tlsv1 alert unknown ca", ...); when the
 * first error was a system one (a file that cannot be opened; the later ones then only say
 * "system lib"), strerror's text of it. */
static const char *client_tls_reason(void)
{
    unsigned long first = ERR_peek_error();
    if (first != 0 && ERR_SYSTEM_ERROR(first))
        return strerror(ERR_GET_REASON(first));
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    return r != NULL ? r : "unknown error";
}

/* A context for one connection: trust anchors, client certificate, oldest version. */
static SSL_CTX *client_tls_ctx(const client_tls_t *opts, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "TLS: %s", client_tls_reason());
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    const char *ca = opts != NULL ? opts->ca_file : NULL;
    int ok = ca != NULL ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
    if (!ok) {
        snprintf(err, errlen, "TLS: cannot load the CA file %s: %s", ca ? ca : "(system store)",
                 client_tls_reason());
        SSL_CTX_free(ctx);
        return NULL;
    }
    const char *cert = opts != NULL ? opts->cert_file : NULL;
    const char *key = opts != NULL ? opts->key_file : NULL;
    if ((cert == NULL) != (key == NULL)) {
        snprintf(err, errlen, "TLS: a client certificate needs both a certificate and a key");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cert != NULL && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
                         SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
                         SSL_CTX_check_private_key(ctx) != 1)) {
        snprintf(err, errlen, "TLS: cannot use the client certificate %s / key %s: %s", cert, key,
                 client_tls_reason());
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int client_tls_is_ip(const char *name)
{
    unsigned char a[16];
    return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

/* What the certificate must name: an IP literal is matched against IP SANs and sent as no SNI
 * (RFC 6066 allows only DNS names there); a name goes into SNI and the DNS check. */
static int client_tls_set_name(SSL *ssl, const char *name)
{
    if (client_tls_is_ip(name))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
}

/* ------------------------------------------------------------------ handshake */

/* After an OpenSSL call on ssl returned r <= 0: waits for what it wants and returns 0 to call it
 * again, or the negative code to stop with. A clean close gives 0 bytes: reported as *eof. */
static int client_tls_again(SSL *ssl, int fd, int r, int64_t deadline, int *eof)
{
    int e = SSL_get_error(ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return client_net_wait(fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return client_net_wait(fd, POLLOUT, deadline);
    case SSL_ERROR_ZERO_RETURN:
        *eof = 1;
        return -ECONNRESET;
    case SSL_ERROR_SYSCALL:
        return errno != 0 && errno != EAGAIN ? -errno : -ECONNRESET;
    default:
        if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            return -ECONNRESET; /* the peer closed without close_notify */
        return -EPROTO;
    }
}

/* Writes why the handshake failed into err. */
static void client_tls_why(SSL *ssl, int rc, const char *name, const char *host, int port,
                           char *err, size_t errlen)
{
    long v = SSL_get_verify_result(ssl);
    const char *what = NULL;
    char buf[160];
    if (rc == -ETIMEDOUT) {
        what = "timed out";
    } else if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        snprintf(buf, sizeof(buf), "host name mismatch: the certificate is not for %s", name);
        what = buf;
    } else if (v != X509_V_OK) {
        snprintf(buf, sizeof(buf), "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        what = buf;
    } else if (rc == -EPROTO) {
        what = client_tls_reason();
    } else if (rc == -ECONNRESET) {
        what = "connection closed by the server";
    } else {
        what = strerror(-rc);
    }
    snprintf(err, errlen, "TLS handshake with %s:%d: %s", host, port, what);
}

int client_tls_start(int fd, const client_tls_t *opts, const char *host, int port, int64_t deadline,
                     SSL **out, char *err, size_t errlen)
{
    *out = NULL;
    ERR_clear_error();
    SSL_CTX *ctx = client_tls_ctx(opts, err, errlen);
    if (ctx == NULL)
        return HERALD_EINVAL;
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the session holds its own reference */
    BIO *bio = ssl != NULL ? client_tls_bio_new(fd) : NULL;
    const char *name = opts != NULL && opts->server_name != NULL ? opts->server_name : host;
    if (bio == NULL || !client_tls_set_name(ssl, name)) {
        snprintf(err, errlen, "TLS: cannot set up a session for %s: %s", name, client_tls_reason());
        BIO_free(bio);
        SSL_free(ssl);
        return HERALD_EINVAL;
    }
    SSL_set_bio(ssl, bio, bio);
    int rc = 0;
    int eof = 0;
    for (;;) {
        errno = 0;
        int r = SSL_connect(ssl);
        if (r == 1) {
            *out = ssl;
            return 0;
        }
        rc = client_tls_again(ssl, fd, r, deadline, &eof);
        if (rc < 0)
            break;
    }
    client_tls_why(ssl, rc, name, host, port, err, errlen);
    SSL_free(ssl);
    return rc;
}

/* ------------------------------------------------------------------ data */

ssize_t client_tls_read(SSL *ssl, int fd, void *buf, size_t cap, int64_t deadline)
{
    int len = cap > INT_MAX ? INT_MAX : (int)cap;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_read(ssl, buf, len);
        if (n > 0)
            return n;
        int eof = 0;
        int rc = client_tls_again(ssl, fd, n, deadline, &eof);
        if (eof)
            return 0;
        if (rc < 0)
            return rc;
    }
}

int client_tls_write_all(SSL *ssl, int fd, const void *data, size_t len, int64_t deadline)
{
    const char *p = data;
    while (len > 0) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_write(ssl, p, len > INT_MAX ? INT_MAX : (int)len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        int eof = 0;
        int rc = client_tls_again(ssl, fd, n, deadline, &eof);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void client_tls_close(SSL *ssl)
{
    if (SSL_is_init_finished(ssl)) {
        ERR_clear_error();
        SSL_shutdown(ssl); /* one try: close_notify if the socket takes it now */
    }
    SSL_free(ssl);
}
