/* logic_http.h - logic's HTTP API (DESIGN.md §4, docs/internals.md): routes, bearer check,
 * replies in goim's shape {"code":0,"message":"ok","data":...} with real HTTP statuses.
 *
 * Status and code: 200 / 0 on success; 400, 401, 404, 405, 413 with code -400 for the client's
 * mistakes; 503 (a backend unavailable) and 500 with code -500 (goim's two error codes: the HTTP
 * status carries the detail). Loop thread only.
 */
#ifndef LOGIC_HTTP_H
#define LOGIC_HTTP_H

#include "admin.h"
#include "http.h"
#include "logic_ctx.h"
#include "logic_params.h"

#include <jansson.h>

typedef struct logic_http_s logic_http_t;

/* Listens on ctx->conf->http_listen. The admin routes (/health, /ready, /metrics and their
 * /herald/v1/ aliases) are answered by admin_route with admin and admin_arg (borrowed: they must
 * outlive h). ctx is borrowed too. Returns NULL with a message in err on failure. */
logic_http_t *logic_http_new(const logic_ctx_t *ctx, const admin_ops_t *admin, void *admin_arg,
                             char *err, size_t errlen);
int logic_http_port(const logic_http_t *h);

/* The context the handlers work in. */
const logic_ctx_t *logic_http_ctx(const logic_http_t *h);

/* Its counters into the metrics object out: http_requests, http_errors_4xx, http_errors_5xx. */
void logic_http_metrics(const logic_http_t *h, json_t *out);

/* herald_logic_http_request_duration_seconds{method,route} per route of the table and the
 * requests waiting on a backend, in the Prometheus format (metrics.h). */
void logic_http_prometheus(const logic_http_t *h, buf_t *out);

/* Stops the listener; requests waiting for a backend are dropped (their work still completes,
 * the answer goes nowhere). Frees h and calls cb (may be NULL) when done. */
void logic_http_close(logic_http_t *h, void (*cb)(void *arg), void *arg);

/* ------------------------------------------------------------------------ reply helpers */

/* 200 {"code":0,"message":"ok","data":data}; data (stolen, may be NULL: no "data" field). */
void logic_http_ok(logic_http_t *h, http_request_t *req, json_t *data);
/* status {"code":-400|-500,"message":message}, counted in the error counters. */
void logic_http_error(logic_http_t *h, http_request_t *req, int status, const char *message);
/* The HTTP status for a herald error code: 400 EINVAL, 401 EAUTH, 403 EFORBIDDEN, 404 ENOTFOUND,
 * 409 EEXIST, 503 EUNAVAIL / ETIMEDOUT, 500 otherwise. */
int logic_http_status(int herald_err);

/* A request answered later, after backend work. Owned by the HTTP layer until finished. */
typedef struct logic_http_pending_s logic_http_pending_t;

logic_http_pending_t *logic_http_suspend(logic_http_t *h, http_request_t *req);
/* Answers and frees p (if the server closed meanwhile, only frees; data is released). */
void logic_http_finish_ok(logic_http_pending_t *p, json_t *data);
void logic_http_finish_error(logic_http_pending_t *p, int status, const char *message);
/* 429 {"code":-400,"message":message} with "Retry-After: <retry_ms in whole seconds, rounded
 * up>"; frees p as the others. */
void logic_http_finish_limited(logic_http_pending_t *p, int64_t retry_ms, const char *message);

/* Adapts a request's query string to logic_params' accessor. */
void logic_http_query(http_request_t *req, logic_query_t *q);

/* ------------------------------------------------------------------------ route handlers */

typedef void (*logic_http_handler_cb)(logic_http_t *h, http_request_t *req);

/* logic_http_push.c: POST /goim/push/{keys,mids,room,all} */
void logic_http_push_keys(logic_http_t *h, http_request_t *req);
void logic_http_push_mids(logic_http_t *h, http_request_t *req);
void logic_http_push_room(logic_http_t *h, http_request_t *req);
void logic_http_push_all(logic_http_t *h, http_request_t *req);

/* logic_http_info.c: GET /goim/online/{top,room,total}, /goim/nodes/{weighted,instances} */
void logic_http_info_top(logic_http_t *h, http_request_t *req);
void logic_http_info_room(logic_http_t *h, http_request_t *req);
void logic_http_info_total(logic_http_t *h, http_request_t *req);
void logic_http_info_weighted(logic_http_t *h, http_request_t *req);
void logic_http_info_instances(logic_http_t *h, http_request_t *req);

/* logic_http_token.c: POST and DELETE /herald/v1/tokens */
void logic_http_token_issue(logic_http_t *h, http_request_t *req);
void logic_http_token_revoke(logic_http_t *h, http_request_t *req);

/* logic_http_user_login.c: registration and login with a password; logic_http_user.c: look-up
 * and logout (docs/im.md). The IM routes are open like goim's node list: a client calls them
 * before it holds any credential (the password is the credential of register and login). */
void logic_http_user_create(logic_http_t *h, http_request_t *req);
void logic_http_user_login(logic_http_t *h, http_request_t *req);
void logic_http_user_get(logic_http_t *h, http_request_t *req);
void logic_http_user_logout(logic_http_t *h, http_request_t *req);
/* logic_http_user_online.c: GET /herald/v1/online/{users,count} */
void logic_http_user_online_users(logic_http_t *h, http_request_t *req);
void logic_http_user_online_count(logic_http_t *h, http_request_t *req);
/* logic_http_room.c: GET /herald/v1/rooms/members */
void logic_http_room_members(logic_http_t *h, http_request_t *req);

/* logic_http_web.c: GET /web/ and /web/<file>, the browser console's static files from
 * http.web_root (docs/im.md). Answers and returns 1 when the path is "/web" or under "/web/"
 * and web_root is set (404 for anything but a regular .html/.js/.css/.png/.svg file under the
 * root); returns 0 without answering otherwise. */
int logic_http_web(logic_http_t *h, http_request_t *req);

/* Longest path under the root that the console serves. */
#define LOGIC_HTTP_WEB_PATH_MAX 255
/* Maps a request path to a file: "/web" and "/web/" are index.html; every segment must be
 * [A-Za-z0-9._-]+ not starting with '.', the extension one of the served kinds, and the file's
 * real path (symlinks resolved) a regular file under root's. Returns 0 with the real path in
 * out (cap bytes) and its content type, HERALD_EINVAL when url_path is not under "/web", or
 * HERALD_ENOTFOUND for everything else. */
int logic_http_web_resolve(const char *root, const char *url_path, char *out, size_t cap,
                           const char **content_type);

#endif
