/* client_io.c - see client_io.h: plain streams go to client_net.c, TLS ones to client_tls.c. */
#include "client_io.h"

#include <unistd.h>

#include "client_net.h"
#include "client_tls.h"

ssize_t client_io_read(client_io_t *io, void *buf, size_t cap, int64_t deadline)
{
    if (io->ssl != NULL)
        return client_tls_read(io->ssl, io->fd, buf, cap, deadline);
    return client_net_read(io->fd, buf, cap, deadline);
}

int client_io_write_all(client_io_t *io, const void *data, size_t len, int64_t deadline)
{
    if (io->ssl != NULL)
        return client_tls_write_all(io->ssl, io->fd, data, len, deadline);
    return client_net_write_all(io->fd, data, len, deadline);
}

void client_io_close(client_io_t *io)
{
    if (io->ssl != NULL)
        client_tls_close(io->ssl);
    io->ssl = NULL;
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
}
