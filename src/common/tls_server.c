/* tls_server.c - see tls_server.h. The only file of the server side that builds OpenSSL
 * contexts. */
#include "tls_server.h"

#include "buf.h"
#include "herald_err.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TLS_SERVER_MAX_PAIRS 16

struct tls_server_s {
    char *cert, *key;  /* the lists, as configured */
    char *client_ca;   /* "" when no client certificate is asked for */
    char *client_name; /* "" when any name signed by client_ca will do */
    int min_version;
    bool tickets;
    uv_mutex_t lock; /* guards ctx against tls_server_ssl on other threads */
    SSL_CTX *ctx;    /* the current default context (one reference) */
    unsigned generation;
};

/* The other certificates of one build, chosen by SNI. Hung on the default context (ex_data) and
 * freed with it, so a handshake on an old context still finds them after a reload. */
typedef struct tls_sni_s {
    size_t n;
    SSL_CTX *ctx[TLS_SERVER_MAX_PAIRS];
} tls_sni_t;

static int sni_index = -1;     /* SSL_CTX ex_data: its tls_sni_t */
static int capture_index = -1; /* SSL ex_data: the tls_secrets_t of tls_server_capture */
static uv_once_t sni_once = UV_ONCE_INIT;

static void sni_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    tls_sni_t *sni = ptr;
    if (sni == NULL)
        return;
    for (size_t i = 0; i < sni->n; i++)
        SSL_CTX_free(sni->ctx[i]);
    free(sni);
}

static void sni_index_init(void)
{
    sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_free);
    capture_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* OpenSSL's key log line "<LABEL> <client random> <secret>" (hex): the two application traffic
 * secrets go to the connection's capture, if it asked; nothing is written anywhere else. */
static void on_keylog(const SSL *ssl, const char *line)
{
    tls_secrets_t *out = SSL_get_ex_data(ssl, capture_index);
    if (out == NULL)
        return;
    static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ", server[] = "SERVER_TRAFFIC_SECRET_0 ";
    unsigned char *dst;
    int bit;
    if (strncmp(line, client, sizeof client - 1) == 0)
        dst = out->client, bit = 1;
    else if (strncmp(line, server, sizeof server - 1) == 0)
        dst = out->server, bit = 2;
    else
        return;
    const char *hex = strchr(line + sizeof client - 1, ' ');
    if (hex == NULL)
        return;
    hex++;
    size_t n = strlen(hex) / 2;
    if (n == 0 || n > sizeof out->client || (out->len != 0 && n != out->len))
        return;
    for (size_t i = 0; i < n; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return;
        dst[i] = (unsigned char)(hi << 4 | lo);
    }
    out->len = (unsigned char)n;
    out->have |= (unsigned char)bit;
}

void tls_server_capture(SSL *ssl, tls_secrets_t *out)
{
    SSL_set_ex_data(ssl, capture_index, out);
}

/* The first of the other certificates whose names cover the client's server name; without a
 * server name, or when none matches, the default stays. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert, (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const tls_sni_t *sni = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), sni_index);
    if (name == NULL || sni == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    for (size_t i = 0; i < sni->n; i++) {
        X509 *x = SSL_CTX_get0_certificate(sni->ctx[i]);
        if (x != NULL && X509_check_host(x, name, strlen(name), 0, NULL) == 1) {
            SSL_set_SSL_CTX(ssl, sni->ctx[i]);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* "<what> '<file>': <OpenSSL's reason>" into err. */
void tls_server_error(char *err, size_t errlen, const char *what, const char *file)
{
    char reason[256];
    unsigned long e = ERR_peek_last_error();
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "unknown error");
    ERR_clear_error();
    snprintf(err, errlen, "%s '%s': %s", what, file, reason);
}

/* Mutual TLS: ask for a client certificate, require one signed by s->client_ca (and naming
 * s->client_name when set). Returns 0, or -1 with err set. */
