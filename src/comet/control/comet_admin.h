/* comet_admin.h - admin HTTP of comet (main thread): GET /health and GET /metrics.
 *
 * /health: {"code":0,"message":"ok","data":{"server","workers","conns","logic_connected",
 * "stopping"}}. /metrics: a flat JSON object of counters summed over the workers (conns, sockets,
 * ws_conns, rooms, packets_in/out, bytes_in/out, kicks, pushes, ...). Anything else: 404.
 */
#ifndef COMET_ADMIN_H
#define COMET_ADMIN_H

#include "http.h"

typedef struct comet_server_s comet_server_t;

/* Creates the admin server of s on s->loop and listens on host:port. Returns 0 (s->admin set)
 * or an error; on error s->admin is still set and must be closed. */
int comet_admin_start(comet_server_t *s, const char *host, int port);

#endif
