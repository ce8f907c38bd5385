/* logic_http_cors.h - CORS for browser callers of logic's HTTP API ([http] cors_origins).
 *
 * Empty: no CORS header is ever sent (browsers then refuse cross-origin calls). "*": any origin
 * may call; otherwise a comma-separated list of origins ("https://console.example.com"), each
 * matched exactly. A request whose Origin is allowed gets Access-Control-Allow-Origin (the
 * origin itself, with Vary: Origin, for a list; "*" for "*"). A preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) is answered here: 204 with the allowed methods
 * and headers (Authorization, Content-Type) when the origin is allowed, 403 when it is not.
 * The bearer key still applies to the real request. Loop thread only.
 */
#ifndef LOGIC_HTTP_CORS_H
#define LOGIC_HTTP_CORS_H

#include "http.h"

#include <stddef.h>

typedef struct logic_http_cors_s logic_http_cors_t;

/* Parses the setting. Returns the rules (NULL origins = empty setting), or NULL with a message
 * in err when an entry is neither "*" (alone) nor "http://..." / "https://..." without a path.
 * Aborts on OOM. */
logic_http_cors_t *logic_http_cors_new(const char *origins, char *err, size_t errlen);
void logic_http_cors_free(logic_http_cors_t *c);

/* Adds the CORS headers req's answer needs. Returns 1 when req was a preflight and has been
 * answered, 0 when the caller answers it. */
int logic_http_cors_apply(const logic_http_cors_t *c, http_request_t *req);

#endif