static int ctx_require_client(SSL_CTX *ctx, const tls_server_t *s, char *err, size_t errlen)
{
    STACK_OF(X509_NAME) * names;

    if (SSL_CTX_load_verify_locations(ctx, s->client_ca, NULL) != 1) {
        tls_server_error(err, errlen, "tls ca", s->client_ca);
        return -1;
    }
    /* The CertificateRequest names the accepted CAs, as a client with several certificates
     * needs to choose. */
    names = SSL_load_client_CA_file(s->client_ca);
    if (names == NULL) {
        tls_server_error(err, errlen, "tls ca", s->client_ca);
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    if (s->client_name[0] != '\0' &&
        X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), s->client_name, 0) != 1) {
        tls_server_error(err, errlen, "tls verify name", s->client_name);
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

/* One context serving cert/key with the settings of tls_server.h, or NULL with err set. */
static SSL_CTX *ctx_build(const tls_server_t *s, const char *cert, const char *key, char *err,
                          size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        tls_server_error(err, errlen, "tls", "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, s->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION | (s->tickets ? 0 : SSL_OP_NO_TICKET));
    if (!s->tickets)
        SSL_CTX_set_num_tickets(ctx, 0); /* TLS 1.3 would send (stateful) tickets anyway */
    SSL_CTX_set_keylog_callback(ctx, on_keylog);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Tickets are stateless: sessions are never stored server-side (that would cost memory per
     * session), neither looked up there. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
        tls_server_error(err, errlen, "tls ciphers", TLS_CIPHERS_12);
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_server_error(err, errlen, "tls.cert", cert);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_server_error(err, errlen, "tls.key", key);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_server_error(err, errlen, "tls.key does not match tls.cert", cert);
    } else if (s->client_ca[0] != '\0' && ctx_require_client(ctx, s, err, errlen) != 0) {
        /* err is set */
    } else {
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

/* Splits a comma list in place into out (at most max items, spaces trimmed). Returns the count,
 * or -1 when there are too many or one is empty. */
static int split_list(char *list, char **out, int max)
{
    int n = 0;
    for (char *p = list;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        char *end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*p == '\0' || n == max)
            return -1;
        out[n++] = p;
        if (comma == NULL)
            return n;
        p = comma + 1;
    }
}

/* A default context with its SNI certificates from s's files, or NULL with err set. */
static SSL_CTX *build(const tls_server_t *s, char *err, size_t errlen)
{
    char *cert_list = xstrdup(s->cert), *key_list = xstrdup(s->key);
    char *certs[TLS_SERVER_MAX_PAIRS], *keys[TLS_SERVER_MAX_PAIRS];
    int nc = split_list(cert_list, certs, TLS_SERVER_MAX_PAIRS);
    int nk = split_list(key_list, keys, TLS_SERVER_MAX_PAIRS);
    SSL_CTX *def = NULL;
    if (nc < 0 || nk < 0) {
        snprintf(err, errlen, "tls.cert / tls.key: 1 to %d comma-separated non-empty paths",
                 TLS_SERVER_MAX_PAIRS);
    } else if (nc != nk) {
        snprintf(err, errlen, "tls.cert lists %d files but tls.key %d", nc, nk);
    } else if ((def = ctx_build(s, certs[0], keys[0], err, errlen)) != NULL) {
        tls_sni_t *sni = xcalloc(1, sizeof *sni);
        for (int i = 1; i < nc && def != NULL; i++) {
            SSL_CTX *c = ctx_build(s, certs[i], keys[i], err, errlen);
            if (c == NULL) {
                sni_free(NULL, sni, NULL, 0, 0, NULL);
                SSL_CTX_free(def);
                def = NULL;
            } else {
                sni->ctx[sni->n++] = c;
            }
        }
        if (def != NULL) {
            SSL_CTX_set_ex_data(def, sni_index, sni);
            SSL_CTX_set_tlsext_servername_callback(def, on_servername);
        }
    }
    free(cert_list);
    free(key_list);
    return def;
}

tls_server_t *tls_server_new(const tls_server_conf_t *conf, char *err, size_t errlen)
{
    uv_once(&sni_once, sni_index_init);
    tls_server_t *s = xcalloc(1, sizeof *s);
    s->cert = xstrdup(conf->cert ? conf->cert : "");
    s->key = xstrdup(conf->key ? conf->key : "");
    s->client_ca = xstrdup(conf->client_ca ? conf->client_ca : "");
    s->client_name = xstrdup(conf->client_name ? conf->client_name : "");
    s->min_version = conf->min_version;
    s->tickets = conf->tickets;
    s->ctx = build(s, err, errlen);
    if (s->ctx == NULL || uv_mutex_init(&s->lock) != 0) {
        if (s->ctx != NULL)
            snprintf(err, errlen, "tls: cannot create a mutex");
        SSL_CTX_free(s->ctx);
        free(s->cert);
        free(s->key);
        free(s->client_ca);
        free(s->client_name);
        free(s);
        return NULL;
    }
    s->generation = 1;
    return s;
}

int tls_server_reload(tls_server_t *s, const char *cert, const char *key, char *err, size_t errlen)
{
    char *old_cert = s->cert, *old_key = s->key;
    if (cert != NULL || key != NULL) {
        s->cert = xstrdup(cert ? cert : "");
        s->key = xstrdup(key ? key : "");
    }
    SSL_CTX *ctx = build(s, err, errlen);
    if (ctx == NULL) {
        if (s->cert != old_cert) {
            free(s->cert);
            free(s->key);
            s->cert = old_cert;
            s->key = old_key;
        }
        return HERALD_ECONF;
    }
    if (s->cert != old_cert) {
        free(old_cert);
        free(old_key);
    }
    uv_mutex_lock(&s->lock);
    SSL_CTX *old = s->ctx;
    s->ctx = ctx;
    s->generation++;
    uv_mutex_unlock(&s->lock);
    SSL_CTX_free(old); /* connections made from it hold their own references */
    return 0;
}

SSL *tls_server_ssl(tls_server_t *s)
{
    uv_mutex_lock(&s->lock);
    SSL *ssl = SSL_new(s->ctx);
    uv_mutex_unlock(&s->lock);
    return ssl;
}

SSL_CTX *tls_server_ctx(tls_server_t *s)
{
    uv_mutex_lock(&s->lock);
    SSL_CTX *ctx = s->ctx;
    SSL_CTX_up_ref(ctx);
    uv_mutex_unlock(&s->lock);
    return ctx;
}

unsigned tls_server_generation(const tls_server_t *s)
{
    return s->generation;
}

void tls_server_free(tls_server_t *s)
{
    if (s == NULL)
        return;
    SSL_CTX_free(s->ctx);
    uv_mutex_destroy(&s->lock);
    free(s->cert);
    free(s->key);
    free(s->client_ca);
    free(s->client_name);
    free(s);
}
