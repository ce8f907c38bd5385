/* comet_test_client.c - the harness's blocking client sockets (comet_test.h). */
#include "comet_test.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int t_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return fd;
}

void t_write(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

int t_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    uint8_t *p = buf;
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r == 0)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

size_t t_packet_build(uint8_t *out, uint32_t op, uint32_t seq, const void *body, size_t len)
{
    proto_header_write(out, op, seq, (uint32_t)len);
    if (len)
        memcpy(out + PROTO_HEADER_LEN, body, len);
    return PROTO_HEADER_LEN + len;
}

void t_send(int fd, uint32_t op, uint32_t seq, const char *body)
{
    uint8_t buf[8192];
    size_t n = t_packet_build(buf, op, seq, body, body ? strlen(body) : 0);
    t_write(fd, buf, n);
}

size_t t_packet_parse(const uint8_t *in, size_t len, t_packet_t *p)
{
    proto_header_t h;
    assert_int_equal(proto_header_read(in, len, 1 << 20, &h), 0);
    assert_true(h.pack_len <= len);
    p->op = h.op;
    p->seq = h.seq;
    p->len = h.pack_len - PROTO_HEADER_LEN;
    assert_true(p->len < sizeof p->body);
    memcpy(p->body, in + PROTO_HEADER_LEN, p->len);
    p->body[p->len] = 0;
    return h.pack_len;
}

int t_recv(int fd, t_packet_t *p, int timeout_ms)
{
    uint8_t hdr[PROTO_HEADER_LEN];
    int r = t_read_full(fd, hdr, sizeof hdr, timeout_ms);
    if (r != 1)
        return r;
    proto_header_t h;
    assert_int_equal(proto_header_read(hdr, sizeof hdr, 1 << 20, &h), 0);
    p->op = h.op;
    p->seq = h.seq;
    p->len = h.pack_len - PROTO_HEADER_LEN;
    assert_true(p->len < sizeof p->body);
    if (p->len) {
        r = t_read_full(fd, p->body, p->len, timeout_ms);
        if (r != 1)
            return r;
    }
    p->body[p->len] = 0;
    return 1;
}

int t_recv_op(int fd, uint32_t op, t_packet_t *p, int timeout_ms)
{
    for (int i = 0; i < 100000; i++) {
        int r = t_recv(fd, p, timeout_ms);
        if (r != 1 || p->op == op)
            return r;
    }
    return 0;
}

int t_quiet(int fd, int ms)
{
    uint8_t b;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) == 0)
        return 1;
    return read(fd, &b, 1) <= 0 ? -1 : 0;
}

int t_wait_closed(int fd, int timeout_ms)
{
    uint8_t buf[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r == 0)
            return 0;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return 1;
    }
}

int t_auth(int fd, const char *auth_json, t_packet_t *p)
{
    t_send(fd, PROTO_OP_AUTH, 1, auth_json);
    return t_recv(fd, p, T_TIMEOUT_MS);
}

int t_json_int(const t_packet_t *p, const char *field)
{
    json_t *j = json_loadb((const char *)p->body, p->len, 0, NULL);
    assert_non_null(j);
    int v = (int)json_integer_value(json_object_get(j, field));
    json_decref(j);
    return v;
}

int t_http_get(int port, const char *path, char *out, size_t cap)
{
    return t_http(port, "GET", path, out, cap);
}

int t_http(int port, const char *method, const char *path, char *out, size_t cap)
{
    int fd = t_connect(port);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     method, path);
    t_write(fd, req, (size_t)n);
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, T_TIMEOUT_MS) <= 0)
            break;
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    out[len] = 0;
    int status = 0;
    sscanf(out, "HTTP/1.%*d %d", &status);
    char *body = strstr(out, "\r\n\r\n");
    if (body)
        memmove(out, body + 4, strlen(body + 4) + 1);
    return status;
}
