/* strmap.c - see strmap.h. */
#include "strmap.h"

#include "buf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uint64_t strmap_seed;
static pthread_once_t strmap_seed_once = PTHREAD_ONCE_INIT;

static void strmap_seed_init(void)
{
    uint64_t seed = 0;
    /* Without randomness the table still works; only the flooding protection is weaker. */
    if (uv_random(NULL, NULL, &seed, sizeof seed, 0, NULL) != 0)
        seed = uv_hrtime();
    strmap_seed = seed | 1;
}

/* FNV-1a over the bytes, seeded, then a murmur3 finaliser so the low bits (the slot index) depend
 * on every input bit. */
uint32_t strmap_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    pthread_once(&strmap_seed_once, strmap_seed_init);
    uint64_t h = 0xcbf29ce484222325ull ^ strmap_seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    uint32_t r = (uint32_t)h;
    return r ? r : 1;
}

static int strmap_key_eq(const char *item_key, const char *key, size_t len)
{
    return strncmp(item_key, key, len) == 0 && item_key[len] == '\0';
}

void strmap_init(strmap_t *m, strmap_key_fn key)
{
    pthread_once(&strmap_seed_once, strmap_seed_init);
    memset(m, 0, sizeof *m);
    m->key = key;
}

void strmap_deinit(strmap_t *m)
{
    free(m->hashes);
    free(m->items);
    m->hashes = NULL;
    m->items = NULL;
    m->cap = m->count = 0;
}

void *strmap_get(const strmap_t *m, const char *key, size_t len)
{
    if (m->count == 0)
        return NULL;
    uint32_t h = strmap_hash(key, len);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        if (m->hashes[i] == 0)
            return NULL;
        if (m->hashes[i] == h && strmap_key_eq(m->key(m->items[i]), key, len))
            return m->items[i];
    }
}

/* Places (h, item) into the first free slot of its probe sequence; the key is known absent. */
static void strmap_place(strmap_t *m, uint32_t h, void *item)
{
    uint32_t mask = m->cap - 1;
    uint32_t i = h & mask;
    while (m->hashes[i] != 0)
        i = (i + 1) & mask;
    m->hashes[i] = h;
    m->items[i] = item;
}

static void strmap_grow(strmap_t *m)
{
    uint32_t old_cap = m->cap;
    uint32_t *old_hashes = m->hashes;
    void **old_items = m->items;
    m->cap = old_cap ? old_cap * 2 : 8;
    m->hashes = xcalloc(m->cap, sizeof *m->hashes);
    m->items = xmalloc((size_t)m->cap * sizeof *m->items);
    for (uint32_t i = 0; i < old_cap; i++)
        if (old_hashes[i] != 0)
            strmap_place(m, old_hashes[i], old_items[i]);
    free(old_hashes);
    free(old_items);
}

void *strmap_put(strmap_t *m, void *item)
{
    const char *key = m->key(item);
    size_t len = strlen(key);
    uint32_t h = strmap_hash(key, len);
    if (m->count > 0) {
        uint32_t mask = m->cap - 1;
        for (uint32_t i = h & mask; m->hashes[i] != 0; i = (i + 1) & mask) {
            if (m->hashes[i] == h && strmap_key_eq(m->key(m->items[i]), key, len)) {
                void *old = m->items[i];
                m->items[i] = item;
                return old;
            }
        }
    }
    if ((uint64_t)(m->count + 1) * 4 > (uint64_t)m->cap * 3)
        strmap_grow(m);
    strmap_place(m, h, item);
    m->count++;
    return NULL;
}

int strmap_del(strmap_t *m, const void *item)
{
    if (m->count == 0)
        return 0;
    const char *key = m->key(item);
    uint32_t h = strmap_hash(key, strlen(key));
    uint32_t mask = m->cap - 1;
    uint32_t i = h & mask;
    for (;; i = (i + 1) & mask) {
        if (m->hashes[i] == 0)
            return 0;
        if (m->items[i] == item)
            break;
    }
    /* Backward-shift deletion: pull later members of the cluster into the hole when their home
     * slot does not lie cyclically in (hole, j], so no tombstones are needed. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; m->hashes[j] != 0; j = (j + 1) & mask) {
        uint32_t home = m->hashes[j] & mask;
        int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_range) {
            m->hashes[hole] = m->hashes[j];
            m->items[hole] = m->items[j];
            hole = j;
        }
    }
    m->hashes[hole] = 0;
    m->items[hole] = NULL;
    m->count--;
    return 1;
}

void *strmap_next(const strmap_t *m, uint32_t *pos)
{
    while (*pos < m->cap) {
        uint32_t i = (*pos)++;
        if (m->hashes[i] != 0)
            return m->items[i];
    }
    return NULL;
}
