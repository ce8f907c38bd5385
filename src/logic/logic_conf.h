/* logic_conf.h - herald-logic configuration (conf/logic.ini, DESIGN.md §7).
 *
 * Filled by conf_load() from logic_conf_items; every CONF_STR field is heap-owned by the struct
 * and released by conf_free(logic_conf_items, conf). Durations are milliseconds.
 */
#ifndef LOGIC_CONF_H
#define LOGIC_CONF_H

#include "cluster.h"
#include "conf.h"
#include "log.h"
#include "http_tls.h"
#include "redis_conf.h"
#include <stdint.h>

/* [auth] mode: what the auth body's token may be. token: an opaque token in Redis; jwt: a JWT
 * (logic_jwt.h); both: either (a token with two dots is taken as a JWT); insecure-mid: as token,
 * and a goim-style body with a mid and no token is trusted. */
enum logic_auth_mode {
    LOGIC_AUTH_TOKEN = 0,
    LOGIC_AUTH_INSECURE_MID = 1,
    LOGIC_AUTH_JWT = 2,
    LOGIC_AUTH_BOTH = 3,
};
/* [room] join: open = any room (goim); token = only the rooms the client's token lists. */
enum logic_room_join { LOGIC_ROOM_JOIN_OPEN = 0, LOGIC_ROOM_JOIN_TOKEN = 1 };
/* [login] strategy: how POST /herald/v1/login picks the comet for a client (cim's three). */
enum logic_login_strategy {
    LOGIC_LOGIN_ROUND_ROBIN = 0,
    LOGIC_LOGIN_LEAST_CONN = 1,
    LOGIC_LOGIN_HASH = 2,
};
/* [login] mode: IM registration and login with a password, or none (tokens from the business
 * system only; docs/im.md). */
enum logic_login_mode { LOGIC_LOGIN_PASSWORD = 0, LOGIC_LOGIN_OFF = 1 };
/* [login] duplicate: a second connection of a user on the same platform. */
enum logic_login_duplicate {
    LOGIC_DUP_ALLOW = 0,
    LOGIC_DUP_KICK_OLDER = 1,
    LOGIC_DUP_REJECT_NEWER = 2,
};

typedef struct logic_conf_s {
    char *http_listen;               /* [http] listen: business API and admin routes */
    int64_t http_max_body;           /* [http] max_body: larger request bodies get 413 */
    int64_t http_max_head;           /* [http] max_head: request target 414, head 431 */
    int64_t http_request_timeout_ms; /* [http] request_timeout: whole request, head and body */
    int64_t http_max_connections;    /* [http] max_connections: open connections in all */
    int64_t http_max_per_addr;       /* [http] max_per_addr: open connections per client IP */
    char *http_cors_origins;         /* [http] cors_origins: "" none, "*", or a list */
    char *http_web_root;             /* [http] web_root: folder of the /web/ console; "" = off */
    http_tls_conf_t http_tls;        /* [http] tls_cert, tls_key: HTTPS on http.listen */
    char *rpc_listen;                /* [rpc] listen: Logic service for comets */
    int64_t rpc_timeout_ms;          /* [rpc] timeout: deadline of calls to routers, RoomMembers */
    redis_conf_t redis;              /* [redis]: where, how to authenticate, the key prefix */
    char *kafka_brokers;             /* [kafka] brokers: bootstrap list */
    char *kafka_topic;               /* [kafka] topic of the push envelopes */
    conf_props_t kafka_props;        /* [kafka] property.*: librdkafka settings (kafka.h) */
    char *router_addrs;              /* [router] addrs: comma list, always in the hash ring */
    int64_t router_refresh_ms;       /* [router] refresh: period of the router registry read */
    int64_t router_ttl_ms;           /* [router] ttl: a registry entry older than this is dead */
    int auth_mode;                   /* [auth] mode: enum logic_auth_mode */
    char *auth_bearer_key;           /* [auth] bearer_key: "" = every route is open */
    int64_t auth_token_ttl_ms;       /* [auth] token_ttl: default lifetime of issued tokens */
    int64_t heartbeat_ms;        /* [protocol] heartbeat: interval clients must heartbeat within */
    int64_t registry_ttl_ms;     /* [registry] ttl: a comet silent this long is dead */
    int64_t registry_refresh_ms; /* [registry] refresh: period of the online aggregate reload */
    int login_strategy;          /* [login] strategy: enum logic_login_strategy */
    int login_duplicate;         /* [login] duplicate: enum logic_login_duplicate (default) */
    char *login_duplicate_platforms;    /* [login] duplicate_platforms: "web=kick-older,..." */
    int login_mode;                     /* [login] mode: enum logic_login_mode */
    int64_t login_id_base;              /* [login] id_base: first IM user id; business ids below */
    int64_t login_password_ops;         /* [login] password_ops: argon2id opslimit */
    int64_t login_password_mem;         /* [login] password_mem: argon2id memlimit, bytes */
    int64_t login_name_burst;           /* [login] name_burst: failed logins per name at once */
    int64_t login_name_refill_ms;       /* [login] name_refill: one more attempt per this */
    int64_t login_addr_burst;           /* [login] addr_burst: failed logins per address */
    int64_t login_addr_refill_ms;       /* [login] addr_refill */
    int64_t login_register_burst;       /* [login] register_burst: registrations per address */
    int64_t login_register_refill_ms;   /* [login] register_refill */
    int64_t chat_sender_rate;           /* [chat] sender_rate: messages/s per sender; 0 = off */
    int64_t chat_sender_burst;          /* [chat] sender_burst */
    char *kafka_events_topic;           /* [kafka] events_topic: business events; "" = none */
    char *events_callback_url;          /* [events] callback_url: POST events there; "" = none */
    char *events_callback_ca;           /* [events] callback_ca: CA file for https; "" = system */
    int64_t events_callback_timeout_ms; /* [events] callback_timeout: per POST */
    int64_t events_callback_queue;      /* [events] callback_queue: events waiting, at most */
    int64_t push_idempotency_window_ms; /* [push] idempotency_window: a key's reply is kept */
    int64_t inbox_max_count;            /* [inbox] max_count: messages kept per user */
    int64_t inbox_max_age_ms;           /* [inbox] max_age: older messages are dropped */
    int64_t inbox_page_bytes;   /* [inbox] page_bytes: backlog bytes per Connect / Fetch reply */
    int64_t inbox_sender_share; /* [inbox] sender_share: one chat sender's entries per inbox */
    int64_t inbox_replicas;     /* [inbox] replicas: WAIT for them before a store succeeds */
    log_conf_t log;             /* [log]: level, format, file */
    /* client JWTs and protected rooms (docs/security.md) */
    char *auth_jwt_secret;      /* [auth] jwt_secret: HS256 key; "" = HS256 refused. Never logged */
    char *auth_jwt_public_key;  /* [auth] jwt_public_key: PEM file (RS256/ES256); "" = none */
    int64_t auth_jwt_leeway_ms; /* [auth] jwt_leeway: clock skew allowed on exp, nbf, iat */
    char *auth_jwt_audience;    /* [auth] jwt_audience: required "aud"; "" = aud not checked */
    char *auth_jwt_issuer;      /* [auth] jwt_issuer: required "iss"; "" = iss not checked */
    int room_join;              /* [room] join: enum logic_room_join */
    cluster_conf_t cluster;     /* [cluster]: the secret and the RPC server limits */
} logic_conf_t;

/* The table of every key, ends with a NULL section. */
extern const conf_item_t logic_conf_items[];

#endif
