/* comet_tls.c - see comet_tls.h. */
#include "comet_tls.h"

#include "comet_tcp.h"
#include "comet_ws.h"
#include "log.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------------------------- BIO */

/* One BIO per connection, its data the comet_conn_t. Reads take the ciphertext the loop is
 * processing for that connection (never another's); writes append to the loop's tls_out. */

static BIO_METHOD *bio_method;
static uv_once_t bio_once = UV_ONCE_INIT;

static int bio_write(BIO *b, const char *data, int len)
{
    comet_conn_t *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    buf_append(&comet_conn_conns(c)->tls_out, data, (size_t)len);
    return len;
}

static int bio_read(BIO *b, char *out, int len)
{
    comet_conn_t *c = BIO_get_data(b);
    comet_conns_t *t = comet_conn_conns(c);
    BIO_clear_retry_flags(b);
    if (t->tls_in_conn != c || t->tls_in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)len < t->tls_in_len ? (size_t)len : t->tls_in_len;
    memcpy(out, t->tls_in, n);
    t->tls_in += n;
    t->tls_in_len -= n;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_init(void)
{
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "comet_conn");
    if (bio_method == NULL || !BIO_meth_set_write(bio_method, bio_write) ||
        !BIO_meth_set_read(bio_method, bio_read) || !BIO_meth_set_ctrl(bio_method, bio_ctrl) ||
        !BIO_meth_set_create(bio_method, bio_create)) {
        log_error("tls: cannot create the BIO method");
        abort();
    }
}

/* ------------------------------------------------------------------------------- helpers */

/* Sends what the last SSL call wrote. Returns 0, or UV_E* after closing c. */
static int tls_flush(comet_conn_t *c)
{
    comet_conns_t *t = comet_conn_conns(c);
    if (t->tls_out.len == 0)
        return 0;
    uv_buf_t b = uv_buf_init((char *)t->tls_out.data, (unsigned)t->tls_out.len);
    int rc = comet_tcp_write(c, &b, 1, NULL); /* copies what the socket does not take */
    t->tls_out.len = 0;
    if (rc != 0) {
        log_debug("conn: tls write: %s", uv_strerror(rc));
        comet_conn_close(c);
    }
    return rc;
}

/* OpenSSL refused the peer's bytes: closes c with a rate-limited warning and the reason. */
static void tls_fail(comet_conn_t *c, const char *what, int err)
{
    char peer[80], reason[160] = "";
    unsigned long e = ERR_peek_last_error();
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    else if (err == SSL_ERROR_SYSCALL)
        strcpy(reason, "unexpected end of stream");
    ERR_clear_error();
    comet_conns_t *t = comet_conn_conns(c);
    COMET_STAT_ADD(t->stats, tls_failed, 1);
    comet_conn_peer(c, peer, sizeof peer);
    log_warn_rl("conn %s: %s: %s (ssl error %d), closing", peer, what, reason, err);
    comet_conn_close(c);
}

/* Decrypted bytes to c's framing, as plain input would go. */
static void tls_deliver(comet_conn_t *c, uint8_t *data, size_t len)
{
    if (comet_conn_is_ws(c))
        comet_ws_on_read(c, data, len);
    else
        comet_conn_on_packets(c, data, len);
}

/* Runs the handshake and the reads on the ciphertext in t->tls_in until OpenSSL wants more, c
 * stops being readable or OpenSSL refuses the input. */
static void tls_pump(comet_conn_t *c)
{
    comet_conns_t *t = comet_conn_conns(c);
    SSL *ssl = c->ssl;
    while (c->state < COMET_CONN_CLOSING) {
        ERR_clear_error();
        if (!SSL_is_init_finished(ssl)) {
            int r = SSL_do_handshake(ssl);
            int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
            if (tls_flush(c) != 0)
                return;
            if (err == SSL_ERROR_WANT_READ)
                return;
            if (err != SSL_ERROR_NONE) {
                tls_fail(c, "tls handshake", err);
                return;
            }
            COMET_STAT_ADD(t->stats, tls_handshakes, 1);
            if (SSL_session_reused(ssl))
                COMET_STAT_ADD(t->stats, tls_resumed, 1);
            continue;
        }
        size_t n = 0;
        int ok = SSL_read_ex(ssl, t->tls_plain, COMET_TLS_PLAIN_SIZE, &n);
        int err = ok ? SSL_ERROR_NONE : SSL_get_error(ssl, 0);
        if (tls_flush(c) != 0)
            return;
        if (ok) {
            tls_deliver(c, t->tls_plain, n);
        } else if (err == SSL_ERROR_WANT_READ) {
            return;
        } else if (err == SSL_ERROR_ZERO_RETURN) {
            comet_conn_on_eof(c, UV_EOF); /* close_notify */
            return;
        } else {
            tls_fail(c, "tls read", err);
            return;
        }
    }
}

