/* logic_password.h - IM account passwords: argon2id hashes (libsodium crypto_pwhash_str) made and
 * checked on libuv's thread pool, so that the ~50 ms of a hash (the defaults, 2 passes over
 * 32 MiB) never stall logic's loop.
 *
 * Cost: [login] password_ops (opslimit) and password_mem (memlimit, bytes). A hash string
 * carries its own parameters, so changing them affects new passwords only and old ones still
 * verify. Verification is crypto_pwhash_str_verify: constant time in the password.
 *
 * At most LOGIC_PASSWORD_INFLIGHT hashes wait or run at once; past that a call is refused
 * (HERALD_ERATE), which bounds the queue a flood of logins can build. The memory is bounded by
 * the thread pool: each running hash holds password_mem. Passwords are copied, wiped after use
 * (sodium_memzero) and never logged. Loop thread only (the callbacks run there too).
 */
#ifndef LOGIC_PASSWORD_H
#define LOGIC_PASSWORD_H

#include "logic_conf.h"

#include <stddef.h>
#include <uv.h>

#define LOGIC_PASSWORD_MIN 8        /* bytes */
#define LOGIC_PASSWORD_MAX 128      /* bytes */
#define LOGIC_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES, NUL included */
#define LOGIC_PASSWORD_INFLIGHT 64

typedef struct logic_password_s logic_password_t;

/* Initialises libsodium (once per process) and hashes a random decoy password with the
 * configured cost (one hash's time, on the calling thread). conf is borrowed. NULL when
 * libsodium cannot start or cannot hash with that cost (password_mem not available). Aborts on
 * OOM. */
logic_password_t *logic_password_new(uv_loop_t *loop, const logic_conf_t *conf);

/* Refuses new work, and calls cb (may be NULL) once the hashes in flight have had their
 * callbacks; then frees p. */
void logic_password_close(logic_password_t *p, void (*cb)(void *arg), void *arg);

/* Checks a password's length (LOGIC_PASSWORD_MIN..MAX bytes, no NUL): 0 or HERALD_EINVAL. */
int logic_password_ok(const char *pw, size_t len);

/* status 0 with the hash (a NUL-terminated string, borrowed for the call), or HERALD_EINTERNAL
 * when libsodium failed (e.g. it could not get password_mem; hash NULL). */
typedef void (*logic_password_hash_cb)(int status, const char *hash, void *arg);

/* Hashes pw (len bytes, copied). Returns 0 (cb called once later), HERALD_EINVAL (pw fails
 * logic_password_ok), HERALD_ERATE (too many in flight) or HERALD_EUNAVAIL (closing); cb is then
 * never called. */
int logic_password_hash(logic_password_t *p, const char *pw, size_t len, logic_password_hash_cb cb,
                        void *arg);

/* status 0 when pw matches hash, HERALD_EAUTH when it does not (or hash is not an argon2id
 * string). */
typedef void (*logic_password_verify_cb)(int status, void *arg);

/* Verifies pw (len bytes) against hash (both copied). Returns as logic_password_hash (also
 * HERALD_EINVAL for an empty or overlong hash). */
int logic_password_verify(logic_password_t *p, const char *hash, const char *pw, size_t len,
                          logic_password_verify_cb cb, void *arg);

/* As logic_password_verify against a hash of a password nobody knows: cb always gets
 * HERALD_EAUTH, after as long as a real check takes. For a login whose name is unknown or has
 * no password, so that the answer's timing does not tell which names exist. */
int logic_password_verify_decoy(logic_password_t *p, const char *pw, size_t len,
                                logic_password_verify_cb cb, void *arg);

#endif
