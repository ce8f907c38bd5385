/* logic_params.h - validation of the HTTP API's query parameters (pure functions, no I/O).
 *
 * Every request is validated completely before anything reaches Redis or Kafka (DESIGN.md §4).
 * On failure the functions return HERALD_EINVAL and write a one-line message for the client
 * ("operation must be an integer", "bad mid \"x\"", ...) into err.
 */
#ifndef LOGIC_PARAMS_H
#define LOGIC_PARAMS_H

#include "logic_push_req.h"
#include "proto.h"

#include <stddef.h>
#include <stdint.h>

#define LOGIC_PARAMS_MAX_TARGETS 10000 /* keys or mids in one push request */
#define LOGIC_PARAMS_MAX_KEY 128       /* bytes of a connection key */
/* bytes of a full room id "type://room": what a comet accepts (OpAuth, op 12, BroadcastRoom) */
#define LOGIC_PARAMS_MAX_ROOM PROTO_ROOM_ID_MAX

/* Read access to a request's query string, so validation runs without an HTTP request (tests).
 * get: first value of name or NULL; get_all: as http_request_query_all (total count returned,
 * at most max stored). Strings are borrowed for the duration of the parse call. */
typedef struct logic_query_s {
    const char *(*get)(void *ctx, const char *name);
    size_t (*get_all)(void *ctx, const char *name, const char **out, size_t max);
    void *ctx;
} logic_query_t;

/* Parses an integer parameter: decimal digits with an optional '-', nothing else, within
 * [min, max]. `name` is used in the message. A NULL or empty s is "<name> is required". */
int logic_params_int(const char *s, const char *name, long long min, long long max, long long *out,
                     char *err, size_t errlen);

/* Parses a user id: decimal digits only, 0..INT64_MAX. Returns 0 or HERALD_EINVAL. */
int logic_params_mid(const char *s, int64_t *mid);

/* Extracts the user id from a connection key "<mid>-<rest>" made by logic (rest non-empty).
 * Returns 0 or HERALD_EINVAL (not of that form: e.g. a goim client's own key). */
int logic_params_key_mid(const char *key, int64_t *mid);

/* Checks a connection key: 1..LOGIC_PARAMS_MAX_KEY bytes of printable ASCII, no space. */
int logic_params_key_ok(const char *key, size_t len);

/* Builds the full room id type + "://" + room into out (outlen bytes). Both parts required,
 * printable, total at most LOGIC_PARAMS_MAX_ROOM. */
int logic_params_room_id(const char *type, const char *room, char *out, size_t outlen, char *err,
                         size_t errlen);

/* Validates the query of a /goim/push/<kind> request and fills *out (zeroed first; release with
 * logic_push_req_deinit on success; nothing to release on failure). msg/msg_len are copied into
 * the request. Parameters per kind (goim's): operation always; keys (repeatable); mids
 * (repeatable, duplicates removed, first occurrence kept); type + room; speed (optional). */
int logic_params_push(const logic_query_t *q, logic_push_kind_t kind, const void *msg,
                      size_t msg_len, logic_push_req_t *out, char *err, size_t errlen);

#endif
