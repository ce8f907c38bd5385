/* comet_accepts.c - see comet_accepts.h. */
#include "comet_accepts.h"

#include "buf.h"
#include "herald_err.h"

#include <stdlib.h>

void comet_accepts_init(comet_accepts_t *a)
{
    a->bits = 0;
    a->ext = NULL;
}

void comet_accepts_deinit(comet_accepts_t *a)
{
    free(a->ext);
    a->ext = NULL;
    a->bits = 0;
}

static int accepts_find(const comet_accepts_t *a, int32_t op)
{
    if (a->ext == NULL)
        return -1;
    for (int32_t i = 1; i <= a->ext[0]; i++)
        if (a->ext[i] == op)
            return i;
    return -1;
}

int comet_accepts_has(const comet_accepts_t *a, int32_t op)
{
    if (op < 0)
        return 0;
    if (op < 64)
        return (a->bits >> op) & 1;
    return accepts_find(a, op) > 0;
}

int comet_accepts_add(comet_accepts_t *a, int32_t op)
{
    if (op < 0)
        return 0;
    if (op < 64) {
        a->bits |= (uint64_t)1 << op;
        return 0;
    }
    if (accepts_find(a, op) > 0)
        return 0;
    int32_t n = a->ext ? a->ext[0] : 0;
    if (n >= COMET_ACCEPTS_MAX)
        return HERALD_EOVERFLOW;
    /* Sized exactly: most connections accept one or two business ops for their whole life. */
    a->ext = xrealloc(a->ext, (size_t)(n + 2) * sizeof *a->ext);
    a->ext[0] = n + 1;
    a->ext[n + 1] = op;
    return 0;
}

void comet_accepts_remove(comet_accepts_t *a, int32_t op)
{
    if (op < 0)
        return;
    if (op < 64) {
        a->bits &= ~((uint64_t)1 << op);
        return;
    }
    int i = accepts_find(a, op);
    if (i < 0)
        return;
    int32_t n = a->ext[0];
    a->ext[i] = a->ext[n];
    if (n == 1) {
        free(a->ext);
        a->ext = NULL;
        return;
    }
    a->ext[0] = n - 1;
    a->ext = xrealloc(a->ext, (size_t)n * sizeof *a->ext);
}

int comet_accepts_parse(const char *s, size_t len, int32_t *out, size_t max)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        if (i < len && s[i] == ',') {
            i++;
            continue;
        }
        if (i == len)
            break;
        int neg = 0;
        if (s[i] == '-' || s[i] == '+') {
            neg = s[i] == '-';
            i++;
        }
        if (i == len || s[i] < '0' || s[i] > '9')
            return HERALD_EINVAL;
        int64_t v = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v > INT32_MAX)
                return HERALD_EINVAL;
            i++;
        }
        while (i < len && s[i] == ' ')
            i++;
        if (i < len && s[i] != ',')
            return HERALD_EINVAL;
        if (n == max)
            return HERALD_EINVAL;
        out[n++] = (int32_t)(neg ? -v : v);
    }
    return (int)n;
}
