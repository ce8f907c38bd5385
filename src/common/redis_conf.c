/* redis_conf.c - the [redis] section: checks, the password file, the client (see redis_conf.h). */
#include "redis_conf.h"

#include "addr.h"
#include "herald_err.h"
#include "redis_keys.h"
#include "secret_file.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Redis itself takes longer passwords; a longer one in a file is more likely a wrong file. */
#define REDIS_PASSWORD_MAX 4096

static int redis_conf_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int redis_conf_check(const redis_conf_t *c, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    int port;

    if (strlen(c->prefix) > REDIS_KEY_PREFIX_MAX) {
        snprintf(err, errlen, "[redis] prefix: longer than %d bytes", REDIS_KEY_PREFIX_MAX);
        return HERALD_ECONF;
    }
    if (addr_split(c->addr, host, &port) != 0) {
        snprintf(err, errlen, "[redis] addr: bad address \"%s\"", c->addr);
        return HERALD_ECONF;
    }
    if (redis_conf_set(c->password) && redis_conf_set(c->password_file)) {
        snprintf(err, errlen,
                 "[redis]: set password (HERALD_REDIS_PASSWORD) or password_file, "
                 "not both");
        return HERALD_ECONF;
    }
    if (strlen(c->password) > REDIS_PASSWORD_MAX) {
        snprintf(err, errlen, "[redis] password: longer than %d bytes", REDIS_PASSWORD_MAX);
        return HERALD_ECONF;
    }
    if (redis_conf_set(c->user) && !redis_conf_set(c->password) &&
        !redis_conf_set(c->password_file)) {
        snprintf(err, errlen, "[redis] user %s: set its password or password_file", c->user);
        return HERALD_ECONF;
    }
    return 0;
}

redis_t *redis_conf_open(uv_loop_t *loop, const redis_conf_t *c, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX], password[REDIS_PASSWORD_MAX + 2];
    int port;
    ssize_t len;
    redis_t *r;

    if (redis_conf_check(c, err, errlen) != 0)
        return NULL;
    addr_split(c->addr, host, &port);
    if (redis_conf_set(c->password_file)) {
        len = secret_file_read("[redis] password_file", c->password_file, (uint8_t *)password,
                               REDIS_PASSWORD_MAX + 1, err, errlen);
        if (len < 0)
            return NULL;
        len = (ssize_t)secret_trim((uint8_t *)password, (size_t)len);
        if (len == 0 || len > REDIS_PASSWORD_MAX || memchr(password, '\0', (size_t)len)) {
            sodium_memzero(password, sizeof(password));
            snprintf(err, errlen, "[redis] password_file %s: want 1 to %d bytes, no NUL",
                     c->password_file, REDIS_PASSWORD_MAX);
            return NULL;
        }
        password[len] = '\0';
    } else {
        snprintf(password, sizeof(password), "%s", c->password);
    }
    r = redis_new(loop, host, port, c->user, password, (int)c->db);
    sodium_memzero(password, sizeof(password));
    return r;
}
