/* tls_client.c - see tls_client.h. */
#include "tls_client.h"

#include "buf.h"
#include "tls_server.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

struct tls_client_s {
    SSL_CTX *ctx;
};

tls_client_t *tls_client_new(const tls_client_conf_t *conf, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    tls_client_t *c;

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
    } else if (conf->cert != NULL && conf->cert[0] != '\0' &&
               SSL_CTX_use_certificate_chain_file(ctx, conf->cert) != 1) {
        tls_server_error(err, errlen, "tls cert", conf->cert);
    } else if (conf->cert != NULL && conf->cert[0] != '\0' &&
               SSL_CTX_use_PrivateKey_file(ctx, conf->key ? conf->key : "", SSL_FILETYPE_PEM) != 1) {
        tls_server_error(err, errlen, "tls key", conf->key ? conf->key : "");
    } else if (conf->cert != NULL && conf->cert[0] != '\0' && SSL_CTX_check_private_key(ctx) != 1) {
        tls_server_error(err, errlen, "tls key does not match tls cert", conf->cert);
    } else if (conf->verify_name != NULL && conf->verify_name[0] != '\0' &&
               X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), conf->verify_name, 0) != 1) {
        tls_server_error(err, errlen, "tls verify name", conf->verify_name);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        c = xcalloc(1, sizeof(*c));
        c->ctx = ctx;
        return c;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *tls_client_ssl(tls_client_t *c)
{
    return SSL_new(c->ctx);
}

void tls_client_free(tls_client_t *c)
{
    if (c == NULL)
        return;
    SSL_CTX_free(c->ctx);
    free(c);
}
