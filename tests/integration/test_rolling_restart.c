/* test_rolling_restart.c - a rolling restart of two comets under a steady push load, with real
 * daemons (docs/operations.md, "Rolling restart").
 *
 * RR_CLIENTS users hold one connection each, half on comet 0 and half on comet 1, and redial
 * with the client library's policy (client_redial.h): after a drain notice, to the first other
 * comet of logic's /goim/nodes/weighted, resuming with last_seq. RR_CLI more users run
 * `herald-cli listen --reconnect --logic`, and one IM user runs `herald-cli chat` (which moves
 * through a new login). While pushes go to every user, comet 0 gets SIGTERM
 * (server.drain_time = RR_DRAIN_MS), must exit 0, is restarted; then comet 1 gets SIGTERM and
 * must exit 0. Checked, per user: every push accepted for it arrived exactly once and in order
 * (seq 1..n, no gap, no repeat), each move was announced by op 6 {"reason":"reconnect"}, every
 * client reconnected, and the reconnects of a drain are spread over time (not all in one
 * 100 ms window).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_net.h"
#include "client_redial.h"
#include "cluster.h"
#include "proc.h"
#include "proto.h"

#define OP_BIZ 1000
#define RR_CLIENTS 150
#define RR_CLI 4
#define RR_USERS (RR_CLIENTS + RR_CLI + 1) /* the last one: herald-cli chat */
#define RR_CHAT_NAME "rr-chat"
#define RR_DRAIN_MS 2000
#define RR_MID_BASE 51000
#define RR_CLI_MID_BASE 52000
#define RR_PUSH_EVERY_MS 25 /* one push to RR_PUSH_MIDS users */
#define RR_PUSH_MIDS 10
#define RR_PHASE_MS 15000 /* a drain: the comet's exit and every client back */
#define RR_QUIET_MS 10000
#define RR_WINDOW_MS 100
#define RR_MAX_EVENTS (4 * RR_CLIENTS)

extern char **environ;

typedef struct rr_client_s {
    int64_t mid;
    char *token;
    client_t *cl; /* NULL while waiting to dial */
    char addr[96];
    client_redial_t redial;
    int64_t next_dial; /* client_net_now_ms clock, while cl == NULL */
    uint32_t last_seq;
    int dups, gaps;
    int notices; /* drain notices received */
    int moves;   /* successful redials */
    int kicks;   /* op 6 other than a notice */
    int home;    /* the comet it started on */
} rr_client_t;

typedef struct rr_event_s {
    int phase;
    int64_t at; /* client_net_now_ms of the redial's auth */
} rr_event_t;

static cluster_t *g_c;
static rr_client_t g_clients[RR_CLIENTS];
static uint32_t g_pushed[RR_USERS]; /* pushes accepted per user, by index */
static int64_t g_chat_mid;
static rr_event_t g_events[RR_MAX_EVENTS];
static int g_nevents;
static int g_phase;
static int g_pushing;
static int g_next_push; /* user index of the next push */
static int64_t g_push_at;

static const char *const comet_env[] = {"HERALD_SERVER_DRAIN_TIME=2s", NULL};

static int group_setup(void **state)
{
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1, .comet_workers = 2};
    o.env[CLUSTER_COMET] = comet_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

static int64_t user_mid(int u)
{
    if (u == RR_USERS - 1)
        return g_chat_mid;
    return u < RR_CLIENTS ? RR_MID_BASE + u : RR_CLI_MID_BASE + (u - RR_CLIENTS);
}

