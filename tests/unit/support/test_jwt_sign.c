/* test_jwt_sign.c - see test_jwt_sign.h. */
#include "test_jwt_sign.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KEY_HS, KEY_RS, KEY_ES } key_kind_t;

struct test_jwt_key_s {
    key_kind_t kind;
    char *secret;
    EVP_PKEY *pkey;
};

static void die(const char *what)
{
    fprintf(stderr, "test_jwt_sign: %s failed\n", what);
    abort();
}

static test_jwt_key_t *key_new(key_kind_t kind, EVP_PKEY *pkey, const char *what)
{
    if (kind != KEY_HS && pkey == NULL)
        die(what);
    test_jwt_key_t *k = calloc(1, sizeof(*k));
    k->kind = kind;
    k->pkey = pkey;
    return k;
}

test_jwt_key_t *test_jwt_key_hs256(const char *secret)
{
    test_jwt_key_t *k = key_new(KEY_HS, NULL, "hs256");
    k->secret = strdup(secret);
    return k;
}

test_jwt_key_t *test_jwt_key_rs256(int bits)
{
    return key_new(KEY_RS, EVP_RSA_gen((unsigned)bits), "RSA key generation");
}

test_jwt_key_t *test_jwt_key_es256(const char *curve)
{
    return key_new(KEY_ES, EVP_EC_gen(curve ? curve : "P-256"), "EC key generation");
}

void test_jwt_key_free(test_jwt_key_t *k)
{
    if (k == NULL)
        return;
    free(k->secret);
    EVP_PKEY_free(k->pkey);
    free(k);
}

char *test_jwt_key_public_pem(const test_jwt_key_t *k, const char *path)
{
    if (k->pkey == NULL)
        return NULL;
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL || PEM_write_bio_PUBKEY(b, k->pkey) != 1)
        die("PEM_write_bio_PUBKEY");
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *pem = malloc((size_t)n + 1);
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    BIO_free(b);
    FILE *f = path ? fopen(path, "w") : NULL;
    if (path != NULL && (f == NULL || fputs(pem, f) < 0 || fclose(f) != 0))
        die("writing the PEM file");
    return pem;
}

char *test_jwt_b64url(const void *data, size_t len)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    char *out = malloc(len * 4 / 3 + 4), *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = a[v & 63];
    }
    if (len - i == 1) {
        *o++ = a[p[i] >> 2];
        *o++ = a[(p[i] & 3) << 4];
    } else if (len - i == 2) {
        unsigned v = (unsigned)p[i] << 8 | p[i + 1];
        *o++ = a[v >> 10];
        *o++ = a[(v >> 4) & 63];
        *o++ = a[(v & 15) << 2];
    }
    *o = '\0';
    return out;
}

/* The signature over input, in JWS form; *len gets its length. */
static unsigned char *sign(const test_jwt_key_t *k, const char *input, size_t *len)
{
    unsigned char *sig = malloc(1024);
    if (k->kind == KEY_HS) {
        unsigned int n = 0;
        if (HMAC(EVP_sha256(), k->secret, (int)strlen(k->secret), (const unsigned char *)input,
                 strlen(input), sig, &n) == NULL)
            die("HMAC");
        *len = n;
        return sig;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[1024];
    size_t n = sizeof(der);
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_DigestSign(md, der, &n, (const unsigned char *)input, strlen(input)) != 1)
        die("EVP_DigestSign");
    EVP_MD_CTX_free(md);
    if (k->kind == KEY_RS) {
        memcpy(sig, der, n);
        *len = n;
        return sig;
    }
    /* ECDSA: DER -> r || s, each left-padded to the curve's size */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    if (es == NULL)
        die("d2i_ECDSA_SIG");
    int half = (EVP_PKEY_get_bits(k->pkey) + 7) / 8;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, half) != half ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, half) != half)
        die("BN_bn2binpad");
    ECDSA_SIG_free(es);
    *len = (size_t)(2 * half);
    return sig;
}

char *test_jwt_sign(const test_jwt_key_t *k, const char *header, const char *payload)
{
    char *h = test_jwt_b64url(header, strlen(header));
    char *p = test_jwt_b64url(payload, strlen(payload));
    size_t ilen = strlen(h) + 1 + strlen(p);
    char *input = malloc(ilen + 1);
    snprintf(input, ilen + 1, "%s.%s", h, p);
    size_t slen;
    unsigned char *sig = sign(k, input, &slen);
    char *s = test_jwt_b64url(sig, slen);
    size_t tlen = ilen + 1 + strlen(s);
    char *token = malloc(tlen + 1);
    snprintf(token, tlen + 1, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(sig);
    free(s);
    return token;
}

const char *test_jwt_header(const test_jwt_key_t *k)
{
    switch (k->kind) {
    case KEY_HS:
        return "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    case KEY_RS:
        return "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    case KEY_ES:
        break;
    }
    return "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
}
