/* logic_jwt.c - see logic_jwt.h. OpenSSL for the signatures (HMAC, EVP_DigestVerify,
 * CRYPTO_memcmp), jansson for the JSON. */
#include "logic_jwt.h"

#include "buf.h"
#include "herald_err.h"
#include "logic_body.h"
#include "logic_params.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_RSA_MIN_BITS 2048
#define JWT_HS256_LEN 32
#define JWT_ES256_LEN 64 /* r || s, 32 bytes each (RFC 7518 §3.4) */
/* Seconds beyond which a time claim is nonsense (year ~33658): keeps the int64 arithmetic of
 * the checks far from overflow. */
#define JWT_TIME_MAX 1000000000000LL

typedef enum { JWT_HS256, JWT_RS256, JWT_ES256 } jwt_alg_t;

/* Owned by logic's server; immutable once built. */
struct logic_jwt_keys_s {
    unsigned char *secret; /* HS256 key, NULL = none */
    size_t secret_len;
    EVP_PKEY *rsa; /* RS256, NULL = none */
    EVP_PKEY *ec;  /* ES256 (P-256), NULL = none */
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HERALD_EAUTH;
}

/* ---- keys ---- */

static EVP_PKEY *read_public_key(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "auth.jwt_public_key: cannot open %s", path);
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL)
        snprintf(err, errlen, "auth.jwt_public_key: %s holds no PEM public key", path);
    return pkey;
}

/* Files an RSA or P-256 key under its algorithm; anything else is a configuration error. */
static int file_public_key(logic_jwt_keys_t *k, EVP_PKEY *pkey, const char *path, char *err,
                           size_t errlen)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < JWT_RSA_MIN_BITS) {
            snprintf(err, errlen, "auth.jwt_public_key: %s: RSA key under %d bits", path,
                     JWT_RSA_MIN_BITS);
            return HERALD_ECONF;
        }
        k->rsa = pkey;
        return 0;
    }
    char group[64] = "";
    if (EVP_PKEY_is_a(pkey, "EC") &&
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) == 1 &&
        strcmp(group, "prime256v1") == 0) {
        k->ec = pkey;
        return 0;
    }
    snprintf(err, errlen, "auth.jwt_public_key: %s: neither an RSA nor a P-256 EC key", path);
    return HERALD_ECONF;
}

logic_jwt_keys_t *logic_jwt_keys_new(const char *secret, const char *pem_path, char *err,
                                     size_t errlen)
{
    int has_secret = secret != NULL && secret[0] != '\0';
    int has_pem = pem_path != NULL && pem_path[0] != '\0';
    if (!has_secret && !has_pem) {
        snprintf(err, errlen,
                 "auth.mode accepts JWTs but neither auth.jwt_secret nor "
                 "auth.jwt_public_key is set");
        return NULL;
    }
    logic_jwt_keys_t *k = xcalloc(1, sizeof(*k));
    if (has_secret) {
        k->secret_len = strlen(secret);
        k->secret = xmalloc(k->secret_len);
        memcpy(k->secret, secret, k->secret_len);
    }
    if (has_pem) {
        EVP_PKEY *pkey = read_public_key(pem_path, err, errlen);
        if (pkey == NULL || file_public_key(k, pkey, pem_path, err, errlen) != 0) {
            EVP_PKEY_free(pkey);
            logic_jwt_keys_free(k);
            return NULL;
        }
    }
    return k;
}

void logic_jwt_keys_free(logic_jwt_keys_t *k)
{
    if (k == NULL)
        return;
    if (k->secret != NULL) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    EVP_PKEY_free(k->rsa);
    EVP_PKEY_free(k->ec);
    free(k);
}

/* ---- decoding ---- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes unpadded base64url (RFC 7515 §2) into out (at least len * 3 / 4 bytes). Refuses any
 * other byte, padding, a length of 4n+1, and nonzero trailing bits (so every value has exactly
 * one encoding). Returns the decoded length or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc == 0 ? n : -1;
}

/* Decodes a base64url part into a fresh buffer (caller frees); NULL when malformed. */
static unsigned char *decode_part(const char *in, size_t len, size_t *outlen)
{
    unsigned char *out = xmalloc(len * 3 / 4 + 1);
    long n = b64url_decode(in, len, out);
    if (n < 0) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)n;
    return out;
}

/* A JSON object, strictly: no duplicate keys, nothing after it (jansson also refuses invalid
 * UTF-8 and NUL in strings). NULL when it is anything else. */
