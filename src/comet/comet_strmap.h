/* comet_strmap.h - string-keyed hash table of borrowed items (open addressing, linear probing).
 *
 * The table stores pointers to items that carry their own NUL-terminated key, returned by the
 * `key` function given at init (a room's id, a connection's key). It never copies or frees
 * items: the caller owns them and must remove an item before freeing it or changing its key.
 * 12 bytes per slot (hash + pointer), grown at 3/4 load, so ~16-32 bytes per item: this is the
 * per-connection index of comet, kept small on purpose (DESIGN.md §9).
 *
 * The hash is seeded once per process with random bytes, so clients cannot choose room ids that
 * collide on purpose. Not thread-safe: callers lock when a table is shared.
 */
#ifndef COMET_STRMAP_H
#define COMET_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*comet_strmap_key_fn)(const void *item);

typedef struct comet_strmap_s {
    uint32_t *hashes; /* 0 = empty slot; stored hashes are never 0 */
    void **items;
    uint32_t cap; /* power of two, or 0 before the first insert */
    uint32_t count;
    comet_strmap_key_fn key;
} comet_strmap_t;

void comet_strmap_init(comet_strmap_t *m, comet_strmap_key_fn key);
/* Frees the table's arrays (not the items). */
void comet_strmap_deinit(comet_strmap_t *m);

/* The item whose key is the len bytes at key (need not be NUL-terminated), or NULL. */
void *comet_strmap_get(const comet_strmap_t *m, const char *key, size_t len);

/* Inserts item; an item with the same key is replaced and returned, else NULL. Aborts on OOM. */
void *comet_strmap_put(comet_strmap_t *m, void *item);

/* Removes item if the table holds this very pointer under its key. Returns 1 if removed. */
int comet_strmap_del(comet_strmap_t *m, const void *item);

/* Iteration: start with *pos = 0; returns the next item or NULL at the end. The table must not be
 * modified during an iteration. */
void *comet_strmap_next(const comet_strmap_t *m, uint32_t *pos);

#endif
