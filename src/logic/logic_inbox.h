/* logic_inbox.h - the users' offline inboxes in Redis (DESIGN.md §2 "Offline", docs/delivery.md).
 *
 * Keys (redis_keys.h):
 *   seq:{<mid>}    the user's last sequence number; never expires, never goes back
 *   inbox:{<mid>}  sorted set scored by sequence number; member "<seq>:<created_ms>:<op>:<body>"
 *                (text header, raw body; the seq in the member keeps equal messages apart).
 *                At most inbox.max_count entries and none older than inbox.max_age; the whole
 *                set expires max_age after the last store
 *   ack:{<mid>}    hash: position name -> highest seq the client acknowledged (op 18)
 *   sent:{<mid>}   hash: position name -> highest seq written to its last connection (comet's
 *                Disconnect), the position of clients that never ack
 *   inboxfrom:{<mid>}:<from>  sorted set of the seqs of chat sender from's entries in
 *                inbox:{<mid>}:
 *                a sender holds at most inbox.sender_share of them, its own oldest go first
 * A store takes the next number and adds the entry in one Lua script, so every sequence number
 * has its entry and a reader never sees a number without its message. Reads trim by age first,
 * so they never return an entry older than max_age.
 *
 * Loop thread only. Every function returns HERALD_EUNAVAIL without calling its callback when
 * Redis is not connected (or logic is stopping).
 */
#ifndef LOGIC_INBOX_H
#define LOGIC_INBOX_H

#include "herald.pb-c.h"
#include "logic_ctx.h"

#include <stddef.h>
#include <stdint.h>

/* seqs is parallel to the mids of the store (borrowed, valid during the call); status 0, or
 * HERALD_EUNAVAIL when Redis failed (some users may have been stored: a failed store is not
 * undone, see docs/delivery.md). */
typedef void (*logic_inbox_store_cb)(int status, const uint64_t *seqs, void *arg);

/* Stores the packet (op, body) in the inbox of each of mids[0..n) (n >= 1) under each user's
 * next sequence number. from is the chat sender (an upstream message's from_mid), 0 for a
 * business push: a sender's entries in one inbox are bounded by inbox.sender_share (its own
 * oldest go), so one sender never pushes out another's. mids and body are copied before the
 * call returns. Returns 0 and calls cb exactly once, or HERALD_EUNAVAIL. */
int logic_inbox_store(const logic_ctx_t *ctx, const int64_t *mids, size_t n, int64_t from,
                      int32_t op, const uint8_t *body, size_t len, logic_inbox_store_cb cb,
                      void *arg);

/* Where a read starts. */
typedef struct logic_inbox_from_s {
    int has_after;    /* after is given (the client's last_seq) */
    uint64_t after;   /* entries with seq > after */
    const char *name; /* else: the position of this device (ack:, else sent:); NULL or "" or no
                       * position known: nothing (start at the newest) */
    uint64_t upto;    /* entries with seq <= upto; 0 = up to the newest */
} logic_inbox_from_t;

/* One page of an inbox. protos point into the Redis reply: valid during the callback only. */
typedef struct logic_inbox_page_s {
    uint64_t cur;   /* the user's last sequence number at the read */
    uint64_t after; /* where the page starts (resolved from the position, at most cur) */
    uint64_t last;  /* the page covers (after, last]: read on after it when last < the wanted end */
    int recovered;  /* every number in (after, last] was still held (and the client's after was
                     * not beyond cur, which means the counter was reset) */
    Herald__Proto **protos; /* n packets, seq order, ver 1, header seq = user's sequence number */
    size_t n;
} logic_inbox_page_t;

/* status 0 and the page, or HERALD_EUNAVAIL (page NULL). */
typedef void (*logic_inbox_read_cb)(int status, const logic_inbox_page_t *page, void *arg);

/* Reads one page (at most inbox.max_count entries and inbox.page_bytes bytes, at least one entry
 * when any is due) of mid's inbox. from's strings are copied. Returns 0 and calls cb exactly once,
 * or HERALD_EUNAVAIL. */
int logic_inbox_read(const logic_ctx_t *ctx, int64_t mid, const logic_inbox_from_t *from,
                     logic_inbox_read_cb cb, void *arg);

/* The users' newest sequence numbers: seqs is parallel to the mids of the call (0 for a user
 * with none), borrowed during the callback; status 0, or HERALD_EUNAVAIL (seqs NULL). */
typedef void (*logic_inbox_newest_cb)(int status, const uint64_t *seqs, void *arg);

/* Reads seq:{<mid>} of each of mids[0..n) (1 <= n <= RPC_REPLAY_BATCH_MAX; copied) in one MGET
 * (one GET per user on Redis Cluster, where they are in different slots).
 * Returns 0 and calls cb exactly once, or HERALD_EUNAVAIL (HERALD_EINVAL for n out of range). */
int logic_inbox_newest(const logic_ctx_t *ctx, const int64_t *mids, size_t n,
                       logic_inbox_newest_cb cb, void *arg);

/* The two position hashes. */
typedef enum { LOGIC_INBOX_ACK = 0, LOGIC_INBOX_SENT = 1 } logic_inbox_pos_t;

/* Moves position `name` of mid forward to seq in hash `which` (ack: or sent:), never back. cb
 * may be NULL (fire and forget: a failure is logged, rate limited). Returns 0 and calls cb (if
 * any) with redis_command's contract, or HERALD_EUNAVAIL. */
int logic_inbox_position(const logic_ctx_t *ctx, logic_inbox_pos_t which, int64_t mid,
                         const char *name, uint64_t seq, redis_reply_cb cb, void *arg);

#endif
