/* libFuzzer target: TLS 1.3 records from the network as a detached comet connection reads them
 * (tls_record_peek, tls_record_open, src/common/tls_record.h), for each suite. Whatever arrives
 * must be refused or opened, never read or written out of bounds; a KeyUpdate may follow. The
 * first byte picks the suite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static TLS_CIPHER_CTX *cctx;
    if (cctx == NULL)
        cctx = tls_record_ctx_new();
    if (size < 1)
        return 0;
    int suite = TLS_RECORD_AES128GCM + data[0] % 3;
    uint8_t secret[48];
    memset(secret, 0x5a, sizeof secret);
    tls_record_t r;
    if (tls_record_init(&r, suite, secret, secret, suite == TLS_RECORD_AES256GCM ? 48 : 32, 0, 0) !=
        0)
        abort();
    /* records are opened in place: work on a copy of exactly the input's size */
    uint8_t *in = malloc(size);
    memcpy(in, data, size);
    size_t off = 1;
    buf_t out;
    buf_init(&out);
    while (off < size) {
        long n = tls_record_peek(in + off, size - off);
        if (n <= 0)
            break;
        uint8_t *plain;
        size_t plen;
        int kind = tls_record_open(&r, cctx, in + off, (size_t)n, &plain, &plen);
        if (kind < 0)
            break;
        if (plain < in + off || plain + plen > in + off + n)
            abort();
        if (kind == TLS_RECORD_KEY_UPDATE && plen == 1 && tls_record_update_write(&r, cctx, &out))
            abort();
        off += (size_t)n;
    }
    buf_deinit(&out);
    free(in);
    return 0;
}
