/* strmap.h - string-keyed hash table of borrowed items (open addressing, linear probing).
 *
 * The table stores pointers to items that carry their own NUL-terminated key, returned by the
 * `key` function given at init (a room's id, a connection's key). It never copies or frees
 * items: the caller owns them and must remove an item before freeing it or changing its key.
 * 12 bytes per slot (hash + pointer), grown at 3/4 load, so ~16-32 bytes per item: comet keeps
 * one entry per connection, so it is small on purpose (DESIGN.md §9). Keys are not copied:
 * where a key has no other home, the item is the string itself (key function = identity).
 *
 * The hash is seeded once per process with random bytes, so clients cannot choose room ids that
 * collide on purpose. Not thread-safe: callers lock when a table is shared.
 */
#ifndef HERALD_STRMAP_H
#define HERALD_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*strmap_key_fn)(const void *item);

typedef struct strmap_s {
    uint32_t *hashes; /* 0 = empty slot; stored hashes are never 0 */
    void **items;
    uint32_t cap; /* power of two, or 0 before the first insert */
    uint32_t count;
    strmap_key_fn key;
} strmap_t;

void strmap_init(strmap_t *m, strmap_key_fn key);
/* Frees the table's arrays (not the items). */
void strmap_deinit(strmap_t *m);

/* The item whose key is the len bytes at key (need not be NUL-terminated), or NULL. */
void *strmap_get(const strmap_t *m, const char *key, size_t len);

/* Inserts item; an item with the same key is replaced and returned, else NULL. Aborts on OOM. */
void *strmap_put(strmap_t *m, void *item);

/* Removes item if the table holds this very pointer under its key. Returns 1 if removed. */
int strmap_del(strmap_t *m, const void *item);

/* The table's seeded hash of len bytes, never 0: for other tables that hash bytes a client
 * chooses (comet_ips). Any thread. */
uint32_t strmap_hash(const void *key, size_t len);

/* Iteration: start with *pos = 0; returns the next item or NULL at the end. The table must not be
 * modified during an iteration. */
void *strmap_next(const strmap_t *m, uint32_t *pos);

#endif
