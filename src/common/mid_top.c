/* mid_top.c - see mid_top.h. */
#include "mid_top.h"

#include "buf.h"

#include <stdlib.h>

void mid_top_init(mid_top_t *t, size_t k)
{
    t->k = k;
    t->v = xmalloc(2 * k * sizeof(*t->v));
    t->n = 0;
    t->bound = INT64_MAX;
    t->more = 0;
}

void mid_top_deinit(mid_top_t *t)
{
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

static int entry_cmp(const void *a, const void *b)
{
    int64_t x = ((const mid_top_entry_t *)a)->mid, y = ((const mid_top_entry_t *)b)->mid;
    return (x > y) - (x < y);
}

size_t mid_top_finish(mid_top_t *t)
{
    qsort(t->v, t->n, sizeof(*t->v), entry_cmp);
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (out > 0 && t->v[out - 1].mid == t->v[i].mid) {
            t->v[out - 1].count += t->v[i].count;
            continue;
        }
        if (out == t->k) {
            /* A (k+1)-th distinct mid: everything from here on is larger than the k kept. */
            t->more = 1;
            break;
        }
        t->v[out++] = t->v[i];
    }
    t->n = out;
    if (out == t->k)
        t->bound = t->v[out - 1].mid;
    return out;
}

void mid_top_add(mid_top_t *t, int64_t mid, int64_t count)
{
    if (mid > t->bound) {
        t->more = 1; /* k distinct mids no larger than bound are known already */
        return;
    }
    if (t->n == 2 * t->k)
        mid_top_finish(t); /* leaves at most k entries: room for k more */
    t->v[t->n++] = (mid_top_entry_t){mid, count};
}

void mid_top_more(mid_top_t *t)
{
    t->more = 1;
}
