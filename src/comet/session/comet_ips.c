/* comet_ips.c - distinct client addresses: open addressing with linear probing over 32-bit
 * hashes, deletion by backward shift (no tombstones, so a long-lived comet's table never fills
 * with them). */
#include "comet_ips.h"

#include "buf.h"
#include "strmap.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int comet_ips_init(comet_ips_t *t)
{
    memset(t, 0, sizeof *t);
    return uv_mutex_init(&t->lock);
}

void comet_ips_deinit(comet_ips_t *t)
{
    free(t->hashes);
    free(t->counts);
    uv_mutex_destroy(&t->lock);
}

uint32_t comet_ips_hash(const struct sockaddr *sa)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa->sa_family == AF_INET)
        return strmap_hash((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr, 4);
    if (sa->sa_family != AF_INET6)
        return 0;
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0)
        return strmap_hash(a + 12, 4);
    return strmap_hash(a, 16);
}

/* The slot holding h, or the empty slot where it would go. cap > 0. */
static uint32_t slot_of(const comet_ips_t *t, uint32_t h)
{
    uint32_t mask = t->cap - 1, i = h & mask;
    while (t->hashes[i] != 0 && t->hashes[i] != h)
        i = (i + 1) & mask;
    return i;
}

static void grow(comet_ips_t *t)
{
    uint32_t old_cap = t->cap;
    uint32_t *old_hashes = t->hashes, *old_counts = t->counts;
    t->cap = old_cap ? old_cap * 2 : 64;
    t->hashes = xcalloc(t->cap, sizeof *t->hashes);
    t->counts = xcalloc(t->cap, sizeof *t->counts);
    for (uint32_t i = 0; i < old_cap; i++) {
        if (old_hashes[i] == 0)
            continue;
        uint32_t j = slot_of(t, old_hashes[i]);
        t->hashes[j] = old_hashes[i];
        t->counts[j] = old_counts[i];
    }
    free(old_hashes);
    free(old_counts);
}

void comet_ips_add(comet_ips_t *t, uint32_t h)
{
    uv_mutex_lock(&t->lock);
    if ((t->n + 1) * 2 > t->cap)
        grow(t);
    uint32_t i = slot_of(t, h);
    if (t->hashes[i] == 0) { /* a free slot's count is stale (removal moves, never clears) */
        t->hashes[i] = h;
        t->counts[i] = 0;
        t->n++;
    }
    t->counts[i]++;
    uv_mutex_unlock(&t->lock);
}

void comet_ips_remove(comet_ips_t *t, uint32_t h)
{
    uv_mutex_lock(&t->lock);
    uint32_t mask = t->cap - 1;
    uint32_t i = t->cap ? slot_of(t, h) : 0;
    if (t->cap == 0 || t->hashes[i] != h || --t->counts[i] > 0) {
        uv_mutex_unlock(&t->lock);
        return;
    }
    /* Backward shift: move up every later entry of the run that may sit in the freed slot. */
    t->n--;
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        t->hashes[i] = 0;
        if (t->hashes[j] == 0)
            break;
        uint32_t home = t->hashes[j] & mask;
        /* j's entry may move to i when i lies cyclically in [home, j). */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->hashes[i] = t->hashes[j];
            t->counts[i] = t->counts[j];
            i = j;
        }
    }
    uv_mutex_unlock(&t->lock);
}

size_t comet_ips_count(comet_ips_t *t)
{
    uv_mutex_lock(&t->lock);
    size_t n = t->n;
    uv_mutex_unlock(&t->lock);
    return n;
}
