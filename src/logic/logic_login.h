/* logic_login.h - login decisions: which comet a client should use ([login] strategy) and the
 * duplicate-login policy per platform ([login] duplicate, duplicate_platforms), applied at
 * Connect, and the bookkeeping of accepted connections. Its state is the round-robin position.
 * Loop thread only.
 */
#ifndef LOGIC_LOGIN_H
#define LOGIC_LOGIN_H

#include "logic_conf.h"
#include "logic_ctx.h"
#include "logic_online.h"

#include <stddef.h>
#include <stdint.h>

typedef struct logic_login_s logic_login_t;

/* ctx is borrowed and must outlive l. Aborts on OOM. free(NULL) is a no-op. */
logic_login_t *logic_login_new(const logic_ctx_t *ctx);
void logic_login_free(logic_login_t *l);

/* Picks a comet of the aggregate (ctx->online) for user mid, among live comets with a TCP address
 * and a weight above 0, by login.strategy: round-robin (l counts the picks), least-conn (fewest
 * connections, ties by id) or hash (rendezvous hashing of mid over the comet ids: a user keeps
 * its comet while that comet lives, and only the users of a comet that leaves move). NULL when
 * there is none. */
const logic_online_comet_t *logic_login_pick(logic_login_t *l, int64_t mid);

/* The duplicate policy (enum logic_login_duplicate) for platform (NULL or "" = the default
 * login.duplicate). duplicate_platforms is a comma list "platform=policy". */
int logic_login_policy(const logic_conf_t *conf, const char *platform);

/* Checks login.duplicate_platforms at start-up: 0, or HERALD_ECONF with a message in err. */
int logic_login_conf_check(const logic_conf_t *conf, char *err, size_t errlen);

/* Outcome of the duplicate check of a new connection. Heap, freed by logic_login_dup_free. */
typedef struct logic_login_dup_s {
    int refuse;     /* reject-newer and the platform is taken: refuse the new connection */
    char **keys;    /* kick-older: older connections of that platform, to kick */
    char **servers; /* parallel to keys: their comets */
    size_t n;
} logic_login_dup_t;

typedef void (*logic_login_dup_cb)(int status, logic_login_dup_t *dup, void *arg);

/* Starts the check of a new connection of mid on platform. Returns 1 when the policy is allow
 * (nothing to check, cb never called), 0 when cb(0, dup, arg) or cb(HERALD_E*, NULL, arg) will
 * be called once later (the callback owns dup), or HERALD_EUNAVAIL (cb never called). */
int logic_login_dup_check(logic_login_t *l, int64_t mid, const char *platform,
                          logic_login_dup_cb cb, void *arg);

/* Kicks dup's connections once the new one is placed: those on comet `server` (the new
 * connection's) are appended to *kick_keys (heap strings; the array is grown, *nkick counts),
 * the others are kicked through logic_login_kick. */
void logic_login_dup_kick(logic_login_t *l, const logic_login_dup_t *dup, const char *server,
                          char ***kick_keys, size_t *nkick);

void logic_login_dup_free(logic_login_dup_t *dup);

/* Bookkeeping of a connection that logic accepted / that went away: the per-connection record
 * of logic_login_conn.h and the connect / disconnect events (logic_events.h). Strings borrowed;
 * platform, token and room may be NULL. */
void logic_login_connected(logic_login_t *l, int64_t mid, const char *key, const char *server,
                           const char *platform, const char *token, const char *room);
void logic_login_disconnected(logic_login_t *l, int64_t mid, const char *key, const char *server);

#endif
