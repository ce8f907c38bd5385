/* logic_ring.h - consistent hashing of user ids (mids) over the routers.
 *
 * Each node (router) is placed on a 64-bit ring at `vnodes` points derived from its name (its
 * address), so a mid's owner depends only on the set of names, never on their order or count:
 * removing one router moves only the mids it owned, and every logic with the same router list
 * agrees on the owner of every mid. Pure data structure, no I/O, any thread (read-only after init).
 */
#ifndef LOGIC_RING_H
#define LOGIC_RING_H

#include <stddef.h>
#include <stdint.h>

#define LOGIC_RING_VNODES 160

typedef struct logic_ring_point_s {
    uint64_t hash;
    uint32_t node; /* index into the names given to logic_ring_init */
} logic_ring_point_t;

/* Caller's storage; the points array is owned by the ring and freed by logic_ring_deinit. */
typedef struct logic_ring_s {
    logic_ring_point_t *points; /* sorted by hash */
    size_t npoints;
    size_t nnodes;
} logic_ring_t;

/* Builds a ring of n nodes (1 <= n <= 65536) named names[0..n-1] (borrowed), vnodes points each.
 * Returns 0, or HERALD_EINVAL when n or vnodes is 0 or too large, or two names are equal. */
int logic_ring_init(logic_ring_t *r, const char *const *names, size_t n, size_t vnodes);
void logic_ring_deinit(logic_ring_t *r);

/* Index of the node that owns mid. The ring must have been initialised successfully. */
size_t logic_ring_node(const logic_ring_t *r, int64_t mid);

/* The 64-bit hashes the ring uses (exposed for tests): a mixed hash of a mid, and of a string. */
uint64_t logic_ring_hash_mid(int64_t mid);
uint64_t logic_ring_hash_str(const char *s, size_t len);

#endif
