/* logic_token.h - auth tokens in Redis (`<prefix>token:<token>` -> mid, with TTL) and the random
 * identifiers logic hands out (tokens, connection keys). Loop thread only.
 *
 * The value is the user id in decimal, followed by "\n<room id>" for each room the token lets its
 * client join (room.join = token; room ids hold no control characters, so the newline cannot
 * occur inside one). A plain "<mid>", as older herald and business systems write, lists none.
 */
#ifndef LOGIC_TOKEN_H
#define LOGIC_TOKEN_H

#include "logic_ctx.h"
#include "logic_rooms.h"

#include <stddef.h>
#include <stdint.h>

#define LOGIC_TOKEN_HEX 32 /* hex digits of an issued token (128 random bits) */
#define LOGIC_KEY_HEX 24   /* hex digits after "<mid>-" in a connection key (96 random bits) */

/* Writes 2*nbytes random lowercase hex digits and a NUL into out (from the kernel CSPRNG through
 * uv_random; aborts if the kernel cannot provide randomness, like an OOM). */
void logic_token_random_hex(char *out, size_t nbytes);

/* Writes the connection key "<mid>-<24 hex>" into out (at least 21 + LOGIC_KEY_HEX bytes). The
 * mid prefix lets a push by keys find the router that owns the key. */
void logic_token_conn_key(int64_t mid, char *out, size_t outlen);

/* Checks the form of an issued token (LOGIC_TOKEN_HEX lowercase hex digits): 0 or HERALD_EINVAL. */
int logic_token_ok(const char *token);

/* status 0 or a HERALD_E* code; value as documented per call. */
typedef void (*logic_token_cb)(int status, int64_t value, void *arg);

/* Issues a new token for mid valid ttl_s seconds: writes it into token (LOGIC_TOKEN_HEX + 1
 * bytes) at once, SET ... EX in Redis; cb(0 or HERALD_EUNAVAIL, mid). Returns 0 (cb called once
 * later) or HERALD_EUNAVAIL (Redis not connected or stopping; cb never called). */
int logic_token_issue(const logic_ctx_t *ctx, int64_t mid, int64_t ttl_s, char *token,
                      logic_token_cb cb, void *arg);

/* Same, listing rooms (NULL = none) in the stored value. */
int logic_token_issue_rooms(const logic_ctx_t *ctx, int64_t mid, int64_t ttl_s,
                            const logic_rooms_t *rooms, char *token, logic_token_cb cb, void *arg);

/* Deletes a token; cb(0, 1 if it existed else 0) or cb(HERALD_EUNAVAIL, 0). Returns as issue. */
int logic_token_revoke(const logic_ctx_t *ctx, const char *token, logic_token_cb cb, void *arg);

/* Resolves a token to its mid: cb(0, mid); cb(HERALD_EAUTH, 0) when unknown, expired or not
 * holding a user id; cb(HERALD_EUNAVAIL, 0) when Redis failed. Returns as issue. */
int logic_token_resolve(const logic_ctx_t *ctx, const char *token, logic_token_cb cb, void *arg);

/* status and mid as for logic_token_resolve; rooms: the rooms the token lists (empty on error).
 * The callback may take them (logic_rooms_move); what it leaves is released after it returns. */
typedef void (*logic_token_rooms_cb)(int status, int64_t mid, logic_rooms_t *rooms, void *arg);

/* Resolves a token to its mid and its rooms; a stored room id that is not valid makes the token
 * as good as unknown (HERALD_EAUTH). Returns as issue. */
int logic_token_resolve_rooms(const logic_ctx_t *ctx, const char *token, logic_token_rooms_cb cb,
                              void *arg);

#endif