/* One push to the next RR_PUSH_MIDS users (in-process clients and CLI listeners in turn). */
static void push_tick(void)
{
    int64_t now = client_net_now_ms();
    if (!g_pushing || now < g_push_at)
        return;
    g_push_at = now + RR_PUSH_EVERY_MS;
    int64_t mids[RR_PUSH_MIDS];
    int idx[RR_PUSH_MIDS];
    for (int i = 0; i < RR_PUSH_MIDS; i++) {
        idx[i] = g_next_push;
        mids[i] = user_mid(g_next_push);
        g_next_push = (g_next_push + 1) % RR_USERS;
    }
    cluster_push_mids(g_c, OP_BIZ, mids, RR_PUSH_MIDS, "rolling");
    for (int i = 0; i < RR_PUSH_MIDS; i++)
        g_pushed[idx[i]]++;
}

static char *auth_body(const rr_client_t *rc)
{
    json_t *j = json_pack("{s:s,s:s,s:[i],s:I}", "token", rc->token, "platform", "cli", "accepts",
                          OP_BIZ, "last_seq", (json_int_t)rc->last_seq);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* Authenticates on an open connection; 0 or -1. */
static int rr_auth(rr_client_t *rc)
{
    char *auth = auth_body(rc);
    client_packet_t reply;
    int rc_auth = client_auth(rc->cl, auth, &reply, 5000);
    free(auth);
    client_packet_free(&reply);
    return rc_auth == 0 ? 0 : -1;
}

/* A dial as client_redial.h says: the first other comet of logic's node list. */
static void rr_dial(rr_client_t *rc)
{
    char url[256], host[64], err[512];
    int port = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/goim/nodes/weighted?platform=cli",
             cluster_logic_http_port(g_c));
    if (client_redial_fetch(url, NULL, 2000, "tcp", rc->addr, host, sizeof(host), &port, err,
                            sizeof(err)) == 0)
        rc->cl = client_connect(CLIENT_TCP, host, port, 2000, err, sizeof(err));
    if (rc->cl != NULL && rr_auth(rc) != 0) {
        client_free(rc->cl);
        rc->cl = NULL;
    }
    int64_t now = client_net_now_ms();
    if (rc->cl == NULL) {
        rc->next_dial = now + client_redial_failed(&rc->redial);
        return;
    }
    snprintf(rc->addr, sizeof(rc->addr), "%s:%d", host, port);
    client_redial_connected(&rc->redial);
    rc->moves++;
    if (g_nevents < RR_MAX_EVENTS)
        g_events[g_nevents++] = (rr_event_t){g_phase, now};
}

static void rr_ended(rr_client_t *rc)
{
    client_free(rc->cl);
    rc->cl = NULL;
    int64_t now = client_net_now_ms();
    rc->next_dial = now + client_redial_ended(&rc->redial, now);
}

static void rr_packet(rr_client_t *rc, const client_packet_t *p)
{
    if (p->op == OP_BIZ && p->seq > 0) {
        if (p->seq <= rc->last_seq)
            rc->dups++;
        else if (p->seq != rc->last_seq + 1)
            rc->gaps++;
        if (p->seq > rc->last_seq)
            rc->last_seq = p->seq;
    } else if (p->op == PROTO_OP_DISCONNECT_REPLY) {
        if (client_redial_on_kick(&rc->redial, p->body, p->body_len, client_net_now_ms()))
            rc->notices++;
        else
            rc->kicks++;
    }
}

/* Reads what each client has, leaves where a notice says so, redials where due. */
static void rr_service(void)
{
    struct pollfd pfd[RR_CLIENTS];
    int n = 0;
    for (int i = 0; i < RR_CLIENTS; i++)
        if (g_clients[i].cl != NULL)
            pfd[n++] = (struct pollfd){.fd = client_fd(g_clients[i].cl), .events = POLLIN};
    poll(pfd, (nfds_t)n, 5);
    for (int i = 0; i < RR_CLIENTS; i++) {
        rr_client_t *rc = &g_clients[i];
        if (rc->cl == NULL) {
            if (client_net_now_ms() >= rc->next_dial)
                rr_dial(rc);
            continue;
        }
        client_packet_t p;
        int r;
        while ((r = client_recv(rc->cl, &p, 0)) == 1) {
            rr_packet(rc, &p);
            client_packet_free(&p);
        }
        if (r < 0 || client_redial_leave_due(&rc->redial, client_net_now_ms()))
            rr_ended(rc);
    }
}

