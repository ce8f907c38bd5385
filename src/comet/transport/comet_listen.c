/* comet_listen.c - see comet_listen.h. */
#include "comet_listen.h"

#include "addr.h"

#include <errno.h>

#define LISTEN_BACKLOG 4096

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
    return addr_get_port((struct sockaddr *)&ss);
}
