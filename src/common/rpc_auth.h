/* rpc_auth.h - the handshake that opens every internal RPC connection (rpc.h): both ends prove
 * that they know the cluster secret before any call is sent or accepted. Pure: no I/O, no loop;
 * rpc_server.c and rpc_client.c move its bytes. The contract lives here once so that the two
 * ends cannot drift apart (docs/internals.md "RPC handshake", docs/security.md).
 *
 * Messages (fixed sizes; "HRA1" is the 4-byte magic and version):
 *   1. server -> client  CHALLENGE  "HRA1" ns[32]            36 bytes, sent at accept
 *   2. client -> server  HELLO      "HRA1" nc[32] mac_c[32]  68 bytes
 *   3. server -> client  WELCOME    "HRA1" mac_s[32]         36 bytes
 * ns and nc are 32 random bytes (randombytes_buf) drawn by the server and the client for this
 * connection. K = SHA-256(secret). mac_c = HMAC-SHA256(K, "herald rpc c2s v1" || ns || nc),
 * mac_s = HMAC-SHA256(K, "herald rpc s2c v1" || ns || nc): each direction has its own label, so
 * a MAC reflected back to its sender never verifies, and both nonces are in both MACs, so an
 * answer recorded on one connection is worthless on the next. The server refuses a HELLO whose
 * nc equals its own ns (a reflected challenge). MACs are compared in constant time
 * (sodium_memcmp). The server proves itself only after the client has: a stranger learns nothing
 * but a random nonce. After WELCOME the connection carries RPC frames (rpc.h) in both directions;
 * the client sends none before it has checked WELCOME.
 *
 * What it does not do: encrypt or sign the frames that follow (an on-path attacker can still read
 * or hijack a connection; [rpc] tls_*, rpc_configure_tls in rpc.h, is for that). The first 4 bytes
 * of a CHALLENGE read as an RPC frame length of 1.2 GB, so a peer that speaks frames at once fails
 * fast on either side.
 */
#ifndef HERALD_RPC_AUTH_H
#define HERALD_RPC_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define RPC_AUTH_SECRET_MIN 16   /* bytes of a cluster secret, at least */
#define RPC_AUTH_SECRET_MAX 4096 /* and at most */
#define RPC_AUTH_NONCE 32
#define RPC_AUTH_MAC 32
#define RPC_AUTH_MAGIC "HRA1"
#define RPC_AUTH_MAGIC_LEN 4
#define RPC_AUTH_CHALLENGE_LEN (RPC_AUTH_MAGIC_LEN + RPC_AUTH_NONCE)
#define RPC_AUTH_HELLO_LEN (RPC_AUTH_MAGIC_LEN + RPC_AUTH_NONCE + RPC_AUTH_MAC)
#define RPC_AUTH_WELCOME_LEN (RPC_AUTH_MAGIC_LEN + RPC_AUTH_MAC)
#define RPC_AUTH_MSG_MAX RPC_AUTH_HELLO_LEN

/* The HMAC key derived from a secret. Copy freely; wipe with rpc_auth_key_wipe. */
typedef struct rpc_auth_key_s {
    uint8_t k[32];
} rpc_auth_key_t;

/* Derives key from secret (len bytes, any content). Returns 0, or HERALD_EINVAL when len is not
 * within [RPC_AUTH_SECRET_MIN, RPC_AUTH_SECRET_MAX] (key is then zeroed). */
int rpc_auth_key_init(rpc_auth_key_t *key, const void *secret, size_t len);
void rpc_auth_key_wipe(rpc_auth_key_t *key);

typedef enum { RPC_AUTH_SERVER, RPC_AUTH_CLIENT } rpc_auth_role_t;

enum { RPC_AUTH_MORE = 0, RPC_AUTH_DONE = 1 };

/* One end of one handshake. Caller's storage; everything in it is private. */
typedef struct rpc_auth_s {
    rpc_auth_key_t key;
    uint8_t ns[RPC_AUTH_NONCE];
    uint8_t nc[RPC_AUTH_NONCE];
    uint8_t in[RPC_AUTH_MSG_MAX];
    size_t in_len;
    size_t want; /* size of the message being received; 0 once done or failed */
    int role;
    int step;
    const char *why; /* reason of the failure, static */
} rpc_auth_t;

/* Starts a handshake with a copy of key. A server writes its CHALLENGE into out and returns its
 * length (send it first); a client returns 0 and waits for the CHALLENGE (out unused: may be
 * NULL). */
size_t rpc_auth_start(rpc_auth_t *a, rpc_auth_role_t role, const rpc_auth_key_t *key,
                      uint8_t out[RPC_AUTH_MSG_MAX]);

/* Where the next received bytes go: *len is what is left of the message being received (never 0
 * while the handshake runs), so a read into this space never takes a byte beyond the handshake.
 */
uint8_t *rpc_auth_space(rpc_auth_t *a, size_t *len);

/* Accounts n bytes just written at rpc_auth_space (n <= its *len). Returns RPC_AUTH_MORE (wait
 * for more bytes; when *out_len > 0 send out first), RPC_AUTH_DONE (send *out_len bytes of out
 * if any, then the connection carries RPC frames), or HERALD_EAUTH (bad magic, wrong MAC or a
 * reflected nonce: close the connection; rpc_auth_why says which). After DONE or an error every
 * further call returns HERALD_EAUTH. */
int rpc_auth_received(rpc_auth_t *a, size_t n, uint8_t out[RPC_AUTH_MSG_MAX], size_t *out_len);

/* The reason of the last HERALD_EAUTH (static text, never the secret), or "" . */
const char *rpc_auth_why(const rpc_auth_t *a);

/* Wipes the key and nonces. */
void rpc_auth_wipe(rpc_auth_t *a);

#endif
