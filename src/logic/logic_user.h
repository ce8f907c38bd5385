/* logic_user.h - user accounts in Redis (docs/im.md): a unique name per user id.
 *
 *   <prefix>user:{users}:next        integer, INCR gives the next user id (from login.id_base)
 *   <prefix>user:{users}:<mid>       hash {name, created (unix ms), pass (argon2id string)}
 *   <prefix>username:{users}:<name>  string -> mid
 * (key names: redis_keys.h). The {users} tag keeps them on one Redis Cluster slot: the creation
 * script reads and writes all three, and names user:{users}:<mid> only inside the script.
 *
 * Creation is one Lua script, so two registrations of one name cannot both win. Loop thread only.
 */
#ifndef LOGIC_USER_H
#define LOGIC_USER_H

#include "logic_push_req.h"
#include "logic_ctx.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LOGIC_USER_NAME_MAX 32
#define LOGIC_USER_PASS_HASH_MAX 128 /* a stored password hash, NUL included */

/* Checks a user name: 1..LOGIC_USER_NAME_MAX bytes of [A-Za-z0-9_.-], not all digits (so the
 * chat client can tell "@name" from "@mid"). Returns 0 or HERALD_EINVAL. */
int logic_user_name_ok(const char *name);

/* status 0 or HERALD_E*; mid and name (borrowed for the call, may be NULL) as per call. */
typedef void (*logic_user_cb)(int status, int64_t mid, const char *name, void *arg);

/* Registers name (valid per logic_user_name_ok) with pass_hash (logic_password_hash's string,
 * stored as is) under the next IM id (at least login.id_base): cb(0, new mid, name),
 * cb(HERALD_EEXIST, 0, NULL) when the name is taken, cb(HERALD_EUNAVAIL, 0, NULL) when Redis
 * failed. Returns 0 (cb called once later) or HERALD_EUNAVAIL (cb never called). */
int logic_user_create(const logic_ctx_t *ctx, const char *name, const char *pass_hash,
                      logic_user_cb cb, void *arg);

/* status 0 with the account's id and password hash (borrowed for the call; NULL when the
 * account has none: made before passwords), HERALD_ENOTFOUND or HERALD_EUNAVAIL. */
typedef void (*logic_user_credential_cb)(int status, int64_t mid, const char *pass_hash, void *arg);

/* Finds the id and password hash of the account `name`, in one script. Returns as create. */
int logic_user_credential(const logic_ctx_t *ctx, const char *name, logic_user_credential_cb cb,
                          void *arg);

/* Finds a user by name: cb(0, mid, name) or cb(HERALD_ENOTFOUND, 0, NULL). Returns as create. */
int logic_user_by_name(const logic_ctx_t *ctx, const char *name, logic_user_cb cb, void *arg);

/* Finds a user by id: cb(0, mid, name) or cb(HERALD_ENOTFOUND, mid, NULL). Returns as create. */
int logic_user_by_mid(const logic_ctx_t *ctx, int64_t mid, logic_user_cb cb, void *arg);

/* status 0 or HERALD_EUNAVAIL. */
typedef void (*logic_user_names_cb)(int status, void *arg);

/* Sets "name" in every object of the JSON array users (each has an integer "mid"): the account's
 * name, or null when the user id has no account (a business mid). One pipelined HGET per user.
 * users (not empty) is borrowed: the caller keeps it alive until cb. cb(0) once every name is
 * set, cb(HERALD_EUNAVAIL) when Redis failed (names may be missing). Returns 0 (cb called once
 * later) or HERALD_EUNAVAIL (cb never called). */
int logic_user_names(const logic_ctx_t *ctx, json_t *users, logic_user_names_cb cb, void *arg);

/* Rewrites the body of an upstream push request (made by logic_body_upstream: req->msg is the
 * client's "msg" as JSON) into the envelope receivers get:
 *   {"from":mid,"from_name":"..."|null,"to_mid":N | "to_room":"...","msg":<msg>}
 * so a client shows who wrote it without a lookup (a from_name that is not UTF-8 shows as null).
 * Returns 0, or HERALD_EINVAL when req->msg is not JSON or the room is not UTF-8 (the request is
 * then unchanged). */
int logic_user_wrap(logic_push_req_t *req, const char *from_name);

#endif