/* ---------------------------------------------------------------------------- the stream */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    comet_conn_t *c = (comet_conn_t *)s;
    if (nread == 0)
        return;
    if (nread < 0) {
        comet_conn_on_eof(c, (int)nread);
        return;
    }
    if (!comet_conn_on_input(c, (size_t)nread))
        return;
    comet_conns_t *t = comet_conn_conns(c);
    t->tls_in = (const uint8_t *)buf->base;
    t->tls_in_len = (size_t)nread;
    t->tls_in_conn = c;
    tls_pump(c);
    /* OpenSSL has taken every byte (it reads until the BIO is empty); a partial record stays in
     * its own buffer until the rest arrives. */
    t->tls_in_len = 0;
    t->tls_in_conn = NULL;
}

static int tls_read_start(comet_conn_t *c)
{
    int rc = uv_read_start((uv_stream_t *)&c->tcp, comet_tcp_alloc, on_read);
    return rc == UV_EALREADY ? 0 : rc;
}

static void tls_read_stop(comet_conn_t *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Encrypts bufs (gathered into one buffer when there are several, so that a header and its body
 * make one record) and sends the records. shared is not referenced: every connection's
 * ciphertext is its own. */
static int tls_write(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared)
{
    (void)shared;
    if (!SSL_is_init_finished(c->ssl))
        return UV_ENOTCONN;
    const void *data = bufs[0].base;
    size_t len = bufs[0].len;
    if (nbufs > 1) {
        buf_t *g = &comet_conn_conns(c)->tls_gather;
        g->len = 0;
        for (unsigned i = 0; i < nbufs; i++)
            buf_append(g, bufs[i].base, bufs[i].len);
        data = g->data;
        len = g->len;
    }
    ERR_clear_error();
    size_t written = 0;
    if (len > 0 && !SSL_write_ex(c->ssl, data, len, &written)) {
        char reason[160] = "";
        ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
        ERR_clear_error();
        log_debug("conn: tls encrypt: %s", reason);
        comet_conn_conns(c)->tls_out.len = 0;
        return UV_EPROTO;
    }
    return tls_flush(c);
}

/* close_notify, then the TCP FIN after it. */
static int tls_shutdown(comet_conn_t *c)
{
    if (SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        ERR_clear_error();
        int rc = tls_flush(c);
        if (rc != 0)
            return rc;
    }
    return comet_tcp_shutdown(c);
}

static void on_close(uv_handle_t *h)
{
    comet_conn_t *c = (comet_conn_t *)h;
    comet_conns_t *t = comet_conn_conns(c);
    /* Freed only here: a close from inside tls_pump returns into OpenSSL's caller first. */
    SSL_free(c->ssl);
    c->ssl = NULL;
    COMET_STAT_SUB(t->stats, tls, 1);
    comet_conn_on_closed(c);
}

static void tls_close(comet_conn_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static const comet_stream_t tls_stream = {
    tls_read_start, tls_read_stop, tls_write, tls_shutdown, tls_close,
};

void comet_tls_accept(comet_conns_t *t, comet_conn_t *c, uv_stream_t *listener, int ws,
                      const comet_conn_ops_t *ops, tls_server_t *server)
{
    uv_once(&bio_once, bio_method_init);
    if (t->tls_plain == NULL)
        t->tls_plain = xmalloc(COMET_TLS_PLAIN_SIZE);
    COMET_STAT_ADD(t->stats, tls, 1);
    if (comet_tcp_take(t, c, listener, &tls_stream, ws, ops) != 0)
        return;
    c->ssl = tls_server_ssl(server);
    BIO *bio = c->ssl != NULL ? BIO_new(bio_method) : NULL;
    if (bio == NULL) {
        log_warn_rl("accept: tls: cannot create the connection's state");
        comet_conn_close(c);
        return;
    }
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio); /* one reference, for both directions */
    SSL_set_accept_state(c->ssl);
    comet_conn_start(c);
}
