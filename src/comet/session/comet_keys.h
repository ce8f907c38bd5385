/* comet_keys.h - the comet-wide index key -> worker, shared by all threads under a rwlock.
 *
 * Workers register their authenticated connections here (and in their own key table) through the
 * comet_key_t each connection embeds; the main thread only routes: it reads which worker holds a
 * key. An entry is removed (by its worker) before its memory is freed, so the pointers in the
 * table are valid while the lock is held; the key string and the worker of a registered entry
 * never change.
 */
#ifndef COMET_KEYS_H
#define COMET_KEYS_H

#include "strmap.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Buckets of the miss counters (by key hash): see comet_keys_route_push. */
#define COMET_KEYS_MISS_BUCKETS 32

/* A registered key, embedded in its connection. */
typedef struct comet_key_s {
    char *key;        /* owned by the connection; NULL before auth */
    uint32_t reg_seq; /* registration number (comet_keys_register) */
    int32_t worker;   /* index of the worker holding the connection */
} comet_key_t;

typedef struct comet_keys_s {
    uv_rwlock_t lock;
    strmap_t map; /* key -> comet_key_t (borrowed) */
    uint32_t next_seq;
    atomic_uint misses[COMET_KEYS_MISS_BUCKETS]; /* user pushes to keys not (yet) here */
} comet_keys_t;

/* Returns 0 or UV_E*. */
int comet_keys_init(comet_keys_t *k);
void comet_keys_deinit(comet_keys_t *k);

/* Worker thread: registers e (key and worker set) under a new registration number stored in
 * e->reg_seq (increasing, wrapping: compare with comet_keys_before). Returns the worker of the
 * entry it replaces under the same key, or -1. */
int comet_keys_register(comet_keys_t *k, comet_key_t *e);

/* Worker thread: removes e if the table still maps its key to e. */
void comet_keys_unregister(comet_keys_t *k, comet_key_t *e);

/* Any thread: worker index holding each of keys[0..n) (-1 when absent) into out, under one read
 * lock. */
void comet_keys_route(comet_keys_t *k, char *const *keys, size_t n, int *out);

/* comet_keys_route, and under the same read lock counts each key that is absent and has a user
 * sequence number (seqs[i] != 0) in its miss bucket. A connection whose Connect is in flight may
 * be sent a user push before it registers: comparing its bucket with a snapshot taken before the
 * Connect (comet_keys_misses, then comet_keys_missed after registering) tells whether that can
 * have happened. Counting under the lock makes the answer exact: a push routed after the
 * registration finds the key, one routed before it has counted by then. */
void comet_keys_route_push(comet_keys_t *k, char *const *keys, const uint64_t *seqs, size_t n,
                           int *out);

/* Any thread: copies the miss counters into snap[COMET_KEYS_MISS_BUCKETS]. */
void comet_keys_misses(comet_keys_t *k, uint32_t *snap);

/* Any thread: nonzero when key's miss bucket moved since snap (some key of that bucket, maybe
 * this one, was sent a user push while absent). */
int comet_keys_missed(comet_keys_t *k, const char *key, const uint32_t *snap);

/* Nonzero when registration a happened before b. */
static inline int comet_keys_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

#endif
