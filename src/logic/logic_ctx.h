/* logic_ctx.h - the context of one herald-logic: what every module may use, built once by
 * logic_server.c while it starts and read, never written, by the modules.
 *
 * It holds the loop, the configuration and the shared objects (backends and services). Each
 * of those objects owns its own state and counters; the context only lets a module find them.
 * Modules keep the `const logic_ctx_t *` they were created with and read the fields when they
 * need them (objects created later than a module are filled in before the loop runs).
 *
 * The backend accessors below return NULL once the server is stopping, so that no module starts
 * work on a backend that is closing (callers answer HERALD_EUNAVAIL). Loop thread only.
 */
#ifndef LOGIC_CTX_H
#define LOGIC_CTX_H

#include "kafka.h"
#include "logic_conf.h"
#include "redis.h"

#include <uv.h>

struct logic_router_s;
struct logic_online_s;
struct logic_registry_s;
struct logic_comets_s;
struct logic_replay_s;
struct logic_events_s;
struct logic_push_s;
struct logic_login_s;
struct logic_jwt_keys_s;
struct logic_password_s;

typedef struct logic_ctx_s {
    uv_loop_t *loop;
    const logic_conf_t *conf;
    redis_t *redis;
    kafka_producer_t *kafka;            /* the push envelopes' topic */
    struct logic_router_s *router;      /* router clients (logic_router.h) */
    struct logic_online_s *online;      /* the comets and room counts in memory (logic_online.h) */
    struct logic_registry_s *registry;  /* the online aggregate's Redis side (logic_registry.h) */
    struct logic_comets_s *comets;      /* logic's own calls to comets (logic_comets.h) */
    struct logic_replay_s *replay;      /* router epochs and comet replays (logic_replay.h) */
    struct logic_events_s *events;      /* business events; NULL when off (logic_events.h) */
    struct logic_push_s *push;          /* the push path (logic_push.h) */
    struct logic_login_s *login;        /* comet choice, duplicate logins (logic_login.h) */
    struct logic_password_s *password;  /* argon2id on the thread pool (logic_password.h) */
    const struct logic_jwt_keys_s *jwt; /* client JWT keys; NULL when auth.mode takes none */
    const int *stopping;                /* the server's flag; NULL: never stopping (tests) */
} logic_ctx_t;

/* 1 once the server is stopping. */
int logic_ctx_stopping(const logic_ctx_t *c);

/* The backends for new work, or NULL when stopping. */
redis_t *logic_ctx_redis(const logic_ctx_t *c);
struct logic_router_s *logic_ctx_router(const logic_ctx_t *c);
kafka_producer_t *logic_ctx_kafka(const logic_ctx_t *c);

#endif
