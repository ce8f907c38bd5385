/* cluster.c - the [cluster] section: the cluster secret and the RPC server limits. */
#include "cluster.h"

#include "herald_err.h"
#include "log.h"
#include "rpc.h"
#include "rpc_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads path into buf (cap bytes). Returns the length, or -1 with err set. One byte more than
 * the largest secret is read, so that an oversized file is told apart from a full one. */
static ssize_t cluster_read_file(const char *path, uint8_t *buf, size_t cap, char *err,
                                 size_t errlen)
{
    struct stat st;
    ssize_t n, len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "[cluster] secret_file %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        log_warn("[cluster] secret_file %s: group or others may read it (mode %04o): chmod 600",
                 path, (unsigned)(st.st_mode & 07777));
    while ((size_t)len < cap && (n = read(fd, buf + len, cap - (size_t)len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "[cluster] secret_file %s: read error: %s", path,
                     strerror(errno));
            close(fd);
            return -1;
        }
        len += n;
    }
    close(fd);
    return len;
}

int cluster_apply(const cluster_conf_t *c, char *err, size_t errlen)
{
    uint8_t buf[RPC_AUTH_SECRET_MAX + 1];
    int has_value = c->secret != NULL && c->secret[0] != '\0';
    int has_file = c->secret_file != NULL && c->secret_file[0] != '\0';
    ssize_t len;
    int rc;

    if (has_value && has_file) {
        snprintf(err, errlen,
                 "[cluster]: set secret (HERALD_CLUSTER_SECRET) or secret_file, "
                 "not both");
        return HERALD_ECONF;
    }
    if (!has_value && !has_file) {
        snprintf(err, errlen,
                 "[cluster]: no cluster secret: set secret_file (HERALD_CLUSTER_SECRET_FILE) or "
                 "HERALD_CLUSTER_SECRET, the same on every daemon (scripts/up.sh writes "
                 "run/secret; docs/security.md)");
        return HERALD_ECONF;
    }
    if (has_file) {
        len = cluster_read_file(c->secret_file, buf, sizeof(buf), err, errlen);
        if (len < 0)
            return HERALD_ECONF;
    } else {
        len = (ssize_t)strnlen(c->secret, sizeof(buf));
        memcpy(buf, c->secret, (size_t)len);
    }
    /* A file written by `echo` or an editor ends with a newline that is not part of it. */
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        len--;
    rc = rpc_configure(&(rpc_settings_t){
        .secret = buf,
        .secret_len = (size_t)len,
        .max_conns = (uint32_t)c->rpc_max_conns,
        .handshake_timeout_ms = (uint32_t)c->rpc_handshake_timeout,
        .idle_timeout_ms = (uint32_t)c->rpc_idle_timeout,
    });
    sodium_memzero(buf, sizeof(buf));
    if (rc != 0) {
        snprintf(err, errlen, "[cluster] %s: the secret must be %d to %d bytes",
                 has_file ? "secret_file" : "secret", RPC_AUTH_SECRET_MIN, RPC_AUTH_SECRET_MAX);
        return HERALD_ECONF;
    }
    return 0;
}
