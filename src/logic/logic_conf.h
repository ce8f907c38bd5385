/* logic_conf.h - herald-logic configuration (conf/logic.ini, DESIGN.md §7).
 *
 * Filled by conf_load() from logic_conf_items; every CONF_STR field is heap-owned by the struct
 * and released by conf_free(logic_conf_items, conf). Durations are milliseconds.
 */
#ifndef LOGIC_CONF_H
#define LOGIC_CONF_H

#include "cluster.h"
#include "conf.h"
#include <stdint.h>

enum logic_auth_mode { LOGIC_AUTH_TOKEN = 0, LOGIC_AUTH_INSECURE_MID = 1 };
/* [login] strategy: how POST /herald/v1/login picks the comet for a client (cim's three). */
enum logic_login_strategy {
    LOGIC_LOGIN_ROUND_ROBIN = 0,
    LOGIC_LOGIN_LEAST_CONN = 1,
    LOGIC_LOGIN_HASH = 2,
};
/* [login] duplicate: a second connection of a user on the same platform. */
enum logic_login_duplicate {
    LOGIC_DUP_ALLOW = 0,
    LOGIC_DUP_KICK_OLDER = 1,
    LOGIC_DUP_REJECT_NEWER = 2,
};

typedef struct logic_conf_s {
    char *http_listen;           /* [http] listen: business API and admin routes */
    int64_t http_max_body;       /* [http] max_body: larger request bodies get 413 */
    char *http_web_root;         /* [http] web_root: folder of the /web/ console; "" = off */
    char *rpc_listen;            /* [rpc] listen: Logic service for comets */
    int64_t rpc_timeout_ms;      /* [rpc] timeout: deadline of calls to routers, RoomMembers */
    char *redis_addr;            /* [redis] addr */
    char *redis_password;        /* [redis] password ("" = none) */
    int64_t redis_db;            /* [redis] db */
    char *redis_prefix;          /* [redis] prefix of every key */
    char *kafka_brokers;         /* [kafka] brokers: bootstrap list */
    char *kafka_topic;           /* [kafka] topic of the push envelopes */
    char *router_addrs;          /* [router] addrs: comma list; the hash ring is built from it */
    int auth_mode;               /* [auth] mode: enum logic_auth_mode */
    char *auth_bearer_key;       /* [auth] bearer_key: "" = business routes are open */
    int64_t auth_token_ttl_ms;   /* [auth] token_ttl: default lifetime of issued tokens */
    int64_t heartbeat_ms;        /* [protocol] heartbeat: interval clients must heartbeat within */
    int64_t registry_ttl_ms;     /* [registry] ttl: a comet silent this long is dead */
    int64_t registry_refresh_ms; /* [registry] refresh: period of the online aggregate reload */
    int login_strategy;          /* [login] strategy: enum logic_login_strategy */
    int login_duplicate;         /* [login] duplicate: enum logic_login_duplicate (default) */
    char *login_duplicate_platforms;    /* [login] duplicate_platforms: "web=kick-older,..." */
    char *kafka_events_topic;           /* [kafka] events_topic: business events; "" = none */
    char *events_callback_url;          /* [events] callback_url: POST events there; "" = none */
    int64_t events_callback_timeout_ms; /* [events] callback_timeout: per POST */
    int64_t events_callback_queue;      /* [events] callback_queue: events waiting, at most */
    int64_t inbox_max_count;            /* [inbox] max_count: messages kept per user */
    int64_t inbox_max_age_ms;           /* [inbox] max_age: older messages are dropped */
    int64_t inbox_page_bytes; /* [inbox] page_bytes: backlog bytes per Connect / Fetch reply */
    int log_level;            /* [log] level: log_level_t */
    cluster_conf_t cluster;   /* [cluster]: the secret and the RPC server limits */
} logic_conf_t;

/* The table of every key, ends with a NULL section. */
extern const conf_item_t logic_conf_items[];

#endif
