/* redis_conf.h - the [redis] section of every daemon that talks to Redis (logic, job): where
 * it is, how to authenticate, which database and key prefix.
 *
 *   [redis]
 *   addr = 127.0.0.1:6379   host:port
 *   user =                  ACL user (Redis 6+): "AUTH user password"; empty = "AUTH password"
 *                           (the default user) when a password is set
 *   password =              the password itself: meant for HERALD_REDIS_PASSWORD, not a file
 *   password_file =         file holding the password (read once at start; trailing newlines
 *                           and blanks dropped), instead of password
 *   db = 0                  SELECT'ed after AUTH
 *   prefix = herald:        prefix of every key (at most REDIS_KEY_PREFIX_MAX bytes)
 *
 * The password never appears in a log line, an error message or -t output.
 */
#ifndef HERALD_REDIS_CONF_H
#define HERALD_REDIS_CONF_H

#include "conf.h"
#include "redis.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct redis_conf_s {
    char *addr;
    char *user;          /* "" = none */
    char *password;      /* "" = none */
    char *password_file; /* "" = none */
    int64_t db;
    char *prefix;
} redis_conf_t;

/* The items of [redis] for a daemon config struct `type` with a redis_conf_t member named
 * `redis`; put them in the daemon's conf_item_t table. */
#define REDIS_CONF_ITEMS(type)                                                                     \
    {"redis", "addr", CONF_STR, offsetof(type, redis.addr), "127.0.0.1:6379", 0, 0, NULL},         \
        {"redis", "user", CONF_STR, offsetof(type, redis.user), "", 0, 0, NULL},                   \
        {"redis", "password", CONF_STR, offsetof(type, redis.password), "", 0, 0, NULL},           \
        {"redis", "password_file", CONF_STR, offsetof(type, redis.password_file), "", 0, 0, NULL}, \
        {"redis", "db", CONF_INT, offsetof(type, redis.db), "0", 0, 1 << 16, NULL},                \
    {                                                                                              \
        "redis", "prefix", CONF_STR, offsetof(type, redis.prefix), "herald:", 0, 0, NULL           \
    }

/* Checks addr and prefix, and that password and password_file are not both set and that a user
 * comes with one of them. Returns 0, or HERALD_ECONF with a message in err. */
int redis_conf_check(const redis_conf_t *c, char *err, size_t errlen);

/* Checks (as above), reads the password (from password or password_file) and starts the client
 * (redis_new: it connects in the background). Returns NULL with a message in err (never the
 * password) when a check fails or the file cannot be read. */
redis_t *redis_conf_open(uv_loop_t *loop, const redis_conf_t *c, char *err, size_t errlen);

#endif
