/* comet_ips.h - the distinct client addresses of a comet's authenticated connections: goim's
 * ip_count, which the comet reports to logic in each RenewOnline and logic sums over comets in
 * /goim/online/total.
 *
 * One table for the whole comet (workers add and remove under its mutex, the main thread reads
 * the count), holding a connection count per address. An address is kept as a 32-bit seeded hash
 * of its IP (strmap_hash, so a client cannot choose addresses that collide; no port; an
 * IPv4-mapped IPv6 address is its IPv4 address), and that hash is all a
 * connection stores (it fits in padding of comet_channel_t, so the count costs a connection
 * nothing): two addresses whose hashes collide count once, so at a million distinct addresses
 * the count may be short by about one in ten thousand. The table costs 8 bytes a slot, grown at
 * half load: 16-32 bytes per distinct address.
 */
#ifndef COMET_IPS_H
#define COMET_IPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

typedef struct comet_ips_s {
    uv_mutex_t lock;
    uint32_t *hashes; /* 0 = empty slot; comet_ips_hash never returns 0 */
    uint32_t *counts; /* connections with hashes[i] */
    uint32_t cap;     /* power of two, or 0 before the first add */
    uint32_t n;       /* distinct hashes held */
} comet_ips_t;

/* Returns 0 or UV_E* (the mutex). */
int comet_ips_init(comet_ips_t *t);
void comet_ips_deinit(comet_ips_t *t);

/* The hash under which sa's IP is counted: never 0; 0 when sa is not IPv4 or IPv6 (an address
 * that is not counted). Any thread. */
uint32_t comet_ips_hash(const struct sockaddr *sa);

/* One more connection from the address with hash h (h != 0). Any thread. Aborts on OOM. */
void comet_ips_add(comet_ips_t *t, uint32_t h);
/* One connection less from h, which comet_ips_add counted. Any thread. */
void comet_ips_remove(comet_ips_t *t, uint32_t h);

/* The number of distinct addresses now. Any thread. */
size_t comet_ips_count(comet_ips_t *t);

#endif
