/* logic_push_req.h - a validated push request: the value handed from the HTTP API and from
 * upstream messages (logic_params.c, logic_body.c) to the push path (logic_push.c).
 */
#ifndef LOGIC_PUSH_REQ_H
#define LOGIC_PUSH_REQ_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LOGIC_PUSH_KEYS = 0,
    LOGIC_PUSH_MIDS = 1,
    LOGIC_PUSH_ROOM = 2,
    LOGIC_PUSH_ALL = 3,
    LOGIC_PUSH_JOIN = 4, /* not a push: a comet's room announcement (logic_push_join) */
} logic_push_kind_t;

/* A validated push request. Every pointer is heap-owned by the struct: logic_push_start() takes
 * the contents over (and leaves the struct zeroed); otherwise release with logic_push_req_deinit.
 */
typedef struct logic_push_req_s {
    logic_push_kind_t kind;
    int32_t operation;
    int32_t speed; /* ALL: messages per second per comet, 0 = no limit */
    char **keys;   /* KEYS: nkeys non-empty strings */
    size_t nkeys;
    int64_t *mids; /* MIDS: nmids distinct user ids, in request order */
    size_t nmids;
    char *room;     /* ROOM, JOIN: the full room id, "type://room" */
    char *server;   /* JOIN: the comet's server.id */
    char *rpc_addr; /* JOIN: the comet's RPC address */
    uint8_t *msg;   /* body of the pushed packet (may be NULL when msg_len is 0) */
    size_t msg_len;
    int64_t from_mid; /* sender of an upstream message, 0 for business pushes */
} logic_push_req_t;

void logic_push_req_deinit(logic_push_req_t *req);

#endif
