/* logic_limit.h - rate limits kept in Redis, shared by every logic of a deployment (docs/im.md
 * "Abuse limits"): failed logins per name and per client address, registrations per address,
 * upstream messages per sender.
 *
 * Each limit is a GCRA bucket (the "generic cell rate algorithm", a token bucket kept as one
 * number): limit:<what> holds the theoretical arrival time in microseconds of Redis's own clock
 * (TIME, so several logics with skewed clocks agree), and expires once the bucket is full again,
 * so an idle limit costs nothing. A bucket allows `burst` takes at once and one more every
 * `refill_ms`. Loop thread only.
 */
#ifndef LOGIC_LIMIT_H
#define LOGIC_LIMIT_H

#include "logic_ctx.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LOGIC_LIMIT_KEYS_MAX 2
#define LOGIC_LIMIT_WHAT_MAX 96 /* bytes of a bucket's name, NUL included */

/* One bucket: its name (the key after "limit:"), how many at once and the refill period. A
 * refill_us of 0 means no limit: the bucket always allows and is never written. */
typedef struct logic_limit_s {
    char what[LOGIC_LIMIT_WHAT_MAX];
    int64_t burst;
    int64_t refill_us;
} logic_limit_t;

/* status 0 or HERALD_EUNAVAIL; retry_ms 0 when the take was allowed, else how long until every
 * bucket has room again (the take charged nothing). */
typedef void (*logic_limit_cb)(int status, int64_t retry_ms, void *arg);

/* Takes one from each of limits[0..n) (1 <= n <= LOGIC_LIMIT_KEYS_MAX), all or nothing: when
 * any bucket is empty none is charged. limits is copied. Returns 0 (cb called once later) or
 * HERALD_EUNAVAIL (cb never called). */
int logic_limit_take(const logic_ctx_t *ctx, const logic_limit_t *limits, size_t n,
                     logic_limit_cb cb, void *arg);

/* Gives back one take to each bucket (a login that turned out right: only failures count).
 * Fire and forget; a failure is logged, rate limited. */
void logic_limit_refund(const logic_ctx_t *ctx, const logic_limit_t *limits, size_t n);

/* The client address as a bucket name part: IPv4 dotted, IPv6 its /64 prefix (one host usually
 * holds a whole /64, so per-address limits on full IPv6 addresses would be no limit), into out
 * (at least 48 bytes). */
void logic_limit_addr(const struct sockaddr_storage *ss, char *out, size_t len);

#endif