typedef int (*rr_done_cb)(void);

/* Runs the clients and the push load for ms, or until done() (may be NULL); returns done(). */
static int rr_run(int ms, rr_done_cb done)
{
    int64_t until = client_net_now_ms() + ms;
    while (client_net_now_ms() < until) {
        if (done != NULL && done())
            return 1;
        push_tick();
        rr_service();
    }
    return done != NULL && done();
}

static int g_stopping; /* the comet being drained */

static int all_connected(void)
{
    for (int i = 0; i < RR_CLIENTS; i++)
        if (g_clients[i].cl == NULL)
            return 0;
    return 1;
}

static int drained(void)
{
    char status[64];
    return cluster_wait_exit(g_c, CLUSTER_COMET, g_stopping, 0, status, sizeof(status)) &&
           all_connected();
}

static int caught_up(void)
{
    for (int i = 0; i < RR_CLIENTS; i++)
        if (g_clients[i].last_seq != g_pushed[i])
            return 0;
    return 1;
}

/* The drain of comet `index`: SIGTERM, exit 0 with every client back on the other comet. */
static void rr_drain(int index)
{
    g_phase++;
    g_stopping = index;
    int64_t t0 = client_net_now_ms();
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, index, SIGTERM), 0);
    int ok = rr_run(RR_PHASE_MS, drained);
    char status[64];
    cluster_wait_exit(g_c, CLUSTER_COMET, index, 0, status, sizeof(status));
    fprintf(stderr, "drain of comet %d: %s after %lld ms, every client back: %s\n", index, status,
            (long long)(client_net_now_ms() - t0), all_connected() ? "yes" : "no");
    assert_true(ok);
    assert_true(cluster_exited_ok(g_c, CLUSTER_COMET, index));
}

/* The redials of a phase: `want` of them, over at least half the drain time, at most a quarter
 * of them within any RR_WINDOW_MS. */
static void assert_spread(int phase, int want)
{
    int64_t at[RR_MAX_EVENTS];
    int n = 0;
    for (int i = 0; i < g_nevents; i++)
        if (g_events[i].phase == phase)
            at[n++] = g_events[i].at;
    int most = 0;
    for (int i = 0; i < n; i++) { /* events are in time order */
        int in = 0;
        for (int j = i; j < n && at[j] - at[i] < RR_WINDOW_MS; j++)
            in++;
        if (in > most)
            most = in;
    }
    long long span = n > 0 ? (long long)(at[n - 1] - at[0]) : 0;
    fprintf(stderr, "phase %d: %d redials over %lld ms, at most %d in %d ms\n", phase, n, span,
            most, RR_WINDOW_MS);
    assert_int_equal(n, want);
    assert_true(span >= RR_DRAIN_MS / 2);
    /* Spread evenly, RR_WINDOW_MS / RR_DRAIN_MS of them (5 %) would share a window; a quarter
     * leaves room for a loaded machine, and is far below "everyone at once". */
    assert_true(most <= want / 4);
}

/* ---------------------------------------------------------------- herald-cli listeners */

static proc_t g_cli[RR_CLI];
static char *g_cli_tokens[RR_CLI];

static void cli_out_path(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/listen-%d.out", cluster_dir(g_c), i);
}

