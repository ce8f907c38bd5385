/* cluster_load.c - see cluster_load.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_load.h"
#include "http_client.h"
#include "proc.h"

/* One POST to logic at path with a client timeout beyond Kafka's (message.timeout.ms 30 s).
 * Returns the HTTP status or a negative error; on 200, *seq (may be NULL) gets data[0].seq. */
static int cluster_load_post(cluster_t *c, const char *path, const char *body, uint64_t *seq)
{
    char url[640];
    int rc =
        http_client_url(url, sizeof(url), "http", "127.0.0.1", cluster_logic_http_port(c), path);
    if (rc != 0)
        return rc;
    http_client_req_t req = {
        .method = "POST", .url = url, .body = body, .body_len = strlen(body), .timeout_ms = 45000};
    http_client_resp_t resp;
    rc = http_client_request(NULL, &req, &resp);
    if (rc != 0)
        return rc;
    if (seq) {
        json_t *j = json_loads(resp.body, 0, NULL);
        *seq = (uint64_t)json_integer_value(
            json_object_get(json_array_get(json_object_get(j, "data"), 0), "seq"));
        json_decref(j);
    }
    free(resp.body);
    return resp.status;
}

typedef struct cluster_load_pusher_s {
    cluster_load_t *l;
    cluster_load_sent_t *sent;
    char path[512];
    int64_t mid; /* 0: the room */
} cluster_load_pusher_t;

static cluster_load_pusher_t cluster_load_pushers[CLUSTER_LOAD_USERS + 1];

static void *cluster_load_push_run(void *arg)
{
    cluster_load_pusher_t *p = arg;
    cluster_load_sent_t *s = p->sent;
    while (!__atomic_load_n(&p->l->stop, __ATOMIC_ACQUIRE) && s->n_sent < CLUSTER_LOAD_MAX_PUSHES) {
        int i = s->n_sent;
        if (p->mid)
            snprintf(s->body[i], sizeof(s->body[i]), "%lld-%d", (long long)p->mid, i);
        else
            snprintf(s->body[i], sizeof(s->body[i]), "room-%d", i);
        s->sent_ms[i] = proc_now_ms();
        s->status[i] = cluster_load_post(p->l->c, p->path, s->body[i], p->mid ? &s->seq[i] : NULL);
        s->n_sent = i + 1;
        proc_sleep_ms(p->l->interval_ms);
    }
    return NULL;
}

void cluster_load_start(cluster_load_t *l, cluster_t *c, int64_t first_mid, const char *room,
                        int interval_ms)
{
    memset(l, 0, sizeof(*l));
    l->c = c;
    l->interval_ms = interval_ms;
    for (int i = 0; i < CLUSTER_LOAD_USERS; i++) {
        cluster_load_user_t *u = &l->users[i];
        u->mid = first_mid + i;
        u->cl = cluster_user(c, i % cluster_n_comets(c), CLIENT_TCP, u->mid, room, CLUSTER_LOAD_OP,
                             NULL);
    }
    if (room) {
        char query[400];
        cluster_room_query(room, "room", query, sizeof(query));
        snprintf(l->room_path, sizeof(l->room_path), "/goim/push/room?operation=%d&%s",
                 CLUSTER_LOAD_ROOM_OP, query);
        l->has_room = true;
        cluster_wait_room(c, room, CLUSTER_LOAD_USERS, 10000);
    }
    for (int i = 0; i <= CLUSTER_LOAD_USERS; i++) {
        cluster_load_pusher_t *p = &cluster_load_pushers[i];
        memset(p, 0, sizeof(*p));
        p->l = l;
        if (i == CLUSTER_LOAD_USERS) {
            if (!room)
                break;
            p->sent = &l->room;
            snprintf(p->path, sizeof(p->path), "%s", l->room_path);
        } else {
            p->sent = &l->users[i].sent;
            p->mid = l->users[i].mid;
            snprintf(p->path, sizeof(p->path), "/goim/push/mids?operation=%d&mids=%lld",
                     CLUSTER_LOAD_OP, (long long)p->mid);
        }
        assert_int_equal(pthread_create(&p->sent->thread, NULL, cluster_load_push_run, p), 0);
    }
}

void cluster_load_stop_pushing(cluster_load_t *l)
{
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < CLUSTER_LOAD_USERS; i++)
        assert_int_equal(pthread_join(l->users[i].sent.thread, NULL), 0);
    if (l->has_room)
        assert_int_equal(pthread_join(l->room.thread, NULL), 0);
}

