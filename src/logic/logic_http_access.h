/* logic_http_access.h - who may call which route of logic's HTTP API: the one table of public
 * routes, and the bearer key check (docs/security.md, "Business and admin HTTP").
 *
 * When [auth] bearer_key is set, every request needs "Authorization: Bearer <key>" except those
 * to a public route; unknown paths need it too, so that a caller without the key learns nothing
 * of the routes. Without a key everything is open. Pure: no I/O.
 */
#ifndef LOGIC_HTTP_ACCESS_H
#define LOGIC_HTTP_ACCESS_H

/* 1 when method and path name a public route (answered without the key), 0 otherwise. */
int logic_http_access_public(const char *method, const char *path);

/* 1 when the Authorization header value `header` (may be NULL) carries `key` (not empty): the
 * scheme "Bearer" in any case (RFC 7235), one or more spaces, then exactly the key. The key is
 * compared in time that depends on its length only, not on how much of a guess was right. */
int logic_http_access_bearer_ok(const char *header, const char *key);

#endif
