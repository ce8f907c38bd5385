/* tls_pipe.c - see tls_pipe.h. */
#include "tls_pipe.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

int tls_pipe_init(tls_pipe_t *p, SSL *ssl, int server)
{
    memset(p, 0, sizeof(*p));
    p->in = BIO_new(BIO_s_mem());
    p->out = BIO_new(BIO_s_mem());
    if (p->in == NULL || p->out == NULL) {
        BIO_free(p->in);
        BIO_free(p->out);
        SSL_free(ssl);
        memset(p, 0, sizeof(*p));
        return -1;
    }
    /* An empty memory BIO reads as "retry", not as the end of the stream. */
    BIO_set_mem_eof_return(p->in, -1);
    SSL_set_bio(ssl, p->in, p->out);
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    p->ssl = ssl;
    return 0;
}

void tls_pipe_deinit(tls_pipe_t *p)
{
    SSL_free(p->ssl); /* frees the BIOs too */
    memset(p, 0, sizeof(*p));
}

int tls_pipe_feed(tls_pipe_t *p, const void *data, size_t n)
{
    size_t written = 0;

    if (n == 0)
        return 0;
    if (BIO_write_ex(p->in, data, n, &written) == 1 && written == n)
        return 0;
    ERR_clear_error(); /* out of memory: leave no stale reason for the thread's next call */
    return -1;
}

void tls_pipe_reason(char *why, size_t whylen, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();

    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        if (r != NULL)
            snprintf(why, whylen, "%s", r);
        else
            ERR_error_string_n(e, why, whylen);
    } else {
        snprintf(why, whylen, "%s", fallback);
    }
    ERR_clear_error();
}

/* The reason of a failed call: OpenSSL's, with the certificate check's result when that is
 * what failed. */
static void pipe_fail(const tls_pipe_t *p, int err, char *why, size_t whylen)
{
    char reason[160];
    long vr = SSL_get_verify_result(p->ssl);

    tls_pipe_reason(reason, sizeof(reason),
                    err == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "tls error");
    if (vr != X509_V_OK)
        snprintf(why, whylen, "%s: %s", reason, X509_verify_cert_error_string(vr));
    else
        snprintf(why, whylen, "%s", reason);
}

int tls_pipe_handshake(tls_pipe_t *p, char *why, size_t whylen)
{
    int r, err;

    if (SSL_is_init_finished(p->ssl))
        return TLS_PIPE_DONE;
    ERR_clear_error();
    r = SSL_do_handshake(p->ssl);
    if (r == 1)
        return TLS_PIPE_DONE;
    err = SSL_get_error(p->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return TLS_PIPE_MORE;
    }
    pipe_fail(p, err, why, whylen);
    return -1;
}

int tls_pipe_ready(const tls_pipe_t *p)
{
    return SSL_is_init_finished(p->ssl);
}

long tls_pipe_read(tls_pipe_t *p, void *buf, size_t cap, char *why, size_t whylen)
{
    size_t n = 0;
    int err;

    ERR_clear_error();
    if (SSL_read_ex(p->ssl, buf, cap, &n) == 1)
        return (long)n;
    err = SSL_get_error(p->ssl, 0);
    if (err == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return 0;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return TLS_PIPE_EOF;
    }
    pipe_fail(p, err, why, whylen);
    return -1;
}

int tls_pipe_write(tls_pipe_t *p, const void *data, size_t len)
{
    size_t written = 0;

    if (!SSL_is_init_finished(p->ssl))
        return -1;
    ERR_clear_error();
    /* Memory BIOs never ask to retry, so a write is whole or failed. */
    if (len != 0 && (SSL_write_ex(p->ssl, data, len, &written) != 1 || written != len)) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

size_t tls_pipe_out_pending(const tls_pipe_t *p)
{
    return p->out != NULL ? BIO_ctrl_pending(p->out) : 0;
}

size_t tls_pipe_out_take(tls_pipe_t *p, void *dst, size_t cap)
{
    size_t n = 0;

    if (cap == 0 || BIO_read_ex(p->out, dst, cap, &n) != 1)
        return 0;
    return n;
}
