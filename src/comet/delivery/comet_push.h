/* comet_push.h - the Comet RPC service (called by job and logic, DESIGN.md §5): PushKeys,
 * BroadcastRoom, Broadcast, Rooms, Kick, RoomMembers; and kicks by key between workers.
 *
 * Handlers run on the main thread. They route keys to workers through comet_keys, encode shared
 * payloads once (a buf_shared_t for TCP and one for WebSocket), and hand each worker a task; the
 * reply is sent once every worker has taken its part (written to the sockets, or for room pushes
 * and broadcasts, started as a fan-out): that is "taken" for job's at-least-once commit.
 *
 * delivered counts: PushKeys - connections written to (a user push the connection has already,
 * or that a Fetch of its gap covers, counts as delivered: comet_sync.h); BroadcastRoom - room
 * members on this comet; Broadcast - authenticated connections considered (the accepts filter is
 * applied while writing); Kick - connections kicked. RoomMembers answers from comet_members.h.
 */
#ifndef COMET_PUSH_H
#define COMET_PUSH_H

#include "rpc.h"

#include <stddef.h>
#include <stdint.h>

typedef struct comet_server_s comet_server_t;
typedef struct comet_worker_s comet_worker_t;

/* The Comet service's methods; the handlers' arg is the comet_server_t. */
extern const rpc_method_t comet_push_methods[];
extern const size_t comet_push_methods_count;

/* Worker thread: kicks the connection with key wherever it is on this comet (body
 * {"reason":"<reason>"}). */
void comet_push_kick_key(comet_worker_t *w, const char *key, const char *reason);

/* Any thread: asks worker index `worker` to kick its connection with key if that connection
 * registered before before_seq (comet_keys_before; 0 = whatever its age). */
void comet_push_kick_remote(comet_server_t *s, int worker, const char *key, uint32_t before_seq,
                            const char *reason);

#endif
