/* logic_params.c - HTTP query validation. Strict on purpose: strtoll alone accepts " 12",
 * "+12" and "12abc"-with-endptr-ignored, and a business system that sends those has a bug that
 * it should hear about instead of pushing to the wrong user. */
#include "logic_params.h"

#include "buf.h"
#include "herald_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HERALD_EINVAL;
}

/* Decimal with optional leading '-', at most 19 digits, no other character. */
static int parse_ll(const char *s, long long *out)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    size_t n = strlen(p);
    if (n == 0 || n > 19)
        return HERALD_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return HERALD_EINVAL;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return HERALD_EINVAL;
    *out = v;
    return 0;
}

int logic_params_int(const char *s, const char *name, long long min, long long max, long long *out,
                     char *err, size_t errlen)
{
    if (s == NULL || s[0] == '\0')
        return fail(err, errlen, "%s is required", name);
    long long v;
    if (parse_ll(s, &v) != 0)
        return fail(err, errlen, "%s must be an integer", name);
    if (v < min || v > max)
        return fail(err, errlen, "%s must be between %lld and %lld", name, min, max);
    *out = v;
    return 0;
}

int logic_params_mid(const char *s, int64_t *mid)
{
    long long v;
    if (s == NULL || s[0] == '-' || parse_ll(s, &v) != 0)
        return HERALD_EINVAL;
    *mid = v;
    return 0;
}

int logic_params_key_mid(const char *key, int64_t *mid)
{
    const char *dash = strchr(key, '-');
    if (dash == NULL || dash == key || dash[1] == '\0' || dash - key > 19)
        return HERALD_EINVAL;
    char digits[20];
    memcpy(digits, key, (size_t)(dash - key));
    digits[dash - key] = '\0';
    return logic_params_mid(digits, mid);
}

static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int logic_params_key_ok(const char *key, size_t len)
{
    return len > 0 && len <= LOGIC_PARAMS_MAX_KEY && printable(key, len) ? 0 : HERALD_EINVAL;
}

int logic_params_room_id(const char *type, const char *room, char *out, size_t outlen, char *err,
                         size_t errlen)
{
    if (type == NULL || type[0] == '\0')
        return fail(err, errlen, "type is required");
    if (room == NULL || room[0] == '\0')
        return fail(err, errlen, "room is required");
    if (!printable(type, strlen(type)) || !printable(room, strlen(room)))
        return fail(err, errlen, "type and room must be printable ASCII without spaces");
    int n = snprintf(out, outlen, "%s://%s", type, room);
    if (n < 0 || (size_t)n >= outlen || (size_t)n > LOGIC_PARAMS_MAX_ROOM)
        return fail(err, errlen, "room id longer than %d bytes", LOGIC_PARAMS_MAX_ROOM);
    return 0;
}

/* Fetches every value of a repeatable parameter into a heap array (NULL when there are none). */
static const char **query_all(const logic_query_t *q, const char *name, size_t *n, char *err,
                              size_t errlen, int *rc)
{
    *rc = 0;
    *n = q->get_all(q->ctx, name, NULL, 0);
    if (*n == 0) {
        *rc = fail(err, errlen, "%s is required", name);
        return NULL;
    }
    if (*n > LOGIC_PARAMS_MAX_TARGETS) {
        *rc = fail(err, errlen, "too many %s (at most %d)", name, LOGIC_PARAMS_MAX_TARGETS);
        return NULL;
    }
    const char **v = xcalloc(*n, sizeof(*v));
    q->get_all(q->ctx, name, v, *n);
    return v;
}

static int parse_keys(const logic_query_t *q, logic_push_req_t *out, char *err, size_t errlen)
{
    int rc;
    size_t n;
    const char **v = query_all(q, "keys", &n, err, errlen, &rc);
    if (v == NULL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL || logic_params_key_ok(v[i], strlen(v[i])) != 0) {
            rc = fail(err, errlen, "bad key \"%.64s\"", v[i] ? v[i] : "");
            free(v);
            return rc;
        }
    }
    out->keys = xcalloc(n, sizeof(*out->keys));
    for (size_t i = 0; i < n; i++)
        out->keys[i] = xstrdup(v[i]);
    out->nkeys = n;
    free(v);
    return 0;
}

