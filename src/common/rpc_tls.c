/* rpc_tls.c - see rpc_tls.h. */
#include "rpc_tls.h"

#include "buf.h"
#include "tls_record.h"

#include <openssl/err.h>
#include <stdlib.h>

/* A socket read of ciphertext: a whole record at most, so one read is one OpenSSL step. The
 * bytes are copied into OpenSSL's BIO before the read callback returns, so one buffer per thread
 * serves every connection of its loop. */
static __thread uint8_t rpc_tls_cipher[TLS_RECORD_HEADER + TLS_RECORD_CIPHER_MAX];

rpc_tls_t *rpc_tls_new(SSL *ssl, int server, uv_stream_t *stream, rpc_frame_writer_t *writer,
                       uv_alloc_cb plain_alloc, uv_read_cb plain_read, rpc_tls_fail_cb on_fail)
{
    rpc_tls_t *t;
    char why[200];

    if (ssl == NULL) {
        ERR_clear_error(); /* SSL_new's reason would mislead the thread's next OpenSSL call */
        return NULL;
    }
    t = xcalloc(1, sizeof(*t));
    if (tls_pipe_init(&t->pipe, ssl, server) != 0) {
        free(t);
        return NULL;
    }
    t->stream = stream;
    t->writer = writer;
    t->plain_alloc = plain_alloc;
    t->plain_read = plain_read;
    t->on_fail = on_fail;
    rpc_frame_writer_set_tls(writer, &t->pipe);
    if (!server && tls_pipe_handshake(&t->pipe, why, sizeof(why)) < 0) {
        rpc_tls_free(t);
        return NULL;
    }
    rpc_frame_writer_flush(writer); /* the ClientHello */
    return t;
}

void rpc_tls_alloc(rpc_tls_t *t, uv_buf_t *buf)
{
    (void)t;
    *buf = uv_buf_init((char *)rpc_tls_cipher, sizeof(rpc_tls_cipher));
}

/* Hands every decrypted byte to the plain reader, until OpenSSL wants more input, the stream is
 * closing or TLS fails. */
static void tls_deliver(rpc_tls_t *t)
{
    char why[200];
    uv_buf_t plain;
    long n;

    while (!uv_is_closing((uv_handle_t *)t->stream)) {
        t->plain_alloc((uv_handle_t *)t->stream, 64 * 1024, &plain);
        n = tls_pipe_read(&t->pipe, plain.base, plain.len, why, sizeof(why));
        /* Reading may have produced output: an alert, a KeyUpdate's answer. */
        rpc_frame_writer_flush(t->writer);
        if (n == 0)
            return;
        if (n == TLS_PIPE_EOF) {
            t->plain_read(t->stream, UV_EOF, &plain);
            return;
        }
        if (n < 0) {
            t->on_fail(t->stream, why);
            return;
        }
        t->plain_read(t->stream, n, &plain);
    }
}

void rpc_tls_read(rpc_tls_t *t, ssize_t nread, const uv_buf_t *buf)
{
    char why[200];
    int rc;

    if (nread < 0) {
        t->plain_read(t->stream, nread, buf);
        return;
    }
    if (nread == 0)
        return;
    if (tls_pipe_feed(&t->pipe, buf->base, (size_t)nread) != 0) {
        t->on_fail(t->stream, "out of memory");
        return;
    }
    if (!tls_pipe_ready(&t->pipe)) {
        rc = tls_pipe_handshake(&t->pipe, why, sizeof(why));
        /* Handshake messages, alerts, and once it is over the frames that waited for it. */
        rpc_frame_writer_flush(t->writer);
        if (rc < 0) {
            t->on_fail(t->stream, why);
            return;
        }
        if (rc == TLS_PIPE_MORE || uv_is_closing((uv_handle_t *)t->stream))
            return;
    }
    tls_deliver(t);
}

void rpc_tls_free(rpc_tls_t *t)
{
    if (t == NULL)
        return;
    tls_pipe_deinit(&t->pipe);
    free(t);
}
