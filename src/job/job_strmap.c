/* job_strmap.c - see job_strmap.h. The table doubles at 3/4 load and never shrinks: a map lives
 * as long as its comet and its peak is the comet's room count. */
#include "job_strmap.h"

#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct job_strmap_slot_s {
    char *key; /* NULL: empty */
    uint64_t hash;
    void *value;
} job_strmap_slot_t;

struct job_strmap_s {
    job_strmap_slot_t *slots;
    size_t cap; /* power of two */
    size_t count;
};

#define JOB_STRMAP_MIN_CAP 16

static uint64_t str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

job_strmap_t *job_strmap_new(void)
{
    job_strmap_t *m = xcalloc(1, sizeof(*m));
    m->cap = JOB_STRMAP_MIN_CAP;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    return m;
}

void job_strmap_free(job_strmap_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t slot_find(const job_strmap_t *m, const char *key, uint64_t h)
{
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slots[i].key != NULL && (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *job_strmap_get(const job_strmap_t *m, const char *key)
{
    size_t i = slot_find(m, key, str_hash(key));
    return m->slots[i].key ? m->slots[i].value : NULL;
}

static void map_grow(job_strmap_t *m)
{
    job_strmap_slot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->cap *= 2;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key == NULL)
            continue;
        size_t j = (size_t)old[i].hash & (m->cap - 1);
        while (m->slots[j].key != NULL)
            j = (j + 1) & (m->cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

const char *job_strmap_put(job_strmap_t *m, const char *key, void *value)
{
    uint64_t h = str_hash(key);
    size_t i = slot_find(m, key, h);
    if (m->slots[i].key == NULL) {
        if ((m->count + 1) * 4 > m->cap * 3) {
            map_grow(m);
            i = slot_find(m, key, h);
        }
        m->slots[i].key = xstrdup(key);
        m->slots[i].hash = h;
        m->count++;
    }
    m->slots[i].value = value;
    return m->slots[i].key;
}

void *job_strmap_del(job_strmap_t *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = slot_find(m, key, str_hash(key));
    if (m->slots[i].key == NULL)
        return NULL;
    void *value = m->slots[i].value;
    free(m->slots[i].key);
    m->count--;
    /* backward shift: no tombstones, so lookups stay short after many deletions */
    for (size_t j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t k = (size_t)m->slots[j].hash & mask;
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    memset(&m->slots[i], 0, sizeof(m->slots[i]));
    return value;
}

size_t job_strmap_count(const job_strmap_t *m)
{
    return m->count;
}
