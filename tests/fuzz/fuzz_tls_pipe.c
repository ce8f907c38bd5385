/* libFuzzer target: what a peer sends into a TLS connection of the internal RPC (tls_pipe.h)
 * before it has proved anything: the server side, with the RPC's context (tls_server_new with
 * client_ca: a client certificate required), and the client side (tls_client_ctx_new).
 * Byte 0: bit 0 picks the side, bits 1-7 the read size (1..128 bytes per feed). The rest is the
 * stream. Each feed is followed by what rpc_tls.c does: the handshake until it is over, then
 * reads until OpenSSL wants more, the output drained after every call. Every result must be one
 * the contract lists; a handshake may never succeed (no input can carry a certificate signed by
 * the CA, whose key exists only in this process), nor plaintext arrive. The PKI is made once at
 * start, in memory, and written to a temporary directory for the context builders. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls_client.h"
#include "tls_pipe.h"
#include "tls_server.h"

static SSL_CTX *server_ctx, *client_ctx;

/* A self-signed P-256 CA certificate with its key, in dir/ca.pem and dir/ca.key: it serves as
 * the certificate of both sides and as the trust anchor. */
static void make_pki(const char *dir, char *cert_path, char *key_path, size_t len)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX v3;
    FILE *f;

    if (pkey == NULL || x == NULL)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz CA", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, pkey, EVP_sha256()) == 0)
        abort();
    snprintf(cert_path, len, "%s/ca.pem", dir);
    snprintf(key_path, len, "%s/ca.key", dir);
    if ((f = fopen(cert_path, "w")) == NULL || !PEM_write_X509(f, x))
        abort();
    fclose(f);
    if ((f = fopen(key_path, "w")) == NULL ||
        !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/herald-fuzz-tls-XXXXXX", cert[256], key[256], err[512];
    (void)argc, (void)argv;

    if (mkdtemp(dir) == NULL)
        abort();
    make_pki(dir, cert, key, sizeof(cert));
    tls_server_t *s = tls_server_new(
        &(tls_server_conf_t){.cert = cert, .key = key, .min_version = 12, .client_ca = cert}, err,
        sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "fuzz_tls_pipe: %s\n", err);
        abort();
    }
    server_ctx = tls_server_ctx(s);
    tls_server_free(s);
    client_ctx = tls_client_ctx_new(
        &(tls_client_conf_t){.cert = cert, .key = key, .ca = cert, .min_version = 12}, err,
        sizeof(err));
    if (client_ctx == NULL) {
        fprintf(stderr, "fuzz_tls_pipe: %s\n", err);
        abort();
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
    return 0;
}

/* Takes OpenSSL's output as the writer would. */
static void drain(tls_pipe_t *p)
{
    uint8_t out[4096];

    while (tls_pipe_out_take(p, out, sizeof(out)) > 0)
        ;
    if (tls_pipe_out_pending(p) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tls_pipe_t p;
    char why[200];
    size_t step, off = 1;
    int server, failed = 0;

    if (size < 1)
        return 0;
    server = !(data[0] & 1);
    step = (size_t)(data[0] >> 1) + 1;
    if (tls_pipe_init(&p, SSL_new(server ? server_ctx : client_ctx), server) != 0)
        abort();
    if (!server) {
        if (tls_pipe_handshake(&p, why, sizeof(why)) != TLS_PIPE_MORE) /* the ClientHello */
            abort();
        drain(&p);
    }
    while (off < size && !failed) {
        size_t k = size - off < step ? size - off : step;
        if (tls_pipe_feed(&p, data + off, k) != 0)
            abort();
        off += k;
        int rc = tls_pipe_handshake(&p, why, sizeof(why));
        drain(&p);
        if (rc == TLS_PIPE_DONE)
            abort(); /* nothing out there holds the CA's key */
        if (rc != TLS_PIPE_MORE && rc != -1)
            abort();
        if (rc == -1) {
            if (why[0] == '\0')
                abort();
            failed = 1;
        }
        /* A write before the handshake is over is refused, never sent in clear. */
        if (tls_pipe_write(&p, "x", 1) != -1 || tls_pipe_out_pending(&p) != 0)
            abort();
    }
    if (!failed && tls_pipe_ready(&p))
        abort();
    tls_pipe_deinit(&p);
    return 0;
}
