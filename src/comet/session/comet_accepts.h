/* comet_accepts.h - the set of ops a connection accepts for pushes by key, user and broadcast
 * (goim's rule: room pushes ignore it).
 *
 * 16 bytes inline: a bitmap for ops 0..63 and, only when business ops (>= 64) are accepted, a
 * heap array sized exactly. A connection may accept at most COMET_ACCEPTS_MAX ops of 64 and
 * above; more are ignored (the set is client-controlled through op 14).
 */
#ifndef COMET_ACCEPTS_H
#define COMET_ACCEPTS_H

#include <stddef.h>
#include <stdint.h>

#define COMET_ACCEPTS_MAX 64

typedef struct comet_accepts_s {
    uint64_t bits; /* op o < 64 accepted iff bit o set */
    int32_t *ext;  /* NULL, or ext[0] = n followed by n ops >= 64, unsorted and unique */
} comet_accepts_t;

/* Empty set. */
void comet_accepts_init(comet_accepts_t *a);
void comet_accepts_deinit(comet_accepts_t *a);

/* Nonzero when op is in the set. */
int comet_accepts_has(const comet_accepts_t *a, int32_t op);

/* Adds op (negative ops are ignored). Returns 0, or HERALD_EOVERFLOW when the set already holds
 * COMET_ACCEPTS_MAX ops of 64 and above (op not added). */
int comet_accepts_add(comet_accepts_t *a, int32_t op);
void comet_accepts_remove(comet_accepts_t *a, int32_t op);

/* Parses a comma-separated list of decimal ops (spaces allowed around items; empty items are
 * skipped) as sent in op 14/16 bodies. Fills at most max ops into out and returns their count,
 * or HERALD_EINVAL when an item is not a number in int32 range or there are more than max. */
int comet_accepts_parse(const char *s, size_t len, int32_t *out, size_t max);

#endif
