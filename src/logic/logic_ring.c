/* logic_ring.c - consistent hash ring (Karger et al.; ketama-style virtual nodes).
 *
 * Hashes: mids go through the splitmix64 finalizer, which is a bijection with full avalanche, so
 * sequential ids spread evenly; names go through FNV-1a 64 and then the same finalizer, because
 * FNV alone leaves the high bits of short, similar strings ("host:3129#1") poorly mixed. */
#include "logic_ring.h"

#include "buf.h"
#include "herald_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t logic_ring_hash_mid(int64_t mid)
{
    return mix64((uint64_t)mid + 0x9e3779b97f4a7c15ULL);
}

uint64_t logic_ring_hash_str(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

static int point_cmp(const void *a, const void *b)
{
    const logic_ring_point_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    /* Equal hashes (astronomically rare) still need one order that every logic agrees on. */
    return x->node < y->node ? -1 : x->node > y->node;
}

int logic_ring_init(logic_ring_t *r, const char *const *names, size_t n, size_t vnodes)
{
    memset(r, 0, sizeof(*r));
    if (n == 0 || n > 65536 || vnodes == 0 || vnodes > 4096)
        return HERALD_EINVAL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) == 0)
                return HERALD_EINVAL;
    r->points = xcalloc(n * vnodes, sizeof(*r->points));
    for (size_t i = 0; i < n; i++) {
        for (size_t v = 0; v < vnodes; v++) {
            char label[512];
            int len = snprintf(label, sizeof(label), "%s#%zu", names[i], v);
            if (len < 0 || (size_t)len >= sizeof(label)) {
                logic_ring_deinit(r);
                return HERALD_EINVAL;
            }
            logic_ring_point_t *p = &r->points[r->npoints++];
            p->hash = logic_ring_hash_str(label, (size_t)len);
            p->node = (uint32_t)i;
        }
    }
    qsort(r->points, r->npoints, sizeof(*r->points), point_cmp);
    r->nnodes = n;
    return 0;
}

void logic_ring_deinit(logic_ring_t *r)
{
    free(r->points);
    memset(r, 0, sizeof(*r));
}

size_t logic_ring_node(const logic_ring_t *r, int64_t mid)
{
    uint64_t h = logic_ring_hash_mid(mid);
    /* First point with hash >= h; past the last point the ring wraps to the first. */
    size_t lo = 0, hi = r->npoints;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (r->points[m].hash < h)
            lo = m + 1;
        else
            hi = m;
    }
    return r->points[lo == r->npoints ? 0 : lo].node;
}