/* A room push's packet: counts the arrival of room push <i> by its body "room-<i>". */
static void cluster_load_room_packet(cluster_load_user_t *u, const client_packet_t *p)
{
    char body[32];
    int i;
    snprintf(body, sizeof(body), "%.*s", (int)(p->body_len < 31 ? p->body_len : 31),
             (const char *)p->body);
    if (sscanf(body, "room-%d", &i) != 1 || i < 0 || i >= CLUSTER_LOAD_MAX_PUSHES) {
        u->room_bad++;
        return;
    }
    if (u->room_got[i] < 255)
        u->room_got[i]++;
}

/* Takes every packet already readable on u's connection; user pushes must come as seq last+1. */
static void cluster_load_drain(cluster_load_user_t *u)
{
    client_packet_t p;
    int rc;
    while ((rc = client_recv(u->cl, &p, 0)) == 1) {
        if (p.op == CLUSTER_LOAD_OP) {
            if (p.seq != u->last + 1 || p.seq > CLUSTER_LOAD_MAX_PUSHES) {
                if (u->misordered++ == 0)
                    print_message("mid %lld: seq %u after %llu\n", (long long)u->mid, p.seq,
                                  (unsigned long long)u->last);
            } else {
                u->last = p.seq;
                u->recv_ms[p.seq] = proc_now_ms();
                u->recv_body[p.seq] = strndup((const char *)p.body, p.body_len);
            }
        } else if (p.op == CLUSTER_LOAD_ROOM_OP) {
            cluster_load_room_packet(u, &p);
        }
        client_packet_free(&p);
    }
    if (rc < 0)
        fail_msg("mid %lld: connection ended (%d)", (long long)u->mid, rc);
}

void cluster_load_read(cluster_load_t *l, int ms)
{
    long long until = proc_now_ms() + ms;
    while (proc_now_ms() < until) {
        struct pollfd fds[CLUSTER_LOAD_USERS];
        for (int i = 0; i < CLUSTER_LOAD_USERS; i++)
            fds[i] = (struct pollfd){.fd = client_fd(l->users[i].cl), .events = POLLIN};
        long long left = until - proc_now_ms();
        poll(fds, CLUSTER_LOAD_USERS, left < 50 ? (int)(left > 0 ? left : 0) : 50);
        for (int i = 0; i < CLUSTER_LOAD_USERS; i++)
            cluster_load_drain(&l->users[i]);
        if (proc_now_ms() >= l->next_heartbeat) {
            for (int i = 0; i < CLUSTER_LOAD_USERS; i++)
                client_heartbeat(l->users[i].cl);
            l->next_heartbeat = proc_now_ms() + 5000;
        }
    }
}

static bool cluster_load_all_in(const cluster_load_t *l)
{
    for (int i = 0; i < CLUSTER_LOAD_USERS; i++) {
        const cluster_load_user_t *u = &l->users[i];
        for (int k = 0; k < u->sent.n_sent; k++)
            if (u->sent.status[k] == 200 && u->sent.seq[k] > u->last)
                return false;
        for (int k = 0; l->has_room && k < l->room.n_sent; k++)
            if (l->room.status[k] == 200 && u->room_got[k] == 0)
                return false;
    }
    return true;
}

