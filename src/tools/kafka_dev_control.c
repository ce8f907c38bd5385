/* kafka_dev_control.c - see kafka_dev_control.h. */
#include "kafka_dev_control.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kafka_dev_control_create(kafka_dev_control_t *k, rd_kafka_mock_cluster_t *cluster, int brokers,
                             const char *topics, int partitions, int replication)
{
    char *copy = strdup(topics), *save = NULL, *name;
    int rc = 0;

    memset(k, 0, sizeof(*k));
    k->cluster = cluster;
    k->brokers = brokers;
    k->partitions = partitions;
    if (!copy)
        return -1;
    for (name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        rd_kafka_resp_err_t err;

        if (strlen(name) > KAFKA_DEV_MAX_TOPIC_LEN || k->n_topics == KAFKA_DEV_MAX_TOPICS) {
            log_error("topic name longer than %d, or more than %d topics", KAFKA_DEV_MAX_TOPIC_LEN,
                      KAFKA_DEV_MAX_TOPICS);
            rc = -1;
            break;
        }
        err = rd_kafka_mock_topic_create(cluster, name, partitions, replication);
        if (err) {
            log_error("topic %s: %s", name, rd_kafka_err2str(err));
            rc = -1;
            break;
        }
        snprintf(k->topics[k->n_topics++], sizeof(k->topics[0]), "%s", name);
    }
    free(copy);
    if (rc == 0 && k->n_topics == 0) {
        log_error("no topic given");
        rc = -1;
    }
    if (rc == 0) {
        k->leaders = calloc((size_t)k->n_topics * (size_t)partitions, sizeof(*k->leaders));
        if (!k->leaders)
            return -1;
    }
    for (int t = 0; rc == 0 && t < k->n_topics; t++)
        for (int p = 0; rc == 0 && p < partitions; p++) {
            int32_t id = p % brokers + 1;
            rd_kafka_resp_err_t err =
                rd_kafka_mock_partition_set_leader(cluster, k->topics[t], p, id);
            if (err) {
                log_error("topic %s partition %d leader %d: %s", k->topics[t], p, id,
                          rd_kafka_err2str(err));
                rc = -1;
            }
            k->leaders[t * partitions + p] = id;
        }
    return rc;
}

/* The next live broker after id, by id and wrapping; -1 when there is none. */
static int kafka_dev_next_live(const kafka_dev_control_t *k, int id)
{
    for (int step = 1; step < k->brokers; step++) {
        int other = (id - 1 + step) % k->brokers + 1;
        if (!k->down[other])
            return other;
    }
    return -1;
}

int kafka_dev_control_down(kafka_dev_control_t *k, int id)
{
    int moved = 0, to;
    rd_kafka_resp_err_t err;

    if (id < 1 || id > k->brokers) {
        log_error("down %d: no such broker (1..%d)", id, k->brokers);
        return -1;
    }
    to = kafka_dev_next_live(k, id);
    if (to < 0) {
        log_error("down %d: it is the last live broker (SIGUSR1 takes every broker down)", id);
        return -1;
    }
    for (int i = 0; i < k->n_topics * k->partitions; i++) {
        if (k->leaders[i] != id)
            continue;
        err = rd_kafka_mock_partition_set_leader(k->cluster, k->topics[i / k->partitions],
                                                 i % k->partitions, to);
        if (err) {
            log_error("down %d: moving a leader: %s", id, rd_kafka_err2str(err));
            return -1;
        }
        k->leaders[i] = to;
        moved++;
    }
    err = rd_kafka_mock_broker_set_down(k->cluster, id);
    if (err) {
        log_error("down %d: %s", id, rd_kafka_err2str(err));
        return -1;
    }
    k->down[id] = true;
    log_info("broker %d down; %d partition leader(s) moved to broker %d", id, moved, to);
    return 0;
}

int kafka_dev_control_up(kafka_dev_control_t *k, int id)
{
    rd_kafka_resp_err_t err;

    if (id < 1 || id > k->brokers) {
        log_error("up %d: no such broker (1..%d)", id, k->brokers);
        return -1;
    }
    err = rd_kafka_mock_broker_set_up(k->cluster, id);
    if (err) {
        log_error("up %d: %s", id, rd_kafka_err2str(err));
        return -1;
    }
    k->down[id] = false;
    log_info("broker %d up", id);
    return 0;
}

/* One command line: "down ID" or "up ID" (an unknown one is logged and ignored). */
static void kafka_dev_command(kafka_dev_control_t *k, const char *line)
{
    char verb[8], rest;
    int id;

    if (sscanf(line, "%7s %d %c", verb, &id, &rest) == 2 && strcmp(verb, "down") == 0)
        (void)kafka_dev_control_down(k, id);
    else if (sscanf(line, "%7s %d %c", verb, &id, &rest) == 2 && strcmp(verb, "up") == 0)
        (void)kafka_dev_control_up(k, id);
    else if (line[0])
        log_warn("unknown command (want \"down ID\" or \"up ID\")");
}

static void kafka_dev_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    static char chunk[256]; /* one loop thread: read callbacks never overlap */
    buf->base = chunk;
    buf->len = sizeof(chunk);
}

static void kafka_dev_on_in_closed(uv_handle_t *handle) {}

static void kafka_dev_stop_reading(kafka_dev_control_t *k)
{
    if (k->reading) {
        k->reading = false;
        uv_close((uv_handle_t *)&k->in.pipe, kafka_dev_on_in_closed);
    }
}

static void kafka_dev_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    kafka_dev_control_t *k = stream->data;

    if (nread < 0) {
        if (nread != UV_EOF)
            log_warn("stdin: %s", uv_strerror((int)nread));
        kafka_dev_stop_reading(k);
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        char ch = buf->base[i];
        if (ch == '\n') {
            k->line[k->line_len] = '\0';
            if (k->line_too_long)
                log_warn("command longer than %d bytes refused", KAFKA_DEV_MAX_LINE);
            else
                kafka_dev_command(k, k->line);
            k->line_len = 0;
            k->line_too_long = false;
        } else if (k->line_len < KAFKA_DEV_MAX_LINE) {
            k->line[k->line_len++] = ch;
        } else {
            k->line_too_long = true;
        }
    }
}

void kafka_dev_control_read_stdin(kafka_dev_control_t *k, uv_loop_t *loop)
{
    uv_handle_type type = uv_guess_handle(0);
    int rc;

    if (type == UV_NAMED_PIPE) {
        uv_pipe_init(loop, &k->in.pipe, 0);
        rc = uv_pipe_open(&k->in.pipe, 0);
    } else if (type == UV_TTY) {
        rc = uv_tty_init(loop, &k->in.tty, 0, 1);
    } else {
        return; /* /dev/null or a file: no commands */
    }
    k->in.pipe.data = k;
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&k->in.pipe, kafka_dev_on_alloc, kafka_dev_on_read);
    k->reading = true;
    if (rc != 0) {
        log_warn("stdin: %s; no commands", uv_strerror(rc));
        kafka_dev_stop_reading(k);
    }
}

void kafka_dev_control_close(kafka_dev_control_t *k)
{
    kafka_dev_stop_reading(k);
    free(k->leaders);
    k->leaders = NULL;
}
