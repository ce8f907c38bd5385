/* The transport alone: a comet_conn_t accepted on a loop with a test ops table, no session above
 * it. Writes the socket does not take at once are queued whatever the number of buffers, and the
 * peer gets every byte in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet_conn.h"
#include "comet_tcp.h"
#include "test_support.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct t_owner_s {
    comet_conn_t conn; /* first member, zeroed before accept */
    comet_conns_t conns;
    comet_stats_t stats;
    uv_tcp_t listener;
    int accepted, left, closed;
} t_owner_t;

static int t_on_packet(comet_conn_t *c, const proto_header_t *h, const uint8_t *body)
{
    return 0;
}

static void t_on_leave(comet_conn_t *c)
{
    ((t_owner_t *)c)->left++;
}

static void t_on_close(comet_conn_t *c)
{
    ((t_owner_t *)c)->closed++;
}

static const char *t_label(const comet_conn_t *c)
{
    return "t";
}

static const comet_conn_ops_t t_ops = {t_on_packet, t_on_leave, t_on_close, t_label};

static void t_on_connection(uv_stream_t *listener, int status)
{
    t_owner_t *o = listener->data;
    assert_int_equal(status, 0);
    comet_tcp_accept(&o->conns, &o->conn, listener, 0, &t_ops);
    o->accepted = 1;
}

static int t_accepted(void *arg)
{
    return ((t_owner_t *)arg)->accepted;
}

static int t_closed(void *arg)
{
    return ((t_owner_t *)arg)->closed;
}

/* A connection on loop with its peer's socket in *peer (non-blocking, small receive buffer). */
static void t_open(uv_loop_t *loop, t_owner_t *o, int *peer)
{
    memset(o, 0, sizeof *o);
    const comet_conns_limits_t limits = {4096, (uint64_t)1 << 40, 10000, 10000};
    assert_int_equal(comet_conns_init(&o->conns, loop, &limits, &o->stats), 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uv_tcp_init(loop, &o->listener);
    o->listener.data = o;
    assert_int_equal(uv_tcp_bind(&o->listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&o->listener, 8, t_on_connection), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&o->listener, (struct sockaddr *)&a, &len);
    *peer = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int small = 4096;
    setsockopt(*peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    assert_true(connect(*peer, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS);
    assert_true(test_run_until(loop, t_accepted, o, 2000));
    assert_int_equal(o->conn.state, COMET_CONN_OPEN);
    int sndbuf = 4096;
    uv_send_buffer_size((uv_handle_t *)&o->conn.tcp, &sndbuf);
}

static void t_close(uv_loop_t *loop, t_owner_t *o, int peer)
{
    close(peer);
    comet_conn_close(&o->conn);
    assert_true(test_run_until(loop, t_closed, o, 2000));
    assert_int_equal(o->left, 1);
    assert_int_equal(o->closed, 1);
    uv_close((uv_handle_t *)&o->listener, NULL);
    comet_conns_close(&o->conns);
    test_finish_loop(loop);
    comet_conns_deinit(&o->conns);
}

/* Reads from the non-blocking peer while the loop writes, until len bytes arrived. */
static void t_read_all(uv_loop_t *loop, int peer, uint8_t *out, size_t len)
{
    size_t got = 0;
    for (int idle = 0; got < len && idle < 2000;) {
        uv_run(loop, UV_RUN_NOWAIT);
        ssize_t n = read(peer, out + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            idle = 0;
        } else {
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            usleep(1000);
            idle++;
        }
    }
    assert_int_equal(got, len);
}

/* Six buffers, some in a shared buffer, sent behind bytes the socket has not taken yet: all of
 * them are queued in one request, none of them is lost or overwritten. */
static void test_queued_write_of_many_buffers(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    t_owner_t *o = malloc(sizeof *o);
    int peer;
    t_open(&loop, o, &peer);

    enum { BLOB = 1 << 20, PIECES = 6, PIECE = 100 };
    uint8_t *blob = malloc(BLOB);
    for (size_t i = 0; i < BLOB; i++)
        blob[i] = (uint8_t)(i * 7);
    uv_buf_t b = uv_buf_init((char *)blob, BLOB);
    assert_int_equal(comet_conn_send(&o->conn, &b, 1, NULL, 1, 1), 0);
    assert_true(o->conn.unsent > 0); /* the socket took only part of it */

    buf_shared_t *shared = buf_shared_new(3 * PIECE);
    uint8_t local[3][PIECE];
    uv_buf_t bufs[PIECES];
    for (int i = 0; i < PIECES; i++) {
        uint8_t *p = i % 2 ? shared->data + (i / 2) * PIECE : local[i / 2];
        memset(p, 'a' + i, PIECE);
        bufs[i] = uv_buf_init((char *)p, PIECE);
    }
    assert_int_equal(comet_conn_send(&o->conn, bufs, PIECES, shared, PIECES, 1), 0);
    memset(local, 0, sizeof local); /* copied: the caller's memory is free again */
    buf_shared_unref(shared);       /* referenced: the request keeps it */

    uint8_t *got = malloc(BLOB + PIECES * PIECE);
    t_read_all(&loop, peer, got, BLOB + PIECES * PIECE);
    assert_memory_equal(got, blob, BLOB);
    for (int i = 0; i < PIECES; i++)
        for (int j = 0; j < PIECE; j++)
            assert_int_equal(got[BLOB + i * PIECE + j], 'a' + i);
    assert_int_equal(o->conn.unsent, 0);
    assert_int_equal(COMET_STAT_GET(&o->stats, bytes_out), BLOB + PIECES * PIECE);

    t_close(&loop, o, peer);
    free(got);
    free(blob);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_write_of_many_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
