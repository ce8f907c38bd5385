/* test_redis_cluster.c - see test_redis_cluster.h. */
#define _GNU_SOURCE
#include "test_redis_cluster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* A free port whose cluster bus port (+10000) is free and valid too. */
static int cluster_port(void)
{
    for (int tries = 0; tries < 200; tries++) {
        int p = test_free_port();
        if (p + 10000 <= 65535 && !test_port_open(p + 10000))
            return p;
    }
    fail_msg("no free port pair for a cluster node");
    return -1;
}

static void start_node(test_redis_t *s)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", TEST_CLUSTER_NODE_TIMEOUT_MS);
    /* No delay before a diskless full sync: a replica must have its data within the test. */
    const char *const extra[] = {"--cluster-enabled",
                                 "yes",
                                 "--cluster-config-file",
                                 "nodes.conf",
                                 "--cluster-node-timeout",
                                 timeout,
                                 "--repl-diskless-sync-delay",
                                 "0",
                                 NULL};
    test_redis_start_args(s, NULL, extra);
}

int test_redis_cluster_cli(test_redis_cluster_t *c, int i, const char *args, char *out,
                           size_t outlen)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d %s 2>/dev/null", c->node[i].port,
             args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[512] = "";
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    while (fgets(cmd, sizeof(cmd), f) != NULL)
        ;
    int st = pclose(f);
    if (out)
        snprintf(out, outlen, "%s", line);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The node index listening on port, or -1. */
static int node_at(const test_redis_cluster_t *c, int port)
{
    for (int i = 0; i < TEST_CLUSTER_NODES; i++)
        if (c->node[i].port == port)
            return i;
    return -1;
}

int test_redis_cluster_master_of(test_redis_cluster_t *c, unsigned slot)
{
    for (int i = 0; i < TEST_CLUSTER_NODES; i++) {
        if (c->node[i].pid <= 0)
            continue;
        /* CLUSTER SHARDS would do, but the text of CLUSTER NODES is simpler to read here:
         * "<id> <ip:port@bus> <flags> <master> ... <slot ranges>" for each node. */
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %d CLUSTER NODES 2>/dev/null",
                 c->node[i].port);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char line[1024];
        int found = -1;
        while (fgets(line, sizeof(line), f) != NULL) {
            char id[64], addr[128], flags[128];
            if (sscanf(line, "%63s %127s %127s", id, addr, flags) != 3 ||
                strstr(flags, "master") == NULL || strstr(flags, "fail") != NULL)
                continue;
            /* the slot ranges are the fields from the ninth on */
            char *p = line;
            for (int field = 0; field < 8 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                    p++;
            }
            while (p && *p) {
                unsigned lo, hi;
                int used = 0;
                if (sscanf(p, "%u-%u%n", &lo, &hi, &used) == 2 ||
                    (sscanf(p, "%u%n", &lo, &used) == 1 && (hi = lo, 1))) {
                    if (slot >= lo && slot <= hi)
                        found = node_at(c, atoi(strchr(addr, ':') + 1));
                }
                p = strchr(p, ' ');
                if (p)
                    p++;
            }
        }
        pclose(f);
        return found;
    }
    return -1;
}

int test_redis_cluster_wait_ok(test_redis_cluster_t *c, unsigned slot, int ms)
{
    for (int waited = 0; waited <= ms; waited += 100) {
        int ok = 1;
        for (int i = 0; i < TEST_CLUSTER_NODES && ok; i++) {
            char line[512];
            if (c->node[i].pid <= 0)
                continue;
            test_redis_cluster_cli(c, i, "CLUSTER INFO", line, sizeof(line));
            ok = strcmp(line, "cluster_state:ok") == 0;
        }
        if (ok) {
            int m = test_redis_cluster_master_of(c, slot);
            if (m >= 0 && c->node[m].pid > 0)
                return 1;
        }
        usleep(100 * 1000);
    }
    return 0;
}

void test_redis_cluster_start(test_redis_cluster_t *c)
{
    char cmd[1024];
    int at;

    for (int i = 0; i < TEST_CLUSTER_NODES; i++) {
        test_redis_init(&c->node[i]);
        c->node[i].port = cluster_port();
        start_node(&c->node[i]);
    }
    at = snprintf(cmd, sizeof(cmd), "redis-cli --cluster create");
    for (int i = 0; i < TEST_CLUSTER_NODES; i++)
        at += snprintf(cmd + at, sizeof(cmd) - (size_t)at, " 127.0.0.1:%d", c->node[i].port);
    snprintf(cmd + at, sizeof(cmd) - (size_t)at,
             " --cluster-replicas 1 --cluster-yes >/dev/null 2>&1");
    assert_int_equal(system(cmd), 0);
    for (unsigned s = 0; s < 16384; s += 5461)
        assert_true(test_redis_cluster_wait_ok(c, s, 30000));
    /* A replica that never synced is not promoted: wait until each has its master's data. */
    for (int i = 0; i < TEST_CLUSTER_NODES; i++) {
        int synced = 0;
        for (int tries = 0; tries < 300 && !synced; tries++) {
            char role[64], link[64];
            test_redis_cluster_cli(c, i, "ROLE", role, sizeof(role));
            if (strcmp(role, "master") == 0)
                break;
            test_redis_cluster_cli(c, i, "INFO replication | grep master_link_status", link,
                                   sizeof(link));
            synced = strcmp(link, "master_link_status:up") == 0;
            if (!synced)
                usleep(100 * 1000);
        }
    }
}

void test_redis_cluster_restart(test_redis_cluster_t *c, int i)
{
    assert_true(c->node[i].pid <= 0);
    start_node(&c->node[i]);
}

void test_redis_cluster_stop(test_redis_cluster_t *c)
{
    for (int i = 0; i < TEST_CLUSTER_NODES; i++)
        test_redis_deinit(&c->node[i]);
}
