/* logic_body.c - auth and upstream JSON bodies. */
#include "logic_body.h"

#include "buf.h"
#include "herald_err.h"
#include "logic_params.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSINESS_OP_MIN 1000

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static json_t *load_object(const void *body, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > LOGIC_BODY_MAX) {
        fail(err, errlen, HERALD_EINVAL, "body must be 1..%d bytes of JSON", LOGIC_BODY_MAX);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fail(err, errlen, HERALD_EINVAL, "invalid JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(err, errlen, HERALD_EINVAL, "body must be a JSON object");
        return NULL;
    }
    return root;
}

/* Optional string field: absent or null -> *out NULL; "" -> NULL too when empty_is_null. jansson
 * rejects "\u0000" while decoding (no JSON_ALLOW_NUL), so the copy is a plain C string. */
static int get_string(json_t *root, const char *name, size_t max, int empty_is_null, char **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    json_t *v = json_object_get(root, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(err, errlen, HERALD_EINVAL, "%s must be a string", name);
    size_t len = json_string_length(v);
    if (len > max)
        return fail(err, errlen, HERALD_EINVAL, "%s longer than %zu bytes", name, max);
    if (len > 0 || !empty_is_null)
        *out = xstrndup(json_string_value(v), len);
    return 0;
}

/* Optional integer field in [min, max]; *present tells whether it was given (not null). */
static int get_int(json_t *root, const char *name, json_int_t min, json_int_t max, json_int_t *out,
                   int *present, char *err, size_t errlen)
{
    *present = 0;
    json_t *v = json_object_get(root, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(err, errlen, HERALD_EINVAL, "%s must be an integer in [%lld, %lld]", name,
                    (long long)min, (long long)max);
    *out = json_integer_value(v);
    *present = 1;
    return 0;
}

static int get_accepts(json_t *root, logic_body_auth_t *a, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "accepts");
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > LOGIC_BODY_MAX_ACCEPTS)
        return fail(err, errlen, HERALD_EINVAL, "accepts must be an array of at most %d ops",
                    LOGIC_BODY_MAX_ACCEPTS);
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    a->accepts = xcalloc(n, sizeof(*a->accepts));
    for (size_t i = 0; i < n; i++) {
        json_t *op = json_array_get(v, i);
        if (!json_is_integer(op) || json_integer_value(op) < 0 ||
            json_integer_value(op) > INT32_MAX)
            return fail(err, errlen, HERALD_EINVAL, "accepts[%zu] must be an op number", i);
        a->accepts[a->naccepts++] = (int32_t)json_integer_value(op);
    }
    return 0;
}

/* A device name becomes a Redis hash field and travels through comet: a small safe alphabet. */
static int device_ok(const char *d)
{
    for (; *d; d++)
        if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') || (*d >= '0' && *d <= '9') ||
              *d == '.' || *d == '_' || *d == ':' || *d == '-'))
            return 0;
    return 1;
}

int logic_body_auth(const void *body, size_t len, logic_body_auth_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, err, errlen);
    if (root == NULL)
        return HERALD_EINVAL;
    json_int_t mid = 0, last_seq = 0;
    int rc = get_string(root, "token", LOGIC_BODY_MAX_TOKEN, 1, &out->token, err, errlen);
    if (rc == 0)
        rc = get_int(root, "mid", 0, INT64_MAX, &mid, &out->has_mid, err, errlen);
    if (rc == 0)
        rc = get_string(root, "key", LOGIC_PARAMS_MAX_KEY, 1, &out->key, err, errlen);
    if (rc == 0 && out->key != NULL && logic_params_key_ok(out->key, strlen(out->key)) != 0)
        rc = fail(err, errlen, HERALD_EINVAL, "key must be printable ASCII without spaces");
    if (rc == 0)
        rc = get_string(root, "room_id", LOGIC_PARAMS_MAX_ROOM, 0, &out->room_id, err, errlen);
    if (rc == 0)
        rc = get_string(root, "platform", LOGIC_BODY_MAX_PLATFORM, 0, &out->platform, err, errlen);
    if (rc == 0)
        rc = get_accepts(root, out, err, errlen);
    if (rc == 0)
        rc = get_int(root, "last_seq", 0, INT64_MAX, &last_seq, &out->has_last_seq, err, errlen);
    if (rc == 0)
        rc = get_string(root, "device", LOGIC_BODY_MAX_DEVICE, 1, &out->device, err, errlen);
    if (rc == 0 && out->device != NULL && !device_ok(out->device))
        rc = fail(err, errlen, HERALD_EINVAL, "device must be letters, digits and ._:-");
    json_decref(root);
    if (rc != 0) {
        logic_body_auth_deinit(out);
        return rc;
    }
    out->mid = mid;
    out->last_seq = (uint64_t)last_seq;
    return 0;
}

void logic_body_auth_deinit(logic_body_auth_t *a)
{
    free(a->token);
    free(a->key);
    free(a->room_id);
    free(a->platform);
    free(a->device);
    free(a->accepts);
    memset(a, 0, sizeof(*a));
}

int logic_body_upstream(const void *body, size_t len, int64_t from_mid, const char *conn_room,
                        logic_push_req_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, err, errlen);
    if (root == NULL)
        return HERALD_EINVAL;
    json_int_t op = 0, to_mid = 0;
    int has_op = 0, has_mid = 0;
    char *to_room = NULL;
    int rc = get_int(root, "op", BUSINESS_OP_MIN, INT32_MAX, &op, &has_op, err, errlen);
    if (rc == 0 && !has_op)
        rc = fail(err, errlen, HERALD_EINVAL, "op is required");
    if (rc == 0)
        rc = get_int(root, "to_mid", 0, INT64_MAX, &to_mid, &has_mid, err, errlen);
    if (rc == 0)
        rc = get_string(root, "to_room", LOGIC_PARAMS_MAX_ROOM, 1, &to_room, err, errlen);
    if (rc == 0 && has_mid == (to_room != NULL))
        rc = fail(err, errlen, HERALD_EINVAL, "exactly one of to_mid and to_room is required");
    json_t *msg = json_object_get(root, "msg");
    if (rc == 0 && msg == NULL)
        rc = fail(err, errlen, HERALD_EINVAL, "msg is required");
    if (rc == 0 && to_room != NULL && strcmp(to_room, conn_room ? conn_room : "") != 0)
        rc = fail(err, errlen, HERALD_EFORBIDDEN, "not in room %.64s", to_room);
    char *dumped = rc == 0 ? json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (rc == 0 && dumped == NULL)
        rc = fail(err, errlen, HERALD_EINVAL, "msg cannot be serialised");
    json_decref(root);
    if (rc != 0) {
        free(to_room);
        return rc;
    }
    out->operation = (int32_t)op;
    out->from_mid = from_mid;
    out->msg_len = strlen(dumped);
    out->msg = (uint8_t *)dumped;
    if (to_room != NULL) {
        out->kind = LOGIC_PUSH_ROOM;
        out->room = to_room;
    } else {
        out->kind = LOGIC_PUSH_MIDS;
        out->mids = xcalloc(1, sizeof(*out->mids));
        out->mids[0] = to_mid;
        out->nmids = 1;
    }
    return 0;
}
