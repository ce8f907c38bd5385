/* libFuzzer target: the bodies of ops 14 / 16 (subscribe / unsubscribe ops) as comet's channel
 * applies them to a connection's accept set (comet_accepts_parse, _add, _remove; the op handler
 * on_sub is static), and the op 12 body (change room) through proto_room_id_valid.
 * Input: packet bodies separated by '\n'; a body's first byte picks op 14, 16 or 12, the rest
 * is the body. The accept set is checked against a plain model after every body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comet_accepts.h"
#include "herald_err.h"
#include "proto.h"

#define FUZZ_MODEL_MAX 256 /* probe entries: every op ever named stays tracked */

/* The set as the header describes it, kept the plainest way: every op in it, in one array. */
typedef struct fuzz_model_s {
    int32_t ops[64 + COMET_ACCEPTS_MAX];
    size_t n;
    int32_t seen[FUZZ_MODEL_MAX]; /* ops to probe with _has */
    size_t nseen;
} fuzz_model_t;

static int32_t *model_slot(fuzz_model_t *m, int32_t op)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->ops[i] == op)
            return &m->ops[i];
    return NULL;
}

static int model_has(fuzz_model_t *m, int32_t op)
{
    return model_slot(m, op) != NULL;
}

static void model_remember(fuzz_model_t *m, int32_t op)
{
    if (m->nseen < FUZZ_MODEL_MAX)
        m->seen[m->nseen++] = op;
}

/* comet_accepts_add's contract: negative ops are ignored, ops below 64 always fit, at most
 * COMET_ACCEPTS_MAX ops of 64 and above. */
static int model_add(fuzz_model_t *m, int32_t op)
{
    if (op < 0 || model_has(m, op))
        return 0;
    size_t big = 0;
    for (size_t i = 0; i < m->n; i++)
        big += m->ops[i] >= 64;
    if (op >= 64 && big == COMET_ACCEPTS_MAX)
        return HERALD_EOVERFLOW;
    m->ops[m->n++] = op;
    return 0;
}

static void model_remove(fuzz_model_t *m, int32_t op)
{
    int32_t *slot = model_slot(m, op);
    if (slot != NULL)
        *slot = m->ops[--m->n];
}

static void apply_sub(comet_accepts_t *a, fuzz_model_t *m, int unsub, const char *body, size_t len)
{
    int32_t ops[COMET_ACCEPTS_MAX];
    int n = comet_accepts_parse(body, len, ops, COMET_ACCEPTS_MAX);
    if (n != HERALD_EINVAL && (n < 0 || n > COMET_ACCEPTS_MAX))
        abort();
    for (int i = 0; i < n; i++) {
        model_remember(m, ops[i]);
        if (unsub) {
            comet_accepts_remove(a, ops[i]);
            model_remove(m, ops[i]);
        } else if (comet_accepts_add(a, ops[i]) != model_add(m, ops[i])) {
            abort();
        }
    }
    for (size_t i = 0; i < m->nseen; i++)
        if (comet_accepts_has(a, m->seen[i]) != model_has(m, m->seen[i]))
            abort();
    for (int32_t op = -1; op < 66; op++)
        if (comet_accepts_has(a, op) != model_has(m, op))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    comet_accepts_t a;
    fuzz_model_t m = {0};
    comet_accepts_init(&a);
    while (size > 0) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl != NULL ? (size_t)(nl - data) : size;
        if (len > 0) {
            /* Exact-size copy, so ASan sees a read past the body. */
            char *body = malloc(len - 1 ? len - 1 : 1);
            memcpy(body, data + 1, len - 1);
            switch (data[0] % 3) {
            case 0:
                apply_sub(&a, &m, 0, body, len - 1);
                break;
            case 1:
                apply_sub(&a, &m, 1, body, len - 1);
                break;
            default:
                if (proto_room_id_valid(body, len - 1) &&
                    (len - 1 > PROTO_ROOM_ID_MAX || memchr(body, '\0', len - 1) != NULL))
                    abort();
            }
            free(body);
        }
        data += len + (nl != NULL);
        size -= len + (nl != NULL);
    }
    comet_accepts_deinit(&a);
    return 0;
}
