/* logic_login_kick.h - logic's own Kick calls to comets (logout, duplicate login on another
 * comet). docs/im.md explains why logic dials comets for this instead of sending an envelope
 * through Kafka: a kick carries no payload to order or keep, and the envelope format and job
 * would have to learn a fourth type for it.
 *
 * The calls go through logic_comets.h (the comet's client from the registry). A kick to a comet
 * that is not connected yet waits for it up to 3 s, then is dropped with a warning: the comet is
 * down, and its connections are gone with it. Loop thread only.
 */
#ifndef LOGIC_LOGIN_KICK_H
#define LOGIC_LOGIN_KICK_H

#include "logic_ctx.h"

#include <stddef.h>

/* Kicks connections keys[0..n-1] (copied) on comet `server`; reason is a plain word sent as
 * {"reason":...} in op 6. Best effort, fire and forget (see above); does nothing once the
 * server is stopping. */
void logic_login_kick(const logic_ctx_t *ctx, const char *server, const char *const *keys, size_t n,
                      const char *reason);

#endif