static void cli_start(int i)
{
    char comet[64], logic[64], out[512], err[512], name[32];
    snprintf(comet, sizeof(comet), "127.0.0.1:%d", cluster_comet_port(g_c, i % 2, CLIENT_TCP));
    snprintf(logic, sizeof(logic), "127.0.0.1:%d", cluster_logic_http_port(g_c));
    cli_out_path(i, out, sizeof(out));
    snprintf(err, sizeof(err), "%s/listen-%d.err", cluster_dir(g_c), i);
    snprintf(name, sizeof(name), "listen-%d", i);
    g_cli_tokens[i] = cluster_issue_token(g_c, user_mid(RR_CLIENTS + i));
    char *argv[] = {HERALD_BIN_DIR "/herald-cli",
                    "listen",
                    "--comet",
                    comet,
                    "--token",
                    g_cli_tokens[i],
                    "--last-seq",
                    "0",
                    "--json",
                    "--reconnect",
                    "--logic",
                    logic,
                    NULL};
    assert_int_equal(proc_start(&g_cli[i], name, argv, environ, cluster_dir(g_c), out, err), 0);
}

/* The user seqs listener i printed, checked to be 1..n in order: returns n, or -1 on a gap or
 * a repeat; *notices gets the op 6 lines. */
static long cli_audit(int i, int *notices)
{
    char path[512], line[4096];
    cli_out_path(i, path, sizeof(path));
    FILE *f = fopen(path, "r");
    long last = 0;
    *notices = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        json_int_t op = json_integer_value(json_object_get(j, "op"));
        json_int_t seq = json_integer_value(json_object_get(j, "seq"));
        json_decref(j);
        if (op == PROTO_OP_DISCONNECT_REPLY && strstr(line, "reconnect") != NULL)
            (*notices)++;
        if (op != OP_BIZ || seq == 0)
            continue;
        if (seq != last + 1) {
            fprintf(stderr, "listen-%d: seq %lld after %ld\n", i, (long long)seq, last);
            last = -1;
            break;
        }
        last = (long)seq;
    }
    if (f != NULL)
        fclose(f);
    return last;
}

