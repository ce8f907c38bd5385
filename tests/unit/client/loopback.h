/* loopback.h - a one-connection server on 127.0.0.1:0 running in a thread, for the client
 * library's unit tests: the test writes what a comet (or logic) would send, byte by byte where
 * it matters. Every wait is bounded: accept and reads give up after LOOPBACK_TIMEOUT_MS. */
#ifndef HERALD_TEST_LOOPBACK_H
#define HERALD_TEST_LOOPBACK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define LOOPBACK_TIMEOUT_MS 5000

/* Called on the server thread with the accepted socket (blocking, reads time out); the helper
 * closes fd afterwards. Failures are recorded in lb->failed for the test thread to assert. */
typedef struct loopback_s loopback_t;
typedef void (*loopback_serve_cb)(loopback_t *lb, int fd);

struct loopback_s {
    int lfd;
    int port;
    pthread_t thread;
    loopback_serve_cb serve;
    void *arg;
    const char *failed; /* first failed server-side check, NULL when all passed */
};

/* Records a failed server-side check (cmocka asserts only work on the test thread). */
#define LOOPBACK_CHECK(lb, cond)                                                                   \
    do {                                                                                           \
        if (!(cond) && (lb)->failed == NULL)                                                       \
            (lb)->failed = #cond;                                                                  \
    } while (0)

static inline void *loopback_main(void *arg)
{
    loopback_t *lb = arg;
    struct pollfd pfd = {.fd = lb->lfd, .events = POLLIN};
    if (poll(&pfd, 1, LOOPBACK_TIMEOUT_MS) != 1) {
        lb->failed = "no connection to accept";
        return NULL;
    }
    int fd = accept(lb->lfd, NULL, NULL);
    if (fd < 0) {
        lb->failed = "accept failed";
        return NULL;
    }
    struct timeval tv = {.tv_sec = LOOPBACK_TIMEOUT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    lb->serve(lb, fd);
    close(fd);
    return NULL;
}

/* Listens on 127.0.0.1:0 (lb->port) and serves one connection on a new thread. */
static inline void loopback_start(loopback_t *lb, loopback_serve_cb serve, void *arg)
{
    memset(lb, 0, sizeof(*lb));
    lb->serve = serve;
    lb->arg = arg;
    lb->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lb->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lb->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lb->lfd, 4), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(lb->lfd, (struct sockaddr *)&sa, &sl), 0);
    lb->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&lb->thread, NULL, loopback_main, lb), 0);
}

/* Joins the server thread and asserts that its checks passed. */
static inline void loopback_join(loopback_t *lb)
{
    assert_int_equal(pthread_join(lb->thread, NULL), 0);
    close(lb->lfd);
    if (lb->failed != NULL)
        fail_msg("server-side check failed: %s", lb->failed);
}

/* A port on 127.0.0.1 with nothing listening (bound, never listened: connects are refused). */
static inline int loopback_dead_port(int *holder_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *holder_fd = fd;
    return ntohs(sa.sin_port);
}

static inline int loopback_write(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes one byte per send() with a short pause, so the client sees every possible split. */
static inline int loopback_write_bytewise(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    struct timespec pause = {.tv_nsec = 200000};
    for (size_t i = 0; i < len; i++) {
        if (loopback_write(fd, p + i, 1) < 0)
            return -1;
        nanosleep(&pause, NULL);
    }
    return 0;
}

/* Reads exactly len bytes. Returns 0, or -1 on EOF, error or timeout. */
static inline int loopback_read(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Waits until the client closes its end (read returns 0), discarding what it sends. */
static inline void loopback_wait_close(int fd)
{
    char sink[256];
    while (recv(fd, sink, sizeof(sink), 0) > 0) {
    }
}

/* One HTTP request as a test server received it: head and body, NUL-terminated. */
typedef struct loopback_http_request_s {
    char data[4096];
    size_t len;
} loopback_http_request_t;

/* Reads the request head, then as many body bytes as its Content-Length says. Returns 0 or -1. */
static inline int loopback_read_http_request(int fd, loopback_http_request_t *r)
{
    char *end = NULL;
    r->len = 0;
    while (end == NULL) {
        if (r->len + 1 >= sizeof(r->data))
            return -1;
        ssize_t n = recv(fd, r->data + r->len, sizeof(r->data) - 1 - r->len, 0);
        if (n <= 0)
            return -1;
        r->len += (size_t)n;
        r->data[r->len] = '\0';
        end = strstr(r->data, "\r\n\r\n");
    }
    const char *cl = strstr(r->data, "Content-Length: ");
    size_t body = cl != NULL && cl < end ? (size_t)atoi(cl + 16) : 0;
    size_t want = (size_t)(end + 4 - r->data) + body;
    if (want >= sizeof(r->data))
        return -1;
    if (r->len < want && loopback_read(fd, r->data + r->len, want - r->len) < 0)
        return -1;
    r->len = want;
    r->data[want] = '\0';
    return 0;
}

#endif
