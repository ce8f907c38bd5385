/* redis_conf.c - the [redis] section (see redis_conf.h). */
#include "redis_conf.h"

#include "addr.h"
#include "buf.h"
#include "herald_err.h"
#include "redis_keys.h"
#include "secret_file.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when a string setting is set (neither NULL nor ""). */
static int is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The password into buf (REDIS_PASSWORD_MAX + 1 bytes, NUL-terminated): from password_file,
 * from password, or "" for none. Returns 0 or HERALD_ECONF with a message in err. */
static int redis_conf_password(const redis_conf_t *c, char *buf, char *err, size_t errlen)
{
    int has_value = is_set(c->password);
    int has_file = is_set(c->password_file);
    ssize_t len = 0;

    buf[0] = '\0';
    if (has_value && has_file) {
        snprintf(err, errlen, "[redis]: set password or password_file, not both");
        return HERALD_ECONF;
    }
    if (has_value) {
        len = (ssize_t)strlen(c->password);
        if (len > REDIS_PASSWORD_MAX) {
            snprintf(err, errlen, "[redis] password: longer than %d bytes", REDIS_PASSWORD_MAX);
            return HERALD_ECONF;
        }
        memcpy(buf, c->password, (size_t)len + 1);
        return 0;
    }
    if (!has_file)
        return 0;
    len = secret_file_read("[redis] password_file", c->password_file, (uint8_t *)buf,
                           REDIS_PASSWORD_MAX + 1, err, errlen);
    if (len < 0)
        return HERALD_ECONF;
    if (len == 0 || len > REDIS_PASSWORD_MAX || memchr(buf, '\0', (size_t)len) != NULL) {
        sodium_memzero(buf, REDIS_PASSWORD_MAX + 1);
        snprintf(err, errlen, "[redis] password_file %s: must hold 1 to %d bytes, no NUL",
                 c->password_file, REDIS_PASSWORD_MAX);
        return HERALD_ECONF;
    }
    buf[len] = '\0';
    return 0;
}

/* cluster = on: addr is a comma-separated list of seeds. Fills hosts / ports (REDIS_SEEDS_MAX
 * each, either may be NULL to only check) and returns how many, or -1 with a message in err. */
static int redis_conf_seeds(const redis_conf_t *c, char hosts[][ADDR_HOST_MAX], int *ports,
                            char *err, size_t errlen)
{
    const char *p = c->addr ? c->addr : "";
    int n = 0;

    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[ADDR_HOST_MAX + 8], host[ADDR_HOST_MAX];
        int port;
        while (len > 0 && *p == ' ')
            p++, len--;
        if (len == 0 || len >= sizeof(one) || n == REDIS_SEEDS_MAX) {
            snprintf(err, errlen,
                     "[redis] addr: with cluster = on, 1 to %d host:port, comma "
                     "separated",
                     REDIS_SEEDS_MAX);
            return -1;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        while (len > 0 && one[len - 1] == ' ')
            one[--len] = '\0';
        if (addr_split(one, host, &port) != 0) {
            snprintf(err, errlen, "[redis] addr: bad address \"%s\"", one);
            return -1;
        }
        if (hosts)
            memcpy(hosts[n], host, sizeof(host));
        if (ports)
            ports[n] = port;
        n++;
        p = comma ? comma + 1 : NULL;
    } while (p);
    return n;
}

int redis_conf_check(const redis_conf_t *c, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX], pw[REDIS_PASSWORD_MAX + 1];
    int port;

    if (c->prefix == NULL || strlen(c->prefix) > REDIS_KEY_PREFIX_MAX) {
        snprintf(err, errlen, "[redis] prefix: longer than %d bytes", REDIS_KEY_PREFIX_MAX);
        return HERALD_ECONF;
    }
    if (strpbrk(c->prefix, "{}") != NULL) { /* it would take the keys' hash tag (redis_keys.h) */
        snprintf(err, errlen, "[redis] prefix: may not hold '{' or '}'");
        return HERALD_ECONF;
    }
    if (c->cluster) {
        if (redis_conf_seeds(c, NULL, NULL, err, errlen) < 0)
            return HERALD_ECONF;
        if (c->db != 0) {
            snprintf(err, errlen, "[redis] db: a Redis Cluster has db 0 only (cluster = on)");
            return HERALD_ECONF;
        }
    } else if (c->addr == NULL || addr_split(c->addr, host, &port) != 0) {
        snprintf(err, errlen, "[redis] addr: bad address \"%s\"", c->addr ? c->addr : "");
        return HERALD_ECONF;
    }
    int rc = redis_conf_password(c, pw, err, errlen);
    sodium_memzero(pw, sizeof(pw));
    if (rc == 0 && is_set(c->user) && !is_set(c->password) && !is_set(c->password_file)) {
        snprintf(err, errlen, "[redis] user %s: set password or password_file as well", c->user);
        return HERALD_ECONF;
    }
    return rc;
}

redis_t *redis_conf_connect(uv_loop_t *loop, const redis_conf_t *c, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX], pw[REDIS_PASSWORD_MAX + 1];
    int port;

    if (redis_conf_check(c, err, errlen) != 0 || redis_conf_password(c, pw, err, errlen) != 0)
        return NULL;
    redis_t *r;
    if (c->cluster) {
        char(*seed_hosts)[ADDR_HOST_MAX] = xmalloc(REDIS_SEEDS_MAX * sizeof(*seed_hosts));
        const char *names[REDIS_SEEDS_MAX];
        int ports[REDIS_SEEDS_MAX];
        int n = redis_conf_seeds(c, seed_hosts, ports, err, errlen);
        for (int i = 0; i < n; i++)
            names[i] = seed_hosts[i];
        r = redis_new_cluster(loop, names, ports, (size_t)n, c->user, pw);
        free(seed_hosts);
    } else {
        addr_split(c->addr, host, &port);
        r = redis_new(loop, host, port, c->user, pw, (int)c->db);
    }
    sodium_memzero(pw, sizeof(pw));
    return r;
}
