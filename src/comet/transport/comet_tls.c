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

/* A TLS connection's state: OpenSSL's until the handshake is over, then (TLS 1.3) only the
 * record keys. Allocated at accept, freed when the socket is closed. */
typedef struct comet_tls_s {
    SSL *ssl;               /* NULL once detached */
    tls_secrets_t *secrets; /* during the handshake */
    tls_record_t rec;       /* detached */
    uint8_t *pend;          /* detached: an incomplete record (at most one), else NULL */
    uint32_t pend_len;
} comet_tls_t;

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

/* Records OpenSSL wrote in the output of its last call (t->tls_out, not yet flushed). */
static uint64_t records_in(const buf_t *out)
{
    uint64_t n = 0;
    for (size_t off = 0; off + TLS_RECORD_HEADER <= out->len; n++)
        off += TLS_RECORD_HEADER + ((size_t)out->data[off + 3] << 8 | out->data[off + 4]);
    return n;
}

/* The handshake just finished (the output of its last call is in t->tls_out): on TLS 1.3 with
 * both traffic secrets captured and nothing left inside OpenSSL, the connection keeps only the
 * record keys and OpenSSL's state is freed. The records of that last call are the session
 * tickets, the only ones OpenSSL wrote with the application keys (its handshake flight went
 * out in an earlier call, before the client's Finished could arrive); it has read none. */
static void tls_detach(comet_conn_t *c)
{
    comet_tls_t *tls = c->tls;
    comet_conns_t *t = comet_conn_conns(c);
    SSL *ssl = tls->ssl;
    tls_secrets_t *sec = tls->secrets;
    tls_server_capture(ssl, NULL);
    tls->secrets = NULL;
    int suite = tls_record_suite(SSL_CIPHER_get_id(SSL_get_current_cipher(ssl)));
    if (SSL_version(ssl) == TLS1_3_VERSION && suite != 0 && sec->have == 3 &&
        !SSL_has_pending(ssl) &&
        tls_record_init(&tls->rec, suite, sec->client, sec->server, sec->len, 0,
                        records_in(&t->tls_out)) == 0) {
        if (t->tls_cipher == NULL)
            t->tls_cipher = tls_record_ctx_new();
        SSL_free(ssl);
        tls->ssl = NULL;
        COMET_STAT_ADD(t->stats, tls_detached, 1);
    }
    OPENSSL_cleanse(sec, sizeof *sec);
    free(sec);
}

