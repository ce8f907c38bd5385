/* http_query.h - the query string of a request target, split and decoded (RFC 3986 percent
 * decoding, '+' as a space, as HTML forms and libmicrohttpd do). Pure: no I/O, no allocation of
 * its own.
 *
 * http.c parses queries itself instead of letting libmicrohttpd do it: MHD stores every
 * parameter in the connection's fixed memory pool and, when that runs out (about 420 parameters
 * in its default 32 KiB), drops the request without an answer. Here the cost is one block per
 * request, sized from the query's length.
 */
#ifndef HERALD_HTTP_QUERY_H
#define HERALD_HTTP_QUERY_H

#include <stddef.h>

typedef struct http_kv_s {
    const char *name;
    const char *value; /* "" for a parameter without '=' */
} http_kv_t;

/* Upper bound of the parameters in a query of len bytes (what http_query_parse may fill). */
size_t http_query_count(const char *query, size_t len);

/* Splits query (len bytes, without the '?') at '&' and each part at its first '=', decodes
 * names and values into str (at least len + 2 * http_query_count() bytes: every string gets a
 * NUL) and points out[] (http_query_count() entries) at them. Empty parts ("a&&b") are skipped.
 * Returns the number of parameters, or -1 when a decoded name or value holds a NUL byte (%00):
 * callers read values as C strings, which would cut such a value short. */
long http_query_parse(const char *query, size_t len, http_kv_t *out, char *str);

#endif
