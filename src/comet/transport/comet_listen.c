/* comet_listen.c - see comet_listen.h. */
#include "comet_listen.h"

#include "conf.h"
#include "herald_err.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTEN_BACKLOG 4096

int comet_listen_resolve(const char *hostport, struct sockaddr_storage *out)
{
    char *host = NULL;
    int port = 0;
    if (conf_parse_addr(hostport, &host, &port) != 0)
        return HERALD_EINVAL;
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) != 0) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int g = getaddrinfo(host, NULL, &hints, &res);
        if (g != 0 || res == NULL) {
            rc = UV_EAI_NONAME;
        } else {
            memcpy(out, res->ai_addr, res->ai_addrlen);
            comet_listen_set_port(out, port);
        }
        if (res)
            freeaddrinfo(res);
    }
    free(host);
    return rc;
}

void comet_listen_set_port(struct sockaddr_storage *addr, int port)
{
    if (addr->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
}

int comet_listen_tcp(uv_loop_t *loop, uv_tcp_t *h, const struct sockaddr *addr, uv_connection_cb cb)
{
    int rc = uv_tcp_init_ex(loop, h, addr->sa_family);
    if (rc != 0)
        return rc;
    uv_os_fd_t fd;
    int on = 1;
    rc = uv_fileno((uv_handle_t *)h, &fd);
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
        rc = uv_translate_sys_error(errno);
    if (rc == 0)
        rc = uv_tcp_bind(h, addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)h, LISTEN_BACKLOG, cb);
    if (rc != 0)
        uv_close((uv_handle_t *)h, NULL);
    return rc;
}

int comet_listen_port(const uv_tcp_t *h)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(h, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