static int cli_caught_up(void)
{
    for (int i = 0; i < RR_CLI; i++) {
        int notices;
        if (cli_audit(i, &notices) != (long)g_pushed[RR_CLIENTS + i])
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ herald-cli chat */

static proc_t g_chat;
static int g_chat_in = -1; /* the write end of its stdin (a FIFO) */

static void chat_out_path(char *out, size_t cap)
{
    snprintf(out, cap, "%s/chat.out", cluster_dir(g_c));
}

/* Lines of chat's output that contain what. */
static int chat_count(const char *what)
{
    char path[512], line[4096];
    chat_out_path(path, sizeof(path));
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, what) != NULL;
    if (f != NULL)
        fclose(f);
    return n;
}

static void chat_start(void)
{
    g_chat_mid = cluster_register_ok(g_c, RR_CHAT_NAME);
    char fifo[512], out[512], err[512], cmd[2048];
    snprintf(fifo, sizeof(fifo), "%s/chat.in", cluster_dir(g_c));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    g_chat_in = open(fifo, O_RDWR); /* a writer, so that the chat's stdin never ends */
    assert_true(g_chat_in >= 0);
    chat_out_path(out, sizeof(out));
    snprintf(err, sizeof(err), "%s/chat.err", cluster_dir(g_c));
    snprintf(cmd, sizeof(cmd),
             "HERALD_PASSWORD=%s exec %s/herald-cli chat --logic 127.0.0.1:%d --name %s < '%s'",
             CLUSTER_PASSWORD, HERALD_BIN_DIR, cluster_logic_http_port(g_c), RR_CHAT_NAME, fifo);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(proc_start(&g_chat, "chat", argv, environ, cluster_dir(g_c), out, err), 0);
    for (int i = 0; i < 100 && chat_count("connected to") == 0; i++)
        proc_sleep_ms(50);
    assert_int_equal(chat_count("connected to"), 1);
}

/* ------------------------------------------------------------------------------- the test */

static void test_rolling_restart(void **state)
{
    for (int i = 0; i < RR_CLIENTS; i++) {
        rr_client_t *rc = &g_clients[i];
        rc->mid = user_mid(i);
        rc->home = i % 2;
        rc->token = cluster_issue_token(g_c, rc->mid);
        client_redial_init(&rc->redial, 0, 0, (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL);
        char *auth = auth_body(rc);
        char err[256];
        rc->cl = cluster_connect(g_c, rc->home, CLIENT_TCP, auth, NULL, err, sizeof(err));
        free(auth);
        if (rc->cl == NULL)
            fail_msg("client %d: %s", i, err);
        snprintf(rc->addr, sizeof(rc->addr), "127.0.0.1:%d",
                 cluster_comet_port(g_c, rc->home, CLIENT_TCP));
    }
    for (int i = 0; i < RR_CLI; i++)
        cli_start(i);
    chat_start();
    proc_sleep_ms(300); /* the listeners' auth */
    g_pushing = 1;
    rr_run(1000, NULL);

    rr_drain(0);
    assert_spread(1, RR_CLIENTS / 2);
    assert_int_equal(cluster_restart(g_c, CLUSTER_COMET, 0, true), 0);
    rr_run(1000, NULL);
    rr_drain(1);
    assert_spread(2, RR_CLIENTS);
    rr_run(500, NULL);
    g_pushing = 0;
    assert_true(rr_run(RR_QUIET_MS, caught_up));

    int pushes = 0;
    for (int i = 0; i < RR_CLIENTS; i++) {
        rr_client_t *rc = &g_clients[i];
        pushes += (int)g_pushed[i];
        if (rc->dups || rc->gaps || rc->kicks || rc->notices != rc->moves ||
            rc->moves != (rc->home == 0 ? 2 : 1))
            fail_msg("user %lld: %d repeats, %d gaps, %d kicks, %d notices, %d moves (home %d)",
                     (long long)rc->mid, rc->dups, rc->gaps, rc->kicks, rc->notices, rc->moves,
                     rc->home);
    }
    fprintf(stderr, "%d users, %d pushes each on average, all received once, in order\n",
            RR_CLIENTS, pushes / RR_CLIENTS);

    /* The herald-cli listeners: the same promises, read from their output. */
    int64_t until = client_net_now_ms() + RR_QUIET_MS;
    while (!cli_caught_up() && client_net_now_ms() < until)
        proc_sleep_ms(100);
    for (int i = 0; i < RR_CLI; i++) {
        int notices;
        long got = cli_audit(i, &notices);
        if (got != (long)g_pushed[RR_CLIENTS + i] || notices < (i % 2 == 0 ? 2 : 1))
            fail_msg("listen-%d: %ld of %u pushes in order, %d notices", i, got,
                     g_pushed[RR_CLIENTS + i], notices);
        assert_true(proc_poll(&g_cli[i]) == false); /* still running: it redialed every time */
        proc_stop(&g_cli[i], 2000);
        free(g_cli_tokens[i]);
    }
    for (int i = 0; i < RR_CLIENTS; i++) {
        client_free(g_clients[i].cl);
        free(g_clients[i].token);
    }

    /* herald-cli chat: one line per push, moved at least once (comet 1 drained last), never
     * kicked, and it quits on ":q". */
    int want = (int)g_pushed[RR_USERS - 1];
    until = client_net_now_ms() + RR_QUIET_MS;
    while (chat_count("push: rolling") < want && client_net_now_ms() < until)
        proc_sleep_ms(100);
    int got = chat_count("push: rolling"), moves = chat_count("moving to another comet");
    if (got != want || moves < 1 || chat_count("kicked") != 0)
        fail_msg("herald-cli chat: %d of %d pushes, %d moves", got, want, moves);
    fprintf(stderr, "herald-cli chat: %d pushes shown of %d, %d moves\n", got, want, moves);
    assert_int_equal(write(g_chat_in, ":q\n", 3), 3);
    assert_true(proc_wait(&g_chat, 5000));
    assert_true(proc_exited_ok(&g_chat));
    close(g_chat_in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rolling_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
