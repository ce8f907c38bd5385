/* test_redis_cluster.h - a real Redis Cluster for the tests: TEST_CLUSTER_NODES redis-server
 * processes on loopback (cluster-enabled, a short cluster-node-timeout so that a killed master's
 * replica is promoted within seconds), joined by `redis-cli --cluster create --cluster-replicas
 * 1`: three masters, three replicas. Every server dies with the test process. Failures are cmocka
 * assertions.
 */
#ifndef HERALD_TEST_REDIS_CLUSTER_H
#define HERALD_TEST_REDIS_CLUSTER_H

#include "test_support.h"

#define TEST_CLUSTER_NODES 6
#define TEST_CLUSTER_NODE_TIMEOUT_MS 1000

typedef struct test_redis_cluster_s {
    test_redis_t node[TEST_CLUSTER_NODES]; /* node[i].port; its bus is port + 10000 */
} test_redis_cluster_t;

/* Starts the servers, creates the cluster and waits (up to 30 s) until every node reports
 * cluster_state:ok, then (up to 30 s) until every replica's link to its master is up. */
void test_redis_cluster_start(test_redis_cluster_t *c);

/* The index of the node that is master of slot now (asked of a live node), or -1. */
int test_redis_cluster_master_of(test_redis_cluster_t *c, unsigned slot);

/* Waits (up to ms) until every live node reports cluster_state:ok and a live master serves
 * slot; returns nonzero when so. */
int test_redis_cluster_wait_ok(test_redis_cluster_t *c, unsigned slot, int ms);

/* Runs redis-cli against node i with the given arguments (a shell fragment, trusted test
 * text); returns its first line of output in out (may be NULL). Returns its exit status. */
int test_redis_cluster_cli(test_redis_cluster_t *c, int i, const char *args, char *out,
                           size_t outlen);

/* Starts node i again (killed before: test_redis_kill) on its port and directory: it rejoins
 * the cluster from its nodes.conf, as a replica when its slots moved meanwhile. */
void test_redis_cluster_restart(test_redis_cluster_t *c, int i);

/* Kills every server and removes their directories. */
void test_redis_cluster_stop(test_redis_cluster_t *c);

#endif
