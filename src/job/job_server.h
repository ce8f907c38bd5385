/* job_server.h - herald-job on one loop: the Kafka consumer, the comet registry and clients,
 * delivery, and the admin endpoint.
 */
#ifndef JOB_SERVER_H
#define JOB_SERVER_H

#include "job_conf.h"

#include <stddef.h>
#include <uv.h>

typedef struct job_server_s job_server_t;

/* Connects to Redis, joins the consumer group (held until the comets are known) and binds the
 * admin listener. conf is borrowed and must outlive the server. Returns the server, or NULL with
 * a message in err when the configuration is unusable (bad address, port in use, Kafka config
 * refused); then whatever was opened is closing and goes away as the loop runs. */
job_server_t *job_server_new(uv_loop_t *loop, const job_conf_t *conf, char *err, size_t errlen);

/* The bound admin port (for tests started with port 0). */
int job_server_admin_port(const job_server_t *s);

/* Graceful stop: consumes nothing more, waits up to server.shutdown_timeout for the deliveries
 * in flight, then commits what is done, leaves the group and closes everything; frees the server
 * and calls cb (may be NULL) once all of it is closed. Call once. */
void job_server_close(job_server_t *s, void (*cb)(void *arg), void *arg);

#endif