static json_t *load_object(const void *data, size_t len)
{
    json_error_t e;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* ---- header and signature ---- */

/* The header's alg, when it is one a configured key can verify. */
static int header_alg(const logic_jwt_keys_t *k, const char *b64, size_t len, jwt_alg_t *alg,
                      char *err, size_t errlen)
{
    size_t n;
    unsigned char *raw = decode_part(b64, len, &n);
    json_t *h = raw ? load_object(raw, n) : NULL;
    free(raw);
    if (h == NULL)
        return fail(err, errlen, "jwt: malformed header");
    const char *a = json_string_value(json_object_get(h, "alg"));
    int rc = 0;
    if (json_object_get(h, "crit") != NULL)
        rc = fail(err, errlen, "jwt: crit header not supported");
    else if (a == NULL)
        rc = fail(err, errlen, "jwt: no alg");
    else if (strcmp(a, "HS256") == 0 && k->secret != NULL)
        *alg = JWT_HS256;
    else if (strcmp(a, "RS256") == 0 && k->rsa != NULL)
        *alg = JWT_RS256;
    else if (strcmp(a, "ES256") == 0 && k->ec != NULL)
        *alg = JWT_ES256;
    else if (strcmp(a, "HS256") == 0 || strcmp(a, "RS256") == 0 || strcmp(a, "ES256") == 0)
        rc = fail(err, errlen, "jwt: no key configured for alg %s", a);
    else
        rc = fail(err, errlen, "jwt: alg not accepted");
    json_decref(h);
    return rc;
}

static int verify_hs256(const logic_jwt_keys_t *k, const char *input, size_t len,
                        const unsigned char *sig, size_t siglen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (siglen != JWT_HS256_LEN ||
        HMAC(EVP_sha256(), k->secret, (int)k->secret_len, (const unsigned char *)input, len, mac,
             &maclen) == NULL ||
        maclen != JWT_HS256_LEN)
        return 0;
    return CRYPTO_memcmp(mac, sig, JWT_HS256_LEN) == 0;
}

static int digest_verify(EVP_PKEY *pkey, const char *input, size_t len, const unsigned char *sig,
                         size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* JWS carries r || s; OpenSSL verifies the DER form. */
static int verify_es256(EVP_PKEY *pkey, const char *input, size_t len, const unsigned char *sig,
                        size_t siglen)
{
    if (siglen != JWT_ES256_LEN)
        return 0;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, JWT_ES256_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(sig + JWT_ES256_LEN / 2, JWT_ES256_LEN / 2, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return 0;
    }
    unsigned char *der = NULL;
    int derlen = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    int ok = derlen > 0 && digest_verify(pkey, input, len, der, (size_t)derlen);
    OPENSSL_free(der);
    return ok;
}

static int signature_ok(const logic_jwt_keys_t *k, jwt_alg_t alg, const char *input, size_t len,
                        const unsigned char *sig, size_t siglen)
{
    switch (alg) {
    case JWT_HS256:
        return verify_hs256(k, input, len, sig, siglen);
    case JWT_RS256:
        return digest_verify(k->rsa, input, len, sig, siglen);
    case JWT_ES256:
        return verify_es256(k->ec, input, len, sig, siglen);
    }
    return 0;
}

/* ---- claims ---- */

/* A NumericDate claim (RFC 7519 §2: seconds, possibly fractional); *present = 0 when absent. */
static int get_time(json_t *claims, const char *name, int64_t *out, int *present, char *err,
                    size_t errlen)
{
    json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return fail(err, errlen, "jwt: %s must be a number", name);
    double t = json_number_value(v);
    if (!(t <= (double)JWT_TIME_MAX && t >= -(double)JWT_TIME_MAX))
        return fail(err, errlen, "jwt: %s out of range", name);
    int64_t whole = (int64_t)t; /* toward zero; floor for a negative fraction */
    *out = (double)whole > t ? whole - 1 : whole;
    return 0;
}

static int check_times(json_t *claims, int64_t now_s, int64_t leeway_s, char *err, size_t errlen)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    int has_exp, has_nbf, has_iat;
    if (get_time(claims, "exp", &exp, &has_exp, err, errlen) != 0 ||
        get_time(claims, "nbf", &nbf, &has_nbf, err, errlen) != 0 ||
        get_time(claims, "iat", &iat, &has_iat, err, errlen) != 0)
        return HERALD_EAUTH;
    if (!has_exp)
        return fail(err, errlen, "jwt: exp is required");
    if (now_s >= exp + leeway_s)
        return fail(err, errlen, "jwt: expired");
    if (has_nbf && now_s + leeway_s < nbf)
        return fail(err, errlen, "jwt: not valid yet (nbf)");
    if (has_iat && now_s + leeway_s < iat)
        return fail(err, errlen, "jwt: issued in the future (iat)");
    return 0;
}

/* aud and iss against the policy (RFC 7519 §4.1.1, §4.1.3: aud is a string or an array of
 * strings; StringOrURI values compare as exact strings). */
static int check_audience_issuer(json_t *claims, const logic_jwt_policy_t *policy, char *err,
                                 size_t errlen)
{
    if (policy->audience != NULL && policy->audience[0] != '\0') {
        json_t *aud = json_object_get(claims, "aud");
        int found = json_is_string(aud) && strcmp(json_string_value(aud), policy->audience) == 0;
        for (size_t i = 0; !found && json_is_array(aud) && i < json_array_size(aud); i++) {
            json_t *one = json_array_get(aud, i);
            found = json_is_string(one) && strcmp(json_string_value(one), policy->audience) == 0;
        }
        if (!found)
            return fail(err, errlen, "jwt: aud does not name this service");
    }
    if (policy->issuer != NULL && policy->issuer[0] != '\0') {
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), policy->issuer) != 0)
            return fail(err, errlen, "jwt: iss is not the configured issuer");
    }
    return 0;
}

