/* cluster_load.h - a steady load of pushes with a per-connection audit, for the tests that
 * break something while pushing (test_job_failover, test_job_scaling; docs/delivery.md,
 * "Failures").
 *
 * CLUSTER_LOAD_USERS users, spread over the cluster's comets, each with one connection and one
 * thread that pushes to its mid every interval. Optionally one more thread pushes to a room every
 * member of which is one of those connections. The main thread reads every connection and
 * records, per user push seq, when and with what body it arrived; the audit then asserts that
 * every push answered 200 arrived exactly once, in seq order, with the body it was accepted
 * for. Room pushes carry no seq: their audit counts each accepted one's arrivals per
 * connection (at least once each; repeats are counted, not refused).
 *
 * Not thread-safe beyond that: one test thread calls all of these, for one load at a time (the
 * pushing threads' arguments are static). The struct is large: give it static storage.
 */
#ifndef HERALD_CLUSTER_LOAD_H
#define HERALD_CLUSTER_LOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"

#define CLUSTER_LOAD_USERS 8
#define CLUSTER_LOAD_MAX_PUSHES 1200 /* per user, and of the room */
#define CLUSTER_LOAD_OP 1000         /* op of the user pushes */
#define CLUSTER_LOAD_ROOM_OP 1001    /* op of the room pushes */

/* One pushing thread's record: written by it, read after it is joined. */
typedef struct cluster_load_sent_s {
    pthread_t thread;
    int n_sent;
    long long sent_ms[CLUSTER_LOAD_MAX_PUSHES];
    int status[CLUSTER_LOAD_MAX_PUSHES];
    uint64_t seq[CLUSTER_LOAD_MAX_PUSHES]; /* user pushes: the seq of a 200 */
    char body[CLUSTER_LOAD_MAX_PUSHES][32];
} cluster_load_sent_t;

typedef struct cluster_load_user_s {
    int64_t mid;
    client_t *cl;
    cluster_load_sent_t sent;
    /* Written by the reading (main) thread: per seq, when and with what body it arrived. */
    uint64_t last;
    long long recv_ms[CLUSTER_LOAD_MAX_PUSHES + 1];
    char *recv_body[CLUSTER_LOAD_MAX_PUSHES + 1];
    int misordered; /* user packets not seq last+1: duplicates or gaps */
    /* Room pushes: arrivals of room push i (its body is "room-<i>"); bad ones counted. */
    unsigned char room_got[CLUSTER_LOAD_MAX_PUSHES];
    int room_bad;
} cluster_load_user_t;

typedef struct cluster_load_s {
    cluster_t *c;
    int interval_ms;
    volatile int stop;
    cluster_load_user_t users[CLUSTER_LOAD_USERS];
    bool has_room;
    char room_path[512]; /* the room push's path and query */
    cluster_load_sent_t room;
    long long next_heartbeat;
} cluster_load_t;

/* Connects the users first_mid, first_mid + 1, ... (user i on comet i % n_comets, in `room` when
 * it is not NULL), waits until logic counts them in the room, then starts one pushing thread
 * per user (one push to its mid every interval_ms) and, with a room, one that pushes to the
 * room every interval_ms. Asserts. */
void cluster_load_start(cluster_load_t *l, cluster_t *c, int64_t first_mid, const char *room,
                        int interval_ms);

/* Stops and joins the pushing threads (each finishes its push in flight). */
void cluster_load_stop_pushing(cluster_load_t *l);

/* Reads every connection for ms milliseconds (heartbeats every 5 s keep them alive). Asserts
 * that no connection ends. */
void cluster_load_read(cluster_load_t *l, int ms);

/* Reads until every accepted push has arrived (drain_ms at most), then asserts the audit:
 * every user push answered 200 arrived once, in order, with its body, and nothing else came;
 * every accepted room push arrived at every connection at least once. Returns the room pushes
 * that arrived more than once at a connection (summed over connections), and prints the
 * figures. */
int cluster_load_audit(cluster_load_t *l, int drain_ms);

/* Worst delay (sent to arrival) of the accepted user pushes sent at or after since_ms; the
 * median of all of them in *median. Call after cluster_load_audit. */
long long cluster_load_worst_delay(const cluster_load_t *l, long long since_ms, long long *median);

/* Closes the connections and frees what the reader kept. */
void cluster_load_free(cluster_load_t *l);

/* Waits up to timeout_ms until the running jobs hold `partitions` partitions between them (their
 * /metrics "partitions"), each of them some. Asserts; returns how long it took. */
long long cluster_wait_group(cluster_t *c, int partitions, int timeout_ms);

/* Job `index`'s /metrics field `name`, or -1 when it cannot be read (not running). */
long long cluster_job_metric(cluster_t *c, int index, const char *name);

#endif