typedef struct mid_pos_s {
    int64_t mid;
    size_t pos;
} mid_pos_t;

static int mid_pos_cmp(const void *a, const void *b)
{
    const mid_pos_t *x = a, *y = b;
    if (x->mid != y->mid)
        return x->mid < y->mid ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Removes repeated mids keeping the first occurrence, in O(n log n) for large requests. */
static size_t dedupe_mids(int64_t *mids, size_t n)
{
    mid_pos_t *s = xcalloc(n, sizeof(*s));
    for (size_t i = 0; i < n; i++)
        s[i] = (mid_pos_t){mids[i], i};
    qsort(s, n, sizeof(*s), mid_pos_cmp);
    unsigned char *keep = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || s[i].mid != s[i - 1].mid)
            keep[s[i].pos] = 1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            mids[m++] = mids[i];
    free(keep);
    free(s);
    return m;
}

static int parse_mids(const logic_query_t *q, logic_push_req_t *out, char *err, size_t errlen)
{
    int rc;
    size_t n;
    const char **v = query_all(q, "mids", &n, err, errlen, &rc);
    if (v == NULL)
        return rc;
    int64_t *mids = xcalloc(n, sizeof(*mids));
    for (size_t i = 0; i < n; i++) {
        if (logic_params_mid(v[i], &mids[i]) != 0) {
            rc = fail(err, errlen, "bad mid \"%.32s\"", v[i] ? v[i] : "");
            free(mids);
            free(v);
            return rc;
        }
    }
    free(v);
    out->mids = mids;
    out->nmids = dedupe_mids(mids, n);
    return 0;
}

int logic_params_push(const logic_query_t *q, logic_push_kind_t kind, const void *msg,
                      size_t msg_len, logic_push_req_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    long long v;
    int rc =
        logic_params_int(q->get(q->ctx, "operation"), "operation", 0, INT32_MAX, &v, err, errlen);
    if (rc != 0)
        return rc;
    out->operation = (int32_t)v;
    switch (kind) {
    case LOGIC_PUSH_KEYS:
        rc = parse_keys(q, out, err, errlen);
        break;
    case LOGIC_PUSH_MIDS:
        rc = parse_mids(q, out, err, errlen);
        break;
    case LOGIC_PUSH_ROOM: {
        char room[LOGIC_PARAMS_MAX_ROOM + 1];
        rc = logic_params_room_id(q->get(q->ctx, "type"), q->get(q->ctx, "room"), room,
                                  sizeof(room), err, errlen);
        if (rc == 0)
            out->room = xstrdup(room);
        break;
    }
    case LOGIC_PUSH_ALL: {
        const char *speed = q->get(q->ctx, "speed");
        /* goim's speed is optional: absent or empty means no limit. */
        if (speed != NULL && speed[0] != '\0') {
            rc = logic_params_int(speed, "speed", 0, INT32_MAX, &v, err, errlen);
            if (rc == 0)
                out->speed = (int32_t)v;
        }
        /* goim's tag would narrow a broadcast to tagged connections; herald's connections carry
         * no tag, so a tagged broadcast is refused rather than sent to everyone. */
        const char *tag = q->get(q->ctx, "tag");
        if (rc == 0 && tag != NULL && tag[0] != '\0')
            rc = fail(err, errlen, "tag is not supported: push/all reaches every connection");
        break;
    }
    default:
        rc = fail(err, errlen, "unknown push kind");
    }
    if (rc != 0) {
        logic_push_req_deinit(out);
        return rc;
    }
    if (msg_len > 0) {
        out->msg = xmalloc(msg_len);
        memcpy(out->msg, msg, msg_len);
        out->msg_len = msg_len;
    }
    return 0;
}
