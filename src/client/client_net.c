/* client_net.c - poll()-based socket helpers with absolute deadlines (see client_net.h). */
#include "client_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t client_net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t client_net_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : client_net_now_ms() + timeout_ms;
}

int client_net_remaining(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - client_net_now_ms();
    if (left <= 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

int client_net_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, client_net_remaining(deadline));
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* One non-blocking connect attempt, finished with poll so the deadline bounds it. */
static int client_net_try(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        rc = errno == EINPROGRESS ? client_net_wait(fd, POLLOUT, deadline) : -errno;
        if (rc == 0) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                soerr = errno;
            rc = -soerr;
        }
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    int one = 1;
    /* Packets are small and latency is what the tests and the bench measure. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int client_net_connect(const char *host, int port, int64_t deadline, char *err, size_t errlen)
{
    if (port <= 0 || port > 65535) {
        snprintf(err, errlen, "bad port %d", port);
        return -EINVAL;
    }
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int grc = getaddrinfo(host, service, &hints, &res);
    if (grc != 0) {
        snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(grc));
        return -EHOSTUNREACH;
    }
    int rc = -EHOSTUNREACH;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = client_net_try(ai, deadline);
        if (rc >= 0 || rc == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (rc < 0)
        snprintf(err, errlen, "connect %s:%d: %s", host, port, strerror(-rc));
    return rc;
}

/* After a read or send that failed with errno: 0 to try again (interrupted, or fd is ready now),
 * else the error to return. */
static int client_net_again(int fd, short events, int64_t deadline)
{
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
    return client_net_wait(fd, events, deadline);
}

ssize_t client_net_read(int fd, void *buf, size_t cap, int64_t deadline)
{
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0)
            return n;
        int rc = client_net_again(fd, POLLIN, deadline);
        if (rc < 0)
            return rc;
    }
}

int client_net_write_all(int fd, const void *data, size_t len, int64_t deadline)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        int rc = client_net_again(fd, POLLOUT, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}
