/* libFuzzer target: the HTTP API's query validation (logic_params.c) on an arbitrary query.
 * Input: byte 0 picks the push kind; then the query "name=value&name=value..." (values as the
 * HTTP adapter hands them over: already decoded, no NUL) up to the first '\n'; the rest is the
 * pushed message. Every pair also goes through the single-value parsers. A request that
 * validates must hold what logic_params.h promises (bounded, printable, distinct mids). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logic_params.h"

#define FUZZ_MAX_PAIRS 4096

typedef struct fuzz_query_s {
    const char *names[FUZZ_MAX_PAIRS];
    const char *values[FUZZ_MAX_PAIRS];
    size_t n;
} fuzz_query_t;

static const char *query_get(void *ctx, const char *name)
{
    const fuzz_query_t *q = ctx;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->names[i], name) == 0)
            return q->values[i];
    return NULL;
}

static size_t query_get_all(void *ctx, const char *name, const char **out, size_t max)
{
    const fuzz_query_t *q = ctx;
    size_t total = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->names[i], name) != 0)
            continue;
        if (total < max)
            out[total] = q->values[i];
        total++;
    }
    return total;
}

/* Splits s (NUL-terminated, modified) at '&' and the first '=' of each pair. */
static void query_split(char *s, fuzz_query_t *q)
{
    q->n = 0;
    for (char *pair = s; pair != NULL && q->n < FUZZ_MAX_PAIRS;) {
        char *next = strchr(pair, '&');
        if (next != NULL)
            *next++ = '\0';
        char *eq = strchr(pair, '=');
        if (eq != NULL)
            *eq++ = '\0';
        q->names[q->n] = pair;
        q->values[q->n] = eq != NULL ? eq : "";
        q->n++;
        pair = next;
    }
}

static void check_single_values(const fuzz_query_t *q)
{
    char err[200], room[LOGIC_PARAMS_MAX_ROOM + 1];
    for (size_t i = 0; i < q->n; i++) {
        const char *v = q->values[i];
        long long ll;
        int64_t mid;
        if (logic_params_int(v, "value", -5, 1000000, &ll, err, sizeof(err)) == 0 &&
            (ll < -5 || ll > 1000000))
            abort();
        if (logic_params_mid(v, &mid) == 0 && mid < 0)
            abort();
        if (logic_params_key_mid(v, &mid) == 0 && mid < 0)
            abort();
        (void)logic_params_key_ok(v, strlen(v));
        if (logic_params_room_id(q->names[i], v, room, sizeof(room), err, sizeof(err)) == 0 &&
            (strlen(room) > LOGIC_PARAMS_MAX_ROOM || strstr(room, "://") == NULL))
            abort();
    }
}

static void check_request(const logic_push_req_t *r, logic_push_kind_t kind, size_t msg_len)
{
    if (r->kind != kind || r->operation < 0 || r->msg_len != msg_len)
        abort();
    switch (kind) {
    case LOGIC_PUSH_KEYS:
        if (r->nkeys == 0 || r->nkeys > LOGIC_PARAMS_MAX_TARGETS)
            abort();
        for (size_t i = 0; i < r->nkeys; i++)
            if (logic_params_key_ok(r->keys[i], strlen(r->keys[i])) != 0)
                abort();
        break;
    case LOGIC_PUSH_MIDS:
        if (r->nmids == 0 || r->nmids > LOGIC_PARAMS_MAX_TARGETS)
            abort();
        for (size_t i = 0; i < r->nmids; i++) {
            if (r->mids[i] < 0)
                abort();
            for (size_t j = 0; j < i; j++)
                if (r->mids[j] == r->mids[i])
                    abort();
        }
        break;
    case LOGIC_PUSH_ROOM:
        if (r->room == NULL || strlen(r->room) > LOGIC_PARAMS_MAX_ROOM)
            abort();
        break;
    case LOGIC_PUSH_ALL:
        if (r->speed < 0)
            abort();
        break;
    case LOGIC_PUSH_JOIN: /* a comet's room announcement: never parsed from a query */
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fuzz_query_t q;
    if (size < 1)
        return 0;
    logic_push_kind_t kind = (logic_push_kind_t)(data[0] % 4);
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    size_t qlen = nl != NULL ? (size_t)(nl - data - 1) : size - 1;
    const uint8_t *msg = nl != NULL ? nl + 1 : NULL;
    size_t msg_len = nl != NULL ? size - 1 - qlen - 1 : 0;

    char *s = malloc(qlen + 1);
    memcpy(s, data + 1, qlen);
    s[qlen] = '\0'; /* a NUL inside cuts the query short, as the HTTP adapter refuses it */
    query_split(s, &q);
    check_single_values(&q);

    logic_query_t lq = {query_get, query_get_all, &q};
    logic_push_req_t req;
    char err[200] = "";
    if (logic_params_push(&lq, kind, msg, msg_len, &req, err, sizeof(err)) == 0) {
        check_request(&req, kind, msg_len);
        logic_push_req_deinit(&req);
    } else if (strlen(err) == 0) {
        abort(); /* a refusal always says why */
    }
    free(s);
    return 0;
}
