/* comet_keys.c - see comet_keys.h. */
#include "comet_keys.h"

#include <string.h>

static const char *keys_key(const void *item)
{
    return ((const comet_key_t *)item)->key;
}

int comet_keys_init(comet_keys_t *k)
{
    strmap_init(&k->map, keys_key);
    k->next_seq = 0;
    for (int i = 0; i < COMET_KEYS_MISS_BUCKETS; i++)
        atomic_init(&k->misses[i], 0);
    return uv_rwlock_init(&k->lock);
}

void comet_keys_deinit(comet_keys_t *k)
{
    strmap_deinit(&k->map);
    uv_rwlock_destroy(&k->lock);
}

int comet_keys_register(comet_keys_t *k, comet_key_t *e)
{
    uv_rwlock_wrlock(&k->lock);
    e->reg_seq = ++k->next_seq;
    comet_key_t *old = strmap_put(&k->map, e);
    int worker = old && old != e ? old->worker : -1;
    uv_rwlock_wrunlock(&k->lock);
    return worker;
}

void comet_keys_unregister(comet_keys_t *k, comet_key_t *e)
{
    uv_rwlock_wrlock(&k->lock);
    strmap_del(&k->map, e);
    uv_rwlock_wrunlock(&k->lock);
}

void comet_keys_route(comet_keys_t *k, char *const *keys, size_t n, int *out)
{
    comet_keys_route_push(k, keys, NULL, n, out);
}

/* FNV-1a: any spread will do, the buckets only cut down false alarms. */
static unsigned miss_bucket(const char *key)
{
    uint32_t h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (uint8_t)*key) * 16777619u;
    return h % COMET_KEYS_MISS_BUCKETS;
}

void comet_keys_route_push(comet_keys_t *k, char *const *keys, const uint64_t *seqs, size_t n,
                           int *out)
{
    uv_rwlock_rdlock(&k->lock);
    for (size_t i = 0; i < n; i++) {
        const comet_key_t *e = strmap_get(&k->map, keys[i], strlen(keys[i]));
        out[i] = e ? e->worker : -1;
        if (e == NULL && seqs != NULL && seqs[i] != 0)
            atomic_fetch_add(&k->misses[miss_bucket(keys[i])], 1);
    }
    uv_rwlock_rdunlock(&k->lock);
}

void comet_keys_misses(comet_keys_t *k, uint32_t *snap)
{
    for (int i = 0; i < COMET_KEYS_MISS_BUCKETS; i++)
        snap[i] = atomic_load(&k->misses[i]);
}

int comet_keys_missed(comet_keys_t *k, const char *key, const uint32_t *snap)
{
    unsigned b = miss_bucket(key);
    return atomic_load(&k->misses[b]) != snap[b];
}
