/* libFuzzer target: the RPC handshake decoder (rpc_auth.h) on what a peer sends.
 * Byte 0 picks the mode (bits 0-1) and the read size (bits 2-7, 1..64 bytes per read).
 *   mode 0, 1: the rest is a raw stream fed to a server (0) or a client (1): every result is
 *              MORE, DONE or HERALD_EAUTH, the space offered is never empty and never beyond the
 *              message, a reply comes only with a step of the protocol, and after the end
 *              every call fails.
 *   mode 2, 3: a genuine peer runs the other side and the rest is XORed over the messages it
 *              sends (HELLO for 2; CHALLENGE then WELCOME for 3): the handshake must succeed
 *              exactly when every mask byte over a message is zero, so no altered byte of a
 *              message is ever accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald_err.h"
#include "rpc_auth.h"

#define SECRET "fuzz-cluster-secret-0123456789"

/* Feeds msg (n bytes) in reads of `step`; checks the invariants; returns the last result. */
static int feed(rpc_auth_t *a, const uint8_t *msg, size_t n, size_t step, uint8_t *out,
                size_t *out_len)
{
    int rc = RPC_AUTH_MORE;
    size_t off = 0;

    *out_len = 0;
    while (off < n && rc == RPC_AUTH_MORE) {
        size_t room, k = n - off < step ? n - off : step;
        uint8_t *p = rpc_auth_space(a, &room);

        if (room == 0 || room > RPC_AUTH_MSG_MAX)
            abort();
        if (k > room)
            k = room;
        memcpy(p, msg + off, k);
        rc = rpc_auth_received(a, k, out, out_len);
        if (rc != RPC_AUTH_MORE && rc != RPC_AUTH_DONE && rc != HERALD_EAUTH)
            abort();
        if (*out_len > RPC_AUTH_MSG_MAX || (rc == HERALD_EAUTH && *out_len != 0))
            abort();
        off += k;
    }
    if (rc != RPC_AUTH_MORE) {
        uint8_t scratch[RPC_AUTH_MSG_MAX];
        size_t scratch_len;

        if (rpc_auth_received(a, 0, scratch, &scratch_len) != HERALD_EAUTH || scratch_len != 0)
            abort();
    }
    return rc;
}

/* msg XOR the next n mask bytes (zero past the end of the input); returns whether any was set. */
static int mask(uint8_t *msg, size_t n, const uint8_t **m, size_t *mlen)
{
    int changed = 0;

    for (size_t i = 0; i<n && * mlen> 0; i++, (*m)++, (*mlen)--) {
        msg[i] ^= **m;
        changed |= **m != 0;
    }
    return changed;
}

static void genuine(int client_side, const uint8_t *m, size_t mlen, size_t step)
{
    rpc_auth_key_t k;
    rpc_auth_t srv, cli;
    uint8_t challenge[RPC_AUTH_MSG_MAX], hello[RPC_AUTH_MSG_MAX], welcome[RPC_AUTH_MSG_MAX];
    size_t n, hl, wl;
    int bad;

    if (rpc_auth_key_init(&k, SECRET, strlen(SECRET)) != 0)
        abort();
    n = rpc_auth_start(&srv, RPC_AUTH_SERVER, &k, challenge);
    rpc_auth_start(&cli, RPC_AUTH_CLIENT, &k, NULL);
    bad = client_side && mask(challenge, n, &m, &mlen);
    if (feed(&cli, challenge, n, step, hello, &hl) == HERALD_EAUTH) {
        /* Only a changed magic makes the client refuse a challenge. */
        if (!bad)
            abort();
        return;
    }
    bad |= !client_side && mask(hello, hl, &m, &mlen);
    if ((feed(&srv, hello, hl, step, welcome, &wl) == RPC_AUTH_DONE) == bad)
        abort();
    if (bad)
        return;
    bad = client_side && mask(welcome, wl, &m, &mlen);
    if ((feed(&cli, welcome, wl, step, hello, &hl) == RPC_AUTH_DONE) == bad)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rpc_auth_key_t k;
    rpc_auth_t a;
    uint8_t out[RPC_AUTH_MSG_MAX];
    size_t out_len, step;
    int mode;

    if (size == 0)
        return 0;
    mode = data[0] & 3;
    step = (size_t)(data[0] >> 2) + 1;
    if (mode >= 2) {
        genuine(mode == 3, data + 1, size - 1, step);
        return 0;
    }
    if (rpc_auth_key_init(&k, SECRET, strlen(SECRET)) != 0)
        abort();
    rpc_auth_start(&a, mode == 0 ? RPC_AUTH_SERVER : RPC_AUTH_CLIENT, &k, out);
    feed(&a, data + 1, size - 1, step, out, &out_len);
    rpc_auth_wipe(&a);
    return 0;
}
