/* tls_record.c - see tls_record.h. */
#include "tls_record.h"

#include "herald_err.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TLS_TAG_LEN 16
#define TLS_CT_ALERT 21
#define TLS_CT_HANDSHAKE 22
#define TLS_CT_DATA 23
#define TLS_HS_KEY_UPDATE 24

/* Fetched once: an implicit fetch on every record would cost a lookup per record. */
static EVP_CIPHER *ciphers[4];
static const EVP_MD *digests[4];
static uv_once_t fetch_once = UV_ONCE_INIT;

static void fetch_all(void)
{
    ciphers[TLS_RECORD_AES128GCM] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    ciphers[TLS_RECORD_AES256GCM] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    ciphers[TLS_RECORD_CHACHA20] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    digests[TLS_RECORD_AES128GCM] = EVP_sha256();
    digests[TLS_RECORD_AES256GCM] = EVP_sha384();
    digests[TLS_RECORD_CHACHA20] = EVP_sha256();
}

int tls_record_suite(uint32_t id)
{
    switch (id & 0xffff) {
    case 0x1301:
        return TLS_RECORD_AES128GCM;
    case 0x1302:
        return TLS_RECORD_AES256GCM;
    case 0x1303:
        return TLS_RECORD_CHACHA20;
    default:
        return 0;
    }
}

/* HKDF-Expand-Label(secret, label, "", outlen) for outlen <= the hash length: one HMAC block
 * (RFC 8446 §7.1, RFC 5869 §2.3). */
static int expand_label(const tls_record_t *r, const uint8_t *secret, const char *label,
                        uint8_t *out, size_t outlen)
{
    uint8_t info[2 + 1 + 6 + 16 + 1 + 1];
    size_t ll = strlen(label), n = 0;
    info[n++] = (uint8_t)(outlen >> 8);
    info[n++] = (uint8_t)outlen;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0;    /* empty context */
    info[n++] = 0x01; /* T(1) */
    uint8_t block[EVP_MAX_MD_SIZE];
    unsigned blen = 0;
    if (HMAC(digests[r->suite], secret, (int)r->hashlen, info, n, block, &blen) == NULL ||
        blen < outlen)
        return HERALD_EINVAL;
    memcpy(out, block, outlen);
    OPENSSL_cleanse(block, sizeof block);
    return 0;
}

static int dir_keys(const tls_record_t *r, tls_record_dir_t *d)
{
    if (expand_label(r, d->secret, "key", d->key, r->keylen) != 0 ||
        expand_label(r, d->secret, "iv", d->iv, sizeof d->iv) != 0)
        return HERALD_EINVAL;
    return 0;
}

/* The next traffic secret of d (KeyUpdate), its keys, sequence 0. */
static int dir_update(const tls_record_t *r, tls_record_dir_t *d)
{
    uint8_t next[TLS_RECORD_SECRET_MAX];
    if (expand_label(r, d->secret, "traffic upd", next, r->hashlen) != 0)
        return HERALD_EINVAL;
    memcpy(d->secret, next, r->hashlen);
    OPENSSL_cleanse(next, sizeof next);
    d->seq = 0;
    return dir_keys(r, d);
}

int tls_record_init(tls_record_t *r, int suite, const uint8_t *client_secret,
                    const uint8_t *server_secret, size_t secretlen, uint64_t rd_seq,
                    uint64_t wr_seq)
{
    uv_once(&fetch_once, fetch_all);
    memset(r, 0, sizeof *r);
    if (suite < TLS_RECORD_AES128GCM || suite > TLS_RECORD_CHACHA20 || ciphers[suite] == NULL)
        return HERALD_EINVAL;
    r->suite = (uint8_t)suite;
    r->hashlen = suite == TLS_RECORD_AES256GCM ? 48 : 32;
    r->keylen = suite == TLS_RECORD_AES128GCM ? 16 : 32;
    if (secretlen != r->hashlen)
        return HERALD_EINVAL;
    memcpy(r->rd.secret, client_secret, secretlen);
    memcpy(r->wr.secret, server_secret, secretlen);
    r->rd.seq = rd_seq;
    r->wr.seq = wr_seq;
    return dir_keys(r, &r->rd) == 0 && dir_keys(r, &r->wr) == 0 ? 0 : HERALD_EINVAL;
}

