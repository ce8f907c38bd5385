/* mid_top.h - the k smallest distinct user ids (mids) of a stream, each with a count, in bounded
 * memory: room member lists (docs/im.md "Room members").
 *
 * Entries (mid, count) are added in any order, with repeats (one per connection, or one per
 * partial result to merge); mid_top_finish leaves the k smallest distinct mids, ascending, each
 * with the sum of its counts, and says whether any larger mid was seen. The counts of the kept
 * mids are exact: a mid is only ever dropped once k smaller distinct mids are known, so it can
 * never be among the k smallest. Merging finished tops with mid_top_add and mid_top_more gives
 * the same result as one top over the union, which is how comet merges its workers and logic
 * merges its comets.
 *
 * Memory: 2k entries of 16 bytes, whatever the stream's length. Cost: O(log k) per entry,
 * amortised (the buffer is sorted and cut back to k entries each time it fills). The caller's
 * storage; one thread at a time.
 */
#ifndef HERALD_MID_TOP_H
#define HERALD_MID_TOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct mid_top_entry_s {
    int64_t mid;
    int64_t count;
} mid_top_entry_t;

typedef struct mid_top_s {
    mid_top_entry_t *v; /* heap, 2k entries; after mid_top_finish v[0..n) is the result */
    size_t n;
    size_t k;
    int64_t bound; /* mids above it are dropped: the k-th smallest kept at the last cut */
    int more;      /* some distinct mid beyond the k smallest was seen */
} mid_top_t;

/* k >= 1: the number of mids kept. Aborts on OOM. */
void mid_top_init(mid_top_t *t, size_t k);
void mid_top_deinit(mid_top_t *t);

/* Adds count to mid's entry. */
void mid_top_add(mid_top_t *t, int64_t mid, int64_t count);

/* Records that the source of a merged result had more mids than it gave. */
void mid_top_more(mid_top_t *t);

/* Sorts and cuts: afterwards t->v[0..t->n) are the smallest distinct mids, ascending, n <= k, and
 * t->more is set when other mids were seen. Returns t->n. Adding more entries afterwards is
 * allowed (finish again to read them). */
size_t mid_top_finish(mid_top_t *t);

#endif
