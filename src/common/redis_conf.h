/* redis_conf.h - the [redis] section of logic and job, written once: where Redis is, how herald
 * authenticates to it, and the key prefix.
 *
 *   [redis]
 *   addr = 127.0.0.1:6379   host:port; with cluster = on, seeds: host:port,host:port,...
 *   cluster = off           on: addr is a Redis Cluster (redis_new_cluster); db must be 0
 *   user =                  Redis 6 ACL user: AUTH <user> <password>; "" = AUTH <password>
 *   password =              "" = no AUTH. Prefer password_file or HERALD_REDIS_PASSWORD
 *   password_file =         file holding the password (secret_file.h); not with password
 *   db = 0                  SELECT db (0..65535)
 *   prefix = herald:        of every key (redis_keys.h), at most REDIS_KEY_PREFIX_MAX bytes
 *
 * The password never appears in a log line, an error message or -t output.
 */
#ifndef HERALD_REDIS_CONF_H
#define HERALD_REDIS_CONF_H

#include "conf.h"
#include "redis.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define REDIS_PASSWORD_MAX 4096 /* bytes */
#define REDIS_SEEDS_MAX 16      /* cluster = on: host:port entries in addr */

typedef struct redis_conf_s {
    char *addr;
    bool cluster;
    char *user;
    char *password;
    char *password_file;
    int64_t db;
    char *prefix;
} redis_conf_t;

/* The items of [redis] for a daemon config struct `type` with a redis_conf_t member named
 * `redis`; put them in the daemon's conf_item_t table. */
#define REDIS_CONF_ITEMS(type)                                                                     \
    {"redis", "addr", CONF_STR, offsetof(type, redis.addr), "127.0.0.1:6379", 0, 0, NULL},         \
        {"redis", "cluster", CONF_BOOL, offsetof(type, redis.cluster), "off", 0, 0, NULL},         \
        {"redis", "user", CONF_STR, offsetof(type, redis.user), "", 0, 0, NULL},                   \
        {"redis", "password", CONF_STR, offsetof(type, redis.password), "", 0, 0, NULL},           \
        {"redis", "password_file", CONF_STR, offsetof(type, redis.password_file), "", 0, 0, NULL}, \
        {"redis", "db", CONF_INT, offsetof(type, redis.db), "0", 0, 65535, NULL},                  \
    {                                                                                              \
        "redis", "prefix", CONF_STR, offsetof(type, redis.prefix), "herald:", 0, 0, NULL           \
    }

/* Checks what can be checked before connecting: the address, the prefix's length, password and
 * password_file not both set, the file readable and its password 1..REDIS_PASSWORD_MAX bytes.
 * Returns 0, or HERALD_ECONF with a message in err (never the password). */
int redis_conf_check(const redis_conf_t *c, char *err, size_t errlen);

/* Starts the connection (redis_new) with the configured credentials, reading password_file
 * now. Returns the client, or NULL with a message in err (the checks of redis_conf_check). */
redis_t *redis_conf_connect(uv_loop_t *loop, const redis_conf_t *c, char *err, size_t errlen);

#endif
