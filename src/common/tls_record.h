/* tls_record.h - the TLS 1.3 record layer (RFC 8446 §5) of an established connection, without
 * OpenSSL's per-connection state: AEAD protection of records with the application traffic keys,
 * and KeyUpdate (§4.6.3). OpenSSL runs the handshake; then the traffic secrets (captured through
 * tls_server_capture) and the record sequence numbers are all a connection needs, about 200
 * bytes instead of the ~14 KiB an idle OpenSSL connection holds.
 *
 * Suites: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 (every
 * TLS 1.3 suite OpenSSL enables by default). The cipher context used to seal and open is lent by
 * the caller per call (one per thread), so nothing of OpenSSL is kept per connection.
 *
 * Input from the network is checked and refused, never asserted on: a record over the maximum
 * size, a record that does not authenticate, an unknown content type or a handshake message other
 * than KeyUpdate is an error (the caller closes the connection). Pure functions, any thread.
 */
#ifndef HERALD_TLS_RECORD_H
#define HERALD_TLS_RECORD_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define TLS_RECORD_HEADER 5
#define TLS_RECORD_PLAIN_MAX 16384                         /* plaintext bytes a record carries */
#define TLS_RECORD_CIPHER_MAX (TLS_RECORD_PLAIN_MAX + 256) /* a record's body, at most (§5.2) */
#define TLS_RECORD_SECRET_MAX 48

typedef struct evp_cipher_ctx_st TLS_CIPHER_CTX; /* OpenSSL's EVP_CIPHER_CTX */

/* One direction: the traffic secret (for KeyUpdate), the key and IV it gives, the sequence. */
typedef struct tls_record_dir_s {
    uint8_t secret[TLS_RECORD_SECRET_MAX];
    uint8_t key[32];
    uint8_t iv[12];
    uint64_t seq;
} tls_record_dir_t;

/* An established connection's record state (the server's view: it reads the client's
 * direction and writes its own). */
typedef struct tls_record_s {
    tls_record_dir_t rd, wr;
    uint8_t suite;   /* TLS_RECORD_SUITE_* */
    uint8_t hashlen; /* 32 or 48 */
    uint8_t keylen;  /* 16 or 32 */
} tls_record_t;

enum { TLS_RECORD_AES128GCM = 1, TLS_RECORD_AES256GCM, TLS_RECORD_CHACHA20 };

/* The suite id for an OpenSSL cipher id (SSL_CIPHER_get_id), or 0 when it is not one of ours. */
int tls_record_suite(uint32_t openssl_cipher_id);

/* Sets r up from the client's and the server's application traffic secrets (secretlen bytes
 * each, the suite's hash length) with the sequence numbers the handshake left: rd_seq records
 * already read, wr_seq already written with these keys. Returns 0 or HERALD_EINVAL. */
int tls_record_init(tls_record_t *r, int suite, const uint8_t *client_secret,
                    const uint8_t *server_secret, size_t secretlen, uint64_t rd_seq,
                    uint64_t wr_seq);

/* Appends records carrying len bytes of content type `type` (23 application data, 21 alert,
 * 22 handshake) to out, split at TLS_RECORD_PLAIN_MAX. Returns 0, or HERALD_EINVAL when the
 * cipher fails (then out may hold a partial record: the caller drops it and closes). */
int tls_record_seal(tls_record_t *r, TLS_CIPHER_CTX *cctx, uint8_t type, const uint8_t *data,
                    size_t len, buf_t *out);

/* The length of the first record in data (header included) when all of it is there; 0 when more
 * bytes are needed; HERALD_EPROTO when the header is not one of an encrypted record or announces
 * more than TLS_RECORD_CIPHER_MAX. */
long tls_record_peek(const uint8_t *data, size_t len);

/* What one opened record carried. */
typedef enum {
    TLS_RECORD_DATA = 0,  /* application data in *plain / *plainlen */
    TLS_RECORD_CLOSE,     /* close_notify */
    TLS_RECORD_KEY_UPDATE /* the peer's keys changed; when *plainlen is 1 it asked for ours:
                           * call tls_record_update_write and send the returned message */
} tls_record_kind_t;

/* Opens one whole record (tls_record_peek's length), decrypting in place. Returns a
 * tls_record_kind_t (>= 0), or HERALD_EPROTO for a record that does not authenticate, an alert
 * other than close_notify, or content the server does not accept. */
int tls_record_open(tls_record_t *r, TLS_CIPHER_CTX *cctx, uint8_t *rec, size_t len,
                    uint8_t **plain, size_t *plainlen);

/* Moves the write direction to its next secret and appends the KeyUpdate(update_not_requested)
 * record that announces it, sealed with the old keys, to out. Returns 0 or HERALD_EINVAL. */
int tls_record_update_write(tls_record_t *r, TLS_CIPHER_CTX *cctx, buf_t *out);

/* A cipher context for seal and open (one per thread; free with tls_record_ctx_free). Aborts on
 * OOM. */
TLS_CIPHER_CTX *tls_record_ctx_new(void);
void tls_record_ctx_free(TLS_CIPHER_CTX *cctx);

#endif
