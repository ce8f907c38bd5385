/* http_tls.c - see http_tls.h. */
#include "http_tls.h"

#include "buf.h"
#include "file_read.h"
#include "herald_err.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Reads the whole file into a new NUL-terminated buffer (*out). Returns 0, or HERALD_ECONF with
 * err set ("[section] key PATH: why"). */
static int read_pem(const char *section, const char *key, const char *path, int secret, char **out,
                    char *err, size_t errlen)
{
    const char *why;
    size_t len;
    mode_t mode;

    if (file_read(path, HTTP_TLS_FILE_MAX, 0, out, &len, &mode, &why) != 0) {
        snprintf(err, errlen, "[%s] %s %s: %s", section, key, path, why);
        return HERALD_ECONF;
    }
    if (len == 0) {
        snprintf(err, errlen, "[%s] %s %s: empty", section, key, path);
        free(*out);
        *out = NULL;
        return HERALD_ECONF;
    }
    if (secret && (mode & S_IRWXO) != 0)
        log_warn("[%s] %s %s: others may read the private key (mode %04o): chmod 600", section, key,
                 path, (unsigned)(mode & 07777));
    return 0;
}

int http_tls_load(const http_tls_conf_t *conf, const char *section, http_tls_t *out, char *err,
                  size_t errlen)
{
    out->cert_pem = NULL;
    out->key_pem = NULL;
    if (!is_set(conf->cert) && !is_set(conf->key))
        return 0;
    if (!is_set(conf->cert) || !is_set(conf->key)) {
        snprintf(err, errlen, "[%s] %s is set without %s: HTTPS needs both", section,
                 is_set(conf->cert) ? "tls_cert" : "tls_key",
                 is_set(conf->cert) ? "tls_key" : "tls_cert");
        return HERALD_ECONF;
    }
    if (read_pem(section, "tls_cert", conf->cert, 0, &out->cert_pem, err, errlen) != 0)
        return HERALD_ECONF;
    if (strstr(out->cert_pem, "-----BEGIN CERTIFICATE-----") == NULL) {
        snprintf(err, errlen, "[%s] tls_cert %s: no PEM certificate in it", section, conf->cert);
        http_tls_deinit(out);
        return HERALD_ECONF;
    }
    if (read_pem(section, "tls_key", conf->key, 1, &out->key_pem, err, errlen) != 0) {
        http_tls_deinit(out);
        return HERALD_ECONF;
    }
    /* "-----BEGIN PRIVATE KEY-----", "... EC PRIVATE KEY-----", "... RSA PRIVATE KEY-----" */
    const char *begin = strstr(out->key_pem, "-----BEGIN ");
    const char *line_end = begin != NULL ? strchr(begin, '\n') : NULL;
    const char *tag = begin != NULL ? strstr(begin, "PRIVATE KEY-----") : NULL;
    if (tag == NULL || (line_end != NULL && tag > line_end)) {
        snprintf(err, errlen, "[%s] tls_key %s: no PEM private key in it", section, conf->key);
        http_tls_deinit(out);
        return HERALD_ECONF;
    }
    if (strncmp(begin, "-----BEGIN ENCRYPTED ", 21) == 0) {
        snprintf(err, errlen, "[%s] tls_key %s: the key is encrypted; give it unencrypted", section,
                 conf->key);
        http_tls_deinit(out);
        return HERALD_ECONF;
    }
    return 0;
}

void http_tls_deinit(http_tls_t *t)
{
    if (t->key_pem != NULL)
        explicit_bzero(t->key_pem, strlen(t->key_pem));
    free(t->key_pem);
    free(t->cert_pem);
    t->cert_pem = NULL;
    t->key_pem = NULL;
}