int cluster_load_audit(cluster_load_t *l, int drain_ms)
{
    long long deadline = proc_now_ms() + drain_ms;
    while (!cluster_load_all_in(l) && proc_now_ms() < deadline)
        cluster_load_read(l, 100);
    cluster_load_read(l, 300); /* anything more would be a duplicate */
    int accepted = 0, room_accepted = 0, room_repeats = 0, repeat_lo = -1, repeat_hi = -1;
    for (int i = 0; i < CLUSTER_LOAD_USERS; i++) {
        cluster_load_user_t *u = &l->users[i];
        uint64_t top = 0;
        assert_int_equal(u->misordered, 0);
        assert_int_equal(u->room_bad, 0);
        for (int k = 0; k < u->sent.n_sent; k++) {
            if (u->sent.status[k] != 200)
                continue;
            accepted++;
            if (u->sent.seq[k] < 1 || u->sent.seq[k] > u->last)
                fail_msg("mid %lld: seq %llu accepted, never delivered (got up to %llu)",
                         (long long)u->mid, (unsigned long long)u->sent.seq[k],
                         (unsigned long long)u->last);
            assert_string_equal(u->recv_body[u->sent.seq[k]], u->sent.body[k]);
            if (u->sent.seq[k] > top)
                top = u->sent.seq[k];
        }
        if (u->last != top)
            fail_msg("mid %lld: delivered up to seq %llu, accepted up to %llu", (long long)u->mid,
                     (unsigned long long)u->last, (unsigned long long)top);
        for (int k = 0; l->has_room && k < l->room.n_sent; k++) {
            if (l->room.status[k] != 200)
                continue;
            if (u->room_got[k] == 0)
                fail_msg("mid %lld: room push %d accepted, never delivered", (long long)u->mid, k);
            room_repeats += u->room_got[k] - 1;
            if (u->room_got[k] > 1) {
                repeat_lo = repeat_lo < 0 || k < repeat_lo ? k : repeat_lo;
                repeat_hi = k > repeat_hi ? k : repeat_hi;
            }
        }
    }
    for (int k = 0; l->has_room && k < l->room.n_sent; k++)
        room_accepted += l->room.status[k] == 200;
    print_message("audit: %d user pushes accepted, each delivered once and in order", accepted);
    if (l->has_room)
        print_message("; %d room pushes accepted, each delivered to all %d members (%d repeats",
                      room_accepted, CLUSTER_LOAD_USERS, room_repeats);
    if (room_repeats > 0)
        print_message(", of room pushes %d (sent at +%lld ms) to %d (+%lld ms)", repeat_lo,
                      l->room.sent_ms[repeat_lo] - l->room.sent_ms[0], repeat_hi,
                      l->room.sent_ms[repeat_hi] - l->room.sent_ms[0]);
    print_message("%s\n", l->has_room ? ")" : "");
    return room_repeats;
}

long long cluster_load_worst_delay(const cluster_load_t *l, long long since_ms, long long *median)
{
    static long long all[CLUSTER_LOAD_USERS * CLUSTER_LOAD_MAX_PUSHES];
    int n = 0;
    long long worst = 0;
    for (int i = 0; i < CLUSTER_LOAD_USERS; i++) {
        const cluster_load_user_t *u = &l->users[i];
        for (int k = 0; k < u->sent.n_sent; k++) {
            if (u->sent.status[k] != 200)
                continue;
            long long d = u->recv_ms[u->sent.seq[k]] - u->sent.sent_ms[k];
            all[n++] = d;
            if (u->sent.sent_ms[k] >= since_ms && d > worst)
                worst = d;
        }
    }
    /* insertion sort: a few thousand values */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && all[j - 1] > all[j]; j--) {
            long long t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    *median = n > 0 ? all[n / 2] : 0;
    return worst;
}

void cluster_load_free(cluster_load_t *l)
{
    for (int i = 0; i < CLUSTER_LOAD_USERS; i++) {
        client_free(l->users[i].cl);
        l->users[i].cl = NULL;
        for (int s = 0; s <= CLUSTER_LOAD_MAX_PUSHES; s++) {
            free(l->users[i].recv_body[s]);
            l->users[i].recv_body[s] = NULL;
        }
    }
}

long long cluster_job_metric(cluster_t *c, int index, const char *name)
{
    long long v = -1;
    if (!cluster_metric(cluster_job_admin_port_at(c, index), "/metrics", name, &v))
        return -1;
    return v;
}

long long cluster_wait_group(cluster_t *c, int partitions, int timeout_ms)
{
    long long t0 = proc_now_ms(), deadline = t0 + timeout_ms;
    for (;;) {
        long long sum = 0;
        int holders = 0, running = 0;
        for (int j = 0; j < CLUSTER_MAX_JOBS; j++) {
            if (!cluster_job_running(c, j))
                continue;
            running++;
            long long n = cluster_job_metric(c, j, "partitions");
            holders += n > 0;
            sum += n > 0 ? n : 0;
        }
        if (running > 0 && holders == running && sum == partitions) {
            print_message("group of %d job(s) holds all %d partitions, %lld ms\n", running,
                          partitions, proc_now_ms() - t0);
            return proc_now_ms() - t0;
        }
        if (proc_now_ms() >= deadline)
            fail_msg("%d job(s) hold %lld of %d partitions (%d of them some) after %d ms", running,
                     sum, partitions, holders, timeout_ms);
        proc_sleep_ms(50);
    }
}
