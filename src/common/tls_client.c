/* tls_client.c - see tls_client.h. */
#include "tls_client.h"

#include "tls_server.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>

SSL_CTX *tls_client_ctx_new(const tls_client_conf_t *conf, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int has_cert = conf->cert != NULL && conf->cert[0] != '\0';
    const char *key = conf->key != NULL ? conf->key : "";

    if (ctx == NULL) {
        tls_server_error(err, errlen, "tls", "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, conf->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
        tls_server_error(err, errlen, "tls ciphers", TLS_CIPHERS_12);
    } else if (conf->ca == NULL || conf->ca[0] == '\0') {
        snprintf(err, errlen, "tls: no CA file to verify servers with");
    } else if (SSL_CTX_load_verify_locations(ctx, conf->ca, NULL) != 1) {
        tls_server_error(err, errlen, "tls ca", conf->ca);
    } else if (has_cert && SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1) {
        tls_server_error(err, errlen, "tls cert", conf->cert);
    } else if (has_cert && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_server_error(err, errlen, "tls key", key);
    } else if (has_cert && SSL_CTX_check_private_key(ctx) != 1) {
        tls_server_error(err, errlen, "tls key does not match tls cert", conf->cert);
    } else if (conf->verify_name != NULL && conf->verify_name[0] != '\0' &&
               X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), conf->verify_name, 0) != 1) {
        tls_server_error(err, errlen, "tls verify name", conf->verify_name);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}
