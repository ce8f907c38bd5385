/* test_jwt_sign.h - signing JWTs in tests (unit and integration), with OpenSSL: the business
 * system's side of logic_jwt.h. Keys are generated in the test; nothing here is a verifier.
 * Every function aborts the test process on an OpenSSL failure (a broken test setup).
 */
#ifndef TEST_JWT_SIGN_H
#define TEST_JWT_SIGN_H

#include <stddef.h>

typedef struct test_jwt_key_s test_jwt_key_t;

/* An HS256 key with these secret bytes (NUL-terminated). */
test_jwt_key_t *test_jwt_key_hs256(const char *secret);
/* A fresh RSA key of `bits` bits (RS256). */
test_jwt_key_t *test_jwt_key_rs256(int bits);
/* A fresh EC key on P-256 (ES256), or on another curve by OpenSSL name ("secp384r1"). */
test_jwt_key_t *test_jwt_key_es256(const char *curve);
void test_jwt_key_free(test_jwt_key_t *k);

/* The public key of an RS256 / ES256 key as PEM text (heap, caller frees), and written to path.
 * Returns NULL for an HS256 key. */
char *test_jwt_key_public_pem(const test_jwt_key_t *k, const char *path);

/* base64url without padding (heap). */
char *test_jwt_b64url(const void *data, size_t len);

/* "<b64(header)>.<b64(payload)>.<b64(signature)>" signed with k by its own algorithm, whatever
 * header says (so a test can lie about alg). Heap string. */
char *test_jwt_sign(const test_jwt_key_t *k, const char *header, const char *payload);

/* A HS256/RS256/ES256 header for k: {"alg":"...","typ":"JWT"} (static string). */
const char *test_jwt_header(const test_jwt_key_t *k);

#endif
