/* logic_login_conn.h - what logic remembers of each connection beyond the router's placement:
 * its platform and the token it authenticated with, for the duplicate-login policy and logout.
 *
 *   <prefix>conn:{<mid>}  hash: connection key -> JSON {"platform":"...","token":"..."}
 *                       (key name: redis_keys.h)
 *
 * Written at Connect (after the router Put), deleted at Disconnect; the hash expires a day after
 * the user's last connect. The router stays the truth about which connections are alive: a list
 * keeps only the keys the router still places, and deletes the others (left by a comet that died
 * without Disconnects). docs/im.md says why this lives in Redis and not in the router. Loop thread
 * only.
 */
#ifndef LOGIC_LOGIN_CONN_H
#define LOGIC_LOGIN_CONN_H

#include "logic_ctx.h"

#include <stddef.h>
#include <stdint.h>

/* Best effort (a failure is logged): a lost entry only weakens the duplicate policy and logout
 * for that one connection. platform and token may be NULL; one that is not UTF-8 (jansson
 * refuses it) is stored as "". */
void logic_login_conn_put(const logic_ctx_t *ctx, int64_t mid, const char *key,
                          const char *platform, const char *token);
void logic_login_conn_del(const logic_ctx_t *ctx, int64_t mid, const char *key);

/* One live connection of a user. Strings borrowed for the callback ("" when unknown). */
typedef struct logic_login_conn_s {
    const char *key, *server, *platform, *token;
} logic_login_conn_t;

/* status 0 or HERALD_EUNAVAIL / HERALD_ETIMEDOUT (Redis or the router failed). */
typedef void (*logic_login_conn_cb)(int status, const logic_login_conn_t *conns, size_t n,
                                    void *arg);

/* Lists the user's live connections. Returns 0 and calls cb once later, or HERALD_EUNAVAIL
 * (cb never called). */
int logic_login_conn_list(const logic_ctx_t *ctx, int64_t mid, logic_login_conn_cb cb, void *arg);

#endif