static int get_rooms(json_t *claims, logic_rooms_t *rooms, char *err, size_t errlen)
{
    json_t *v = json_object_get(claims, "rooms");
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > LOGIC_ROOMS_MAX)
        return fail(err, errlen, "jwt: rooms must be an array of at most %d room ids",
                    LOGIC_ROOMS_MAX);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *id = json_array_get(v, i);
        if (!json_is_string(id) ||
            logic_rooms_add(rooms, json_string_value(id), json_string_length(id)) != 0)
            return fail(err, errlen, "jwt: rooms[%zu] is not a valid room id", i);
    }
    return 0;
}

static int get_claims(json_t *claims, const logic_jwt_policy_t *policy, logic_jwt_claims_t *out,
                      char *err, size_t errlen)
{
    json_t *sub = json_object_get(claims, "sub");
    if (sub == NULL)
        return fail(err, errlen, "jwt: sub is required");
    if (!json_is_string(sub) || strlen(json_string_value(sub)) != json_string_length(sub) ||
        logic_params_mid(json_string_value(sub), &out->mid) != 0)
        return fail(err, errlen, "jwt: sub must be a user id in a string of digits");
    int rc = check_times(claims, policy->now_s, policy->leeway_s, err, errlen);
    if (rc == 0)
        rc = check_audience_issuer(claims, policy, err, errlen);
    if (rc != 0)
        return rc;
    json_t *platform = json_object_get(claims, "platform");
    if (platform != NULL) {
        if (!json_is_string(platform) || json_string_length(platform) == 0 ||
            json_string_length(platform) > LOGIC_BODY_MAX_PLATFORM)
            return fail(err, errlen, "jwt: platform must be a string of 1 to %d bytes",
                        LOGIC_BODY_MAX_PLATFORM);
        out->platform = xstrdup(json_string_value(platform));
    }
    return get_rooms(claims, &out->rooms, err, errlen);
}

int logic_jwt_claims_parse(const void *json, size_t len, const logic_jwt_policy_t *policy,
                           logic_jwt_claims_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *claims = load_object(json, len);
    if (claims == NULL)
        return fail(err, errlen, "jwt: malformed payload");
    int rc = get_claims(claims, policy, out, err, errlen);
    json_decref(claims);
    if (rc != 0)
        logic_jwt_claims_deinit(out);
    return rc;
}

void logic_jwt_claims_deinit(logic_jwt_claims_t *c)
{
    free(c->platform);
    logic_rooms_deinit(&c->rooms);
    memset(c, 0, sizeof(*c));
}

/* ---- the token ---- */

int logic_jwt_is_jwt(const char *token)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    return dot2 != NULL && strchr(dot2 + 1, '.') == NULL;
}

int logic_jwt_verify(const logic_jwt_keys_t *k, const char *token, size_t len,
                     const logic_jwt_policy_t *policy, logic_jwt_claims_t *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > LOGIC_JWT_MAX)
        return fail(err, errlen, "jwt: longer than %d bytes", LOGIC_JWT_MAX);
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    const char *end = token + len;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL || dot1 == token ||
        dot2 == dot1 + 1 || dot2 + 1 == end)
        return fail(err, errlen, "jwt: not three non-empty parts");
    jwt_alg_t alg = JWT_HS256; /* set by header_alg */
    int rc = header_alg(k, token, (size_t)(dot1 - token), &alg, err, errlen);
    if (rc != 0)
        return rc;
    size_t siglen, plen;
    unsigned char *sig = decode_part(dot2 + 1, (size_t)(end - dot2 - 1), &siglen);
    if (sig == NULL)
        return fail(err, errlen, "jwt: malformed signature");
    int ok = signature_ok(k, alg, token, (size_t)(dot2 - token), sig, siglen);
    free(sig);
    if (!ok) {
        ERR_clear_error(); /* a refused signature is an answer, not an error for later callers */
        return fail(err, errlen, "jwt: bad signature");
    }
    unsigned char *payload = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen);
    if (payload == NULL)
        return fail(err, errlen, "jwt: malformed payload");
    rc = logic_jwt_claims_parse(payload, plen, policy, out, err, errlen);
    free(payload);
    return rc;
}