/* A detached connection refused the peer's record. */
static void record_fail(comet_conn_t *c, const char *what)
{
    char peer[80];
    COMET_STAT_ADD(comet_conn_conns(c)->stats, tls_failed, 1);
    comet_conn_peer(c, peer, sizeof peer);
    log_warn_rl("conn %s: tls record: %s, closing", peer, what);
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

/* Opens one whole record of a detached connection and acts on it. Returns 0 to go on, -1 when c
 * stops reading (closed, closing or refused). */
static int record_one(comet_conn_t *c, uint8_t *rec, size_t len)
{
    comet_conns_t *t = comet_conn_conns(c);
    uint8_t *plain;
    size_t plen;
    int kind = tls_record_open(&c->tls->rec, t->tls_cipher, rec, len, &plain, &plen);
    if (kind == TLS_RECORD_DATA) {
        if (plen > 0)
            tls_deliver(c, plain, plen);
    } else if (kind == TLS_RECORD_CLOSE) {
        comet_conn_on_eof(c, UV_EOF);
    } else if (kind == TLS_RECORD_KEY_UPDATE) {
        if (plen == 1 && tls_record_update_write(&c->tls->rec, t->tls_cipher, &t->tls_out) != 0) {
            t->tls_out.len = 0;
            record_fail(c, "key update");
        } else if (plen == 1) {
            tls_flush(c);
        }
    } else {
        record_fail(c, "bad record");
    }
    return c->state < COMET_CONN_CLOSING ? 0 : -1;
}

/* Ciphertext of a detached connection: whole records are opened where they lie (the loop's read
 * buffer); an incomplete one is kept in tls->pend, sized for it (at most TLS_RECORD_HEADER +
 * TLS_RECORD_CIPHER_MAX bytes, as OpenSSL's own read buffer) and freed once it is whole. */
static void record_input(comet_conn_t *c, uint8_t *data, size_t len)
{
    comet_tls_t *tls = c->tls;
    while (len > 0 && tls->pend_len > 0) {
        /* complete the header, then the record, from the new bytes */
        size_t want = TLS_RECORD_HEADER;
        if (tls->pend_len >= TLS_RECORD_HEADER) {
            want += (size_t)tls->pend[3] << 8 | tls->pend[4]; /* checked by the peek below */
            if (tls->pend_len == TLS_RECORD_HEADER)
                tls->pend = xrealloc(tls->pend, want);
        }
        size_t take = want - tls->pend_len < len ? want - tls->pend_len : len;
        memcpy(tls->pend + tls->pend_len, data, take);
        tls->pend_len += (uint32_t)take;
        data += take;
        len -= take;
        long n = tls_record_peek(tls->pend, tls->pend_len);
        if (n < 0) {
            record_fail(c, "bad record header");
            return;
        }
        if (n == 0)
            continue; /* the header is whole now, or the bytes ran out */
        int stop = record_one(c, tls->pend, (size_t)n);
        free(tls->pend);
        tls->pend = NULL;
        tls->pend_len = 0;
        if (stop)
            return;
    }
    while (len > 0) {
        long n = tls_record_peek(data, len);
        if (n < 0) {
            record_fail(c, "bad record header");
            return;
        }
        if (n == 0) {
            /* room for this record, or for its header until that is whole */
            size_t need = TLS_RECORD_HEADER;
            if (len >= TLS_RECORD_HEADER)
                need += (size_t)data[3] << 8 | data[4];
            tls->pend = xmalloc(need);
            memcpy(tls->pend, data, len);
            tls->pend_len = (uint32_t)len;
            return;
        }
        if (record_one(c, data, (size_t)n) != 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

/* Runs the handshake and the reads on the ciphertext in t->tls_in until OpenSSL wants more, c
 * stops being readable or OpenSSL refuses the input. */
static void tls_pump(comet_conn_t *c)
{
    comet_conns_t *t = comet_conn_conns(c);
    SSL *ssl = c->tls->ssl;
    while (c->state < COMET_CONN_CLOSING) {
        ERR_clear_error();
        if (!SSL_is_init_finished(ssl)) {
            int r = SSL_do_handshake(ssl);
            int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
            if (err == SSL_ERROR_NONE) {
                COMET_STAT_ADD(t->stats, tls_handshakes, 1);
                if (SSL_session_reused(ssl))
                    COMET_STAT_ADD(t->stats, tls_resumed, 1);
                tls_detach(c);
            }
            if (tls_flush(c) != 0)
                return;
            if (err == SSL_ERROR_WANT_READ)
                return;
            if (err != SSL_ERROR_NONE) {
                tls_fail(c, "tls handshake", err);
                return;
            }
            if (c->tls->ssl == NULL) {
                record_input(c, (uint8_t *)t->tls_in, t->tls_in_len);
                t->tls_in_len = 0;
                return;
            }
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
    if (!comet_conn_on_read(c, nread))
        return;
    comet_conns_t *t = comet_conn_conns(c);
    if (c->tls->ssl == NULL) {
        record_input(c, (uint8_t *)buf->base, (size_t)nread);
        return;
    }
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
    comet_tls_t *tls = c->tls;
    comet_conns_t *t = comet_conn_conns(c);
    if (tls->ssl != NULL && !SSL_is_init_finished(tls->ssl))
        return UV_ENOTCONN;
    const void *data = bufs[0].base;
    size_t len = bufs[0].len;
    if (nbufs > 1) {
        buf_t *g = &t->tls_gather;
        g->len = 0;
        for (unsigned i = 0; i < nbufs; i++)
            buf_append(g, bufs[i].base, bufs[i].len);
        data = g->data;
        len = g->len;
    }
    if (len == 0)
        return 0;
    ERR_clear_error();
    size_t written = 0;
    int ok = tls->ssl != NULL
                 ? SSL_write_ex(tls->ssl, data, len, &written)
                 : tls_record_seal(&tls->rec, t->tls_cipher, 23, data, len, &t->tls_out) == 0;
    if (!ok) {
        char reason[160] = "";
        ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
        ERR_clear_error();
        log_debug("conn: tls encrypt: %s", reason);
        t->tls_out.len = 0;
        return UV_EPROTO;
    }
    return tls_flush(c);
}

/* close_notify, then the TCP FIN after it. */
static int tls_shutdown(comet_conn_t *c)
{
    comet_tls_t *tls = c->tls;
    comet_conns_t *t = comet_conn_conns(c);
    static const uint8_t close_notify[2] = {1, 0};
    if (tls->ssl == NULL) {
        if (tls_record_seal(&tls->rec, t->tls_cipher, 21, close_notify, sizeof close_notify,
                            &t->tls_out) != 0)
            t->tls_out.len = 0;
    } else if (SSL_is_init_finished(tls->ssl)) {
        ERR_clear_error();
        SSL_shutdown(tls->ssl);
        ERR_clear_error();
    }
    int rc = tls_flush(c);
    return rc != 0 ? rc : comet_tcp_shutdown(c);
}

static void on_close(uv_handle_t *h)
{
    comet_conn_t *c = (comet_conn_t *)h;
    comet_conns_t *t = comet_conn_conns(c);
    /* Freed only here: a close from inside tls_pump returns into OpenSSL's caller first. */
    comet_tls_t *tls = c->tls;
    if (tls != NULL) {
        SSL_free(tls->ssl);
        if (tls->secrets != NULL) {
            OPENSSL_cleanse(tls->secrets, sizeof *tls->secrets);
            free(tls->secrets);
        }
        OPENSSL_cleanse(&tls->rec, sizeof tls->rec);
        free(tls->pend);
        free(tls);
        c->tls = NULL;
    }
    COMET_STAT_SUB(t->stats, tls, 1);
    if (comet_conn_is_ws(c))
        COMET_STAT_SUB(t->stats, wss, 1);
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
    if (ws)
        COMET_STAT_ADD(t->stats, wss, 1);
    if (comet_tcp_take(t, c, listener, &tls_stream, ws, ops) != 0)
        return;
    comet_tls_t *tls = xcalloc(1, sizeof *tls);
    c->tls = tls;
    tls->ssl = tls_server_ssl(server);
    BIO *bio = tls->ssl != NULL ? BIO_new(bio_method) : NULL;
    if (bio == NULL) {
        log_warn_rl("accept: tls: cannot create the connection's state");
        comet_conn_close(c);
        return;
    }
    BIO_set_data(bio, c);
    SSL_set_bio(tls->ssl, bio, bio); /* one reference, for both directions */
    SSL_set_accept_state(tls->ssl);
    tls->secrets = xcalloc(1, sizeof *tls->secrets);
    tls_server_capture(tls->ssl, tls->secrets);
    comet_conn_start(c);
}