/* The per-record nonce: the IV xor the sequence number (§5.3). */
static void nonce_of(const tls_record_dir_t *d, uint8_t nonce[12])
{
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* One record of len <= TLS_RECORD_PLAIN_MAX bytes. */
static int seal_one(tls_record_t *r, EVP_CIPHER_CTX *cctx, uint8_t type, const uint8_t *data,
                    size_t len, buf_t *out)
{
    size_t body = len + 1 + TLS_TAG_LEN;
    uint8_t *p = buf_reserve(out, TLS_RECORD_HEADER + body);
    p[0] = TLS_CT_DATA; /* every protected record says application data (§5.2) */
    p[1] = 0x03;
    p[2] = 0x03;
    p[3] = (uint8_t)(body >> 8);
    p[4] = (uint8_t)body;
    uint8_t nonce[12];
    nonce_of(&r->wr, nonce);
    int n = 0;
    uint8_t *c = p + TLS_RECORD_HEADER;
    if (EVP_EncryptInit_ex(cctx, ciphers[r->suite], NULL, r->wr.key, nonce) != 1 ||
        EVP_EncryptUpdate(cctx, NULL, &n, p, TLS_RECORD_HEADER) != 1 ||
        (len > 0 && EVP_EncryptUpdate(cctx, c, &n, data, (int)len) != 1) ||
        EVP_EncryptUpdate(cctx, c + len, &n, &type, 1) != 1 ||
        EVP_EncryptFinal_ex(cctx, c + len + 1, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_GET_TAG, TLS_TAG_LEN, c + len + 1) != 1)
        return HERALD_EINVAL;
    out->len += TLS_RECORD_HEADER + body;
    r->wr.seq++;
    return 0;
}

int tls_record_seal(tls_record_t *r, TLS_CIPHER_CTX *cctx, uint8_t type, const uint8_t *data,
                    size_t len, buf_t *out)
{
    do {
        size_t n = len < TLS_RECORD_PLAIN_MAX ? len : TLS_RECORD_PLAIN_MAX;
        if (seal_one(r, cctx, type, data, n, out) != 0)
            return HERALD_EINVAL;
        data += n;
        len -= n;
    } while (len > 0);
    return 0;
}

long tls_record_peek(const uint8_t *data, size_t len)
{
    if (len >= 1 && data[0] != TLS_CT_DATA)
        return HERALD_EPROTO;
    if (len >= 2 && data[1] != 0x03)
        return HERALD_EPROTO;
    if (len < TLS_RECORD_HEADER)
        return 0;
    size_t body = (size_t)data[3] << 8 | data[4];
    if (body < 1 + TLS_TAG_LEN || body > TLS_RECORD_CIPHER_MAX)
        return HERALD_EPROTO;
    return len >= TLS_RECORD_HEADER + body ? (long)(TLS_RECORD_HEADER + body) : 0;
}

/* A handshake record after the handshake: one KeyUpdate (§4.6.3) is all a server takes. */
static int on_handshake(tls_record_t *r, const uint8_t *msg, size_t len, size_t *plainlen)
{
    if (len != 5 || msg[0] != TLS_HS_KEY_UPDATE || msg[1] != 0 || msg[2] != 0 || msg[3] != 1 ||
        msg[4] > 1)
        return HERALD_EPROTO;
    if (dir_update(r, &r->rd) != 0)
        return HERALD_EPROTO;
    *plainlen = msg[4];
    return TLS_RECORD_KEY_UPDATE;
}

int tls_record_open(tls_record_t *r, TLS_CIPHER_CTX *cctx, uint8_t *rec, size_t len,
                    uint8_t **plain, size_t *plainlen)
{
    if (len < TLS_RECORD_HEADER + 1 + TLS_TAG_LEN)
        return HERALD_EPROTO;
    uint8_t *c = rec + TLS_RECORD_HEADER;
    size_t clen = len - TLS_RECORD_HEADER - TLS_TAG_LEN;
    uint8_t nonce[12];
    nonce_of(&r->rd, nonce);
    int n = 0;
    if (EVP_DecryptInit_ex(cctx, ciphers[r->suite], NULL, r->rd.key, nonce) != 1 ||
        EVP_DecryptUpdate(cctx, NULL, &n, rec, TLS_RECORD_HEADER) != 1 ||
        EVP_DecryptUpdate(cctx, c, &n, c, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_AEAD_SET_TAG, TLS_TAG_LEN, c + clen) != 1 ||
        EVP_DecryptFinal_ex(cctx, c + clen, &n) != 1)
        return HERALD_EPROTO;
    r->rd.seq++;
    /* TLSInnerPlaintext: content, the type, then zero padding (§5.4). */
    while (clen > 0 && c[clen - 1] == 0)
        clen--;
    if (clen == 0)
        return HERALD_EPROTO;
    uint8_t type = c[--clen];
    *plain = c;
    *plainlen = clen;
    switch (type) {
    case TLS_CT_DATA:
        return TLS_RECORD_DATA;
    case TLS_CT_ALERT:
        /* close_notify ends the stream; any other alert is fatal in TLS 1.3 (§6) */
        return clen == 2 && c[1] == 0 ? TLS_RECORD_CLOSE : HERALD_EPROTO;
    case TLS_CT_HANDSHAKE:
        return on_handshake(r, c, clen, plainlen);
    default:
        return HERALD_EPROTO;
    }
}

int tls_record_update_write(tls_record_t *r, TLS_CIPHER_CTX *cctx, buf_t *out)
{
    static const uint8_t key_update[5] = {TLS_HS_KEY_UPDATE, 0, 0, 1, 0};
    if (tls_record_seal(r, cctx, TLS_CT_HANDSHAKE, key_update, sizeof key_update, out) != 0)
        return HERALD_EINVAL;
    return dir_update(r, &r->wr);
}

TLS_CIPHER_CTX *tls_record_ctx_new(void)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL) {
        fprintf(stderr, "tls_record: out of memory\n");
        abort();
    }
    return c;
}

void tls_record_ctx_free(TLS_CIPHER_CTX *cctx)
{
    EVP_CIPHER_CTX_free(cctx);
}
