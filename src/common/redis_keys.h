/* redis_keys.h - every Redis key herald writes, spelled once: the writers and the readers (logic,
 * job) build their keys here and nowhere else. docs/internals.md "Redis keys" lists the same keys,
 * one row per function below.
 *
 * A key is the configured prefix (redis.prefix, "herald:" by default, at most
 * REDIS_KEY_PREFIX_MAX bytes: each daemon refuses a longer one at start) followed by its pattern.
 * The patterns are what is stored today: changing one makes the data already in Redis
 * unreadable. Every key that a multi-key command or script touches together carries the same
 * {hash tag}, so that on Redis Cluster they share a slot (redis_slot.h) and the scripts stay
 * atomic: one user's keys are tagged {<mid>}, the account keys {users}, the rate limits {limit},
 * the comet and router registry {registry}. token:<token> and idem:<route>:<key> stand alone.
 * The prefix may not hold '{' or '}' (redis_conf_check), so the tag is always the key's first.
 *
 * Each function writes the key and a NUL into out (REDIS_KEY_MAX bytes) and returns its length.
 * The variable parts are bounded by the callers' validation (ids and names at most a few hundred
 * bytes), so a key always fits; one that would not is a bug and aborts (HERALD_ASSERT). Pure, any
 * thread.
 */
#ifndef HERALD_REDIS_KEYS_H
#define HERALD_REDIS_KEYS_H

#include <stdint.h>

#define REDIS_KEY_MAX 512
#define REDIS_KEY_PREFIX_MAX 64

/* token:<token>      string: user id; TTL = the token's lifetime (logic_token.c) */
int redis_key_token(char *out, const char *prefix, const char *token);

/* seq:{<mid>}        integer: the user's last sequence number, no TTL (logic_inbox.c) */
int redis_key_seq(char *out, const char *prefix, int64_t mid);
/* inbox:{<mid>}      sorted set: the user's offline inbox (logic_inbox.c) */
int redis_key_inbox(char *out, const char *prefix, int64_t mid);
/* ack:{<mid>}        hash: device or connection key -> acknowledged seq (logic_inbox.c) */
int redis_key_ack(char *out, const char *prefix, int64_t mid);
/* sent:{<mid>}       hash: device -> highest seq written to its last connection (logic_inbox.c) */
int redis_key_sent(char *out, const char *prefix, int64_t mid);
/* inboxfrom:{<mid>}:<from>  sorted set: the seqs of sender from's entries in mid's inbox, same TTL
 * (logic_inbox.c: the per-sender share) */
int redis_key_inbox_from(char *out, const char *prefix, int64_t mid, int64_t from);

/* conn:{<mid>}       hash: connection key -> {"platform","token"} (logic_login_conn.c) */
int redis_key_conn(char *out, const char *prefix, int64_t mid);

/* user:{users}:next  integer: the last user id given out (logic_user.c) */
int redis_key_user_next(char *out, const char *prefix);
/* user:{users}:<mid> hash: {name, created} of an account (logic_user.c) */
int redis_key_user(char *out, const char *prefix, int64_t mid);
/* user:{users}:<mid> without the mid, for the script that learns the new id inside Redis */
int redis_key_user_stem(char *out, const char *prefix);
/* username:{users}:<name> string: user id of an account name (logic_user.c) */
int redis_key_username(char *out, const char *prefix, const char *name);

/* limit:{limit}:<what> string: a rate limit's state (GCRA: the theoretical arrival time, us),
 * TTL = until it is full again; what = "login:name:<name>", "login:addr:<addr>",
 * "register:addr:<addr>", "chat:<mid>" (logic_limit.c) */
int redis_key_limit(char *out, const char *prefix, const char *what);

/* idem:<route>:<key> string: "" while a push with that idempotency key runs, then the JSON
 * reply data it answered; TTL = push.idempotency_window (logic_idem.c) */
int redis_key_idem(char *out, const char *prefix, const char *route, const char *idem_key);

/* comets:{registry}  hash: comet id -> registry entry (registry.h) */
int redis_key_comets(char *out, const char *prefix);
/* routers:{registry} hash: router name (its RPC address) -> router entry (router_entry.h) */
int redis_key_routers(char *out, const char *prefix);
/* online:{registry}:<server> hash: room -> members on that comet, TTL registry.ttl (registry.h) */
int redis_key_online(char *out, const char *prefix, const char *server);

#endif
