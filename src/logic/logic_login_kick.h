/* logic_login_kick.h - logic's own calls to comets: Kick (logout, duplicate login on another
 * comet). docs/im.md explains why logic dials comets for this instead of sending an envelope
 * through Kafka: a kick carries no payload to order or keep, and the envelope format and job
 * would have to learn a fourth type for it.
 *
 * One RPC client per comet, created when a kick first needs that comet; the comet's RPC address
 * comes from the online aggregate (the registry). A kick to a comet that is not connected yet is
 * retried every 100 ms for up to 3 s, then dropped with a warning: the comet is down, and its
 * connections are gone with it. Loop thread only.
 */
#ifndef LOGIC_LOGIN_KICK_H
#define LOGIC_LOGIN_KICK_H

#include "logic_server.h"

#include <stddef.h>

typedef struct logic_login_kick_s logic_login_kick_t;

/* Owned by logic_server; freed by logic_login_kick_close. Aborts on OOM. */
logic_login_kick_t *logic_login_kick_new(logic_server_t *s);

/* Drops pending kicks, closes every client, frees k and calls cb (may be NULL). */
void logic_login_kick_close(logic_login_kick_t *k, void (*cb)(void *arg), void *arg);

/* Kicks connections keys[0..n-1] (copied) on comet `server`; reason is a plain word sent as
 * {"reason":...} in op 6. Best effort, fire and forget (see above). */
void logic_login_kick(logic_login_kick_t *k, const char *server, const char *const *keys, size_t n,
                      const char *reason);

#endif
