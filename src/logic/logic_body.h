/* logic_body.h - validation of the JSON bodies clients send through comet (pure, no I/O):
 * the auth body of OpAuth (DESIGN.md §3) and the upstream message of OpSendMsg.
 * Both are untrusted: sizes are bounded before parsing, types and ranges are checked, unknown
 * fields are ignored (forward compatibility with newer clients).
 */
#ifndef LOGIC_BODY_H
#define LOGIC_BODY_H

#include "logic_push_req.h"

#include <stddef.h>
#include <stdint.h>

#define LOGIC_BODY_MAX 65536 /* bytes of an auth or upstream body */
#define LOGIC_BODY_MAX_ACCEPTS 256
#define LOGIC_BODY_MAX_TOKEN 4096 /* an opaque token or a JWT (LOGIC_JWT_MAX) */
#define LOGIC_BODY_MAX_PLATFORM 32
#define LOGIC_BODY_MAX_DEVICE 64

/* The auth body. Strings are heap-owned (release with logic_body_auth_deinit); a missing or null
 * field leaves NULL (strings) / 0 (numbers). */
typedef struct logic_body_auth_s {
    char *token;
    int has_mid; /* a goim-style "mid" was given */
    int64_t mid;
    char *key; /* goim client's own connection key, NULL when absent or "" */
    char *room_id;
    char *platform;
    int32_t *accepts;
    size_t naccepts;
    uint64_t last_seq;
    int has_last_seq; /* "last_seq" was given (0 included) */
    char *device;     /* names the device's delivery position: [A-Za-z0-9._:-], NULL when absent */
} logic_body_auth_t;

/* Parses {"token","mid","key","room_id","platform","accepts":[op,...],"last_seq","device"}.
 * Returns 0, or
 * HERALD_EINVAL with a message in err (out then holds nothing to release). */
int logic_body_auth(const void *body, size_t len, logic_body_auth_t *out, char *err, size_t errlen);
void logic_body_auth_deinit(logic_body_auth_t *a);

/* Parses an upstream message {"to_mid":N,"op":1000,"msg":...} or {"to_room":"live://1","op":..,
 * "msg":..} sent by user from_mid whose connection is in room conn_room ("" = none), into a push
 * request (MIDS with one mid, or ROOM) whose body is msg re-serialised as compact JSON, with
 * from_mid set. op must be a business op (>= 1000). Returns 0; HERALD_EINVAL for a malformed
 * body; HERALD_EFORBIDDEN when to_room is not the sender's current room. Message in err. */
int logic_body_upstream(const void *body, size_t len, int64_t from_mid, const char *conn_room,
                        logic_push_req_t *out, char *err, size_t errlen);

#endif
