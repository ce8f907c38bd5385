/* kafka_dev_control.h - herald-kafka-dev's per-broker control: the partition leaders it placed,
 * which brokers are down, and the line commands on stdin that change that (docs/internals.md,
 * "herald-kafka-dev").
 *
 * librdkafka's mock cluster keeps a partition's leader where it is when its broker goes down;
 * a real cluster's controller elects a live in-sync replica instead. "down ID" does that here:
 * every partition broker ID led moves to the next live broker (by id, wrapping), so producers
 * and consumers follow the metadata as they would on Kafka. The partitions' data live in the
 * mock cluster once for all replicas, so nothing is lost by the move. "up ID" only lets the
 * broker accept connections again: like Kafka without a preferred-leader election, the leaders
 * stay where they were moved. The group coordinator is the mock's own choice (a hash of the
 * group id) and is not moved: a down coordinator stalls group changes, not fetching.
 */
#ifndef HERALD_KAFKA_DEV_CONTROL_H
#define HERALD_KAFKA_DEV_CONTROL_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define KAFKA_DEV_MAX_BROKERS 16
#define KAFKA_DEV_MAX_PARTITIONS 1024
#define KAFKA_DEV_MAX_TOPICS 8
#define KAFKA_DEV_MAX_TOPIC_LEN 249 /* Kafka's limit */
#define KAFKA_DEV_MAX_LINE 64       /* a command line; longer ones are refused */

typedef struct kafka_dev_control_s {
    rd_kafka_mock_cluster_t *cluster;
    int brokers, partitions, n_topics;
    char topics[KAFKA_DEV_MAX_TOPICS][KAFKA_DEV_MAX_TOPIC_LEN + 1];
    /* Leader broker id of partition p of topic t: leaders[t * partitions + p]; NULL until
     * kafka_dev_control_create. */
    int32_t *leaders;
    bool down[KAFKA_DEV_MAX_BROKERS + 1]; /* by broker id, 1..brokers */
    /* stdin, when it is a pipe, FIFO or terminal */
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } in;
    bool reading;
    char line[KAFKA_DEV_MAX_LINE + 1];
    size_t line_len;
    bool line_too_long;
} kafka_dev_control_t;

/* Creates each topic of the comma-separated list (at most KAFKA_DEV_MAX_TOPICS) with
 * `partitions` partitions of `replication` replicas, and spreads the leaders round robin:
 * partition p's leader is broker p % brokers + 1, so every broker leads some partitions when
 * there are as many partitions as brokers. Returns 0 or -1 (logged). */
int kafka_dev_control_create(kafka_dev_control_t *k, rd_kafka_mock_cluster_t *cluster, int brokers,
                             const char *topics, int partitions, int replication);

/* Takes broker id down (re-electing the leaders of its partitions) or up. Returns 0 or -1
 * (logged): an unknown id, or the last live broker. */
int kafka_dev_control_down(kafka_dev_control_t *k, int id);
int kafka_dev_control_up(kafka_dev_control_t *k, int id);

/* Reads commands from stdin on loop when stdin is a pipe, FIFO or terminal; else does nothing.
 * At end of input the reading stops and the cluster keeps serving. */
void kafka_dev_control_read_stdin(kafka_dev_control_t *k, uv_loop_t *loop);

/* Stops reading stdin (closes its handle) and frees the leader table. */
void kafka_dev_control_close(kafka_dev_control_t *k);

#endif
