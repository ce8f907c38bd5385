/* logic_jwt.h - client JSON Web Tokens (RFC 7519, compact JWS of RFC 7515), Centrifugo's model:
 * the business system signs a token for a user and the client sends it as the auth body's
 * "token"; logic checks it with no Redis lookup (docs/security.md "Client authentication").
 *
 * Accepted: alg HS256 with the configured secret, RS256 with a configured RSA public key (at
 * least 2048 bits), ES256 with a configured P-256 public key. Each algorithm is verified only
 * with a key of its own type: "none", any other alg, and an alg whose key is not configured (an
 * HS256 token when only an RSA key is: the key-confusion attack) are refused. A header with
 * "crit" is refused (no extension is understood).
 *
 * Claims: "sub" the user id as a string of decimal digits (a JSON number is refused: RFC 7519
 * makes sub a string, and numbers above 2^53 do not survive JavaScript issuers); "exp" required;
 * "nbf" and "iat" honoured when present; all with a leeway. When the policy names an audience,
 * "aud" must be that string or an array holding it (RFC 7519 §4.1.3); when it names an issuer,
 * "iss" must equal it; otherwise both are ignored. Optional "platform" (a string, at most
 * LOGIC_BODY_MAX_PLATFORM bytes) and "rooms" (an array of at most LOGIC_ROOMS_MAX valid room
 * ids). Other claims are ignored.
 *
 * Parsing is strict and bounded: at most LOGIC_JWT_MAX bytes, base64url without padding and with
 * zero trailing bits, JSON objects without duplicate keys (jansson, valid UTF-8, no NUL).
 * The payload is parsed only after the signature is verified. Messages written to err never
 * contain the token or the secret. Pure (OpenSSL, jansson); a key set is immutable, so any
 * thread.
 */
#ifndef LOGIC_JWT_H
#define LOGIC_JWT_H

#include "logic_rooms.h"

#include <stddef.h>
#include <stdint.h>

#define LOGIC_JWT_MAX 4096 /* bytes of a whole token */

typedef struct logic_jwt_keys_s logic_jwt_keys_t;

/* Builds the verification keys: secret (bytes of the HS256 key, "" or NULL = HS256 refused) and
 * pem_path (a PEM file holding one public key, "" or NULL = RS256 and ES256 refused; an RSA key
 * enables RS256, an EC P-256 key ES256). Returns the keys (logic_jwt_keys_free), or NULL with the
 * reason in err: neither given, file unreadable, not a public key, RSA under 2048 bits, another
 * curve or key type. */
logic_jwt_keys_t *logic_jwt_keys_new(const char *secret, const char *pem_path, char *err,
                                     size_t errlen);
void logic_jwt_keys_free(logic_jwt_keys_t *k);

/* What a verified token says. platform heap-owned or NULL; rooms as logic_rooms.h. */
typedef struct logic_jwt_claims_s {
    int64_t mid;
    char *platform;
    logic_rooms_t rooms;
} logic_jwt_claims_t;

/* What a token is checked against besides its signature. audience and issuer: NULL or "" =
 * not checked; borrowed. */
typedef struct logic_jwt_policy_s {
    int64_t now_s;    /* Unix seconds */
    int64_t leeway_s; /* clock skew allowed on exp, nbf and iat */
    const char *audience;
    const char *issuer;
} logic_jwt_policy_t;

/* 1 when token has a JWT's shape (exactly two '.'), so it is not an opaque token; else 0. */
int logic_jwt_is_jwt(const char *token);

/* Verifies token (len bytes) under policy. Returns 0 with out filled (logic_jwt_claims_deinit),
 * or HERALD_EAUTH with the reason in err (out then holds nothing). */
int logic_jwt_verify(const logic_jwt_keys_t *k, const char *token, size_t len,
                     const logic_jwt_policy_t *policy, logic_jwt_claims_t *out, char *err,
                     size_t errlen);

/* The claims step alone: parses a decoded payload (len bytes of JSON) as logic_jwt_verify does
 * after the signature. Same results. For the fuzz target and the tests. */
int logic_jwt_claims_parse(const void *json, size_t len, const logic_jwt_policy_t *policy,
                           logic_jwt_claims_t *out, char *err, size_t errlen);
void logic_jwt_claims_deinit(logic_jwt_claims_t *c);

#endif
